//! Corruption injection: every kind of object is flipped, truncated or
//! deleted, and `check` must name the damaged object, exit 1 and never
//! panic. Restore of an undamaged file from a damaged repository still works.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use tempfile::TempDir;

use crate::args;
use crate::common::*;

/// A repository with two snapshots of `src`: the first of `keep.txt` and
/// `sub/small.txt`, the second (incremental) adds `big.bin`, so the packs
/// written by the second backup hold only `big.bin`'s data and the second
/// snapshot's trees.
pub struct Fixture {
    pub repo: Repo,
    pub tmp: TempDir,
    pub src: PathBuf,
    /// Packs of the second backup.
    pub new_packs: Vec<PathBuf>,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with_big(6 << 20)
    }

    /// The fixture with a `big.bin` of `len` bytes. Over four times the
    /// pack size (8 MiB), some packs fill up and are written before the
    /// trees are saved: they hold data only.
    pub fn with_big(len: usize) -> Fixture {
        // The damage is done to the repository's files: always local.
        let repo = Repo::local();
        let tmp = temp_dir();
        let src = tmp.path().join("src");
        write(&src.join("keep.txt"), b"an undamaged file\n");
        write(&src.join("sub/small.txt"), &random_bytes(3, 20_000));
        repo.backup(args![src]);
        let before = files_under(&repo, "data");
        write(&src.join("big.bin"), &random_bytes(4, len));
        repo.backup(args![src]);
        let new_packs = files_under(&repo, "data")
            .into_iter()
            .filter(|p| !before.contains(p))
            .collect();
        Fixture {
            repo,
            tmp,
            src,
            new_packs,
        }
    }

    /// A new pack holding a blob of `kind` ("Data" or "Tree"), and that blob.
    pub fn new_pack_with(&self, kind: &str) -> (PathBuf, Value) {
        for pack in &self.new_packs {
            if let Some(blob) = pack_blobs(&self.repo, pack)
                .into_iter()
                .find(|b| b["kind"] == kind)
            {
                return (pack.clone(), blob);
            }
        }
        panic!("no pack of the second backup holds a {kind} blob");
    }
}

/// Every file below `dir` of the repository, sorted.
pub fn files_under(repo: &Repo, dir: &str) -> BTreeSet<PathBuf> {
    fn go(dir: &Path, out: &mut BTreeSet<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = e.expect("entry").path();
            if p.is_dir() {
                go(&p, out);
            } else {
                out.insert(p);
            }
        }
    }
    let mut out = BTreeSet::new();
    go(&repo.path.join(dir), &mut out);
    out
}

/// The only file below `dir`.
pub fn only_file(repo: &Repo, dir: &str) -> PathBuf {
    let files = files_under(repo, dir);
    assert_eq!(files.len(), 1, "expected one file under {dir}: {files:?}");
    files.into_iter().next().expect("one file")
}

/// The header entries of a pack, from `vault cat pack`.
pub fn pack_blobs(repo: &Repo, pack: &Path) -> Vec<Value> {
    let name = pack
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let out = repo.ok(args!["cat", "pack", name]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("cat pack prints JSON");
    v["blobs"].as_array().expect("blobs").clone()
}

/// The path of an object relative to the repository, as check names it.
pub fn object_name(repo: &Repo, path: &Path) -> String {
    path.strip_prefix(&repo.path)
        .expect("inside the repository")
        .to_string_lossy()
        .into_owned()
}

/// What to do to a file.
#[derive(Clone, Copy, Debug)]
pub enum Damage {
    /// Flip one bit of the byte at this offset.
    Flip(u64),
    /// Flip one bit of the middle byte.
    FlipMiddle,
    /// Cut the file to half its length.
    Truncate,
    /// Remove it.
    Delete,
}

pub fn damage(path: &Path, how: Damage) {
    let mut perms = fs::metadata(path).expect("metadata").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(path, perms).expect("make writable");
    let mut bytes = fs::read(path).expect("read object");
    match how {
        Damage::Flip(at) => bytes[at as usize] ^= 0x10,
        Damage::FlipMiddle => {
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0x10;
        }
        Damage::Truncate => bytes.truncate(bytes.len() / 2),
        Damage::Delete => {
            fs::remove_file(path).expect("delete object");
            return;
        }
    }
    fs::write(path, bytes).expect("write damaged object");
}

/// `check --json ARGS`, parsed, with no panic.
pub fn check_json(repo: &Repo, extra: &[&str]) -> (Output, Value) {
    let mut all = vec!["check", "--json"];
    all.extend_from_slice(extra);
    let args: Vec<&std::ffi::OsStr> = all.iter().map(std::ffi::OsStr::new).collect();
    let out = repo.run(&args);
    assert_no_panic(&out);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "check --json is not one JSON document ({e})\n{}",
            describe(&out)
        )
    });
    (out, v)
}

