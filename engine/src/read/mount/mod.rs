//! The read-only snapshot tree that `vault mount` serves: inode numbers,
//! attributes, directory listings, symlinks, and ranged reads of files.
//!
//! This module knows nothing of FUSE (the CLI adapts it to the kernel); it
//! answers questions by inode number, as a FUSE file system must:
//!
//! ```text
//! /                                     virtual directories (mode 0555)
//! ├─ snapshots/<time>/…                 every snapshot, <time> in RFC 3339 UTC
//! ├─ snapshots/latest -> <time>         (to the second; equal times get -1, -2 …)
//! ├─ ids/<short id>/…
//! ├─ hosts/<host>/<time>/…, hosts/<host>/latest
//! └─ tags/<tag>/<time>/…,   tags/<tag>/latest
//! ```
//!
//! Inode numbers are a hash of the parent's inode number and the name (and,
//! for a snapshot's root, the snapshot id), so the same path has the same
//! number for as long as the file system is mounted, even after the kernel
//! forgot it. A read fetches only the blobs that cover the range asked for,
//! located by the prefix sums of the file's blob lengths (from the index),
//! through a cache of decrypted blobs bounded in bytes. The list of
//! snapshots is refreshed when a virtual directory is read or searched, at
//! most once per [`MountOptions::refresh`], and the index is reloaded when
//! a new snapshot appears.

mod layout;

use crate::error::{Error, Result};
use crate::repository::Repository;
use layout::{Layout, VirtualDir, What, child_ino};
use repo_format::crypto::BlobKind;
use repo_format::layout::FileKind;
use repo_format::tree::{Node, NodeKind, Timestamp, Tree};
use repo_format::{BlobId, SnapshotId};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

/// The inode number of the file system's root directory.
pub const ROOT: u64 = 1;

/// Options of [`SnapshotFs::new`].
#[derive(Clone, Debug)]
pub struct MountOptions {
    /// Bytes of decrypted file blobs kept in memory for further reads.
    pub blob_cache_bytes: usize,
    /// Bytes of decoded trees (directories) kept in memory.
    pub tree_cache_bytes: usize,
    /// How old the list of snapshots may be before a listing reads it again.
    pub refresh: Duration,
    /// Owner of the virtual directories (usually the mounting user).
    pub uid: u32,
    /// Group of the virtual directories.
    pub gid: u32,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            blob_cache_bytes: 64 << 20,
            tree_cache_bytes: 16 << 20,
            refresh: Duration::from_secs(2),
            uid: 0,
            gid: 0,
        }
    }
}

/// Why a file system request failed; the adapter maps it to an errno.
#[derive(Debug)]
pub enum FsError {
    /// No such entry (ENOENT).
    NotFound,
    /// Not a directory (ENOTDIR).
    NotDirectory,
    /// Not a symlink (EINVAL for readlink).
    NotSymlink,
    /// Not a regular file (EISDIR or EINVAL for open).
    NotFile,
    /// An unknown handle (EBADF).
    BadHandle,
    /// Reading the repository failed (EIO); the error says what and where.
    Repository(Error),
}

impl From<Error> for FsError {
    fn from(e: Error) -> Self {
        FsError::Repository(e)
    }
}

impl std::fmt::Display for FsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FsError::NotFound => f.write_str("no such entry"),
            FsError::NotDirectory => f.write_str("not a directory"),
            FsError::NotSymlink => f.write_str("not a symlink"),
            FsError::NotFile => f.write_str("not a regular file"),
            FsError::BadHandle => f.write_str("unknown handle"),
            FsError::Repository(e) => e.fmt(f),
        }
    }
}

/// The outcome of a file system request.
pub type FsResult<T> = std::result::Result<T, FsError>;

