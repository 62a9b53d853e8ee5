//! Index files: which blobs each pack holds. See SPEC.md §7.1.

use crate::codec;
use crate::error::Result;
use crate::id::{IndexId, PackId};
use crate::keyring::{Capsule, FORMAT_1};
use crate::pack::PackEntry;
use serde::{Deserialize, Serialize};

/// One pack's entry in an index file. (`Serialize` is for display, as
/// `vault cat index` prints it; the stored bytes are [`IndexFile::encode`]'s.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IndexPack {
    /// The pack.
    pub id: PackId,
    /// The pack's size in bytes.
    pub size: u64,
    /// The capsule of the pack's key (format 2; None in format 1), as in
    /// the pack's trailer, so that a reader opens a blob without reading
    /// the trailer first.
    #[serde(serialize_with = "capsule_hex")]
    pub capsule: Option<Capsule>,
    /// The blobs, as in the pack's header.
    pub blobs: Vec<PackEntry>,
}

/// The payload of an index object (see [`IndexPack`] on `Serialize`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IndexFile {
    /// Index files this one replaces (written by prune; readers ignore the
    /// superseded ones once this one exists).
    pub supersedes: Vec<IndexId>,
    /// Packs described.
    pub packs: Vec<IndexPack>,
}

/// Shows a capsule as 64 hex digits (display only, see [`IndexPack`]).
fn capsule_hex<S: serde::Serializer>(
    capsule: &Option<Capsule>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match capsule {
        Some(c) => s.serialize_some(&hex::encode(c)),
        None => s.serialize_none(),
    }
}

/// Format 1's encoding of a pack: no capsule.
#[derive(Serialize, Deserialize)]
struct Pack1 {
    id: PackId,
    size: u64,
    blobs: Vec<PackEntry>,
}

/// Format 2's encoding of a pack: the capsule after the size.
#[derive(Serialize, Deserialize)]
struct Pack2 {
    id: PackId,
    size: u64,
    capsule: Capsule,
    blobs: Vec<PackEntry>,
}

#[derive(Serialize, Deserialize)]
struct File<P> {
    supersedes: Vec<IndexId>,
    packs: Vec<P>,
}

impl IndexFile {
    /// Payload bytes in repository format `format`. In format 2 a pack
    /// without a capsule is written with zeros, which open nothing.
    pub fn encode(&self, format: u32) -> Vec<u8> {
        let supersedes = self.supersedes.clone();
        if format == FORMAT_1 {
            let packs = self
                .packs
                .iter()
                .map(|p| Pack1 {
                    id: p.id,
                    size: p.size,
                    blobs: p.blobs.clone(),
                })
                .collect();
            codec::encode(&File { supersedes, packs })
        } else {
            let packs = self
                .packs
                .iter()
                .map(|p| Pack2 {
                    id: p.id,
                    size: p.size,
                    capsule: p.capsule.unwrap_or_default(),
                    blobs: p.blobs.clone(),
                })
                .collect();
            codec::encode(&File { supersedes, packs })
        }
    }

    /// Parse payload bytes of repository format `format`.
    pub fn decode(format: u32, bytes: &[u8]) -> Result<Self> {
        if format == FORMAT_1 {
            let file: File<Pack1> = codec::decode("index", bytes)?;
            Ok(IndexFile {
                supersedes: file.supersedes,
                packs: file
                    .packs
                    .into_iter()
                    .map(|p| IndexPack {
                        id: p.id,
                        size: p.size,
                        capsule: None,
                        blobs: p.blobs,
                    })
                    .collect(),
            })
        } else {
            let file: File<Pack2> = codec::decode("index", bytes)?;
            Ok(IndexFile {
                supersedes: file.supersedes,
                packs: file
                    .packs
                    .into_iter()
                    .map(|p| IndexPack {
                        id: p.id,
                        size: p.size,
                        capsule: Some(p.capsule),
                        blobs: p.blobs,
                    })
                    .collect(),
            })
        }
    }
}
