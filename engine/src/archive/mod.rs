//! Backup: walk the sources beside the parent snapshot's trees, chunk what
//! changed, save trees bottom-up, then the index, then the snapshot.
//!
//! Files and directories are processed in parallel (rayon); each chunk is
//! hashed on the reading thread and, when new, sealed by the saver's
//! workers while reading goes on, and packed and uploaded by the packer's
//! threads — reading, chunking, hashing, compressing, encrypting and
//! writing overlap.

pub mod saver;

use crate::chunker::Chunker;
use crate::error::{Error, Result};
use crate::exclude::{Patterns, read_pattern_file};
use crate::metadata::{OwnerNames, node_from_metadata};
use crate::progress::Progress;
use crate::repo::{Repository, current_user_and_host};
use rayon::prelude::*;
use repo_format::crypto::BlobKind;
use repo_format::snapshot::{Snapshot, SnapshotSummary};
use repo_format::tree::{Node, NodeKind, Timestamp, Tree};
use repo_format::{BlobId, SnapshotId};
use saver::BlobSaver;
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// What to back up.
pub enum Source {
    /// Files and directories.
    Paths(Vec<PathBuf>),
    /// A stream stored as one file named `filename`.
    Stdin {
        /// Path of the file inside the snapshot (relative to the root).
        filename: String,
        /// The stream.
        reader: Box<dyn Read + Send>,
    },
    /// The standard output of a command stored as one file.
    Command {
        /// Path of the file inside the snapshot.
        filename: String,
        /// Program and arguments.
        argv: Vec<String>,
    },
}

/// How the parent snapshot is chosen.
#[derive(Clone, Debug, Default)]
pub enum ParentChoice {
    /// The newest snapshot with the same host and paths.
    #[default]
    Auto,
    /// This one.
    Id(SnapshotId),
}

/// Exclusion options.
#[derive(Clone, Debug, Default)]
pub struct ExcludeOptions {
    /// `--exclude` patterns.
    pub exclude: Vec<String>,
    /// `--iexclude` patterns.
    pub iexclude: Vec<String>,
    /// `--exclude-file` files.
    pub exclude_files: Vec<PathBuf>,
    /// `--exclude-if-present` names.
    pub exclude_if_present: Vec<String>,
    /// `--exclude-larger-than`.
    pub exclude_larger_than: Option<u64>,
    /// `--one-file-system`.
    pub one_file_system: bool,
}

/// Options of [`backup`].
#[derive(Clone, Debug, Default)]
pub struct BackupOptions {
    /// Exclusions.
    pub excludes: ExcludeOptions,
    /// Tags of the new snapshot.
    pub tags: Vec<String>,
    /// Host name to record (default: this host).
    pub host: Option<String>,
    /// Parent selection.
    pub parent: ParentChoice,
    /// Read every file even when the parent has it unchanged.
    pub force: bool,
    /// Do everything but write to the repository.
    pub dry_run: bool,
    /// Time of the snapshot (default: now).
    pub time: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// The lock the backup runs under: checked right before the snapshot is
    /// written, so that a lost lock fails the backup instead of saving a
    /// snapshot whose data a prune may have removed (SPEC.md §7.4).
    pub lock: Option<crate::lock::LockHandle>,
}

/// A source entry that could not be backed up.
#[derive(Clone, Debug)]
pub struct SourceError {
    /// The path.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

/// The result of a backup.
#[derive(Debug)]
pub struct BackupReport {
    /// The new snapshot (None on a dry run).
    pub snapshot_id: Option<SnapshotId>,
    /// The parent used.
    pub parent: Option<SnapshotId>,
    /// Figures.
    pub summary: SnapshotSummary,
    /// Entries that could not be read (they are not in the snapshot).
    pub errors: Vec<SourceError>,
    /// Files that changed while they were read, and similar.
    pub warnings: Vec<String>,
    /// Bytes read from a command or stdin.
    pub stream_bytes: Option<u64>,
}

#[derive(Default)]
struct Counters {
    files_new: AtomicU64,
    files_changed: AtomicU64,
    files_unmodified: AtomicU64,
    dirs_new: AtomicU64,
    dirs_changed: AtomicU64,
    dirs_unmodified: AtomicU64,
    files: AtomicU64,
    bytes: AtomicU64,
}

struct Ctx<'a> {
    repo: &'a Repository,
    saver: &'a BlobSaver,
    progress: &'a dyn Progress,
    options: &'a BackupOptions,
    exclude: Patterns,
    iexclude: Patterns,
    names: OwnerNames,
    counters: Counters,
    errors: Mutex<Vec<SourceError>>,
    warnings: Mutex<Vec<String>>,
}

