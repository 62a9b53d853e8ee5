//! Opening repositories for a command: the store with the global
//! options, the password, the cache and memory budget, the lock the
//! command's access needs, the index; and writing heartbeats. What every
//! command (cmd/) and every vault.toml operation (ops/) shares.

use crate::args::{FilterArgs, Global};
use crate::password;
use anyhow::{Context, Result, bail};
use engine::read::snapshots::SnapshotFilter;
use engine::repo_format::SnapshotId;
use engine::repo_format::snapshot::Snapshot;
use engine::repository::index::LoadMode;
use engine::repository::lock::{LockGuard, LockKind};
use engine::repository::witness::Witnessed;
use engine::store::StoreOptions;
use engine::{Backend, Cache, Repository};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The caches the command opened, reported when it ends.
static CACHES: Mutex<Vec<Arc<Cache>>> = Mutex::new(Vec::new());

/// What the index of each repository this command opened moved to disk
/// (for `-v`).
static SPILLS: Mutex<Vec<Arc<engine::repository::index::SpillCounts>>> = Mutex::new(Vec::new());

/// When the command ends: a cache write that failed (once per cache), and
/// with `-v` what each cache saved and what the index moved to disk.
pub fn report(g: &Global) {
    report_caches(g);
    let (tables, entries) = SPILLS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|c| c.get())
        .fold((0, 0), |(t, e), (t2, e2)| (t + t2, e + e2));
    if g.verbose > 0 && tables > 0 {
        eprintln!(
            "index: {tables} table(s) of {entries} entries in all moved to disk (--max-memory)"
        );
    }
}

/// What a heartbeat says (SPEC.md §7.7), before its time and history.
pub struct Beat {
    /// What finished.
    pub kind: engine::repo_format::heartbeat::HeartbeatKind,
    /// On which host.
    pub hostname: String,
    /// The source (empty for a check).
    pub source: String,
    /// How long it took.
    pub duration: std::time::Duration,
    /// Bytes read or restored.
    pub bytes: u64,
    /// Files backed up or restored.
    pub files: u64,
    /// Files that could not be read.
    pub errors: u64,
    /// The snapshot made or restored.
    pub snapshot: Option<[u8; 32]>,
}

/// Write the heartbeat `beat` describes, finished now.
pub fn write_heartbeat(repo: &Repository, beat: Beat) -> Result<()> {
    let heartbeat = engine::repo_format::heartbeat::Heartbeat {
        kind: beat.kind,
        hostname: beat.hostname,
        source: beat.source,
        time: engine::repo_format::tree::Timestamp::from_datetime(&chrono::Utc::now()),
        duration_ms: u64::try_from(beat.duration.as_millis()).unwrap_or(u64::MAX),
        bytes: beat.bytes,
        files: beat.files,
        errors: beat.errors,
        snapshot: beat.snapshot,
        history: Vec::new(),
    };
    engine::repository::heartbeat::write(repo, heartbeat)
        .context("writing the heartbeat failed")?;
    Ok(())
}

/// The repository URL, or a clear error.
pub fn repo_url(g: &Global) -> Result<&str> {
    match g.repo.as_deref() {
        Some(u) if !u.is_empty() => Ok(u),
        _ => bail!("no repository given: use -r URL or set VAULT_REPOSITORY"),
    }
}

