//! Human and JSON rendering, and the progress bar.

use chrono::Offset;
use engine::repo_format::SnapshotId;
use engine::repo_format::snapshot::Snapshot;
use engine::repo_format::tree::{Node, NodeKind, Timestamp};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::io::IsTerminal;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What [`escape`] leaves as it is besides printable characters.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Nothing: a name (file, host, tag, user) reads back exactly, so a
    /// backslash is escaped too.
    Nothing,
    /// Backslashes: a message, in which a name is one part of the text and
    /// a doubled backslash would only confuse.
    Backslash,
    /// Backslashes and tabs: a line a child process wrote (its line
    /// structure is kept by the caller splitting at newlines).
    BackslashAndTab,
}

/// Bytes from a repository or a child process made safe for a terminal:
/// control characters (C0, DEL, C1 U+0080–U+009F) and the bidirectional
/// formatting characters (which reorder what follows them) become escapes,
/// so that no name can move the cursor, clear the screen, set the title or
/// print a line of its own. `\n`, `\t`, `\r` and `\\` as in C; other
/// control bytes below 0x80 as `\xHH`; a control or bidi *character* above
/// 0x7F as `\u{HHHH}`; a byte that is not UTF-8 as `\xHH` (so `\x9b` is the
/// raw byte and `\u{9b}` the character: the two never read alike). README.md
/// "Names in output" is the user's account of this rule.
pub fn escape(bytes: &[u8], keep: Keep) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(bytes)
        && !text.chars().any(|c| needs_escape(c, keep))
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if !needs_escape(c, keep) {
                out.push(c);
                continue;
            }
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if u32::from(c) < 0x80 => out.push_str(&format!("\\x{:02x}", u32::from(c))),
                c => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char, keep: Keep) -> bool {
    match c {
        '\\' => keep == Keep::Nothing,
        '\t' => keep != Keep::BackslashAndTab,
        // Bidirectional formatting: LRM, RLM, ALM, the embeddings and
        // overrides, the isolates.
        '\u{200e}' | '\u{200f}' | '\u{61c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
            true
        }
        c => c.is_control(),
    }
}

/// A name (file, host, tag, user) from a repository, for human output.
pub fn name(text: &str) -> Cow<'_, str> {
    escape(text.as_bytes(), Keep::Nothing)
}

/// A path from a repository, for human output.
pub fn path(path: &Path) -> Cow<'_, str> {
    escape(path.as_os_str().as_bytes(), Keep::Nothing)
}

/// Names joined by `sep`, each escaped.
pub fn names(list: &[String], sep: &str) -> String {
    list.iter().map(|n| name(n)).collect::<Vec<_>>().join(sep)
}

/// A message that may embed names (an error, a warning), for a terminal.
pub fn message(text: &str) -> Cow<'_, str> {
    escape(text.as_bytes(), Keep::Backslash)
}

/// Insert `key` (the bytes as UTF-8, invalid sequences replaced by U+FFFD)
/// into a JSON object and, when the bytes are not UTF-8, `key_raw`: the
/// exact bytes in base64 (standard alphabet, padded), as restic does. A
/// name that is UTF-8 is exact in `key` alone (JSON escapes its controls).
pub fn insert_bytes(obj: &mut serde_json::Map<String, Value>, key: &str, bytes: &[u8]) {
    obj.insert(key.to_owned(), json!(String::from_utf8_lossy(bytes)));
    if std::str::from_utf8(bytes).is_err() {
        use base64::Engine as _;
        obj.insert(
            format!("{key}_raw"),
            json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
        );
    }
}

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

/// A node as JSON (ls, find, cat tree). Names, the path and the link
/// target go through [`insert_bytes`], so that a name that is not UTF-8
/// keeps its exact bytes.
pub fn node_json(path: Option<&Path>, node: &Node) -> Value {
    let mut v = json!({
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
        insert_bytes(obj, "name", &node.name);
        if let Some(p) = path {
            insert_bytes(obj, "path", p.as_os_str().as_bytes());
        }
        if node.kind == NodeKind::Symlink {
            insert_bytes(obj, "link_target", &node.link_target);
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
            let xattrs = node.xattrs.iter().map(|x| {
                let mut entry = serde_json::Map::new();
                insert_bytes(&mut entry, "name", &x.name);
                insert_bytes(&mut entry, "value", &x.value);
                Value::Object(entry)
            });
            obj.insert("xattrs".into(), Value::Array(xattrs.collect()));
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
            self.line(self::path(path).into_owned());
        }
    }

    fn bytes_processed(&self, bytes: u64) {
        if let Some(b) = &self.bar {
            b.inc(bytes);
        }
    }

    fn warning(&self, message: &str) {
        if !self.quiet {
            self.line(format!("warning: {}", self::message(message)));
        }
    }

    /// A line a command source wrote to its stderr, escaped; `[label]`
    /// says which source in `vault run`.
    fn command_output(&self, line: &[u8]) {
        self.line(escape(line, Keep::BackslashAndTab).into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_of_a_printable_name_borrows_it_unchanged() {
        assert!(matches!(
            escape("résumé 2024.txt".as_bytes(), Keep::Nothing),
            Cow::Borrowed("résumé 2024.txt")
        ));
    }

    #[test]
    fn escape_of_controls_and_invalid_bytes_reads_back_unambiguously() {
        let cases: [(&[u8], &str); 8] = [
            (b"a\x1b]0;t\x07b", "a\\x1b]0;t\\x07b"),
            (b"a\nb\tc\rd", "a\\nb\\tc\\rd"),
            (b"back\\slash", "back\\\\slash"),
            (b"del\x7f", "del\\x7f"),
            ("c1\u{9b}".as_bytes(), "c1\\u{9b}"),
            (b"raw\x9b", "raw\\x9b"),
            (b"bad\xff\xfe", "bad\\xff\\xfe"),
            ("rtl\u{202e}txt".as_bytes(), "rtl\\u{202e}txt"),
        ];
        for (raw, shown) in cases {
            assert_eq!(escape(raw, Keep::Nothing), shown, "{raw:?}");
        }
    }

    #[test]
    fn escape_of_a_message_keeps_backslashes_and_of_a_child_line_tabs() {
        assert_eq!(escape(b"C:\\x\t\x1b", Keep::Backslash), "C:\\x\\t\\x1b");
        assert_eq!(
            escape(b"C:\\x\t\x1b", Keep::BackslashAndTab),
            "C:\\x\t\\x1b"
        );
    }

    #[test]
    fn insert_bytes_adds_raw_base64_only_for_invalid_utf8() {
        let mut obj = serde_json::Map::new();
        insert_bytes(&mut obj, "path", b"ok\x1b");
        assert_eq!(obj.get("path"), Some(&json!("ok\x1b")));
        assert!(!obj.contains_key("path_raw"));
        insert_bytes(&mut obj, "name", b"bad\xff\xfe");
        assert_eq!(obj.get("name"), Some(&json!("bad\u{fffd}\u{fffd}")));
        assert_eq!(obj.get("name_raw"), Some(&json!("YmFk//4=")));
    }
}
