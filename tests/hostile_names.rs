//! Issue 21, item 6: names from a repository (file names, host, tags) and
//! lines from a child process reach the terminal escaped, so that no name
//! can set the title, clear the screen or print a listing line of its own;
//! and `--json` keeps every name exact, invalid UTF-8 included.

use crate::args;
use crate::common::{
    PASSWORD, Repo, assert_success, describe, json_values, temp_dir, vault, write,
};
use base64::Engine as _;
use serde_json::Value;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Output;

/// File names that attack a terminal or a reader of the listing.
const HOSTILE: [&[u8]; 8] = [
    b"title\x1b]0;pwned\x07x",
    b"clear\x1b[2Jx",
    b"nl\nFAKE-ENTRY",
    b"tab\tx",
    b"back\\slash",
    "c1\u{9b}31mx".as_bytes(),
    b"bad\xff\xfe",
    b"bad\xff\xfd",
];

const HOST: &str = "host\x1b]0;pwned\x07";
const TAG: &str = "tag\x1b[2J\u{9b}x";

/// Asserts that `bytes` (what a command showed a person) holds no escape
/// (ESC, BEL, C1 CSI as the character or as a raw byte) and that no line
/// starts with the text after the newline of the newline name.
#[track_caller]
fn assert_safe(what: &str, bytes: &[u8], out: &Output) {
    for bad in [0x1b, 0x07, 0x9b] {
        assert!(
            !bytes.contains(&bad),
            "{what}: byte {bad:#04x} reached the terminal\n{}",
            describe(out)
        );
    }
    let text = String::from_utf8_lossy(bytes);
    assert!(
        !text.lines().any(|l| l.starts_with("FAKE-ENTRY")),
        "{what}: a name printed a line of its own\n{}",
        describe(out)
    );
}

#[track_caller]
fn assert_human_safe(what: &str, out: &Output) {
    assert_safe(&format!("{what} stdout"), &out.stdout, out);
    assert_safe(&format!("{what} stderr"), &out.stderr, out);
}

/// A repository with two snapshots of one directory: the first with one
/// plain file, the second with every [`HOSTILE`] name too; both with a
/// hostile host and tag. Returns the repository and the source directory.
fn two_snapshots() -> (Repo, tempfile::TempDir) {
    let repo = Repo::new();
    let dir = temp_dir();
    let src = dir.path().join("src");
    write(&src.join("plain"), b"plain\n");
    let first = repo.ok(args!["backup", "--host", HOST, "--tag", TAG, src, "--json"]);
    assert_success(&first);
    for name in HOSTILE {
        write(&src.join(OsStr::from_bytes(name)), name);
    }
    // -v names every file on stderr.
    let second = repo.ok(args!["backup", "--host", HOST, "--tag", TAG, src, "-v"]);
    assert_human_safe("backup -v", &second);
    (repo, dir)
}

/// The escaped forms the listings must show (README "Names in output").
const ESCAPED: [&str; 8] = [
    "title\\x1b]0;pwned\\x07x",
    "clear\\x1b[2Jx",
    "nl\\nFAKE-ENTRY",
    "tab\\tx",
    "back\\\\slash",
    "c1\\u{9b}31mx",
    "bad\\xff\\xfe",
    "bad\\xff\\xfd",
];

#[test]
fn hostile_names_in_listings_are_escaped_and_print_no_line_of_their_own() {
    let (repo, dir) = two_snapshots();
    let snapshots = repo.snapshots();
    let (first, second) = (
        snapshots[0]["short_id"].as_str().unwrap().to_owned(),
        snapshots[1]["short_id"].as_str().unwrap().to_owned(),
    );

    let ls = repo.ok(args!["ls", "latest"]);
    assert_human_safe("ls", &ls);
    let listed = String::from_utf8_lossy(&ls.stdout);
    for escaped in ESCAPED {
        assert!(
            listed.lines().any(|l| l.ends_with(&format!("/{escaped}"))),
            "ls does not show {escaped}\n{}",
            describe(&ls)
        );
    }
    // One line per entry: the directories down to src, plain, the names.
    let entries = json_values(&repo.ok(args!["ls", "latest", "--json"]).stdout).len();
    assert_eq!(listed.lines().count(), entries, "{}", describe(&ls));

    let long = repo.ok(args!["ls", "latest", "--long"]);
    assert_human_safe("ls --long", &long);

    let find = repo.ok(args!["find", "*"]);
    assert_human_safe("find", &find);
    let found = String::from_utf8_lossy(&find.stdout);
    for escaped in ESCAPED {
        assert!(found.contains(escaped), "find: {}", describe(&find));
    }

    let diff = repo.ok(args!["diff", first, second]);
    assert_human_safe("diff", &diff);
    let diffed = String::from_utf8_lossy(&diff.stdout);
    let added = diffed.lines().filter(|l| l.starts_with('+')).count();
    assert_eq!(added, HOSTILE.len(), "{}", describe(&diff));

    let table = repo.ok(args!["snapshots"]);
    assert_human_safe("snapshots", &table);
    let table_text = String::from_utf8_lossy(&table.stdout);
    assert!(
        table_text.contains("host\\x1b]0;pwned\\x07"),
        "{}",
        describe(&table)
    );
    assert!(
        table_text.contains("tag\\x1b[2J\\u{9b}x"),
        "{}",
        describe(&table)
    );

    let forget = repo.ok(args!["forget", "--keep-last", "1", "--dry-run"]);
    assert_human_safe("forget --dry-run", &forget);

    let target = dir.path().join("restored");
    let restore = repo.ok(args!["restore", "latest", "--target", target, "-v"]);
    assert_human_safe("restore -v", &restore);

    // An error that names a path from the command line.
    let missing = repo.run(args!["ls", "latest", "/missing\x1b[2J\u{9b}"]);
    assert_ne!(missing.status.code(), Some(0), "{}", describe(&missing));
    assert_human_safe("ls of a missing path", &missing);
}

