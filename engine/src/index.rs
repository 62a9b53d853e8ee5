//! The in-memory master index: blob id → (pack, offset, length).
//!
//! A sorted table of fixed-size entries (52 bytes: no per-entry heap
//! allocation) searched by binary search. Packs are numbered; the table
//! stores the number, and a side table maps numbers to pack ids.

use repo_format::crypto::BlobKind;
use repo_format::index::IndexPack;
use repo_format::pack::PackEntry;
use repo_format::{BlobId, Id, PackId};
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    id: [u8; 32],
    pack: u32,
    offset: u32,
    length: u32,
    raw_length: u32,
    kind: u8,
}

impl Entry {
    fn key(&self) -> ([u8; 32], u8) {
        (self.id, self.kind)
    }
}

/// Where a blob is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobLocation {
    /// The pack holding it.
    pub pack: PackId,
    /// Offset of the sealed blob in the pack.
    pub offset: u32,
    /// Length of the sealed blob.
    pub length: u32,
    /// Length of the plaintext.
    pub raw_length: u32,
}

/// The master index.
#[derive(Default, Debug)]
pub struct Index {
    packs: Vec<PackId>,
    pack_sizes: Vec<u64>,
    pack_numbers: HashMap<PackId, u32>,
    sorted: Vec<Entry>,
    unsorted: Vec<Entry>,
}

impl Index {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add every pack of an index file. Call [`Index::finish`] after a batch.
    pub fn add_pack(&mut self, pack: &IndexPack) {
        let number = match self.pack_numbers.get(&pack.id) {
            Some(n) => *n,
            None => {
                let n = u32::try_from(self.packs.len()).unwrap_or(u32::MAX);
                self.packs.push(pack.id);
                self.pack_sizes.push(pack.size);
                self.pack_numbers.insert(pack.id, n);
                n
            }
        };
        self.unsorted
            .extend(pack.blobs.iter().map(|b| entry(number, b)));
    }

    /// Merge added entries into the sorted table (keeping the first location
    /// of a blob stored twice).
    pub fn finish(&mut self) {
        if self.unsorted.is_empty() {
            return;
        }
        // Taken, not appended from: `append` leaves the batch's buffer
        // allocated (a third more heap per blob after loading).
        let mut added = std::mem::take(&mut self.unsorted);
        if self.sorted.is_empty() {
            self.sorted = added;
        } else {
            self.sorted.append(&mut added);
        }
        // Stable, so that of a blob listed twice in one pack the first
        // listed is kept (tests/properties.rs); it costs a transient buffer
        // of half the table while sorting (benches/micro.md).
        self.sorted.sort_by_key(|e| (e.key(), e.pack));
        self.sorted.dedup_by_key(|e| e.key());
        self.sorted.shrink_to_fit();
    }

    fn find(&self, kind: BlobKind, id: &BlobId) -> Option<&Entry> {
        self.position(kind, id).and_then(|i| self.sorted.get(i))
    }

    /// Whether the blob is indexed.
    pub fn contains(&self, kind: BlobKind, id: &BlobId) -> bool {
        self.find(kind, id).is_some()
    }

    /// Where the blob is.
    pub fn get(&self, kind: BlobKind, id: &BlobId) -> Option<BlobLocation> {
        let e = self.find(kind, id)?;
        Some(BlobLocation {
            pack: *self.packs.get(e.pack as usize)?,
            offset: e.offset,
            length: e.length,
            raw_length: e.raw_length,
        })
    }

    /// The blob's place in the sorted table: a dense number below
    /// [`Index::len`], so that a set of blobs can be one bit per indexed
    /// blob (see [`crate::blob_set::BlobSet`]). Valid until the index
    /// changes.
    pub fn position(&self, kind: BlobKind, id: &BlobId) -> Option<usize> {
        let key = (*id.as_bytes(), kind.as_u8());
        self.sorted.binary_search_by_key(&key, |e| e.key()).ok()
    }

    /// Kind and location of the blob at `position` (see [`Index::position`]).
    pub fn at(&self, position: usize) -> Option<(BlobKind, BlobLocation)> {
        let e = self.sorted.get(position)?;
        let kind = BlobKind::from_u8(e.kind).ok()?;
        Some((
            kind,
            BlobLocation {
                pack: *self.packs.get(e.pack as usize)?,
                offset: e.offset,
                length: e.length,
                raw_length: e.raw_length,
            },
        ))
    }

    /// Number of indexed blobs.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether no blob is indexed.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The packs the index names.
    pub fn pack_ids(&self) -> impl Iterator<Item = PackId> + '_ {
        self.packs.iter().copied()
    }

    /// Number of packs.
    pub fn pack_count(&self) -> usize {
        self.packs.len()
    }

    /// Bytes of memory the table uses (for measurements).
    pub fn memory_bytes(&self) -> usize {
        self.sorted.capacity() * std::mem::size_of::<Entry>()
            + self.packs.capacity() * (32 + 8 + 48)
    }
}

fn entry(pack: u32, b: &PackEntry) -> Entry {
    Entry {
        id: *b.id.as_bytes(),
        pack,
        offset: b.offset,
        length: b.length,
        raw_length: b.raw_length,
        kind: b.kind.as_u8(),
    }
}

/// A blob id from raw bytes (for tests).
pub fn blob_id(bytes: [u8; 32]) -> BlobId {
    BlobId(Id(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_lookup_finds_every_blob_and_only_those() {
        let mut idx = Index::new();
        for p in 0..3u8 {
            let blobs = (0..100u32)
                .map(|i| PackEntry {
                    kind: if i % 2 == 0 {
                        BlobKind::Data
                    } else {
                        BlobKind::Tree
                    },
                    id: blob_id([p.wrapping_mul(100).wrapping_add(i as u8); 32]),
                    offset: i * 10,
                    length: 10,
                    raw_length: 9,
                })
                .collect();
            idx.add_pack(&IndexPack {
                id: PackId(Id([p; 32])),
                size: 1000,
                blobs,
            });
        }
        idx.finish();
        let loc = idx.get(BlobKind::Data, &blob_id([2; 32])).unwrap();
        assert_eq!((loc.pack, loc.offset), (PackId(Id([0; 32])), 20));
        assert!(idx.get(BlobKind::Tree, &blob_id([2; 32])).is_none());
        assert!(idx.contains(BlobKind::Tree, &blob_id([1; 32])));
        let pos = idx.position(BlobKind::Data, &blob_id([2; 32])).unwrap();
        assert_eq!(idx.at(pos), Some((BlobKind::Data, loc)));
        assert!(idx.at(idx.len()).is_none());
        assert_eq!(std::mem::size_of::<Entry>(), 52);
    }
}