/// Asserts that `check ARGS` fails (exit 1, one summary line on stderr,
/// no panic), that one of its errors names `object`, and that the human
/// output names it too. Returns the JSON report.
#[track_caller]
pub fn assert_check_names(repo: &Repo, extra: &[&str], object: &str) -> Value {
    let (out, v) = check_json(repo, extra);
    assert_error(&out, 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("check found") && stderr.contains("see above"),
        "stderr must summarise\n{}",
        describe(&out)
    );
    assert_eq!(v["ok"], false);
    let errors = v["errors"].as_array().expect("errors");
    assert!(
        errors
            .iter()
            .any(|e| e["object"].as_str().is_some_and(|o| o.contains(object))),
        "no error names {object}\n{}",
        describe(&out)
    );
    let mut all = vec!["check"];
    all.extend_from_slice(extra);
    let args: Vec<&std::ffi::OsStr> = all.iter().map(std::ffi::OsStr::new).collect();
    let human = repo.run(&args);
    assert_error(&human, 1);
    assert!(
        String::from_utf8_lossy(&human.stdout).contains(object),
        "human output must name {object}\n{}",
        describe(&human)
    );
    v
}

/// Whether the report's `list` ("errors" or "info") has an entry of `kind`.
pub fn has(report: &Value, list: &str, kind: &str) -> bool {
    report[list]
        .as_array()
        .is_some_and(|l| l.iter().any(|e| e["kind"] == kind))
}

/// Damages `path`, then asserts that check names it with an error of `kind`.
#[track_caller]
pub fn assert_damage_named(f: &Fixture, path: &Path, how: Damage, kind: &str) -> Value {
    damage(path, how);
    let v = assert_check_names(&f.repo, &[], &object_name(&f.repo, path));
    assert!(has(&v, "errors", kind), "no error of kind {kind}: {v}");
    v
}

/// Every path that the errors of a report say is damaged.
pub fn damaged_paths(report: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in report["errors"].as_array().into_iter().flatten() {
        for s in e["snapshots"].as_array().into_iter().flatten() {
            for p in s["paths"].as_array().into_iter().flatten() {
                out.insert(p.as_str().expect("path").to_owned());
            }
        }
    }
    out
}

// ---- config ------------------------------------------------------------

#[test]
fn corruption_config_flipped_is_reported() {
    let f = Fixture::new();
    assert_damage_named(
        &f,
        &f.repo.path.join("config"),
        Damage::FlipMiddle,
        "config",
    );
}

#[test]
fn corruption_config_truncated_is_reported() {
    let f = Fixture::new();
    assert_damage_named(&f, &f.repo.path.join("config"), Damage::Truncate, "config");
}

#[test]
fn corruption_config_deleted_is_reported() {
    let f = Fixture::new();
    assert_damage_named(&f, &f.repo.path.join("config"), Damage::Delete, "config");
}

// ---- key ---------------------------------------------------------------

#[test]
fn corruption_key_flipped_is_reported() {
    let f = Fixture::new();
    assert_damage_named(&f, &only_file(&f.repo, "keys"), Damage::FlipMiddle, "key");
}

