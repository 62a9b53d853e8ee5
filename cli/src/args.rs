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
    /// Repository URL: a path, file:///abs/path or memory://name
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
    /// Verify the repository and name every problem found
    Check(CheckArgs),
    /// Repair a damaged repository (index, snapshots)
    Repair(RepairArgs),
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
