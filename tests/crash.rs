//! kill -9 at several points of backup, forget and prune: afterwards
//! `unlock` + `check` pass, no snapshot that existed before is lost, and the
//! next run of the command finishes the job.
//!
//! A point is reached by watching the repository from outside: the process
//! is frozen (SIGSTOP) the moment the watched change appears, then killed
//! (SIGKILL), so it dies exactly there.

use crate::args;
use crate::common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Says whether a watched point of a command is reached.
type Watch = Box<dyn Fn() -> bool>;

/// Send `sig` at once (no `kill` process to start: the point must not pass
/// while one starts).
fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig);
}

/// Run `cmd` until `reached` says the point `what` is reached (checked
/// every millisecond), then freeze and kill it. Fails the test unless the
/// kill landed there: the point came before the command ended by itself,
/// and the command died of the SIGKILL.
#[track_caller]
fn kill_at(mut cmd: Command, what: &str, reached: &dyn Fn() -> bool) {
    use std::os::unix::process::ExitStatusExt;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("start vault");
    let start = Instant::now();
    loop {
        if reached() {
            signal(&child, nix::sys::signal::Signal::SIGSTOP);
            signal(&child, nix::sys::signal::Signal::SIGKILL);
            let status = child.wait().expect("wait for vault");
            assert_eq!(
                status.signal(),
                Some(9),
                "the kill at {what} did not land: vault ended first ({status})"
            );
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("vault ended ({status}) before the point '{what}' came");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the watched point never came"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn snapshot_ids(repo: &Repo) -> BTreeSet<String> {
    repo.snapshots()
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_owned())
        .collect()
}

/// After a crash: unlock, check passes, the snapshots are those expected
/// and each restores to what was backed up.
#[track_caller]
fn assert_recovers(repo: &Repo, expected: &BTreeSet<String>) {
    repo.ok(args!["unlock"]);
    assert_success(&repo.run(args!["check"]));
    let now = snapshot_ids(repo);
    assert!(
        expected.is_subset(&now),
        "snapshots lost: {:?}",
        expected.difference(&now).collect::<Vec<_>>()
    );
    assert_success(&repo.run(args!["check", "--read-data"]));
}

/// A repository with three snapshots of a changing folder; returns the
/// source folder.
fn populated(repo: &Repo) -> tempfile::TempDir {
    let src = temp_dir();
    for round in 0..3u64 {
        for f in 0..4u64 {
            write(
                &src.path().join(format!("f{f}")),
                &random_bytes(round * 10 + f, 3 << 20),
            );
        }
        repo.backup(args![src.path()]);
    }
    src
}

#[test]
fn backup_killed_while_uploading_or_before_its_snapshot_loses_nothing() {
    let repo = Repo::new();
    let src = populated(&repo);
    let before = snapshot_ids(&repo);
    for f in 0..4u64 {
        write(
            &src.path().join(format!("f{f}")),
            &random_bytes(100 + f, 6 << 20),
        );
    }
    let data = repo.path.join("data");
    let index = repo.path.join("index");
    let points: [(&str, Watch); 2] = [
        ("first new pack", {
            let old = names(&data);
            let data = data.clone();
            Box::new(move || names(&data).len() > old.len())
        }),
        ("new index file", {
            let old = names(&index);
            let index = index.clone();
            Box::new(move || names(&index).len() > old.len())
        }),
    ];
    for (what, reached) in points {
        let mut cmd = repo.cmd();
        cmd.args(["backup", "--force"]).arg(src.path());
        kill_at(cmd, what, &*reached);
        assert_recovers(&repo, &before);
    }
    // The next backup and prune work; prune removes what the crashes left.
    repo.backup(args![src.path()]);
    let out = repo.ok(args!["prune", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("prune json");
    assert_eq!(report["pending"]["packs"], 0, "{report}");
    assert_recovers(&repo, &before);
}

#[test]
fn prune_killed_at_each_step_is_finished_by_the_next_prune() {
    let repo = Repo::new();
    let _src = populated(&repo);
    repo.ok(args!["forget", "--keep-last", "1"]);
    let kept = snapshot_ids(&repo);
    let index = repo.path.join("index");
    let data = repo.path.join("data");
    let deletions = repo.path.join("deletions");
    let points: [(&str, Watch); 3] = [
        ("new index written", {
            let old = names(&index);
            let index = index.clone();
            Box::new(move || names(&index).difference(&old).next().is_some())
        }),
        ("deletion notice written", {
            let deletions = deletions.clone();
            Box::new(move || !names(&deletions).is_empty())
        }),
        ("first pack deleted", {
            let old = names(&data);
            let data = data.clone();
            Box::new(move || names(&data).len() < old.len())
        }),
    ];
    for (what, reached) in points {
        let mut cmd = repo.cmd();
        cmd.arg("prune");
        kill_at(cmd, what, &*reached);
        assert_recovers(&repo, &kept);
    }
    let out = repo.ok(args!["prune", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("prune json");
    assert_eq!(report["pending"]["packs"], 0, "{report}");
    // (A kill can leave the store's staging file of an unfinished write,
    // which is not an object; only object names count.)
    let notices: Vec<PathBuf> = names(&deletions)
        .into_iter()
        .filter(|p| p.to_string_lossy().len() == 64)
        .collect();
    assert!(notices.is_empty(), "a notice was left behind: {notices:?}");
    assert_recovers(&repo, &kept);
    let again = repo.ok(args!["prune", "--json"]);
    let again: Value = serde_json::from_slice(&again.stdout).expect("prune json");
    assert_eq!(again["packs_delete"]["packs"], 0, "{again}");
    assert_eq!(again["packs_unindexed"]["packs"], 0, "{again}");
}

#[test]
fn forget_killed_midway_leaves_whole_snapshots() {
    let repo = Repo::new();
    let _src = populated(&repo);
    let before = snapshot_ids(&repo);
    // Forget's deletes follow each other in microseconds, too fast for a
    // kill from outside: vault kills itself right after its second write
    // or delete (its lock, then the first snapshot removed).
    let mut cmd = repo.cmd();
    cmd.args(["forget", "--keep-last", "1"])
        .env("VAULT_CRASH_AFTER_WRITES", "2")
        .stdin(Stdio::null());
    let status = cmd.status().expect("run vault");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "vault did not die at its crash point ({status})"
    );
    assert_eq!(snapshot_ids(&repo).len(), before.len() - 1, "killed midway");
    repo.ok(args!["unlock"]);
    assert_success(&repo.run(args!["check", "--read-data"]));
    // Every snapshot left is one of those before, and whole.
    let now = snapshot_ids(&repo);
    assert!(now.is_subset(&before) && !now.is_empty());
    repo.ok(args!["forget", "--keep-last", "1"]);
    assert_eq!(snapshot_ids(&repo).len(), 1);
}