#[test]
fn corruption_key_truncated_is_reported() {
    let f = Fixture::new();
    assert_damage_named(&f, &only_file(&f.repo, "keys"), Damage::Truncate, "key");
}

#[test]
fn corruption_key_deleted_is_reported() {
    let f = Fixture::new();
    damage(&only_file(&f.repo, "keys"), Damage::Delete);
    let v = assert_check_names(&f.repo, &[], "keys");
    assert_eq!(v["errors"][0]["kind"], "no_key");
}

// ---- index -------------------------------------------------------------

fn newest_index(f: &Fixture) -> PathBuf {
    // The second backup's index lists the packs of big.bin.
    let files = files_under(&f.repo, "index");
    assert_eq!(files.len(), 2, "one index file per backup: {files:?}");
    files
        .into_iter()
        .max_by_key(|p| {
            fs::metadata(p)
                .expect("metadata")
                .modified()
                .expect("mtime")
        })
        .expect("an index file")
}

#[test]
fn corruption_index_flipped_is_reported_and_the_rest_still_checked() {
    let f = Fixture::new();
    let v = assert_damage_named(&f, &newest_index(&f), Damage::FlipMiddle, "index");
    // The packs only it listed are reported as not indexed, and the repair
    // command is named.
    assert!(has(&v, "info", "pack_not_indexed"), "{v}");
    assert_eq!(v["repair"][0], "vault repair index");
}

#[test]
fn corruption_index_truncated_is_reported() {
    let f = Fixture::new();
    assert_damage_named(&f, &newest_index(&f), Damage::Truncate, "index");
}

#[test]
fn corruption_index_deleted_is_reported_as_missing_blobs() {
    let f = Fixture::new();
    damage(&newest_index(&f), Damage::Delete);
    // The deleted file cannot be named; what it described can: the trees
    // and data of the second snapshot are in no index.
    let v = assert_check_names(&f.repo, &[], "blob");
    assert!(
        v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["kind"] == "blob_missing")
    );
    assert!(
        damaged_paths(&v)
            .iter()
            .any(|p| p.ends_with("big.bin") || p == "/")
    );
}

// ---- snapshot ----------------------------------------------------------

fn newest_snapshot_file(f: &Fixture) -> PathBuf {
    let id = f.repo.snapshots().last().expect("snapshot")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    f.repo.path.join("snapshots").join(id)
}

#[test]
fn corruption_snapshot_flipped_is_reported() {
    let f = Fixture::new();
    assert_damage_named(
        &f,
        &newest_snapshot_file(&f),
        Damage::FlipMiddle,
        "snapshot",
    );
}

#[test]
fn corruption_snapshot_truncated_is_reported() {
    let f = Fixture::new();
    assert_damage_named(&f, &newest_snapshot_file(&f), Damage::Truncate, "snapshot");
}

#[test]
fn corruption_snapshot_deleted_leaves_only_unreferenced_data() {
    // Deleting a snapshot is what forget does: not damage. What it
    // referenced alone is reported as information; check passes.
    let f = Fixture::new();
    damage(&newest_snapshot_file(&f), Damage::Delete);
    let (out, v) = check_json(&f.repo, &[]);
    assert_success(&out);
    assert_eq!(v["ok"], true);
    assert!(has(&v, "info", "unused_blobs"), "{v}");
}

