//! Restore a snapshot (or part of it) under a target directory.
//!
//! Directories are walked in parallel; every chunk is decrypted and its id
//! re-checked before a byte of it is written; runs of zero blocks are
//! skipped so sparse files come back sparse; hard links are restored as
//! links; owner (as root), mode, extended attributes and times are applied
//! after content, and directory times last.
//!
//! Nothing is named by a path the kernel could resolve through a symlink:
//! every entry is made, opened, linked or removed relative to the target's
//! handle with no link followed ([`Beneath`]), so neither a snapshot nor
//! the links already in the target can lead a write, a mode or an owner
//! outside it (SPEC §7.2). A link where the snapshot has a directory is
//! replaced unless `--overwrite never`, which keeps it and restores nothing
//! below it. Files are created 0600 and directories 0700; the snapshot's
//! modes come once the content is written.

use crate::beneath::{Beneath, Entry, Kind};
use crate::error::{Error, Result};
use crate::exclude::Patterns;
use crate::metadata::{self, Handle};
use crate::progress::Progress;
use crate::read::tree_walk::{EntryCount, EntryLimit};
use crate::repository::Repository;
use crate::repository::pack_reader::BlobRef;
use rayon::prelude::*;
use repo_format::BlobId;
use repo_format::crypto::BlobKind;
use repo_format::tree::{Node, NodeKind};
use std::collections::HashMap;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// What to do with a file that exists at the target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Overwrite {
    /// Always replace it.
    Always,
    /// Replace it unless size and mtime match the snapshot.
    #[default]
    IfChanged,
    /// Keep it.
    Never,
}

/// Options of [`restore`].
#[derive(Clone, Debug, Default)]
pub struct RestoreOptions {
    /// Directory under which snapshot paths are recreated.
    pub target: PathBuf,
    /// Restore only paths matching these (and what is below them).
    pub include: Vec<String>,
    /// Skip paths matching these.
    pub exclude: Vec<String>,
    /// Existing files.
    pub overwrite: Overwrite,
    /// Say what would be done; write nothing.
    pub dry_run: bool,
    /// Re-read every restored file and check it against the snapshot.
    pub verify: bool,
    /// The most entries below the restored tree (SPEC.md §10).
    pub max_entries: EntryLimit,
}

/// What a restore did.
#[derive(Debug, Default)]
pub struct RestoreReport {
    /// Files (and links, fifos ...) restored or, on a dry run, to restore.
    pub files_restored: u64,
    /// Existing files kept by the overwrite policy.
    pub files_skipped: u64,
    /// Directories restored.
    pub dirs_restored: u64,
    /// Content bytes written (or to write).
    pub bytes_restored: u64,
    /// Files verified after writing.
    pub files_verified: u64,
    /// Files that could not be restored, each with the reason.
    pub errors: Vec<String>,
}

struct Ctx<'a> {
    repo: &'a Repository,
    /// The target; `None` only on a dry run into a target not there yet.
    beneath: Option<Beneath>,
    options: &'a RestoreOptions,
    progress: &'a dyn Progress,
    include: Patterns,
    exclude: Patterns,
    is_root: bool,
    files: AtomicU64,
    skipped: AtomicU64,
    dirs: AtomicU64,
    bytes: AtomicU64,
    verified: AtomicU64,
    errors: Mutex<Vec<String>>,
    /// Existing files kept by the overwrite policy, to verify with the
    /// others (`--verify` checks every file the snapshot holds).
    kept: Mutex<Vec<FileJob>>,
}

impl Ctx<'_> {
    fn fail(&self, path: &Path, message: String) {
        if let Ok(mut e) = self.errors.lock() {
            e.push(format!("{}: {message}", path.display()));
        }
    }

    /// The target's handle; only a dry run goes without one, and a dry run
    /// writes nothing.
    fn target(&self) -> std::io::Result<&Beneath> {
        self.beneath
            .as_ref()
            .ok_or_else(|| std::io::Error::other("the target is not open"))
    }

    /// What is at `rel` in the target, if anything (a dry run into a target
    /// not there yet finds nothing).
    fn existing(&self, rel: &Path) -> Option<Entry> {
        self.beneath.as_ref()?.stat(rel).ok().flatten()
    }

    /// Whether what is at `rel` may be replaced, by the overwrite policy.
    fn may_replace(&self) -> bool {
        self.options.overwrite != Overwrite::Never
    }
}

