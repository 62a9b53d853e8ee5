//! A put-only host's record of what it sent (SPEC.md §5.6), in its cache
//! directory: one file per key, host and set of paths, holding the trees
//! of the last backup and its head (the snapshot and root tree). A
//! put-only key cannot read the parent snapshot from the repository; the
//! record stands in for it, so that an unchanged file is not read again.
//! Losing it costs only reading every file once more: the chunks
//! deduplicate against the index all the same.
//!
//! Each backup writes a new file, one sequential write, and renames it
//! into place once its snapshot is saved; a backup that fails leaves the
//! previous record. Nothing in it is trusted more than the cache: the head
//! and every tree are opened with the record key (which authenticates
//! them) and a tree is checked against its id; a chunk it names is used
//! only while the index lists it.

use crate::error::{Error, Result};
use crate::repository::Repository;
use crate::store::{Cache, CacheKind};
use repo_format::record::{self, RecordEntry, RecordHead, TRAILER_LEN};
use repo_format::tree::Tree;
use repo_format::{BlobId, Id, SnapshotId};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// The largest head a record file may claim (its table of trees): a
/// million directories at some 50 bytes each.
const MAX_HEAD: u64 = 64 << 20;

/// The record of one key, host and set of paths, read from the cache and
/// written anew by the backup that uses it.
pub struct Record {
    cache: Arc<Cache>,
    key: Zeroizing<[u8; 32]>,
    id_key: Zeroizing<[u8; 32]>,
    level: i32,
    name: Id,
    parent: Option<Parent>,
    writer: Mutex<Option<Writer>>,
}

/// The record file of the last backup.
struct Parent {
    head: RecordHead,
    file: File,
    trees: HashMap<BlobId, RecordEntry>,
}

/// The record file this backup writes.
struct Writer {
    temp: PathBuf,
    file: BufWriter<File>,
    written: u64,
    trees: Vec<RecordEntry>,
    seen: HashSet<BlobId>,
}

impl Record {
    /// The record of `repo`'s put-only key for `host` and `paths`, when a
    /// put-only key opened it and it has a cache (without one every
    /// backup reads every file).
    pub fn open(repo: &Repository, host: &str, paths: &[String]) -> Result<Option<Record>> {
        let Some(cache) = repo.cache().filter(|_| repo.is_put_only()) else {
            return Ok(None);
        };
        let salt = cache.record_salt()?;
        let Some(key) = repo.keyring().record_key(&salt) else {
            return Ok(None);
        };
        let mut paths = paths.to_vec();
        paths.sort();
        let name = record::head_name(&repo.key_id().0, host, &paths);
        let parent = cache
            .open_entry(CacheKind::Record, &name)
            .ok()
            .and_then(|file| read_parent(file, &key, &name));
        let (temp, file) = cache.create_entry(CacheKind::Record, &name)?;
        Ok(Some(Record {
            cache: cache.clone(),
            key,
            id_key: Zeroizing::new(*repo.keyring().id_key()),
            level: repo.config().compression_level,
            name,
            parent,
            writer: Mutex::new(Some(Writer {
                temp,
                file: BufWriter::new(file),
                written: 0,
                trees: Vec::new(),
                seen: HashSet::new(),
            })),
        }))
    }

    /// The last backup's snapshot and root tree, if the record has one.
    pub fn head(&self) -> Option<(SnapshotId, BlobId)> {
        self.parent.as_ref().map(|p| (p.head.snapshot, p.head.tree))
    }

    /// A tree of the last backup, opened and checked against its id.
    pub fn load_tree(&self, id: &BlobId) -> Option<Tree> {
        let parent = self.parent.as_ref()?;
        let entry = parent.trees.get(id)?;
        let mut sealed = vec![0u8; entry.length as usize];
        parent.file.read_exact_at(&mut sealed, entry.offset).ok()?;
        let plain = record::open_tree(&self.key, id, &sealed).ok()?;
        record::check_tree_id(&self.id_key, id, &plain).ok()?;
        Tree::decode(&plain).ok()
    }

    /// Keep the tree `id` whose encoding is `plain` in the new record
    /// (once). A record that cannot be written is given up silently: it
    /// only saves reading files next time.
    pub fn put_tree(&self, id: &BlobId, plain: &[u8]) {
        let Ok(mut slot) = self.writer.lock() else {
            return;
        };
        let Some(writer) = slot.as_mut() else { return };
        if !writer.seen.insert(*id) {
            return;
        }
        // A tree the last backup had is copied as it was sealed (it was
        // opened and checked when read); a new one is sealed.
        let sealed = self
            .parent
            .as_ref()
            .and_then(|p| {
                let entry = p.trees.get(id)?;
                let mut sealed = vec![0u8; entry.length as usize];
                p.file.read_exact_at(&mut sealed, entry.offset).ok()?;
                Some(sealed)
            })
            .unwrap_or_else(|| {
                record::seal_tree(&self.key, id, plain, self.level, crate::random_nonce())
            });
        let (Ok(length), true) = (
            u32::try_from(sealed.len()),
            writer.file.write_all(&sealed).is_ok(),
        ) else {
            if let Some(w) = slot.take() {
                self.cache.discard(&w.temp);
            }
            return;
        };
        writer.trees.push(RecordEntry {
            id: *id,
            offset: writer.written,
            length,
        });
        writer.written += u64::from(length);
    }

    /// Close the new record with its head, the snapshot just saved and its
    /// root tree, and put it in place of the last one.
    pub fn finish(&self, snapshot: SnapshotId, tree: BlobId) -> Result<()> {
        let Some(mut writer) = self.writer.lock().ok().and_then(|mut w| w.take()) else {
            return Ok(());
        };
        let head = RecordHead {
            snapshot,
            tree,
            time: repo_format::time::Timestamp::from_datetime(&chrono::Utc::now()),
            trees: std::mem::take(&mut writer.trees),
        };
        let sealed = head.seal(&self.key, &self.name, crate::random_nonce());
        let written = (|| {
            let length = u32::try_from(sealed.len())
                .map_err(|_| std::io::Error::other("record head over 4 GiB"))?;
            writer.file.write_all(&sealed)?;
            writer.file.write_all(&length.to_le_bytes())?;
            writer.file.flush()
        })();
        if let Err(e) = written {
            self.cache.discard(&writer.temp);
            return Err(Error::io(
                "write record",
                self.cache.dir().join(&writer.temp),
                e,
            ));
        }
        self.cache
            .publish(&writer.temp, CacheKind::Record, &self.name)
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.get_mut().ok().and_then(Option::take) {
            self.cache.discard(&writer.temp);
        }
    }
}

/// The head of a record file and where its trees are; None for a file
/// that is not a record of this key and name.
fn read_parent(mut file: File, key: &[u8; 32], name: &Id) -> Option<Parent> {
    let len = file.metadata().ok()?.len();
    let mut trailer = [0u8; TRAILER_LEN];
    file.seek(SeekFrom::Start(len.checked_sub(TRAILER_LEN as u64)?))
        .ok()?;
    file.read_exact(&mut trailer).ok()?;
    let range = record::head_range(len, trailer).ok()?;
    if range.end - range.start > MAX_HEAD {
        return None;
    }
    let mut sealed = vec![0u8; usize::try_from(range.end - range.start).ok()?];
    file.read_exact_at(&mut sealed, range.start).ok()?;
    let head = RecordHead::open(key, name, &sealed).ok()?;
    let trees = head
        .trees
        .iter()
        .filter(|e| e.offset.saturating_add(u64::from(e.length)) <= range.start)
        .map(|e| (e.id, *e))
        .collect();
    Some(Parent { head, file, trees })
}
