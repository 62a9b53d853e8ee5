//! What `check` finds: [`Problem`]s (damage; the check fails), each a
//! [`Finding`] with the snapshots and paths it damages, and [`Info`]
//! (worth saying, not damage), gathered in a [`CheckReport`].

use repo_format::crypto::BlobKind;
use repo_format::layout::{FileKind, ObjectName};
use repo_format::{BlobId, Id, IndexId, KeyId, PackId, SnapshotId};
use std::path::PathBuf;

/// How many paths a finding lists per snapshot before it only counts.
pub const PATHS_PER_SNAPSHOT: usize = 10;

/// What puts a problem right (the CLI names the command for each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Repair {
    /// Rebuild the index from the packs' headers
    /// ([`crate::maintenance::repair::repair_index`]).
    Index,
    /// Cut references to lost data out of snapshots, as new snapshots
    /// ([`crate::maintenance::repair::repair_snapshots`], forgetting the
    /// damaged ones).
    Snapshots,
    /// Prune ([`crate::maintenance::prune::prune`]).
    Prune,
}

/// Something wrong with the repository.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The config cannot be read.
    Config {
        /// Why.
        message: String,
    },
    /// No key file opens with the password and key files are damaged (or
    /// there are none).
    NoKey {
        /// Why.
        message: String,
    },
    /// A key file is damaged.
    Key {
        /// The key file.
        id: KeyId,
        /// Why.
        message: String,
    },
    /// An index file cannot be read; the packs it alone lists are invisible.
    Index {
        /// The index file.
        id: IndexId,
        /// Why.
        message: String,
    },
    /// A snapshot cannot be read.
    Snapshot {
        /// The snapshot.
        id: SnapshotId,
        /// Why.
        message: String,
    },
    /// A ledger cannot be read (it only costs the verification schedule).
    Ledger {
        /// The ledger.
        id: Id,
        /// Why.
        message: String,
    },
    /// A deletion notice cannot be read (its packs stay until a prune
    /// condemns them again).
    Deletion {
        /// The notice.
        id: Id,
        /// Why.
        message: String,
    },
    /// An index names a pack that is not in the store.
    PackMissing {
        /// The pack.
        pack: PackId,
        /// The index files that name it.
        indexes: Vec<IndexId>,
        /// How many blobs it held.
        blobs: usize,
    },
    /// A pack's size differs from the index's.
    PackSize {
        /// The pack.
        pack: PackId,
        /// Size in the index.
        indexed: u64,
        /// Size in the store.
        stored: u64,
    },
    /// A pack's header cannot be read.
    PackHeader {
        /// The pack.
        pack: PackId,
        /// Why.
        message: String,
    },
    /// A pack's header and the index disagree.
    PackHeaderMismatch {
        /// The pack.
        pack: PackId,
        /// How.
        message: String,
    },
    /// A pack read in full does not hash to its name.
    PackHash {
        /// The pack.
        pack: PackId,
        /// Its BLAKE3.
        actual: Id,
    },
    /// A blob a tree references is in no index.
    BlobMissing {
        /// Data or tree.
        kind: BlobKind,
        /// The blob.
        blob: BlobId,
    },
    /// A blob (or tree) does not open or decode.
    BlobDamaged {
        /// Data or tree.
        kind: BlobKind,
        /// The blob.
        blob: BlobId,
        /// The pack holding it.
        pack: PackId,
        /// Why.
        message: String,
    },
    /// A tree opens but breaks a rule of SPEC.md §7.2.
    TreeInvalid {
        /// The tree.
        blob: BlobId,
        /// What.
        message: String,
    },
}

