//! Command-line definitions (see ../shared/cli-contract.md).

use clap::{Args, Parser, Subcommand, ValueEnum};
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
    /// Most requests handled at once; more wait their turn (upload bodies in
    /// memory, all together, stay under the global --max-memory, default 1GiB)
    #[arg(long, value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub max_requests: u16,
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

/// `vault init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// Compression: auto, off, max, or a zstd level 1-22
    #[arg(long, default_value = "auto")]
    pub compression: String,
    /// Target size of pack files, 1MiB to 128MiB (larger packs mean fewer objects on remote stores)
    #[arg(long, value_name = "SIZE", default_value = "8MiB")]
    pub pack_size: String,
    /// Target average chunk size, a power of two from 256B to 2MiB; chunks are
    /// then cut between half and eight times that [default: 1MiB]
    #[arg(long, value_name = "SIZE", conflicts_with = "copy_chunker_params")]
    pub chunk_size: Option<String>,
    /// Chunk and name blobs like the repository given with --from, so that
    /// `vault copy` between the two deduplicates (shares its chunker
    /// parameters, chunker seed and id key; not its data key)
    #[arg(long)]
    pub copy_chunker_params: bool,
    /// The repository whose chunker parameters to copy (default: $VAULT_FROM_REPOSITORY)
    #[arg(long, value_name = "URL", requires = "copy_chunker_params")]
    pub from: Option<String>,
    /// Read the --from repository's password from the first line of a file
    #[arg(long, value_name = "FILE", requires = "copy_chunker_params")]
    pub from_password_file: Option<PathBuf>,
    /// Run a command (through sh -c) for the --from repository's password
    #[arg(long, value_name = "CMD", requires = "copy_chunker_params")]
    pub from_password_command: Option<String>,
}

/// `vault backup`.
#[derive(Args, Debug)]
pub struct BackupArgs {
    /// Files and directories to back up
    pub paths: Vec<PathBuf>,
    /// Tag the snapshot (repeatable; a,b adds both)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Host name to record instead of this machine's
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Exclude paths matching a glob (repeatable)
    #[arg(short = 'e', long = "exclude", value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Exclude paths matching a glob, ignoring case (repeatable)
    #[arg(long = "iexclude", value_name = "GLOB")]
    pub iexclude: Vec<String>,
    /// Read exclude globs from a file, one per line (repeatable)
    #[arg(long = "exclude-file", value_name = "FILE")]
    pub exclude_file: Vec<PathBuf>,
    /// Exclude directories that contain a file of this name (repeatable)
    #[arg(long = "exclude-if-present", value_name = "NAME")]
    pub exclude_if_present: Vec<String>,
    /// Exclude files larger than this (e.g. 100M, 2G)
    #[arg(long, value_name = "SIZE")]
    pub exclude_larger_than: Option<String>,
    /// Stay on the file system of each source path
    #[arg(short = 'x', long)]
    pub one_file_system: bool,
    /// Use this snapshot as the parent instead of the newest matching one
    #[arg(long, value_name = "SNAPSHOT")]
    pub parent: Option<String>,
    /// Read every file, even those unchanged since the parent
    #[arg(long)]
    pub force: bool,
    /// Do not write anything; report what would be added
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Time of the snapshot (RFC 3339), default now
    #[arg(long, value_name = "TIME")]
    pub time: Option<String>,
    /// Back up standard input as one file
    #[arg(long, conflicts_with = "stdin_from_command")]
    pub stdin: bool,
    /// Name of the file that standard input or the command's output is stored as
    #[arg(long, value_name = "NAME", default_value = "stdin")]
    pub stdin_filename: String,
    /// Run the command given after -- and back up its standard output; a
    /// failing command saves no snapshot
    #[arg(long)]
    pub stdin_from_command: bool,
    /// The command for --stdin-from-command
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
    /// Run CMD with `sh -c` and store its standard output as the file NAME
    /// at the snapshot root (/NAME), beside any paths (repeatable; the
    /// commands run concurrently; if any fails, no snapshot is saved)
    #[arg(
        long = "command",
        value_name = "NAME=CMD",
        conflicts_with_all = ["stdin", "stdin_from_command"]
    )]
    pub commands: Vec<String>,
    /// After saving the snapshot, write a heartbeat for the source NAME
    /// (SPEC.md §7.7; `vault run` does this for every source)
    #[arg(long, value_name = "NAME")]
    pub heartbeat: Option<String>,
}

