//! Helpers shared by the scenario modules: a repository fixture that runs the
//! real `vault` binary, assertions on its output, a deterministic PRNG and a
//! tree comparison used by the round-trip tests.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use tempfile::TempDir;

pub mod forge;
pub mod proxy;

/// The password every fixture repository is created with.
pub const PASSWORD: &str = "correct horse battery staple";

/// Builds a `&[&OsStr]` from anything that is `AsRef<OsStr>` (str, String,
/// Path, PathBuf), so that a test can mix flags and paths in one list.
#[macro_export]
macro_rules! args {
    ($($x:expr),* $(,)?) => {
        &[$(::std::ffi::OsStr::new(&$x)),*][..]
    };
}

/// The binary under test: the one cargo built, or `VAULT_TEST_BIN` (set
/// by scripts/test.sh when it runs tests again as an unprivileged user,
/// from copies that user can reach).
pub fn vault_bin() -> std::path::PathBuf {
    std::env::var_os("VAULT_TEST_BIN")
        .map_or_else(|| env!("CARGO_BIN_EXE_vault").into(), Into::into)
}

/// The `vault` binary under test, with every `VAULT_*` variable of the
/// caller's environment removed so that only what a test sets counts.
pub fn vault() -> Command {
    let mut cmd = Command::new(vault_bin());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("VAULT_") {
            cmd.env_remove(&key);
        }
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs `cmd` with `input` on its standard input (empty when `None`).
pub fn output_with_stdin(mut cmd: Command, input: Option<&[u8]>) -> Output {
    match input {
        None => cmd.stdin(Stdio::null()).output().expect("run vault"),
        Some(data) => {
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().expect("spawn vault");
            let mut stdin = child.stdin.take().expect("stdin piped");
            let data = data.to_vec();
            // A writer thread, so that a full stdout pipe cannot deadlock us.
            let writer = std::thread::spawn(move || {
                // vault may legitimately stop reading early on error.
                let _ = stdin.write_all(&data);
            });
            let out = child.wait_with_output().expect("wait for vault");
            writer.join().expect("stdin writer");
            out
        }
    }
}

/// A readable account of a finished command, for assertion messages.
pub fn describe(out: &Output) -> String {
    let cut = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        if text.len() > 3000 {
            format!(
                "{}…[{} bytes]",
                &text[..text.floor_char_boundary(3000)],
                text.len()
            )
        } else {
            text.into_owned()
        }
    };
    format!(
        "status: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        cut(&out.stdout),
        cut(&out.stderr)
    )
}

/// Asserts exit code 0.
#[track_caller]
pub fn assert_success(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "expected success\n{}",
        describe(out)
    );
    assert_no_panic(out);
}

/// Asserts that nothing panicked.
#[track_caller]
pub fn assert_no_panic(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "vault panicked\n{}",
        describe(out)
    );
}

/// Asserts the contract's shape of a failure: the exit code, and exactly one
/// non-empty line on stderr besides warnings (`warning: …` lines, such as
/// the one every `vault+http://` command starts with), with no panic.
#[track_caller]
pub fn assert_error(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "wrong exit code\n{}",
        describe(out)
    );
    assert_no_panic(out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("warning: "))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "an error must be exactly one line on stderr\n{}",
        describe(out)
    );
}

/// Parses stdout that is either one JSON document or JSON lines; an array
/// document is flattened into its elements.
pub fn json_values(stdout: &[u8]) -> Vec<Value> {
    let text = String::from_utf8_lossy(stdout);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Vec::new();
    }
    if let Ok(value) = serde_json::from_str::<Value>(trimmed) {
        return match value {
            Value::Array(items) => items,
            other => vec![other],
        };
    }
    trimmed
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

/// The uid this process runs with (the owner of a file it creates).
pub fn effective_uid() -> u32 {
    let f = tempfile::tempfile().expect("tempfile");
    f.metadata().expect("metadata").uid()
}

