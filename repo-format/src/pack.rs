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
use crate::keyring::{CAPSULE_LEN, Capsule, FORMAT_1};
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
/// header and the length of the blob region before it (format 1).
pub fn header_range(pack_size: u64, trailer: &[u8]) -> Result<(std::ops::Range<u64>, u64)> {
    parse_trailer(FORMAT_1, pack_size, trailer).map(|t| (t.header, t.blobs_len))
}

/// Length of a pack's trailer in `format`: the header length, after the
/// pack key's capsule in format 2 (SPEC.md §6).
pub fn trailer_len(format: u32) -> usize {
    if format == FORMAT_1 {
        HEADER_LEN_LEN
    } else {
        CAPSULE_LEN + HEADER_LEN_LEN
    }
}

/// A pack's trailer: in format 2 the capsule of its key, then the sealed
/// header's length.
pub fn encode_trailer_with(capsule: Option<&Capsule>, sealed_header_len: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(CAPSULE_LEN + HEADER_LEN_LEN);
    if let Some(capsule) = capsule {
        out.extend_from_slice(capsule);
    }
    out.extend_from_slice(&encode_trailer(sealed_header_len));
    out
}

/// What a pack's trailer says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trailer {
    /// The capsule of the pack's key (format 2).
    pub capsule: Option<Capsule>,
    /// Where the sealed header lies.
    pub header: std::ops::Range<u64>,
    /// Length of the blob region, which starts the pack.
    pub blobs_len: u64,
}

/// From a pack's size and its last [`trailer_len`] bytes, the capsule,
/// the byte range of the sealed header and the length of the blob region.
pub fn parse_trailer(format: u32, pack_size: u64, trailer: &[u8]) -> Result<Trailer> {
    let trailer_len = trailer_len(format);
    if trailer.len() != trailer_len {
        return Err(FormatError::Truncated {
            what: "pack trailer",
            needed: trailer_len,
            got: trailer.len(),
        });
    }
    let (capsule, len) = trailer.split_at(trailer_len - HEADER_LEN_LEN);
    let capsule = <Capsule>::try_from(capsule).ok();
    let mut bytes = [0u8; HEADER_LEN_LEN];
    bytes.copy_from_slice(len);
    let header_len = u64::from(u32::from_le_bytes(bytes));
    let end = pack_size
        .checked_sub(trailer_len as u64)
        .ok_or(FormatError::Truncated {
            what: "pack",
            needed: trailer_len,
            got: usize::try_from(pack_size).unwrap_or(usize::MAX),
        })?;
    let start = end
        .checked_sub(header_len)
        .ok_or(FormatError::LengthMismatch {
            what: "pack header length",
            expected: end,
            got: header_len,
        })?;
    Ok(Trailer {
        capsule,
        header: start..end,
        blobs_len: start,
    })
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
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
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

    #[test]
    fn format_2_trailer_carries_the_capsule() {
        let trailer = encode_trailer_with(Some(&[7; 32]), 10);
        assert_eq!(trailer.len(), trailer_len(2));
        assert_eq!(
            parse_trailer(2, 100, &trailer),
            Ok(Trailer {
                capsule: Some([7; 32]),
                header: 54..64,
                blobs_len: 54
            })
        );
        assert!(parse_trailer(2, 40, &trailer).is_err());
        assert!(parse_trailer(2, 100, &trailer[1..]).is_err());
        assert!(parse_trailer(1, 100, &trailer).is_err());
    }
}
