//! The read-only inspection commands: `stats`, `find` and `diff`, checked
//! against figures known from the data backed up.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::args;
use crate::common::*;

const KIB: u64 = 1 << 10;

/// A source directory `src` in a fresh temporary directory, canonical.
fn source() -> (tempfile::TempDir, PathBuf) {
    let tmp = temp_dir();
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let src = src.canonicalize().unwrap();
    (tmp, src)
}

/// The full id of a backup summary's snapshot.
fn id(summary: &Value) -> String {
    summary["snapshot_id"].as_str().unwrap().to_owned()
}

/// `stats --json ARGS...`, parsed.
#[track_caller]
fn stats(repo: &Repo, extra: &[&str]) -> Value {
    let mut all = vec!["stats", "--json"];
    all.extend_from_slice(extra);
    let out = repo.ok(&all.iter().map(std::ffi::OsStr::new).collect::<Vec<_>>());
    let value: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stats --json is not one JSON document ({e})\n{}",
            describe(&out)
        )
    });
    for key in [
        "total_size",
        "total_file_count",
        "total_blob_count",
        "raw_data_size",
        "stored_size",
        "dedup_ratio",
        "compression_ratio",
    ] {
        assert!(
            value.get(key).is_some(),
            "stats --json lacks {key}: {value}"
        );
    }
    value
}

fn ratio(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} not a number: {v}"))
}

/// Entries a snapshot of `src` holds: its ancestors, itself, and `inside`.
fn entries(src: &Path, inside: u64) -> u64 {
    src.components().count() as u64 - 1 + inside
}

