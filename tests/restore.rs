//! `restore` options: --overwrite, --verify, --include/--exclude, --dry-run,
//! and the refusals (no --target, a target that is a file, an unknown id).

use std::fs;
use std::path::{Path, PathBuf};

use crate::args;
use crate::common::*;

/// A repository with one snapshot of a small tree; returns (tmp, src).
fn fixture(repo: &Repo) -> (tempfile::TempDir, PathBuf) {
    let tmp = temp_dir();
    let src = tmp.path().join("src");
    write(&src.join("keep.txt"), b"original content\n");
    write(&src.join("big.bin"), &random_bytes(3, 1_500_000));
    write(&src.join("docs/readme.md"), b"# readme\n");
    write(&src.join("docs/deep/notes.txt"), b"notes\n");
    write(&src.join("logs/app.log"), b"log line\n");
    let src = src.canonicalize().unwrap();
    repo.backup(args![src]);
    (tmp, src)
}

fn is_empty_or_missing(dir: &Path) -> bool {
    !dir.exists() || fs::read_dir(dir).unwrap().next().is_none()
}

#[test]
fn restore_overwrite_never_keeps_changed_file_and_always_replaces_it() {
    let repo = Repo::new();
    let (tmp, src) = fixture(&repo);
    let target = tmp.path().join("t");
    repo.ok(args!["restore", "latest", "--target", target]);
    let file = restored(&target, &src).join("keep.txt");
    assert_eq!(fs::read(&file).unwrap(), b"original content\n");

    fs::write(&file, b"changed locally, longer than before\n").unwrap();
    repo.ok(args![
        "restore",
        "latest",
        "--target",
        target,
        "--overwrite",
        "never"
    ]);
    assert_eq!(
        fs::read(&file).unwrap(),
        b"changed locally, longer than before\n",
        "--overwrite never replaced an existing file"
    );

    // The default policy (if-changed) puts the snapshot's content back.
    repo.ok(args!["restore", "latest", "--target", target]);
    assert_eq!(fs::read(&file).unwrap(), b"original content\n");

    fs::write(&file, b"changed again\n").unwrap();
    repo.ok(args![
        "restore",
        "latest",
        "--target",
        target,
        "--overwrite",
        "always"
    ]);
    assert_eq!(fs::read(&file).unwrap(), b"original content\n");
    assert_same_tree(&src, &restored(&target, &src), false);
}

#[test]
fn restore_verify_passes_on_a_good_restore() {
    let repo = Repo::new();
    let (tmp, src) = fixture(&repo);
    let target = tmp.path().join("t");
    repo.ok(args!["restore", "latest", "--target", target, "--verify"]);
    assert_same_tree(&src, &restored(&target, &src), false);
}

