//! What the fuzz targets share: the fixed test key, sealing of arbitrary
//! plaintext under it, and the round-trip check; for format 2 the keyrings
//! of that key (full and put-only), the keys of format 2 derived here step
//! by step to seal hostile plaintext under them, and a repository of one
//! pack for the engine's pack reader.
//!
//! The key is the golden vectors' master key (SPEC.md §12.1, randomness
//! 0x40..0x87), built directly from those bytes: no Argon2 per input, and
//! the sealed vectors in `repo-format/tests/vectors/` open under it, so they
//! seed the targets that decrypt. The format-2 inputs (record secret and
//! salt, ephemeral secrets, the config) are the vectors' too (§12.1).

use repo_format::BlobId;
use repo_format::config::{ChunkerParams, Config};
use repo_format::crypto::{self, BlobKind, KEY_LEN, MasterKey, NONCE_LEN, ObjectKind};
use repo_format::key::{KDF_ARGON2ID, KdfParams};
use repo_format::keyring::{Capsule, FORMAT_1, FORMAT_2, Fresh, Keyring, PutOnlyKey};
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

/// The golden vectors' password (SPEC.md §12.1).
pub const VECTOR_PASSWORD: &[u8] = b"correct horse battery staple";

/// The golden vectors' deliberately cheap KDF parameters (64 KiB, 1 pass,
/// 1 lane): the only ones a target derives a key with.
pub const VECTOR_KDF: KdfParams = KdfParams {
    algorithm: KDF_ARGON2ID,
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

/// The golden vectors' KDF salt: bytes 0x00..0x1f.
pub fn vector_salt() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

/// The golden vectors' record secret (put-only key): bytes 0xc0..0xdf.
pub fn record_secret() -> [u8; 32] {
    std::array::from_fn(|i| 0xc0 + i as u8)
}

/// The golden vectors' record salt (put-only host): bytes 0xe0..0xff.
pub fn record_salt() -> [u8; 32] {
    std::array::from_fn(|i| 0xe0 + i as u8)
}

/// The ephemeral secret of the vectors' format-2 snapshot.
pub const SNAPSHOT_EPHEMERAL: [u8; KEY_LEN] = [0xe1; KEY_LEN];
/// The ephemeral secret of the vectors' format-2 pack: the targets seal
/// every pack they build under the key it agrees (unless the input gives
/// another capsule).
pub const PACK_EPHEMERAL: [u8; KEY_LEN] = [0xe2; KEY_LEN];

/// What a writer draws for one sealing, fixed: [`NONCE`] and `ephemeral`.
pub fn fresh(ephemeral: [u8; KEY_LEN]) -> Fresh {
    Fresh {
        nonce: NONCE,
        ephemeral,
    }
}

/// The vectors' config (SPEC.md §12.3, §12.15) in `format`.
pub fn config(format: u32) -> Config {
    Config {
        version: format,
        repository_id: std::array::from_fn(|i| 0xa0 + i as u8),
        chunker: ChunkerParams::DEFAULT,
        compression_level: repo_format::compress::AUTO_LEVEL,
        pack_size: 16 << 20,
    }
}

/// The full keyring of the fixed key in format 1 or 2 (any other format
/// is format 2's).
pub fn keyring(format: u32) -> &'static Keyring {
    static ONE: OnceLock<Keyring> = OnceLock::new();
    static TWO: OnceLock<Keyring> = OnceLock::new();
    if format == FORMAT_1 {
        ONE.get_or_init(|| Keyring::full(key(), FORMAT_1))
    } else {
        TWO.get_or_init(|| Keyring::full(key(), FORMAT_2))
    }
}

/// The vectors' put-only key (SPEC.md §12.14) of the fixed key.
pub fn put_only_key() -> &'static PutOnlyKey {
    static KEY: OnceLock<PutOnlyKey> = OnceLock::new();
    KEY.get_or_init(|| {
        keyring(FORMAT_2)
            .put_only_key(&config(FORMAT_2), record_secret())
            .expect("a full format-2 keyring makes put-only keys")
    })
}

