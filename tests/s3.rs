//! vault against a real S3 server (moto, started by scripts/test.sh on
//! 127.0.0.1): what only a network store exercises — transient failures
//! retried, a permanent outage failing cleanly, multipart uploads, stores
//! without conditional writes, clear errors for a missing bucket. (The
//! backup, restore, check, forget, prune and copy scenarios also run whole
//! against S3: scripts/test.sh runs them again with VAULT_TEST_BACKEND=s3.)

use std::path::Path;
use std::time::Duration;

use crate::args;
use crate::common::proxy::{Counts, FaultProxy, Faults, upstream_of};
use crate::common::*;

/// A fresh S3 repository whose requests go through `proxy`, or None when
/// there is no S3 test server.
fn s3_repo() -> Option<Repo> {
    s3_bucket().map(|b| Repo::s3_uninitialised(&b))
}

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").expect("the S3 test server sets AWS_ENDPOINT_URL")
}

fn through(repo: &mut Repo, proxy: &FaultProxy) {
    repo.envs
        .retain(|(k, _)| k.to_str() != Some("AWS_ENDPOINT_URL"));
    repo.envs
        .push(("AWS_ENDPOINT_URL".into(), proxy.endpoint().into()));
}

fn direct(repo: &mut Repo) {
    repo.envs
        .retain(|(k, _)| k.to_str() != Some("AWS_ENDPOINT_URL"));
}

/// A source tree of `files` random files of `size` bytes each.
fn source(seed: u64, files: usize, size: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = temp_dir();
    let src = tmp.path().join("src");
    for i in 0..files {
        write(
            &src.join(format!("d{}/f{i}.bin", i % 4)),
            &random_bytes(seed + i as u64, size),
        );
    }
    (tmp, src)
}

fn assert_restores(repo: &Repo, snapshot: &str, src: &Path) {
    let target = temp_dir();
    repo.ok(args!["restore", snapshot, "--target", target.path()]);
    assert_same_tree(src, &restored(target.path(), src), false);
}

#[test]
fn s3_transient_failures_are_retried_and_backup_restore_check_succeed() {
    let Some(mut repo) = s3_repo() else { return };
    let proxy = FaultProxy::start(
        upstream_of(&endpoint()),
        Faults {
            fail_per_mille: 120,
            error_per_mille: 60,
            delay_per_mille: 100,
            delay: Duration::from_millis(300),
            ..Faults::default()
        },
        7,
    );
    through(&mut repo, &proxy);
    let (_tmp, src) = source(100, 24, 700 << 10);
    repo.init();
    let first = repo.backup(args![src]);
    write(&src.join("d1/new.bin"), &random_bytes(999, 3 << 20));
    std::fs::remove_file(src.join("d2/f2.bin")).unwrap();
    let second = repo.backup(args![src]);
    assert_eq!(field(&second, "files_new"), 1, "{second}");
    assert_restores(&repo, "latest", &src);
    repo.ok(args!["check", "--read-data"]);
    assert_ne!(first["snapshot_id"], second["snapshot_id"]);
    // The faults really happened: otherwise this test proves nothing.
    let failed = proxy.count(|c: &Counts| &c.failed);
    let delayed = proxy.count(|c: &Counts| &c.delayed);
    assert!(
        failed >= 10 && delayed >= 5,
        "too few faults injected: {failed} failed, {delayed} delayed"
    );
    // And what went through the proxy reads back the same without it.
    direct(&mut repo);
    repo.ok(args!["check", "--read-data"]);
    assert_eq!(repo.snapshots().len(), 2);
}

