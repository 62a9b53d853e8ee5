//! `vault check`, its read-data subsets and ledger, and `vault repair`.

use std::collections::BTreeSet;
use std::fs;

use serde_json::Value;

use crate::args;
use crate::common::*;
use crate::corruption::{
    Damage, Fixture, check_json, damage, damaged_paths, files_under, pack_blobs,
};

fn pack_names(repo: &Repo) -> BTreeSet<String> {
    files_under(repo, "data")
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn packs_read(v: &Value) -> Vec<String> {
    v["packs_read"]
        .as_array()
        .expect("packs_read")
        .iter()
        .map(|p| p.as_str().expect("pack id").to_owned())
        .collect()
}

#[test]
fn check_healthy_repository_exits_0() {
    let f = Fixture::new();
    let out = f.repo.ok(args!["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for stage in [
        "load indexes",
        "check all packs",
        "check snapshots, trees and blobs",
        "no problems found",
    ] {
        assert!(
            stdout.contains(stage),
            "missing {stage:?}\n{}",
            describe(&out)
        );
    }
    assert!(out.stderr.is_empty(), "{}", describe(&out));

    let (out, v) = check_json(&f.repo, &["--read-data"]);
    assert_success(&out);
    assert_eq!(v["ok"], true);
    assert_eq!(v["errors"], serde_json::json!([]));
    let read: BTreeSet<String> = packs_read(&v).into_iter().collect();
    assert_eq!(read, pack_names(&f.repo), "--read-data reads every pack");
    assert!(v["blobs_read"].as_u64().unwrap() > 0);
    let total: u64 = files_under(&f.repo, "data")
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(v["bytes_read"].as_u64().unwrap(), total);
}

#[test]
fn check_wrong_password_exits_12() {
    let repo = Repo::new();
    let mut cmd = repo.cmd();
    cmd.env("VAULT_PASSWORD", "not the password").arg("check");
    let out = output_with_stdin(cmd, None);
    assert_error(&out, 12);
}

#[test]
fn check_read_data_subset_invalid_value_is_refused() {
    let repo = Repo::new();
    for bad in ["0/3", "4/3", "150%", "half"] {
        let out = repo.run(args!["check", "--read-data-subset", bad]);
        assert_error(&out, 1);
        assert!(String::from_utf8_lossy(&out.stderr).contains("--read-data-subset"));
    }
}

#[test]
fn check_read_data_subset_buckets_partition_the_packs() {
    let f = Fixture::new();
    let mut seen = Vec::new();
    for n in 1..=3 {
        let (out, v) = check_json(&f.repo, &["--read-data-subset", &format!("{n}/3")]);
        assert_success(&out);
        for p in packs_read(&v) {
            let first = u8::from_str_radix(&p[..2], 16).unwrap();
            assert_eq!(
                u32::from(first) % 3,
                n - 1,
                "pack {p} is not in group {n}/3"
            );
            seen.push(p);
        }
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a pack was read twice");
    assert_eq!(unique, pack_names(&f.repo));
}

#[test]
fn check_read_data_subset_25_percent_four_times_reads_every_pack_exactly_once() {
    let repo = Repo::local();
    let tmp = temp_dir();
    // Small backups until the pack count is a multiple of four.
    for i in 0..40u64 {
        let n = pack_names(&repo).len();
        if n >= 4 && n.is_multiple_of(4) {
            break;
        }
        let file = tmp.path().join(format!("f{i}"));
        write(&file, &random_bytes(100 + i, 5000));
        repo.backup(args![file]);
    }
    let all = pack_names(&repo);
    assert!(
        all.len() >= 4 && all.len().is_multiple_of(4),
        "{} packs",
        all.len()
    );

    let mut seen = Vec::new();
    for _ in 0..4 {
        let (out, v) = check_json(&repo, &["--read-data-subset", "25%"]);
        assert_success(&out);
        let read = packs_read(&v);
        assert_eq!(read.len(), all.len() / 4);
        seen.extend(read);
        // One ledger object remains: each check replaces the one it read.
        assert_eq!(files_under(&repo, "ledger").len(), 1);
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a pack was read twice: {seen:?}");
    assert_eq!(unique, all, "four runs of 25% cover every pack");

    // The fifth run starts over with the pack verified longest ago.
    let (_, v) = check_json(&repo, &["--read-data-subset", "25%"]);
    assert_eq!(packs_read(&v)[0], seen[0]);
}

#[test]
fn repair_index_restores_a_deleted_index() {
    let f = Fixture::new();
    let before = f.repo.ok(args!["check", "--json"]);
    for index in files_under(&f.repo, "index") {
        damage(&index, Damage::Delete);
    }
    let (out, v) = check_json(&f.repo, &[]);
    assert_error(&out, 1);
    assert!(
        v["repair"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().starts_with("vault repair index"))
    );

    let out = f.repo.ok(args!["repair", "index"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("added"),
        "{}",
        describe(&out)
    );
    let (out, v) = check_json(&f.repo, &["--read-data"]);
    assert_success(&out);
    assert_eq!(
        v["packs"],
        serde_json::from_slice::<Value>(&before.stdout).unwrap()["packs"]
    );

    // The data is reachable again.
    let target = f.tmp.path().join("t");
    f.repo.ok(args!["restore", "latest", "--target", target]);
    assert_same_tree(&f.src, &restored(&target, &f.src), false);

    // A second repair finds nothing to do and writes nothing.
    let listing = f.repo.file_listing();
    let out = f.repo.ok(args!["repair", "index"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to do"));
    assert_eq!(listing, f.repo.file_listing());
}

#[test]
fn repair_index_replaces_a_damaged_index_file() {
    let f = Fixture::new();
    let index = files_under(&f.repo, "index").into_iter().next().unwrap();
    damage(&index, Damage::FlipMiddle);
    f.repo.ok(args!["repair", "index"]);
    assert!(!index.exists(), "the damaged index file is deleted");
    let (out, _) = check_json(&f.repo, &[]);
    assert_success(&out);
}

#[test]
fn repair_snapshots_after_a_lost_pack_passes_check_and_restores_the_intact_files() {
    let f = Fixture::with_big(40 << 20);
    // A pack of the second backup with data only, so that every lost blob
    // is a chunk of big.bin and the directories survive.
    let pack = f
        .new_packs
        .iter()
        .find(|p| pack_blobs(&f.repo, p).iter().all(|b| b["kind"] == "Data"))
        .expect("a pack of data only")
        .clone();
    damage(&pack, Damage::Delete);
    let (out, report) = check_json(&f.repo, &[]);
    assert_error(&out, 1);
    let damaged = damaged_paths(&report);
    assert!(!damaged.is_empty());

    // Without a correct index, repair snapshots refuses and says why.
    let out = f.repo.run(args!["repair", "snapshots"]);
    assert_error(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("vault repair index"));

    f.repo.ok(args!["repair", "index"]);
    let listing = f.repo.file_listing();
    let out = f.repo.ok(args!["repair", "snapshots", "--dry-run"]);
    assert_eq!(listing, f.repo.file_listing(), "a dry run writes nothing");
    let big = f.src.join("big.bin");
    assert_eq!(damaged, BTreeSet::from([big.display().to_string()]));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&*big.to_string_lossy()),
        "{}",
        describe(&out)
    );

    let damaged_id = f.repo.snapshots().last().unwrap()["id"].clone();
    let out = f
        .repo
        .ok(args!["repair", "snapshots", "--forget", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["repaired"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["repaired"][0]["original"], damaged_id);

    let (out, _) = check_json(&f.repo, &["--read-data"]);
    assert_success(&out);
    let snaps = f.repo.snapshots();
    assert_eq!(snaps.len(), 2);
    let repaired = snaps
        .iter()
        .find(|s| s["tags"] == serde_json::json!(["repaired"]))
        .expect("a repaired snapshot");
    assert_eq!(repaired["original"], damaged_id);
    assert!(
        snaps.iter().all(|s| s["id"] != damaged_id),
        "--forget removed the original"
    );

    // Every file that check did not name comes back intact.
    let target = f.tmp.path().join("t");
    let id = repaired["id"].as_str().unwrap().to_owned();
    f.repo.ok(args!["restore", id, "--target", target]);
    let mut intact = 0;
    for rel in walk(&f.src) {
        let source = f.src.join(&rel);
        if !source.is_file() {
            continue;
        }
        let hit = damaged.iter().any(|d| source.starts_with(d));
        let back = restored(&target, &source);
        if hit {
            // A damaged file keeps only its intact chunks: shorter.
            if back.exists() {
                assert!(fs::metadata(&back).unwrap().len() < fs::metadata(&source).unwrap().len());
            }
        } else {
            assert!(
                same_content(&source, &back),
                "{} was not damaged",
                source.display()
            );
            intact += 1;
        }
    }
    assert_eq!(intact, 2, "keep.txt and sub/small.txt are intact");
}
