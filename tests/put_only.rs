//! Put-only keys (issue 22, SPEC.md §5.5): a host that must not be able
//! to read or destroy the history holds a key that only adds backups.
//! With its password a backup runs (and skips unchanged files through the
//! host's own record of what it sent), every other command is refused in
//! one line, and no secret the key file holds opens anything the host
//! wrote; a full key then restores it all. Format 1 repositories written
//! by the previous release still restore and take backups.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use engine::repo_format::BlobId;
use engine::repo_format::config::Config;
use engine::repo_format::crypto::{self, BlobKind, KEY_LEN, ObjectKind};
use engine::repo_format::index::{IndexFile, IndexPack};
use engine::repo_format::key::{KeyFile, KeyKind, OpenedKey};
use engine::repo_format::keyring::{CAPSULE_LEN, FORMAT_2, Keyring, PutOnlyKey};
use engine::repo_format::pack;
use serde_json::Value;

use crate::args;
use crate::common::*;
use crate::serve::{ALICE_PW, Server};

/// The put-only key's password in every test.
const PUT_PW: &str = "the web host's put-only password";

/// The one line every command but `backup` and `key heartbeat` prints
/// with a put-only password.
const REFUSAL: &str = "vault: this password opens a put-only key, which can only add backups; \
                       use the password of a full key to read or change the repository";

/// Owned arguments, for lists of commands (see [`args!`]).
macro_rules! argv {
    ($($x:expr),* $(,)?) => {
        vec![$(::std::ffi::OsStr::new(&$x).to_os_string()),*]
    };
}

fn refs(args: &[OsString]) -> Vec<&OsStr> {
    args.iter().map(OsString::as_os_str).collect()
}

/// A file holding `password`, inside the fixture's directory.
fn password_file(repo: &Repo, name: &str, password: &str) -> PathBuf {
    let path = repo.dir.path().join(name);
    fs::write(&path, format!("{password}\n")).unwrap();
    path
}

/// `vault -r URL ARGS...` with `password` instead of the fixture's.
fn run_as(repo: &Repo, password: &str, args: &[&OsStr], input: Option<&[u8]>) -> Output {
    let mut cmd = repo.cmd();
    cmd.env("VAULT_PASSWORD", password).args(args);
    output_with_stdin(cmd, input)
}

/// `backup --json ARGS...` with the put-only password: the summary.
#[track_caller]
fn put_backup(repo: &Repo, args: &[&OsStr], input: Option<&[u8]>) -> Value {
    let mut all = vec![OsStr::new("backup"), OsStr::new("--json")];
    all.extend_from_slice(args);
    let out = run_as(repo, PUT_PW, &all, input);
    assert_success(&out);
    summary(&out)
}

/// A local repository initialised with the full key ([`PASSWORD`]) and a
/// put-only key for [`PUT_PW`] added by it; every command's cache (the
/// put-only host's record) is inside the fixture's directory.
fn put_only_repo() -> Repo {
    let mut repo = Repo::local();
    let cache = repo.dir.path().join("xdg-cache").into_os_string();
    repo.envs.push(("XDG_CACHE_HOME".into(), cache));
    add_put_only_key(&repo);
    repo
}

/// `key add --put-only` with the full key; checks what it says.
fn add_put_only_key(repo: &Repo) -> String {
    let file = password_file(repo, "put-only-password", PUT_PW);
    let out = repo.ok(args![
        "key",
        "add",
        "--put-only",
        "--new-password-file",
        file,
        "--json"
    ]);
    let added = &json_values(&out.stdout)[0];
    assert_eq!(added["kind"], "put-only", "{added}");
    added["added"].as_str().expect("added id").to_owned()
}

/// Asserts the put-only refusal: exit 1 and exactly [`REFUSAL`] on stderr
/// (besides `warning:` lines), nothing on stdout.
#[track_caller]
fn assert_refused(out: &Output, what: &str) {
    assert_refused_as(out, what, REFUSAL);
}

/// [`assert_refused`] of the second repository of a command (`copy --to`,
/// `init --from`), whose errors say which one it is: `vault: {which}: `
/// and then the refusal.
#[track_caller]
fn assert_refused_second(out: &Output, what: &str, which: &str) {
    let line = REFUSAL.replacen("vault: ", &format!("vault: {which}: "), 1);
    assert_refused_as(out, what, &line);
}

#[track_caller]
fn assert_refused_as(out: &Output, what: &str, line: &str) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: wrong exit code\n{}",
        describe(out)
    );
    assert_no_panic(out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("warning: "))
        .collect();
    assert_eq!(lines, [line], "{what}\n{}", describe(out));
    assert!(
        out.stdout.is_empty(),
        "{what}: printed on stdout\n{}",
        describe(out)
    );
}

