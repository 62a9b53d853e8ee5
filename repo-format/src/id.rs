//! Ids: 32-byte BLAKE3 hashes, and a typed newtype for each kind of thing
//! they name, so that a pack id can never be passed where a blob id is
//! expected. See SPEC.md §1 and §2.

use crate::error::{FormatError, Result};
use serde::{Deserialize, Serialize};

/// Length of every id in bytes.
pub const ID_LEN: usize = 32;

/// A 32-byte hash. Printed and parsed as 64 lower-case hex digits.
///
/// In binary encodings (bincode: not human-readable) it is the 32 bytes as
/// a fixed array; in human-readable ones (JSON for `cat` and `--json`) it is
/// the hex string.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Id(pub [u8; ID_LEN]);

impl Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_hex())
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            Id::from_hex(&s).map_err(serde::de::Error::custom)
        } else {
            <[u8; ID_LEN]>::deserialize(d).map(Id)
        }
    }
}

impl Id {
    /// The unkeyed BLAKE3 hash of `data`: the id of a stored object.
    pub fn hash(data: &[u8]) -> Self {
        Id(*blake3::hash(data).as_bytes())
    }

    /// Lower-case hex, 64 digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first 8 hex digits, as restic prints short ids.
    pub fn short(&self) -> String {
        let mut s = self.to_hex();
        s.truncate(8);
        s
    }

    /// Parse 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Self> {
        let mut out = [0u8; ID_LEN];
        hex::decode_to_slice(s, &mut out).map_err(|_| FormatError::InvalidId(s.to_owned()))?;
        Ok(Id(out))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; ID_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.short())
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

macro_rules! typed_id {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Id);

        impl $name {
            /// Lower-case hex, 64 digits.
            pub fn to_hex(&self) -> String { self.0.to_hex() }
            /// The first 8 hex digits.
            pub fn short(&self) -> String { self.0.short() }
            /// Parse 64 hex digits.
            pub fn from_hex(s: &str) -> Result<Self> { Id::from_hex(s).map($name) }
            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; ID_LEN] { self.0.as_bytes() }
        }
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.short())
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0, f)
            }
        }
        impl From<Id> for $name {
            fn from(id: Id) -> Self { $name(id) }
        }
    )*};
}

typed_id!(
    /// Keyed BLAKE3 of a blob's plaintext (see [`crate::crypto::MasterKey::blob_id`]).
    BlobId,
    /// BLAKE3 of a pack file's bytes.
    PackId,
    /// BLAKE3 of an index file's bytes.
    IndexId,
    /// BLAKE3 of a snapshot file's bytes.
    SnapshotId,
    /// BLAKE3 of a key file's bytes.
    KeyId,
    /// BLAKE3 of a lock file's bytes.
    LockId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_hex_round_trip() {
        let id = Id::hash(b"abc");
        assert_eq!(Id::from_hex(&id.to_hex()), Ok(id));
        assert_eq!(id.short().len(), 8);
    }

    #[test]
    fn id_from_hex_bad_input_is_error() {
        assert!(Id::from_hex("zz").is_err());
        assert!(Id::from_hex(&"0".repeat(63)).is_err());
    }
}
