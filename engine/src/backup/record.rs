//! A put-only host's record of what it sent (SPEC.md §5.6), in its cache
//! directory: the trees of its backups and, per host and set of paths, the
//! last snapshot and root tree. A put-only key cannot read the parent
//! snapshot from the repository; the record stands in for it, so that an
//! unchanged file is not read again. Losing it costs only reading every
//! file once more: the chunks deduplicate against the index all the same.
//!
//! Nothing in it is trusted more than the cache: every entry is opened
//! with the record key (which authenticates it) and a tree is checked
//! against its id; a chunk it names is used only while the index lists it.

use crate::error::Result;
use crate::repository::Repository;
use crate::store::{Cache, CacheKind};
use repo_format::record::{self, RecordHead};
use repo_format::tree::Tree;
use repo_format::{BlobId, Id, SnapshotId};
use std::sync::Arc;
use zeroize::Zeroizing;

/// The record of the key that opened a repository, in its cache.
pub struct Record {
    cache: Arc<Cache>,
    key: Zeroizing<[u8; 32]>,
    id_key: [u8; 32],
    key_id: Id,
    level: i32,
}

impl Drop for Record {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.id_key);
    }
}

impl Record {
    /// The record of `repo`'s put-only key, when a put-only key opened it
    /// and it has a cache (without one every backup reads every file).
    pub fn open(repo: &Repository) -> Result<Option<Record>> {
        let Some(cache) = repo.cache().filter(|_| repo.is_put_only()) else {
            return Ok(None);
        };
        let salt = cache.record_salt()?;
        let Some(key) = repo.keyring().record_key(&salt) else {
            return Ok(None);
        };
        Ok(Some(Record {
            cache: cache.clone(),
            key,
            id_key: *repo.keyring().id_key(),
            key_id: repo.key_id().0,
            level: repo.config().compression_level,
        }))
    }

    fn head_name(&self, host: &str, paths: &[String]) -> Id {
        let mut paths = paths.to_vec();
        paths.sort();
        record::head_name(&self.key_id, host, &paths)
    }

    /// The last backup of `host` and `paths` this record holds.
    pub fn head(&self, host: &str, paths: &[String]) -> Option<RecordHead> {
        let name = self.head_name(host, paths);
        self.cache.get(CacheKind::RecordHead, &name, |sealed| {
            RecordHead::open(&self.key, &name, sealed).ok()
        })
    }

    /// Make `head` the last backup of `host` and `paths`.
    pub fn set_head(&self, host: &str, paths: &[String], snapshot: SnapshotId, tree: BlobId) {
        let name = self.head_name(host, paths);
        let head = RecordHead {
            snapshot,
            tree,
            time: repo_format::time::Timestamp::from_datetime(&chrono::Utc::now()),
        };
        let sealed = head.seal(&self.key, &name, crate::random_nonce());
        self.cache.put(CacheKind::RecordHead, &name, &sealed);
    }

    /// A tree of the record, opened and checked against its id.
    pub fn load_tree(&self, id: &BlobId) -> Option<Tree> {
        self.cache.get(CacheKind::RecordTree, &id.0, |sealed| {
            let plain = record::open_tree(&self.key, id, sealed).ok()?;
            record::check_tree_id(&self.id_key, id, &plain).ok()?;
            Tree::decode(&plain).ok()
        })
    }

    /// Keep the tree `id` whose encoding is `plain` (once).
    pub fn put_tree(&self, id: &BlobId, plain: &[u8]) {
        if self.cache.has(CacheKind::RecordTree, &id.0) {
            return;
        }
        let sealed = record::seal_tree(&self.key, id, plain, self.level, crate::random_nonce());
        self.cache.put(CacheKind::RecordTree, &id.0, &sealed);
    }
}