/// The keyring of [`put_only_key`].
pub fn put_only_keyring() -> &'static Keyring {
    static KEYS: OnceLock<Keyring> = OnceLock::new();
    KEYS.get_or_init(|| Keyring::put_only(put_only_key()))
}

/// The associated data of an object of `kind` (SPEC.md §4.1).
pub fn object_aad(kind: ObjectKind) -> Vec<u8> {
    let mut aad = b"vault object\0".to_vec();
    aad.push(kind as u8);
    aad
}

/// The associated data of a blob of `kind` named `id` (SPEC.md §4.1).
pub fn blob_aad(kind: BlobKind, id: &BlobId) -> Vec<u8> {
    let mut aad = b"vault blob\0".to_vec();
    aad.push(kind.as_u8());
    aad.extend_from_slice(id.as_bytes());
    aad
}

/// The capsule of an ephemeral secret: `X25519(e, 9)` (SPEC.md §4.5).
pub fn capsule_of(ephemeral: &[u8; KEY_LEN]) -> Capsule {
    let secret = x25519_dalek::StaticSecret::from(*ephemeral);
    *x25519_dalek::PublicKey::from(&secret).as_bytes()
}

/// The key a full key's reader derives from `capsule` (SPEC.md §4.5),
/// step by step from the data key: `derive_key(ctx, X25519(sk, capsule)
/// ‖ capsule ‖ PK)`, and whether the agreement was contributory (a reader
/// refuses a capsule whose shared secret is all zeros; the key returned
/// for one is what a writer that did not check would use).
pub fn sealing_key(capsule: &Capsule) -> ([u8; KEY_LEN], bool) {
    static PAIR: OnceLock<([u8; KEY_LEN], [u8; KEY_LEN])> = OnceLock::new();
    let (private, public) = PAIR.get_or_init(|| {
        let private =
            blake3::derive_key("vault 2026-12-07 repository private key", &key().data_key);
        let public = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(private));
        (private, *public.as_bytes())
    });
    let private = x25519_dalek::StaticSecret::from(*private);
    let public = *public;
    let shared = private.diffie_hellman(&x25519_dalek::PublicKey::from(*capsule));
    let mut material = Vec::with_capacity(3 * KEY_LEN);
    material.extend_from_slice(shared.as_bytes());
    material.extend_from_slice(capsule);
    material.extend_from_slice(&public);
    (
        blake3::derive_key("vault 2026-12-07 sealed to the repository key", &material),
        shared.was_contributory(),
    )
}

