//! Files below one directory, named so that the kernel never resolves a
//! symlink on the way: what restore writes stays inside its target by
//! construction (SPEC §7.2), whatever a snapshot holds and whatever links
//! the target already has.
//!
//! The directory is opened once ([`Beneath::open`]); every other path is
//! relative to that handle. A path is opened with `openat2(2)` and
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` in one call; where the kernel or
//! a seccomp filter refuses `openat2`, one component at a time with
//! `O_NOFOLLOW`. Entries are then made, removed, linked and stat'ed with
//! the `*at` calls relative to their parent's handle, by one name that
//! holds no `/`. A symlink on the way fails the call with
//! [`is_symlink_on_the_way`]; it is never followed.

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2, renameat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat, mkdirat};
use nix::unistd::{UnlinkatFlags, unlinkat};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Mode of the files vault creates below the directory before their own
/// mode is applied: owner only.
pub const NEW_FILE_MODE: u32 = 0o600;
/// Mode of the directories vault creates, the same way.
pub const NEW_DIR_MODE: u32 = 0o700;

/// A directory handle and the paths below it.
#[derive(Debug)]
pub struct Beneath {
    root: OwnedFd,
    display: PathBuf,
    /// Cleared once `openat2` is refused (kernel before 5.6, seccomp).
    openat2: AtomicBool,
}

/// The kind of an existing entry, by `lstat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
    /// Anything else: fifo, socket, device.
    Other,
}

/// What `lstat` says of an existing entry.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// Its kind.
    pub kind: Kind,
    /// Its size in bytes.
    pub size: u64,
    /// Its modification time: seconds and nanoseconds.
    pub mtime: (i64, i64),
}

impl Entry {
    fn of(st: &FileStat) -> Entry {
        let kind = match SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT {
            SFlag::S_IFDIR => Kind::Dir,
            SFlag::S_IFREG => Kind::File,
            SFlag::S_IFLNK => Kind::Symlink,
            _ => Kind::Other,
        };
        Entry {
            kind,
            size: u64::try_from(st.st_size).unwrap_or(0),
            mtime: (st.st_mtime, st.st_mtime_nsec),
        }
    }
}

/// Whether `e` says that a symlink (or a non-directory) stood where a
/// directory was to be walked through.
pub fn is_symlink_on_the_way(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Other && e.to_string().starts_with(ON_THE_WAY)
}

const ON_THE_WAY: &str = "a symbolic link or a non-directory is on its path in the target";

fn on_the_way() -> io::Error {
    io::Error::other(format!("{ON_THE_WAY}; it is not followed"))
}

/// An errno as an `io::Error`, with the refusals of a link on the way
/// named as such.
fn refused(e: Errno) -> io::Error {
    match e {
        // ELOOP: a symlink with O_NOFOLLOW or RESOLVE_NO_SYMLINKS; EXDEV:
        // RESOLVE_BENEATH; ENOTDIR: O_DIRECTORY met a link or a file.
        Errno::ELOOP | Errno::EXDEV | Errno::ENOTDIR => on_the_way(),
        e => io::Error::from(e),
    }
}

/// The components of `rel`, which must be relative and plain (no `..`,
/// no root): the callers build it from validated tree names.
fn names(rel: &Path) -> io::Result<Vec<&OsStr>> {
    rel.components()
        .filter(|c| *c != Component::CurDir)
        .map(|c| match c {
            Component::Normal(n) => Ok(n),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a plain relative path", rel.display()),
            )),
        })
        .collect()
}

