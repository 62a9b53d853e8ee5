//! `vault mount`: mounted for real through FUSE, read through the mount,
//! compared with the originals, and unmounted by a signal.
//!
//! Without /dev/fuse (or, as non-root, without fusermount3) these tests
//! print a note and pass, unless `VAULT_TEST_FUSE_REQUIRED=1` (set by
//! scripts/test.sh) makes that a failure.

use crate::args;
use crate::common::*;
use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Generous: only a hung mount ever reaches it.
const DEADLINE: Duration = Duration::from_secs(60);

/// Whether FUSE can be used here; says why not (or fails when required).
pub(crate) fn fuse_available() -> bool {
    let helper = ["/usr/bin/fusermount3", "/bin/fusermount3"]
        .iter()
        .any(|p| Path::new(p).exists());
    let why = if !Path::new("/dev/fuse").exists() {
        Some("no /dev/fuse")
    } else if !is_root() && !helper {
        Some("not root and no fusermount3 (install fuse3)")
    } else {
        None
    };
    match why {
        None => true,
        Some(why) if std::env::var("VAULT_TEST_FUSE_REQUIRED").as_deref() == Ok("1") => {
            panic!("FUSE is required (VAULT_TEST_FUSE_REQUIRED=1) but unavailable: {why}")
        }
        Some(why) => {
            eprintln!(
                "skipped: FUSE is unavailable ({why}); set VAULT_TEST_FUSE_REQUIRED=1 to fail instead"
            );
            false
        }
    }
}

/// Whether `path` is a mount point of this process's namespace.
fn is_mount_point(path: &Path) -> bool {
    let info = fs::read("/proc/self/mountinfo").expect("read /proc/self/mountinfo");
    let want = path.as_os_str().as_bytes();
    // Mount points with spaces are escaped (\040); the test paths have none.
    info.split(|b| *b == b'\n')
        .any(|line| line.split(|b| *b == b' ').nth(4) == Some(want))
}

/// A running `vault mount`; unmounted and stopped when dropped.
pub(crate) struct Mount {
    child: Option<Child>,
    point: PathBuf,
    stderr: PathBuf,
}

impl Mount {
    /// `vault [FLAGS] mount POINT`, waiting until the kernel lists the mount.
    #[track_caller]
    pub(crate) fn start(repo: &Repo, flags: &[&OsStr], point: &Path) -> Mount {
        let stderr = repo.dir.path().join(format!(
            "mount-stderr-{}",
            point.file_name().unwrap().to_string_lossy()
        ));
        let mut cmd = repo.cmd();
        cmd.args(flags).arg("mount").arg(point);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&stderr).expect("stderr file"));
        let child = cmd.spawn().expect("spawn vault mount");
        let mut mount = Mount {
            child: Some(child),
            point: point.to_path_buf(),
            stderr,
        };
        let started = Instant::now();
        while !is_mount_point(point) {
            if let Some(status) = mount.child.as_mut().unwrap().try_wait().expect("try_wait") {
                mount.child = None;
                panic!(
                    "vault mount exited ({status}) before mounting:\n{}",
                    mount.stderr_text()
                );
            }
            assert!(
                started.elapsed() < DEADLINE,
                "not mounted after {DEADLINE:?}:\n{}",
                mount.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        mount
    }

    fn stderr_text(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Send `signal` (TERM or INT) and wait for the exit; returns the
    /// status and stderr.
    #[track_caller]
    pub(crate) fn stop(mut self, signal: &str) -> (ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        send(&child, signal);
        let status = wait(&mut child).unwrap_or_else(|| {
            panic!(
                "vault mount did not exit after SIG{signal}:\n{}",
                self.stderr_text()
            )
        });
        (status, self.stderr_text())
    }

    /// Wait for vault to exit by itself (after an unmount from outside).
    #[track_caller]
    fn wait_exit(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        let status = wait(&mut child)
            .unwrap_or_else(|| panic!("vault mount did not exit:\n{}", self.stderr_text()));
        (status, self.stderr_text())
    }
}

fn send(child: &Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} failed");
}

fn wait(child: &mut Child) -> Option<ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < DEADLINE {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

impl Drop for Mount {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            send(&child, "TERM");
            if wait(&mut child).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if is_mount_point(&self.point) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.point)
                .status();
        }
    }
}

