//! `vault mount`: the FUSE adapter over [`engine::read::mount::SnapshotFs`], and
//! the command's life: check the mountpoint, mount, wait for SIGINT or
//! SIGTERM (or an unmount from outside), unmount.

use crate::args::{Global, MountArgs};
use crate::exit;
use anyhow::{Context, Result, bail};
use engine::read::mount::{Attr, FsError, MountOptions, SnapshotFs};
use engine::repo_format::tree::{NodeKind, Timestamp};
use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    KernelConfig, LockOwner, MountOption, OpenAccMode, OpenFlags, ReplyAttr, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, Request, SessionACL,
};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long the kernel may keep what never changes (inside a snapshot).
const TTL_IMMUTABLE: Duration = Duration::from_secs(3600);
/// How long it may keep the virtual directories, so new snapshots show.
const TTL_VIRTUAL: Duration = Duration::from_secs(1);

/// Run `mount`.
pub fn run(g: &Global, a: &MountArgs) -> Result<u8> {
    // Until the mount is made, a signal stops the command as any other
    // (engine::interrupt); once it is, signals come here, so that the
    // mount is always undone.
    let (signal_tx, signal_rx) = mpsc::channel();
    let mountpoint = check_mountpoint(&a.mountpoint)?;
    let session = super::open_with_index(g, super::Access::Read, "mount")?;
    let options = MountOptions {
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        ..MountOptions::default()
    };
    let fs = Arc::new(
        SnapshotFs::new(session.repo.clone(), options).context("while listing the snapshots")?,
    );
    let mut config = fuser::Config::default();
    config.mount_options = vec![
        MountOption::RO,
        MountOption::NoDev,
        MountOption::NoSuid,
        MountOption::DefaultPermissions,
        MountOption::FSName("vault".into()),
        MountOption::Subtype("vault".into()),
    ];
    config.acl = if a.allow_other {
        SessionACL::All
    } else {
        SessionACL::Owner
    };
    config.n_threads = Some(4);
    let background = fuser::spawn_mount(Fuse(fs.clone()), &mountpoint, &config)
        .map_err(|e| mount_error(&mountpoint, &e))?;
    let forwarding = engine::interrupt::forward_to(signal_tx);
    if !g.quiet {
        eprintln!(
            "mounted the snapshots of {} at {}; stop with Ctrl-C or 'umount {}'",
            super::repo_url(g)?,
            mountpoint.display(),
            mountpoint.display()
        );
    }
    // Until a signal, or until someone unmounts it (the session ends).
    let by_signal = loop {
        match signal_rx.recv_timeout(Duration::from_millis(200)) {
            Ok(_) => break true,
            Err(mpsc::RecvTimeoutError::Timeout) if background.guard.is_finished() => break false,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break true,
        }
    };
    let ended = if by_signal {
        background.umount_and_join()
    } else {
        background.join()
    };
    drop(forwarding);
    ended.with_context(|| format!("while unmounting {}", mountpoint.display()))?;
    if g.verbose > 0 && !g.quiet {
        let s = fs.stats();
        eprintln!(
            "mount: {} reads ({} bytes), {} blobs fetched ({} bytes), {} cache hits",
            s.reads, s.bytes_read, s.blobs_fetched, s.bytes_fetched, s.cache_hits
        );
    }
    drop(session);
    Ok(exit::OK)
}

/// The mountpoint as an absolute path, or a one-line error when it is
/// missing, not a directory, not empty or already mounted.
fn check_mountpoint(given: &Path) -> Result<PathBuf> {
    let absolute = std::path::absolute(given)
        .with_context(|| format!("invalid mountpoint {}", given.display()))?;
    if is_mounted(&absolute) {
        bail!(
            "mountpoint {} is already mounted: unmount it ('umount {}') or choose another directory",
            given.display(),
            given.display()
        );
    }
    let path = match std::fs::canonicalize(&absolute) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "mountpoint {} does not exist: create an empty directory there first",
            given.display()
        ),
        Err(e) => bail!("cannot use mountpoint {}: {e}", given.display()),
    };
    if path != absolute && is_mounted(&path) {
        bail!(
            "mountpoint {} is already mounted: unmount it ('umount {}') or choose another directory",
            given.display(),
            path.display()
        );
    }
    if !path.is_dir() {
        bail!(
            "mountpoint {} is not a directory: give an empty directory",
            given.display()
        );
    }
    let mut entries = std::fs::read_dir(&path)
        .with_context(|| format!("cannot read mountpoint {}", given.display()))?;
    if entries.next().is_some() {
        bail!(
            "mountpoint {} is not empty: give an empty directory",
            given.display()
        );
    }
    Ok(path)
}

/// Whether `path` is a mount point, by /proc/self/mountinfo.
fn is_mounted(path: &Path) -> bool {
    let Ok(info) = std::fs::read("/proc/self/mountinfo") else {
        return false;
    };
    info.split(|b| *b == b'\n').any(|line| {
        line.split(|b| *b == b' ')
            .nth(4)
            .is_some_and(|field| Path::new(OsStr::from_bytes(&unescape(field))) == path)
    })
}

