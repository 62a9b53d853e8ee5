//! The local metadata cache (`--cache-dir`, `--no-cache`): repeated reads
//! and incremental backups download no metadata, damaged cache files are
//! found and replaced, objects removed by another process leave the cache,
//! and a cache that cannot be written never fails a command.
//!
//! Each scenario is a function of the fixture, so that it runs against any
//! store the fixture can name (a local directory here; S3 where the server
//! tests provide one). The tests observe the cache through the line that
//! `-v` prints on stderr: `cache: H hits, D downloads (DIR)`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::args;
use crate::common::*;

/// What a command's `cache:` line says.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CacheLine {
    pub hits: u64,
    pub downloads: u64,
    pub damaged: u64,
}

/// The lines of a command's stderr that start with `prefix`.
fn stderr_lines(out: &Output, prefix: &str) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

/// The `cache:` lines of a command's stderr.
fn cache_lines(out: &Output) -> Vec<String> {
    stderr_lines(out, "cache: ")
}

/// The warning lines of a command's stderr.
fn warnings(out: &Output) -> Vec<String> {
    stderr_lines(out, "warning:")
}

/// The one `cache:` line of a command, parsed; it must name `cache`.
#[track_caller]
pub fn cache_line(out: &Output, cache: &Path) -> CacheLine {
    let lines = cache_lines(out);
    assert_eq!(lines.len(), 1, "want one cache line\n{}", describe(out));
    let line = &lines[0];
    assert!(
        line.contains(&cache.display().to_string()),
        "the cache line must name {}\n{line}",
        cache.display()
    );
    let number = |word: &str| {
        let words: Vec<&str> = line.split([' ', ',']).collect();
        words
            .iter()
            .position(|w| *w == word)
            .map_or(0, |i| words[i - 1].parse::<u64>().expect("a count"))
    };
    CacheLine {
        hits: number("hits"),
        downloads: number("downloads"),
        damaged: number("damaged"),
    }
}

/// Runs `vault -v --cache-dir CACHE ARGS...`, asserts success, and returns
/// the output with its cache line.
#[track_caller]
fn cached(repo: &Repo, cache: &Path, args: &[&std::ffi::OsStr]) -> (Output, CacheLine) {
    let mut all = args!["-v", "--cache-dir", cache].to_vec();
    all.extend_from_slice(args);
    let out = repo.ok(&all);
    let line = cache_line(&out, cache);
    (out, line)
}

/// A small tree of a few directories and files.
fn source() -> (tempfile::TempDir, PathBuf) {
    let tmp = temp_dir();
    let src = tmp.path().join("src");
    for i in 0..6u64 {
        write(
            &src.join(format!("d{}/e{}/f{i}.bin", i % 3, i % 2)),
            &random_bytes(i + 1, 2000 * i as usize),
        );
    }
    (tmp, src)
}

/// The one repository directory below a cache root.
#[track_caller]
fn repo_dir(cache: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = fs::read_dir(cache)
        .unwrap_or_else(|e| panic!("read {}: {e}", cache.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "one repository in {}", cache.display());
    dirs[0].clone()
}

/// Every file below `dir` (the entries of one kind in the cache).
fn entries(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .map(|rel| dir.join(rel))
        .filter(|p| p.is_file())
        .collect()
}

fn snapshot_ids(out: &Output) -> Vec<String> {
    json_values(&out.stdout)
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_owned())
        .collect()
}

/// A second `snapshots`, `ls` and incremental backup download nothing.
pub fn scenario_repeated_reads_download_no_metadata(repo: &Repo, cache: &Path, src: &Path) {
    repo.backup(args![src]);
    // A cache that has never seen the repository downloads, once.
    let (_, first) = cached(repo, cache, args!["snapshots"]);
    assert!(first.downloads >= 1, "{first:?}");
    let (_, again) = cached(repo, cache, args!["snapshots"]);
    assert_eq!(again.downloads, 0, "{again:?}");
    assert!(again.hits >= 1, "{again:?}");

    let (listed, first) = cached(repo, cache, args!["ls", "latest", "--recursive", "--json"]);
    assert!(first.downloads >= 1, "trees were not cached yet: {first:?}");
    let (listed_again, again) = cached(repo, cache, args!["ls", "latest", "--recursive", "--json"]);
    assert_eq!(again.downloads, 0, "{again:?}");
    assert!(again.hits >= 5, "index, snapshot and trees: {again:?}");
    assert_eq!(listed.stdout, listed_again.stdout);

    write(&src.join("d0/new.txt"), b"a new file\n");
    let (out, backup) = cached(repo, cache, args!["backup", "--json", src]);
    assert_eq!(backup.downloads, 0, "{backup:?}");
    assert_eq!(field(&summary(&out), "files_new"), 1);
    // What the backup wrote went into the cache as it went to the store.
    let (_, after) = cached(repo, cache, args!["ls", "latest", "--recursive"]);
    assert_eq!(after.downloads, 0, "{after:?}");
}

