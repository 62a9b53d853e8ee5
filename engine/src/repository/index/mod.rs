//! The in-memory master index: blob id → (pack, offset, length).
//!
//! A sorted table of fixed-size entries (52 bytes: no per-entry heap
//! allocation) searched by binary search. Packs are numbered; the table
//! stores the number, and a side table maps numbers to pack ids.
//!
//! Given a memory budget ([`Index::set_spill`]), a table that outgrows it
//! moves to a scratch file on disk with only every 64th key in memory
//! (see [`disk`]); entries added later stay in memory until they outgrow
//! the budget in turn. A lookup in the table on disk can fail to read it:
//! every lookup returns a `Result`, so that a failure is an error of the
//! command that met it, never a blob reported "not indexed".
//!
//! Index files are read into the table by the one loader in [`loader`].

pub mod blob_set;
mod disk;
pub mod loader;

pub use blob_set::{BlobSet, BlobTotals};
pub use disk::{Spill, SpillCounts};
pub use loader::{BLOBS_PER_INDEX_FILE, IndexFiles, IndexedPack, LoadMode, index_files};

use crate::error::{Error, Result};
use repo_format::crypto::BlobKind;
use repo_format::index::IndexPack;
use repo_format::pack::PackEntry;
use repo_format::{BlobId, Id, PackId};
use std::collections::HashMap;
use std::ops::Range;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    id: [u8; 32],
    pack: u32,
    offset: u32,
    length: u32,
    raw_length: u32,
    kind: u8,
}

/// What the table is sorted and searched by: blob id, then kind.
type Key = ([u8; 32], u8);

impl Entry {
    fn key(&self) -> Key {
        (self.id, self.kind)
    }

    fn order(&self) -> ([u8; 32], u8, u32, u32) {
        (self.id, self.kind, self.pack, self.offset)
    }
}