/// Names in a directory, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

fn source_tree(root: &Path) -> PathBuf {
    let src = root.join("src");
    write(&src.join("small.txt"), b"hello, mount\n");
    write(&src.join("empty"), b"");
    write(&src.join("dir/sub/big.bin"), &random_bytes(5, 3 << 20));
    write(&src.join("dir/private"), b"secret");
    chmod(&src.join("dir/private"), 0o640);
    write(&src.join("tool"), b"#!/bin/sh\n");
    chmod(&src.join("tool"), 0o4755);
    std::os::unix::fs::symlink("small.txt", src.join("link")).unwrap();
    std::os::unix::fs::symlink("../no/such/file", src.join("dir/dangling")).unwrap();
    fs::create_dir(src.join("dir/emptydir")).unwrap();
    if is_root() {
        std::os::unix::fs::chown(src.join("dir/private"), Some(4321), Some(8765)).unwrap();
    }
    set_mtime(&src.join("small.txt"), 1_600_000_000, 123_456_789);
    set_mtime(&src.join("dir/sub"), 1_500_000_000, 5);
    src
}

#[test]
fn mount_serves_every_snapshot_view_and_new_backups_without_remount() {
    if !fuse_available() {
        return;
    }
    let repo = Repo::new();
    let src = source_tree(repo.dir.path());
    let time = "2024-05-01T12:00:00Z";
    let first = repo.backup(args![
        src, "--host", "alpha", "--tag", "daily", "--time", time
    ]);
    let first_id = first["snapshot_id"].as_str().unwrap().to_owned();
    let point = repo.dir.path().join("mnt");
    fs::create_dir(&point).unwrap();
    let mount = Mount::start(&repo, args![], &point);

    assert_eq!(names(&point), ["hosts", "ids", "snapshots", "tags"]);
    assert_eq!(names(&point.join("snapshots")), [time, "latest"]);
    assert_eq!(
        fs::read_link(point.join("snapshots/latest")).unwrap(),
        Path::new(time)
    );
    // Content, size, mode, mtime, owner and symlink targets, through
    // snapshots/latest (which resolves).
    let latest = restored(&point.join("snapshots/latest"), &src);
    assert_same_tree(&src, &latest, true);
    let root_meta = fs::metadata(point.join("snapshots").join(time)).unwrap();
    assert!(root_meta.is_dir());
    assert_eq!(
        root_meta.mtime(),
        1_714_564_800,
        "snapshot dir has the snapshot's time"
    );
    // The other views show the same snapshot.
    let short = &first_id[..8];
    assert_eq!(names(&point.join("ids")), [short]);
    for view in [
        point.join("ids").join(short),
        point.join("hosts/alpha").join(time),
        point.join("tags/daily").join(time),
    ] {
        assert!(
            same_content(
                &restored(&view, &src).join("dir/sub/big.bin"),
                &src.join("dir/sub/big.bin")
            ),
            "{}",
            view.display()
        );
    }
    assert_eq!(names(&point.join("hosts")), ["alpha"]);
    assert_eq!(names(&point.join("tags")), ["daily"]);
    // Stable inode numbers within the mount.
    let big = restored(&point.join("ids").join(short), &src).join("dir/sub/big.bin");
    let ino = fs::metadata(&big).unwrap().ino();
    assert_eq!(fs::metadata(&big).unwrap().ino(), ino);
    // Read-only.
    assert!(fs::write(latest.join("small.txt"), b"x").is_err());
    assert!(fs::write(latest.join("new"), b"x").is_err());
    // The mount holds a (shared) lock.
    assert_eq!(repo.list("locks").len(), 1, "a lock while mounted");

    // A backup made while mounted appears without remounting. (Equal times
    // get suffixes, but which of two equal times is newer is only the
    // order of their ids: the unit tests of the layout cover that.)
    write(&src.join("added-later"), b"new");
    let second = "2024-05-02T12:00:00Z".to_owned();
    repo.backup(args![
        src, "--host", "beta", "--tag", "daily", "--time", second
    ]);
    let started = Instant::now();
    while !names(&point.join("snapshots")).contains(&second) {
        assert!(started.elapsed() < DEADLINE, "new snapshot never appeared");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        fs::read_link(point.join("snapshots/latest")).unwrap(),
        Path::new(&second)
    );
    assert_eq!(
        fs::read(restored(&point.join("snapshots/latest"), &src).join("added-later")).unwrap(),
        b"new"
    );
    assert_eq!(names(&point.join("hosts")), ["alpha", "beta"]);
    assert_eq!(
        names(&point.join("hosts/beta")),
        [second.as_str(), "latest"]
    );
    assert_eq!(names(&point.join("tags/daily")), [time, &second, "latest"]);

    // Mounting again on the same point is refused.
    let again = repo.run(args!["mount", point]);
    assert_error(&again, 1);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already mounted"),
        "{}",
        describe(&again)
    );

    let (status, stderr) = mount.stop("TERM");
    assert_eq!(status.code(), Some(0), "SIGTERM ends the mount: {stderr}");
    assert!(!is_mount_point(&point), "still mounted after SIGTERM");
    assert!(repo.list("locks").is_empty(), "lock left behind: {stderr}");
}