/// The password for the repository.
pub fn password(g: &Global, confirm: bool) -> Result<password::Password> {
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

/// A size flag's value (`100M`, `2GiB`, `4096`), or a clear error.
pub fn parse_size(flag: &str, text: &str) -> Result<u64> {
    engine::units::parse_size(text)
        .map_err(|e| anyhow::anyhow!("invalid {flag} {text:?} ({e}): use a size like 100M or 2G"))
}

/// How to talk to stores, from the global options and the environment:
/// the cloud stores' own variables, and for `vault serve` servers the
/// password (`VAULT_SERVER_PASSWORD_FILE`, else `VAULT_SERVER_PASSWORD`)
/// and extra trusted certificates (`VAULT_CACERT`).
pub fn backend_options(g: &Global) -> Result<StoreOptions> {
    store_options(g, engine::store::process_variables())
}

/// [`backend_options`] for a store configured from `env`, not from this
/// process's environment (`vault run`: each repository of vault.toml
/// with its own `env`).
pub fn store_options(g: &Global, env: BTreeMap<String, String>) -> Result<StoreOptions> {
    let var = |name: &str| env.get(name).filter(|v| !v.is_empty());
    let server_password = match (
        var("VAULT_SERVER_PASSWORD_FILE"),
        var("VAULT_SERVER_PASSWORD"),
    ) {
        (Some(file), _) => {
            let text = zeroize::Zeroizing::new(
                std::fs::read_to_string(file)
                    .with_context(|| format!("cannot read VAULT_SERVER_PASSWORD_FILE {file}"))?,
            );
            Some(zeroize::Zeroizing::new(
                text.lines().next().unwrap_or("").to_owned(),
            ))
        }
        (None, Some(password)) => Some(zeroize::Zeroizing::new(password.clone())),
        (None, None) => None,
    };
    let ca_certificates = match var("VAULT_CACERT") {
        Some(file) => {
            Some(std::fs::read(file).with_context(|| format!("cannot read VAULT_CACERT {file}"))?)
        }
        None => None,
    };
    Ok(StoreOptions {
        connections: usize::from(g.connections),
        retries: g.retries,
        retry_timeout: crate::duration::parse("--retry-timeout", &g.retry_timeout)?,
        environment: Some(env),
        server_password,
        ca_certificates,
        ..StoreOptions::default()
    })
}

/// Open the store at `url` with the global options (nothing is created).
pub fn open_backend(g: &Global, url: &str) -> Result<Backend> {
    open_store(url, &backend_options(g)?)
}

/// [`Backend::open_with`], after [`warn_transport`].
pub fn open_store(url: &str, options: &StoreOptions) -> Result<Backend> {
    warn_transport(url, options);
    Ok(Backend::open_with(url, options)?)
}

/// Say on stderr, once per process and warning, what leaves the
/// connection to `url` open to the network (clear text, unchecked
/// certificates): before connecting, so that it is said even when the
/// connection fails.
pub fn warn_transport(url: &str, options: &StoreOptions) {
    static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());
    if let Some(warning) = engine::store::transport_warning(url, options) {
        let mut said = SAID.lock().unwrap_or_else(|p| p.into_inner());
        if !said.contains(&warning) {
            eprintln!("warning: {warning}");
            said.push(warning);
        }
    }
}

/// The store named by the global options, and the password.
pub fn backend_and_password(g: &Global) -> Result<(Backend, password::Password)> {
    let url = repo_url(g)?;
    let backend = open_backend(g, url)?;
    let pw = password(g, false)?;
    Ok((backend, pw))
}

/// Open the repository named by the global options, without a lock (for
/// the commands that take none: `unlock`).
pub fn open_unlocked(g: &Global) -> Result<Repository> {
    let (backend, pw) = backend_and_password(g)?;
    let mut repo = password::open(backend, &pw)?;
    equip(g, &mut repo);
    limit_memory(g, &repo)?;
    Ok(repo)
}

/// What vault needs beside the index table: the key derivation (64 MiB
/// of Argon2id) and the backup pipeline's buffers (see
/// benches/README.md, "Memory").
const MEMORY_BESIDE_INDEX: u64 = 128 << 20;
/// The smallest index table budget `--max-memory` leaves.
const MIN_INDEX_BUDGET: u64 = 16 << 20;

/// Give `repo` the index memory budget of `--max-memory`, with its scratch
/// directory: the cache's, else $TMPDIR, else /var/tmp (a tmpfs /tmp
/// would hold the table in memory again).
pub fn limit_memory(g: &Global, repo: &Repository) -> Result<()> {
    // VAULT_INDEX_MEMORY sets the table's budget itself (tests and
    // experiments: 0 puts the whole table on disk).
    let budget = match (std::env::var("VAULT_INDEX_MEMORY"), &g.max_memory) {
        (Ok(text), _) => parse_size("VAULT_INDEX_MEMORY", &text)?,
        (Err(_), Some(text)) => {
            let max = parse_size("--max-memory", text)?;
            if max < MEMORY_BESIDE_INDEX + MIN_INDEX_BUDGET {
                bail!(
                    "--max-memory {text} is too small: vault needs {} MiB beside the index; give at least {} MiB",
                    MEMORY_BESIDE_INDEX >> 20,
                    (MEMORY_BESIDE_INDEX + MIN_INDEX_BUDGET) >> 20
                );
            }
            max - MEMORY_BESIDE_INDEX
        }
        (Err(_), None) => return Ok(()),
    };
    let dir = match (repo.cache(), std::env::var_os("TMPDIR")) {
        (Some(cache), _) => cache.dir().to_owned(),
        (None, Some(tmp)) if !tmp.is_empty() => PathBuf::from(tmp),
        _ if std::path::Path::new("/var/tmp").is_dir() => PathBuf::from("/var/tmp"),
        _ => std::env::temp_dir(),
    };
    let budget = usize::try_from(budget).unwrap_or(usize::MAX);
    let spill = engine::repository::index::Spill::new(budget, dir);
    SPILLS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(spill.written.clone());
    repo.set_index_spill(Some(spill));
    Ok(())
}