/// Flipped and truncated cache files are refused, fetched again, and the
/// command's output is what the repository holds.
pub fn scenario_damaged_cache_files_are_replaced(repo: &Repo, cache: &Path, src: &Path) {
    repo.backup(args![src]);
    let ls = args!["ls", "latest", "--recursive", "--json"];
    cached(repo, cache, ls);
    let dir = repo_dir(cache);
    let snapshot = entries(&dir.join("snapshots")).remove(0);
    let index = entries(&dir.join("index")).remove(0);
    let trees = entries(&dir.join("trees"));
    assert!(trees.len() >= 3, "{trees:?}");
    let tree = trees[trees.len() / 2].clone();
    let originals: Vec<(PathBuf, Vec<u8>)> = [&snapshot, &index, &tree]
        .iter()
        .map(|p| ((*p).clone(), fs::read(p).unwrap()))
        .collect();
    for path in [&snapshot, &tree] {
        let mut bytes = fs::read(path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x04;
        fs::write(path, bytes).unwrap();
    }
    let bytes = fs::read(&index).unwrap();
    fs::write(&index, &bytes[..bytes.len() / 2]).unwrap();

    let (out, line) = cached(repo, cache, ls);
    assert_eq!(
        line,
        CacheLine {
            hits: line.hits,
            downloads: 3,
            damaged: 3
        }
    );
    let truth = repo.ok(&[args!["--no-cache"], ls].concat());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&truth.stdout)
    );
    for (path, bytes) in originals {
        assert!(
            fs::read(&path).unwrap() == bytes,
            "{} was not repaired",
            path.display()
        );
    }
    let (_, again) = cached(repo, cache, ls);
    assert_eq!((again.downloads, again.damaged), (0, 0), "{again:?}");
}

/// A snapshot that another process forgets (and index files that its
/// prune replaces) disappear from the cached view and from the cache.
pub fn scenario_objects_removed_elsewhere_leave_the_cache(repo: &Repo, cache: &Path, src: &Path) {
    repo.backup(args![src]);
    write(&src.join("d1/more.txt"), b"more\n");
    repo.backup(args![src]);
    let (out, _) = cached(repo, cache, args!["snapshots", "--json"]);
    let ids = snapshot_ids(&out);
    assert_eq!(ids.len(), 2);
    cached(repo, cache, args!["ls", "latest"]);
    let dir = repo_dir(cache);
    let gone = dir.join("snapshots").join(&ids[0]);
    assert!(gone.is_file(), "snapshot {} was not cached", ids[0]);

    // Another process, which has no cache.
    repo.ok(args!["--no-cache", "forget", &ids[0], "--prune"]);

    let (out, line) = cached(repo, cache, args!["snapshots", "--json"]);
    assert_eq!(snapshot_ids(&out), [ids[1].clone()]);
    assert_eq!(line.downloads, 0, "{line:?}");
    assert!(!gone.exists(), "the forgotten snapshot is still cached");
    cached(repo, cache, args!["ls", "latest"]);
    let cached_index: Vec<String> = entries(&dir.join("index"))
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let stored = repo.path.join("index");
    if stored.is_dir() {
        let mut stored: Vec<String> = fs::read_dir(&stored)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        stored.sort();
        let mut cached_index = cached_index;
        cached_index.sort();
        assert_eq!(
            cached_index, stored,
            "the cache holds superseded index files"
        );
    }
}

/// `--no-cache` writes nothing, even with `--cache-dir`.
pub fn scenario_no_cache_writes_nothing(repo: &Repo, cache: &Path, src: &Path) {
    for command in [
        args!["backup", src],
        args!["snapshots"],
        args!["ls", "latest", "--recursive"],
    ] {
        let out = repo.ok(&[args!["-v", "--no-cache", "--cache-dir", cache], command].concat());
        assert_eq!(
            cache_lines(&out),
            Vec::<String>::new(),
            "{}",
            describe(&out)
        );
        assert!(!cache.exists(), "--no-cache wrote {}", cache.display());
    }
    // Control: the same command without --no-cache does write there.
    cached(repo, cache, args!["snapshots"]);
    assert!(cache.join("CACHEDIR.TAG").is_file());
}

