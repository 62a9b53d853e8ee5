//! Database dumps against a real PostgreSQL: a throwaway cluster (initdb and
//! pg_ctl in a temp dir, listening only on a Unix socket there), filled by
//! `pgbench -i`, dumped through `vault backup --stdin-from-command` and
//! `--command`, changed, dumped again, and the first dump restored with
//! `vault dump … | psql` into a new database whose tables must equal what
//! they were.
//!
//! Skipped, saying so, where PostgreSQL is not installed, unless
//! `VAULT_TEST_PG_REQUIRED=1` (scripts/test.sh installs it and sets that).

use crate::args;
use crate::common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The tables `pgbench -i` makes.
const TABLES: [&str; 4] = [
    "pgbench_accounts",
    "pgbench_branches",
    "pgbench_tellers",
    "pgbench_history",
];

/// The newest installed PostgreSQL's bin directory.
fn pg_bin() -> Option<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, bin)| bin)
}

/// A running throwaway cluster; stopped and removed when dropped.
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

/// Run as the `postgres` user (initdb and the server refuse root).
fn as_postgres(program: &Path) -> Command {
    let mut cmd = if is_root() {
        let mut cmd = Command::new("setpriv");
        let (uid, gid) = postgres_ids();
        cmd.args([
            format!("--reuid={uid}"),
            format!("--regid={gid}"),
            "--clear-groups".to_owned(),
            "--".to_owned(),
        ]);
        cmd.arg(program);
        cmd
    } else {
        Command::new(program)
    };
    cmd.stdin(Stdio::null());
    cmd
}

