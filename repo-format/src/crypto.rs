//! The envelope (XChaCha20-Poly1305 with a 24-byte nonce), the master key,
//! keyed BLAKE3 blob ids, and sealing/opening of blobs and objects.
//! See SPEC.md §4 (envelope) and §5.3 (master key).
//!
//! ```text
//! envelope:  +-----------+----------------------+---------+
//!            | nonce 24  | ciphertext (n bytes) | tag 16  |
//!            +-----------+----------------------+---------+
//! ```
//!
//! Nonces are passed in: this crate has no random source of its own.

use crate::compress;
use crate::error::{FormatError, Result};
use crate::id::{BlobId, ID_LEN};
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Nonce length.
pub const NONCE_LEN: usize = 24;
/// Authentication tag length.
pub const TAG_LEN: usize = 16;
/// Bytes an envelope adds to its plaintext.
pub const ENVELOPE_OVERHEAD: usize = NONCE_LEN + TAG_LEN;
/// Length of every symmetric key.
pub const KEY_LEN: usize = 32;

/// Associated-data prefix of blobs.
const BLOB_AAD_PREFIX: &[u8] = b"vault blob\0";
/// Associated-data prefix of objects.
const OBJECT_AAD_PREFIX: &[u8] = b"vault object\0";
/// Associated data of the master key inside a key file.
pub(crate) const MASTER_KEY_AAD: &[u8] = b"vault master key\0";

/// Seal `plaintext` under `key`: `nonce || ciphertext || tag`.
pub fn seal(key: &[u8; KEY_LEN], nonce: [u8; NONCE_LEN], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(plaintext.len() + ENVELOPE_OVERHEAD);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    seal_in_place(key, aad, &mut out);
    out
}

/// Encrypt `buf[NONCE_LEN..]` in place under the nonce in `buf[..NONCE_LEN]`
/// and append the tag. `buf` must start with the nonce.
pub(crate) fn seal_in_place(key: &[u8; KEY_LEN], aad: &[u8], buf: &mut Vec<u8>) {
    let cipher = XChaCha20Poly1305::new(&(*key).into());
    let Some((nonce, body)) = buf.split_at_mut_checked(NONCE_LEN) else {
        return;
    };
    let nonce = XNonce::from(<[u8; NONCE_LEN]>::try_from(&*nonce).unwrap_or_default());
    // XChaCha20-Poly1305 refuses only messages over 256 GiB; a blob or
    // object is bounded far below that by the writers.
    let tag = cipher
        .encrypt_inout_detached(&nonce, aad, body.into())
        .unwrap_or_default();
    buf.extend_from_slice(tag.as_slice());
}

/// Open an envelope made by [`seal`].
pub fn open(key: &[u8; KEY_LEN], aad: &[u8], sealed: &[u8], what: &'static str) -> Result<Vec<u8>> {
    if sealed.len() < ENVELOPE_OVERHEAD {
        return Err(FormatError::Truncated {
            what,
            needed: ENVELOPE_OVERHEAD,
            got: sealed.len(),
        });
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
    let nonce = XNonce::try_from(nonce).map_err(|_| FormatError::AuthenticationFailed { what })?;
    let tag = Tag::try_from(tag).map_err(|_| FormatError::AuthenticationFailed { what })?;
    let mut plain = body.to_vec();
    let cipher = XChaCha20Poly1305::new(&(*key).into());
    cipher
        .decrypt_inout_detached(&nonce, aad, plain.as_mut_slice().into(), &tag)
        .map_err(|_| FormatError::AuthenticationFailed { what })?;
    Ok(plain)
}

/// What a blob holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum BlobKind {
    /// A chunk of file content.
    Data = 0,
    /// An encoded directory (see [`crate::tree`]).
    Tree = 1,
}

