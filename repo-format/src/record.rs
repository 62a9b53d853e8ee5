//! The record a put-only host keeps of what it sent (SPEC.md §5.6): per
//! key file, host and set of paths, one file holding the trees of the last
//! backup, then its head (the snapshot, its root tree and where each tree
//! lies in the file), then the head's length. A put-only key cannot read a parent
//! snapshot's trees from the repository; with this record an unchanged
//! file is not read again. It lives in the host's cache directory, never
//! in the repository, sealed under a key only that host derives
//! ([`crate::keyring::Keyring::record_key`]).
//!
//! ```text
//! record file:  +--------------+-----+--------------+-------------+-----------+
//!               | record tree  | ... | record tree  | record head | u32 LE    |
//!               +--------------+-----+--------------+-------------+-----------+
//! record tree:  envelope(record key, AAD "vault record tree\0" ‖ tree id,
//!                        compression frame of the tree's plaintext)
//! record head:  envelope(record key, AAD "vault record head\0" ‖ head name,
//!                        bincode(RecordHead))
//! ```

use crate::codec;
use crate::compress;
use crate::crypto::{self, KEY_LEN, NONCE_LEN};
use crate::error::{FormatError, Result};
use crate::id::{BlobId, Id, SnapshotId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

const TREE_AAD: &[u8] = b"vault record tree\0";
const HEAD_AAD: &[u8] = b"vault record head\0";
const HEAD_CONTEXT: &str = "vault 2026-12-07 put-only record head name";

fn aad(prefix: &[u8], id: &Id) -> Vec<u8> {
    let mut aad = prefix.to_vec();
    aad.extend_from_slice(&id.0);
    aad
}

/// Seal a tree's plaintext (`plain`, whose blob id is `id`) for the record.
pub fn seal_tree(
    key: &[u8; KEY_LEN],
    id: &BlobId,
    plain: &[u8],
    level: i32,
    nonce: [u8; NONCE_LEN],
) -> Vec<u8> {
    crypto::seal(
        key,
        nonce,
        &aad(TREE_AAD, &id.0),
        &compress::frame(level, plain),
    )
}

/// Open a record tree: its plaintext, which the caller checks against
/// `id` with the id key (the record key does not name blobs).
pub fn open_tree(key: &[u8; KEY_LEN], id: &BlobId, sealed: &[u8]) -> Result<Vec<u8>> {
    let framed = crypto::open(key, &aad(TREE_AAD, &id.0), sealed, "record tree")?;
    compress::unframe("record tree", &framed, codec::DECODE_LIMIT)
}

/// Where one tree lies in a record file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordEntry {
    /// The tree's blob id.
    pub id: BlobId,
    /// Offset of its sealed bytes from the start of the file.
    pub offset: u64,
    /// Length of its sealed bytes.
    pub length: u32,
}

/// The last backup of one host and set of paths.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordHead {
    /// The snapshot it made (the next backup's parent).
    pub snapshot: SnapshotId,
    /// Its root tree, in the record.
    pub tree: BlobId,
    /// When it was taken.
    pub time: Timestamp,
    /// Every tree of that backup in the file, by id.
    pub trees: Vec<RecordEntry>,
}

/// Length of the trailer that ends a record file: the sealed head's length.
pub const TRAILER_LEN: usize = 4;

/// From a record file's length and its last 4 bytes, where its sealed
/// head lies; the trees lie before it.
pub fn head_range(file_len: u64, trailer: [u8; TRAILER_LEN]) -> Result<std::ops::Range<u64>> {
    let head_len = u64::from(u32::from_le_bytes(trailer));
    let end = file_len
        .checked_sub(TRAILER_LEN as u64)
        .ok_or(FormatError::Truncated {
            what: "record",
            needed: TRAILER_LEN,
            got: usize::try_from(file_len).unwrap_or(usize::MAX),
        })?;
    let start = end
        .checked_sub(head_len)
        .ok_or(FormatError::LengthMismatch {
            what: "record head length",
            expected: end,
            got: head_len,
        })?;
    Ok(start..end)
}

/// The name of the head of `host` and `paths` (sorted by the caller),
/// for the key file `key_id`: BLAKE3 derive-key of the bincode of the
/// triple.
pub fn head_name(key_id: &Id, host: &str, paths: &[String]) -> Id {
    Id(blake3::derive_key(
        HEAD_CONTEXT,
        &codec::encode(&(key_id, host, paths)),
    ))
}

impl RecordHead {
    /// Seal under the record key as the head named `name`.
    pub fn seal(&self, key: &[u8; KEY_LEN], name: &Id, nonce: [u8; NONCE_LEN]) -> Vec<u8> {
        crypto::seal(key, nonce, &aad(HEAD_AAD, name), &codec::encode(self))
    }

    /// Open the head named `name`.
    pub fn open(key: &[u8; KEY_LEN], name: &Id, sealed: &[u8]) -> Result<Self> {
        let plain = crypto::open(key, &aad(HEAD_AAD, name), sealed, "record head")?;
        codec::decode("record head", &plain)
    }
}

/// Refuse a record tree whose plaintext is not the blob `id` under
/// `id_key`.
pub fn check_tree_id(id_key: &[u8; KEY_LEN], id: &BlobId, plain: &[u8]) -> Result<()> {
    if *blake3::keyed_hash(id_key, plain).as_bytes() == id.0.0 {
        Ok(())
    } else {
        Err(FormatError::IdMismatch {
            what: "record tree",
            expected: id.to_hex(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn record_tree_and_head_round_trip_and_refuse_swaps() {
        let key = [3u8; KEY_LEN];
        let id = BlobId(Id([1; 32]));
        let sealed = seal_tree(&key, &id, b"tree bytes", 3, [2; NONCE_LEN]);
        assert_eq!(open_tree(&key, &id, &sealed).unwrap(), b"tree bytes");
        assert!(open_tree(&key, &BlobId(Id([2; 32])), &sealed).is_err());
        assert!(open_tree(&[4u8; KEY_LEN], &id, &sealed).is_err());
        let head = RecordHead {
            snapshot: SnapshotId(Id([5; 32])),
            tree: id,
            time: Timestamp { secs: 7, nanos: 0 },
            trees: vec![RecordEntry {
                id,
                offset: 0,
                length: 9,
            }],
        };
        assert_eq!(head_range(100, 10u32.to_le_bytes()), Ok(86..96));
        assert!(head_range(3, [0; 4]).is_err());
        assert!(head_range(10, 7u32.to_le_bytes()).is_err());
        let name = head_name(&Id([9; 32]), "host", &["/srv".into()]);
        assert_ne!(name, head_name(&Id([9; 32]), "host", &["/var".into()]));
        let sealed = head.seal(&key, &name, [6; NONCE_LEN]);
        assert_eq!(RecordHead::open(&key, &name, &sealed).unwrap(), head);
        assert!(RecordHead::open(&key, &Id([0; 32]), &sealed).is_err());
        assert!(check_tree_id(&[1; 32], &id, b"x").is_err());
    }
}
