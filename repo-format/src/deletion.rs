//! Deletion notices: the first phase of prune's two-phase pack deletion.
//! See SPEC.md §7.6.
//!
//! A prune that condemns packs does not delete them at once: it writes a
//! notice naming them, the snapshots it knew and the lock sessions that
//! were active while it planned. The packs are removed (phase two) only when
//! none of those sessions holds a lock any more, after rescuing any blob
//! that a snapshot unknown to the notice still needs.

use crate::codec;
use crate::error::Result;
use crate::id::{PackId, SnapshotId};
use crate::tree::Timestamp;
use serde::{Deserialize, Serialize};

pub use crate::lock::SESSION_LEN;

/// The payload of a deletion notice.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deletion {
    /// When the notice was written.
    pub time: Timestamp,
    /// Packs to delete, sorted.
    pub packs: Vec<PackId>,
    /// Snapshots that existed when the prune planned, sorted
    /// (informational: phase two walks every snapshot, SPEC.md §7.6).
    pub snapshots: Vec<SnapshotId>,
    /// Lock sessions seen between planning and writing the notice, sorted:
    /// a process among them may have read the index before the prune and
    /// may still reference blobs in these packs.
    pub sessions: Vec<[u8; SESSION_LEN]>,
}

impl Deletion {
    /// Payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }
    /// Parse payload bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        codec::decode("deletion notice", bytes)
    }
}
