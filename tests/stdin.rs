//! Backups of streams: `--stdin` and `--stdin-from-command`.

use crate::args;
use crate::common::*;

#[test]
fn stdin_roundtrip_is_byte_exact() {
    let repo = Repo::new();
    let data = random_bytes(21, 5 * (1 << 20) + 333);
    let out = repo.run_stdin(
        args!["backup", "--json", "--stdin", "--stdin-filename", "db.sql"],
        &data,
    );
    assert_success(&out);
    let s = summary(&out);
    assert_eq!(field(&s, "total_bytes_processed"), data.len() as u64, "{s}");
    assert_eq!(field(&s, "files_new"), 1, "{s}");

    let snaps = repo.snapshots();
    assert_eq!(snaps.len(), 1);
    assert_eq!(
        snaps[0]["paths"],
        serde_json::json!(["/db.sql"]),
        "{}",
        snaps[0]
    );

    let by_name = repo.ok(args!["dump", "latest", "db.sql"]);
    assert!(
        by_name.stdout == data,
        "dump latest db.sql differs ({} bytes)",
        by_name.stdout.len()
    );
    let by_path = repo.ok(args!["dump", "latest", "/db.sql"]);
    assert!(by_path.stdout == data, "dump latest /db.sql differs");
}

#[test]
fn stdin_empty_input_stores_an_empty_file() {
    let repo = Repo::new();
    let out = repo.run_stdin(args!["backup", "--stdin", "--stdin-filename", "empty"], b"");
    assert_success(&out);
    let dump = repo.ok(args!["dump", "latest", "empty"]);
    assert!(dump.stdout.is_empty());
}

#[test]
fn stdin_from_command_failure_saves_nothing_and_exits_1() {
    let repo = Repo::new();
    let out = repo.run(args![
        "backup",
        "--stdin-filename",
        "dump.sql",
        "--stdin-from-command",
        "--",
        "sh",
        "-c",
        "echo partial; exit 3"
    ]);
    assert_error(&out, 1);
    assert_eq!(repo.snapshots(), Vec::<serde_json::Value>::new());
}

#[test]
fn stdin_from_command_success_stores_its_output() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let data = random_bytes(22, 3 * (1 << 20) + 1);
    let file = tmp.path().join("payload");
    write(&file, &data);

    repo.ok(args![
        "backup",
        "--stdin-filename",
        "payload.bin",
        "--stdin-from-command",
        "--",
        "cat",
        file
    ]);
    let out = repo.ok(args!["dump", "latest", "payload.bin"]);
    assert!(
        out.stdout == data,
        "stored command output differs ({} bytes)",
        out.stdout.len()
    );

    repo.ok(args![
        "backup",
        "--stdin-filename",
        "hello.txt",
        "--stdin-from-command",
        "--",
        "sh",
        "-c",
        "printf 'hello\\nworld\\n'"
    ]);
    let out = repo.ok(args!["dump", "latest", "hello.txt"]);
    assert_eq!(out.stdout, b"hello\nworld\n");
    assert_eq!(repo.snapshots().len(), 2);
}

#[test]
fn stdin_streams_get_small_chunks_so_a_dump_with_scattered_edits_dedups() {
    // The repository's default chunks average 1 MiB; a stream's 64 KiB
    // (SPEC.md §5.4). Four edits spread over 4 MB then cost a few chunks,
    // not the whole stream.
    let repo = Repo::new();
    let mut dump = random_bytes(11, 4_000_000);
    let first = summary(&repo.run_stdin(
        args!["backup", "--json", "--stdin", "--stdin-filename", "db.sql"],
        &dump,
    ));
    let blobs = first["data_blobs"].as_u64().unwrap();
    assert!(
        (8..=125).contains(&blobs),
        "4 MB in 32-512 KiB chunks, got {blobs} blobs: {first}"
    );
    for at in [500_000, 1_500_000, 2_500_000, 3_500_000] {
        dump[at] ^= 0xff;
    }
    let second = summary(&repo.run_stdin(
        args!["backup", "--json", "--stdin", "--stdin-filename", "db.sql"],
        &dump,
    ));
    let added = second["data_added"].as_u64().unwrap();
    assert!(
        added < 2_000_000,
        "four edits re-stored {added} of 4,000,000 bytes: {second}"
    );
    let out = repo.ok(args!["dump", "latest", "/db.sql"]);
    assert!(out.stdout == dump, "the edited stream restores byte-exact");
}
