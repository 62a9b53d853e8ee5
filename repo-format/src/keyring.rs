//! The keys a repository's format version uses, held by a full key or a
//! put-only key, and what each seals and opens. See SPEC.md §5.3 (derived
//! keys), §5.5 (put-only keys), §4.5 (sealed to the repository key) and
//! §6 (pack keys).
//!
//! Format 1 seals everything with the data key. Format 2 keeps the data
//! key for the config, ledgers and deletion notices, seals index files
//! and locks with a *metadata key* derived from it, and seals snapshots
//! and every pack (blobs and header) with a fresh key agreed with the
//! repository's X25519 public key:
//!
//! ```text
//! sealed to the repository key:  +--------------+---------------------------+
//!                                | capsule 32   | envelope under K           |
//!                                | (ephemeral   | K = BLAKE3.derive_key(ctx, |
//!                                |  public key) |  DH ‖ capsule ‖ public)    |
//!                                +--------------+---------------------------+
//! ```
//!
//! Writing needs only the public key; reading needs the private key, which
//! only a full key derives. A put-only key therefore writes packs and
//! snapshots it cannot open again, even its own.

use crate::compress;
use crate::config::Config;
use crate::crypto::{
    self, BlobKind, KEY_LEN, MasterKey, NONCE_LEN, ObjectKind, blob_aad, open_blob_with,
    open_object_with, seal_in_place, seal_object_with,
};
use crate::error::{FormatError, Result};
use crate::heartbeat::HeartbeatSigningKey;
use crate::id::BlobId;
use serde::{Deserialize, Serialize};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The format that seals everything with the data key.
pub const FORMAT_1: u32 = 1;
/// The format with a metadata key, sealing to the repository key, and
/// put-only keys.
pub const FORMAT_2: u32 = 2;

/// Length of a capsule: the ephemeral X25519 public key in front of
/// everything sealed to the repository key.
pub const CAPSULE_LEN: usize = 32;
/// The clear part of something sealed to the repository key.
pub type Capsule = [u8; CAPSULE_LEN];

const METADATA_CONTEXT: &str = "vault 2026-12-07 metadata key";
const PRIVATE_CONTEXT: &str = "vault 2026-12-07 repository private key";
const SEALED_CONTEXT: &str = "vault 2026-12-07 sealed to the repository key";
const GEAR_CONTEXT: &str = "vault 2026-12-07 chunker gear table";
const RECORD_CONTEXT: &str = "vault 2026-12-07 put-only record key";
/// Associated data of the put-only key inside a key file.
pub(crate) const PUT_ONLY_AAD: &[u8] = b"vault put-only key\0";

/// What a writer draws from a CSPRNG for each thing it seals: a nonce,
/// and (format 2, sealing to the repository key) an ephemeral X25519
/// secret.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Fresh {
    /// The envelope's nonce.
    pub nonce: [u8; NONCE_LEN],
    /// The ephemeral secret (unused where the key is symmetric).
    pub ephemeral: [u8; KEY_LEN],
}

#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct Secret {
    data_key: [u8; KEY_LEN],
    private: [u8; KEY_LEN],
}

/// The keys of one repository as one key file gives them: all of them
/// (a full key) or those a backup needs to add data (a put-only key).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Keyring {
    #[zeroize(skip)]
    format: u32,
    id_key: [u8; KEY_LEN],
    chunker_seed: u64,
    metadata_key: [u8; KEY_LEN],
    heartbeat_seed: [u8; KEY_LEN],
    #[zeroize(skip)]
    public: [u8; KEY_LEN],
    record_secret: Option<[u8; KEY_LEN]>,
    secret: Option<Secret>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Keyring(format {}, {})",
            self.format,
            if self.is_full() { "full" } else { "put-only" }
        )
    }
}

/// Which key seals an object of a kind.
enum Route {
    Data,
    Metadata,
    Sealed,
    /// A pack header: its pack's key ([`PackKey`]) seals it.
    Pack,
}

impl Keyring {
    /// Every key of a repository of `format` whose master key is `master`.
    pub fn full(master: &MasterKey, format: u32) -> Self {
        let private = blake3::derive_key(PRIVATE_CONTEXT, &master.data_key);
        let public = *PublicKey::from(&StaticSecret::from(private)).as_bytes();
        let metadata_key = if format == FORMAT_1 {
            master.data_key
        } else {
            blake3::derive_key(METADATA_CONTEXT, &master.data_key)
        };
        Keyring {
            format,
            id_key: master.id_key,
            chunker_seed: master.chunker_seed,
            metadata_key,
            heartbeat_seed: HeartbeatSigningKey::seed_of(master),
            public,
            record_secret: None,
            secret: Some(Secret {
                data_key: master.data_key,
                private,
            }),
        }
    }

