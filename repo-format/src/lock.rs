//! Locks: who is using the repository, and how. See SPEC.md §7.4.
//!
//! ```text
//! lock payload: +------+---------+---------+-----------+----------+----------+-----+-----+---------+
//!               | kind | session | created | refreshed | hostname | username | uid | pid | command |
//!               | u32v | [u8;16] | Timest. | Timestamp | String   | String   | u32v| u32v| String  |
//!               +------+---------+---------+-----------+----------+----------+-----+-----+---------+
//! ```
//!
//! The rules that give a lock its meaning (which kinds conflict, when a lock
//! is stale) are part of the format, because every writer must apply the same
//! ones; the clock and the process table are the engine's.

use crate::codec;
use crate::error::Result;
use crate::id::LockId;
use crate::tree::Timestamp;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Length of a lock session id.
pub const SESSION_LEN: usize = 16;

/// How a process uses the repository.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LockKind {
    /// Reads, or adds data without removing any (backup, restore, check, copy).
    Shared = 0,
    /// Removes data in two phases, so it can run beside shared users
    /// (prune, forget, tag), but not beside another maintenance.
    Maintenance = 1,
    /// Needs the repository to itself (key removal, index repair).
    Exclusive = 2,
}

impl LockKind {
    /// Whether a lock of this kind may not be held together with `other`.
    pub fn conflicts_with(self, other: LockKind) -> bool {
        use LockKind::{Exclusive, Maintenance};
        matches!(
            (self, other),
            (Exclusive, _) | (_, Exclusive) | (Maintenance, Maintenance)
        )
    }

    /// The lower-case name used in messages (`shared`, `maintenance`, `exclusive`).
    pub fn name(self) -> &'static str {
        match self {
            LockKind::Shared => "shared",
            LockKind::Maintenance => "maintenance",
            LockKind::Exclusive => "exclusive",
        }
    }
}

/// The payload of a lock object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// How the holder uses the repository.
    pub kind: LockKind,
    /// Random per acquisition; kept when the lock is refreshed (rewritten).
    pub session: [u8; SESSION_LEN],
    /// When the lock was first taken.
    pub created: Timestamp,
    /// When this object was written (equal to `created` for the first one).
    pub refreshed: Timestamp,
    /// Host name of the holder.
    pub hostname: String,
    /// User name of the holder.
    pub username: String,
    /// Uid of the holder.
    pub uid: u32,
    /// Process id of the holder, on its host.
    pub pid: u32,
    /// The command holding it, e.g. `backup`.
    pub command: String,
}

impl Lock {
    /// Payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }
    /// Parse payload bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        codec::decode("lock", bytes)
    }
}

/// A lock found in the repository.
#[derive(Clone, Debug)]
pub struct LockInfo {
    /// Its object id.
    pub id: LockId,
    /// Its content.
    pub lock: Lock,
    /// Whether it counts as stale (SPEC.md §7.4) on this machine, now.
    pub stale: bool,
}

/// The lock that kept another from being taken.
#[derive(Clone, Debug)]
pub enum LockHolder {
    /// A readable lock.
    Lock(LockInfo),
    /// A lock object that cannot be read, too young to count as stale.
    Unreadable {
        /// Its object id.
        id: LockId,
        /// When the store says it was written.
        written: DateTime<Utc>,
        /// Why it cannot be read.
        reason: String,
    },
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockHolder::Lock(info) => {
                let l = &info.lock;
                write!(
                    f,
                    "{} lock {} of '{}' held by {}@{} (pid {}) since {}, last refreshed {}",
                    l.kind.name(),
                    info.id.short(),
                    l.command,
                    l.username,
                    l.hostname,
                    l.pid,
                    l.created.rfc3339(),
                    l.refreshed.rfc3339()
                )
            }
            LockHolder::Unreadable {
                id,
                written,
                reason,
            } => write!(
                f,
                "lock {} written {}, which cannot be read ({reason})",
                id.short(),
                written.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LockKind::{Exclusive, Maintenance, Shared};

    #[test]
    fn lock_kind_conflicts_match_the_spec_table() {
        let table = [
            (Shared, Shared, false),
            (Shared, Maintenance, false),
            (Shared, Exclusive, true),
            (Maintenance, Maintenance, true),
            (Maintenance, Exclusive, true),
            (Exclusive, Exclusive, true),
        ];
        for (a, b, conflict) in table {
            assert_eq!(a.conflicts_with(b), conflict, "{a:?} vs {b:?}");
            assert_eq!(b.conflicts_with(a), conflict, "{b:?} vs {a:?}");
        }
    }

    #[test]
    fn lock_kind_encodes_as_its_discriminant() {
        for kind in [Shared, Maintenance, Exclusive] {
            assert_eq!(codec::encode(&kind), vec![kind as u8]);
        }
    }
}