impl BlobKind {
    /// The byte used in associated data and compact tables.
    pub fn as_u8(self) -> u8 {
        self as u8
    }
    /// Inverse of [`BlobKind::as_u8`].
    pub fn from_u8(v: u8) -> Result<Self> {
        match v {
            0 => Ok(BlobKind::Data),
            1 => Ok(BlobKind::Tree),
            other => Err(FormatError::UnknownKind {
                what: "blob kind",
                value: u32::from(other),
            }),
        }
    }
}

/// The kinds of encrypted object; the kind is bound into the associated
/// data so that an object of one kind cannot be passed off as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ObjectKind {
    /// The repository config.
    Config = 1,
    /// An index file.
    Index = 2,
    /// A snapshot.
    Snapshot = 3,
    /// The header at the end of a pack.
    PackHeader = 4,
    /// A lock.
    Lock = 5,
    /// A prune's notice of packs to delete (7; 6 is the verification ledger).
    Deletion = 7,
    /// A verification ledger (see [`crate::ledger`]). Kind 7 is reserved
    /// (deletion marks).
    Ledger = 6,
}

impl ObjectKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ObjectKind::Config => "config",
            ObjectKind::Index => "index",
            ObjectKind::Snapshot => "snapshot",
            ObjectKind::PackHeader => "pack header",
            ObjectKind::Lock => "lock",
            ObjectKind::Deletion => "deletion notice",
            ObjectKind::Ledger => "ledger",
        }
    }
}

/// Version byte at the start of every object's plaintext.
pub const OBJECT_VERSION: u8 = 1;

/// The repository's secrets: sealed in every key file, never stored in the
/// clear, zeroed when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct MasterKey {
    /// Key of every envelope in the repository.
    pub data_key: [u8; KEY_LEN],
    /// Key of the keyed BLAKE3 that names blobs.
    pub id_key: [u8; KEY_LEN],
    /// Seed of the chunker's gear table.
    pub chunker_seed: u64,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// Encoded master key length: version, data key, id key, seed.
pub const MASTER_KEY_LEN: usize = 1 + KEY_LEN + KEY_LEN + 8;
/// Version byte of the encoded master key.
const MASTER_KEY_VERSION: u8 = 1;

impl MasterKey {
    /// Build a master key from 72 bytes of randomness.
    pub fn from_random(random: &[u8; 2 * KEY_LEN + 8]) -> Self {
        let mut data_key = [0u8; KEY_LEN];
        let mut id_key = [0u8; KEY_LEN];
        let mut seed = [0u8; 8];
        let (a, rest) = random.split_at(KEY_LEN);
        let (b, c) = rest.split_at(KEY_LEN);
        data_key.copy_from_slice(a);
        id_key.copy_from_slice(b);
        seed.copy_from_slice(c);
        MasterKey {
            data_key,
            id_key,
            chunker_seed: u64::from_le_bytes(seed),
        }
    }

    /// A master key for a second repository that chunks and names blobs
    /// like `source`: its id key and chunker seed, with a fresh data key
    /// from `random` (`init --copy-chunker-params`, SPEC.md §5.3). Equal
    /// content then has equal blob ids in both repositories, so `copy`
    /// between them deduplicates by id without reading data.
    pub fn sharing_chunking(random: &[u8; KEY_LEN], source: &MasterKey) -> Self {
        MasterKey {
            data_key: *random,
            id_key: source.id_key,
            chunker_seed: source.chunker_seed,
        }
    }

    /// The 73-byte encoding sealed inside key files.
    pub fn encode(&self) -> zeroize::Zeroizing<Vec<u8>> {
        let mut out = zeroize::Zeroizing::new(Vec::with_capacity(MASTER_KEY_LEN));
        out.push(MASTER_KEY_VERSION);
        out.extend_from_slice(&self.data_key);
        out.extend_from_slice(&self.id_key);
        out.extend_from_slice(&self.chunker_seed.to_le_bytes());
        out
    }

