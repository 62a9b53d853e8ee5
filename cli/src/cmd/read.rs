//! The read-only listing commands: `snapshots`, `ls`, `dump`.

use crate::args::{DumpArgs, Global, LsArgs, SnapshotsArgs};
use crate::exit;
use crate::output;
use anyhow::Result;
use engine::read::snapshots::find_snapshot;
use engine::read::tree_walk::{Walk, find_node, list};
use engine::repo_format::tree::{Node, NodeKind};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Run `snapshots`.
pub fn snapshots(g: &Global, a: &SnapshotsArgs) -> Result<u8> {
    let repo = super::open(g, super::Access::Read, "snapshots")?;
    let filter = super::filter(&a.filter);
    let mut list: Vec<_> = repo
        .snapshots()?
        .into_iter()
        .filter(|(_, s)| filter.matches(s))
        .collect();
    if let Some(n) = a.latest {
        let mut groups: BTreeMap<(String, Vec<String>), usize> = BTreeMap::new();
        let mut keep = vec![false; list.len()];
        for (i, (_, s)) in list.iter().enumerate().rev() {
            let count = groups
                .entry((s.hostname.clone(), s.paths.clone()))
                .or_default();
            if *count < n {
                *count += 1;
                if let Some(k) = keep.get_mut(i) {
                    *k = true;
                }
            }
        }
        let mut k = keep.into_iter();
        list.retain(|_| k.next().unwrap_or(false));
    }
    if g.json {
        let arr: Vec<Value> = list
            .iter()
            .map(|(id, s)| output::snapshot_json(id, s))
            .collect();
        output::print_json(&Value::Array(arr))?;
        return Ok(exit::OK);
    }
    out!(
        "{:<8}  {:<25}  {:<16}  {:<16}  {:>10}  Paths",
        "ID",
        "Time",
        "Host",
        "Tags",
        "Size"
    );
    out!("{}", "-".repeat(100));
    for (id, s) in &list {
        let size = s
            .summary
            .as_ref()
            .map(|m| output::size(m.total_bytes_processed))
            .unwrap_or_default();
        out!(
            "{:<8}  {:<25}  {:<16}  {:<16}  {:>10}  {}",
            id.short(),
            output::table_time(&s.time, s.utc_offset),
            output::name(&s.hostname),
            output::names(&s.tags, ","),
            size,
            output::names(&s.paths, ", ")
        );
    }
    out!("{}", "-".repeat(100));
    out!("{} snapshots", list.len());
    Ok(exit::OK)
}

pub(super) fn print_node(g: &Global, long: bool, path: &Path, node: &Node) -> engine::Result<()> {
    if g.json {
        output::print_json(&output::node_json(Some(path), node))?;
    } else if long {
        let owner = if node.user.is_empty() {
            node.uid.to_string()
        } else {
            output::name(&node.user).into_owned()
        };
        let group = if node.group.is_empty() {
            node.gid.to_string()
        } else {
            output::name(&node.group).into_owned()
        };
        let time = output::file_time(&node.mtime);
        let mut line = format!(
            "{} {:>8} {:>8} {:>12} {} {}",
            output::mode_string(node.kind, node.mode),
            owner,
            group,
            node.size,
            time.get(..19).unwrap_or(&time).replace('T', " "),
            output::path(path)
        );
        if node.kind == NodeKind::Symlink {
            line.push_str(" -> ");
            line.push_str(&output::escape(&node.link_target, output::Keep::Nothing));
        }
        out!("{line}");
    } else {
        out!("{}", output::path(path));
    }
    Ok(())
}

/// Run `ls`.
pub fn ls(g: &Global, a: &LsArgs) -> Result<u8> {
    let repo = super::open_with_index(g, super::Access::Read, "ls")?;
    let (id, snapshot) = find_snapshot(&repo, &a.snapshot, &super::filter(&a.filter))?;
    let (start_path, recursive) = match &a.path {
        Some(p) => (
            PathBuf::from("/").join(p.trim_start_matches('/')),
            a.recursive,
        ),
        None => (PathBuf::from("/"), true),
    };
    let node = find_node(
        &repo,
        snapshot.tree,
        &start_path.to_string_lossy(),
        &id.short(),
    )?;
    // Counted before the first line, so that a refused walk prints one.
    let walk = match node.subtree {
        Some(sub) if node.kind == NodeKind::Dir && recursive => {
            Some(Walk::new(&repo, &sub, a.limit.max_entries())?)
        }
        _ => None,
    };
    if !g.json && !g.quiet {
        eprintln!(
            "snapshot {} of {} at {}",
            id.short(),
            output::names(&snapshot.paths, ", "),
            output::time(&snapshot.time, snapshot.utc_offset)
        );
    }
    match (node.kind, node.subtree, walk) {
        (_, _, Some(walk)) => {
            walk.run(&start_path, &mut |path, child| {
                print_node(g, a.long, path, child)?;
                Ok(true)
            })?;
        }
        (NodeKind::Dir, Some(sub), None) => {
            list(&repo, &sub, &start_path, &mut |path, child| {
                print_node(g, a.long, path, child)
            })?;
        }
        _ => print_node(g, a.long, &start_path, &node)?,
    }
    Ok(exit::OK)
}

/// Run `dump`.
pub fn dump(g: &Global, a: &DumpArgs) -> Result<u8> {
    let repo = super::open_with_index(g, super::Access::Read, "dump")?;
    let (id, snapshot) = find_snapshot(&repo, &a.snapshot, &super::filter(&a.filter))?;
    let node = find_node(&repo, snapshot.tree, &a.path, &id.short())?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    engine::read::dump::dump(
        &repo,
        &node,
        Path::new(&a.path),
        a.limit.max_entries(),
        &mut out,
    )?;
    out.flush()
        .map_err(|e| engine::Error::io("write", "standard output", e))?;
    Ok(exit::OK)
}
