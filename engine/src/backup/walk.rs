//! The file walk: directories and files beside the parent snapshot's
//! trees, in parallel; a file whose size, times and inode are unchanged
//! keeps its parent's chunks, anything else is read and chunked. Trees are
//! saved bottom-up as each directory finishes.

use super::Ctx;
use super::sources::Virtual;
use super::streams::save_stream;
use crate::backup::chunker::Chunker;
use crate::error::{Error, Result};
use crate::metadata::node_from_metadata;
use rayon::prelude::*;
use repo_format::BlobId;
use repo_format::config::ChunkerParams;
use repo_format::crypto::BlobKind;
use repo_format::tree::{Node, NodeKind, Timestamp, Tree};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

fn save_tree(ctx: &Ctx<'_>, mut nodes: Vec<Node>) -> Result<BlobId> {
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    let plain = Tree { nodes }.encode();
    let Some(record) = &ctx.record else {
        return ctx.saver.save(BlobKind::Tree, plain).map(|(id, _)| id);
    };
    let (id, _) = ctx.saver.save(BlobKind::Tree, plain.clone())?;
    record.put_tree(&id, &plain);
    Ok(id)
}

pub(super) fn find<'t>(tree: Option<&'t Tree>, name: &[u8]) -> Option<&'t Node> {
    let tree = tree?;
    tree.nodes
        .binary_search_by(|n| n.name.as_slice().cmp(name))
        .ok()
        .and_then(|i| tree.nodes.get(i))
}

pub(super) fn load_subtree(ctx: &Ctx<'_>, parent: Option<&Node>) -> Option<Tree> {
    let id = parent.filter(|p| p.kind == NodeKind::Dir)?.subtree?;
    // A parent tree that cannot be read only costs re-reading the files.
    match &ctx.record {
        Some(record) => record.load_tree(&id),
        None => ctx.repo.load_tree(&id).ok(),
    }
}

pub(super) fn save_virtual(
    ctx: &Ctx<'_>,
    children: &BTreeMap<Vec<u8>, Virtual>,
    parent: Option<&Tree>,
) -> Result<BlobId> {
    let nodes: Vec<Option<Node>> = children
        .par_iter()
        .map(|(name, child)| {
            let old = find(parent, name);
            match child {
                Virtual::Real(path) => save_entry(ctx, path, name.clone(), old, None),
                Virtual::Stream(index) => save_stream(ctx, *index, name.clone(), old),
                Virtual::Dir(None, grandchildren) => {
                    let old_tree = load_subtree(ctx, old);
                    let subtree = save_virtual(ctx, grandchildren, old_tree.as_ref())?;
                    let mut node = made_up_node(name.clone(), NodeKind::Dir);
                    node.mode = 0o755;
                    node.subtree = Some(subtree);
                    ctx.count_dir(old, &subtree);
                    Ok(Some(node))
                }
                Virtual::Dir(Some(path), grandchildren) => {
                    // A directory that leads to a source may be reached
                    // through a symlink (/proc/self, /var/run): it is stored
                    // as the directory it stands for, or nothing below it
                    // could be found again.
                    let meta = match std::fs::metadata(path) {
                        Ok(m) => m,
                        Err(e) => {
                            ctx.error(path, e.to_string());
                            return Ok(None);
                        }
                    };
                    let old_tree = load_subtree(ctx, old);
                    let subtree = save_virtual(ctx, grandchildren, old_tree.as_ref())?;
                    let mut node = node_from_metadata(name.clone(), path, &meta, &ctx.names);
                    node.kind = NodeKind::Dir;
                    node.subtree = Some(subtree);
                    keep_parent_atime(&mut node, old);
                    ctx.count_dir(old, &subtree);
                    Ok(Some(node))
                }
            }
        })
        .collect::<Result<_>>()?;
    save_tree(ctx, nodes.into_iter().flatten().collect())
}