#[test]
fn s3_outage_during_backup_fails_cleanly_and_loses_nothing() {
    let Some(mut repo) = s3_repo() else { return };
    let (_tmp, src) = source(200, 8, 1 << 20);
    repo.init();
    repo.backup(args![src]);
    // Enough new incompressible data for several packs; the store goes
    // away after the second pack upload.
    for i in 0..6 {
        write(
            &src.join(format!("big{i}.bin")),
            &random_bytes(300 + i, 6 << 20),
        );
    }
    let proxy = FaultProxy::start(
        upstream_of(&endpoint()),
        Faults {
            outage_after_data_puts: Some(2),
            ..Faults::default()
        },
        8,
    );
    through(&mut repo, &proxy);
    let out = repo.run(args![
        "--retries",
        "2",
        "--retry-timeout",
        "5s",
        "backup",
        src
    ]);
    assert_error(&out, 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("storage") && stderr.contains("503"),
        "the error must say the storage failed and how: {stderr}"
    );
    assert!(proxy.count(|c: &Counts| &c.data_puts) >= 2);
    // With the store back: no new snapshot, and the repository checks.
    direct(&mut repo);
    assert_eq!(repo.snapshots().len(), 1);
    repo.ok(args!["check", "--read-data"]);
    // The next backup completes and restores.
    repo.backup(args![src]);
    assert_restores(&repo, "latest", &src);
    repo.ok(args!["check", "--read-data"]);
}

#[test]
fn s3_large_packs_go_up_in_parts() {
    let Some(mut repo) = s3_repo() else { return };
    let proxy = FaultProxy::start(upstream_of(&endpoint()), Faults::default(), 9);
    through(&mut repo, &proxy);
    // 72 MiB over at most four open packs: by pigeonhole one exceeds the
    // 16 MiB multipart threshold whatever the random pack assignment.
    let (_tmp, src) = source(400, 3, 24 << 20);
    repo.ok(args!["init", "--pack-size", "40MiB"]);
    repo.backup(args![src]);
    assert!(
        proxy.count(|c: &Counts| &c.multipart) >= 3,
        "a 40 MiB pack must be uploaded in parts"
    );
    assert_restores(&repo, "latest", &src);
    repo.ok(args!["check", "--read-data"]);
}

#[test]
fn s3_store_without_conditional_writes_still_works_and_refuses_a_second_init() {
    let Some(mut repo) = s3_repo() else { return };
    repo.envs
        .push(("AWS_CONDITIONAL_PUT".into(), "disabled".into()));
    let (_tmp, src) = source(500, 6, 300 << 10);
    repo.init();
    repo.backup(args![src]);
    let out = repo.run(args!["init"]);
    assert_error(&out, 1);
    assert_restores(&repo, "latest", &src);
    repo.ok(args!["check", "--read-data"]);
}

#[test]
fn s3_missing_bucket_or_repository_is_a_clear_error() {
    let Some(bucket) = s3_bucket() else { return };
    let mut repo = Repo::s3_uninitialised(&bucket);
    // No repository under this prefix: exit 10, as for a directory.
    let out = repo.run(args!["snapshots"]);
    assert_error(&out, 10);
    repo.url = "s3://vault-no-such-bucket/r".into();
    let out = repo.run(args!["--retries", "0", "init"]);
    assert_error(&out, 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("vault-no-such-bucket") && stderr.contains("bucket does not exist"),
        "{stderr}"
    );
    // Wrong credentials: moto checks none, so a proxy answers as S3 does.
    let mut repo = Repo::s3_uninitialised(&bucket);
    let denied = FaultProxy::start(
        upstream_of(&endpoint()),
        Faults {
            deny: true,
            ..Faults::default()
        },
        10,
    );
    through(&mut repo, &denied);
    let out = repo.run(args!["init"]);
    assert_error(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("access denied: check the credentials"),
        "{}",
        describe(&out)
    );
    repo.url = "s3:///prefix".into();
    let out = repo.run(args!["snapshots"]);
    assert_error(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("bucket"));
}

