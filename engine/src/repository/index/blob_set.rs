//! A set of indexed blobs: one bit per blob of the master index (its
//! position in the sorted table), so that ten million blobs take 1.2 MiB
//! where a hash set of ids would take hundreds. What snapshots reach
//! ([`crate::repository::reachable`]) is one, so prune, check, `stats` and
//! `diff` count each blob once however many files and snapshots share it.

use super::Index;
use crate::error::{Error, Result};
use repo_format::BlobId;
use repo_format::crypto::BlobKind;
use repo_format::tree::{Node, NodeKind};

/// A set of blobs of one index. Positions are only meaningful for the index
/// the set was made for, unchanged since.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlobSet {
    words: Vec<u64>,
}

/// Counts and sizes of a set of blobs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlobTotals {
    /// Data blobs (file content).
    pub data_blobs: u64,
    /// Tree blobs (directories).
    pub tree_blobs: u64,
    /// Plaintext bytes.
    pub raw_size: u64,
    /// Bytes stored in packs (compressed and sealed).
    pub stored_size: u64,
}

impl BlobSet {
    /// An empty set for the blobs of `index`.
    pub fn for_index(index: &Index) -> Self {
        BlobSet {
            words: vec![0; index.len().div_ceil(64)],
        }
    }

    /// Add the blob at `position`; whether it was new.
    pub fn insert(&mut self, position: usize) -> bool {
        let (word, bit) = (position / 64, 1u64 << (position % 64));
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        match self.words.get_mut(word) {
            Some(w) if *w & bit == 0 => {
                *w |= bit;
                true
            }
            _ => false,
        }
    }

    /// Whether the blob at `position` is in the set.
    pub fn contains(&self, position: usize) -> bool {
        self.words
            .get(position / 64)
            .is_some_and(|w| w & (1u64 << (position % 64)) != 0)
    }

    /// Add a blob by id; whether it was new. A blob the index does not hold
    /// is an error: the repository is damaged.
    pub fn insert_blob(&mut self, index: &Index, kind: BlobKind, id: &BlobId) -> Result<bool> {
        let position = index
            .position(kind, id)?
            .ok_or_else(|| Error::BlobNotIndexed(id.to_hex()))?;
        Ok(self.insert(position))
    }

    /// Add the data blobs of a file node (other nodes have none).
    pub fn insert_content(&mut self, index: &Index, node: &Node) -> Result<()> {
        if node.kind == NodeKind::File {
            for id in &node.content {
                self.insert_blob(index, BlobKind::Data, id)?;
            }
        }
        Ok(())
    }

    /// Number of blobs in the set.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    /// Positions in the set, ascending.
    pub fn positions(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &word)| {
            let mut w = word;
            std::iter::from_fn(move || {
                (w != 0).then(|| {
                    let bit = w.trailing_zeros() as usize;
                    w &= w - 1;
                    i * 64 + bit
                })
            })
        })
    }

    /// Remove every blob that is in `other`.
    pub fn remove_all(&mut self, other: &BlobSet) {
        for (w, o) in self.words.iter_mut().zip(&other.words) {
            *w &= !o;
        }
    }

    /// Add every blob of `other`.
    pub fn union_with(&mut self, other: &BlobSet) {
        if other.words.len() > self.words.len() {
            self.words.resize(other.words.len(), 0);
        }
        for (w, o) in self.words.iter_mut().zip(&other.words) {
            *w |= o;
        }
    }

    /// Keep only the blobs that are also in `other`.
    pub fn retain_in(&mut self, other: &BlobSet) {
        for (i, w) in self.words.iter_mut().enumerate() {
            *w &= other.words.get(i).copied().unwrap_or(0);
        }
    }

    /// Counts and sizes of the blobs, from `index`.
    pub fn totals(&self, index: &Index) -> Result<BlobTotals> {
        let mut t = BlobTotals::default();
        for position in self.positions() {
            let Some((kind, loc)) = index.at(position)? else {
                continue;
            };
            match kind {
                BlobKind::Data => t.data_blobs += 1,
                BlobKind::Tree => t.tree_blobs += 1,
            }
            t.raw_size += u64::from(loc.raw_length);
            t.stored_size += u64::from(loc.length);
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(positions: &[usize]) -> BlobSet {
        let mut s = BlobSet::default();
        for &p in positions {
            s.insert(p);
        }
        s
    }

    #[test]
    fn blob_set_insert_reports_new_once_and_lists_ascending() {
        let mut s = BlobSet::default();
        assert!(s.insert(130));
        assert!(!s.insert(130));
        assert!(s.insert(0));
        assert!(s.insert(63));
        assert!(s.insert(64));
        assert_eq!(s.positions().collect::<Vec<_>>(), vec![0, 63, 64, 130]);
        assert_eq!(s.len(), 4);
        assert!(s.contains(63) && !s.contains(62) && !s.contains(10_000));
        assert!(BlobSet::default().is_empty());
    }

    #[test]
    fn blob_set_difference_and_intersection() {
        let a = set(&[1, 2, 3, 200]);
        let b = set(&[2, 200, 300]);
        let mut only_a = a.clone();
        only_a.remove_all(&b);
        assert_eq!(only_a.positions().collect::<Vec<_>>(), vec![1, 3]);
        let mut both = a.clone();
        both.retain_in(&b);
        assert_eq!(both.positions().collect::<Vec<_>>(), vec![2, 200]);
        let mut shorter = b.clone();
        shorter.retain_in(&set(&[2]));
        assert_eq!(shorter.positions().collect::<Vec<_>>(), vec![2]);
        let mut union = set(&[5]);
        union.union_with(&a);
        assert_eq!(union.positions().collect::<Vec<_>>(), vec![1, 2, 3, 5, 200]);
    }
}
