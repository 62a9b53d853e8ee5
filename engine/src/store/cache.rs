//! The local metadata cache: index files, snapshots and tree blobs of one
//! repository, kept on local disk so that reading commands and incremental
//! backups against a remote store do not download them again.
//!
//! Layout, below a root shared by every repository (`~/.cache/vault` by
//! default, chosen by the caller):
//!
//! ```text
//! <root>/CACHEDIR.TAG              marks the tree as a cache (backup tools skip it)
//! <root>/<repository id hex>/index/<id>        sealed index file, as stored
//! <root>/<repository id hex>/snapshots/<id>    sealed snapshot, as stored
//! <root>/<repository id hex>/trees/<xx>/<id>   sealed tree blob, as in its pack
//! <root>/<repository id hex>/record/<name>      a put-only host's record (SPEC.md §5.6)
//! <root>/<repository id hex>/record-salt        32 random bytes of this host
//! ```
//!
//! Nothing in the cache is trusted: every cached file is checked before it
//! is used (index files and snapshots by [`Cached`], against the hash that
//! names them; tree blobs by the repository, by opening them with the key,
//! which authenticates the blob id) and a file that fails is replaced with
//! a fresh copy from the store.
//! The root, the repository's directory and its kind directories must be
//! this user's and writable by it only ([`Cache::open`] refuses others),
//! and no link inside the cache is followed: every file is opened, made,
//! renamed and removed relative to the repository directory's handle
//! ([`Beneath`]). Another user who could change the cache could otherwise
//! lead vault's removals and writes to files of theirs choosing.
//! Files are written under a temporary name and renamed, so a crash leaves
//! no half file under a real name. A cache that cannot be written never
//! fails a command: the first error is kept for the caller to report
//! ([`Cache::write_error`]) and the cache is written no more.

use super::{Listing, ObjectMeta, Put, PutOutcome, Store, StoreInfo};
use crate::beneath::{Beneath, Kind, NEW_DIR_MODE};
use crate::error::{Error, Result};
use repo_format::Id;
use repo_format::layout::{FileKind, ObjectName};
use std::fs;
use std::io::{Read, Write};
use std::ops::Range;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The cache directory tag of <https://bford.info/cachedir/>.
const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by vault.\n\
# For information about cache directory tags see https://bford.info/cachedir/\n";

/// Prefix of files being written; never read as an entry.
const TEMP_PREFIX: &str = ".tmp-";

/// A temporary file older than this was left by a process that crashed.
const TEMP_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// The kinds of object the cache holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheKind {
    /// Index files, named by the hash of their stored bytes.
    Index,
    /// Snapshots, named by the hash of their stored bytes.
    Snapshot,
    /// Tree blobs, named by their blob id.
    Tree,
    /// A put-only host's record files, one per key, host and paths.
    Record,
}

impl CacheKind {
    const ALL: [CacheKind; 4] = [
        CacheKind::Index,
        CacheKind::Snapshot,
        CacheKind::Tree,
        CacheKind::Record,
    ];

    /// The kind of entry an object of `kind` is, if the cache holds such.
    fn of(kind: FileKind) -> Option<CacheKind> {
        match kind {
            FileKind::Index => Some(CacheKind::Index),
            FileKind::Snapshot => Some(CacheKind::Snapshot),
            _ => None,
        }
    }

    fn dir(self) -> &'static str {
        match self {
            CacheKind::Index => "index",
            CacheKind::Snapshot => "snapshots",
            CacheKind::Tree => "trees",
            CacheKind::Record => "record",
        }
    }

    fn sharded(self) -> bool {
        matches!(self, CacheKind::Tree)
    }
}

/// What the cache did, for the user (`-v`) and for tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Objects read from the cache (after verification).
    pub hits: u64,
    /// Objects not in the cache (or failing verification), so downloaded.
    pub misses: u64,
    /// Cached files that failed verification and were removed.
    pub damaged: u64,
}

/// A repository's cache directory. Shared between threads by `&`.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    /// `dir`, opened once: every file is named relative to it, with no
    /// link followed.
    beneath: Beneath,
    hits: AtomicU64,
    misses: AtomicU64,
    damaged: AtomicU64,
    writes_failed: AtomicBool,
    write_error: Mutex<Option<Error>>,
}

