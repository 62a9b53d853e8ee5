//! Bad input: each error is one line on stderr with the contract's exit code,
//! and a failed command leaves the repository as it was.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::args;
use crate::common::*;

/// A repository with one snapshot of a one-file tree.
fn repo_with_snapshot() -> (Repo, tempfile::TempDir, PathBuf) {
    snapshot_in(Repo::new())
}

fn snapshot_in(repo: Repo) -> (Repo, tempfile::TempDir, PathBuf) {
    let tmp = temp_dir();
    let src = tmp.path().join("src");
    write(&src.join("f.txt"), b"content\n");
    let src = src.canonicalize().unwrap();
    repo.backup(args![src]);
    (repo, tmp, src)
}

#[test]
fn wrong_password_exits_12_and_changes_nothing() {
    let (repo, tmp, src) = snapshot_in(Repo::local());
    let before = repo.file_listing();
    let target = tmp.path().join("t");

    let wrong = |args: &[&std::ffi::OsStr]| {
        let mut cmd = repo.cmd();
        cmd.env("VAULT_PASSWORD", "not the password").args(args);
        output_with_stdin(cmd, None)
    };
    assert_error(&wrong(args!["snapshots"]), 12);
    write(&src.join("new.txt"), b"new");
    assert_error(&wrong(args!["backup", src]), 12);
    assert_error(&wrong(args!["restore", "latest", "--target", target]), 12);
    assert!(
        !target.exists(),
        "restore with a wrong password created the target"
    );

    let file = tmp.path().join("pw");
    fs::write(&file, "also wrong\n").unwrap();
    assert_error(&repo.run(args!["--password-file", file, "snapshots"]), 12);

    assert!(
        repo.file_listing() == before,
        "a wrong password changed the repository's files"
    );
    assert_eq!(repo.snapshots().len(), 1);
}

#[test]
fn password_file_and_command_are_used_before_the_env_variable() {
    let (repo, tmp, _src) = repo_with_snapshot();
    let file = tmp.path().join("pw");
    fs::write(&file, format!("{PASSWORD}\nsecond line ignored\n")).unwrap();

    let mut cmd = repo.cmd();
    cmd.env("VAULT_PASSWORD", "wrong")
        .arg("--password-file")
        .arg(&file)
        .arg("snapshots");
    assert_success(&output_with_stdin(cmd, None));

    let mut cmd = repo.cmd();
    cmd.env("VAULT_PASSWORD", "wrong")
        .arg("--password-command")
        .arg(format!("echo '{PASSWORD}'"))
        .arg("snapshots");
    assert_success(&output_with_stdin(cmd, None));

    let mut cmd = repo.cmd();
    cmd.env_remove("VAULT_PASSWORD")
        .env("VAULT_PASSWORD_FILE", &file)
        .arg("snapshots");
    assert_success(&output_with_stdin(cmd, None));
}

#[test]
fn no_password_and_no_terminal_is_a_fatal_error() {
    let (repo, _tmp, _src) = repo_with_snapshot();
    let mut cmd = repo.cmd();
    cmd.env_remove("VAULT_PASSWORD").arg("snapshots");
    assert_error(&output_with_stdin(cmd, None), 1);
}

#[test]
fn missing_repository_exits_10_and_creates_nothing() {
    let tmp = temp_dir();
    let src = tmp.path().join("src");
    write(&src.join("f"), b"f");
    let missing = tmp.path().join("no-such-repo");
    let mut repo = Repo::uninitialised();
    repo.url = missing.clone().into();

    assert_error(&repo.run(args!["snapshots"]), 10);
    assert_error(&repo.run(args!["backup", src]), 10);
    assert!(
        !missing.exists(),
        "a command on a missing repository created it"
    );

    let empty = tmp.path().join("empty-dir");
    fs::create_dir(&empty).unwrap();
    repo.url = empty.clone().into();
    assert_error(&repo.run(args!["snapshots"]), 10);
    assert!(fs::read_dir(&empty).unwrap().next().is_none());

    repo.url = format!("file://{}", missing.display()).into();
    assert_error(&repo.run(args!["snapshots"]), 10);
}

#[test]
fn init_twice_exits_1_and_changes_nothing() {
    let (repo, _tmp, _src) = snapshot_in(Repo::local());
    let before = repo.file_listing();
    assert_error(&repo.run(args!["init"]), 1);
    let mut cmd = repo.cmd();
    cmd.env("VAULT_PASSWORD", "a different password")
        .arg("init");
    assert_error(&output_with_stdin(cmd, None), 1);
    assert!(
        repo.file_listing() == before,
        "a refused init changed the repository"
    );
    assert_eq!(
        repo.snapshots().len(),
        1,
        "the original password must still work"
    );
}

#[test]
fn backup_of_a_missing_source_exits_1_and_saves_no_snapshot() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let out = repo.run(args!["backup", tmp.path().join("does-not-exist")]);
    assert_error(&out, 1);
    assert!(
        repo.snapshots().is_empty(),
        "a failed backup saved a snapshot"
    );
}

