//! `dump`: one file's content, or a directory as a tar stream.

use crate::error::{Error, Result};
use crate::read::tree_walk::{EntryLimit, Walk};
use crate::repository::Repository;
use crate::repository::pack_reader::ContentReader;
use repo_format::tree::{Node, NodeKind};
use std::io::Write;
use std::path::Path;

/// Write the content of `node` (a file) or a tar of it (a directory) to `out`;
/// a directory with more entries below it than `limit` is refused before
/// the first byte.
pub fn dump(
    repo: &Repository,
    node: &Node,
    name: &Path,
    limit: EntryLimit,
    out: &mut dyn Write,
) -> Result<()> {
    match node.kind {
        NodeKind::File => {
            let mut reader = ContentReader::new(repo, &node.content);
            std::io::copy(&mut reader, out).map_err(|e| Error::io("dump", name, e))?;
            Ok(())
        }
        NodeKind::Dir => {
            let walk = node
                .subtree
                .map(|sub| Walk::new(repo, &sub, limit))
                .transpose()?;
            let mut tar = tar::Builder::new(out);
            tar.follow_symlinks(false);
            let base = Path::new(name.file_name().unwrap_or(std::ffi::OsStr::new(".")));
            append(repo, &mut tar, node, base)?;
            if let Some(walk) = walk {
                walk.run(Path::new("/"), &mut |path, child| {
                    let rel = base.join(path.strip_prefix("/").unwrap_or(path));
                    append(repo, &mut tar, child, &rel)?;
                    Ok(true)
                })?;
            }
            tar.finish().map_err(|e| Error::io("write tar", name, e))
        }
        _ => Err(Error::InvalidArgument {
            what: "path",
            detail: format!("{} is not a file or directory", name.display()),
        }),
    }
}

fn append(
    repo: &Repository,
    tar: &mut tar::Builder<&mut dyn Write>,
    node: &Node,
    path: &Path,
) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_mode(node.mode);
    header.set_uid(u64::from(node.uid));
    header.set_gid(u64::from(node.gid));
    let _ = header.set_username(&node.user);
    let _ = header.set_groupname(&node.group);
    header.set_mtime(u64::try_from(node.mtime.secs).unwrap_or(0));
    let io = |e| Error::io("write tar entry", path, e);
    match node.kind {
        NodeKind::File => {
            repo.check_content_size(node, path)?;
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(node.size);
            let reader = ContentReader::new(repo, &node.content);
            tar.append_data(&mut header, path, reader).map_err(io)
        }
        NodeKind::Dir => {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            tar.append_data(&mut header, path, std::io::empty())
                .map_err(io)
        }
        NodeKind::Symlink => {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            let target =
                <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&node.link_target);
            tar.append_link(&mut header, path, std::path::Path::new(target))
                .map_err(io)
        }
        // Fifos, devices and sockets have no content; tar readers expect
        // only the regular kinds here.
        _ => Ok(()),
    }
}
