//! Commands that run at the same time on one repository (a directory, or
//! S3 when scripts/test.sh runs this again with VAULT_TEST_BACKEND=s3):
//! two backups, a prune beside a backup, two inits. Whatever the order the
//! processes meet in, each either succeeds or refuses with the contract's
//! code, and afterwards `check --read-data` passes and every snapshot
//! restores whole.

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};

use crate::args;
use crate::common::*;

fn spawn(repo: &Repo, args: &[&str]) -> Child {
    let mut cmd = repo.cmd();
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("spawn vault")
}

fn finish(child: Child) -> Output {
    let out = child.wait_with_output().expect("wait for vault");
    assert_no_panic(&out);
    out
}

/// A source of `files` random files of `size` bytes under `dir/name`.
fn source(dir: &Path, name: &str, seed: u64, files: usize, size: usize) -> PathBuf {
    let src = dir.join(name);
    for i in 0..files {
        write(
            &src.join(format!("f{i}.bin")),
            &random_bytes(seed * 1000 + i as u64, size),
        );
    }
    src.canonicalize().unwrap()
}

/// `check --read-data` passes, and the newest snapshot of each source
/// restores identical to it.
fn assert_whole(repo: &Repo, sources: &[&Path]) {
    let out = repo.run(args!["check", "--read-data"]);
    assert_success(&out);
    for src in sources {
        let target = temp_dir();
        repo.ok(args![
            "restore",
            "latest",
            "--path",
            src,
            "--target",
            target.path()
        ]);
        assert_same_tree(src, &restored(target.path(), src), false);
    }
}

#[test]
fn two_backups_at_once_both_land_and_share_what_they_share() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let a = source(tmp.path(), "a", 1, 6, 2 << 20);
    let b = source(tmp.path(), "b", 2, 6, 2 << 20);
    // What both hold: stored once, whoever writes it first.
    for src in [&a, &b] {
        write(&src.join("shared.bin"), &random_bytes(99, 3 << 20));
    }
    let first = spawn(&repo, &["backup", a.to_str().unwrap()]);
    let second = spawn(&repo, &["backup", b.to_str().unwrap()]);
    assert_success(&finish(first));
    assert_success(&finish(second));
    assert_eq!(repo.snapshots().len(), 2);
    assert_whole(&repo, &[&a, &b]);
}

#[test]
fn a_prune_beside_a_backup_waits_or_refuses_and_loses_nothing() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let old = source(tmp.path(), "old", 3, 4, 2 << 20);
    repo.backup(args![old]);
    let id = repo.snapshots()[0]["id"].as_str().unwrap().to_owned();
    let new = source(tmp.path(), "new", 4, 8, 2 << 20);
    let keep = source(tmp.path(), "keep", 5, 2, 1 << 20);
    repo.backup(args![keep]);
    repo.ok(args!["forget", id]);
    // Both orders happen across runs: the prune first (the backup waits
    // for its exclusive lock), or the backup first (the prune waits).
    let backup = spawn(
        &repo,
        &["--retry-lock", "5m", "backup", new.to_str().unwrap()],
    );
    let prune = spawn(&repo, &["--retry-lock", "5m", "prune"]);
    assert_success(&finish(backup));
    assert_success(&finish(prune));
    assert_whole(&repo, &[&new, &keep]);
    // And without waiting, the one that comes second refuses with 11 or
    // runs after the other: never both at once.
    let backup = spawn(&repo, &["backup", new.to_str().unwrap()]);
    let prune = spawn(&repo, &["prune"]);
    for out in [finish(backup), finish(prune)] {
        assert!(
            out.status.code() == Some(0) || out.status.code() == Some(11),
            "{}",
            describe(&out)
        );
        if out.status.code() == Some(11) {
            assert_error(&out, 11);
        }
    }
    assert_whole(&repo, &[&new, &keep]);
}

#[test]
fn two_inits_at_once_make_one_repository() {
    for _ in 0..3 {
        let repo = Repo::uninitialised();
        let inits: Vec<(Child, &str)> = ["first password", "second password"]
            .into_iter()
            .map(|password| {
                let mut cmd = repo.cmd();
                cmd.env("VAULT_PASSWORD", password)
                    .arg("init")
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                (cmd.spawn().expect("spawn vault"), password)
            })
            .collect();
        let outs: Vec<(Output, &str)> = inits
            .into_iter()
            .map(|(child, password)| (finish(child), password))
            .collect();
        let won: Vec<&str> = outs
            .iter()
            .filter(|(out, _)| out.status.success())
            .map(|(_, password)| *password)
            .collect();
        assert_eq!(won.len(), 1, "exactly one init succeeds");
        for (out, password) in &outs {
            if !out.status.success() {
                assert_error(out, 1);
                assert!(
                    String::from_utf8_lossy(&out.stderr).contains("already exists"),
                    "{}",
                    describe(out)
                );
                // The loser's password opens nothing.
                let mut cmd = repo.cmd();
                cmd.env("VAULT_PASSWORD", password).arg("snapshots");
                let opened = output_with_stdin(cmd, None);
                assert_error(&opened, 12);
            }
        }
        let mut cmd = repo.cmd();
        cmd.env("VAULT_PASSWORD", won[0]).args(["key", "list"]);
        let listed = output_with_stdin(cmd, None);
        assert_success(&listed);
        let mut cmd = repo.cmd();
        cmd.env("VAULT_PASSWORD", won[0]).arg("check");
        assert_success(&output_with_stdin(cmd, None));
    }
}