/// The global options with the cache turned off, for the commands that
/// must see the repository itself (`repair`; `check` opens its own).
pub fn uncached(g: &Global) -> Global {
    Global {
        no_cache: true,
        ..g.clone()
    }
}

/// The cache directory for `repo`: `--cache-dir` for any repository,
/// else the per-user default for a remote store (a local repository would
/// only be copied to the same kind of disk) or a put-only key (whose
/// record of its backups lives there, see `engine::backup::record`).
fn cache_root(g: &Global, repo: &Repository) -> Option<PathBuf> {
    if g.no_cache {
        return None;
    }
    if let Some(dir) = &g.cache_dir {
        return Some(dir.clone());
    }
    if !repo.backend().is_remote() && !repo.is_put_only() {
        return None;
    }
    default_cache_root(std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME"))
}

/// `$XDG_CACHE_HOME/vault` (an absolute one: the XDG spec says to ignore
/// a relative one), else `$HOME/.cache/vault`, else none.
fn default_cache_root(xdg: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let xdg = xdg.map(PathBuf::from).filter(|p| p.is_absolute());
    let base = xdg.or_else(|| {
        home.filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".cache"))
    })?;
    Some(base.join("vault"))
}

/// Give a just opened `repo` what every command's does: a warning line on
/// stderr for each object it skips as damaged, and the cache.
pub fn equip(g: &Global, repo: &mut Repository) {
    repo.on_warning(std::sync::Arc::new(|line: &str| {
        eprintln!("warning: {}", crate::output::message(line));
    }));
    attach_cache(g, repo);
}

/// Give `repo` the cache the global options ask for. A cache that cannot
/// be opened is said once and done without: it never fails a command.
pub fn attach_cache(g: &Global, repo: &mut Repository) {
    let Some(root) = cache_root(g, repo) else {
        return;
    };
    let mut caches = CACHES.lock().unwrap_or_else(|p| p.into_inner());
    let dir = Cache::dir_for(&root, &repo.config().repository_id);
    if let Some(open) = caches.iter().find(|c| c.dir() == dir) {
        repo.set_cache(open.clone());
        return;
    }
    match Cache::open(&root, &repo.config().repository_id) {
        Ok(cache) => {
            let cache = Arc::new(cache);
            caches.push(cache.clone());
            repo.set_cache(cache);
        }
        Err(e) => eprintln!("warning: cannot use the cache ({e}); carrying on without it"),
    }
}

/// When the command ends: a cache write that failed (once per cache), and
/// with `-v` what each cache saved.
fn report_caches(g: &Global) {
    let caches = std::mem::take(&mut *CACHES.lock().unwrap_or_else(|p| p.into_inner()));
    for cache in caches {
        if let Some(e) = cache.write_error() {
            eprintln!("warning: cannot write to the cache ({e}); carried on without it");
        }
        if g.verbose > 0 && !g.quiet {
            let stats = cache.stats();
            let damaged = match stats.damaged {
                0 => String::new(),
                n => format!(", {n} damaged replaced"),
            };
            eprintln!(
                "cache: {} hits, {} downloads{damaged} ({})",
                stats.hits,
                stats.misses,
                cache.dir().display()
            );
        }
    }
}

