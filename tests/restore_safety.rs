//! Restore never writes outside its target (SPEC §7.2, §10): not through a
//! symlink that an earlier restore left, not through one planted in the
//! target, and not by changing the mode or owner of what a link points to.
//! And what it writes is owner-only until its content is complete.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::args;
use crate::common::*;

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

/// Everything below `dir` with its mode and content, to show it unchanged.
fn state(dir: &Path) -> Vec<(PathBuf, u32, Vec<u8>)> {
    let mut out = vec![(dir.to_path_buf(), mode(dir), Vec::new())];
    for p in walk(dir) {
        let full = dir.join(&p);
        let content = if full.is_file() {
            fs::read(&full).unwrap()
        } else {
            Vec::new()
        };
        out.push((p, mode(&full), content));
    }
    out
}

/// Restore `latest` (narrowed by `filter`) into `target` with `--overwrite
/// overwrite`, and show that `outside` is as it was (`before`).
fn restore_leaving_alone(
    repo: &Repo,
    target: &Path,
    overwrite: &str,
    filter: &[&str],
    outside: &Path,
    before: &[(PathBuf, u32, Vec<u8>)],
) -> std::process::Output {
    let mut cmd: Vec<&std::ffi::OsStr> = args![
        "restore",
        "latest",
        "--target",
        target,
        "--overwrite",
        overwrite
    ]
    .to_vec();
    cmd.extend(filter.iter().map(std::ffi::OsStr::new));
    let out = repo.run(&cmd);
    assert_no_panic(&out);
    assert_eq!(
        state(outside),
        before,
        "--overwrite {overwrite}: restore changed something outside its target\n{}",
        describe(&out)
    );
    out
}

/// The attack of issue 20: snapshot A holds `docs` as a symlink to a
/// directory outside the target; snapshot B holds `docs` as a directory with
/// a set-uid, world-writable `passwd`. Restoring A and then B into one
/// target must not write `passwd` (or change anything) outside the target.
#[test]
fn a_symlink_left_by_an_earlier_restore_is_never_followed() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    chmod(&outside, 0o700);
    write(&outside.join("existing"), b"not yours\n");
    let before = state(&outside);

    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    let src = src.canonicalize().unwrap();
    symlink(&outside, src.join("docs")).unwrap();
    write(&src.join("other.txt"), b"a\n");
    repo.backup(args![src, "--tag", "a"]);

    fs::remove_file(src.join("docs")).unwrap();
    write(&src.join("docs/passwd"), b"root::0:0::/root:/bin/sh\n");
    chmod(&src.join("docs/passwd"), 0o4777);
    chmod(&src.join("docs"), 0o777);
    write(&src.join("docs/existing"), b"replaced\n");
    repo.backup(args![src, "--tag", "b"]);

    for overwrite in ["if-changed", "always", "never"] {
        let target = tmp.path().join(format!("t-{overwrite}"));
        repo.ok(args!["restore", "latest", "--tag", "a", "--target", target]);
        let docs = restored(&target, &src).join("docs");
        assert!(
            fs::symlink_metadata(&docs).unwrap().is_symlink(),
            "snapshot A restores docs as a symlink"
        );
        let out = restore_leaving_alone(
            &repo,
            &target,
            overwrite,
            &["--tag", "b"],
            &outside,
            &before,
        );
        if overwrite == "never" {
            // The link is kept, never followed: the files below it are not
            // restored, and the restore says so.
            assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
            assert!(fs::symlink_metadata(&docs).unwrap().is_symlink());
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("docs"), "names the path\n{stderr}");
        } else {
            // The link is replaced by the snapshot's directory.
            assert_success(&out);
            assert!(fs::symlink_metadata(&docs).unwrap().is_dir());
            assert_eq!(
                fs::read(docs.join("passwd")).unwrap(),
                b"root::0:0::/root:/bin/sh\n"
            );
            assert_eq!(mode(&docs.join("passwd")), 0o4777);
            assert_eq!(mode(&docs), 0o777);
        }
    }
}

