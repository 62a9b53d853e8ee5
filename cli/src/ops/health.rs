//! `vault health [PROFILE]`: are the profile's backups fresh, of their
//! usual size, and checked? Exit 0 when they are; exit 4 with one line per
//! problem on stderr when not.
//!
//! With the password it reads the snapshots (age, size against the median
//! of the ones before, any dated after the store received it), the
//! heartbeats (errors, the last check) and the locks (a stale one). With `--heartbeats` it reads only the signed
//! heartbeats (SPEC.md §7.7), with the verification key and read access to
//! the store: what a monitor on another machine can do.

use super::profile::{Target, source_snapshots};
use crate::args::{Global, HealthArgs};
use crate::config::{self, Profile, Source};
use crate::exit;
use crate::output;
use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Utc};
use engine::health::{Last, Problem, Thresholds, age, judge_check, judge_source};
use engine::repo_format::heartbeat::{Heartbeat, HeartbeatKind, HeartbeatVerifyingKey};
use serde_json::{Value, json};
use std::time::Duration;

struct SourceHealth<'a> {
    name: &'a str,
    source: &'a Source,
    host: Option<String>,
    last: Option<Last>,
    /// The newest successful restore drill (its heartbeat).
    drill: Option<Last>,
}

/// Run `health`.
pub fn run(g: &Global, a: &HealthArgs) -> Result<u8> {
    let config = config::load(g.config.as_deref())?;
    let (name, profile) = config.profile(a.profile.as_deref())?;
    let repo_config = config.repository(&profile.repository)?;
    let sources = config.profile_sources(profile);
    let mut problems: Vec<String> = Vec::new();
    let mut health: Vec<SourceHealth<'_>> = Vec::new();
    let beats: Vec<Heartbeat>;
    if a.heartbeats {
        let key_text = a
            .heartbeat_key
            .as_deref()
            .or(repo_config.heartbeat_key.as_deref())
            .ok_or_else(|| {
                anyhow!(
                    "no heartbeat key: give --heartbeat-key or heartbeat-key in [repositories.{}] (`vault key heartbeat` prints it)",
                    profile.repository
                )
            })?;
        let key = HeartbeatVerifyingKey::from_hex(key_text).context("--heartbeat-key")?;
        let options = crate::session::store_options(g, super::profile::environment(repo_config))?;
        let backend = crate::session::open_store(&repo_config.url, &options)?;
        if !backend.exists(&engine::repo_format::layout::ObjectName::CONFIG)? {
            return Err(engine::Error::RepositoryNotFound {
                url: repo_config.url.clone(),
            }
            .into());
        }
        beats = verified(&backend, &key, &mut problems)?;
        for (source_name, source) in &sources {
            let last = beats
                .iter()
                .filter(|b| {
                    b.kind == HeartbeatKind::Backup
                        && b.source == *source_name
                        && source.host.as_ref().is_none_or(|h| *h == b.hostname)
                })
                .max_by_key(|b| b.time);
            health.push(SourceHealth {
                name: source_name,
                source,
                host: last.map(|b| b.hostname.clone()),
                last: last.map(Last::from_heartbeat),
                drill: None,
            });
        }
    } else {
        let target = Target::new(g, &config, &profile.repository, true)?;
        let repo = target.open(g)?;
        let _lock = crate::session::lock(g, &repo, crate::session::Access::Read, "health")?;
        let key = engine::repository::heartbeat::verifying_key(&repo);
        beats = verified(repo.backend(), &key, &mut problems)?;
        let all = repo.snapshots()?;
        // A snapshot dated after the store received it would pass for a
        // fresh backup (and a forged one could hide that backups stopped).
        for skewed in repo
            .witnessed()?
            .skewed(&all, crate::session::clock_skew(g)?)
            .into_iter()
            .filter(|s| s.ahead)
        {
            problems.push(format!("repository {}: {skewed}", profile.repository));
        }
        for (source_name, source) in &sources {
            let mine = source_snapshots(&all, source_name, source);
            let host = super::profile::source_host(source);
            let last = Last::from_snapshots(&mine, &beats);
            health.push(SourceHealth {
                name: source_name,
                source,
                host: Some(host),
                last,
                drill: None,
            });
        }
        for info in engine::repository::lock::list(&repo)? {
            if info.stale {
                problems.push(format!(
                    "repository {}: stale {} lock of {} (pid {} on {}) since {}: run `vault unlock` once that process is gone",
                    profile.repository,
                    info.lock.kind.name(),
                    info.lock.command,
                    info.lock.pid,
                    info.lock.hostname,
                    output::time(&info.lock.created, 0)
                ));
            }
        }
    }

    for h in &mut health {
        h.drill = beats
            .iter()
            .filter(|b| {
                b.kind == HeartbeatKind::Drill
                    && b.source == h.name
                    && h.source
                        .host
                        .as_ref()
                        .is_none_or(|host| *host == b.hostname)
            })
            .max_by_key(|b| b.time)
            .map(Last::from_heartbeat);
    }
    let now = Utc::now();
    for h in &health {
        let limits = Thresholds {
            max_age: h
                .source
                .max_age
                .as_deref()
                .map(|t| config::duration("max-age", t))
                .transpose()?,
            size_drop: h
                .source
                .size_drop
                .as_deref()
                .map(|t| config::share("size-drop", t))
                .transpose()?,
            size_history: h.source.size_history,
        };
        for p in judge_source(h.last.as_ref(), &limits, now) {
            problems.push(format!("source {}: {}", h.name, describe(&p)));
        }
    }
    let check = beats
        .iter()
        .filter(|b| b.kind == HeartbeatKind::Check)
        .filter_map(|b| b.time.to_utc())
        .max();
    let max = profile
        .check
        .max_age
        .as_deref()
        .map(|t| config::duration("check.max-age", t))
        .transpose()?;
    if let Some(p) = judge_check(check, max, now) {
        problems.push(format!(
            "repository {}: {}",
            profile.repository,
            describe(&p)
        ));
    }

    let report = report_json(name, profile, &health, check, now, &problems);
    if let Some(path) = &a.prometheus {
        write_prometheus(path, name, profile, &health, check, now, problems.len())?;
    }
    if g.json {
        output::print_json(&report)?;
    } else if !g.quiet {
        print_human(&health, check, now)?;
        match problems.len() {
            0 => out!("healthy"),
            n => out!("unhealthy: {n} problem(s), listed on stderr"),
        }
    }
    for p in &problems {
        eprintln!("vault: unhealthy: {}", output::message(p));
    }
    Ok(if problems.is_empty() {
        exit::OK
    } else {
        exit::UNHEALTHY
    })
}

