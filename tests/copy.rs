//! `vault copy` between repositories with their own keys, and `vault init
//! --copy-chunker-params --from`.
//!
//! The scenario bodies take the two fixtures (`fn body(src: &Repo, dst:
//! &Repo)`), so that the same bodies can run against repositories on other
//! stores; the `#[test]` wrappers build local ones. The password of each
//! fixture is its `VAULT_PASSWORD` (see [`password_of`]).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::args;
use crate::common::*;

/// The password a fixture's commands run with.
fn password_of(repo: &Repo) -> String {
    repo.envs
        .iter()
        .rev()
        .find(|(k, _)| k == "VAULT_PASSWORD")
        .map(|(_, v)| v.to_string_lossy().into_owned())
        .unwrap_or_else(|| PASSWORD.to_owned())
}

/// A fixture (not initialised) whose password is `password`.
fn uninitialised_with_password(password: &str) -> Repo {
    let mut repo = Repo::uninitialised();
    repo.envs.push(("VAULT_PASSWORD".into(), password.into()));
    repo
}

/// A fresh repository with its own password (and so its own keys).
fn repo_with_password(password: &str) -> Repo {
    let repo = uninitialised_with_password(password);
    repo.init();
    repo
}

/// `dst` initialised with `init --copy-chunker-params --from src`.
fn init_like(dst: &Repo, src: &Repo) {
    let mut cmd = dst.cmd();
    cmd.args(["init", "--copy-chunker-params", "--from"])
        .arg(&src.url)
        .env("VAULT_FROM_PASSWORD", password_of(src));
    let out = output_with_stdin(cmd, None);
    assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("copied from"), "{text}");
}

/// `vault -r SRC copy --to DST ARGS...` with the destination's password in
/// `VAULT_TO_PASSWORD`.
fn run_copy(src: &Repo, dst: &Repo, extra: &[&std::ffi::OsStr]) -> Output {
    let mut cmd = src.cmd();
    cmd.arg("copy")
        .arg("--to")
        .arg(&dst.url)
        .args(extra)
        .env("VAULT_TO_PASSWORD", password_of(dst));
    for (k, v) in &dst.envs {
        if k != "VAULT_PASSWORD" {
            cmd.env(k, v);
        }
    }
    output_with_stdin(cmd, None)
}

/// [`run_copy`] with `--json`, asserting success; the document.
#[track_caller]
fn copy_json(src: &Repo, dst: &Repo, extra: &[&std::ffi::OsStr]) -> Value {
    let mut all = vec![std::ffi::OsStr::new("--json")];
    all.extend_from_slice(extra);
    let out = run_copy(src, dst, &all);
    assert_success(&out);
    let docs = json_values(&out.stdout);
    assert_eq!(
        docs.len(),
        1,
        "copy --json prints one document\n{}",
        describe(&out)
    );
    docs.into_iter().next().unwrap_or_default()
}

fn count(doc: &Value, key: &str) -> u64 {
    doc[key]
        .as_u64()
        .unwrap_or_else(|| panic!("copy --json lacks {key}: {doc}"))
}

