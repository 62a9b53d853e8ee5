//! Snapshots. See SPEC.md §7.3.

use crate::codec;
use crate::error::Result;
use crate::id::{BlobId, SnapshotId};
use crate::tree::Timestamp;
use serde::{Deserialize, Serialize};

/// Figures of the backup that made a snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotSummary {
    /// Start of the backup.
    pub backup_start: Timestamp,
    /// End of the backup.
    pub backup_end: Timestamp,
    /// Files not in the parent.
    pub files_new: u64,
    /// Files in the parent whose metadata changed.
    pub files_changed: u64,
    /// Files reused from the parent unread.
    pub files_unmodified: u64,
    /// Directories not in the parent.
    pub dirs_new: u64,
    /// Directories whose tree changed.
    pub dirs_changed: u64,
    /// Directories whose tree is the parent's.
    pub dirs_unmodified: u64,
    /// Blobs added.
    pub data_blobs: u64,
    /// Tree blobs added.
    pub tree_blobs: u64,
    /// Plaintext bytes added.
    pub data_added: u64,
    /// Stored bytes added (compressed and sealed).
    pub data_added_packed: u64,
    /// Files processed.
    pub total_files_processed: u64,
    /// Bytes processed.
    pub total_bytes_processed: u64,
}

/// The payload of a snapshot object. (`Default`, all fields empty, is for
/// tests and tools that fill in what they mean.)
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When the backup was taken.
    pub time: Timestamp,
    /// Offset of the local time zone at `time`, seconds east of UTC (for display).
    pub utc_offset: i32,
    /// Root tree.
    pub tree: BlobId,
    /// Backed-up paths, absolute.
    pub paths: Vec<String>,
    /// Host name.
    pub hostname: String,
    /// User name.
    pub username: String,
    /// Uid of the user.
    pub uid: u32,
    /// Gid of the user.
    pub gid: u32,
    /// Tags, sorted and unique.
    pub tags: Vec<String>,
    /// The parent snapshot, if the backup was incremental.
    pub parent: Option<SnapshotId>,
    /// Exclude patterns in force.
    pub excludes: Vec<String>,
    /// The command whose output was backed up (`--stdin-from-command`).
    pub command: Option<Vec<String>>,
    /// The snapshot this one started as: copied from another repository,
    /// or rewritten by `tag` (set once, kept through later rewrites).
    pub original: Option<SnapshotId>,
    /// The program that wrote it (`vault 0.1.0`).
    pub program_version: String,
    /// Figures of the backup.
    pub summary: Option<SnapshotSummary>,
}

impl Snapshot {
    /// Payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }
    /// Parse payload bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        codec::decode("snapshot", bytes)
    }
}
/// Whether a snapshot with `tags` carries every tag of `list` (`a,b` needs
/// both). An empty list (`''`) matches untagged snapshots only, as in restic.
pub fn has_tags(tags: &[String], list: &str) -> bool {
    let mut wanted = list
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .peekable();
    if wanted.peek().is_none() {
        return tags.is_empty();
    }
    wanted.all(|t| tags.iter().any(|s| s == t))
}