/// A test (or part of one) that cannot run here, and why: skipped with
/// that note, or, under the test command (scripts/test.sh sets
/// VAULT_TEST_STRICT=1, as CI runs it), a failure: there every test must
/// run.
#[track_caller]
pub fn cannot_run(why: &str) {
    if std::env::var("VAULT_TEST_STRICT").as_deref() == Ok("1") {
        panic!(
            "cannot run here: {why}; scripts/test.sh requires every test to run (VAULT_TEST_STRICT=1)"
        );
    }
    eprintln!("skipped: {why} (VAULT_TEST_STRICT=1 fails instead)");
}

/// True when the tests run as root.
/// The uid and gid of `nobody`, for tests that need an unprivileged user.
pub const NOBODY: u32 = 65534;

/// Whether this (root) process can run vault as `nobody` through setpriv.
pub fn can_run_as_nobody() -> bool {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(vault_bin())
        .arg("--help")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The command prefix that runs vault as `nobody` (see [`can_run_as_nobody`]).
pub fn as_nobody() -> Vec<OsString> {
    [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
    ]
    .iter()
    .map(OsString::from)
    .collect()
}

/// Gives `root` and everything below it to `uid` (and the group `uid`).
pub fn chown_tree(root: &Path, uid: u32) {
    std::os::unix::fs::chown(root, Some(uid), Some(uid)).unwrap();
    for rel in walk(root) {
        std::os::unix::fs::lchown(root.join(rel), Some(uid), Some(uid)).unwrap();
    }
}

pub fn is_root() -> bool {
    effective_uid() == 0
}

/// A temporary directory whose path has no symlinks in it, so that the
/// absolute path vault records is the one the test computes.
pub fn temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("vault-it-")
        .tempdir_in(
            std::env::temp_dir()
                .canonicalize()
                .expect("canonical temp dir"),
        )
        .expect("create temp dir")
}

/// A repository fixture: a directory repository in its own temporary
/// directory, created with `vault init`.
pub struct Repo {
    /// Keeps the temporary directory alive.
    pub dir: TempDir,
    /// The repository directory (inside `dir`).
    pub path: PathBuf,
    /// What is passed to `-r`.
    pub url: OsString,
    /// Program and arguments placed before the vault binary (e.g. setpriv).
    pub prefix: Vec<OsString>,
    /// Extra environment for every invocation.
    pub envs: Vec<(OsString, OsString)>,
}

impl Repo {
    /// A fresh, initialised repository addressed by its plain path.
    pub fn new() -> Repo {
        let repo = Repo::uninitialised();
        repo.init();
        repo
    }

    /// A fresh, initialised directory repository, whatever
    /// `VAULT_TEST_BACKEND` says: for tests that read or damage the
    /// repository's files.
    pub fn local() -> Repo {
        let repo = Repo::local_uninitialised();
        repo.init();
        repo
    }

    /// A fixture whose repository does not exist yet: a directory, or
    /// with `VAULT_TEST_BACKEND=s3` a fresh prefix in the S3 test bucket.
    pub fn uninitialised() -> Repo {
        if std::env::var("VAULT_TEST_BACKEND").as_deref() == Ok("s3") {
            let bucket = s3_bucket()
                .expect("VAULT_TEST_BACKEND=s3 needs the S3 test server (VAULT_TEST_S3_BUCKET)");
            return Repo::s3_uninitialised(&bucket);
        }
        Repo::local_uninitialised()
    }

    /// An uninitialised directory repository, whatever `VAULT_TEST_BACKEND` says.
    pub fn local_uninitialised() -> Repo {
        let dir = temp_dir();
        let path = dir.path().join("repo");
        Repo {
            url: path.clone().into_os_string(),
            path,
            dir,
            prefix: Vec::new(),
            envs: Vec::new(),
        }
    }

    /// An uninitialised repository under a fresh prefix of `bucket` on the
    /// S3 test server (`path` is then a directory that never exists).
    pub fn s3_uninitialised(bucket: &str) -> Repo {
        let dir = temp_dir();
        let name = dir
            .path()
            .file_name()
            .expect("temp dir name")
            .to_string_lossy()
            .into_owned();
        // The default cache (on for remote repositories) goes to the
        // fixture's directory, not the user's.
        let cache = dir.path().join("xdg-cache").into_os_string();
        Repo {
            url: format!("s3://{bucket}/{name}").into(),
            path: dir.path().join("not-a-local-repository"),
            dir,
            prefix: Vec::new(),
            envs: vec![("XDG_CACHE_HOME".into(), cache)],
        }
    }

