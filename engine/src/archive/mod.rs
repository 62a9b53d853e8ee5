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
use crate::error::{CommandFailure, Error, Result};
use crate::exclude::{Patterns, read_pattern_file};
use crate::metadata::{OwnerNames, node_from_metadata};
use crate::progress::Progress;
use crate::repo::{Repository, current_user_and_host};
use rayon::prelude::*;
use repo_format::config::ChunkerParams;
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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
    /// Files and directories (possibly none) and, beside them, the
    /// standard output of each command stored as its own file
    /// (`vault backup --command NAME=CMD`). The commands run concurrently,
    /// each streamed through the chunker; if any fails, no snapshot is saved.
    PathsAndCommands {
        /// Files and directories.
        paths: Vec<PathBuf>,
        /// The commands.
        commands: Vec<NamedCommand>,
    },
}

/// A command whose standard output becomes one file of the snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedCommand {
    /// Path of the file inside the snapshot (relative to the root).
    pub filename: String,
    /// The command line, run with `sh -c`.
    pub shell: String,
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
    /// Bytes read from commands or stdin, all together.
    pub stream_bytes: Option<u64>,
    /// Each stream stored (standard input or a command's output), in the
    /// order given.
    pub streams: Vec<StreamReport>,
}

/// One stream a backup stored as a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamReport {
    /// Path of the file inside the snapshot.
    pub path: String,
    /// The command whose output it is; None for standard input.
    pub command: Option<String>,
    /// Bytes read.
    pub bytes: u64,
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
    streams: Vec<Stream>,
    stream_reports: Mutex<Vec<(usize, StreamReport)>>,
    failures: Mutex<Vec<(usize, CommandFailure)>>,
    /// Set when a command failed: the snapshot will not be saved, so the
    /// other commands are stopped and the walk skips what is left.
    failed: AtomicBool,
    /// Process ids of the commands running now, to stop them when one fails.
    running: Mutex<Vec<(usize, u32)>>,
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

    fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Record a failed command and stop the others.
    fn command_failed(&self, index: usize, failure: CommandFailure) {
        self.failed.store(true, Ordering::Relaxed);
        if let Ok(mut f) = self.failures.lock() {
            f.push((index, failure));
        }
        if let Ok(running) = self.running.lock() {
            for (i, pid) in running.iter() {
                if *i != index {
                    terminate(*pid);
                }
            }
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

/// Where a stream's bytes come from.
enum StreamInput {
    Reader(Box<dyn Read + Send>),
    Program(Vec<String>),
    Shell(String),
}

/// A stream stored as one file of the snapshot.
struct Stream {
    /// Absolute path inside the snapshot.
    path: PathBuf,
    /// The command line, for messages and the report; None for stdin.
    command: Option<String>,
    /// Taken when the stream is read.
    input: Mutex<Option<StreamInput>>,
}

impl Stream {
    fn new(what: &'static str, filename: &str, input: StreamInput) -> Result<Self> {
        let command = match &input {
            StreamInput::Reader(_) => None,
            StreamInput::Program(argv) => Some(argv.join(" ")),
            StreamInput::Shell(line) => Some(line.clone()),
        };
        Ok(Stream {
            path: stream_path(what, filename)?,
            command,
            input: Mutex::new(Some(input)),
        })
    }
}

/// The snapshot's source tree: real paths and streams under virtual
/// directories that lead to them from the root. A virtual directory has a
/// path on disk when a real path lies below it; one that leads only to
/// streams is made up.
enum Virtual {
    Real(PathBuf),
    Stream(usize),
    Dir(Option<PathBuf>, BTreeMap<Vec<u8>, Virtual>),
}

fn normal_parts(path: &Path) -> Vec<&std::ffi::OsStr> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect()
}

/// Place each stream's file among the real paths; a stream may not land
/// inside a backed-up directory or on another stream.
fn add_streams(root: &mut Virtual, streams: &[Stream]) -> Result<()> {
    for (index, stream) in streams.iter().enumerate() {
        let clash = |with: String| Error::InvalidArgument {
            what: "stream file name",
            detail: format!(
                "{} would be {with}; choose another name",
                stream.path.display()
            ),
        };
        let parts = normal_parts(&stream.path);
        let mut cur = &mut *root;
        for (i, part) in parts.iter().enumerate() {
            let children = match cur {
                Virtual::Dir(_, children) => children,
                Virtual::Real(p) => {
                    return Err(clash(format!("inside the backed-up path {}", p.display())));
                }
                Virtual::Stream(other) => {
                    let other = streams.get(*other).map(|s| s.path.display().to_string());
                    return Err(clash(format!(
                        "inside the stream file {}",
                        other.unwrap_or_default()
                    )));
                }
            };
            let name = part.as_bytes().to_vec();
            if i + 1 == parts.len() {
                match children.get(&name) {
                    None => {}
                    Some(Virtual::Stream(_)) => return Err(clash("stored twice".to_owned())),
                    Some(Virtual::Real(p)) => {
                        return Err(clash(format!("the backed-up path {}", p.display())));
                    }
                    Some(Virtual::Dir(..)) => {
                        return Err(clash("a directory that holds backed-up paths".to_owned()));
                    }
                }
                children.insert(name, Virtual::Stream(index));
                break;
            }
            cur = children
                .entry(name)
                .or_insert_with(|| Virtual::Dir(None, BTreeMap::new()));
        }
    }
    Ok(())
}

fn build_virtual(paths: &[PathBuf]) -> Virtual {
    let mut root = Virtual::Dir(Some(PathBuf::from("/")), BTreeMap::new());
    for path in paths {
        let parts = normal_parts(path);
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
                .or_insert_with(|| Virtual::Dir(Some(at.clone()), BTreeMap::new()));
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

    let (sources, streams, command) = match source {
        Source::Paths(paths) => (paths, Vec::new(), None),
        Source::PathsAndCommands { paths, commands } => {
            // Recorded as the options that made the snapshot (SPEC.md §7.3).
            let record: Vec<String> = commands
                .iter()
                .flat_map(|c| {
                    [
                        "--command".to_owned(),
                        format!("{}={}", c.filename, c.shell),
                    ]
                })
                .collect();
            let streams = commands
                .into_iter()
                .map(|c| Stream::new("--command", &c.filename, StreamInput::Shell(c.shell)))
                .collect::<Result<Vec<_>>>()?;
            (paths, streams, (!record.is_empty()).then_some(record))
        }
        Source::Stdin { filename, reader } => (
            Vec::new(),
            vec![Stream::new(
                "--stdin-filename",
                &filename,
                StreamInput::Reader(reader),
            )?],
            None,
        ),
        Source::Command { filename, argv } => {
            if argv.is_empty() {
                return Err(Error::InvalidArgument {
                    what: "--stdin-from-command",
                    detail: "give the command after --, for example -- pg_dump mydb".to_owned(),
                });
            }
            let stream = Stream::new(
                "--stdin-filename",
                &filename,
                StreamInput::Program(argv.clone()),
            )?;
            (Vec::new(), vec![stream], Some(argv))
        }
    };
    let mut paths = Vec::new();
    for path in &sources {
        let a = absolute_clean(path)?;
        std::fs::symlink_metadata(&a).map_err(|source| Error::SourceUnreadable {
            path: path.clone(),
            source,
        })?;
        paths.push(a);
    }
    paths.sort();
    paths.dedup();
    let mut tree = build_virtual(&paths);
    add_streams(&mut tree, &streams)?;
    let mut all_paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    all_paths.extend(streams.iter().map(|s| s.path.as_path()));
    all_paths.sort();
    let path_strings: Vec<String> = all_paths.iter().map(|p| p.display().to_string()).collect();

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
        streams,
        stream_reports: Mutex::new(Vec::new()),
        failures: Mutex::new(Vec::new()),
        failed: AtomicBool::new(false),
        running: Mutex::new(Vec::new()),
    };
    let parent_tree = parent_tree.map(|t| repo.load_tree(&t)).transpose()?;
    let root = match &tree {
        Virtual::Real(root) => {
            let meta =
                std::fs::symlink_metadata(root).map_err(|e| Error::io("back up", root, e))?;
            let limit = options.excludes.one_file_system.then(|| meta.dev());
            save_dir_contents(&ctx, root, parent_tree.as_ref(), limit)?
        }
        Virtual::Dir(_, children) => save_virtual(&ctx, children, parent_tree.as_ref())?,
        Virtual::Stream(_) => return Err(Error::Internal("a stream at the snapshot root")),
    };
    let mut failures = ctx.failures.into_inner().unwrap_or_default();
    if !failures.is_empty() {
        // Nothing is committed: the packs written so far are unreferenced,
        // as after an interrupted backup (SPEC.md §8).
        failures.sort_by_key(|(i, _)| *i);
        return Err(Error::CommandFailed {
            failures: failures.into_iter().map(|(_, f)| f).collect(),
        });
    }
    let mut streams = ctx.stream_reports.into_inner().unwrap_or_default();
    streams.sort_by_key(|(i, _)| *i);
    let streams: Vec<StreamReport> = streams.into_iter().map(|(_, r)| r).collect();
    let stream_bytes = (!streams.is_empty()).then(|| streams.iter().map(|s| s.bytes).sum());

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
            streams,
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
        streams,
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
fn stream_path(what: &'static str, filename: &str) -> Result<PathBuf> {
    let mut out = PathBuf::from("/");
    for c in Path::new(filename).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            _ => {
                return Err(Error::InvalidArgument {
                    what,
                    detail: format!("{filename:?} must not contain '..'"),
                });
            }
        }
    }
    if out == Path::new("/") {
        return Err(Error::InvalidArgument {
            what,
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

enum ChunkError {
    Read(std::io::Error),
    Repo(Error),
}

fn save_chunks(
    ctx: &Ctx<'_>,
    reader: impl Read,
    size_hint: u64,
    params: &ChunkerParams,
) -> std::result::Result<(Vec<BlobId>, u64), ChunkError> {
    let mut content = Vec::new();
    let mut size = 0u64;
    let key = ctx.repo.key();
    for chunk in Chunker::with_size_hint(reader, params, key.chunker_seed, size_hint) {
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
fn made_up_node(name: Vec<u8>, kind: NodeKind) -> Node {
    let now = timestamp(&chrono::Utc::now());
    let mut node = Node::new(name, kind);
    node.uid = nix::unistd::getuid().as_raw();
    node.gid = nix::unistd::getgid().as_raw();
    node.mtime = now;
    node.atime = now;
    node.ctime = now;
    node
}

/// Store stream `index` as a file; `Ok(None)` when its command failed or was
/// stopped (the failure is recorded and the backup saves no snapshot).
fn save_stream(
    ctx: &Ctx<'_>,
    index: usize,
    name: Vec<u8>,
    old: Option<&Node>,
) -> Result<Option<Node>> {
    let stream = ctx
        .streams
        .get(index)
        .ok_or(Error::Internal("stream index"))?;
    let input = stream
        .input
        .lock()
        .ok()
        .and_then(|mut i| i.take())
        .ok_or(Error::Internal("stream read twice"))?;
    if ctx.failed() {
        return Ok(None);
    }
    let (content, size) = match input {
        StreamInput::Reader(reader) => {
            match save_chunks(ctx, reader, STREAM_SIZE_HINT, &stream_params(ctx)) {
                Ok(r) => r,
                Err(ChunkError::Read(e)) => return Err(Error::io("read", "standard input", e)),
                Err(ChunkError::Repo(e)) => return Err(e),
            }
        }
        StreamInput::Program(argv) => {
            let (program, args) = argv.split_first().ok_or(Error::Internal("empty argv"))?;
            let mut command = std::process::Command::new(program);
            command.args(args);
            match save_command(ctx, index, stream, command)? {
                Some(r) => r,
                None => return Ok(None),
            }
        }
        StreamInput::Shell(line) => {
            let mut command = std::process::Command::new("sh");
            command.arg("-c").arg(line);
            match save_command(ctx, index, stream, command)? {
                Some(r) => r,
                None => return Ok(None),
            }
        }
    };
    if let Ok(mut reports) = ctx.stream_reports.lock() {
        reports.push((
            index,
            StreamReport {
                path: stream.path.display().to_string(),
                command: stream.command.clone(),
                bytes: size,
            },
        ));
    }
    let c = &ctx.counters;
    match old {
        Some(_) => c.files_changed.fetch_add(1, Ordering::Relaxed),
        None => c.files_new.fetch_add(1, Ordering::Relaxed),
    };
    c.files.fetch_add(1, Ordering::Relaxed);
    let mut node = made_up_node(name, NodeKind::File);
    node.mode = 0o644;
    node.size = size;
    node.content = content;
    Ok(Some(node))
}

/// How streams are chunked (smaller chunks than files: see
/// [`ChunkerParams::for_streams`]).
fn stream_params(ctx: &Ctx<'_>) -> ChunkerParams {
    ctx.repo.config().chunker.for_streams()
}

/// Streams have no size to go by; this picks the chunker's read buffer.
const STREAM_SIZE_HINT: u64 = 1 << 20;

/// Stderr kept for the error: at most this many bytes, then lines.
const STDERR_TAIL_BYTES: usize = 2048;
const STDERR_TAIL_LINES: usize = 10;

/// The end of a command's stderr as kept for the error message.
fn stderr_tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let from = lines.len().saturating_sub(STDERR_TAIL_LINES);
    lines.get(from..).unwrap_or_default().join("\n")
}

/// How a process ended, in words.
fn describe_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => match nix::sys::signal::Signal::try_from(sig) {
            Ok(name) => format!("killed by signal {sig} ({name})"),
            Err(_) => format!("killed by signal {sig}"),
        },
        _ => status.to_string(),
    }
}

/// Ask a command, and every process it started, to stop (another command
/// failed, so its output is not needed). Each command leads its own process
/// group, so that a shell's children (`pg_dump … | gzip`) are reached too.
/// Errors are ignored: it may have ended already.
fn terminate(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(-pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
}

/// A reader that fails once another command has failed, so that a command
/// whose output is no longer wanted is not read to its end.
struct UnlessFailed<'a, R> {
    inner: R,
    failed: &'a AtomicBool,
}

impl<R: Read> Read for UnlessFailed<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.failed.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("another command failed"));
        }
        self.inner.read(buf)
    }
}

