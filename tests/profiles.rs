//! vault.toml and the commands that read it: `run` (a failing and a
//! succeeding source, hooks, off-site copy, retention, check), `health`
//! (age, size drop, check age, stale lock, heartbeats without the password,
//! the Prometheus file), `drill` on real snapshots, and `schedule`.

use crate::args;
use crate::common::{
    PASSWORD, Repo, assert_error, assert_no_panic, assert_success, describe, temp_dir, vault, write,
};
use crate::locks::{blocked_backup, lock_files, wait_until};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// A primary and an off-site repository, a tree of files, a "database"
/// (a file a command dumps), and a vault.toml naming them.
struct Setup {
    primary: Repo,
    offsite: Repo,
    dir: tempfile::TempDir,
    www: PathBuf,
    db: PathBuf,
    config: PathBuf,
}

const HOST: &str = "web1";

/// A source (for vault.toml, before another table) whose command dumps
/// its environment into the backup: what an attacker who controls a
/// source's command would store.
const LEAK_SOURCE: &str =
    "[sources.leak]\ncommand = \"env\"\nfilename = \"env.txt\"\nhost = \"web1\"\n\n";

impl Setup {
    fn new() -> Setup {
        let primary = Repo::local();
        let offsite = Repo::local();
        let dir = temp_dir();
        let www = dir.path().join("www");
        write(&www.join("index.html"), b"<h1>hello</h1>\n");
        write(&www.join("app/data.txt"), &b"row\n".repeat(5000));
        let db = dir.path().join("db-contents");
        write(&db, &b"INSERT INTO t VALUES (1);\n".repeat(4000));
        write(&dir.path().join("password"), PASSWORD.as_bytes());
        let config = dir.path().join("vault.toml");
        let s = Setup {
            primary,
            offsite,
            dir,
            www,
            db,
            config,
        };
        s.configure("", "", "");
        s
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Write vault.toml; `db` and `profile` are extra lines for those
    /// tables, `top` extra text at the end.
    fn configure(&self, db: &str, profile: &str, top: &str) {
        let text = format!(
            r#"
[repositories.main]
url = "{primary}"
password-file = "{pw}"

[repositories.offsite]
url = "{offsite}"
password-file = "{pw}"

[sources.www]
paths = ["{www}"]
host = "{HOST}"
max-age = "1h"
drill-command = "diff -rq \"$VAULT_DRILL_DIR{www}\" \"{www}\""

[sources.db]
command = "cat '{db}'"
filename = "app.sql"
host = "{HOST}"
size-drop = "50%"
drill-command = "cmp -s \"$VAULT_DRILL_FILE\" '{db}'"
{db_extra}

[profiles.nightly]
repository = "main"
copy-to = ["offsite"]
retention = {{ keep-last = 2 }}
check = {{ read-data-subset = "100%", max-age = "1h" }}
hooks = {{ on-success = ["echo ok > '{ok}'"], on-failure = ["printf '%s' \"$VAULT_RUN_ERRORS\" > '{errors}'; printf '%s' \"$VAULT_RUN_SUMMARY\" > '{summary}'"], after = ["echo $VAULT_RUN_STATUS >> '{after}'"] }}
{profile}
{top}
"#,
            primary = self.primary.path.display(),
            offsite = self.offsite.path.display(),
            pw = self.path("password").display(),
            www = self.www.display(),
            db = self.db.display(),
            ok = self.path("hook-ok").display(),
            errors = self.path("hook-errors").display(),
            summary = self.path("hook-summary").display(),
            after = self.path("hook-after").display(),
            db_extra = db,
        );
        std::fs::write(&self.config, text).expect("write vault.toml");
    }

    /// `vault --config vault.toml ARGS` with no password in the environment.
    fn vault(&self, args: &[&str]) -> Output {
        let mut cmd = vault();
        cmd.arg("--config").arg(&self.config).args(args);
        cmd.env("TMPDIR", self.dir.path());
        cmd.output().expect("run vault")
    }

    /// What the source [`LEAK_SOURCE`] stored: its command's environment.
    fn leaked_env(&self) -> String {
        let dumped = self
            .primary
            .ok(args!["dump", "latest", "/env.txt", "--tag", "source:leak"]);
        String::from_utf8_lossy(&dumped.stdout).into_owned()
    }

    fn run_json(&self) -> (Output, Value) {
        let out = self.vault(&["run", "--json"]);
        assert_no_panic(&out);
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "run --json is not one JSON document ({e})\n{}",
                describe(&out)
            )
        });
        (out, summary)
    }
}