/// Seal arbitrary object plaintext (`version || flag || payload`) as an
/// object of `kind` in format 2, with the key its kind takes there (SPEC.md
/// §4.1 table, §4.5): the metadata key for index files and locks, the data
/// key for the config, ledgers and deletion notices, and for snapshots and
/// pack headers `capsule` then the envelope under the key agreed through
/// it (which is how `Keyring::seal_object` lays out both).
pub fn seal_object_plaintext_v2(kind: ObjectKind, capsule: &Capsule, plaintext: &[u8]) -> Vec<u8> {
    let aad = object_aad(kind);
    match kind {
        ObjectKind::Index | ObjectKind::Lock => {
            crypto::seal(&put_only_key().metadata_key, NONCE, &aad, plaintext)
        }
        ObjectKind::Config | ObjectKind::Ledger | ObjectKind::Deletion => {
            crypto::seal(&key().data_key, NONCE, &aad, plaintext)
        }
        ObjectKind::Snapshot | ObjectKind::PackHeader => {
            let mut out = capsule.to_vec();
            out.extend_from_slice(&crypto::seal(
                &sealing_key(capsule).0,
                NONCE,
                &aad,
                plaintext,
            ));
            out
        }
    }
}

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
    crypto::seal(&key().data_key, NONCE, &blob_aad(kind, id), frame)
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
    /// lay them out as a pack: blobs, sealed header, trailer (format 1).
    pub fn build(&self) -> BuiltPack {
        self.build_with(&PackSealer::format_1())
    }

    /// Seal the blobs and the header with `sealer`'s key (fixed nonce) and
    /// lay them out as a pack of its format: blobs, sealed header, trailer
    /// (in format 2 the capsule, then the header's length).
    pub fn build_with(&self, sealer: &PackSealer) -> BuiltPack {
        use repo_format::compress::unframe;
        use repo_format::pack::{PackEntry, encode_header, encode_trailer_with};
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
                crypto::seal(&sealer.key, NONCE, &blob_aad(b.kind, &id), &b.bytes)
            };
            // Opening decompresses to at most raw_length, checks the id,
            // and then the length: exactly raw_length (SPEC §4.3 step 5).
            let expected = if b.verbatim || !sealer.opens {
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
        let header_aad = object_aad(ObjectKind::PackHeader);
        let sealed_header = match self.header_mode {
            HeaderMode::BuiltRaw | HeaderMode::BuiltZstd => {
                let level = if self.header_mode == HeaderMode::BuiltRaw {
                    0
                } else {
                    repo_format::compress::AUTO_LEVEL
                };
                let mut plaintext = vec![crypto::OBJECT_VERSION];
                repo_format::compress::frame_into(level, &encode_header(&entries), &mut plaintext);
                crypto::seal(&sealer.key, NONCE, &header_aad, &plaintext)
            }
            HeaderMode::Plaintext => crypto::seal(&sealer.key, NONCE, &header_aad, &self.header),
            HeaderMode::Verbatim => self.header.clone(),
        };
        bytes.extend_from_slice(&sealed_header);
        let trailer = self.trailer.unwrap_or(sealed_header.len() as u32);
        bytes.extend_from_slice(&encode_trailer_with(sealer.capsule.as_ref(), trailer));
        let determined = matches!(
            self.header_mode,
            HeaderMode::BuiltRaw | HeaderMode::BuiltZstd
        ) && self.trailer.is_none()
            && sealer.opens;
        BuiltPack {
            bytes,
            blobs,
            entries: determined.then_some(entries),
        }
    }
}

/// The key [`PackInput::build_with`] seals a pack with, and what its
/// trailer carries.
#[derive(Clone, Debug)]
pub struct PackSealer {
    /// The repository format.
    pub format: u32,
    /// The key of the blobs and the header.
    pub key: [u8; KEY_LEN],
    /// The capsule of the key (format 2).
    pub capsule: Option<Capsule>,
    /// Whether a reader holding the fixed key opens what this key seals
    /// (false for a capsule of low order, whose key a reader refuses).
    pub opens: bool,
}

impl PackSealer {
    /// Format 1: the data key, no capsule.
    pub fn format_1() -> Self {
        PackSealer {
            format: FORMAT_1,
            key: key().data_key,
            capsule: None,
            opens: true,
        }
    }

    /// Format 2: the key agreed through `capsule` (a reader derives it
    /// with the private key), by default [`PACK_EPHEMERAL`]'s capsule, the
    /// golden vectors' pack's.
    pub fn format_2(capsule: Option<Capsule>) -> Self {
        let capsule = capsule.unwrap_or_else(|| capsule_of(&PACK_EPHEMERAL));
        let (key, opens) = sealing_key(&capsule);
        PackSealer {
            format: FORMAT_2,
            key,
            capsule: Some(capsule),
            opens,
        }
    }
}

/// A repository of the fixed key in a store that holds its config, one
/// key file (the vectors' cheap KDF) and one pack, whatever its name, with
/// object_store's range semantics (a range may end past the object; it may
/// not start past it). Opened once per format: [`PackRepository::get`];
/// each input puts its pack with [`PackRepository::set_pack`], so the
/// targets read packs through the engine's own `PackReader` without an
/// Argon2 derivation per input.
pub struct PackRepository {
    store: std::sync::Arc<OneRepoStore>,
    repository: engine::Repository,
}

/// The store under a [`PackRepository`].
pub struct OneRepoStore {
    config: bytes::Bytes,
    key_id: repo_format::Id,
    key_file: bytes::Bytes,
    pack: std::sync::Mutex<bytes::Bytes>,
    info: engine::store::StoreInfo,
}

