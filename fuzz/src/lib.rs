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

/// The `pack` target's input: a pack described by its plaintext (SPEC.md
/// §6), which [`PackInput::build`] seals under the fixed key into the bytes
/// a store would hold. Mutations then change what the header and blob
/// decoders behind the envelope see instead of breaking a tag.
///
/// ```text
/// flags u8           bits 0-1: the header, 0/1 built from the blobs (framed
///                    raw / zstd), 2 plaintext given (the rest of the input:
///                    version || flag || payload), 3 sealed header given
///                    verbatim (the rest of the input, not sealed);
///                    bit 2: a trailer u32 LE follows the blobs
/// count u8           blobs (at most MAX_BLOBS)
/// count × blob:
///   mode u8          bit 0: tree (else data); bit 1: bytes stored verbatim
///                    (else sealed as a blob); bit 2: id (32 bytes) given
///                    (else the id of the frame's content); bit 3: raw length
///                    given (else the content's length)
///   [id 32] [raw_length u32 LE]
///   len u16 LE, bytes   a compression frame (flag || payload), or the
///                       sealed blob itself when verbatim
/// [trailer u32 LE]
/// header bytes       (header modes 2 and 3)
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackInput {
    /// How the header is made (bits 0-1 of the flags).
    pub header_mode: HeaderMode,
    /// The trailer, when not the sealed header's length.
    pub trailer: Option<u32>,
    /// The blobs in pack order.
    pub blobs: Vec<BlobInput>,
    /// Header plaintext or sealed header (modes `Plaintext`, `Verbatim`).
    pub header: Vec<u8>,
}

/// How [`PackInput`] makes the pack's header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HeaderMode {
    /// Entries built from the blobs, framed raw, sealed.
    #[default]
    BuiltRaw,
    /// Entries built from the blobs, zstd-framed, sealed.
    BuiltZstd,
    /// `header` is the plaintext (`version || flag || payload`), sealed.
    Plaintext,
    /// `header` is stored as the sealed header, unsealed: what a writer
    /// without the key could put there.
    Verbatim,
}

/// One blob of a [`PackInput`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInput {
    /// Data or tree.
    pub kind: BlobKind,
    /// `bytes` are stored as they are instead of sealed.
    pub verbatim: bool,
    /// The id it is sealed under and listed as, when not its content's.
    pub id: Option<BlobId>,
    /// The raw length listed, when not its content's.
    pub raw_length: Option<u32>,
    /// A compression frame, or the stored bytes when `verbatim`.
    pub bytes: Vec<u8>,
}

/// Most blobs in one [`PackInput`].
pub const MAX_BLOBS: usize = 32;
/// Most plaintext a blob's content id is computed over (larger or broken
/// frames are named by the frame's own id, which the reader must refuse).
pub const MAX_CONTENT: usize = 1 << 20;

const FLAG_TRAILER: u8 = 1 << 2;
const MODE_TREE: u8 = 1;
const MODE_VERBATIM: u8 = 1 << 1;
const MODE_ID: u8 = 1 << 2;
const MODE_RAW_LENGTH: u8 = 1 << 3;

/// A blob as [`PackInput::build`] put it into the pack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltBlob {
    /// Its entry as the built header lists it.
    pub entry: repo_format::pack::PackEntry,
    /// What opening it must give: its content when it was sealed, under
    /// its content's id, and unframes within its raw length; `None` when
    /// it must not open (or, verbatim, cannot be predicted).
    pub expected: Option<Vec<u8>>,
    /// Stored verbatim: whether it opens is not predicted.
    pub verbatim: bool,
}

/// A pack [`PackInput::build`] made.
pub struct BuiltPack {
    /// The bytes a store would hold.
    pub bytes: Vec<u8>,
    /// The blobs, in order.
    pub blobs: Vec<BuiltBlob>,
    /// The header the reader must return, when the input determines it
    /// (built header, trailer not overridden).
    pub entries: Option<Vec<repo_format::pack::PackEntry>>,
}

impl PackInput {
    /// Parse fuzzer bytes (never fails: short fields are zero-padded).
    pub fn parse(data: &[u8]) -> Self {
        let ([flags, count], mut rest) = take::<2>(data);
        let header_mode = match flags & 3 {
            0 => HeaderMode::BuiltRaw,
            1 => HeaderMode::BuiltZstd,
            2 => HeaderMode::Plaintext,
            _ => HeaderMode::Verbatim,
        };
        let mut blobs = Vec::new();
        for _ in 0..usize::from(count).min(MAX_BLOBS) {
            if rest.is_empty() {
                break;
            }
            let ([mode], r) = take::<1>(rest);
            rest = r;
            let id = if mode & MODE_ID != 0 {
                let (id, r) = take::<32>(rest);
                rest = r;
                Some(BlobId(repo_format::Id(id)))
            } else {
                None
            };
            let raw_length = if mode & MODE_RAW_LENGTH != 0 {
                let (n, r) = take::<4>(rest);
                rest = r;
                Some(u32::from_le_bytes(n))
            } else {
                None
            };
            let (len, r) = take::<2>(rest);
            let len = usize::from(u16::from_le_bytes(len)).min(r.len());
            let (bytes, r) = r.split_at(len);
            rest = r;
            blobs.push(BlobInput {
                kind: if mode & MODE_TREE != 0 {
                    BlobKind::Tree
                } else {
                    BlobKind::Data
                },
                verbatim: mode & MODE_VERBATIM != 0,
                id,
                raw_length,
                bytes: bytes.to_vec(),
            });
        }
        let trailer = if flags & FLAG_TRAILER != 0 {
            let (t, r) = take::<4>(rest);
            rest = r;
            Some(u32::from_le_bytes(t))
        } else {
            None
        };
        PackInput {
            header_mode,
            trailer,
            blobs,
            header: rest.to_vec(),
        }
    }

