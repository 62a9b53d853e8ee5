//! Key files: the master key sealed under a key derived from a password with
//! Argon2id. Key files are the only unencrypted objects. See SPEC.md §5.1.
//!
//! ```text
//! +----------------+---------+---------------------------------------+
//! | magic 8        | version | bincode(KeyFileBody)                  |
//! | "VAULTKEY"     | 1 or 2  |                                       |
//! +----------------+---------+---------------------------------------+
//! ```

use crate::codec;
use crate::crypto::{self, KEY_LEN, MASTER_KEY_AAD, MasterKey, NONCE_LEN};
use crate::error::{FormatError, Result};
use crate::keyring::{PUT_ONLY_AAD, PutOnlyKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Magic at the start of a key file.
pub const KEY_MAGIC: &[u8; 8] = b"VAULTKEY";
/// Key file version of a full key: it seals the master key.
pub const KEY_VERSION: u8 = 1;
/// Key file version of a put-only key: it seals a [`PutOnlyKey`]
/// (SPEC.md §5.5). Same body; the byte says the kind without a password.
pub const PUT_ONLY_KEY_VERSION: u8 = 2;

/// What a key file gives whoever knows its password.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeyKind {
    /// The master key: reads and writes everything.
    #[default]
    Full,
    /// Adds backups; reads nothing but index files and locks.
    PutOnly,
}

impl KeyKind {
    /// How `key list` names it.
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Full => "full",
            KeyKind::PutOnly => "put-only",
        }
    }

    fn version(self) -> u8 {
        match self {
            KeyKind::Full => KEY_VERSION,
            KeyKind::PutOnly => PUT_ONLY_KEY_VERSION,
        }
    }

    fn aad(self) -> &'static [u8] {
        match self {
            KeyKind::Full => MASTER_KEY_AAD,
            KeyKind::PutOnly => PUT_ONLY_AAD,
        }
    }
}

/// An opened key file.
#[derive(Debug)]
pub enum OpenedKey {
    /// A full key's master key.
    Full(MasterKey),
    /// A put-only key.
    PutOnly(PutOnlyKey),
}
/// Salt length.
pub const SALT_LEN: usize = 32;

/// KDF algorithm number of Argon2id (version 0x13).
pub const KDF_ARGON2ID: u8 = 1;

/// Argon2id parameters, stored in each key file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Algorithm; only [`KDF_ARGON2ID`] is defined.
    pub algorithm: u8,
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl KdfParams {
    /// The defaults for new keys: 64 MiB, 3 passes, 1 lane (ARCHITECTURE.md
    /// sets 64 MiB and 3 passes as the floor).
    pub const DEFAULT: KdfParams = KdfParams {
        algorithm: KDF_ARGON2ID,
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 1,
    };

    /// Upper bounds a reader enforces, so that a tampered key file cannot make
    /// opening the repository allocate 4 TiB: 4 GiB, 64 passes, 64 lanes.
    pub const MAX_MEMORY_KIB: u32 = 4 * 1024 * 1024;
    /// See [`KdfParams::MAX_MEMORY_KIB`].
    pub const MAX_ITERATIONS: u32 = 64;
    /// See [`KdfParams::MAX_MEMORY_KIB`].
    pub const MAX_PARALLELISM: u32 = 64;
    /// The most memory × passes (KiB) a reader spends on one key file:
    /// 16 GiB, e.g. 4 GiB × 4 passes or 1 GiB × 16, about 85 times the
    /// default. Anyone who can upload (server credentials alone) can add
    /// a key file, and every open may try it; beyond this it is refused
    /// unread rather than left to run for minutes.
    pub const MAX_COST: u64 = 16 * 1024 * 1024;

    /// What deriving with these parameters costs: memory × passes, KiB.
    pub fn cost(&self) -> u64 {
        u64::from(self.memory_kib) * u64::from(self.iterations)
    }

    /// Refuse parameters a reader does not derive with (an unknown
    /// algorithm, or beyond the maxima), before any work; [`Self::derive`]
    /// calls it first.
    pub fn check(&self) -> Result<()> {
        if self.algorithm != KDF_ARGON2ID {
            return Err(FormatError::UnknownKind {
                what: "kdf algorithm",
                value: u32::from(self.algorithm),
            });
        }
        if self.memory_kib > Self::MAX_MEMORY_KIB
            || self.iterations > Self::MAX_ITERATIONS
            || self.parallelism > Self::MAX_PARALLELISM
            || self.cost() > Self::MAX_COST
        {
            return Err(FormatError::Kdf(format!(
                "Argon2id with {} KiB, {} passes, {} lanes exceeds the accepted maximum \
                 ({} KiB, {} passes, {} lanes, {} KiB x passes)",
                self.memory_kib,
                self.iterations,
                self.parallelism,
                Self::MAX_MEMORY_KIB,
                Self::MAX_ITERATIONS,
                Self::MAX_PARALLELISM,
                Self::MAX_COST
            )));
        }
        Ok(())
    }

    /// Derive the key-encryption key from a password.
    pub fn derive(
        &self,
        password: &[u8],
        salt: &[u8; SALT_LEN],
    ) -> Result<Zeroizing<[u8; KEY_LEN]>> {
        self.check()?;
        let params = argon2::Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(KEY_LEN),
        )
        .map_err(|e| FormatError::Kdf(e.to_string()))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        argon
            .hash_password_into(password, salt, out.as_mut())
            .map_err(|e| FormatError::Kdf(e.to_string()))?;
        Ok(out)
    }
}