pub(super) fn save_dir_contents(
    ctx: &Ctx<'_>,
    dir: &Path,
    parent: Option<&Tree>,
    device: Option<u64>,
) -> Result<BlobId> {
    let mut entries: Vec<(Vec<u8>, PathBuf)> = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            for entry in rd {
                match entry {
                    Ok(e) => entries.push((e.file_name().as_bytes().to_vec(), e.path())),
                    Err(e) => ctx.error(dir, e.to_string()),
                }
            }
        }
        Err(e) => ctx.error(dir, format!("cannot read directory: {e}")),
    }
    entries.sort();
    let nodes: Vec<Option<Node>> = entries
        .par_iter()
        .map(|(name, path)| save_entry(ctx, path, name.clone(), find(parent, name), device))
        .collect::<Result<_>>()?;
    save_tree(ctx, nodes.into_iter().flatten().collect())
}

/// Back up one entry; `Ok(None)` when it is excluded or unreadable.
fn save_entry(
    ctx: &Ctx<'_>,
    path: &Path,
    name: Vec<u8>,
    old: Option<&Node>,
    device: Option<u64>,
) -> Result<Option<Node>> {
    if ctx.excluded(path) || ctx.failed() {
        return Ok(None);
    }
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => {
            ctx.error(path, e.to_string());
            return Ok(None);
        }
    };
    let mut node = node_from_metadata(name, path, &meta, &ctx.names);
    let ex = &ctx.options.excludes;
    match node.kind {
        NodeKind::Dir => {
            if ex
                .exclude_if_present
                .iter()
                .any(|n| path.join(n).symlink_metadata().is_ok())
            {
                return Ok(None);
            }
            let device = device.or_else(|| ex.one_file_system.then(|| meta.dev()));
            let old_tree = load_subtree(ctx, old);
            let subtree = if device.is_some_and(|d| d != meta.dev()) {
                // Another file system: keep the mount point, not its content.
                save_tree(ctx, Vec::new())?
            } else {
                save_dir_contents(ctx, path, old_tree.as_ref(), device)?
            };
            ctx.count_dir(old, &subtree);
            node.subtree = Some(subtree);
            keep_parent_atime(&mut node, old);
        }
        NodeKind::Symlink => match std::fs::read_link(path) {
            Ok(target) => node.link_target = target.as_os_str().as_bytes().to_vec(),
            Err(e) => {
                ctx.error(path, e.to_string());
                return Ok(None);
            }
        },
        NodeKind::File => {
            if ex
                .exclude_larger_than
                .is_some_and(|limit| meta.size() > limit)
            {
                return Ok(None);
            }
            if !save_file(ctx, path, &meta, &mut node, old)? {
                return Ok(None);
            }
        }
        NodeKind::Fifo | NodeKind::CharDevice | NodeKind::BlockDevice | NodeKind::Socket => {}
    }
    if !matches!(node.kind, NodeKind::Dir | NodeKind::File) {
        // Links and special files count like files: the summary's new,
        // changed and unmodified add up to the files processed.
        let c = &ctx.counters;
        match old {
            None => c.files_new.fetch_add(1, Ordering::Relaxed),
            Some(o)
                if o.kind == node.kind
                    && o.link_target == node.link_target
                    && o.mtime == node.mtime
                    && o.mode == node.mode =>
            {
                c.files_unmodified.fetch_add(1, Ordering::Relaxed)
            }
            Some(_) => c.files_changed.fetch_add(1, Ordering::Relaxed),
        };
    }
    ctx.counters
        .files
        .fetch_add(u64::from(node.kind != NodeKind::Dir), Ordering::Relaxed);
    Ok(Some(node))
}

/// Listing a directory during the last backup changed its access time;
/// when nothing else changed, keep the parent's so the tree (and its id)
/// stays the same and an unchanged backup adds nothing.
fn keep_parent_atime(node: &mut Node, old: Option<&Node>) {
    if let Some(old) =
        old.filter(|o| o.kind == node.kind && o.mtime == node.mtime && o.ctime == node.ctime)
    {
        node.atime = old.atime;
    }
}

