//! Backup then restore of a tree with every kind of entry; the read side
//! (`snapshots`, `ls`, `dump`, `cat`) over the same kind of snapshot.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::args;
use crate::common::*;

const MIB: u64 = 1 << 20;

/// What `build_full_tree` made, for the checks that go beyond a tree diff.
struct Built {
    xattr: bool,
    chowned: bool,
}

/// A tree with every kind of entry vault must keep.
fn build_full_tree(src: &Path) -> Built {
    fs::create_dir_all(src.join("dir/nested/deeper")).unwrap();
    write(&src.join("empty"), b"");
    write(&src.join("small.txt"), b"hello, vault\n");
    write(
        &src.join("big.bin"),
        &random_bytes(1, 3 * MIB as usize + 12_345),
    );
    write(&src.join("dir/medium.bin"), &random_bytes(2, 200_000));
    write(&src.join("dir/nested/deeper/deep.txt"), b"deep\n");
    // Compressible content, so compression is exercised on the way.
    write(
        &src.join("dir/text.txt"),
        "line of text\n".repeat(50_000).as_bytes(),
    );

    std::os::unix::fs::symlink("small.txt", src.join("link")).unwrap();
    std::os::unix::fs::symlink("../does/not/exist", src.join("dir/dangling")).unwrap();
    std::os::unix::fs::symlink(src.join("dir"), src.join("abs-link")).unwrap();

    write(&src.join("hard1"), b"one inode, two names\n");
    fs::hard_link(src.join("hard1"), src.join("dir/hard2")).unwrap();

    let sparse = fs::File::create(src.join("sparse.img")).unwrap();
    sparse.set_len(100 * MIB).unwrap();
    {
        use std::os::unix::fs::FileExt;
        sparse
            .write_all_at(b"a few bytes in the middle", 50 * MIB)
            .unwrap();
    }
    drop(sparse);

    mkfifo(&src.join("fifo"));

    write(&src.join(OsStr::from_bytes(b"caf\xe9")), b"latin-1 name\n");
    fs::create_dir(src.join(OsStr::from_bytes(b"dir-\xff\xfe"))).unwrap();
    write(&src.join(OsStr::from_bytes(b"dir-\xff\xfe/inner")), b"x");

    write(&src.join("private"), b"secret\n");
    chmod(&src.join("private"), 0o640);
    write(&src.join("script.sh"), b"#!/bin/sh\necho hi\n");
    chmod(&src.join("script.sh"), 0o755);
    fs::create_dir(src.join("setgid")).unwrap();
    write(&src.join("setgid/file"), b"in a setgid dir\n");
    chmod(&src.join("setgid"), 0o2775);
    chmod(&src.join("dir/nested"), 0o700);

    let xattr = try_set_xattr(&src.join("small.txt"), "user.vault", "hello-xattr");
    if !xattr {
        cannot_run("user extended attributes are unavailable here (the xattr part)");
    }

    write(&src.join("owned"), b"owned by 1234\n");
    let chowned = is_root();
    if chowned {
        std::os::unix::fs::chown(src.join("owned"), Some(1234), Some(1234)).unwrap();
    }

    // mtimes last, deepest first: creating entries changes a dir's mtime.
    let files = [
        "empty",
        "small.txt",
        "big.bin",
        "dir/medium.bin",
        "dir/text.txt",
        "dir/nested/deeper/deep.txt",
        "hard1",
        "sparse.img",
        "private",
        "script.sh",
        "setgid/file",
        "owned",
    ];
    for (i, f) in files.iter().enumerate() {
        set_mtime(
            &src.join(f),
            1_500_000_000 + i as u64 * 1000,
            123_456_789 + i as u32,
        );
    }
    set_mtime(&src.join(OsStr::from_bytes(b"caf\xe9")), 1_234_567_890, 5);
    let dirs = [
        src.join("dir/nested/deeper"),
        src.join("dir/nested"),
        src.join("dir"),
        src.join("setgid"),
        src.join(OsStr::from_bytes(b"dir-\xff\xfe")),
    ];
    for (i, d) in dirs.iter().enumerate() {
        set_mtime(d, 1_600_000_000 + i as u64, 987_654_321 - i as u32);
    }
    set_mtime(src, 1_700_000_000, 111_111_111);
    Built { xattr, chowned }
}

