//! `vault drill [PROFILE]`: the restore test. For each source, restore its
//! newest snapshot into a scratch directory with `--verify` (every file
//! read back and compared with the snapshot), run the source's
//! `drill-command` there, report how long it all took (the measured
//! recovery time), write a drill heartbeat, and remove the files.

use super::profile::{Target, shell, source_snapshots};
use crate::args::{DrillArgs, Global};
use crate::config;
use crate::exit;
use crate::output;
use anyhow::{Context, Result, anyhow, bail};
use engine::NoProgress;
use engine::beneath::{Beneath, NEW_DIR_MODE, NEW_FILE_MODE};
use engine::read::restore::{RestoreOptions, restore};
use engine::repo_format::heartbeat::HeartbeatKind;
use engine::repository::index::LoadMode;
use serde_json::json;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One source's drill.
struct Drill {
    source: String,
    snapshot: Option<String>,
    ok: bool,
    message: Option<String>,
    restore_seconds: f64,
    command_seconds: Option<f64>,
    seconds: f64,
    files: u64,
    bytes: u64,
    verified: u64,
    dir: Option<PathBuf>,
}

/// Run `drill`.
pub fn run(g: &Global, a: &DrillArgs) -> Result<u8> {
    let config = config::load(g.config.as_deref())?;
    let (name, profile) = config.profile(a.profile.as_deref())?;
    let repo_config = config.repository(&profile.repository)?;
    let mut sources = config.profile_sources(profile);
    for wanted in &a.sources {
        if !sources.iter().any(|(n, _)| n == wanted) {
            bail!("profile {name} has no source {wanted:?}");
        }
    }
    if !a.sources.is_empty() {
        sources.retain(|(n, _)| a.sources.iter().any(|w| w == n));
    }
    let target = Target::new(g, &config, &profile.repository, true)?;
    let repo = target.open(g)?;
    repo.require_full_key()?;
    let _lock = crate::session::lock(g, &repo, crate::session::Access::Read, "drill")?;
    repo.load_index(LoadMode::Tolerant)?;
    let snapshots = repo.snapshots()?;
    let scratch = match &a.target {
        Some(dir) => Scratch::Given(private_target(dir)?),
        None => Scratch::Temp(
            tempfile::Builder::new()
                .prefix("vault-drill-")
                .permissions(std::fs::Permissions::from_mode(NEW_DIR_MODE))
                .tempdir_in(scratch_root())
                .context("cannot create a scratch directory (set TMPDIR, or give --target)")?,
        ),
    };
    let mut drills = Vec::new();
    for (source_name, source) in &sources {
        let started = Instant::now();
        let mut d = Drill {
            source: (*source_name).to_owned(),
            snapshot: None,
            ok: false,
            message: None,
            restore_seconds: 0.0,
            command_seconds: None,
            seconds: 0.0,
            files: 0,
            bytes: 0,
            verified: 0,
            dir: None,
        };
        let result = (|| -> Result<()> {
            let (id, _) = source_snapshots(&snapshots, source_name, source)
                .pop()
                .ok_or_else(|| anyhow!("no snapshot of this source to restore"))?;
            d.snapshot = Some(id.to_hex());
            let dir = scratch.path().join(source_name);
            private_source_dir(&dir)?;
            d.dir = Some(dir.clone());
            let restore_started = Instant::now();
            let snapshot = repo.load_snapshot(&id)?;
            let options = RestoreOptions {
                target: dir.clone(),
                verify: true,
                ..RestoreOptions::default()
            };
            let report = restore(&repo, &snapshot.tree, Path::new("/"), &options, &NoProgress);
            d.restore_seconds = restore_started.elapsed().as_secs_f64();
            let report = report.context("restore failed")?;
            d.files = report.files_restored;
            d.bytes = report.bytes_restored;
            d.verified = report.files_verified;
            if let Some(first) = report.errors.first() {
                bail!(
                    "restore failed: {}",
                    engine::Error::RestoreIncomplete {
                        count: report.errors.len(),
                        first: first.clone(),
                    }
                );
            }
            // A dump is stored 0644 (it had no mode of its own); restored,
            // it is for this user only, even where --keep leaves it.
            let dump = source.command.is_some().then(|| {
                source
                    .filename
                    .clone()
                    .unwrap_or_else(|| (*source_name).to_owned())
            });
            if let Some(file) = &dump {
                Beneath::open(&dir)
                    .and_then(|b| b.read_file(Path::new(file)))
                    .and_then(|f| f.set_permissions(std::fs::Permissions::from_mode(NEW_FILE_MODE)))
                    .with_context(|| format!("cannot make {file} owner-only"))?;
            }
            if let Some(command) = &source.drill_command {
                let command_started = Instant::now();
                let mut env: Vec<(&str, String)> = repo_config
                    .env
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect();
                env.extend([
                    ("VAULT_DRILL_DIR", dir.display().to_string()),
                    ("VAULT_DRILL_SNAPSHOT", id.to_hex()),
                    ("VAULT_DRILL_SOURCE", (*source_name).to_owned()),
                    ("VAULT_PROFILE", name.to_owned()),
                ]);
                if let Some(file) = &dump {
                    env.push(("VAULT_DRILL_FILE", dir.join(file).display().to_string()));
                }
                let result = shell(command, &env, Some(&dir));
                d.command_seconds = Some(command_started.elapsed().as_secs_f64());
                result.context("the drill command")?;
            }
            Ok(())
        })();
        d.seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(()) => {
                d.ok = true;
                crate::session::write_heartbeat(
                    &repo,
                    crate::session::Beat {
                        kind: HeartbeatKind::Drill,
                        // The source's host: the heartbeat speaks of its backups.
                        hostname: super::profile::source_host(source),
                        source: d.source.clone(),
                        duration: started.elapsed(),
                        bytes: d.bytes,
                        files: d.files,
                        errors: 0,
                        snapshot: snapshots
                            .iter()
                            .find(|(id, _)| Some(id.to_hex()) == d.snapshot)
                            .map(|(id, _)| *id.as_bytes()),
                    },
                )
                .unwrap_or_else(|e| eprintln!("warning: {}", output::message(&format!("{e:#}"))));
            }
            Err(e) => d.message = Some(format!("{e:#}")),
        }
        if !a.keep
            && let Some(dir) = &d.dir
        {
            remove(dir);
        }
        drills.push(d);
    }
    if a.keep {
        // The temporary directory stays too.
        if let Scratch::Temp(t) = scratch {
            let kept = t.keep();
            if !g.quiet && !g.json {
                eprintln!("restored files kept in {}", kept.display());
            }
        }
    }
    let failed = drills.iter().filter(|d| !d.ok).count();
    if g.json {
        output::print_json(&json!({
            "profile": name,
            "repository": profile.repository,
            "success": failed == 0,
            "seconds": drills.iter().map(|d| d.seconds).sum::<f64>(),
            "sources": drills.iter().map(|d| json!({
                "source": d.source,
                "snapshot": d.snapshot,
                "success": d.ok,
                "message": d.message,
                "files_restored": d.files,
                "bytes_restored": d.bytes,
                "files_verified": d.verified,
                "restore_seconds": d.restore_seconds,
                "command_seconds": d.command_seconds,
                "seconds": d.seconds,
            })).collect::<Vec<_>>(),
        }))?;
    } else if !g.quiet {
        for d in &drills {
            out!(
                "{:<7} {}: snapshot {}, {} file(s), {} restored and verified in {:.1}s{}; recovery time {:.1}s{}",
                if d.ok { "ok" } else { "FAILED" },
                d.source,
                d.snapshot
                    .as_deref()
                    .and_then(|s| s.get(..8))
                    .unwrap_or("-"),
                d.files,
                output::size(d.bytes),
                d.restore_seconds,
                d.command_seconds
                    .map(|s| format!(", drill command {s:.1}s"))
                    .unwrap_or_default(),
                d.seconds,
                d.message
                    .as_deref()
                    .map(|m| format!(": {}", output::message(m)))
                    .unwrap_or_default(),
            );
        }
    }
    if failed > 0 {
        let first = drills.iter().find(|d| !d.ok);
        eprintln!(
            "vault: drill {name}: {failed} source(s) failed; first: {}: {}",
            first.map_or("", |d| d.source.as_str()),
            output::message(first.and_then(|d| d.message.as_deref()).unwrap_or(""))
        );
        return Ok(exit::FATAL);
    }
    Ok(exit::OK)
}

