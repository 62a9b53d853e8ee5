//! `vault key list|add|remove|passwd`: several passwords for one repository.

use std::fs;
use std::path::PathBuf;

use serde_json::Value;

use crate::args;
use crate::common::*;

/// A file holding `password`, inside the fixture's directory.
fn password_file(repo: &Repo, name: &str, password: &str) -> PathBuf {
    let path = repo.dir.path().join(name);
    fs::write(&path, format!("{password}\n")).unwrap();
    path
}

/// `key list --json` opened with the password in `file` (or the fixture's).
fn keys(repo: &Repo, file: Option<&PathBuf>) -> Vec<Value> {
    let out = match file {
        Some(f) => repo.ok(args!["--password-file", f, "key", "list", "--json"]),
        None => repo.ok(args!["key", "list", "--json"]),
    };
    json_values(&out.stdout)
}

fn current(list: &[Value]) -> String {
    let cur: Vec<&Value> = list.iter().filter(|k| k["current"] == true).collect();
    assert_eq!(cur.len(), 1, "exactly one key is current: {list:?}");
    cur[0]["id"].as_str().unwrap().to_owned()
}

#[test]
fn key_list_shows_the_contract_fields() {
    let repo = Repo::new();
    let list = keys(&repo, None);
    assert_eq!(list.len(), 1);
    let k = &list[0];
    for field in ["id", "current", "kind", "created", "hostname", "username"] {
        assert!(k.get(field).is_some(), "key list --json lacks {field}: {k}");
    }
    assert_eq!(k["current"], true);
    assert_eq!(k["kind"], "full");
    assert_eq!(k["id"].as_str().unwrap().len(), 64);
    chrono_like(k["created"].as_str().unwrap());
    let human = repo.ok(args!["key", "list"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains(&format!("*{}", &k["id"].as_str().unwrap()[..8])),
        "{text}"
    );
}

/// An RFC 3339 UTC time: `YYYY-MM-DDTHH:MM:SSZ`.
fn chrono_like(s: &str) {
    let b = s.as_bytes();
    assert!(
        s.len() == 20 && b[4] == b'-' && b[10] == b'T' && s.ends_with('Z'),
        "not an RFC 3339 UTC time: {s}"
    );
}

#[test]
fn key_add_lets_both_passwords_open_the_repository() {
    let repo = Repo::new();
    let first = current(&keys(&repo, None));
    let file = password_file(&repo, "new-pw", "a second password");
    let out = repo.ok(args!["key", "add", "--new-password-file", file, "--json"]);
    let added = json_values(&out.stdout)[0]["added"]
        .as_str()
        .unwrap()
        .to_owned();
    // Both passwords open it; each sees its own key as current.
    let with_first = keys(&repo, None);
    let with_second = keys(&repo, Some(&file));
    assert_eq!(with_first.len(), 2);
    assert_eq!(current(&with_first), first);
    assert_eq!(current(&with_second), added);
    repo.backup(args!["--stdin", "--stdin-filename", "f"]);
    repo.ok(args!["--password-file", file, "dump", "latest", "f"]);
}

#[test]
fn key_passwd_replaces_the_key_in_use() {
    let repo = Repo::new();
    let old = current(&keys(&repo, None));
    let file = password_file(&repo, "new-pw", "the new password");
    repo.ok(args!["key", "passwd", "--new-password-file", file]);
    // The old password no longer opens anything: exit 12.
    assert_error(&repo.run(args!["snapshots"]), 12);
    let list = keys(&repo, Some(&file));
    assert_eq!(list.len(), 1);
    assert_ne!(current(&list), old);
}

#[test]
fn key_remove_refuses_the_key_in_use_and_the_last_key() {
    let repo = Repo::local();
    let first = current(&keys(&repo, None));
    // The only key: it is both in use and the last.
    let before = repo.file_listing();
    assert_error(&repo.run(args!["key", "remove", &first[..8]]), 1);
    assert!(
        repo.file_listing() == before,
        "a refused key remove changed the repository"
    );
    let file = password_file(&repo, "other", "another password");
    repo.ok(args!["key", "add", "--new-password-file", file]);
    assert_error(&repo.run(args!["key", "remove", &first[..8]]), 1);
    assert_eq!(keys(&repo, None).len(), 2);
    // Through the other key, the first one can go.
    let out = repo.ok(args!["--password-file", file, "key", "remove", first]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("removed key {}", &first[..8])));
    assert_error(&repo.run(args!["snapshots"]), 12);
    let list = keys(&repo, Some(&file));
    assert_eq!(list.len(), 1);
    // And the remaining one is now the last: refused.
    let last = current(&list);
    assert_error(
        &repo.run(args!["--password-file", file, "key", "remove", last]),
        1,
    );
}