/// What `stat` shows of an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attr {
    /// Inode number.
    pub ino: u64,
    /// Kind of entry.
    pub kind: NodeKind,
    /// Size in bytes (a symlink: its target's length).
    pub size: u64,
    /// Permission bits, with setuid, setgid and sticky (0o7777).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Hard links.
    pub nlink: u32,
    /// Device number of a device node.
    pub rdev: u64,
    /// Modification time.
    pub mtime: Timestamp,
    /// Access time.
    pub atime: Timestamp,
    /// Change time.
    pub ctime: Timestamp,
    /// Whether the entry, and the name it was looked up by, never change
    /// while mounted (inside a snapshot); the virtual directories, their
    /// names and `latest` change with the snapshot list.
    pub immutable: bool,
}

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// Inode number.
    pub ino: u64,
    /// Kind of entry.
    pub kind: NodeKind,
    /// Name (`.` and `..` included).
    pub name: Vec<u8>,
}

/// Counters of the file reads served, for `vault mount -v`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MountStats {
    /// Read requests served.
    pub reads: u64,
    /// Bytes returned by reads.
    pub bytes_read: u64,
    /// Data blobs fetched from the repository.
    pub blobs_fetched: u64,
    /// Decrypted bytes of the blobs fetched.
    pub bytes_fetched: u64,
    /// Blobs found in the cache.
    pub cache_hits: u64,
}

struct Inode {
    parent: u64,
    what: What,
    /// The kernel's lookup count; the inode is dropped when it reaches 0.
    lookups: u64,
}

/// An open file: its blobs and where each ends in the file.
struct OpenFile {
    content: Vec<BlobId>,
    ends: Vec<u64>,
}

enum Handle {
    File(Arc<OpenFile>),
    Dir(Arc<Vec<DirEntry>>),
}

/// A least-recently-used map bounded by the bytes its values weigh.
struct ByteLru<V> {
    map: lru::LruCache<BlobId, (V, usize)>,
    bytes: usize,
    limit: usize,
}

impl<V: Clone> ByteLru<V> {
    fn new(limit: usize) -> Self {
        ByteLru {
            map: lru::LruCache::unbounded(),
            bytes: 0,
            limit,
        }
    }

    fn get(&mut self, id: &BlobId) -> Option<V> {
        self.map.get(id).map(|(v, _)| v.clone())
    }

    fn put(&mut self, id: BlobId, value: V, weight: usize) {
        if weight > self.limit {
            return;
        }
        if let Some((_, old)) = self.map.put(id, (value, weight)) {
            self.bytes -= old;
        }
        self.bytes += weight;
        while self.bytes > self.limit {
            match self.map.pop_lru() {
                Some((_, (_, w))) => self.bytes -= w,
                None => break,
            }
        }
    }
}