/// Merge `added` (sorted) into `table`, whose first `kept` entries are
/// sorted and whose remaining `added.len()` are room, writing from the
/// back so that nothing is overwritten before it is moved. On equal order
/// the table's entry stays first.
fn merge_from_the_back(table: &mut [Entry], mut kept: usize, added: &[Entry]) {
    let mut rest = added.len();
    let mut out = table.len();
    while rest > 0 {
        out -= 1;
        if kept > 0 && table[kept - 1].order() > added[rest - 1].order() {
            table[out] = table[kept - 1];
            kept -= 1;
        } else {
            table[out] = added[rest - 1];
            rest -= 1;
        }
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
    /// The capsule of each pack's key (format 2).
    pack_capsules: Vec<Option<repo_format::keyring::Capsule>>,
    /// How many added index files (or saves) named each pack.
    pack_refs: Vec<u32>,
    pack_numbers: HashMap<PackId, u32>,
    sorted: Vec<Entry>,
    unsorted: Vec<Entry>,
    /// The memory budget, when there is one.
    spill: Option<Spill>,
    /// Sorted runs of entries written since the last finish, when loading
    /// outgrew the budget.
    runs: Vec<disk::Run>,
    /// The table on disk: positions below its length; `sorted` follows.
    disk: Option<disk::DiskTable>,
    /// Pack numbering not yet applied to `runs` and `disk` (see
    /// [`Index::remove_files`]): old number → new, u32::MAX for dropped.
    renumber: Option<Vec<u32>>,
}

/// What one index file added to an [`Index`] (see [`Index::add_file`]):
/// enough to take it out again before [`Index::finish`], when another
/// index file turns out to supersede it.
#[derive(Debug)]
pub struct AddedFile {
    entries: Range<usize>,
    packs: Vec<u32>,
}

impl Index {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a pack of an index file. Call [`Index::finish`] after a batch.
    pub fn add_pack(&mut self, pack: &IndexPack) {
        self.add_pack_numbered(pack);
    }

    fn add_pack_numbered(&mut self, pack: &IndexPack) -> u32 {
        let number = match self.pack_numbers.get(&pack.id) {
            Some(n) => *n,
            None => {
                let n = u32::try_from(self.packs.len()).unwrap_or(u32::MAX);
                self.packs.push(pack.id);
                self.pack_sizes.push(pack.size);
                self.pack_capsules.push(pack.capsule);
                self.pack_refs.push(0);
                self.pack_numbers.insert(pack.id, n);
                n
            }
        };
        if let Some(refs) = self.pack_refs.get_mut(number as usize) {
            *refs = refs.saturating_add(1);
        }
        self.unsorted
            .extend(pack.blobs.iter().map(|b| entry(number, b)));
        number
    }

    /// Add the packs of one index file, remembering what they added so
    /// that [`Index::remove_files`] can take them out before the next
    /// [`Index::finish`]. This is how the index loads file by file, with
    /// no more than a few decoded files in memory beside the table.
    pub fn add_file(&mut self, packs: &[IndexPack]) -> AddedFile {
        let start = self.unsorted.len();
        let packs = packs.iter().map(|p| self.add_pack_numbered(p)).collect();
        AddedFile {
            entries: start..self.unsorted.len(),
            packs,
        }
    }

    /// Keep at most `spill.budget` bytes of entries in memory; past it the
    /// table goes to disk at the next [`Index::spill`] or
    /// [`Index::finish`].
    pub fn set_spill(&mut self, spill: Option<Spill>) {
        self.spill = spill;
    }

    /// Where scratch files go: the budget's directory, else the system's
    /// temporary directory.
    pub fn spill_dir(&self) -> std::path::PathBuf {
        self.spill
            .as_ref()
            .map_or_else(std::env::temp_dir, |s| s.dir.clone())
    }

    /// An empty index with the same budget.
    pub fn emptied(&self) -> Index {
        Index {
            spill: self.spill.clone(),
            ..Index::default()
        }
    }

    /// Undo a load that failed half-way: take out what `files` added, as
    /// [`Index::remove_files`] and [`Index::finish`] do, dropping the runs
    /// the load wrote. Entries that were there before it stay.
    pub fn abandon(&mut self, files: &[AddedFile]) -> std::io::Result<()> {
        self.remove_files(files);
        self.runs.clear();
        self.unsorted.clear();
        self.finish()
    }

    /// Whether the table, or runs of it, are on disk.
    pub fn on_disk(&self) -> bool {
        self.disk.is_some() || !self.runs.is_empty()
    }

    fn over_budget(&self) -> Option<&Spill> {
        let bytes = (self.sorted.len() + self.unsorted.len()) * std::mem::size_of::<Entry>();
        self.spill.as_ref().filter(|s| bytes > s.budget)
    }

    /// While loading: if the entries in memory outgrew the budget, write
    /// the added ones to disk as a sorted run (merged by the next
    /// [`Index::finish`]).
    pub fn spill(&mut self) -> std::io::Result<()> {
        let Some(spill) = self.over_budget().cloned() else {
            return Ok(());
        };
        if self.renumber.is_some() {
            // Runs written from here on would hold the new numbering.
            return self.merge_to_disk(&spill.dir);
        }
        self.unsorted.sort_unstable_by_key(Entry::order);
        self.runs.push(disk::write_run(&spill.dir, &self.unsorted)?);
        self.unsorted = Vec::new();
        Ok(())
    }

    /// Take out what the given files added since the last
    /// [`Index::finish`]: their entries, and the packs no other file names.
    ///
    /// With entries on disk, only the packs are taken out (with their
    /// entries, at the next finish): an index file lists every blob of
    /// each pack it names (SPEC §7.1), so a pack another file still names
    /// has the same entries there.
    pub fn remove_files(&mut self, files: &[AddedFile]) {
        if files.is_empty() {
            return;
        }
        if !self.on_disk() {
            self.remove_entries(files);
        }
        for number in files.iter().flat_map(|f| &f.packs) {
            if let Some(refs) = self.pack_refs.get_mut(*number as usize) {
                *refs = refs.saturating_sub(1);
            }
        }
        if self.pack_refs.iter().all(|&r| r > 0) {
            return;
        }
        // Renumber the packs still named. In memory no entry refers to a
        // dropped one (its entries came only from the removed files); on
        // disk, the merge drops them.
        let mut renumbered = vec![u32::MAX; self.packs.len()];
        let mut next_number = 0u32;
        for (old, refs) in self.pack_refs.iter().enumerate() {
            if *refs > 0 {
                renumbered[old] = next_number;
                next_number += 1;
            }
        }
        retain_renumbered(&mut self.packs, &renumbered);
        retain_renumbered(&mut self.pack_sizes, &renumbered);
        retain_renumbered(&mut self.pack_capsules, &renumbered);
        self.pack_refs.retain(|&r| r > 0);
        self.pack_numbers = self
            .packs
            .iter()
            .enumerate()
            .map(|(n, id)| (*id, n as u32))
            .collect();
        let new = |old: u32| renumbered.get(old as usize).copied().unwrap_or(u32::MAX);
        for e in self.sorted.iter_mut().chain(self.unsorted.iter_mut()) {
            e.pack = new(e.pack);
        }
        if self.on_disk() {
            self.renumber = Some(match self.renumber.take() {
                Some(earlier) => earlier
                    .into_iter()
                    .map(|n| if n == u32::MAX { n } else { new(n) })
                    .collect(),
                None => renumbered,
            });
        }
    }

    fn remove_entries(&mut self, files: &[AddedFile]) {
        let mut gone: Vec<&Range<usize>> = files.iter().map(|f| &f.entries).collect();
        gone.sort_by_key(|r| r.start);
        let mut position = 0;
        let mut next = gone.iter().peekable();
        self.unsorted.retain(|_| {
            while next.peek().is_some_and(|r| r.end <= position) {
                next.next();
            }
            let keep = !next.peek().is_some_and(|r| r.contains(&position));
            position += 1;
            keep
        });
    }

    /// Merge added entries into the sorted table (keeping the first location
    /// of a blob stored twice, by pack number). Sorts the added entries in
    /// place and merges them in from the back: beside the table, memory
    /// for the added entries only, and time linear in the table's size.
    ///
    /// With runs on disk, or past the budget, everything is merged into a
    /// new table on disk instead; only that can fail.
    pub fn finish(&mut self) -> std::io::Result<()> {
        let to_disk = if !self.runs.is_empty() || self.renumber.is_some() {
            Some(self.spill_dir())
        } else {
            self.over_budget().map(|s| s.dir.clone())
        };
        if let Some(dir) = to_disk {
            return self.merge_to_disk(&dir);
        }
        let mut added = std::mem::take(&mut self.unsorted);
        if let Some(disk) = &self.disk {
            // A blob the table on disk holds keeps that entry, as one
            // table would (its pack is older, or the same).
            let mut kept = Vec::with_capacity(added.len());
            for e in added {
                if disk.find(&e.key())?.is_none() {
                    kept.push(e);
                }
            }
            added = kept;
        }
        if added.is_empty() {
            return Ok(());
        }
        added.sort_unstable_by_key(Entry::order);
        if self.sorted.is_empty() {
            self.sorted = added;
        } else {
            let kept = self.sorted.len();
            self.sorted.resize(kept + added.len(), added[0]);
            merge_from_the_back(&mut self.sorted, kept, &added);
        }
        self.sorted.dedup_by_key(|e| e.key());
        self.sorted.shrink_to_fit();
        Ok(())
    }

    /// Merge the runs, the table on disk and every entry in memory into a
    /// new table on disk. On failure nothing changes.
    fn merge_to_disk(&mut self, dir: &std::path::Path) -> std::io::Result<()> {
        self.unsorted.sort_unstable_by_key(Entry::order);
        self.unsorted.retain(|e| e.pack != u32::MAX);
        let table = disk::merge(
            dir,
            &self.runs,
            self.disk.as_ref(),
            self.renumber.as_deref(),
            &[&self.sorted, &self.unsorted],
        )?;
        if let Some(spill) = &self.spill {
            spill.written.add(table.len());
        }
        self.disk = Some(table);
        self.runs.clear();
        self.renumber = None;
        self.sorted = Vec::new();
        self.unsorted = Vec::new();
        Ok(())
    }

    /// Position and entry: the table on disk first, then memory.
    fn find(&self, kind: BlobKind, id: &BlobId) -> Result<Option<(usize, Entry)>> {
        let key = (*id.as_bytes(), kind.as_u8());
        let on_disk = match &self.disk {
            Some(d) => match d.find(&key).map_err(|e| self.read_error(e))? {
                Some(found) => return Ok(Some(found)),
                None => d.len(),
            },
            None => 0,
        };
        Ok(self
            .sorted
            .binary_search_by_key(&key, |e| e.key())
            .ok()
            .and_then(|i| Some((on_disk + i, *self.sorted.get(i)?))))
    }

    fn read_error(&self, e: std::io::Error) -> Error {
        Error::io("read the index table on disk in", self.spill_dir(), e)
    }

    fn location(&self, e: &Entry) -> Option<BlobLocation> {
        Some(BlobLocation {
            pack: *self.packs.get(e.pack as usize)?,
            offset: e.offset,
            length: e.length,
            raw_length: e.raw_length,
        })
    }

    /// Whether the blob is indexed.
    pub fn contains(&self, kind: BlobKind, id: &BlobId) -> Result<bool> {
        Ok(self.find(kind, id)?.is_some())
    }

    /// Where the blob is, if it is indexed.
    pub fn get(&self, kind: BlobKind, id: &BlobId) -> Result<Option<BlobLocation>> {
        Ok(self.find(kind, id)?.and_then(|(_, e)| self.location(&e)))
    }

    /// Where the blob is and its place in the table (see
    /// [`Index::position`]), if it is indexed.
    pub fn find_with_position(
        &self,
        kind: BlobKind,
        id: &BlobId,
    ) -> Result<Option<(usize, BlobLocation)>> {
        Ok(self
            .find(kind, id)?
            .and_then(|(p, e)| Some((p, self.location(&e)?))))
    }

    /// Where the blob is; a blob the index lacks is damage.
    pub fn locate(&self, kind: BlobKind, id: &BlobId) -> Result<BlobLocation> {
        self.get(kind, id)?
            .ok_or_else(|| Error::BlobNotIndexed(id.to_hex()))
    }

    /// The blob's place in the sorted table: a dense number below
    /// [`Index::len`], so that a set of blobs can be one bit per indexed
    /// blob (see [`BlobSet`]). Valid until the index changes.
    pub fn position(&self, kind: BlobKind, id: &BlobId) -> Result<Option<usize>> {
        Ok(self.find(kind, id)?.map(|(p, _)| p))
    }

    /// Kind and location of the blob at `position` (see [`Index::position`]).
    pub fn at(&self, position: usize) -> Result<Option<(BlobKind, BlobLocation)>> {
        let on_disk = self.disk.as_ref().map_or(0, disk::DiskTable::len);
        let e = match (&self.disk, position.checked_sub(on_disk)) {
            (Some(d), None) => d.at(position).map_err(|e| self.read_error(e))?,
            (_, Some(i)) => self.sorted.get(i).copied(),
            (None, None) => None,
        };
        Ok(e.and_then(|e| Some((BlobKind::from_u8(e.kind).ok()?, self.location(&e)?))))
    }

    /// Number of indexed blobs.
    pub fn len(&self) -> usize {
        self.disk.as_ref().map_or(0, disk::DiskTable::len) + self.sorted.len()
    }

    /// Whether no blob is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The packs the index names.
    pub fn pack_ids(&self) -> impl Iterator<Item = PackId> + '_ {
        self.packs.iter().copied()
    }

    /// The capsule of a pack's key as an index file gives it (format 2).
    pub fn capsule(&self, pack: &PackId) -> Option<repo_format::keyring::Capsule> {
        let n = *self.pack_numbers.get(pack)?;
        self.pack_capsules.get(n as usize).copied().flatten()
    }

    /// Number of packs.
    pub fn pack_count(&self) -> usize {
        self.packs.len()
    }

    /// Bytes of memory the table uses (for measurements).
    pub fn memory_bytes(&self) -> usize {
        self.sorted.capacity() * std::mem::size_of::<Entry>()
            + self.disk.as_ref().map_or(0, disk::DiskTable::memory_bytes)
            + self.packs.capacity() * (32 + 8 + 4 + 48)
    }
}