#[test]
fn mount_read_in_the_middle_of_a_large_file_fetches_only_a_few_blobs() {
    if !fuse_available() {
        return;
    }
    let repo = Repo::new();
    let src = repo.dir.path().join("src");
    let data = random_bytes(77, 32 << 20);
    write(&src.join("large"), &data);
    repo.backup(args![src]);
    let point = repo.dir.path().join("mnt");
    fs::create_dir(&point).unwrap();
    let mount = Mount::start(&repo, args!["-v"], &point);

    let file = restored(&point.join("snapshots/latest"), &src).join("large");
    let mut f = fs::File::open(&file).unwrap();
    assert_eq!(f.metadata().unwrap().len(), data.len() as u64);
    let offset = (16 << 20) + 12_345;
    f.seek(SeekFrom::Start(offset as u64)).unwrap();
    let mut buf = vec![0u8; 4096];
    f.read_exact(&mut buf).unwrap();
    assert!(
        buf == data[offset..offset + 4096],
        "wrong bytes at {offset}"
    );
    drop(f);

    let (status, stderr) = mount.stop("INT");
    assert_eq!(status.code(), Some(0), "SIGINT ends the mount: {stderr}");
    assert!(!is_mount_point(&point), "still mounted after SIGINT");
    // "mount: R reads (B bytes), N blobs fetched (F bytes), H cache hits"
    let line = stderr
        .lines()
        .find(|l| l.starts_with("mount: "))
        .unwrap_or_else(|| panic!("no stats line with -v:\n{stderr}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let (blobs, fetched) = (numbers[2], numbers[3]);
    assert!(
        (1..=4).contains(&blobs) && fetched < (data.len() / 2) as u64,
        "a 4 KiB read fetched {blobs} blobs ({fetched} bytes) of a {} byte file: {line}",
        data.len()
    );
}

#[test]
fn mount_refuses_bad_mountpoints_and_ends_on_outside_unmount() {
    let repo = Repo::new();
    let src = repo.dir.path().join("src");
    write(&src.join("f"), b"x");
    repo.backup(args![src]);
    let check = |point: &Path, words: &str| {
        let out = repo.run(args!["mount", point]);
        assert_error(&out, 1);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(words), "{}", describe(&out));
    };
    check(&repo.dir.path().join("missing"), "does not exist");
    check(&src, "not empty");
    check(&src.join("f"), "not a directory");

    if !fuse_available() {
        return;
    }
    let point = repo.dir.path().join("mnt");
    fs::create_dir(&point).unwrap();
    let mount = Mount::start(&repo, args![], &point);
    check(&point, "already mounted");
    let status = std::process::Command::new("umount")
        .arg(&point)
        .status()
        .expect("run umount");
    assert!(status.success(), "umount failed");
    let (status, stderr) = mount.wait_exit();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(repo.list("locks").is_empty(), "lock left behind: {stderr}");
}

/// Whether a program is on PATH; fails instead when FUSE tests are required
/// (scripts/test.sh installs what they use).
fn have(program: &str) -> bool {
    let found = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("VAULT_TEST_FUSE_REQUIRED").as_deref() != Ok("1"),
            "{program} is required with VAULT_TEST_FUSE_REQUIRED=1 but not installed"
        );
        eprintln!("skipped the {program} part: {program} is not installed");
    }
    found
}

