//! Bounded memory: the index table on disk past a budget (`--max-memory`,
//! and `VAULT_INDEX_MEMORY` to set the table's budget itself), and index
//! files written during a backup rather than one at its end.

use std::fs;
use std::path::PathBuf;

use crate::args;
use crate::common::*;

/// With 256-byte chunks, 32 MiB of random files make about 100,000 blobs:
/// more than one index file's worth (65,536).
fn many_blobs() -> (tempfile::TempDir, PathBuf) {
    let tmp = temp_dir();
    let src = tmp.path().join("src");
    for i in 0..32u64 {
        write(
            &src.join(format!("d{}/f{i}.bin", i % 3)),
            &random_bytes(700 + i, 1 << 20),
        );
    }
    let src = src.canonicalize().unwrap();
    (tmp, src)
}

fn on_disk(repo: &Repo, args: &[&std::ffi::OsStr]) -> std::process::Output {
    let mut cmd = repo.cmd();
    cmd.env("VAULT_INDEX_MEMORY", "0").arg("-v").args(args);
    let out = output_with_stdin(cmd, None);
    assert_success(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("moved to disk (--max-memory)"),
        "the index stayed in memory\n{}",
        describe(&out)
    );
    out
}

#[test]
fn index_on_disk_backs_up_dedups_restores_and_checks() {
    let repo = Repo::uninitialised();
    repo.ok(args!["init", "--chunk-size", "256B"]);
    let (_tmp, src) = many_blobs();

    // The first backup writes index files as it goes, not one at the end.
    let first = summary(&on_disk(&repo, args!["backup", "--json", src]));
    let blobs = field(&first, "data_blobs");
    assert!(blobs > 65_536, "{first}");
    let index_files = repo.list("index").len() as u64;
    assert!(
        index_files > blobs / 65_536 && index_files >= 2,
        "{blobs} blobs in {index_files} index file(s)"
    );

    // Change 100 bytes of one file; the unchanged files are found through the parent,
    // and the changed file's chunks through lookups in the table on disk.
    let victim = src.join("d1/f1.bin");
    let mut bytes = fs::read(&victim).unwrap();
    bytes[500_000..500_100].fill(0);
    fs::write(&victim, &bytes).unwrap();
    let second = summary(&on_disk(&repo, args!["backup", "--json", src]));
    assert_eq!(field(&second, "files_changed"), 1, "{second}");
    // A few new chunks (the trees that list the file's chunks are new
    // too, and large at this chunk size). How many chunks a change
    // touches before the boundaries resynchronise depends on the
    // repository's random chunker seed: usually 1 to 3, 5 was seen; tens
    // of thousands would mean the unchanged chunks were not found.
    assert!(
        (1..=10).contains(&field(&second, "data_blobs")),
        "a 100-byte change added too much: {second}"
    );
    // Every blob of an identical file is found on disk, none is added.
    let copy = src.join("d2/copy.bin");
    fs::copy(&victim, &copy).unwrap();
    let third = summary(&on_disk(&repo, args!["backup", "--json", src]));
    assert_eq!(field(&third, "files_new"), 1, "{third}");
    assert_eq!(field(&third, "data_blobs"), 0, "{third}");

    let target = temp_dir();
    on_disk(&repo, args!["restore", "latest", "--target", target.path()]);
    assert_same_tree(&src, &restored(target.path(), &src), false);
    on_disk(&repo, args!["check", "--read-data"]);
}

#[test]
fn max_memory_below_what_vault_needs_is_refused_in_one_line() {
    let repo = Repo::new();
    let out = repo.run(args!["--max-memory", "100MiB", "snapshots"]);
    assert_error(&out, 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--max-memory 100MiB is too small"),
        "{stderr}"
    );
    let out = repo.run(args!["--max-memory", "lots", "snapshots"]);
    assert_error(&out, 1);
    // A budget the index fits in changes nothing.
    let (_tmp, src) = many_blobs();
    let out = repo.ok(args!["--max-memory", "256MiB", "-v", "backup", src]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("moved to disk"), "{stderr}");
}

/// The environment of a running `vault backup --stdin` (it waits for its
/// input), read from /proc by its process id.
fn environment_of_running_vault(repo: &Repo, tunables: Option<&str>) -> String {
    use std::io::Write;
    let mut cmd = repo.cmd();
    cmd.env_remove("GLIBC_TUNABLES");
    if let Some(t) = tunables {
        cmd.env("GLIBC_TUNABLES", t);
    }
    let mut child = cmd
        .args(args![
            "backup",
            "--stdin",
            "--stdin-filename",
            "t.txt",
            "-q"
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let environ = format!("/proc/{}/environ", child.id());
    // Until vault has started again (the exec), its environment is the
    // one it was given; give it up to 10 s.
    let mut seen = String::new();
    for _ in 0..100 {
        seen = String::from_utf8_lossy(&fs::read(&environ).unwrap_or_default()).into_owned();
        if seen.contains("GLIBC_TUNABLES=") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"hello\n").unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
    seen
}

#[test]
fn vault_runs_with_a_fixed_malloc_mmap_threshold_unless_told_otherwise() {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return;
    }
    let repo = Repo::new();
    let env = environment_of_running_vault(&repo, None);
    assert!(
        env.split('\0')
            .any(|v| v == "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4194304"),
        "vault did not start again with its malloc tunable (same process id): {env:?}"
    );
    let env = environment_of_running_vault(&repo, Some("glibc.malloc.arena_max=1"));
    assert!(
        env.split('\0')
            .any(|v| v == "GLIBC_TUNABLES=glibc.malloc.arena_max=1"),
        "a tunable the user set was replaced: {env:?}"
    );
    // Both backups read their input through the exec.
    let out = repo.ok(args!["dump", "latest", "/t.txt"]);
    assert_eq!(out.stdout, b"hello\n");
}