#[test]
fn unknown_snapshot_id_exits_1() {
    let (repo, _tmp, src) = repo_with_snapshot();
    let real = repo.snapshots()[0]["id"].as_str().unwrap().to_owned();
    let first = u8::from_str_radix(&real[..1], 16).unwrap();
    let bogus = format!("{:x}{}", first ^ 0x8, &real[1..10]);
    assert_error(&repo.run(args!["ls", bogus]), 1);
    assert_error(&repo.run(args!["dump", bogus, src.join("f.txt")]), 1);
    assert_error(&repo.run(args!["cat", "snapshot", bogus]), 1);
}

#[test]
fn latest_in_an_empty_repository_exits_1() {
    let repo = Repo::new();
    let tmp = temp_dir();
    assert_error(&repo.run(args!["ls", "latest"]), 1);
    let target = tmp.path().join("t");
    assert_error(&repo.run(args!["restore", "latest", "--target", target]), 1);
    assert!(!target.exists() || fs::read_dir(&target).unwrap().next().is_none());
}

#[test]
fn dump_of_a_path_not_in_the_snapshot_exits_1() {
    let (repo, _tmp, src) = repo_with_snapshot();
    let out = repo.run(args!["dump", "latest", src.join("nope.txt")]);
    assert_error(&out, 1);
    assert!(out.stdout.is_empty());
}

#[test]
fn usage_errors_exit_2() {
    let (repo, tmp, _src) = repo_with_snapshot();
    let out = repo.run(args!["backup", "--no-such-flag", tmp.path()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert_no_panic(&out);
    let out = repo.run(args![
        "restore",
        "latest",
        "--target",
        tmp.path().join("t"),
        "--overwrite",
        "sometimes"
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(!tmp.path().join("t").exists());
}

/// Builds the exit-3 scenario in `dir`: a readable and an unreadable file.
fn unreadable_tree(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    write(&src.join("ok.txt"), b"readable\n");
    write(&src.join("secret.txt"), b"unreadable\n");
    fs::set_permissions(src.join("secret.txt"), fs::Permissions::from_mode(0o000)).unwrap();
    src
}

#[test]
fn backup_with_unreadable_file_saves_snapshot_and_exits_3() {
    // Root reads a mode-000 file anyway, so as root the whole scenario runs
    // as `nobody` through setpriv (capabilities are dropped with the uid).
    let tmp = temp_dir();
    let mut repo = Repo::uninitialised();
    if is_root() {
        if !can_run_as_nobody() {
            cannot_run("running as root and cannot drop to nobody with setpriv");
            return;
        }
        repo.prefix = as_nobody();
        repo.envs = vec![
            ("HOME".into(), repo.dir.path().into()),
            (
                "XDG_CACHE_HOME".into(),
                repo.dir.path().join("cache").into(),
            ),
        ];
        for d in [repo.dir.path(), tmp.path()] {
            std::os::unix::fs::chown(d, Some(NOBODY), Some(NOBODY)).unwrap();
        }
        let src = unreadable_tree(tmp.path());
        for p in [src.clone(), src.join("ok.txt"), src.join("secret.txt")] {
            std::os::unix::fs::chown(p, Some(NOBODY), Some(NOBODY)).unwrap();
        }
    } else {
        unreadable_tree(tmp.path());
    }
    let src = tmp.path().join("src").canonicalize().unwrap();
    repo.init();

    let out = repo.run(args!["backup", "--json", src]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert_no_panic(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("secret.txt"),
        "stderr must name the unreadable file\n{stderr}"
    );
    let s = summary(&out);
    let errors = s["errors"].as_array().expect("errors array");
    assert!(!errors.is_empty(), "summary errors must list the file: {s}");
    assert!(s["errors"].to_string().contains("secret.txt"), "{s}");

    assert_eq!(
        repo.snapshots().len(),
        1,
        "exit 3 must still save the snapshot"
    );
    let paths = repo.ls_paths("latest");
    assert!(
        paths.contains(&format!("{}/ok.txt", src.display())),
        "{paths:?}"
    );
    let dump = repo.ok(args!["dump", "latest", src.join("ok.txt")]);
    assert_eq!(dump.stdout, b"readable\n");
}

/// `vault ls latest | head -1`: a reader that goes away early is not an
/// error (exit 0, no panic), as ripgrep and restic behave.
#[test]
fn regression_ls_into_closed_pipe_exits_0_without_panic() {
    use std::io::Read;
    let repo = Repo::new();
    let tmp = temp_dir();
    let src = tmp.path().join("many");
    fs::create_dir(&src).unwrap();
    // More listing than a pipe buffers (64 KiB), so the write must fail.
    for i in 0..3000 {
        fs::write(src.join(format!("file-with-a-longish-name-{i:05}")), b"x").unwrap();
    }
    repo.backup(args![src]);
    let mut child = repo
        .cmd()
        .args(["ls", "latest"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The read end is dropped here, closing the pipe.
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_no_panic(&out);
}