    /// The keys a put-only key file holds.
    pub fn put_only(key: &PutOnlyKey) -> Self {
        Keyring {
            format: key.config.version,
            id_key: key.id_key,
            chunker_seed: key.chunker_seed,
            metadata_key: key.metadata_key,
            heartbeat_seed: key.heartbeat_seed,
            public: key.public_key,
            record_secret: Some(key.record_secret),
            secret: None,
        }
    }

    /// The repository format version these keys are for.
    pub fn format(&self) -> u32 {
        self.format
    }

    /// Whether these keys read the repository (a full key), not only add
    /// to it (a put-only key).
    pub fn is_full(&self) -> bool {
        self.secret.is_some()
    }

    /// The repository's X25519 public key (format 2).
    pub fn public_key(&self) -> [u8; KEY_LEN] {
        self.public
    }

    /// The key of the keyed BLAKE3 that names blobs.
    pub fn id_key(&self) -> &[u8; KEY_LEN] {
        &self.id_key
    }

    /// The chunker seed (format 1's gear table; format 2 derives its
    /// table from it and the id key).
    pub fn chunker_seed(&self) -> u64 {
        self.chunker_seed
    }

    /// The id of a blob with this plaintext: keyed BLAKE3 under the id key.
    pub fn blob_id(&self, plaintext: &[u8]) -> BlobId {
        BlobId(crate::id::Id(
            *blake3::keyed_hash(&self.id_key, plaintext).as_bytes(),
        ))
    }

    /// The chunker's gear tables (SPEC.md §5.4): format 1 XORs the seed
    /// into the `fastcdc` crate's public table, which the caller does;
    /// format 2 derives all 256 entries from the id key and seed. None
    /// for format 1.
    pub fn gear(&self) -> Option<Box<GearTables>> {
        (self.format >= FORMAT_2).then(|| gear_tables(&self.id_key, self.chunker_seed))
    }

    /// The heartbeat signing key (SPEC.md §7.7), which both kinds of key hold.
    pub fn heartbeat_signing_key(&self) -> HeartbeatSigningKey {
        HeartbeatSigningKey::from_seed(&self.heartbeat_seed)
    }

    /// The key that seals the host-local record of what a put-only key
    /// sent (SPEC.md §5.6), for the record's random `salt`; None for a
    /// full key.
    pub fn record_key(&self, salt: &[u8; KEY_LEN]) -> Option<Zeroizing<[u8; KEY_LEN]>> {
        let secret = self.record_secret.as_ref()?;
        let mut material = Zeroizing::new([0u8; 2 * KEY_LEN]);
        let (a, b) = material.split_at_mut(KEY_LEN);
        a.copy_from_slice(secret);
        b.copy_from_slice(salt);
        Some(Zeroizing::new(blake3::derive_key(
            RECORD_CONTEXT,
            material.as_ref(),
        )))
    }

    fn secret(&self, what: &'static str) -> Result<&Secret> {
        self.secret
            .as_ref()
            .ok_or(FormatError::NeedsFullKey { what })
    }

    fn route(&self, kind: ObjectKind) -> Route {
        match kind {
            _ if self.format == FORMAT_1 => Route::Data,
            ObjectKind::Index | ObjectKind::Lock => Route::Metadata,
            ObjectKind::Snapshot => Route::Sealed,
            ObjectKind::PackHeader => Route::Pack,
            ObjectKind::Config | ObjectKind::Ledger | ObjectKind::Deletion => Route::Data,
        }
    }

    /// Seal an object's payload (SPEC.md §4.4, §4.5) with the key its kind
    /// takes in this format. A put-only key seals index files, locks and
    /// snapshots, nothing else. Pack headers are sealed by [`PackKey`].
    pub fn seal_object(
        &self,
        kind: ObjectKind,
        payload: &[u8],
        level: i32,
        fresh: &Fresh,
    ) -> Result<Vec<u8>> {
        match self.route(kind) {
            Route::Data => Ok(seal_object_with(
                &self.secret(kind.name())?.data_key,
                kind,
                payload,
                level,
                fresh.nonce,
            )),
            Route::Metadata => Ok(seal_object_with(
                &self.metadata_key,
                kind,
                payload,
                level,
                fresh.nonce,
            )),
            Route::Pack => Err(pack_header_route()),
            Route::Sealed => {
                let key = PackKey::new(self, fresh)?;
                let mut out = key.capsule.unwrap_or_default().to_vec();
                out.extend_from_slice(&seal_object_with(
                    &key.key,
                    kind,
                    payload,
                    level,
                    fresh.nonce,
                ));
                Ok(out)
            }
        }
    }

