//! Heartbeats: small signed, unencrypted freshness beacons. See SPEC.md §7.7.
//!
//! ```text
//! heartbeats/<name>:  +----------+---------------------+----------------+
//!                     | "vaulthb1" | payload (bincode) | Ed25519 sig.   |
//!                     |    8       |       var         |      64        |
//!                     +----------+---------------------+----------------+
//! ```
//!
//! A heartbeat says when a backup (or check, or restore drill) of one
//! source on one host last succeeded, how big and how long it was, and
//! nothing about the content. It is signed with a key derived from the
//! repository's data key, so a monitor that holds only read access to the
//! storage and the public verification key can tell a fresh backup from a
//! stale one, and cannot be fooled by a forged one, without the password.

use crate::codec;
use crate::crypto::MasterKey;
use crate::error::{FormatError, Result};
use crate::id::Id;
use crate::layout::{FileKind, ObjectName};
use crate::tree::Timestamp;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The first 8 bytes of every heartbeat.
pub const MAGIC: [u8; 8] = *b"vaulthb1";
/// Length of the Ed25519 signature at the end.
pub const SIGNATURE_LEN: usize = 64;
/// Length of a verification (public) key.
pub const VERIFYING_KEY_LEN: usize = 32;
/// The largest heartbeat a reader accepts (a real one is under 300 bytes).
pub const MAX_LEN: usize = 64 << 10;
/// How many earlier sizes a backup heartbeat carries.
pub const HISTORY_LEN: usize = 10;

/// BLAKE3 derive-key context of the signing key (SPEC.md §7.7).
const SIGNING_CONTEXT: &str = "vault 2026-11-24 heartbeat signing key";
/// BLAKE3 derive-key context of a heartbeat's name.
const NAME_CONTEXT: &str = "vault 2026-11-24 heartbeat name";

/// What finished.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HeartbeatKind {
    /// A backup of the source saved a snapshot.
    Backup = 0,
    /// A check of the repository passed (source is empty).
    Check = 1,
    /// A restore drill of the source's newest snapshot passed.
    Drill = 2,
}

impl HeartbeatKind {
    /// The lower-case name used in messages and metrics.
    pub fn name(self) -> &'static str {
        match self {
            HeartbeatKind::Backup => "backup",
            HeartbeatKind::Check => "check",
            HeartbeatKind::Drill => "drill",
        }
    }
}

/// The payload of a heartbeat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// What finished.
    pub kind: HeartbeatKind,
    /// The host it ran on (the snapshot's host name for a backup).
    pub hostname: String,
    /// The source's name (from vault.toml); empty for a check.
    pub source: String,
    /// When it finished.
    pub time: Timestamp,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// Bytes: read by the backup, restored by the drill, read by the check.
    pub bytes: u64,
    /// Files: backed up, restored; 0 for a check.
    pub files: u64,
    /// Errors: files the backup could not read (the snapshot was saved).
    pub errors: u64,
    /// The snapshot made (backup) or restored (drill); None for a check.
    pub snapshot: Option<[u8; 32]>,
    /// `bytes` of the earlier heartbeats of the same name, newest first, at
    /// most [`HISTORY_LEN`]: so that a monitor can see a dump that shrank.
    pub history: Vec<u64>,
}

impl Heartbeat {
    /// The object name: `heartbeats/<64 hex>`, one per kind, host and
    /// source, so that each new heartbeat replaces the last.
    pub fn path(&self) -> String {
        self.name().path()
    }

    /// The object name: see [`Heartbeat::path`].
    pub fn name(&self) -> ObjectName {
        name(self.kind, &self.hostname, &self.source)
    }

    /// Sign and encode: magic, payload, signature.
    pub fn seal(&self, signing_key: &HeartbeatSigningKey) -> Vec<u8> {
        signing_key.seal_payload(&codec::encode(self))
    }

    /// Check the signature with `key` and decode. Refuses anything not
    /// signed by the holder of the repository's data key.
    pub fn open(bytes: &[u8], key: &HeartbeatVerifyingKey) -> Result<Self> {
        const WHAT: &str = "heartbeat";
        if bytes.len() > MAX_LEN {
            return Err(FormatError::Malformed {
                what: WHAT,
                detail: format!("{} bytes, more than the {MAX_LEN} allowed", bytes.len()),
            });
        }
        let needed = MAGIC.len() + SIGNATURE_LEN;
        if bytes.len() < needed {
            return Err(FormatError::Truncated {
                what: WHAT,
                needed,
                got: bytes.len(),
            });
        }
        let (signed, signature) = bytes.split_at(bytes.len() - SIGNATURE_LEN);
        if signed.get(..MAGIC.len()) != Some(&MAGIC[..]) {
            return Err(FormatError::BadMagic { what: WHAT });
        }
        let signature = Signature::from_slice(signature)
            .map_err(|_| FormatError::AuthenticationFailed { what: WHAT })?;
        key.0
            .verify_strict(signed, &signature)
            .map_err(|_| FormatError::AuthenticationFailed { what: WHAT })?;
        codec::decode(WHAT, signed.get(MAGIC.len()..).unwrap_or_default())
    }
}

/// The name of the heartbeat of `kind` for `hostname` and `source`:
/// BLAKE3 in derive-key mode over the bincode of the triple, under
/// `heartbeats/`.
pub fn name(kind: HeartbeatKind, hostname: &str, source: &str) -> ObjectName {
    let mut hasher = blake3::Hasher::new_derive_key(NAME_CONTEXT);
    hasher.update(&codec::encode(&(kind, hostname, source)));
    ObjectName::new(FileKind::Heartbeat, Id(*hasher.finalize().as_bytes()))
}