#[track_caller]
fn run_ok(program: &str, args: &[&OsStr]) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(out.status.success(), "{program} failed: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn mount_serves_cp_grep_and_sqlite3_like_a_disk() {
    if !fuse_available() {
        return;
    }
    let repo = Repo::new();
    let src = source_tree(repo.dir.path());
    write(
        &src.join("logs/app.log"),
        b"started\nneedle-4711 found here\nstopped\n",
    );
    let db = src.join("app.sqlite");
    let sqlite = have("sqlite3");
    if sqlite {
        run_ok(
            "sqlite3",
            args![
                db,
                "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
                 INSERT INTO t SELECT i, printf('row %06d', i) FROM n;"
            ],
        );
    }
    repo.backup(args![src]);
    let point = repo.dir.path().join("mnt");
    fs::create_dir(&point).unwrap();
    let _mount = Mount::start(&repo, args![], &point);
    let inside = restored(&point.join("snapshots/latest"), &src);

    // cp -a copies the tree out as it was (content, modes, times, links).
    let copy = repo.dir.path().join("copy");
    run_ok("cp", args!["-a", inside, copy]);
    assert_same_tree(&src, &copy, true);
    // grep -r reads every file and finds the one line.
    let found = run_ok("grep", args!["-r", "-l", "needle-4711", inside]);
    assert_eq!(
        found.trim(),
        inside.join("logs/app.log").to_string_lossy(),
        "grep -r"
    );
    // sqlite3 queries the database in place, with random reads.
    if sqlite {
        let answer = run_ok(
            "sqlite3",
            args![
                "-readonly",
                inside.join("app.sqlite"),
                "SELECT count(*), max(v) FROM t WHERE id % 7 = 0"
            ],
        );
        assert_eq!(answer.trim(), "2857|row 019999");
    }
}

/// A prune while a mount is open: a file opened through the mount before
/// its snapshot was forgotten and pruned still reads whole afterwards
/// (prune defers deleting what a live lock may read, SPEC §7.6), and once
/// the mount ends, the next prune deletes it and the repository checks
/// clean.
#[test]
fn mount_open_while_prune_runs_keeps_every_read_whole() {
    use std::io::Read;
    if !fuse_available() {
        return;
    }
    let repo = Repo::new();
    let src = source_tree(repo.dir.path());
    let old = random_bytes(76, 3 << 20);
    write(&src.join("old.bin"), &old);
    let time = "2024-05-01T12:00:00Z";
    let first = repo.backup(args![src, "--time", time]);
    fs::remove_file(src.join("old.bin")).unwrap();
    write(&src.join("new.bin"), &random_bytes(77, 3 << 20));
    repo.backup(args![src]);
    let point = repo.dir.path().join("mnt");
    fs::create_dir(&point).unwrap();
    let mount = Mount::start(&repo, args![], &point);
    let mut reading =
        fs::File::open(restored(&point.join("snapshots").join(time), &src).join("old.bin"))
            .unwrap();
    let mut head = vec![0u8; 4096];
    reading.read_exact(&mut head).unwrap();

    repo.ok(args!["forget", first["snapshot_id"].as_str().unwrap()]);
    let pruned = repo.ok(args!["prune"]);
    assert!(
        String::from_utf8_lossy(&pruned.stdout).contains("wait for deletion"),
        "prune defers deleting what the mount may read: {}",
        describe(&pruned)
    );
    let mut rest = Vec::new();
    reading.read_to_end(&mut rest).unwrap();
    head.extend(rest);
    assert!(head == old, "the open file read whole after the prune");
    let latest = restored(&point.join("snapshots/latest"), &src);
    assert_same_tree(&src, &latest, false);
    drop(reading);

    let (status, stderr) = mount.stop("INT");
    assert!(status.success(), "{stderr}");
    let second = repo.ok(args!["prune"]);
    let said = String::from_utf8_lossy(&second.stdout);
    assert!(
        said.contains("deleted") && !said.contains("deleted 0 packs"),
        "the next prune deletes them: {}",
        describe(&second)
    );
    assert_success(&repo.run(args!["check", "--read-data"]));
}
