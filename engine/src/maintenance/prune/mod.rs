//! Prune: remove data that no snapshot references, safely beside running
//! backups. See SPEC.md §7.6 and §8.
//!
//! Phase one plans ([`plan`]: which blobs the snapshots reach, how much of
//! each pack is used), repacks the packs worth repacking, writes an index
//! that supersedes the old one, and writes a deletion notice condemning
//! the packs that are no longer needed. Phase two deletes a notice's packs
//! once every lock session that might have read the old index has ended,
//! after rescuing any blob that a snapshot written meanwhile still needs.
//! Both phases run in one `prune` when nothing else holds a lock;
//! otherwise the next prune finishes phase two.
//!
//! What the snapshots reach is the repository's one walk
//! ([`crate::repository::reachable`]), kept as one bit per indexed blob.

pub mod plan;
mod verify;

pub use plan::{MaxUnused, PackCount, PlanFigures, PrunePlan, plan};

use super::notices::{pending_notices, read_notices};
use crate::error::{Error, Result};
use crate::repository::Repository;
use crate::repository::index::{IndexFiles, LoadMode, index_files};
use crate::repository::pack_reader::BlobRef;
use crate::repository::packer::Packer;
use crate::repository::reachable::{Reached, reachable};
use rayon::prelude::*;
use repo_format::crypto::{BlobKind, ObjectKind};
use repo_format::deletion::{Deletion, SESSION_LEN};
use repo_format::index::IndexPack;
use repo_format::layout::FileKind;
use repo_format::pack::PackEntry;
use repo_format::tree::{Timestamp, Tree};
use repo_format::{BlobId, IndexId, PackId, SnapshotId};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};

/// A lock session id.
pub type Session = [u8; SESSION_LEN];

/// Options of [`prune`].
#[derive(Clone, Debug)]
pub struct PruneOptions {
    /// Unused data tolerated in kept packs.
    pub max_unused: MaxUnused,
    /// Repack at most this many bytes of packs.
    pub max_repack_size: Option<u64>,
    /// Plan and report only.
    pub dry_run: bool,
    /// The lock prune runs under: checked before each step that writes or
    /// deletes, so that a prune whose lock was lost stops.
    pub lock: Option<crate::repository::lock::LockHandle>,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            max_unused: MaxUnused::Percent(5.0),
            max_repack_size: None,
            dry_run: false,
            lock: None,
        }
    }
}

/// What prune found and did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PruneReport {
    /// Nothing was written or deleted.
    pub dry_run: bool,
    /// Snapshots whose data is kept.
    pub snapshots: u64,
    /// What the plan decided.
    #[serde(flatten)]
    pub plan: PlanFigures,
    /// New packs written by repacking.
    pub packs_written: PackCount,
    /// Packs actually deleted by phase two in this run.
    pub deleted: PackCount,
    /// Packs condemned but not yet deleted, because a process that may
    /// still use them holds a lock; the next prune deletes them.
    pub pending: PackCount,
    /// Deletion notices still pending.
    pub pending_notices: u64,
    /// Blobs that a snapshot written during the prune needed from a
    /// condemned pack, copied before deletion.
    pub blobs_rescued: u64,
    /// Half-written files a killed process left in a local repository
    /// (`<name>#<n>`, invisible to listings), removed.
    pub staging_files_removed: u64,
    /// Their size.
    pub staging_bytes_removed: u64,
}

/// Where the live lock sessions come from (the lock module, or a test).
pub trait Sessions {
    /// Sessions of every live lock other than the caller's own.
    fn live(&self) -> Result<HashSet<Session>>;
}

/// The live lock sessions of other processes, read from the repository's
/// locks.
pub struct OtherLocks<'a> {
    /// The repository.
    pub repo: &'a Repository,
    /// The caller's own session, left out.
    pub own: Option<Session>,
}

impl Sessions for OtherLocks<'_> {
    fn live(&self) -> Result<HashSet<Session>> {
        let mut live = crate::repository::lock::active_sessions(self.repo)?;
        if let Some(own) = &self.own {
            live.remove(own);
        }
        Ok(live)
    }
}

