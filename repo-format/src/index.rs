//! Index files: which blobs each pack holds. See SPEC.md §7.1.

use crate::codec;
use crate::error::Result;
use crate::id::{IndexId, PackId};
use crate::pack::PackEntry;
use serde::{Deserialize, Serialize};

/// One pack's entry in an index file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexPack {
    /// The pack.
    pub id: PackId,
    /// The pack's size in bytes.
    pub size: u64,
    /// The blobs, as in the pack's header.
    pub blobs: Vec<PackEntry>,
}

/// The payload of an index object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexFile {
    /// Index files this one replaces (written by prune; readers ignore the
    /// superseded ones once this one exists).
    pub supersedes: Vec<IndexId>,
    /// Packs described.
    pub packs: Vec<IndexPack>,
}

impl IndexFile {
    /// Payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }
    /// Parse payload bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        codec::decode("index", bytes)
    }
}
