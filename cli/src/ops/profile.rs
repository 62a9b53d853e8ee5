//! What `run`, `health` and `drill` share: a repository of vault.toml with
//! its password and environment, opened in this process, and the
//! snapshots of a source.

use crate::args::Global;
use crate::config::{self, Config, Source};
use crate::output;
use crate::password;
use anyhow::{Context, Result, anyhow};
use engine::Repository;
use engine::repo_format::SnapshotId;
use engine::repo_format::snapshot::Snapshot;
use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;

/// A repository of vault.toml, ready to be used.
pub struct Target<'a> {
    /// Its name in vault.toml.
    pub name: &'a str,
    /// Its section.
    pub repo: &'a config::Repository,
    /// Its password, or why there is none (a step that needs it fails).
    pub password: Result<password::Password, String>,
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

    /// Open the repository: its store configured from [`environment`],
    /// its key derived from the password (once: every step of a run uses
    /// this one opening), with the cache and memory budget of `g`.
    pub fn open(&self, g: &Global) -> Result<Arc<Repository>> {
        let password = self.password.as_ref().map_err(|e| anyhow!("{e}"))?;
        let options = crate::session::store_options(g, environment(self.repo))?;
        let backend = crate::session::open_store(&self.repo.url, &options)?;
        let mut repo = password::open(backend, password)?;
        crate::session::equip(g, &mut repo);
        crate::session::limit_memory(g, &repo)?;
        Ok(Arc::new(repo))
    }
}

/// The variables a repository's store and the commands run for it see:
/// this process's, with the repository's `env` of vault.toml on top.
pub fn environment(repo: &config::Repository) -> BTreeMap<String, String> {
    let mut vars = engine::store::process_variables();
    vars.extend(repo.env.clone());
    vars
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
/// (stdout may carry vault's JSON), line by line with its control
/// characters escaped ([`output::escape`]): it is another program's
/// output, which may carry what it read (a file name, a remote's reply).
/// Ok, or what went wrong in one line.
pub fn shell(command: &str, env: &[(&str, String)], dir: Option<&std::path::Path>) -> Result<()> {
    let mut cmd = password::command("sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    // Its own process group, stopped with vault if a signal stops vault
    // (engine::interrupt).
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {command:?}"))?;
    let _stop_on_signal = engine::interrupt::stop_group_on_interrupt(child.id());
    let (done, relayed) = std::sync::mpsc::channel();
    let mut relays = 0;
    if let Some(out) = child.stdout.take() {
        relay(out, done.clone());
        relays += 1;
    }
    if let Some(err) = child.stderr.take() {
        relay(err, done);
        relays += 1;
    }
    let status = child
        .wait()
        .with_context(|| format!("cannot run {command:?}"))?;
    // Its last lines, unless something it left running holds its output
    // open: that is not waited for.
    let deadline = std::time::Instant::now() + RELAY_GRACE;
    for _ in 0..relays {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if relayed.recv_timeout(left).is_err() {
            break;
        }
    }
    if status.success() {
        Ok(())
    } else {
        Err(anyhow!("{command:?} failed ({status})"))
    }
}

/// How long a hook's output is still relayed after it ended.
const RELAY_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Copy `from` to stderr, escaped line by line, in a thread of its own
/// that says on `done` when `from` ended.
fn relay(from: impl std::io::Read + Send + 'static, done: std::sync::mpsc::Sender<()>) {
    std::thread::spawn(move || {
        engine::progress::for_each_line(from, |line| {
            eprintln!("{}", output::escape(line, output::Keep::BackslashAndTab));
        });
        let _ = done.send(());
    });
}
