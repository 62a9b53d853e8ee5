//! The one loader of index files (SPEC.md §7.1): reading them from the
//! store, deciding which are in force (not superseded by another), filling
//! the in-memory [`Index`], and writing new ones.
//!
//! Two ways to read, one rule for each failure:
//! - [`Repository::load_index`] streams every file into the table a batch
//!   at a time (beside the table, only a batch of decoded files is in
//!   memory): what commands that use blobs call;
//! - [`Repository::read_index_files`] returns the files themselves, for the
//!   commands that reason about packs (`check`, `prune`, `repair index`),
//!   which then fill the table from them with [`Repository::load_index_from`].
//!
//! With [`LoadMode::Strict`] a file that cannot be read or decoded fails
//! the call and leaves the table as it was; with [`LoadMode::Tolerant`] it
//! is skipped and returned with its error (a reader can still reach every
//! blob the other files list; `check` names it).

use super::{AddedFile, Index};
use crate::error::{Error, Result};
use crate::repository::Repository;
use rayon::prelude::*;
use repo_format::crypto::{BlobKind, ObjectKind};
use repo_format::index::{IndexFile, IndexPack};
use repo_format::layout::{FileKind, ObjectName};
use repo_format::pack::PackEntry;
use repo_format::{BlobId, IndexId, PackId};
use std::collections::{BTreeMap, HashSet};

/// Blobs one index file names at most (unless one pack holds more): the
/// index loads a few files at a time, so this bounds the memory of
/// loading (about 3 MiB a file decoded), and a backup writes an index file
/// each time it has packed this many blobs.
pub const BLOBS_PER_INDEX_FILE: usize = 1 << 16;

/// What a damaged index file does to a load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadMode {
    /// It fails the load (maintenance: prune, forget, repair).
    Strict,
    /// It is skipped and reported (commands that read, `check`, and those
    /// that only add: a backup that does not know a blob stores it again).
    /// Anyone who may upload, with server credentials alone, can put an
    /// index file there that does not open: it must not stop a backup.
    Tolerant,
}

impl LoadMode {
    /// Whether `e`, met reading an index file, skips that file rather than
    /// failing the load: only damage (the object does not open or decode)
    /// and only when tolerant. Failing to reach the store always fails.
    fn skips(self, e: &Error) -> bool {
        self == LoadMode::Tolerant && matches!(e, Error::Format { .. })
    }
}

/// The index files in the store, as read.
#[derive(Debug, Default)]
pub struct IndexFiles {
    /// Every index file listed, superseded or damaged or not.
    pub all: Vec<IndexId>,
    /// The files in force (readable and not superseded), with contents.
    pub active: Vec<(IndexId, IndexFile)>,
    /// The files that could not be read (only with [`LoadMode::Tolerant`]).
    pub damaged: Vec<(IndexId, Error)>,
}

/// One pack as the index files in force describe it.
#[derive(Debug, Default, Clone)]
pub struct IndexedPack {
    /// Size the index records.
    pub size: u64,
    /// The blobs (of the first index file that lists the pack).
    pub entries: Vec<PackEntry>,
    /// The capsule of the pack's key (format 2; of the same file).
    pub capsule: Option<repo_format::keyring::Capsule>,
    /// Every index file in force that lists it.
    pub indexes: Vec<IndexId>,
}

impl IndexFiles {
    /// The packs the files in force describe, by id.
    pub fn packs(&self) -> BTreeMap<PackId, IndexedPack> {
        let mut packs: BTreeMap<PackId, IndexedPack> = BTreeMap::new();
        for (id, file) in &self.active {
            for p in &file.packs {
                let entry = packs.entry(p.id).or_default();
                if entry.indexes.is_empty() {
                    entry.size = p.size;
                    entry.entries = p.blobs.clone();
                    entry.capsule = p.capsule;
                }
                entry.indexes.push(*id);
            }
        }
        packs
    }
}

impl Repository {
    fn read_index_file(&self, id: &IndexId) -> Result<IndexFile> {
        let payload = self.load_object(FileKind::Index, ObjectKind::Index, &id.0)?;
        IndexFile::decode(self.config().version, &payload)
            .map_err(|e| Error::format(ObjectName::new(FileKind::Index, id.0).path(), e))
    }

    fn index_ids(&self) -> Result<Vec<IndexId>> {
        Ok(self
            .list_ids(FileKind::Index)?
            .into_iter()
            .map(IndexId)
            .collect())
    }

    /// Every index file, read and decoded in parallel; see the module docs.
    /// Nothing changes in the in-memory index.
    pub fn read_index_files(&self, mode: LoadMode) -> Result<IndexFiles> {
        let all = self.index_ids()?;
        let read: Vec<(IndexId, Result<IndexFile>)> = all
            .par_iter()
            .map(|id| (*id, self.read_index_file(id)))
            .collect();
        let mut files = Vec::new();
        let mut damaged = Vec::new();
        for (id, file) in read {
            match file {
                Ok(f) => files.push((id, f)),
                Err(e) if mode.skips(&e) => damaged.push((id, e)),
                Err(e) => return Err(e),
            }
        }
        let superseded = superseded(files.iter().map(|(_, f)| f));
        files.retain(|(id, _)| !superseded.contains(id));
        Ok(IndexFiles {
            all,
            active: files,
            damaged,
        })
    }