/// Asserts that `restored` holds `source`'s entries, file contents and
/// link targets; `changed` gives the content of a file (relative path) as
/// it was when the snapshot was taken, where it differs from the source
/// now. Modes and mtimes are not compared: see [`assert_same_tree`].
#[track_caller]
fn assert_same_content(source: &Path, restored: &Path, changed: &[(&str, &[u8])]) {
    assert_eq!(
        walk(source),
        walk(restored),
        "restored entries differ (source {}, restored {})",
        source.display(),
        restored.display()
    );
    for rel in walk(source) {
        let (a, b) = (source.join(&rel), restored.join(&rel));
        let meta = fs::symlink_metadata(&a).unwrap();
        if meta.file_type().is_symlink() {
            assert_eq!(
                fs::read_link(&a).unwrap(),
                fs::read_link(&b).unwrap_or_else(|e| panic!("{}: {e}", b.display())),
                "{}: link target",
                rel.display()
            );
        } else if meta.is_file() {
            match changed.iter().find(|(name, _)| Path::new(name) == rel) {
                Some((_, then)) => assert!(
                    fs::read(&b).unwrap() == *then,
                    "{}: content differs from the backed-up one",
                    rel.display()
                ),
                None => assert!(same_content(&a, &b), "{}: content differs", rel.display()),
            }
        }
    }
}

/// A tree of several files (one of 3 MiB of random bytes), a
/// subdirectory and a symlink; returns its root and how many files
/// (links included) a backup counts.
fn source_tree(dir: &Path) -> (PathBuf, u64) {
    let src = dir.join("www");
    write(&src.join("index.html"), b"<h1>put-only</h1>\n");
    write(&src.join("big.bin"), &random_bytes(2201, 3 << 20));
    write(&src.join("app/config.txt"), &b"setting = 1\n".repeat(300));
    write(
        &src.join("app/data/rows.csv"),
        &random_bytes(2202, 200 << 10),
    );
    write(&src.join("empty"), b"");
    std::os::unix::fs::symlink("big.bin", src.join("latest.bin")).unwrap();
    (src, 6)
}

