//! A hostile snapshot: whoever can write snapshots into a repository you
//! read (another host of a shared repository, the source of a `copy`)
//! seals trees of their choosing with the repository key. Each test forges
//! what an attacker would and shows that readers do no harm with it.

use crate::args;
use crate::common::forge::{Forger, dir, file};
use crate::common::*;
use engine::repo_format::BlobId;
use std::process::Command;

/// One ustar member: `name` holding `body`, as a tar reader takes it.
fn tar_member(name: &[u8], body: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name);
    let mut field = |at: usize, text: String| {
        header[at..at + text.len()].copy_from_slice(text.as_bytes());
    };
    field(100, "0000644\0".to_owned());
    field(108, "0000000\0".to_owned());
    field(116, "0000000\0".to_owned());
    field(124, format!("{:011o}\0", body.len()));
    field(136, "00000000000\0".to_owned());
    field(148, "        ".to_owned());
    field(156, "0".to_owned());
    field(257, "ustar\u{0}00".to_owned());
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut member = header.to_vec();
    member.extend_from_slice(body);
    member.resize(member.len().div_ceil(512) * 512, 0);
    member
}

/// The member names `tar` lists in `archive` (it may be cut short).
fn tar_names(archive: &[u8]) -> Vec<String> {
    let out = output_with_stdin(
        {
            let mut tar = Command::new("tar");
            tar.arg("-t");
            tar
        },
        Some(archive),
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The attack of the review: a file recorded as empty whose content is
/// two tar members, one climbing out of the extraction directory and one
/// absolute. `dump` wrote the recorded size in the header and then every
/// content byte, so tar readers took the content for entries of their
/// own. Now the file is refused before its header, by name, and nothing
/// of its content reaches the archive; `check` names it, and restore
/// leaves it out rather than writing a file of the forged length.
#[test]
fn a_file_whose_size_disagrees_with_its_content_smuggles_no_tar_entry() {
    let repo = Repo::new();
    let forger = Forger::open(&repo);
    let mut smuggled = tar_member(b"../../TARSLIP_dotdot.txt", b"written outside\n");
    smuggled.extend(tar_member(
        b"/tmp/TARSLIP_absolute.txt",
        b"written outside\n",
    ));
    let smuggled = forger.data(&smuggled);
    let honest = forger.data(b"honest content\n");
    let site = forger.tree(vec![
        file(b"a.txt", 15, vec![honest]),
        file(b"x", 0, vec![smuggled]),
        // Larger than its content: restore would set a petabyte length.
        file(b"y", 1 << 50, vec![honest]),
    ]);
    let root = forger.tree(vec![dir(b"site", site)]);
    let id = forger.snapshot(root, |_| {}).to_hex();

    let out = repo.run(args!["dump", &id, "/site"]);
    assert_error(&out, 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("site/x") && stderr.contains("records 0 bytes"),
        "the error names the file and the disagreement: {stderr}"
    );
    assert!(
        !out.stdout.windows(7).any(|w| w == b"TARSLIP"),
        "nothing of the forged content reaches the archive"
    );
    let names = tar_names(&out.stdout);
    assert_eq!(names, ["site", "site/a.txt"], "{names:?}");

    // One file dumped alone is its content: no header to disagree with.
    let alone = repo.ok(args!["dump", &id, "/site/a.txt"]);
    assert_eq!(alone.stdout, b"honest content\n");

    let check = repo.run(args!["check"]);
    assert_error(&check, 1);
    let said = describe(&check);
    for name in [
        "\"x\" records 0 bytes but its content holds 2048",
        "\"y\" records",
    ] {
        assert!(said.contains(name), "check reports {name}: {said}");
    }

    let target = temp_dir();
    let out = repo.run(args!["restore", &id, "--target", target.path()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_no_panic(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/site/x: its size is recorded as 0 bytes but its content holds 2048"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("restored 1 files and 1 directories (15 B)"),
        "only what was restored is counted: {stdout}"
    );
    let site = target.path().join("site");
    assert_eq!(
        std::fs::read(site.join("a.txt")).unwrap(),
        b"honest content\n"
    );
    for forged in ["x", "y"] {
        assert!(!site.join(forged).exists(), "{forged} was not restored");
    }
}

/// Only a hang reaches it: a command still running then is killed, and
/// the test fails rather than waits.
const HANG_GUARD: std::time::Duration = std::time::Duration::from_secs(60);

/// Run `cmd` with stdout into the file `stdout`, killing it at
/// [`HANG_GUARD`]; returns its exit code and stderr.
#[track_caller]
fn run_guarded(mut cmd: Command, stdout: &std::path::Path) -> (Option<i32>, String) {
    use std::process::Stdio;
    let stderr = stdout.with_extension("stderr");
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap());
    let mut child = cmd.spawn().expect("spawn");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if started.elapsed() > HANG_GUARD {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} still running after {HANG_GUARD:?}; killed ({} bytes written)",
                std::fs::metadata(stdout).map_or(0, |m| m.len())
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    (status.code(), std::fs::read_to_string(&stderr).unwrap())
}

/// A snapshot of `levels` + 1 trees, each naming the one below twice (as
/// `a` and `b`) beside a one-byte file `f`: 2^(levels + 2) − 3 entries.
fn forge_tree_bomb(repo: &Repo, levels: usize) -> String {
    forge_levels(repo, levels, |below, byte| {
        vec![
            dir(b"a", below),
            dir(b"b", below),
            file(b"f", 1, vec![byte]),
        ]
    })
}

/// A snapshot of `levels` trees above a tree holding the one-byte file
/// `f`, each made by `level` from the tree below it and `f`'s blob.
fn forge_levels(
    repo: &Repo,
    levels: usize,
    level: impl Fn(BlobId, BlobId) -> Vec<engine::repo_format::tree::Node>,
) -> String {
    let forger = Forger::open(repo);
    let byte = forger.data(b"x");
    let mut tree = forger.tree(vec![file(b"f", 1, vec![byte])]);
    for _ in 0..levels {
        tree = forger.tree(level(tree, byte));
    }
    forger.snapshot(tree, |_| {}).to_hex()
}

/// Run `argv` on `repo` under the hang guard, stdout into `stdout`, and
/// assert it fails with exit 1 and one line on stderr that says `said`.
#[track_caller]
fn refused_in_one_line(repo: &Repo, argv: &[&str], stdout: &std::path::Path, said: &[&str]) {
    let mut cmd = repo.cmd();
    cmd.args(argv).env("VAULT_TO_PASSWORD", PASSWORD);
    let (code, stderr) = run_guarded(cmd, stdout);
    assert_eq!(code, Some(1), "{argv:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{argv:?}: one line, not\n{stderr}");
    for words in said {
        assert!(stderr.contains(words), "{argv:?} says {words:?}: {stderr}");
    }
}

/// Issue 21, item 7: 49 trees of a few hundred bytes describe 2^48 files;
/// `ls` printed a quarter of a million lines in ten seconds and `restore`
/// never finished. Now each walk by path counts the entries below its
/// start first, each distinct tree once, and refuses with one line naming
/// the limit and its flag before it prints or writes anything. `stats`
/// and `check`, which read each distinct tree once, cope as they did.
#[test]
fn regression_21_tree_bomb_is_refused_by_every_walk_in_one_line() {
    let repo = Repo::new();
    let id = forge_tree_bomb(&repo, 48);
    let other = small_snapshot(&repo);
    let work = temp_dir();
    let target = work.path().join("restored");
    let target_arg = target.to_str().unwrap();
    let walks: [(&str, Vec<&str>); 5] = [
        ("ls", vec!["ls", &id]),
        ("diff", vec!["diff", &other, &id]),
        ("find", vec!["find", "f"]),
        ("restore", vec!["restore", &id, "--target", target_arg]),
        ("dump", vec!["dump", &id, "/"]),
    ];
    for (name, argv) in walks {
        let stdout = work.path().join(name);
        refused_in_one_line(
            &repo,
            &argv,
            &stdout,
            &[
                "more than the limit of 100000000",
                "--max-entries N",
                "VAULT_MAX_ENTRIES",
            ],
        );
        let written = std::fs::metadata(&stdout).unwrap().len();
        match name {
            // The header line `restoring snapshot ... to ...` at most.
            "restore" | "diff" => assert!(written < 200, "{name} printed {written} bytes"),
            _ => assert_eq!(written, 0, "{name} wrote to stdout"),
        }
    }
    assert!(
        !target.exists() || std::fs::read_dir(&target).unwrap().next().is_none(),
        "restore wrote into its target"
    );

    for argv in [vec!["stats"], vec!["check"]] {
        let mut cmd = repo.cmd();
        cmd.args(&argv);
        let (code, stderr) = run_guarded(cmd, &work.path().join(argv[0]));
        assert_eq!(code, Some(0), "{argv:?}: {stderr}");
    }
}

/// The mount serves the same bomb lazily: each request reads at most one
/// tree (loaded once by id, then from its cache), so a walk through it
/// costs what the walker asks for. A bounded walk ends, as on any file
/// system; an unbounded one is the walker's to stop.
#[test]
fn regression_21_tree_bomb_through_mount_serves_a_bounded_walk() {
    if !crate::mount::fuse_available() {
        cannot_run("FUSE is unavailable");
        return;
    }
    let repo = Repo::new();
    let id = forge_tree_bomb(&repo, 48);
    let work = temp_dir();
    let point = work.path().join("mnt");
    std::fs::create_dir(&point).unwrap();
    let mount = crate::mount::Mount::start(&repo, &[], &point);
    let root = point.join("ids").join(&id[..8]);
    let mut find = Command::new("find");
    find.arg(&root).args(["-maxdepth", "12"]);
    let listing = work.path().join("find");
    let (code, stderr) = run_guarded(find, &listing);
    assert_eq!(code, Some(0), "find: {stderr}");
    let lines = std::fs::read_to_string(&listing).unwrap().lines().count();
    // The root, then 3 · 2^(d − 1) entries at each depth d to 12.
    assert_eq!(lines, 1 + 3 * ((1 << 12) - 1));
    let (status, stderr) = mount.stop("TERM");
    assert!(status.success(), "{stderr}");
}

/// `--max-entries` and `VAULT_MAX_ENTRIES` move the limit both ways: a
/// 20-entry snapshot is refused under 10 and walked whole under 100.
#[test]
fn max_entries_flag_or_environment_sets_the_limit_of_every_walk() {
    let repo = Repo::new();
    let forger = Forger::open(&repo);
    let byte = forger.data(b"x");
    let files: Vec<_> = (0..19)
        .map(|i| file(format!("f{i:02}").as_bytes(), 1, vec![byte]))
        .collect();
    let d = forger.tree(files);
    let id = forger
        .snapshot(forger.tree(vec![dir(b"d", d)]), |_| {})
        .to_hex();
    let other = small_snapshot(&repo);
    let work = temp_dir();
    let target = work.path().join("t");
    let target = target.to_str().unwrap();
    let walks: [Vec<&str>; 5] = [
        vec!["ls", &id],
        vec!["diff", &other, &id],
        vec!["find", "f*"],
        vec!["restore", &id, "--target", target],
        vec!["dump", &id, "/"],
    ];
    for argv in &walks {
        let mut refused = argv.clone();
        refused.extend(["--max-entries", "10"]);
        let out = repo.run(&args_of(&refused));
        assert_error(&out, 1);
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("describes 20 entries below that path, more than the limit of 10"),
            "{}",
            describe(&out)
        );
        let mut cmd = repo.cmd();
        cmd.args(argv).env("VAULT_MAX_ENTRIES", "10");
        assert_error(&output_with_stdin(cmd, None), 1);

        let mut accepted = argv.clone();
        accepted.extend(["--max-entries", "100"]);
        repo.ok(&args_of(&accepted));
    }
    assert_eq!(names(std::path::Path::new(target)).len(), 19);
}

/// A real backup of one small file; its id.
fn small_snapshot(repo: &Repo) -> String {
    let dir = temp_dir();
    write(&dir.path().join("a"), b"a\n");
    let summary = repo.backup(args![dir.path()]);
    summary["snapshot_id"].as_str().unwrap().to_owned()
}

fn args_of<'a>(argv: &[&'a str]) -> Vec<&'a std::ffi::OsStr> {
    argv.iter().map(|a| std::ffi::OsStr::new(*a)).collect()
}

