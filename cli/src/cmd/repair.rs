//! `vault repair index` and `vault repair snapshots`.

use super::Access;
use crate::args::{Global, RepairArgs, RepairCommand, RepairIndexArgs, RepairSnapshotsArgs};
use crate::cmd::check::Stages;
use crate::exit;
use crate::output;
use anyhow::Result;
use engine::maintenance::repair::{
    RepairIndexOptions, RepairSnapshotsOptions, repair_index, repair_snapshots, snapshot_path,
};
use engine::read::snapshots::select;
use engine::repo_format::SnapshotId;
use engine::repo_format::layout::FileKind;
use engine::repository::lock::LockKind;
use serde_json::json;

/// Run `repair`.
pub fn run(g: &Global, a: &RepairArgs) -> Result<u8> {
    match &a.what {
        RepairCommand::Index(a) => index(g, a),
        RepairCommand::Snapshots(a) => snapshots(g, a),
    }
}

fn ids(list: &[engine::repo_format::PackId]) -> Vec<String> {
    list.iter().map(|p| p.to_hex()).collect()
}

fn index(g: &Global, a: &RepairIndexArgs) -> Result<u8> {
    // Repair reads the repository itself, never a cached copy of it.
    let repo = super::open(
        &super::uncached(g),
        Access::Write(LockKind::Exclusive),
        "repair index",
    )?;
    let stages = Stages {
        quiet: g.quiet || g.json,
    };
    let report = repair_index(&repo, &RepairIndexOptions { dry_run: a.dry_run }, &stages)?;
    if g.json {
        output::print_json(&json!({
            "dry_run": a.dry_run,
            "unchanged": report.unchanged,
            "packs_indexed": report.packs_indexed,
            "packs_added": ids(&report.packs_added),
            "packs_removed": ids(&report.packs_removed),
            "packs_kept_from_index": report.packs_kept_from_index.iter().map(|(p, m)| json!({"pack": p.to_hex(), "message": m})).collect::<Vec<_>>(),
            "packs_unreadable": report.packs_unreadable.iter().map(|(p, m)| json!({"pack": p.to_hex(), "message": m})).collect::<Vec<_>>(),
            "index_damaged": report.index_damaged.iter().map(|(i, m)| json!({"index": i.to_hex(), "message": m})).collect::<Vec<_>>(),
            "copies_left_out": report.copies_left_out.iter().map(|(p, b)| json!({"pack": p.to_hex(), "blob": b.to_hex()})).collect::<Vec<_>>(),
            "index_written": report.index_written.iter().map(|i| i.to_hex()).collect::<Vec<_>>(),
            "index_deleted": report.index_deleted.iter().map(|i| i.to_hex()).collect::<Vec<_>>(),
        }))?;
        return Ok(exit::OK);
    }
    if g.quiet {
        return Ok(exit::OK);
    }
    for (i, m) in &report.index_damaged {
        out!("index file {}: damaged ({m}); replaced", i.short());
    }
    for p in &report.packs_added {
        out!("pack {}: was in no index; added", p.short());
    }
    for p in &report.packs_removed {
        out!(
            "pack {}: missing from the store; removed from the index",
            p.short()
        );
    }
    for (p, m) in &report.packs_kept_from_index {
        out!(
            "pack {}: header cannot be read ({m}); kept its entries from the old index",
            p.short()
        );
    }
    for (p, m) in &report.packs_unreadable {
        out!(
            "pack {}: header cannot be read ({m}) and no index describes it; left out, its blobs are lost",
            p.short()
        );
    }
    for (p, b) in &report.copies_left_out {
        out!(
            "pack {}: its copy of blob {} does not open, and another does; left out",
            p.short(),
            b.short()
        );
    }
    if report.unchanged {
        out!("the index matches the packs; nothing to do");
    } else if a.dry_run {
        out!(
            "would write a new index of {} pack(s) and delete {} old index file(s)",
            report.packs_indexed,
            report.index_deleted.len()
        );
    } else {
        out!(
            "wrote {} index file(s) for {} pack(s), deleted {} old index file(s)",
            report.index_written.len(),
            report.packs_indexed,
            report.index_deleted.len()
        );
        if !report.packs_removed.is_empty() || !report.packs_unreadable.is_empty() {
            out!("data was lost: run 'vault repair snapshots --forget' next");
        }
    }
    Ok(exit::OK)
}

fn snapshots(g: &Global, a: &RepairSnapshotsArgs) -> Result<u8> {
    let session = super::open(
        &super::uncached(g),
        Access::Write(LockKind::Exclusive),
        "repair snapshots",
    )?;
    let repo = &session.repo;
    let mut chosen: Vec<SnapshotId> = Vec::new();
    if !a.snapshots.is_empty() {
        // Damaged snapshots cannot be chosen (there is nothing to repair
        // from), but they must not stop the others from being found.
        let mut all = Vec::new();
        for id in repo.list_ids(FileKind::Snapshot)? {
            let id = SnapshotId(id);
            if let Ok(s) = repo.load_snapshot(&id) {
                all.push((id, s));
            }
        }
        all.sort_by_key(|(id, s)| (s.time, *id));
        let filter = super::filter(&a.filter);
        for arg in &a.snapshots {
            chosen.push(select(all.clone(), arg, &filter)?.0);
        }
    }
    let options = RepairSnapshotsOptions {
        snapshots: chosen,
        forget: a.forget,
        dry_run: a.dry_run,
    };
    let stages = Stages {
        quiet: g.quiet || g.json,
    };
    let report = repair_snapshots(repo, &options, &stages)?;
    if g.json {
        output::print_json(&json!({
            "dry_run": a.dry_run,
            "checked": report.checked,
            "unreadable": report.unreadable.iter().map(|(id, m)| json!({"id": id.to_hex(), "message": m})).collect::<Vec<_>>(),
            "repaired": report.repaired.iter().map(|r| json!({
                "original": r.original.to_hex(),
                "repaired": r.repaired.map(|id| id.to_hex()),
                "removed": r.removed,
                "changes": r.changes.iter().map(|(p, m)| json!({"path": snapshot_path(p).display().to_string(), "message": m})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }))?;
        return Ok(exit::OK);
    }
    if g.quiet {
        return Ok(exit::OK);
    }
    for (id, m) in &report.unreadable {
        out!(
            "snapshot {}: cannot be read ({}); left alone",
            id.short(),
            output::message(&m.to_string())
        );
    }
    for r in &report.repaired {
        out!("snapshot {}:", r.original.short());
        for (p, m) in &r.changes {
            out!(
                "  {}: {}",
                output::path(&snapshot_path(p)),
                output::message(&m.to_string())
            );
        }
        let verb = |done: &'static str, would: &'static str| if a.dry_run { would } else { done };
        match r.repaired {
            Some(id) => out!("  saved repaired snapshot {}", id.short()),
            None if r.changes.iter().any(|(p, _)| p.as_os_str() == "/") => {
                out!("  cannot be repaired")
            }
            None => out!("  {} a repaired snapshot", verb("saved", "would save")),
        }
        if r.removed {
            out!("  {} the damaged original", verb("removed", "would remove"));
        }
    }
    if report.repaired.is_empty() {
        out!(
            "{} snapshot(s) checked; none references lost data",
            report.checked
        );
    } else if !a.forget {
        out!("the damaged originals are kept; 'vault repair snapshots --forget' removes them");
    }
    Ok(exit::OK)
}