    /// The bytes [`PackInput::parse`] reads back as `self` (for seeds).
    pub fn encode(&self) -> Vec<u8> {
        let mut flags = self.header_mode as u8;
        if self.trailer.is_some() {
            flags |= FLAG_TRAILER;
        }
        let mut out = vec![flags, self.blobs.len() as u8];
        for b in &self.blobs {
            let mut mode = 0;
            if b.kind == BlobKind::Tree {
                mode |= MODE_TREE;
            }
            if b.verbatim {
                mode |= MODE_VERBATIM;
            }
            if b.id.is_some() {
                mode |= MODE_ID;
            }
            if b.raw_length.is_some() {
                mode |= MODE_RAW_LENGTH;
            }
            out.push(mode);
            if let Some(id) = &b.id {
                out.extend_from_slice(id.as_bytes());
            }
            if let Some(n) = b.raw_length {
                out.extend_from_slice(&n.to_le_bytes());
            }
            out.extend_from_slice(&(b.bytes.len() as u16).to_le_bytes());
            out.extend_from_slice(&b.bytes);
        }
        if let Some(t) = self.trailer {
            out.extend_from_slice(&t.to_le_bytes());
        }
        out.extend_from_slice(&self.header);
        out
    }

    /// Seal the blobs and the header under the fixed key (fixed nonce) and
    /// lay them out as a pack: blobs, sealed header, trailer.
    pub fn build(&self) -> BuiltPack {
        use repo_format::compress::unframe;
        use repo_format::pack::{PackEntry, encode_header, encode_trailer};
        let mut bytes = Vec::new();
        let mut blobs = Vec::new();
        for b in &self.blobs {
            // What the frame holds, if it unframes within MAX_CONTENT.
            let content = (!b.verbatim)
                .then(|| unframe("blob", &b.bytes, MAX_CONTENT).ok())
                .flatten();
            let id = b.id.unwrap_or_else(|| match &content {
                Some(plain) => key().blob_id(plain),
                None => key().blob_id(&b.bytes),
            });
            let raw_length = b.raw_length.unwrap_or_else(|| match &content {
                Some(plain) => plain.len() as u32,
                None => MAX_CONTENT as u32,
            });
            let stored = if b.verbatim {
                b.bytes.clone()
            } else {
                seal_blob_frame(b.kind, &id, &b.bytes)
            };
            // Opening decompresses to at most raw_length, checks the id,
            // and then the length: exactly raw_length (SPEC §4.3 step 5).
            let expected = if b.verbatim {
                None
            } else {
                unframe("blob", &b.bytes, raw_length as usize)
                    .ok()
                    .filter(|plain| key().blob_id(plain) == id)
                    .filter(|plain| plain.len() == raw_length as usize)
            };
            let entry = PackEntry {
                kind: b.kind,
                id,
                offset: bytes.len() as u32,
                length: stored.len() as u32,
                raw_length,
            };
            bytes.extend_from_slice(&stored);
            blobs.push(BuiltBlob {
                entry,
                expected,
                verbatim: b.verbatim,
            });
        }
        let entries: Vec<PackEntry> = blobs.iter().map(|b| b.entry).collect();
        let sealed_header = match self.header_mode {
            HeaderMode::BuiltRaw | HeaderMode::BuiltZstd => {
                let level = if self.header_mode == HeaderMode::BuiltRaw {
                    0
                } else {
                    repo_format::compress::AUTO_LEVEL
                };
                key().seal_object(
                    ObjectKind::PackHeader,
                    &encode_header(&entries),
                    level,
                    NONCE,
                )
            }
            HeaderMode::Plaintext => seal_object_plaintext(ObjectKind::PackHeader, &self.header),
            HeaderMode::Verbatim => self.header.clone(),
        };
        bytes.extend_from_slice(&sealed_header);
        let trailer = self.trailer.unwrap_or(sealed_header.len() as u32);
        bytes.extend_from_slice(&encode_trailer(trailer));
        let determined = matches!(
            self.header_mode,
            HeaderMode::BuiltRaw | HeaderMode::BuiltZstd
        ) && self.trailer.is_none();
        BuiltPack {
            bytes,
            blobs,
            entries: determined.then_some(entries),
        }
    }
}
