//! Prune: remove data that no snapshot references, safely beside running
//! backups. See SPEC.md §7.6 and §8.
//!
//! Phase one plans (which blobs the snapshots reference, how much of each
//! pack is used), repacks the packs worth repacking, writes an index that
//! supersedes the old one, and writes a deletion notice condemning the packs
//! that are no longer needed. Phase two deletes a notice's packs once every
//! lock session that might have read the old index has ended, after
//! rescuing any blob that a snapshot written meanwhile still needs. Both
//! phases run in one `prune` when nothing else holds a lock; otherwise the
//! next prune finishes phase two.

use crate::error::{Error, Result};
use crate::packer::Packer;
use crate::repo::Repository;
use rayon::prelude::*;
use repo_format::crypto::{BlobKind, ObjectKind};
use repo_format::deletion::{Deletion, SESSION_LEN};
use repo_format::index::{IndexFile, IndexPack};
use repo_format::layout::{FileKind, object_path, parse_object_path};
use repo_format::pack::PackEntry;
use repo_format::tree::Timestamp;
use repo_format::{BlobId, Id, PackId, SnapshotId};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// A lock session id.
pub type Session = [u8; SESSION_LEN];

/// How much unused data prune may leave in packs it keeps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaxUnused {
    /// A share of the used data, in percent (restic's rule: unused ≤
    /// used × p / (100 − p), so that unused is p % of the total after prune).
    Percent(f64),
    /// An absolute number of bytes.
    Bytes(u64),
    /// Never repack for unused space.
    Unlimited,
}

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
    pub lock: Option<crate::lock::LockHandle>,
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

/// A count of packs and their bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PackCount {
    /// Packs.
    pub packs: u64,
    /// Their size in the store.
    pub bytes: u64,
}

impl PackCount {
    fn add(&mut self, bytes: u64) {
        self.packs += 1;
        self.bytes += bytes;
    }
}

