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

/// What [`apply`] sets the metadata of: an open file or directory, or an
/// entry (a symlink, fifo or device) by its name in an open directory.
/// Never a path: a path could lead through a symlink out of the target.
pub enum Handle<'a> {
    /// An open regular file or directory.
    Open(&'a std::fs::File),
    /// The entry `name` of the directory `dir`, not following a link.
    At(std::os::fd::BorrowedFd<'a>, &'a std::ffi::OsStr),
}

/// Apply owner (when root), mode, extended attributes and times of `node` to
/// `handle`, in that order: owner first because changing it clears set-id
/// bits, times last so that nothing after them changes mtime. `shown` names
/// it in errors.
pub fn apply(handle: Handle<'_>, shown: &Path, node: &Node, is_root: bool) -> Result<()> {
    use nix::fcntl::AtFlags;
    use nix::sys::stat::{FchmodatFlags, Mode, UtimensatFlags};
    use nix::sys::time::TimeSpec;
    let uid = Some(nix::unistd::Uid::from_raw(node.uid));
    let gid = Some(nix::unistd::Gid::from_raw(node.gid));
    let mode = Mode::from_bits_truncate(node.mode & 0o7777);
    let atime = TimeSpec::new(node.atime.secs, i64::from(node.atime.nanos));
    let mtime = TimeSpec::new(node.mtime.secs, i64::from(node.mtime.nanos));
    let io = |what: &'static str| move |e: nix::Error| Error::io(what, shown, e.into());
    match handle {
        Handle::Open(file) => {
            if is_root {
                nix::unistd::fchown(file, uid, gid).map_err(io("set owner of"))?;
            }
            nix::sys::stat::fchmod(file, mode).map_err(io("set mode of"))?;
            for x in &node.xattrs {
                // A target file system without xattr support is not an error
                // worth failing a restore for; the content is what matters.
                let _ =
                    xattr::FileExt::set_xattr(file, std::ffi::OsStr::from_bytes(&x.name), &x.value);
            }
            nix::sys::stat::futimens(file, &atime, &mtime).map_err(io("set times of"))
        }
        Handle::At(dir, name) => {
            if is_root {
                nix::unistd::fchownat(dir, name, uid, gid, AtFlags::AT_SYMLINK_NOFOLLOW)
                    .map_err(io("set owner of"))?;
            }
            if node.kind != NodeKind::Symlink {
                nix::sys::stat::fchmodat(dir, name, mode, FchmodatFlags::NoFollowSymlink)
                    .map_err(io("set mode of"))?;
            }
            if !node.xattrs.is_empty() {
                // By the directory handle's name in /proc: the kernel takes
                // the handle's directory, and xattr::set does not follow a
                // link at the end.
                let path = Path::new("/proc/self/fd")
                    .join(std::os::fd::AsRawFd::as_raw_fd(&dir).to_string())
                    .join(name);
                for x in &node.xattrs {
                    let _ = xattr::set(&path, std::ffi::OsStr::from_bytes(&x.name), &x.value);
                }
            }
            nix::sys::stat::utimensat(dir, name, &atime, &mtime, UtimensatFlags::NoFollowSymlink)
                .map_err(io("set times of"))
        }
    }
}
