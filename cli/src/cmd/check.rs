//! `vault check`: run the engine's check and render its report.

use crate::args::{CheckArgs, Global};
use crate::exit;
use crate::output;
use anyhow::{Context, Result};
use engine::Repository;
use engine::maintenance::check::{CheckOptions, CheckReport, ReadData, check, check_unopened};
use engine::repo_format::heartbeat::HeartbeatKind;
use serde_json::{Value, json};
use std::io::Write;

/// Prints the names of check's stages on stdout, as restic does.
pub struct Stages {
    /// Print nothing.
    pub quiet: bool,
}

impl engine::Progress for Stages {
    fn stage(&self, name: &str) {
        if !self.quiet {
            // A closed stdout is noticed by the next `out!`.
            let _ = writeln!(std::io::stdout().lock(), "{name}");
        }
    }
}

/// Check an open repository (locked to read), and write a check
/// heartbeat when it passes and `heartbeat` asks for one.
pub fn execute(
    repo: &Repository,
    options: &CheckOptions,
    heartbeat: bool,
    progress: &dyn engine::Progress,
) -> Result<CheckReport> {
    let started = std::time::Instant::now();
    let report = check(repo, options, progress)?;
    if heartbeat && report.ok() {
        super::write_heartbeat(
            repo,
            super::Beat {
                kind: HeartbeatKind::Check,
                hostname: engine::repository::current_user_and_host().1,
                source: String::new(),
                duration: started.elapsed(),
                bytes: report.bytes_read,
                files: 0,
                errors: 0,
                snapshot: None,
            },
        )
        .context("the check passed, but")?;
    }
    Ok(report)
}

/// One line: how many problems, and the commands that repair them.
pub fn failure_line(report: &CheckReport) -> String {
    let count = report.findings.len();
    let repairs = report.repairs();
    let tail = if repairs.is_empty() {
        String::new()
    } else {
        format!("; to repair: {}", crate::advice::repair_commands(&repairs))
    };
    format!(
        "check found {count} problem{}; see above{tail}",
        if count == 1 { "" } else { "s" }
    )
}

/// Run `check`.
pub fn run(g: &Global, a: &CheckArgs) -> Result<u8> {
    let read_data = match (&a.read_data_subset, a.read_data) {
        (Some(s), _) => ReadData::parse_subset(s)?,
        (None, true) => ReadData::All,
        (None, false) => ReadData::None,
    };
    let options = CheckOptions {
        read_data,
        clock_skew: crate::session::clock_skew(g)?,
    };
    let (backend, password) = super::backend_and_password(g)?;
    let stages = Stages {
        quiet: g.quiet || g.json,
    };
    let report = match crate::password::open(backend.clone(), &password) {
        Ok(repo) => {
            repo.require_full_key()?;
            super::limit_memory(g, &repo)?;
            let _lock = super::lock(g, &repo, super::Access::Read, "check")?;
            execute(&repo, &options, a.heartbeat, &stages)?
        }
        Err(e) => check_unopened(&backend, e)?,
    };
    if g.json {
        output::print_json(&report_json(&report))?;
    } else {
        print_human(g, &report)?;
    }
    if report.ok() {
        return Ok(exit::OK);
    }
    eprintln!("{}", failure_line(&report));
    Ok(exit::FATAL)
}

fn print_human(g: &Global, report: &CheckReport) -> engine::Result<()> {
    for f in &report.findings {
        out!(
            "error: {}: {}",
            f.problem.object(),
            output::message(&f.problem.to_string())
        );
        for a in &f.affected {
            let mut paths: Vec<String> = a
                .paths
                .iter()
                .map(|p| output::path(p).into_owned())
                .collect();
            if a.more > 0 {
                paths.push(format!("and {} more", a.more));
            }
            out!(
                "  damages snapshot {}: {}",
                a.snapshot.short(),
                paths.join(", ")
            );
        }
    }
    if !g.quiet {
        for i in &report.info {
            match i.repair() {
                Some(r) => out!(
                    "info: {} ({} tidies this up)",
                    output::message(&i.to_string()),
                    crate::advice::repair_command(r)
                ),
                None => out!("info: {}", output::message(&i.to_string())),
            }
        }
        if !report.packs_read.is_empty() {
            out!(
                "read {} pack(s), {} blob(s), {}",
                report.packs_read.len(),
                report.blobs_read,
                output::size(report.bytes_read)
            );
        }
        if report.ok() {
            out!(
                "no problems found ({} snapshots, {} trees, {} packs)",
                report.snapshots,
                report.trees,
                report.packs
            );
        }
    }
    Ok(())
}

/// The `--json` document.
pub fn report_json(report: &CheckReport) -> Value {
    let errors: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut v = json!({
                "kind": f.problem.kind(),
                "object": f.problem.object(),
                "message": f.problem.to_string(),
                "repair": crate::advice::repair_commands(f.problem.repair()),
                "snapshots": f.affected.iter().map(|a| json!({
                    "id": a.snapshot.to_hex(),
                    "paths": a.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                    "more_paths": a.more,
                })).collect::<Vec<_>>(),
            });
            if let (Some(blob), Some(obj)) = (f.problem.blob(), v.as_object_mut()) {
                obj.insert("blob".into(), json!(blob.to_hex()));
            }
            v
        })
        .collect();
    let info: Vec<Value> = report
        .info
        .iter()
        .map(|i| json!({"kind": i.kind(), "message": i.to_string(), "repair": i.repair().map(crate::advice::repair_command)}))
        .collect();
    json!({
        "ok": report.ok(),
        "errors": errors,
        "info": info,
        "repair": report.repairs().into_iter().map(crate::advice::repair_command).collect::<Vec<_>>(),
        "packs_read": report.packs_read.iter().map(|p| p.to_hex()).collect::<Vec<_>>(),
        "blobs_read": report.blobs_read,
        "bytes_read": report.bytes_read,
        "snapshots": report.snapshots,
        "trees": report.trees,
        "packs": report.packs,
    })
}