/// A put-only host backs up a tree and a database dump; the same tree
/// again reads no file (its record stands in for the parent snapshot it
/// cannot read) and adds next to nothing; one changed file is the only
/// one read. With the record lost (`--no-cache`) it reads everything
/// again and still stores no data blob twice. The full key then restores
/// every snapshot byte for byte and `check --read-data` passes.
#[test]
fn a_put_only_key_backs_up_twice_reads_nothing_unchanged_and_a_full_key_restores_all() {
    let repo = put_only_repo();
    let tmp = temp_dir();
    let (src, files) = source_tree(tmp.path());
    let src_arg = src.as_os_str();

    let first = put_backup(&repo, &[src_arg], None);
    assert_eq!(field(&first, "files_new"), files, "{first}");
    let dump = random_bytes(2203, (4 << 20) + 77);
    let stream = put_backup(
        &repo,
        args!["--stdin", "--stdin-filename", "db.sql"],
        Some(&dump),
    );
    assert_eq!(field(&stream, "total_bytes_processed"), dump.len() as u64);

    // The record is in the cache directory, for a local repository too.
    let config = repo.ok(args!["cat", "config", "--json"]);
    let config: Value = serde_json::from_slice(&config.stdout).unwrap();
    assert_eq!(config["version"], 2, "{config}");
    let cache = repo
        .dir
        .path()
        .join("xdg-cache/vault")
        .join(config["id"].as_str().expect("repository id"));
    for name in ["record", "record-salt"] {
        assert!(
            cache.join(name).exists(),
            "no {name} in {}",
            cache.display()
        );
    }
    // One record file per host and paths (two here: the tree and the
    // stream), and no temporary file left.
    let records: Vec<_> = std::fs::read_dir(cache.join("record"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(records.iter().all(|n| n.len() == 64), "{records:?}");

    let unchanged = put_backup(&repo, &[src_arg], None);
    assert_eq!(field(&unchanged, "files_unmodified"), files, "{unchanged}");
    assert_eq!(field(&unchanged, "files_new"), 0, "{unchanged}");
    assert_eq!(field(&unchanged, "files_changed"), 0, "{unchanged}");
    assert_eq!(field(&unchanged, "data_blobs"), 0, "{unchanged}");
    assert!(
        field(&unchanged, "data_added") < 16 << 10,
        "an unchanged tree added {} bytes: {unchanged}",
        field(&unchanged, "data_added")
    );
    assert_eq!(unchanged["parent"], first["snapshot_id"], "{unchanged}");

    let old_config = fs::read(src.join("app/config.txt")).unwrap();
    write(&src.join("app/config.txt"), b"setting = 2\n");
    let one_changed = put_backup(&repo, &[src_arg], None);
    assert_eq!(field(&one_changed, "files_changed"), 1, "{one_changed}");
    assert_eq!(
        field(&one_changed, "files_unmodified"),
        files - 1,
        "{one_changed}"
    );
    assert_eq!(field(&one_changed, "files_new"), 0, "{one_changed}");
    assert_eq!(field(&one_changed, "data_blobs"), 1, "{one_changed}");

    // Without the record every file is read again; the chunks are in the
    // index already, so no data blob is stored twice.
    let mut no_cache = vec![OsStr::new("--no-cache")];
    no_cache.extend(["backup", "--json"].map(OsStr::new));
    no_cache.push(src_arg);
    let out = run_as(&repo, PUT_PW, &no_cache, None);
    assert_success(&out);
    let uncached = summary(&out);
    assert_eq!(field(&uncached, "files_new"), files, "{uncached}");
    assert_eq!(field(&uncached, "data_blobs"), 0, "{uncached}");

    // The full key reads everything the put-only host wrote.
    let ids: Vec<String> = repo
        .snapshots()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 5, "{ids:?}");
    let id = |s: &Value| s["snapshot_id"].as_str().expect("snapshot id").to_owned();
    for (summary, changed) in [
        (&first, vec![("app/config.txt", old_config.as_slice())]),
        (&unchanged, vec![("app/config.txt", old_config.as_slice())]),
        (&one_changed, vec![]),
        (&uncached, vec![]),
    ] {
        let target = temp_dir();
        repo.ok(args!["restore", id(summary), "--target", target.path()]);
        assert_same_content(&src, &restored(target.path(), &src), &changed);
    }
    // The newest is the tree as it is now, modes and mtimes included.
    let target = temp_dir();
    repo.ok(args![
        "restore",
        id(&one_changed),
        "--target",
        target.path()
    ]);
    assert_same_tree(&src, &restored(target.path(), &src), false);

    let target = temp_dir();
    repo.ok(args!["restore", id(&stream), "--target", target.path()]);
    assert!(fs::read(target.path().join("db.sql")).unwrap() == dump);
    let dumped = repo.ok(args!["dump", id(&stream), "/db.sql"]);
    assert!(dumped.stdout == dump, "dump of db.sql differs");
    repo.ok(args!["check", "--read-data"]);
}

/// Everything needed to name real objects in the commands a put-only
/// key must not run.
struct Names {
    first: String,
    second: String,
    full_key: String,
    index: String,
    pack: String,
}

fn object_names(repo: &Repo) -> Names {
    let snapshots: Vec<String> = repo
        .snapshots()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(snapshots.len() >= 2, "{snapshots:?}");
    let out = repo.ok(args!["key", "list", "--json"]);
    let keys = json_values(&out.stdout);
    let full_key = keys
        .iter()
        .find(|k| k["kind"] == "full")
        .expect("a full key")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first_of = |kind| repo.list(kind).into_iter().next().expect("an object");
    Names {
        first: snapshots[0].clone(),
        second: snapshots[1].clone(),
        full_key,
        index: first_of("index"),
        pack: first_of("packs"),
    }
}

/// Every command that reads or changes the repository, with valid
/// arguments; `scratch` is an empty directory for restore targets,
/// mountpoints and new password files.
fn read_commands(n: &Names, scratch: &Path) -> Vec<Vec<OsString>> {
    let target = scratch.join("target");
    let mountpoint = scratch.join("mnt");
    fs::create_dir_all(&target).unwrap();
    fs::create_dir_all(&mountpoint).unwrap();
    let new_pw = scratch.join("new-password");
    fs::write(&new_pw, "a password the attacker chose\n").unwrap();
    vec![
        argv!["snapshots"],
        argv!["snapshots", "--json"],
        argv!["ls", "latest"],
        argv!["ls", n.first, "--recursive", "--json"],
        argv!["dump", "latest", "/"],
        argv!["dump", n.first, "/"],
        argv!["cat", "config"],
        argv!["cat", "snapshot", n.first],
        argv!["cat", "index", n.index],
        argv!["cat", "pack", n.pack],
        argv!["cat", "key", n.full_key],
        argv!["restore", "latest", "--target", target],
        argv!["restore", n.second, "--target", target, "--verify"],
        argv!["mount", mountpoint],
        argv!["diff", n.first, n.second],
        argv!["find", "*"],
        argv!["stats"],
        argv!["stats", "--mode", "raw-data"],
        argv!["check"],
        argv!["check", "--read-data"],
        argv!["forget", "--keep-last", "1", "--prune"],
        argv!["forget", n.first],
        argv!["prune"],
        argv!["tag", "--add", "x", "latest"],
        argv!["repair", "index"],
        argv!["repair", "snapshots"],
        argv!["key", "list"],
        argv!["key", "add", "--new-password-file", new_pw],
        argv!["key", "add", "--put-only", "--new-password-file", new_pw],
        argv!["key", "remove", n.full_key],
        argv!["key", "passwd", "--new-password-file", new_pw],
        argv!["unlock"],
        argv!["unlock", "--remove-all"],
        argv!["list", "packs"],
        argv!["list", "index"],
        argv!["list", "snapshots"],
        argv!["list", "keys"],
        argv!["list", "locks"],
    ]
}

/// Each command is tried with `password` against `repo`: refused in one
/// line, the repository's files (`listing`, read after each) unchanged
/// and the restore target still empty.
#[track_caller]
fn assert_all_refused(
    repo: &Repo,
    password: &str,
    commands: &[Vec<OsString>],
    scratch: &Path,
    listing: &dyn Fn() -> BTreeMap<PathBuf, Vec<u8>>,
) {
    let before = listing();
    for command in commands {
        let what = format!("{command:?}");
        let out = run_as(repo, password, &refs(command), None);
        assert_refused(&out, &what);
        assert!(listing() == before, "{what} changed the repository");
        assert!(
            walk(&scratch.join("target")).is_empty(),
            "{what} wrote into the restore target"
        );
    }
}

/// With the put-only password every read, maintenance and key command
/// (each with valid arguments, so that only the key stops it), `copy`
/// from or to a repository opened with a put-only key, `init --from` one
/// and `drill` are refused in the same one line, before they read or
/// write anything: the repository's files stay byte for byte the same.
#[test]
fn every_read_command_refuses_a_put_only_key_in_one_line() {
    let repo = put_only_repo();
    let tmp = temp_dir();
    let (src, _) = source_tree(tmp.path());
    put_backup(&repo, args![src], None);
    write(&src.join("index.html"), b"<h1>changed</h1>\n");
    put_backup(&repo, args![src], None);
    let n = object_names(&repo);
    let scratch = temp_dir();
    let objects = repo.objects();

    let commands = read_commands(&n, scratch.path());
    assert_all_refused(&repo, PUT_PW, &commands, scratch.path(), &|| {
        repo.file_listing()
    });

    // copy, with the put-only key on either side.
    let other = put_only_repo();
    let full_pw = password_file(&repo, "full-password", PASSWORD);
    let put_pw = password_file(&repo, "put-password", PUT_PW);
    let other_before = other.file_listing();
    let out = run_as(
        &repo,
        PUT_PW,
        args!["copy", "--to", other.url, "--to-password-file", full_pw],
        None,
    );
    assert_refused(&out, "copy from a put-only key");
    let out = run_as(
        &repo,
        PASSWORD,
        args!["copy", "--to", other.url, "--to-password-file", put_pw],
        None,
    );
    assert_refused_second(&out, "copy to a put-only key", "destination repository");
    assert!(
        other.file_listing() == other_before,
        "copy changed the other repository"
    );

    // init --from a repository opened with a put-only key.
    let fresh = scratch.path().join("fresh");
    let mut cmd = vault();
    cmd.arg("-r")
        .arg(&fresh)
        .env("VAULT_PASSWORD", PASSWORD)
        .args(["init", "--copy-chunker-params", "--from"])
        .arg(&repo.url)
        .arg("--from-password-file")
        .arg(&put_pw);
    assert_refused_second(
        &output_with_stdin(cmd, None),
        "init --from",
        &format!("--from repository {}", repo.path.display()),
    );
    assert!(!fresh.exists(), "init --from created the repository");

    // drill, through a vault.toml whose password is the put-only one.
    let config = scratch.path().join("vault.toml");
    fs::write(
        &config,
        format!(
            "[repositories.main]\nurl = \"{}\"\npassword-file = \"{}\"\n\n\
             [sources.www]\npaths = [\"{}\"]\n\n\
             [profiles.nightly]\nrepository = \"main\"\n",
            repo.path.display(),
            put_pw.display(),
            src.display()
        ),
    )
    .unwrap();
    let mut cmd = vault();
    cmd.arg("--config")
        .arg(&config)
        .args(["drill", "--target"])
        .arg(scratch.path().join("target").join("drill"))
        .env("TMPDIR", scratch.path())
        .envs(repo.envs.iter().map(|(k, v)| (k, v)));
    assert_refused(&output_with_stdin(cmd, None), "drill");
    assert!(walk(&scratch.path().join("target")).is_empty());

    assert_eq!(repo.objects(), objects, "the repository's objects changed");
    // The put-only key still backs up.
    put_backup(&repo, args![src], None);
}

/// AAD of an object of `kind` (SPEC.md §4.4): "vault object\0" ‖ kind.
fn object_aad(kind: u8) -> Vec<u8> {
    [b"vault object\0".as_slice(), &[kind]].concat()
}

/// AAD of a blob (SPEC.md §4.3): "vault blob\0" ‖ kind ‖ id.
fn blob_aad(kind: u8, id: &BlobId) -> Vec<u8> {
    [b"vault blob\0".as_slice(), &[kind], id.as_bytes()].concat()
}

/// One stretch of a repository file that may be an envelope, and the
/// associated data it may have been sealed with.
struct Region {
    label: String,
    bytes: Vec<u8>,
    aads: Vec<(String, Vec<u8>)>,
}

fn object_aads() -> Vec<(String, Vec<u8>)> {
    (1..=7u8)
        .map(|k| (format!("object kind {k}"), object_aad(k)))
        .collect()
}

/// Every file of the repository whole and after a capsule, every pack's
/// sealed header (from its trailer) and every blob (at the offsets the
/// index gives), each with every plausible AAD.
fn regions(root: &Path, packs: &[IndexPack]) -> Vec<Region> {
    let mut out = Vec::new();
    for rel in walk(root) {
        let path = root.join(&rel);
        if !path.is_file() {
            continue;
        }
        let bytes = fs::read(&path).unwrap();
        if bytes.len() > CAPSULE_LEN {
            out.push(Region {
                label: format!("{} after a capsule", rel.display()),
                bytes: bytes[CAPSULE_LEN..].to_vec(),
                aads: object_aads(),
            });
        }
        out.push(Region {
            label: rel.display().to_string(),
            bytes,
            aads: object_aads(),
        });
    }
    for p in packs {
        let hex = p.id.to_hex();
        let bytes = fs::read(root.join("data").join(&hex[..2]).join(&hex)).unwrap();
        let size = bytes.len();
        let trailer = pack::parse_trailer(
            FORMAT_2,
            size as u64,
            &bytes[size - pack::trailer_len(FORMAT_2)..],
        )
        .expect("a format 2 trailer");
        assert_eq!(
            trailer.capsule, p.capsule,
            "pack {hex}: index and trailer agree"
        );
        let range = |r: std::ops::Range<u64>| bytes[r.start as usize..r.end as usize].to_vec();
        out.push(Region {
            label: format!("pack {hex} header"),
            bytes: range(trailer.header.clone()),
            aads: object_aads(),
        });
        for e in &p.blobs {
            let mut aads = object_aads();
            for kind in [BlobKind::Data, BlobKind::Tree] {
                aads.push((
                    format!("blob kind {}", kind.as_u8()),
                    blob_aad(kind.as_u8(), &e.id),
                ));
            }
            out.push(Region {
                label: format!("pack {hex} blob at {}", e.offset),
                bytes: range(u64::from(e.offset)..e.end()),
                aads,
            });
        }
    }
    out
}

/// Which (region, key, AAD) open as an XChaCha20-Poly1305 envelope.
fn probe(regions: &[Region], keys: &[(&str, [u8; KEY_LEN])]) -> BTreeSet<(String, String, String)> {
    let mut opened = BTreeSet::new();
    for r in regions {
        for (name, key) in keys {
            for (aad_name, aad) in &r.aads {
                if crypto::open(key, aad, &r.bytes, "probe").is_ok() {
                    opened.insert((r.label.clone(), (*name).to_owned(), aad_name.clone()));
                }
            }
        }
    }
    opened
}

/// Each file of `dir` (below the repository `root`) as `(label, key,
/// aad)`, for the expected results of [`probe`].
fn expect_each(root: &Path, dir: &str, key: &str, aad: &str) -> BTreeSet<(String, String, String)> {
    let Ok(entries) = fs::read_dir(root.join(dir)) else {
        return BTreeSet::new();
    };
    entries
        .map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            (format!("{dir}/{name}"), key.to_owned(), aad.to_owned())
        })
        .collect()
}