impl Problem {
    /// A stable name for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            Problem::Config { .. } => "config",
            Problem::NoKey { .. } => "no_key",
            Problem::Key { .. } => "key",
            Problem::Index { .. } => "index",
            Problem::Snapshot { .. } => "snapshot",
            Problem::Ledger { .. } => "ledger",
            Problem::Deletion { .. } => "deletion_notice",
            Problem::PackMissing { .. } => "pack_missing",
            Problem::PackSize { .. } => "pack_size",
            Problem::PackHeader { .. } => "pack_header",
            Problem::PackHeaderMismatch { .. } => "pack_header_mismatch",
            Problem::PackHash { .. } => "pack_hash",
            Problem::BlobMissing { .. } => "blob_missing",
            Problem::BlobDamaged { .. } => "blob_damaged",
            Problem::TreeInvalid { .. } => "tree_invalid",
        }
    }

    /// The object concerned, as its path in the store (blobs as
    /// `blob <id>`: they live inside packs).
    pub fn object(&self) -> String {
        match self {
            Problem::Config { .. } => "config".to_owned(),
            Problem::NoKey { .. } => "keys".to_owned(),
            Problem::Key { id, .. } => ObjectName::new(FileKind::Key, id.0).path(),
            Problem::Index { id, .. } => ObjectName::new(FileKind::Index, id.0).path(),
            Problem::Snapshot { id, .. } => ObjectName::new(FileKind::Snapshot, id.0).path(),
            Problem::Ledger { id, .. } => ObjectName::new(FileKind::Ledger, *id).path(),
            Problem::Deletion { id, .. } => ObjectName::new(FileKind::Deletion, *id).path(),
            Problem::PackMissing { pack, .. }
            | Problem::PackSize { pack, .. }
            | Problem::PackHeader { pack, .. }
            | Problem::PackHeaderMismatch { pack, .. }
            | Problem::PackHash { pack, .. }
            | Problem::BlobDamaged { pack, .. } => ObjectName::new(FileKind::Pack, pack.0).path(),
            Problem::BlobMissing { kind, blob } => format!("{} blob {}", kind_name(*kind), blob),
            Problem::TreeInvalid { blob, .. } => format!("tree blob {blob}"),
        }
    }

    /// The blob concerned, when the problem is about one blob.
    pub fn blob(&self) -> Option<BlobId> {
        match self {
            Problem::BlobMissing { blob, .. }
            | Problem::BlobDamaged { blob, .. }
            | Problem::TreeInvalid { blob, .. } => Some(*blob),
            _ => None,
        }
    }

    /// The repairs of this problem, in order (empty when there is none).
    pub fn repair(&self) -> &'static [Repair] {
        match self {
            Problem::Index { .. } | Problem::PackHeaderMismatch { .. } => &[Repair::Index],
            Problem::PackMissing { .. }
            | Problem::PackSize { .. }
            | Problem::BlobMissing { .. } => &[Repair::Index, Repair::Snapshots],
            Problem::Deletion { .. } => &[Repair::Prune],
            _ => &[],
        }
    }
}

fn kind_name(kind: BlobKind) -> &'static str {
    match kind {
        BlobKind::Data => "data",
        BlobKind::Tree => "tree",
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Config { message } => write!(f, "config cannot be read: {message}"),
            Problem::NoKey { message } => write!(f, "the repository cannot be opened: {message}"),
            Problem::Key { message, .. } => write!(f, "key file is damaged: {message}"),
            Problem::Index { message, .. } => write!(
                f,
                "index file is damaged ({message}); the packs only it lists are invisible"
            ),
            Problem::Snapshot { message, .. } => write!(f, "snapshot is damaged: {message}"),
            Problem::Ledger { message, .. } => write!(
                f,
                "ledger is damaged ({message}); the next check that reads data replaces it"
            ),
            Problem::Deletion { message, .. } => write!(
                f,
                "deletion notice is damaged ({message}); the next prune condemns its packs again and removes it"
            ),
            Problem::PackMissing { indexes, blobs, .. } => write!(
                f,
                "pack is missing from the store, but {} index file(s) list it with {blobs} blob(s)",
                indexes.len()
            ),
            Problem::PackSize {
                indexed, stored, ..
            } => write!(
                f,
                "pack is {stored} bytes in the store, the index says {indexed}"
            ),
            Problem::PackHeader { message, .. } => write!(
                f,
                "pack header cannot be read ({message}); its blobs stay readable through the index"
            ),
            Problem::PackHeaderMismatch { message, .. } => {
                write!(f, "pack header and index disagree: {message}")
            }
            Problem::PackHash { actual, .. } => write!(
                f,
                "pack content does not match its name (BLAKE3 is {actual})"
            ),
            Problem::BlobMissing { .. } => {
                write!(f, "referenced by a tree but in no index (its data is lost)")
            }
            Problem::BlobDamaged {
                kind,
                blob,
                message,
                ..
            } => write!(f, "{} blob {blob} is damaged: {message}", kind_name(*kind)),
            Problem::TreeInvalid { message, .. } => write!(f, "invalid tree: {message}"),
        }
    }
}

/// The paths of one snapshot that a finding damages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Affected {
    /// The snapshot.
    pub snapshot: SnapshotId,
    /// The first [`PATHS_PER_SNAPSHOT`] damaged paths.
    pub paths: Vec<PathBuf>,
    /// How many more paths are damaged.
    pub more: usize,
}

/// A problem and what it damages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What is wrong.
    pub problem: Problem,
    /// The snapshots and paths whose data it makes unreadable.
    pub affected: Vec<Affected>,
}