impl Cache {
    /// Open (creating if needed, mode 0700) the cache of the repository
    /// `repository_id` below `root`. The root, the repository's directory
    /// and its kind directories must belong to this user and be writable
    /// by it only, else the cache is refused: another user who can change
    /// them could lead vault's writes and removals elsewhere. A link or
    /// a file where a kind directory belongs is replaced by a directory.
    pub fn open(root: &Path, repository_id: &[u8; 32]) -> Result<Cache> {
        let dir = Cache::dir_for(root, repository_id);
        let refused = |path: &Path, e: std::io::Error| Error::io("use cache directory", path, e);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(NEW_DIR_MODE)
            .create(root)
            .map_err(|e| Error::io("create cache directory", root, e))?;
        // The root is the caller's choice: a link to it is followed.
        let top = Beneath::open(root).map_err(|e| refused(root, e))?;
        private(&top).map_err(|e| refused(root, e))?;
        let tag = Path::new("CACHEDIR.TAG");
        if top.stat(tag).map_err(|e| refused(root, e))?.is_none() {
            write_atomically(&top, tag, CACHEDIR_TAG.as_bytes())
                .map_err(|e| Error::io("write", top.display(tag), e))?;
        }
        let hex = Path::new(dir.file_name().unwrap_or_default());
        top.make_dir(hex, true).map_err(|e| refused(&dir, e))?;
        let beneath = top.below(hex).map_err(|e| refused(&dir, e))?;
        private(&beneath).map_err(|e| refused(&dir, e))?;
        for kind in CacheKind::ALL {
            let sub = Path::new(kind.dir());
            let shown = beneath.display(sub);
            beneath
                .make_dir(sub, true)
                .map_err(|e| Error::io("create cache directory", &shown, e))?;
            let opened = beneath.below(sub).map_err(|e| refused(&shown, e))?;
            private(&opened).map_err(|e| refused(&shown, e))?;
        }
        Ok(Cache {
            dir,
            beneath,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            damaged: AtomicU64::new(0),
            writes_failed: AtomicBool::new(false),
            write_error: Mutex::new(None),
        })
    }

    /// The directory below `root` of the repository `repository_id`.
    pub fn dir_for(root: &Path, repository_id: &[u8; 32]) -> PathBuf {
        root.join(Id(*repository_id).to_hex())
    }

    /// This repository's directory in the cache.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The counters so far.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            damaged: self.damaged.load(Ordering::Relaxed),
        }
    }

    /// The first write that failed, after which the cache was written no
    /// more (taken: a second call returns None).
    pub fn write_error(&self) -> Option<Error> {
        self.write_error.lock().ok()?.take()
    }

    /// The file of an entry, for tests (never opened by it).
    #[cfg(test)]
    pub(crate) fn path(&self, kind: CacheKind, id: &Id) -> PathBuf {
        self.dir.join(Cache::relative(kind, id))
    }

    /// The file of an entry, relative to [`Cache::dir`].
    fn relative(kind: CacheKind, id: &Id) -> PathBuf {
        let hex = id.to_hex();
        let dir = Path::new(kind.dir());
        if kind.sharded() {
            dir.join(&hex[..2]).join(hex)
        } else {
            dir.join(hex)
        }
    }

    /// The cached entry, if there is one and `verify` accepts its bytes
    /// (returning what it made of them). A file that fails is removed and
    /// counted as damaged; a miss of either sort is counted as a download.
    pub(crate) fn get<T>(
        &self,
        kind: CacheKind,
        id: &Id,
        verify: impl FnOnce(&[u8]) -> Option<T>,
    ) -> Option<T> {
        let rel = Cache::relative(kind, id);
        let read = self.beneath.read_file(&rel).and_then(|mut f| {
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).map(|_| bytes)
        });
        let found = match read {
            Ok(bytes) => {
                let verified = verify(&bytes);
                if verified.is_none() {
                    self.damaged.fetch_add(1, Ordering::Relaxed);
                    let _ = self.beneath.remove(&rel);
                }
                verified
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(_) => {
                self.damaged.fetch_add(1, Ordering::Relaxed);
                let _ = self.beneath.remove(&rel);
                None
            }
        };
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Store an entry's bytes (exactly as read from or written to the
    /// store). Failure is kept, not returned: see [`Cache::write_error`].
    pub(crate) fn put(&self, kind: CacheKind, id: &Id, bytes: &[u8]) {
        if self.writes_failed.load(Ordering::Relaxed) {
            return;
        }
        let rel = Cache::relative(kind, id);
        let written = (|| {
            if kind.sharded()
                && let Some(parent) = rel.parent()
            {
                self.beneath.make_dirs(parent, true)?;
            }
            write_atomically(&self.beneath, &rel, bytes)
        })();
        if let Err(e) = written {
            self.writes_failed.store(true, Ordering::Relaxed);
            if let Ok(mut slot) = self.write_error.lock() {
                slot.get_or_insert(Error::io("write cache file", self.dir.join(&rel), e));
            }
        }
    }

    /// Remove an entry (the object left the repository).
    pub(crate) fn remove(&self, kind: CacheKind, id: &Id) {
        let _ = self.beneath.remove(&Cache::relative(kind, id));
    }

    /// Remove every entry of `kind` that `keep` rejects, and temporary
    /// files that a crashed process left behind. Best effort: a file that
    /// cannot be removed stays, and is verified when read like any other.
    pub(crate) fn retain(&self, kind: CacheKind, keep: impl Fn(&Id) -> bool) {
        let dir = Path::new(kind.dir());
        match kind.sharded() {
            false => self.retain_in(dir, &keep),
            true => {
                let Ok(names) = self.beneath.names(dir) else {
                    return;
                };
                for name in names {
                    let sub = dir.join(name);
                    if self
                        .beneath
                        .stat(&sub)
                        .is_ok_and(|e| e.is_some_and(|e| e.kind == Kind::Dir))
                    {
                        self.retain_in(&sub, &keep);
                    }
                }
            }
        }
    }

    fn retain_in(&self, dir: &Path, keep: &impl Fn(&Id) -> bool) {
        let Ok(names) = self.beneath.names(dir) else {
            return;
        };
        for name in names {
            let rel = dir.join(&name);
            let name = name.to_string_lossy();
            let remove = if name.starts_with(TEMP_PREFIX) {
                self.beneath.stat(&rel).ok().flatten().is_some_and(|e| {
                    let modified = std::time::UNIX_EPOCH
                        + std::time::Duration::from_secs(u64::try_from(e.mtime.0).unwrap_or(0));
                    modified.elapsed().is_ok_and(|age| age > TEMP_MAX_AGE)
                })
            } else {
                // A name that is not an id is no entry of ours either.
                Id::from_hex(&name).map_or(true, |id| !keep(&id))
            };
            if remove {
                let _ = self.beneath.remove(&rel);
            }
        }
    }
}