/// The source folder (canonical, so vault records the path we compute).
fn source_dir(tmp: &Path) -> PathBuf {
    let src = tmp.join("src");
    fs::create_dir(&src).unwrap();
    src.canonicalize().unwrap()
}

#[test]
fn roundtrip_every_entry_kind_restores_identically() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let src = source_dir(tmp.path());
    let built = build_full_tree(&src);

    let summary = repo.backup(args![src]);
    assert_eq!(summary["errors"], serde_json::json!([]), "{summary}");
    let id = summary["snapshot_id"].as_str().expect("snapshot_id string");
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "snapshot_id must be 64 hex digits: {id}"
    );
    assert!(field(&summary, "files_new") >= 10, "{summary}");
    assert!(field(&summary, "dirs_new") >= 6, "{summary}");
    assert!(
        field(&summary, "total_bytes_processed") >= 3 * MIB,
        "{summary}"
    );

    let target = tmp.path().join("target");
    repo.ok(args!["restore", id, "--target", target, "--verify"]);
    let out = restored(&target, &src);
    assert_same_tree(&src, &out, built.chowned);

    // Hard links come back as one inode with two names.
    let (h1, h2) = (
        fs::metadata(out.join("hard1")).unwrap(),
        fs::metadata(out.join("dir/hard2")).unwrap(),
    );
    assert_eq!(h1.ino(), h2.ino(), "hard links restored as separate files");
    assert_eq!(h1.nlink(), 2);

    // The sparse file stays sparse.
    let sparse = fs::metadata(out.join("sparse.img")).unwrap();
    assert_eq!(sparse.len(), 100 * MIB);
    assert!(
        sparse.blocks() * 512 < 8 * MIB,
        "sparse file restored dense: {} bytes allocated",
        sparse.blocks() * 512
    );

    assert!(
        fs::symlink_metadata(out.join("fifo"))
            .unwrap()
            .file_type()
            .is_fifo()
    );

    if built.xattr {
        assert_eq!(
            get_xattr(&out.join("small.txt"), "user.vault").as_deref(),
            Some("hello-xattr"),
            "extended attribute not restored"
        );
    }
    if built.chowned {
        let owned = fs::metadata(out.join("owned")).unwrap();
        assert_eq!((owned.uid(), owned.gid()), (1234, 1234));
    }
}

#[test]
fn roundtrip_file_url_repository_works() {
    let tmp = temp_dir();
    let mut repo = Repo::uninitialised();
    repo.url = format!("file://{}", repo.path.display()).into();
    repo.init();
    let src = source_dir(tmp.path());
    write(&src.join("a.txt"), b"via file url\n");
    write(&src.join("sub/b.bin"), &random_bytes(7, 70_000));
    set_mtime(&src.join("sub"), 1_650_000_000, 42);

    let summary = repo.backup(args![src]);
    assert_eq!(field(&summary, "files_new"), 2, "{summary}");
    let target = tmp.path().join("t");
    repo.ok(args!["restore", "latest", "--target", target]);
    assert_same_tree(&src, &restored(&target, &src), false);
}