/// The steps of a run summary as (step, source, status).
fn steps(summary: &Value) -> Vec<(String, String, String)> {
    summary["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap_or("").to_owned(),
                s["source"].as_str().unwrap_or("").to_owned(),
                s["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn status_of<'a>(steps: &'a [(String, String, String)], step: &str, source: &str) -> Vec<&'a str> {
    steps
        .iter()
        .filter(|(s, src, _)| s == step && src == source)
        .map(|(_, _, status)| status.as_str())
        .collect()
}

fn tags_of(repo: &Repo) -> Vec<String> {
    let mut tags: Vec<String> = repo
        .snapshots()
        .iter()
        .flat_map(|s| s["tags"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t.as_str().map(str::to_owned))
        .filter(|t| t.starts_with("source:"))
        .collect();
    tags.sort();
    tags
}

#[test]
fn run_with_a_failing_source_backs_up_the_others_and_says_which_failed() {
    let s = Setup::new();
    s.configure("", "", "");
    // The database is down: its dump command fails.
    std::fs::rename(&s.db, s.path("db-moved")).expect("move db");
    let (out, summary) = s.run_json();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(summary["success"], false);
    let st = steps(&summary);
    assert_eq!(status_of(&st, "backup", "www"), ["ok"], "{summary:#}");
    assert_eq!(status_of(&st, "backup", "db"), ["failed"], "{summary:#}");
    // The failed source's snapshots are not forgotten; the good one's are.
    assert_eq!(
        status_of(&st, "forget", "db"),
        ["skipped", "ok"],
        "{summary:#}"
    );
    assert_eq!(status_of(&st, "copy", "www"), ["ok"]);
    assert_eq!(status_of(&st, "check", ""), ["ok", "ok"], "{summary:#}");
    let db_step = summary["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["step"] == "backup" && x["source"] == "db")
        .unwrap();
    assert!(
        db_step["message"].as_str().unwrap().contains("cat"),
        "the failing command's error is in the summary: {db_step}"
    );
    // The last stderr line names the failed step.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .contains("backup db"),
        "{stderr}"
    );
    // Only the file backup was saved, and copied off-site.
    assert_eq!(tags_of(&s.primary), ["source:www"]);
    assert_eq!(tags_of(&s.offsite), ["source:www"]);
    // The failure hook had the errors and the summary; the success hook did not run.
    let errors = std::fs::read_to_string(s.path("hook-errors")).expect("on-failure ran");
    assert!(errors.contains("backup db"), "{errors}");
    let hook_summary: Value =
        serde_json::from_str(&std::fs::read_to_string(s.path("hook-summary")).unwrap()).unwrap();
    assert_eq!(hook_summary["success"], false);
    assert!(!s.path("hook-ok").exists());
    assert_eq!(
        std::fs::read_to_string(s.path("hook-after")).unwrap(),
        "failure\n"
    );

    // The database is back: everything succeeds, the success hook runs.
    std::fs::rename(s.path("db-moved"), &s.db).expect("move db back");
    let (out, summary) = s.run_json();
    assert_success(&out);
    assert_eq!(summary["success"], true);
    assert!(
        steps(&summary)
            .iter()
            .all(|(_, _, status)| status == "ok" || status == "skipped"),
        "{summary:#}"
    );
    assert!(s.path("hook-ok").exists());
    assert_eq!(
        tags_of(&s.primary),
        ["source:db", "source:www", "source:www"]
    );
    assert_eq!(
        tags_of(&s.offsite),
        ["source:db", "source:www", "source:www"]
    );

    // A third run: keep-last 2 forgets the oldest www snapshot, prune runs.
    let (out, summary) = s.run_json();
    assert_success(&out);
    let st = steps(&summary);
    assert_eq!(status_of(&st, "prune", ""), ["ok", "ok"], "{summary:#}");
    assert_eq!(
        tags_of(&s.primary),
        ["source:db", "source:db", "source:www", "source:www"]
    );
    assert_success(&s.primary.run(args!["check", "--read-data"]));
    assert_success(&s.offsite.run(args!["check", "--read-data"]));
}

#[test]
fn a_failing_before_hook_skips_the_backups_and_still_runs_after() {
    let s = Setup::new();
    s.configure("", "", "");
    let text = std::fs::read_to_string(&s.config)
        .unwrap()
        .replace("hooks = {", "hooks = { before = [\"exit 7\"],");
    std::fs::write(&s.config, text).unwrap();
    let (out, summary) = s.run_json();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let st = steps(&summary);
    assert_eq!(status_of(&st, "backup", "www"), ["skipped"]);
    assert_eq!(status_of(&st, "hook", "before"), ["failed"]);
    assert!(s.primary.snapshots().is_empty());
    assert_eq!(
        std::fs::read_to_string(s.path("hook-after")).unwrap(),
        "failure\n"
    );
}

/// What an attacker who controls a source's command (or a hook) would try:
/// read the repository password from its environment. `vault run` opens
/// each repository in its own process and hands no password to anything
/// it starts, even when the user exported one.
#[test]
fn run_hands_no_password_to_the_commands_it_starts() {
    let s = Setup::new();
    let hook_env = s.path("hook-env");
    let text = std::fs::read_to_string(&s.config)
        .unwrap()
        .replace("[sources.db]", &format!("{LEAK_SOURCE}[sources.db]"))
        .replace(
            "hooks = {",
            &format!("hooks = {{ before = [\"env > '{}'\"],", hook_env.display()),
        );
    std::fs::write(&s.config, text).unwrap();
    let mut cmd = vault();
    cmd.arg("--config")
        .arg(&s.config)
        .args(["run", "--json"])
        .env("TMPDIR", s.dir.path())
        // Passwords the user exported, beside the password-file vault.toml names.
        .env("VAULT_PASSWORD", PASSWORD)
        .env("VAULT_TO_PASSWORD", PASSWORD)
        .env("VAULT_SERVER_PASSWORD", PASSWORD);
    let out = cmd.output().expect("run vault");
    assert_success(&out);
    let env = s.leaked_env();
    assert!(
        env.contains("PATH="),
        "the command's environment was stored: {env}"
    );
    let hook = std::fs::read_to_string(&hook_env).expect("the hook ran");
    for (what, text) in [("the backed-up command", &*env), ("the hook", &*hook)] {
        assert!(!text.contains(PASSWORD), "{what} saw the password:\n{text}");
        assert!(
            !text.contains("PASSWORD"),
            "{what} saw a password variable:\n{text}"
        );
    }
}

/// A password in a repository's `env` of vault.toml (a `vault serve`
/// server's, say) configures that repository's store, and no more: the
/// source command, which gets the rest of that `env` (the store's cloud
/// credentials, for an `aws` command), does not get it.
#[test]
fn regression_20_a_password_in_vault_toml_env_stays_with_vault() {
    let s = Setup::new();
    let text = std::fs::read_to_string(&s.config)
        .unwrap()
        .replace(
            "[repositories.offsite]",
            "env = { VAULT_SERVER_PASSWORD = \"toml-server-secret\", VAULT_PASSWORD = \"toml-repo-secret\", AWS_SECRET_ACCESS_KEY = \"own-aws-key\" }\n\n[repositories.offsite]",
        )
        .replace("[sources.db]", &format!("{LEAK_SOURCE}[sources.db]"));
    std::fs::write(&s.config, text).unwrap();
    assert_success(&s.vault(&["run"]));
    let env = s.leaked_env();
    assert!(
        env.contains("AWS_SECRET_ACCESS_KEY=own-aws-key"),
        "the command got its repository's other variables:\n{env}"
    );
    assert!(!env.contains("toml-"), "the command saw a password:\n{env}");
    assert!(
        !env.contains("PASSWORD"),
        "the command saw a password variable:\n{env}"
    );
}

#[test]
fn a_sources_own_hooks_wrap_its_backup_and_a_failing_before_skips_only_it() {
    let s = Setup::new();
    let ready = s.path("www-ready");
    let log = s.path("www-after");
    // The www source's hooks (its table ends where db's begins): before
    // fails until the flag file exists.
    let text = std::fs::read_to_string(&s.config).unwrap().replace(
        "[sources.db]",
        &format!(
            "before = [\"test -e '{}'\"]\nafter = [\"echo $VAULT_SOURCE $VAULT_BACKUP_STATUS >> '{}'\"]\n\n[sources.db]",
            ready.display(),
            log.display()
        ),
    );
    std::fs::write(&s.config, text).unwrap();
    let (out, summary) = s.run_json();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let st = steps(&summary);
    assert_eq!(
        status_of(&st, "hook", "before www"),
        ["failed"],
        "{summary:#}"
    );
    assert_eq!(status_of(&st, "backup", "www"), ["skipped"], "{summary:#}");
    assert_eq!(status_of(&st, "backup", "db"), ["ok"], "{summary:#}");
    assert_eq!(status_of(&st, "hook", "after www"), ["ok"], "{summary:#}");
    assert_eq!(tags_of(&s.primary), ["source:db"]);

    write(&ready, b"");
    let (out, _) = s.run_json();
    assert_success(&out);
    assert_eq!(
        tags_of(&s.primary),
        ["source:db", "source:db", "source:www"]
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "www failure\nwww success\n"
    );
}

#[test]
fn health_checks_age_size_drop_check_age_and_stale_locks() {
    let s = Setup::new();
    // Nothing backed up yet: unhealthy, exit 4, and it says why.
    let out = s.vault(&["health"]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("source www: no backup"), "{stderr}");
    assert!(stderr.contains("no successful check"), "{stderr}");

    assert_success(&s.vault(&["run"]));
    let out = s.vault(&["health", "--json"]);
    assert_success(&out);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["healthy"], true, "{report:#}");
    assert_eq!(report["sources"][0]["source"], "db");
    assert_eq!(report["sources"][0]["bytes"], 4000 * 26);

    // The dump shrinks to a few bytes: the classic silent failure.
    let full = std::fs::read(&s.db).unwrap();
    write(&s.db, b"-- pg_dump: error\n");
    assert_success(&s.vault(&["run"]));
    let out = s.vault(&["health"]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("source db: the newest backup is 18 B")
            && stderr.contains("below the median"),
        "{stderr}"
    );
    assert!(!stderr.contains("source www"), "{stderr}");
    write(&s.db, &full);
    assert_success(&s.vault(&["run"]));
    assert_success(&s.vault(&["health"]));

    // A source whose newest snapshot is older than its max-age.
    s.primary.backup(args![
        "--time",
        "2020-01-01T00:00:00Z",
        "--tag",
        "source:old",
        "--host",
        HOST,
        s.www
    ]);
    s.configure(
        "[sources.old]\npaths = [\"/nonexistent\"]\nhost = \"web1\"\nmax-age = \"26h\"",
        "",
        "",
    );
    let out = s.vault(&["health"]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("source old: the newest backup is")
            && stderr.contains("more than max-age 1d 2h"),
        "{stderr}"
    );
    s.configure("", "", "");

    // The last check grows older than check.max-age.
    std::fs::write(
        &s.config,
        std::fs::read_to_string(&s.config)
            .unwrap()
            .replace("max-age = \"1h\" }", "max-age = \"1s\" }"),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(2100));
    let out = s.vault(&["health"]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the last successful check was"), "{stderr}");
    s.configure("", "", "");
    assert_success(&s.vault(&["health"]));

    // A snapshot dated after the store received it (a wrong clock, or a
    // forged one passing for a fresh backup) is a problem; the one dated
    // 2020 above, received now, is not (backdating is allowed).
    let future = s.primary.backup(args![
        "--time",
        "2099-01-01T00:00:00Z",
        "--host",
        HOST,
        s.www
    ]);
    let out = s.vault(&["health"]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is dated 2099-01-01 00:00:00 UTC but the store received it at"),
        "{stderr}"
    );
    s.primary
        .ok(args!["forget", future["snapshot_id"].as_str().unwrap()]);
    assert_success(&s.vault(&["health"]));

    // A backup killed with its lock held leaves a stale lock.
    let mut child = blocked_backup(&s.primary);
    wait_until(
        "the backup holds its lock",
        Duration::from_secs(300),
        || !lock_files(&s.primary).is_empty(),
    );
    child.kill().expect("kill -9 the backup");
    child.wait().expect("reap");
    let out = s.vault(&["health"]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("stale shared lock of backup"), "{stderr}");
    assert!(stderr.contains("vault unlock"), "{stderr}");
}

#[test]
fn health_from_heartbeats_needs_only_the_public_key_and_refuses_forgeries() {
    let s = Setup::new();
    assert_success(&s.vault(&["run"]));
    let key_out = s.primary.ok(args!["key", "heartbeat"]);
    let key = String::from_utf8_lossy(&key_out.stdout).trim().to_owned();
    assert_eq!(key.len(), 64, "{key}");

    // The monitor's vault.toml: the URL and the key; no password anywhere.
    let monitor = s.path("monitor.toml");
    std::fs::write(
        &monitor,
        format!(
            "[repositories.main]\nurl = \"{}\"\nheartbeat-key = \"{key}\"\n\n\
             [sources.www]\npaths = [\"/var/www\"]\nmax-age = \"1h\"\n\n\
             [sources.db]\ncommand = \"x\"\nmax-age = \"1h\"\n\n\
             [profiles.nightly]\nrepository = \"main\"\ncheck = {{ max-age = \"1h\" }}\n",
            s.primary.path.display()
        ),
    )
    .unwrap();
    let monitor_health = |extra: &[&str]| {
        let mut cmd = vault();
        cmd.arg("--config")
            .arg(&monitor)
            .args(["health", "--heartbeats", "--json"])
            .args(extra);
        cmd.output().unwrap()
    };
    let out = monitor_health(&[]);
    assert_success(&out);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["sources"][1]["host"], HOST, "{report:#}");
    assert_eq!(report["sources"][1]["files"], 2, "{report:#}");
    assert!(report["check_age_seconds"].as_u64().is_some(), "{report:#}");

    // Another repository's key verifies nothing.
    let other = Repo::local();
    let other_key = String::from_utf8_lossy(&other.ok(args!["key", "heartbeat"]).stdout)
        .trim()
        .to_owned();
    let out = monitor_health(&["--heartbeat-key", &other_key]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not verify"));

    // A heartbeat changed in storage (say, made to look fresh) is refused.
    let dir = s.primary.path.join("heartbeats");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[20] ^= 1;
        std::fs::write(&path, bytes).unwrap();
    }
    let out = monitor_health(&[]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not verify"), "{stderr}");
    assert!(stderr.contains("source www: no backup"), "{stderr}");
}

/// One Prometheus text-format sample line: `name{labels} value`.
fn parse_sample(line: &str) -> (String, Vec<(String, String)>, f64) {
    let (head, value) = line.rsplit_once(' ').expect("name and value");
    let (name, labels) = head.split_once('{').expect("labels");
    let labels = labels.strip_suffix('}').expect("closing brace");
    let labels = labels
        .split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("label=value");
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .expect("quoted");
            (k.to_owned(), v.to_owned())
        })
        .collect();
    (name.to_owned(), labels, value.parse().expect("a number"))
}

#[test]
fn health_writes_a_prometheus_textfile() {
    let s = Setup::new();
    assert_success(&s.vault(&["run"]));
    assert_success(&s.vault(&["drill", "--source", "www"]));
    let prom = s.path("textfile/vault.prom");
    std::fs::create_dir_all(prom.parent().unwrap()).unwrap();
    assert_success(&s.vault(&["health", "--prometheus", prom.to_str().unwrap()]));
    let text = std::fs::read_to_string(&prom).unwrap();
    let mut declared: Vec<String> = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(kind, "gauge");
            declared.push(name.to_owned());
        } else if line.starts_with("# HELP ") {
        } else {
            let sample = parse_sample(line);
            assert_eq!(
                declared.last(),
                Some(&sample.0),
                "a sample follows its TYPE line: {line}"
            );
            assert!(
                sample
                    .0
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{line}"
            );
            samples.push(sample);
        }
    }
    let value = |name: &str, source: Option<&str>| {
        samples
            .iter()
            .find(|(n, labels, _)| {
                n == name
                    && source
                        .is_none_or(|src| labels.iter().any(|(k, v)| k == "source" && v == src))
            })
            .unwrap_or_else(|| panic!("no {name} for {source:?} in\n{text}"))
            .2
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for src in ["www", "db"] {
        let t = value("vault_backup_last_timestamp_seconds", Some(src));
        assert!(t > now - 600.0 && t <= now, "{t}");
        assert!(value("vault_backup_age_seconds", Some(src)) >= 0.0);
        assert!(value("vault_backup_last_duration_seconds", Some(src)) >= 0.0);
        assert_eq!(value("vault_backup_last_errors", Some(src)), 0.0);
    }
    assert_eq!(
        value("vault_backup_last_size_bytes", Some("db")),
        4000.0 * 26.0
    );
    assert_eq!(value("vault_backup_last_files", Some("www")), 2.0);
    assert!(value("vault_check_last_timestamp_seconds", None) > now - 600.0);
    assert!(value("vault_check_age_seconds", None) >= 0.0);
    assert_eq!(value("vault_health_problems", None), 0.0);
    // The drill's heartbeat: its time and the measured recovery time.
    assert!(value("vault_drill_last_timestamp_seconds", Some("www")) > now - 600.0);
    assert!(value("vault_drill_last_duration_seconds", Some("www")) > 0.0);
    assert!(
        !text.contains("vault_drill_last_timestamp_seconds{profile=\"nightly\",repository=\"main\",source=\"db\""),
        "no drill of db ran:\n{text}"
    );
    let (_, labels, _) = samples
        .iter()
        .find(|(n, _, _)| n == "vault_backup_last_files")
        .unwrap();
    let keys: Vec<&str> = labels.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["profile", "repository", "source", "host"]);
    // Written whole and renamed: no temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(prom.parent().unwrap()).unwrap().collect();
    assert_eq!(names.len(), 1);
}

