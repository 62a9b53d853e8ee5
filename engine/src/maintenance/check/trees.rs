//! Check the trees: every tree reachable from a snapshot must open and
//! every blob it names must be in the index (the repository's one walk,
//! [`crate::repository::reachable::walk_trees`]); then name, for every
//! lost blob, the snapshots and paths it damages, and count the indexed
//! blobs no snapshot reaches.

use super::report::{Affected, CheckReport, Info, PATHS_PER_SNAPSHOT, Problem};
use crate::error::Result;
use crate::repository::Repository;
use crate::repository::index::{BlobSet, IndexedPack};
use crate::repository::reachable::walk_trees;
use crate::repository::reachable::{MAX_DEPTH, fold_up};
use repo_format::crypto::BlobKind;
use repo_format::snapshot::Snapshot;
use repo_format::tree::NodeKind;
use repo_format::{BlobId, PackId, SnapshotId};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

/// The trees reachable from the snapshots: each tree's subtrees, and
/// whether it references a lost blob directly; and every indexed blob
/// reached, one bit each.
pub(super) struct TreeGraph {
    pub(super) trees: HashMap<BlobId, TreeNode>,
    reached: BlobSet,
}

#[derive(Default)]
pub(super) struct TreeNode {
    subtrees: Vec<BlobId>,
    damaged_content: bool,
}

/// What loading one tree found.
#[derive(Default)]
struct TreeVisit {
    node: Option<TreeNode>,
    /// Index positions of the tree and the data it names.
    reached: Vec<usize>,
    problems: Vec<Problem>,
    missing_data: Vec<BlobId>,
}

/// Walk every tree the snapshots reach (each once); a tree or blob that
/// cannot be read becomes a finding and a lost blob.
pub(super) fn walk(
    repo: &Repository,
    snapshots: &[(SnapshotId, Snapshot)],
    report: &mut CheckReport,
    lost: &mut HashMap<BlobId, usize>,
) -> Result<TreeGraph> {
    let mut graph = TreeGraph {
        trees: HashMap::new(),
        reached: BlobSet::for_index(&repo.index()),
    };
    // Read by the visits of a level, written between levels.
    let shared = RwLock::new(std::mem::take(lost));
    let read_lost = || shared.read().unwrap_or_else(|p| p.into_inner());
    walk_trees(
        snapshots.iter().map(|(_, s)| s.tree),
        |id| visit_tree(repo, id, &read_lost()),
        |id, visit| {
            let visit = visit?;
            let mut lost = shared.write().unwrap_or_else(|p| p.into_inner());
            for problem in visit.problems {
                let at = report.findings.len();
                report.problem(problem);
                lost.entry(id).or_insert(at);
            }
            for blob in visit.missing_data {
                if let std::collections::hash_map::Entry::Vacant(slot) = lost.entry(blob) {
                    slot.insert(report.findings.len());
                    report.problem(Problem::BlobMissing {
                        kind: BlobKind::Data,
                        blob,
                    });
                }
            }
            for position in visit.reached {
                graph.reached.insert(position);
            }
            let node = visit.node.unwrap_or_default();
            let subtrees = node.subtrees.clone();
            graph.trees.insert(id, node);
            Ok(subtrees)
        },
    )?;
    *lost = shared.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(graph)
}

fn visit_tree(repo: &Repository, id: &BlobId, lost: &HashMap<BlobId, usize>) -> Result<TreeVisit> {
    let mut visit = TreeVisit::default();
    let found = repo.index().find_with_position(BlobKind::Tree, id)?;
    if let Some((position, _)) = found {
        visit.reached.push(position);
    }
    if lost.contains_key(id) {
        return Ok(visit);
    }
    let Some((_, location)) = found else {
        visit.problems.push(Problem::BlobMissing {
            kind: BlobKind::Tree,
            blob: *id,
        });
        return Ok(visit);
    };
    let tree = match repo.load_tree(id) {
        Ok(t) => t,
        Err(e) => {
            visit.problems.push(Problem::BlobDamaged {
                kind: BlobKind::Tree,
                blob: *id,
                pack: location.pack,
                message: e.detail(),
            });
            return Ok(visit);
        }
    };
    let mut node = TreeNode::default();
    let index = repo.index();
    for n in &tree.nodes {
        match n.kind {
            NodeKind::File => {
                // By the index; None once a chunk is missing.
                let mut held = Some(0u64);
                for c in &n.content {
                    let found = index.find_with_position(BlobKind::Data, c)?;
                    held = held
                        .zip(found.as_ref())
                        .map(|(sum, (_, at))| sum + u64::from(at.raw_length));
                    if let Some((position, _)) = found {
                        visit.reached.push(position);
                    }
                    if lost.contains_key(c) {
                        node.damaged_content = true;
                    } else if found.is_none() {
                        node.damaged_content = true;
                        visit.missing_data.push(*c);
                    }
                }
                if let Some(held) = held.filter(|held| *held != n.size) {
                    visit.problems.push(Problem::TreeInvalid {
                        blob: *id,
                        message: format!(
                            "file {:?} records {} bytes but its content holds {held}",
                            String::from_utf8_lossy(&n.name),
                            n.size
                        ),
                    });
                }
            }
            NodeKind::Dir => match n.subtree {
                Some(sub) => node.subtrees.push(sub),
                None => visit.problems.push(Problem::TreeInvalid {
                    blob: *id,
                    message: format!(
                        "directory {:?} has no subtree",
                        String::from_utf8_lossy(&n.name)
                    ),
                }),
            },
            _ => {}
        }
    }
    visit.node = Some(node);
    Ok(visit)
}