    /// Open an object sealed by [`Keyring::seal_object`]. A put-only key
    /// opens index files and locks only:
    /// [`FormatError::NeedsFullKey`] otherwise.
    pub fn open_object(&self, kind: ObjectKind, sealed: &[u8]) -> Result<Vec<u8>> {
        match self.route(kind) {
            Route::Data => open_object_with(&self.secret(kind.name())?.data_key, kind, sealed),
            Route::Metadata => open_object_with(&self.metadata_key, kind, sealed),
            Route::Pack => Err(pack_header_route()),
            Route::Sealed => {
                let what = kind.name();
                self.secret(what)?;
                let (capsule, rest) = split_capsule(what, sealed)?;
                let key = self.key_of_capsule(&capsule, what)?;
                open_object_with(&key.key, kind, rest)
            }
        }
    }

    /// A new pack's key: format 1's data key; format 2's fresh key sealed
    /// to the repository key, whose capsule goes into the pack's trailer
    /// and its index entry. Only the holder of the private key can derive
    /// it again from the capsule.
    pub fn new_pack_key(&self, fresh: &Fresh) -> Result<PackKey> {
        if self.format == FORMAT_1 {
            return self.pack_key(None);
        }
        PackKey::new(self, fresh)
    }

    /// The key of an existing pack, from its capsule (format 2; None in
    /// format 1). Needs the private key: [`FormatError::NeedsFullKey`]
    /// for a put-only key.
    pub fn pack_key(&self, capsule: Option<&Capsule>) -> Result<PackKey> {
        const WHAT: &str = "pack";
        let secret = self.secret(WHAT)?;
        if self.format == FORMAT_1 {
            return Ok(PackKey {
                key: Zeroizing::new(secret.data_key),
                id_key: self.id_key,
                capsule: None,
            });
        }
        let capsule = capsule.ok_or(FormatError::Malformed {
            what: WHAT,
            detail: "no key capsule".into(),
        })?;
        self.key_of_capsule(capsule, WHAT)
    }

    /// The key agreed with `capsule` (§4.5), for opening `what`.
    fn key_of_capsule(&self, capsule: &Capsule, what: &'static str) -> Result<PackKey> {
        let secret = self.secret(what)?;
        let private = StaticSecret::from(secret.private);
        let shared = private.diffie_hellman(&PublicKey::from(*capsule));
        if !shared.was_contributory() {
            return Err(FormatError::AuthenticationFailed { what });
        }
        Ok(PackKey {
            key: derive_sealing_key(shared.as_bytes(), capsule, &self.public),
            id_key: self.id_key,
            capsule: Some(*capsule),
        })
    }

    /// The put-only key of this repository for one key file (format 2, a
    /// full key only): what a backup needs to add data, and
    /// `record_secret`, drawn at random for that key file.
    pub fn put_only_key(
        &self,
        config: &Config,
        record_secret: [u8; KEY_LEN],
    ) -> Result<PutOnlyKey> {
        self.secret("put-only key")?;
        if self.format < FORMAT_2 || config.version != self.format {
            return Err(FormatError::UnsupportedVersion {
                what: "put-only key in repository format",
                version: config.version,
            });
        }
        Ok(PutOnlyKey {
            version: PUT_ONLY_KEY_VERSION,
            id_key: self.id_key,
            chunker_seed: self.chunker_seed,
            metadata_key: self.metadata_key,
            heartbeat_seed: self.heartbeat_seed,
            public_key: self.public,
            record_secret,
            config: config.clone(),
        })
    }
}

fn pack_header_route() -> FormatError {
    FormatError::Malformed {
        what: "pack header",
        detail: "it is sealed with its pack's key (Keyring::new_pack_key, Keyring::pack_key)"
            .into(),
    }
}

fn derive_sealing_key(
    shared: &[u8; KEY_LEN],
    capsule: &Capsule,
    public: &[u8; KEY_LEN],
) -> Zeroizing<[u8; KEY_LEN]> {
    let mut material = Zeroizing::new([0u8; 3 * KEY_LEN]);
    for (part, bytes) in material
        .chunks_exact_mut(KEY_LEN)
        .zip([shared, capsule, public])
    {
        part.copy_from_slice(bytes);
    }
    Zeroizing::new(blake3::derive_key(SEALED_CONTEXT, material.as_ref()))
}