impl OneRepoStore {
    fn object(&self, name: &repo_format::layout::ObjectName) -> engine::Result<bytes::Bytes> {
        use repo_format::layout::FileKind;
        match name.kind() {
            FileKind::Config => Ok(self.config.clone()),
            FileKind::Key if name.id() == self.key_id => Ok(self.key_file.clone()),
            FileKind::Pack => Ok(self
                .pack
                .lock()
                .map_err(|_| engine::Error::Internal("fuzz pack lock"))?
                .clone()),
            _ => Err(engine::Error::NotFound { path: name.path() }),
        }
    }
}

impl engine::store::Store for OneRepoStore {
    fn put(
        &self,
        _: &repo_format::layout::ObjectName,
        _: bytes::Bytes,
        _: engine::store::Put,
    ) -> engine::Result<engine::store::PutOutcome> {
        Ok(engine::store::PutOutcome::AlreadyExists)
    }

    fn get(
        &self,
        name: &repo_format::layout::ObjectName,
        range: Option<std::ops::Range<u64>>,
    ) -> engine::Result<bytes::Bytes> {
        let bytes = self.object(name)?;
        let Some(range) = range else {
            return Ok(bytes);
        };
        let len = bytes.len() as u64;
        if range.start > len || range.start > range.end {
            return Err(engine::Error::NotFound { path: name.path() });
        }
        Ok(bytes.slice(range.start as usize..range.end.min(len) as usize))
    }

    fn head(
        &self,
        name: &repo_format::layout::ObjectName,
    ) -> engine::Result<engine::store::ObjectMeta> {
        Ok(engine::store::ObjectMeta {
            size: self.object(name)?.len() as u64,
            modified: Default::default(),
        })
    }

    fn list(&self, kind: repo_format::layout::FileKind) -> engine::Result<engine::store::Listing> {
        let mut listing = engine::store::Listing::default();
        if kind == repo_format::layout::FileKind::Key {
            listing.objects.push((
                self.key_id,
                engine::store::ObjectMeta {
                    size: self.key_file.len() as u64,
                    modified: Default::default(),
                },
            ));
        }
        Ok(listing)
    }

    fn delete(&self, _: &repo_format::layout::ObjectName) -> engine::Result<()> {
        Ok(())
    }

    fn info(&self) -> &engine::store::StoreInfo {
        &self.info
    }
}

impl PackRepository {
    /// The repository of `format` (1, or 2 for anything else), opened
    /// with the vectors' password on first use.
    pub fn get(format: u32) -> &'static PackRepository {
        static ONE: OnceLock<PackRepository> = OnceLock::new();
        static TWO: OnceLock<PackRepository> = OnceLock::new();
        let format = if format == FORMAT_1 {
            FORMAT_1
        } else {
            FORMAT_2
        };
        let cell = if format == FORMAT_1 { &ONE } else { &TWO };
        cell.get_or_init(|| {
            let file = repo_format::key::KeyFile::create(
                key(),
                VECTOR_PASSWORD,
                VECTOR_KDF,
                vector_salt(),
                NONCE,
                0,
                "fuzz".to_owned(),
                "fuzz".to_owned(),
            )
            .expect("the cheap KDF derives");
            let key_file = file.encode();
            let store = std::sync::Arc::new(OneRepoStore {
                config: key()
                    .seal_object(ObjectKind::Config, &config(format).encode(), 0, NONCE)
                    .into(),
                key_id: repo_format::Id::hash(&key_file),
                key_file: key_file.into(),
                pack: std::sync::Mutex::new(bytes::Bytes::new()),
                info: engine::store::StoreInfo {
                    url: "memory://fuzz".to_owned(),
                    remote: false,
                    connections: 1,
                },
            });
            let backend = engine::Backend::wrap(store.clone());
            let repository = engine::Repository::open(backend, VECTOR_PASSWORD)
                .expect("the fuzz repository opens");
            assert_eq!(repository.config().version, format);
            PackRepository { store, repository }
        })
    }

    /// Make `pack` the store's one pack (under every pack name).
    pub fn set_pack(&self, pack: &[u8]) {
        *self.store.pack.lock().expect("fuzz pack lock") = bytes::Bytes::copy_from_slice(pack);
    }

    /// The repository.
    pub fn repository(&self) -> &engine::Repository {
        &self.repository
    }
}