    /// Inverse of [`MasterKey::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != MASTER_KEY_LEN {
            return Err(FormatError::LengthMismatch {
                what: "master key",
                expected: MASTER_KEY_LEN as u64,
                got: bytes.len() as u64,
            });
        }
        let (version, rest) = bytes.split_first().ok_or(FormatError::Truncated {
            what: "master key",
            needed: MASTER_KEY_LEN,
            got: 0,
        })?;
        if *version != MASTER_KEY_VERSION {
            return Err(FormatError::UnsupportedVersion {
                what: "master key",
                version: u32::from(*version),
            });
        }
        let mut random = [0u8; 2 * KEY_LEN + 8];
        random.copy_from_slice(rest);
        let key = MasterKey::from_random(&random);
        random.zeroize();
        Ok(key)
    }

    /// The id of a blob with this plaintext: keyed BLAKE3 under the id key.
    pub fn blob_id(&self, plaintext: &[u8]) -> BlobId {
        BlobId(crate::id::Id(
            *blake3::keyed_hash(&self.id_key, plaintext).as_bytes(),
        ))
    }

    /// Compress (at `level`, 0 = none) and seal a blob whose id is `id`.
    pub fn seal_blob(
        &self,
        kind: BlobKind,
        id: &BlobId,
        plaintext: &[u8],
        level: i32,
        nonce: [u8; NONCE_LEN],
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + ENVELOPE_OVERHEAD + 1);
        out.extend_from_slice(&nonce);
        compress::frame_into(level, plaintext, &mut out);
        seal_in_place(&self.data_key, &blob_aad(kind, id), &mut out);
        out
    }

    /// Open a sealed blob, decompress it (to at most `max_len` bytes), and
    /// check that it hashes to `id`.
    pub fn open_blob(
        &self,
        kind: BlobKind,
        id: &BlobId,
        sealed: &[u8],
        max_len: usize,
    ) -> Result<Vec<u8>> {
        open_blob_with(&self.data_key, &self.id_key, kind, id, sealed, max_len)
    }

    /// Seal an object's payload: `version || frame(payload)` in an envelope.
    pub fn seal_object(
        &self,
        kind: ObjectKind,
        payload: &[u8],
        level: i32,
        nonce: [u8; NONCE_LEN],
    ) -> Vec<u8> {
        seal_object_with(&self.data_key, kind, payload, level, nonce)
    }

    /// Open an object sealed by [`MasterKey::seal_object`] and return its payload.
    pub fn open_object(&self, kind: ObjectKind, sealed: &[u8]) -> Result<Vec<u8>> {
        open_object_with(&self.data_key, kind, sealed)
    }
}

/// Open a blob sealed under `key` (§4.3 steps 1 to 4): its plaintext,
/// decompressed to at most `max_len` bytes, must hash to `id` under
/// `id_key`.
pub(crate) fn open_blob_with(
    key: &[u8; KEY_LEN],
    id_key: &[u8; KEY_LEN],
    kind: BlobKind,
    id: &BlobId,
    sealed: &[u8],
    max_len: usize,
) -> Result<Vec<u8>> {
    let framed = open(key, &blob_aad(kind, id), sealed, "blob")?;
    let plain = compress::unframe("blob", &framed, max_len)?;
    if *blake3::keyed_hash(id_key, &plain).as_bytes() != id.0.0 {
        return Err(FormatError::IdMismatch {
            what: "blob",
            expected: id.to_hex(),
        });
    }
    Ok(plain)
}

/// Seal an object's payload under `key` (§4.4): `version || frame(payload)`.
pub(crate) fn seal_object_with(
    key: &[u8; KEY_LEN],
    kind: ObjectKind,
    payload: &[u8],
    level: i32,
    nonce: [u8; NONCE_LEN],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + ENVELOPE_OVERHEAD + 2);
    out.extend_from_slice(&nonce);
    out.push(OBJECT_VERSION);
    compress::frame_into(level, payload, &mut out);
    seal_in_place(key, &object_aad(kind), &mut out);
    out
}