/// The decoded body of a key file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFile {
    /// Full or put-only: the version byte before the body, not in it.
    #[serde(skip)]
    pub kind: KeyKind,
    /// How the key-encryption key is derived.
    pub kdf: KdfParams,
    /// Salt of the KDF.
    pub salt: [u8; SALT_LEN],
    /// Creation time, seconds since the Unix epoch (UTC).
    pub created: i64,
    /// Host that created the key.
    pub hostname: String,
    /// User that created the key.
    pub username: String,
    /// The master key (or, in a put-only key file, the put-only key),
    /// sealed under the derived key (envelope, see SPEC.md §5.1).
    #[serde(with = "serde_bytes")]
    pub sealed_master_key: Vec<u8>,
}

impl KeyFile {
    /// Seal `master` under `password` and build a key file.
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        master: &MasterKey,
        password: &[u8],
        kdf: KdfParams,
        salt: [u8; SALT_LEN],
        nonce: [u8; NONCE_LEN],
        created: i64,
        hostname: String,
        username: String,
    ) -> Result<Self> {
        Self::seal(
            KeyKind::Full,
            &master.encode(),
            password,
            kdf,
            salt,
            nonce,
            created,
            hostname,
            username,
        )
    }

    /// Seal a put-only key under `password` and build a key file of the
    /// put-only kind.
    #[allow(clippy::too_many_arguments)]
    pub fn create_put_only(
        key: &PutOnlyKey,
        password: &[u8],
        kdf: KdfParams,
        salt: [u8; SALT_LEN],
        nonce: [u8; NONCE_LEN],
        created: i64,
        hostname: String,
        username: String,
    ) -> Result<Self> {
        Self::seal(
            KeyKind::PutOnly,
            &key.encode(),
            password,
            kdf,
            salt,
            nonce,
            created,
            hostname,
            username,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn seal(
        kind: KeyKind,
        secret: &[u8],
        password: &[u8],
        kdf: KdfParams,
        salt: [u8; SALT_LEN],
        nonce: [u8; NONCE_LEN],
        created: i64,
        hostname: String,
        username: String,
    ) -> Result<Self> {
        let kek = kdf.derive(password, &salt)?;
        let sealed_master_key = crypto::seal(&kek, nonce, kind.aad(), secret);
        Ok(KeyFile {
            kind,
            kdf,
            salt,
            created,
            hostname,
            username,
            sealed_master_key,
        })
    }

    /// Derive the key from `password` and open the master key.
    /// A wrong password is [`FormatError::AuthenticationFailed`].
    pub fn open(&self, password: &[u8]) -> Result<OpenedKey> {
        let kek = self.kdf.derive(password, &self.salt)?;
        let what = match self.kind {
            KeyKind::Full => "master key",
            KeyKind::PutOnly => "put-only key",
        };
        let plain = Zeroizing::new(crypto::open(
            &kek,
            self.kind.aad(),
            &self.sealed_master_key,
            what,
        )?);
        match self.kind {
            KeyKind::Full => MasterKey::decode(&plain).map(OpenedKey::Full),
            KeyKind::PutOnly => PutOnlyKey::decode(&plain).map(OpenedKey::PutOnly),
        }
    }

    /// The key file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = KEY_MAGIC.to_vec();
        out.push(self.kind.version());
        out.extend_from_slice(&codec::encode(self));
        out
    }

    /// Parse a key file.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let header = KEY_MAGIC.len() + 1;
        if bytes.len() < header {
            return Err(FormatError::Truncated {
                what: "key file",
                needed: header,
                got: bytes.len(),
            });
        }
        let (magic, rest) = bytes.split_at(KEY_MAGIC.len());
        if magic != KEY_MAGIC {
            return Err(FormatError::BadMagic { what: "key file" });
        }
        let (version, body) = rest.split_first().ok_or(FormatError::Truncated {
            what: "key file",
            needed: header,
            got: bytes.len(),
        })?;
        let kind = match *version {
            KEY_VERSION => KeyKind::Full,
            PUT_ONLY_KEY_VERSION => KeyKind::PutOnly,
            other => {
                return Err(FormatError::UnsupportedVersion {
                    what: "key file",
                    version: u32::from(other),
                });
            }
        };
        let mut file: KeyFile = codec::decode("key file", body)?;
        file.kind = kind;
        Ok(file)
    }
}