impl Cache {
    /// This host's 32 random bytes for the put-only record's key (SPEC.md
    /// §5.6), made on first use.
    pub(crate) fn record_salt(&self) -> Result<[u8; 32]> {
        let rel = Path::new("record-salt");
        let shown = || self.dir.join(rel);
        match self.beneath.read_file(rel) {
            Ok(mut f) => {
                let mut salt = [0u8; 32];
                let mut extra = [0u8; 1];
                f.read_exact(&mut salt)
                    .map_err(|e| Error::io("read", shown(), e))?;
                if f.read(&mut extra)
                    .map_err(|e| Error::io("read", shown(), e))?
                    != 0
                {
                    return Err(Error::io(
                        "read",
                        shown(),
                        std::io::Error::new(std::io::ErrorKind::InvalidData, "not 32 bytes"),
                    ));
                }
                Ok(salt)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut salt = [0u8; 32];
                rand::fill(&mut salt);
                write_atomically(&self.beneath, rel, &salt)
                    .map_err(|e| Error::io("write", shown(), e))?;
                Ok(salt)
            }
            Err(e) => Err(Error::io("read", shown(), e)),
        }
    }

    /// An entry's file, to read as it stands (the caller verifies).
    pub(crate) fn open_entry(&self, kind: CacheKind, id: &Id) -> std::io::Result<fs::File> {
        self.beneath.read_file(&Cache::relative(kind, id))
    }

    /// A new file to write an entry into, under a temporary name beside
    /// it: [`Cache::publish`] gives it the entry's name.
    pub(crate) fn create_entry(&self, kind: CacheKind, id: &Id) -> Result<(PathBuf, fs::File)> {
        let rel = Cache::relative(kind, id);
        let parent = rel.parent().unwrap_or(Path::new(""));
        loop {
            let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let temp = parent.join(format!(
                "{TEMP_PREFIX}{}-{}-{n}",
                id.to_hex(),
                std::process::id()
            ));
            match self.beneath.create_new(&temp) {
                Ok(file) => return Ok((temp, file)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io("create cache file", self.dir.join(&temp), e)),
            }
        }
    }

    /// Give the file made by [`Cache::create_entry`] the entry's name,
    /// replacing what was there.
    pub(crate) fn publish(&self, temp: &Path, kind: CacheKind, id: &Id) -> Result<()> {
        let rel = Cache::relative(kind, id);
        self.beneath
            .rename(temp, &rel)
            .map_err(|e| Error::io("write cache file", self.dir.join(&rel), e))
    }