/// The key file of `kind`, opened with `password`.
fn open_key_file(root: &Path, kind: KeyKind, password: &str) -> OpenedKey {
    let files: Vec<KeyFile> = fs::read_dir(root.join("keys"))
        .unwrap()
        .map(|e| KeyFile::decode(&fs::read(e.unwrap().path()).unwrap()).expect("a key file"))
        .filter(|f| f.kind == kind)
        .collect();
    assert_eq!(files.len(), 1, "one key file of kind {kind:?}");
    files[0]
        .open(password.as_bytes())
        .expect("the password opens it")
}

/// What a thief of the put-only host gets: its key file and password.
/// Every secret the key holds (id key, metadata key, heartbeat seed,
/// record secret, the repository's public key) is tried as the key of
/// every object file, every pack header and every blob the host wrote,
/// with every plausible AAD: only index files and locks open (with the
/// metadata key), and no pack key can be derived from a capsule. The
/// same probe with the full key's data and metadata keys opens the
/// config, the ledger, the index files and the lock, and the full key
/// opens every header and blob at the offsets used: the probe can open
/// what the keys it is given open.
#[test]
fn no_secret_of_a_put_only_key_file_opens_what_it_wrote() {
    let repo = put_only_repo();
    let root = repo.path.clone();
    let tmp = temp_dir();
    let (src, _) = source_tree(tmp.path());
    put_backup(&repo, args![src], None);
    put_backup(
        &repo,
        args!["--stdin", "--stdin-filename", "db.sql"],
        Some(&random_bytes(2204, 1 << 20)),
    );
    // A ledger, sealed with the data key.
    repo.ok(args!["check", "--read-data"]);
    write(&src.join("index.html"), b"<h1>changed</h1>\n");
    put_backup(&repo, args![src], None);
    // A lock left by a put-only backup that died right after taking it.
    let mut crash = repo.cmd();
    crash
        .env("VAULT_PASSWORD", PUT_PW)
        .env("VAULT_CRASH_AFTER_WRITES", "1")
        .arg("backup")
        .arg(&src);
    let out = output_with_stdin(crash, None);
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(walk(&root.join("locks")).len(), 1, "a lock is left");
    assert!(
        !walk(&root.join("ledger")).is_empty(),
        "a ledger is written"
    );

    let OpenedKey::PutOnly(key) = open_key_file(&root, KeyKind::PutOnly, PUT_PW) else {
        panic!("the put-only key file opens as a put-only key");
    };
    let put = Keyring::put_only(&key);
    assert!(!put.is_full());

    // The index, which the metadata key opens: where every blob lies.
    let mut packs = Vec::new();
    for rel in walk(&root.join("index")) {
        let sealed = fs::read(root.join("index").join(rel)).unwrap();
        let payload = put
            .open_object(ObjectKind::Index, &sealed)
            .expect("the put-only key opens index files");
        packs.extend(IndexFile::decode(FORMAT_2, &payload).unwrap().packs);
    }
    let indexed: BTreeSet<String> = packs.iter().map(|p| p.id.to_hex()).collect();
    let on_disk: BTreeSet<String> = names_in(&root.join("data"));
    assert_eq!(
        indexed, on_disk,
        "every pack is indexed, so every blob is probed"
    );
    assert!(packs.iter().map(|p| p.blobs.len()).sum::<usize>() > 10);
    let regions = regions(&root, &packs);

    // First the probe with the full key's keys: it opens what they seal.
    let OpenedKey::Full(master) = open_key_file(&root, KeyKind::Full, PASSWORD) else {
        panic!("the full key file opens as a full key");
    };
    let full = Keyring::full(&master, FORMAT_2);
    let config = Config::decode(
        &full
            .open_object(ObjectKind::Config, &fs::read(root.join("config")).unwrap())
            .unwrap(),
    )
    .unwrap();
    let full_metadata_key = full
        .put_only_key(&config, [0; KEY_LEN])
        .unwrap()
        .metadata_key;
    assert_eq!(full_metadata_key, key.metadata_key);
    let opened = probe(
        &regions,
        &[
            ("data key", master.data_key),
            ("metadata key", full_metadata_key),
        ],
    );
    let mut expected = BTreeSet::from([(
        "config".to_owned(),
        "data key".to_owned(),
        "object kind 1".to_owned(),
    )]);
    expected.extend(expect_each(&root, "ledger", "data key", "object kind 6"));
    expected.extend(expect_each(&root, "index", "metadata key", "object kind 2"));
    expected.extend(expect_each(&root, "locks", "metadata key", "object kind 5"));
    assert_eq!(opened, expected, "what the full key's symmetric keys open");
    full_key_opens_every_header_blob_and_snapshot(&root, &full, &packs);

    // Then every secret of the put-only key.
    let secrets = secrets_of(&key);
    let opened = probe(&regions, &secrets);
    let mut expected = expect_each(&root, "index", "metadata key", "object kind 2");
    expected.extend(expect_each(&root, "locks", "metadata key", "object kind 5"));
    assert_eq!(opened, expected, "what the put-only key's secrets open");

    // Nor can the put-only host make a pack's key from its capsule, nor
    // open a snapshot it wrote.
    for p in &packs {
        let capsule = p.capsule.expect("a capsule");
        assert!(
            put.pack_key(Some(&capsule)).is_err(),
            "pack {}",
            p.id.to_hex()
        );
    }
    for rel in walk(&root.join("snapshots")) {
        let sealed = fs::read(root.join("snapshots").join(rel)).unwrap();
        assert!(put.open_object(ObjectKind::Snapshot, &sealed).is_err());
    }
    assert!(
        put.open_object(ObjectKind::Config, &fs::read(root.join("config")).unwrap())
            .is_err()
    );
}

