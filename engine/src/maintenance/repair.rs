//! `repair index` and `repair snapshots`: put a damaged repository back in
//! a state that `check` accepts, losing only what is already lost.
//!
//! **repair index** rebuilds the index from the packs' own headers. A pack
//! whose header cannot be read keeps the entries an intact index file gives
//! it (when the sizes agree), and is otherwise left out: its blobs count as
//! lost. The new index files are written first (the last one lists every
//! old index file in `supersedes`, so a crash midway leaves the old ones in
//! force), then the old ones are deleted.
//!
//! **repair snapshots** follows restic's `repair snapshots`: every file
//! whose content references a blob that is not in the index keeps its
//! intact chunks only (the lost ones are cut out and its size becomes the
//! sum of the chunks kept); a directory whose tree cannot be read becomes an
//! empty directory. Each damaged snapshot is written again as a **new**
//! snapshot tagged `repaired`, whose `original` names the damaged one (or
//! that one's own original); old snapshots are never edited. `forget`
//! removes the damaged originals afterwards, and also removes snapshots
//! whose root tree is lost (nothing of them is left to keep, as in restic).
//! The command relies on a correct index: it refuses to run while an index
//! file is damaged or names a missing pack (run `repair index` first).

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::repository::Repository;
use crate::repository::index::{IndexedPack, LoadMode, index_files};
use crate::repository::pack_reader::BlobRef;
use crate::repository::reachable::check_depth;
use crate::repository::saver::BlobSaver;
use rayon::prelude::*;
use repo_format::crypto::{BlobKind, ObjectKind};
use repo_format::index::IndexPack;
use repo_format::layout::FileKind;
use repo_format::pack::compare_entries;
use repo_format::snapshot::Snapshot;
use repo_format::tree::{NodeKind, Tree};
use repo_format::{BlobId, IndexId, PackId, SnapshotId};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The tag every repaired snapshot carries.
pub const REPAIRED_TAG: &str = "repaired";

/// The packs the readable index files describe, and the files that
/// could not be read.
type Loaded = (BTreeMap<PackId, IndexedPack>, Vec<(IndexId, Error)>);

/// Every readable index file, loaded as the in-memory index.
fn load_index(repo: &Repository) -> Result<Loaded> {
    let files = repo.read_index_files(LoadMode::Tolerant)?;
    repo.load_index_from(&files)?;
    Ok((files.packs(), files.damaged))
}

/// Options of [`repair_index`].
#[derive(Clone, Debug, Default)]
pub struct RepairIndexOptions {
    /// Report what would change; write nothing.
    pub dry_run: bool,
}

/// What [`repair_index`] did (or would do).
#[derive(Debug, Default)]
pub struct RepairIndexReport {
    /// Packs in the new index.
    pub packs_indexed: usize,
    /// Packs the old index did not list (now listed).
    pub packs_added: Vec<PackId>,
    /// Packs the old index listed but the store does not hold (dropped).
    pub packs_removed: Vec<PackId>,
    /// Packs whose header cannot be read and whose old index entries are
    /// kept (their size matches).
    pub packs_kept_from_index: Vec<(PackId, String)>,
    /// Packs whose header cannot be read and that no intact index file
    /// describes: left out, their blobs lost.
    pub packs_unreadable: Vec<(PackId, String)>,
    /// Copies of blobs stored in more than one pack that do not open,
    /// left out of the index so that a good copy is the one it names.
    pub copies_left_out: Vec<(PackId, BlobId)>,
    /// Index files that could not be read.
    pub index_damaged: Vec<(IndexId, String)>,
    /// Index files written.
    pub index_written: Vec<IndexId>,
    /// Old index files deleted (or to delete).
    pub index_deleted: Vec<IndexId>,
    /// Whether the index was already right (nothing written).
    pub unchanged: bool,
}