/// `vault snapshots`.
#[derive(Args, Debug)]
pub struct SnapshotsArgs {
    /// Filters.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Only the newest N snapshots of each host and path set
    #[arg(long, value_name = "N")]
    pub latest: Option<usize>,
}

/// `vault ls`.
#[derive(Args, Debug)]
pub struct LsArgs {
    /// Snapshot: id, id prefix, or latest
    pub snapshot: String,
    /// Directory or file inside the snapshot (default: everything)
    pub path: Option<String>,
    /// Long listing: mode, owner, size, time
    #[arg(short = 'l', long)]
    pub long: bool,
    /// List subdirectories too when a path is given
    #[arg(long)]
    pub recursive: bool,
    /// Filters narrowing `latest`.
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `vault dump`.
#[derive(Args, Debug)]
pub struct DumpArgs {
    /// Snapshot: id, id prefix, or latest
    pub snapshot: String,
    /// File or directory inside the snapshot
    pub path: String,
    /// Filters narrowing `latest`.
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `--overwrite` values.
#[derive(ValueEnum, Clone, Copy, Debug, Default)]
pub enum OverwriteArg {
    /// Always replace existing files
    Always,
    /// Replace existing files whose size or mtime differ
    #[default]
    IfChanged,
    /// Never replace existing files
    Never,
}

/// `vault restore`.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Snapshot: id, id prefix, or latest; SNAPSHOT:PATH restores only that subtree
    pub snapshot: String,
    /// Directory to restore into (required: restore never writes to the original paths)
    #[arg(short = 't', long, value_name = "DIR")]
    pub target: Option<PathBuf>,
    /// Restore only paths matching a glob (repeatable)
    #[arg(short = 'i', long = "include", value_name = "GLOB")]
    pub include: Vec<String>,
    /// Skip paths matching a glob (repeatable)
    #[arg(short = 'e', long = "exclude", value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Re-read every restored file and check it against the snapshot
    #[arg(long)]
    pub verify: bool,
    /// What to do with files that exist at the target
    #[arg(long, value_enum, default_value_t = OverwriteArg::IfChanged)]
    pub overwrite: OverwriteArg,
    /// Report what would be restored; write nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Filters narrowing `latest`.
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `vault cat` object kinds.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum CatKind {
    /// The repository config
    Config,
    /// A snapshot
    Snapshot,
    /// A tree blob
    Tree,
    /// A data blob (raw content to stdout)
    Blob,
    /// An index file
    Index,
    /// A pack's header
    Pack,
    /// A key file (without secrets)
    Key,
}

/// `vault cat`.
#[derive(Args, Debug)]
pub struct CatArgs {
    /// What to print
    #[arg(value_enum)]
    pub kind: CatKind,
    /// Its id (snapshots also take a prefix or latest)
    pub id: Option<String>,
}

/// `vault prune`.
#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Unused data to leave in kept packs: a percentage of the used data (5%), a size (100M), or 'unlimited'
    #[arg(long, default_value = "5%", value_name = "PERCENT|SIZE")]
    pub max_unused: String,
    /// Repack at most this much data (e.g. 2G)
    #[arg(long, value_name = "SIZE")]
    pub max_repack_size: Option<String>,
    /// Show what would be removed; change nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

/// `vault stats --mode` values.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StatsMode {
    /// Size of the files a restore of each snapshot would write
    #[default]
    RestoreSize,
    /// Distinct blobs the snapshots refer to: plaintext and stored size
    RawData,
}

/// `vault stats`.
#[derive(Args, Debug)]
#[command(after_help = "\
restore-size counts every entry (files, directories, links) of every selected \
snapshot, and the sizes of the regular files (a hard-linked file once per \
snapshot). raw-data counts the distinct data and tree blobs they refer to. \
dedup ratio = restore size / raw data size; compression ratio = raw data size \
/ stored size. --json prints one object with every figure of both modes: \
snapshots_count, total_size, total_file_count, total_blob_count, \
data_blob_count, tree_blob_count, raw_data_size, stored_size, dedup_ratio, \
compression_ratio (a ratio is 0 when there is no data).")]
pub struct StatsArgs {
    /// Snapshots: ids, id prefixes or latest (default: every snapshot the filters pass)
    pub snapshots: Vec<String>,
    /// Which figures to print
    #[arg(long, value_enum, default_value_t = StatsMode::RestoreSize)]
    pub mode: StatsMode,
    /// Filters.
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `vault find`.
#[derive(Args, Debug)]
#[command(after_help = "\
A pattern without '/' is matched against entry names (*.conf); one with '/' \
against the end of the absolute path (etc/*.conf), and one starting with '/' \
against the whole path (/home/*/.bashrc). '*' stays within one name, '**' \
crosses directories. --json prints one array with an object per snapshot \
that has matches: {snapshot, short_id, time, matches: [entries as ls --json \
prints them], hits}.")]
pub struct FindArgs {
    /// Glob patterns (an entry matching any of them is found)
    #[arg(required = true, value_name = "PATTERN")]
    pub patterns: Vec<String>,
    /// Search only this snapshot: id, id prefix or latest (repeatable; default: all)
    #[arg(short = 's', long = "snapshot", value_name = "SNAPSHOT")]
    pub snapshots: Vec<String>,
    /// Ignore case in patterns
    #[arg(short = 'i', long)]
    pub ignore_case: bool,
    /// Long listing: mode, owner, size, time
    #[arg(short = 'l', long)]
    pub long: bool,
    /// Only entries modified at or after this time (RFC 3339, or YYYY-MM-DD[ HH:MM[:SS]] in local time)
    #[arg(short = 'O', long, value_name = "TIME")]
    pub oldest: Option<String>,
    /// Only entries modified at or before this time (same forms as --oldest)
    #[arg(short = 'N', long, value_name = "TIME")]
    pub newest: Option<String>,
    /// Filters.
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `vault diff`.
#[derive(Args, Debug)]
#[command(after_help = "\
Each change is printed as a modifier and a path: + added, - removed, M content \
changed (M? content changed while every other field stayed the same), T type \
changed, and with --metadata U metadata changed (mode, owner, times...). \
Directories end in '/'. A summary of entries and blobs added and removed \
follows; the bytes are those of the distinct blobs only one snapshot refers \
to. --json prints JSON lines: {\"message_type\":\"change\",\"path\",\"modifier\"} \
for each change, then one {\"message_type\":\"statistics\",...} line.")]
pub struct DiffArgs {
    /// First snapshot: id, id prefix or latest; SNAPSHOT:PATH compares a subtree
    pub snapshot1: String,
    /// Second snapshot (same forms)
    pub snapshot2: String,
    /// Also list entries whose metadata alone changed (U)
    #[arg(long)]
    pub metadata: bool,
    /// Filters narrowing `latest`.
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `vault forget`.
#[derive(Args, Debug)]
pub struct ForgetArgs {
    /// Snapshots to remove (id, id prefix or latest); no policy is needed then
    pub snapshots: Vec<String>,
    /// Keep the N newest snapshots ('unlimited' for all)
    #[arg(short = 'l', long, value_name = "N")]
    pub keep_last: Option<String>,
    /// Keep the newest snapshot of each of the last N hours that have one
    #[arg(short = 'H', long, value_name = "N")]
    pub keep_hourly: Option<String>,
    /// Keep the newest snapshot of each of the last N days that have one
    #[arg(short = 'd', long, value_name = "N")]
    pub keep_daily: Option<String>,
    /// Keep the newest snapshot of each of the last N weeks that have one
    #[arg(short = 'w', long, value_name = "N")]
    pub keep_weekly: Option<String>,
    /// Keep the newest snapshot of each of the last N months that have one
    #[arg(short = 'm', long, value_name = "N")]
    pub keep_monthly: Option<String>,
    /// Keep the newest snapshot of each of the last N years that have one
    #[arg(short = 'y', long, value_name = "N")]
    pub keep_yearly: Option<String>,
    /// Keep snapshots newer than DURATION before the newest one (e.g. 1y5m7d2h)
    #[arg(long, value_name = "DURATION")]
    pub keep_within: Option<String>,
    /// Keep the newest snapshot of each hour within DURATION of the newest one
    #[arg(long, value_name = "DURATION")]
    pub keep_within_hourly: Option<String>,
    /// Keep the newest snapshot of each day within DURATION of the newest one
    #[arg(long, value_name = "DURATION")]
    pub keep_within_daily: Option<String>,
    /// Keep the newest snapshot of each week within DURATION of the newest one
    #[arg(long, value_name = "DURATION")]
    pub keep_within_weekly: Option<String>,
    /// Keep the newest snapshot of each month within DURATION of the newest one
    #[arg(long, value_name = "DURATION")]
    pub keep_within_monthly: Option<String>,
    /// Keep the newest snapshot of each year within DURATION of the newest one
    #[arg(long, value_name = "DURATION")]
    pub keep_within_yearly: Option<String>,
    /// Keep snapshots with these tags (repeatable; a,b needs both; '' untagged)
    #[arg(long = "keep-tag", value_name = "TAGS")]
    pub keep_tags: Vec<String>,
    /// Only consider snapshots passing these filters.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Apply the policy per group of these fields: host, paths, tags ('' for one group) [default: host,paths]
    #[arg(short = 'g', long, value_name = "FIELDS")]
    pub group_by: Option<String>,
    /// Report what would be removed; remove nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Run prune after removing snapshots
    #[arg(long)]
    pub prune: bool,
    /// Let the policy remove every snapshot of a group
    #[arg(long)]
    pub allow_remove_all: bool,
}

/// `vault tag`.
#[derive(Args, Debug)]
pub struct TagArgs {
    /// Snapshots to change (id, id prefix or latest); default: every snapshot the filters pass
    pub snapshots: Vec<String>,
    /// Add tags (repeatable; a,b adds both)
    #[arg(long, value_name = "TAGS")]
    pub add: Vec<String>,
    /// Remove tags (repeatable; a,b removes both)
    #[arg(long, value_name = "TAGS")]
    pub remove: Vec<String>,
    /// Replace all tags (repeatable; '' removes every tag)
    #[arg(long, value_name = "TAGS", conflicts_with_all = ["add", "remove"])]
    pub set: Option<Vec<String>>,
    /// Filters choosing the snapshots (and narrowing `latest`).
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `vault key`.
#[derive(Args, Debug)]
pub struct KeyArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: KeyCommand,
}

/// `vault key` subcommands.
#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// List the keys; the one in use is marked
    List,
    /// Add a key for another password
    Add(NewPasswordArgs),
    /// Remove a key (not the one in use, nor the last)
    Remove(KeyRemoveArgs),
    /// Change the password: add a key for the new one, then remove the key in use
    Passwd(NewPasswordArgs),
    /// Print the heartbeat verification key, for `vault health --heartbeats` on a monitor
    Heartbeat,
}

/// The new password of `key add` and `key passwd`.
#[derive(Args, Debug)]
pub struct NewPasswordArgs {
    /// Read the new password from the first line of a file (default: prompt)
    #[arg(long, value_name = "FILE")]
    pub new_password_file: Option<PathBuf>,
}

/// `vault key remove`.
#[derive(Args, Debug)]
pub struct KeyRemoveArgs {
    /// Key id, or a unique prefix of at least 4 hex digits
    pub id: String,
}

/// What `vault list` lists.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ListKind {
    /// Pack files (data/)
    Packs,
    /// Index files
    Index,
    /// Snapshot objects
    Snapshots,
    /// Key files
    Keys,
    /// Lock objects
    Locks,
}

/// `vault list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// What to list
    #[arg(value_enum)]
    pub kind: ListKind,
}