#[test]
fn snapshots_json_has_every_contract_key() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let src = source_dir(tmp.path());
    write(&src.join("f"), b"x");

    let first = repo.backup(args![
        src,
        "--tag",
        "daily",
        "--tag",
        "db",
        "--host",
        "host-one",
        "--time",
        "2020-01-02T03:04:05Z"
    ]);
    write(&src.join("g"), b"y");
    let second = repo.backup(args![src, "--host", "host-one"]);

    let snaps = repo.snapshots();
    assert_eq!(snaps.len(), 2, "{snaps:?}");
    for s in &snaps {
        for key in [
            "id", "short_id", "time", "hostname", "username", "paths", "tags", "parent", "tree",
            "summary",
        ] {
            assert!(s.get(key).is_some(), "snapshot lacks key {key}: {s}");
        }
        let id = s["id"].as_str().unwrap();
        assert_eq!(id.len(), 64, "{s}");
        assert!(id.starts_with(s["short_id"].as_str().unwrap()), "{s}");
        assert_eq!(
            s["paths"],
            serde_json::json!([src.to_str().unwrap()]),
            "{s}"
        );
        assert_eq!(s["hostname"], "host-one");
    }
    let by_id = |id: &serde_json::Value| {
        snaps
            .iter()
            .find(|s| s["id"] == *id)
            .unwrap_or_else(|| panic!("snapshot {id} not listed: {snaps:?}"))
    };
    let one = by_id(&first["snapshot_id"]);
    let two = by_id(&second["snapshot_id"]);
    assert!(
        one["time"]
            .as_str()
            .unwrap()
            .starts_with("2020-01-02T03:04:05"),
        "--time not honoured: {one}"
    );
    let mut tags: Vec<_> = one["tags"].as_array().unwrap().iter().collect();
    tags.sort_by_key(|t| t.to_string());
    assert_eq!(
        tags,
        [&serde_json::json!("daily"), &serde_json::json!("db")]
    );
    assert_eq!(one["parent"], serde_json::Value::Null, "{one}");
    assert_eq!(two["tags"], serde_json::json!([]), "{two}");
    assert_eq!(
        two["parent"], one["id"],
        "second backup must have the first as parent"
    );

    // A unique prefix selects the snapshot too.
    let prefix = &first["snapshot_id"].as_str().unwrap()[..8];
    let out = repo.ok(args!["ls", prefix, "--recursive", "--json"]);
    let paths: Vec<String> = json_values(&out.stdout)
        .iter()
        .filter_map(|v| v["path"].as_str().map(str::to_owned))
        .collect();
    let g = format!("{}/g", src.display());
    assert!(
        !paths.contains(&g),
        "prefix selected the wrong snapshot: {paths:?}"
    );
    assert!(paths.contains(&format!("{}/f", src.display())), "{paths:?}");
}

#[test]
fn ls_lists_every_entry_human_and_json() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let src = source_dir(tmp.path());
    write(&src.join("top.txt"), b"top");
    write(&src.join("a/b/c.txt"), b"c");
    std::os::unix::fs::symlink("top.txt", src.join("ln")).unwrap();
    repo.backup(args![src]);

    let s = src.display();
    let expected = [
        format!("{s}"),
        format!("{s}/top.txt"),
        format!("{s}/a"),
        format!("{s}/a/b"),
        format!("{s}/a/b/c.txt"),
        format!("{s}/ln"),
    ];
    let paths = repo.ls_paths("latest");
    for e in &expected {
        assert!(paths.contains(e), "ls --json lacks {e}: {paths:?}");
    }
    assert!(
        paths
            .iter()
            .all(|p| !p.starts_with(&format!("{s}/")) || expected.contains(p)),
        "ls --json lists unexpected entries: {paths:?}"
    );

    let out = repo.ok(args!["ls", "latest", "--recursive"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for e in &expected[1..] {
        assert!(
            lines.iter().any(|l| l.ends_with(e.as_str())),
            "ls lacks {e}:\n{text}"
        );
    }

    // With a PATH argument, only that directory's entries.
    let out = repo.ok(args!["ls", "latest", format!("{s}/a/b")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("{s}/a/b/c.txt")), "{text}");
    assert!(
        !text.contains("top.txt"),
        "ls PATH listed outside PATH:\n{text}"
    );
}

#[test]
fn dump_file_and_directory_as_tar() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let src = source_dir(tmp.path());
    let big = random_bytes(11, 2 * MIB as usize + 7);
    write(&src.join("d/big.bin"), &big);
    write(&src.join("d/sub/x.txt"), b"x content\n");
    write(&src.join("other.txt"), b"other\n");
    repo.backup(args![src]);

    let out = repo.ok(args!["dump", "latest", src.join("d/big.bin")]);
    assert!(
        out.stdout == big,
        "dump of a file is not byte-exact ({} bytes)",
        out.stdout.len()
    );

    let out = repo.ok(args!["dump", "latest", src.join("d")]);
    let tar = tmp.path().join("d.tar");
    fs::write(&tar, &out.stdout).unwrap();
    let list = Command::new("tar").arg("-tf").arg(&tar).output().unwrap();
    assert!(
        list.status.success(),
        "tar -tf rejects the dump: {}",
        describe(&list)
    );
    let names = String::from_utf8_lossy(&list.stdout);
    assert!(names.lines().any(|n| n.ends_with("big.bin")), "{names}");
    assert!(names.lines().any(|n| n.ends_with("sub/x.txt")), "{names}");
    assert!(
        !names.contains("other.txt"),
        "tar holds entries outside the dir:\n{names}"
    );

    let x = tmp.path().join("x");
    fs::create_dir(&x).unwrap();
    let st = Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(&x)
        .status()
        .unwrap();
    assert!(st.success());
    let extracted = walk(&x)
        .into_iter()
        .find(|p| p.ends_with("big.bin"))
        .expect("big.bin in the tar");
    assert!(
        fs::read(x.join(extracted)).unwrap() == big,
        "tar content differs"
    );
}