    /// Whether the repository is a local directory (`path` is its files).
    pub fn is_local(&self) -> bool {
        !self.url.to_string_lossy().contains("://")
    }

    /// Runs `vault init` and asserts success.
    pub fn init(&self) {
        let out = self.run(args!["init"]);
        assert_success(&out);
        if self.is_local() {
            assert!(
                self.path.is_dir(),
                "init did not create {}",
                self.path.display()
            );
        }
    }

    /// The command `vault -r URL` with the fixture's password and environment.
    pub fn cmd(&self) -> Command {
        let mut cmd = if self.prefix.is_empty() {
            vault()
        } else {
            let mut cmd = Command::new(&self.prefix[0]);
            cmd.args(&self.prefix[1..]);
            cmd.arg(vault_bin());
            for (key, _) in std::env::vars_os() {
                if key.to_string_lossy().starts_with("VAULT_") {
                    cmd.env_remove(&key);
                }
            }
            cmd
        };
        cmd.arg("-r").arg(&self.url).env("VAULT_PASSWORD", PASSWORD);
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `vault -r URL ARGS...` with no standard input.
    pub fn run(&self, args: &[&OsStr]) -> Output {
        let mut cmd = self.cmd();
        cmd.args(args);
        output_with_stdin(cmd, None)
    }

    /// Runs `vault -r URL ARGS...` with `input` on standard input.
    pub fn run_stdin(&self, args: &[&OsStr], input: &[u8]) -> Output {
        let mut cmd = self.cmd();
        cmd.args(args);
        output_with_stdin(cmd, Some(input))
    }

    /// Runs and asserts success; returns the output.
    #[track_caller]
    pub fn ok(&self, args: &[&OsStr]) -> Output {
        let out = self.run(args);
        assert_success(&out);
        out
    }

    /// Runs `backup --json ARGS...`, asserts exit 0 and returns the summary.
    #[track_caller]
    pub fn backup(&self, args: &[&OsStr]) -> Value {
        let mut all = vec![OsStr::new("backup"), OsStr::new("--json")];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        summary(&out)
    }

    /// `snapshots --json`, parsed.
    #[track_caller]
    pub fn snapshots(&self) -> Vec<Value> {
        let out = self.ok(args!["snapshots", "--json"]);
        let value: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("snapshots --json is not JSON ({e})\n{}", describe(&out)));
        match value {
            Value::Array(items) => items,
            other => panic!("snapshots --json must print an array, got {other}"),
        }
    }

    /// Every `path` that `ls SNAP --recursive --json` reports.
    #[track_caller]
    pub fn ls_paths(&self, snapshot: &str) -> BTreeSet<String> {
        let out = self.ok(args!["ls", snapshot, "--recursive", "--json"]);
        json_values(&out.stdout)
            .iter()
            .filter_map(|v| v.get("path").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }

    /// `list KIND --json`: the ids of one kind of object, on any backend.
    #[track_caller]
    pub fn list(&self, kind: &str) -> BTreeSet<String> {
        let out = self.ok(args!["list", kind, "--json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "list --json is not an array of ids ({e})\n{}",
                describe(&out)
            )
        })
    }

    /// The ids of every object but locks, by kind, on any backend: to show
    /// that a failed command wrote nothing.
    #[track_caller]
    pub fn objects(&self) -> BTreeMap<&'static str, BTreeSet<String>> {
        ["packs", "index", "snapshots", "keys"]
            .into_iter()
            .map(|kind| (kind, self.list(kind)))
            .collect()
    }

    /// Every file in the repository directory with its content, to show
    /// that a failed command changed nothing.
    #[track_caller]
    pub fn file_listing(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        assert!(
            self.is_local(),
            "this test reads the repository's files and needs a local repository"
        );
        let mut out = BTreeMap::new();
        collect_files(&self.path, &self.path, &mut out);
        out
    }
}