/// Run a command and chunk its standard output as it comes (never holding
/// more than a chunk of it). Its stderr passes through to ours, keeping the
/// tail for the error. `Ok(None)` when it failed or was stopped; the
/// failure is recorded in `ctx`.
fn save_command(
    ctx: &Ctx<'_>,
    index: usize,
    stream: &Stream,
    mut command: std::process::Command,
) -> Result<Option<(Vec<BlobId>, u64)>> {
    let path = stream.path.display().to_string();
    let line = stream.command.clone().unwrap_or_default();
    let failure = |status: String, stderr_tail: String| CommandFailure {
        path: path.clone(),
        command: line.clone(),
        status,
        stderr_tail,
    };
    let spawned = std::os::unix::process::CommandExt::process_group(&mut command, 0)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            ctx.command_failed(
                index,
                failure(format!("could not start: {e}"), String::new()),
            );
            return Ok(None);
        }
    };
    if let Ok(mut running) = ctx.running.lock() {
        running.push((index, child.id()));
    }
    if ctx.failed() {
        terminate(child.id());
    }
    let stdout = child.stdout.take().ok_or(Error::Internal("child stdout"))?;
    let stderr = child.stderr.take().ok_or(Error::Internal("child stderr"))?;
    let tail_reader = std::thread::spawn(move || pass_stderr_through(stderr));
    let result = save_chunks(
        ctx,
        UnlessFailed {
            inner: stdout,
            failed: &ctx.failed,
        },
        STREAM_SIZE_HINT,
        &stream_params(ctx),
    );
    if result.is_err() {
        // Not read to the end: stop it rather than wait for it to finish.
        terminate(child.id());
    }
    let waited = child.wait();
    if let Ok(mut running) = ctx.running.lock() {
        running.retain(|(i, _)| *i != index);
    }
    let status = waited.map_err(|e| Error::io("wait for", &line, e))?;
    if !status.success() {
        // What it left running would hold its stderr open.
        terminate(child.id());
    }
    let tail = tail_reader.join().unwrap_or_default();
    let result = match result {
        Err(ChunkError::Repo(e)) => return Err(e),
        Err(ChunkError::Read(e)) => Err(e),
        Ok(r) => Ok(r),
    };
    if ctx.failed() && (result.is_err() || !status.success()) {
        // Stopped because another command failed: that one is the error.
        return Ok(None);
    }
    if !status.success() {
        ctx.command_failed(index, failure(describe_status(status), tail));
        return Ok(None);
    }
    match result {
        Ok(r) => Ok(Some(r)),
        Err(e) => {
            ctx.command_failed(
                index,
                failure(format!("reading its output failed: {e}"), tail),
            );
            Ok(None)
        }
    }
}