/// An attacker who can write to the textfile directory plants links at
/// the names vault used as its temporary file (`.NAME.<pid>.tmp`, for the
/// process ids about to be used); vault must follow none of them, and the
/// files they point at stay as they were.
#[test]
fn regression_20_health_prometheus_follows_no_planted_link() {
    let s = Setup::new();
    assert_success(&s.vault(&["run"]));
    let dir = s.path("textfile");
    std::fs::create_dir_all(&dir).unwrap();
    let prom = dir.join("vault.prom");
    let victim = s.path("victim");
    write(&victim, b"precious\n");
    let next_pid: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .expect("read ns_last_pid")
        .trim()
        .parse()
        .unwrap();
    let pid_max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .expect("read pid_max")
        .trim()
        .parse()
        .unwrap();
    // The next 3000 ids, wrapping as the kernel does (to 300).
    let planted: Vec<u32> = (1..3000)
        .map(|i| match next_pid + i {
            p if p >= pid_max => p - pid_max + 300,
            p => p,
        })
        .collect();
    for &pid in &planted {
        std::os::unix::fs::symlink(&victim, dir.join(format!(".vault.prom.{pid}.tmp"))).unwrap();
    }
    let mut cmd = vault();
    cmd.arg("--config")
        .arg(&s.config)
        .args(["health", "--prometheus"])
        .arg(&prom)
        .env("TMPDIR", s.dir.path());
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(
        planted.contains(&pid),
        "vault ran as pid {pid}, past the planted links: the test proves nothing"
    );
    assert_success(&out);
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "precious\n",
        "vault wrote through a planted link"
    );
    let prom_meta = std::fs::symlink_metadata(&prom).unwrap();
    assert!(prom_meta.is_file(), "the textfile is a file of its own");
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(text.contains("vault_health_problems"), "{text}");
    // Readable by the collector, which runs as another user.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(prom_meta.permissions().mode() & 0o777, 0o644);
}