/// What prune found and did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PruneReport {
    /// Nothing was written or deleted.
    pub dry_run: bool,
    /// Snapshots whose data is kept.
    pub snapshots: u64,
    /// Blobs referenced by a snapshot.
    pub blobs_used: u64,
    /// Their stored size.
    pub bytes_used: u64,
    /// Blobs no snapshot references (or second copies).
    pub blobs_unused: u64,
    /// Their stored size.
    pub bytes_unused: u64,
    /// Every pack in the store.
    pub packs_total: PackCount,
    /// Packs kept as they are.
    pub packs_keep: PackCount,
    /// Packs whose used blobs are copied into new packs, then deleted.
    pub packs_repack: PackCount,
    /// Indexed packs with nothing used, deleted.
    pub packs_delete: PackCount,
    /// Packs that no index names (left by an interrupted backup or prune),
    /// deleted.
    pub packs_unindexed: PackCount,
    /// New packs written by repacking.
    pub packs_written: PackCount,
    /// Unused bytes left in kept packs.
    pub bytes_unused_after: u64,
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
        let mut live = crate::lock::active_sessions(self.repo)?;
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
        let earlier = finish_notices(repo, sessions)?;
        deleted = earlier.deleted;
        rescued = earlier.rescued;
    }
    let snapshots = repo.list_ids(FileKind::Snapshot)?;
    let snapshot_ids: Vec<SnapshotId> = snapshots.into_iter().map(SnapshotId).collect();
    let roots = load_roots(repo, &snapshot_ids)?;
    repo.reload_index()?;
    let stored = stored_packs(repo)?;
    let pending = pending_notices(repo)?;
    let condemned_earlier: HashSet<PackId> = pending
        .iter()
        .flat_map(|(_, d)| d.packs.iter().copied())
        .filter(|p| stored.contains_key(p))
        .collect();

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
    let used = used_blobs(repo, &roots, rescue.as_ref())?;
    if let Some(rescue) = &rescue
        && !options.dry_run
    {
        let missing: Vec<(BlobKind, BlobId)> = used
            .iter()
            .filter(|(k, id)| repo.index().get(*k, id).is_none())
            .copied()
            .collect();
        rescued += rescue.copy(repo, &missing)?;
    }
    let index_files = repo.index_set()?;
    let plan = plan(
        &index_files.active,
        &stored,
        &condemned_earlier,
        &used,
        options,
    )?;
    let mut report = plan.report.clone();
    report.snapshots = snapshot_ids.len() as u64;
    report.dry_run = options.dry_run;
    if options.dry_run {
        let notices = pending_notices(repo)?;
        report.pending_notices = notices.len() as u64;
        for p in &condemned_earlier {
            report.pending.add(stored.get(p).copied().unwrap_or(0));
        }
        return Ok(report);
    }

    let mut condemned: Vec<PackId> = plan.unindexed.clone();
    if !plan.repack.is_empty() || !plan.delete.is_empty() {
        check_lock(options)?;
        let written = repack(repo, &plan.repack, &plan.owned)?;
        for p in &written {
            report.packs_written.add(p.size);
        }
        let mut packs: Vec<IndexPack> = plan.keep.clone();
        packs.extend(written);
        write_index(repo, packs, &index_files.all)?;
        for id in &index_files.all {
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
            time: now(),
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
    let last = finish_notices(repo, sessions)?;
    report.deleted = PackCount {
        packs: deleted.packs + last.deleted.packs,
        bytes: deleted.bytes + last.deleted.bytes,
    };
    report.blobs_rescued = rescued + last.rescued;
    report.pending = last.pending;
    report.pending_notices = last.pending_notices;
    if sessions.live()?.is_empty() {
        check_lock(options)?;
        let removed = remove_staging_files(repo)?;
        report.staging_files_removed = removed.packs;
        report.staging_bytes_removed = removed.bytes;
    }
    Ok(report)
}

/// Remove the staging files of a local repository. The local store writes
/// an object to `<name>#<n>` and renames it into place; a process killed
/// in between leaves the staging file behind, and store listings (so
/// `check` and prune's plan) never see it. Called only when no other
/// process holds a lock, so no write is in progress.
fn remove_staging_files(repo: &Repository) -> Result<PackCount> {
    let mut removed = PackCount::default();
    let Some(root) = repo.backend().local_root() else {
        return Ok(removed);
    };
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("list", &dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list", &dir, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| Error::io("stat", &path, e))?;
            if kind.is_dir() {
                dirs.push(path);
            } else if kind.is_file() && entry.file_name().as_encoded_bytes().contains(&b'#') {
                let size = entry.metadata().map_or(0, |m| m.len());
                match std::fs::remove_file(&path) {
                    Ok(()) => removed.add(size),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io("remove", &path, e)),
                }
            }
        }
    }
    Ok(removed)
}

/// What phase two did.
#[derive(Debug, Default)]
struct Finished {
    deleted: PackCount,
    rescued: u64,
    pending: PackCount,
    pending_notices: u64,
}