#[test]
fn cat_config_and_snapshot_print_objects() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let src = source_dir(tmp.path());
    write(&src.join("f"), b"f");
    let summary = repo.backup(args![src]);
    let id = summary["snapshot_id"].as_str().unwrap();

    let out = repo.ok(args!["cat", "config"]);
    assert!(!out.stdout.is_empty(), "cat config printed nothing");
    let out = repo.ok(args!["cat", "snapshot", id]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(src.to_str().unwrap()),
        "cat snapshot lacks the path:\n{text}"
    );
}

#[test]
fn backup_human_output_ends_with_summary_naming_the_snapshot() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let src = source_dir(tmp.path());
    write(&src.join("f"), b"f");
    let out = repo.ok(args!["backup", src]);
    let text = String::from_utf8_lossy(&out.stdout);
    let id = repo.snapshots()[0]["id"].as_str().unwrap().to_owned();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    assert!(
        text.contains(&id[..8]),
        "human output must name the snapshot {id}:\n{text}"
    );
    assert!(
        last.contains(&id[..8]),
        "the summary (with the snapshot id) must come last:\n{text}"
    );
}

#[test]
fn snapshots_filters_and_narrowed_latest_select_the_right_snapshots() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let one = source_dir(tmp.path());
    let two = tmp.path().join("two");
    write(&two.join("t"), b"t");
    write(&one.join("f"), b"f");
    let id = |s: serde_json::Value| s["snapshot_id"].as_str().unwrap().to_owned();
    let a1 = id(repo.backup(args![
        one,
        "--host",
        "h1",
        "--tag",
        "t1",
        "--time",
        "2021-01-01T00:00:00Z"
    ]));
    let a2 = id(repo.backup(args![
        one,
        "--host",
        "h1",
        "--tag",
        "t1",
        "--time",
        "2021-02-01T00:00:00Z"
    ]));
    write(&one.join("only-in-b"), b"b");
    let b = id(repo.backup(args![
        one,
        "--host",
        "h2",
        "--tag",
        "t2",
        "--time",
        "2021-03-01T00:00:00Z"
    ]));
    let c = id(repo.backup(args![two, "--host", "h1", "--time", "2021-04-01T00:00:00Z"]));

    let ids = |flags: &[&std::ffi::OsStr]| {
        let mut all = vec![
            std::ffi::OsStr::new("snapshots"),
            std::ffi::OsStr::new("--json"),
        ];
        all.extend_from_slice(flags);
        let out = repo.ok(&all);
        let mut got: Vec<String> = json_values(&out.stdout)
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect();
        got.sort();
        got
    };
    let sorted = |mut v: Vec<&String>| {
        v.sort();
        v.into_iter().cloned().collect::<Vec<String>>()
    };
    assert_eq!(ids(args!["--host", "h1"]), sorted(vec![&a1, &a2, &c]));
    assert_eq!(ids(args!["--tag", "t2"]), sorted(vec![&b]));
    assert_eq!(ids(args!["--path", two]), sorted(vec![&c]));
    assert_eq!(ids(args!["--latest", "1"]), sorted(vec![&a2, &b, &c]));

    // `latest` narrowed by --host picks the newest snapshot of that host.
    let paths = |flags: &[&std::ffi::OsStr]| {
        let mut all = vec![
            std::ffi::OsStr::new("ls"),
            std::ffi::OsStr::new("latest"),
            std::ffi::OsStr::new("--recursive"),
            std::ffi::OsStr::new("--json"),
        ];
        all.extend_from_slice(flags);
        let out = repo.ok(&all);
        json_values(&out.stdout)
            .iter()
            .filter_map(|v| v["path"].as_str().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    let b_file = format!("{}/only-in-b", one.display());
    let t_file = format!("{}/t", two.canonicalize().unwrap().display());
    assert!(
        paths(args![]).contains(&t_file),
        "latest must be the newest snapshot"
    );
    let h2 = paths(args!["--host", "h2"]);
    assert!(
        h2.contains(&b_file),
        "latest --host h2 must be snapshot b: {h2:?}"
    );
    let t1 = paths(args!["--tag", "t1"]);
    assert!(
        !t1.contains(&b_file) && !t1.contains(&t_file),
        "latest --tag t1 must be a2: {t1:?}"
    );
}

/// A source path reached through a symlinked directory is stored under the
/// path as given, with the link's directory as a directory, and restores.
#[test]
fn regression_source_below_symlinked_directory_restores() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let base = tmp.path().canonicalize().unwrap();
    fs::create_dir_all(base.join("real/dir")).unwrap();
    write(&base.join("real/dir/file"), b"through a link");
    std::os::unix::fs::symlink(base.join("real"), base.join("link")).unwrap();
    let source = base.join("link/dir/file");
    repo.backup(args![source]);
    let target = base.join("target");
    repo.ok(args!["restore", "latest", "--target", target]);
    assert_eq!(
        fs::read(restored(&target, &source)).unwrap(),
        b"through a link"
    );
    let dumped = repo.ok(args!["dump", "latest", source]);
    assert_eq!(dumped.stdout, b"through a link");
}

