//! Backup excludes: --exclude, --iexclude, --exclude-file,
//! --exclude-if-present, --exclude-larger-than, --one-file-system.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::args;
use crate::common::*;

/// A small tree with names that the exclude options below pick apart.
fn tree() -> (tempfile::TempDir, PathBuf) {
    let tmp = temp_dir();
    let src = tmp.path().join("src");
    write(&src.join("keep.txt"), b"keep");
    write(&src.join("app.log"), b"log");
    write(&src.join("sub/trace.log"), b"log");
    write(&src.join("sub/SHOUT.LOG"), b"LOG");
    write(&src.join("sub/Mixed.Log"), b"Log");
    write(&src.join("sub/data.tmp"), b"tmp");
    write(&src.join("sub/data.txt"), b"txt");
    write(&src.join("cache/.nobackup"), b"");
    write(&src.join("cache/blob.bin"), b"cached");
    write(&src.join("cache/inner/x"), b"x");
    write(&src.join("small.bin"), &random_bytes(5, 100));
    write(&src.join("large.bin"), &random_bytes(6, 100_000));
    let src = src.canonicalize().unwrap();
    (tmp, src)
}

/// Backs up `src` with `flags` and returns the snapshot's paths relative to
/// `src`.
fn backup_listing(repo: &Repo, src: &Path, flags: &[&std::ffi::OsStr]) -> BTreeSet<String> {
    let mut all = vec![src.as_os_str()];
    all.extend_from_slice(flags);
    let s = repo.backup(&all);
    let prefix = format!("{}/", src.display());
    repo.ls_paths(s["snapshot_id"].as_str().unwrap())
        .into_iter()
        .filter_map(|p| p.strip_prefix(&prefix).map(str::to_owned))
        .collect()
}

#[track_caller]
fn assert_listing(got: &BTreeSet<String>, present: &[&str], absent: &[&str]) {
    for p in present {
        assert!(got.contains(*p), "{p} should be in the snapshot: {got:?}");
    }
    for p in absent {
        assert!(!got.contains(*p), "{p} should have been excluded: {got:?}");
    }
}

#[test]
fn exclude_glob_skips_matching_files() {
    let repo = Repo::new();
    let (_tmp, src) = tree();
    let got = backup_listing(&repo, &src, args!["--exclude", "*.log"]);
    assert_listing(
        &got,
        &[
            "keep.txt",
            "sub/data.txt",
            "sub/SHOUT.LOG",
            "sub/Mixed.Log",
            "cache/blob.bin",
        ],
        &["app.log", "sub/trace.log"],
    );
}

#[test]
fn exclude_absolute_path_skips_the_directory() {
    let repo = Repo::new();
    let (_tmp, src) = tree();
    let got = backup_listing(&repo, &src, args!["--exclude", src.join("sub")]);
    assert_listing(
        &got,
        &["keep.txt", "cache/blob.bin"],
        &["sub", "sub/data.txt"],
    );
}

#[test]
fn iexclude_ignores_case() {
    let repo = Repo::new();
    let (_tmp, src) = tree();
    let got = backup_listing(&repo, &src, args!["--iexclude", "*.LOG"]);
    assert_listing(
        &got,
        &["keep.txt", "sub/data.txt"],
        &["app.log", "sub/trace.log", "sub/SHOUT.LOG", "sub/Mixed.Log"],
    );
}

#[test]
fn exclude_file_reads_patterns_ignoring_comments_and_blanks() {
    let repo = Repo::new();
    let (tmp, src) = tree();
    let list = tmp.path().join("excludes.txt");
    fs::write(&list, "# temporary files\n\n*.tmp\n  \nkeep.txt\n").unwrap();
    let got = backup_listing(&repo, &src, args!["--exclude-file", list]);
    assert_listing(
        &got,
        &["sub/data.txt", "app.log", "sub"],
        &["sub/data.tmp", "keep.txt"],
    );
}

#[test]
fn exclude_if_present_skips_the_marked_directory() {
    let repo = Repo::new();
    let (_tmp, src) = tree();
    let got = backup_listing(&repo, &src, args!["--exclude-if-present", ".nobackup"]);
    assert_listing(
        &got,
        &["keep.txt", "sub/data.txt"],
        &["cache/blob.bin", "cache/inner", "cache/inner/x"],
    );
}

#[test]
fn exclude_larger_than_skips_big_files() {
    let repo = Repo::new();
    let (_tmp, src) = tree();
    let got = backup_listing(&repo, &src, args!["--exclude-larger-than", "10K"]);
    assert_listing(&got, &["small.bin", "keep.txt"], &["large.bin"]);
}

/// Unmounts on drop, so a failing assertion does not leave a mount behind.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn one_file_system_does_not_cross_mount_points() {
    let repo = Repo::new();
    let (_tmp, src) = tree();
    let mnt = src.join("mnt");
    fs::create_dir(&mnt).unwrap();
    // Mounting needs root (CI runs as root); elsewhere there is no second
    // file system we can put inside the backup set, so the test is skipped.
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "vault-test"])
        .arg(&mnt)
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        cannot_run("cannot mount a tmpfs here (needs root)");
        return;
    }
    let _guard = Mount(mnt.clone());
    write(&mnt.join("other-fs.txt"), b"on tmpfs");

    let all = backup_listing(&repo, &src, args![]);
    assert_listing(&all, &["mnt", "mnt/other-fs.txt", "keep.txt"], &[]);

    let got = backup_listing(&repo, &src, args!["--one-file-system"]);
    assert_listing(&got, &["keep.txt", "sub/data.txt"], &["mnt/other-fs.txt"]);
}
