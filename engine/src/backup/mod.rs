//! Backup: walk the sources beside the parent snapshot's trees, chunk what
//! changed, save trees bottom-up, then the index, then the snapshot.
//!
//! Files and directories are processed in parallel (rayon); each chunk is
//! hashed on the reading thread and, when new, sealed by the saver's
//! workers while reading goes on, and packed and uploaded by the packer's
//! threads — reading, chunking, hashing, compressing, encrypting and
//! writing overlap.
//!
//! - [`sources`]: what to back up, laid out as the snapshot's tree;
//! - [`walk`]: files and directories;
//! - [`streams`]: standard input and commands;
//! - [`chunker`]: content-defined chunking.

pub mod chunker;
pub mod record;
pub mod sources;
mod streams;
mod walk;

pub use sources::{NamedCommand, Source, absolute_clean};

use crate::error::{Error, Result};
use crate::exclude::{Patterns, read_pattern_file};
use crate::metadata::OwnerNames;
use crate::progress::Progress;
use crate::repository::saver::BlobSaver;
use crate::repository::{Repository, current_user_and_host};
use repo_format::snapshot::{Snapshot, SnapshotSummary};
use repo_format::tree::{Node, Timestamp};
use repo_format::{BlobId, SnapshotId};
use sources::Virtual;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use streams::Streams;

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
    pub lock: Option<crate::repository::lock::LockHandle>,
    /// How the environment of the commands the backup starts differs from
    /// this process's.
    pub command_env: CommandEnv,
}

/// Changes to the environment a command inherits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandEnv {
    /// Variables it does not get (secrets of the caller).
    pub remove: Vec<String>,
    /// Variables it gets, set to these values.
    pub set: Vec<(String, String)>,
}

impl CommandEnv {
    /// Apply to `command`.
    pub fn apply(&self, command: &mut std::process::Command) {
        for name in &self.remove {
            command.env_remove(name);
        }
        command.envs(self.set.iter().map(|(k, v)| (k, v)));
    }
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

/// What the walk of one backup shares.
struct Ctx<'a> {
    repo: &'a Repository,
    saver: &'a BlobSaver,
    /// The chunker's gear tables, made once per backup.
    gear: Arc<repo_format::keyring::GearTables>,
    /// A put-only key's record of its backups, which stands in for the
    /// parent snapshot's trees (see [`record`]).
    record: Option<record::Record>,
    progress: &'a dyn Progress,
    options: &'a BackupOptions,
    exclude: Patterns,
    iexclude: Patterns,
    names: OwnerNames,
    counters: Counters,
    errors: Mutex<Vec<SourceError>>,
    warnings: Mutex<Vec<String>>,
    streams: Streams,
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

