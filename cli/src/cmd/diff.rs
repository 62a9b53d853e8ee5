//! `vault diff`.

use crate::args::{DiffArgs, Global};
use crate::exit;
use crate::output;
use anyhow::{Result, bail};
use engine::Repository;
use engine::read::diff::{DiffCounts, DiffOptions, diff};
use engine::read::snapshots::{SnapshotFilter, find_snapshot};
use engine::read::tree_walk::find_node;
use engine::repo_format::BlobId;
use engine::repo_format::SnapshotId;
use engine::repo_format::tree::NodeKind;
use serde_json::{Value, json};
use std::os::unix::ffi::OsStrExt;

/// Run `diff`.
pub fn run(g: &Global, a: &DiffArgs) -> Result<u8> {
    let repo = super::open_with_index(g, super::Access::Read, "diff")?;
    let filter = super::filter(&a.filter);
    let (id1, tree1) = resolve(&repo, &a.snapshot1, &filter)?;
    let (id2, tree2) = resolve(&repo, &a.snapshot2, &filter)?;
    if !g.json && !g.quiet {
        out!("comparing snapshot {} to {}:\n", id1.short(), id2.short());
    }
    let options = DiffOptions {
        metadata: a.metadata,
        max_entries: a.limit.max_entries(),
    };
    let stats = diff(&repo, &tree1, &tree2, &options, &mut |change| {
        let mut path = change.path.as_os_str().as_bytes().to_vec();
        if change.kind == NodeKind::Dir {
            path.push(b'/');
        }
        let modifier = change.modifier.as_str();
        if g.json {
            let mut message = serde_json::Map::new();
            message.insert("message_type".into(), json!("change"));
            output::insert_bytes(&mut message, "path", &path);
            message.insert("modifier".into(), json!(modifier));
            output::print_json(&Value::Object(message))?;
        } else if !g.quiet {
            let path = output::escape(&path, output::Keep::Nothing);
            out!("{modifier:<5}{path}");
        }
        Ok(())
    })?;
    if g.json {
        output::print_json(&json!({
            "message_type": "statistics",
            "source_snapshot": id1.to_hex(),
            "target_snapshot": id2.to_hex(),
            "changed_files": stats.changed_files,
            "added": counts_json(&stats.added),
            "removed": counts_json(&stats.removed),
        }))?;
    } else if !g.quiet {
        let (add, rem) = (&stats.added, &stats.removed);
        out!();
        out!(
            "Files:       {:>5} new, {:>5} removed, {:>5} changed",
            add.files,
            rem.files,
            stats.changed_files
        );
        out!("Dirs:        {:>5} new, {:>5} removed", add.dirs, rem.dirs);
        out!(
            "Others:      {:>5} new, {:>5} removed",
            add.others,
            rem.others
        );
        out!(
            "Data Blobs:  {:>5} new, {:>5} removed",
            add.blobs.data_blobs,
            rem.blobs.data_blobs
        );
        out!(
            "Tree Blobs:  {:>5} new, {:>5} removed",
            add.blobs.tree_blobs,
            rem.blobs.tree_blobs
        );
        out!("  Added:   {}", output::size(add.blobs.raw_size));
        out!("  Removed: {}", output::size(rem.blobs.raw_size));
    }
    Ok(exit::OK)
}

/// The snapshot and the tree named by `SNAPSHOT` or `SNAPSHOT:PATH`.
fn resolve(repo: &Repository, arg: &str, filter: &SnapshotFilter) -> Result<(SnapshotId, BlobId)> {
    let (snapshot_arg, sub_path) = match arg.split_once(':') {
        Some((s, p)) => (s, Some(p)),
        None => (arg, None),
    };
    let (id, snapshot) = find_snapshot(repo, snapshot_arg, filter)?;
    let Some(path) = sub_path else {
        return Ok((id, snapshot.tree));
    };
    let node = find_node(repo, snapshot.tree, path, &id.short())?;
    match node.subtree.filter(|_| node.kind == NodeKind::Dir) {
        Some(tree) => Ok((id, tree)),
        None => bail!(
            "{} is not a directory in snapshot {}: diff compares directories",
            output::name(path),
            id.short()
        ),
    }
}

fn counts_json(c: &DiffCounts) -> Value {
    json!({
        "files": c.files,
        "dirs": c.dirs,
        "others": c.others,
        "data_blobs": c.blobs.data_blobs,
        "tree_blobs": c.blobs.tree_blobs,
        "bytes": c.blobs.raw_size,
        "stored_bytes": c.blobs.stored_size,
    })
}
