//! One module per command: arguments → engine options → output.

mod backup;
mod cat;
mod check;
mod copy;
mod diff;
mod find;
mod forget;
mod init;
mod key;
mod prune;
mod read;
mod repair;
mod restore;
mod stats;
mod tag;
mod unlock;

use crate::args::{Cli, Command, FilterArgs, Global};
use crate::password;
use anyhow::{Context, Result, bail};
use engine::lock::{LockGuard, LockKind};
use engine::snapshots::SnapshotFilter;
use engine::{Backend, Repository};
use std::sync::Arc;

/// Run the parsed command line; returns the exit code.
pub fn run(cli: Cli) -> Result<u8> {
    let g = &cli.global;
    match cli.command {
        Command::Init(a) => init::run(g, &a),
        Command::Backup(a) => backup::run(g, &a),
        Command::Snapshots(a) => read::snapshots(g, &a),
        Command::Ls(a) => read::ls(g, &a),
        Command::Dump(a) => read::dump(g, &a),
        Command::Restore(a) => restore::run(g, &a),
        Command::Cat(a) => cat::run(g, &a),
        Command::Prune(a) => prune::run(g, &a),
        Command::Stats(a) => stats::run(g, &a),
        Command::Find(a) => find::run(g, &a),
        Command::Diff(a) => diff::run(g, &a),
        Command::Forget(a) => forget::run(g, &a),
        Command::Tag(a) => tag::run(g, &a),
        Command::Key(a) => key::run(g, &a),
        Command::Unlock(a) => unlock::run(g, &a),
        Command::Check(a) => check::run(g, &a),
        Command::Repair(a) => repair::run(g, &a),
        Command::Copy(a) => copy::run(g, &a),
    }
}

/// The repository URL, or a clear error.
pub fn repo_url(g: &Global) -> Result<&str> {
    match g.repo.as_deref() {
        Some(u) if !u.is_empty() => Ok(u),
        _ => bail!("no repository given: use -r URL or set VAULT_REPOSITORY"),
    }
}

/// The password for the repository.
pub fn password(g: &Global, confirm: bool) -> Result<zeroize::Zeroizing<String>> {
    password::get(
        &password::Sources {
            file: g.password_file.as_deref(),
            command: g.password_command.as_deref(),
            env_prefix: "VAULT_",
            flag_prefix: "--",
            what: "repository",
        },
        confirm,
    )
}

/// How a command uses the repository, which decides its lock (SPEC.md §7.4).
#[derive(Clone, Copy, Debug)]
pub enum Access {
    /// Reads only: a shared lock, which `--no-lock` skips.
    Read,
    /// Writes: a lock of this kind, always (`--no-lock` is refused).
    Write(LockKind),
}

/// An open repository and the lock the command holds on it, released when
/// the session is dropped. Derefs to the repository.
pub struct Session {
    /// The repository.
    pub repo: Arc<Repository>,
    /// The lock (None with `--no-lock`).
    pub lock: Option<LockGuard>,
}

impl std::ops::Deref for Session {
    type Target = Repository;
    fn deref(&self) -> &Repository {
        &self.repo
    }
}

/// The store named by the global options, and the password.
pub fn backend_and_password(g: &Global) -> Result<(Backend, zeroize::Zeroizing<String>)> {
    let url = repo_url(g)?;
    let backend = Backend::open(url)?;
    let pw = password(g, false)?;
    Ok((backend, pw))
}

/// Open the repository named by the global options, without a lock (for
/// the commands that take none: `unlock`).
pub fn open_unlocked(g: &Global) -> Result<Repository> {
    let (backend, pw) = backend_and_password(g)?;
    Ok(Repository::open(backend, pw.as_bytes())?)
}

/// Open the repository and lock it for `command` as `access` requires,
/// waiting up to `--retry-lock` for conflicting locks.
pub fn open(g: &Global, access: Access, command: &str) -> Result<Session> {
    let repo = Arc::new(open_unlocked(g)?);
    let lock = lock(g, &repo, access, command)?;
    Ok(Session { repo, lock })
}

/// Open a second repository (`copy --to`, `init --from`) at `url` with its
/// own password sources, and lock it as [`open`] does.
pub fn open_second(
    g: &Global,
    url: &str,
    sources: &password::Sources<'_>,
    access: Access,
    command: &str,
) -> Result<Session> {
    let backend = Backend::open(url)?;
    let pw = password::get(sources, false)?;
    let repo = Arc::new(Repository::open(backend, pw.as_bytes())?);
    let lock = lock(g, &repo, access, command)?;
    Ok(Session { repo, lock })
}

/// Lock an open repository for `command` as `access` requires, waiting up
/// to `--retry-lock` for conflicting locks (None with `--no-lock`).
pub fn lock(
    g: &Global,
    repo: &Repository,
    access: Access,
    command: &str,
) -> Result<Option<LockGuard>> {
    let kind = match access {
        Access::Read if g.no_lock => None,
        Access::Read => Some(LockKind::Shared),
        Access::Write(_) if g.no_lock => bail!(
            "--no-lock is only for read-only commands; {command} writes to the repository and always locks it"
        ),
        Access::Write(kind) => Some(kind),
    };
    let retry = crate::duration::parse("--retry-lock", &g.retry_lock)?;
    Ok(kind
        .map(|kind| engine::lock::acquire(repo, kind, command, retry))
        .transpose()?)
}

/// [`open`], then load the index (after locking, so that a prune that
/// starts later sees this command's lock). A reading command skips a
/// damaged index file with a warning (it can still reach every blob the
/// other index files list; `check` names it); a writing one fails.
pub fn open_with_index(g: &Global, access: Access, command: &str) -> Result<Session> {
    let session = open(g, access, command)?;
    if let Access::Write(_) = access {
        session
            .repo
            .load_index()
            .context("while loading the index")?;
        return Ok(session);
    }
    let damaged = session
        .repo
        .load_index_tolerant()
        .context("while loading the index")?;
    for (id, e) in damaged {
        eprintln!(
            "warning: index file {} is damaged and was skipped ({e}); run 'vault check'",
            id.short()
        );
    }
    Ok(session)
}

/// Engine filter from the flags.
pub fn filter(f: &FilterArgs) -> SnapshotFilter {
    SnapshotFilter {
        hosts: f.hosts.clone(),
        tags: f.tags.clone(),
        paths: f.paths.clone(),
    }
}
