//! A hostile snapshot: whoever can write snapshots into a repository you
//! read (another host of a shared repository, the source of a `copy`)
//! seals trees of their choosing with the repository key. Each test forges
//! what an attacker would and shows that readers do no harm with it.

use crate::args;
use crate::common::forge::{Forger, dir, file};
use crate::common::*;
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
    let site = target.path().join("site");
    assert_eq!(
        std::fs::read(site.join("a.txt")).unwrap(),
        b"honest content\n"
    );
    for forged in ["x", "y"] {
        assert!(!site.join(forged).exists(), "{forged} was not restored");
    }
}
