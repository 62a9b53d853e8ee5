//! `vault stats`.

use crate::args::{Global, StatsArgs, StatsMode};
use crate::exit;
use crate::output;
use anyhow::{Context, Result};
use engine::read::snapshots::select_many;
use engine::read::stats::stats;
use serde_json::json;

/// Run `stats`.
pub fn run(g: &Global, a: &StatsArgs) -> Result<u8> {
    let repo = super::open_with_index(g, super::Access::Read, "stats")?;
    let chosen = select_many(repo.snapshots()?, &a.snapshots, &super::filter(&a.filter))?;
    let roots: Vec<_> = chosen.iter().map(|(_, s)| s.tree).collect();
    let report = stats(&repo, &roots).context("while counting")?;
    let mode = match a.mode {
        StatsMode::RestoreSize => "restore-size",
        StatsMode::RawData => "raw-data",
    };
    if g.json {
        output::print_json(&json!({
            "mode": mode,
            "snapshots_count": report.snapshots,
            "total_size": report.total_size,
            "total_file_count": report.total_file_count,
            "total_blob_count": report.total_blob_count(),
            "data_blob_count": report.blobs.data_blobs,
            "tree_blob_count": report.blobs.tree_blobs,
            "raw_data_size": report.blobs.raw_size,
            "stored_size": report.blobs.stored_size,
            "dedup_ratio": report.dedup_ratio(),
            "compression_ratio": report.compression_ratio(),
        }))?;
        return Ok(exit::OK);
    }
    out!("Stats in {mode} mode:");
    out!("     Snapshots processed:  {}", report.snapshots);
    match a.mode {
        StatsMode::RestoreSize => {
            out!("        Total File Count:  {}", report.total_file_count);
            out!(
                "              Total Size:  {}",
                output::size(report.total_size)
            );
        }
        StatsMode::RawData => {
            out!("        Total Blob Count:  {}", report.total_blob_count());
            out!(
                " Total Uncompressed Size:  {}",
                output::size(report.blobs.raw_size)
            );
            out!(
                "              Total Size:  {}",
                output::size(report.blobs.stored_size)
            );
        }
    }
    out!("     Deduplication Ratio:  {:.2}x", report.dedup_ratio());
    out!(
        "       Compression Ratio:  {:.2}x",
        report.compression_ratio()
    );
    Ok(exit::OK)
}