#[test]
fn stats_two_snapshots_of_same_random_file_dedup_two_compression_one() {
    let repo = Repo::new();
    let (_tmp, src) = source();
    let size = 2 << 20;
    write(&src.join("random.bin"), &random_bytes(1, size));
    let first = repo.backup(args![src]);
    repo.backup(args![src]);

    let all = stats(&repo, &[]);
    assert_eq!(all["snapshots_count"], 2, "{all}");
    assert_eq!(field(&all, "total_size"), 2 * size as u64, "{all}");
    assert_eq!(
        field(&all, "total_file_count"),
        2 * entries(&src, 1),
        "{all}"
    );
    let raw = field(&all, "raw_data_size");
    assert!(
        raw >= size as u64 && raw < size as u64 + 16 * KIB,
        "raw data must be the file once plus a few trees: {all}"
    );
    let dedup = ratio(&all, "dedup_ratio");
    assert!((1.98..=2.0).contains(&dedup), "dedup ratio {dedup}: {all}");
    let compression = ratio(&all, "compression_ratio");
    assert!(
        (0.98..=1.0).contains(&compression),
        "random data cannot compress: {all}"
    );
    assert!(field(&all, "stored_size") >= raw, "{all}");
    assert_eq!(
        field(&all, "total_blob_count"),
        field(&all, "data_blob_count") + field(&all, "tree_blob_count"),
        "{all}"
    );
    assert!(field(&all, "data_blob_count") >= 1, "{all}");

    // One snapshot alone: nothing is shared.
    let one = stats(&repo, &[&id(&first)[..8]]);
    assert_eq!(one["snapshots_count"], 1, "{one}");
    assert_eq!(field(&one, "total_size"), size as u64, "{one}");
    assert_eq!(
        field(&one, "data_blob_count"),
        field(&all, "data_blob_count"),
        "{one}"
    );
    let dedup = ratio(&one, "dedup_ratio");
    assert!((0.99..=1.0).contains(&dedup), "{one}");

    // Naming the same snapshot twice counts it once.
    let twice = stats(&repo, &["latest", "latest"]);
    assert_eq!(twice["snapshots_count"], 1, "{twice}");

    let human = repo.ok(args!["stats", "--mode", "raw-data"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("raw-data") && text.contains("Total Blob Count"),
        "{text}"
    );
    assert!(text.contains("Deduplication Ratio:  2.00x"), "{text}");
    let human = repo.ok(args!["stats"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("restore-size") && text.contains("Total Size:  4.000 MiB"),
        "{text}"
    );
}

#[test]
fn stats_compressible_file_ratio_above_five() {
    let repo = Repo::new();
    let (_tmp, src) = source();
    let text: String = (0..100_000)
        .map(|i| format!("line {:06} of a very repetitive log file\n", i % 100))
        .collect();
    write(&src.join("app.log"), text.as_bytes());
    repo.backup(args![src]);
    let s = stats(&repo, &[]);
    assert_eq!(field(&s, "total_size"), text.len() as u64, "{s}");
    let compression = ratio(&s, "compression_ratio");
    assert!(compression > 5.0, "compression ratio {compression}: {s}");
    assert!(
        field(&s, "stored_size") * 5 < field(&s, "raw_data_size"),
        "{s}"
    );
}

#[test]
fn stats_hard_linked_file_counts_once_per_snapshot_and_filters_narrow() {
    let repo = Repo::new();
    let (_tmp, src) = source();
    write(&src.join("a"), &random_bytes(2, 10_000));
    fs::hard_link(src.join("a"), src.join("b")).unwrap();
    write(&src.join("c"), &random_bytes(3, 1000));
    repo.backup(args![src, "--tag", "one"]);
    repo.backup(args![src, "--tag", "two"]);

    let s = stats(&repo, &["--tag", "one"]);
    assert_eq!(s["snapshots_count"], 1, "{s}");
    assert_eq!(field(&s, "total_size"), 11_000, "{s}");
    assert_eq!(field(&s, "total_file_count"), entries(&src, 3), "{s}");
    let s = stats(&repo, &[]);
    assert_eq!(field(&s, "total_size"), 22_000, "{s}");
    let s = stats(&repo, &["--tag", "nothing-has-this"]);
    assert_eq!(field(&s, "total_size"), 0, "{s}");
    assert_eq!(ratio(&s, "dedup_ratio"), 0.0, "{s}");
}

#[test]
fn stats_unknown_snapshot_is_one_line_error() {
    let repo = Repo::new();
    let (_tmp, src) = source();
    write(&src.join("f"), b"x");
    repo.backup(args![src]);
    assert_error(&repo.run(args!["stats", "deadbeef"]), 1);
    // Usage errors are clap's: exit 2.
    assert_eq!(
        repo.run(args!["stats", "--mode", "nonsense"]).status.code(),
        Some(2)
    );
}

/// Paths of every match per snapshot id, from `find --json`.
fn found(out: &std::process::Output) -> Vec<(String, BTreeSet<String>)> {
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("find --json is not one document ({e})\n{}", describe(out)));
    doc.as_array()
        .unwrap_or_else(|| panic!("find --json must print an array: {doc}"))
        .iter()
        .map(|s| {
            let matches = s["matches"].as_array().expect("matches");
            assert_eq!(s["hits"].as_u64(), Some(matches.len() as u64), "{s}");
            let paths = matches
                .iter()
                .map(|m| m["path"].as_str().expect("path").to_owned())
                .collect();
            (s["snapshot"].as_str().expect("snapshot").to_owned(), paths)
        })
        .collect()
}

fn set(paths: &[PathBuf]) -> BTreeSet<String> {
    paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn find_by_name_and_by_path_across_snapshots() {
    let repo = Repo::new();
    let (_tmp, src) = source();
    write(&src.join("a/notes.txt"), b"a");
    write(&src.join("b/notes.txt"), b"b");
    write(&src.join("b/readme.md"), b"readme");
    write(&src.join("c/deep/NOTES.TXT"), b"upper");
    let s1 = id(&repo.backup(args![src]));
    fs::remove_file(src.join("a/notes.txt")).unwrap();
    write(&src.join("d/notes.txt"), b"d");
    let s2 = id(&repo.backup(args![src]));

    let out = repo.ok(args!["find", "notes.txt", "--json"]);
    assert_eq!(
        found(&out),
        vec![
            (
                s1.clone(),
                set(&[src.join("a/notes.txt"), src.join("b/notes.txt")])
            ),
            (
                s2.clone(),
                set(&[src.join("b/notes.txt"), src.join("d/notes.txt")])
            ),
        ]
    );
    let m = &serde_json::from_slice::<Value>(&out.stdout).unwrap()[0]["matches"][0];
    assert_eq!(
        (&m["type"], &m["size"]),
        (&Value::from("file"), &Value::from(1))
    );

    let out = repo.ok(args![
        "find",
        "-i",
        "notes.txt",
        "--snapshot",
        &s2[..8],
        "--json"
    ]);
    assert_eq!(
        found(&out),
        vec![(
            s2.clone(),
            set(&[
                src.join("b/notes.txt"),
                src.join("c/deep/NOTES.TXT"),
                src.join("d/notes.txt")
            ])
        )]
    );

    // A pattern with '/' looks at paths; a leading '/' anchors it.
    let out = repo.ok(args!["find", "b/*", "--snapshot", &s1, "--json"]);
    assert_eq!(
        found(&out),
        vec![(
            s1.clone(),
            set(&[src.join("b/notes.txt"), src.join("b/readme.md")])
        )]
    );
    let anchored = format!("{}/*/*.md", src.display());
    let out = repo.ok(args!["find", anchored, "--json"]);
    let readme = set(&[src.join("b/readme.md")]);
    assert_eq!(
        found(&out),
        vec![(s1.clone(), readme.clone()), (s2.clone(), readme)]
    );
    let out = repo.ok(args!["find", "/b/*.md", "--json"]);
    assert!(found(&out).is_empty(), "anchored at the root: no match");

    // Directories match too.
    let out = repo.ok(args!["find", "deep", "--snapshot", "latest", "--json"]);
    assert_eq!(found(&out), vec![(s2.clone(), set(&[src.join("c/deep")]))]);

    // Human output: a header per snapshot with matches, then the paths.
    let out = repo.ok(args!["find", "readme.md", "d"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let headers: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("Found matching entries in snapshot "))
        .collect();
    assert_eq!(headers.len(), 2, "{text}");
    assert!(headers[1].contains(&s2[..8]), "{text}");
    assert!(
        text.lines().any(|l| l == src.join("d").to_string_lossy()),
        "{text}"
    );
    let out = repo.ok(args!["find", "-l", "readme.md", "--snapshot", &s1]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("-rw") && l.ends_with("readme.md") && l.contains(" 6 ")),
        "{text}"
    );
}

#[test]
fn find_time_window_and_bad_input() {
    let repo = Repo::new();
    let (_tmp, src) = source();
    write(&src.join("old.txt"), b"old");
    write(&src.join("new.txt"), b"new");
    set_mtime(&src.join("old.txt"), 1_000_000_000, 0); // 2001-09-09
    set_mtime(&src.join("new.txt"), 1_700_000_000, 0); // 2023-11-14
    let s = id(&repo.backup(args![src]));
    let out = repo.ok(args!["find", "*.txt", "--oldest", "2020-01-01", "--json"]);
    assert_eq!(found(&out), vec![(s.clone(), set(&[src.join("new.txt")]))]);
    let out = repo.ok(args![
        "find",
        "*.txt",
        "--newest",
        "2001-09-09T01:46:40Z",
        "--json"
    ]);
    assert_eq!(found(&out), vec![(s.clone(), set(&[src.join("old.txt")]))]);
    let out = repo.ok(args!["find", "nothing-like-this", "--json"]);
    assert!(found(&out).is_empty());

    assert_error(&repo.run(args!["find", "x", "--snapshot", "deadbeef"]), 1);
    assert_error(&repo.run(args!["find", "x", "--oldest", "yesterday"]), 1);
    assert_error(&repo.run(args!["find", "a["]), 1);
    assert_eq!(repo.run(args!["find"]).status.code(), Some(2));
}

/// `(modifier, path)` of every change line of `diff --json`, and the
/// statistics line.
fn changes(out: &std::process::Output) -> (BTreeSet<(String, String)>, Value) {
    let lines = json_values(&out.stdout);
    let (stats, changes): (Vec<Value>, Vec<Value>) = lines
        .into_iter()
        .partition(|v| v["message_type"] == "statistics");
    assert_eq!(stats.len(), 1, "one statistics line\n{}", describe(out));
    let set = changes
        .iter()
        .map(|c| {
            assert_eq!(c["message_type"], "change", "{c}");
            (
                c["modifier"].as_str().unwrap().to_owned(),
                c["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (set, stats.into_iter().next().unwrap())
}

fn change(modifier: &str, path: &Path) -> (String, String) {
    (modifier.to_owned(), path.to_string_lossy().into_owned())
}

#[test]
fn diff_added_removed_modified_chmod_and_byte_totals() {
    let repo = Repo::new();
    let (_tmp, src) = source();
    write(&src.join("keep.txt"), &random_bytes(10, 100_000));
    write(&src.join("removed.txt"), &random_bytes(11, 50_000));
    write(&src.join("modified.txt"), &random_bytes(12, 200_000));
    write(&src.join("chmod.txt"), b"permissions only");
    chmod(&src.join("chmod.txt"), 0o644);
    write(&src.join("same/big.bin"), &random_bytes(13, 300_000));
    write(&src.join("kind"), b"a file first");
    let s1 = id(&repo.backup(args![src]));

    write(&src.join("added.txt"), &random_bytes(14, 70_000));
    fs::remove_file(src.join("removed.txt")).unwrap();
    write(&src.join("modified.txt"), &random_bytes(15, 200_000));
    chmod(&src.join("chmod.txt"), 0o600);
    // A copy of a file in an unchanged directory: its data is not new.
    write(&src.join("new/copy.bin"), &random_bytes(13, 300_000));
    fs::remove_file(src.join("kind")).unwrap();
    write(&src.join("kind/inner.txt"), b"a directory now");
    let s2 = id(&repo.backup(args![src]));

    let (got, stats) = changes(&repo.ok(args!["diff", &s1, &s2, "--json"]));
    let want: BTreeSet<_> = [
        change("+", &src.join("added.txt")),
        change("-", &src.join("removed.txt")),
        change("M", &src.join("modified.txt")),
        change("+", &src.join("new/")),
        change("+", &src.join("new/copy.bin")),
        change("T", &src.join("kind/")),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want, "{stats}");
    assert_eq!(stats["source_snapshot"], s1.as_str());
    assert_eq!(stats["target_snapshot"], s2.as_str());
    assert_eq!(stats["changed_files"], 1, "{stats}");
    let (added, removed) = (&stats["added"], &stats["removed"]);
    assert_eq!(
        (field(added, "files"), field(added, "dirs")),
        (2, 1),
        "{stats}"
    );
    assert_eq!(
        (field(removed, "files"), field(removed, "dirs")),
        (1, 0),
        "{stats}"
    );
    // Added: added.txt, the new modified.txt and kind/inner.txt, plus trees;
    // copy.bin's data is already in same/big.bin.
    let trees_at_most = 32 * KIB;
    let bytes = field(added, "bytes");
    let data = 70_000 + 200_000 + 15;
    assert!(
        bytes >= data && bytes < data + trees_at_most,
        "added bytes {bytes}: {stats}"
    );
    let bytes = field(removed, "bytes");
    let data = 50_000 + 200_000 + 12;
    assert!(
        bytes >= data && bytes < data + trees_at_most,
        "removed bytes {bytes}: {stats}"
    );
    assert!(field(added, "data_blobs") >= 3, "{stats}");
    assert!(field(added, "tree_blobs") >= 3, "{stats}");
    assert!(field(added, "stored_bytes") > 0, "{stats}");

    // --metadata adds U for the chmod-ed file (and changed directories),
    // never for a content change.
    let (got, _) = changes(&repo.ok(args!["diff", &s1, &s2, "--metadata", "--json"]));
    assert!(
        got.contains(&change("U", &src.join("chmod.txt"))),
        "{got:?}"
    );
    assert!(got.is_superset(&want), "{got:?}");
    assert!(
        !got.contains(&change("U", &src.join("modified.txt"))),
        "{got:?}"
    );
    assert!(
        !got.contains(&change("U", &src.join("keep.txt"))),
        "{got:?}"
    );

    // The human form: modifier column, then the summary.
    let out = repo.ok(args!["diff", &s1[..8], &s2[..8]]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = format!("+    {}", src.join("added.txt").display());
    assert!(text.lines().any(|l| l == line), "{text}");
    assert!(
        text.contains("Files:           2 new,     1 removed,     1 changed"),
        "{text}"
    );

    // A snapshot against itself: nothing.
    let (got, stats) = changes(&repo.ok(args!["diff", &s2, &s2, "--json"]));
    assert!(got.is_empty(), "{got:?}");
    assert_eq!(field(&stats["added"], "bytes"), 0, "{stats}");

    // SNAP:PATH compares subtrees; paths are then relative to them.
    let (got, _) = changes(&repo.ok(args![
        "diff",
        format!("{s1}:{}", src.display()),
        format!("latest:{}", src.display()),
        "--json"
    ]));
    assert!(
        got.contains(&change("+", Path::new("/added.txt"))),
        "{got:?}"
    );
    assert_eq!(got.len(), want.len(), "{got:?}");
}

#[test]
fn diff_bad_input_is_one_line_error() {
    let repo = Repo::new();
    let (_tmp, src) = source();
    write(&src.join("f"), b"x");
    let s = id(&repo.backup(args![src]));
    assert_error(&repo.run(args!["diff", &s, "deadbeef"]), 1);
    assert_error(&repo.run(args!["diff", "nonsense", &s]), 1);
    let file = format!("{s}:{}", src.join("f").display());
    assert_error(&repo.run(args!["diff", file, &s]), 1);
    let missing = format!("{s}:{}", src.join("missing").display());
    assert_error(&repo.run(args!["diff", missing, &s]), 1);
}