fn check_lock(options: &PruneOptions) -> Result<()> {
    options.lock.as_ref().map_or(Ok(()), |l| l.check())
}

/// Remove unreferenced data. `sessions` reports the live lock sessions of
/// other processes.
pub fn prune(
    repo: &Repository,
    options: &PruneOptions,
    sessions: &dyn Sessions,
) -> Result<PruneReport> {
    let before = sessions.live()?;
    let mut deleted = PackCount::default();
    let mut rescued = 0;
    if !options.dry_run {
        // Prune writes (repacked packs, index files) before it deletes:
        // ask first, so that an append-only server refuses it unchanged.
        repo.backend().ensure_deletable()?;
        // Finish what earlier prunes condemned, if they may.
        check_lock(options)?;
        let earlier = finish_notices(repo, sessions, &HashSet::new())?;
        deleted = earlier.deleted;
        rescued = earlier.rescued;
    }
    let snapshot_ids: Vec<SnapshotId> = repo
        .list_ids(FileKind::Snapshot)?
        .into_iter()
        .map(SnapshotId)
        .collect();
    let roots = load_roots(repo, &snapshot_ids)?;
    let mut stored = repo.list_packs()?.0;
    let condemned_earlier: HashSet<PackId> = pending_notices(repo)?
        .iter()
        .flat_map(|(_, d)| d.packs.iter().copied())
        .filter(|p| stored.contains_key(p))
        .collect();
    let mut files = load_files(repo)?;
    // The index files are a client's word: every pack's header must back
    // them before anything is walked or planned from them.
    let mut headers = verify::read_headers(repo, &stored);
    let mut checked = verify::cross_check(&files.packs(), &headers);
    verify::refuse_contradictions(&checked.contradicted)?;

    // A snapshot written since an earlier prune condemned packs may need
    // blobs from them while the notice still waits: copy those now.
    let rescue = if condemned_earlier.is_empty() {
        None
    } else {
        let packs: Vec<(PackId, u64)> = condemned_earlier
            .iter()
            .filter_map(|p| stored.get(p).map(|s| (*p, *s)))
            .collect();
        Some(Rescue::new(repo, &packs)?)
    };
    let mut reached = reach(repo, &roots, rescue.as_ref())?;
    if let Some(rescue) = &rescue
        && !options.dry_run
        && !reached.missing.is_empty()
    {
        let copied = rescue.copy(repo, &reached.missing)?;
        if copied > 0 {
            rescued += copied;
            // The rescued blobs are in a new pack and index file: plan with them.
            stored = repo.list_packs()?.0;
            files = load_files(repo)?;
            headers = verify::read_headers(repo, &stored);
            checked = verify::cross_check(&files.packs(), &headers);
            verify::refuse_contradictions(&checked.contradicted)?;
            reached = reach(repo, &roots, None)?;
        }
    }
    if let Some((kind, id)) = reached.missing.first() {
        return Err(Error::BlobUnreachable {
            kind: *kind,
            blob: id.to_hex(),
        });
    }
    let plan = {
        let index = repo.index();
        plan(
            files.active.iter().flat_map(|(_, f)| &f.packs),
            &stored,
            &condemned_earlier,
            |pack, entry| is_used(&index, &reached, pack, entry),
            &checked.not_all_indexed,
            options.max_unused,
            options.max_repack_size,
        )?
    };
    // What the condemned packs hold that a snapshot reaches survives.
    let copied: BTreeSet<PackId> = plan.repack.iter().map(|p| p.id).collect();
    let condemned: BTreeSet<PackId> = plan
        .delete
        .iter()
        .chain(&plan.unindexed)
        .copied()
        .chain(copied.iter().copied())
        .collect();
    verify::survivors(repo, &headers, &condemned, &copied, &reached)?;
    drop(headers);
    let mut report = PruneReport {
        dry_run: options.dry_run,
        snapshots: snapshot_ids.len() as u64,
        plan: plan.figures.clone(),
        ..PruneReport::default()
    };
    if options.dry_run {
        report.pending_notices = pending_notices(repo)?.len() as u64;
        for p in &condemned_earlier {
            report.pending.add(stored.get(p).copied().unwrap_or(0));
        }
        return Ok(report);
    }

    let mut condemned: Vec<PackId> = plan.unindexed.clone();
    // Packs this prune wrote: what phase two need not read again.
    let mut fresh = HashSet::new();
    if !plan.repack.is_empty() || !plan.delete.is_empty() {
        check_lock(options)?;
        let written = repack(repo, &plan.repack, &reached)?;
        for p in &written {
            report.packs_written.add(p.size);
            fresh.insert(p.id);
        }
        let mut packs: Vec<IndexPack> = plan.keep.clone();
        packs.extend(written);
        write_index(repo, packs, &files.all)?;
        for id in &files.all {
            repo.delete_object(FileKind::Index, &id.0)?;
        }
        condemned.extend(plan.repack.iter().map(|p| p.id));
        condemned.extend(plan.delete.iter().copied());
    }
    if !condemned.is_empty() {
        let mut live: Vec<Session> = before.union(&sessions.live()?).copied().collect();
        live.sort_unstable();
        condemned.sort_unstable();
        let mut known = snapshot_ids;
        known.sort_unstable();
        check_lock(options)?;
        let notice = Deletion {
            time: Timestamp::from_datetime(&chrono::Utc::now()),
            packs: condemned,
            snapshots: known,
            sessions: live,
        };
        repo.save_object(FileKind::Deletion, ObjectKind::Deletion, &notice.encode())?;
    }
    // Damaged notices: their packs were condemned again just now.
    for (id, notice) in read_notices(repo)? {
        if notice.is_err() {
            repo.delete_object(FileKind::Deletion, &id)?;
        }
    }
    check_lock(options)?;
    let last = finish_notices(repo, sessions, &fresh)?;
    report.deleted = PackCount {
        packs: deleted.packs + last.deleted.packs,
        bytes: deleted.bytes + last.deleted.bytes,
    };
    report.blobs_rescued = rescued + last.rescued;
    report.pending = last.pending;
    report.pending_notices = last.pending_notices;
    if sessions.live()?.is_empty() {
        // No other process writes: what interrupted writes left behind
        // where listings cannot see it may go.
        check_lock(options)?;
        let (files, bytes) = repo.backend().remove_partial_writes()?;
        report.staging_files_removed = files;
        report.staging_bytes_removed = bytes;
    }
    Ok(report)
}

