//! Tree nodes from file metadata (backup) and metadata from tree nodes
//! (restore).

use crate::error::{Error, Result};
use repo_format::tree::{ExtendedAttribute, Node, NodeKind, Timestamp};
use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::sync::Mutex;

/// Caches uid → user name and gid → group name.
#[derive(Default)]
pub struct OwnerNames {
    users: Mutex<HashMap<u32, String>>,
    groups: Mutex<HashMap<u32, String>>,
}

impl OwnerNames {
    fn user(&self, uid: u32) -> String {
        cached(&self.users, uid, |id| {
            nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(id))
                .ok()
                .flatten()
                .map(|u| u.name)
        })
    }

    fn group(&self, gid: u32) -> String {
        cached(&self.groups, gid, |id| {
            nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(id))
                .ok()
                .flatten()
                .map(|g| g.name)
        })
    }
}

/// The name for `id`, looked up once; empty when there is none.
fn cached(
    map: &Mutex<HashMap<u32, String>>,
    id: u32,
    lookup: impl FnOnce(u32) -> Option<String>,
) -> String {
    let Ok(mut map) = map.lock() else {
        return String::new();
    };
    map.entry(id)
        .or_insert_with(|| lookup(id).unwrap_or_default())
        .clone()
}

/// The kind of a file from its metadata.
pub fn kind_of(meta: &Metadata) -> NodeKind {
    let t = meta.file_type();
    if t.is_dir() {
        NodeKind::Dir
    } else if t.is_symlink() {
        NodeKind::Symlink
    } else if t.is_fifo() {
        NodeKind::Fifo
    } else if t.is_char_device() {
        NodeKind::CharDevice
    } else if t.is_block_device() {
        NodeKind::BlockDevice
    } else if t.is_socket() {
        NodeKind::Socket
    } else {
        NodeKind::File
    }
}

fn ts(secs: i64, nanos: i64) -> Timestamp {
    Timestamp {
        secs,
        nanos: u32::try_from(nanos).unwrap_or(0),
    }
}

/// A node for the entry at `path` with metadata `meta` (content, subtree and
/// link target are filled by the caller).
pub fn node_from_metadata(name: Vec<u8>, path: &Path, meta: &Metadata, names: &OwnerNames) -> Node {
    let mut node = Node::new(name, kind_of(meta));
    node.mode = meta.mode() & 0o7777;
    node.uid = meta.uid();
    node.gid = meta.gid();
    node.user = names.user(node.uid);
    node.group = names.group(node.gid);
    node.mtime = ts(meta.mtime(), meta.mtime_nsec());
    node.atime = ts(meta.atime(), meta.atime_nsec());
    node.ctime = ts(meta.ctime(), meta.ctime_nsec());
    node.size = if node.kind == NodeKind::File {
        meta.size()
    } else {
        0
    };
    node.inode = meta.ino();
    node.device_id = meta.dev();
    node.links = meta.nlink();
    node.rdev = meta.rdev();
    node.xattrs = read_xattrs(path);
    node
}

/// Extended attributes of `path` (not following symlinks); none where the
/// file system has none or refuses.
pub fn read_xattrs(path: &Path) -> Vec<ExtendedAttribute> {
    let Ok(names) = xattr::list(path) else {
        return Vec::new();
    };
    let mut out: Vec<ExtendedAttribute> = names
        .filter_map(|n| {
            let value = xattr::get(path, &n).ok().flatten()?;
            Some(ExtendedAttribute {
                name: n.as_bytes().to_vec(),
                value,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Apply owner (when root), mode, extended attributes and times of `node` to
/// `path`. Times go last so that nothing after them changes mtime.
pub fn apply(path: &Path, node: &Node, is_root: bool) -> Result<()> {
    let symlink = node.kind == NodeKind::Symlink;
    if is_root {
        std::os::unix::fs::lchown(path, Some(node.uid), Some(node.gid))
            .map_err(|e| Error::io("set owner of", path, e))?;
    }
    if !symlink {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(node.mode))
            .map_err(|e| Error::io("set mode of", path, e))?;
    }
    for x in &node.xattrs {
        let name = std::ffi::OsStr::from_bytes(&x.name);
        // A target file system without xattr support is not an error worth
        // failing a restore for; the content is what matters.
        let _ = xattr::set(path, name, &x.value);
    }
    let mtime = filetime::FileTime::from_unix_time(node.mtime.secs, node.mtime.nanos);
    let atime = filetime::FileTime::from_unix_time(node.atime.secs, node.atime.nanos);
    filetime::set_symlink_file_times(path, atime, mtime)
        .map_err(|e| Error::io("set times of", path, e))
}