    /// Remove a file made by [`Cache::create_entry`] and not published.
    pub(crate) fn discard(&self, temp: &Path) {
        let _ = self.beneath.remove(temp);
    }
}

/// Refuse a cache directory that another user owns or can write.
fn private(dir: &Beneath) -> std::io::Result<()> {
    let (owner, mode) = dir.owner_and_mode()?;
    let problem = if owner != nix::unistd::geteuid().as_raw() {
        format!("it belongs to another user (uid {owner})")
    } else if mode & 0o022 != 0 {
        format!("it is writable by other users (mode {mode:04o})")
    } else {
        return Ok(());
    };
    Err(std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        format!("{problem}, who could lead vault's writes and removals elsewhere"),
    ))
}

/// Temporary names made by this process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Write `bytes` to a temporary file beside `rel` below `dir` (0600,
/// created exclusively), then rename it into place: readers see the old
/// file, the new one, or none.
fn write_atomically(dir: &Beneath, rel: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = rel.parent().unwrap_or(Path::new(""));
    let (temp, mut file) = loop {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = parent.join(format!("{TEMP_PREFIX}{name}-{}-{n}", std::process::id()));
        match dir.create_new(&temp) {
            Ok(file) => break (temp, file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    };
    let written = file.write_all(bytes).and_then(|()| dir.rename(&temp, rel));
    if written.is_err() {
        let _ = dir.remove(&temp);
    }
    written
}

/// A store whose index files and snapshots are kept in a [`Cache`]: read
/// from it when there (after checking the bytes against the hash that
/// names them), written through to it, removed from it with the object,
/// and pruned of objects a listing no longer shows (another process
/// removed them). Other objects pass straight through.
pub struct Cached {
    inner: Arc<dyn Store>,
    cache: Arc<Cache>,
}

impl Cached {
    /// `inner`, cached in `cache`.
    pub fn new(inner: Arc<dyn Store>, cache: Arc<Cache>) -> Self {
        Cached { inner, cache }
    }
}

impl Store for Cached {
    fn put(&self, name: &ObjectName, bytes: bytes::Bytes, mode: Put) -> Result<PutOutcome> {
        let outcome = self.inner.put(name, bytes.clone(), mode)?;
        if let Some(kind) = CacheKind::of(name.kind()) {
            self.cache.put(kind, &name.id(), &bytes);
        }
        Ok(outcome)
    }

    fn get(&self, name: &ObjectName, range: Option<Range<u64>>) -> Result<bytes::Bytes> {
        let Some(kind) = CacheKind::of(name.kind()).filter(|_| range.is_none()) else {
            return self.inner.get(name, range);
        };
        let id = name.id();
        let verified = |b: &[u8]| (Id::hash(b) == id).then(|| bytes::Bytes::copy_from_slice(b));
        if let Some(bytes) = self.cache.get(kind, &id, verified) {
            return Ok(bytes);
        }
        let bytes = self.inner.get(name, None)?;
        self.cache.put(kind, &id, &bytes);
        Ok(bytes)
    }

    fn list(&self, kind: FileKind) -> Result<Listing> {
        let listing = self.inner.list(kind)?;
        if let Some(cached) = CacheKind::of(kind) {
            let listed: std::collections::HashSet<&Id> =
                listing.objects.iter().map(|(id, _)| id).collect();
            self.cache.retain(cached, |id| listed.contains(id));
        }
        Ok(listing)
    }

    fn delete(&self, name: &ObjectName) -> Result<()> {
        self.inner.delete(name)?;
        if let Some(kind) = CacheKind::of(name.kind()) {
            self.cache.remove(kind, &name.id());
        }
        Ok(())
    }

    super::pass_through!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn by_hash(id: &Id) -> impl FnOnce(&[u8]) -> Option<Vec<u8>> + '_ {
        move |b| (Id::hash(b) == *id).then(|| b.to_vec())
    }

    #[test]
    fn cache_open_creates_private_tagged_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("vault");
        let cache = Cache::open(&root, &[7; 32]).unwrap();
        assert_eq!(cache.dir(), root.join(Id([7; 32]).to_hex()));
        let tag = fs::read_to_string(root.join("CACHEDIR.TAG")).unwrap();
        assert!(tag.starts_with("Signature: 8a477f597d28d172789f06886806bc55"));
        let mode = fs::metadata(&root).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        for kind in CacheKind::ALL {
            assert!(cache.dir().join(kind.dir()).is_dir());
        }
        // Opening again finds it as it is.
        Cache::open(&root, &[7; 32]).unwrap();
    }

    #[test]
    fn cache_get_verified_hit_damaged_removed_and_counted() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(tmp.path(), &[1; 32]).unwrap();
        let bytes = b"sealed index bytes".to_vec();
        let id = Id::hash(&bytes);
        assert_eq!(cache.get(CacheKind::Index, &id, by_hash(&id)), None);
        cache.put(CacheKind::Index, &id, &bytes);
        assert_eq!(cache.get(CacheKind::Index, &id, by_hash(&id)), Some(bytes));
        // A flipped bit: refused, removed.
        let path = cache.path(CacheKind::Index, &id);
        let mut flipped = fs::read(&path).unwrap();
        flipped[3] ^= 0x10;
        fs::write(&path, &flipped).unwrap();
        assert_eq!(cache.get(CacheKind::Index, &id, by_hash(&id)), None);
        assert!(!path.exists(), "a damaged entry must be removed");
        assert_eq!(
            cache.stats(),
            CacheStats {
                hits: 1,
                misses: 2,
                damaged: 1
            }
        );
    }

    #[test]
    fn cache_retain_removes_unlisted_entries_and_old_temp_files() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(tmp.path(), &[2; 32]).unwrap();
        let (a, b) = (Id([0xaa; 32]), Id([0xbb; 32]));
        for kind in CacheKind::ALL {
            cache.put(kind, &a, b"a");
            cache.put(kind, &b, b"b");
        }
        let fresh_temp = cache.dir().join("snapshots").join(".tmp-x-1-2");
        fs::write(&fresh_temp, b"being written").unwrap();
        for kind in CacheKind::ALL {
            cache.retain(kind, |id| *id == a);
            assert!(cache.path(kind, &a).exists());
            assert!(!cache.path(kind, &b).exists(), "{kind:?}");
        }
        assert!(fresh_temp.exists(), "another process may be writing it");
    }

    #[test]
    fn cache_open_refuses_a_shared_root_and_replaces_linked_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("shared");
        fs::create_dir(&root).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o777)).unwrap();
        let e = Cache::open(&root, &[5; 32]).unwrap_err();
        assert!(e.to_string().contains("writable by other users"), "{e}");
        assert_eq!(fs::read_dir(&root).unwrap().count(), 0);

        let root = tmp.path().join("own");
        let cache = Cache::open(&root, &[5; 32]).unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let id = Id([0xcc; 32]);
        fs::write(outside.join(id.to_hex()), b"theirs").unwrap();
        let snapshots = cache.dir().join("snapshots");
        fs::remove_dir(&snapshots).unwrap();
        std::os::unix::fs::symlink(&outside, &snapshots).unwrap();
        // Open or not, nothing reaches through the link.
        assert_eq!(cache.get(CacheKind::Snapshot, &id, by_hash(&id)), None);
        cache.retain(CacheKind::Snapshot, |_| false);
        cache.put(CacheKind::Snapshot, &id, b"ours");
        assert_eq!(fs::read(outside.join(id.to_hex())).unwrap(), b"theirs");
        // Opened again, the link is a directory of ours.
        drop(cache);
        let cache = Cache::open(&root, &[5; 32]).unwrap();
        assert!(fs::symlink_metadata(&snapshots).unwrap().is_dir());
        cache.put(CacheKind::Snapshot, &id, b"ours");
        assert_eq!(
            fs::read(cache.path(CacheKind::Snapshot, &id)).unwrap(),
            b"ours"
        );
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 1);
    }

    #[test]
    fn cache_write_failure_is_kept_once_and_stops_writing() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(tmp.path(), &[3; 32]).unwrap();
        let index = cache.dir().join("index");
        // Root ignores permissions; replace the directory by a file instead.
        fs::remove_dir(&index).unwrap();
        fs::write(&index, b"not a directory").unwrap();
        let id = Id([4; 32]);
        cache.put(CacheKind::Index, &id, b"x");
        cache.put(CacheKind::Index, &id, b"x");
        assert!(matches!(cache.write_error(), Some(Error::Io { .. })));
        assert!(cache.write_error().is_none(), "reported once");
        // Writes stopped, including those that would work.
        cache.put(CacheKind::Snapshot, &id, b"x");
        assert!(!cache.path(CacheKind::Snapshot, &id).exists());
    }
}