/// The index files in force, strictly, loaded as the in-memory index.
fn load_files(repo: &Repository) -> Result<IndexFiles> {
    let files = repo.read_index_files(LoadMode::Strict)?;
    repo.load_index_from(&files)?;
    Ok(files)
}

/// What `roots` reach, reading trees the index lacks from `rescue`.
fn reach(repo: &Repository, roots: &[BlobId], rescue: Option<&Rescue>) -> Result<Reached> {
    reachable(repo, roots, |id| load_tree(repo, id, rescue))
}

/// Whether `entry` of `pack` is the copy kept of a blob the snapshots
/// reach: the one the index points at.
fn is_used(
    index: &crate::repository::index::Index,
    reached: &Reached,
    pack: &PackId,
    entry: &PackEntry,
) -> Result<bool> {
    let Some((position, at)) = index.find_with_position(entry.kind, &entry.id)? else {
        return Ok(false);
    };
    Ok(reached.blobs.contains(position) && at.pack == *pack && at.offset == entry.offset)
}

/// What phase two did.
#[derive(Debug, Default)]
struct Finished {
    deleted: PackCount,
    rescued: u64,
    pending: PackCount,
    pending_notices: u64,
}

/// Phase two for every notice whose sessions have all ended. Before a
/// condemned pack goes, every blob in it that any snapshot reaches (any:
/// the index may have changed since the plan) must have a copy elsewhere
/// that opens (those in `fresh`, packs this process just wrote, are not
/// read again), or it is copied out first.
fn finish_notices(
    repo: &Repository,
    sessions: &dyn Sessions,
    fresh: &HashSet<PackId>,
) -> Result<Finished> {
    let mut report = Finished::default();
    let notices = pending_notices(repo)?;
    if notices.is_empty() {
        return Ok(report);
    }
    let live = sessions.live()?;
    let stored = repo.list_packs()?.0;
    let (ready, waiting): (Vec<_>, Vec<_>) = notices
        .into_iter()
        .partition(|(_, d)| d.sessions.iter().all(|s| !live.contains(s)));
    for (_, d) in &waiting {
        report.pending_notices += 1;
        for p in &d.packs {
            if let Some(size) = stored.get(p) {
                report.pending.add(*size);
            }
        }
    }
    if ready.is_empty() {
        return Ok(report);
    }
    repo.load_index(LoadMode::Strict)?;
    let indexed: HashSet<PackId> = repo.index().pack_ids().collect();
    let still_waiting: HashSet<PackId> = waiting
        .iter()
        .flat_map(|(_, d)| d.packs.iter().copied())
        .collect();
    // Condemned packs still on the store and in no index.
    let mut doomed: Vec<(PackId, u64)> = ready
        .iter()
        .flat_map(|(_, d)| d.packs.iter().copied())
        .collect::<HashSet<_>>()
        .into_iter()
        .filter(|p| !indexed.contains(p) && !still_waiting.contains(p))
        .filter_map(|p| stored.get(&p).map(|s| (p, *s)))
        .collect();
    doomed.sort_unstable();

    if !doomed.is_empty() {
        let rescue = Rescue::new(repo, &doomed)?;
        let snapshots: Vec<SnapshotId> = repo
            .list_ids(FileKind::Snapshot)?
            .into_iter()
            .map(SnapshotId)
            .collect();
        let roots = load_roots(repo, &snapshots)?;
        let needed = reach(repo, &roots, Some(&rescue))?;
        let mut copy = needed.missing.clone();
        copy.extend(rescue.unreadable_elsewhere(repo, &needed, fresh)?);
        report.rescued = rescue.copy(repo, &copy)?;
    }
    for (pack, size) in &doomed {
        repo.delete_object(FileKind::Pack, &pack.0)?;
        report.deleted.add(*size);
    }
    for (id, _) in &ready {
        repo.delete_object(FileKind::Deletion, id)?;
    }
    Ok(report)
}