#[test]
fn s3_repository_is_cached_by_default_so_metadata_is_read_once() {
    let Some(repo) = s3_repo() else { return };
    let (_tmp, src) = source(600, 5, 100 << 10);
    repo.init();
    repo.backup(args![src]);
    write(&src.join("new.txt"), b"new\n");
    repo.backup(args![src]);
    // The fixture points XDG_CACHE_HOME into its own directory.
    let xdg = repo.dir.path().join("xdg-cache").join("vault");
    let first = repo.ok(args!["-v", "ls", "latest"]);
    let _ = crate::cache::cache_line(&first, &xdg);
    let again = repo.ok(args!["-v", "ls", "latest"]);
    let line = crate::cache::cache_line(&again, &xdg);
    assert!(line.hits > 0 && line.downloads == 0, "{}", describe(&again));
    let out = repo.ok(args!["-v", "--no-cache", "snapshots"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("cache: "));
}

/// The off-site case: a local repository copied to S3 with other keys,
/// then copied back into a second local one; each restores and checks.
#[test]
fn s3_copy_from_a_local_repository_and_back() {
    let offsite = || {
        s3_repo().map(|mut r| {
            r.envs
                .push(("VAULT_PASSWORD".into(), "off-site password".into()));
            r.init();
            r
        })
    };
    let Some(first) = offsite() else { return };
    crate::copy::copy_roundtrip(&Repo::local(), &first);
    let second = offsite().expect("S3 server");
    crate::copy::copy_twice_adds_nothing(&Repo::local(), &second);
    let third = offsite().expect("S3 server");
    crate::copy::copy_selected_snapshots(&third, &Repo::local());
}

#[test]
fn s3_forget_and_prune_reclaim_packs_and_keep_the_rest_whole() {
    let Some(repo) = s3_repo() else { return };
    let tmp = temp_dir();
    let src = tmp.path().join("src");
    repo.init();
    for round in 0..3u64 {
        // Each round replaces the data: older snapshots own their packs.
        if src.exists() {
            std::fs::remove_dir_all(&src).unwrap();
        }
        for i in 0..3 {
            write(
                &src.join(format!("f{i}.bin")),
                &random_bytes(700 + 10 * round + i, 3 << 20),
            );
        }
        repo.backup(args![src]);
    }
    let before = repo.list("packs");
    repo.ok(args!["forget", "--keep-last", "1", "--prune"]);
    let after = repo.list("packs");
    assert_eq!(repo.snapshots().len(), 1);
    assert!(
        after.len() < before.len() && !after.is_empty(),
        "prune must delete the forgotten snapshots' packs: {} -> {}",
        before.len(),
        after.len()
    );
    repo.ok(args!["check", "--read-data"]);
    assert_restores(&repo, "latest", &src);
}

/// The lines of `out`'s stderr that contain `text`.
fn said(out: &std::process::Output, text: &str) -> usize {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("warning: ") && l.contains(text))
        .count()
}

/// `AWS_ALLOW_INVALID_CERTIFICATES=true` turns off the checks of the
/// store's TLS certificate: vault says so once, before connecting (no S3
/// server needed: the store here refuses connections), whether the
/// variable comes from the environment or from a vault.toml `env`.
#[test]
fn regression_21_s3_unchecked_certificates_are_warned_once() {
    let tmp = temp_dir();
    let s3 = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", "https://127.0.0.1:9"),
    ];
    let warning = "AWS_ALLOW_INVALID_CERTIFICATES is set";
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = vault();
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        cmd.args(args)
            .envs(s3.iter().chain(env).copied())
            .env("VAULT_PASSWORD", PASSWORD)
            .env("XDG_CACHE_HOME", tmp.path().join("cache"))
            .output()
            .unwrap()
    };
    let url = ["--retries", "0", "-r", "s3://bucket/repo", "snapshots"];
    let out = run(&url, &[("AWS_ALLOW_INVALID_CERTIFICATES", "true")]);
    assert_no_panic(&out);
    assert_eq!(said(&out, warning), 1, "{}", describe(&out));
    let out = run(&url, &[("AWS_ALLOW_INVALID_CERTIFICATES", "false")]);
    assert_eq!(said(&out, warning), 0, "{}", describe(&out));
    let out = run(&url, &[]);
    assert_eq!(said(&out, warning), 0, "{}", describe(&out));

    // The same variable in a vault.toml repository's `env`.
    let config = tmp.path().join("vault.toml");
    let password = tmp.path().join("password");
    write(&password, PASSWORD.as_bytes());
    let text = format!(
        "[repositories.main]\nurl = \"s3://bucket/repo\"\npassword-file = \"{}\"\n\
         env = {{ AWS_ALLOW_INVALID_CERTIFICATES = \"yes\" }}\n\n\
         [sources.s]\npaths = [\"/nonexistent\"]\n\n\
         [profiles.p]\nrepository = \"main\"\n",
        password.display()
    );
    std::fs::write(&config, text).unwrap();
    let out = run(
        &[
            "--retries",
            "0",
            "--config",
            config.to_str().unwrap(),
            "health",
        ],
        &[],
    );
    assert_no_panic(&out);
    assert_eq!(said(&out, warning), 1, "{}", describe(&out));
}