fn split_capsule<'a>(what: &'static str, sealed: &'a [u8]) -> Result<(Capsule, &'a [u8])> {
    let (capsule, rest) =
        sealed
            .split_first_chunk::<CAPSULE_LEN>()
            .ok_or(FormatError::Truncated {
                what,
                needed: CAPSULE_LEN,
                got: sealed.len(),
            })?;
    Ok((*capsule, rest))
}

/// The key of one pack: seals and opens its blobs and its header. A
/// writer drops it once the pack is sealed; in format 2 a put-only key
/// cannot make it again.
#[derive(Clone)]
pub struct PackKey {
    key: Zeroizing<[u8; KEY_LEN]>,
    id_key: [u8; KEY_LEN],
    capsule: Option<Capsule>,
}

impl std::fmt::Debug for PackKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PackKey(..)")
    }
}

impl Drop for PackKey {
    fn drop(&mut self) {
        self.id_key.zeroize();
    }
}

impl PackKey {
    /// A fresh key agreed with the repository's public key. A public key
    /// of low order (a damaged put-only key) would agree on a key anyone
    /// can derive: refused.
    fn new(keyring: &Keyring, fresh: &Fresh) -> Result<Self> {
        let ephemeral = StaticSecret::from(fresh.ephemeral);
        let capsule = *PublicKey::from(&ephemeral).as_bytes();
        let shared = ephemeral.diffie_hellman(&PublicKey::from(keyring.public));
        if !shared.was_contributory() {
            return Err(FormatError::Malformed {
                what: "repository public key",
                detail: "a point of low order".into(),
            });
        }
        Ok(PackKey {
            key: derive_sealing_key(shared.as_bytes(), &capsule, &keyring.public),
            id_key: keyring.id_key,
            capsule: Some(capsule),
        })
    }

    /// The capsule this key was agreed with (format 2).
    pub fn capsule(&self) -> Option<Capsule> {
        self.capsule
    }

    /// Seal a blob whose compression frame (SPEC.md §4.2) is `framed`.
    pub fn seal_framed(
        &self,
        kind: BlobKind,
        id: &BlobId,
        framed: &[u8],
        nonce: [u8; NONCE_LEN],
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(framed.len() + crypto::ENVELOPE_OVERHEAD);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(framed);
        seal_in_place(&self.key, &blob_aad(kind, id), &mut out);
        out
    }

    /// Compress and seal a blob (SPEC.md §4.3).
    pub fn seal_blob(
        &self,
        kind: BlobKind,
        id: &BlobId,
        plaintext: &[u8],
        level: i32,
        nonce: [u8; NONCE_LEN],
    ) -> Vec<u8> {
        let mut framed = Vec::with_capacity(plaintext.len() + 1);
        compress::frame_into(level, plaintext, &mut framed);
        self.seal_framed(kind, id, &framed, nonce)
    }

    /// Open a blob, decompress it (to at most `max_len` bytes), and check
    /// that it hashes to `id` (SPEC.md §4.3 steps 1 to 4).
    pub fn open_blob(
        &self,
        kind: BlobKind,
        id: &BlobId,
        sealed: &[u8],
        max_len: usize,
    ) -> Result<Vec<u8>> {
        open_blob_with(&self.key, &self.id_key, kind, id, sealed, max_len)
    }

    /// Seal the pack's header payload (object kind 4).
    pub fn seal_header(&self, payload: &[u8], level: i32, nonce: [u8; NONCE_LEN]) -> Vec<u8> {
        seal_object_with(&self.key, ObjectKind::PackHeader, payload, level, nonce)
    }

    /// Open the pack's sealed header.
    pub fn open_header(&self, sealed: &[u8]) -> Result<Vec<u8>> {
        open_object_with(&self.key, ObjectKind::PackHeader, sealed)
    }
}

/// The chunker's two gear tables: `gear` and `gear_ls` (each entry
/// shifted left by one), as `fastcdc::v2020::cut_gear` takes them.
pub struct GearTables {
    /// The table.
    pub gear: [u64; 256],
    /// The table shifted left by one bit.
    pub gear_ls: [u64; 256],
}

