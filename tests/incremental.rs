//! Incremental backups: the parent snapshot, unchanged files not re-read,
//! and deduplication of a small change inside a large file.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use crate::args;
use crate::common::*;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

/// `count` files of assorted sizes in a few directories.
fn many_files(count: usize) -> (tempfile::TempDir, PathBuf) {
    let tmp = temp_dir();
    let src = tmp.path().join("src");
    for i in 0..count {
        let size = [0, 10, 1000, 70_000, 300_000][i % 5] + i;
        write(
            &src.join(format!("d{}/f{i}.bin", i % 4)),
            &random_bytes(100 + i as u64, size),
        );
    }
    let src = src.canonicalize().unwrap();
    (tmp, src)
}

#[test]
fn backup_unchanged_second_run_reads_nothing_and_adds_almost_nothing() {
    let repo = Repo::new();
    let (_tmp, src) = many_files(25);
    let first = repo.backup(args![src]);
    assert_eq!(field(&first, "files_new"), 25, "{first}");
    assert_eq!(field(&first, "total_files_processed"), 25, "{first}");
    assert!(field(&first, "data_added") >= 1_500_000, "{first}");

    let second = repo.backup(args![src]);
    assert_eq!(field(&second, "files_new"), 0, "{second}");
    assert_eq!(field(&second, "files_changed"), 0, "{second}");
    assert_eq!(field(&second, "files_unmodified"), 25, "{second}");
    assert_eq!(field(&second, "dirs_new"), 0, "{second}");
    assert!(field(&second, "dirs_unmodified") >= 5, "{second}");
    assert_eq!(field(&second, "total_files_processed"), 25, "{second}");
    assert!(
        field(&second, "data_added") < 64 * KIB,
        "an unchanged backup added too much: {second}"
    );
    assert_ne!(first["snapshot_id"], second["snapshot_id"]);

    let snaps = repo.snapshots();
    let two = snaps
        .iter()
        .find(|s| s["id"] == second["snapshot_id"])
        .expect("second snapshot listed");
    assert_eq!(two["parent"], first["snapshot_id"], "{two}");
}

#[test]
fn backup_counts_new_changed_and_unmodified_files() {
    let repo = Repo::new();
    let (_tmp, src) = many_files(10);
    repo.backup(args![src]);

    // Same size, new content and mtime: must be detected as changed.
    let victim = src.join("d1/f1.bin");
    let len = fs::metadata(&victim).unwrap().len() as usize;
    fs::write(&victim, random_bytes(999, len)).unwrap();
    write(&src.join("d2/brand-new.txt"), b"new file\n");

    let s = repo.backup(args![src]);
    assert_eq!(field(&s, "files_new"), 1, "{s}");
    assert_eq!(field(&s, "files_changed"), 1, "{s}");
    assert_eq!(field(&s, "files_unmodified"), 9, "{s}");
    assert_eq!(field(&s, "total_files_processed"), 11, "{s}");

    let out = repo.ok(args!["dump", "latest", victim]);
    assert!(
        out.stdout == random_bytes(999, len),
        "changed file stored wrongly"
    );
}

#[test]
fn backup_force_rereads_but_adds_nothing() {
    let repo = Repo::new();
    let (_tmp, src) = many_files(10);
    repo.backup(args![src]);
    let s = repo.backup(args![src, "--force"]);
    assert_eq!(field(&s, "total_files_processed"), 10, "{s}");
    assert!(
        field(&s, "total_bytes_processed") >= 700_000,
        "--force did not process the files' bytes: {s}"
    );
    assert!(field(&s, "data_added") < 64 * KIB, "{s}");
}

#[test]
fn backup_1mib_change_in_50mib_file_adds_well_under_10mib() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let src = tmp.path().join("src");
    let mut data = random_bytes(50, 50 * MIB as usize);
    write(&src.join("large.bin"), &data);
    let src = src.canonicalize().unwrap();
    let first = repo.backup(args![src]);
    assert!(field(&first, "data_added") >= 50 * MIB, "{first}");

    let patch = random_bytes(51, MIB as usize);
    let offset = 25 * MIB as usize - 12_345;
    data[offset..offset + patch.len()].copy_from_slice(&patch);
    fs::OpenOptions::new()
        .write(true)
        .open(src.join("large.bin"))
        .unwrap()
        .write_all_at(&patch, offset as u64)
        .unwrap();

    let second = repo.backup(args![src]);
    assert_eq!(field(&second, "files_changed"), 1, "{second}");
    let added = field(&second, "data_added");
    let packed = field(&second, "data_added_packed");
    assert!(added >= MIB, "the changed MiB was not stored: {second}");
    assert!(
        packed < 10 * MIB,
        "a 1 MiB change added {packed} packed bytes: {second}"
    );
    assert!(
        added < 10 * MIB,
        "a 1 MiB change added {added} bytes: {second}"
    );

    let out = repo.ok(args!["dump", "latest", src.join("large.bin")]);
    assert!(out.stdout == data, "the patched file does not round-trip");
}

#[test]
fn backup_unchanged_files_are_not_opened_again() {
    // Proof that unchanged files are not read: the first backup runs as
    // root, the second as `nobody`, who may stat the files but not open
    // them. Reading any of them would fail the backup with exit 3.
    if !is_root() {
        cannot_run("needs root to switch to another uid");
        return;
    }
    if !can_run_as_nobody() {
        cannot_run("cannot drop to nobody with setpriv");
        return;
    }
    let (tmp, src) = many_files(12);
    chmod(tmp.path(), 0o755);
    for rel in walk(&src) {
        let p = src.join(rel);
        chmod(&p, if p.is_dir() { 0o755 } else { 0o600 });
    }
    let mut repo = Repo::uninitialised();
    let cache = repo.dir.path().join("cache");
    repo.envs = vec![
        ("HOME".into(), repo.dir.path().into()),
        ("XDG_CACHE_HOME".into(), cache.into()),
    ];
    repo.init();
    let first = repo.backup(args![src]);
    assert_eq!(field(&first, "files_new"), 12, "{first}");

    chown_tree(repo.dir.path(), NOBODY);
    repo.prefix = as_nobody();
    let second = repo.backup(args![src]);
    assert_eq!(field(&second, "files_unmodified"), 12, "{second}");
    assert_eq!(second["errors"], serde_json::json!([]), "{second}");

    // Control: the files really are unreadable to this uid, so reading them
    // (as --force must) fails; without this the test could not fail.
    let forced = repo.run(args!["backup", src, "--force"]);
    assert_eq!(forced.status.code(), Some(3), "{}", describe(&forced));
}

/// A file whose size changes between stat and the end of reading is named
/// in the summary's warnings and on stderr; the snapshot holds what was read
/// and the backup still succeeds. Files in /proc are the deterministic case:
/// they stat as 0 bytes and read back content.
#[test]
fn backup_file_changed_while_read_is_reported() {
    let proc_file = std::path::Path::new("/proc/self/mountinfo");
    if !proc_file.exists() {
        cannot_run("no /proc on this system");
        return;
    }
    let repo = Repo::new();
    let out = repo.run(args!["backup", "--json", proc_file]);
    assert_success(&out);
    let s = summary(&out);
    let warnings = s["warnings"].as_array().expect("warnings array");
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .is_some_and(|w| w.contains("changed while it was read"))),
        "{s}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("changed while it was read"),
        "{}",
        describe(&out)
    );
    assert!(field(&s, "total_bytes_processed") > 0, "{s}");
    let dumped = repo.ok(args!["dump", "latest", proc_file]);
    assert!(
        !dumped.stdout.is_empty(),
        "the snapshot holds what was read"
    );
}