fn secrets_of(key: &PutOnlyKey) -> Vec<(&'static str, [u8; KEY_LEN])> {
    vec![
        ("id key", key.id_key),
        ("metadata key", key.metadata_key),
        ("heartbeat seed", key.heartbeat_seed),
        ("record secret", key.record_secret),
        ("public key", key.public_key),
    ]
}

/// The names of the files below `dir`, recursively.
fn names_in(dir: &Path) -> BTreeSet<String> {
    walk(dir)
        .into_iter()
        .filter(|rel| dir.join(rel).is_file())
        .map(|rel| rel.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The regions [`probe`] tries are the real ones: the full key opens each
/// pack's header there and each blob at its offset, and every snapshot.
fn full_key_opens_every_header_blob_and_snapshot(root: &Path, full: &Keyring, packs: &[IndexPack]) {
    for p in packs {
        let hex = p.id.to_hex();
        let bytes = fs::read(root.join("data").join(&hex[..2]).join(&hex)).unwrap();
        let key = full
            .pack_key(p.capsule.as_ref())
            .expect("the full key makes the pack key");
        let size = bytes.len();
        let trailer = pack::parse_trailer(
            FORMAT_2,
            size as u64,
            &bytes[size - pack::trailer_len(FORMAT_2)..],
        )
        .unwrap();
        let header = key
            .open_header(&bytes[trailer.header.start as usize..trailer.header.end as usize])
            .expect("the header opens");
        let entries = pack::decode_header(&header, trailer.blobs_len).unwrap();
        assert_eq!(pack::compare_entries(&entries, &p.blobs), (0, 0));
        for e in &p.blobs {
            key.open_blob(
                e.kind,
                &e.id,
                &bytes[e.offset as usize..e.end() as usize],
                e.raw_length as usize,
            )
            .expect("the blob opens");
        }
    }
    for rel in walk(&root.join("snapshots")) {
        let sealed = fs::read(root.join("snapshots").join(rel)).unwrap();
        full.open_object(ObjectKind::Snapshot, &sealed)
            .expect("the snapshot opens");
    }
}

/// A stolen put-only host of an append-only `vault serve`: it holds the
/// put-only password and the user's server credentials. It can read no
/// backup (every read command is refused), cannot forget or prune, and
/// the server refuses its raw DELETE of a snapshot or a pack and a PUT
/// over either. The admin's full key then lists the same snapshots,
/// restores them byte for byte and `check --read-data` passes.
#[test]
fn a_compromised_put_only_host_of_an_append_only_server_can_neither_read_nor_remove() {
    let server = Server::start(&["--append-only"]);
    let path = server.root.join("alice/main");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    // The admin, on the server's files, with the full key.
    let admin = Repo {
        url: path.clone().into_os_string(),
        path: path.clone(),
        dir: temp_dir(),
        prefix: Vec::new(),
        envs: Vec::new(),
    };
    admin.init();
    add_put_only_key(&admin);

    // The host backs up through the server with the put-only key.
    let host = server.repo("alice", ALICE_PW, "alice/main");
    let tmp = temp_dir();
    let (src, files) = source_tree(tmp.path());
    let first = put_backup(&host, args![src], None);
    let dump = random_bytes(2205, (2 << 20) + 5);
    let stream = put_backup(
        &host,
        args!["--stdin", "--stdin-filename", "db.sql"],
        Some(&dump),
    );
    let again = put_backup(&host, args![src], None);
    assert_eq!(field(&again, "files_unmodified"), files, "{again}");
    let ids: BTreeSet<String> = [&first, &stream, &again]
        .iter()
        .map(|s| s["snapshot_id"].as_str().unwrap().to_owned())
        .collect();
    let n = object_names(&admin);
    let scratch = temp_dir();
    let before = admin.file_listing();

    // The attacker: every read command, forget and prune.
    let commands = read_commands(&n, scratch.path());
    assert_all_refused(&host, PUT_PW, &commands, scratch.path(), &|| {
        admin.file_listing()
    });
    for command in [
        argv!["forget", "--keep-last", "1"],
        argv!["forget", n.first, n.second],
        argv!["forget", "--keep-last", "1", "--prune"],
        argv!["prune", "--max-unused", "0"],
    ] {
        let out = run_as(&host, PUT_PW, &refs(&command), None);
        assert_refused(&out, &format!("{command:?}"));
    }

    // Raw requests with alice's credentials: delete, and write over.
    let alice = Some(("alice", ALICE_PW));
    let snapshot = format!("/alice/main/snapshots/{}", n.first);
    let pack = format!("/alice/main/data/{}/{}", &n.pack[..2], n.pack);
    for target in [&snapshot, &pack] {
        let (status, body) = server.raw("DELETE", target, alice, b"");
        assert_eq!(status, 403, "DELETE {target}: {body}");
        let (status, body) = server.raw("PUT", target, alice, &random_bytes(2206, 4096));
        assert!(matches!(status, 400 | 412), "PUT {target}: {status} {body}");
        let (status, body) = server.raw("PUT", target, alice, b"");
        assert!(matches!(status, 400 | 412), "PUT {target}: {status} {body}");
    }
    assert!(admin.file_listing() == before, "the repository changed");

    // The admin's full key: the same snapshots, restored byte for byte.
    let listed: BTreeSet<String> = admin
        .snapshots()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, ids);
    for summary in [&first, &again] {
        let target = temp_dir();
        let id = summary["snapshot_id"].as_str().unwrap();
        admin.ok(args!["restore", id, "--target", target.path()]);
        assert_same_tree(&src, &restored(target.path(), &src), false);
    }
    let dumped = admin.ok(args![
        "dump",
        stream["snapshot_id"].as_str().unwrap(),
        "/db.sql"
    ]);
    assert!(dumped.stdout == dump, "dump of db.sql differs");
    admin.ok(args!["check", "--read-data"]);
}

/// The committed repository written by the previous release.
fn format_1_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/format-1")
}