impl Ctx<'_> {
    fn error(&self, path: &Path, message: String) {
        if let Ok(mut e) = self.errors.lock() {
            e.push(SourceError {
                path: path.display().to_string(),
                message,
            });
        }
    }

    fn warn(&self, message: String) {
        self.progress.warning(&message);
        if let Ok(mut w) = self.warnings.lock() {
            w.push(message);
        }
    }

    fn excluded(&self, path: &Path) -> bool {
        self.exclude.matches(path) || self.iexclude.matches(path)
    }

    fn count_dir(&self, parent: Option<&Node>, subtree: &BlobId) {
        let c = &self.counters;
        match parent.and_then(|p| p.subtree) {
            None => c.dirs_new.fetch_add(1, Ordering::Relaxed),
            Some(old) if old == *subtree => c.dirs_unmodified.fetch_add(1, Ordering::Relaxed),
            Some(_) => c.dirs_changed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// Make `path` absolute and lexically clean (no `.`, no `..`), as restic does.
pub fn absolute_clean(path: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(path).map_err(|e| Error::io("resolve", path, e))?;
    let mut out = PathBuf::from("/");
    for c in abs.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The snapshot's source tree: real paths under virtual directories that
/// lead to them from the root.
enum Virtual {
    Real(PathBuf),
    Dir(PathBuf, BTreeMap<Vec<u8>, Virtual>),
}

fn build_virtual(paths: &[PathBuf]) -> Virtual {
    let mut root = Virtual::Dir(PathBuf::from("/"), BTreeMap::new());
    for path in paths {
        let parts: Vec<&std::ffi::OsStr> = path
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n),
                _ => None,
            })
            .collect();
        if parts.is_empty() {
            root = Virtual::Real(PathBuf::from("/"));
            continue;
        }
        let mut cur = &mut root;
        let mut at = PathBuf::from("/");
        for (i, part) in parts.iter().enumerate() {
            at.push(part);
            let Virtual::Dir(_, children) = cur else {
                break; // an ancestor is backed up whole already
            };
            let last = i + 1 == parts.len();
            let entry = children
                .entry(part.as_bytes().to_vec())
                .or_insert_with(|| Virtual::Dir(at.clone(), BTreeMap::new()));
            if last {
                *entry = Virtual::Real(at.clone());
            }
            cur = entry;
        }
    }
    root
}