fn unchanged(node: &Node, old: &Node) -> bool {
    old.kind == NodeKind::File
        && old.size == node.size
        && old.mtime == node.mtime
        && old.ctime == node.ctime
        && old.inode == node.inode
}

/// Whether the index holds every chunk of `content`.
fn all_indexed(ctx: &Ctx<'_>, content: &[BlobId]) -> Result<bool> {
    let index = ctx.repo.index();
    for id in content {
        if !index.contains(BlobKind::Data, id)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Fill `node.content`; false when the file could not be read.
fn save_file(
    ctx: &Ctx<'_>,
    path: &Path,
    meta: &std::fs::Metadata,
    node: &mut Node,
    old: Option<&Node>,
) -> Result<bool> {
    let c = &ctx.counters;
    if let Some(old) = old.filter(|o| !ctx.options.force && unchanged(node, o))
        && all_indexed(ctx, &old.content)?
    {
        node.content = old.content.clone();
        // Reading during the last backup changed the access time;
        // keeping the parent's keeps the tree, and its id, unchanged.
        node.atime = old.atime;
        c.files_unmodified.fetch_add(1, Ordering::Relaxed);
        c.bytes.fetch_add(node.size, Ordering::Relaxed);
        ctx.progress.bytes_processed(node.size);
        ctx.progress.file_processed(path);
        return Ok(true);
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOATIME)
        .open(path)
        .or_else(|_| std::fs::File::open(path));
    let file = match file {
        Ok(f) => f,
        Err(e) => {
            ctx.error(path, e.to_string());
            return Ok(false);
        }
    };
    let (content, size) = match save_chunks(ctx, &file, meta.size(), &ctx.repo.config().chunker) {
        Ok(r) => r,
        Err(ChunkError::Read(e)) => {
            ctx.error(path, format!("read failed: {e}"));
            return Ok(false);
        }
        Err(ChunkError::Repo(e)) => return Err(e),
    };
    if let Ok(after) = file.metadata()
        && (after.size() != meta.size()
            || after.mtime() != meta.mtime()
            || after.mtime_nsec() != meta.mtime_nsec()
            || size != meta.size())
    {
        ctx.warn(format!(
            "{}: file changed while it was read; the snapshot holds what was read",
            path.display()
        ));
    }
    node.content = content;
    node.size = size;
    if old.is_some() {
        c.files_changed.fetch_add(1, Ordering::Relaxed);
    } else {
        c.files_new.fetch_add(1, Ordering::Relaxed);
    }
    ctx.progress.file_processed(path);
    Ok(true)
}

pub(super) enum ChunkError {
    Read(std::io::Error),
    Repo(Error),
}

pub(super) fn save_chunks(
    ctx: &Ctx<'_>,
    reader: impl Read,
    size_hint: u64,
    params: &ChunkerParams,
) -> std::result::Result<(Vec<BlobId>, u64), ChunkError> {
    let mut content = Vec::new();
    let mut size = 0u64;
    for chunk in Chunker::with_gear(reader, params, ctx.gear.clone(), size_hint) {
        let chunk = chunk.map_err(ChunkError::Read)?;
        let n = chunk.len() as u64;
        let (id, _) = ctx
            .saver
            .save(BlobKind::Data, chunk)
            .map_err(ChunkError::Repo)?;
        content.push(id);
        size += n;
        ctx.counters.bytes.fetch_add(n, Ordering::Relaxed);
        ctx.progress.bytes_processed(n);
    }
    Ok((content, size))
}

/// A node for something that is not on disk (a stream, or a directory that
/// leads only to streams): owned by this process's user, dated now.
pub(super) fn made_up_node(name: Vec<u8>, kind: NodeKind) -> Node {
    let now = Timestamp::from_datetime(&chrono::Utc::now());
    let mut node = Node::new(name, kind);
    node.uid = nix::unistd::getuid().as_raw();
    node.gid = nix::unistd::getgid().as_raw();
    node.mtime = now;
    node.atime = now;
    node.ctime = now;
    node
}
