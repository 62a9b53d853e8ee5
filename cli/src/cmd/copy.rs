//! `vault copy`: snapshots into a second repository with its own keys.

use crate::args::{CopyArgs, Global};
use crate::exit;
use crate::output::{self, CliProgress};
use crate::password::Sources;
use anyhow::{Context, Result, bail};
use engine::maintenance::copy::{Copier, CopyOptions, CopyOutcome};
use engine::read::snapshots::select_many;
use engine::repository::lock::{LockGuard, LockKind};
use serde_json::json;

/// Run `copy`.
pub fn run(g: &Global, a: &CopyArgs) -> Result<u8> {
    let to = match a.to.as_deref() {
        Some(u) if !u.is_empty() => u,
        _ => bail!("no destination given: use --to URL or set VAULT_TO_REPOSITORY"),
    };
    let src = super::open_with_index(g, super::Access::Read, "copy")?;
    let chosen = select_many(src.snapshots()?, &a.snapshots, &super::filter(&a.filter))?;
    let sources = Sources {
        file: a.to_password_file.as_deref(),
        command: a.to_password_command.as_deref(),
        env_prefix: "VAULT_TO_",
        flag_prefix: "--to-",
        what: "destination repository",
    };
    let dst = super::open_second(
        g,
        to,
        &sources,
        super::Access::Write(LockKind::Shared),
        "copy",
    )
    .context("destination repository")?;
    dst.repo
        .load_index(engine::repository::index::LoadMode::Strict)
        .context("while loading the destination's index")?;
    let options = CopyOptions {
        lock: dst.lock.as_ref().map(LockGuard::handle),
    };
    let mut copier = Copier::new(&src.repo, &dst.repo, options)?;
    let progress = CliProgress::new(g, None);
    let human = !g.json && !g.quiet;
    let (mut copied, mut skipped) = (Vec::new(), Vec::new());
    for (id, snapshot) in &chosen {
        let outcome = copier.copy(*id, snapshot, &progress);
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                progress.finish();
                return Err(e).with_context(|| format!("while copying snapshot {}", id.short()));
            }
        };
        let pair = |dest: &engine::repo_format::SnapshotId| json!({"source": id.to_hex(), "destination": dest.to_hex()});
        match outcome {
            CopyOutcome::Copied(new) => {
                if human {
                    out!("snapshot {} copied to {}", id.short(), new.short());
                }
                copied.push(pair(&new));
            }
            CopyOutcome::Skipped(existing) => {
                if human {
                    out!(
                        "snapshot {} skipped, already in destination as {}",
                        id.short(),
                        existing.short()
                    );
                }
                skipped.push(pair(&existing));
            }
        }
    }
    progress.finish();
    let stats = copier.stats();
    if g.json {
        output::print_json(&json!({
            "copied": copied,
            "skipped": skipped,
            "blobs_copied": stats.blobs(),
            "data_blobs_copied": stats.data_blobs,
            "tree_blobs_copied": stats.tree_blobs,
            "bytes_added": stats.bytes_added,
            "bytes_uploaded": stats.bytes_uploaded,
        }))?;
    } else if !g.quiet {
        out!(
            "copied {} snapshot(s), skipped {}: {} blobs, {} uploaded",
            copied.len(),
            skipped.len(),
            stats.blobs(),
            output::size(stats.bytes_uploaded)
        );
    }
    Ok(exit::OK)
}