/// Open an object sealed by [`seal_object_with`] under `key`.
pub(crate) fn open_object_with(
    key: &[u8; KEY_LEN],
    kind: ObjectKind,
    sealed: &[u8],
) -> Result<Vec<u8>> {
    let what = kind.name();
    let plain = open(key, &object_aad(kind), sealed, what)?;
    let (version, framed) = plain.split_first().ok_or(FormatError::Truncated {
        what,
        needed: 1,
        got: 0,
    })?;
    if *version != OBJECT_VERSION {
        return Err(FormatError::UnsupportedVersion {
            what,
            version: u32::from(*version),
        });
    }
    compress::unframe(what, framed, crate::codec::DECODE_LIMIT)
}

pub(crate) fn blob_aad(kind: BlobKind, id: &BlobId) -> Vec<u8> {
    let mut aad = Vec::with_capacity(BLOB_AAD_PREFIX.len() + 1 + ID_LEN);
    aad.extend_from_slice(BLOB_AAD_PREFIX);
    aad.push(kind.as_u8());
    aad.extend_from_slice(id.as_bytes());
    aad
}

pub(crate) fn object_aad(kind: ObjectKind) -> Vec<u8> {
    let mut aad = OBJECT_AAD_PREFIX.to_vec();
    aad.push(kind as u8);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::from_random(&[5u8; 72])
    }

    #[test]
    fn blob_seal_open_round_trip() {
        let k = key();
        let data = b"hello hello hello hello hello hello".to_vec();
        let id = k.blob_id(&data);
        let sealed = k.seal_blob(BlobKind::Data, &id, &data, 3, [1; 24]);
        assert_eq!(
            k.open_blob(BlobKind::Data, &id, &sealed, data.len()),
            Ok(data)
        );
    }

    #[test]
    fn blob_open_with_other_id_or_kind_fails() {
        let k = key();
        let id = k.blob_id(b"a");
        let other = k.blob_id(b"b");
        let sealed = k.seal_blob(BlobKind::Data, &id, b"a", 0, [1; 24]);
        assert!(k.open_blob(BlobKind::Data, &other, &sealed, 10).is_err());
        assert!(k.open_blob(BlobKind::Tree, &id, &sealed, 10).is_err());
    }

    #[test]
    fn blob_open_flipped_bit_fails() {
        let k = key();
        let id = k.blob_id(b"abc");
        let mut sealed = k.seal_blob(BlobKind::Data, &id, b"abc", 0, [1; 24]);
        if let Some(b) = sealed.get_mut(30) {
            *b ^= 1;
        }
        assert!(matches!(
            k.open_blob(BlobKind::Data, &id, &sealed, 10),
            Err(FormatError::AuthenticationFailed { .. })
        ));
    }

    #[test]
    fn object_kind_is_authenticated() {
        let k = key();
        let sealed = k.seal_object(ObjectKind::Snapshot, b"payload", 0, [2; 24]);
        assert_eq!(
            k.open_object(ObjectKind::Snapshot, &sealed),
            Ok(b"payload".to_vec())
        );
        assert!(k.open_object(ObjectKind::Index, &sealed).is_err());
    }

    #[test]
    fn sharing_chunking_keeps_ids_and_seed_not_the_data_key() {
        let source = key();
        let copy = MasterKey::sharing_chunking(&[9u8; KEY_LEN], &source);
        assert_eq!(copy.blob_id(b"same"), source.blob_id(b"same"));
        assert_eq!(copy.chunker_seed, source.chunker_seed);
        assert_ne!(copy.data_key, source.data_key);
        // What one seals, the other cannot open.
        let id = source.blob_id(b"same");
        let sealed = copy.seal_blob(BlobKind::Data, &id, b"same", 0, [1; 24]);
        assert!(source.open_blob(BlobKind::Data, &id, &sealed, 10).is_err());
        assert_eq!(MasterKey::decode(&copy.encode()), Ok(copy));
    }

    #[test]
    fn master_key_encode_decode_round_trip() {
        let k = key();
        assert_eq!(MasterKey::decode(&k.encode()), Ok(k));
        assert!(MasterKey::decode(&[1, 2, 3]).is_err());
    }
}