/// Every heartbeat that verifies; one that does not is a problem (it was
/// damaged or forged).
fn verified(
    backend: &engine::Backend,
    key: &HeartbeatVerifyingKey,
    problems: &mut Vec<String>,
) -> Result<Vec<Heartbeat>> {
    let mut out = Vec::new();
    for (path, read) in engine::repository::heartbeat::read_all(backend, key)? {
        match read {
            Ok(b) => out.push(b),
            Err(e) => problems.push(format!(
                "heartbeat {path} does not verify ({e}): damaged, forged, or the key is not this repository's"
            )),
        }
    }
    Ok(out)
}

/// A problem in words, with what to do about it where that is a command.
fn describe(p: &Problem) -> String {
    match p {
        Problem::NoBackup => {
            "no backup on record; run `vault run` (or look at why it fails)".to_owned()
        }
        Problem::TooOld { age, max } => format!(
            "the newest backup is {} old, more than max-age {}",
            human_duration(*age),
            human_duration(*max)
        ),
        Problem::Shrunk {
            bytes,
            median,
            earlier,
            allowed,
        } => format!(
            "the newest backup is {}, {:.0}% below the median {} of the {earlier} before it (size-drop {:.0}%)",
            output::size(*bytes),
            (1.0 - *bytes as f64 / median) * 100.0,
            output::size(*median as u64),
            allowed * 100.0
        ),
        Problem::NeverChecked { max } => format!(
            "no successful check on record (check.max-age {}); run `vault run` or `vault check --heartbeat`",
            human_duration(*max)
        ),
        Problem::CheckTooOld { age, max } => format!(
            "the last successful check was {} ago, more than check.max-age {}",
            human_duration(*age),
            human_duration(*max)
        ),
    }
}

/// `3d 4h`, `2h 5m`, `42s`.
fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, minutes, seconds) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, _) => format!("{minutes}m {seconds}s"),
        (0, _, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    }
}