/// The exact bytes of a JSON object's `key`: `key_raw` decoded when
/// present, else the string.
fn exact(object: &Value, key: &str) -> Vec<u8> {
    match object[format!("{key}_raw")].as_str() {
        Some(raw) => base64::engine::general_purpose::STANDARD
            .decode(raw)
            .unwrap_or_else(|e| panic!("{key}_raw is not base64 ({e}): {object}")),
        None => {
            let text = object[key]
                .as_str()
                .unwrap_or_else(|| panic!("no {key}: {object}"));
            text.as_bytes().to_vec()
        }
    }
}

/// The last path component of each `path` (or `path_raw`) in `values`.
fn names_of(values: &[Value]) -> Vec<Vec<u8>> {
    values
        .iter()
        .map(|v| {
            let path = exact(v, "path");
            let path = path.strip_suffix(b"/").unwrap_or(&path);
            Path::new(OsStr::from_bytes(path))
                .file_name()
                .map(|n| n.as_bytes().to_vec())
                .unwrap_or_default()
        })
        .collect()
}

#[track_caller]
fn assert_every_name_exact(what: &str, names: &[Vec<u8>]) {
    for name in HOSTILE {
        assert!(
            names.iter().any(|n| n == name),
            "{what}: {:?} is not there exactly; got {:?}",
            String::from_utf8_lossy(name),
            names
                .iter()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn json_keeps_every_name_exact_and_invalid_utf8_distinct() {
    let (repo, _dir) = two_snapshots();

    let ls = json_values(&repo.ok(args!["ls", "latest", "--json"]).stdout);
    assert_every_name_exact("ls --json path", &names_of(&ls));
    let names: Vec<Vec<u8>> = ls.iter().map(|v| exact(v, "name")).collect();
    assert_every_name_exact("ls --json name", &names);
    // The two invalid names print the same lossy text: only `name_raw`
    // tells them apart, and a valid name has none.
    let bad: Vec<&Value> = ls
        .iter()
        .filter(|v| v["name"].as_str() == Some("bad\u{fffd}\u{fffd}"))
        .collect();
    assert_eq!(bad.len(), 2, "{ls:?}");
    assert_ne!(bad[0]["name_raw"], bad[1]["name_raw"]);
    let plain = ls.iter().find(|v| v["name"] == "plain").expect("plain");
    assert!(plain.get("name_raw").is_none() && plain.get("path_raw").is_none());
    // A valid name with controls is a plain JSON string, exact.
    assert!(ls.iter().any(|v| v["name"] == "title\x1b]0;pwned\x07x"));

    let find = json_values(&repo.ok(args!["find", "*", "--json"]).stdout);
    let matches: Vec<Value> = find
        .iter()
        .flat_map(|s| s["matches"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_every_name_exact("find --json", &names_of(&matches));

    let snapshots = repo.snapshots();
    let diff = json_values(
        &repo
            .ok(args![
                "diff",
                snapshots[0]["id"].as_str().unwrap(),
                snapshots[1]["id"].as_str().unwrap(),
                "--json"
            ])
            .stdout,
    );
    let changes: Vec<Value> = diff
        .into_iter()
        .filter(|v| v["message_type"] == "change")
        .collect();
    assert_every_name_exact("diff --json", &names_of(&changes));

    for s in &snapshots {
        assert_eq!(s["hostname"], HOST);
        assert_eq!(s["tags"], serde_json::json!([TAG]));
    }
}

#[test]
fn run_relays_hook_and_command_output_escaped() {
    let repo = Repo::local();
    let dir = temp_dir();
    write(&dir.path().join("password"), PASSWORD.as_bytes());
    // printf: \033 ESC, \007 BEL, \233 a raw C1 CSI byte (not UTF-8),
    // \302\233 the character U+009B.
    let attack = r"printf 'a\033]0;pwned\007b\n\033[2Jc\n\233d\302\233e\n'";
    let config = dir.path().join("vault.toml");
    let text = format!(
        r#"
[repositories.main]
url = "{url}"
password-file = "{pw}"

[sources.db]
command = "{attack} >&2; echo data"
filename = "db.sql"
host = "web1"

[profiles.nightly]
repository = "main"
check = {{ enabled = false }}
hooks = {{ before = ["{attack}; {attack} >&2"] }}
"#,
        url = repo.path.display(),
        pw = dir.path().join("password").display(),
        attack = attack.replace('\\', "\\\\").replace('"', "\\\""),
    );
    std::fs::write(&config, text).expect("write vault.toml");
    let out = vault()
        .arg("--config")
        .arg(&config)
        .arg("run")
        .output()
        .expect("run vault");
    assert_success(&out);
    assert_human_safe("run", &out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The lines are still there, escaped: the hook's (stdout and stderr)
    // and the command source's, which says which source it came from.
    assert!(
        stderr.matches("a\\x1b]0;pwned\\x07b").count() >= 3,
        "{}",
        describe(&out)
    );
    assert!(stderr.contains("\\x1b[2Jc"), "{}", describe(&out));
    assert!(stderr.contains("\\x9bd\\u{9b}e"), "{}", describe(&out));
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("[backup db") && l.contains("\\x1b[2Jc")),
        "{}",
        describe(&out)
    );
}