/// A symlink planted in the target where the snapshot has a directory, a
/// file or a hard link's first name: neither content, nor mode, nor owner,
/// nor times reach what it points to.
#[test]
fn a_symlink_planted_in_the_target_redirects_nothing() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    chmod(&outside, 0o700);
    write(&outside.join("victim"), b"victim\n");
    chmod(&outside.join("victim"), 0o640);
    let before = state(&outside);
    let victim_mtime = fs::metadata(outside.join("victim")).unwrap().mtime();

    let src = tmp.path().join("src");
    write(&src.join("dir/inner.txt"), b"inner\n");
    chmod(&src.join("dir"), 0o777);
    write(&src.join("file.txt"), b"file\n");
    chmod(&src.join("file.txt"), 0o4755);
    write(&src.join("linked/first"), b"hard linked\n");
    fs::hard_link(src.join("linked/first"), src.join("linked/second")).unwrap();
    set_mtime(&src.join("file.txt"), 1_000_000_000, 0);
    let src = src.canonicalize().unwrap();
    repo.backup(args![src]);

    for overwrite in ["if-changed", "always", "never"] {
        let target = tmp.path().join(format!("t-{overwrite}"));
        let base = restored(&target, &src);
        fs::create_dir_all(&base).unwrap();
        symlink(&outside, base.join("dir")).unwrap();
        symlink(outside.join("victim"), base.join("file.txt")).unwrap();
        symlink(&outside, base.join("linked")).unwrap();
        let out = restore_leaving_alone(&repo, &target, overwrite, &[], &outside, &before);
        assert_eq!(
            fs::metadata(outside.join("victim")).unwrap().mtime(),
            victim_mtime
        );
        if overwrite == "never" {
            assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
            for name in ["dir", "file.txt", "linked"] {
                assert!(fs::symlink_metadata(base.join(name)).unwrap().is_symlink());
            }
        } else {
            assert_success(&out);
            assert_eq!(fs::read(base.join("dir/inner.txt")).unwrap(), b"inner\n");
            assert_eq!(mode(&base.join("dir")), 0o777);
            assert_eq!(fs::read(base.join("file.txt")).unwrap(), b"file\n");
            assert_eq!(mode(&base.join("file.txt")), 0o4755);
            let first = fs::metadata(base.join("linked/first")).unwrap();
            let second = fs::metadata(base.join("linked/second")).unwrap();
            assert_eq!(first.ino(), second.ino(), "hard link restored as a link");
        }
    }
}

/// The target itself may be a symlink the user names (as with every
/// peer); only what is below it is never followed.
#[test]
fn a_target_given_as_a_symlink_is_used() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let src = tmp.path().join("src");
    write(&src.join("a.txt"), b"a\n");
    let src = src.canonicalize().unwrap();
    repo.backup(args![src]);
    let real = tmp.path().join("real");
    fs::create_dir(&real).unwrap();
    let link = tmp.path().join("link");
    symlink(&real, &link).unwrap();
    repo.ok(args!["restore", "latest", "--target", link]);
    assert_eq!(
        fs::read(restored(&real, &src).join("a.txt")).unwrap(),
        b"a\n"
    );
}

/// The first mode the watcher saw of the directory, and of the file with
/// its size then.
type FirstSeen = (Option<u32>, Option<(u32, u64)>);

/// While a file's content is written, nobody but its owner can open it:
/// files are created 0600 and directories 0700, and the snapshot's modes
/// come after the content. A watcher polls the restore's paths as fast as
/// it can and records the first mode it sees of each.
#[test]
fn restored_files_are_owner_only_until_their_content_is_written() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let src = tmp.path().join("src");
    // Large enough (many chunks, several packs) that the watcher sees the
    // file while it is written.
    write(&src.join("public/big.bin"), &random_bytes(20, 48 << 20));
    chmod(&src.join("public/big.bin"), 0o644);
    chmod(&src.join("public"), 0o755);
    let src = src.canonicalize().unwrap();
    repo.backup(args![src]);

    let target = tmp.path().join("t");
    let base = restored(&target, &src);
    let dir = base.join("public");
    let file = dir.join("big.bin");
    let done = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<FirstSeen>> = Arc::default();
    let watcher = {
        let (done, seen, dir, file) = (done.clone(), seen.clone(), dir.clone(), file.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let mut s = seen.lock().unwrap();
                if s.0.is_none()
                    && let Ok(m) = fs::symlink_metadata(&dir)
                {
                    s.0 = Some(m.mode() & 0o7777);
                }
                if s.1.is_none()
                    && let Ok(m) = fs::symlink_metadata(&file)
                {
                    s.1 = Some((m.mode() & 0o7777, m.size()));
                }
                if s.0.is_some() && s.1.is_some() {
                    return;
                }
            }
        })
    };
    repo.ok(args!["restore", "latest", "--target", target]);
    done.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    let (dir_mode, file_seen) = *seen.lock().unwrap();
    assert_eq!(dir_mode, Some(0o700), "a directory is 0700 when created");
    let (file_mode, size) = file_seen.expect("the watcher saw the file");
    assert!(
        file_mode == 0o600 || size == 48 << 20,
        "seen with mode {file_mode:o} at {size} bytes"
    );
    assert_eq!(file_mode, 0o600, "seen at {size} bytes");
    // And the snapshot's modes in the end.
    assert_eq!(mode(&dir), 0o755);
    assert_eq!(mode(&file), 0o644);
    assert!(fs::metadata(&file).unwrap().permissions().mode() & 0o044 != 0);
}