/// Copy a command's stderr to ours as it comes; return its tail.
fn pass_stderr_through(mut stderr: impl Read) -> String {
    let mut tail: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    let mut out = std::io::stderr();
    while let Ok(n) = stderr.read(&mut buf) {
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or_default();
        let _ = std::io::Write::write_all(&mut out, chunk);
        tail.extend_from_slice(chunk);
        if tail.len() > STDERR_TAIL_BYTES {
            tail.drain(..tail.len() - STDERR_TAIL_BYTES);
        }
    }
    stderr_tail(&tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_tail_keeps_the_last_ten_lines() {
        let text: String = (1..=15).map(|i| format!("line {i}\n")).collect();
        let tail = stderr_tail(text.as_bytes());
        assert_eq!(tail.lines().count(), 10);
        assert!(tail.starts_with("line 6\n"), "{tail}");
        assert!(tail.ends_with("line 15"), "{tail}");
    }

    #[test]
    fn add_streams_refuses_a_stream_inside_a_backed_up_path() {
        let mut tree = build_virtual(&[PathBuf::from("/srv/app")]);
        let inside = Stream::new(
            "--command",
            "srv/app/db.sql",
            StreamInput::Shell("true".into()),
        );
        let err = add_streams(&mut tree, &[inside.unwrap()]).unwrap_err();
        assert!(
            err.to_string()
                .contains("inside the backed-up path /srv/app"),
            "{err}"
        );
    }

    #[test]
    fn add_streams_refuses_the_same_name_twice_and_a_backed_up_ancestor() {
        let mut tree = build_virtual(&[PathBuf::from("/srv/app")]);
        let twice = ["db.sql", "./db.sql"]
            .map(|n| Stream::new("--command", n, StreamInput::Shell("true".into())).unwrap());
        let err = add_streams(&mut tree, &twice).unwrap_err();
        assert!(err.to_string().contains("stored twice"), "{err}");
        let srv = Stream::new("--command", "srv", StreamInput::Shell("true".into())).unwrap();
        let err = add_streams(&mut tree, &[srv]).unwrap_err();
        assert!(err.to_string().contains("holds backed-up paths"), "{err}");
    }

    #[test]
    fn add_streams_puts_streams_beside_real_paths() {
        let mut tree = build_virtual(&[PathBuf::from("/srv/app")]);
        let streams = ["srv/db.sql", "dumps/a.sql", "dumps/b.sql"]
            .map(|n| Stream::new("--command", n, StreamInput::Shell("true".into())).unwrap());
        add_streams(&mut tree, &streams).unwrap();
        let Virtual::Dir(_, root) = &tree else {
            panic!("root")
        };
        let Some(Virtual::Dir(Some(srv), srv_children)) = root.get(&b"srv"[..]) else {
            panic!("srv")
        };
        assert_eq!(srv, Path::new("/srv"));
        assert!(matches!(
            srv_children.get(&b"db.sql"[..]),
            Some(Virtual::Stream(0))
        ));
        let Some(Virtual::Dir(None, dumps)) = root.get(&b"dumps"[..]) else {
            panic!("dumps")
        };
        assert_eq!(dumps.len(), 2);
    }
}