/// Copy the used blobs of `packs` into new packs (each verified as it is
/// read: a repack must not spread damage); returns them.
fn repack(repo: &Repository, packs: &[IndexPack], reached: &Reached) -> Result<Vec<IndexPack>> {
    if packs.is_empty() {
        return Ok(Vec::new());
    }
    let packer = new_packer(repo)?;
    let reader = repo.pack_reader();
    packs.par_iter().try_for_each(|pack| {
        let mut owned = Vec::new();
        {
            let index = repo.index();
            for b in &pack.blobs {
                if is_used(&index, reached, &pack.id, b)? {
                    owned.push(*b);
                }
            }
        }
        reader.read_blobs(
            &pack.id,
            &mut owned,
            |e| BlobRef::from(e),
            |e, read| packer.seal_and_add(e.kind, e.id, &read?.plain).map(drop),
        )
    })?;
    packer.finish()
}

fn new_packer(repo: &Repository) -> Result<Packer> {
    let config = repo.config();
    Packer::new(
        repo.backend().clone(),
        repo.keyring().clone(),
        config.compression_level,
        config.pack_size as usize,
    )
}

/// Write index files for `packs`; the last one supersedes `old`.
fn write_index(repo: &Repository, packs: Vec<IndexPack>, old: &[IndexId]) -> Result<()> {
    for file in index_files(packs, old.to_vec()) {
        repo.save_index_file(&file)?;
    }
    Ok(())
}

/// Blobs held by condemned packs, found through their headers, for
/// snapshots that need them.
struct Rescue {
    blobs: HashMap<(BlobKind, BlobId), (PackId, PackEntry)>,
}

impl Rescue {
    fn new(repo: &Repository, packs: &[(PackId, u64)]) -> Result<Self> {
        let headers: Vec<(PackId, Vec<PackEntry>)> = packs
            .par_iter()
            .map(|(p, size)| repo.read_pack_header(p, *size).map(|h| (*p, h)))
            .collect::<Result<_>>()?;
        let mut blobs = HashMap::new();
        for (pack, entries) in headers {
            for e in entries {
                blobs.entry((e.kind, e.id)).or_insert((pack, e));
            }
        }
        Ok(Rescue { blobs })
    }