#[test]
fn drill_restores_verifies_runs_the_command_and_cleans_up() {
    let s = Setup::new();
    assert_success(&s.vault(&["run"]));
    let out = s.vault(&["drill", "--json"]);
    assert_success(&out);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["success"], true, "{report:#}");
    for source in report["sources"].as_array().unwrap() {
        assert_eq!(source["success"], true, "{source}");
        assert!(source["files_verified"].as_u64().unwrap() >= 1, "{source}");
        assert_eq!(
            source["files_verified"], source["files_restored"],
            "{source}"
        );
        assert!(source["command_seconds"].as_f64().is_some(), "{source}");
        assert!(source["seconds"].as_f64().unwrap() >= source["restore_seconds"].as_f64().unwrap());
    }
    // The scratch directory (under TMPDIR) is gone.
    let left: Vec<_> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("vault-drill-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // The database changed since the backup: the drill command's
    // comparison fails, and the drill says so.
    write(&s.db, b"something else\n");
    let out = s.vault(&["drill", "--source", "db"]);
    assert_error(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("db"));

    // --target and --keep leave the restored files where asked.
    let target = s.path("drill-target");
    let out = s.vault(&[
        "drill",
        "--source",
        "www",
        "--keep",
        "--target",
        target.to_str().unwrap(),
    ]);
    assert_success(&out);
    let restored = target.join("www").join(s.www.strip_prefix("/").unwrap());
    assert_eq!(
        std::fs::read(restored.join("index.html")).unwrap(),
        b"<h1>hello</h1>\n"
    );
    // A second drill into the same place refuses to mix old and new files.
    let out = s.vault(&[
        "drill",
        "--source",
        "www",
        "--target",
        target.to_str().unwrap(),
    ]);
    assert_error(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
}

#[test]
fn schedule_writes_a_timer_and_service_or_says_the_crontab_line() {
    let s = Setup::new();
    let units = s.path("units");
    let out = s.vault(&[
        "schedule",
        "install",
        "--unit-dir",
        units.to_str().unwrap(),
        "--on-calendar",
        "*-*-* 03:30",
    ]);
    assert_success(&out);
    let service = std::fs::read_to_string(units.join("vault-run-nightly.service")).unwrap();
    let timer = std::fs::read_to_string(units.join("vault-run-nightly.timer")).unwrap();
    let exec = service
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    assert_eq!(
        exec,
        format!(
            "{} --config {} run nightly",
            crate::common::vault_bin().display(),
            s.config.display()
        )
    );
    assert!(service.contains("Type=oneshot"), "{service}");
    assert!(timer.contains("OnCalendar=*-*-* 03:30\n"), "{timer}");
    assert!(timer.contains("Persistent=true"), "{timer}");
    assert!(timer.contains("WantedBy=timers.target"), "{timer}");
    // The service's command line really runs the profile.
    let mut parts = exec.split(' ');
    let out = Command::new(parts.next().unwrap())
        .args(parts)
        .env_remove("VAULT_PASSWORD")
        .output()
        .unwrap();
    assert_success(&out);
    assert_eq!(tags_of(&s.primary), ["source:db", "source:www"]);

    assert_success(&s.vault(&["schedule", "status", "--unit-dir", units.to_str().unwrap()]));
    assert_success(&s.vault(&["schedule", "remove", "--unit-dir", units.to_str().unwrap()]));
    assert!(!units.join("vault-run-nightly.timer").exists());
    let out = s.vault(&["schedule", "status", "--unit-dir", units.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));

    // Without systemd running (containers, CI), install prints the crontab line.
    if !Path::new("/run/systemd/system").exists() {
        let out = s.vault(&["schedule", "install", "--on-calendar", "*-*-* 03:30"]);
        assert_success(&out);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!(
                "30 3 * * * {} --config {} run nightly 2>&1 | logger -t vault-run-nightly",
                crate::common::vault_bin().display(),
                s.config.display()
            )),
            "{stdout}"
        );
        let out = s.vault(&["schedule", "install", "--on-calendar", "Mon *-*-* 03:30"]);
        assert_error(&out, 1);
    }
}