/// Keep the items whose number `renumbered` does not mark as dropped.
fn retain_renumbered<T>(items: &mut Vec<T>, renumbered: &[u32]) {
    let mut old = 0;
    items.retain(|_| {
        old += 1;
        renumbered.get(old - 1).is_some_and(|&n| n != u32::MAX)
    });
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
                capsule: None,
                blobs,
            });
        }
        idx.finish().unwrap();
        let loc = idx.get(BlobKind::Data, &blob_id([2; 32])).unwrap().unwrap();
        assert_eq!((loc.pack, loc.offset), (PackId(Id([0; 32])), 20));
        assert!(
            idx.get(BlobKind::Tree, &blob_id([2; 32]))
                .unwrap()
                .is_none()
        );
        assert!(idx.contains(BlobKind::Tree, &blob_id([1; 32])).unwrap());
        let pos = idx
            .position(BlobKind::Data, &blob_id([2; 32]))
            .unwrap()
            .unwrap();
        assert_eq!(idx.at(pos).unwrap(), Some((BlobKind::Data, loc)));
        assert!(idx.at(idx.len()).unwrap().is_none());
        assert_eq!(std::mem::size_of::<Entry>(), 52);
    }

    fn pack(id: u8, blobs: &[u8]) -> IndexPack {
        IndexPack {
            id: PackId(Id([id; 32])),
            size: 100 * u64::from(id),
            capsule: Some([id; 32]),
            blobs: blobs
                .iter()
                .enumerate()
                .map(|(i, b)| PackEntry {
                    kind: BlobKind::Data,
                    id: blob_id([*b; 32]),
                    offset: i as u32 * 10,
                    length: 10,
                    raw_length: 9,
                })
                .collect(),
        }
    }

    #[test]
    fn removed_files_leave_neither_their_entries_nor_packs_only_they_named() {
        let mut idx = Index::new();
        let old = idx.add_file(&[pack(1, &[10, 11]), pack(2, &[20])]);
        let other = idx.add_file(&[pack(3, &[30, 31])]);
        // The file superseding `old`: pack 1 was repacked into 4, pack 2 kept.
        let newer = idx.add_file(&[pack(2, &[20]), pack(4, &[10, 11])]);
        idx.remove_files(&[old]);
        idx.finish().unwrap();
        let packs: Vec<PackId> = idx.pack_ids().collect();
        assert_eq!(
            packs,
            [2, 3, 4].map(|p| PackId(Id([p; 32]))),
            "pack 1 was named only by the removed file"
        );
        assert_eq!(idx.len(), 5);
        let at = |b: u8| {
            idx.get(BlobKind::Data, &blob_id([b; 32]))
                .unwrap()
                .map(|l| l.pack)
        };
        assert_eq!(at(10), Some(PackId(Id([4; 32]))));
        assert_eq!(at(20), Some(PackId(Id([2; 32]))));
        assert_eq!(at(31), Some(PackId(Id([3; 32]))));
        for p in 0..idx.len() {
            let (_, loc) = idx.at(p).unwrap().unwrap();
            assert!(packs.contains(&loc.pack));
        }
        // Removing the rest after a finish touches only unsorted entries.
        drop((other, newer));
        let late = idx.add_file(&[pack(5, &[50])]);
        idx.remove_files(&[late]);
        idx.finish().unwrap();
        assert_eq!(idx.len(), 5);
        assert_eq!(idx.pack_count(), 3);
    }
}