    fn read(&self, repo: &Repository, kind: BlobKind, id: &BlobId) -> Option<Result<Vec<u8>>> {
        let (pack, e) = self.blobs.get(&(kind, *id))?;
        Some(repo.pack_reader().read_blob(pack, &BlobRef::from(e)))
    }

    /// The blobs these packs hold that `reached` says a snapshot reaches,
    /// whose copy the index names (outside `fresh`) cannot be read and
    /// opened: they must be copied out before these packs go.
    fn unreadable_elsewhere(
        &self,
        repo: &Repository,
        reached: &Reached,
        fresh: &HashSet<PackId>,
    ) -> Result<Vec<(BlobKind, BlobId)>> {
        let mut check = Vec::new();
        {
            let index = repo.index();
            for (kind, id) in self.blobs.keys() {
                if let Some((position, at)) = index.find_with_position(*kind, id)?
                    && reached.blobs.contains(position)
                    && !fresh.contains(&at.pack)
                {
                    check.push((*kind, *id, at));
                }
            }
        }
        let reader = repo.pack_reader();
        Ok(repo.backend().parallel(|| {
            check
                .par_iter()
                .filter(|(kind, id, at)| {
                    reader
                        .read_blob(&at.pack, &BlobRef::located(*kind, *id, at))
                        .is_err()
                })
                .map(|(kind, id, _)| (*kind, *id))
                .collect()
        }))
    }

    /// Copy those of `blobs` that condemned packs hold into new packs;
    /// returns how many.
    fn copy(&self, repo: &Repository, blobs: &[(BlobKind, BlobId)]) -> Result<u64> {
        let mut by_pack: HashMap<PackId, Vec<PackEntry>> = HashMap::new();
        for (pack, e) in blobs.iter().filter_map(|k| self.blobs.get(k)) {
            by_pack.entry(*pack).or_default().push(*e);
        }
        if by_pack.is_empty() {
            return Ok(0);
        }
        let packer = new_packer(repo)?;
        let reader = repo.pack_reader();
        let mut copied = 0;
        for (pack, entries) in &mut by_pack {
            reader.read_blobs(
                pack,
                entries,
                |e| BlobRef::from(e),
                |e, read| {
                    copied += 1;
                    packer.seal_and_add(e.kind, e.id, &read?.plain).map(drop)
                },
            )?;
        }
        let written = packer.finish()?;
        repo.save_index(written)?;
        Ok(copied)
    }
}

/// Root trees of `snapshots` (a snapshot that vanished meanwhile, removed
/// by a concurrent forget, is skipped). A snapshot that does not open stops
/// prune: what it reaches cannot be known, so nothing could be deleted
/// safely.
fn load_roots(repo: &Repository, snapshots: &[SnapshotId]) -> Result<Vec<BlobId>> {
    let roots: Vec<Option<BlobId>> = snapshots
        .par_iter()
        .map(|id| match repo.load_snapshot(id) {
            Ok(s) => Ok(Some(s.tree)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e @ Error::Format { .. }) => Err(Error::RepositoryDamaged(format!(
                "snapshot {} does not open ({}), so prune cannot tell what it \
                 reaches and deleted nothing; 'vault repair snapshots --forget' \
                 removes it",
                id.short(),
                e.detail()
            ))),
            Err(e) => Err(e),
        })
        .collect::<Result<_>>()?;
    Ok(roots.into_iter().flatten().collect())
}

/// A tree from the index, or, when the index lacks it, from `rescue`.
fn load_tree(repo: &Repository, id: &BlobId, rescue: Option<&Rescue>) -> Result<Tree> {
    let in_index = repo.index().contains(BlobKind::Tree, id)?;
    let plain = match rescue {
        Some(r) if !in_index => r
            .read(repo, BlobKind::Tree, id)
            .unwrap_or_else(|| Err(Error::BlobNotIndexed(id.to_hex())))?,
        _ => repo.read_blob(BlobKind::Tree, id)?,
    };
    Tree::decode(&plain).map_err(|e| Error::format(format!("tree {}", id.short()), e))
}