fn collect_files(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let entry = entry.expect("read_dir entry");
        let path = entry.path();
        let rel = path.strip_prefix(root).expect("under root").to_path_buf();
        if entry.file_type().expect("file type").is_dir() {
            out.insert(rel.join(""), Vec::new());
            collect_files(root, &path, out);
        } else {
            out.insert(rel, fs::read(&path).expect("read repo file"));
        }
    }
}

/// Names of the files below `dir` (recursively), relative to it.
pub fn names(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                out.insert(rel.to_path_buf());
            }
        }
    }
    out
}

/// The bucket of the S3 test server that scripts/test.sh starts
/// (`VAULT_TEST_S3_BUCKET`, with the standard `AWS_*` variables). When it is
/// absent the S3 tests print why and return, unless `VAULT_TEST_S3_REQUIRED=1`
/// (set by the test script) makes that a failure.
pub fn s3_bucket() -> Option<String> {
    match std::env::var("VAULT_TEST_S3_BUCKET") {
        Ok(b) if !b.is_empty() => Some(b),
        _ => {
            assert!(
                std::env::var("VAULT_TEST_S3_REQUIRED").as_deref() != Ok("1"),
                "VAULT_TEST_S3_REQUIRED=1 but no S3 test server: VAULT_TEST_S3_BUCKET is unset"
            );
            eprintln!(
                "no S3 test server (VAULT_TEST_S3_BUCKET unset): skipped; scripts/test.sh starts one"
            );
            None
        }
    }
}

/// The `"message_type":"summary"` object that `backup --json` prints last.
#[track_caller]
pub fn summary(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_else(|| panic!("backup --json printed nothing\n{}", describe(out)));
    let value: Value = serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("last line is not JSON ({e})\n{}", describe(out)));
    assert_eq!(
        value["message_type"],
        "summary",
        "last line must be the summary\n{}",
        describe(out)
    );
    value
}

/// An unsigned field of a summary, asserting that it is present.
#[track_caller]
pub fn field(summary: &Value, key: &str) -> u64 {
    summary
        .get(key)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("summary key {key} missing or not a number: {summary}"))
}

/// `T/abs/src` for the source path `/abs/src` restored into `T`.
pub fn restored(target: &Path, source: &Path) -> PathBuf {
    target.join(source.strip_prefix("/").expect("absolute source"))
}

/// xorshift64*: deterministic data without a crate.
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let last = self.next_u64().to_le_bytes();
        rest.copy_from_slice(&last[..rest.len()]);
    }
}

/// `len` random bytes from `seed`.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    Rng::new(seed).fill(&mut buf);
    buf
}

/// Writes `content` to `path`, creating parent directories.
pub fn write(path: &Path, content: &[u8]) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create parent");
    }
    fs::write(path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Sets a file's or directory's mtime (and atime) to `secs`.`nanos`.
pub fn set_mtime(path: &Path, secs: u64, nanos: u32) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos);
    let f = fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    f.set_times(fs::FileTimes::new().set_modified(t).set_accessed(t))
        .unwrap_or_else(|e| panic!("set_times {}: {e}", path.display()));
}

/// Sets the permission bits (including setuid/setgid/sticky).
pub fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// Creates a fifo with `mkfifo`.
pub fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(st.success(), "mkfifo {} failed", path.display());
}

/// Sets a user extended attribute through python3; false when that is not
/// possible here (no python3, or a file system without user xattrs).
pub fn try_set_xattr(path: &Path, name: &str, value: &str) -> bool {
    Command::new("python3")
        .args([
            "-c",
            "import os,sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode())",
        ])
        .arg(path)
        .args([name, value])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Reads a user extended attribute through python3.
pub fn get_xattr(path: &Path, name: &str) -> Option<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import os,sys; sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2]).decode())",
        ])
        .arg(path)
        .arg(name)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// True when two files have the same content, compared in 1 MiB blocks.