/// Undo mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while let Some(&b) = field.get(i) {
        let octal = field
            .get(i + 1..i + 4)
            .filter(|d| b == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .map(|d| d.iter().fold(0u32, |n, c| n * 8 + u32::from(c - b'0')));
        match octal.and_then(|n| u8::try_from(n).ok()) {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// A mount failure as one line with what to do.
fn mount_error(mountpoint: &Path, e: &std::io::Error) -> anyhow::Error {
    let hint = if !Path::new("/dev/fuse").exists() {
        "this machine has no /dev/fuse (load the fuse module, or give the container the device)"
    } else if e.kind() == std::io::ErrorKind::NotFound {
        "install the fuse3 package (it provides fusermount3)"
    } else {
        "mounting needs root, or fusermount3 from the fuse3 package"
    };
    anyhow::anyhow!("cannot mount at {}: {e}; {hint}", mountpoint.display())
}

/// The FUSE adapter: kernel requests to [`SnapshotFs`] calls.
struct Fuse(Arc<SnapshotFs>);

fn errno(e: &FsError) -> Errno {
    match e {
        FsError::NotFound => Errno::ENOENT,
        FsError::NotDirectory => Errno::ENOTDIR,
        FsError::NotSymlink => Errno::EINVAL,
        FsError::NotFile => Errno::EISDIR,
        FsError::BadHandle => Errno::EBADF,
        FsError::Repository(_) => {
            // The reader sees EIO; the mounting terminal sees why.
            eprintln!("vault: warning: {e}");
            Errno::EIO
        }
    }
}

fn system_time(t: &Timestamp) -> SystemTime {
    let nanos = Duration::from_nanos(u64::from(t.nanos));
    match u64::try_from(t.secs) {
        Ok(secs) => UNIX_EPOCH + Duration::from_secs(secs) + nanos,
        Err(_) => UNIX_EPOCH
            .checked_sub(Duration::from_secs(t.secs.unsigned_abs()))
            .map_or(UNIX_EPOCH, |t| t + nanos),
    }
}

fn file_type(kind: NodeKind) -> FileType {
    match kind {
        NodeKind::File => FileType::RegularFile,
        NodeKind::Dir => FileType::Directory,
        NodeKind::Symlink => FileType::Symlink,
        NodeKind::Fifo => FileType::NamedPipe,
        NodeKind::CharDevice => FileType::CharDevice,
        NodeKind::BlockDevice => FileType::BlockDevice,
        NodeKind::Socket => FileType::Socket,
    }
}

fn file_attr(a: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.size.div_ceil(512),
        atime: system_time(&a.atime),
        mtime: system_time(&a.mtime),
        ctime: system_time(&a.ctime),
        crtime: system_time(&a.mtime),
        kind: file_type(a.kind),
        perm: (a.mode & 0o7777) as u16,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: u32::try_from(a.rdev).unwrap_or(0),
        blksize: 4096,
        flags: 0,
    }
}

fn ttl(a: &Attr) -> &'static Duration {
    if a.immutable {
        &TTL_IMMUTABLE
    } else {
        &TTL_VIRTUAL
    }
}

impl Filesystem for Fuse {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Larger read-ahead: a blob is ~1 MiB, and each request costs a
        // round trip through the kernel. The kernel may grant less.
        let _ = config.set_max_readahead(1 << 20);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.0.lookup(parent.0, name.as_bytes()) {
            Ok(a) => reply.entry(ttl(&a), &file_attr(&a), Generation(0)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.0.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.0.getattr(ino.0) {
            Ok(a) => reply.attr(ttl(&a), &file_attr(&a)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.0.readlink(ino.0) {
            Ok(target) => reply.data(&target),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if flags.acc_mode() != OpenAccMode::O_RDONLY {
            reply.error(Errno::EROFS);
            return;
        }
        match self.0.open(ino.0) {
            // Snapshot content never changes: the page cache may keep it.
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.0.read(fh.0, offset, size) {
            Ok(data) => reply.data(&data),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.0.release(fh.0);
        reply.ok();
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.0.opendir(ino.0) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let entries = match self.0.entries(fh.0) {
            Ok(entries) => entries,
            Err(e) => return reply.error(errno(&e)),
        };
        // The offset of an entry is its position + 1: where the next call
        // starts.
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        for (i, entry) in entries.iter().enumerate().skip(start) {
            let name = OsStr::from_bytes(&entry.name);
            if reply.add(
                INodeNo(entry.ino),
                i as u64 + 1,
                file_type(entry.kind),
                name,
            ) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.0.release(fh.0);
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        reply.statfs(0, 0, 0, 0, 0, 4096, 255, 4096);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_decodes_mountinfo_octal_escapes() {
        assert_eq!(unescape(br"/tmp/a\040b"), b"/tmp/a b");
        assert_eq!(unescape(br"/x\134y"), br"/x\y");
        assert_eq!(unescape(br"/plain\09"), br"/plain\09");
        assert_eq!(unescape(b"/end\\"), b"/end\\");
    }
}