/// Format 2's gear tables (SPEC.md §5.4): 2048 bytes of BLAKE3's XOF in
/// keyed mode, keyed with `derive_key(ctx, id key ‖ seed LE)`, over no
/// input; entry i is the u64 LE at byte 8·i.
pub fn gear_tables(id_key: &[u8; KEY_LEN], seed: u64) -> Box<GearTables> {
    let mut material = Zeroizing::new([0u8; KEY_LEN + 8]);
    let (a, b) = material.split_at_mut(KEY_LEN);
    a.copy_from_slice(id_key);
    b.copy_from_slice(&seed.to_le_bytes());
    let key = Zeroizing::new(blake3::derive_key(GEAR_CONTEXT, material.as_ref()));
    let mut bytes = Zeroizing::new([0u8; 256 * 8]);
    blake3::Hasher::new_keyed(&key)
        .finalize_xof()
        .fill(bytes.as_mut());
    let mut tables = Box::new(GearTables {
        gear: [0; 256],
        gear_ls: [0; 256],
    });
    for ((g, ls), chunk) in tables
        .gear
        .iter_mut()
        .zip(tables.gear_ls.iter_mut())
        .zip(bytes.chunks_exact(8))
    {
        let mut le = [0u8; 8];
        le.copy_from_slice(chunk);
        *g = u64::from_le_bytes(le);
        *ls = *g << 1;
    }
    tables
}

/// Version of the put-only key encoding.
pub const PUT_ONLY_KEY_VERSION: u8 = 1;

/// What a put-only key file seals (SPEC.md §5.5): what a backup needs to
/// write, and nothing that opens a pack, a snapshot or the config.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct PutOnlyKey {
    /// Encoding version, [`PUT_ONLY_KEY_VERSION`].
    #[zeroize(skip)]
    pub version: u8,
    /// The blob-id key: a put-only host's chunks deduplicate against the
    /// whole repository.
    pub id_key: [u8; KEY_LEN],
    /// The chunker seed.
    pub chunker_seed: u64,
    /// The key of index files and locks.
    pub metadata_key: [u8; KEY_LEN],
    /// The heartbeat signing key's seed.
    pub heartbeat_seed: [u8; KEY_LEN],
    /// The repository's X25519 public key.
    pub public_key: [u8; KEY_LEN],
    /// Random per key file: with the host's salt, keys the record of what
    /// the host sent (SPEC.md §5.6).
    pub record_secret: [u8; KEY_LEN],
    /// A copy of the repository's config, which is sealed with the data key.
    #[zeroize(skip)]
    pub config: Config,
}

impl std::fmt::Debug for PutOnlyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PutOnlyKey(..)")
    }
}

