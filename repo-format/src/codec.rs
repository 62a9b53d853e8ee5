//! The serialisation every structured object uses: serde with bincode 2.0.1
//! (pinned exactly), standard configuration — little-endian, variable-length
//! integers — and a decode limit so that a hostile length field cannot make
//! the decoder allocate without bound. See SPEC.md §2.3.
//!
//! What a length prefix can make the decoder allocate before the bytes are
//! there: bincode allocates a string or byte string at its claimed length,
//! then reads it, and counts every claim against the limit — for a
//! sequence, its length times the size of an element *in memory*, which
//! is larger than its encoding: a pack header or index entry is 48 bytes
//! in memory and about 38 encoded, a tree node some 300 in memory and as
//! few as 22 encoded. The limit therefore follows the input with room for
//! that ([`limit_for`]: at least [`EXPANSION`] times its length, and at
//! least 1 MiB), so valid input is never refused, while a dozen bytes
//! claiming a 2^60-byte name or 2^60 nodes are refused before more than
//! 1 MiB is allocated.

use crate::error::{FormatError, Result};
use serde::{Serialize, de::DeserializeOwned};

/// The largest decoded structure this crate accepts (256 MiB).
pub const DECODE_LIMIT: usize = 256 << 20;

fn config<const LIMIT: usize>() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_little_endian()
        .with_variable_int_encoding()
        .with_limit::<LIMIT>()
}

/// How many times its encoded length a valid structure may claim in
/// memory: the largest ratio of the formats is a tree node's (about 300
/// bytes in memory for as few as 22 encoded, under 14), with room to
/// spare. (A test of each format holds its ratio below this.)
pub const EXPANSION: usize = 64;

/// The decode limits below [`DECODE_LIMIT`], smallest first; each is 4
/// times the one before.
const LIMIT_1M: usize = 1 << 20;
const LIMIT_4M: usize = LIMIT_1M << 2;
const LIMIT_16M: usize = LIMIT_4M << 2;
const LIMIT_64M: usize = LIMIT_16M << 2;
const LIMITS: [usize; 5] = [LIMIT_1M, LIMIT_4M, LIMIT_16M, LIMIT_64M, DECODE_LIMIT];

/// The limit for an input of `len` bytes: the smallest of [`LIMITS`] at
/// least [`EXPANSION`] times `len` (the last one for longer inputs).
pub fn limit_for(len: usize) -> usize {
    let room = len.saturating_mul(EXPANSION);
    LIMITS
        .into_iter()
        .find(|l| *l >= room)
        .unwrap_or(DECODE_LIMIT)
}

/// Encode a value with the repository's bincode configuration.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Encoding into a Vec only fails for types serde cannot express (maps
    // with unknown length, which this crate never uses) or past the limit,
    // which the writer's own bounds keep it far below; an empty Vec would
    // then fail to decode rather than pass silently.
    bincode::serde::encode_to_vec(value, config::<DECODE_LIMIT>()).unwrap_or_default()
}

/// Decode a value; every byte of `bytes` must be consumed.
pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T> {
    let decoded = match limit_for(bytes.len()) {
        LIMIT_1M => bincode::serde::decode_from_slice(bytes, config::<LIMIT_1M>()),
        LIMIT_4M => bincode::serde::decode_from_slice(bytes, config::<LIMIT_4M>()),
        LIMIT_16M => bincode::serde::decode_from_slice(bytes, config::<LIMIT_16M>()),
        LIMIT_64M => bincode::serde::decode_from_slice(bytes, config::<LIMIT_64M>()),
        _ => bincode::serde::decode_from_slice(bytes, config::<DECODE_LIMIT>()),
    };
    let (value, used) = decoded.map_err(|e| FormatError::Malformed {
        what,
        detail: e.to_string(),
    })?;
    if used != bytes.len() {
        return Err(FormatError::Malformed {
            what,
            detail: format!("{} trailing bytes", bytes.len() - used),
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::BlobKind;
    use crate::id::{BlobId, Id};
    use crate::pack::PackEntry;
    use crate::tree::{Node, NodeKind, Tree};

    /// Decode `bytes` under a limit of exactly 1 MiB.
    fn within_1m<T: DeserializeOwned>(bytes: &[u8]) -> bool {
        bincode::serde::decode_from_slice::<T, _>(bytes, config::<LIMIT_1M>()).is_ok()
    }

    /// The densest valid encodings of the formats whose elements are
    /// largest in memory against their encoding: each, encoded in a
    /// sixteenth of 1 MiB or more, decodes under a 1 MiB limit, so its
    /// claims stay below 16 times its length and [`EXPANSION`] leaves
    /// room four times over. (Pack headers and index files are the case
    /// the first version of the tiered limit refused: their entries are
    /// 48 bytes in memory for about 38 encoded.)
    #[test]
    fn valid_structures_claim_well_within_the_expansion() {
        let nodes: Vec<Node> = (0..3000u32)
            .map(|i| Node::new(format!("{i:04}").into_bytes(), NodeKind::Fifo))
            .collect();
        let tree = encode(&Tree { nodes });
        assert!(tree.len() >= LIMIT_1M / 16, "{}", tree.len());
        assert!(within_1m::<Tree>(&tree));

        let entries: Vec<PackEntry> = (0..20_000u32)
            .map(|i| PackEntry {
                kind: BlobKind::Data,
                id: BlobId(Id([7; 32])),
                offset: i,
                length: 1,
                raw_length: 0,
            })
            .collect();
        let header = encode(&entries);
        assert!(header.len() >= LIMIT_1M / 2, "{}", header.len());
        assert!(within_1m::<Vec<PackEntry>>(&header));
    }
}