#[test]
fn vault_toml_errors_name_the_line_and_column_and_change_nothing() {
    let s = Setup::new();
    let text = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(&s.config, text.replace("filename =", "file-name =")).unwrap();
    let out = s.vault(&["run"]);
    assert_error(&out, 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("vault.toml: line ")
            && stderr.contains("column 1: unknown field `file-name`"),
        "{stderr}"
    );
    std::fs::write(
        &s.config,
        text.replace("keep-last = 2", "keep-last = \"two\""),
    )
    .unwrap();
    let out = s.vault(&["run"]);
    assert_error(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("keep-last"));
    assert!(s.primary.snapshots().is_empty(), "nothing ran");

    let out = vault()
        .args(["--config", "/nonexistent/vault.toml", "health"])
        .output()
        .unwrap();
    assert_error(&out, 1);
    let out = vault()
        .args(["run"])
        .env("XDG_CONFIG_HOME", s.path("empty"))
        .env("HOME", s.path("empty"))
        .output()
        .unwrap();
    if !Path::new("/etc/vault/vault.toml").exists() {
        assert_error(&out, 1);
        assert!(String::from_utf8_lossy(&out.stderr).contains("no vault.toml found"));
    }
}

/// Another local user must not read what a drill restores: the scratch
/// directory and each source's directory are 0700, a dump is 0600 (it
/// is stored 0644), also where `--keep` leaves them; a `--target` that
/// others can write is refused.
#[test]
fn regression_21_drill_scratch_and_dump_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let s = Setup::new();
    assert_success(&s.vault(&["run"]));
    let out = s.vault(&["drill", "--source", "db", "--keep"]);
    assert_success(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kept = PathBuf::from(
        stderr
            .lines()
            .find_map(|l| l.strip_prefix("restored files kept in "))
            .unwrap_or_else(|| panic!("where the files are kept\n{}", describe(&out))),
    );
    let dump = kept.join("db").join("app.sql");
    assert_eq!(mode(&kept), 0o700, "{}", kept.display());
    assert_eq!(mode(&kept.join("db")), 0o700);
    assert_eq!(mode(&dump), 0o600);
    // What the other user tries: read it.
    if crate::common::is_root() && crate::common::can_run_as_nobody() {
        let read = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg("cat")
            .arg(&dump)
            .output()
            .unwrap();
        assert!(!read.status.success(), "nobody read the dump");
    }

    // --target: made 0700 when it is not there ...
    let target = s.path("new-target");
    let out = s.vault(&["drill", "--keep", "--target", target.to_str().unwrap()]);
    assert_success(&out);
    assert_eq!(mode(&target), 0o700);
    assert_eq!(mode(&target.join("www")), 0o700);
    assert_eq!(mode(&target.join("db").join("app.sql")), 0o600);
    // ... and refused, in one line, when others can write it.
    let shared = s.path("shared-target");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = s.vault(&["drill", "--target", shared.to_str().unwrap()]);
    assert_error(&out, 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is writable by other users"),
        "{}",
        describe(&out)
    );
    assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0);
}