/// One damaged snapshot object stops nothing but itself: `snapshots` lists
/// the others with one warning line naming it, `latest` and a backup's
/// parent skip it, `check` still fails and names it, and `repair snapshots
/// --forget` removes it. Tried with it cut in half and with a bit flipped.
#[test]
fn a_damaged_snapshot_stops_no_listing_restore_or_backup() {
    for how in [Damage::Truncate, Damage::FlipMiddle] {
        let f = Fixture::new();
        let file = newest_snapshot_file(&f);
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let short = &name[..8];
        damage(&file, how);
        let warned = |out: &Output| {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let lines: Vec<&str> = stderr.lines().filter(|l| l.contains(short)).collect();
            assert_eq!(lines.len(), 1, "one line names it\n{}", describe(out));
            assert!(lines[0].starts_with("warning: "), "{}", describe(out));
        };

        let out = f.repo.ok(args!["snapshots"]);
        warned(&out);
        let listed = f.repo.snapshots();
        assert_eq!(listed.len(), 1, "the other snapshot is listed");
        assert_ne!(listed[0]["id"].as_str().unwrap(), name);

        // latest is the undamaged, older snapshot: no big.bin.
        let target = f.tmp.path().join(format!("restored-{}", short));
        let out = f.repo.ok(args!["restore", "latest", "--target", target]);
        warned(&out);
        let base = restored(&target, &f.src);
        assert_eq!(
            fs::read(base.join("keep.txt")).unwrap(),
            b"an undamaged file\n"
        );
        assert!(!base.join("big.bin").exists());

        // A backup chooses its parent among the others and goes on.
        let out = f.repo.ok(args!["backup", f.src]);
        warned(&out);
        assert_eq!(f.repo.snapshots().len(), 2);

        let out = f.repo.run(args!["check"]);
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(short)
                || String::from_utf8_lossy(&out.stderr).contains(short),
            "check names it\n{}",
            describe(&out)
        );

        // Prune cannot know what it reaches: it stops, deleting nothing.
        let packs = files_under(&f.repo, "data");
        let out = f.repo.run(args!["prune"]);
        assert_error(&out, 1);
        assert!(String::from_utf8_lossy(&out.stderr).contains(short));
        assert_eq!(files_under(&f.repo, "data"), packs);

        f.repo.ok(args!["repair", "snapshots", "--forget"]);
        assert!(!file.exists(), "repair snapshots --forget removed it");
        let (out, v) = check_json(&f.repo, &[]);
        assert_success(&out);
        assert_eq!(v["ok"], true, "{v}");
    }
}

// ---- pack ----------------------------------------------------------------

fn flip_inside(pack: &Path, blob: &Value) {
    let offset = blob["offset"].as_u64().expect("offset");
    let length = blob["length"].as_u64().expect("length");
    damage(pack, Damage::Flip(offset + length / 2));
}

#[test]
fn corruption_pack_data_blob_flipped_is_caught_by_read_data_only() {
    let f = Fixture::new();
    let (pack, blob) = f.new_pack_with("Data");
    flip_inside(&pack, &blob);
    // The structure is intact: plain check cannot see inside blobs.
    let (out, v) = check_json(&f.repo, &[]);
    assert_success(&out);
    assert_eq!(v["ok"], true);
    // Reading the data finds it and names the pack, the blob and the file.
    let v = assert_check_names(&f.repo, &["--read-data"], &object_name(&f.repo, &pack));
    let id = blob["id"].as_str().expect("blob id");
    let error = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["blob"] == id)
        .unwrap_or_else(|| panic!("no error names blob {id}: {v}"));
    assert_eq!(error["kind"], "blob_damaged");
    let snapshot = f.repo.snapshots().last().unwrap()["id"].clone();
    assert_eq!(error["snapshots"][0]["id"], snapshot);
    let big = f.src.join("big.bin").display().to_string();
    assert_eq!(error["snapshots"][0]["paths"], serde_json::json!([big]));
}

#[test]
fn corruption_pack_tree_blob_flipped_is_reported() {
    let f = Fixture::new();
    let (pack, blob) = f.new_pack_with("Tree");
    flip_inside(&pack, &blob);
    let v = assert_check_names(&f.repo, &[], &object_name(&f.repo, &pack));
    let id = blob["id"].as_str().expect("blob id");
    assert!(
        v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["blob"] == id && e["kind"] == "blob_damaged"),
        "the damaged tree is named: {v}"
    );
}

#[test]
fn corruption_pack_header_flipped_is_reported() {
    let f = Fixture::new();
    let pack = f.new_packs[0].clone();
    let size = fs::metadata(&pack).unwrap().len();
    // Ten bytes before the end: inside the sealed header's tag.
    assert_damage_named(&f, &pack, Damage::Flip(size - 10), "pack_header");
}