/// The file system: every snapshot of a repository, read-only.
pub struct SnapshotFs {
    repo: Arc<Repository>,
    options: MountOptions,
    layout: RwLock<Layout>,
    /// Held while the snapshot list is read again, so that one request does it.
    refreshing: Mutex<()>,
    inodes: Mutex<HashMap<u64, Inode>>,
    handles: Mutex<HashMap<u64, Handle>>,
    next_handle: AtomicU64,
    trees: Mutex<ByteLru<Arc<Tree>>>,
    blobs: Mutex<ByteLru<Arc<Vec<u8>>>>,
    reads: AtomicU64,
    bytes_read: AtomicU64,
    blobs_fetched: AtomicU64,
    bytes_fetched: AtomicU64,
    cache_hits: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock means a panic elsewhere already failed a request.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SnapshotFs {
    /// Serve the snapshots of `repo` (whose index is loaded).
    pub fn new(repo: Arc<Repository>, options: MountOptions) -> Result<Self> {
        let layout = Layout::build(repo.snapshots()?);
        let mut inodes = HashMap::new();
        inodes.insert(
            ROOT,
            Inode {
                parent: ROOT,
                what: What::Virtual(VirtualDir::Root),
                lookups: 1,
            },
        );
        Ok(SnapshotFs {
            trees: Mutex::new(ByteLru::new(options.tree_cache_bytes)),
            blobs: Mutex::new(ByteLru::new(options.blob_cache_bytes)),
            repo,
            options,
            layout: RwLock::new(layout),
            refreshing: Mutex::new(()),
            inodes: Mutex::new(inodes),
            handles: Mutex::new(HashMap::new()),
            next_handle: AtomicU64::new(1),
            reads: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            blobs_fetched: AtomicU64::new(0),
            bytes_fetched: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
        })
    }

    /// The counters of reads served so far.
    pub fn stats(&self) -> MountStats {
        MountStats {
            reads: self.reads.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            blobs_fetched: self.blobs_fetched.load(Ordering::Relaxed),
            bytes_fetched: self.bytes_fetched.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
        }
    }

    fn what(&self, ino: u64) -> FsResult<(u64, What)> {
        lock(&self.inodes)
            .get(&ino)
            .map(|i| (i.parent, i.what.clone()))
            .ok_or(FsError::NotFound)
    }

    /// The entry `name` in the directory `parent`; counts one kernel lookup
    /// (see [`SnapshotFs::forget`]).
    pub fn lookup(&self, parent: u64, name: &[u8]) -> FsResult<Attr> {
        let parent_what = self.what(parent)?.1;
        let (ino, what) = match &parent_what {
            What::Virtual(dir) => {
                self.refresh()?;
                let layout = self.layout();
                let child = layout
                    .dirs
                    .get(dir)
                    .and_then(|d| d.get(name))
                    .ok_or(FsError::NotFound)?;
                layout.child(parent, name, child)
            }
            What::Node(node) => {
                let tree = self.dir_tree(node)?;
                let found = tree
                    .nodes
                    .binary_search_by(|n| n.name.as_slice().cmp(name))
                    .ok()
                    .and_then(|i| tree.nodes.get(i))
                    .ok_or(FsError::NotFound)?;
                (
                    child_ino(parent, name, None),
                    What::Node(Arc::new(found.clone())),
                )
            }
            What::Link(_) => return Err(FsError::NotDirectory),
        };
        let mut attr = self.attr(ino, &what);
        // A name in a virtual directory may later name another snapshot.
        attr.immutable &= !matches!(parent_what, What::Virtual(_));
        let mut inodes = lock(&self.inodes);
        let inode = inodes.entry(ino).or_insert(Inode {
            parent,
            what: what.clone(),
            lookups: 0,
        });
        // `latest` and the virtual directories may have changed meanwhile.
        inode.what = what;
        inode.lookups += 1;
        Ok(attr)
    }

    /// The kernel forgets `count` lookups of `ino`.
    pub fn forget(&self, ino: u64, count: u64) {
        if ino == ROOT {
            return;
        }
        let mut inodes = lock(&self.inodes);
        if let Some(inode) = inodes.get_mut(&ino) {
            inode.lookups = inode.lookups.saturating_sub(count);
            if inode.lookups == 0 {
                inodes.remove(&ino);
            }
        }
    }

    /// The attributes of `ino`.
    pub fn getattr(&self, ino: u64) -> FsResult<Attr> {
        let (_, what) = self.what(ino)?;
        Ok(self.attr(ino, &what))
    }

    fn attr(&self, ino: u64, what: &What) -> Attr {
        match what {
            What::Node(node) => Attr {
                ino,
                kind: node.kind,
                size: match node.kind {
                    NodeKind::Symlink => node.link_target.len() as u64,
                    NodeKind::Dir => 0,
                    _ => node.size,
                },
                mode: node.mode & 0o7777,
                uid: node.uid,
                gid: node.gid,
                nlink: match node.kind {
                    NodeKind::Dir => 2,
                    _ => u32::try_from(node.links).unwrap_or(u32::MAX).max(1),
                },
                rdev: node.rdev,
                mtime: node.mtime,
                atime: node.atime,
                ctime: node.ctime,
                immutable: true,
            },
            What::Virtual(_) | What::Link(_) => {
                let time = self.layout().newest;
                let (kind, size, mode, nlink) = match what {
                    What::Link(target) => (NodeKind::Symlink, target.len() as u64, 0o777, 1),
                    _ => (NodeKind::Dir, 0, 0o555, 2),
                };
                Attr {
                    ino,
                    kind,
                    size,
                    mode,
                    uid: self.options.uid,
                    gid: self.options.gid,
                    nlink,
                    rdev: 0,
                    mtime: time,
                    atime: time,
                    ctime: time,
                    immutable: false,
                }
            }
        }
    }

    /// The target of the symlink `ino`.
    pub fn readlink(&self, ino: u64) -> FsResult<Vec<u8>> {
        match self.what(ino)?.1 {
            What::Link(target) => Ok(target),
            What::Node(node) if node.kind == NodeKind::Symlink => Ok(node.link_target.clone()),
            _ => Err(FsError::NotSymlink),
        }
    }

    /// Open the directory `ino`: its listing, kept until
    /// [`SnapshotFs::release`], so that the kernel pages through one view.
    pub fn opendir(&self, ino: u64) -> FsResult<u64> {
        let (parent, what) = self.what(ino)?;
        let mut entries = vec![
            DirEntry {
                ino,
                kind: NodeKind::Dir,
                name: b".".to_vec(),
            },
            DirEntry {
                ino: parent,
                kind: NodeKind::Dir,
                name: b"..".to_vec(),
            },
        ];
        match what {
            What::Virtual(dir) => {
                self.refresh()?;
                let layout = self.layout();
                for (name, child) in layout.dirs.get(&dir).into_iter().flatten() {
                    let (child_ino, what) = layout.child(ino, name, child);
                    let kind = match what {
                        What::Link(_) => NodeKind::Symlink,
                        _ => NodeKind::Dir,
                    };
                    entries.push(DirEntry {
                        ino: child_ino,
                        kind,
                        name: name.clone(),
                    });
                }
            }
            What::Node(node) => {
                let tree = self.dir_tree(&node)?;
                entries.extend(tree.nodes.iter().map(|n| DirEntry {
                    ino: child_ino(ino, &n.name, None),
                    kind: n.kind,
                    name: n.name.clone(),
                }));
            }
            What::Link(_) => return Err(FsError::NotDirectory),
        }
        Ok(self.add_handle(Handle::Dir(Arc::new(entries))))
    }

    /// The listing of an open directory.
    pub fn entries(&self, handle: u64) -> FsResult<Arc<Vec<DirEntry>>> {
        match lock(&self.handles).get(&handle) {
            Some(Handle::Dir(entries)) => Ok(entries.clone()),
            _ => Err(FsError::BadHandle),
        }
    }

    /// Open the file `ino` for reading.
    pub fn open(&self, ino: u64) -> FsResult<u64> {
        let What::Node(node) = self.what(ino)?.1 else {
            return Err(FsError::NotFile);
        };
        if node.kind != NodeKind::File {
            return Err(FsError::NotFile);
        }
        let index = self.repo.index();
        let mut end = 0u64;
        let mut ends = Vec::with_capacity(node.content.len());
        for id in &node.content {
            let location = index.locate(BlobKind::Data, id)?;
            end += u64::from(location.raw_length);
            ends.push(end);
        }
        drop(index);
        let file = OpenFile {
            content: node.content.clone(),
            ends,
        };
        Ok(self.add_handle(Handle::File(Arc::new(file))))
    }

    fn add_handle(&self, handle: Handle) -> u64 {
        let number = self.next_handle.fetch_add(1, Ordering::Relaxed);
        lock(&self.handles).insert(number, handle);
        number
    }

    /// Close an open file or directory.
    pub fn release(&self, handle: u64) {
        lock(&self.handles).remove(&handle);
    }

    /// Up to `size` bytes of the open file `handle` from `offset` (fewer at
    /// the end of the file). Fetches only the blobs covering the range.
    pub fn read(&self, handle: u64, offset: u64, size: u32) -> FsResult<Vec<u8>> {
        let file = match lock(&self.handles).get(&handle) {
            Some(Handle::File(f)) => f.clone(),
            _ => return Err(FsError::BadHandle),
        };
        let length = file.ends.last().copied().unwrap_or(0);
        let end = offset.saturating_add(u64::from(size)).min(length);
        let mut out = Vec::with_capacity(end.saturating_sub(offset) as usize);
        let mut i = file.ends.partition_point(|e| *e <= offset);
        let mut pos = offset;
        while pos < end {
            let (Some(id), Some(&blob_end)) = (file.content.get(i), file.ends.get(i)) else {
                break;
            };
            let start = match i {
                0 => 0,
                _ => file.ends.get(i - 1).copied().unwrap_or(0),
            };
            let blob = self.data_blob(id)?;
            let from = (pos - start) as usize;
            let to = (end.min(blob_end) - start) as usize;
            let part = blob.get(from..to).ok_or_else(|| {
                FsError::Repository(Error::Internal("blob shorter than its index entry"))
            })?;
            out.extend_from_slice(part);
            pos = start + to as u64;
            i += 1;
        }
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.bytes_read
            .fetch_add(out.len() as u64, Ordering::Relaxed);
        Ok(out)
    }

    fn data_blob(&self, id: &BlobId) -> Result<Arc<Vec<u8>>> {
        if let Some(blob) = lock(&self.blobs).get(id) {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(blob);
        }
        // Fetched without holding the cache, so that other reads go on.
        let blob = Arc::new(self.repo.read_blob(BlobKind::Data, id)?);
        self.blobs_fetched.fetch_add(1, Ordering::Relaxed);
        self.bytes_fetched
            .fetch_add(blob.len() as u64, Ordering::Relaxed);
        lock(&self.blobs).put(*id, blob.clone(), blob.len());
        Ok(blob)
    }

    /// The tree of the directory `node`, through the tree cache.
    fn dir_tree(&self, node: &Node) -> FsResult<Arc<Tree>> {
        if node.kind != NodeKind::Dir {
            return Err(FsError::NotDirectory);
        }
        let Some(id) = node.subtree else {
            return Ok(Arc::new(Tree { nodes: Vec::new() }));
        };
        if let Some(tree) = lock(&self.trees).get(&id) {
            return Ok(tree);
        }
        let tree = Arc::new(self.repo.load_tree(&id)?);
        let weight = self
            .repo
            .index()
            .get(BlobKind::Tree, &id)?
            .map_or(0, |l| l.raw_length as usize);
        lock(&self.trees).put(id, tree.clone(), weight);
        Ok(tree)
    }

    fn layout(&self) -> std::sync::RwLockReadGuard<'_, Layout> {
        self.layout.read().unwrap_or_else(|p| p.into_inner())
    }