/// `-v` names every processed file on stderr; without it they are not named.
#[test]
fn verbose_backup_and_restore_name_each_file() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let src = source_dir(tmp.path());
    write(&src.join("first.txt"), b"1");
    write(&src.join("second.txt"), b"2");
    let quiet = repo.ok(args!["backup", src]);
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("first.txt"));
    let out = repo.ok(args!["backup", "-v", "--force", src]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("first.txt") && err.contains("second.txt"),
        "{err}"
    );
    let target = tmp.path().join("target");
    let out = repo.ok(args!["restore", "latest", "--target", target, "-v"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("first.txt") && err.contains("second.txt"),
        "{err}"
    );
}

#[test]
fn init_chunk_size_sets_the_chunker_and_refuses_sizes_it_cannot_use() {
    let repo = Repo::uninitialised();
    for bad in ["1M", "3KiB", "128B", "4MiB", "big"] {
        let out = repo.run(args!["init", "--chunk-size", bad]);
        assert_error(&out, 1);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--chunk-size"),
            "{}",
            describe(&out)
        );
    }
    // Nothing was created by the refusals, or this would find a repository.
    repo.ok(args!["init", "--chunk-size", "256KiB"]);
    let out = repo.ok(args!["cat", "config"]);
    let config: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(config["chunker"]["min_size"], 128 << 10);
    assert_eq!(config["chunker"]["avg_size"], 256 << 10);
    assert_eq!(config["chunker"]["max_size"], 2 << 20);
}

