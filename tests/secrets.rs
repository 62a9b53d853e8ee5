//! What a local attacker tries against the secrets vault holds (issue 20):
//! read a password from the environment of a command vault starts, copy a
//! key file out of a repository directory for offline guessing, and open a
//! repository whose binary password file differs from theirs.
//! (`vault run`'s commands and `health --prometheus` are in profiles.rs.)

use crate::args;
use crate::common::*;
use crate::serve::{ALICE_PW, Server};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A second secret beside the repository password: what a user may have
/// exported for `vault copy` or a `vault serve` server.
const OTHER_SECRET: &str = "the-other-secret-9f2c";

/// Set on every command below: a variable that is no password, which the
/// commands vault starts do get (a source command such as `aws s3 cp`
/// needs the user's own credentials).
const OWN_CREDENTIAL: (&str, &str) = ("AWS_SECRET_ACCESS_KEY", "users-own-aws-key");

/// Every password variable vault reads, set, so that a command that
/// dumps its environment would show any that reached it.
fn export_passwords(cmd: &mut std::process::Command) {
    for name in [
        "VAULT_TO_PASSWORD",
        "VAULT_FROM_PASSWORD",
        "VAULT_SERVER_PASSWORD",
    ] {
        cmd.env(name, OTHER_SECRET);
    }
    cmd.env(OWN_CREDENTIAL.0, OWN_CREDENTIAL.1);
}

#[track_caller]
fn assert_no_password(what: &str, env: &str) {
    assert!(
        env.contains(&format!("{}={}", OWN_CREDENTIAL.0, OWN_CREDENTIAL.1)),
        "{what} did not get the caller's other variables:\n{env}"
    );
    for secret in [PASSWORD, OTHER_SECRET] {
        assert!(!env.contains(secret), "{what} saw a password:\n{env}");
    }
    assert!(
        !env.lines()
            .any(|l| l.starts_with("VAULT_") && l.contains("PASSWORD")),
        "{what} saw a password variable:\n{env}"
    );
}

/// A backed-up command (`--stdin-from-command`, `--command`) that dumps its
/// environment into the snapshot finds no password in it.
#[test]
fn regression_20_backup_commands_get_no_password_variable() {
    let repo = Repo::new();
    let mut cmd = repo.cmd();
    cmd.args([
        "backup",
        "--stdin-from-command",
        "--stdin-filename",
        "env.txt",
        "--",
        "env",
    ]);
    export_passwords(&mut cmd);
    assert_success(&output_with_stdin(cmd, None));
    let mut cmd = repo.cmd();
    cmd.args(["backup", "--command", "shell-env.txt=env"]);
    export_passwords(&mut cmd);
    assert_success(&output_with_stdin(cmd, None));
    let snapshots = repo.snapshots();
    assert_eq!(snapshots.len(), 2);
    for (snapshot, file) in [
        (&snapshots[0], "/env.txt"),
        (&snapshots[1], "/shell-env.txt"),
    ] {
        let id = snapshot["id"].as_str().expect("snapshot id");
        let dumped = repo.ok(args!["dump", id, file]);
        assert_no_password(file, &String::from_utf8_lossy(&dumped.stdout));
    }
}

/// `--password-command` is vault's own helper, but it is given no other
/// password either: `vault copy`'s destination command has no business
/// with the source's password, nor a helper with a server's.
#[test]
fn regression_20_password_command_gets_no_password_variable() {
    let repo = Repo::new();
    let seen = repo.dir.path().join("password-command-env");
    let mut cmd = repo.cmd();
    cmd.arg("--password-command")
        .arg(format!("env > '{}'; echo '{PASSWORD}'", seen.display()))
        .arg("snapshots");
    export_passwords(&mut cmd);
    assert_success(&output_with_stdin(cmd, None));
    let env = std::fs::read_to_string(&seen).expect("the password command ran");
    assert_no_password("the password command", &env);
}

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

/// Opens `repo` with the password in `file`: its exit code.
fn open_with_file(repo: &Repo, file: &Path) -> i32 {
    let out = repo.run(args!["--password-file", file, "snapshots"]);
    assert_no_panic(&out);
    out.status.code().unwrap_or(-1)
}

/// Two binary keys whose lossy UTF-8 decodings are the same: eight U+FFFD.
const KEY_A: &[u8] = b"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8";
const KEY_B: &[u8] = b"\x80\x81\x82\x83\x84\x85\x86\x87";

