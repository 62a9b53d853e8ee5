//! Human and JSON rendering, and the progress bar.

use chrono::Offset;
use engine::repo_format::SnapshotId;
use engine::repo_format::snapshot::Snapshot;
use engine::repo_format::tree::{Node, NodeKind, Timestamp};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use std::io::IsTerminal;
use std::path::Path;

/// Print one JSON document on stdout.
pub fn print_json(value: &Value) -> engine::Result<()> {
    out!("{value}");
    Ok(())
}

/// Bytes as a human size (binary units).
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.3} {}", UNITS.get(unit).unwrap_or(&"B"))
    }
}

/// A snapshot time as RFC 3339 in the snapshot's recorded offset.
pub fn time(t: &Timestamp, utc_offset: i32) -> String {
    let offset = chrono::FixedOffset::east_opt(utc_offset).unwrap_or(chrono::Utc.fix());
    chrono::DateTime::from_timestamp(t.secs, t.nanos)
        .map(|d| {
            d.with_timezone(&offset)
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        })
        .unwrap_or_else(|| format!("@{}", t.secs))
}

/// A snapshot time for tables: `2024-05-01 12:00:00`, in its recorded offset.
pub fn table_time(t: &Timestamp, utc_offset: i32) -> String {
    let full = time(t, utc_offset);
    full.get(..19).unwrap_or(&full).replace('T', " ")
}

/// A file time as RFC 3339 in UTC.
pub fn file_time(t: &Timestamp) -> String {
    time(t, 0)
}

/// The contract's JSON object for a snapshot.
pub fn snapshot_json(id: &SnapshotId, s: &Snapshot) -> Value {
    let summary = s.summary.as_ref().map(|m| {
        json!({
            "backup_start": file_time(&m.backup_start),
            "backup_end": file_time(&m.backup_end),
            "files_new": m.files_new,
            "files_changed": m.files_changed,
            "files_unmodified": m.files_unmodified,
            "dirs_new": m.dirs_new,
            "dirs_changed": m.dirs_changed,
            "dirs_unmodified": m.dirs_unmodified,
            "data_blobs": m.data_blobs,
            "tree_blobs": m.tree_blobs,
            "data_added": m.data_added,
            "data_added_packed": m.data_added_packed,
            "total_files_processed": m.total_files_processed,
            "total_bytes_processed": m.total_bytes_processed,
        })
    });
    json!({
        "id": id.to_hex(),
        "short_id": id.short(),
        "time": time(&s.time, s.utc_offset),
        "hostname": s.hostname,
        "username": s.username,
        "uid": s.uid,
        "gid": s.gid,
        "paths": s.paths,
        "tags": s.tags,
        "excludes": s.excludes,
        "parent": s.parent.map(|p| p.to_hex()),
        "original": s.original.map(|p| p.to_hex()),
        "tree": s.tree.to_hex(),
        "command": s.command,
        "program_version": s.program_version,
        "summary": summary,
    })
}

/// The name of a node kind in listings.
pub fn kind_name(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::File => "file",
        NodeKind::Dir => "dir",
        NodeKind::Symlink => "symlink",
        NodeKind::Fifo => "fifo",
        NodeKind::CharDevice => "chardev",
        NodeKind::BlockDevice => "dev",
        NodeKind::Socket => "socket",
    }
}

/// A node as JSON (ls, cat tree).
pub fn node_json(path: Option<&Path>, node: &Node) -> Value {
    let mut v = json!({
        "name": String::from_utf8_lossy(&node.name),
        "type": kind_name(node.kind),
        "mode": node.mode,
        "permissions": mode_string(node.kind, node.mode),
        "uid": node.uid,
        "gid": node.gid,
        "user": node.user,
        "group": node.group,
        "size": node.size,
        "mtime": file_time(&node.mtime),
        "atime": file_time(&node.atime),
        "ctime": file_time(&node.ctime),
        "inode": node.inode,
        "device_id": node.device_id,
        "links": node.links,
    });
    if let Some(obj) = v.as_object_mut() {
        if let Some(p) = path {
            obj.insert("path".into(), json!(p.to_string_lossy()));
        }
        if node.kind == NodeKind::Symlink {
            obj.insert(
                "link_target".into(),
                json!(String::from_utf8_lossy(&node.link_target)),
            );
        }
        if node.kind == NodeKind::File {
            obj.insert(
                "content".into(),
                json!(node.content.iter().map(|c| c.to_hex()).collect::<Vec<_>>()),
            );
        }
        if let Some(sub) = &node.subtree {
            obj.insert("subtree".into(), json!(sub.to_hex()));
        }
        if !node.xattrs.is_empty() {
            obj.insert(
                "xattrs".into(),
                json!(node
                    .xattrs
                    .iter()
                    .map(|x| json!({"name": String::from_utf8_lossy(&x.name), "value": String::from_utf8_lossy(&x.value)}))
                    .collect::<Vec<_>>()),
            );
        }
    }
    v
}

/// `drwxr-xr-x` style.
pub fn mode_string(kind: NodeKind, mode: u32) -> String {
    let t = match kind {
        NodeKind::Dir => 'd',
        NodeKind::Symlink => 'l',
        NodeKind::Fifo => 'p',
        NodeKind::CharDevice => 'c',
        NodeKind::BlockDevice => 'b',
        NodeKind::Socket => 's',
        NodeKind::File => '-',
    };
    let mut s = String::from(t);
    for (i, c) in "rwxrwxrwx".chars().enumerate() {
        s.push(if mode & (0o400 >> i) != 0 { c } else { '-' });
    }
    s
}

/// Progress on stderr: a bar when stderr is a terminal, nothing otherwise.
pub struct CliProgress {
    bar: Option<ProgressBar>,
    quiet: bool,
    verbose: bool,
    /// Put before each line (`[backup www]` in `vault run`).
    label: Option<String>,
}

impl CliProgress {
    /// A progress reporter for `total` bytes (None: unknown).
    pub fn new(global: &crate::args::Global, total: Option<u64>) -> Self {
        let show =
            std::io::stderr().is_terminal() && !global.no_progress && !global.quiet && !global.json;
        let bar = show.then(|| {
            let bar = match total {
                Some(t) => ProgressBar::new(t),
                None => ProgressBar::no_length(),
            };
            let template = if total.is_some() {
                "{elapsed_precise} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}"
            } else {
                "{elapsed_precise} {bytes} {bytes_per_sec} {msg}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        CliProgress {
            bar,
            quiet: global.quiet,
            verbose: global.verbose > 0 && !global.quiet,
            label: None,
        }
    }

    /// Each line it prints starts with `[label] `.
    pub fn labelled(mut self, label: &str) -> Self {
        self.label = Some(format!("[{label}] "));
        self
    }

    fn line(&self, text: String) {
        let text = format!("{}{text}", self.label.as_deref().unwrap_or(""));
        match &self.bar {
            Some(b) => b.println(text),
            None => eprintln!("{text}"),
        }
    }

    /// Remove the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl engine::Progress for CliProgress {
    /// `-v` names every file as it is processed (on stderr, so that
    /// `--json` output stays one document).
    fn file_processed(&self, path: &Path) {
        if self.verbose {
            self.line(path.display().to_string());
        }
    }

    fn bytes_processed(&self, bytes: u64) {
        if let Some(b) = &self.bar {
            b.inc(bytes);
        }
    }

    fn warning(&self, message: &str) {
        if !self.quiet {
            self.line(format!("warning: {message}"));
        }
    }
}