/// A chain of `levels` directories `d`, each its own tree, above a
/// one-byte file.
fn forge_chain(repo: &Repo, levels: usize) -> String {
    forge_levels(repo, levels, |below, _| vec![dir(b"d", below)])
}

/// A chain of 100,000 nested directories, each a tree of a few dozen
/// bytes: every recursive walk overflowed its stack and the process died
/// of a signal (ls, find, diff, restore, dump, stats). No Linux path has
/// more than 2048 components, so a snapshot nesting deeper was forged:
/// every reader now refuses it in one line, and `check` names it. (The
/// mount reads one tree per request and never recursed.)
#[test]
fn a_chain_deeper_than_any_path_is_refused_not_followed_into_a_crash() {
    let repo = Repo::new();
    let id = forge_chain(&repo, 100_000);
    let other = small_snapshot(&repo);
    let work = temp_dir();
    let target = work.path().join("t");
    let target = target.to_str().unwrap();
    let copy_to = Repo::new();
    let copy_to_url = copy_to.url.to_str().unwrap().to_owned();
    let walks: [Vec<&str>; 8] = [
        vec!["ls", &id],
        vec!["diff", &other, &id],
        vec!["find", "f"],
        vec!["restore", &id, "--target", target],
        vec!["dump", &id, "/"],
        vec!["stats", &id],
        vec!["stats", &id, "--mode", "raw-data"],
        vec!["copy", &id, "--to", &copy_to_url],
    ];
    for argv in walks {
        let out = work.path().join("out");
        refused_in_one_line(
            &repo,
            &argv,
            &out,
            &["nests directories more than 2048 deep"],
        );
    }
    assert!(copy_to.snapshots().is_empty(), "nothing was copied");
    let check = repo.run(args!["check"]);
    assert_eq!(check.status.code(), Some(1), "{}", describe(&check));
    assert!(
        describe(&check).contains("nests directories more than 2048 deep"),
        "{}",
        describe(&check)
    );
}