/// Copies the directory `from` to `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// Every file below `dir` with its bytes.
fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walk(dir)
        .into_iter()
        .filter(|rel| dir.join(rel).is_file())
        .map(|rel| {
            let bytes = fs::read(dir.join(&rel)).unwrap();
            (rel, bytes)
        })
        .collect()
}

/// A repository of format 1, written by the previous release (the
/// committed fixture: a tree and a dump): this release checks it with
/// `--read-data`, restores the tree and dumps the dump as they were, adds
/// a backup to it (in format 1: the config still says version 1) and
/// checks it again; a put-only key is refused, naming the format.
#[test]
fn a_format_1_repository_still_restores_and_takes_backups() {
    let fixture = format_1_fixture();
    let password = fs::read_to_string(fixture.join("password")).unwrap();
    let password = password.trim_end_matches('\n');
    let fixture_files = contents(&fixture.join("repo"));
    let dir = temp_dir();
    let path = dir.path().join("repo");
    copy_dir(&fixture.join("repo"), &path);
    let repo = Repo {
        url: path.clone().into_os_string(),
        path,
        dir,
        prefix: Vec::new(),
        envs: Vec::new(),
    };
    let ok = |args: &[&OsStr]| {
        let out = run_as(&repo, password, args, None);
        assert_success(&out);
        out
    };
    let version = || {
        let config: Value =
            serde_json::from_slice(&ok(args!["cat", "config", "--json"]).stdout).unwrap();
        config["version"].clone()
    };
    assert_eq!(version(), 1);
    ok(args!["check", "--read-data"]);

    let out = ok(args!["snapshots", "--json"]);
    let snapshots = json_values(&out.stdout);
    assert_eq!(snapshots.len(), 2, "{snapshots:?}");
    let tree = snapshots
        .iter()
        .find(|s| s["id"].as_str().unwrap().starts_with("f5065799"))
        .expect("the tree's snapshot");
    assert_eq!(tree["hostname"], "fixture");
    let dump = snapshots
        .iter()
        .find(|s| s["paths"] == serde_json::json!(["/dump.sql"]))
        .expect("the dump's snapshot");
    let backed_up = PathBuf::from(tree["paths"][0].as_str().unwrap());
    let target = temp_dir();
    ok(args!["restore", "f5065799", "--target", target.path()]);
    assert_same_content(
        &fixture.join("src"),
        &restored(target.path(), &backed_up),
        &[],
    );
    let out = ok(args!["dump", dump["id"].as_str().unwrap(), "/dump.sql"]);
    assert_eq!(out.stdout, b"CREATE TABLE t (x int);\n");

    // This release adds to it, in format 1.
    let src_dir = temp_dir();
    let src = src_dir.path().join("new");
    write(&src.join("a.txt"), b"written by the new release\n");
    write(&src.join("b.bin"), &random_bytes(2207, 700 << 10));
    let out = ok(args!["backup", "--json", src]);
    let id = summary(&out)["snapshot_id"].as_str().unwrap().to_owned();
    ok(args!["check", "--read-data"]);
    let target = temp_dir();
    ok(args!["restore", id, "--target", target.path()]);
    assert_same_tree(&src, &restored(target.path(), &src), false);
    assert_eq!(version(), 1);

    // No put-only key in format 1.
    let put_pw = password_file(&repo, "put-only-password", PUT_PW);
    let keys = repo.path.join("keys");
    let keys_before = names(&keys);
    let out = run_as(
        &repo,
        password,
        args!["key", "add", "--put-only", "--new-password-file", put_pw],
        None,
    );
    assert_error(&out, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("format 1"), "{err}");
    assert_eq!(names(&keys), keys_before, "no key file was added");

    assert_eq!(
        contents(&fixture.join("repo")),
        fixture_files,
        "the fixture must not change"
    );
}

