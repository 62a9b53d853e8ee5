//! Navigation in a snapshot's trees: find a node by absolute path, walk a
//! subtree, and bound the entries a walk may visit.
//!
//! A tree names its subtrees by id, so one stored tree can be named in
//! many places: 49 trees, each naming the next one twice, describe 2^48
//! entries in a repository of a few hundred kilobytes. Sharing is
//! legitimate (two identical directories are one tree), so it is not
//! refused; what a walk by path may cost is. Before such a walk,
//! [`EntryCount`] sums the entries below its start from each distinct tree
//! read once (the repository's one walk, [`walk_trees`]), and a total
//! above the [`EntryLimit`] stops the command before it prints or writes
//! anything (SPEC.md §10).

use crate::error::{Error, Result};
use crate::repository::Repository;
use crate::repository::reachable::check_depth;
use crate::repository::reachable::{fold_up, walk_trees};
use repo_format::BlobId;
use repo_format::tree::{Node, NodeKind};
use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// The most entries a walk by path (`ls`, `find`, `restore`, `dump`) may
/// visit below where it starts, counting a shared subtree once per place
/// it appears.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryLimit(pub u64);

impl EntryLimit {
    /// 100 million entries: some twenty times the files of a large mail or
    /// build server, reached by a walk in minutes, and 2^48 / 100 million
    /// = 2.8 million times less than the tree bomb above describes.
    pub const DEFAULT: EntryLimit = EntryLimit(100_000_000);
}

impl Default for EntryLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Entries below trees, by tree id, each distinct tree read once however
/// many places name it; kept across calls, so that snapshots sharing
/// directories are counted at the cost of the trees they do not share.
#[derive(Debug, Default)]
pub struct EntryCount {
    /// Entries below each tree, and how deep its directories nest (1: no
    /// subdirectory).
    totals: HashMap<BlobId, (u64, usize)>,
}

impl EntryCount {
    /// The entries below `root` a walk by path visits (saturating at
    /// `u64::MAX`), and the depth of its directories. A tree that cannot
    /// be read counts as empty here: the walk that follows meets it and
    /// reports it as it always did.
    pub fn below(&mut self, repo: &Repository, root: &BlobId) -> Result<(u64, usize)> {
        // Each new tree's own entries and the subtrees it names, with
        // repetition: the multiplicity is the point.
        let mut read: HashMap<BlobId, (u64, Vec<BlobId>)> = HashMap::new();
        let totals = &self.totals;
        walk_trees(
            [*root].into_iter().filter(|r| !totals.contains_key(r)),
            |id| repo.load_tree(id),
            |id, tree| {
                let (own, subtrees) = match tree {
                    Ok(tree) => (
                        tree.nodes.len() as u64,
                        tree.nodes
                            .iter()
                            .filter(|n| n.kind == NodeKind::Dir)
                            .filter_map(|n| n.subtree)
                            .collect(),
                    ),
                    Err(_) => (0, Vec::new()),
                };
                let follow = subtrees
                    .iter()
                    .filter(|s| !totals.contains_key(*s))
                    .copied()
                    .collect();
                read.insert(id, (own, subtrees));
                Ok(follow)
            },
        )?;
        let total = fold_up(
            root,
            &mut self.totals,
            |id| read.get(id).map(|(_, subtrees)| subtrees.as_slice()),
            |id, below| {
                let own = read.get(id).map_or(0, |(own, _)| *own);
                below.fold((own, 1), |(sum, depth), (entries, deep)| {
                    (sum.saturating_add(entries), depth.max(deep + 1))
                })
            },
        );
        Ok(total.unwrap_or((0, 0)))
    }

    /// Refuse a walk below `root` that would visit more than `limit`
    /// entries or nest deeper than [`crate::repository::reachable::MAX_DEPTH`].
    pub fn check(&mut self, repo: &Repository, root: &BlobId, limit: EntryLimit) -> Result<()> {
        let (entries, depth) = self.below(repo, root)?;
        check_depth(depth)?;
        if entries > limit.0 {
            return Err(Error::TooManyEntries {
                entries,
                limit: limit.0,
            });
        }
        Ok(())
    }
}

/// A node for the snapshot's root directory.
pub fn root_node(tree: BlobId) -> Node {
    let mut n = Node::new(b"/".to_vec(), NodeKind::Dir);
    n.mode = 0o755;
    n.subtree = Some(tree);
    n
}

/// The node at `path` (absolute inside the snapshot; a relative path is
/// taken from the root).
pub fn find_node(repo: &Repository, root: BlobId, path: &str, snapshot: &str) -> Result<Node> {
    let mut node = root_node(root);
    for c in Path::new(path).components() {
        let Component::Normal(name) = c else { continue };
        let not_found = || Error::PathNotInSnapshot {
            path: path.to_owned(),
            snapshot: snapshot.to_owned(),
        };
        let subtree = node
            .subtree
            .filter(|_| node.kind == NodeKind::Dir)
            .ok_or_else(not_found)?;
        let tree = repo.load_tree(&subtree)?;
        node = tree
            .nodes
            .into_iter()
            .find(|n| n.name == name.as_bytes())
            .ok_or_else(not_found)?;
    }
    Ok(node)
}

/// A walk below a directory whose entries were counted and found within
/// the limit: made before anything is printed or written, so that a
/// refused walk does neither.
pub struct Walk<'a> {
    repo: &'a Repository,
    tree: BlobId,
}

impl<'a> Walk<'a> {
    /// Refuse a walk below `tree` of more than `limit` entries.
    pub fn new(repo: &'a Repository, tree: &BlobId, limit: EntryLimit) -> Result<Self> {
        EntryCount::default().check(repo, tree, limit)?;
        Ok(Walk { repo, tree: *tree })
    }

    /// Visit every node below the directory in depth-first order, with its
    /// absolute path (the directory's is `at`). The visitor returns whether
    /// to descend into a directory.
    pub fn run(
        &self,
        at: &Path,
        visit: &mut dyn FnMut(&Path, &Node) -> Result<bool>,
    ) -> Result<()> {
        walk_below(self.repo, &self.tree, at, visit)
    }
}

fn walk_below(
    repo: &Repository,
    tree: &BlobId,
    at: &Path,
    visit: &mut dyn FnMut(&Path, &Node) -> Result<bool>,
) -> Result<()> {
    let tree = repo.load_tree(tree)?;
    for node in &tree.nodes {
        let path = at.join(std::ffi::OsStr::from_bytes(&node.name));
        if visit(&path, node)?
            && node.kind == NodeKind::Dir
            && let Some(sub) = &node.subtree
        {
            walk_below(repo, sub, &path, visit)?;
        }
    }
    Ok(())
}

/// Visit the entries of the directory `tree` itself, with their absolute
/// paths (one tree: its size is bounded when it is decoded).
pub fn list(
    repo: &Repository,
    tree: &BlobId,
    at: &Path,
    visit: &mut dyn FnMut(&Path, &Node) -> Result<()>,
) -> Result<()> {
    for node in &repo.load_tree(tree)?.nodes {
        visit(&at.join(std::ffi::OsStr::from_bytes(&node.name)), node)?;
    }
    Ok(())
}

/// `path` joined under `target` (an absolute snapshot path becomes relative).
pub fn under(target: &Path, path: &Path) -> PathBuf {
    let mut out = target.to_path_buf();
    for c in path.components() {
        if let Component::Normal(n) = c {
            out.push(n);
        }
    }
    out
}
