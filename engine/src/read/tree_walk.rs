//! Navigation in a snapshot's trees: find a node by absolute path, walk a
//! subtree.

use crate::error::{Error, Result};
use crate::repository::Repository;
use repo_format::BlobId;
use repo_format::tree::{Node, NodeKind};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

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

/// Visit every node below the directory `tree` in depth-first order, with
/// its absolute path. The visitor returns whether to descend into a
/// directory.
pub fn walk(
    repo: &Repository,
    tree: &BlobId,
    at: &Path,
    visit: &mut dyn FnMut(&Path, &Node) -> Result<bool>,
) -> Result<()> {
    let tree = repo.load_tree(tree)?;
    for node in &tree.nodes {
        let path = at.join(std::ffi::OsStr::from_bytes(&node.name));
        let descend = visit(&path, node)?;
        if descend
            && node.kind == NodeKind::Dir
            && let Some(sub) = &node.subtree
        {
            walk(repo, sub, &path, visit)?;
        }
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