/// Rebuild the index from the pack headers.
pub fn repair_index(
    repo: &Repository,
    options: &RepairIndexOptions,
    progress: &dyn Progress,
) -> Result<RepairIndexReport> {
    let mut report = RepairIndexReport::default();
    progress.stage("load indexes");
    let old_ids: Vec<IndexId> = repo
        .list_ids(FileKind::Index)?
        .into_iter()
        .map(IndexId)
        .collect();
    let (old, damaged) = load_index(repo)?;
    report.index_damaged = damaged.iter().map(|(id, e)| (*id, e.detail())).collect();

    progress.stage("read pack headers");
    let (stored, _) = repo.list_packs()?;
    #[allow(clippy::type_complexity)]
    let headers: Vec<(PackId, u64, Result<(Option<_>, Vec<_>)>)> = stored
        .par_iter()
        .map(|(id, size)| (*id, *size, repo.read_pack_header_and_capsule(id, *size)))
        .collect();
    let mut packs = Vec::new();
    for (id, size, header) in headers {
        let known = old.get(&id);
        if known.is_none() {
            report.packs_added.push(id);
        }
        match header {
            Ok((capsule, blobs)) => packs.push(IndexPack {
                id,
                size,
                capsule,
                blobs,
            }),
            Err(e) => match known.filter(|k| k.size == size) {
                Some(k) => {
                    report.packs_kept_from_index.push((id, e.detail()));
                    packs.push(IndexPack {
                        id,
                        size,
                        capsule: k.capsule,
                        blobs: k.entries.clone(),
                    });
                }
                None => {
                    report.packs_added.retain(|p| *p != id);
                    report.packs_unreadable.push((id, e.detail()));
                }
            },
        }
    }
    report.packs_removed = old
        .keys()
        .filter(|id| !stored.contains_key(id))
        .copied()
        .collect();
    report.packs_indexed = packs.len();
    progress.stage("read blobs stored more than once");
    report.copies_left_out = leave_out_bad_copies(repo, &mut packs)?;

    // Unchanged: every index file is readable and in force, and lists
    // exactly what the headers say.
    let in_force: HashSet<&IndexId> = old.values().flat_map(|p| p.indexes.iter()).collect();
    let same = damaged.is_empty()
        && old_ids.len() == in_force.len()
        && packs.len() == old.len()
        && packs.iter().all(|p| {
            old.get(&p.id).is_some_and(|o| {
                o.size == p.size && compare_entries(&p.blobs, &o.entries) == (0, 0)
            })
        });
    if same {
        report.unchanged = true;
        return Ok(report);
    }
    report.index_deleted = old_ids.clone();
    if options.dry_run {
        return Ok(report);
    }

    // Writes come before deletes: ask first, so that an append-only
    // server leaves the repository as it was.
    repo.backend().ensure_deletable()?;
    progress.stage("write index");
    let files = index_files(packs, old_ids.clone());
    for file in &files {
        let id = repo.save_object(
            FileKind::Index,
            ObjectKind::Index,
            &file.encode(repo.config().version),
        )?;
        report.index_written.push(IndexId(id));
    }
    for id in &old_ids {
        if !report.index_written.contains(id) {
            repo.delete_object(FileKind::Index, &id.0)?;
        }
    }
    Ok(report)
}

/// A blob that two or more packs list is indexed only where it opens: a
/// copy that does not (damage, or a pack a client forged with a header
/// sealed like a real one and garbage bodies) must not hide a good one.
/// Every copy of such a blob is read; those that fail are taken out of
/// their pack's entries when another copy opens. Returns what was taken
/// out.
fn leave_out_bad_copies(
    repo: &Repository,
    packs: &mut [IndexPack],
) -> Result<Vec<(PackId, BlobId)>> {
    // (kind, id, pack, entry) of every entry, sorted: copies side by side.
    let mut copies: Vec<(u8, BlobId, usize, usize)> = packs
        .iter()
        .enumerate()
        .flat_map(|(p, pack)| {
            pack.blobs
                .iter()
                .enumerate()
                .map(move |(e, b)| (b.kind.as_u8(), b.id, p, e))
        })
        .collect();
    copies.sort_unstable();
    let mut groups: Vec<&[(u8, BlobId, usize, usize)]> = Vec::new();
    let mut start = 0;
    for i in 1..=copies.len() {
        let same = match (copies.get(i - 1), copies.get(i)) {
            (Some(a), Some(b)) => (a.0, a.1) == (b.0, b.1),
            _ => false,
        };
        if !same {
            if i - start > 1
                && let Some(group) = copies.get(start..i)
            {
                groups.push(group);
            }
            start = i;
        }
    }
    let reader = repo.pack_reader();
    let opens = |p: usize, e: usize| -> bool {
        let Some(pack) = packs.get(p) else {
            return false;
        };
        pack.blobs
            .get(e)
            .is_some_and(|b| reader.read_blob(&pack.id, &BlobRef::from(b)).is_ok())
    };
    let bad: Vec<(usize, usize)> = repo.backend().parallel(|| {
        groups
            .par_iter()
            .flat_map_iter(|group| {
                let read: Vec<(usize, usize, bool)> = group
                    .iter()
                    .map(|&(_, _, p, e)| (p, e, opens(p, e)))
                    .collect();
                let any_good = read.iter().any(|(_, _, ok)| *ok);
                read.into_iter()
                    .filter(move |(_, _, ok)| any_good && !ok)
                    .map(|(p, e, _)| (p, e))
            })
            .collect()
    });
    let bad: HashSet<(usize, usize)> = bad.into_iter().collect();
    let mut left_out = Vec::new();
    for (p, pack) in packs.iter_mut().enumerate() {
        let mut e = 0;
        pack.blobs.retain(|b| {
            e += 1;
            let keep = !bad.contains(&(p, e - 1));
            if !keep {
                left_out.push((pack.id, b.id));
            }
            keep
        });
    }
    Ok(left_out)
}