#[test]
fn corruption_pack_truncated_is_reported() {
    let f = Fixture::new();
    assert_damage_named(&f, &f.new_packs[0], Damage::Truncate, "pack_size");
}

#[test]
fn corruption_pack_deleted_is_reported_with_the_damaged_paths() {
    let f = Fixture::new();
    let (pack, _) = f.new_pack_with("Data");
    damage(&pack, Damage::Delete);
    let v = assert_check_names(&f.repo, &[], &object_name(&f.repo, &pack));
    let error = &v["errors"][0];
    assert_eq!(error["kind"], "pack_missing");
    assert!(
        error["repair"]
            .as_str()
            .unwrap()
            .contains("vault repair index")
    );
    assert!(
        !damaged_paths(&v).is_empty(),
        "the damaged paths are named: {v}"
    );
    // The undamaged first snapshot is not among the damaged ones.
    let first = f.repo.snapshots()[0]["id"].clone();
    for e in v["errors"].as_array().unwrap() {
        for s in e["snapshots"].as_array().unwrap() {
            assert_ne!(
                s["id"], first,
                "the first snapshot holds nothing of the lost pack"
            );
        }
    }
}

// ---- ledger --------------------------------------------------------------

#[test]
fn corruption_ledger_flipped_is_reported() {
    let f = Fixture::new();
    let (out, _) = check_json(&f.repo, &["--read-data-subset", "50%"]);
    assert_success(&out);
    assert_damage_named(
        &f,
        &only_file(&f.repo, "ledger"),
        Damage::FlipMiddle,
        "ledger",
    );
    // The next check that reads data replaces it.
    let (out, _) = check_json(&f.repo, &["--read-data-subset", "50%"]);
    assert_error(&out, 1);
    let (out, _) = check_json(&f.repo, &[]);
    assert_success(&out);
}

// ---- restore from a damaged repository -------------------------------------

#[test]
fn restore_of_undamaged_files_from_a_damaged_repository_works() {
    let f = Fixture::new();
    let (pack, blob) = f.new_pack_with("Data");
    flip_inside(&pack, &blob);
    let keep = f.src.join("keep.txt");
    let small = f.src.join("sub/small.txt");

    // Only the undamaged file: succeeds.
    let target = f.tmp.path().join("one");
    f.repo.ok(args![
        "restore",
        "latest",
        "--target",
        target,
        "--include",
        keep
    ]);
    assert!(same_content(&keep, &restored(&target, &keep)));

    // The whole snapshot: fails, names the damaged file, restores the rest.
    let target = f.tmp.path().join("all");
    let out = f.repo.run(args!["restore", "latest", "--target", target]);
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    assert_no_panic(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("big.bin"));
    assert!(same_content(&keep, &restored(&target, &keep)));
    assert!(same_content(&small, &restored(&target, &small)));
}

#[test]
fn restore_with_a_damaged_index_file_warns_and_restores_what_other_index_files_reach() {
    let f = Fixture::new();
    let first = f.repo.snapshots()[0]["id"].as_str().unwrap().to_owned();
    // The second backup's index file: the first snapshot does not need it.
    damage(&newest_index(&f), Damage::Truncate);
    let target = f.tmp.path().join("t");
    let out = f.repo.ok(args!["restore", first, "--target", target]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: index file") && stderr.contains("vault check"),
        "{}",
        describe(&out)
    );
    for file in ["keep.txt", "sub/small.txt"] {
        let source = f.src.join(file);
        assert!(same_content(&source, &restored(&target, &source)));
    }
}

// ---- the sweep: every kind, random damage, replacement ----------------------

/// The objects of one kind in the fixture (packs: those of the second
/// backup, which hold `big.bin` and its trees).
fn objects_of(f: &Fixture, kind: &str) -> Vec<PathBuf> {
    match kind {
        "data" => f.new_packs.clone(),
        dir => files_under(&f.repo, dir).into_iter().collect(),
    }
}

