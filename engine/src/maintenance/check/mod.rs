//! `check`: verify a repository and name every problem it finds.
//!
//! Structural checks always run: key files and every object whose name is
//! a hash are read and matched against their names; every index file is
//! read (a damaged one is reported and the others still used); every pack
//! an index names must exist with the indexed size, and its header must
//! open and list exactly what the index says; every snapshot opens; every
//! tree reachable from a snapshot opens, and every blob it references is in
//! the index. With `read_data`, selected packs are read in full: the pack's
//! BLAKE3 must match its name and every blob must open (SPEC.md §4.3).
//!
//! Damage never ends the check: it becomes a [`Finding`] in the
//! [`CheckReport`], and the report names the snapshots and paths that each
//! damaged blob affects. Only a failure to reach the store at all is an
//! `Err`.
//!
//! A verification ledger (SPEC.md §7.5) remembers when each pack was last
//! read in full, so that `ReadData::Percent` reads the packs verified
//! longest ago (or never) first.
//!
//! - [`report`]: what a check finds;
//! - [`packs`]: packs, their headers, and reading them whole;
//! - [`trees`]: trees, blobs, and the paths damage reaches.

mod packs;
pub mod report;
mod trees;

pub use report::{Affected, CheckReport, Finding, Info, PATHS_PER_SNAPSHOT, Problem, Repair};

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::repository::Repository;
use crate::repository::index::LoadMode;
use crate::store::Backend;
use rayon::prelude::*;
use repo_format::key::KeyFile;
use repo_format::layout::{FileKind, ObjectName};
use repo_format::{BlobId, Id, KeyId, PackId, SnapshotId};
use std::collections::{BTreeMap, HashMap};

/// Which packs to read in full.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum ReadData {
    /// None: structural checks only.
    #[default]
    None,
    /// Every pack.
    All,
    /// restic's `N/M`: the packs whose id's first byte modulo `m` is `n - 1`.
    Bucket {
        /// Which group, 1 to `m`.
        n: u32,
        /// How many groups, 1 to 256.
        m: u32,
    },
    /// `P%` of the packs (at least one), those verified longest ago (or
    /// never) first, by the ledger.
    Percent(f64),
}

impl ReadData {
    /// Parse the value of `--read-data-subset`: `N/M` or `P%`.
    pub fn parse_subset(s: &str) -> Result<ReadData> {
        let invalid = |detail: String| Error::InvalidArgument {
            what: "--read-data-subset",
            detail,
        };
        if let Some(p) = s.strip_suffix('%') {
            let p: f64 = p
                .trim()
                .parse()
                .map_err(|_| invalid(format!("{s:?}: give a percentage such as 5%")))?;
            if !(p > 0.0 && p <= 100.0) {
                return Err(invalid(format!(
                    "{s:?}: the percentage must be above 0 and at most 100"
                )));
            }
            return Ok(ReadData::Percent(p));
        }
        let Some((n, m)) = s.split_once('/') else {
            return Err(invalid(format!(
                "{s:?}: give N/M (e.g. 2/5) or P% (e.g. 5%)"
            )));
        };
        let (n, m) = match (n.trim().parse::<u32>(), m.trim().parse::<u32>()) {
            (Ok(n), Ok(m)) => (n, m),
            _ => return Err(invalid(format!("{s:?}: N and M must be whole numbers"))),
        };
        if !(1..=256).contains(&m) || !(1..=m).contains(&n) {
            return Err(invalid(format!("{s:?}: M must be 1 to 256 and N 1 to M")));
        }
        Ok(ReadData::Bucket { n, m })
    }
}

/// Options of [`check`].
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Which packs to read in full.
    pub read_data: ReadData,
    /// Snapshots dated further than this from when the store received
    /// them are named ([`Info::SnapshotTimeSkewed`]).
    pub clock_skew: std::time::Duration,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            read_data: ReadData::default(),
            clock_skew: crate::repository::witness::DEFAULT_SKEW,
        }
    }
}

/// Check an open repository.
pub fn check(
    repo: &Repository,
    options: &CheckOptions,
    progress: &dyn Progress,
) -> Result<CheckReport> {
    let mut report = CheckReport::default();
    for problem in check_keys(repo.backend())? {
        report.problem(problem);
    }

    progress.stage("load indexes");
    let files = repo.read_index_files(LoadMode::Tolerant)?;
    repo.load_index_from(&files)?;
    for (id, e) in &files.damaged {
        report.problem(Problem::Index {
            id: *id,
            message: e.detail(),
        });
    }
    let indexed = files.packs();
    drop(files);
    report.packs = indexed.len();

    progress.stage("check all packs");
    let (stored, strays) = repo.list_packs()?;
    report
        .info
        .extend(strays.into_iter().map(|path| Info::StrayFile { path }));
    // Blobs that cannot be read, with the finding that says so.
    let mut lost: HashMap<BlobId, usize> = HashMap::new();
    packs::check_packs(repo, &indexed, &stored, &mut report, &mut lost);
    let mut condemned = std::collections::HashSet::new();
    for (id, notice) in crate::maintenance::notices::read_notices(repo)? {
        match notice {
            Ok(n) => condemned.extend(n.packs),
            Err(e) => report.problem(Problem::Deletion {
                id,
                message: e.detail(),
            }),
        }
    }
    for (pack, size) in unreferenced_packs(&indexed, &stored) {
        report.info.push(if condemned.contains(&pack) {
            Info::PackAwaitingDeletion { pack, size }
        } else {
            Info::PackNotIndexed { pack, size }
        });
    }

    let (ledgers, ledger) = packs::load_ledgers(repo, &mut report)?;
    let selected = packs::select_packs(&indexed, &stored, &ledger, options.read_data);
    if !selected.is_empty() {
        progress.stage(match options.read_data {
            ReadData::All => "read all data",
            _ => "read data subset",
        });
        let verified = packs::read_packs(repo, &indexed, &selected, &mut report, &mut lost);
        packs::save_ledger(repo, ledger, &ledgers, &verified, &stored)?;
    }

    progress.stage("check snapshots, trees and blobs");
    let snapshots = load_snapshots(repo, &mut report)?;
    report.snapshots = snapshots.len();
    report.info.extend(
        repo.witnessed()?
            .skewed(&snapshots, options.clock_skew)
            .into_iter()
            .map(Info::SnapshotTimeSkewed),
    );
    let graph = trees::walk(repo, &snapshots, &mut report, &mut lost)?;
    trees::too_deep(&snapshots, &graph, &mut report);
    report.trees = graph.trees.len();
    trees::unused_blobs(repo, &indexed, &stored, &graph, &mut report)?;
    trees::name_damage(repo, &snapshots, &graph, &lost, &mut report);
    Ok(report)
}