/// `vault unlock`.
#[derive(Args, Debug)]
pub struct UnlockArgs {
    /// Remove every lock, also those of processes that may still run
    #[arg(long)]
    pub remove_all: bool,
}

/// `vault check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Also read every pack in full and verify every blob
    #[arg(long, conflicts_with = "read_data_subset")]
    pub read_data: bool,
    /// Read and verify a subset of the packs: N/M (group N of M, by pack
    /// id) or P% (the packs verified longest ago, or never, first)
    #[arg(long, value_name = "N/M|P%")]
    pub read_data_subset: Option<String>,
    /// When the check passes, write a heartbeat saying so (`vault health` reads it)
    #[arg(long)]
    pub heartbeat: bool,
}

/// `vault repair`.
#[derive(Args, Debug)]
pub struct RepairArgs {
    /// What to repair.
    #[command(subcommand)]
    pub what: RepairCommand,
}

/// `vault repair` subcommands.
#[derive(Subcommand, Debug)]
pub enum RepairCommand {
    /// Rebuild the index from the pack headers
    Index(RepairIndexArgs),
    /// Write repaired copies of snapshots that reference lost data
    Snapshots(RepairSnapshotsArgs),
}

/// `vault repair index`.
#[derive(Args, Debug)]
pub struct RepairIndexArgs {
    /// Report what would change; write nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

/// `vault repair snapshots`.
#[derive(Args, Debug)]
pub struct RepairSnapshotsArgs {
    /// Snapshots to repair: id, id prefix, or latest (default: all)
    pub snapshots: Vec<String>,
    /// Remove the damaged originals after saving their repaired copies
    #[arg(long)]
    pub forget: bool,
    /// Report what would change; write nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Filters narrowing `latest`.
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `vault copy`.
#[derive(Args, Debug)]
#[command(after_help = "\
Copies the snapshots (default: every snapshot the filters pass) from the \
repository given with -r into the one given with --to, which has its own \
keys. Only the blobs the destination lacks are uploaded; a snapshot the \
destination already has (copied before) is skipped, so copying twice adds \
nothing. The copy keeps the snapshot's time, host, user, paths and tags, and \
records the source snapshot as its 'original'. Between repositories made \
with 'vault init --copy-chunker-params --from', blob ids are equal and data \
the destination has is never read. --json prints one document: {copied: \
[{source, destination}], skipped: [{source, destination}], blobs_copied, \
bytes_uploaded}.")]
pub struct CopyArgs {
    /// Snapshots to copy: ids, id prefixes or latest (default: all the filters pass)
    pub snapshots: Vec<String>,
    /// The destination repository
    #[arg(long, env = "VAULT_TO_REPOSITORY", value_name = "URL")]
    pub to: Option<String>,
    /// Read the destination's password from the first line of a file
    #[arg(long, value_name = "FILE")]
    pub to_password_file: Option<PathBuf>,
    /// Run a command (through sh -c) for the destination's password
    #[arg(long, value_name = "CMD")]
    pub to_password_command: Option<String>,
    /// Filters choosing the snapshots (and narrowing `latest`).
    #[command(flatten)]
    pub filter: FilterArgs,
}