enum Scratch {
    Given(PathBuf),
    Temp(tempfile::TempDir),
}

impl Scratch {
    fn path(&self) -> &Path {
        match self {
            Scratch::Given(p) => p,
            Scratch::Temp(t) => t.path(),
        }
    }
}

/// The `--target` directory, made owner-only if it is not there. One that
/// is there must be ours and writable by us only: another user who could
/// rename or replace what the drill makes in it would get the dumps.
fn private_target(dir: &Path) -> Result<PathBuf> {
    match std::fs::metadata(dir) {
        Ok(meta) => {
            owned_by_us_only(dir, &meta)?;
            Ok(dir.to_owned())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(NEW_DIR_MODE)
                .create(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            Ok(dir.to_owned())
        }
        Err(e) => Err(e).with_context(|| format!("cannot open {}", dir.display())),
    }
}

/// Refuse `dir` unless it is a directory of ours that only we can write.
fn owned_by_us_only(dir: &Path, meta: &std::fs::Metadata) -> Result<()> {
    let problem = if !meta.is_dir() {
        "is not a directory"
    } else if meta.uid() != nix::unistd::geteuid().as_raw() {
        "belongs to another user"
    } else if meta.mode() & 0o022 != 0 {
        "is writable by other users"
    } else {
        return Ok(());
    };
    bail!(
        "drill target {} {problem}: restored files (database dumps) would be open to them; give a directory only you can write",
        dir.display()
    )
}

/// Make a source's directory in the scratch directory, owner-only: the
/// files restored below it keep their snapshot's modes, and no other user
/// reaches them through it. One already there must be ours and empty.
fn private_source_dir(dir: &Path) -> Result<()> {
    match std::fs::DirBuilder::new().mode(NEW_DIR_MODE).create(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(dir)?;
    owned_by_us_only(dir, &meta)?;
    if std::fs::read_dir(dir)?.next().is_some() {
        bail!(
            "{} is not empty: the drill restores only into an empty directory",
            dir.display()
        );
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(NEW_DIR_MODE))
        .with_context(|| format!("cannot make {} owner-only", dir.display()))
}

/// $TMPDIR, else /var/tmp (a drill restores whole dumps: a tmpfs /tmp
/// would hold them in memory).
fn scratch_root() -> PathBuf {
    match std::env::var_os("TMPDIR") {
        Some(t) if !t.is_empty() => PathBuf::from(t),
        _ if Path::new("/var/tmp").is_dir() => PathBuf::from("/var/tmp"),
        _ => std::env::temp_dir(),
    }
}

/// Remove restored files; read-only directories are made writable first.
fn remove(dir: &Path) {
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        if let Ok(meta) = std::fs::symlink_metadata(&d)
            && meta.is_dir()
        {
            let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700));
            if let Ok(entries) = std::fs::read_dir(&d) {
                stack.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
            }
        }
    }
    if let Err(e) = std::fs::remove_dir_all(dir) {
        eprintln!("warning: cannot remove {}: {e}", dir.display());
    }
}