/// Options of [`repair_snapshots`].
#[derive(Clone, Debug, Default)]
pub struct RepairSnapshotsOptions {
    /// The snapshots to repair (empty: all).
    pub snapshots: Vec<SnapshotId>,
    /// Remove the damaged originals once their repaired copies are saved.
    pub forget: bool,
    /// Report what would change; write nothing.
    pub dry_run: bool,
}

/// What happened to one damaged snapshot.
#[derive(Debug)]
pub struct SnapshotRepair {
    /// The damaged snapshot.
    pub original: SnapshotId,
    /// The repaired copy (None when the root tree is lost).
    pub repaired: Option<SnapshotId>,
    /// Each changed path and what was done to it.
    pub changes: Vec<(PathBuf, String)>,
    /// Whether the original was (or would be) removed.
    pub removed: bool,
}

/// What [`repair_snapshots`] did (or would do).
#[derive(Debug, Default)]
pub struct RepairSnapshotsReport {
    /// Snapshots examined.
    pub checked: usize,
    /// Snapshots that could not be read at all (left alone).
    pub unreadable: Vec<(SnapshotId, String)>,
    /// The damaged snapshots.
    pub repaired: Vec<SnapshotRepair>,
}

/// A tree after repair: its new id (None: it could not be read) and what
/// changed below it, by path relative to it.
#[derive(Clone)]
struct Rewrite {
    id: Option<BlobId>,
    changes: Vec<(PathBuf, String)>,
}

/// The most changes listed below one tree.
const CHANGES_LISTED: usize = 1000;

struct Rewriter<'a> {
    repo: &'a Repository,
    saver: &'a BlobSaver,
    memo: HashMap<BlobId, Rewrite>,
}

impl Rewriter<'_> {
    fn rewrite(&mut self, id: &BlobId, depth: usize) -> Result<Rewrite> {
        if let Some(done) = self.memo.get(id) {
            return Ok(done.clone());
        }
        check_depth(depth)?;
        // Until it is done, a tree counts as unreadable: a hostile cycle of
        // trees then ends as an empty directory instead of recursing forever.
        self.memo.insert(
            *id,
            Rewrite {
                id: None,
                changes: Vec::new(),
            },
        );
        let tree = if self.repo.index().contains(BlobKind::Tree, id)? {
            self.repo.load_tree(id).ok()
        } else {
            None
        };
        let Some(mut tree) = tree else {
            let lost = Rewrite {
                id: None,
                changes: Vec::new(),
            };
            self.memo.insert(*id, lost.clone());
            return Ok(lost);
        };
        let mut changes = Vec::new();
        let mut changed = false;
        for node in &mut tree.nodes {
            let name = PathBuf::from(std::ffi::OsStr::from_bytes(&node.name));
            match node.kind {
                NodeKind::File => {
                    let index = self.repo.index();
                    let before = node.content.len();
                    let mut kept = Vec::with_capacity(before);
                    let mut size = 0u64;
                    for c in &node.content {
                        if let Some(at) = index.get(BlobKind::Data, c)? {
                            kept.push(*c);
                            size += u64::from(at.raw_length);
                        }
                    }
                    if kept.len() != before {
                        node.content = kept;
                        node.size = size;
                        changes.push((
                            name,
                            format!(
                                "file: removed {} lost chunk(s) of {before}; {} bytes kept",
                                before - node.content.len(),
                                node.size
                            ),
                        ));
                        changed = true;
                    }
                }
                NodeKind::Dir => {
                    let Some(sub) = node.subtree else { continue };
                    let below = self.rewrite(&sub, depth + 1)?;
                    match below.id {
                        None => {
                            let (empty, _) =
                                self.saver.save(BlobKind::Tree, Tree::default().encode())?;
                            node.subtree = Some(empty);
                            changes.push((
                                name,
                                "directory could not be read; replaced by an empty directory"
                                    .to_owned(),
                            ));
                            changed = true;
                        }
                        Some(new) => {
                            if new != sub {
                                node.subtree = Some(new);
                                changed = true;
                            }
                            changes
                                .extend(below.changes.into_iter().map(|(p, m)| (name.join(p), m)));
                        }
                    }
                }
                _ => {}
            }
        }
        if changes.len() > CHANGES_LISTED {
            // A subtree named in many places repeats its changes in each:
            // a forged tree could make the list astronomical.
            let more = changes.len() - CHANGES_LISTED;
            changes.truncate(CHANGES_LISTED);
            changes.push((
                PathBuf::from("…"),
                format!("and {more} more change(s) not listed"),
            ));
        }
        let new_id = if changed {
            self.saver.save(BlobKind::Tree, tree.encode())?.0
        } else {
            *id
        };
        let done = Rewrite {
            id: Some(new_id),
            changes,
        };
        self.memo.insert(*id, done.clone());
        Ok(done)
    }
}