/// Things worth saying that are not damage.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Info {
    /// A pack no index lists (left by an interrupted backup).
    PackNotIndexed {
        /// The pack.
        pack: PackId,
        /// Its size.
        size: u64,
    },
    /// A pack a prune condemned, waiting for backups that were running to
    /// finish (SPEC.md §7.6).
    PackAwaitingDeletion {
        /// The pack.
        pack: PackId,
        /// Its size.
        size: u64,
    },
    /// Blobs a pack's header lists that no index names (copies `repair
    /// index` left out because they do not open, or entries an index lost).
    EntriesNotIndexed {
        /// The pack.
        pack: PackId,
        /// How many.
        count: usize,
    },
    /// Indexed blobs that no snapshot references.
    UnusedBlobs {
        /// How many.
        count: u64,
        /// Their stored size.
        bytes: u64,
    },
    /// A file in the store whose name is not an object name.
    StrayFile {
        /// Its path.
        path: String,
    },
    /// A snapshot dated far from when the store received it (a wrong
    /// clock, a backdated or a forged snapshot; see
    /// [`crate::repository::witness`]).
    SnapshotTimeSkewed(crate::repository::witness::Skewed),
}

impl Info {
    /// A stable name for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            Info::PackNotIndexed { .. } => "pack_not_indexed",
            Info::PackAwaitingDeletion { .. } => "pack_awaiting_deletion",
            Info::EntriesNotIndexed { .. } => "entries_not_indexed",
            Info::UnusedBlobs { .. } => "unused_blobs",
            Info::StrayFile { .. } => "stray_file",
            Info::SnapshotTimeSkewed(s) if s.ahead => "snapshot_dated_after_received",
            Info::SnapshotTimeSkewed(_) => "snapshot_dated_before_received",
        }
    }

    /// What tidies this up, when something does.
    pub fn repair(&self) -> Option<Repair> {
        match self {
            Info::PackNotIndexed { .. }
            | Info::PackAwaitingDeletion { .. }
            | Info::EntriesNotIndexed { .. }
            | Info::UnusedBlobs { .. } => Some(Repair::Prune),
            Info::StrayFile { .. } | Info::SnapshotTimeSkewed(_) => None,
        }
    }
}

impl std::fmt::Display for Info {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Info::PackNotIndexed { pack, size } => write!(
                f,
                "pack {} ({size} bytes) is in no index (an interrupted backup leaves such packs)",
                ObjectName::new(FileKind::Pack, pack.0).path()
            ),
            Info::PackAwaitingDeletion { pack, size } => write!(
                f,
                "pack {} ({size} bytes) awaits deletion: a prune condemned it while a backup ran",
                ObjectName::new(FileKind::Pack, pack.0).path()
            ),
            Info::EntriesNotIndexed { pack, count } => write!(
                f,
                "pack {} lists {count} blob(s) no index names (copies that do not open, or lost index entries); prune rewrites it without them",
                ObjectName::new(FileKind::Pack, pack.0).path()
            ),
            Info::UnusedBlobs { count, bytes } => write!(
                f,
                "{count} blob(s) ({bytes} bytes) are referenced by no snapshot"
            ),
            Info::StrayFile { path } => write!(f, "{path} is not a repository object; ignored"),
            Info::SnapshotTimeSkewed(s) => s.fmt(f),
        }
    }
}

/// What a check found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Problems: the check fails when there is any.
    pub findings: Vec<Finding>,
    /// Information that does not fail the check.
    pub info: Vec<Info>,
    /// Packs read in full, in the order chosen.
    pub packs_read: Vec<PackId>,
    /// Blobs opened while reading packs.
    pub blobs_read: u64,
    /// Bytes of packs read.
    pub bytes_read: u64,
    /// Snapshots checked.
    pub snapshots: usize,
    /// Packs in the index.
    pub packs: usize,
    /// Distinct trees checked.
    pub trees: usize,
}

impl CheckReport {
    /// Whether nothing is wrong.
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }

    /// The distinct repairs the findings call for, in the order to run
    /// them.
    pub fn repairs(&self) -> Vec<Repair> {
        let mut out: Vec<Repair> = Vec::new();
        for f in &self.findings {
            for r in f.problem.repair() {
                if !out.contains(r) {
                    out.push(*r);
                }
            }
        }
        // Repairing the index comes first: the snapshots' repair relies on it.
        out.sort_by_key(|r| *r != Repair::Index);
        out
    }

    pub(super) fn problem(&mut self, problem: Problem) {
        self.findings.push(Finding {
            problem,
            affected: Vec::new(),
        });
    }
}
