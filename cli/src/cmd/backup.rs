//! `vault backup`.

use crate::args::{BackupArgs, Global};
use crate::exit;
use crate::output::{self, CliProgress};
use anyhow::{Context, Result, bail};
use engine::Progress;
use engine::backup::{
    BackupOptions, BackupReport, ExcludeOptions, NamedCommand, ParentChoice, Source, backup,
};
use engine::error::CommandFailure;
use engine::read::snapshots::{SnapshotFilter, find_snapshot};
use engine::repo_format::heartbeat::HeartbeatKind;
use engine::repository::lock::{LockGuard, LockKind};
use serde_json::{Value, json};

pub fn split_tags(tags: &[String]) -> Vec<String> {
    tags.iter()
        .flat_map(|t| t.split(','))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

/// `NAME=CMD` of `--command`.
pub fn parse_command(arg: &str) -> Result<NamedCommand> {
    match arg.split_once('=') {
        Some((name, shell)) if !name.trim().is_empty() && !shell.trim().is_empty() => {
            Ok(NamedCommand {
                filename: name.to_owned(),
                shell: shell.to_owned(),
            })
        }
        _ => bail!(
            "invalid --command {arg:?}: give NAME=CMD, for example --command 'mydb.sql=pg_dump mydb'"
        ),
    }
}

/// Run `backup`.
pub fn run(g: &Global, a: &BackupArgs) -> Result<u8> {
    let source = if a.stdin {
        if !a.paths.is_empty() {
            bail!("--stdin takes no paths; give the file name with --stdin-filename");
        }
        Source::Stdin {
            filename: a.stdin_filename.clone(),
            reader: Box::new(std::io::stdin()),
        }
    } else if a.stdin_from_command {
        if a.command.is_empty() {
            bail!(
                "--stdin-from-command needs the command after --, for example: vault backup --stdin-from-command -- pg_dump mydb"
            );
        }
        if !a.paths.is_empty() {
            bail!("--stdin-from-command takes no paths; give the command after --");
        }
        Source::Command {
            filename: a.stdin_filename.clone(),
            argv: a.command.clone(),
        }
    } else {
        if a.paths.is_empty() && a.commands.is_empty() {
            bail!(
                "nothing to back up: give one or more paths, --command NAME=CMD, --stdin, or --stdin-from-command -- CMD"
            );
        }
        if !a.command.is_empty() {
            bail!("arguments after -- are only used with --stdin-from-command");
        }
        if a.commands.is_empty() {
            Source::Paths(a.paths.clone())
        } else {
            Source::PathsAndCommands {
                paths: a.paths.clone(),
                commands: a
                    .commands
                    .iter()
                    .map(|c| parse_command(c))
                    .collect::<Result<_>>()?,
            }
        }
    };
    let exclude_larger_than = a
        .exclude_larger_than
        .as_deref()
        .map(|s| super::parse_size("--exclude-larger-than", s))
        .transpose()?;
    let time = a
        .time
        .as_deref()
        .map(|t| {
            chrono::DateTime::parse_from_rfc3339(t).with_context(|| {
                format!("invalid --time {t:?}: use RFC 3339, e.g. 2024-05-01T12:00:00Z")
            })
        })
        .transpose()?;

    let session = super::open(g, super::Access::Write(LockKind::Shared), "backup")?;
    let parent = match &a.parent {
        Some(p) => ParentChoice::Id(find_snapshot(&session, p, &SnapshotFilter::default())?.0),
        None => ParentChoice::Auto,
    };
    let job = Job {
        source,
        options: BackupOptions {
            excludes: ExcludeOptions {
                exclude: a.exclude.clone(),
                iexclude: a.iexclude.clone(),
                exclude_files: a.exclude_file.clone(),
                exclude_if_present: a.exclude_if_present.clone(),
                exclude_larger_than,
                one_file_system: a.one_file_system,
            },
            tags: split_tags(&a.tags),
            host: a.host.clone(),
            parent,
            force: a.force,
            dry_run: a.dry_run,
            time,
            lock: None,
            command_env: crate::password::child_env(&Default::default()),
        },
        heartbeat: a.heartbeat.clone(),
    };
    let progress = CliProgress::new(g, None);
    let result = execute(&session, job, &progress);
    progress.finish();
    let done = match result {
        Err(e) if g.json => {
            if let Some(engine::Error::CommandFailed { failures }) = e.downcast_ref() {
                // The summary still comes last, saying why nothing was saved.
                output::print_json(&failure_summary(failures))?;
            }
            return Err(e);
        }
        r => r?,
    };
    let report = &done.report;
    for e in &report.errors {
        eprintln!(
            "error: {}: {}",
            output::name(&e.path),
            output::message(&e.message)
        );
    }
    if g.json {
        output::print_json(&done.summary)?;
    } else if !g.quiet {
        print_human(report, done.seconds)?;
    }
    Ok(exit_code(report))
}

/// A backup to run: what, how, and the heartbeat to write after it.
pub struct Job {
    /// What to back up.
    pub source: Source,
    /// How (the lock is the session's).
    pub options: BackupOptions,
    /// Write a backup heartbeat for this source name when it succeeds.
    pub heartbeat: Option<String>,
}

/// What a backup did.
pub struct Done {
    /// The engine's report.
    pub report: BackupReport,
    /// How long it took.
    pub seconds: f64,
    /// The `--json` summary.
    pub summary: Value,
}

/// Run `job` on an open session holding a lock that lets it write, then
/// write its heartbeat.
pub fn execute(session: &super::Session, mut job: Job, progress: &dyn Progress) -> Result<Done> {
    job.options.lock = session.lock.as_ref().map(LockGuard::handle);
    let started = std::time::Instant::now();
    let report = backup(&session.repo, job.source, &job.options, progress)?;
    let seconds = started.elapsed().as_secs_f64();
    let summary = summary_json(&report, seconds, job.options.dry_run);
    if let (Some(source), Some(id)) = (&job.heartbeat, report.snapshot_id) {
        let s = &report.summary;
        let host = job
            .options
            .host
            .clone()
            .unwrap_or_else(|| engine::repository::current_user_and_host().1);
        super::write_heartbeat(
            &session.repo,
            super::Beat {
                kind: HeartbeatKind::Backup,
                hostname: host,
                source: source.clone(),
                duration: started.elapsed(),
                bytes: s.total_bytes_processed,
                files: s.total_files_processed,
                errors: report.errors.len() as u64,
                snapshot: Some(*id.as_bytes()),
            },
        )
        .with_context(|| format!("snapshot {} was saved, but", id.short()))?;
    }
    Ok(Done {
        report,
        seconds,
        summary,
    })
}

/// 0, or 3 when some sources could not be read (and says so on stderr).
pub fn exit_code(report: &BackupReport) -> u8 {
    if report.errors.is_empty() {
        exit::OK
    } else {
        eprintln!("vault: {}", incomplete(report));
        exit::INCOMPLETE
    }
}

/// Why a backup that saved its snapshot is incomplete.
pub fn incomplete(report: &BackupReport) -> String {
    format!(
        "{} source(s) could not be read; the snapshot was saved without them",
        report.errors.len()
    )
}

/// The `--json` summary of a backup whose commands failed: no snapshot.
pub fn failure_summary(failures: &[CommandFailure]) -> Value {
    json!({
        "message_type": "summary",
        "snapshot_id": null,
        "errors": failures.iter().map(|f| json!({
            "path": f.path,
            "command": f.command,
            "status": f.status,
            "stderr_tail": f.stderr_tail,
            "message": f.to_string(),
        })).collect::<Vec<_>>(),
    })
}

/// The `--json` summary of a backup.
pub fn summary_json(report: &BackupReport, seconds: f64, dry_run: bool) -> Value {
    let s = &report.summary;
    json!({
        "message_type": "summary",
        "snapshot_id": report.snapshot_id.map(|i| i.to_hex()),
        "parent": report.parent.map(|i| i.to_hex()),
        "files_new": s.files_new,
        "files_changed": s.files_changed,
        "files_unmodified": s.files_unmodified,
        "dirs_new": s.dirs_new,
        "dirs_changed": s.dirs_changed,
        "dirs_unmodified": s.dirs_unmodified,
        "data_blobs": s.data_blobs,
        "tree_blobs": s.tree_blobs,
        "data_added": s.data_added,
        "data_added_packed": s.data_added_packed,
        "total_files_processed": s.total_files_processed,
        "total_bytes_processed": s.total_bytes_processed,
        "total_duration": seconds,
        "stream_bytes": report.stream_bytes,
        "streams": report.streams.iter().map(|s| json!({"path": s.path, "command": s.command, "bytes": s.bytes})).collect::<Vec<_>>(),
        "dry_run": dry_run,
        "errors": report.errors.iter().map(|e| json!({"path": e.path, "message": e.message})).collect::<Vec<_>>(),
        "warnings": report.warnings,
    })
}

fn print_human(report: &BackupReport, seconds: f64) -> engine::Result<()> {
    let s = &report.summary;
    if let Some(p) = report.parent {
        out!("using parent snapshot {}", p.short());
    }
    for s in &report.streams {
        match &s.command {
            Some(c) => out!(
                "{}: {} from `{}`",
                output::name(&s.path),
                output::size(s.bytes),
                output::message(c)
            ),
            None => out!(
                "{}: {} from standard input",
                output::name(&s.path),
                output::size(s.bytes)
            ),
        }
    }
    out!(
        "Files:       {:>6} new, {:>6} changed, {:>6} unmodified",
        s.files_new,
        s.files_changed,
        s.files_unmodified
    );
    out!(
        "Dirs:        {:>6} new, {:>6} changed, {:>6} unmodified",
        s.dirs_new,
        s.dirs_changed,
        s.dirs_unmodified
    );
    out!(
        "Added to the repository: {} ({} stored)",
        output::size(s.data_added),
        output::size(s.data_added_packed)
    );
    out!(
        "processed {} files, {} in {:.1}s",
        s.total_files_processed,
        output::size(s.total_bytes_processed),
        seconds
    );
    match report.snapshot_id {
        Some(id) => out!("snapshot {} saved", id.short()),
        None => out!("dry run: nothing was saved"),
    }
    Ok(())
}