    /// List the snapshots again if the last listing is older than
    /// [`MountOptions::refresh`]; reload the index when one is new.
    fn refresh(&self) -> Result<()> {
        if self.layout().listed_at.elapsed() < self.options.refresh {
            return Ok(());
        }
        let Ok(_refreshing) = self.refreshing.try_lock() else {
            // Another request is listing; this one serves the last listing.
            return Ok(());
        };
        let ids: HashSet<SnapshotId> = self
            .repo
            .list_ids(FileKind::Snapshot)?
            .into_iter()
            .map(SnapshotId)
            .collect();
        let known: HashSet<SnapshotId> =
            self.layout().snapshots.iter().map(|(id, _)| *id).collect();
        if ids == known {
            self.layout
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .listed_at = Instant::now();
            return Ok(());
        }
        let snapshots = self.repo.snapshots()?;
        if snapshots.iter().any(|(id, _)| !known.contains(id)) {
            self.repo
                .load_index(crate::repository::index::LoadMode::Strict)?;
        }
        *self.layout.write().unwrap_or_else(|p| p.into_inner()) = Layout::build(snapshots);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::layout::Child;
    use super::*;
    use crate::backup::{BackupOptions, Source, backup};
    use crate::{Backend, InitOptions};
    use repo_format::snapshot::Snapshot;

    fn snapshot(secs: i64, host: &str, tags: &[&str]) -> Snapshot {
        Snapshot {
            time: Timestamp { secs, nanos: 0 },
            paths: vec!["/src".to_owned()],
            hostname: host.to_owned(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Snapshot::default()
        }
    }

    fn names(layout: &Layout, dir: &VirtualDir) -> Vec<String> {
        layout.dirs[dir]
            .keys()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect()
    }

    #[test]
    fn layout_equal_times_get_suffixes_and_latest_points_at_newest() {
        let id = |b: u8| SnapshotId(repo_format::Id([b; 32]));
        let layout = Layout::build(vec![
            (id(1), snapshot(0, "a", &["x"])),
            (id(2), snapshot(0, "b", &["x", "y"])),
            (id(3), snapshot(0, "a", &[])),
            (id(4), snapshot(3600, "a/b", &[""])),
        ]);
        assert_eq!(
            names(&layout, &VirtualDir::Snapshots),
            [
                "1970-01-01T00:00:00Z",
                "1970-01-01T00:00:00Z-1",
                "1970-01-01T00:00:00Z-2",
                "1970-01-01T01:00:00Z",
                "latest"
            ]
        );
        assert!(matches!(
            &layout.dirs[&VirtualDir::Snapshots][&b"latest".to_vec()],
            Child::Link(t) if t == b"1970-01-01T01:00:00Z"
        ));
        assert_eq!(names(&layout, &VirtualDir::Hosts), ["a", "a_b", "b"]);
        assert_eq!(
            names(&layout, &VirtualDir::Host("a".into())),
            ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z-1", "latest"]
        );
        assert_eq!(names(&layout, &VirtualDir::Tags), ["x", "y"]);
        assert_eq!(
            names(&layout, &VirtualDir::Tag("x".into())),
            ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z-1", "latest"]
        );
        assert_eq!(
            names(&layout, &VirtualDir::Ids),
            ["01010101", "02020202", "03030303", "04040404"]
        );
        assert_eq!(layout.newest.secs, 3600);
    }

    #[test]
    fn byte_lru_evicts_least_recent_beyond_limit() {
        let id = |b: u8| BlobId(repo_format::Id([b; 32]));
        let mut lru = ByteLru::new(10);
        lru.put(id(1), 1, 4);
        lru.put(id(2), 2, 4);
        assert_eq!(lru.get(&id(1)), Some(1));
        lru.put(id(3), 3, 4);
        assert_eq!(lru.get(&id(2)), None);
        assert_eq!(lru.get(&id(1)), Some(1));
        lru.put(id(4), 4, 11);
        assert_eq!(lru.get(&id(4)), None);
        assert_eq!(lru.bytes, 8);
    }

    #[test]
    fn read_range_fetches_only_covering_blobs_and_matches_content() {
        let mut init = InitOptions::default();
        init.kdf.memory_kib = 64;
        init.kdf.iterations = 1;
        init.chunker.min_size = 64 << 10;
        init.chunker.avg_size = 128 << 10;
        init.chunker.max_size = 256 << 10;
        let backend = Backend::open("memory://mount-read-range").unwrap();
        let repo = Arc::new(Repository::init(backend, b"pw", &init).unwrap());
        let mut data = vec![0u8; 4 << 20];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for b in data.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let source = Source::Stdin {
            filename: "big".into(),
            reader: Box::new(std::io::Cursor::new(data.clone())),
        };
        backup(&repo, source, &BackupOptions::default(), &crate::NoProgress).unwrap();
        let fs = SnapshotFs::new(repo, MountOptions::default()).unwrap();
        let snapshots = fs.lookup(ROOT, b"snapshots").unwrap();
        let latest = fs.lookup(snapshots.ino, b"latest").unwrap();
        assert_eq!(latest.kind, NodeKind::Symlink);
        let target = fs.readlink(latest.ino).unwrap();
        let root = fs.lookup(snapshots.ino, &target).unwrap();
        let file = fs.lookup(root.ino, b"big").unwrap();
        assert_eq!(file.size, data.len() as u64);
        // Stable: the same path is the same inode.
        assert_eq!(fs.lookup(root.ino, b"big").unwrap().ino, file.ino);
        let handle = fs.open(file.ino).unwrap();
        let offset = 2_000_000u64;
        let got = fs.read(handle, offset, 4096).unwrap();
        assert_eq!(got, data[offset as usize..offset as usize + 4096]);
        let stats = fs.stats();
        assert!(stats.blobs_fetched <= 2, "{stats:?}");
        // Across a blob boundary and past the end.
        let got = fs.read(handle, 0, 1 << 20).unwrap();
        assert_eq!(got, data[..1 << 20]);
        let tail = fs.read(handle, data.len() as u64 - 10, 4096).unwrap();
        assert_eq!(tail, data[data.len() - 10..]);
        assert!(
            fs.read(handle, data.len() as u64 + 5, 10)
                .unwrap()
                .is_empty()
        );
        fs.release(handle);
        assert!(matches!(fs.read(handle, 0, 1), Err(FsError::BadHandle)));
        assert!(matches!(
            fs.lookup(root.ino, b"missing"),
            Err(FsError::NotFound)
        ));
    }
}
