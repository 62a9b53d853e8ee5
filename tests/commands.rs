//! `vault backup --command NAME=CMD`: several commands' outputs as files of
//! one snapshot, beside paths; and how a failing or killed command (here or
//! with `--stdin-from-command`) leaves no snapshot.

use crate::args;
use crate::common::*;
use serde_json::{Value, json};
use std::path::Path;

/// The last non-empty line of stderr: vault's own message, after whatever
/// the commands wrote there.
fn last_stderr_line(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .to_owned()
}

/// A failed backup: exit 1, nothing panicked, vault's message is the last
/// line of stderr and names the cause; no snapshot.
#[track_caller]
fn assert_failed_without_snapshot(repo: &Repo, out: &std::process::Output, expected: &[&str]) {
    assert_eq!(out.status.code(), Some(1), "{}", describe(out));
    assert_no_panic(out);
    let line = last_stderr_line(out);
    assert!(line.starts_with("vault: "), "{}", describe(out));
    assert!(line.contains("no snapshot was saved"), "{}", describe(out));
    for e in expected {
        assert!(line.contains(e), "{e:?} missing\n{}", describe(out));
    }
    assert_eq!(repo.snapshots(), Vec::<Value>::new());
}

fn quote(path: &Path) -> String {
    format!("'{}'", path.display())
}

#[test]
fn commands_store_each_output_as_its_own_file_beside_paths() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let src = tmp.path().join("src");
    write(&src.join("a.txt"), b"alpha\n");
    let big = random_bytes(51, 4 * (1 << 20) + 77);
    let payload = tmp.path().join("payload");
    write(&payload, &big);

    let s = repo.backup(args![
        src,
        "--command",
        format!("db.sql=cat {}", quote(&payload)),
        "--command",
        "dumps/globals.sql=printf 'CREATE ROLE app;\\n'",
    ]);
    assert_eq!(field(&s, "files_new"), 3, "{s}");
    assert_eq!(
        s["streams"],
        json!([
            {"path": "/db.sql", "command": format!("cat {}", quote(&payload)), "bytes": big.len()},
            {"path": "/dumps/globals.sql", "command": "printf 'CREATE ROLE app;\\n'", "bytes": 17},
        ]),
        "{s}"
    );
    assert_eq!(field(&s, "stream_bytes"), big.len() as u64 + 17, "{s}");

    let snaps = repo.snapshots();
    assert_eq!(snaps.len(), 1);
    let mut paths = vec![
        "/db.sql".to_owned(),
        "/dumps/globals.sql".to_owned(),
        src.display().to_string(),
    ];
    paths.sort();
    assert_eq!(snaps[0]["paths"], json!(paths), "{}", snaps[0]);
    assert_eq!(
        snaps[0]["command"],
        json!([
            "--command",
            format!("db.sql=cat {}", quote(&payload)),
            "--command",
            "dumps/globals.sql=printf 'CREATE ROLE app;\\n'",
        ]),
        "{}",
        snaps[0]
    );

    let db = repo.ok(args!["dump", "latest", "/db.sql"]);
    assert!(db.stdout == big, "dump of /db.sql differs");
    let globals = repo.ok(args!["dump", "latest", "/dumps/globals.sql"]);
    assert_eq!(globals.stdout, b"CREATE ROLE app;\n");
    let a = repo.ok(args!["dump", "latest", src.join("a.txt")]);
    assert_eq!(a.stdout, b"alpha\n");

    // The same sources again: the snapshot of the same paths is the
    // parent, and the unchanged dump adds no data.
    let again = repo.backup(args![
        src,
        "--command",
        format!("db.sql=cat {}", quote(&payload)),
        "--command",
        "dumps/globals.sql=printf 'CREATE ROLE app;\\n'",
    ]);
    assert_eq!(again["parent"], snaps[0]["id"], "{again}");
    assert_eq!(field(&again, "data_blobs"), 0, "{again}");
    assert_eq!(field(&again, "files_changed"), 2, "{again}");
    assert_eq!(field(&again, "files_unmodified"), 1, "{again}");
}

#[test]
fn commands_alone_make_a_snapshot_of_their_outputs() {
    let repo = Repo::new();
    let s = repo.backup(args!["--command", "one=echo 1", "--command", "two=echo 2"]);
    assert_eq!(field(&s, "files_new"), 2, "{s}");
    assert_eq!(repo.ok(args!["dump", "latest", "one"]).stdout, b"1\n");
    assert_eq!(repo.ok(args!["dump", "latest", "two"]).stdout, b"2\n");
}