/// Fuzz finding (issue 6, target `config`): with `--chunk-size` at 2 KiB or
/// less the largest chunk is under 32 KiB, and every backup panicked in the
/// chunker (`clamp` with min > max).
#[test]
fn regression_6_init_smallest_chunk_sizes_back_up_and_restore() {
    for size in ["256B", "1KiB", "2KiB"] {
        let repo = Repo::uninitialised();
        repo.ok(args!["init", "--chunk-size", size]);
        let tmp = temp_dir();
        let src = tmp.path().join("src");
        fs::create_dir(&src).unwrap();
        write(&src.join("data.bin"), &random_bytes(6, 100_000));
        repo.ok(args!["backup", &src]);
        let target = tmp.path().join("target");
        repo.ok(args!["restore", "latest", "--target", &target]);
        assert_eq!(
            fs::read(restored(&target, &src).join("data.bin")).unwrap(),
            random_bytes(6, 100_000),
            "{size}"
        );
    }
}

/// A sparse file over 4 GiB (offsets past u32, a hole across the 4 GiB
/// boundary, data on both sides and at the very end) comes back byte-exact
/// and sparse.
#[test]
fn a_file_over_4_gib_restores_byte_exact_and_sparse() {
    use std::os::unix::fs::FileExt;
    let repo = Repo::new();
    let tmp = temp_dir();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    let src = src.canonicalize().unwrap();
    let path = src.join("big.img");
    let len: u64 = (4 << 30) + 300 * MIB + 12_345;
    let marks: [(u64, Vec<u8>); 4] = [
        (0, random_bytes(1, 100_000)),
        ((4 << 30) - 50_000, random_bytes(2, 100_000)),
        ((4 << 30) + 200 * MIB, random_bytes(3, 3 * MIB as usize)),
        (len - 7, b"the end".to_vec()),
    ];
    let file = fs::File::create(&path).unwrap();
    file.set_len(len).unwrap();
    for (at, bytes) in &marks {
        file.write_all_at(bytes, *at).unwrap();
    }
    drop(file);
    repo.backup(args![src]);

    let target = tmp.path().join("t");
    repo.ok(args!["restore", "latest", "--target", target, "--verify"]);
    let back = restored(&target, &src).join("big.img");
    let meta = fs::metadata(&back).unwrap();
    assert_eq!(meta.len(), len);
    assert!(
        meta.blocks() * 512 < 64 * MIB,
        "restored sparse: {} blocks",
        meta.blocks()
    );
    let back = fs::File::open(&back).unwrap();
    for (at, bytes) in &marks {
        let mut read = vec![0u8; bytes.len()];
        back.read_exact_at(&mut read, *at).unwrap();
        assert!(read == *bytes, "bytes at {at} differ");
    }
    // And a hole reads as zeros, across the 4 GiB boundary.
    let mut hole = vec![1u8; 4096];
    back.read_exact_at(&mut hole, (4 << 30) + 100 * MIB)
        .unwrap();
    assert!(hole.iter().all(|b| *b == 0));
}

/// A source that is a symlink loop is recorded as the link it is (never
/// followed, so no loop), and one whose name is not UTF-8 is recorded and
/// restored with its exact bytes.
#[test]
fn a_symlink_loop_and_a_non_utf8_name_given_as_sources_are_recorded_exactly() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let base = tmp.path().canonicalize().unwrap();
    std::os::unix::fs::symlink("loop-b", base.join("loop-a")).unwrap();
    std::os::unix::fs::symlink("loop-a", base.join("loop-b")).unwrap();
    let odd = base.join(OsStr::from_bytes(b"src-\xff\xfe-latin-\xe9"));
    write(&odd.join(OsStr::from_bytes(b"f-\x80")), b"odd bytes\n");
    let out = repo.ok(args!["backup", base.join("loop-a"), odd]);
    assert_no_panic(&out);

    let target = base.join("t");
    repo.ok(args!["restore", "latest", "--target", target]);
    assert_eq!(
        fs::read_link(restored(&target, &base.join("loop-a"))).unwrap(),
        Path::new("loop-b")
    );
    assert_eq!(
        fs::read(restored(&target, &odd).join(OsStr::from_bytes(b"f-\x80"))).unwrap(),
        b"odd bytes\n"
    );
}
