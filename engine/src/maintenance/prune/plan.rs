//! Prune's plan: which packs to keep, repack and delete, decided from what
//! the index files in force list, what the store holds, and which copy of
//! each blob is used. Pure (no store, no clock), so that every rule is a
//! table test; [`super::prune`] executes it.

use crate::error::{Error, Result};
use repo_format::PackId;
use repo_format::index::IndexPack;
use repo_format::pack::PackEntry;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// How much unused data prune may leave in packs it keeps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaxUnused {
    /// A share of the used data, in percent (restic's rule: unused ≤
    /// used × p / (100 − p), so that unused is p % of the total after prune).
    Percent(f64),
    /// An absolute number of bytes.
    Bytes(u64),
    /// Never repack for unused space.
    Unlimited,
}

/// A count of packs and their bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PackCount {
    /// Packs.
    pub packs: u64,
    /// Their size in the store.
    pub bytes: u64,
}

impl PackCount {
    pub(super) fn add(&mut self, bytes: u64) {
        self.packs += 1;
        self.bytes += bytes;
    }
}

/// What the plan found: the figures of [`super::PruneReport`] it decides.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PlanFigures {
    /// Blobs referenced by a snapshot (each counted once).
    pub blobs_used: u64,
    /// Their stored size.
    pub bytes_used: u64,
    /// Blobs no snapshot references (or second copies).
    pub blobs_unused: u64,
    /// Their stored size.
    pub bytes_unused: u64,
    /// Every pack in the store.
    pub packs_total: PackCount,
    /// Packs kept as they are.
    pub packs_keep: PackCount,
    /// Packs whose used blobs are copied into new packs, then deleted.
    pub packs_repack: PackCount,
    /// Indexed packs with nothing used, deleted.
    pub packs_delete: PackCount,
    /// Packs that no index names (left by an interrupted backup or prune),
    /// deleted.
    pub packs_unindexed: PackCount,
    /// Unused bytes left in kept packs.
    pub bytes_unused_after: u64,
}

/// What to do with every pack.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PrunePlan {
    /// Packs kept as they are (their index entries are written again).
    pub keep: Vec<IndexPack>,
    /// Packs whose used blobs are copied, then condemned.
    pub repack: Vec<IndexPack>,
    /// Indexed packs with nothing used, condemned.
    pub delete: Vec<PackId>,
    /// Packs no index names and no earlier notice condemned, condemned.
    pub unindexed: Vec<PackId>,
    /// The figures.
    pub figures: PlanFigures,
}