/// The words of an ExecStart= value as systemd reads them
/// (systemd.service(5), "Command lines"; systemd.unit(5), "Specifiers"):
/// double quotes group, `\` escapes, `%%` is `%`, `$$` is `$` in the
/// arguments. An unescaped `%` or `$` (which systemd would expand) fails.
fn systemd_words(value: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quoted = false;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        let first = words.is_empty();
        match c {
            '"' => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            '\\' => {
                let next = chars.next().expect("an escape at the end");
                assert!(matches!(next, '\\' | '"'), "escape \\{next} in {value}");
                word.get_or_insert_with(String::new).push(next);
            }
            '%' | '$' if c == '%' || !first => {
                assert_eq!(chars.next(), Some(c), "{c} would be expanded: {value}");
                word.get_or_insert_with(String::new).push(c);
            }
            ' ' if !quoted => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(!quoted, "unbalanced quotes: {value}");
    words.extend(word);
    words
}

/// Paths and calendars that could break out of a unit file or a crontab
/// line: control characters are refused in one line; `%`, `$`, quotes,
/// backslashes and spaces reach vault exactly as given.
#[test]
fn regression_21_schedule_values_cannot_break_out_of_the_unit_or_crontab_line() {
    let s = Setup::new();
    let units = s.path("units");
    let unit_dir = ["--unit-dir", units.to_str().unwrap()];
    let odd = s.path("odd dir $HOME %h 'q' \"dq\" back\\slash ;");
    std::fs::create_dir(&odd).unwrap();
    let config = odd.join("vault.toml");
    std::fs::copy(&s.config, &config).unwrap();
    let log = odd.join("log 100% $USER \"x\" 'y'.log");
    let install = |config: &Path, extra: &[&str]| {
        let mut cmd = vault();
        cmd.arg("--config")
            .arg(config)
            .args(["schedule", "install"])
            .args(extra);
        cmd.output().expect("run vault")
    };

    // Control characters: refused, nothing written.
    let newline_dir = s.path("new\nline");
    std::fs::create_dir(&newline_dir).unwrap();
    std::fs::copy(&s.config, newline_dir.join("vault.toml")).unwrap();
    let injected = format!("{}\nExecStartPre=/bin/touch /tmp/pwned", log.display());
    for (config, extra) in [
        (config.clone(), vec!["--log-file", injected.as_str()]),
        (
            config.clone(),
            vec!["--on-calendar", "daily\rExecStartPre=/bin/id"],
        ),
        (newline_dir.join("vault.toml"), vec![]),
    ] {
        for target in [&unit_dir[..], &[]] {
            let out = install(&config, &[target, &extra[..]].concat());
            assert_error(&out, 1);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("control character"), "{}", describe(&out));
            assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
            assert!(!units.exists(), "{}", describe(&out));
        }
    }

    let expected = [
        crate::common::vault_bin().to_str().unwrap().to_owned(),
        "--config".to_owned(),
        config.to_str().unwrap().to_owned(),
        "run".to_owned(),
        "nightly".to_owned(),
    ];
    // systemd: one ExecStart whose words are exactly these; nothing else.
    let log_arg = ["--log-file", log.to_str().unwrap()];
    assert_success(&install(&config, &[&unit_dir[..], &log_arg].concat()));
    let service_file = units.join("vault-run-nightly.service");
    let service = std::fs::read_to_string(&service_file).unwrap();
    let keys: Vec<&str> = service
        .lines()
        .skip_while(|l| *l != "[Service]")
        .skip(1)
        .map(|l| l.split_once('=').expect("key=value").0)
        .collect();
    assert_eq!(
        keys,
        [
            "Type",
            "ExecStart",
            "StandardOutput",
            "StandardError",
            "Nice",
            "IOSchedulingClass"
        ],
        "{service}"
    );
    let value = |key: &str| {
        service
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .expect(key)
    };
    assert_eq!(systemd_words(value("ExecStart=")), expected, "{service}");
    for key in ["StandardOutput=", "StandardError="] {
        let path = value(key).strip_prefix("append:").expect("append:");
        assert_eq!(path.replace("%%", "%"), log.to_str().unwrap(), "{service}");
    }
    if Path::new("/usr/bin/systemd-analyze").exists() || Path::new("/bin/systemd-analyze").exists()
    {
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&service_file)
            .output()
            .unwrap();
        assert_success(&out);
    }

    // cron: sh, after cron's own `%` handling, gets exactly these words
    // and appends to exactly that log file.
    if !Path::new("/run/systemd/system").exists() {
        let out = install(
            &config,
            &["--on-calendar", "*-*-* 03:30", log_arg[0], log_arg[1]],
        );
        assert_success(&out);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("30 3 * * * "))
            .unwrap_or_else(|| panic!("no crontab line\n{stdout}"));
        // What cron gives sh: `\%` is `%`; an unescaped `%` ends the command.
        let mut command = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&'%') => command.push(chars.next().unwrap()),
                '%' => panic!("cron would cut the line at a '%': {line}"),
                c => command.push(c),
            }
        }
        let args = s.path("args");
        let script = format!(
            "set -- {command}; printf '%s\\0' \"$@\" > '{}'",
            args.display()
        );
        let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
        assert_success(&out);
        let got = std::fs::read_to_string(&args).unwrap();
        let got: Vec<&str> = got.trim_end_matches('\0').split('\0').collect();
        assert_eq!(got, expected, "{line}");
        assert!(log.is_file(), "the log went elsewhere: {line}");
    }
}