/// Write repaired copies of the snapshots that reference lost data.
pub fn repair_snapshots(
    repo: &Arc<Repository>,
    options: &RepairSnapshotsOptions,
    progress: &dyn Progress,
) -> Result<RepairSnapshotsReport> {
    progress.stage("load indexes");
    let (indexed, damaged) = load_index(repo)?;
    if let Some((id, e)) = damaged.first() {
        return Err(Error::IndexDamaged(format!(
            "index file {} cannot be read ({})",
            id.short(),
            e.detail()
        )));
    }
    let (stored, _) = repo.list_packs()?;
    if let Some(missing) = indexed.keys().find(|p| !stored.contains_key(p)) {
        return Err(Error::IndexDamaged(format!(
            "it names pack {}, which is missing",
            missing.short()
        )));
    }

    progress.stage("check snapshots");
    let mut report = RepairSnapshotsReport::default();
    let ids: Vec<SnapshotId> = if options.snapshots.is_empty() {
        repo.list_ids(FileKind::Snapshot)?
            .into_iter()
            .map(SnapshotId)
            .collect()
    } else {
        options.snapshots.clone()
    };
    let mut snapshots: Vec<(SnapshotId, Snapshot)> = Vec::new();
    for id in ids {
        match repo.load_snapshot(&id) {
            Ok(s) => snapshots.push((id, s)),
            // A damaged snapshot object is a snapshot whose root is lost:
            // nothing of it can be kept, and --forget removes it.
            Err(e @ Error::Format { .. }) => report.repaired.push(SnapshotRepair {
                original: id,
                repaired: None,
                changes: vec![(
                    PathBuf::from("/"),
                    format!(
                        "the snapshot does not open ({}); nothing can be kept",
                        e.detail()
                    ),
                )],
                removed: options.forget,
            }),
            Err(e) => report.unreadable.push((id, e.detail())),
        }
    }
    snapshots.sort_by_key(|(id, s)| (s.time, *id));
    report.checked = snapshots.len();

    let saver = BlobSaver::new(repo.clone(), options.dry_run)?;
    let mut rewriter = Rewriter {
        repo,
        saver: &saver,
        memo: HashMap::new(),
    };
    let mut planned: Vec<(usize, Snapshot)> = Vec::new();
    for (id, s) in &snapshots {
        let r = rewriter.rewrite(&s.tree, 1)?;
        match r.id {
            Some(tree) if tree == s.tree => {}
            Some(tree) => {
                let mut new = s.clone();
                new.tree = tree;
                new.tags.push(REPAIRED_TAG.to_owned());
                new.tags.sort();
                new.tags.dedup();
                new.original = s.original.or(Some(*id));
                new.program_version = format!("vault {}", env!("CARGO_PKG_VERSION"));
                planned.push((report.repaired.len(), new));
                report.repaired.push(SnapshotRepair {
                    original: *id,
                    repaired: None,
                    changes: r.changes,
                    removed: options.forget,
                });
            }
            None => report.repaired.push(SnapshotRepair {
                original: *id,
                repaired: None,
                changes: vec![(
                    PathBuf::from("/"),
                    "the root tree is lost; nothing can be kept".to_owned(),
                )],
                removed: options.forget,
            }),
        }
    }
    drop(rewriter);
    let packs = saver.finish()?;
    if options.dry_run {
        return Ok(report);
    }
    if options.forget {
        repo.backend().ensure_deletable()?;
    }
    // New trees, then the index that lists them, then the snapshots that
    // need both, and only then the removal of the originals.
    progress.stage("write snapshots");
    repo.save_index(packs)?;
    for (at, new) in &planned {
        let id = repo.save_snapshot(new)?;
        if let Some(r) = report.repaired.get_mut(*at) {
            r.repaired = Some(id);
        }
    }
    if options.forget {
        for r in &report.repaired {
            repo.delete_snapshot(&r.original)?;
        }
    }
    Ok(report)
}

/// A path inside a snapshot, for messages.
pub fn snapshot_path(relative: &Path) -> PathBuf {
    Path::new("/").join(relative)
}
