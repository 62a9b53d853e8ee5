//! `vault prune`: space comes back, what is kept stays whole, and a backup
//! running during a prune loses nothing.

use crate::args;
use crate::common::*;
use serde_json::Value;
use std::ffi::OsStr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Total bytes of the packs under data/.
fn pack_bytes(repo: &Repo) -> u64 {
    repo.file_listing()
        .iter()
        .filter(|(p, _)| p.starts_with("data") && !p.as_os_str().to_string_lossy().ends_with('/'))
        .map(|(_, c)| c.len() as u64)
        .sum()
}

fn prune_json(repo: &Repo, extra: &[&OsStr]) -> Value {
    let mut a = vec![OsStr::new("prune"), OsStr::new("--json")];
    a.extend_from_slice(extra);
    let out = repo.ok(&a);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("prune --json is not JSON ({e})\n{}", describe(&out)))
}

fn count(v: &Value, key: &str) -> u64 {
    v[key]["packs"]
        .as_u64()
        .unwrap_or_else(|| panic!("{key}.packs missing in {v}"))
}

#[track_caller]
fn assert_check_read_data(repo: &Repo) {
    let out = repo.run(args!["check", "--read-data"]);
    assert_success(&out);
}

#[track_caller]
fn assert_restores(repo: &Repo, snapshot: &str, source: &Path) {
    let target = temp_dir();
    repo.ok(args!["restore", snapshot, "--target", target.path()]);
    let restored = restored(target.path(), source);
    let out = std::process::Command::new("diff")
        .arg("-r")
        .arg(source)
        .arg(&restored)
        .output()
        .expect("run diff");
    assert!(out.status.success(), "restore differs: {}", describe(&out));
}

#[test]
fn prune_reclaims_space_and_keeps_the_remaining_snapshot_whole() {
    let repo = Repo::local();
    let src = temp_dir();
    let s = src.path();
    write(&s.join("keep"), &random_bytes(1, 3 << 20));
    write(&s.join("gone"), &random_bytes(2, 4 << 20));
    repo.backup(args![s]);
    std::fs::remove_file(s.join("gone")).expect("remove");
    write(&s.join("new"), &random_bytes(3, 1 << 20));
    repo.backup(args![s]);

    // Nothing is unused while both snapshots exist.
    let idle = prune_json(&repo, args![]);
    assert_eq!(
        count(&idle, "packs_delete") + count(&idle, "packs_repack"),
        0,
        "{idle}"
    );

    repo.ok(args!["forget", "--keep-last", "1"]);
    let before = pack_bytes(&repo);
    let listing = repo.file_listing();
    let dry = prune_json(&repo, args!["--dry-run"]);
    assert_eq!(dry["dry_run"], Value::Bool(true));
    assert_eq!(
        repo.file_listing(),
        listing,
        "--dry-run changed the repository"
    );
    assert!(
        dry["bytes_unused"].as_u64().unwrap_or(0) >= 4 << 20,
        "{dry}"
    );

    let report = prune_json(&repo, args![]);
    assert_eq!(count(&report, "packs_delete"), count(&dry, "packs_delete"));
    assert_eq!(count(&report, "packs_repack"), count(&dry, "packs_repack"));
    assert_eq!(count(&report, "pending"), 0, "{report}");
    let after = pack_bytes(&repo);
    assert!(
        after + (3 << 20) < before,
        "prune freed too little: {before} -> {after} bytes\n{report}"
    );
    assert!(
        report["bytes_unused_after"].as_u64().unwrap_or(u64::MAX) * 20
            <= report["bytes_used"].as_u64().unwrap_or(0),
        "more than 5% unused left: {report}"
    );
    assert_check_read_data(&repo);
    assert_restores(&repo, "latest", s);

    // A second prune finds nothing to do.
    let again = prune_json(&repo, args![]);
    assert_eq!(
        count(&again, "packs_delete")
            + count(&again, "packs_repack")
            + count(&again, "packs_unindexed"),
        0,
        "{again}"
    );
}

#[test]
fn prune_rejects_bad_limits_and_changes_nothing() {
    let repo = Repo::local();
    let listing = repo.file_listing();
    for bad in [
        args!["prune", "--max-unused", "150%"],
        args!["prune", "--max-unused", "lots"],
        args!["prune", "--max-repack-size", "big"],
        // Regression (issue 6, the `size` fuzz target's finding): parse-size overflowed
        // rounding a mantissa of more than 20 digits.
        args!["prune", "--max-unused", "0.00184467440737095516156"],
        args![
            "prune",
            "--max-repack-size",
            "0.00184467440737095516156 KiB"
        ],
    ] {
        let out = repo.run(bad);
        assert_error(&out, 1);
    }
    assert_eq!(repo.file_listing(), listing);
}