/// Run a backup of `source` into `repo`.
pub fn backup(
    repo: &Arc<Repository>,
    source: Source,
    options: &BackupOptions,
    progress: &dyn Progress,
) -> Result<BackupReport> {
    let start = chrono::Utc::now();
    let (user, this_host) = current_user_and_host();
    let host = options.host.clone().unwrap_or(this_host);
    let mut exclude_patterns = options.excludes.exclude.clone();
    for f in &options.excludes.exclude_files {
        exclude_patterns.extend(read_pattern_file(f)?);
    }
    let exclude = Patterns::new(&exclude_patterns, false)?;
    let iexclude = Patterns::new(&options.excludes.iexclude, true)?;

    let (paths, command) = match &source {
        Source::Paths(p) => {
            let mut abs = Vec::new();
            for path in p {
                let a = absolute_clean(path)?;
                std::fs::symlink_metadata(&a).map_err(|source| Error::SourceUnreadable {
                    path: path.clone(),
                    source,
                })?;
                abs.push(a);
            }
            abs.sort();
            abs.dedup();
            (abs, None)
        }
        Source::Stdin { filename, .. } | Source::Command { filename, .. } => {
            let clean = stream_path(filename)?;
            let argv = match &source {
                Source::Command { argv, .. } => Some(argv.clone()),
                _ => None,
            };
            (vec![clean], argv)
        }
    };
    let path_strings: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();

    repo.load_index()?;
    let snapshots = repo.snapshots()?;
    let parent = match &options.parent {
        ParentChoice::Id(id) => Some(*id),
        ParentChoice::Auto => snapshots
            .iter()
            .rev()
            .find(|(_, s)| s.hostname == host && sorted(&s.paths) == sorted(&path_strings))
            .map(|(id, _)| *id),
    };
    let parent_tree = match parent {
        Some(id) => Some(repo.load_snapshot(&id)?.tree),
        None => None,
    };

    let saver = BlobSaver::new(repo.clone(), options.dry_run)?;
    let ctx = Ctx {
        repo,
        saver: &saver,
        progress,
        options,
        exclude,
        iexclude,
        names: OwnerNames::default(),
        counters: Counters::default(),
        errors: Mutex::new(Vec::new()),
        warnings: Mutex::new(Vec::new()),
    };
    let mut stream_bytes = None;
    let root = match source {
        Source::Paths(_) => {
            let parent_tree = parent_tree.map(|t| repo.load_tree(&t)).transpose()?;
            match build_virtual(&paths) {
                Virtual::Real(root) => {
                    let meta = std::fs::symlink_metadata(&root)
                        .map_err(|e| Error::io("back up", &root, e))?;
                    let limit = options.excludes.one_file_system.then(|| meta.dev());
                    save_dir_contents(&ctx, &root, parent_tree.as_ref(), limit)?
                }
                Virtual::Dir(_, children) => save_virtual(&ctx, &children, parent_tree.as_ref())?,
            }
        }
        Source::Stdin { filename, reader } => {
            let (root, n) = save_stream(&ctx, &filename, reader)?;
            stream_bytes = Some(n);
            root
        }
        Source::Command { filename, argv } => {
            let (root, n) = save_command(&ctx, &filename, &argv)?;
            stream_bytes = Some(n);
            root
        }
    };

    let packs = saver.finish()?;
    let s = saver.stats();
    let c = &ctx.counters;
    let end = chrono::Utc::now();
    let summary = SnapshotSummary {
        backup_start: timestamp(&start),
        backup_end: timestamp(&end),
        files_new: c.files_new.load(Ordering::Relaxed),
        files_changed: c.files_changed.load(Ordering::Relaxed),
        files_unmodified: c.files_unmodified.load(Ordering::Relaxed),
        dirs_new: c.dirs_new.load(Ordering::Relaxed),
        dirs_changed: c.dirs_changed.load(Ordering::Relaxed),
        dirs_unmodified: c.dirs_unmodified.load(Ordering::Relaxed),
        data_blobs: s.data_blobs.load(Ordering::Relaxed),
        tree_blobs: s.tree_blobs.load(Ordering::Relaxed),
        data_added: s.data_added.load(Ordering::Relaxed),
        data_added_packed: s.data_added_packed.load(Ordering::Relaxed),
        total_files_processed: c.files.load(Ordering::Relaxed),
        total_bytes_processed: c.bytes.load(Ordering::Relaxed),
    };
    let errors = ctx.errors.into_inner().unwrap_or_default();
    let warnings = ctx.warnings.into_inner().unwrap_or_default();
    if options.dry_run {
        return Ok(BackupReport {
            snapshot_id: None,
            parent,
            summary,
            errors,
            warnings,
            stream_bytes,
        });
    }
    // Packs, then the index that names them, then the snapshot that needs
    // both: a crash at any point leaves nothing half-referenced.
    repo.save_index(packs)?;
    let time = options
        .time
        .unwrap_or_else(|| start.with_timezone(&chrono::Local).fixed_offset());
    let mut tags = options.tags.clone();
    tags.sort();
    tags.dedup();
    let snapshot = Snapshot {
        time: timestamp(&time.with_timezone(&chrono::Utc)),
        utc_offset: time.offset().local_minus_utc(),
        tree: root,
        paths: path_strings,
        hostname: host,
        username: user,
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        tags,
        parent,
        excludes: exclude_patterns,
        command,
        original: None,
        program_version: format!("vault {}", env!("CARGO_PKG_VERSION")),
        summary: Some(summary.clone()),
    };
    if let Some(lock) = &options.lock {
        lock.check()?;
    }
    let id = repo.save_snapshot(&snapshot)?;
    Ok(BackupReport {
        snapshot_id: Some(id),
        parent,
        summary,
        errors,
        warnings,
        stream_bytes,
    })
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

/// A timestamp from a chrono time.
pub fn timestamp<Tz: chrono::TimeZone>(t: &chrono::DateTime<Tz>) -> Timestamp {
    Timestamp {
        secs: t.timestamp(),
        nanos: t.timestamp_subsec_nanos(),
    }
}

/// The snapshot path of a stream's file: `/` + the cleaned name.
fn stream_path(filename: &str) -> Result<PathBuf> {
    let mut out = PathBuf::from("/");
    for c in Path::new(filename).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            _ => {
                return Err(Error::InvalidArgument {
                    what: "--stdin-filename",
                    detail: format!("{filename:?} must not contain '..'"),
                });
            }
        }
    }
    if out == Path::new("/") {
        return Err(Error::InvalidArgument {
            what: "--stdin-filename",
            detail: "give a file name, for example mydb.sql".to_owned(),
        });
    }
    Ok(out)
}

