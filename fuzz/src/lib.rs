//! What the fuzz targets share: the fixed test key, sealing of arbitrary
//! plaintext under it, and the round-trip check.
//!
//! The key is the golden vectors' master key (SPEC.md §12.1, randomness
//! 0x40..0x87), built directly from those bytes: no Argon2 per input, and
//! the sealed vectors in `repo-format/tests/vectors/` open under it, so they
//! seed the targets that decrypt.

use repo_format::BlobId;
use repo_format::crypto::{self, BlobKind, MasterKey, NONCE_LEN, ObjectKind};
use std::fmt::Debug;
use std::sync::OnceLock;

/// The fixed master key.
pub fn key() -> &'static MasterKey {
    static KEY: OnceLock<MasterKey> = OnceLock::new();
    KEY.get_or_init(|| MasterKey::from_random(&std::array::from_fn(|i| 0x40 + i as u8)))
}

/// The nonce of everything the targets seal (any fixed value will do).
pub const NONCE: [u8; NONCE_LEN] = [0x24; NONCE_LEN];

/// Every object kind, so a target can pick one with a byte of its input.
pub const OBJECT_KINDS: [ObjectKind; 7] = [
    ObjectKind::Config,
    ObjectKind::Index,
    ObjectKind::Snapshot,
    ObjectKind::PackHeader,
    ObjectKind::Lock,
    ObjectKind::Ledger,
    ObjectKind::Deletion,
];

/// Seal arbitrary object plaintext (`version || flag || payload`, SPEC.md
/// §4) as an object of `kind` under the fixed key, with the associated
/// data SPEC.md §4.3 gives: what a writer holding the key could store. The
/// fuzzer cannot forge a tag, so this is how hostile plaintext reaches the
/// code behind the authentication check.
pub fn seal_object_plaintext(kind: ObjectKind, plaintext: &[u8]) -> Vec<u8> {
    let mut aad = b"vault object\0".to_vec();
    aad.push(kind as u8);
    crypto::seal(&key().data_key, NONCE, &aad, plaintext)
}

/// Seal an arbitrary compression frame (`flag || payload`) as a blob of
/// `kind` named `id` under the fixed key (associated data per SPEC.md §4.3).
pub fn seal_blob_frame(kind: BlobKind, id: &BlobId, frame: &[u8]) -> Vec<u8> {
    let mut aad = b"vault blob\0".to_vec();
    aad.push(kind.as_u8());
    aad.extend_from_slice(id.as_bytes());
    crypto::seal(&key().data_key, NONCE, &aad, frame)
}

/// Assert that a value that decoded survives encode then decode unchanged.
/// (Bytes may differ: bincode accepts some non-minimal encodings; values
/// may not.)
pub fn assert_round_trip<T, E: Debug>(
    value: &T,
    encode: impl Fn(&T) -> Vec<u8>,
    decode: impl Fn(&[u8]) -> Result<T, E>,
) where
    T: PartialEq + Debug,
{
    let bytes = encode(value);
    match decode(&bytes) {
        Ok(again) => assert_eq!(&again, value, "decode(encode(x)) != x"),
        Err(e) => panic!("encode of a decoded value does not decode: {e:?}"),
    }
}

/// Split `n` leading bytes off `data` (zero-padded when it is shorter).
pub fn take<const N: usize>(data: &[u8]) -> ([u8; N], &[u8]) {
    let mut head = [0u8; N];
    let n = data.len().min(N);
    head[..n].copy_from_slice(&data[..n]);
    (head, &data[n..])
}
