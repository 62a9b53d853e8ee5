//! Copying snapshots into another repository (`vault copy`): every blob is
//! opened with the source's key and sealed again with the destination's,
//! and only the blobs the destination lacks are written.
//!
//! Two cases, told apart by the id keys (SPEC.md §5.3):
//! - **Equal id keys** (the destination was made with `init
//!   --copy-chunker-params --from` the source, or the other way round):
//!   blob ids are equal in both repositories. Trees are copied as they are
//!   and a blob the destination's index already has is never read from the
//!   source.
//! - **Different id keys**: the same plaintext has another id in the
//!   destination. Each data blob is read, opened and named again with the
//!   destination's key, and every tree is rewritten with the new ids, so
//!   the copied snapshot has another root tree id. Mappings are remembered
//!   for the rest of the run, so a tree or blob shared by several snapshots
//!   is read once.
//!
//! Source blobs are read pack by pack, in offset order, in ranged reads of
//! at most 16 MiB; nothing holds a snapshot's data in memory. Each snapshot
//! is committed on its own, in the order of SPEC.md §8: its packs, then an
//! index file naming them, then the snapshot. A crash leaves at worst
//! unreferenced packs, never a snapshot that references missing data.

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::repository::Repository;
use crate::repository::index::BlobLocation;
use crate::repository::lock::LockHandle;
use crate::repository::pack_reader::BlobRef;
use crate::repository::reachable::check_depth;
use crate::repository::reachable::walk_trees;
use crate::repository::saver::BlobSaver;
use rayon::prelude::*;
use repo_format::crypto::BlobKind;
use repo_format::index::IndexPack;
use repo_format::snapshot::Snapshot;
use repo_format::tree::Tree;
use repo_format::{BlobId, PackId, SnapshotId};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Options of a copy.
#[derive(Clone, Debug, Default)]
pub struct CopyOptions {
    /// The destination lock the copy runs under: checked right before each
    /// snapshot is written (as backup does, SPEC.md §7.4).
    pub lock: Option<LockHandle>,
}

/// What became of one source snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyOutcome {
    /// Written to the destination as this snapshot.
    Copied(SnapshotId),
    /// The destination already has it (a snapshot whose origin is the same),
    /// as this snapshot; nothing was written.
    Skipped(SnapshotId),
}

/// What a copy wrote to the destination.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Data blobs written.
    pub data_blobs: u64,
    /// Tree blobs written.
    pub tree_blobs: u64,
    /// Plaintext bytes of the blobs written.
    pub bytes_added: u64,
    /// Sealed (compressed and encrypted) bytes of the blobs written.
    pub bytes_uploaded: u64,
}

impl CopyStats {
    /// Blobs written, data and tree.
    pub fn blobs(&self) -> u64 {
        self.data_blobs + self.tree_blobs
    }
}

/// The outcome of [`copy`]: each snapshot's, in the order given.
#[derive(Clone, Debug, Default)]
pub struct CopyReport {
    /// Source snapshot id and what became of it.
    pub snapshots: Vec<(SnapshotId, CopyOutcome)>,
    /// What was written.
    pub stats: CopyStats,
}

/// Copies snapshots one at a time from `src` to `dst`, remembering across
/// snapshots which trees and blobs are already in the destination.
pub struct Copier<'a> {
    src: &'a Repository,
    dst: &'a Arc<Repository>,
    options: CopyOptions,
    /// Blob ids are equal in both repositories.
    same_ids: bool,
    /// Every destination snapshot, by its id and by its `original`: what
    /// [`Copier::copy_of`] compares a source snapshot with.
    copies: HashMap<SnapshotId, Vec<(SnapshotId, Snapshot)>>,
    /// Source tree id → destination tree id, for trees whose whole content
    /// is committed in the destination.
    trees: HashMap<BlobId, BlobId>,
    /// Source data blob id → destination id, committed (different id keys).
    data: HashMap<BlobId, BlobId>,
    stats: CopyStats,
}