fn save_tree(ctx: &Ctx<'_>, mut nodes: Vec<Node>) -> Result<BlobId> {
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    let tree = Tree { nodes };
    ctx.saver
        .save(BlobKind::Tree, tree.encode())
        .map(|(id, _)| id)
}

fn find<'t>(tree: Option<&'t Tree>, name: &[u8]) -> Option<&'t Node> {
    let tree = tree?;
    tree.nodes
        .binary_search_by(|n| n.name.as_slice().cmp(name))
        .ok()
        .and_then(|i| tree.nodes.get(i))
}

fn load_subtree(ctx: &Ctx<'_>, parent: Option<&Node>) -> Option<Tree> {
    let id = parent.filter(|p| p.kind == NodeKind::Dir)?.subtree?;
    // A parent tree that cannot be read only costs re-reading the files.
    ctx.repo.load_tree(&id).ok()
}

fn save_virtual(
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
                Virtual::Dir(path, grandchildren) => {
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

fn save_dir_contents(
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
    if ctx.excluded(path) {
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

/// Fill `node.content`; false when the file could not be read.
fn save_file(
    ctx: &Ctx<'_>,
    path: &Path,
    meta: &std::fs::Metadata,
    node: &mut Node,
    old: Option<&Node>,
) -> Result<bool> {
    let c = &ctx.counters;
    if let Some(old) = old.filter(|o| !ctx.options.force && unchanged(node, o)) {
        let index = ctx.repo.index();
        if old
            .content
            .iter()
            .all(|id| index.contains(BlobKind::Data, id))
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
    let (content, size) = match save_chunks(ctx, &file, meta.size()) {
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

enum ChunkError {
    Read(std::io::Error),
    Repo(Error),
}

fn save_chunks(
    ctx: &Ctx<'_>,
    reader: impl Read,
    size_hint: u64,
) -> std::result::Result<(Vec<BlobId>, u64), ChunkError> {
    let mut content = Vec::new();
    let mut size = 0u64;
    let key = ctx.repo.key();
    for chunk in Chunker::with_size_hint(
        reader,
        &ctx.repo.config().chunker,
        key.chunker_seed,
        size_hint,
    ) {
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

/// Store a stream as the file at `filename` inside otherwise virtual
/// directories; returns the root tree and the bytes read.
fn save_stream(ctx: &Ctx<'_>, filename: &str, reader: impl Read) -> Result<(BlobId, u64)> {
    let (content, size) = match save_chunks(ctx, reader, 1 << 20) {
        Ok(r) => r,
        Err(ChunkError::Read(e)) => return Err(Error::io("read", "standard input", e)),
        Err(ChunkError::Repo(e)) => return Err(e),
    };
    ctx.counters.files_new.fetch_add(1, Ordering::Relaxed);
    ctx.counters.files.fetch_add(1, Ordering::Relaxed);
    let root = stream_tree(ctx, &stream_path(filename)?, content, size)?;
    Ok((root, size))
}

fn stream_tree(ctx: &Ctx<'_>, path: &Path, content: Vec<BlobId>, size: u64) -> Result<BlobId> {
    let now = timestamp(&chrono::Utc::now());
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    let names: Vec<Vec<u8>> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.as_bytes().to_vec()),
            _ => None,
        })
        .collect();
    let mut below: Option<(Vec<u8>, Node)> = None;
    for (i, name) in names.iter().enumerate().rev() {
        let last = i + 1 == names.len();
        let mut node = Node::new(
            name.clone(),
            if last { NodeKind::File } else { NodeKind::Dir },
        );
        node.uid = uid;
        node.gid = gid;
        node.mtime = now;
        node.atime = now;
        node.ctime = now;
        if last {
            node.mode = 0o644;
            node.size = size;
            node.content = content.clone();
        } else {
            node.mode = 0o755;
            let (_, child) = below.take().ok_or(Error::Internal("stream tree"))?;
            node.subtree = Some(save_tree(ctx, vec![child])?);
            ctx.counters.dirs_new.fetch_add(1, Ordering::Relaxed);
        }
        below = Some((name.clone(), node));
    }
    let (_, top) = below.ok_or(Error::Internal("stream tree"))?;
    save_tree(ctx, vec![top])
}

/// Back up a command's standard output; fail, saving no snapshot, when the
/// command fails.
fn save_command(ctx: &Ctx<'_>, filename: &str, argv: &[String]) -> Result<(BlobId, u64)> {
    let (program, args) = argv.split_first().ok_or(Error::InvalidArgument {
        what: "--stdin-from-command",
        detail: "give the command after --, for example -- pg_dump mydb".to_owned(),
    })?;
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::CommandFailed {
            command: argv.join(" "),
            status: format!("could not start: {e}"),
            stderr_tail: String::new(),
        })?;
    let stdout = child.stdout.take().ok_or(Error::Internal("child stdout"))?;
    let stderr = child.stderr.take().ok_or(Error::Internal("child stderr"))?;
    // Pass the command's stderr through, keeping its tail for the error.
    let tail_reader = std::thread::spawn(move || {
        let mut tail: Vec<u8> = Vec::new();
        let mut buf = [0u8; 4096];
        let mut stderr = stderr;
        let mut out = std::io::stderr();
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            let chunk = buf.get(..n).unwrap_or_default();
            let _ = std::io::Write::write_all(&mut out, chunk);
            tail.extend_from_slice(chunk);
            if tail.len() > 4096 {
                tail.drain(..tail.len() - 4096);
            }
        }
        String::from_utf8_lossy(&tail).into_owned()
    });
    let result = save_chunks(ctx, stdout, 1 << 20);
    let status = child
        .wait()
        .map_err(|e| Error::io("wait for", program, e))?;
    let stderr_tail = tail_reader.join().unwrap_or_default();
    if !status.success() {
        let status = match (
            status.code(),
            std::os::unix::process::ExitStatusExt::signal(&status),
        ) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            _ => status.to_string(),
        };
        return Err(Error::CommandFailed {
            command: argv.join(" "),
            status,
            stderr_tail,
        });
    }
    let (content, size) = match result {
        Ok(r) => r,
        Err(ChunkError::Read(e)) => return Err(Error::io("read output of", program, e)),
        Err(ChunkError::Repo(e)) => return Err(e),
    };
    ctx.counters.files_new.fetch_add(1, Ordering::Relaxed);
    ctx.counters.files.fetch_add(1, Ordering::Relaxed);
    let root = stream_tree(ctx, &stream_path(filename)?, content, size)?;
    Ok((root, size))
}
