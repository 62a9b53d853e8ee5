//! One module per command: arguments → engine options → output.

mod backup;
mod cat;
mod check;
mod init;
mod read;
mod repair;
mod restore;

use crate::args::{Cli, Command, FilterArgs, Global};
use crate::password;
use anyhow::{Context, Result, bail};
use engine::snapshots::SnapshotFilter;
use engine::{Backend, Repository};

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
        Command::Check(a) => check::run(g, &a),
        Command::Repair(a) => repair::run(g, &a),
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
        },
        confirm,
    )
}

/// Open the repository named by the global options.
pub fn open(g: &Global) -> Result<Repository> {
    let (backend, pw) = backend_and_password(g)?;
    let repo = Repository::open(backend, pw.as_bytes())?;
    Ok(repo)
}

/// The store named by the global options, and the password.
pub fn backend_and_password(g: &Global) -> Result<(Backend, zeroize::Zeroizing<String>)> {
    let url = repo_url(g)?;
    let backend = Backend::open(url)?;
    let pw = password(g, false)?;
    Ok((backend, pw))
}

/// Open the repository and load its index. A damaged index file is
/// skipped with a warning (the reading commands that use this can still
/// reach every blob the other index files list); `check` names it.
pub fn open_with_index(g: &Global) -> Result<Repository> {
    let repo = open(g)?;
    let damaged = repo
        .load_index_tolerant()
        .context("while loading the index")?;
    for (id, e) in damaged {
        eprintln!(
            "warning: index file {} is damaged and was skipped ({e}); run 'vault check'",
            id.short()
        );
    }
    Ok(repo)
}

/// Engine filter from the flags.
pub fn filter(f: &FilterArgs) -> SnapshotFilter {
    SnapshotFilter {
        hosts: f.hosts.clone(),
        tags: f.tags.clone(),
        paths: f.paths.clone(),
    }
}