/// One damage of the sweep, with the seed that chose its place.
fn sweep_damage(f: &Fixture, kind: &str, how: &str, seed: u64) -> PathBuf {
    let mut rng = Rng::new(seed);
    let objects = objects_of(f, kind);
    let victim = objects[rng.below(objects.len() as u64) as usize].clone();
    let len = fs::metadata(&victim).expect("metadata").len();
    match how {
        "flip" => damage(&victim, Damage::Flip(rng.below(len))),
        "truncate" => {
            let keep = rng.below(len) as usize;
            let bytes = fs::read(&victim).expect("read");
            fs::write(&victim, &bytes[..keep]).expect("truncate");
        }
        "delete" => damage(&victim, Damage::Delete),
        "replace" => {
            // Another valid object of the same kind, under this one's name.
            let all = match kind {
                "data" => files_under(&f.repo, "data").into_iter().collect(),
                _ => objects.clone(),
            };
            let other = all
                .iter()
                .find(|o| **o != victim)
                .unwrap_or_else(|| panic!("seed {seed}: one {kind} object only"));
            fs::write(&victim, fs::read(other).expect("read")).expect("replace");
        }
        _ => unreachable!("{how}"),
    }
    victim
}

/// Whatever the damage: `check --read-data` fails naming the object (a
/// deleted pack or index is named by what goes missing), and `restore`
/// either restores a file byte-exact or names it in its errors; nothing
/// panics.
fn sweep(how: &str) {
    let mut tried = 0;
    for kind in ["keys", "index", "snapshots", "data"] {
        if kind == "keys" && how == "delete" {
            // Removing a key file is what `key remove` does: not damage.
            continue;
        }
        for seed in 1..=2u64 {
            let f = Fixture::with_big(1 << 20);
            if kind == "keys" {
                // A second key, so that the damaged one is not the only way in.
                let pw = f.tmp.path().join("pw2");
                fs::write(&pw, "another password\n").expect("write");
                f.repo.ok(args!["key", "add", "--new-password-file", pw]);
            }
            let victim = sweep_damage(&f, kind, how, seed * 7919);
            tried += 1;
            let name = object_name(&f.repo, &victim);
            let (out, v) = check_json(&f.repo, &["--read-data"]);
            let context = format!("{how} {name} (seed {seed}): {}", describe(&out));
            if how == "delete" && kind == "snapshots" {
                // Forgetting deletes snapshots too: what is left is data
                // no snapshot uses, which check reports for prune.
                assert_eq!(out.status.code(), Some(0), "{context}");
                assert!(has(&v, "info", "unused_blobs"), "{context}");
                continue;
            }
            assert_eq!(out.status.code(), Some(1), "{context}");
            let named = v["errors"].as_array().expect("errors").iter().any(|e| {
                e["object"].as_str().is_some_and(|o| o.contains(&name))
                    || (how == "delete" && !e["snapshots"].is_null())
            });
            assert!(named, "no error names the damage: {context}");

            let target = f.tmp.path().join("restored");
            let out = f.repo.run(args!["restore", "latest", "--target", target]);
            assert_no_panic(&out);
            let stderr = String::from_utf8_lossy(&out.stderr);
            for file in ["keep.txt", "sub/small.txt", "big.bin"] {
                let want = f.src.join(file);
                let got = restored(&target, &want);
                if got.exists() && !same_content(&want, &got) {
                    assert!(
                        out.status.code() != Some(0) && stderr.contains(file),
                        "{file} restored wrong and not reported: {how} {name} (seed {seed})\n{}",
                        describe(&out)
                    );
                }
            }
        }
    }
    eprintln!("corruption sweep ({how}): {tried} damages, every one caught");
}

#[test]
fn corruption_sweep_random_bit_flips() {
    sweep("flip");
}

#[test]
fn corruption_sweep_random_truncations() {
    sweep("truncate");
}

#[test]
fn corruption_sweep_deletions() {
    sweep("delete");
}

#[test]
fn corruption_sweep_replacement_by_another_valid_object_of_the_same_kind() {
    sweep("replace");
}