/// The other side of the bound: 2000 nested directories, as deep as a
/// real path can go, are listed, restored, dumped, compared and copied
/// in full (the recursive walks have the stack for it, on the worker
/// threads too).
#[test]
fn a_chain_as_deep_as_a_real_path_is_read_in_full() {
    let repo = Repo::new();
    let id = forge_chain(&repo, 2000);
    let other = small_snapshot(&repo);
    let work = temp_dir();
    let target = work.path().join("t");
    let copy_to = Repo::new();
    let ls = repo.ok(args!["ls", &id]);
    assert_eq!(ls.stdout.iter().filter(|b| **b == b'\n').count(), 2001);
    repo.ok(args!["find", "f"]);
    repo.ok(args!["diff", &other, &id]);
    repo.ok(args!["stats", &id]);
    repo.ok(args!["check"]);
    let dump = repo.ok(args!["dump", &id, "/"]);
    assert!(dump.stdout.len() > 2000 * 512);
    repo.ok(args!["restore", &id, "--target", &target]);
    // Beyond PATH_MAX as one path: open it a directory at a time.
    let deepest = (0..2000).fold(std::fs::File::open(&target).unwrap(), |at, _| {
        use std::os::fd::AsRawFd;
        std::fs::File::open(format!("/proc/self/fd/{}/d", at.as_raw_fd())).unwrap()
    });
    use std::os::fd::AsRawFd;
    let f = format!("/proc/self/fd/{}/f", deepest.as_raw_fd());
    assert_eq!(std::fs::read(f).unwrap(), b"x");
    let mut cmd = repo.cmd();
    cmd.args(["copy", &id, "--to"])
        .arg(&copy_to.url)
        .env("VAULT_TO_PASSWORD", PASSWORD);
    assert_success(&output_with_stdin(cmd, None));
    assert_eq!(copy_to.snapshots().len(), 1);
}