/// The uid and gid of the `postgres` user the Debian package creates.
fn postgres_ids() -> (String, String) {
    let id = |flag: &str| {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("run id");
        assert!(out.status.success(), "no postgres user: {}", describe(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    (id("-u"), id("-g"))
}

#[track_caller]
fn check(out: Output, what: &str) -> Output {
    assert!(out.status.success(), "{what} failed: {}", describe(&out));
    out
}

impl Cluster {
    /// initdb and start a cluster, or None (with a note) when PostgreSQL
    /// is not installed and not required.
    fn start() -> Option<Cluster> {
        let Some(bin) = pg_bin() else {
            assert!(
                std::env::var("VAULT_TEST_PG_REQUIRED").as_deref() != Ok("1"),
                "VAULT_TEST_PG_REQUIRED=1 but PostgreSQL is not installed (apt-get install postgresql)"
            );
            eprintln!(
                "skipped: PostgreSQL is not installed; scripts/test.sh installs it (VAULT_TEST_PG_REQUIRED=1)"
            );
            return None;
        };
        let dir = temp_dir();
        if is_root() {
            let (uid, gid) = postgres_ids();
            check(
                Command::new("chown")
                    .arg(format!("{uid}:{gid}"))
                    .arg(dir.path())
                    .output()
                    .expect("chown"),
                "chown",
            );
        }
        // The port only names the socket file; nothing listens on TCP.
        let port = 50_000 + (std::process::id() % 10_000) as u16;
        let data = dir.path().join("data");
        check(
            as_postgres(&bin.join("initdb"))
                .args([
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "-D",
                ])
                .arg(&data)
                .output()
                .expect("run initdb"),
            "initdb",
        );
        let options = format!(
            "-p {port} -k {} -c listen_addresses= -c fsync=off",
            dir.path().display()
        );
        check(
            as_postgres(&bin.join("pg_ctl"))
                .args(["-w", "-D"])
                .arg(&data)
                .args(["-o", &options, "-l"])
                .arg(dir.path().join("log"))
                .arg("start")
                .stdout(Stdio::null())
                .output()
                .expect("run pg_ctl"),
            "pg_ctl start",
        );
        Some(Cluster { bin, dir, port })
    }

    /// A client program with the connection set through the environment,
    /// so that vault records no socket path in the command line.
    fn client(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        self.connect(&mut cmd);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Point libpq (of any child of `cmd`) at this cluster.
    fn connect(&self, cmd: &mut Command) {
        cmd.env("PGHOST", self.dir.path())
            .env("PGPORT", self.port.to_string())
            .env("PGUSER", "postgres");
    }

    #[track_caller]
    fn sql(&self, db: &str, sql: &str) -> String {
        let out = check(
            self.client("psql")
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql])
                .output()
                .expect("run psql"),
            sql,
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Every row of each pgbench table, in key order, as COPY text.
    fn contents(&self, db: &str) -> BTreeMap<&'static str, String> {
        TABLES
            .iter()
            .map(|t| {
                let order = if *t == "pgbench_history" {
                    "tid, bid, aid, delta, mtime"
                } else {
                    "1"
                };
                let sql = format!("COPY (SELECT * FROM {t} ORDER BY {order}) TO STDOUT");
                (*t, self.sql(db, &sql))
            })
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .args(["-w", "-m", "immediate", "-D"])
            .arg(self.dir.path().join("data"))
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `vault dump SNAPSHOT PATH | psql -d DB`, with psql stopping at the first
/// error.
#[track_caller]
fn restore_into(repo: &Repo, pg: &Cluster, snapshot: &str, path: &str, db: &str) {
    let mut dump = repo.cmd();
    dump.args(["dump", snapshot, path]).stdout(Stdio::piped());
    let mut dump = dump.spawn().expect("run vault dump");
    let out = pg
        .client("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db])
        .stdin(dump.stdout.take().expect("dump stdout"))
        .output()
        .expect("run psql");
    assert!(out.status.success(), "psql failed: {}", describe(&out));
    let status = dump.wait().expect("wait for vault dump");
    assert!(status.success(), "vault dump failed: {status}");
}

/// `vault backup --json --stdin-filename FILE --stdin-from-command -- pg_dump DB`.
fn backup_pg_dump(repo: &Repo, pg: &Cluster, file: &str, db: &str) -> Output {
    let mut backup = repo.cmd();
    pg.connect(&mut backup);
    backup.args([
        "backup",
        "--json",
        "--stdin-filename",
        file,
        "--stdin-from-command",
        "--",
    ]);
    backup.arg(pg.bin.join("pg_dump")).arg(db);
    output_with_stdin(backup, None)
}

#[test]
fn pg_dump_backups_restore_into_a_new_database_with_the_same_rows() {
    let Some(pg) = Cluster::start() else {
        return;
    };
    pg.sql("postgres", "CREATE DATABASE shop");
    check(
        pg.client("pgbench")
            .args(["-i", "-q", "-s", "2", "shop"])
            .output()
            .expect("run pgbench"),
        "pgbench -i",
    );
    // Some history, so that every table has rows.
    check(
        pg.client("pgbench")
            .args(["-t", "200", "-n", "shop"])
            .output()
            .expect("run pgbench"),
        "pgbench -t",
    );
    let before = pg.contents("shop");
    assert!(before["pgbench_accounts"].lines().count() == 200_000);

    // Small chunks, so that a dump of a few MiB deduplicates (see
    // benches/dump-dedup.md for the sizes on real-sized dumps).
    // A default repository: streams get 64 KiB chunks (SPEC.md §5.4), so
    // that the second dump deduplicates.
    let repo = Repo::new();
    let first = summary(&check(
        backup_pg_dump(&repo, &pg, "shop.sql", "shop"),
        "backup of pg_dump",
    ));
    let first_id = first["snapshot_id"].as_str().unwrap().to_owned();
    let dump_bytes = first["stream_bytes"].as_u64().unwrap();
    assert!(
        dump_bytes > 10 << 20,
        "a 200,000 row dump of {dump_bytes} bytes"
    );
    let snapshot = &repo.snapshots()[0];
    assert_eq!(
        snapshot["command"],
        serde_json::json!([pg.bin.join("pg_dump"), "shop"]),
        "the command line is recorded"
    );

    // A night's changes: a few updated rows, appended rows, a new table.
    pg.sql(
        "shop",
        "UPDATE pgbench_accounts SET abalance = abalance + 7 WHERE aid % 20000 = 0;
         INSERT INTO pgbench_accounts (aid, bid, abalance, filler)
             SELECT aid, 1, 0, 'new' FROM generate_series(200001, 204000) AS aid;
         CREATE TABLE orders (id serial PRIMARY KEY, note text);
         INSERT INTO orders (note) SELECT 'order ' || n FROM generate_series(1, 1000) AS n;",
    );
    // Both dumps in one snapshot: the database and the cluster's globals.
    let mut backup = repo.cmd();
    pg.connect(&mut backup);
    backup.args(["backup", "--json", "--command"]);
    backup.arg(format!(
        "shop.sql={} shop",
        pg.bin.join("pg_dump").display()
    ));
    backup.arg("--command");
    backup.arg(format!(
        "globals.sql={} --globals-only",
        pg.bin.join("pg_dumpall").display()
    ));
    let second = summary(&check(output_with_stdin(backup, None), "backup --command"));
    let added = second["data_added"].as_u64().unwrap();
    // The changed rows are scattered, so each costs a chunk or two; the
    // chunker is keyed per repository, so that share varies from one
    // repository to the next: 8 to 27 % of the dump in 13 runs. Without
    // deduplication it is all of it.
    assert!(
        added < dump_bytes / 2,
        "the second dump added {added} of {dump_bytes} bytes: no deduplication"
    );
    assert_eq!(second["streams"].as_array().unwrap().len(), 2);

    // The first snapshot restores into a new database as it was.
    pg.sql("postgres", "CREATE DATABASE restored");
    restore_into(&repo, &pg, &first_id, "/shop.sql", "restored");
    assert!(before == pg.contents("restored"), "restored rows differ");
    let tables = pg.sql(
        "restored",
        "SELECT count(*) FROM pg_tables WHERE tablename = 'orders'",
    );
    assert!(tables.contains('0'), "orders exists before it was made");
    // The second one has the changes; its globals dump is SQL.
    pg.sql("postgres", "CREATE DATABASE restored2");
    restore_into(&repo, &pg, "latest", "/shop.sql", "restored2");
    assert!(pg.contents("shop") == pg.contents("restored2"));
    assert!(
        pg.sql("restored2", "SELECT count(*) FROM orders")
            .contains("1000")
    );
    let globals = repo.ok(args!["dump", "latest", "/globals.sql"]);
    assert!(
        String::from_utf8_lossy(&globals.stdout).contains("CREATE ROLE postgres"),
        "globals dump"
    );
    repo.ok(args!["check", "--read-data"]);
}

#[test]
fn pg_dump_of_a_missing_database_saves_no_snapshot() {
    let Some(pg) = Cluster::start() else {
        return;
    };
    let repo = Repo::new();
    let out = backup_pg_dump(&repo, &pg, "db.sql", "no_such_db");
    // pg_dump's own message passes through; vault's line comes last and
    // repeats its end.
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_no_panic(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("vault: ")
            && last.contains("exit status 1")
            && last.contains("no_such_db")
            && last.contains("does not exist")
            && last.contains("no snapshot was saved"),
        "the error says why: {}",
        describe(&out)
    );
    assert!(repo.snapshots().is_empty(), "a snapshot was saved");
    repo.ok(args!["check"]);
}

/// The routine a server runs, end to end: vault.toml with a pg_dump source
/// (the database reached through the repository's `env`), `vault run`,
/// `vault health`, then `vault drill`, whose drill-command loads the
/// restored dump into a scratch database and counts its rows.
#[test]
fn run_and_drill_a_real_database_from_vault_toml() {
    let Some(pg) = Cluster::start() else {
        return;
    };
    pg.sql("postgres", "CREATE DATABASE shop");
    check(
        pg.client("pgbench")
            .args(["-i", "-q", "-s", "1", "shop"])
            .output()
            .expect("run pgbench"),
        "pgbench -i",
    );
    let repo = Repo::local();
    let dir = temp_dir();
    let password = dir.path().join("password");
    write(&password, PASSWORD.as_bytes());
    let bin = pg.bin.display();
    let config = dir.path().join("vault.toml");
    let toml = format!(
        r#"
[repositories.main]
url = "{repo}"
password-file = "{password}"
env = {{ PGHOST = "{host}", PGPORT = "{port}", PGUSER = "postgres" }}

[sources.shop]
command = "{bin}/pg_dump --format=custom shop"
filename = "shop.dump"
max-age = "1h"
size-drop = "50%"
drill-command = """
{bin}/createdb vault_drill &&
{bin}/pg_restore --dbname=vault_drill "$VAULT_DRILL_FILE" &&
test "$({bin}/psql -Atc 'select count(*) from pgbench_accounts' vault_drill)" = 100000
status=$?; {bin}/dropdb vault_drill; exit $status
"""

[profiles.db]
repository = "main"
retention = {{ keep-daily = 7 }}
check = {{ read-data-subset = "100%", max-age = "1h" }}
"#,
        repo = repo.path.display(),
        password = password.display(),
        host = pg.dir.path().display(),
        port = pg.port,
    );
    std::fs::write(&config, toml).expect("write vault.toml");
    let vault_toml = |args: &[&str]| {
        let mut cmd = vault();
        cmd.arg("--config").arg(&config).args(args);
        for var in ["PGHOST", "PGPORT", "PGUSER"] {
            cmd.env_remove(var);
        }
        cmd.env("TMPDIR", dir.path()).output().expect("run vault")
    };
    let out = vault_toml(&["run"]);
    assert_success(&out);
    let out = vault_toml(&["health"]);
    assert_success(&out);
    let out = vault_toml(&["drill", "--json"]);
    assert_success(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("drill --json");
    let source = &report["sources"][0];
    assert_eq!(source["success"], true, "{report:#}");
    assert_eq!(source["files_verified"], 1, "{report:#}");
    assert!(source["command_seconds"].as_f64().is_some(), "{report:#}");

    // The scratch database is gone, and so are the restored files.
    let dbs = pg.sql("postgres", "SELECT datname FROM pg_database");
    assert!(!dbs.contains("vault_drill"), "{dbs}");
    assert!(std::fs::read_dir(dir.path()).expect("list").all(|e| {
        !e.expect("entry")
            .file_name()
            .to_string_lossy()
            .starts_with("vault-drill-")
    }));

    // The database is dropped: the next run's dump fails, and says so.
    pg.sql("postgres", "DROP DATABASE shop");
    let out = vault_toml(&["run"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.lines().last().unwrap_or("").contains("backup shop"),
        "{stderr}"
    );
}