impl PutOnlyKey {
    /// The bytes sealed inside a put-only key file.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(crate::codec::encode(self))
    }

    /// Inverse of [`PutOnlyKey::encode`]; checks the version and the config.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let key: PutOnlyKey = crate::codec::decode("put-only key", bytes)?;
        if key.version != PUT_ONLY_KEY_VERSION {
            return Err(FormatError::UnsupportedVersion {
                what: "put-only key",
                version: u32::from(key.version),
            });
        }
        Config::decode(&key.config.encode())?;
        if key.config.version < FORMAT_2 {
            return Err(FormatError::UnsupportedVersion {
                what: "put-only key in repository format",
                version: key.config.version,
            });
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::config::ChunkerParams;

    fn master() -> MasterKey {
        MasterKey::from_random(&[5u8; 72])
    }

    fn fresh(n: u8) -> Fresh {
        Fresh {
            nonce: [n; NONCE_LEN],
            ephemeral: [n.wrapping_add(100); KEY_LEN],
        }
    }

    fn config() -> Config {
        Config {
            version: FORMAT_2,
            repository_id: [3; 32],
            chunker: ChunkerParams::DEFAULT,
            compression_level: 3,
            pack_size: 1 << 20,
        }
    }

    fn put_only(full: &Keyring) -> Keyring {
        let key = full.put_only_key(&config(), [8; KEY_LEN]).unwrap();
        Keyring::put_only(&PutOnlyKey::decode(&key.encode()).unwrap())
    }

    #[test]
    fn put_only_writes_what_only_a_full_key_reads() {
        let full = Keyring::full(&master(), FORMAT_2);
        let put = put_only(&full);
        assert!(!put.is_full());
        assert_eq!(put.blob_id(b"x"), full.blob_id(b"x"));
        let snapshot = put
            .seal_object(ObjectKind::Snapshot, b"snapshot", 3, &fresh(1))
            .unwrap();
        assert_eq!(
            full.open_object(ObjectKind::Snapshot, &snapshot).unwrap(),
            b"snapshot"
        );
        assert_eq!(
            put.open_object(ObjectKind::Snapshot, &snapshot),
            Err(FormatError::NeedsFullKey { what: "snapshot" })
        );
        let pack = put.new_pack_key(&fresh(2)).unwrap();
        let id = put.blob_id(b"chunk");
        let blob = pack.seal_blob(BlobKind::Data, &id, b"chunk", 3, [4; 24]);
        let again = full.pack_key(pack.capsule().as_ref()).unwrap();
        assert_eq!(
            again.open_blob(BlobKind::Data, &id, &blob, 5).unwrap(),
            b"chunk"
        );
        assert!(put.pack_key(pack.capsule().as_ref()).is_err());
        // Index files and locks: both ways.
        let index = put
            .seal_object(ObjectKind::Index, b"ix", 0, &fresh(3))
            .unwrap();
        assert_eq!(full.open_object(ObjectKind::Index, &index).unwrap(), b"ix");
        let lock = full
            .seal_object(ObjectKind::Lock, b"lk", 0, &fresh(4))
            .unwrap();
        assert_eq!(put.open_object(ObjectKind::Lock, &lock).unwrap(), b"lk");
        // Neither the config, a ledger nor a deletion notice.
        for kind in [ObjectKind::Config, ObjectKind::Ledger, ObjectKind::Deletion] {
            let sealed = full.seal_object(kind, b"secret", 0, &fresh(5)).unwrap();
            assert!(put.open_object(kind, &sealed).is_err());
            assert!(put.seal_object(kind, b"forged", 0, &fresh(5)).is_err());
        }
        assert_eq!(
            put.heartbeat_signing_key().verifying_key(),
            full.heartbeat_signing_key().verifying_key()
        );
    }

    #[test]
    fn format_1_seals_everything_with_the_data_key() {
        let m = master();
        let full = Keyring::full(&m, FORMAT_1);
        let sealed = full
            .seal_object(ObjectKind::Snapshot, b"s", 0, &fresh(1))
            .unwrap();
        assert_eq!(m.open_object(ObjectKind::Snapshot, &sealed).unwrap(), b"s");
        let pack = full.new_pack_key(&fresh(2)).unwrap();
        assert_eq!(pack.capsule(), None);
        let id = m.blob_id(b"c");
        let blob = m.seal_blob(BlobKind::Data, &id, b"c", 0, [1; 24]);
        assert_eq!(pack.open_blob(BlobKind::Data, &id, &blob, 1).unwrap(), b"c");
        assert!(full.put_only_key(&config(), [0; 32]).is_err());
        assert!(full.gear().is_none());
    }

    #[test]
    fn a_capsule_of_low_order_or_another_key_opens_nothing() {
        let full = Keyring::full(&master(), FORMAT_2);
        let other = Keyring::full(&MasterKey::from_random(&[6u8; 72]), FORMAT_2);
        let sealed = other
            .seal_object(ObjectKind::Snapshot, b"s", 0, &fresh(1))
            .unwrap();
        assert!(full.open_object(ObjectKind::Snapshot, &sealed).is_err());
        assert_eq!(
            full.pack_key(Some(&[0u8; 32])).err(),
            Some(FormatError::AuthenticationFailed { what: "pack" })
        );
        assert!(full.open_object(ObjectKind::Snapshot, &[1, 2, 3]).is_err());
    }

    #[test]
    fn gear_tables_follow_the_id_key_and_seed() {
        let a = gear_tables(&[1; 32], 7);
        assert_eq!(a.gear_ls[9], a.gear[9] << 1);
        assert_ne!(a.gear, gear_tables(&[1; 32], 8).gear);
        assert_ne!(a.gear, gear_tables(&[2; 32], 7).gear);
        assert_eq!(a.gear, gear_tables(&[1; 32], 7).gear);
    }

    #[test]
    fn put_only_key_decode_refuses_format_1_and_bad_versions() {
        let full = Keyring::full(&master(), FORMAT_2);
        let mut key = full.put_only_key(&config(), [8; KEY_LEN]).unwrap();
        key.version = 2;
        assert!(PutOnlyKey::decode(&key.encode()).is_err());
        key.version = PUT_ONLY_KEY_VERSION;
        key.config.version = FORMAT_1;
        assert!(PutOnlyKey::decode(&key.encode()).is_err());
    }
}