    /// Whether a command failed (the snapshot will not be saved).
    fn failed(&self) -> bool {
        self.streams.failed()
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

    /// The snapshot's figures, the walk and the uploads done.
    fn summary(&self, start: &chrono::DateTime<chrono::Utc>) -> SnapshotSummary {
        let s = self.saver.stats();
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SnapshotSummary {
            backup_start: Timestamp::from_datetime(start),
            backup_end: Timestamp::from_datetime(&chrono::Utc::now()),
            files_new: load(&c.files_new),
            files_changed: load(&c.files_changed),
            files_unmodified: load(&c.files_unmodified),
            dirs_new: load(&c.dirs_new),
            dirs_changed: load(&c.dirs_changed),
            dirs_unmodified: load(&c.dirs_unmodified),
            data_blobs: load(&s.data_blobs),
            tree_blobs: load(&s.tree_blobs),
            data_added: load(&s.data_added),
            data_added_packed: load(&s.data_added_packed),
            total_files_processed: load(&c.files),
            total_bytes_processed: load(&c.bytes),
        }
    }
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
    let prepared = sources::prepare(source)?;

    // A backup only adds: an index file that does not open (damage, or
    // garbage planted with server credentials) is reported and skipped;
    // the blobs only it lists are stored again.
    let damaged_index = repo.load_index(crate::repository::index::LoadMode::Tolerant)?;
    let record = match options.dry_run {
        true => None,
        false => record::Record::open(repo, &host, &prepared.paths)?,
    };
    let (parent, parent_tree) = if repo.is_put_only() {
        parent_from_record(record.as_ref(), &options.parent)?
    } else {
        let parent = choose_parent(repo, &options.parent, &host, &prepared.paths)?;
        let parent_tree = match parent {
            Some(id) => Some(repo.load_tree(&repo.load_snapshot(&id)?.tree)?),
            None => None,
        };
        (parent, parent_tree)
    };

    let saver = BlobSaver::new(repo.clone(), options.dry_run)?;
    let ctx = Ctx {
        repo,
        saver: &saver,
        gear: chunker::gear_of(repo.keyring()),
        record,
        progress,
        options,
        exclude,
        iexclude,
        names: OwnerNames::default(),
        counters: Counters::default(),
        errors: Mutex::new(Vec::new()),
        warnings: Mutex::new(Vec::new()),
        streams: Streams::new(prepared.streams),
    };
    for (id, e) in damaged_index {
        ctx.warn(format!(
            "index file {} does not open and was skipped ({}); run 'vault check'",
            id.short(),
            e.detail()
        ));
    }
    let root = match &prepared.tree {
        Virtual::Real(root) => {
            let meta =
                std::fs::symlink_metadata(root).map_err(|e| Error::io("back up", root, e))?;
            let limit = options.excludes.one_file_system.then(|| meta.dev());
            walk::save_dir_contents(&ctx, root, parent_tree.as_ref(), limit)?
        }
        Virtual::Dir(_, children) => walk::save_virtual(&ctx, children, parent_tree.as_ref())?,
        Virtual::Stream(_) => return Err(Error::Internal("a stream at the snapshot root")),
    };
    let packs = saver.finish();
    let summary = ctx.summary(&start);
    let (failures, streams) = ctx.streams.finish();
    if !failures.is_empty() {
        // Nothing is committed: the packs written so far are unreferenced,
        // as after an interrupted backup (SPEC.md §8).
        return Err(Error::CommandFailed { failures });
    }
    let packs = packs?;
    let mut report = BackupReport {
        snapshot_id: None,
        parent,
        summary,
        errors: ctx.errors.into_inner().unwrap_or_default(),
        warnings: ctx.warnings.into_inner().unwrap_or_default(),
        stream_bytes: (!streams.is_empty()).then(|| streams.iter().map(|s| s.bytes).sum()),
        streams,
    };
    if options.dry_run {
        return Ok(report);
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
        time: Timestamp::from_datetime(&time),
        utc_offset: time.offset().local_minus_utc(),
        tree: root,
        paths: prepared.paths,
        hostname: host,
        username: user,
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        tags,
        parent,
        excludes: exclude_patterns,
        command: prepared.command,
        original: None,
        program_version: format!("vault {}", env!("CARGO_PKG_VERSION")),
        summary: Some(report.summary.clone()),
    };
    if let Some(lock) = &options.lock {
        lock.check()?;
    }
    let id = repo.save_snapshot(&snapshot)?;
    report.snapshot_id = Some(id);
    if let Some(record) = &ctx.record
        && let Err(e) = record.finish(id, root)
    {
        report
            .warnings
            .push(format!("{}; the next backup reads every file again", e));
    }
    Ok(report)
}

/// A put-only key's parent: the last backup of the same host and paths
/// its record holds (it cannot read snapshots).
fn parent_from_record(
    record: Option<&record::Record>,
    choice: &ParentChoice,
) -> Result<(Option<SnapshotId>, Option<repo_format::tree::Tree>)> {
    if let ParentChoice::Id(_) = choice {
        return Err(Error::InvalidArgument {
            what: "--parent",
            detail: "a put-only key cannot read a snapshot; it compares with its own record \
                     of its last backup (in the cache directory)"
                .into(),
        });
    }
    let Some(record) = record else {
        return Ok((None, None));
    };
    Ok(record
        .head()
        .and_then(|(snapshot, tree)| Some((Some(snapshot), Some(record.load_tree(&tree)?))))
        .unwrap_or((None, None)))
}

/// The parent snapshot: the one asked for, or the newest with the same
/// host and paths.
fn choose_parent(
    repo: &Repository,
    choice: &ParentChoice,
    host: &str,
    paths: &[String],
) -> Result<Option<SnapshotId>> {
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    Ok(match choice {
        ParentChoice::Id(id) => Some(*id),
        ParentChoice::Auto => repo
            .snapshots()?
            .iter()
            .rev()
            .find(|(_, s)| s.hostname == host && sorted(&s.paths) == sorted(paths))
            .map(|(id, _)| *id),
    })
}