/// A cache that cannot be created, and one whose directories cannot be
/// written: the command succeeds, its output is right, one warning says so.
/// `cache` must exist, belong to the user vault runs as, and bind that
/// user by its permissions (not root).
pub fn scenario_unwritable_cache_warns_once(repo: &Repo, cache: &Path) {
    let ls = args!["ls", "latest", "--recursive", "--json"];
    let truth = repo.ok(&[args!["--no-cache"], ls].concat());

    // The cache root exists, read-only: the cache cannot be created.
    chmod(cache, 0o500);
    let out = repo.ok(&[args!["-v", "--cache-dir", cache], ls].concat());
    assert_eq!(out.stdout, truth.stdout);
    let said = warnings(&out);
    assert_eq!(said.len(), 1, "{}", describe(&out));
    assert!(said[0].contains("cache"), "{}", said[0]);
    assert_eq!(cache_lines(&out), Vec::<String>::new());

    // The cache exists but its directories are read-only: every write
    // fails, the first is said once.
    chmod(cache, 0o700);
    cached(repo, cache, args!["snapshots"]);
    let dir = repo_dir(cache);
    for kind in ["index", "snapshots", "trees"] {
        let sub = dir.join(kind);
        for entry in fs::read_dir(&sub).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                fs::remove_dir_all(path).unwrap();
            } else {
                fs::remove_file(path).unwrap();
            }
        }
        chmod(&sub, 0o500);
    }
    let out = repo.ok(&[args!["-v", "--cache-dir", cache], ls].concat());
    assert_eq!(out.stdout, truth.stdout);
    let said = warnings(&out);
    assert_eq!(said.len(), 1, "{}", describe(&out));
    assert!(said[0].contains("cannot write to the cache"), "{}", said[0]);
    let line = cache_line(&out, cache);
    assert!(line.downloads >= 3, "{line:?}");
}

/// Runs a scenario on a fresh local repository with a fresh cache root.
fn on_local_repository(scenario: fn(&Repo, &Path, &Path)) {
    let repo = Repo::new();
    let (tmp, src) = source();
    scenario(&repo, &tmp.path().join("cache"), &src);
}

#[test]
fn cache_second_snapshots_ls_and_backup_download_no_metadata() {
    on_local_repository(scenario_repeated_reads_download_no_metadata);
}

#[test]
fn cache_flipped_or_truncated_files_are_refetched_and_repaired() {
    on_local_repository(scenario_damaged_cache_files_are_replaced);
}

#[test]
fn cache_forget_and_prune_elsewhere_remove_stale_entries() {
    on_local_repository(scenario_objects_removed_elsewhere_leave_the_cache);
}

#[test]
fn cache_no_cache_flag_writes_nothing() {
    on_local_repository(scenario_no_cache_writes_nothing);
}

#[test]
fn cache_local_repository_is_not_cached_by_default() {
    let mut repo = Repo::local();
    let home = repo.dir.path().join("home");
    let xdg = repo.dir.path().join("xdg");
    repo.envs = vec![
        ("HOME".into(), home.clone().into()),
        ("XDG_CACHE_HOME".into(), xdg.clone().into()),
    ];
    let (_tmp, src) = source();
    repo.backup(args![src]);
    let out = repo.ok(args!["-v", "ls", "latest"]);
    assert_eq!(cache_lines(&out), Vec::<String>::new());
    assert!(!xdg.exists() && !home.exists());
    // Asked for by VAULT_CACHE_DIR, it is used.
    let cache = repo.dir.path().join("env-cache");
    repo.envs
        .push(("VAULT_CACHE_DIR".into(), cache.clone().into()));
    let out = repo.ok(args!["-v", "ls", "latest"]);
    cache_line(&out, &cache);
}

#[test]
fn cache_unwritable_directory_warns_once_and_succeeds() {
    // Root writes through mode 0500, so as root vault runs as `nobody`.
    let mut repo = Repo::new();
    let (tmp, src) = source();
    repo.backup(args![src]);
    // Made here, so that it belongs to whoever runs vault.
    let cache = repo.dir.path().join("cache");
    fs::create_dir(&cache).unwrap();
    if is_root() {
        if !can_run_as_nobody() {
            cannot_run("running as root and cannot drop to nobody with setpriv");
            return;
        }
        chown_tree(repo.dir.path(), NOBODY);
        repo.prefix = as_nobody();
    }
    scenario_unwritable_cache_warns_once(&repo, &cache);
    drop(tmp);
}