/// A put-only key beside the one full key: `key list` names each key's
/// kind, and the full key cannot be removed, neither through itself (in
/// use) nor through the put-only key (which changes no key): without it
/// nothing could be read again. The put-only key can go.
#[test]
fn key_list_names_the_kind_and_the_last_full_key_stays_beside_a_put_only_key() {
    let repo = Repo::local();
    let full = current(&keys(&repo, None));
    let file = password_file(&repo, "put-only", "a put-only password");
    let out = repo.ok(args![
        "key",
        "add",
        "--put-only",
        "--new-password-file",
        file,
        "--json"
    ]);
    let added = &json_values(&out.stdout)[0];
    assert_eq!(added["kind"], "put-only", "{added}");
    let put_only = added["added"].as_str().unwrap().to_owned();
    let list = keys(&repo, None);
    let kind = |id: &str| {
        list.iter()
            .find(|k| k["id"] == id)
            .map(|k| k["kind"].clone())
    };
    assert_eq!(kind(&full), Some(Value::from("full")), "{list:?}");
    assert_eq!(kind(&put_only), Some(Value::from("put-only")), "{list:?}");
    let human = repo.ok(args!["key", "list"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("Kind") && text.contains("put-only"), "{text}");

    let before = repo.file_listing();
    assert_error(&repo.run(args!["key", "remove", full]), 1);
    let out = repo.run(args!["--password-file", file, "key", "remove", full]);
    assert_error(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("put-only key"),
        "{}",
        describe(&out)
    );
    assert!(
        repo.file_listing() == before,
        "a refused key remove changed the repository"
    );
    repo.ok(args!["key", "remove", put_only]);
    assert_eq!(keys(&repo, None).len(), 1);
    repo.ok(args!["snapshots"]);
}

#[test]
fn key_bad_arguments_exit_1() {
    let repo = Repo::local();
    let before = repo.file_listing();
    assert_error(&repo.run(args!["key", "remove", "xyz"]), 1);
    assert_error(&repo.run(args!["key", "remove", "0".repeat(64)]), 1);
    // No new password and no terminal to ask on.
    assert_error(&repo.run(args!["key", "add"]), 1);
    let empty = password_file(&repo, "empty", "");
    assert_error(
        &repo.run(args!["key", "passwd", "--new-password-file", empty]),
        1,
    );
    let missing = repo.dir.path().join("missing");
    assert_error(
        &repo.run(args!["key", "add", "--new-password-file", missing]),
        1,
    );
    assert!(repo.file_listing() == before);
}

#[test]
fn passwords_never_appear_in_any_output() {
    let repo = Repo::new();
    let tmp = temp_dir();
    let src = tmp.path().join("src");
    write(&src.join("f"), b"content");
    let new_pw = tmp.path().join("new-password");
    fs::write(&new_pw, "a second secret phrase\n").unwrap();
    let mut outputs = vec![
        repo.run(args!["-vv", "backup", src]),
        repo.run(args!["-vv", "backup", "--json", src]),
        repo.run(args!["-vv", "snapshots", "--json"]),
        repo.run(args!["-vv", "check", "--read-data"]),
        repo.run(args!["-vv", "cat", "config"]),
        repo.run(args!["key", "add", "--new-password-file", new_pw]),
        repo.run(args!["key", "list", "--json"]),
    ];
    for out in &outputs {
        assert_success(out);
    }
    // A wrong password: the error must not echo what was typed.
    let mut wrong = repo.cmd();
    wrong
        .env("VAULT_PASSWORD", "wrong but secret guess")
        .args(["-vv", "snapshots"]);
    outputs.push(output_with_stdin(wrong, None));
    for out in &outputs {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for secret in [PASSWORD, "a second secret phrase", "wrong but secret guess"] {
            assert!(!text.contains(secret), "{secret:?} printed:\n{text}");
        }
    }
    assert_eq!(outputs.last().unwrap().status.code(), Some(12));
}