/// Report each snapshot whose directories nest deeper than any reader
/// follows ([`MAX_DEPTH`]): every walk refuses it, so it restores nothing.
pub(super) fn too_deep(
    snapshots: &[(SnapshotId, Snapshot)],
    graph: &TreeGraph,
    report: &mut CheckReport,
) {
    let mut depths = HashMap::new();
    for (id, snapshot) in snapshots {
        let depth = fold_up(
            &snapshot.tree,
            &mut depths,
            |tree| graph.trees.get(tree).map(|t| t.subtrees.as_slice()),
            |_, below| below.max().unwrap_or(0) + 1,
        );
        if depth.is_some_and(|d| d > MAX_DEPTH) {
            report.problem(Problem::TreeInvalid {
                blob: snapshot.tree,
                message: format!(
                    "snapshot {} nests directories more than {MAX_DEPTH} deep, deeper than any \
                     path reaches: no command follows it; `vault forget {}` removes it",
                    id.short(),
                    id.short()
                ),
            });
        }
    }
}

/// Count indexed blobs (in packs present) that no snapshot references.
pub(super) fn unused_blobs(
    repo: &Repository,
    indexed: &BTreeMap<PackId, IndexedPack>,
    stored: &BTreeMap<PackId, u64>,
    graph: &TreeGraph,
    report: &mut CheckReport,
) -> Result<()> {
    let index = repo.index();
    let mut counted = BlobSet::for_index(&index);
    let (mut count, mut bytes) = (0u64, 0u64);
    for (id, p) in indexed {
        if !stored.contains_key(id) {
            continue;
        }
        for e in &p.entries {
            let Some(position) = index.position(e.kind, &e.id)? else {
                continue;
            };
            if !graph.reached.contains(position) && counted.insert(position) {
                count += 1;
                bytes += u64::from(e.length);
            }
        }
    }
    if count > 0 {
        report.info.push(Info::UnusedBlobs { count, bytes });
    }
    Ok(())
}

/// Whether a tree (transitively) references a lost blob.
fn tainted(
    graph: &TreeGraph,
    lost: &HashMap<BlobId, usize>,
    id: &BlobId,
    memo: &mut HashMap<BlobId, bool>,
) -> bool {
    if let Some(t) = memo.get(id) {
        return *t;
    }
    // Provisionally clean: trees form a DAG, but a hostile repository
    // could hold a cycle, which must not recurse forever.
    memo.insert(*id, false);
    let t = lost.contains_key(id)
        || graph.trees.get(id).is_some_and(|node| {
            node.damaged_content || node.subtrees.iter().any(|s| tainted(graph, lost, s, memo))
        });
    memo.insert(*id, t);
    t
}

/// For every lost blob, the snapshots and paths that reference it.
pub(super) fn name_damage(
    repo: &Repository,
    snapshots: &[(SnapshotId, Snapshot)],
    graph: &TreeGraph,
    lost: &HashMap<BlobId, usize>,
    report: &mut CheckReport,
) {
    if lost.is_empty() {
        return;
    }
    let mut memo = HashMap::new();
    for (sid, s) in snapshots {
        if !tainted(graph, lost, &s.tree, &mut memo) {
            continue;
        }
        // finding index → paths in this snapshot
        let mut hits: BTreeMap<usize, (Vec<PathBuf>, usize)> = BTreeMap::new();
        let mut record = |at: usize, path: &Path| {
            let (paths, more) = hits.entry(at).or_default();
            if paths.len() < PATHS_PER_SNAPSHOT {
                paths.push(path.to_path_buf());
            } else {
                *more += 1;
            }
        };
        if let Some(at) = lost.get(&s.tree) {
            record(*at, Path::new("/"));
        } else {
            let mut stack = vec![(s.tree, PathBuf::from("/"))];
            let mut visited = HashSet::new();
            while let Some((tree, at)) = stack.pop() {
                // A hostile repository could hold a cycle of trees, whose
                // paths would grow without end.
                if at.components().count() > MAX_DEPTH || !visited.insert((tree, at.clone())) {
                    continue;
                }
                let Ok(t) = repo.load_tree(&tree) else {
                    continue;
                };
                for n in &t.nodes {
                    let path = at.join(std::ffi::OsStr::from_bytes(&n.name));
                    if n.kind == NodeKind::File {
                        let mut named = BTreeSet::new();
                        for c in &n.content {
                            if let Some(f) = lost.get(c)
                                && named.insert(*f)
                            {
                                record(*f, &path);
                            }
                        }
                    }
                    if let (NodeKind::Dir, Some(sub)) = (n.kind, n.subtree) {
                        if let Some(f) = lost.get(&sub) {
                            record(*f, &path);
                        } else if tainted(graph, lost, &sub, &mut memo) {
                            stack.push((sub, path));
                        }
                    }
                }
            }
        }
        for (at, (paths, more)) in hits {
            if let Some(f) = report.findings.get_mut(at) {
                f.affected.push(Affected {
                    snapshot: *sid,
                    paths,
                    more,
                });
            }
        }
    }
}