/// The key that signs heartbeats; derived from the data key, never stored.
pub struct HeartbeatSigningKey(SigningKey);

impl std::fmt::Debug for HeartbeatSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeartbeatSigningKey(..)")
    }
}

impl HeartbeatSigningKey {
    /// The repository's heartbeat key: the Ed25519 secret whose seed is
    /// BLAKE3 in derive-key mode over the data key.
    pub fn of(master: &MasterKey) -> Self {
        let mut seed = Self::seed_of(master);
        let key = Self::from_seed(&seed);
        zeroize::Zeroize::zeroize(&mut seed);
        key
    }

    /// The signing key's 32-byte seed, which a put-only key file holds
    /// (SPEC.md §5.5) so that its host signs heartbeats too.
    pub fn seed_of(master: &MasterKey) -> [u8; 32] {
        blake3::derive_key(SIGNING_CONTEXT, &master.data_key)
    }

    /// The signing key of a seed from [`HeartbeatSigningKey::seed_of`].
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        HeartbeatSigningKey(SigningKey::from_bytes(seed))
    }

    /// Magic, `payload` as given, and the signature over both: what
    /// [`Heartbeat::seal`] writes, here for any payload bytes (the fuzz
    /// target signs hostile payloads this way).
    pub fn seal_payload(&self, payload: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(payload);
        let signature = self.0.sign(&out);
        out.extend_from_slice(&signature.to_bytes());
        out
    }

    /// The public half, which a monitor holds.
    pub fn verifying_key(&self) -> HeartbeatVerifyingKey {
        HeartbeatVerifyingKey(self.0.verifying_key())
    }
}

/// The public key that verifies heartbeats (`vault key heartbeat` prints it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeartbeatVerifyingKey(VerifyingKey);

impl HeartbeatVerifyingKey {
    /// The 32 bytes.
    pub fn to_bytes(&self) -> [u8; VERIFYING_KEY_LEN] {
        self.0.to_bytes()
    }

    /// Lower-case hex, the form vault prints and vault.toml takes.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }

    /// Parse the 64-digit hex form.
    pub fn from_hex(text: &str) -> Result<Self> {
        const WHAT: &str = "heartbeat verification key";
        let mut bytes = [0u8; VERIFYING_KEY_LEN];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|e| FormatError::Malformed {
            what: WHAT,
            detail: format!("{e} (expected 64 hex digits)"),
        })?;
        VerifyingKey::from_bytes(&bytes)
            .map(HeartbeatVerifyingKey)
            .map_err(|_| FormatError::Malformed {
                what: WHAT,
                detail: "not a valid Ed25519 public key".to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn beat() -> Heartbeat {
        Heartbeat {
            kind: HeartbeatKind::Backup,
            hostname: "web1".to_owned(),
            source: "db".to_owned(),
            time: Timestamp {
                secs: 1_700_000_000,
                nanos: 0,
            },
            duration_ms: 1500,
            bytes: 1 << 20,
            files: 1,
            errors: 0,
            snapshot: Some([7; 32]),
            history: vec![1 << 20, 1 << 19],
        }
    }

    #[test]
    fn sealed_heartbeat_opens_with_its_key_only() {
        let key = HeartbeatSigningKey::of(&MasterKey::from_random(&[1; 72]));
        let other = HeartbeatSigningKey::of(&MasterKey::from_random(&[2; 72]));
        let sealed = beat().seal(&key);
        assert_eq!(
            Heartbeat::open(&sealed, &key.verifying_key()).unwrap(),
            beat()
        );
        assert!(Heartbeat::open(&sealed, &other.verifying_key()).is_err());
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(
                Heartbeat::open(&bad, &key.verifying_key()).is_err(),
                "byte {i}"
            );
        }
        for len in 0..sealed.len() {
            assert!(Heartbeat::open(&sealed[..len], &key.verifying_key()).is_err());
        }
    }

    #[test]
    fn names_differ_by_kind_host_and_source() {
        let a = name(HeartbeatKind::Backup, "web1", "db");
        let path = a.path();
        assert_eq!(
            ObjectName::parse(FileKind::Heartbeat, &path),
            Some(a),
            "{path}"
        );
        assert_ne!(a, name(HeartbeatKind::Drill, "web1", "db"));
        assert_ne!(a, name(HeartbeatKind::Backup, "web2", "db"));
        assert_ne!(a, name(HeartbeatKind::Backup, "web1", "www"));
        // The length prefixes keep ("ab", "c") apart from ("a", "bc").
        assert_ne!(
            name(HeartbeatKind::Backup, "ab", "c"),
            name(HeartbeatKind::Backup, "a", "bc")
        );
        assert_eq!(
            ObjectName::parse(FileKind::Heartbeat, "heartbeats/../config"),
            None
        );
        assert_eq!(
            ObjectName::parse(FileKind::Heartbeat, &path.to_uppercase()),
            None
        );
    }

    #[test]
    fn verifying_key_round_trips_through_hex() {
        let key = HeartbeatSigningKey::of(&MasterKey::from_random(&[1; 72])).verifying_key();
        assert_eq!(HeartbeatVerifyingKey::from_hex(&key.to_hex()).unwrap(), key);
        assert!(HeartbeatVerifyingKey::from_hex("abc").is_err());
        assert!(HeartbeatVerifyingKey::from_hex(&"zz".repeat(32)).is_err());
    }
}
