//! `vault forget` and `vault tag`: policies per group, filters, explicit
//! ids, dry runs, the JSON plan with reasons, the refusal to empty a group,
//! and tags rewritten into new snapshots.

use std::collections::BTreeSet;
use std::ffi::OsStr;

use serde_json::Value;

use crate::args;
use crate::common::*;

/// Backs up a small stream as `/<file>` at `time` for `host` with `tags`;
/// returns the snapshot's full id.
fn backup_at(repo: &Repo, time: &str, host: &str, file: &str, tags: &[&str]) -> String {
    let mut list = vec![
        "backup",
        "--json",
        "--stdin",
        "--stdin-filename",
        file,
        "--time",
        time,
        "--host",
        host,
    ];
    for t in tags {
        list.extend(["--tag", t]);
    }
    let argv: Vec<&OsStr> = list.iter().map(OsStr::new).collect();
    let out = repo.run_stdin(&argv, time.as_bytes());
    assert_success(&out);
    summary(&out)["snapshot_id"]
        .as_str()
        .expect("snapshot_id")
        .to_owned()
}

/// The ids of the snapshots in the repository.
fn ids(repo: &Repo) -> BTreeSet<String> {
    repo.snapshots()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

fn set(list: &[&String]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Host a: three snapshots of /x.sql; host b: two of /x.sql and one of /y.sql.
struct Fixture {
    repo: Repo,
    a: [String; 3],
    b: [String; 2],
    by: String,
}

fn fixture() -> Fixture {
    fixture_in(Repo::new())
}

/// The fixture in `repo` (a local one for tests that read its files).
fn fixture_in(repo: Repo) -> Fixture {
    let a = [
        backup_at(&repo, "2024-01-01T10:00:00Z", "a", "x.sql", &[]),
        backup_at(&repo, "2024-01-02T10:00:00Z", "a", "x.sql", &["keep"]),
        backup_at(&repo, "2024-01-03T10:00:00Z", "a", "x.sql", &[]),
    ];
    let b = [
        backup_at(&repo, "2024-01-01T11:00:00Z", "b", "x.sql", &[]),
        backup_at(&repo, "2024-01-02T11:00:00Z", "b", "x.sql", &[]),
    ];
    let by = backup_at(&repo, "2024-01-01T12:00:00Z", "b", "y.sql", &[]);
    Fixture { repo, a, b, by }
}

#[test]
fn forget_keep_last_applies_per_host_and_paths_group() {
    let f = fixture();
    let out = f.repo.ok(args!["forget", "--keep-last", "1"]);
    let t = text(&out);
    assert!(
        t.contains("Applying policy: keep 1 latest snapshots"),
        "{t}"
    );
    assert!(t.contains("snapshots for host a, paths [/x.sql]:"), "{t}");
    assert!(t.contains("snapshots for host b, paths [/y.sql]:"), "{t}");
    assert!(t.contains("last snapshot"), "{t}");
    assert!(t.trim_end().ends_with("removed 3 snapshots"), "{t}");
    assert_eq!(ids(&f.repo), set(&[&f.a[2], &f.b[1], &f.by]));
}

#[test]
fn forget_group_by_empty_or_tags_changes_the_groups() {
    let f = fixture();
    // One group for everything: only the newest snapshot of all stays.
    let dry = f.repo.ok(args![
        "forget",
        "--keep-last",
        "1",
        "--group-by",
        "",
        "--dry-run"
    ]);
    assert!(
        text(&dry).contains("snapshots for all snapshots:"),
        "{}",
        text(&dry)
    );
    assert!(
        text(&dry).contains("would remove 5 snapshots"),
        "{}",
        text(&dry)
    );
    // Grouped by host, paths and tags: a's tagged snapshot is a group of its own.
    f.repo.ok(args![
        "forget",
        "--keep-last",
        "1",
        "--group-by",
        "host,paths,tags"
    ]);
    assert_eq!(ids(&f.repo), set(&[&f.a[1], &f.a[2], &f.b[1], &f.by]));
    f.repo
        .ok(args!["forget", "--keep-last", "1", "--group-by", ""]);
    assert_eq!(ids(&f.repo), set(&[&f.a[2]]));
}

#[test]
fn forget_filters_limit_the_snapshots_considered() {
    let f = fixture();
    f.repo
        .ok(args!["forget", "--keep-last", "1", "--host", "a"]);
    assert_eq!(ids(&f.repo), set(&[&f.a[2], &f.b[0], &f.b[1], &f.by]));
    f.repo.ok(args![
        "forget",
        "--keep-last",
        "1",
        "--path",
        "/x.sql",
        "--group-by",
        ""
    ]);
    assert_eq!(ids(&f.repo), set(&[&f.a[2], &f.by]));
}

#[test]
fn forget_tag_filter_empty_considers_untagged_snapshots_only() {
    let f = fixture();
    f.repo.ok(args![
        "forget",
        "--tag",
        "",
        "--keep-last",
        "1",
        "--host",
        "a"
    ]);
    // The tagged a[1] is not considered; of a[0] and a[2] the newest stays.
    assert_eq!(
        ids(&f.repo),
        set(&[&f.a[1], &f.a[2], &f.b[0], &f.b[1], &f.by])
    );
}

#[test]
fn forget_explicit_ids_remove_exactly_those_without_a_policy() {
    let f = fixture_in(Repo::local());
    let prefix = &f.a[0][..8];
    let out = f.repo.ok(args!["forget", prefix, f.b[0], prefix]);
    let t = text(&out);
    assert!(t.contains(&format!("removed snapshot {prefix}")), "{t}");
    assert!(t.contains("removed 2 snapshots"), "{t}");
    assert_eq!(ids(&f.repo), set(&[&f.a[1], &f.a[2], &f.b[1], &f.by]));
    // An id that is gone: exit 1, one line, nothing removed.
    let before = f.repo.file_listing();
    assert_error(&f.repo.run(args!["forget", f.b[0], f.a[1]]), 1);
    assert!(f.repo.file_listing() == before);
}

#[test]
fn forget_dry_run_changes_nothing() {
    let f = fixture_in(Repo::local());
    let before = f.repo.file_listing();
    let out = f.repo.ok(args!["forget", "--keep-last", "1", "--dry-run"]);
    assert!(
        text(&out).contains("would remove 3 snapshots"),
        "{}",
        text(&out)
    );
    let out = f.repo.ok(args!["forget", f.a[0], "--dry-run"]);
    assert!(
        text(&out).contains("would remove 1 snapshots"),
        "{}",
        text(&out)
    );
    let out = f
        .repo
        .ok(args!["forget", "--keep-last", "1", "--dry-run", "--json"]);
    assert_eq!(json_values(&out.stdout).len(), 3);
    assert!(
        f.repo.file_listing() == before,
        "--dry-run changed the repository"
    );
}

#[test]
fn forget_json_lists_each_group_with_kept_removed_and_reasons() {
    let f = fixture();
    let out = f.repo.ok(args![
        "forget",
        "--keep-daily",
        "1",
        "--keep-tag",
        "keep",
        "--host",
        "a",
        "--json"
    ]);
    let groups = json_values(&out.stdout);
    assert_eq!(groups.len(), 1, "{groups:?}");
    let g = &groups[0];
    assert_eq!(g["host"], "a");
    assert_eq!(g["paths"], serde_json::json!(["/x.sql"]));
    assert_eq!(g["tags"], Value::Null);
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    let keep: Vec<String> = g["keep"].as_array().unwrap().iter().map(id).collect();
    let remove: Vec<String> = g["remove"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(keep, [f.a[2].clone(), f.a[1].clone()]);
    assert_eq!(remove, [f.a[0].clone()]);
    let reasons = g["reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 2);
    assert_eq!(id(&reasons[0]["snapshot"]), f.a[2]);
    assert_eq!(reasons[0]["matches"], serde_json::json!(["daily snapshot"]));
    assert_eq!(id(&reasons[1]["snapshot"]), f.a[1]);
    assert_eq!(
        reasons[1]["matches"],
        serde_json::json!(["has tags [keep]"])
    );
    assert_eq!(ids(&f.repo).len(), 5);
}

#[test]
fn forget_within_family_keeps_by_duration_from_the_newest() {
    let repo = Repo::new();
    let old = backup_at(&repo, "2023-01-01T10:00:00Z", "h", "d", &[]);
    let day1 = backup_at(&repo, "2024-03-01T08:00:00Z", "h", "d", &[]);
    let day1b = backup_at(&repo, "2024-03-01T20:00:00Z", "h", "d", &[]);
    let day2 = backup_at(&repo, "2024-03-03T09:00:00+02:00", "h", "d", &[]);
    let out = repo.ok(args![
        "forget",
        "--keep-within-daily",
        "7d",
        "--keep-within",
        "1y1m",
        "--dry-run",
        "--json"
    ]);
    let g = &json_values(&out.stdout)[0];
    let matches = |id: &str| {
        g["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["snapshot"]["id"] == id)
            .map(|r| r["matches"].clone())
    };
    assert_eq!(
        matches(&day2),
        Some(serde_json::json!(["within 1y1m", "daily within 7d"]))
    );
    assert_eq!(
        matches(&day1b),
        Some(serde_json::json!(["within 1y1m", "daily within 7d"]))
    );
    assert_eq!(matches(&day1), Some(serde_json::json!(["within 1y1m"])));
    assert_eq!(matches(&old), None);
    repo.ok(args!["forget", "--keep-within-daily", "7d"]);
    assert_eq!(ids(&repo), set(&[&day1b, &day2]));
}

#[test]
fn forget_refuses_to_empty_a_group_unless_allowed() {
    let f = fixture_in(Repo::local());
    let before = f.repo.file_listing();
    // Only a's group has a snapshot tagged "keep": b's two groups would go.
    let out = f.repo.run(args!["forget", "--keep-tag", "keep"]);
    assert_error(&out, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("host b, paths [/x.sql]"), "{err}");
    assert!(err.contains("--allow-remove-all"), "{err}");
    assert!(
        f.repo.file_listing() == before,
        "a refused forget changed the repository"
    );
    f.repo
        .ok(args!["forget", "--keep-tag", "keep", "--allow-remove-all"]);
    assert_eq!(ids(&f.repo), set(&[&f.a[1]]));
}

#[test]
fn forget_bad_arguments_exit_1_with_one_line() {
    let f = fixture_in(Repo::local());
    let before = f.repo.file_listing();
    for bad in [
        args!["forget"],
        args!["forget", "--host", "a"],
        args!["forget", "--keep-last", "0"],
        args!["forget", "--keep-within", "0d"],
        args!["forget", "--keep-last", "1", f.a[0]],
        args!["forget", "--keep-last", "many"],
        args!["forget", "--keep-within", "1w"],
        args!["forget", "--keep-within-daily", "5"],
        args!["forget", "--keep-last", "1", "--group-by", "user"],
        args!["forget", "zz"],
        args!["forget", f.a[0], "--group-by", "host"],
        args!["forget", f.a[0], "--allow-remove-all"],
    ] {
        assert_error(&f.repo.run(bad), 1);
    }
    let out = f.repo.run(args!["forget"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no policy and no snapshots"), "{err}");
    assert!(f.repo.file_listing() == before);
}

#[test]
fn tag_add_remove_set_rewrite_only_changed_snapshots() {
    let f = fixture();
    let a2 = &f.a[2];
    // --add on one snapshot: a new snapshot replaces it, `original` names it.
    let out = f.repo.ok(args!["tag", "--add", "x,y", &a2[..10]]);
    assert!(
        text(&out).contains("changed the tags of 1 snapshots"),
        "{}",
        text(&out)
    );
    let snaps = f.repo.snapshots();
    assert!(!ids(&f.repo).contains(a2));
    let new = snaps
        .iter()
        .find(|s| s["original"] == a2.as_str())
        .expect("a snapshot with original = the old id");
    assert_eq!(new["tags"], serde_json::json!(["x", "y"]));
    assert_eq!(new["time"], "2024-01-03T10:00:00Z");
    let new_id = new["id"].as_str().unwrap().to_owned();
    // The tree is the same: the snapshot still reads.
    assert_eq!(
        f.repo.ok(args!["dump", new_id, "x.sql"]).stdout,
        b"2024-01-03T10:00:00Z"
    );

    // Adding a tag it has: nothing is rewritten.
    let out = f.repo.ok(args!["tag", "--add", "x", new_id]);
    assert!(text(&out).contains("changed the tags of 0 snapshots"));
    assert!(ids(&f.repo).contains(&new_id));

    // --remove: a second rewrite keeps the first original.
    let out = f.repo.ok(args!["tag", "--remove", "y", new_id, "--json"]);
    let v = &json_values(&out.stdout)[0];
    assert_eq!(v["changed_snapshots"], 1);
    let newer = v["snapshots"][0]["new_id"].as_str().unwrap().to_owned();
    let s = f
        .repo
        .snapshots()
        .into_iter()
        .find(|s| s["id"] == newer.as_str())
        .unwrap();
    assert_eq!(s["tags"], serde_json::json!(["x"]));
    assert_eq!(s["original"], a2.as_str());

    // No ids: every snapshot the filters pass; --set replaces, '' clears.
    let out = f
        .repo
        .ok(args!["tag", "--set", "p", "--set", "q", "--host", "b"]);
    assert!(text(&out).contains("changed the tags of 3 snapshots"));
    let tags = |host: &str| -> Vec<Value> {
        f.repo
            .snapshots()
            .into_iter()
            .filter(|s| s["hostname"] == host)
            .map(|s| s["tags"].clone())
            .collect()
    };
    assert_eq!(tags("b"), vec![serde_json::json!(["p", "q"]); 3]);
    f.repo.ok(args!["tag", "--set", "", "--tag", "p,q"]);
    assert_eq!(tags("b"), vec![serde_json::json!([]); 3]);
    assert_eq!(f.repo.snapshots().len(), 6);
}

#[test]
fn tag_without_a_change_exits_1() {
    let f = fixture();
    assert_error(&f.repo.run(args!["tag", f.a[0]]), 1);
    assert_error(&f.repo.run(args!["tag", "--add", ",", f.a[0]]), 1);
    assert_error(&f.repo.run(args!["tag", "--add", "t", "ffff0000"]), 1);
}