/// Wait until `dir` holds at least one file, or panic after a minute.
fn wait_for_file(dir: &Path) {
    let start = Instant::now();
    while std::fs::read_dir(dir)
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "nothing appeared in {}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The hazard two-phase deletion exists for: a backup reads the index, a
/// prune then finds the blobs of a forgotten snapshot unused, and the
/// backup deduplicates against exactly those blobs.
#[test]
fn backup_running_during_prune_loses_nothing() {
    let repo = Repo::local();
    let src = temp_dir();
    let old = src.path().join("old");
    write(&old, &random_bytes(7, 6 << 20));
    let other = src.path().join("other");
    write(&other, &random_bytes(8, 2 << 20));
    // `old` goes in as a stream, as it will again below: streams are
    // chunked alike (and unlike files: SPEC.md §5.4).
    let stored = repo.run_stdin(
        args!["backup", "--stdin", "--stdin-filename", "old"],
        &std::fs::read(&old).expect("read"),
    );
    assert_success(&stored);
    repo.backup(args![&other]);
    repo.ok(args!["forget", "--keep-last", "1", "--group-by", ""]);

    // The backup streams `old` again, then waits, holding its lock while
    // the prune runs.
    let script = format!(
        "cat '{}'; while [ ! -e '{}' ]; do sleep 0.05; done",
        old.display(),
        src.path().join("go").display()
    );
    let mut backup = repo.cmd();
    backup
        .args([
            "backup",
            "--json",
            "--stdin-filename",
            "old.again",
            "--stdin-from-command",
            "--",
        ])
        .args(["sh", "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let backup = backup.spawn().expect("start backup");
    wait_for_file(&repo.path.join("locks"));

    let first = prune_json(&repo, args![]);
    assert!(count(&first, "packs_delete") > 0, "{first}");
    assert!(
        count(&first, "pending") > 0,
        "packs deleted under a running backup: {first}"
    );

    write(&src.path().join("go"), b"");
    let out = backup.wait_with_output().expect("backup");
    assert_success(&out);
    let added = summary(&out);
    assert_eq!(
        field(&added, "data_blobs"),
        0,
        "the backup should have deduplicated against the condemned blobs: {added}"
    );

    let second = prune_json(&repo, args![]);
    assert!(
        second["blobs_rescued"].as_u64().unwrap_or(0) > 0,
        "{second}"
    );
    assert_eq!(count(&second, "pending"), 0, "{second}");
    assert_check_read_data(&repo);
    let target = temp_dir();
    repo.ok(args!["restore", "latest", "--target", target.path()]);
    let restored = std::fs::read(target.path().join("old.again")).expect("restored file");
    assert!(
        restored == std::fs::read(&old).expect("source"),
        "restored content differs"
    );
    let target = temp_dir();
    let others: Vec<Value> = repo.snapshots();
    assert_eq!(others.len(), 2);
    let id = others[0]["id"].as_str().expect("id").to_owned();
    repo.ok(args!["restore", &id, "--target", target.path()]);
}

/// What a process killed mid-write leaves in a local repository: the local
/// store's staging file `<name>#<n>`, which no listing shows.
fn plant_staging_files(repo: &Repo) -> Vec<std::path::PathBuf> {
    let pack_dir = std::fs::read_dir(repo.path.join("data"))
        .expect("data/")
        .next()
        .expect("a pack folder")
        .expect("entry")
        .path();
    let files = vec![
        pack_dir.join(format!("{}#1", "ab".repeat(32))),
        repo.path
            .join("index")
            .join(format!("{}#7", "cd".repeat(32))),
    ];
    for f in &files {
        write(f, &random_bytes(5, 1000));
    }
    files
}

#[test]
fn prune_removes_staging_files_of_killed_writers_only_when_no_one_else_is_locked_in() {
    let repo = Repo::local();
    let src = temp_dir();
    write(&src.path().join("f"), &random_bytes(1, 100_000));
    repo.backup(args![src.path()]);
    let staging = plant_staging_files(&repo);
    repo.ok(args!["check"]);

    // A backup holds its lock meanwhile: its own writes may be staging.
    let script = format!(
        "while [ ! -e '{}' ]; do sleep 0.05; done",
        src.path().join("go").display()
    );
    let mut backup = repo.cmd();
    backup
        .args(["backup", "--stdin-from-command", "--", "sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut backup = backup.spawn().expect("start backup");
    wait_for_file(&repo.path.join("locks"));
    let busy = prune_json(&repo, args![]);
    write(&src.path().join("go"), b"");
    assert!(backup.wait().expect("backup").success());
    assert_eq!(busy["staging_files_removed"], 0, "{busy}");
    assert!(
        staging.iter().all(|f| f.exists()),
        "removed under a live lock"
    );

    let quiet = prune_json(&repo, args![]);
    assert_eq!(quiet["staging_files_removed"], 2, "{quiet}");
    assert_eq!(quiet["staging_bytes_removed"], 2000, "{quiet}");
    assert!(staging.iter().all(|f| !f.exists()), "staging files left");
    assert_check_read_data(&repo);
    assert_eq!(repo.snapshots().len(), 2);
}
