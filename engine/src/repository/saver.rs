//! The blob saver: the stage between reading and packing. The caller's
//! thread hashes a chunk and checks it against the index and the blobs
//! already queued; a new blob goes to worker threads that compress, seal,
//! re-open to verify (a bit flip in RAM between compression and upload is
//! caught here), and hand it to the packer.

use super::Repository;
use super::index::BLOBS_PER_INDEX_FILE;
use super::packer::Packer;
use crate::error::{Error, Result};
use crate::workers::Workers;
use repo_format::BlobId;
use repo_format::crypto::BlobKind;
use repo_format::index::IndexPack;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Counters of what a saver added.
#[derive(Default, Debug)]
pub struct SaverStats {
    /// Data blobs added.
    pub data_blobs: AtomicU64,
    /// Tree blobs added.
    pub tree_blobs: AtomicU64,
    /// Plaintext bytes added.
    pub data_added: AtomicU64,
    /// Sealed bytes added.
    pub data_added_packed: AtomicU64,
}

struct Job {
    kind: BlobKind,
    id: BlobId,
    data: Vec<u8>,
}

struct Shared {
    repo: Arc<Repository>,
    packer: Packer,
    stats: SaverStats,
}

/// Saves blobs, deduplicating against the index and itself.
pub struct BlobSaver {
    shared: Arc<Shared>,
    /// Blobs sent to be packed and not yet in the index.
    queued: Mutex<HashSet<(BlobId, BlobKind)>>,
    /// Held by the thread writing an index file for uploaded packs.
    indexing: Mutex<()>,
    dry_run: bool,
    workers: Workers<Job>,
}

impl BlobSaver {
    /// Start a saver with one worker per CPU. A dry-run saver counts what
    /// it would add and writes nothing.
    pub fn new(repo: Arc<Repository>, dry_run: bool) -> Result<Self> {
        let config = repo.config();
        let packer = Packer::new(
            repo.backend().clone(),
            repo.keyring().clone(),
            config.compression_level,
            config.pack_size as usize,
        )?;
        let shared = Arc::new(Shared {
            repo,
            packer,
            stats: SaverStats::default(),
        });
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let sealing = shared.clone();
        let workers = Workers::start("vault-seal", threads, threads * 2, move |job| {
            seal_and_pack(&sealing, job)
        })?;
        Ok(BlobSaver {
            shared,
            queued: Mutex::new(HashSet::new()),
            indexing: Mutex::new(()),
            dry_run,
            workers,
        })
    }

    /// Save a blob unless the repository or this saver already has it.
    /// Returns its id and whether it was new.
    pub fn save(&self, kind: BlobKind, data: Vec<u8>) -> Result<(BlobId, bool)> {
        let id = self.shared.repo.keyring().blob_id(&data);
        if self.shared.repo.index().contains(kind, &id)? {
            return Ok((id, false));
        }
        {
            let mut queued = self
                .queued
                .lock()
                .map_err(|_| Error::Internal("queued set lock"))?;
            // Again under the lock: `index_uploaded` may have moved it
            // from the queued set to the index since the first look.
            if queued.contains(&(id, kind)) || self.shared.repo.index().contains(kind, &id)? {
                return Ok((id, false));
            }
            queued.insert((id, kind));
        }
        if self.dry_run {
            let stats = &self.shared.stats;
            match kind {
                BlobKind::Data => stats.data_blobs.fetch_add(1, Ordering::Relaxed),
                BlobKind::Tree => stats.tree_blobs.fetch_add(1, Ordering::Relaxed),
            };
            stats
                .data_added
                .fetch_add(data.len() as u64, Ordering::Relaxed);
            return Ok((id, true));
        }
        self.workers.send(Job { kind, id, data })?;
        self.index_uploaded()?;
        Ok((id, true))
    }

    /// Once the packs uploaded hold [`BLOBS_PER_INDEX_FILE`] blobs, write
    /// their index file and move their blobs from the queued set to the
    /// index, so that neither the queued set nor the list of packs grows
    /// with the backup. A backup that dies later leaves these packs
    /// indexed: the next backup reuses their blobs, prune removes the rest.
    fn index_uploaded(&self) -> Result<()> {
        if self.shared.packer.uploaded_blobs() < BLOBS_PER_INDEX_FILE {
            return Ok(());
        }
        // One thread at a time; the others carry on saving.
        let Ok(_indexing) = self.indexing.try_lock() else {
            return Ok(());
        };
        let packs = self.shared.packer.take_uploaded()?;
        let blobs: Vec<(BlobId, BlobKind)> = packs
            .iter()
            .flat_map(|p| p.blobs.iter().map(|b| (b.id, b.kind)))
            .collect();
        self.shared.repo.save_index(packs)?;
        let mut queued = self
            .queued
            .lock()
            .map_err(|_| Error::Internal("queued set lock"))?;
        for blob in &blobs {
            queued.remove(blob);
        }
        queued.shrink_to_fit();
        Ok(())
    }

    /// What was added so far.
    pub fn stats(&self) -> &SaverStats {
        &self.shared.stats
    }

    /// Wait for every queued blob to be packed and uploaded; returns the
    /// packs written, for the index.
    pub fn finish(&self) -> Result<Vec<IndexPack>> {
        self.workers.finish()?;
        self.shared.packer.finish()
    }
}

fn seal_and_pack(shared: &Shared, job: Job) -> Result<()> {
    let sealed = shared.packer.seal_and_add(job.kind, job.id, &job.data)?;
    if job.kind == BlobKind::Tree {
        shared.repo.cache_tree(&job.id, &sealed);
    }
    let stats = &shared.stats;
    match job.kind {
        BlobKind::Data => stats.data_blobs.fetch_add(1, Ordering::Relaxed),
        BlobKind::Tree => stats.tree_blobs.fetch_add(1, Ordering::Relaxed),
    };
    stats
        .data_added
        .fetch_add(job.data.len() as u64, Ordering::Relaxed);
    stats
        .data_added_packed
        .fetch_add(sealed.len() as u64, Ordering::Relaxed);
    Ok(())
}
