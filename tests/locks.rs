//! Repository locks: a conflicting lock makes a command exit 11 naming its
//! holder, `--retry-lock` waits for it, a killed backup's lock goes stale,
//! and `vault unlock` removes it.
//!
//! The conflicting locks are taken by this test process through the engine
//! library (the same code a future `vault key remove` would run), so that no
//! test-only hook exists in the binary.

use crate::args;
use crate::common::*;
use engine::repository::lock::{self, LockGuard, LockKind};
use engine::{Backend, Repository};
use std::collections::BTreeSet;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The repository opened in this process, as the engine sees it.
fn open(repo: &Repo) -> Repository {
    let backend = Backend::open(repo.path.to_str().expect("UTF-8 path")).expect("backend");
    Repository::open(backend, PASSWORD.as_bytes()).expect("open repository")
}

/// Names of the lock objects under `locks/` (none when the directory is
/// absent); the store's temporary files of a write in progress are left out.
pub(crate) fn lock_files(repo: &Repo) -> BTreeSet<String> {
    let Ok(entries) = std::fs::read_dir(repo.path.join("locks")) else {
        return BTreeSet::new();
    };
    entries
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect()
}

/// Polls until `done` holds; fails the test after `limit` (a bound on a
/// hang, not a timing assertion).
#[track_caller]
pub(crate) fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "gave up waiting until {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A `vault backup --stdin` that blocks reading its standard input, which
/// the caller holds open.
pub(crate) fn blocked_backup(repo: &Repo) -> Child {
    let mut cmd = repo.cmd();
    cmd.args(["backup", "--stdin", "--stdin-filename", "slow"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.spawn().expect("spawn vault backup")
}

fn source_with_file() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = temp_dir();
    let src = dir.path().join("src");
    write(&src.join("a.txt"), b"alpha");
    (dir, src)
}

fn exclusive(repo: &Repository) -> LockGuard {
    lock::acquire(repo, LockKind::Exclusive, "key remove", Duration::ZERO).expect("exclusive lock")
}

#[test]
fn exclusive_lock_blocks_commands_with_exit_11_naming_the_holder() {
    let repo = Repo::local();
    let (_dir, src) = source_with_file();
    repo.backup(args![src]);
    let engine_repo = open(&repo);
    let guard = exclusive(&engine_repo);
    let (user, host) = engine::repository::current_user_and_host();

    for command in [args!["backup", src], args!["snapshots"]] {
        let out = repo.run(command);
        assert_error(&out, 11);
        let stderr = String::from_utf8_lossy(&out.stderr);
        for part in [
            "locked".to_owned(),
            "exclusive lock".to_owned(),
            "'key remove'".to_owned(),
            format!("{user}@{host}"),
            format!("pid {}", std::process::id()),
            "vault unlock".to_owned(),
        ] {
            assert!(
                stderr.contains(&part),
                "{part:?} missing\n{}",
                describe(&out)
            );
        }
    }
    assert_eq!(
        lock_files(&repo),
        BTreeSet::from([guard.id().to_hex()]),
        "refused commands left their own lock objects behind"
    );
    assert_eq!(snapshots_no_lock(&repo).len(), 1);
    drop(guard);
    assert!(lock_files(&repo).is_empty());
    assert_eq!(repo.snapshots().len(), 1);
}

#[test]
fn retry_lock_waits_until_the_conflicting_lock_is_released() {
    let repo = Repo::local();
    let (_dir, src) = source_with_file();
    let engine_repo = open(&repo);
    let guard = exclusive(&engine_repo);
    let own = guard.id().to_hex();

    let mut cmd = repo.cmd();
    cmd.args(["backup", "--json", "--retry-lock", "10m"])
        .arg(&src)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn vault backup");
    // The backup is waiting once one of its attempts shows in locks/.
    wait_until("the backup tries to lock", Duration::from_secs(300), || {
        lock_files(&repo).iter().any(|name| *name != own)
    });
    drop(guard);
    let out = child.wait_with_output().expect("wait for vault");
    assert_success(&out);
    assert!(summary(&out)["snapshot_id"].is_string());
    assert!(lock_files(&repo).is_empty());
}

#[test]
fn retry_lock_rejects_a_malformed_duration() {
    let repo = Repo::new();
    let out = repo.run(args!["snapshots", "--retry-lock", "5 minutes"]);
    assert_error(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--retry-lock"));
}

#[test]
#[cfg(target_os = "linux")] // dead pids are told from /proc
fn killed_backup_leaves_a_stale_lock_that_unlock_removes() {
    let repo = Repo::local();
    let (_dir, src) = source_with_file();
    repo.backup(args![src]);
    let before = repo.snapshots();

    let mut child = blocked_backup(&repo);
    let mut stdin = child.stdin.take().expect("stdin");
    std::io::Write::write_all(&mut stdin, &random_bytes(5, 1 << 20)).expect("feed backup");
    wait_until(
        "the backup holds its lock",
        Duration::from_secs(300),
        || !lock_files(&repo).is_empty(),
    );
    child.kill().expect("kill -9 the backup");
    child.wait().expect("reap the backup");
    drop(stdin);
    let left = lock_files(&repo);
    assert_eq!(left.len(), 1, "the killed backup's lock stays behind");

    // Its process is gone on this host: the lock is stale, so even an
    // exclusive lock, which conflicts with a live backup's, is granted.
    let engine_repo = open(&repo);
    let infos = lock::list(&engine_repo).expect("list locks");
    assert!(infos.len() == 1 && infos[0].stale, "{infos:?}");
    drop(exclusive(&engine_repo));

    repo.backup(args![src]);
    let out = repo.ok(args!["unlock", "--json"]);
    assert_eq!(
        json_values(&out.stdout),
        vec![serde_json::json!({"removed": 1})]
    );
    assert!(lock_files(&repo).is_empty());
    let out = repo.ok(args!["unlock"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed 0 lock(s)"));

    let after = repo.snapshots();
    assert_eq!(after.len(), 2);
    assert_eq!(after[0], before[0], "the older snapshot is intact");
    repo.ok(args![
        "restore",
        "latest",
        "--target",
        repo.dir.path().join("r")
    ]);
}

#[test]
fn unlock_remove_all_removes_live_locks_and_the_holder_notices() {
    let repo = Repo::local();
    let engine_repo = open(&repo);
    let guard = exclusive(&engine_repo);
    let out = repo.ok(args!["unlock"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed 0 lock(s)"));
    assert_eq!(lock_files(&repo).len(), 1, "a live lock is not stale");
    let out = repo.ok(args!["unlock", "--remove-all", "--json"]);
    assert_eq!(
        json_values(&out.stdout),
        vec![serde_json::json!({"removed": 1})]
    );
    assert!(lock_files(&repo).is_empty());
    assert!(matches!(guard.check(), Err(engine::Error::LockLost { .. })));
}

#[test]
fn no_lock_is_refused_for_backup_and_writes_nothing() {
    let repo = Repo::local();
    let (_dir, src) = source_with_file();
    let before = repo.file_listing();
    let out = repo.run(args!["backup", "--no-lock", src]);
    assert_error(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-lock"));
    assert_eq!(repo.file_listing(), before);
}

#[test]
fn successful_commands_leave_no_lock_behind() {
    let repo = Repo::new();
    let (_dir, src) = source_with_file();
    let id = repo.backup(args![src])["snapshot_id"]
        .as_str()
        .expect("snapshot id")
        .to_owned();
    for command in [
        args!["snapshots"],
        args!["ls", "latest"],
        args!["cat", "snapshot", id],
        args!["dump", "latest", src.join("a.txt")],
        args!["restore", "latest", "--target", repo.dir.path().join("r")],
    ] {
        repo.ok(command);
        assert!(lock_files(&repo).is_empty(), "{command:?}");
    }
}

/// `snapshots --json --no-lock`, parsed.
#[track_caller]
fn snapshots_no_lock(repo: &Repo) -> Vec<serde_json::Value> {
    let out = repo.ok(args!["snapshots", "--json", "--no-lock"]);
    json_values(&out.stdout)
}