/// Decide what to keep, repack and delete.
///
/// - `packs`: the packs the index files in force list (a pack listed
///   twice counts once, as first listed);
/// - `stored`: every pack in the store with its size; a listed pack the
///   store lacks is damage, and nothing is planned;
/// - `condemned_earlier`: packs an earlier prune's notice condemned (they
///   are neither unindexed nor counted again);
/// - `used`: whether this entry of this pack is the copy kept of a blob a
///   snapshot reaches (a blob stored twice is used in one pack only);
/// - `rewrite`: packs whose header lists blobs the index leaves out (they
///   are repacked, or deleted when nothing in them is used, whatever the
///   limits say, so that what the index left out goes);
/// - `max_unused`, `max_repack_size`: how much unused data may stay, and
///   how much may be repacked at most.
pub fn plan<'a>(
    packs: impl IntoIterator<Item = &'a IndexPack>,
    stored: &BTreeMap<PackId, u64>,
    condemned_earlier: &HashSet<PackId>,
    used: impl Fn(&PackId, &PackEntry) -> Result<bool>,
    rewrite: &BTreeSet<PackId>,
    max_unused: MaxUnused,
    max_repack_size: Option<u64>,
) -> Result<PrunePlan> {
    let mut out = PrunePlan::default();
    let mut seen: HashSet<PackId> = HashSet::new();
    let r = &mut out.figures;
    let mut partial: Vec<(&IndexPack, u64, u64)> = Vec::new();
    for pack in packs {
        if !seen.insert(pack.id) {
            continue;
        }
        let Some(&size) = stored.get(&pack.id) else {
            return Err(Error::PackMissing(pack.id.short()));
        };
        r.packs_total.add(size);
        let (mut used_bytes, mut unused_bytes) = (0u64, 0u64);
        for b in &pack.blobs {
            let len = u64::from(b.length);
            if used(&pack.id, b)? {
                used_bytes += len;
                r.blobs_used += 1;
            } else {
                unused_bytes += len;
                r.blobs_unused += 1;
            }
        }
        r.bytes_used += used_bytes;
        r.bytes_unused += unused_bytes;
        if used_bytes == 0 {
            r.packs_delete.add(size);
            out.delete.push(pack.id);
        } else if rewrite.contains(&pack.id) {
            r.packs_repack.add(size);
            out.repack.push(pack.clone());
        } else if unused_bytes == 0 {
            r.packs_keep.add(size);
            out.keep.push(pack.clone());
        } else {
            partial.push((pack, size, unused_bytes));
        }
    }
    let unindexed = stored
        .iter()
        .filter(|(p, _)| !seen.contains(p) && !condemned_earlier.contains(p));
    for (&p, &s) in unindexed {
        r.packs_total.add(s);
        r.packs_unindexed.add(s);
        out.unindexed.push(p);
    }

    // Repack the packs with the largest unused share first, until what is
    // left unused is within the limit (restic's rule).
    let limit = match max_unused {
        MaxUnused::Unlimited => u64::MAX,
        MaxUnused::Bytes(b) => b,
        MaxUnused::Percent(p) if p >= 100.0 => u64::MAX,
        MaxUnused::Percent(p) => (r.bytes_used as f64 * p / (100.0 - p)) as u64,
    };
    partial.sort_by(|a, b| {
        let ra = a.2 as f64 / a.1.max(1) as f64;
        let rb = b.2 as f64 / b.1.max(1) as f64;
        rb.total_cmp(&ra).then(a.0.id.cmp(&b.0.id))
    });
    let mut unused_left: u64 = partial.iter().map(|p| p.2).sum();
    let mut repack_bytes = 0u64;
    for (pack, size, unused) in partial {
        let within_budget = max_repack_size.is_none_or(|max| repack_bytes + size <= max);
        if unused_left > limit && within_budget {
            unused_left -= unused;
            repack_bytes += size;
            r.packs_repack.add(size);
            out.repack.push(pack.clone());
        } else {
            r.packs_keep.add(size);
            out.keep.push(pack.clone());
        }
    }
    r.bytes_unused_after = unused_left;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use repo_format::crypto::BlobKind;
    use repo_format::{BlobId, Id};

    fn pid(b: u8) -> PackId {
        PackId(Id([b; 32]))
    }

    /// A pack `id` of blobs `(blob, length)`, each `length` bytes long.
    fn pack(id: u8, blobs: &[(u8, u32)]) -> IndexPack {
        let mut offset = 0;
        IndexPack {
            id: pid(id),
            size: blobs.iter().map(|(_, l)| u64::from(*l)).sum::<u64>() + 100,
            capsule: None,
            blobs: blobs
                .iter()
                .map(|&(b, length)| {
                    let e = PackEntry {
                        kind: BlobKind::Data,
                        id: BlobId(Id([b; 32])),
                        offset,
                        length,
                        raw_length: length,
                    };
                    offset += length;
                    e
                })
                .collect(),
        }
    }

    fn stored(packs: &[&IndexPack], extra: &[(u8, u64)]) -> BTreeMap<PackId, u64> {
        packs
            .iter()
            .map(|p| (p.id, p.size))
            .chain(extra.iter().map(|(p, s)| (pid(*p), *s)))
            .collect()
    }

    /// `used` of a set of blob ids (each used where first met).
    fn uses(blobs: &[u8]) -> impl Fn(&PackId, &PackEntry) -> Result<bool> + '_ {
        move |_, e| Ok(blobs.contains(&e.id.as_bytes()[0]))
    }

    #[test]
    fn plan_keeps_full_packs_deletes_empty_ones_and_repacks_the_wasteful() {
        let full = pack(1, &[(1, 100), (2, 100)]);
        let empty = pack(2, &[(3, 100)]);
        let half = pack(3, &[(4, 100), (5, 100)]);
        let mostly = pack(4, &[(6, 900), (7, 10)]);
        let packs = [&full, &empty, &half, &mostly];
        let store = stored(&packs, &[(9, 55)]);
        let condemned = HashSet::from([pid(8)]);
        let p = plan(
            packs,
            &store,
            &condemned,
            uses(&[1, 2, 4, 6]),
            &BTreeSet::new(),
            MaxUnused::Percent(5.0),
            None,
        )
        .unwrap();
        assert_eq!(p.delete, [pid(2)]);
        assert_eq!(p.unindexed, [pid(9)], "a condemned pack is not unindexed");
        // 210 bytes unused of 1,200 used is over 5% (63 bytes): the pack
        // with the largest unused share goes first, and after it the 10
        // bytes left are within the limit.
        let ids = |packs: &[IndexPack]| packs.iter().map(|k| k.id).collect::<Vec<_>>();
        assert_eq!(ids(&p.repack), [pid(3)]);
        assert_eq!(ids(&p.keep), [pid(1), pid(4)]);
        let f = &p.figures;
        assert_eq!((f.blobs_used, f.bytes_used), (4, 1200));
        assert_eq!((f.blobs_unused, f.bytes_unused), (3, 210));
        assert_eq!((f.packs_total.packs, f.packs_unindexed.bytes), (5, 55));
        assert_eq!(f.bytes_unused_after, 10);
    }

    #[test]
    fn plan_leaves_unused_within_the_limit_and_the_repack_budget() {
        let a = pack(1, &[(1, 1000), (2, 10)]);
        let b = pack(2, &[(3, 1000), (4, 500)]);
        let store = stored(&[&a, &b], &[]);
        let none = HashSet::new();
        let with = |max_unused, budget| {
            plan(
                [&a, &b],
                &store,
                &none,
                uses(&[1, 3]),
                &BTreeSet::new(),
                max_unused,
                budget,
            )
            .unwrap()
        };
        // 510 unused of 2,000 used: 25% may stay, so nothing is repacked.
        let p = with(MaxUnused::Percent(25.0), None);
        assert!(p.repack.is_empty());
        assert_eq!(p.figures.bytes_unused_after, 510);
        // 0 bytes may stay, but only b fits in the repack budget.
        let p = with(MaxUnused::Bytes(0), Some(b.size));
        assert_eq!(p.repack.iter().map(|k| k.id).collect::<Vec<_>>(), [pid(2)]);
        assert_eq!(p.figures.bytes_unused_after, 10);
        // Unlimited: never repack.
        assert!(with(MaxUnused::Unlimited, None).repack.is_empty());
        // Unless the header lists blobs the index left out: then the pack
        // is rewritten without them, whatever the limits.
        let p = plan(
            [&a, &b],
            &store,
            &none,
            uses(&[1, 3]),
            &BTreeSet::from([pid(1)]),
            MaxUnused::Unlimited,
            None,
        )
        .unwrap();
        assert_eq!(p.repack.iter().map(|k| k.id).collect::<Vec<_>>(), [pid(1)]);
    }

    #[test]
    fn plan_refuses_an_index_that_names_a_missing_pack() {
        let a = pack(1, &[(1, 10)]);
        let err = plan(
            [&a],
            &BTreeMap::new(),
            &HashSet::new(),
            uses(&[1]),
            &BTreeSet::new(),
            MaxUnused::Unlimited,
            None,
        );
        assert!(matches!(err, Err(Error::PackMissing(_))), "{err:?}");
    }
}
