//! What snapshots reach: the one walk over the tree graph, and the set of
//! blobs it reaches.
//!
//! [`walk_trees`] visits every distinct tree reachable from some roots
//! exactly once, a level at a time: the trees of a level are read and
//! inspected in parallel, a batch at a time (which bounds the decoded
//! trees in memory), then merged one by one by the caller, who says which
//! subtrees to follow. Every command that asks "what do these snapshots
//! reach" walks this way: prune and check ([`reachable`]), `stats`, and
//! `copy` (which stops where the destination has a tree already). Commands
//! that need paths (`find`, `diff`, `ls`, `restore`) walk by path instead.
//!
//! The walk never recurses, so a hostile repository whose trees form a
//! cycle ends the walk instead of the process: a tree is read once.

use super::Repository;
use super::index::{BlobSet, Index};
use crate::error::{Error, Result};
use rayon::prelude::*;
use repo_format::BlobId;
use repo_format::crypto::BlobKind;
use repo_format::tree::Tree;
use std::collections::{HashMap, HashSet};

/// The deepest nesting of directories any reader follows. Linux paths are
/// at most 4096 bytes (`PATH_MAX`), so no path a backup reads has more
/// than 2048 components; a snapshot nesting deeper was forged, and each
/// level deeper is another frame of a recursive walk, which a chain of
/// 100,000 trees overflowed (SPEC.md §10).
pub const MAX_DEPTH: usize = 2048;

/// Refuse to go below `depth` levels of directories.
pub fn check_depth(depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::TooDeep { limit: MAX_DEPTH });
    }
    Ok(())
}

/// Compute a value for `root` and every tree below it from the values of
/// its subtrees, children before parents, each tree once (`memo` keeps
/// the values, across calls too). Without recursion: a chain of 100,000
/// directories must not exhaust the stack. `subtrees` gives a tree's
/// subtrees, None for a tree not known (which gets no value and is left
/// out of its parent's).
pub fn fold_up<'a, T: Copy>(
    root: &BlobId,
    memo: &mut HashMap<BlobId, T>,
    subtrees: impl Fn(&BlobId) -> Option<&'a [BlobId]>,
    value: impl Fn(&BlobId, &mut dyn Iterator<Item = T>) -> T,
) -> Option<T> {
    let mut stack = vec![(*root, false)];
    while let Some((id, children_done)) = stack.pop() {
        if memo.contains_key(&id) {
            continue;
        }
        let Some(below) = subtrees(&id) else {
            continue;
        };
        if children_done {
            let done = value(&id, &mut below.iter().filter_map(|s| memo.get(s).copied()));
            memo.insert(id, done);
            continue;
        }
        stack.push((id, true));
        // A tree cannot name itself (its id is the hash of its content),
        // so every child here is finished before its parent.
        stack.extend(
            below
                .iter()
                .filter(|s| !memo.contains_key(*s))
                .map(|s| (*s, false)),
        );
    }
    memo.get(root).copied()
}

/// Trees read and inspected at once (bounds decoded trees in memory).
pub const TREE_BATCH: usize = 256;

/// Visit every distinct tree reachable from `roots` once. `inspect` runs
/// in parallel on each tree id (it reads the tree and makes of it what
/// the caller needs); `merge` then takes each result in turn and returns
/// the subtrees to follow (trees already visited are skipped whatever it
/// says). An `Err` from `merge` ends the walk.
pub fn walk_trees<T: Send>(
    roots: impl IntoIterator<Item = BlobId>,
    inspect: impl Fn(&BlobId) -> T + Sync,
    mut merge: impl FnMut(BlobId, T) -> Result<Vec<BlobId>>,
) -> Result<()> {
    let mut seen: HashSet<BlobId> = HashSet::new();
    let mut frontier: Vec<BlobId> = roots.into_iter().filter(|r| seen.insert(*r)).collect();
    frontier.sort_unstable();
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for batch in frontier.chunks(TREE_BATCH) {
            let results: Vec<T> = batch.par_iter().map(&inspect).collect();
            for (id, result) in batch.iter().zip(results) {
                for sub in merge(*id, result)? {
                    if seen.insert(sub) {
                        next.push(sub);
                    }
                }
            }
        }
        next.sort_unstable();
        frontier = next;
    }
    Ok(())
}

