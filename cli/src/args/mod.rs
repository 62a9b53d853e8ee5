//! Command-line definitions (see ../shared/cli-contract.md; the README is the
//! reference): the global options and the commands here, each command's
//! arguments in [`commands`] (repository commands) and [`ops`] (vault.toml
//! operations, `serve`, documentation).

mod commands;
mod ops;

pub use commands::*;
pub use ops::*;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Encrypted, compressed, deduplicating backups of files and database dumps.
#[derive(Parser, Debug)]
#[command(name = "vault", version, about, propagate_version = true)]
pub struct Cli {
    /// Options every command accepts.
    #[command(flatten)]
    pub global: Global,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Repository URL: a path, file:///abs/path, s3://bucket/prefix, gs://bucket/prefix, az://container/prefix or memory://name
    #[arg(
        short = 'r',
        long = "repo",
        env = "VAULT_REPOSITORY",
        global = true,
        value_name = "URL"
    )]
    pub repo: Option<String>,
    /// Read the password from the first line of a file
    #[arg(long, global = true, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Run a command (through sh -c) and take the first line of its output as the password
    #[arg(long, global = true, value_name = "CMD")]
    pub password_command: Option<String>,
    /// Machine-readable output on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print more
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Never draw progress bars
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Do not lock the repository (read-only commands only)
    #[arg(long, global = true)]
    pub no_lock: bool,
    /// Wait this long for a conflicting lock to go away (e.g. 30s, 5m, 2h30m)
    #[arg(long, global = true, value_name = "DURATION", default_value = "0")]
    pub retry_lock: String,
    /// forget, check and health report a snapshot dated more than this
    /// after (or before) the store received it
    #[arg(
        long,
        global = true,
        env = "VAULT_CLOCK_SKEW",
        value_name = "DURATION",
        default_value = "1h"
    )]
    pub clock_skew: String,
    /// Most storage requests in flight at once (remote repositories)
    #[arg(long, global = true, env = "VAULT_CONNECTIONS", value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub connections: u16,
    /// Retries of a storage request that failed transiently (timeout, 5xx, throttling); 0 = none
    #[arg(
        long,
        global = true,
        env = "VAULT_RETRIES",
        value_name = "N",
        default_value_t = 10
    )]
    pub retries: usize,
    /// Start no retry of a storage request later than this after its first attempt
    #[arg(
        long,
        global = true,
        env = "VAULT_RETRY_TIMEOUT",
        value_name = "DURATION",
        default_value = "3m"
    )]
    pub retry_timeout: String,
    /// Cache index files, snapshots and trees in this directory, for any
    /// repository (default for s3://, gs://, az://: $XDG_CACHE_HOME/vault,
    /// else ~/.cache/vault; local repositories are not cached by default)
    #[arg(long, global = true, env = "VAULT_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Use no cache: read all metadata from the repository, write no cache
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// Stay within about this much memory (e.g. 256MiB): the part of the
    /// index that does not fit goes to a scratch file in the cache
    /// directory, else $TMPDIR, else /var/tmp (default: all in memory)
    #[arg(long, global = true, env = "VAULT_MAX_MEMORY", value_name = "SIZE")]
    pub max_memory: Option<String>,
    /// vault.toml for run, health, drill and schedule (default:
    /// $XDG_CONFIG_HOME/vault/vault.toml, ~/.config/vault/vault.toml, /etc/vault/vault.toml)
    #[arg(long, global = true, env = "VAULT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a repository
    Init(InitArgs),
    /// Back up files, directories, standard input or a command's output
    Backup(BackupArgs),
    /// List snapshots
    Snapshots(SnapshotsArgs),
    /// List the files in a snapshot
    Ls(LsArgs),
    /// Write a file (or a directory as tar) from a snapshot to standard output
    Dump(DumpArgs),
    /// Restore a snapshot under a target directory
    Restore(RestoreArgs),
    /// Print a decrypted repository object (for debugging)
    Cat(CatArgs),
    /// Remove data that no snapshot references
    Prune(PruneArgs),
    /// Remove snapshots: those named, or those a retention policy does not keep
    Forget(ForgetArgs),
    /// Add, remove or replace the tags of snapshots
    Tag(TagArgs),
    /// List, add, remove or change the keys (passwords) of the repository
    Key(KeyArgs),
    /// Show restore size, raw data size, deduplication and compression of snapshots
    Stats(StatsArgs),
    /// Find files and directories by name or path in snapshots
    Find(FindArgs),
    /// Show what changed between two snapshots
    Diff(DiffArgs),
    /// Remove stale locks (of processes that no longer run)
    Unlock(UnlockArgs),
    /// List the ids of the repository's objects of one kind
    List(ListArgs),
    /// Verify the repository and name every problem found
    Check(CheckArgs),
    /// Repair a damaged repository (index, snapshots)
    Repair(RepairArgs),
    /// Copy snapshots to another repository (only the data it lacks)
    Copy(CopyArgs),
    /// Serve every snapshot as a read-only file system (FUSE) until Ctrl-C
    Mount(MountArgs),
    /// Back up, forget, prune, copy off-site and check, as vault.toml says
    ///
    /// Runs a profile of vault.toml: a backup of each source, forget and
    /// prune with its retention, a copy to each off-site repository, a
    /// check; one summary, and the hooks on success and failure.
    Run(RunArgs),
    /// Say whether backups are fresh, of their usual size and checked
    ///
    /// Exits 4, with one line per problem on stderr, when a source's newest
    /// backup is too old or shrank, the last check is too old, or a stale
    /// lock is left.
    Health(HealthArgs),
    /// Try a restore: restore, verify and test each source's newest snapshot
    ///
    /// Restores the newest snapshot of each source of a profile into a
    /// scratch directory, verifies every file, runs its drill-command,
    /// reports the time it took and removes the files.
    Drill(DrillArgs),
    /// Install, remove or show a systemd timer (or crontab line) that runs a profile
    Schedule(ScheduleArgs),
    /// Serve repositories over HTTP(S) to remote vault clients
    Serve(ServeArgs),
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell
    Completions(CompletionsArgs),
    /// Print vault's man page (roff), or write one page per command into a directory
    Man(ManArgs),
}

/// Snapshot filters shared by several commands.
#[derive(Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// Only snapshots of this host (repeatable)
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
    /// Only snapshots with these tags (repeatable; a,b needs both)
    #[arg(long = "tag", value_name = "TAGS")]
    pub tags: Vec<String>,
    /// Only snapshots of this path (repeatable)
    #[arg(long = "path", value_name = "PATH")]
    pub paths: Vec<String>,
}
