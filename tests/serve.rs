//! `vault serve` on 127.0.0.1 (an ephemeral port, read from the line the
//! server prints) with the real `vault` binary as its client: backup,
//! restore and check over HTTP and HTTPS; append-only refusals that leave
//! the repository's files byte for byte unchanged; wrong credentials and
//! other users' repositories; traversal attempts, raw and encoded; the
//! body limit; and several clients backing up at once.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tempfile::TempDir;

use crate::args;
use crate::common::*;

pub(crate) const ALICE_PW: &str = "alice-http-secret-1";
pub(crate) const BOB_PW: &str = "bob-http-secret-2";
const ADMIN_PW: &str = "admin-http-secret-3";

/// A running `vault serve` over a fresh directory, with the users alice,
/// bob and admin (an administrator). Killed when dropped.
pub(crate) struct Server {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub(crate) addr: String,
    scheme: &'static str,
    /// The served directory: repository `/a/b` is `root/a/b`.
    pub(crate) root: PathBuf,
    /// Everything the server wrote on stderr.
    log: Arc<Mutex<String>>,
    /// Extra environment for clients (VAULT_CACERT for HTTPS).
    client_env: Vec<(String, String)>,
    dir: TempDir,
}

fn add_user(users: &Path, name: &str, password: &str, admin: bool) {
    let mut cmd = vault();
    cmd.args(["serve", "--users"])
        .arg(users)
        .args(["--add-user", name])
        .env("VAULT_SERVER_PASSWORD", password);
    if admin {
        cmd.arg("--admin");
    }
    assert_success(&output_with_stdin(cmd, None));
}

impl Server {
    pub(crate) fn start(flags: &[&str]) -> Server {
        let dir = temp_dir();
        Server::start_in(dir, flags, None)
    }

