//! Check the packs: each one an index lists must be in the store with the
//! indexed size and a header that lists what the index says; with
//! `--read-data`, selected packs are read whole through the pack reader,
//! and a verification ledger (SPEC.md §7.5) records when each was last
//! read, so that a subset reads the packs verified longest ago first.

use super::ReadData;
use super::report::{CheckReport, Info, Problem};
use crate::error::{Error, Result};
use crate::repository::Repository;
use crate::repository::index::IndexedPack;
use rayon::prelude::*;
use repo_format::crypto::ObjectKind;
use repo_format::layout::{FileKind, ObjectName};
use repo_format::ledger::Ledger;
use repo_format::pack::compare_entries;
use repo_format::tree::Timestamp;
use repo_format::{BlobId, Id, PackId};
use std::collections::{BTreeMap, HashMap};

pub(super) fn check_packs(
    repo: &Repository,
    indexed: &BTreeMap<PackId, IndexedPack>,
    stored: &BTreeMap<PackId, u64>,
    report: &mut CheckReport,
    lost: &mut HashMap<BlobId, usize>,
) {
    let checked: Vec<(PackId, Checked)> = indexed
        .par_iter()
        .map(|(id, p)| (*id, check_pack(repo, id, p, stored.get(id).copied())))
        .collect();
    for (id, (problems, not_indexed)) in checked {
        let Some(p) = indexed.get(&id) else { continue };
        if not_indexed > 0 {
            report.info.push(Info::EntriesNotIndexed {
                pack: id,
                count: not_indexed,
            });
        }
        for problem in problems {
            // Blobs of a missing pack are gone; of a truncated pack, those
            // past its end.
            let gone: Vec<BlobId> = match &problem {
                Problem::PackMissing { .. } => p.entries.iter().map(|e| e.id).collect(),
                Problem::PackSize { stored, .. } => p
                    .entries
                    .iter()
                    .filter(|e| e.end() > *stored)
                    .map(|e| e.id)
                    .collect(),
                _ => Vec::new(),
            };
            let at = report.findings.len();
            report.problem(problem);
            for blob in gone {
                lost.entry(blob).or_insert(at);
            }
        }
    }
}

/// A pack's problems, and how many of the blobs its header lists no
/// index names.
type Checked = (Vec<Problem>, usize);

fn check_pack(
    repo: &Repository,
    id: &PackId,
    indexed: &IndexedPack,
    stored: Option<u64>,
) -> Checked {
    let Some(size) = stored else {
        let missing = Problem::PackMissing {
            pack: *id,
            indexes: indexed.indexes.clone(),
            blobs: indexed.entries.len(),
        };
        return (vec![missing], 0);
    };
    let mut not_indexed = 0;
    let mut problems = Vec::new();
    if size != indexed.size {
        problems.push(Problem::PackSize {
            pack: *id,
            indexed: indexed.size,
            stored: size,
        });
    }
    match repo.read_pack_header_and_capsule(id, size) {
        Err(e) => problems.push(Problem::PackHeader {
            pack: *id,
            message: e.detail(),
        }),
        Ok((capsule, header)) => {
            let (only_header, only_index) = compare_entries(&header, &indexed.entries);
            if only_index > 0 {
                let message = format!(
                    "the index claims {only_index} entr(ies) the header does not list ({only_header} listed only in the header)"
                );
                problems.push(Problem::PackHeaderMismatch { pack: *id, message });
            } else {
                not_indexed = only_header;
            }
            // Readers open blobs with the index's capsule (SPEC.md §7.1).
            if capsule != indexed.capsule {
                let message = "the index gives another key capsule than the pack's trailer, \
                               so its blobs do not open through the index"
                    .to_owned();
                problems.push(Problem::PackHeaderMismatch { pack: *id, message });
            }
        }
    }
    (problems, not_indexed)
}

/// Every ledger present (ids, including damaged ones) and their merge.
pub(super) fn load_ledgers(
    repo: &Repository,
    report: &mut CheckReport,
) -> Result<(Vec<Id>, BTreeMap<PackId, Timestamp>)> {
    let ids = repo.list_ids(FileKind::Ledger)?;
    let mut merged = BTreeMap::new();
    for id in &ids {
        let ledger = repo
            .load_object(FileKind::Ledger, ObjectKind::Ledger, id)
            .and_then(|payload| {
                Ledger::decode(&payload)
                    .map_err(|e| Error::format(ObjectName::new(FileKind::Ledger, *id).path(), e))
            });
        match ledger {
            Ok(l) => l.merge_into(&mut merged),
            Err(e) => report.problem(Problem::Ledger {
                id: *id,
                message: e.detail(),
            }),
        }
    }
    Ok((ids, merged))
}

/// The packs to read in full, in order.
pub(super) fn select_packs(
    indexed: &BTreeMap<PackId, IndexedPack>,
    stored: &BTreeMap<PackId, u64>,
    ledger: &BTreeMap<PackId, Timestamp>,
    read_data: ReadData,
) -> Vec<PackId> {
    let candidates: Vec<PackId> = indexed
        .keys()
        .filter(|id| stored.contains_key(id))
        .copied()
        .collect();
    match read_data {
        ReadData::None => Vec::new(),
        ReadData::All => candidates,
        ReadData::Bucket { n, m } => candidates
            .into_iter()
            .filter(|id| id.as_bytes().first().map(|b| u32::from(*b) % m) == Some(n - 1))
            .collect(),
        ReadData::Percent(p) => least_recently_verified(candidates, ledger, p),
    }
}