/// Mappings of the snapshot being copied: they join the committed ones
/// only once its index file is written.
#[derive(Default)]
struct Pending {
    trees: Mutex<HashMap<BlobId, BlobId>>,
    data: Mutex<HashMap<BlobId, BlobId>>,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock means a panic elsewhere already failed the copy.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether `copy` (in the destination) and `source` are the same backup
/// by what a copy keeps: its time, host, user and paths, and with equal id
/// keys its root tree. A claimed `original` alone never makes a match.
fn same_backup(copy: &Snapshot, source: &Snapshot, same_ids: bool) -> bool {
    copy.time == source.time
        && copy.hostname == source.hostname
        && copy.username == source.username
        && copy.paths == source.paths
        && (!same_ids || copy.tree == source.tree)
}

impl<'a> Copier<'a> {
    /// Prepare a copy. Both repositories' indexes must be loaded
    /// ([`Repository::load_index`]); the destination's snapshots are read
    /// here to know what it has already.
    pub fn new(
        src: &'a Repository,
        dst: &'a Arc<Repository>,
        options: CopyOptions,
    ) -> Result<Self> {
        let mut copier = Copier {
            src,
            dst,
            options,
            same_ids: src.keyring().id_key() == dst.keyring().id_key(),
            copies: HashMap::new(),
            trees: HashMap::new(),
            data: HashMap::new(),
            stats: CopyStats::default(),
        };
        for (id, s) in dst.snapshots()? {
            copier.remember(id, s);
        }
        Ok(copier)
    }

    /// Know the destination snapshot `id` by its id and its `original`.
    fn remember(&mut self, id: SnapshotId, snapshot: Snapshot) {
        let names = std::iter::once(id).chain(snapshot.original.filter(|o| *o != id));
        for name in names.collect::<Vec<_>>() {
            self.copies
                .entry(name)
                .or_default()
                .push((id, snapshot.clone()));
        }
    }

    /// Whether blob ids are equal in both repositories (no rewriting).
    pub fn same_ids(&self) -> bool {
        self.same_ids
    }

    /// What was written so far.
    pub fn stats(&self) -> CopyStats {
        self.stats
    }

    /// The destination snapshot that is the source snapshot `id`, if there
    /// is one: the snapshot itself, a copy of it (whose `original` is `id`),
    /// or, when the source snapshot is itself a copy or a rewrite, the
    /// snapshot it names or a copy of that. Each must also be the same
    /// backup (same time, host, user and paths, and with equal id keys the
    /// same tree). The destination's `original`s were written by copies
    /// that read the snapshot they name, so a source's claim can
    /// only ever match the source's own snapshot to what the destination
    /// holds, never suppress another source's snapshot (SPEC.md §8).
    pub fn copy_of(&self, id: SnapshotId, snapshot: &Snapshot) -> Option<SnapshotId> {
        std::iter::once(id)
            .chain(snapshot.original)
            .filter_map(|name| self.copies.get(&name))
            .flatten()
            .find(|(_, copy)| same_backup(copy, snapshot, self.same_ids))
            .map(|(copy, _)| *copy)
    }

    /// Copy one snapshot (skipped when the destination has it already).
    pub fn copy(
        &mut self,
        id: SnapshotId,
        snapshot: &Snapshot,
        progress: &dyn Progress,
    ) -> Result<CopyOutcome> {
        if let Some(existing) = self.copy_of(id, snapshot) {
            return Ok(CopyOutcome::Skipped(existing));
        }
        let saver = BlobSaver::new(self.dst.clone(), false)?;
        let pending = Pending::default();
        let root = self.copy_trees(&saver, &pending, snapshot.tree, progress);
        // Wait for the uploads even after a failure, so that no upload
        // thread outlives the copy.
        let packs = saver.finish();
        let (root, packs) = (root?, packs?);
        self.commit(&saver, packs, pending)?;
        let parent = match snapshot.parent {
            Some(p) => self.parent_in_destination(p)?,
            None => None,
        };
        let copied = Snapshot {
            tree: root,
            parent,
            // What this copy read, never the source's claim.
            original: Some(id),
            ..snapshot.clone()
        };
        if let Some(lock) = &self.options.lock {
            lock.check()?;
        }
        let new = self.dst.save_snapshot(&copied)?;
        self.remember(new, copied);
        Ok(CopyOutcome::Copied(new))
    }

