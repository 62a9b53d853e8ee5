//! The arguments of the commands driven by vault.toml (`run`, `health`,
//! `drill`, `schedule`), of `serve`, and of the documentation commands.

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `vault run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The profile (default: the only one, else the one named "default")
    pub profile: Option<String>,
}

/// `vault health`.
#[derive(Args, Debug)]
pub struct HealthArgs {
    /// The profile (default: the only one, else the one named "default")
    pub profile: Option<String>,
    /// Read only the heartbeats, with the repository's heartbeat-key from
    /// vault.toml (or --heartbeat-key): no password needed, no stale-lock check
    #[arg(long)]
    pub heartbeats: bool,
    /// The heartbeat verification key (`vault key heartbeat` prints it)
    #[arg(long, value_name = "HEX", requires = "heartbeats")]
    pub heartbeat_key: Option<String>,
    /// Also write the figures as a Prometheus textfile-collector file
    #[arg(long, value_name = "FILE")]
    pub prometheus: Option<PathBuf>,
}

/// `vault drill`.
#[derive(Args, Debug)]
pub struct DrillArgs {
    /// The profile (default: the only one, else the one named "default")
    pub profile: Option<String>,
    /// Only this source (repeatable)
    #[arg(long = "source", value_name = "NAME")]
    pub sources: Vec<String>,
    /// Restore under DIR/SOURCE instead of a temporary directory
    #[arg(long, value_name = "DIR")]
    pub target: Option<PathBuf>,
    /// Keep the restored files (default: removed when the drill ends)
    #[arg(long)]
    pub keep: bool,
}

/// `vault schedule`.
#[derive(Args, Debug)]
pub struct ScheduleArgs {
    /// What to do.
    #[command(subcommand)]
    pub what: ScheduleCommand,
}

/// `vault schedule` subcommands.
#[derive(Subcommand, Debug)]
pub enum ScheduleCommand {
    /// Write and enable vault-PROFILE.timer and .service (or print a crontab line without systemd)
    Install(ScheduleInstallArgs),
    /// Disable and remove the timer and service
    Remove(ScheduleTarget),
    /// Show the timer's state, next and last run
    Status(ScheduleTarget),
}

/// Where the units go.
#[derive(Args, Debug)]
pub struct ScheduleTarget {
    /// The profile (default: the only one, else the one named "default")
    pub profile: Option<String>,
    /// Per-user units (~/.config/systemd/user, systemctl --user) instead of system ones
    #[arg(long)]
    pub user: bool,
    /// Write the unit files into DIR and do not call systemctl (for packaging or review)
    #[arg(long, value_name = "DIR")]
    pub unit_dir: Option<PathBuf>,
}

/// `vault schedule install`.
#[derive(Args, Debug)]
pub struct ScheduleInstallArgs {
    /// Which profile and where.
    #[command(flatten)]
    pub target: ScheduleTarget,
    /// When to run: a systemd OnCalendar expression (daily, hourly, "*-*-* 03:00")
    #[arg(long, value_name = "WHEN", default_value = "daily")]
    pub on_calendar: String,
    /// Spread the start over this long so that many machines do not start at once
    #[arg(long, value_name = "DURATION", default_value = "30m")]
    pub randomized_delay: String,
    /// Append the log to this file instead of the journal
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

/// `vault completions`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell (e.g. `vault completions bash > /etc/bash_completion.d/vault`)
    pub shell: clap_complete::Shell,
}

/// `vault man`.
#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write vault.1 and vault-COMMAND.1 for every command into DIR (created if missing)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `vault mount`.
#[derive(Args, Debug)]
pub struct MountArgs {
    /// An empty directory to mount the snapshots on
    pub mountpoint: PathBuf,
    /// Let other users read the mount (needs root, or user_allow_other in /etc/fuse.conf); file modes still apply
    #[arg(long)]
    pub allow_other: bool,
}

/// `vault serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on, HOST:PORT (port 0 picks a free port; the
    /// address is printed on stderr as "listening on URL")
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8000")]
    pub listen: String,
    /// Serve the repositories in this directory (created if missing): a
    /// repository at /NAME/... in URLs is DIR/NAME (also -r URL: any
    /// repository store, e.g. s3://bucket/prefix)
    #[arg(long, value_name = "DIR")]
    pub path: Option<PathBuf>,
    /// Clients may create and read objects, and delete only locks; forget,
    /// prune and other deletes are refused (administrators excepted)
    #[arg(long)]
    pub append_only: bool,
    /// Each user reaches only the repositories under /USER/ (administrators: all)
    #[arg(long)]
    pub private_repos: bool,
    /// The users file: NAME:ARGON2ID-HASH[:admin] a line (write it with --add-user)
    #[arg(long, value_name = "FILE", required_unless_present = "no_auth")]
    pub users: Option<PathBuf>,
    /// Serve without authentication (anyone who reaches the address reaches every repository)
    #[arg(long, conflicts_with_all = ["users", "private_repos"])]
    pub no_auth: bool,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Largest object a client may upload (packs are at most 128 MiB plus a blob)
    #[arg(long, value_name = "SIZE", default_value = "256MiB")]
    pub max_body: String,
    /// Most authenticated requests handled at once; more wait their turn
    /// (upload bodies in memory, all together, stay under the global
    /// --max-memory, default 1GiB)
    #[arg(long, value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub max_requests: u16,
    /// Most upload memory one user's uploads hold at once (default: a
    /// quarter of --max-memory, at least --max-body)
    #[arg(long, value_name = "SIZE")]
    pub max_memory_per_user: Option<String>,
    /// Most connections held at once; more are closed at once
    #[arg(long, value_name = "N", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Most connections held at once from one client address
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections_per_address: u32,
    /// Close a connection (HTTP/1.1 or HTTP/2) with no request in hand for this long
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub idle_timeout: String,
    /// After 10 s, an upload must have come at least this fast (bytes a second) on average
    #[arg(long, value_name = "SIZE", default_value = "16KiB")]
    pub min_upload_rate: String,
    /// Most bytes stored under each top-level directory (with --private-repos: each user)
    #[arg(long, value_name = "SIZE")]
    pub quota_bytes: Option<String>,
    /// Most objects stored under each top-level directory (with --private-repos: each user)
    #[arg(long, value_name = "N")]
    pub quota_objects: Option<u64>,
    /// Longest a request may take, its wait for a turn included
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub timeout: String,
    /// Add user NAME to --users FILE (or give them a new password) and exit;
    /// the password from --new-password-file, VAULT_SERVER_PASSWORD_FILE,
    /// VAULT_SERVER_PASSWORD, or a prompt
    #[arg(long, value_name = "NAME", requires = "users")]
    pub add_user: Option<String>,
    /// With --add-user: an administrator, who may delete in --append-only mode and reach every repository
    #[arg(long, requires = "add_user")]
    pub admin: bool,
    /// With --add-user: read the new user's password from the first line of FILE
    #[arg(long, value_name = "FILE", requires = "add_user")]
    pub new_password_file: Option<PathBuf>,
}