impl Beneath {
    /// Open the directory `dir` (a symlink the caller names is followed:
    /// it is the caller's choice, not the data's).
    pub fn open(dir: &Path) -> io::Result<Beneath> {
        let root = nix::fcntl::open(
            dir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(io::Error::from)?;
        Ok(Beneath {
            root,
            display: dir.to_path_buf(),
            openat2: AtomicBool::new(true),
        })
    }

    /// `rel` below the directory, for messages only: never opened by name.
    pub fn display(&self, rel: &Path) -> PathBuf {
        self.display.join(rel)
    }

    /// Open `rel` with `flags` (plus `O_NOFOLLOW | O_CLOEXEC`), following no
    /// symlink on the way or at the end.
    fn resolve(&self, rel: &Path, flags: OFlag, mode: Mode) -> io::Result<OwnedFd> {
        let names = names(rel)?;
        let flags = flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        if names.is_empty() {
            return openat(&self.root, ".", flags, mode).map_err(refused);
        }
        if self.openat2.load(Ordering::Relaxed) {
            let how = OpenHow::new().flags(flags).mode(mode).resolve(
                ResolveFlag::RESOLVE_BENEATH
                    | ResolveFlag::RESOLVE_NO_SYMLINKS
                    | ResolveFlag::RESOLVE_NO_MAGICLINKS,
            );
            let joined: PathBuf = names.iter().collect();
            // EAGAIN: a rename elsewhere raced the lookup; try again, then
            // take the slow path.
            for _ in 0..3 {
                match openat2(&self.root, &joined, how) {
                    Ok(fd) => return Ok(fd),
                    Err(Errno::EAGAIN) => continue,
                    Err(Errno::ENOSYS | Errno::EPERM) => {
                        self.openat2.store(false, Ordering::Relaxed);
                        break;
                    }
                    Err(e) => return Err(refused(e)),
                }
            }
        }
        self.walk(&names, flags, mode)
    }

    /// [`Beneath::resolve`] one component at a time.
    fn walk(&self, names: &[&OsStr], flags: OFlag, mode: Mode) -> io::Result<OwnedFd> {
        let Some((last, dirs)) = names.split_last() else {
            return openat(&self.root, ".", flags, mode).map_err(refused);
        };
        let mut dir: Option<OwnedFd> = None;
        for name in dirs {
            let at = dir.as_ref().map_or(self.root.as_fd(), AsFd::as_fd);
            let next = openat(
                at,
                *name,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(refused)?;
            dir = Some(next);
        }
        let at = dir.as_ref().map_or(self.root.as_fd(), AsFd::as_fd);
        openat(at, *last, flags, mode).map_err(refused)
    }

    /// The directory `rel` (a path handle: good for the `*at` calls).
    fn dir(&self, rel: &Path) -> io::Result<OwnedFd> {
        self.resolve(rel, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty())
    }

    /// The parent directory of `rel` and `rel`'s last name.
    pub fn parent<'a>(&self, rel: &'a Path) -> io::Result<(OwnedFd, &'a OsStr)> {
        let name = rel.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} has no name", rel.display()),
            )
        })?;
        let parent = self.dir(rel.parent().unwrap_or(Path::new("")))?;
        Ok((parent, name))
    }

    /// What is at `rel` (not following a link there), or `None`.
    pub fn stat(&self, rel: &Path) -> io::Result<Option<Entry>> {
        let (parent, name) = match self.parent(rel) {
            Ok(p) => p,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        match fstatat(&parent, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(Entry::of(&st))),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(refused(e)),
        }
    }

    /// Make the directory `rel` (owner only) unless one is there. Whatever
    /// else is there is replaced when `replace`, else refused with an
    /// error that names it. Returns whether it made one.
    pub fn make_dir(&self, rel: &Path, replace: bool) -> io::Result<bool> {
        let (parent, name) = self.parent(rel)?;
        let mode = Mode::from_bits_truncate(NEW_DIR_MODE);
        match mkdirat(&parent, name, mode) {
            Ok(()) => return Ok(true),
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(refused(e)),
        }
        let st =
            fstatat(&parent, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).map_err(refused)?;
        let existing = Entry::of(&st).kind;
        if existing == Kind::Dir {
            return Ok(false);
        }
        if !replace {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists in the target as {}; kept, and nothing is restored below it",
                    self.display(rel).display(),
                    describe(existing)
                ),
            ));
        }
        unlinkat(&parent, name, UnlinkatFlags::NoRemoveDir).map_err(refused)?;
        mkdirat(&parent, name, mode).map_err(refused)?;
        Ok(true)
    }

    /// Make every directory of `rel` that is missing (owner only); a
    /// non-directory on the way is replaced when `replace`.
    pub fn make_dirs(&self, rel: &Path, replace: bool) -> io::Result<()> {
        let mut at = PathBuf::new();
        for name in names(rel)? {
            at.push(name);
            self.make_dir(&at, replace)?;
        }
        Ok(())
    }

    /// Open the regular file `rel` for writing, creating it owner-only.
    pub fn write_file(&self, rel: &Path) -> io::Result<File> {
        self.resolve(
            rel,
            OFlag::O_WRONLY | OFlag::O_CREAT,
            Mode::from_bits_truncate(NEW_FILE_MODE),
        )
        .map(File::from)
    }

    /// Open `rel` for reading (a link there is refused).
    pub fn read_file(&self, rel: &Path) -> io::Result<File> {
        self.resolve(rel, OFlag::O_RDONLY, Mode::empty())
            .map(File::from)
    }

    /// Open the directory `rel` for reading (for `fchmod` and friends).
    pub fn read_dir(&self, rel: &Path) -> io::Result<File> {
        self.resolve(rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty())
            .map(File::from)
    }

    /// The directory `rel` as a handle of its own, reached as every other
    /// path is (no link followed).
    pub fn below(&self, rel: &Path) -> io::Result<Beneath> {
        let root = self.resolve(rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty())?;
        Ok(Beneath {
            root,
            display: self.display(rel),
            openat2: AtomicBool::new(self.openat2.load(Ordering::Relaxed)),
        })
    }

    /// The owner (uid) and permission bits of the directory itself.
    pub fn owner_and_mode(&self) -> io::Result<(u32, u32)> {
        let st = fstat(&self.root).map_err(io::Error::from)?;
        Ok((st.st_uid, st.st_mode & 0o7777))
    }

    /// Create the regular file `rel` (owner-only), failing if anything,
    /// a link included, is there.
    pub fn create_new(&self, rel: &Path) -> io::Result<File> {
        self.resolve(
            rel,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
            Mode::from_bits_truncate(NEW_FILE_MODE),
        )
        .map(File::from)
    }

    /// Rename `from` to `to`, replacing what `to` names (not following it).
    pub fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from_dir, from_name) = self.parent(from)?;
        let (to_dir, to_name) = self.parent(to)?;
        renameat(&from_dir, from_name, &to_dir, to_name).map_err(refused)
    }

    /// The names in the directory `rel` (without `.` and `..`).
    pub fn names(&self, rel: &Path) -> io::Result<Vec<OsString>> {
        children(self.resolve(rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty())?)
    }

    /// Remove whatever is at `rel`: a directory with everything below it
    /// (links below it are removed, not followed). Nothing there is fine.
    pub fn remove(&self, rel: &Path) -> io::Result<()> {
        let (parent, name) = match self.parent(rel) {
            Ok(p) => p,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        remove_all(parent.as_fd(), name)
    }
}

