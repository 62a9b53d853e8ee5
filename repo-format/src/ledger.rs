//! The verification ledger: when each pack was last read in full and
//! verified by `check`. See SPEC.md §7.5.
//!
//! ```text
//! +---------------------------------------------------------------+
//! | entries: Vec<LedgerEntry>, sorted strictly by pack id          |
//! |   +-------------+---------------------------------------+     |
//! |   | pack id 32  | verified: Timestamp (secs i64, nanos)  |     |
//! |   +-------------+---------------------------------------+     |
//! +---------------------------------------------------------------+
//! ```
//!
//! Ledger objects are immutable like every other object: a check that
//! verified packs writes a new ledger (the merge of those it read plus its
//! own results) and then deletes the ones it read. Readers merge every
//! ledger object present, keeping the latest time per pack, so two checks
//! running at once lose nothing but each other's deletions.

use crate::codec;
use crate::error::{FormatError, Result};
use crate::id::PackId;
use crate::tree::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One pack's last full verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The pack.
    pub pack: PackId,
    /// When it was last read and every blob in it verified.
    pub verified: Timestamp,
}

/// The payload of a ledger object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// Entries, sorted strictly ascending by pack id.
    pub entries: Vec<LedgerEntry>,
}

impl Ledger {
    /// Payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Parse payload bytes; entries must be sorted by pack id and unique.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let ledger: Ledger = codec::decode("ledger", bytes)?;
        let sorted = ledger
            .entries
            .windows(2)
            .all(|w| matches!(w, [a, b] if a.pack < b.pack));
        if !sorted {
            return Err(FormatError::Malformed {
                what: "ledger",
                detail: "entries not sorted by pack id or not unique".to_owned(),
            });
        }
        Ok(ledger)
    }

    /// The ledger as a map from pack to time.
    pub fn to_map(&self) -> BTreeMap<PackId, Timestamp> {
        self.entries.iter().map(|e| (e.pack, e.verified)).collect()
    }

    /// A ledger from a map (sorted by construction).
    pub fn from_map(map: &BTreeMap<PackId, Timestamp>) -> Self {
        Ledger {
            entries: map
                .iter()
                .map(|(pack, verified)| LedgerEntry {
                    pack: *pack,
                    verified: *verified,
                })
                .collect(),
        }
    }

    /// Merge this ledger into `map`, keeping the later time of each pack.
    pub fn merge_into(&self, map: &mut BTreeMap<PackId, Timestamp>) {
        for e in &self.entries {
            let slot = map.entry(e.pack).or_insert(e.verified);
            if e.verified > *slot {
                *slot = e.verified;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Id;

    fn entry(b: u8, secs: i64) -> LedgerEntry {
        LedgerEntry {
            pack: PackId(Id([b; 32])),
            verified: Timestamp { secs, nanos: 0 },
        }
    }

    #[test]
    fn ledger_round_trip() {
        let l = Ledger {
            entries: vec![entry(1, 5), entry(2, -3)],
        };
        assert_eq!(Ledger::decode(&l.encode()), Ok(l));
    }

    #[test]
    fn ledger_unsorted_or_duplicate_is_error() {
        for entries in [
            vec![entry(2, 1), entry(1, 1)],
            vec![entry(1, 1), entry(1, 2)],
        ] {
            assert!(Ledger::decode(&Ledger { entries }.encode()).is_err());
        }
    }

    #[test]
    fn ledger_merge_keeps_latest_time() {
        let mut map = BTreeMap::new();
        Ledger {
            entries: vec![entry(1, 5), entry(2, 9)],
        }
        .merge_into(&mut map);
        Ledger {
            entries: vec![entry(1, 7), entry(2, 3), entry(3, 1)],
        }
        .merge_into(&mut map);
        assert_eq!(
            Ledger::from_map(&map).entries,
            vec![entry(1, 7), entry(2, 9), entry(3, 1)]
        );
    }
}