    /// Write the index of the packs written, then remember their mappings.
    fn commit(&mut self, saver: &BlobSaver, packs: Vec<IndexPack>, pending: Pending) -> Result<()> {
        self.dst.save_index(packs)?;
        let s = saver.stats();
        self.stats.data_blobs += s.data_blobs.load(Ordering::Relaxed);
        self.stats.tree_blobs += s.tree_blobs.load(Ordering::Relaxed);
        self.stats.bytes_added += s.data_added.load(Ordering::Relaxed);
        self.stats.bytes_uploaded += s.data_added_packed.load(Ordering::Relaxed);
        self.trees
            .extend(pending.trees.into_inner().unwrap_or_default());
        self.data
            .extend(pending.data.into_inner().unwrap_or_default());
        Ok(())
    }

    /// The destination snapshot standing for the source snapshot `parent`
    /// (None when the parent is gone from the source or was never copied).
    fn parent_in_destination(&self, parent: SnapshotId) -> Result<Option<SnapshotId>> {
        match self.src.load_snapshot(&parent) {
            Ok(p) => Ok(self.copy_of(parent, &p)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn tree_known(&self, pending: &Pending, id: &BlobId) -> Option<BlobId> {
        match self.trees.get(id) {
            Some(known) => Some(*known),
            None => locked(&pending.trees).get(id).copied(),
        }
    }

    /// Copy every tree and data blob below `root`; returns the root's id in
    /// the destination.
    fn copy_trees(
        &self,
        saver: &BlobSaver,
        pending: &Pending,
        root: BlobId,
        progress: &dyn Progress,
    ) -> Result<BlobId> {
        if let Some(known) = self.tree_known(pending, &root) {
            return Ok(known);
        }
        let needed = self.walk(saver, pending, root)?;
        self.copy_data(saver, pending, &needed, progress)?;
        if self.same_ids {
            return Ok(root);
        }
        self.rewrite(saver, pending, root, &[])
    }

    /// Walk the trees below `root` that are not known to be in the
    /// destination, and return the data blobs to copy: with equal ids those
    /// the destination lacks (and the trees it lacks are saved on the way),
    /// otherwise those not mapped yet.
    fn walk(&self, saver: &BlobSaver, pending: &Pending, root: BlobId) -> Result<Vec<BlobId>> {
        let mut needed = Vec::new();
        let mut wanted = HashSet::new();
        let read = |id: &BlobId| -> Result<(Vec<u8>, Tree)> {
            let plain = self.src.read_blob(BlobKind::Tree, id)?;
            let tree = Tree::decode(&plain)
                .map_err(|e| Error::format(format!("tree {}", id.short()), e))?;
            Ok((plain, tree))
        };
        walk_trees([root], read, |id, read| {
            let (plain, tree) = read?;
            if self.same_ids {
                self.save_tree_as_is(saver, pending, id, plain)?;
            }
            let index = self.dst.index();
            let mut subtrees = Vec::new();
            for node in &tree.nodes {
                for chunk in &node.content {
                    let have = if self.same_ids {
                        index.contains(BlobKind::Data, chunk)?
                    } else {
                        self.data.contains_key(chunk)
                    };
                    if !have && wanted.insert(*chunk) {
                        needed.push(*chunk);
                    }
                }
                if let Some(sub) = node.subtree
                    && self.tree_known(pending, &sub).is_none()
                {
                    subtrees.push(sub);
                }
            }
            Ok(subtrees)
        })?;
        Ok(needed)
    }

    /// Equal ids: store the tree's plaintext as it is (its subtrees and
    /// data keep their ids), unless the destination has it.
    fn save_tree_as_is(
        &self,
        saver: &BlobSaver,
        pending: &Pending,
        id: BlobId,
        plain: Vec<u8>,
    ) -> Result<()> {
        if !self.dst.index().contains(BlobKind::Tree, &id)? {
            let (saved, _) = saver.save(BlobKind::Tree, plain)?;
            if saved != id {
                return Err(Error::Internal("tree id changed between equal id keys"));
            }
        }
        locked(&pending.trees).insert(id, id);
        Ok(())
    }

    /// Read the data blobs `needed` from the source, pack by pack in offset
    /// order, and save each into the destination (which names it with its
    /// own key; the mapping is kept when the keys differ).
    fn copy_data(
        &self,
        saver: &BlobSaver,
        pending: &Pending,
        needed: &[BlobId],
        progress: &dyn Progress,
    ) -> Result<()> {
        let mut packs: HashMap<PackId, Vec<(BlobId, BlobLocation)>> = HashMap::new();
        {
            let index = self.src.index();
            for id in needed {
                let at = index.locate(BlobKind::Data, id)?;
                packs.entry(at.pack).or_default().push((*id, at));
            }
        }
        let mut packs: Vec<(PackId, Vec<(BlobId, BlobLocation)>)> = packs.into_iter().collect();
        packs.sort_by_key(|(pack, _)| *pack);
        let reader = self.src.pack_reader();
        let blob = |(id, at): &(BlobId, BlobLocation)| BlobRef::located(BlobKind::Data, *id, at);
        // Reads from a remote source run as wide as its connections allow.
        self.src.backend().parallel(|| {
            packs.par_iter_mut().try_for_each(|(pack, blobs)| {
                reader.read_blobs(pack, blobs, blob, |(id, _), read| {
                    let plain = read?.plain;
                    let length = plain.len() as u64;
                    let (new, _) = saver.save(BlobKind::Data, plain)?;
                    if !self.same_ids {
                        locked(&pending.data).insert(*id, new);
                    }
                    progress.bytes_processed(length);
                    Ok(())
                })
            })
        })
    }

    /// Different ids: the tree `id` with every data and subtree id mapped
    /// to the destination's, saved there; returns its new id. `ancestors`
    /// are the trees above it (a tree that contains itself is damage, not
    /// an endless recursion).
    fn rewrite(
        &self,
        saver: &BlobSaver,
        pending: &Pending,
        id: BlobId,
        ancestors: &[BlobId],
    ) -> Result<BlobId> {
        if let Some(known) = self.tree_known(pending, &id) {
            return Ok(known);
        }
        check_depth(ancestors.len())?;
        if ancestors.contains(&id) {
            return Err(Error::RepositoryDamaged(format!(
                "tree {} contains itself",
                id.short()
            )));
        }
        let mut tree = self.src.load_tree(&id)?;
        let mut below = ancestors.to_vec();
        below.push(id);
        tree.nodes.par_iter_mut().try_for_each(|node| {
            for chunk in &mut node.content {
                let mapped = match self.data.get(chunk) {
                    Some(new) => Some(*new),
                    None => locked(&pending.data).get(chunk).copied(),
                };
                *chunk = mapped.ok_or(Error::Internal("data blob copied without its new id"))?;
            }
            if let Some(sub) = node.subtree {
                node.subtree = Some(self.rewrite(saver, pending, sub, &below)?);
            }
            Ok::<(), Error>(())
        })?;
        let (new, _) = saver.save(BlobKind::Tree, tree.encode())?;
        locked(&pending.trees).insert(id, new);
        Ok(new)
    }
}

/// Copy `snapshots` (oldest first, so that parents come before their
/// children) from `src` to `dst`; see [`Copier`].
pub fn copy(
    src: &Repository,
    dst: &Arc<Repository>,
    snapshots: &[(SnapshotId, Snapshot)],
    options: CopyOptions,
    progress: &dyn Progress,
) -> Result<CopyReport> {
    let mut copier = Copier::new(src, dst, options)?;
    let mut report = CopyReport::default();
    for (id, snapshot) in snapshots {
        let outcome = copier.copy(*id, snapshot, progress)?;
        report.snapshots.push((*id, outcome));
    }
    report.stats = copier.stats();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::{BackupOptions, Source, backup};
    use crate::progress::NoProgress;
    use crate::repository::InitOptions;
    use crate::repository::index::LoadMode;
    use crate::store::Backend;
    use repo_format::key::KdfParams;
    use repo_format::layout::{FileKind, ObjectName};

    fn options() -> InitOptions {
        InitOptions {
            kdf: KdfParams {
                memory_kib: 64,
                iterations: 1,
                ..KdfParams::DEFAULT
            },
            ..InitOptions::default()
        }
    }

    fn init(url: &str, options: &InitOptions) -> Arc<Repository> {
        Arc::new(Repository::init(Backend::open(url).unwrap(), b"pw", options).unwrap())
    }

    fn random(len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        rand::fill(v.as_mut_slice());
        v
    }

    /// Flip a byte inside every data blob of the packs `packs` names, in
    /// place (the pack headers and trees stay intact).
    fn damage_data_blobs(repo: &Repository, packs: &[IndexPack]) {
        for pack in packs {
            let path = ObjectName::new(FileKind::Pack, pack.id.0);
            let mut bytes = repo.backend().get(&path).unwrap().to_vec();
            for b in pack.blobs.iter().filter(|b| b.kind == BlobKind::Data) {
                bytes[b.offset as usize + 30] ^= 0xff;
            }
            repo.backend().delete(&path).unwrap();
            repo.backend().put_once(&path, bytes).unwrap();
        }
    }

    #[test]
    fn init_copy_chunker_params_shares_params_seed_and_id_key_only() {
        let chunker = repo_format::config::ChunkerParams {
            min_size: 4096,
            avg_size: 16384,
            max_size: 65536,
            normalization: 2,
        };
        let src = init(
            "memory://copy-params-src",
            &InitOptions {
                chunker,
                ..options()
            },
        );
        let dst = init(
            "memory://copy-params-dst",
            &options().copy_chunker_params(&src).unwrap(),
        );
        assert_eq!(dst.config().chunker, chunker);
        assert_eq!(dst.config().version, src.config().version);
        let (d, s) = (dst.master().unwrap(), src.master().unwrap());
        assert_eq!(d.id_key, s.id_key);
        assert_eq!(d.chunker_seed, s.chunker_seed);
        assert_ne!(d.data_key, s.data_key);
        assert_ne!(dst.config().repository_id, src.config().repository_id);
        // What is stored survives reopening.
        let reopened =
            Repository::open(Backend::open("memory://copy-params-dst").unwrap(), b"pw").unwrap();
        assert_eq!(reopened.keyring().id_key(), src.keyring().id_key());
        assert_eq!(reopened.config().chunker, chunker);
    }

    #[test]
    fn copy_with_equal_ids_never_reads_blobs_the_destination_has() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), random(1_500_000)).unwrap();
        let src = init("memory://copy-equal-src", &options());
        let backed = |repo: &Arc<Repository>| {
            backup(
                repo,
                Source::Paths(vec![dir.path().to_owned()]),
                &BackupOptions::default(),
                &NoProgress,
            )
            .unwrap()
            .snapshot_id
            .unwrap()
        };
        let first = backed(&src);
        let shared = init(
            "memory://copy-equal-dst",
            &options().copy_chunker_params(&src).unwrap(),
        );
        let other = init("memory://copy-equal-other", &options());
        shared.load_index(LoadMode::Strict).unwrap();
        other.load_index(LoadMode::Strict).unwrap();
        let report = copy(
            &src,
            &shared,
            &[(first, src.load_snapshot(&first).unwrap())],
            CopyOptions::default(),
            &NoProgress,
        )
        .unwrap();
        assert!(report.stats.data_blobs > 0);

        // The first snapshot's data goes bad in the source; the second
        // snapshot shares it and adds a file.
        let damaged = src.read_index_files(LoadMode::Strict).unwrap().active;
        std::fs::write(dir.path().join("b"), random(50_000)).unwrap();
        let second = backed(&src);
        for (_, file) in &damaged {
            damage_data_blobs(&src, &file.packs);
        }
        let snapshots = [(second, src.load_snapshot(&second).unwrap())];

        // Equal ids: only the new blob is read, so the damage is not met.
        let report = copy(
            &src,
            &shared,
            &snapshots,
            CopyOptions::default(),
            &NoProgress,
        )
        .unwrap();
        assert_eq!(report.stats.data_blobs, 1);
        let CopyOutcome::Copied(copied) = report.snapshots[0].1 else {
            panic!("not copied: {report:?}");
        };
        let copied = shared.load_snapshot(&copied).unwrap();
        assert_eq!(copied.tree, snapshots[0].1.tree);
        assert_eq!(copied.original, Some(second));
        assert!(copied.parent.is_some(), "the parent's copy is the parent");

        // The control: other keys must read every blob, and meet the damage.
        let err = copy(
            &src,
            &other,
            &snapshots,
            CopyOptions::default(),
            &NoProgress,
        );
        assert!(matches!(err, Err(Error::Format { .. })), "{err:?}");
        assert!(
            other.snapshots().unwrap().is_empty(),
            "no snapshot after a failure"
        );
    }
}
