//! Packs: sealed blobs back to back, then the sealed header that lists them,
//! then the header's length. See SPEC.md §6.
//!
//! ```text
//! +--------+--------+-----+--------+----------------------+----------------+
//! | blob 0 | blob 1 | ... | blob n | sealed header object | header_len u32 |
//! +--------+--------+-----+--------+----------------------+----------------+
//! ```
//!
//! The pack codec works on byte slices; reading from a store is the engine's.

use crate::codec;
use crate::crypto::BlobKind;
use crate::error::{FormatError, Result};
use crate::id::BlobId;
use serde::{Deserialize, Serialize};

/// Length of the trailing header-length field.
pub const HEADER_LEN_LEN: usize = 4;

/// One blob in a pack: where it is and how long it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackEntry {
    /// Data or tree.
    pub kind: BlobKind,
    /// The blob's id (keyed hash of its plaintext).
    pub id: BlobId,
    /// Offset of the sealed blob from the start of the pack.
    pub offset: u32,
    /// Length of the sealed blob.
    pub length: u32,
    /// Length of the plaintext.
    pub raw_length: u32,
}

impl PackEntry {
    /// End offset of the sealed blob.
    pub fn end(&self) -> u64 {
        u64::from(self.offset) + u64::from(self.length)
    }
}

/// Encode a header's payload (sealed by the engine as an object of kind
/// PackHeader).
pub fn encode_header(entries: &[PackEntry]) -> Vec<u8> {
    codec::encode(&entries)
}

/// Decode a header payload and check that the entries tile
/// `[0, blobs_len)` exactly, in order, with no gap or overlap.
pub fn decode_header(payload: &[u8], blobs_len: u64) -> Result<Vec<PackEntry>> {
    let entries: Vec<PackEntry> = codec::decode("pack header", payload)?;
    let mut expected = 0u64;
    for entry in &entries {
        if u64::from(entry.offset) != expected {
            return Err(FormatError::LengthMismatch {
                what: "pack header entry offset",
                expected,
                got: u64::from(entry.offset),
            });
        }
        expected = entry.end();
    }
    if expected != blobs_len {
        return Err(FormatError::LengthMismatch {
            what: "pack blob region",
            expected: blobs_len,
            got: expected,
        });
    }
    Ok(entries)
}

/// The trailer that ends a pack: the sealed header's length.
pub fn encode_trailer(sealed_header_len: u32) -> [u8; HEADER_LEN_LEN] {
    sealed_header_len.to_le_bytes()
}

/// From a pack's size and its last four bytes, the byte range of the sealed
/// header and the length of the blob region before it.
pub fn header_range(pack_size: u64, trailer: &[u8]) -> Result<(std::ops::Range<u64>, u64)> {
    let bytes: [u8; HEADER_LEN_LEN] = trailer.try_into().map_err(|_| FormatError::Truncated {
        what: "pack trailer",
        needed: HEADER_LEN_LEN,
        got: trailer.len(),
    })?;
    let header_len = u64::from(u32::from_le_bytes(bytes));
    let end = pack_size
        .checked_sub(HEADER_LEN_LEN as u64)
        .ok_or(FormatError::Truncated {
            what: "pack",
            needed: HEADER_LEN_LEN,
            got: pack_size as usize,
        })?;
    let start = end
        .checked_sub(header_len)
        .ok_or(FormatError::LengthMismatch {
            what: "pack header length",
            expected: end,
            got: header_len,
        })?;
    Ok((start..end, start))
}

/// How a pack's header and what an index file claims the pack holds
/// differ: the number of header entries the claims leave out, and the
/// number of claimed entries the header does not list (order does not
/// matter). A claim the header does not back is a false claim; an entry
/// the claims leave out is only not indexed.
pub fn compare_entries(header: &[PackEntry], claims: &[PackEntry]) -> (usize, usize) {
    let mut a = header.to_vec();
    let mut b = claims.to_vec();
    a.sort_by_key(|e| e.offset);
    b.sort_by_key(|e| e.offset);
    if a == b {
        return (0, 0);
    }
    let only_header = a
        .iter()
        .filter(|e| {
            b.binary_search_by_key(&e.offset, |x| x.offset)
                .map_or(true, |i| b.get(i) != Some(e))
        })
        .count();
    let only_claims = b
        .iter()
        .filter(|e| {
            a.binary_search_by_key(&e.offset, |x| x.offset)
                .map_or(true, |i| a.get(i) != Some(e))
        })
        .count();
    (only_header, only_claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Id;

    fn entry(offset: u32, length: u32) -> PackEntry {
        PackEntry {
            kind: BlobKind::Data,
            id: BlobId(Id([offset as u8; 32])),
            offset,
            length,
            raw_length: length,
        }
    }

    #[test]
    fn compare_entries_ignores_order_and_names_differences() {
        let e = |o: u32| entry(o, 1);
        assert_eq!(compare_entries(&[e(0), e(1)], &[e(1), e(0)]), (0, 0));
        assert_eq!(compare_entries(&[e(0), e(1)], &[e(0)]), (1, 0));
        assert_eq!(compare_entries(&[e(0)], &[e(0), e(2)]), (0, 1));
    }

    #[test]
    fn header_round_trip() {
        let e = vec![entry(0, 10), entry(10, 5)];
        assert_eq!(decode_header(&encode_header(&e), 15), Ok(e));
    }

    #[test]
    fn header_with_gap_or_wrong_total_is_error() {
        let e = vec![entry(0, 10), entry(11, 5)];
        assert!(decode_header(&encode_header(&e), 16).is_err());
        let e = vec![entry(0, 10)];
        assert!(decode_header(&encode_header(&e), 11).is_err());
    }

    #[test]
    fn header_range_checks_bounds() {
        assert_eq!(header_range(100, &encode_trailer(10)), Ok((86..96, 86)));
        assert!(header_range(10, &encode_trailer(10)).is_err());
        assert!(header_range(3, &encode_trailer(0)).is_err());
        assert!(header_range(100, &[1, 2]).is_err());
    }
}