/// `percent` of `packs` (rounded up, at least one when there are any):
/// those never verified first, then those verified longest ago; ties by id.
pub fn least_recently_verified(
    mut packs: Vec<PackId>,
    ledger: &BTreeMap<PackId, Timestamp>,
    percent: f64,
) -> Vec<PackId> {
    packs.sort_by_key(|id| (ledger.get(id).copied(), *id));
    let wanted = (packs.len() as f64 * percent / 100.0).ceil() as usize;
    packs.truncate(wanted.clamp(1, packs.len().max(1)));
    packs
}

/// What reading one pack found.
struct PackRead {
    pack: PackId,
    bytes: u64,
    blobs: u64,
    problems: Vec<Problem>,
}

/// Read the selected packs in full (in parallel, one pack per thread at a
/// time); returns the packs found intact.
pub(super) fn read_packs(
    repo: &Repository,
    indexed: &BTreeMap<PackId, IndexedPack>,
    selected: &[PackId],
    report: &mut CheckReport,
    lost: &mut HashMap<BlobId, usize>,
) -> Vec<PackId> {
    let reads: Vec<PackRead> = repo.backend().parallel(|| {
        selected
            .par_iter()
            .map(|id| read_pack(repo, id, indexed.get(id)))
            .collect()
    });
    let mut verified = Vec::new();
    for r in reads {
        report.packs_read.push(r.pack);
        report.blobs_read += r.blobs;
        report.bytes_read += r.bytes;
        if r.problems.is_empty() {
            verified.push(r.pack);
        }
        for problem in r.problems {
            let blob = problem.blob();
            let at = report.findings.len();
            report.problem(problem);
            if let Some(blob) = blob {
                lost.entry(blob).or_insert(at);
            }
        }
    }
    verified
}

fn read_pack(repo: &Repository, id: &PackId, indexed: Option<&IndexedPack>) -> PackRead {
    let entries = indexed.map(|p| p.entries.as_slice()).unwrap_or_default();
    let v = repo.pack_reader().verify(id, entries);
    let blobs = if v.unreadable.is_none() {
        entries.len() as u64
    } else {
        0
    };
    let mut problems = Vec::new();
    if let Some(e) = v.unreadable {
        problems.push(Problem::PackHeader {
            pack: *id,
            message: e.to_string(),
        });
    }
    problems.extend(
        v.damaged
            .into_iter()
            .map(|(entry, message)| Problem::BlobDamaged {
                kind: entry.kind,
                blob: entry.id,
                pack: *id,
                message,
            }),
    );
    if let Some(actual) = v.wrong_hash {
        problems.push(Problem::PackHash { pack: *id, actual });
    }
    PackRead {
        pack: *id,
        bytes: v.bytes,
        blobs,
        problems,
    }
}

/// Write the merged ledger with this check's verifications, then delete
/// the ledgers it was built from.
pub(super) fn save_ledger(
    repo: &Repository,
    mut ledger: BTreeMap<PackId, Timestamp>,
    read: &[Id],
    verified: &[PackId],
    stored: &BTreeMap<PackId, u64>,
) -> Result<()> {
    let now = Timestamp::from_datetime(&chrono::Utc::now());
    for pack in verified {
        ledger.insert(*pack, now);
    }
    ledger.retain(|pack, _| stored.contains_key(pack));
    let payload = Ledger::from_map(&ledger).encode();
    let id = repo.save_object(FileKind::Ledger, ObjectKind::Ledger, &payload)?;
    for old in read.iter().filter(|old| **old != id) {
        match repo.delete_object(FileKind::Ledger, old) {
            // An append-only server keeps the ledgers read: readers merge
            // every ledger (SPEC.md §7.5), so nothing is lost but space.
            Err(Error::AppendOnly { .. }) => break,
            other => other?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(b: u8) -> PackId {
        PackId(Id([b; 32]))
    }

    #[test]
    fn least_recently_verified_takes_never_verified_then_oldest() {
        let packs: Vec<PackId> = (1..=8).map(pid).collect();
        let mut ledger = BTreeMap::new();
        ledger.insert(pid(1), Timestamp { secs: 5, nanos: 0 });
        ledger.insert(pid(2), Timestamp { secs: 3, nanos: 0 });
        ledger.insert(pid(3), Timestamp { secs: 9, nanos: 0 });
        let first = least_recently_verified(packs.clone(), &ledger, 50.0);
        assert_eq!(first, vec![pid(4), pid(5), pid(6), pid(7)]);
        for p in &first {
            ledger.insert(*p, Timestamp { secs: 10, nanos: 0 });
        }
        let second = least_recently_verified(packs.clone(), &ledger, 50.0);
        assert_eq!(second, vec![pid(8), pid(2), pid(1), pid(3)]);
        assert_eq!(least_recently_verified(packs, &ledger, 0.1).len(), 1);
        assert!(least_recently_verified(Vec::new(), &ledger, 5.0).is_empty());
    }
}