/// Files holding [`KEY_A`] (with a second line, which is not part of the
/// password) and [`KEY_B`], in `repo`'s directory.
fn binary_key_files(repo: &Repo) -> (PathBuf, PathBuf) {
    assert_eq!(
        String::from_utf8_lossy(KEY_A),
        String::from_utf8_lossy(KEY_B),
        "the two keys are the same text when decoded lossily"
    );
    let a = repo.dir.path().join("key-a");
    let b = repo.dir.path().join("key-b");
    write(&a, &[KEY_A, b"\nignored second line"].concat());
    write(&b, &[KEY_B, b"\n"].concat());
    (a, b)
}

/// Two binary key files whose bytes differ but whose lossy UTF-8 decodings
/// are the same (eight U+FFFD each) must not open each other's repository:
/// a password is its bytes, from a file, a command or the environment.
#[test]
fn regression_20_binary_passwords_are_bytes_not_lossy_text() {
    let repo = Repo::local_uninitialised();
    let (a, b) = binary_key_files(&repo);
    assert_success(&repo.run(args!["--password-file", a, "init"]));
    assert_eq!(
        open_with_file(&repo, &b),
        12,
        "key b opened key a's repository"
    );
    assert_eq!(open_with_file(&repo, &a), 0);
    for (how, password) in [
        ("--password-command", format!("cat '{}'", b.display())),
        (
            "--password-command",
            "printf '\\200\\201\\202\\203\\204\\205\\206\\207'".to_owned(),
        ),
    ] {
        let out = repo.run(args![how, password, "snapshots"]);
        assert_error(&out, 12);
    }
    let out = repo.run(args![
        "--password-command",
        format!("cat '{}'", a.display()),
        "snapshots"
    ]);
    assert_success(&out);
    // VAULT_PASSWORD is bytes too.
    let mut cmd = repo.cmd();
    cmd.env("VAULT_PASSWORD", OsStr::from_bytes(KEY_B))
        .arg("snapshots");
    assert_error(&output_with_stdin(cmd, None), 12);
    let mut cmd = repo.cmd();
    cmd.env("VAULT_PASSWORD", OsStr::from_bytes(KEY_A))
        .arg("snapshots");
    assert_success(&output_with_stdin(cmd, None));
}

/// A text password reads as before: the first line, without `\n` or
/// `\r\n`, so repositories made from a file, the environment or a command
/// open with any of them.
#[test]
fn password_file_first_line_without_its_line_ending_opens_as_before() {
    let repo = Repo::new();
    for (name, text) in [
        ("lf", format!("{PASSWORD}\nsecond line\n")),
        ("crlf", format!("{PASSWORD}\r\nsecond line\r\n")),
        ("bare", PASSWORD.to_owned()),
    ] {
        let file = repo.dir.path().join(name);
        write(&file, text.as_bytes());
        assert_eq!(open_with_file(&repo, &file), 0, "{name}");
    }
    let out = repo.run(args![
        "--password-command",
        format!("printf '{PASSWORD}\\r\\n'"),
        "snapshots"
    ]);
    assert_success(&out);
}

/// A repository that vault before issue 20 made from a binary key file has
/// a key derived from the file's lossy decoding (here eight U+FFFD): it
/// still opens with that file, with a warning, and `key passwd` with the
/// same file binds the key to its bytes, after which a different binary
/// file with the same lossy text no longer opens it.
#[test]
fn regression_20_a_key_made_from_a_lossy_password_opens_and_can_be_bound_to_the_bytes() {
    let repo = Repo::local_uninitialised();
    let (a, b) = binary_key_files(&repo);
    let mut init = repo.cmd();
    init.env("VAULT_PASSWORD", "\u{FFFD}".repeat(8)).arg("init");
    assert_success(&output_with_stdin(init, None));
    let out = repo.run(args!["--password-file", a, "snapshots"]);
    assert_success(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("key passwd"),
        "no advice to rebind the key:\n{stderr}"
    );
    repo.ok(args![
        "--password-file",
        a,
        "key",
        "passwd",
        "--new-password-file",
        a
    ]);
    let out = repo.run(args!["--password-file", a, "snapshots"]);
    assert_success(&out);
    assert!(out.stderr.is_empty(), "{}", describe(&out));
    assert_eq!(
        open_with_file(&repo, &b),
        12,
        "key b still opens the rebound key"
    );
}