fn report_json(
    name: &str,
    profile: &Profile,
    health: &[SourceHealth<'_>],
    check: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    problems: &[String],
) -> Value {
    json!({
        "profile": name,
        "repository": profile.repository,
        "healthy": problems.is_empty(),
        "problems": problems,
        "sources": health.iter().map(|h| {
            let last = h.last.as_ref();
            json!({
                "source": h.name,
                "host": h.host,
                "last_backup": last.and_then(|l| l.time).map(|t| t.to_rfc3339()),
                "age_seconds": last.and_then(|l| l.time).map(|t| age(now, t).as_secs()),
                "bytes": last.map(|l| l.bytes),
                "duration_seconds": last.and_then(|l| l.seconds),
                "files": last.map(|l| l.files),
                "errors": last.and_then(|l| l.errors),
                "snapshot": last.and_then(|l| l.snapshot.clone()),
                "earlier_bytes": last.map(|l| l.history.clone()),
                "last_drill": h.drill.as_ref().and_then(|d| d.time).map(|t| t.to_rfc3339()),
                "drill_seconds": h.drill.as_ref().and_then(|d| d.seconds),
            })
        }).collect::<Vec<_>>(),
        "last_check": check.map(|t| t.to_rfc3339()),
        "check_age_seconds": check.map(|t| age(now, t).as_secs()),
    })
}

fn print_human(
    health: &[SourceHealth<'_>],
    check: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> engine::Result<()> {
    for h in health {
        match &h.last {
            Some(l) => out!(
                "source {}: last backup {} ago, {}, {} file(s){}",
                h.name,
                l.time
                    .map_or("?".to_owned(), |t| human_duration(age(now, t))),
                output::size(l.bytes),
                l.files,
                match l.errors {
                    Some(e) if e > 0 => format!(", {e} unreadable"),
                    _ => String::new(),
                }
            ),
            None => out!("source {}: no backup", h.name),
        }
    }
    match check {
        Some(t) => out!("last successful check {} ago", human_duration(age(now, t))),
        None => out!("no successful check on record"),
    }
    Ok(())
}

/// Escape a Prometheus label value.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A textfile-collector file (node_exporter), written whole then renamed
/// into place, so the collector never reads half of one.
fn write_prometheus(
    path: &std::path::Path,
    name: &str,
    profile: &Profile,
    health: &[SourceHealth<'_>],
    check: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    problems: usize,
) -> Result<()> {
    use std::fmt::Write as _;
    let base = format!(
        "profile=\"{}\",repository=\"{}\"",
        label(name),
        label(&profile.repository)
    );
    let mut text = String::new();
    let mut metric = |metric: &str, help: &str, rows: Vec<(String, f64)>| {
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(text, "# HELP {metric} {help}");
        let _ = writeln!(text, "# TYPE {metric} gauge");
        for (labels, value) in rows {
            let _ = writeln!(text, "{metric}{{{labels}}} {value}");
        }
    };
    // The figures of each source's newest backup, or (drill) its newest drill.
    let rows = |drill: bool, f: &dyn Fn(&Last) -> Option<f64>| -> Vec<(String, f64)> {
        health
            .iter()
            .filter_map(|h| {
                let last = if drill { &h.drill } else { &h.last };
                let value = f(last.as_ref()?)?;
                let labels = format!(
                    "{base},source=\"{}\",host=\"{}\"",
                    label(h.name),
                    label(h.host.as_deref().unwrap_or(""))
                );
                Some((labels, value))
            })
            .collect()
    };
    let per_source = |f: &dyn Fn(&Last) -> Option<f64>| rows(false, f);
    let per_drill = |f: &dyn Fn(&Last) -> Option<f64>| rows(true, f);
    let ts = |t: DateTime<Utc>| t.timestamp_millis() as f64 / 1000.0;
    metric(
        "vault_backup_last_timestamp_seconds",
        "When the newest backup of the source was taken (Unix time).",
        per_source(&|l| l.time.map(ts)),
    );
    metric(
        "vault_backup_age_seconds",
        "Age of the newest backup of the source when this file was written.",
        per_source(&|l| l.time.map(|t| age(now, t).as_secs_f64())),
    );
    metric(
        "vault_backup_last_size_bytes",
        "Bytes the newest backup of the source read.",
        per_source(&|l| Some(l.bytes as f64)),
    );
    metric(
        "vault_backup_last_duration_seconds",
        "How long the newest backup of the source took.",
        per_source(&|l| l.seconds),
    );
    metric(
        "vault_backup_last_files",
        "Files the newest backup of the source read.",
        per_source(&|l| Some(l.files as f64)),
    );
    metric(
        "vault_backup_last_errors",
        "Files the newest backup of the source could not read.",
        per_source(&|l| l.errors.map(|e| e as f64)),
    );
    metric(
        "vault_drill_last_timestamp_seconds",
        "When the last successful restore drill of the source finished (Unix time).",
        per_drill(&|l| l.time.map(ts)),
    );
    metric(
        "vault_drill_last_duration_seconds",
        "How long the last successful restore drill of the source took: the measured recovery time.",
        per_drill(&|l| l.seconds),
    );
    let check_rows = |f: &dyn Fn(DateTime<Utc>) -> f64| {
        check
            .map(|t| vec![(base.clone(), f(t))])
            .unwrap_or_default()
    };
    metric(
        "vault_check_last_timestamp_seconds",
        "When the last successful check of the repository finished (Unix time).",
        check_rows(&ts),
    );
    metric(
        "vault_check_age_seconds",
        "Age of the last successful check when this file was written.",
        check_rows(&|t| age(now, t).as_secs_f64()),
    );
    metric(
        "vault_health_problems",
        "Problems vault health found (0 = healthy).",
        vec![(base.clone(), problems as f64)],
    );
    metric(
        "vault_health_timestamp_seconds",
        "When vault health wrote this file (Unix time).",
        vec![(base.clone(), ts(now))],
    );
    write_whole(path, text.as_bytes(), 0o644)
}

/// Write `path` whole: into a temporary file created exclusively under a
/// random name in its directory (so no link planted at a name vault would
/// use is ever followed), given `mode` (the collector runs as another
/// user), then renamed over `path`.
fn write_whole(path: &std::path::Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cannot = || format!("cannot write {}", path.display());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(cannot)?;
    tmp.write_all(bytes).with_context(cannot)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .with_context(cannot)?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(cannot)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(human_duration(Duration::from_secs(42)), "42s");
        assert_eq!(
            human_duration(Duration::from_secs(3 * 86_400 + 7200)),
            "3d 2h"
        );
        assert_eq!(human_duration(Duration::from_secs(7500)), "2h 5m");
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