    /// Start with `flags`; `tls` is (certificate, key, CA) for HTTPS.
    fn start_in(dir: TempDir, flags: &[&str], tls: Option<(PathBuf, PathBuf, PathBuf)>) -> Server {
        let users = dir.path().join("users");
        add_user(&users, "alice", ALICE_PW, false);
        add_user(&users, "bob", BOB_PW, false);
        add_user(&users, "admin", ADMIN_PW, true);
        let root = dir.path().join("srv");
        let mut cmd = vault();
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--path"])
            .arg(&root)
            .arg("--users")
            .arg(&users)
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut client_env = Vec::new();
        if let Some((cert, key, ca)) = &tls {
            cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
            client_env.push(("VAULT_CACERT".to_owned(), ca.display().to_string()));
        }
        let mut child = cmd.spawn().expect("start vault serve");
        let stderr = child.stderr.take().expect("stderr piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.split("listening on ").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(url.split_whitespace().next().unwrap_or("").to_owned());
                }
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("vault serve did not start: {}", log.lock().unwrap()));
        let (scheme, addr) = url.split_once("://").expect("listening on SCHEME://ADDR");
        let scheme = if scheme == "https" { "https" } else { "http" };
        Server {
            child,
            addr: addr.to_owned(),
            scheme,
            root,
            log,
            client_env,
            dir,
        }
    }

    /// A client fixture for repository `path` as `user` with `password`.
    pub(crate) fn repo(&self, user: &str, password: &str, path: &str) -> Repo {
        let tmp = temp_dir();
        let cache = tmp.path().join("xdg-cache").into_os_string();
        let mut envs = vec![
            ("VAULT_SERVER_PASSWORD".into(), password.into()),
            ("XDG_CACHE_HOME".into(), cache),
        ];
        for (k, v) in &self.client_env {
            envs.push((k.into(), v.into()));
        }
        Repo {
            url: format!("vault+{}://{user}@{}/{path}", self.scheme, self.addr).into(),
            path: self.root.join(path),
            dir: tmp,
            prefix: Vec::new(),
            envs,
        }
    }

    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// One raw HTTP/1.1 request (plain HTTP only), for what a crafted
    /// client would send; returns the status and the body.
    pub(crate) fn raw(
        &self,
        method: &str,
        path: &str,
        auth: Option<(&str, &str)>,
        body: &[u8],
    ) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        if let Some((user, password)) = auth {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            head.push_str(&format!("Authorization: Basic {token}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        // The server may answer (413) before reading the whole body.
        let _ = stream.write_all(body);
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
        let body = text
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_owned();
        (status, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every file below `dir` with its bytes: to show that nothing changed.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walk(dir)
        .into_iter()
        .filter(|rel| dir.join(rel).is_file())
        .map(|rel| {
            let bytes = std::fs::read(dir.join(&rel)).unwrap();
            (rel, bytes)
        })
        .collect()
}

/// A source tree of `files` random files of `size` bytes each.
fn source(seed: u64, files: usize, size: usize) -> (TempDir, PathBuf) {
    let tmp = temp_dir();
    let src = tmp.path().join("src");
    for i in 0..files {
        write(
            &src.join(format!("d{}/f{i}.bin", i % 3)),
            &random_bytes(seed + i as u64, size),
        );
    }
    write(&src.join("small.txt"), b"hello over http\n");
    (tmp, src)
}

fn assert_restores(repo: &Repo, src: &Path) {
    let target = temp_dir();
    repo.ok(args!["restore", "latest", "--target", target.path()]);
    assert_same_tree(src, &restored(target.path(), src), false);
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// No password of any user in the server's log, nor in the client's output.
fn assert_no_passwords(text: &str) {
    for pw in [ALICE_PW, BOB_PW, ADMIN_PW] {
        assert!(!text.contains(pw), "a password appears in:\n{text}");
    }
}

#[test]
fn serve_backup_restore_and_check_over_http() {
    let server = Server::start(&[]);
    let repo = server.repo("alice", ALICE_PW, "alice/main");
    let (_tmp, src) = source(11, 6, 700 << 10);
    repo.init();
    let first = repo.backup(args![src]);
    write(&src.join("d0/new.bin"), &random_bytes(99, 300 << 10));
    let second = repo.backup(args![src]);
    assert_eq!(field(&second, "files_new"), 1, "{second}");
    assert_ne!(first["snapshot_id"], second["snapshot_id"]);
    assert_eq!(repo.snapshots().len(), 2);
    assert_restores(&repo, &src);
    repo.ok(args!["check", "--read-data"]);
    // The server's directory is an ordinary repository, and no lock is
    // left behind (clients delete their own).
    let local = vault()
        .args(["check", "--read-data", "-r"])
        .arg(&repo.path)
        .env("VAULT_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert_success(&local);
    let locks = repo.path.join("locks");
    assert!(!locks.exists() || walk(&locks).is_empty());
    // A second init at the same URL is refused, changing nothing.
    let before = files(&repo.path);
    assert_error(&repo.run(args!["init"]), 1);
    assert_eq!(before, files(&repo.path));
    assert_no_passwords(&server.log());
}

#[test]
fn serve_append_only_refuses_forget_prune_and_crafted_deletes_and_overwrites() {
    let server = Server::start(&["--append-only"]);
    let repo = server.repo("alice", ALICE_PW, "alice/main");
    let (_tmp, src) = source(21, 4, 400 << 10);
    repo.init();
    repo.backup(args![src]);
    std::fs::remove_file(src.join("d1/f1.bin")).unwrap();
    repo.backup(args![src]);
    // Locks come and go; a check that writes a ledger keeps the old ones.
    repo.ok(args!["check", "--read-data"]);
    repo.ok(args!["check", "--read-data"]);
    let before = files(&repo.path);
    let snapshots = repo.list("snapshots");
    assert_eq!(snapshots.len(), 2);

    for command in [
        args!["forget", "--keep-last", "1"],
        args!["forget", "--keep-last", "1", "--prune"],
        args!["prune"],
        args!["tag", "--add", "x", "latest"],
    ] {
        let out = repo.run(command);
        assert_error(&out, 1);
        let err = stderr(&out);
        assert!(
            err.contains("append-only")
                && err.contains("on the server")
                && err.contains("administrator"),
            "{command:?}: {err}"
        );
        assert_no_passwords(&err);
    }
    // Crafted requests with alice's credentials: deleting a snapshot, a
    // pack, the config or a key, overwriting the config or a snapshot.
    let snapshot = snapshots.iter().next().unwrap().clone();
    let rel = |p: &Path| format!("/alice/main/{}", p.to_string_lossy());
    let pack = before
        .keys()
        .find(|p| p.starts_with("data"))
        .expect("a pack")
        .clone();
    let key = before
        .keys()
        .find(|p| p.starts_with("keys"))
        .unwrap()
        .clone();
    let alice = Some(("alice", ALICE_PW));
    for path in [
        format!("/alice/main/snapshots/{snapshot}"),
        rel(&pack),
        rel(&key),
        "/alice/main/config".to_owned(),
    ] {
        let (status, body) = server.raw("DELETE", &path, alice, b"");
        assert_eq!(status, 403, "DELETE {path}: {body}");
        assert!(body.contains("append-only"), "{body}");
    }
    for (path, bytes) in [
        ("/alice/main/config".to_owned(), b"not a config".to_vec()),
        (
            format!("/alice/main/snapshots/{snapshot}"),
            b"forged".to_vec(),
        ),
        (rel(&pack), vec![0u8; 1000]),
    ] {
        let (status, body) = server.raw("PUT", &path, alice, &bytes);
        assert!(matches!(status, 400 | 412), "PUT {path}: {status} {body}");
    }
    // The same bytes again: refused as existing, never rewritten.
    let config = before[&PathBuf::from("config")].clone();
    assert_eq!(
        server.raw("PUT", "/alice/main/config", alice, &config).0,
        412
    );
    assert_eq!(
        before,
        files(&repo.path),
        "the repository must be unchanged"
    );
    assert_eq!(repo.snapshots().len(), 2);

    // An administrator may forget over HTTP; prune runs on the server.
    let admin = server.repo("admin", ADMIN_PW, "alice/main");
    admin.ok(args!["forget", "--keep-last", "1"]);
    assert_eq!(repo.snapshots().len(), 1);
    let local = vault()
        .args(["prune", "-r"])
        .arg(&repo.path)
        .env("VAULT_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert_success(&local);
    repo.ok(args!["check", "--read-data"]);
    assert_restores(&repo, &src);
    assert_no_passwords(&server.log());
}

#[test]
fn serve_wrong_password_and_other_users_repositories_are_refused() {
    let server = Server::start(&["--private-repos"]);
    let alice = server.repo("alice", ALICE_PW, "alice/main");
    alice.init();
    let (_tmp, src) = source(31, 2, 100 << 10);
    alice.backup(args![src]);
    let before = files(&alice.path);

    let wrong = server.repo("alice", "not-alices-password", "alice/main");
    let out = wrong.run(args!["snapshots"]);
    assert_error(&out, 1);
    assert!(stderr(&out).contains("credentials"), "{}", stderr(&out));
    let nobody = server.repo("mallory", "whatever", "alice/main");
    assert_error(&nobody.run(args!["snapshots"]), 1);
    // bob, with his own good password, cannot read, write or create in
    // alice's space, nor at the root.
    for path in ["alice/main", "alice/other", "shared"] {
        let bob = server.repo("bob", BOB_PW, path);
        for command in [args!["snapshots"], args!["init"]] {
            let out = bob.run(command);
            assert_error(&out, 1);
            assert!(
                stderr(&out).contains("does not let this user"),
                "{}",
                stderr(&out)
            );
        }
    }
    let bob = server.repo("bob", BOB_PW, "bob/main");
    bob.init();
    assert!(bob.snapshots().is_empty());
    // Raw requests: none, a wrong password, and bob on alice's config.
    let config = "/alice/main/config";
    assert_eq!(server.raw("GET", config, None, b"").0, 401);
    assert_eq!(server.raw("GET", config, Some(("alice", "x")), b"").0, 401);
    assert_eq!(server.raw("GET", config, Some(("bob", BOB_PW)), b"").0, 403);
    assert_eq!(
        server.raw("DELETE", config, Some(("bob", BOB_PW)), b"").0,
        403
    );
    assert_eq!(
        server
            .raw("PROPFIND", "/alice/main/keys", Some(("bob", BOB_PW)), b"")
            .0,
        403
    );
    assert_eq!(
        server.raw("GET", config, Some(("alice", ALICE_PW)), b"").0,
        200
    );
    assert_eq!(before, files(&alice.path));
    assert!(!server.root.join("alice/other").exists() && !server.root.join("shared").exists());
    let log = server.log();
    assert!(log.contains("wrong or missing credentials"), "{log}");
    assert_no_passwords(&log);
    assert_no_passwords("not-alices-password");
    assert!(!log.contains("not-alices-password"), "{log}");
}

#[test]
fn serve_path_traversal_is_refused_raw_and_encoded() {
    let server = Server::start(&[]);
    let repo = server.repo("alice", ALICE_PW, "alice/main");
    repo.init();
    // A file beside the served directory that no request may reach.
    let secret = server.dir.path().join("secret");
    std::fs::write(&secret, b"top secret").unwrap();
    let alice = Some(("alice", ALICE_PW));
    let id = "ab".repeat(32);
    for path in [
        "/../secret".to_owned(),
        "/alice/../../secret".to_owned(),
        "/alice/main/../../../secret".to_owned(),
        "/%2e%2e/secret".to_owned(),
        "/%2E%2E/%2E%2E/secret".to_owned(),
        "/alice/..%2f..%2fsecret".to_owned(),
        "/alice%2f..%2f..%2fsecret".to_owned(),
        "/alice/main/keys/..%2f..%2f..%2fsecret".to_owned(),
        "/alice/main/keys/%2e%2e".to_owned(),
        "/..%5c..%5csecret".to_owned(),
        "//secret".to_owned(),
        "/./secret".to_owned(),
        "/alice/main/keys/secret".to_owned(),
        format!("/alice/main/data/ab/../../{id}"),
        format!("/alice/main/data/cd/{id}"),
        format!("/alice/main/keys/{}", id.to_uppercase()),
        "/alice/main/config?x=../../secret".to_owned(),
    ] {
        for method in ["GET", "PUT", "DELETE", "PROPFIND"] {
            let (status, body) = server.raw(method, &path, alice, b"x");
            assert_eq!(status, 400, "{method} {path}: {body}");
            assert!(!body.contains("top secret"));
        }
    }
    assert_eq!(std::fs::read(&secret).unwrap(), b"top secret");
    // Nothing was created outside the repository's layout.
    let stray: Vec<_> = walk(&server.root)
        .into_iter()
        .filter(|p| server.root.join(p).is_file() && !p.starts_with("alice/main"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
    // A URL with traversal is refused by the client before any request.
    let mut bad = server.repo("alice", ALICE_PW, "alice/main");
    bad.url = format!("vault+http://alice@{}/alice/../bob", server.addr).into();
    assert_error(&bad.run(args!["snapshots"]), 1);
    // And a password in the URL is refused, not sent.
    bad.url = format!("vault+http://alice:{ALICE_PW}@{}/alice/main", server.addr).into();
    let out = bad.run(args!["snapshots"]);
    assert_error(&out, 1);
    assert!(
        stderr(&out).contains("VAULT_SERVER_PASSWORD"),
        "{}",
        stderr(&out)
    );
    assert_no_passwords(&stderr(&out));
}

#[test]
fn serve_refuses_bodies_over_the_limit() {
    let server = Server::start(&["--max-body", "1MiB"]);
    let alice = Some(("alice", ALICE_PW));
    let path = format!("/alice/main/data/ab/{}", "ab".repeat(32));
    let (status, body) = server.raw("PUT", &path, alice, &vec![7u8; 2 << 20]);
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("--max-body"), "{body}");
    assert!(!server.root.join(&path[1..]).exists());
    // A backup whose packs exceed the limit fails with one clear line.
    let repo = server.repo("alice", ALICE_PW, "alice/main");
    repo.init();
    let (_tmp, src) = source(41, 2, 3 << 20);
    let out = repo.run(args!["--retries", "0", "backup", src]);
    assert_error(&out, 1);
    assert!(stderr(&out).contains("413"), "{}", stderr(&out));
    assert!(repo.snapshots().is_empty());
}

/// A certificate authority and a certificate for 127.0.0.1 signed by it,
/// made with the openssl command; None when there is no openssl.
fn make_certificates(dir: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let run = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let ok = run(&[
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=vault test CA",
        "-keyout", "ca.key", "-out", "ca.pem",
    ]) && run(&[
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
        "-out", "server.csr",
    ]) && std::fs::write(
        dir.join("ext.cnf"),
        "basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .is_ok()
        && run(&[
            "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem",
        ]);
    ok.then(|| {
        (
            dir.join("server.pem"),
            dir.join("server.key"),
            dir.join("ca.pem"),
        )
    })
}

#[test]
fn serve_https_backup_restore_and_an_untrusted_certificate_is_refused() {
    let dir = temp_dir();
    let Some(tls) = make_certificates(dir.path()) else {
        assert!(
            std::env::var("VAULT_TEST_TLS_REQUIRED").as_deref() != Ok("1"),
            "VAULT_TEST_TLS_REQUIRED=1 but openssl could not make certificates (apt-get install openssl)"
        );
        eprintln!("skipped: openssl could not make certificates; scripts/test.sh installs it");
        return;
    };
    let server = Server::start_in(dir, &["--append-only"], Some(tls));
    assert_eq!(server.scheme, "https");
    let repo = server.repo("alice", ALICE_PW, "alice/tls");
    let (_tmp, src) = source(51, 3, 300 << 10);
    repo.init();
    repo.backup(args![src]);
    assert_restores(&repo, &src);
    repo.ok(args!["check", "--read-data"]);
    // Without the CA the client refuses the server's certificate.
    let mut untrusted = server.repo("alice", ALICE_PW, "alice/tls");
    untrusted.envs.retain(|(k, _)| k != "VAULT_CACERT");
    let out = untrusted.run(args!["--retries", "0", "snapshots"]);
    assert_error(&out, 1);
    // Plain HTTP to the HTTPS port does not get through either.
    let mut plain = server.repo("alice", ALICE_PW, "alice/tls");
    plain.url = format!("vault+http://alice@{}/alice/tls", server.addr).into();
    assert_error(&plain.run(args!["--retries", "0", "snapshots"]), 1);
    assert_no_passwords(&server.log());
}

/// The load test: four clients back up at once (two into each of two
/// repositories), each 8 MiB of its own data plus data they share, then
/// every repository checks with --read-data and restores. Loopback only,
/// bounded in size; the test fails if it takes more than five minutes.
#[test]
fn serve_refuses_a_memory_budget_smaller_than_one_upload() {
    let dir = temp_dir();
    let users = dir.path().join("users");
    add_user(&users, "alice", ALICE_PW, false);
    let out = vault()
        .args(["serve", "--listen", "127.0.0.1:0", "--path"])
        .arg(dir.path().join("srv"))
        .arg("--users")
        .arg(&users)
        .args(["--max-body", "64MiB", "--max-memory", "32MiB"])
        .output()
        .unwrap();
    assert_error(&out, 1);
    assert!(stderr(&out).contains("--max-body"), "{}", stderr(&out));
}

#[test]
fn serve_load_concurrent_clients_back_up_then_check_read_data() {
    // Room for three 8 MiB packs in memory at once: uploads beyond that
    // wait their turn (and must all get one).
    let server = Server::start(&[
        "--append-only",
        "--private-repos",
        "--max-requests",
        "16",
        "--max-body",
        "24MiB",
        "--max-memory",
        "24MiB",
    ]);
    let started = Instant::now();
    let repos = [
        server.repo("alice", ALICE_PW, "alice/load"),
        server.repo("bob", BOB_PW, "bob/load"),
    ];
    for repo in &repos {
        repo.init();
    }
    let shared = random_bytes(7, 2 << 20);
    let sources: Vec<(TempDir, PathBuf)> = (0..4)
        .map(|i| {
            let (tmp, src) = source(1000 * (i + 1), 4, 2 << 20);
            write(&src.join("shared.bin"), &shared);
            (tmp, src)
        })
        .collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = sources
            .iter()
            .enumerate()
            .map(|(i, (_, src))| {
                let repo = &repos[i % 2];
                scope.spawn(move || {
                    let host = format!("client{i}");
                    repo.backup(args!["--host", host, src])
                })
            })
            .collect();
        for handle in handles {
            let summary = handle.join().expect("a client thread panicked");
            assert!(summary["snapshot_id"].is_string(), "{summary}");
        }
    });
    for (i, repo) in repos.iter().enumerate() {
        assert_eq!(repo.snapshots().len(), 2, "repository {i}");
        repo.ok(args!["check", "--read-data"]);
    }
    for (i, (_, src)) in sources.iter().enumerate() {
        let target = temp_dir();
        let host = format!("client{i}");
        repos[i % 2].ok(args![
            "restore",
            "latest",
            "--host",
            host,
            "--target",
            target.path()
        ]);
        assert_same_tree(src, &restored(target.path(), src), false);
    }
    assert!(
        started.elapsed() < Duration::from_secs(300),
        "the load test took {:?}",
        started.elapsed()
    );
    assert_no_passwords(&server.log());
}

/// Heartbeats (SPEC.md §7.7) are the one object an append-only server lets
/// a client replace: `vault run` works end to end over it (with retention
/// left to the server), each heartbeat is replaced in place, and a monitor
/// with the public key alone reads them through the server; deleting one
/// is refused like any other delete.
#[test]
fn serve_append_only_replaces_heartbeats_and_a_monitor_reads_them() {
    let server = Server::start(&["--append-only"]);
    let repo = server.repo("alice", ALICE_PW, "alice/web");
    repo.init();
    let (tmp, src) = source(31, 3, 64 << 10);
    let config = tmp.path().join("vault.toml");
    let url = repo.url.to_string_lossy().into_owned();
    let write_config = |key: &str| {
        std::fs::write(
            &config,
            format!(
                "[repositories.web]\nurl = \"{url}\"\n{key}\n\
                 [sources.www]\npaths = [\"{}\"]\nmax-age = \"1h\"\n\n\
                 [profiles.nightly]\nrepository = \"web\"\ncheck = {{ max-age = \"1h\" }}\n",
                src.display()
            ),
        )
        .unwrap();
    };
    write_config("");
    let vault_toml = |args: &[&str], password: bool| {
        let mut cmd = vault();
        cmd.arg("--config").arg(&config).args(args);
        cmd.env("VAULT_SERVER_PASSWORD", ALICE_PW);
        if password {
            cmd.env("VAULT_PASSWORD", PASSWORD);
        }
        cmd.output().unwrap()
    };
    for _ in 0..2 {
        let out = vault_toml(&["run"], true);
        assert_success(&out);
    }
    let beats: Vec<_> = std::fs::read_dir(repo.path.join("heartbeats"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        beats.len(),
        2,
        "one backup and one check heartbeat: {beats:?}"
    );

    let key = String::from_utf8_lossy(&repo.ok(args!["key", "heartbeat"]).stdout)
        .trim()
        .to_owned();
    write_config(&format!("heartbeat-key = \"{key}\""));
    let out = vault_toml(&["health", "--heartbeats", "--json"], false);
    assert_success(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["healthy"], true, "{report:#}");
    // The second run's heartbeat replaced the first and carries its size.
    assert_eq!(
        report["sources"][0]["earlier_bytes"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{report:#}"
    );

    let name = beats[0].file_name().unwrap().to_string_lossy().into_owned();
    let (status, _) = server.raw(
        "DELETE",
        &format!("/alice/web/heartbeats/{name}"),
        Some(("alice", ALICE_PW)),
        b"",
    );
    assert_eq!(status, 403);
    assert!(beats[0].exists());
}

/// `vault+http://` sends the server password in clear text, by design (a
/// loopback address too: a local user can hold the port while the server
/// is down): every command says so, once, on stderr; `vault+https://` not.
#[test]
fn regression_21_serve_clear_text_http_is_warned_once() {
    let server = Server::start(&[]);
    let repo = server.repo("alice", ALICE_PW, "alice/plain");
    let warning = "vault+http:// sends the server password in clear text";
    let said = |out: &std::process::Output| {
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| l.starts_with("warning: ") && l.contains(warning))
            .count()
    };
    // init opens the store twice (is one there? then create it).
    let out = repo.run(args!["init"]);
    assert_success(&out);
    assert_eq!(said(&out), 1, "{}", describe(&out));
    let out = repo.run(args!["snapshots"]);
    assert_success(&out);
    assert_eq!(said(&out), 1, "{}", describe(&out));
}
