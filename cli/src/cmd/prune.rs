//! `vault prune`.

use crate::args::{Global, PruneArgs};
use crate::exit;
use crate::output::{self, size};
use anyhow::{Result, bail};
use engine::maintenance::prune::{MaxUnused, OtherLocks, PackCount, PruneOptions, PruneReport};
use engine::repository::lock::LockKind;

/// `--max-unused`: `5%`, `100M`, or `unlimited`.
pub fn parse_max_unused(value: &str) -> Result<MaxUnused> {
    let v = value.trim();
    if v == "unlimited" {
        return Ok(MaxUnused::Unlimited);
    }
    if let Some(p) = v.strip_suffix('%') {
        return match p.trim().parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => Ok(MaxUnused::Percent(p)),
            _ => bail!("invalid --max-unused {value:?}: a percentage must be between 0% and 100%"),
        };
    }
    engine::units::parse_size(v).map(MaxUnused::Bytes).map_err(|e| {
        anyhow::anyhow!(
            "invalid --max-unused {value:?} ({e}): use a percentage (5%), a size (100M) or 'unlimited'"
        )
    })
}

/// The options from the flags.
pub fn options(a: &PruneArgs) -> Result<PruneOptions> {
    let max_repack_size = a
        .max_repack_size
        .as_deref()
        .map(|s| super::parse_size("--max-repack-size", s))
        .transpose()?;
    Ok(PruneOptions {
        max_unused: parse_max_unused(&a.max_unused)?,
        max_repack_size,
        dry_run: a.dry_run,
        lock: None,
    })
}

/// Run `prune`.
pub fn run(g: &Global, a: &PruneArgs) -> Result<u8> {
    let options = options(a)?;
    let repo = super::open(g, super::Access::Write(LockKind::Maintenance), "prune")?;
    prune_open(g, &repo, &options)
}

/// Prune an open, locked repository (also used by `forget --prune`).
pub fn prune_open(g: &Global, session: &super::Session, options: &PruneOptions) -> Result<u8> {
    let report = execute(session, options)?;
    if g.json {
        output::print_json(&serde_json::to_value(&report)?)?;
    } else if !g.quiet {
        print_report(&report)?;
    }
    Ok(exit::OK)
}

/// Prune on an open session locked for maintenance, beside the other
/// processes' locks.
pub fn execute(session: &super::Session, options: &PruneOptions) -> Result<PruneReport> {
    let mut options = options.clone();
    options.lock = session.lock.as_ref().map(|l| l.handle());
    let others = OtherLocks {
        repo: &session.repo,
        own: session.lock.as_ref().map(|l| l.session()),
    };
    Ok(engine::maintenance::prune::prune(
        &session.repo,
        &options,
        &others,
    )?)
}

fn packs(c: &PackCount) -> String {
    format!("{} packs ({})", c.packs, size(c.bytes))
}

fn print_report(r: &PruneReport) -> engine::Result<()> {
    let would = if r.dry_run { "would " } else { "" };
    out!(
        "{} snapshots reference {} blobs ({}); {} blobs ({}) are unused",
        r.snapshots,
        r.plan.blobs_used,
        size(r.plan.bytes_used),
        r.plan.blobs_unused,
        size(r.plan.bytes_unused)
    );
    out!("store holds {}", packs(&r.plan.packs_total));
    out!("  {would}keep      {}", packs(&r.plan.packs_keep));
    out!("  {would}repack    {}", packs(&r.plan.packs_repack));
    out!(
        "  {would}delete    {} with nothing used",
        packs(&r.plan.packs_delete)
    );
    out!(
        "  {would}delete    {} in no index",
        packs(&r.plan.packs_unindexed)
    );
    let total = r.plan.bytes_used + r.plan.bytes_unused_after;
    let share = if total == 0 {
        0.0
    } else {
        r.plan.bytes_unused_after as f64 * 100.0 / total as f64
    };
    out!(
        "unused data left: {} ({share:.1}% of the data kept)",
        size(r.plan.bytes_unused_after)
    );
    if r.dry_run {
        out!("dry run: nothing was changed");
        return Ok(());
    }
    if r.packs_written.packs > 0 {
        out!("wrote {}", packs(&r.packs_written));
    }
    if r.blobs_rescued > 0 {
        out!(
            "rescued {} blobs that a backup running meanwhile referenced",
            r.blobs_rescued
        );
    }
    out!("deleted {}", packs(&r.deleted));
    if r.staging_files_removed > 0 {
        out!(
            "removed {} half-written file(s) ({}) left by interrupted commands",
            r.staging_files_removed,
            size(r.staging_bytes_removed)
        );
    }
    if r.pending.packs > 0 {
        out!(
            "{} wait for deletion until the backups running meanwhile have finished; the next prune removes them",
            packs(&r.pending)
        );
    }
    Ok(())
}