/// `path` (a snapshot path) relative to the target.
fn relative(path: &Path) -> PathBuf {
    path.components()
        .filter_map(|c| match c {
            std::path::Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect()
}

/// Restore the tree `root` (the snapshot's root tree, or a subtree whose
/// snapshot path is `at`) under `options.target`.
pub fn restore(
    repo: &Repository,
    root: &BlobId,
    at: &Path,
    options: &RestoreOptions,
    progress: &dyn Progress,
) -> Result<RestoreReport> {
    // Before the target is made: a refused restore writes nothing.
    EntryCount::default().check(repo, root, options.max_entries)?;
    let target = &options.target;
    match std::fs::metadata(target) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(Error::InvalidArgument {
                what: "--target",
                detail: format!("{} is not a directory", target.display()),
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !options.dry_run {
                std::fs::create_dir_all(target)
                    .map_err(|e| Error::io("create target", target, e))?;
            }
        }
        Err(e) => return Err(Error::io("open target", target, e)),
    }
    let beneath = match Beneath::open(target) {
        Ok(b) => Some(b),
        Err(_) if options.dry_run => None,
        Err(e) => return Err(Error::io("open target", target, e)),
    };
    let ctx = Ctx {
        repo,
        beneath,
        options,
        progress,
        include: Patterns::new(&options.include, false)?,
        exclude: Patterns::new(&options.exclude, false)?,
        is_root: nix::unistd::geteuid().is_root(),
        files: AtomicU64::new(0),
        skipped: AtomicU64::new(0),
        dirs: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        verified: AtomicU64::new(0),
        errors: Mutex::new(Vec::new()),
        kept: Mutex::new(Vec::new()),
    };
    let mut deferred = Deferred::default();
    restore_dir(&ctx, root, at, ctx.include.is_empty(), true, &mut deferred)?;
    // Hard links in order: the first name of an inode gets the content, the
    // others become links to it once it has it.
    let mut links = Vec::new();
    let mut first_names: HashMap<(u64, u64), PathBuf> = HashMap::new();
    for (path, node) in std::mem::take(&mut deferred.hard_links) {
        let rel = relative(&path);
        match first_names.get(&(node.device_id, node.inode)) {
            Some(first) => links.push((path, rel, first.clone(), node)),
            None => {
                first_names.insert((node.device_id, node.inode), rel.clone());
                deferred.files.extend(prepare_file(&ctx, path, rel, &node));
            }
        }
    }
    write_contents(&ctx, &deferred.files)?;
    let kept = std::mem::take(&mut *ctx.kept.lock().unwrap_or_else(|p| p.into_inner()));
    kept.par_iter().for_each(|job| {
        if let Err(e) = verify_at_target(&ctx, job) {
            ctx.fail(&job.path, format!("kept in the target, but {e}"));
        }
    });
    for (path, rel, first, node) in &links {
        restore_hard_link(&ctx, path, rel, first, node);
    }
    if !options.dry_run {
        for (path, rel, node) in &deferred.dirs {
            if let Err(e) = apply_dir(&ctx, rel, node) {
                ctx.fail(path, e.to_string());
            }
        }
    }
    Ok(RestoreReport {
        files_restored: ctx.files.into_inner(),
        files_skipped: ctx.skipped.into_inner(),
        dirs_restored: ctx.dirs.into_inner(),
        bytes_restored: ctx.bytes.into_inner(),
        files_verified: ctx.verified.into_inner(),
        errors: ctx.errors.into_inner().unwrap_or_default(),
    })
}

/// What restoring a directory leaves for later: hard-linked files (their
/// first name must exist before the others are linked to it) and directory
/// metadata, children before parents, applied after everything else because
/// creating entries changes a directory's mtime.
/// Regular files are collected too: their content is written pack by pack
/// once the walk is done.
#[derive(Default)]
struct Deferred {
    files: Vec<FileJob>,
    hard_links: Vec<(PathBuf, Node)>,
    /// Snapshot path, path relative to the target, node.
    dirs: Vec<(PathBuf, PathBuf, Node)>,
}

impl Deferred {
    fn append(&mut self, mut other: Deferred) {
        self.files.append(&mut other.files);
        self.hard_links.append(&mut other.hard_links);
        self.dirs.append(&mut other.dirs);
    }
}

/// A regular file whose content is to be written.
struct FileJob {
    /// Its path in the snapshot.
    path: PathBuf,
    /// Its path relative to the target.
    rel: PathBuf,
    node: Node,
}

/// Whether anything below a directory was selected, and what it deferred.
type DirResult = (bool, Deferred);

/// Restore the children of one directory; returns whether anything below
/// it was selected (so that the directory itself is created).
fn restore_dir(
    ctx: &Ctx<'_>,
    tree: &BlobId,
    at: &Path,
    selected: bool,
    created: bool,
    deferred: &mut Deferred,
) -> Result<bool> {
    let tree = match ctx.repo.load_tree(tree) {
        Ok(t) => t,
        Err(e) => {
            ctx.fail(at, format!("directory listing unreadable: {e}"));
            return Ok(false);
        }
    };
    let results: Vec<Result<DirResult>> = tree
        .nodes
        .par_iter()
        .map(|node| {
            let path = at.join(std::ffi::OsStr::from_bytes(&node.name));
            if ctx.exclude.matches(&path) {
                return Ok((false, Deferred::default()));
            }
            let selected = selected || ctx.include.matches(&path);
            let rel = relative(&path);
            if node.kind == NodeKind::Dir {
                let mut below = Deferred::default();
                let create = selected && !ctx.options.dry_run;
                if create && !make_dirs(ctx, &path, &rel, !created) {
                    return Ok((false, below));
                }
                let any = match &node.subtree {
                    Some(sub) => restore_dir(ctx, sub, &path, selected, create, &mut below)?,
                    None => false,
                };
                if selected || any {
                    ctx.dirs.fetch_add(1, Ordering::Relaxed);
                    below.dirs.push((path, rel, node.clone()));
                }
                return Ok((selected || any, below));
            }
            if !selected {
                return Ok((false, Deferred::default()));
            }
            // Under an included path deeper than any selected directory, the
            // parents are made on demand.
            if !created
                && !ctx.options.dry_run
                && let Some(parent) = path.parent()
                && !make_dirs(ctx, parent, &relative(parent), true)
            {
                return Ok((false, Deferred::default()));
            }
            let mut later = Deferred::default();
            if node.kind == NodeKind::File && node.links > 1 {
                later.hard_links.push((path, node.clone()));
            } else if node.kind == NodeKind::File {
                later.files.extend(prepare_file(ctx, path, rel, node));
            } else {
                restore_leaf(ctx, &path, &rel, node);
            }
            Ok((true, later))
        })
        .collect();
    let mut any = false;
    for r in results {
        let (selected, below) = r?;
        any |= selected;
        deferred.append(below);
    }
    Ok(any)
}

/// Make the directory `rel` (with `all`, its missing parents too); false
/// (and a recorded failure) when that fails: nothing is restored below it.
/// What is in the way is replaced by the overwrite policy, never followed.
fn make_dirs(ctx: &Ctx<'_>, path: &Path, rel: &Path, all: bool) -> bool {
    let made = ctx.target().and_then(|t| {
        if all {
            t.make_dirs(rel, ctx.may_replace())
        } else {
            t.make_dir(rel, ctx.may_replace()).map(drop)
        }
    });
    match made {
        Ok(()) => true,
        Err(e) => {
            ctx.fail(path, format!("cannot create directory: {e}"));
            false
        }
    }
}

fn restore_hard_link(ctx: &Ctx<'_>, path: &Path, rel: &Path, first: &Path, node: &Node) {
    if keep_existing(ctx, rel, node) {
        return;
    }
    if ctx.options.dry_run {
        ctx.files.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if !remove_existing(ctx, path, rel) {
        return;
    }
    let linked = ctx.target().and_then(|t| {
        let (from_dir, from) = t.parent(first)?;
        let (to_dir, to) = t.parent(rel)?;
        nix::unistd::linkat(&from_dir, from, &to_dir, to, nix::fcntl::AtFlags::empty())
            .map_err(std::io::Error::from)
    });
    match linked {
        Ok(()) => {
            ctx.files.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => ctx.fail(path, format!("cannot link to {}: {e}", first.display())),
    }
}

/// Apply the overwrite policy and the dry run to a regular file; returns
/// the job that writes it, if it is to be written.
fn prepare_file(ctx: &Ctx<'_>, path: PathBuf, rel: PathBuf, node: &Node) -> Option<FileJob> {
    if keep_existing(ctx, &rel, node) {
        if ctx.options.verify && !ctx.options.dry_run {
            let job = FileJob {
                path,
                rel,
                node: node.clone(),
            };
            ctx.kept.lock().unwrap_or_else(|p| p.into_inner()).push(job);
        }
        return None;
    }
    if ctx.options.dry_run {
        ctx.files.fetch_add(1, Ordering::Relaxed);
        ctx.bytes.fetch_add(node.size, Ordering::Relaxed);
        return None;
    }
    if !remove_existing(ctx, &path, &rel) {
        return None;
    }
    Some(FileJob {
        path,
        rel,
        node: node.clone(),
    })
}

/// Remove whatever is at `rel`; false (and a recorded failure) if that
/// fails.
fn remove_existing(ctx: &Ctx<'_>, path: &Path, rel: &Path) -> bool {
    match ctx.target().and_then(|t| t.remove(rel)) {
        Ok(()) => true,
        Err(e) => {
            ctx.fail(path, format!("cannot replace existing entry: {e}"));
            false
        }
    }
}

/// Whether an existing file at `rel` stays, by the overwrite policy.
fn keep_existing(ctx: &Ctx<'_>, rel: &Path, node: &Node) -> bool {
    let Some(existing) = ctx.existing(rel) else {
        return false;
    };
    let keep = match ctx.options.overwrite {
        Overwrite::Always => false,
        Overwrite::Never => true,
        Overwrite::IfChanged => {
            node.kind == NodeKind::File
                && existing.kind == Kind::File
                && existing.size == node.size
                && existing.mtime == (node.mtime.secs, i64::from(node.mtime.nanos))
        }
    };
    if keep {
        ctx.skipped.fetch_add(1, Ordering::Relaxed);
    }
    keep
}

/// Restore a non-directory entry. Failures are recorded, not returned, so
/// that one damaged file does not stop the others.
fn restore_leaf(ctx: &Ctx<'_>, path: &Path, rel: &Path, node: &Node) {
    if keep_existing(ctx, rel, node) {
        return;
    }
    if ctx.options.dry_run {
        ctx.files.fetch_add(1, Ordering::Relaxed);
        ctx.bytes.fetch_add(node.size, Ordering::Relaxed);
        return;
    }
    if !remove_existing(ctx, path, rel) {
        return;
    }
    let (dir, name) = match ctx.target().and_then(|t| t.parent(rel)) {
        Ok(p) => p,
        Err(e) => {
            ctx.fail(path, e.to_string());
            return;
        }
    };
    // Owner-only until `metadata::apply` gives the snapshot's mode.
    let private = nix::sys::stat::Mode::from_bits_truncate(crate::beneath::NEW_FILE_MODE);
    let made = match node.kind {
        NodeKind::Symlink => {
            nix::unistd::symlinkat(std::ffi::OsStr::from_bytes(&node.link_target), &dir, name)
                .map_err(|e| ("create symlink", e))
        }
        NodeKind::Fifo => {
            nix::unistd::mkfifoat(&dir, name, private).map_err(|e| ("create fifo", e))
        }
        NodeKind::CharDevice | NodeKind::BlockDevice => {
            let kind = if node.kind == NodeKind::CharDevice {
                nix::sys::stat::SFlag::S_IFCHR
            } else {
                nix::sys::stat::SFlag::S_IFBLK
            };
            nix::sys::stat::mknodat(&dir, name, kind, private, node.rdev)
                .map_err(|e| ("create device", e))
        }
        // A socket belongs to the process that listened on it; there is
        // nothing to restore.
        // Regular files are written by `write_contents`.
        NodeKind::Socket | NodeKind::Dir | NodeKind::File => return,
    };
    if let Err((what, e)) = made {
        ctx.fail(path, Error::io(what, path, e.into()).to_string());
        return;
    }
    if let Err(e) = metadata::apply(Handle::At(dir.as_fd(), name), path, node, ctx.is_root) {
        ctx.fail(path, e.to_string());
    }
    ctx.files.fetch_add(1, Ordering::Relaxed);
    ctx.progress.file_processed(path);
}

/// Block size for hole detection.
const BLOCK: usize = 4096;

/// Where a blob's plaintext goes: which file job, at which offset.
struct Target {
    job: usize,
    file_offset: u64,
}

/// One blob of a pack and every place it is written to.
struct PackBlob {
    blob: BlobRef,
    targets: Vec<Target>,
}

/// Write the content of every job, reading each pack once in as few ranged
/// reads as the needed blobs allow (a blob used by many files is read and
/// decrypted once), then finish each file: length, metadata, verification.
fn write_contents(ctx: &Ctx<'_>, jobs: &[FileJob]) -> Result<()> {
    let failed: Vec<Mutex<Option<String>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    let fail_job = |job: usize, message: String| {
        if let Some(slot) = failed.get(job)
            && let Ok(mut slot) = slot.lock()
        {
            slot.get_or_insert(message);
        }
    };
    let mut packs: HashMap<repo_format::PackId, HashMap<BlobId, PackBlob>> = HashMap::new();
    {
        let index = ctx.repo.index();
        for (n, job) in jobs.iter().enumerate() {
            let mut file_offset = 0u64;
            for id in &job.node.content {
                let Some(loc) = index.get(BlobKind::Data, id)? else {
                    fail_job(n, format!("blob {} is not in the index", id.short()));
                    break;
                };
                packs
                    .entry(loc.pack)
                    .or_default()
                    .entry(*id)
                    .or_insert_with(|| PackBlob {
                        blob: BlobRef::located(BlobKind::Data, *id, &loc),
                        targets: Vec::new(),
                    })
                    .targets
                    .push(Target {
                        job: n,
                        file_offset,
                    });
                file_offset += u64::from(loc.raw_length);
            }
            if file_offset != job.node.size {
                // The length set at the end is the recorded size: the
                // two must agree, or the file is not what was backed up.
                fail_job(
                    n,
                    format!(
                        "its size is recorded as {} bytes but its content holds {file_offset}",
                        job.node.size
                    ),
                );
            }
        }
    }
    let mut packs: Vec<(repo_format::PackId, Vec<PackBlob>)> = packs
        .into_iter()
        .map(|(pack, blobs)| (pack, blobs.into_values().collect()))
        .collect();
    let reader = ctx.repo.pack_reader();
    ctx.repo.backend().parallel(|| {
        packs.par_iter_mut().for_each(|(pack, blobs)| {
            // Each failure is the blob's files'; the other blobs go on.
            let _ = reader.read_blobs(
                pack,
                blobs,
                |b| b.blob,
                |blob, read| {
                    let plain = match read {
                        Ok(read) => read.plain,
                        Err(e) => {
                            for t in &blob.targets {
                                fail_job(t.job, e.to_string());
                            }
                            return Ok(());
                        }
                    };
                    for t in &blob.targets {
                        let Some(job) = jobs.get(t.job) else { continue };
                        let written = ctx
                            .target()
                            .and_then(|target| target.write_file(&job.rel))
                            .and_then(|f| write_sparse(&f, t.file_offset, &plain));
                        match written {
                            Ok(()) => ctx.progress.bytes_processed(plain.len() as u64),
                            Err(e) => fail_job(t.job, format!("write failed: {e}")),
                        }
                    }
                    Ok(())
                },
            );
        })
    });
    jobs.par_iter()
        .zip(failed.par_iter())
        .for_each(|(job, failed)| {
            let failure = failed.lock().ok().and_then(|mut f| f.take());
            if let Some(message) = failure {
                // Never leave a half-written file that looks restored.
                let _ = ctx.target().and_then(|t| t.remove(&job.rel));
                ctx.fail(&job.path, message);
                return;
            }
            if let Err(e) = finish_file(ctx, job) {
                let _ = ctx.target().and_then(|t| t.remove(&job.rel));
                ctx.fail(&job.path, e.to_string());
                return;
            }
            // Counted once complete: a file that failed is not restored.
            ctx.files.fetch_add(1, Ordering::Relaxed);
            ctx.bytes.fetch_add(job.node.size, Ordering::Relaxed);
            ctx.progress.file_processed(&job.path);
        });
    Ok(())
}

/// Length, metadata and (on request) verification of a written file.
fn finish_file(ctx: &Ctx<'_>, job: &FileJob) -> Result<()> {
    let target = ctx
        .target()
        .map_err(|e| Error::io("create", &job.path, e))?;
    // Files without content (or whose content is all holes) are created here.
    let file = target
        .write_file(&job.rel)
        .map_err(|e| Error::io("create", &job.path, e))?;
    file.set_len(job.node.size)
        .map_err(|e| Error::io("set length of", &job.path, e))?;
    metadata::apply(Handle::Open(&file), &job.path, &job.node, ctx.is_root)?;
    drop(file);
    if ctx.options.verify {
        verify_at_target(ctx, job)?;
    }
    Ok(())
}

/// Re-read `job`'s file at the target and check it against the snapshot.
fn verify_at_target(ctx: &Ctx<'_>, job: &FileJob) -> Result<()> {
    let file = ctx
        .target()
        .and_then(|t| t.read_file(&job.rel))
        .map_err(|e| Error::io("open for verification", &job.path, e))?;
    verify_file(ctx.repo, file, &job.path, &job.node)?;
    ctx.verified.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Apply a directory's metadata, through a handle opened without following
/// a link (by its name in its parent where it cannot be read).
fn apply_dir(ctx: &Ctx<'_>, rel: &Path, node: &Node) -> Result<()> {
    let shown = ctx
        .beneath
        .as_ref()
        .map_or_else(|| rel.to_path_buf(), |t| t.display(rel));
    let target = ctx.target().map_err(|e| Error::io("open", &shown, e))?;
    match target.read_dir(rel) {
        Ok(dir) => metadata::apply(Handle::Open(&dir), &shown, node, ctx.is_root),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            let (parent, name) = target
                .parent(rel)
                .map_err(|e| Error::io("open", &shown, e))?;
            metadata::apply(Handle::At(parent.as_fd(), name), &shown, node, ctx.is_root)
        }
        Err(e) => Err(Error::io("open", &shown, e)),
    }
}

/// Write `data` at `offset`, leaving all-zero aligned blocks as holes.
fn write_sparse(file: &std::fs::File, offset: u64, data: &[u8]) -> std::io::Result<()> {
    let mut start = 0usize;
    while start < data.len() {
        // Align blocks to the file, not to the chunk.
        let to_boundary = BLOCK - (offset as usize + start) % BLOCK;
        let end = (start + to_boundary).min(data.len());
        let block = data.get(start..end).unwrap_or_default();
        if block.iter().all(|b| *b == 0) {
            start = end;
            continue;
        }
        // Extend the run over following non-zero blocks.
        let mut run_end = end;
        while run_end < data.len() {
            let next = (run_end + BLOCK).min(data.len());
            if data
                .get(run_end..next)
                .unwrap_or_default()
                .iter()
                .all(|b| *b == 0)
            {
                break;
            }
            run_end = next;
        }
        file.write_all_at(
            data.get(start..run_end).unwrap_or_default(),
            offset + start as u64,
        )?;
        start = run_end;
    }
    Ok(())
}

/// Re-read a restored file and check every chunk against its id; `dest`
/// names it in errors.
pub fn verify_file(
    repo: &Repository,
    mut file: std::fs::File,
    dest: &Path,
    node: &Node,
) -> Result<()> {
    use std::io::Read;
    let mut buf = Vec::new();
    for id in &node.content {
        let loc = repo.index().locate(BlobKind::Data, id)?;
        buf.resize(loc.raw_length as usize, 0);
        file.read_exact(&mut buf)
            .map_err(|e| Error::io("verify", dest, e))?;
        if repo.keyring().blob_id(&buf) != *id {
            return Err(Error::format(
                dest.display().to_string(),
                repo_format::FormatError::IdMismatch {
                    what: "restored content",
                    expected: id.to_hex(),
                },
            ));
        }
    }
    let mut rest = [0u8; 1];
    if file
        .read(&mut rest)
        .map_err(|e| Error::io("verify", dest, e))?
        != 0
    {
        return Err(Error::InvalidArgument {
            what: "restored file",
            detail: format!("{} is longer than in the snapshot", dest.display()),
        });
    }
    Ok(())
}