/// The put-only key's password in
/// [`a_put_only_key_runs_its_backups_and_heartbeats_and_nothing_else`].
const PUT_ONLY_PW: &str = "the web host's put-only password";

/// What a put-only key is told by every command but `backup` and `key
/// heartbeat` (after `vault: `), and by each step of a run it cannot do.
const PUT_ONLY_REFUSAL: &str = "this password opens a put-only key, which can only add backups; \
                                use the password of a full key to read or change the repository";

/// A host that holds only a put-only key (issue 22) runs its profile:
/// both sources (files, and a command's output) are backed up and their
/// heartbeats written, which `health --heartbeats` verifies with the key
/// `key heartbeat` prints (the same with either key); a second run reads
/// no unchanged file. A profile that also forgets (and prunes), copies
/// off-site and checks still backs up, reports forget, copy and check as
/// failed steps with the put-only refusal (prune does not start: nothing
/// was forgotten) and exits 1, and removes nothing. `drill` is refused in
/// one line.
#[test]
fn a_put_only_key_runs_its_backups_and_heartbeats_and_nothing_else() {
    use std::collections::BTreeSet;
    let repo = Repo::local();
    let offsite = Repo::local();
    let dir = temp_dir();
    let path = |name: &str| dir.path().join(name);
    write(&path("put-password"), format!("{PUT_ONLY_PW}\n").as_bytes());
    write(&path("full-password"), PASSWORD.as_bytes());
    let out = repo.ok(args![
        "key",
        "add",
        "--put-only",
        "--new-password-file",
        path("put-password"),
        "--json"
    ]);
    let added = &crate::common::json_values(&out.stdout)[0];
    assert_eq!(added["kind"], "put-only", "{added}");
    let www = path("www");
    write(&www.join("index.html"), b"<h1>put-only host</h1>\n");
    write(&www.join("app/data.txt"), &b"row\n".repeat(5000));
    let dump = b"INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\nINSERT INTO t VALUES (3);\n";
    let config = path("vault.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[repositories.main]
url = "{main}"
password-file = "{put}"

[repositories.offsite]
url = "{offsite}"
password-file = "{full}"

[sources.www]
paths = ["{www}"]
host = "{HOST}"
max-age = "1h"

[sources.db]
command = "printf 'INSERT INTO t VALUES (%s);\\n' 1 2 3"
filename = "app.sql"
host = "{HOST}"
max-age = "1h"

[profiles.nightly]
repository = "main"
check = {{ enabled = false }}

[profiles.everything]
repository = "main"
copy-to = ["offsite"]
retention = {{ keep-last = 1 }}
check = {{ read-data-subset = "100%" }}
"#,
            main = repo.path.display(),
            offsite = offsite.path.display(),
            put = path("put-password").display(),
            full = path("full-password").display(),
            www = www.display(),
        ),
    )
    .unwrap();
    // The put-only host's record of what it sent is in its cache.
    let host_vault = |args: &[&str]| {
        let mut cmd = vault();
        cmd.arg("--config")
            .arg(&config)
            .args(args)
            .env("TMPDIR", dir.path())
            .env("XDG_CACHE_HOME", path("xdg-cache"));
        cmd.output().expect("run vault")
    };
    let run_json = |profile: &str| {
        let out = host_vault(&["run", profile, "--json"]);
        assert_no_panic(&out);
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "run --json is not one JSON document ({e})\n{}",
                describe(&out)
            )
        });
        (out, summary)
    };
    let backup_output = |summary: &Value, source: &str| {
        summary["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == "backup" && s["source"] == source)
            .unwrap_or_else(|| panic!("no backup of {source}: {summary:#}"))["output"]
            .clone()
    };

    // The backups and their heartbeats.
    let (out, first) = run_json("nightly");
    assert_success(&out);
    assert_eq!(first["success"], true, "{first:#}");
    let st = steps(&first);
    assert_eq!(status_of(&st, "backup", "www"), ["ok"], "{first:#}");
    assert_eq!(status_of(&st, "backup", "db"), ["ok"], "{first:#}");
    assert_eq!(st.len(), 2, "only the backups ran: {first:#}");
    assert_eq!(tags_of(&repo), ["source:db", "source:www"]);
    let dumped = repo.ok(args!["dump", "latest", "/app.sql", "--tag", "source:db"]);
    assert_eq!(dumped.stdout, dump);
    let target = temp_dir();
    repo.ok(args![
        "restore",
        "latest",
        "--tag",
        "source:www",
        "--target",
        target.path()
    ]);
    crate::common::assert_same_tree(&www, &crate::common::restored(target.path(), &www), false);

    let heartbeat_key = |password: &str| {
        let mut cmd = repo.cmd();
        cmd.env("VAULT_PASSWORD", password)
            .args(["key", "heartbeat"])
            .env("XDG_CACHE_HOME", path("xdg-cache"));
        let out = cmd.output().unwrap();
        assert_success(&out);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let key = heartbeat_key(PASSWORD);
    assert_eq!(key.len(), 64, "{key}");
    assert_eq!(
        heartbeat_key(PUT_ONLY_PW),
        key,
        "either key prints the same"
    );
    let monitor = path("monitor.toml");
    std::fs::write(
        &monitor,
        format!(
            "[repositories.main]\nurl = \"{}\"\nheartbeat-key = \"{key}\"\n\n\
             [sources.www]\npaths = [\"/var/www\"]\nmax-age = \"1h\"\n\n\
             [sources.db]\ncommand = \"x\"\nmax-age = \"1h\"\n\n\
             [profiles.nightly]\nrepository = \"main\"\n",
            repo.path.display()
        ),
    )
    .unwrap();
    let out = vault()
        .arg("--config")
        .arg(&monitor)
        .args(["health", "--heartbeats", "--json"])
        .output()
        .unwrap();
    assert_success(&out);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["healthy"], true, "{report:#}");
    let sources = report["sources"].as_array().expect("sources");
    assert_eq!(sources.len(), 2, "{report:#}");
    for source in sources {
        assert_eq!(source["host"], HOST, "{report:#}");
    }
    let www_health = sources.iter().find(|s| s["source"] == "www").unwrap();
    assert_eq!(www_health["files"], 2, "{report:#}");
    let db_health = sources.iter().find(|s| s["source"] == "db").unwrap();
    assert_eq!(db_health["bytes"], dump.len(), "{report:#}");

    // A second run reads no unchanged file: the record stands in for the
    // parent snapshot the key cannot read.
    let (out, second) = run_json("nightly");
    assert_success(&out);
    let again = backup_output(&second, "www");
    assert_eq!(again["files_unmodified"], 2, "{again:#}");
    assert_eq!(again["files_new"], 0, "{again:#}");
    assert_eq!(again["files_changed"], 0, "{again:#}");
    assert_eq!(again["data_blobs"], 0, "{again:#}");
    assert_eq!(
        again["parent"],
        backup_output(&first, "www")["snapshot_id"],
        "{again:#}"
    );
    let db_again = backup_output(&second, "db");
    assert_eq!(db_again["data_blobs"], 0, "{db_again:#}");
    assert_eq!(
        tags_of(&repo),
        ["source:db", "source:db", "source:www", "source:www"]
    );
    let written: BTreeSet<String> = repo
        .snapshots()
        .iter()
        .filter(|s| s["id"] == again["snapshot_id"])
        .map(|s| s["parent"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        written,
        BTreeSet::from([backup_output(&first, "www")["snapshot_id"]
            .as_str()
            .unwrap()
            .to_owned()]),
        "the snapshot records its parent"
    );

    // Forget, copy and check: refused, each a failed step; the backups
    // still land and nothing is removed.
    let objects = repo.objects();
    let (out, third) = run_json("everything");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(third["success"], false, "{third:#}");
    // Every step, in order: the backups; forget on main, refused (so no
    // prune follows: nothing was forgotten); the copies, refused (so the
    // off-site forgets are skipped); check on main refused, off-site ok.
    let every: Vec<(String, String, String, String)> = third["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let text = |key: &str| s[key].as_str().unwrap_or("").to_owned();
            (
                text("step"),
                text("source"),
                text("repository"),
                text("status"),
            )
        })
        .collect();
    let expected: Vec<(String, String, String, String)> = [
        ("backup", "db", "main", "ok"),
        ("backup", "www", "main", "ok"),
        ("forget", "db", "main", "failed"),
        ("forget", "www", "main", "failed"),
        ("copy", "db", "main → offsite", "failed"),
        ("copy", "www", "main → offsite", "failed"),
        ("forget", "db", "offsite", "skipped"),
        ("forget", "www", "offsite", "skipped"),
        ("check", "", "main", "failed"),
        ("check", "", "offsite", "ok"),
    ]
    .iter()
    .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
    .collect();
    assert_eq!(every, expected, "{third:#}");
    for s in third["steps"].as_array().unwrap() {
        if s["status"] == "failed" {
            assert_eq!(s["message"], PUT_ONLY_REFUSAL, "{s:#}");
        }
    }
    assert_eq!(third["failed"], 5, "{third:#}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.trim_end().lines().last().unwrap_or("");
    assert!(
        last.starts_with("vault: run everything: ") && last.contains(PUT_ONLY_REFUSAL),
        "{stderr}"
    );
    for (kind, before) in &objects {
        let now = repo.list(kind);
        assert!(
            before.is_subset(&now),
            "{kind} removed: {:?}",
            before.difference(&now).collect::<Vec<_>>()
        );
    }
    assert_eq!(
        tags_of(&repo),
        [
            "source:db",
            "source:db",
            "source:db",
            "source:www",
            "source:www",
            "source:www"
        ]
    );
    assert!(offsite.snapshots().is_empty(), "nothing was copied");
    assert_success(&repo.run(args!["check", "--read-data"]));

    // drill: refused in one line.
    let out = host_vault(&[
        "drill",
        "nightly",
        "--target",
        path("drill").to_str().unwrap(),
    ]);
    assert_error(&out, 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        format!("vault: {PUT_ONLY_REFUSAL}"),
        "{}",
        describe(&out)
    );
    assert!(!path("drill").exists() || std::fs::read_dir(path("drill")).unwrap().count() == 0);
}
