//! Ctrl-C (SIGINT) and SIGTERM in the middle of a command: vault stops
//! with 130 (143), one line saying so, no lock left behind, the commands it
//! started stopped with their children, and a repository `check` passes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::args;
use crate::common::*;

/// Wait until `ready` holds (polling every 5 ms), at most 60 s.
#[track_caller]
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn spawn(mut cmd: Command) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn vault")
}

/// Whether process `pid` is gone (or a zombie nobody reaped yet).
fn gone(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Lock objects in the repository (named by their hash: a staging file
/// `<name>#<n>` that a store is writing, invisible to vault, is not one).
fn locks(repo: &Repo) -> usize {
    fs::read_dir(repo.path.join("locks")).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                name.len() == 64
                    && name
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit())
            })
            .count()
    })
}

/// Send `signal` to `child`, and show that it stopped as promised: the
/// exit code, one line on stderr, no lock left, `check` passes.
#[track_caller]
fn interrupt(repo: &Repo, child: Child, signal: Signal) {
    kill(Pid::from_raw(child.id() as i32), signal).expect("signal vault");
    let out = child.wait_with_output().expect("wait for vault");
    let code = if signal == Signal::SIGINT { 130 } else { 143 };
    assert_eq!(out.status.code(), Some(code), "{}", describe(&out));
    assert_no_panic(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("vault: stopped by") && last.contains(signal.as_str()),
        "{}",
        describe(&out)
    );
    assert_eq!(locks(repo), 0, "the lock was left behind");
    let (out, report) = check_report(repo);
    assert_success(&out);
    assert_eq!(report["ok"], true, "{report}");
}

fn check_report(repo: &Repo) -> (std::process::Output, serde_json::Value) {
    let out = repo.run(args!["--json", "check"]);
    let report = json_values(&out.stdout).pop().unwrap_or_default();
    (out, report)
}

/// A source command that starts a grandchild and waits: both must stop.
fn sleeper(pidfile: &Path) -> String {
    format!("sleep 120 & echo $! > '{}'; wait", pidfile.display())
}

/// Once `child` runs [`sleeper`] and holds its lock, stop it with
/// `signal` ([`interrupt`]) and show that the sleeper's child stopped too.
#[track_caller]
fn stop_with_its_sleeper(repo: &Repo, child: Child, pidfile: &Path, signal: Signal) {
    wait_for("the source command", || {
        fs::read_to_string(pidfile).is_ok_and(|p| p.ends_with('\n'))
    });
    wait_for("the lock", || locks(repo) > 0);
    let grandchild: i32 = fs::read_to_string(pidfile).unwrap().trim().parse().unwrap();
    interrupt(repo, child, signal);
    wait_for("the source command's child to stop", || gone(grandchild));
}

#[test]
fn a_backup_stopped_mid_command_stops_its_source_command_and_leaves_no_lock() {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let repo = Repo::local();
        let tmp = temp_dir();
        let pidfile = tmp.path().join("pid");
        let mut cmd = repo.cmd();
        cmd.args([
            "backup",
            "--stdin-filename",
            "db.sql",
            "--stdin-from-command",
            "--",
        ])
        .args(["sh", "-c", &sleeper(&pidfile)]);
        stop_with_its_sleeper(&repo, spawn(cmd), &pidfile, signal);
        assert!(repo.snapshots().is_empty());
    }
}

/// A repository with one large snapshot, for commands that take long
/// enough to be stopped half-way.
fn big(repo: &Repo) -> (tempfile::TempDir, PathBuf) {
    let tmp = temp_dir();
    let src = tmp.path().join("src");
    for n in 0..4 {
        write(
            &src.join(format!("f{n}.bin")),
            &random_bytes(40 + n, 32 << 20),
        );
    }
    let src = src.canonicalize().unwrap();
    repo.backup(args![src]);
    (tmp, src)
}

#[test]
fn a_restore_stopped_mid_write_leaves_no_lock() {
    let repo = Repo::local();
    let (tmp, src) = big(&repo);
    let target = tmp.path().join("t");
    let mut cmd = repo.cmd();
    cmd.args(["restore", "latest", "--target"]).arg(&target);
    let child = spawn(cmd);
    let restored_dir = restored(&target, &src);
    wait_for("the first restored file", || {
        fs::read_dir(&restored_dir).is_ok_and(|mut d| d.next().is_some())
    });
    interrupt(&repo, child, Signal::SIGINT);
}

#[test]
fn a_check_stopped_mid_read_leaves_no_lock() {
    let repo = Repo::local();
    let _fixture = big(&repo);
    let mut cmd = repo.cmd();
    cmd.args(["check", "--read-data"]);
    let child = spawn(cmd);
    wait_for("the lock", || locks(&repo) > 0);
    interrupt(&repo, child, Signal::SIGTERM);
}

#[test]
fn a_prune_stopped_mid_repack_leaves_no_lock_and_loses_nothing() {
    let repo = Repo::local();
    let (tmp, src) = big(&repo);
    // Half the data forgotten, in packs shared with the other half: prune
    // repacks what stays.
    fs::remove_file(src.join("f1.bin")).unwrap();
    fs::remove_file(src.join("f3.bin")).unwrap();
    repo.backup(args![src]);
    let first = repo.snapshots()[0]["id"].as_str().unwrap().to_owned();
    repo.ok(args!["forget", first]);
    let mut cmd = repo.cmd();
    cmd.args(["prune", "--max-unused", "0"]);
    let child = spawn(cmd);
    wait_for("the lock", || locks(&repo) > 0);
    interrupt(&repo, child, Signal::SIGINT);
    // What stays is intact.
    let target = tmp.path().join("t");
    repo.ok(args!["restore", "latest", "--target", target, "--verify"]);
    assert!(same_content(
        &src.join("f0.bin"),
        &restored(&target, &src).join("f0.bin")
    ));
}

#[test]
fn a_run_stopped_mid_source_stops_the_source_command_and_leaves_no_lock() {
    let repo = Repo::local();
    let tmp = temp_dir();
    let pidfile = tmp.path().join("pid");
    let password = tmp.path().join("password");
    write(&password, PASSWORD.as_bytes());
    let config = tmp.path().join("vault.toml");
    fs::write(
        &config,
        format!(
            r#"
[repositories.main]
url = "{repo}"
password-file = "{password}"

[sources.db]
command = "{command}"
filename = "db.sql"

[profiles.nightly]
repository = "main"
retention = {{ keep-last = 2 }}
"#,
            repo = repo.path.display(),
            password = password.display(),
            command = sleeper(&pidfile),
        ),
    )
    .unwrap();
    let mut cmd = vault();
    cmd.arg("--config").arg(&config).args(["run", "nightly"]);
    stop_with_its_sleeper(&repo, spawn(cmd), &pidfile, Signal::SIGINT);
}