/// Check a repository that could not be opened (`error` is why): report
/// what can be said without the master key. Returns `error` itself when
/// nothing in the store explains it (a wrong password, no repository).
pub fn check_unopened(backend: &Backend, error: Error) -> Result<CheckReport> {
    let mut report = CheckReport::default();
    match &error {
        Error::WrongPassword => {
            let problems = check_keys(backend)?;
            let keys = backend.list_objects(FileKind::Key)?;
            if problems.is_empty() && !keys.is_empty() {
                return Err(error);
            }
            for p in problems {
                report.problem(p);
            }
            report.problem(Problem::NoKey {
                message: if keys.is_empty() {
                    "there is no key file".to_owned()
                } else {
                    "no intact key file opens with the password".to_owned()
                },
            });
        }
        Error::Format { object, source } if object == "config" => {
            for p in check_keys(backend)? {
                report.problem(p);
            }
            report.problem(Problem::Config {
                message: source.to_string(),
            });
        }
        Error::RepositoryNotFound { .. } => {
            // A store with key files or packs but no config is a damaged
            // repository, not an absent one.
            let keys = backend.list_objects(FileKind::Key)?;
            let packs = backend.list_objects(FileKind::Pack)?;
            if keys.is_empty() && packs.is_empty() {
                return Err(error);
            }
            for p in check_keys(backend)? {
                report.problem(p);
            }
            report.problem(Problem::Config {
                message: "the config object is missing".to_owned(),
            });
        }
        _ => return Err(error),
    }
    Ok(report)
}

/// Every key file must hash to its name and decode; none needs the password.
fn check_keys(backend: &Backend) -> Result<Vec<Problem>> {
    let listed = backend.list_objects(FileKind::Key)?;
    let mut problems: Vec<Problem> = listed
        .par_iter()
        .filter_map(|(id, _)| {
            let id = *id;
            let message = match backend.get(&ObjectName::new(FileKind::Key, id)) {
                Err(e) => e.to_string(),
                Ok(bytes) => {
                    let actual = Id::hash(&bytes);
                    if actual != id {
                        format!("content does not match its name (BLAKE3 is {actual})")
                    } else {
                        match KeyFile::decode(&bytes) {
                            Err(e) => e.to_string(),
                            // No reader derives with it (vault never writes one).
                            Ok(file) => file.kdf.check().err()?.to_string(),
                        }
                    }
                }
            };
            Some(Problem::Key {
                id: KeyId(id),
                message,
            })
        })
        .collect();
    problems.sort_by_key(Problem::object);
    Ok(problems)
}

/// Packs in the store that no index lists. The one place that decides
/// which stored packs are "unreferenced" (packs marked for deletion will
/// be excluded here).
pub fn unreferenced_packs<T>(
    indexed: &BTreeMap<PackId, T>,
    stored: &BTreeMap<PackId, u64>,
) -> Vec<(PackId, u64)> {
    stored
        .iter()
        .filter(|(id, _)| !indexed.contains_key(id))
        .map(|(id, size)| (*id, *size))
        .collect()
}

fn load_snapshots(
    repo: &Repository,
    report: &mut CheckReport,
) -> Result<Vec<(SnapshotId, repo_format::snapshot::Snapshot)>> {
    let mut good = Vec::new();
    for (id, s) in repo.read_snapshots()? {
        match s {
            Ok(s) => good.push((id, s)),
            Err(e) => report.problem(Problem::Snapshot {
                id,
                message: e.detail(),
            }),
        }
    }
    good.sort_by_key(|(id, s)| (s.time, *id));
    Ok(good)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_subset_accepts_restic_forms_and_refuses_others() {
        assert_eq!(
            ReadData::parse_subset("2/5").unwrap(),
            ReadData::Bucket { n: 2, m: 5 }
        );
        assert_eq!(
            ReadData::parse_subset("5%").unwrap(),
            ReadData::Percent(5.0)
        );
        assert_eq!(
            ReadData::parse_subset("2.5%").unwrap(),
            ReadData::Percent(2.5)
        );
        for bad in [
            "0/5", "6/5", "1/0", "1/257", "0%", "101%", "x%", "5", "a/b", "",
        ] {
            assert!(ReadData::parse_subset(bad).is_err(), "{bad}");
        }
    }
}