    /// Replace the in-memory index with the files in force of `files`.
    pub fn load_index_from(&self, files: &IndexFiles) -> Result<()> {
        let mut fresh = self.index().emptied();
        for (_, file) in &files.active {
            for pack in &file.packs {
                fresh.add_pack(pack);
            }
        }
        fresh.finish().map_err(|e| spill_error(&fresh, e))?;
        *self.index_mut() = fresh;
        if files.damaged.is_empty() {
            self.retain_cached_trees()?;
        }
        Ok(())
    }

    /// Replace the in-memory index with every index file in the store, a
    /// batch of files at a time (decoded in parallel), so that beside the
    /// table only a batch of decoded files is ever in memory; then take out
    /// the files another one supersedes. Returns the files skipped (only
    /// with [`LoadMode::Tolerant`]). On failure the old index stays.
    pub fn load_index(&self, mode: LoadMode) -> Result<Vec<(IndexId, Error)>> {
        let ids = self.index_ids()?;
        let mut index = self.index().emptied();
        let mut added: Vec<(IndexId, AddedFile)> = Vec::with_capacity(ids.len());
        let mut superseded = HashSet::new();
        let mut damaged = Vec::new();
        let batch = rayon::current_num_threads().max(1) * 4;
        for ids in ids.chunks(batch) {
            let files: Vec<Result<IndexFile>> =
                ids.par_iter().map(|id| self.read_index_file(id)).collect();
            for (id, file) in ids.iter().zip(files) {
                match file {
                    Ok(file) => {
                        superseded.extend(file.supersedes.iter().copied());
                        added.push((*id, index.add_file(&file.packs)));
                    }
                    Err(e) if mode.skips(&e) => damaged.push((*id, e)),
                    // Dropping the half-built table leaves the old one.
                    Err(e) => return Err(e),
                }
            }
            index.spill().map_err(|e| spill_error(&index, e))?;
        }
        let gone: Vec<AddedFile> = added
            .into_iter()
            .filter(|(id, _)| superseded.contains(id))
            .map(|(_, a)| a)
            .collect();
        index.remove_files(&gone);
        index.finish().map_err(|e| spill_error(&index, e))?;
        *self.index_mut() = index;
        if damaged.is_empty() {
            self.retain_cached_trees()?;
        }
        Ok(damaged)
    }

    /// Keep at most `spill.budget` bytes of index entries in memory and the
    /// rest in scratch files in `spill.dir` (see [`super`]); None: all in
    /// memory.
    pub fn set_index_spill(&self, spill: Option<super::Spill>) {
        self.index_mut().set_spill(spill);
    }

    /// Read access to the index.
    pub fn index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        // A poisoned lock means a panic elsewhere already failed the command.
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    fn index_mut(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        // A poisoned lock means a panic elsewhere already failed the command.
        self.index.write().unwrap_or_else(|p| p.into_inner())
    }

    /// With the whole index loaded (no index file skipped), remove cached
    /// trees it no longer lists (a prune removed them).
    fn retain_cached_trees(&self) -> Result<()> {
        let Some((cache, kind)) = self.tree_cache() else {
            return Ok(());
        };
        let index = self.index();
        let failed = std::cell::RefCell::new(None);
        cache.retain(kind, |id| {
            match index.contains(BlobKind::Tree, &BlobId(*id)) {
                Ok(listed) => listed,
                Err(e) => {
                    failed.borrow_mut().get_or_insert(e);
                    true
                }
            }
        });
        failed.into_inner().map_or(Ok(()), Err)
    }

    /// Write index files for `packs` (see [`index_files`]) and add them to
    /// the in-memory index; returns their ids.
    pub fn save_index(&self, packs: Vec<IndexPack>) -> Result<Vec<IndexId>> {
        let mut ids = Vec::new();
        for file in index_files(packs, Vec::new()) {
            ids.push(self.save_index_file(&file)?);
            let mut index = self.index_mut();
            for pack in &file.packs {
                index.add_pack(pack);
            }
            index.finish().map_err(|e| spill_error(&index, e))?;
        }
        Ok(ids)
    }

    /// Write one index file as it is.
    pub fn save_index_file(&self, file: &IndexFile) -> Result<IndexId> {
        self.save_object(
            FileKind::Index,
            ObjectKind::Index,
            &file.encode(self.config().version),
        )
        .map(IndexId)
    }
}

/// `packs` as index files of at most [`BLOBS_PER_INDEX_FILE`] blobs each;
/// only the last supersedes `supersedes`, so that until it is written the
/// old files stay in force and a crash loses nothing. At least one file
/// when something is superseded, none for nothing.
pub fn index_files(packs: Vec<IndexPack>, supersedes: Vec<IndexId>) -> Vec<IndexFile> {
    let mut files = Vec::new();
    let mut current = IndexFile::default();
    let mut blobs = 0;
    for pack in packs {
        if blobs + pack.blobs.len() > BLOBS_PER_INDEX_FILE && !current.packs.is_empty() {
            files.push(std::mem::take(&mut current));
            blobs = 0;
        }
        blobs += pack.blobs.len();
        current.packs.push(pack);
    }
    if !current.packs.is_empty() || !supersedes.is_empty() {
        current.supersedes = supersedes;
        files.push(current);
    }
    files
}

fn spill_error(index: &Index, e: std::io::Error) -> Error {
    Error::io(
        "write the index table to a scratch file in",
        index.spill_dir(),
        e,
    )
}

/// The index files that one of `files` supersedes.
fn superseded<'a>(files: impl Iterator<Item = &'a IndexFile>) -> HashSet<IndexId> {
    files.flat_map(|f| f.supersedes.iter().copied()).collect()
}