/// The subtrees a tree names.
pub fn subtrees(tree: &Tree) -> Vec<BlobId> {
    tree.nodes.iter().filter_map(|n| n.subtree).collect()
}

/// What some snapshots reach.
#[derive(Debug, Default)]
pub struct Reached {
    /// Every reached blob the index holds (trees and data).
    pub blobs: BlobSet,
    /// Reached blobs the index does not hold, each once: lost data, or
    /// (for prune) blobs still in packs a prune condemned.
    pub missing: Vec<(BlobKind, BlobId)>,
    /// Distinct trees reached.
    pub trees: u64,
}

impl Reached {
    fn insert(
        &mut self,
        index: &Index,
        kind: BlobKind,
        id: BlobId,
        missing: &mut HashSet<(BlobKind, BlobId)>,
    ) -> Result<()> {
        match index.position(kind, &id)? {
            Some(position) => {
                self.blobs.insert(position);
            }
            None => {
                if missing.insert((kind, id)) {
                    self.missing.push((kind, id));
                }
            }
        }
        Ok(())
    }
}

/// Every blob reachable from `roots`: the trees and the data they name,
/// as positions in `repo`'s index. Trees are read with `read_tree` (the
/// repository's [`Repository::load_tree`], or prune's, which also looks
/// in condemned packs); one that cannot be read fails the walk.
pub fn reachable(
    repo: &Repository,
    roots: &[BlobId],
    read_tree: impl Fn(&BlobId) -> Result<Tree> + Sync,
) -> Result<Reached> {
    let index = repo.index();
    let mut reached = Reached {
        blobs: BlobSet::for_index(&index),
        ..Reached::default()
    };
    let mut missing = HashSet::new();
    walk_trees(roots.iter().copied(), &read_tree, |id, tree| {
        let tree = tree?;
        reached.trees += 1;
        reached.insert(&index, BlobKind::Tree, id, &mut missing)?;
        for node in &tree.nodes {
            for chunk in &node.content {
                reached.insert(&index, BlobKind::Data, *chunk, &mut missing)?;
            }
        }
        Ok(subtrees(&tree))
    })?;
    Ok(reached)
}

impl Repository {
    /// Every blob reachable from `roots` (see [`reachable`]); a tree the
    /// index lacks is [`Error::BlobNotIndexed`].
    pub fn reachable(&self, roots: &[BlobId]) -> Result<Reached> {
        reachable(self, roots, |id| self.load_tree(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use repo_format::Id;
    use repo_format::tree::{Node, NodeKind};
    use std::collections::HashMap;

    fn id(b: u8) -> BlobId {
        BlobId(Id([b; 32]))
    }

    fn dir(name: &str, sub: u8) -> Node {
        let mut n = Node::new(name.as_bytes().to_vec(), NodeKind::Dir);
        n.subtree = Some(id(sub));
        n
    }

    #[test]
    fn walk_visits_each_tree_once_even_in_a_cycle() {
        // 1 → {2, 3}; 2 → 3; 3 → 1 (a cycle a hostile repository could hold).
        let trees: HashMap<BlobId, Tree> = [
            (1, vec![dir("a", 2), dir("b", 3)]),
            (2, vec![dir("c", 3)]),
            (3, vec![dir("d", 1)]),
        ]
        .into_iter()
        .map(|(i, nodes)| (id(i), Tree { nodes }))
        .collect();
        let mut visited = Vec::new();
        walk_trees(
            [id(1), id(1)],
            |t| trees.get(t).cloned().ok_or(Error::Internal("no tree")),
            |t, tree| {
                visited.push(t);
                Ok(subtrees(&tree?))
            },
        )
        .unwrap();
        assert_eq!(visited, [id(1), id(2), id(3)]);
        // A tree that cannot be read ends the walk with its error.
        let err = walk_trees(
            [id(9)],
            |_| Err::<Tree, _>(Error::BlobNotIndexed("9".into())),
            |_, tree| tree.map(|t| subtrees(&t)),
        );
        assert!(matches!(err, Err(Error::BlobNotIndexed(_))));
    }
}
