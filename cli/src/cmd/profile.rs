//! What `run`, `health` and `drill` share: a repository of vault.toml with
//! its password and environment, vault run as a child process on it, and
//! the snapshots of a source.

use crate::args::Global;
use crate::config::{self, Config, Source};
use crate::password;
use anyhow::{Context, Result, anyhow};
use engine::repo_format::SnapshotId;
use engine::repo_format::snapshot::Snapshot;
use std::process::{Command, Stdio};
use zeroize::Zeroizing;

/// A repository of vault.toml, ready to be used.
pub struct Target<'a> {
    /// Its name in vault.toml.
    pub name: &'a str,
    /// Its section.
    pub repo: &'a config::Repository,
    /// Its password, or why there is none (a step that needs it fails).
    pub password: Result<Zeroizing<String>, String>,
}

impl<'a> Target<'a> {
    /// The repository `name`; its password from vault.toml, else (for the
    /// profile's own repository) from the usual flags, environment or prompt.
    pub fn new(g: &Global, config: &'a Config, name: &'a str, primary: bool) -> Result<Self> {
        let repo = config.repository(name)?;
        let from_config = repo.password_file.is_some() || repo.password_command.is_some();
        let password = if from_config || primary {
            password::get(
                &password::Sources {
                    file: repo.password_file.as_deref().or(if from_config {
                        None
                    } else {
                        g.password_file.as_deref()
                    }),
                    command: repo.password_command.as_deref().or(if from_config {
                        None
                    } else {
                        g.password_command.as_deref()
                    }),
                    env_prefix: "VAULT_",
                    flag_prefix: "--",
                    what: "repository",
                },
                false,
            )
            .map_err(|e| format!("repository {name}: {e:#}"))
        } else {
            Err(format!(
                "repository {name}: no password source: set password-file or password-command in [repositories.{name}]"
            ))
        };
        Ok(Target {
            name,
            repo,
            password,
        })
    }

    /// `vault` (this very binary) on this repository, with its password in
    /// the child's environment only, its vault.toml environment, JSON on
    /// stdout and no progress bars; stdin closed, so nothing can prompt.
    pub fn vault(&self, g: &Global) -> Result<Command, String> {
        let password = self.password.as_ref().map_err(Clone::clone)?;
        let exe = std::env::current_exe().map_err(|e| format!("cannot find vault itself: {e}"))?;
        let mut cmd = Command::new(exe);
        cmd.stdin(Stdio::null())
            .env_remove("VAULT_PASSWORD_FILE")
            .env_remove("VAULT_PASSWORD_COMMAND")
            .env_remove("VAULT_REPOSITORY")
            .env("VAULT_PASSWORD", password.as_str())
            .envs(&self.repo.env)
            .args(["--repo", &self.repo.url, "--json", "--no-progress"]);
        child_globals(g, &mut cmd);
        Ok(cmd)
    }

    /// The global options for opening this repository in this process
    /// (its environment must already be in place: see [`with_env`]).
    pub fn global(&self, g: &Global) -> Global {
        Global {
            repo: Some(self.repo.url.clone()),
            password_file: self.repo.password_file.clone().or(g.password_file.clone()),
            password_command: self
                .repo
                .password_command
                .clone()
                .or(g.password_command.clone()),
            ..g.clone()
        }
    }
}

/// The global options a child inherits from `vault run` itself.
fn child_globals(g: &Global, cmd: &mut Command) {
    if let Some(dir) = &g.cache_dir {
        cmd.arg("--cache-dir").arg(dir);
    }
    if g.no_cache {
        cmd.arg("--no-cache");
    }
    if let Some(m) = &g.max_memory {
        cmd.args(["--max-memory", m]);
    }
    cmd.args(["--retry-lock", &g.retry_lock]);
    cmd.args(["--connections", &g.connections.to_string()]);
    for _ in 0..g.verbose {
        cmd.arg("-v");
    }
}

/// `health` and `drill` open the repository in this process, whose
/// environment cannot be changed safely once threads run: when the
/// repository's `env` is not what the process has, run this same command
/// again with it, and return its exit code.
pub fn with_env(repo: &config::Repository) -> Result<Option<u8>> {
    let missing = repo
        .env
        .iter()
        .any(|(k, v)| std::env::var_os(k).is_none_or(|have| have != v.as_str()));
    if !missing {
        return Ok(None);
    }
    let exe = std::env::current_exe().context("cannot find vault itself")?;
    let status = Command::new(exe)
        .args(std::env::args_os().skip(1))
        .envs(&repo.env)
        .status()
        .context("cannot run vault with the repository's environment")?;
    Ok(Some(
        status
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(crate::exit::FATAL),
    ))
}

/// The host a source's snapshots are recorded under.
pub fn source_host(source: &Source) -> String {
    source
        .host
        .clone()
        .unwrap_or_else(|| engine::repository::current_user_and_host().1)
}

/// The snapshots of source `name`, oldest first.
pub fn source_snapshots(
    all: &[(SnapshotId, Snapshot)],
    name: &str,
    source: &Source,
) -> Vec<(SnapshotId, Snapshot)> {
    let tag = config::source_tag(name);
    let host = source_host(source);
    let mut mine: Vec<_> = all
        .iter()
        .filter(|(_, s)| s.hostname == host && s.tags.contains(&tag))
        .cloned()
        .collect();
    mine.sort_by_key(|(_, s)| s.time);
    mine
}

/// Run a hook (or drill command) with `sh -c`; its output goes to stderr
/// (stdout may carry vault's JSON). Ok, or what went wrong in one line.
pub fn shell(command: &str, env: &[(&str, String)], dir: Option<&std::path::Path>) -> Result<()> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(command).stdin(Stdio::null());
    let stderr = std::io::stderr().lock();
    let fd = std::os::fd::AsFd::as_fd(&stderr)
        .try_clone_to_owned()
        .context("cannot duplicate stderr")?;
    drop(stderr);
    cmd.stdout(Stdio::from(fd));
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {command:?}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(anyhow!("{command:?} failed ({status})"))
    }
}
