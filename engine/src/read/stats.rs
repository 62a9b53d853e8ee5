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

use crate::error::{Error, Result};
use crate::read::tree_walk::EntryLimit;
use crate::repository::Repository;
use crate::repository::index::{BlobSet, BlobTotals};
use crate::repository::reachable::check_depth;
use crate::repository::reachable::walk_trees;
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

/// Figures over the snapshots whose root trees are `roots`.
pub fn stats(repo: &Repository, roots: &[BlobId]) -> Result<StatsReport> {
    let mut blobs = BlobSet::for_index(&repo.index());
    let mut trees: HashMap<BlobId, TreeSummary> = HashMap::new();
    walk_trees(
        roots.iter().copied(),
        |id| repo.load_tree(id),
        |id, tree| {
            let tree = tree?;
            let index = repo.index();
            blobs.insert_blob(&index, BlobKind::Tree, &id)?;
            let mut summary = TreeSummary {
                entries: tree.nodes.len() as u64,
                ..TreeSummary::default()
            };
            for node in &tree.nodes {
                blobs.insert_content(&index, node)?;
                match node.kind {
                    NodeKind::Dir => summary.subtrees.extend(node.subtree),
                    NodeKind::File if node.links > 1 && node.inode != 0 => {
                        summary
                            .hard_links
                            .push((node.device_id, node.inode, node.size));
                    }
                    NodeKind::File => summary.size += node.size,
                    _ => {}
                }
            }
            let subtrees = summary.subtrees.clone();
            trees.insert(id, summary);
            Ok(subtrees)
        },
    )?;
    let mut sums = Sums {
        trees: &trees,
        memo: HashMap::new(),
        inodes: HashSet::new(),
        open: HashSet::new(),
        visits: 0,
    };
    let mut report = StatsReport::default();
    for root in roots {
        // Hard links are counted once per snapshot, as restoring one
        // snapshot links them again.
        sums.inodes.clear();
        let sum = sums.tree(root, 1)?;
        report.snapshots += 1;
        report.total_size = report.total_size.saturating_add(sum.size);
        report.total_file_count = report.total_file_count.saturating_add(sum.entries);
    }
    report.blobs = blobs.totals(&repo.index())?;
    Ok(report)
}

/// What one tree holds itself, read once however many snapshots share it.
#[derive(Debug, Default)]
struct TreeSummary {
    /// Bytes of its regular files that are not hard links.
    size: u64,
    /// Its entries.
    entries: u64,
    /// Its hard-linked files: device, inode, size.
    hard_links: Vec<(u64, u64, u64)>,
    /// Its subdirectories' trees.
    subtrees: Vec<BlobId>,
}

#[derive(Clone, Copy, Debug, Default)]
struct TreeSum {
    size: u64,
    entries: u64,
    hard_links: bool,
}

/// A tree's figures with everything below it; a subtree without hard
/// links is summed once and its figures reused.
struct Sums<'a> {
    trees: &'a HashMap<BlobId, TreeSummary>,
    memo: HashMap<BlobId, TreeSum>,
    inodes: HashSet<(u64, u64)>,
    /// Trees being summed (a hostile cycle counts as empty, not forever).
    open: HashSet<BlobId>,
    /// Trees summed without the memo (those with hard links below them
    /// are summed once per place they appear).
    visits: u64,
}

impl Sums<'_> {
    fn tree(&mut self, id: &BlobId, depth: usize) -> Result<TreeSum> {
        if let Some(sum) = self.memo.get(id) {
            return Ok(*sum);
        }
        let Some(t) = self.trees.get(id) else {
            return Ok(TreeSum::default());
        };
        check_depth(depth)?;
        // A tree naming a subtree with hard links twice, 48 levels deep,
        // would be summed 2^48 times: bounded as a walk by path is.
        self.visits += 1;
        if self.visits > EntryLimit::DEFAULT.0 {
            return Err(Error::TooManyEntries {
                entries: self.visits,
                limit: EntryLimit::DEFAULT.0,
            });
        }
        if !self.open.insert(*id) {
            return Ok(TreeSum::default());
        }
        let mut sum = TreeSum {
            size: t.size,
            entries: t.entries,
            hard_links: !t.hard_links.is_empty(),
        };
        for (device, inode, size) in &t.hard_links {
            if self.inodes.insert((*device, *inode)) {
                sum.size = sum.size.saturating_add(*size);
            }
        }
        for sub in &t.subtrees {
            let s = self.tree(sub, depth + 1)?;
            sum.size = sum.size.saturating_add(s.size);
            sum.entries = sum.entries.saturating_add(s.entries);
            sum.hard_links |= s.hard_links;
        }
        self.open.remove(id);
        if !sum.hard_links {
            self.memo.insert(*id, sum);
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
