//! `vault completions` and `vault man`: generated from the command-line
//! definitions, with no repository.

use std::fs;

use crate::args;
use crate::common::*;

/// Every command, as `vault --help` lists them.
fn commands() -> Vec<String> {
    let out = vault().arg("--help").output().unwrap();
    assert_success(&out);
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let listed: Vec<String> = help
        .split("Commands:")
        .nth(1)
        .and_then(|rest| rest.split("Options:").next())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    assert!(listed.len() >= 20, "{help}");
    listed
}

fn run(args: &[&std::ffi::OsStr]) -> std::process::Output {
    let mut cmd = vault();
    cmd.env_remove("VAULT_REPOSITORY")
        .env_remove("VAULT_PASSWORD")
        .args(args);
    output_with_stdin(cmd, None)
}

#[test]
fn completions_name_every_command_and_bash_parses_its_script() {
    let commands = commands();
    for (shell, marker) in [
        ("bash", "_vault()"),
        ("zsh", "#compdef vault"),
        ("fish", "complete -c vault"),
    ] {
        let out = run(args!["completions", shell]);
        assert_success(&out);
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(marker), "{shell}: no {marker}");
        for c in &commands {
            assert!(script.contains(c.as_str()), "{shell} completion lacks {c}");
        }
        if shell == "bash" {
            let dir = temp_dir();
            let path = dir.path().join("vault.bash");
            fs::write(&path, script.as_bytes()).unwrap();
            let check = std::process::Command::new("bash")
                .arg("-n")
                .arg(&path)
                .output()
                .unwrap();
            assert_success(&check);
        }
    }
    let out = run(args!["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert_no_panic(&out);
}

#[test]
fn man_prints_vault_1_and_writes_a_page_per_command() {
    let out = run(args!["man"]);
    assert_success(&out);
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH vault 1"), "{page}");
    assert!(page.contains("backup"), "{page}");

    let dir = temp_dir();
    let pages = dir.path().join("man1");
    let out = run(args!["man", "--dir", pages]);
    assert_success(&out);
    let mut want: Vec<String> = commands().iter().map(|c| format!("vault-{c}.1")).collect();
    want.push("vault.1".to_owned());
    want.sort();
    let mut got: Vec<String> = fs::read_dir(&pages)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    got.sort();
    assert_eq!(got, want);
    let backup = fs::read_to_string(pages.join("vault-backup.1")).unwrap();
    assert!(backup.contains(".TH vault-backup 1"), "{backup}");
    assert!(backup.contains("vault backup"), "{backup}");
    assert!(backup.contains("stdin\\-from\\-command"), "{backup}");

    // A directory that cannot be made: one line, exit 1.
    let file = dir.path().join("a-file");
    fs::write(&file, b"").unwrap();
    let out = run(args!["man", "--dir", file.join("man1")]);
    assert_error(&out, 1);
}