pub fn same_content(a: &Path, b: &Path) -> bool {
    let mut fa = fs::File::open(a).unwrap_or_else(|e| panic!("open {}: {e}", a.display()));
    let mut fb = fs::File::open(b).unwrap_or_else(|e| panic!("open {}: {e}", b.display()));
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let na = read_full(&mut fa, &mut ba);
        let nb = read_full(&mut fb, &mut bb);
        if na != nb || ba[..na] != bb[..nb] {
            return false;
        }
        if na == 0 {
            return true;
        }
    }
}

fn read_full(f: &mut fs::File, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]).expect("read") {
            0 => break,
            k => n += k,
        }
    }
    n
}

/// Relative paths of every entry below `root` (not following symlinks).
pub fn walk(root: &Path) -> BTreeSet<PathBuf> {
    fn go(root: &Path, dir: &Path, out: &mut BTreeSet<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        {
            let entry = entry.expect("entry");
            let path = entry.path();
            out.insert(path.strip_prefix(root).expect("under root").to_path_buf());
            if entry.file_type().expect("file type").is_dir() {
                go(root, &path, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    go(root, root, &mut out);
    out
}

/// Asserts that `restored` is a faithful copy of `source`: the same entries,
/// kinds, content, permission bits, mtimes (seconds and nanoseconds, except
/// on symlinks), link targets and — when `owners` — uid and gid.
#[track_caller]
pub fn assert_same_tree(source: &Path, restored: &Path, owners: bool) {
    let want = walk(source);
    let got = walk(restored);
    assert_eq!(
        want,
        got,
        "restored entries differ from the source (source {}, restored {})",
        source.display(),
        restored.display()
    );
    let mut problems = Vec::new();
    for rel in std::iter::once(PathBuf::new()).chain(want) {
        let (a, b) = (source.join(&rel), restored.join(&rel));
        let (ma, mb) = (
            fs::symlink_metadata(&a).expect("source metadata"),
            fs::symlink_metadata(&b).expect("restored metadata"),
        );
        let name = rel.display();
        let (ta, tb) = (ma.file_type(), mb.file_type());
        let kind = |t: fs::FileType| {
            if t.is_dir() {
                "dir"
            } else if t.is_symlink() {
                "symlink"
            } else if t.is_file() {
                "file"
            } else if t.is_fifo() {
                "fifo"
            } else if t.is_char_device() {
                "chardev"
            } else if t.is_block_device() {
                "blockdev"
            } else {
                "other"
            }
        };
        if kind(ta) != kind(tb) {
            problems.push(format!("{name}: kind {} != {}", kind(ta), kind(tb)));
            continue;
        }
        if ta.is_symlink() {
            let (la, lb) = (fs::read_link(&a).unwrap(), fs::read_link(&b).unwrap());
            if la != lb {
                problems.push(format!("{name}: link target {la:?} != {lb:?}"));
            }
        } else {
            if ma.mode() & 0o7777 != mb.mode() & 0o7777 {
                problems.push(format!(
                    "{name}: mode {:o} != {:o}",
                    ma.mode() & 0o7777,
                    mb.mode() & 0o7777
                ));
            }
            if (ma.mtime(), ma.mtime_nsec()) != (mb.mtime(), mb.mtime_nsec()) {
                problems.push(format!(
                    "{name}: mtime {}.{:09} != {}.{:09}",
                    ma.mtime(),
                    ma.mtime_nsec(),
                    mb.mtime(),
                    mb.mtime_nsec()
                ));
            }
        }
        if ta.is_file() && (ma.len() != mb.len() || !same_content(&a, &b)) {
            problems.push(format!(
                "{name}: content differs ({} vs {} bytes)",
                ma.len(),
                mb.len()
            ));
        }
        if owners && (ma.uid(), ma.gid()) != (mb.uid(), mb.gid()) {
            problems.push(format!(
                "{name}: owner {}:{} != {}:{}",
                ma.uid(),
                ma.gid(),
                mb.uid(),
                mb.gid()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "restore is not faithful:\n{}",
        problems.join("\n")
    );
}