#[test]
fn command_failure_saves_no_snapshot_and_reports_status_and_stderr_tail() {
    let repo = Repo::new();
    // 15 lines on stderr: the error keeps the last 10.
    let failing = "for i in $(seq 1 15); do echo \"complaint $i\" >&2; done; echo partial; exit 3";
    let out = repo.run(args![
        "backup",
        "--json",
        "--command",
        "good.sql=echo fine",
        "--command",
        format!("bad.sql={failing}"),
    ]);
    assert_failed_without_snapshot(
        &repo,
        &out,
        &["/bad.sql", "exit status 3", "complaint 6 |", "complaint 15"],
    );
    assert!(
        !last_stderr_line(&out).contains("complaint 5 |"),
        "{}",
        describe(&out)
    );
    let s = summary(&out);
    assert_eq!(s["snapshot_id"], Value::Null, "{s}");
    let errors = s["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{s}");
    assert_eq!(errors[0]["path"], "/bad.sql", "{s}");
    assert_eq!(errors[0]["command"], failing, "{s}");
    assert_eq!(errors[0]["status"], "exit status 3", "{s}");
    let tail = errors[0]["stderr_tail"].as_str().expect("stderr_tail");
    let expected: Vec<String> = (6..=15).map(|i| format!("complaint {i}")).collect();
    assert_eq!(tail, expected.join("\n"), "{s}");
}

#[test]
fn command_killed_by_a_signal_saves_no_snapshot() {
    let repo = Repo::new();
    let tmp = temp_dir();
    write(&tmp.path().join("kept"), b"kept\n");
    // Some output first, then death by SIGKILL, as the OOM killer does.
    let dies = "head -c 3000000 /dev/zero; kill -9 $$";
    let out = repo.run(args![
        "backup",
        "--json",
        tmp.path(),
        "--command",
        format!("db.sql={dies}"),
    ]);
    assert_failed_without_snapshot(&repo, &out, &["/db.sql", "killed by signal 9"]);
    let s = summary(&out);
    assert_eq!(
        s["errors"][0]["status"], "killed by signal 9 (SIGKILL)",
        "{s}"
    );
}

#[test]
fn stdin_from_command_killed_by_a_signal_saves_no_snapshot() {
    let repo = Repo::new();
    let out = repo.run(args![
        "backup",
        "--stdin-filename",
        "db.sql",
        "--stdin-from-command",
        "--",
        "sh",
        "-c",
        "head -c 3000000 /dev/zero; kill -9 $$",
    ]);
    assert_failed_without_snapshot(&repo, &out, &["killed by signal 9", "/db.sql"]);
}

#[test]
fn stdin_from_command_records_the_command_and_the_bytes_read() {
    let repo = Repo::new();
    let s = repo.backup(args![
        "--stdin-filename",
        "numbers.txt",
        "--stdin-from-command",
        "--",
        "seq",
        "1",
        "100000",
    ]);
    // seq 1 100000 writes 588 895 bytes.
    assert_eq!(field(&s, "stream_bytes"), 588_895, "{s}");
    assert_eq!(
        s["streams"],
        json!([{"path": "/numbers.txt", "command": "seq 1 100000", "bytes": 588_895}]),
        "{s}"
    );
    let snaps = repo.snapshots();
    assert_eq!(snaps[0]["command"], json!(["seq", "1", "100000"]));
    assert_eq!(snaps[0]["paths"], json!(["/numbers.txt"]));
}

#[test]
fn a_failing_command_stops_the_others() {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        eprintln!("skipped: the commands run one at a time on one CPU");
        return;
    }
    let repo = Repo::new();
    let tmp = temp_dir();
    let started = tmp.path().join("started");
    let stopped = tmp.path().join("stopped");
    // `a` would run for ever; it is told to stop (SIGTERM to its process
    // group) once `b` fails, and records that it was.
    let forever = format!(
        "trap 'touch {}; exit 1' TERM; touch {}; while :; do sleep 0.1; done",
        quote(&stopped),
        quote(&started)
    );
    let fails = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; echo 'dump failed' >&2; exit 2",
        quote(&started)
    );
    let out = repo.run(args![
        "backup",
        "--command",
        format!("a={forever}"),
        "--command",
        format!("b={fails}"),
    ]);
    assert_failed_without_snapshot(&repo, &out, &["/b", "exit status 2", "dump failed"]);
    // Only the command that failed is the error.
    assert!(!last_stderr_line(&out).contains("/a"), "{}", describe(&out));
    assert!(stopped.exists(), "the other command was not stopped");
}

#[test]
fn command_arguments_that_make_no_sense_are_refused() {
    let repo = Repo::new();
    for bad in ["no-equals-sign", "=echo x", "name="] {
        let out = repo.run(args!["backup", "--command", bad]);
        assert_error(&out, 1);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("NAME=CMD"),
            "{}",
            describe(&out)
        );
    }
    let out = repo.run(args![
        "backup",
        "--command",
        "a.sql=echo 1",
        "--command",
        "./a.sql=echo 2"
    ]);
    assert_error(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stored twice"),
        "{}",
        describe(&out)
    );
    let out = repo.run(args!["backup", "--command", "../up.sql=echo 1"]);
    assert_error(&out, 1);
    let tmp = temp_dir();
    let inside = format!(
        "{}/db.sql=echo 1",
        tmp.path().display().to_string().trim_start_matches('/')
    );
    let out = repo.run(args!["backup", tmp.path(), "--command", inside]);
    assert_error(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("inside the backed-up path"),
        "{}",
        describe(&out)
    );
    let out = repo.run(args!["backup", "--stdin", "--command", "a=echo 1"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert_eq!(repo.snapshots(), Vec::<Value>::new());
}
