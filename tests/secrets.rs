//! What a local attacker tries against the secrets vault holds (issue 20):
//! read a password from the environment of a command vault starts, copy a
//! key file out of a repository directory for offline guessing, and open a
//! repository whose binary password file differs from theirs.
//! (`vault run`'s commands and `health --prometheus` are in profiles.rs.)

use crate::args;
use crate::common::*;
use crate::serve::{ALICE_PW, Server};
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Every file below `root` is `file_mode` (`replaced_mode` under
/// `heartbeats/`, the one kind written again), every directory 0700.
#[track_caller]
fn assert_private(root: &Path, file_mode: u32, replaced_mode: u32) {
    let mut entries = vec![root.to_path_buf()];
    entries.extend(walk(root).into_iter().map(|rel| root.join(rel)));
    let mut files = 0;
    for path in entries {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o7777;
        let want = if meta.is_dir() {
            0o700
        } else if path.parent().and_then(Path::file_name) == Some(OsStr::new("heartbeats")) {
            files += 1;
            replaced_mode
        } else {
            files += 1;
            file_mode
        };
        assert_eq!(mode, want, "{} is {mode:o}, not {want:o}", path.display());
    }
    assert!(files > 5, "no repository files below {}", root.display());
}

/// What a local user tries: read a key file of someone else's repository
/// to guess its password offline. Every object is 0400 (0600 for
/// heartbeats, which are replaced), every directory 0700, whatever the
/// umask (here 000, which would leave the old code's files 0666).
#[test]
fn regression_20_local_repository_files_are_owner_only_whatever_the_umask() {
    let mut repo = Repo::local_uninitialised();
    repo.prefix = ["sh", "-c", "umask 000; exec \"$@\"", "sh"]
        .map(Into::into)
        .to_vec();
    repo.init();
    let (_src_dir, src) = {
        let dir = temp_dir();
        let src = dir.path().join("src");
        write(&src.join("a.txt"), b"some data\n");
        write(&src.join("d/b.bin"), &random_bytes(20, 300 << 10));
        (dir, src)
    };
    repo.backup(args![src, "--heartbeat", "files"]);
    repo.backup(args![src, "--heartbeat", "files"]);
    let pw = repo.dir.path().join("second-password");
    write(&pw, b"a second password\n");
    repo.ok(args!["key", "add", "--new-password-file", pw]);
    assert!(repo.path.join("heartbeats").is_dir());
    assert_private(&repo.path, 0o400, 0o600);
}

/// The same through `vault serve`: the server's own store is private too,
/// its root included.
#[test]
fn regression_20_served_repository_files_are_owner_only() {
    let server = Server::start(&[]);
    let repo = server.repo("alice", ALICE_PW, "alice/main");
    repo.init();
    let dir = temp_dir();
    write(&dir.path().join("src/a.txt"), b"served data\n");
    repo.backup(args![dir.path().join("src"), "--heartbeat", "files"]);
    repo.backup(args![dir.path().join("src"), "--heartbeat", "files"]);
    assert_private(&server.root, 0o400, 0o600);
}

