//! `vault copy`: snapshots into a second repository with its own keys.

use crate::args::{CopyArgs, Global};
use crate::exit;
use crate::output::{self, CliProgress};
use crate::password::Sources;
use anyhow::{Context, Result, bail};
use engine::Progress;
use engine::maintenance::copy::{Copier, CopyOptions, CopyOutcome, CopyStats};
use engine::read::snapshots::select_many;
use engine::repo_format::SnapshotId;
use engine::repo_format::snapshot::Snapshot;
use engine::repository::lock::{LockGuard, LockKind};
use serde_json::{Value, json};

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
    crate::session::load_index(&dst.repo, super::Access::Write(LockKind::Shared))
        .context("the destination repository")?;
    let progress = CliProgress::new(g, None);
    let human = !g.json && !g.quiet;
    let result = execute(&src, &dst, &chosen, &progress, |id, outcome| {
        if !human {
            return Ok(());
        }
        match outcome {
            CopyOutcome::Copied(new) => out!("snapshot {} copied to {}", id.short(), new.short()),
            CopyOutcome::Skipped(existing) => out!(
                "snapshot {} skipped, already in destination as {}",
                id.short(),
                existing.short()
            ),
        }
        Ok(())
    });
    progress.finish();
    let done = result?;
    if g.json {
        output::print_json(&done.json())?;
    } else if !g.quiet {
        out!(
            "copied {} snapshot(s), skipped {}: {} blobs, {} uploaded",
            done.copied.len(),
            done.skipped.len(),
            done.stats.blobs(),
            output::size(done.stats.bytes_uploaded)
        );
    }
    Ok(exit::OK)
}

/// What a copy did: each snapshot's pair of ids, and what was written.
pub struct Copied {
    /// Source and destination of each snapshot copied.
    pub copied: Vec<(SnapshotId, SnapshotId)>,
    /// Source and destination of each snapshot the destination had.
    pub skipped: Vec<(SnapshotId, SnapshotId)>,
    /// Blobs and bytes written.
    pub stats: CopyStats,
}

impl Copied {
    /// The `--json` summary.
    pub fn json(&self) -> Value {
        let pairs = |list: &[(SnapshotId, SnapshotId)]| {
            list.iter()
                .map(|(s, d)| json!({"source": s.to_hex(), "destination": d.to_hex()}))
                .collect::<Vec<_>>()
        };
        json!({
            "copied": pairs(&self.copied),
            "skipped": pairs(&self.skipped),
            "blobs_copied": self.stats.blobs(),
            "data_blobs_copied": self.stats.data_blobs,
            "tree_blobs_copied": self.stats.tree_blobs,
            "bytes_added": self.stats.bytes_added,
            "bytes_uploaded": self.stats.bytes_uploaded,
        })
    }
}

/// Copy `chosen` (oldest first) from `src` (index loaded) to `dst` (locked
/// to write, index loaded), telling `each` what became of every snapshot.
pub fn execute(
    src: &super::Session,
    dst: &super::Session,
    chosen: &[(SnapshotId, Snapshot)],
    progress: &dyn Progress,
    mut each: impl FnMut(&SnapshotId, &CopyOutcome) -> engine::Result<()>,
) -> Result<Copied> {
    let options = CopyOptions {
        lock: dst.lock.as_ref().map(LockGuard::handle),
    };
    let mut copier = Copier::new(&src.repo, &dst.repo, options)?;
    let mut done = Copied {
        copied: Vec::new(),
        skipped: Vec::new(),
        stats: CopyStats::default(),
    };
    for (id, snapshot) in chosen {
        let outcome = copier
            .copy(*id, snapshot, progress)
            .with_context(|| format!("while copying snapshot {}", id.short()))?;
        each(id, &outcome)?;
        match outcome {
            CopyOutcome::Copied(new) => done.copied.push((*id, new)),
            CopyOutcome::Skipped(existing) => done.skipped.push((*id, existing)),
        }
    }
    done.stats = copier.stats();
    Ok(done)
}
