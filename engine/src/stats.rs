//! Figures over a set of snapshots, in restic's two main modes at once:
//!
//! * restore size: what restoring every snapshot would write — the sizes of
//!   the regular files (a hard-linked file once per snapshot) and the
//!   number of entries (files, directories, links and the rest, as restic
//!   counts them);
//! * raw data: the distinct blobs (data and tree) those snapshots refer to,
//!   by plaintext size and by the bytes stored in packs.
//!
//! Their quotients are the deduplication ratio (restore size / raw data)
//! and the compression ratio (raw data / stored).
//!
//! Each distinct tree is read once: a directory that several snapshots (or
//! several places) share is summed the first time and its figures reused,
//! so the cost follows the number of distinct directories, not the number
//! of snapshots.

use crate::blob_set::{BlobSet, BlobTotals};
use crate::error::Result;
use crate::repo::Repository;
use repo_format::BlobId;
use repo_format::crypto::BlobKind;
use repo_format::tree::NodeKind;
use std::collections::{HashMap, HashSet};

/// What [`stats`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsReport {
    /// Snapshots counted.
    pub snapshots: u64,
    /// Restore size: bytes of regular files over all the snapshots.
    pub total_size: u64,
    /// Entries restored over all the snapshots (files, directories, links…).
    pub total_file_count: u64,
    /// Distinct blobs referenced, with their sizes.
    pub blobs: BlobTotals,
}

impl StatsReport {
    /// Distinct blobs, data and tree.
    pub fn total_blob_count(&self) -> u64 {
        self.blobs.data_blobs + self.blobs.tree_blobs
    }

    /// Restore size over raw data size (0 when there is no data).
    pub fn dedup_ratio(&self) -> f64 {
        ratio(self.total_size, self.blobs.raw_size)
    }

    /// Raw data size over stored size (0 when nothing is stored).
    pub fn compression_ratio(&self) -> f64 {
        ratio(self.blobs.raw_size, self.blobs.stored_size)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Figures for the snapshots whose root trees are `roots` (the index must
/// be loaded).
pub fn stats(repo: &Repository, roots: &[BlobId]) -> Result<StatsReport> {
    let mut walker = Walker {
        repo,
        blobs: BlobSet::for_index(&repo.index()),
        sums: HashMap::new(),
        inodes: HashSet::new(),
    };
    let mut report = StatsReport::default();
    for root in roots {
        // Hard links are counted once per snapshot, as restoring one
        // snapshot links them again.
        walker.inodes.clear();
        let sum = walker.tree(root)?;
        report.snapshots += 1;
        report.total_size += sum.size;
        report.total_file_count += sum.entries;
    }
    report.blobs = walker.blobs.totals(&repo.index());
    Ok(report)
}

/// The restore figures of one tree.
#[derive(Clone, Copy, Debug, Default)]
struct TreeSum {
    size: u64,
    entries: u64,
    /// Whether a hard-linked file lies below: then the sum depends on what
    /// the snapshot showed before, and the tree is not remembered.
    hard_links: bool,
}

struct Walker<'a> {
    repo: &'a Repository,
    blobs: BlobSet,
    /// Sums of the trees without hard links seen so far.
    sums: HashMap<BlobId, TreeSum>,
    /// (device, inode) of the hard-linked files met in this snapshot.
    inodes: HashSet<(u64, u64)>,
}

impl Walker<'_> {
    fn tree(&mut self, id: &BlobId) -> Result<TreeSum> {
        if let Some(sum) = self.sums.get(id) {
            return Ok(*sum);
        }
        let tree = self.repo.load_tree(id)?;
        let mut sum = TreeSum::default();
        {
            let index = self.repo.index();
            self.blobs.insert_blob(&index, BlobKind::Tree, id)?;
            for node in &tree.nodes {
                self.blobs.insert_content(&index, node)?;
            }
        }
        for node in &tree.nodes {
            sum.entries += 1;
            match node.kind {
                NodeKind::Dir => {
                    if let Some(sub) = &node.subtree {
                        let s = self.tree(sub)?;
                        sum.size += s.size;
                        sum.entries += s.entries;
                        sum.hard_links |= s.hard_links;
                    }
                }
                NodeKind::File if node.links > 1 && node.inode != 0 => {
                    sum.hard_links = true;
                    if self.inodes.insert((node.device_id, node.inode)) {
                        sum.size += node.size;
                    }
                }
                NodeKind::File => sum.size += node.size,
                _ => {}
            }
        }
        if !sum.hard_links {
            self.sums.insert(*id, sum);
        }
        Ok(sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_ratios_zero_without_data() {
        let r = StatsReport::default();
        assert_eq!((r.dedup_ratio(), r.compression_ratio()), (0.0, 0.0));
        let r = StatsReport {
            total_size: 300,
            blobs: BlobTotals {
                data_blobs: 2,
                tree_blobs: 1,
                raw_size: 100,
                stored_size: 50,
            },
            ..StatsReport::default()
        };
        assert_eq!(r.dedup_ratio(), 3.0);
        assert_eq!(r.compression_ratio(), 2.0);
        assert_eq!(r.total_blob_count(), 3);
    }
}