/// (source, destination) id pairs of a list in the copy document.
fn pairs(doc: &Value, key: &str) -> Vec<(String, String)> {
    doc[key]
        .as_array()
        .unwrap_or_else(|| panic!("copy --json lacks {key}: {doc}"))
        .iter()
        .map(|p| {
            (
                p["source"].as_str().unwrap().to_owned(),
                p["destination"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Snapshots by id.
fn by_id(repo: &Repo) -> BTreeMap<String, Value> {
    repo.snapshots()
        .into_iter()
        .map(|s| (s["id"].as_str().unwrap().to_owned(), s))
        .collect()
}

/// How many objects of each kind (packs, index files, snapshots) a
/// repository holds, on any backend.
fn stored_objects(repo: &Repo) -> BTreeMap<String, usize> {
    ["packs", "index", "snapshots"]
        .into_iter()
        .map(|kind| (kind.to_owned(), repo.list(kind).len()))
        .collect()
}

/// A source tree: a few multi-chunk files, small files, a symlink, an
/// empty directory.
fn source_tree(root: &Path) -> PathBuf {
    let src = root.join("src");
    for i in 0..3u64 {
        write(
            &src.join(format!("big/{i}.bin")),
            &random_bytes(100 + i, 2_500_000),
        );
    }
    write(&src.join("notes/a.txt"), b"alpha\n");
    write(&src.join("notes/b.txt"), b"bravo\n");
    std::os::unix::fs::symlink("notes/a.txt", src.join("link")).unwrap();
    std::fs::create_dir_all(src.join("empty")).unwrap();
    src
}

fn restore_and_compare(repo: &Repo, snapshot: &str, source: &Path) {
    let target = temp_dir();
    repo.ok(args![
        "restore",
        snapshot,
        "--target",
        target.path(),
        "--verify"
    ]);
    assert_same_tree(source, &restored(target.path(), source), false);
}

// ---------------------------------------------------------------- bodies

/// Default init and another password: the slow path (ids differ). The copy
/// restores byte for byte, passes check --read-data, keeps the metadata and
/// records its origin.
pub fn copy_roundtrip(src: &Repo, dst: &Repo) {
    let dir = temp_dir();
    let source = source_tree(dir.path());
    src.backup(args![
        source,
        "--tag",
        "daily,db",
        "--host",
        "alpha",
        "--time",
        "2024-05-01T12:00:00+02:00"
    ]);
    let doc = copy_json(src, dst, &[]);
    let copied = pairs(&doc, "copied");
    assert_eq!(copied.len(), 1, "{doc}");
    assert!(pairs(&doc, "skipped").is_empty(), "{doc}");
    assert!(count(&doc, "blobs_copied") > 3, "{doc}");
    assert!(count(&doc, "bytes_uploaded") > 7_000_000, "{doc}");

    let (source_id, dest_id) = &copied[0];
    let s = &by_id(src)[source_id];
    let d = &by_id(dst)[dest_id];
    for key in [
        "time", "hostname", "username", "uid", "gid", "paths", "tags", "excludes",
    ] {
        assert_eq!(s[key], d[key], "{key} differs: {s} vs {d}");
    }
    assert_eq!(d["time"], "2024-05-01T12:00:00+02:00");
    assert_eq!(d["original"].as_str(), Some(source_id.as_str()));
    assert_eq!(s["summary"], d["summary"]);
    // Another id key names the same content otherwise: a new root tree.
    assert_ne!(s["tree"], d["tree"], "trees must be rewritten between keys");

    restore_and_compare(dst, dest_id, &source);
    dst.ok(args!["check", "--read-data"]);

    // The control for the --copy-chunker-params test: without shared
    // chunking, a direct backup of the same files adds their data again.
    let direct = dst.backup(args![source, "--host", "alpha", "--force"]);
    assert!(field(&direct, "data_blobs") > 0, "{direct}");
}

/// Copying again adds nothing: zero counts, no new pack, index or snapshot
/// file. The copy's parent is the copy of the source's parent.
pub fn copy_twice_adds_nothing(src: &Repo, dst: &Repo) {
    let dir = temp_dir();
    let source = source_tree(dir.path());
    src.backup(args![source]);
    write(&source.join("notes/c.txt"), b"charlie\n");
    src.backup(args![source]);
    let first = copy_json(src, dst, &[]);
    assert_eq!(pairs(&first, "copied").len(), 2, "{first}");
    let before = stored_objects(dst);
    assert_eq!(before.get("snapshots"), Some(&2), "{before:?}");

    let again = copy_json(src, dst, &[]);
    assert!(pairs(&again, "copied").is_empty(), "{again}");
    assert_eq!(count(&again, "blobs_copied"), 0, "{again}");
    assert_eq!(count(&again, "bytes_uploaded"), 0, "{again}");
    let skipped = pairs(&again, "skipped");
    assert_eq!(
        skipped,
        pairs(&first, "copied"),
        "skipped names the earlier copies"
    );
    assert_eq!(stored_objects(dst), before, "a second copy wrote objects");

    // Human output names each snapshot; the destination may come from
    // VAULT_TO_REPOSITORY and its password from VAULT_TO_PASSWORD_FILE.
    let pw_file = dir.path().join("to-password");
    std::fs::write(&pw_file, format!("{}\n", password_of(dst))).unwrap();
    let mut cmd = src.cmd();
    cmd.arg("copy")
        .env("VAULT_TO_REPOSITORY", &dst.url)
        .env("VAULT_TO_PASSWORD_FILE", &pw_file);
    for (k, v) in &dst.envs {
        if k != "VAULT_PASSWORD" {
            cmd.env(k, v);
        }
    }
    let out = output_with_stdin(cmd, None);
    assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches("skipped, already in destination as").count(),
        2,
        "{text}"
    );

    // Parents follow: the second copy's parent is the first copy.
    let copies = pairs(&first, "copied");
    let second = &by_id(dst)[&copies[1].1];
    assert_eq!(second["parent"].as_str(), Some(copies[0].1.as_str()));
    let first_copy = &by_id(dst)[&copies[0].1];
    assert_eq!(first_copy["parent"], Value::Null);
}

/// With --copy-chunker-params: blob ids are equal, trees are copied as they
/// are, an incremental copy uploads only the new data, and a direct backup
/// of the same files into the destination adds no data blob.
pub fn copy_with_shared_chunking(src: &Repo, dst: &Repo) {
    let dir = temp_dir();
    let source = source_tree(dir.path());
    src.backup(args![source]);
    let first = copy_json(src, dst, args!["latest"]);
    let (s1, d1) = pairs(&first, "copied")[0].clone();
    assert_eq!(
        by_id(src)[&s1]["tree"],
        by_id(dst)[&d1]["tree"],
        "equal id keys keep the tree id"
    );

    write(&source.join("notes/new.bin"), &random_bytes(7, 100_000));
    src.backup(args![source]);
    let second = copy_json(src, dst, args!["latest"]);
    assert_eq!(pairs(&second, "copied").len(), 1, "{second}");
    let (b1, b2) = (
        count(&first, "bytes_uploaded"),
        count(&second, "bytes_uploaded"),
    );
    assert!(b1 > 7_000_000, "{first}");
    assert!(
        b2 * 20 < b1,
        "the second copy uploaded {b2} bytes, the first {b1}: only new blobs should go"
    );
    assert_eq!(count(&second, "data_blobs_copied"), 1, "{second}");
    restore_and_compare(dst, "latest", &source);

    let direct = dst.backup(args![source, "--force"]);
    assert!(
        field(&direct, "total_bytes_processed") > 7_000_000,
        "{direct}"
    );
    assert_eq!(field(&direct, "data_blobs"), 0, "{direct}");
    dst.ok(args!["check", "--read-data"]);
}

/// Snapshot arguments and filters choose what is copied.
pub fn copy_selected_snapshots(src: &Repo, dst: &Repo) {
    let dir = temp_dir();
    let source = dir.path().join("s");
    let mut ids = Vec::new();
    for (i, tag) in ["a", "b", "c"].iter().enumerate() {
        write(&source.join(format!("{tag}.txt")), tag.as_bytes());
        let time = format!("2024-01-0{}T00:00:00Z", i + 1);
        let s = src.backup(args![source, "--tag", tag, "--time", time]);
        ids.push(s["snapshot_id"].as_str().unwrap().to_owned());
    }
    let originals = |dst: &Repo| -> Vec<String> {
        dst.snapshots()
            .iter()
            .map(|s| s["original"].as_str().unwrap().to_owned())
            .collect()
    };
    let doc = copy_json(src, dst, args!["latest"]);
    assert_eq!(pairs(&doc, "copied")[0].0, ids[2]);
    assert_eq!(originals(dst), [ids[2].clone()]);
    // Its parent was not copied: no parent in the destination.
    assert_eq!(dst.snapshots()[0]["parent"], Value::Null);

    copy_json(src, dst, args![&ids[0][..8]]);
    assert_eq!(originals(dst), [ids[0].clone(), ids[2].clone()]);

    let doc = copy_json(src, dst, args!["--tag", "b"]);
    assert_eq!(
        pairs(&doc, "copied"),
        [(ids[1].clone(), pairs(&doc, "copied")[0].1.clone())]
    );
    assert_eq!(originals(dst), ids);

    // A copy of a copy still counts as the same snapshot.
    let doc = copy_json(dst, src, &[]);
    assert!(pairs(&doc, "copied").is_empty(), "{doc}");
    assert_eq!(pairs(&doc, "skipped").len(), 3, "{doc}");
}

/// A wrong destination password exits 12, a missing destination 10, each
/// with one line on stderr, and nothing is written.
pub fn copy_refusals(src: &Repo, dst: &Repo) {
    let dir = temp_dir();
    write(&dir.path().join("f"), b"data");
    src.backup(args![dir.path()]);
    let before = dst.objects();

    let mut cmd = src.cmd();
    let pw_file = dir.path().join("wrong-pw");
    std::fs::write(&pw_file, "not the password\n").unwrap();
    cmd.arg("copy")
        .arg("--to")
        .arg(&dst.url)
        .arg("--to-password-file")
        .arg(&pw_file)
        // The flag wins over the environment.
        .env("VAULT_TO_PASSWORD", password_of(dst));
    let out = output_with_stdin(cmd, None);
    assert_error(&out, 12);
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong password"));
    assert_eq!(dst.objects(), before);

    let missing: OsString = dir.path().join("no-such-repo").into_os_string();
    let mut cmd = src.cmd();
    cmd.arg("copy")
        .arg("--to")
        .arg(&missing)
        .env("VAULT_TO_PASSWORD", "x");
    let out = output_with_stdin(cmd, None);
    assert_error(&out, 10);

    let out = src.run(args!["copy"]);
    assert_error(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--to"));
}

// ---------------------------------------------------------------- tests

#[test]
fn copy_between_different_keys_restores_checks_and_keeps_metadata() {
    copy_roundtrip(&Repo::new(), &repo_with_password("another password"));
}

#[test]
fn copy_twice_adds_nothing_and_maps_parents() {
    copy_twice_adds_nothing(&Repo::new(), &repo_with_password("another password"));
}

#[test]
fn copy_with_copy_chunker_params_uploads_only_new_blobs() {
    let src = Repo::new();
    let dst = uninitialised_with_password("another password");
    init_like(&dst, &src);
    copy_with_shared_chunking(&src, &dst);
}

#[test]
fn copy_selects_by_id_latest_and_tag() {
    copy_selected_snapshots(&Repo::new(), &repo_with_password("another password"));
}

#[test]
fn copy_wrong_destination_password_and_missing_destination_are_refused() {
    copy_refusals(&Repo::new(), &repo_with_password("another password"));
}

#[test]
fn copy_to_locked_destination_exits_11() {
    let src = Repo::new();
    let dst = repo_with_password("another password");
    let dir = temp_dir();
    write(&dir.path().join("f"), b"data");
    src.backup(args![dir.path()]);
    let backend = engine::Backend::open(dst.url.to_str().unwrap()).unwrap();
    let engine_dst = engine::Repository::open(backend, b"another password").unwrap();
    let _guard = engine::repository::lock::acquire(
        &engine_dst,
        engine::repository::lock::LockKind::Exclusive,
        "prune",
        std::time::Duration::ZERO,
    )
    .unwrap();
    let out = run_copy(&src, &dst, &[]);
    assert_error(&out, 11);
    // The lock is still held: list without taking one.
    let out = dst.ok(args!["--no-lock", "list", "snapshots"]);
    assert!(out.stdout.is_empty(), "a refused copy wrote a snapshot");
}

#[test]
fn init_copy_chunker_params_needs_from_and_its_password() {
    let src = Repo::new();
    let dst = Repo::uninitialised();
    let out = dst.run(args!["init", "--copy-chunker-params"]);
    assert_error(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from"));
    let out = dst.run(args!["init", "--from", src.url]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let mut cmd = dst.cmd();
    cmd.args(["init", "--copy-chunker-params", "--from"])
        .arg(&src.url)
        .env("VAULT_FROM_PASSWORD", "wrong");
    let out = output_with_stdin(cmd, None);
    assert_error(&out, 12);
    // Nothing was created: there is still no repository.
    assert_error(&dst.run(args!["snapshots"]), 10);
}

/// The attack of the review: a hostile source repository holds a snapshot
/// whose `original` names a legitimate snapshot of another repository
/// (snapshot ids are public: they are file names), dated before it. Copying
/// from the hostile repository first, or from a shared source where the
/// forgery sits beside the real one, made the destination skip the real
/// snapshot as "already in destination" and keep the attacker's content
/// in its place. A destination now records what each copy read, and a
/// source's claim can match nothing but its own snapshot.
#[test]
fn attack_a_snapshot_claiming_another_as_its_original_suppresses_nothing() {
    use crate::common::forge::{Forger, dir, file};

    let legit = Repo::new();
    let hostile = Repo::new();
    let dst = repo_with_password("another password");
    let src_dir = temp_dir();
    let source = source_tree(src_dir.path());
    legit.backup(args![source]);
    let real = legit.snapshots()[0]["id"].as_str().unwrap().to_owned();
    let real_id = engine::repo_format::SnapshotId::from_hex(&real).unwrap();

    // The forgery, in the hostile repository and in the legitimate one
    // (another host of it), each dated before the real snapshot.
    let forge = |repo: &Repo| {
        let forger = Forger::open(repo);
        let planted = forger.data(b"the attacker's content\n");
        let root = forger.tree(vec![dir(
            b"site",
            forger.tree(vec![file(b"planted.txt", 23, vec![planted])]),
        )]);
        forger.snapshot(root, |s| {
            s.original = Some(real_id);
            s.time.secs -= 3600;
        })
    };
    forge(&hostile);
    forge(&legit);

    let doc = copy_json(&hostile, &dst, &[]);
    assert_eq!(pairs(&doc, "copied").len(), 1, "{doc}");
    let doc = copy_json(&legit, &dst, &[]);
    let copied = pairs(&doc, "copied");
    assert_eq!(
        copied.len(),
        2,
        "both of the shared source's are copied: {doc}"
    );
    let copy_of_real = copied
        .iter()
        .find(|(from, _)| *from == real)
        .unwrap_or_else(|| panic!("the real snapshot was copied: {doc}"))
        .1
        .clone();
    restore_and_compare(&dst, &copy_of_real, &source);
    dst.ok(args!["check", "--read-data"]);

    // Copying again adds nothing, and copying back is recognised: the real
    // snapshot's copy is skipped as the real snapshot itself.
    let again = copy_json(&legit, &dst, &[]);
    assert!(pairs(&again, "copied").is_empty(), "{again}");
    let back = copy_json(&dst, &legit, &[]);
    assert!(
        pairs(&back, "skipped").contains(&(copy_of_real.clone(), real.clone())),
        "{back}"
    );
}