/// Phase two for every notice whose sessions have all ended.
fn finish_notices(repo: &Repository, sessions: &dyn Sessions) -> Result<Finished> {
    let mut report = Finished::default();
    let notices = pending_notices(repo)?;
    if notices.is_empty() {
        return Ok(report);
    }
    let live = sessions.live()?;
    let stored = stored_packs(repo)?;
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
    repo.reload_index()?;
    let indexed: HashSet<PackId> = repo.index().pack_ids().collect();
    let still_waiting: HashSet<PackId> = waiting
        .iter()
        .flat_map(|(_, d)| d.packs.iter().copied())
        .collect();
    // Snapshots every ready notice planned with (any other may need blobs
    // from the condemned packs).
    let known: HashSet<SnapshotId> = ready
        .iter()
        .map(|(_, d)| d.snapshots.iter().copied().collect::<HashSet<_>>())
        .reduce(|a, b| a.intersection(&b).copied().collect())
        .unwrap_or_default();
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

    // Snapshots written since the notices' plans may need blobs that only
    // a condemned pack holds: copy those first.
    let newer: Vec<SnapshotId> = repo
        .list_ids(FileKind::Snapshot)?
        .into_iter()
        .map(SnapshotId)
        .filter(|s| !known.contains(s))
        .collect();
    if !newer.is_empty() && !doomed.is_empty() {
        let rescue = Rescue::new(repo, &doomed)?;
        let roots = load_roots(repo, &newer)?;
        let needed = used_blobs(repo, &roots, Some(&rescue))?;
        let missing: Vec<(BlobKind, BlobId)> = needed
            .into_iter()
            .filter(|(k, id)| repo.index().get(*k, id).is_none())
            .collect();
        report.rescued = rescue.copy(repo, &missing)?;
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

/// The plan of phase one.
#[derive(Debug, Default)]
struct Plan {
    keep: Vec<IndexPack>,
    repack: Vec<IndexPack>,
    delete: Vec<PackId>,
    unindexed: Vec<PackId>,
    /// Blobs to copy out of repacked packs: (pack, offset) of the copy kept.
    owned: HashSet<(PackId, u32)>,
    report: PruneReport,
}

/// Decide what to keep, repack and delete.
fn plan(
    active: &[(repo_format::IndexId, IndexFile)],
    stored: &HashMap<PackId, u64>,
    condemned_earlier: &HashSet<PackId>,
    used: &HashSet<(BlobKind, BlobId)>,
    options: &PruneOptions,
) -> Result<Plan> {
    let mut out = Plan::default();
    let mut seen_packs: HashSet<PackId> = HashSet::new();
    let mut owner: HashMap<(BlobKind, BlobId), (PackId, u32)> = HashMap::new();
    let mut packs: Vec<&IndexPack> = Vec::new();
    for (_, file) in active {
        for pack in &file.packs {
            if !seen_packs.insert(pack.id) {
                continue;
            }
            if !stored.contains_key(&pack.id) {
                return Err(Error::RepositoryDamaged(format!(
                    "pack {} is in the index but missing from the store; run 'vault check', then 'vault repair index'",
                    pack.id.short()
                )));
            }
            for b in &pack.blobs {
                if used.contains(&(b.kind, b.id)) {
                    owner.entry((b.kind, b.id)).or_insert((pack.id, b.offset));
                }
            }
            packs.push(pack);
        }
    }
    if let Some((kind, id)) = used.iter().find(|k| !owner.contains_key(k)) {
        return Err(Error::RepositoryDamaged(format!(
            "{} blob {} is referenced by a snapshot but in no index; run 'vault check'",
            match kind {
                BlobKind::Data => "data",
                BlobKind::Tree => "tree",
            },
            id.short()
        )));
    }
    let r = &mut out.report;
    let mut partial: Vec<(&IndexPack, u64, u64)> = Vec::new();
    for pack in packs {
        let size = stored.get(&pack.id).copied().unwrap_or(pack.size);
        r.packs_total.add(size);
        let (mut used_bytes, mut unused_bytes) = (0u64, 0u64);
        for b in &pack.blobs {
            let len = u64::from(b.length);
            if owner.get(&(b.kind, b.id)) == Some(&(pack.id, b.offset)) {
                used_bytes += len;
                r.blobs_used += 1;
            } else {
                unused_bytes += len;
                r.blobs_unused += 1;
            }
        }
        r.bytes_used += used_bytes;
        r.bytes_unused += unused_bytes;
        if used_bytes == 0 {
            r.packs_delete.add(size);
            out.delete.push(pack.id);
        } else if unused_bytes == 0 {
            r.packs_keep.add(size);
            out.keep.push(pack.clone());
        } else {
            partial.push((pack, size, unused_bytes));
        }
    }
    let mut unindexed: Vec<(PackId, u64)> = stored
        .iter()
        .filter(|(p, _)| !seen_packs.contains(p) && !condemned_earlier.contains(p))
        .map(|(p, s)| (*p, *s))
        .collect();
    unindexed.sort_unstable();
    for (p, s) in unindexed {
        r.packs_total.add(s);
        r.packs_unindexed.add(s);
        out.unindexed.push(p);
    }

    // Repack the packs with the largest unused share first, until what is
    // left unused is within the limit (restic's rule).
    let limit = match options.max_unused {
        MaxUnused::Unlimited => u64::MAX,
        MaxUnused::Bytes(b) => b,
        MaxUnused::Percent(p) if p >= 100.0 => u64::MAX,
        MaxUnused::Percent(p) => (r.bytes_used as f64 * p / (100.0 - p)) as u64,
    };
    partial.sort_by(|a, b| {
        let ra = a.2 as f64 / a.1.max(1) as f64;
        let rb = b.2 as f64 / b.1.max(1) as f64;
        rb.total_cmp(&ra).then(a.0.id.cmp(&b.0.id))
    });
    let mut unused_left: u64 = partial.iter().map(|p| p.2).sum();
    let mut repack_bytes = 0u64;
    for (pack, size, unused) in partial {
        let within_budget = options
            .max_repack_size
            .is_none_or(|max| repack_bytes + size <= max);
        if unused_left > limit && within_budget {
            unused_left -= unused;
            repack_bytes += size;
            r.packs_repack.add(size);
            for b in &pack.blobs {
                if owner.get(&(b.kind, b.id)) == Some(&(pack.id, b.offset)) {
                    out.owned.insert((pack.id, b.offset));
                }
            }
            out.repack.push(pack.clone());
        } else {
            r.packs_keep.add(size);
            out.keep.push(pack.clone());
        }
    }
    r.bytes_unused_after = unused_left;
    Ok(out)
}

/// Copy the used blobs of `packs` into new packs; returns them.
fn repack(
    repo: &Repository,
    packs: &[IndexPack],
    owned: &HashSet<(PackId, u32)>,
) -> Result<Vec<IndexPack>> {
    if packs.is_empty() {
        return Ok(Vec::new());
    }
    let packer = new_packer(repo)?;
    packs.par_iter().try_for_each(|pack| {
        let bytes = repo
            .backend()
            .get(&object_path(FileKind::Pack, &pack.id.0))?;
        for b in pack
            .blobs
            .iter()
            .filter(|b| owned.contains(&(pack.id, b.offset)))
        {
            copy_blob(repo, &packer, &pack.id, b, &bytes, u64::from(b.offset))?;
        }
        Ok::<(), Error>(())
    })?;
    packer.finish()
}

/// Verify one sealed blob (found at `at` in `bytes`) and add it to `packer`.
fn copy_blob(
    repo: &Repository,
    packer: &Packer,
    pack: &PackId,
    b: &PackEntry,
    bytes: &[u8],
    at: u64,
) -> Result<()> {
    let sealed = usize::try_from(at)
        .ok()
        .and_then(|start| bytes.get(start..start + b.length as usize))
        .ok_or_else(|| {
            Error::RepositoryDamaged(format!(
                "pack {} is shorter than its index says",
                pack.short()
            ))
        })?;
    // Copy only what opens and hashes right: a repack must not spread damage.
    repo.key()
        .open_blob(b.kind, &b.id, sealed, b.raw_length as usize)
        .map_err(|e| Error::format(format!("blob {} in pack {}", b.id.short(), pack.short()), e))?;
    packer.add(b.kind, b.id, sealed, b.raw_length)
}

fn new_packer(repo: &Repository) -> Result<Packer> {
    let config = repo.config();
    Packer::new(
        repo.backend().clone(),
        repo.key().clone(),
        config.compression_level,
        config.pack_size as usize,
    )
}

/// Write index files for `packs`; the last one supersedes `old`.
fn write_index(
    repo: &Repository,
    packs: Vec<IndexPack>,
    old: &[repo_format::IndexId],
) -> Result<()> {
    for file in crate::repo::index_files(packs, old.to_vec()) {
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
        Some(read_entry(repo, pack, e))
    }

    /// Copy `blobs` out of condemned packs into new ones; returns how many.
    fn copy(&self, repo: &Repository, blobs: &[(BlobKind, BlobId)]) -> Result<u64> {
        let found: Vec<&(PackId, PackEntry)> =
            blobs.iter().filter_map(|k| self.blobs.get(k)).collect();
        if found.is_empty() {
            return Ok(0);
        }
        let packer = new_packer(repo)?;
        for (pack, e) in &found {
            let path = object_path(FileKind::Pack, &pack.0);
            let sealed = repo
                .backend()
                .get_range(&path, u64::from(e.offset)..e.end())?;
            copy_blob(repo, &packer, pack, e, &sealed, 0)?;
        }
        let written = packer.finish()?;
        repo.save_index(written)?;
        Ok(found.len() as u64)
    }
}

fn read_entry(repo: &Repository, pack: &PackId, e: &PackEntry) -> Result<Vec<u8>> {
    let path = object_path(FileKind::Pack, &pack.0);
    let sealed = repo
        .backend()
        .get_range(&path, u64::from(e.offset)..e.end())?;
    repo.key()
        .open_blob(e.kind, &e.id, &sealed, e.raw_length as usize)
        .map_err(|err| {
            Error::format(
                format!("blob {} in pack {}", e.id.short(), pack.short()),
                err,
            )
        })
}

/// Root trees of `snapshots` (a snapshot that vanished meanwhile, removed
/// by a concurrent forget, is skipped).
fn load_roots(repo: &Repository, snapshots: &[SnapshotId]) -> Result<Vec<BlobId>> {
    let roots: Vec<Option<BlobId>> = snapshots
        .par_iter()
        .map(|id| match repo.load_snapshot(id) {
            Ok(s) => Ok(Some(s.tree)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        })
        .collect::<Result<_>>()?;
    Ok(roots.into_iter().flatten().collect())
}

/// Every blob reachable from `roots`: trees and the data they name. Each
/// distinct tree is read once; trees missing from the index are read from
/// `rescue` when given.
fn used_blobs(
    repo: &Repository,
    roots: &[BlobId],
    rescue: Option<&Rescue>,
) -> Result<HashSet<(BlobKind, BlobId)>> {
    let mut used: HashSet<(BlobKind, BlobId)> = HashSet::new();
    let mut frontier: Vec<BlobId> = roots
        .iter()
        .copied()
        .filter(|t| used.insert((BlobKind::Tree, *t)))
        .collect();
    while !frontier.is_empty() {
        let trees: Vec<repo_format::tree::Tree> = frontier
            .par_iter()
            .map(|id| load_tree(repo, id, rescue))
            .collect::<Result<_>>()?;
        frontier = Vec::new();
        for tree in trees {
            for node in tree.nodes {
                for chunk in node.content {
                    used.insert((BlobKind::Data, chunk));
                }
                if let Some(sub) = node.subtree
                    && used.insert((BlobKind::Tree, sub))
                {
                    frontier.push(sub);
                }
            }
        }
    }
    Ok(used)
}

fn load_tree(
    repo: &Repository,
    id: &BlobId,
    rescue: Option<&Rescue>,
) -> Result<repo_format::tree::Tree> {
    let in_index = repo.index().get(BlobKind::Tree, id).is_some();
    let plain = match rescue {
        Some(r) if !in_index => r
            .read(repo, BlobKind::Tree, id)
            .unwrap_or_else(|| Err(Error::BlobNotIndexed(id.to_hex())))?,
        _ => repo.read_blob(BlobKind::Tree, id)?,
    };
    repo_format::tree::Tree::decode(&plain)
        .map_err(|e| Error::format(format!("tree {}", id.short()), e))
}

/// Every pack in the store with its size.
fn stored_packs(repo: &Repository) -> Result<HashMap<PackId, u64>> {
    Ok(repo
        .backend()
        .list(FileKind::Pack.dir())?
        .into_iter()
        .filter_map(|(path, size)| {
            parse_object_path(FileKind::Pack, &path).map(|id| (PackId(id), size))
        })
        .collect())
}

/// Every deletion notice in the store, each with its own outcome.
pub fn read_notices(repo: &Repository) -> Result<Vec<(Id, Result<Deletion>)>> {
    Ok(repo
        .list_ids(FileKind::Deletion)?
        .into_iter()
        .map(|id| {
            let notice = repo
                .load_object(FileKind::Deletion, ObjectKind::Deletion, &id)
                .and_then(|payload| {
                    Deletion::decode(&payload)
                        .map_err(|e| Error::format(object_path(FileKind::Deletion, &id), e))
                });
            (id, notice)
        })
        .collect())
}

/// Every readable deletion notice. A damaged one is left out: its packs
/// are in no index, so the next plan condemns them again under a new
/// notice, and [`prune`] then removes the damaged one.
pub fn pending_notices(repo: &Repository) -> Result<Vec<(Id, Deletion)>> {
    Ok(read_notices(repo)?
        .into_iter()
        .filter_map(|(id, n)| n.ok().map(|n| (id, n)))
        .collect())
}

fn now() -> Timestamp {
    let t = chrono::Utc::now();
    Timestamp {
        secs: t.timestamp(),
        nanos: t.timestamp_subsec_nanos(),
    }
}