/// Open the repository and lock it for `command` as `access` requires,
/// waiting up to `--retry-lock` for conflicting locks.
pub fn open(g: &Global, access: Access, command: &str) -> Result<Session> {
    let repo = open_unlocked(g)?;
    if !PUT_ONLY_COMMANDS.contains(&command) {
        repo.require_full_key()?;
    }
    let repo = Arc::new(repo);
    let lock = lock(g, &repo, access, command)?;
    Ok(Session { repo, lock })
}

/// What a put-only key may run (SPEC.md §5.5): everything else is refused
/// in one line before it reads anything.
const PUT_ONLY_COMMANDS: [&str; 2] = ["backup", "key heartbeat"];

/// Open a second repository (`copy --to`, `init --from`) at `url` with its
/// own password sources, and lock it as [`open`] does.
pub fn open_second(
    g: &Global,
    url: &str,
    sources: &password::Sources<'_>,
    access: Access,
    command: &str,
) -> Result<Session> {
    let backend = open_backend(g, url)?;
    let pw = password::get(sources, false)?;
    let mut repo = password::open(backend, &pw)?;
    repo.require_full_key()?;
    equip(g, &mut repo);
    limit_memory(g, &repo)?;
    let repo = Arc::new(repo);
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
    let Some(kind) = kind else { return Ok(None) };
    let guard = engine::repository::lock::acquire(repo, kind, command, retry)?;
    for (id, reason) in guard.passed_unreadable() {
        eprintln!(
            "warning: lock {} does not open and was passed ({reason}); \
             'vault unlock --remove-all' removes it",
            id.short()
        );
    }
    Ok(Some(guard))
}

/// [`open`], then load the index (after locking, so that a prune that
/// starts later sees this command's lock); see [`load_index`].
pub fn open_with_index(g: &Global, access: Access, command: &str) -> Result<Session> {
    let session = open(g, access, command)?;
    load_index(&session.repo, access)?;
    Ok(session)
}

/// Load the index as `access` allows. A command that reads, or only adds
/// (backup, copy), skips an index file that does not open with a warning:
/// it can still reach every blob the other files list, a backup stores
/// again what only the skipped file lists, and `check` names it; anyone
/// who may upload can plant such a file, and it must not stop a backup.
/// Maintenance, which deletes, fails instead.
pub fn load_index(repo: &Repository, access: Access) -> Result<()> {
    let mode = match access {
        Access::Read | Access::Write(LockKind::Shared) => LoadMode::Tolerant,
        Access::Write(_) => LoadMode::Strict,
    };
    let damaged = repo.load_index(mode).context("while loading the index")?;
    for (id, e) in damaged {
        eprintln!(
            "warning: index file {} does not open and was skipped ({}); run 'vault check'",
            id.short(),
            e.detail()
        );
    }
    Ok(())
}

/// `--clock-skew`.
pub fn clock_skew(g: &Global) -> Result<std::time::Duration> {
    crate::duration::parse("--clock-skew", &g.clock_skew)
}

/// When the store received each snapshot; one warning line on stderr for
/// each of `snapshots` dated more than `skew` from it.
pub fn witnessed(
    repo: &Repository,
    snapshots: &[(SnapshotId, Snapshot)],
    skew: std::time::Duration,
) -> Result<Witnessed> {
    let witnessed = repo.witnessed()?;
    for skewed in witnessed.skewed(snapshots, skew) {
        eprintln!("warning: {}", crate::output::message(&skewed.to_string()));
    }
    Ok(witnessed)
}

/// Engine filter from the flags.
pub fn filter(f: &FilterArgs) -> SnapshotFilter {
    SnapshotFilter {
        hosts: f.hosts.clone(),
        tags: f.tags.clone(),
        paths: f.paths.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cache_root_prefers_absolute_xdg_then_home() {
        let root = |xdg: Option<&str>, home: Option<&str>| {
            default_cache_root(xdg.map(OsString::from), home.map(OsString::from))
        };
        assert_eq!(
            root(Some("/x/cache"), Some("/home/u")),
            Some(PathBuf::from("/x/cache/vault"))
        );
        assert_eq!(
            root(Some("relative"), Some("/home/u")),
            Some(PathBuf::from("/home/u/.cache/vault"))
        );
        assert_eq!(
            root(None, Some("/home/u")),
            Some(PathBuf::from("/home/u/.cache/vault"))
        );
        assert_eq!(root(None, Some("")), None);
        assert_eq!(root(None, None), None);
    }
}