/// `snapshots --json` through a cache lists what the repository holds.
#[test]
fn cache_snapshots_json_matches_uncached() {
    let repo = Repo::new();
    let (tmp, src) = source();
    repo.backup(args![src, "--tag", "a"]);
    let cache = tmp.path().join("cache");
    let (through, _) = cached(&repo, &cache, args!["snapshots", "--json"]);
    let (again, _) = cached(&repo, &cache, args!["snapshots", "--json"]);
    let truth = repo.ok(args!["--no-cache", "snapshots", "--json"]);
    let parse = |o: &Output| -> Value { serde_json::from_slice(&o.stdout).unwrap() };
    assert_eq!(parse(&through), parse(&truth));
    assert_eq!(parse(&again), parse(&truth));
}

/// Every file below `dir` with its content.
fn contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    walk(dir)
        .into_iter()
        .map(|rel| {
            let bytes = fs::read(dir.join(&rel)).unwrap_or_default();
            (rel, bytes)
        })
        .collect()
}

/// A backed-up repository and a cache root made `mode` (and given to
/// `owner`), which vault must refuse to use: `ls latest` is right, one
/// warning says `why`, and nothing is written into the cache.
#[track_caller]
fn refused_cache(mode: u32, owner: Option<u32>, why: &str) {
    let tmp = temp_dir();
    let cache = tmp.path().join("cache");
    fs::create_dir(&cache).unwrap();
    chmod(&cache, mode);
    if let Some(uid) = owner {
        chown_tree(&cache, uid);
    }
    assert_cache_refused(&cache, why);
}

/// `vault ls latest` with `--cache-dir cache`: right, one warning saying
/// `why`, and nothing written into the cache.
#[track_caller]
fn assert_cache_refused(cache: &Path, why: &str) {
    let repo = Repo::new();
    let (_tmp, src) = source();
    repo.backup(args![src]);
    let before = fs::read_dir(cache).unwrap().count();
    let ls = args!["ls", "latest", "--recursive", "--json"];
    let truth = repo.ok(&[args!["--no-cache"], ls].concat());
    let out = repo.ok(&[args!["-v", "--cache-dir", cache], ls].concat());
    assert_eq!(out.stdout, truth.stdout);
    let said = warnings(&out);
    assert_eq!(said.len(), 1, "{}", describe(&out));
    assert!(
        said[0].contains("cannot use the cache") && said[0].contains(why),
        "{}",
        said[0]
    );
    assert_eq!(cache_lines(&out), Vec::<String>::new());
    let after = fs::read_dir(cache).unwrap().count();
    assert_eq!(after, before, "wrote into the cache");
}

/// A shared `--cache-dir` that every user can write (created 0777 by
/// someone else, or by mistake) is not used: whoever can rename entries
/// in it could lead vault's writes and removals to their files.
#[test]
fn regression_21_cache_root_writable_by_others_is_refused() {
    refused_cache(0o777, None, "writable by other users");
}

/// A cache root that belongs to another user is not used.
#[test]
fn regression_21_cache_root_of_another_user_is_refused() {
    if is_root() {
        refused_cache(0o700, Some(NOBODY), "belongs to another user");
    } else {
        // Without root to give one away: a directory root owns, which
        // this user may read and not write.
        assert_cache_refused(Path::new("/usr/share"), "belongs to another user");
    }
}

/// A directory of the cache replaced by a link to somewhere else (the
/// attack that, before, had root delete and write files there): the
/// link is never followed, whatever the command.
#[test]
fn regression_21_cache_symlinked_directories_are_not_followed() {
    let repo = Repo::new();
    let (tmp, src) = source();
    repo.backup(args![src]);
    let cache = tmp.path().join("cache");
    cached(&repo, &cache, args!["ls", "latest", "--recursive"]);
    let dir = repo_dir(&cache);
    let tree_dir = fs::read_dir(dir.join("trees"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .next()
        .expect("a cached tree directory");
    // Victims: files named as cache entries would be (ids) and not.
    let mut outside = Vec::new();
    for (i, link) in [dir.join("snapshots"), dir.join("index"), tree_dir]
        .into_iter()
        .enumerate()
    {
        let victim = tmp.path().join(format!("victim{i}"));
        write(&victim.join("a".repeat(64)), b"not a cache entry");
        write(&victim.join("notes.txt"), b"precious");
        fs::remove_dir_all(&link).unwrap();
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        outside.push((victim.clone(), contents(&victim)));
    }
    write(&src.join("d0/new.txt"), b"a new file\n");
    for command in [
        args!["ls", "latest", "--recursive"],
        args!["backup", src],
        args!["snapshots"],
        args!["ls", "latest", "--recursive"],
    ] {
        cached(&repo, &cache, command);
        for (victim, before) in &outside {
            assert_eq!(
                &contents(victim),
                before,
                "{} changed through the cache",
                victim.display()
            );
        }
    }
}