/// [`put_only_repo`] on whatever store `VAULT_TEST_BACKEND` names (the
/// S3 test server in the second pass of scripts/test.sh), with the cache
/// (the put-only host's record) inside the fixture's directory.
fn put_only_repo_on_any_store() -> Repo {
    let mut repo = Repo::new();
    if !repo.envs.iter().any(|(k, _)| k == "XDG_CACHE_HOME") {
        let cache = repo.dir.path().join("xdg-cache").into_os_string();
        repo.envs.push(("XDG_CACHE_HOME".into(), cache));
    }
    add_put_only_key(&repo);
    repo
}

/// The put-only round trip on any store (it runs on S3 in the second
/// pass of scripts/test.sh): a put-only host backs up a tree and a
/// stream; the same tree again reads no file (the record in its cache
/// directory stands in for the parent it cannot read) and stores no data
/// blob; a read command is refused in one line and writes nothing; the
/// full key then lists the three snapshots, restores each byte for byte
/// and `check --read-data` passes.
#[test]
fn a_put_only_key_backs_up_and_a_full_key_restores_on_any_store() {
    let repo = put_only_repo_on_any_store();
    let tmp = temp_dir();
    let src = tmp.path().join("site");
    write(&src.join("index.html"), b"<h1>any store</h1>\n");
    write(&src.join("blob.bin"), &random_bytes(2208, 600 << 10));
    write(
        &src.join("conf/app.toml"),
        &b"key = \"value\"\n".repeat(200),
    );
    write(&src.join("empty"), b"");
    std::os::unix::fs::symlink("blob.bin", src.join("current.bin")).unwrap();
    let files = 5;

    let first = put_backup(&repo, args![src], None);
    assert_eq!(field(&first, "files_new"), files, "{first}");
    let dump = random_bytes(2209, (1 << 20) + 333);
    let stream = put_backup(
        &repo,
        args!["--stdin", "--stdin-filename", "db.sql"],
        Some(&dump),
    );
    assert_eq!(field(&stream, "total_bytes_processed"), dump.len() as u64);

    let again = put_backup(&repo, args![src], None);
    assert_eq!(field(&again, "files_unmodified"), files, "{again}");
    assert_eq!(field(&again, "files_new"), 0, "{again}");
    assert_eq!(field(&again, "files_changed"), 0, "{again}");
    assert_eq!(field(&again, "data_blobs"), 0, "{again}");
    assert_eq!(again["parent"], first["snapshot_id"], "{again}");

    // A read command: refused in one line, before it reads or writes.
    let objects = repo.objects();
    let target = temp_dir();
    for command in [
        argv!["snapshots"],
        argv!["ls", "latest"],
        argv!["restore", "latest", "--target", target.path()],
        argv!["check"],
        argv!["forget", "--keep-last", "1", "--prune"],
    ] {
        let out = run_as(&repo, PUT_PW, &refs(&command), None);
        assert_refused(&out, &format!("{command:?}"));
    }
    assert!(walk(target.path()).is_empty(), "restore wrote files");
    assert_eq!(repo.objects(), objects, "a refused command changed objects");

    // The full key reads all of it.
    let id = |s: &Value| s["snapshot_id"].as_str().expect("snapshot id").to_owned();
    let listed: BTreeSet<String> = repo
        .snapshots()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        listed,
        BTreeSet::from([id(&first), id(&stream), id(&again)]),
        "the snapshots the put-only host wrote"
    );
    for summary in [&first, &again] {
        let target = temp_dir();
        repo.ok(args!["restore", id(summary), "--target", target.path()]);
        assert_same_tree(&src, &restored(target.path(), &src), false);
    }
    let target = temp_dir();
    repo.ok(args!["restore", id(&stream), "--target", target.path()]);
    assert!(fs::read(target.path().join("db.sql")).unwrap() == dump);
    let dumped = repo.ok(args!["dump", id(&stream), "/db.sql"]);
    assert!(dumped.stdout == dump, "dump of db.sql differs");
    repo.ok(args!["check", "--read-data"]);
}
