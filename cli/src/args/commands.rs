//! The arguments of the repository commands.

use super::FilterArgs;
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;

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
    /// The entry limit of the walk.
    #[command(flatten)]
    pub limit: EntryLimitArgs,
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
    /// The entry limit of the walk.
    #[command(flatten)]
    pub limit: EntryLimitArgs,
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
    /// The entry limit of the walk.
    #[command(flatten)]
    pub limit: EntryLimitArgs,
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
    /// The entry limit of the walk.
    #[command(flatten)]
    pub limit: EntryLimitArgs,
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
    /// `--max-entries`: of each snapshot's tree.
    #[command(flatten)]
    pub limit: EntryLimitArgs,
    /// Filters narrowing `latest`.
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `vault forget`.
#[derive(Args, Debug)]
pub struct ForgetArgs {
    /// Snapshots to remove (id, id prefix or latest); no policy is needed then
    pub snapshots: Vec<String>,
    /// The keep-* rules, and --prune.
    #[command(flatten)]
    pub retention: crate::retention::Retention,
    /// Only consider snapshots passing these filters.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Apply the policy per group of these fields: host, paths, tags ('' for one group) [default: host,paths]
    #[arg(short = 'g', long, value_name = "FIELDS")]
    pub group_by: Option<String>,
    /// Report what would be removed; remove nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
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
    Add(KeyAddArgs),
    /// Remove a key (not the one in use, nor the last)
    Remove(KeyRemoveArgs),
    /// Change the password: add a key for the new one, then remove the key in use
    Passwd(NewPasswordArgs),
    /// Print the heartbeat verification key, for `vault health --heartbeats` on a monitor
    Heartbeat,
}

/// `vault key add`.
#[derive(Args, Debug)]
pub struct KeyAddArgs {
    /// The new key's password.
    #[command(flatten)]
    pub password: NewPasswordArgs,
    /// A put-only key: it adds backups (files, dumps, heartbeats) and can
    /// read nothing back, not even what it wrote; for a host that must
    /// not be able to read or restore the history (SPEC.md §5.5)
    #[arg(long)]
    pub put_only: bool,
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

/// `--max-entries`, shared by the commands that walk a snapshot by path.
#[derive(Args, Debug)]
pub struct EntryLimitArgs {
    /// Refuse to walk more than N entries below the path (a tree can name one subtree many times and describe far more entries than the repository stores)
    #[arg(long, value_name = "N", env = "VAULT_MAX_ENTRIES", default_value_t = engine::read::tree_walk::EntryLimit::DEFAULT.0)]
    pub max_entries: u64,
}

impl EntryLimitArgs {
    /// The limit, as the engine takes it.
    pub fn max_entries(&self) -> engine::read::tree_walk::EntryLimit {
        engine::read::tree_walk::EntryLimit(self.max_entries)
    }
}