fn describe(kind: Kind) -> &'static str {
    match kind {
        Kind::Dir => "a directory",
        Kind::File => "a file",
        Kind::Symlink => "a symbolic link",
        Kind::Other => "a special file",
    }
}

/// Remove `name` in `parent`, and below it when it is a directory.
fn remove_all(parent: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    match unlinkat(parent, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => return Ok(()),
        Err(Errno::EISDIR | Errno::EPERM) => {}
        Err(e) => return Err(e.into()),
    }
    let fd = match openat(
        parent,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(refused(e)),
    };
    for child in &children(fd.try_clone()?)? {
        remove_all(fd.as_fd(), child)?;
    }
    match unlinkat(parent, name, UnlinkatFlags::RemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The names in the open directory `fd` (without `.` and `..`).
fn children(fd: OwnedFd) -> io::Result<Vec<OsString>> {
    let mut dir = nix::dir::Dir::from_fd(fd).map_err(io::Error::from)?;
    let mut names = Vec::new();
    for entry in dir.iter() {
        let entry = entry.map_err(io::Error::from)?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(<OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(name).to_owned());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn both(test: impl Fn(&Beneath)) {
        let tmp = tempfile::tempdir().unwrap();
        let b = Beneath::open(tmp.path()).unwrap();
        test(&b);
        let tmp = tempfile::tempdir().unwrap();
        let b = Beneath::open(tmp.path()).unwrap();
        b.openat2.store(false, Ordering::Relaxed);
        test(&b);
    }

    #[test]
    fn a_symlinked_directory_on_the_way_is_refused_not_followed() {
        // By every call: write, make, stat, open below, list, create, rename.
        both(|b| {
            let outside = tempfile::tempdir().unwrap();
            symlink(outside.path(), b.display.join("docs")).unwrap();
            let e = b.write_file(Path::new("docs/passwd")).unwrap_err();
            assert!(is_symlink_on_the_way(&e), "{e}");
            let e = b.make_dir(Path::new("docs/sub"), true).unwrap_err();
            assert!(is_symlink_on_the_way(&e), "{e}");
            assert!(b.stat(Path::new("docs/x")).is_err());
            let e = b.below(Path::new("docs")).unwrap_err();
            assert!(is_symlink_on_the_way(&e), "{e}");
            assert!(b.names(Path::new("docs")).is_err());
            let e = b.create_new(Path::new("docs")).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");
            b.make_dir(Path::new("d"), false).unwrap();
            let d = b.below(Path::new("d")).unwrap();
            d.create_new(Path::new("t")).unwrap();
            d.rename(Path::new("t"), Path::new("f")).unwrap();
            assert_eq!(d.names(Path::new("")).unwrap(), [OsString::from("f")]);
            assert!(d.rename(Path::new("f"), Path::new("../docs/f")).is_err());
            assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        });
    }

    #[test]
    fn a_symlink_at_the_end_is_refused_and_replaced_only_on_request() {
        both(|b| {
            let outside = tempfile::tempdir().unwrap();
            let victim = outside.path().join("victim");
            std::fs::write(&victim, b"v").unwrap();
            symlink(&victim, b.display.join("file")).unwrap();
            let e = b.write_file(Path::new("file")).unwrap_err();
            assert!(is_symlink_on_the_way(&e), "{e}");
            let e = b.read_file(Path::new("file")).unwrap_err();
            assert!(is_symlink_on_the_way(&e), "{e}");
            assert_eq!(
                b.stat(Path::new("file")).unwrap().unwrap().kind,
                Kind::Symlink
            );
            assert!(b.make_dir(Path::new("file"), false).is_err());
            assert!(b.make_dir(Path::new("file"), true).unwrap());
            assert_eq!(std::fs::read(&victim).unwrap(), b"v");
        });
    }

    #[test]
    fn remove_takes_a_tree_and_leaves_what_its_links_point_to() {
        both(|b| {
            let outside = tempfile::tempdir().unwrap();
            std::fs::write(outside.path().join("keep"), b"k").unwrap();
            b.make_dirs(Path::new("a/b/c"), false).unwrap();
            b.write_file(Path::new("a/b/c/f")).unwrap();
            symlink(outside.path(), b.display.join("a/b/link")).unwrap();
            b.remove(Path::new("a")).unwrap();
            assert!(b.stat(Path::new("a")).unwrap().is_none());
            assert!(outside.path().join("keep").exists());
            b.remove(Path::new("never-was")).unwrap();
        });
    }

    #[test]
    fn made_files_and_directories_are_owner_only() {
        use std::os::unix::fs::MetadataExt;
        both(|b| {
            b.make_dirs(Path::new("d/e"), false).unwrap();
            b.write_file(Path::new("d/e/f")).unwrap();
            let meta = |p: &str| std::fs::metadata(b.display.join(p)).unwrap().mode() & 0o777;
            assert_eq!(meta("d"), NEW_DIR_MODE);
            assert_eq!(meta("d/e/f"), NEW_FILE_MODE);
        });
    }

    #[test]
    fn paths_that_leave_the_directory_are_refused() {
        both(|b| {
            assert!(b.write_file(Path::new("../x")).is_err());
            assert!(b.write_file(Path::new("/etc/x")).is_err());
        });
    }
}