/// `--verify` fails, naming the file, when a file at the target differs
/// from the snapshot: here one that `if-changed` keeps because someone
/// changed its bytes but kept its size and mtime. With `--overwrite
/// always` it is replaced and verifies.
#[test]
fn restore_verify_fails_on_a_file_that_differs_and_names_it() {
    use std::os::unix::fs::MetadataExt;
    let repo = Repo::new();
    let (tmp, src) = fixture(&repo);
    let target = tmp.path().join("t");
    repo.ok(args!["restore", "latest", "--target", target]);
    let file = restored(&target, &src).join("big.bin");
    let meta = fs::metadata(&file).unwrap();
    let mut bytes = fs::read(&file).unwrap();
    bytes[700_000] ^= 0x20;
    fs::write(&file, &bytes).unwrap();
    set_mtime(&file, meta.mtime() as u64, meta.mtime_nsec() as u32);

    // Without --verify the policy keeps it, as documented.
    repo.ok(args!["restore", "latest", "--target", target]);
    let out = repo.run(args!["restore", "latest", "--target", target, "--verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("big.bin") && l.contains("kept")),
        "{}",
        describe(&out)
    );
    assert!(
        !stderr.contains("keep.txt"),
        "only the changed file is named"
    );

    repo.ok(args![
        "restore",
        "latest",
        "--target",
        target,
        "--verify",
        "--overwrite",
        "always"
    ]);
    assert_same_tree(&src, &restored(&target, &src), false);
}

#[test]
fn restore_include_restores_only_matching_paths() {
    let repo = Repo::new();
    let (tmp, src) = fixture(&repo);
    let target = tmp.path().join("t");
    repo.ok(args![
        "restore",
        "latest",
        "--target",
        target,
        "--include",
        src.join("docs")
    ]);
    let out = restored(&target, &src);
    assert_eq!(fs::read(out.join("docs/readme.md")).unwrap(), b"# readme\n");
    assert_eq!(
        fs::read(out.join("docs/deep/notes.txt")).unwrap(),
        b"notes\n"
    );
    assert!(
        !out.join("keep.txt").exists(),
        "--include restored keep.txt"
    );
    assert!(!out.join("logs").exists(), "--include restored logs/");
    assert!(!out.join("big.bin").exists(), "--include restored big.bin");
}

#[test]
fn restore_exclude_skips_matching_paths() {
    let repo = Repo::new();
    let (tmp, src) = fixture(&repo);
    let target = tmp.path().join("t");
    repo.ok(args![
        "restore",
        "latest",
        "--target",
        target,
        "--exclude",
        "*.log",
        "--exclude",
        src.join("big.bin")
    ]);
    let out = restored(&target, &src);
    assert!(
        !out.join("logs/app.log").exists(),
        "--exclude *.log restored app.log"
    );
    assert!(
        !out.join("big.bin").exists(),
        "--exclude of an absolute path restored it"
    );
    assert_eq!(
        fs::read(out.join("keep.txt")).unwrap(),
        b"original content\n"
    );
    assert_eq!(
        fs::read(out.join("docs/deep/notes.txt")).unwrap(),
        b"notes\n"
    );
}

#[test]
fn restore_dry_run_writes_nothing() {
    let repo = Repo::new();
    let (tmp, _src) = fixture(&repo);
    let target = tmp.path().join("t");
    repo.ok(args!["restore", "latest", "--target", target, "--dry-run"]);
    assert!(
        is_empty_or_missing(&target),
        "--dry-run wrote into the target"
    );
}

#[test]
fn restore_without_target_is_refused_and_writes_nothing() {
    let repo = Repo::new();
    let (tmp, src) = fixture(&repo);
    // Damage the original, then check restore does not "repair" it in place.
    fs::remove_file(src.join("keep.txt")).unwrap();
    fs::write(src.join("docs/readme.md"), b"edited\n").unwrap();
    let cwd = tmp.path().join("cwd");
    fs::create_dir(&cwd).unwrap();

    let mut cmd = repo.cmd();
    cmd.current_dir(&cwd).args(["restore", "latest"]);
    let out = output_with_stdin(cmd, None);
    assert_error(&out, 1);
    assert!(
        is_empty_or_missing(&cwd),
        "restore without --target wrote into the cwd"
    );
    assert!(
        !src.join("keep.txt").exists(),
        "restore without --target wrote the original path"
    );
    assert_eq!(fs::read(src.join("docs/readme.md")).unwrap(), b"edited\n");
}

#[test]
fn restore_target_that_is_a_file_is_refused() {
    let repo = Repo::new();
    let (tmp, _src) = fixture(&repo);
    let target = tmp.path().join("a-file");
    fs::write(&target, b"i am a file").unwrap();
    let out = repo.run(args!["restore", "latest", "--target", target]);
    assert_error(&out, 1);
    assert_eq!(fs::read(&target).unwrap(), b"i am a file");
}

#[test]
fn restore_unknown_snapshot_is_refused() {
    let repo = Repo::new();
    let (tmp, _src) = fixture(&repo);
    let target = tmp.path().join("t");
    let real = repo.snapshots()[0]["id"].as_str().unwrap().to_owned();
    // A prefix that cannot match: flip the first hex digit of the only id.
    let first = u8::from_str_radix(&real[..1], 16).unwrap();
    let bogus = format!("{:x}{}", first ^ 0x8, &real[1..8]);
    let out = repo.run(args!["restore", bogus, "--target", target]);
    assert_error(&out, 1);
    assert!(
        is_empty_or_missing(&target),
        "a failed restore wrote into the target"
    );
}

#[test]
fn restore_of_corrupted_data_fails_and_names_the_file() {
    let repo = Repo::local();
    let tmp = temp_dir();
    let src = tmp.path().join("src");
    // The only file with data, so any damaged data blob is this file's.
    write(&src.join("precious.bin"), &random_bytes(8, 4 << 20));
    let src = src.canonicalize().unwrap();
    repo.backup(args![src]);

    // Flip a byte in the middle of the largest object under data/.
    let listing = repo.file_listing();
    let (pack, bytes) = listing
        .iter()
        .filter(|(p, _)| p.starts_with("data"))
        .max_by_key(|(_, b)| b.len())
        .expect("a pack under data/");
    assert!(
        bytes.len() > 1 << 20,
        "largest pack is only {} bytes",
        bytes.len()
    );
    let mut damaged = bytes.clone();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x40;
    let pack_path = repo.path.join(pack);
    let mut perms = fs::metadata(&pack_path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&pack_path, perms).unwrap();
    fs::write(&pack_path, &damaged).unwrap();

    let target = tmp.path().join("t");
    let out = repo.run(args!["restore", "latest", "--target", target]);
    assert_ne!(
        out.status.code(),
        Some(0),
        "restore of damaged data succeeded\n{}",
        describe(&out)
    );
    assert_no_panic(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("precious.bin"),
        "stderr must name the affected file\n{stderr}"
    );

    let out = repo.run(args!["dump", "latest", src.join("precious.bin")]);
    assert_ne!(out.status.code(), Some(0), "dump of damaged data succeeded");
    assert_no_panic(&out);
}
