//! `vault restore`.

use crate::args::{Global, OverwriteArg, RestoreArgs};
use crate::exit;
use crate::output::{self, CliProgress};
use anyhow::{Result, bail};
use engine::read::restore::{Overwrite, RestoreOptions, restore};
use engine::read::snapshots::find_snapshot;
use engine::read::tree_walk::find_node;
use serde_json::json;
use std::path::PathBuf;

/// Run `restore`.
pub fn run(g: &Global, a: &RestoreArgs) -> Result<u8> {
    let Some(target) = &a.target else {
        bail!(
            "--target DIR is required: restore never writes to the original paths; nothing was written"
        );
    };
    let (snapshot_arg, sub_path) = match a.snapshot.split_once(':') {
        Some((s, p)) => (s, Some(p)),
        None => (a.snapshot.as_str(), None),
    };
    let repo = super::open_with_index(g, super::Access::Read, "restore")?;
    let (id, snapshot) = find_snapshot(&repo, snapshot_arg, &super::filter(&a.filter))?;
    let (tree, at) = match sub_path {
        Some(p) => {
            let node = find_node(&repo, snapshot.tree, p, &id.short())?;
            let Some(sub) = node.subtree else {
                bail!(
                    "{p} is not a directory in snapshot {}; restore its parent and use --include",
                    id.short()
                );
            };
            (sub, PathBuf::from("/"))
        }
        None => (snapshot.tree, PathBuf::from("/")),
    };
    let options = RestoreOptions {
        target: target.clone(),
        include: a.include.clone(),
        exclude: a.exclude.clone(),
        overwrite: match a.overwrite {
            OverwriteArg::Always => Overwrite::Always,
            OverwriteArg::IfChanged => Overwrite::IfChanged,
            OverwriteArg::Never => Overwrite::Never,
        },
        dry_run: a.dry_run,
        verify: a.verify,
        max_entries: a.limit.max_entries(),
    };
    if !g.json && !g.quiet {
        out!("restoring snapshot {} to {}", id.short(), target.display());
    }
    let progress = CliProgress::new(g, None);
    let started = std::time::Instant::now();
    let result = restore(&repo, &tree, &at, &options, &progress);
    progress.finish();
    let report = result?;
    for e in &report.errors {
        eprintln!("error: {}", output::message(e));
    }
    if g.json {
        output::print_json(&json!({
            "message_type": "summary",
            "snapshot_id": id.to_hex(),
            "files_restored": report.files_restored,
            "files_skipped": report.files_skipped,
            "dirs_restored": report.dirs_restored,
            "bytes_restored": report.bytes_restored,
            "files_verified": report.files_verified,
            "dry_run": a.dry_run,
            "total_duration": started.elapsed().as_secs_f64(),
            "errors": report.errors,
        }))?;
    } else if !g.quiet {
        out!(
            "{} {} files and {} directories ({}), {} existing files kept{} in {:.1}s",
            if a.dry_run {
                "would restore"
            } else {
                "restored"
            },
            report.files_restored,
            report.dirs_restored,
            output::size(report.bytes_restored),
            report.files_skipped,
            if a.verify {
                format!(", {} files verified", report.files_verified)
            } else {
                String::new()
            },
            started.elapsed().as_secs_f64()
        );
    }
    if report.errors.is_empty() {
        Ok(exit::OK)
    } else {
        let first = report.errors.first().cloned().unwrap_or_default();
        Err(engine::Error::RestoreIncomplete {
            count: report.errors.len(),
            first,
        }
        .into())
    }
}
