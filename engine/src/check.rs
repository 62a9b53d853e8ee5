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

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::repo::{Repository, superseded};
use rayon::prelude::*;
use repo_format::crypto::{BlobKind, ObjectKind};
use repo_format::index::IndexFile;
use repo_format::key::KeyFile;
use repo_format::layout::{FileKind, object_path, parse_object_path};
use repo_format::ledger::Ledger;
use repo_format::pack::PackEntry;
use repo_format::tree::{NodeKind, Timestamp};
use repo_format::{BlobId, Id, IndexId, KeyId, PackId, SnapshotId};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The command that rebuilds the index from the packs.
pub const REPAIR_INDEX: &str = "vault repair index";
/// The command that removes references to lost data from snapshots.
pub const REPAIR_SNAPSHOTS: &str = "vault repair snapshots --forget";

/// Deepest directory nesting followed when naming damaged paths.
const MAX_DEPTH: usize = 4096;

/// How many paths a finding lists per snapshot before it only counts.
pub const PATHS_PER_SNAPSHOT: usize = 10;

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
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Which packs to read in full.
    pub read_data: ReadData,
}

/// Something wrong with the repository.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The config cannot be read.
    Config {
        /// Why.
        message: String,
    },
    /// No key file opens with the password and key files are damaged (or
    /// there are none).
    NoKey {
        /// Why.
        message: String,
    },
    /// A key file is damaged.
    Key {
        /// The key file.
        id: KeyId,
        /// Why.
        message: String,
    },
    /// An index file cannot be read; the packs it alone lists are invisible.
    Index {
        /// The index file.
        id: IndexId,
        /// Why.
        message: String,
    },
    /// A snapshot cannot be read.
    Snapshot {
        /// The snapshot.
        id: SnapshotId,
        /// Why.
        message: String,
    },
    /// A ledger cannot be read (it only costs the verification schedule).
    Ledger {
        /// The ledger.
        id: Id,
        /// Why.
        message: String,
    },
    /// A deletion notice cannot be read (its packs stay until a prune
    /// condemns them again).
    Deletion {
        /// The notice.
        id: Id,
        /// Why.
        message: String,
    },
    /// An index names a pack that is not in the store.
    PackMissing {
        /// The pack.
        pack: PackId,
        /// The index files that name it.
        indexes: Vec<IndexId>,
        /// How many blobs it held.
        blobs: usize,
    },
    /// A pack's size differs from the index's.
    PackSize {
        /// The pack.
        pack: PackId,
        /// Size in the index.
        indexed: u64,
        /// Size in the store.
        stored: u64,
    },
    /// A pack's header cannot be read.
    PackHeader {
        /// The pack.
        pack: PackId,
        /// Why.
        message: String,
    },
    /// A pack's header and the index disagree.
    PackHeaderMismatch {
        /// The pack.
        pack: PackId,
        /// How.
        message: String,
    },
    /// A pack read in full does not hash to its name.
    PackHash {
        /// The pack.
        pack: PackId,
        /// Its BLAKE3.
        actual: Id,
    },
    /// A blob a tree references is in no index.
    BlobMissing {
        /// Data or tree.
        kind: BlobKind,
        /// The blob.
        blob: BlobId,
    },
    /// A blob (or tree) does not open or decode.
    BlobDamaged {
        /// Data or tree.
        kind: BlobKind,
        /// The blob.
        blob: BlobId,
        /// The pack holding it.
        pack: PackId,
        /// Why.
        message: String,
    },
    /// A tree opens but breaks a rule of SPEC.md §7.2.
    TreeInvalid {
        /// The tree.
        blob: BlobId,
        /// What.
        message: String,
    },
}

impl Problem {
    /// A stable name for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            Problem::Config { .. } => "config",
            Problem::NoKey { .. } => "no_key",
            Problem::Key { .. } => "key",
            Problem::Index { .. } => "index",
            Problem::Snapshot { .. } => "snapshot",
            Problem::Ledger { .. } => "ledger",
            Problem::Deletion { .. } => "deletion_notice",
            Problem::PackMissing { .. } => "pack_missing",
            Problem::PackSize { .. } => "pack_size",
            Problem::PackHeader { .. } => "pack_header",
            Problem::PackHeaderMismatch { .. } => "pack_header_mismatch",
            Problem::PackHash { .. } => "pack_hash",
            Problem::BlobMissing { .. } => "blob_missing",
            Problem::BlobDamaged { .. } => "blob_damaged",
            Problem::TreeInvalid { .. } => "tree_invalid",
        }
    }

    /// The object concerned, as its path in the store (blobs as
    /// `blob <id>`: they live inside packs).
    pub fn object(&self) -> String {
        match self {
            Problem::Config { .. } => "config".to_owned(),
            Problem::NoKey { .. } => "keys".to_owned(),
            Problem::Key { id, .. } => object_path(FileKind::Key, &id.0),
            Problem::Index { id, .. } => object_path(FileKind::Index, &id.0),
            Problem::Snapshot { id, .. } => object_path(FileKind::Snapshot, &id.0),
            Problem::Ledger { id, .. } => object_path(FileKind::Ledger, id),
            Problem::Deletion { id, .. } => object_path(FileKind::Deletion, id),
            Problem::PackMissing { pack, .. }
            | Problem::PackSize { pack, .. }
            | Problem::PackHeader { pack, .. }
            | Problem::PackHeaderMismatch { pack, .. }
            | Problem::PackHash { pack, .. }
            | Problem::BlobDamaged { pack, .. } => object_path(FileKind::Pack, &pack.0),
            Problem::BlobMissing { kind, blob } => format!("{} blob {}", kind_name(*kind), blob),
            Problem::TreeInvalid { blob, .. } => format!("tree blob {blob}"),
        }
    }

    /// The blob concerned, when the problem is about one blob.
    pub fn blob(&self) -> Option<BlobId> {
        match self {
            Problem::BlobMissing { blob, .. }
            | Problem::BlobDamaged { blob, .. }
            | Problem::TreeInvalid { blob, .. } => Some(*blob),
            _ => None,
        }
    }

    /// The commands that repair this problem, in order (empty when there
    /// is none).
    pub fn repair(&self) -> &'static [&'static str] {
        match self {
            Problem::Index { .. } | Problem::PackHeaderMismatch { .. } => &[REPAIR_INDEX],
            Problem::PackMissing { .. }
            | Problem::PackSize { .. }
            | Problem::BlobMissing { .. } => &[REPAIR_INDEX, REPAIR_SNAPSHOTS],
            Problem::Deletion { .. } => &["vault prune"],
            _ => &[],
        }
    }
}

fn kind_name(kind: BlobKind) -> &'static str {
    match kind {
        BlobKind::Data => "data",
        BlobKind::Tree => "tree",
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Config { message } => write!(f, "config cannot be read: {message}"),
            Problem::NoKey { message } => write!(f, "the repository cannot be opened: {message}"),
            Problem::Key { message, .. } => write!(f, "key file is damaged: {message}"),
            Problem::Index { message, .. } => write!(
                f,
                "index file is damaged ({message}); the packs only it lists are invisible"
            ),
            Problem::Snapshot { message, .. } => write!(f, "snapshot is damaged: {message}"),
            Problem::Ledger { message, .. } => write!(
                f,
                "ledger is damaged ({message}); the next check that reads data replaces it"
            ),
            Problem::Deletion { message, .. } => write!(
                f,
                "deletion notice is damaged ({message}); the next prune condemns its packs again and removes it"
            ),
            Problem::PackMissing { indexes, blobs, .. } => write!(
                f,
                "pack is missing from the store, but {} index file(s) list it with {blobs} blob(s)",
                indexes.len()
            ),
            Problem::PackSize {
                indexed, stored, ..
            } => write!(
                f,
                "pack is {stored} bytes in the store, the index says {indexed}"
            ),
            Problem::PackHeader { message, .. } => write!(
                f,
                "pack header cannot be read ({message}); its blobs stay readable through the index"
            ),
            Problem::PackHeaderMismatch { message, .. } => {
                write!(f, "pack header and index disagree: {message}")
            }
            Problem::PackHash { actual, .. } => write!(
                f,
                "pack content does not match its name (BLAKE3 is {actual})"
            ),
            Problem::BlobMissing { .. } => {
                write!(f, "referenced by a tree but in no index (its data is lost)")
            }
            Problem::BlobDamaged {
                kind,
                blob,
                message,
                ..
            } => write!(f, "{} blob {blob} is damaged: {message}", kind_name(*kind)),
            Problem::TreeInvalid { message, .. } => write!(f, "invalid tree: {message}"),
        }
    }
}

/// The paths of one snapshot that a finding damages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Affected {
    /// The snapshot.
    pub snapshot: SnapshotId,
    /// The first [`PATHS_PER_SNAPSHOT`] damaged paths.
    pub paths: Vec<PathBuf>,
    /// How many more paths are damaged.
    pub more: usize,
}

/// A problem and what it damages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What is wrong.
    pub problem: Problem,
    /// The snapshots and paths whose data it makes unreadable.
    pub affected: Vec<Affected>,
}

/// Things worth saying that are not damage.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Info {
    /// A pack no index lists (left by an interrupted backup).
    PackNotIndexed {
        /// The pack.
        pack: PackId,
        /// Its size.
        size: u64,
    },
    /// A pack a prune condemned, waiting for backups that were running to
    /// finish (SPEC.md §7.6).
    PackAwaitingDeletion {
        /// The pack.
        pack: PackId,
        /// Its size.
        size: u64,
    },
    /// Indexed blobs that no snapshot references.
    UnusedBlobs {
        /// How many.
        count: u64,
        /// Their stored size.
        bytes: u64,
    },
    /// A file in the store whose name is not an object name.
    StrayFile {
        /// Its path.
        path: String,
    },
}

impl Info {
    /// A stable name for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            Info::PackNotIndexed { .. } => "pack_not_indexed",
            Info::PackAwaitingDeletion { .. } => "pack_awaiting_deletion",
            Info::UnusedBlobs { .. } => "unused_blobs",
            Info::StrayFile { .. } => "stray_file",
        }
    }

    /// The command that tidies this up, when there is one.
    pub fn repair(&self) -> Option<&'static str> {
        match self {
            Info::PackNotIndexed { .. } | Info::PackAwaitingDeletion { .. } => Some("vault prune"),
            Info::UnusedBlobs { .. } => Some("vault prune"),
            Info::StrayFile { .. } => None,
        }
    }
}

impl std::fmt::Display for Info {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Info::PackNotIndexed { pack, size } => write!(
                f,
                "pack {} ({size} bytes) is in no index (an interrupted backup leaves such packs)",
                object_path(FileKind::Pack, &pack.0)
            ),
            Info::PackAwaitingDeletion { pack, size } => write!(
                f,
                "pack {} ({size} bytes) awaits deletion: a prune condemned it while a backup ran",
                object_path(FileKind::Pack, &pack.0)
            ),
            Info::UnusedBlobs { count, bytes } => write!(
                f,
                "{count} blob(s) ({bytes} bytes) are referenced by no snapshot"
            ),
            Info::StrayFile { path } => write!(f, "{path} is not a repository object; ignored"),
        }
    }
}

/// What a check found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Problems: the check fails when there is any.
    pub findings: Vec<Finding>,
    /// Information that does not fail the check.
    pub info: Vec<Info>,
    /// Packs read in full, in the order chosen.
    pub packs_read: Vec<PackId>,
    /// Blobs opened while reading packs.
    pub blobs_read: u64,
    /// Bytes of packs read.
    pub bytes_read: u64,
    /// Snapshots checked.
    pub snapshots: usize,
    /// Packs in the index.
    pub packs: usize,
    /// Distinct trees checked.
    pub trees: usize,
}

impl CheckReport {
    /// Whether nothing is wrong.
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }

    /// The distinct repair commands the findings call for, in the order
    /// to run them.
    pub fn repairs(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for f in &self.findings {
            for r in f.problem.repair() {
                if !out.contains(r) {
                    out.push(r);
                }
            }
        }
        // Repairing the index comes first: the snapshots' repair relies on it.
        out.sort_by_key(|r| *r != REPAIR_INDEX);
        out
    }

    fn problem(&mut self, problem: Problem) {
        self.findings.push(Finding {
            problem,
            affected: Vec::new(),
        });
    }
}

/// One pack as the index describes it.
#[derive(Debug, Default)]
pub(crate) struct IndexedPack {
    /// Size the index records.
    pub(crate) size: u64,
    /// The blobs (of the first index file that lists the pack).
    pub(crate) entries: Vec<PackEntry>,
    /// Every index file that lists it.
    pub(crate) indexes: Vec<IndexId>,
}

/// The packs the index describes, by id.
pub(crate) type IndexedPacks = BTreeMap<PackId, IndexedPack>;

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
    let (indexed, damaged) = load_index(repo)?;
    for (id, e) in damaged {
        report.problem(Problem::Index {
            id,
            message: error_detail(&e),
        });
    }
    report.packs = indexed.len();

    progress.stage("check all packs");
    let (stored, strays) = list_packs(repo.backend())?;
    report
        .info
        .extend(strays.into_iter().map(|path| Info::StrayFile { path }));
    // Blobs that cannot be read, with the finding that says so.
    let mut lost: HashMap<BlobId, usize> = HashMap::new();
    check_packs(repo, &indexed, &stored, &mut report, &mut lost);
    let mut condemned = std::collections::HashSet::new();
    for (id, notice) in crate::prune::read_notices(repo)? {
        match notice {
            Ok(n) => condemned.extend(n.packs),
            Err(e) => report.problem(Problem::Deletion {
                id,
                message: error_detail(&e),
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

    let (ledgers, ledger) = load_ledgers(repo, &mut report)?;
    let selected = select_packs(&indexed, &stored, &ledger, options.read_data);
    if !selected.is_empty() {
        progress.stage(match options.read_data {
            ReadData::All => "read all data",
            _ => "read data subset",
        });
        let verified = read_packs(repo, &indexed, &selected, &mut report, &mut lost);
        save_ledger(repo, ledger, &ledgers, &verified, &stored)?;
    }

    progress.stage("check snapshots, trees and blobs");
    let snapshots = load_snapshots(repo, &mut report)?;
    report.snapshots = snapshots.len();
    let graph = walk_trees(repo, &snapshots, &mut report, &mut lost);
    report.trees = graph.trees.len();
    unused_blobs(&indexed, &stored, &graph, &mut report);
    name_damage(repo, &snapshots, &graph, &lost, &mut report);
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
            let keys = backend.list(FileKind::Key.dir())?;
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
            let keys = backend.list(FileKind::Key.dir())?;
            let packs = backend.list(FileKind::Pack.dir())?;
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
    let listed = backend.list(FileKind::Key.dir())?;
    let mut problems: Vec<Problem> = listed
        .par_iter()
        .filter_map(|(path, _)| {
            let id = parse_object_path(FileKind::Key, path)?;
            let message = match backend.get(path) {
                Err(e) => e.to_string(),
                Ok(bytes) => {
                    let actual = Id::hash(&bytes);
                    if actual != id {
                        format!("content does not match its name (BLAKE3 is {actual})")
                    } else {
                        KeyFile::decode(&bytes).err()?.to_string()
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

/// Load every readable index file into the repository's index; returns
/// the packs they describe and the index files that could not be read.
pub(crate) fn load_index(repo: &Repository) -> Result<(IndexedPacks, Vec<(IndexId, Error)>)> {
    let (files, damaged) = repo.load_index_files_tolerant()?;
    Ok((indexed_packs(&files), damaged))
}

/// The packs the (non-superseded) index files describe.
fn indexed_packs(files: &[(IndexId, IndexFile)]) -> BTreeMap<PackId, IndexedPack> {
    let superseded = superseded(files);
    let mut packs: BTreeMap<PackId, IndexedPack> = BTreeMap::new();
    for (id, file) in files {
        if superseded.contains(id) {
            continue;
        }
        for p in &file.packs {
            let entry = packs.entry(p.id).or_default();
            if entry.indexes.is_empty() {
                entry.size = p.size;
                entry.entries = p.blobs.clone();
            }
            entry.indexes.push(*id);
        }
    }
    packs
}

/// Packs in the store with their sizes, and names under `data/` that are
/// not pack names.
pub fn list_packs(backend: &Backend) -> Result<(BTreeMap<PackId, u64>, Vec<String>)> {
    let mut packs = BTreeMap::new();
    let mut strays = Vec::new();
    for (path, size) in backend.list(FileKind::Pack.dir())? {
        match parse_object_path(FileKind::Pack, &path) {
            Some(id) => {
                packs.insert(PackId(id), size);
            }
            None => strays.push(path),
        }
    }
    strays.sort();
    Ok((packs, strays))
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

fn check_packs(
    repo: &Repository,
    indexed: &BTreeMap<PackId, IndexedPack>,
    stored: &BTreeMap<PackId, u64>,
    report: &mut CheckReport,
    lost: &mut HashMap<BlobId, usize>,
) {
    let problems: Vec<(PackId, Vec<Problem>)> = indexed
        .par_iter()
        .map(|(id, p)| (*id, check_pack(repo, id, p, stored.get(id).copied())))
        .collect();
    for (id, problems) in problems {
        let Some(p) = indexed.get(&id) else { continue };
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

fn check_pack(
    repo: &Repository,
    id: &PackId,
    indexed: &IndexedPack,
    stored: Option<u64>,
) -> Vec<Problem> {
    let Some(size) = stored else {
        return vec![Problem::PackMissing {
            pack: *id,
            indexes: indexed.indexes.clone(),
            blobs: indexed.entries.len(),
        }];
    };
    let mut problems = Vec::new();
    if size != indexed.size {
        problems.push(Problem::PackSize {
            pack: *id,
            indexed: indexed.size,
            stored: size,
        });
    }
    match repo.read_pack_header(id, size) {
        Err(e) => problems.push(Problem::PackHeader {
            pack: *id,
            message: error_detail(&e),
        }),
        Ok(header) => {
            if let Some(message) = compare_entries(&header, &indexed.entries) {
                problems.push(Problem::PackHeaderMismatch { pack: *id, message });
            }
        }
    }
    problems
}

/// An error's message without the object path the problem already names.
pub(crate) fn error_detail(e: &Error) -> String {
    match e {
        Error::Format { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// How a pack's header differs from the index's entries, if it does.
fn compare_entries(header: &[PackEntry], index: &[PackEntry]) -> Option<String> {
    let mut a = header.to_vec();
    let mut b = index.to_vec();
    a.sort_by_key(|e| e.offset);
    b.sort_by_key(|e| e.offset);
    if a == b {
        return None;
    }
    let only_header = a.iter().filter(|e| !b.contains(e)).count();
    let only_index = b.iter().filter(|e| !a.contains(e)).count();
    Some(format!(
        "{only_header} entr(ies) only in the header, {only_index} only in the index"
    ))
}

/// Every ledger present (ids, including damaged ones) and their merge.
fn load_ledgers(
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
                    .map_err(|e| Error::format(object_path(FileKind::Ledger, id), e))
            });
        match ledger {
            Ok(l) => l.merge_into(&mut merged),
            Err(e) => report.problem(Problem::Ledger {
                id: *id,
                message: error_detail(&e),
            }),
        }
    }
    Ok((ids, merged))
}

/// The packs to read in full, in order.
fn select_packs(
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
fn read_packs(
    repo: &Repository,
    indexed: &BTreeMap<PackId, IndexedPack>,
    selected: &[PackId],
    report: &mut CheckReport,
    lost: &mut HashMap<BlobId, usize>,
) -> Vec<PackId> {
    let reads: Vec<PackRead> = crate::workers::with_io_pool(repo.backend(), || {
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
    let mut read = PackRead {
        pack: *id,
        bytes: 0,
        blobs: 0,
        problems: Vec::new(),
    };
    let path = object_path(FileKind::Pack, &id.0);
    let bytes = match repo.backend().get(&path) {
        Ok(b) => b,
        Err(e) => {
            read.problems.push(Problem::PackHeader {
                pack: *id,
                message: e.to_string(),
            });
            return read;
        }
    };
    read.bytes = bytes.len() as u64;
    let mut blob_damaged = false;
    for entry in indexed.map(|p| p.entries.as_slice()).unwrap_or_default() {
        read.blobs += 1;
        let sealed = usize::try_from(entry.offset)
            .ok()
            .zip(usize::try_from(entry.end()).ok())
            .and_then(|(start, end)| bytes.get(start..end));
        let outcome = match sealed {
            None => Err("it lies beyond the end of the pack".to_owned()),
            Some(sealed) => repo
                .key()
                .open_blob(entry.kind, &entry.id, sealed, entry.raw_length as usize)
                .map(drop)
                .map_err(|e| e.to_string()),
        };
        if let Err(message) = outcome {
            blob_damaged = true;
            read.problems.push(Problem::BlobDamaged {
                kind: entry.kind,
                blob: entry.id,
                pack: *id,
                message,
            });
        }
    }
    let actual = Id::hash(&bytes);
    if actual != id.0 && !blob_damaged {
        read.problems.push(Problem::PackHash { pack: *id, actual });
    }
    read
}

/// Write the merged ledger with this check's verifications, then delete
/// the ledgers it was built from.
fn save_ledger(
    repo: &Repository,
    mut ledger: BTreeMap<PackId, Timestamp>,
    read: &[Id],
    verified: &[PackId],
    stored: &BTreeMap<PackId, u64>,
) -> Result<()> {
    let now = crate::archive::timestamp(&chrono::Utc::now());
    for pack in verified {
        ledger.insert(*pack, now);
    }
    ledger.retain(|pack, _| stored.contains_key(pack));
    let payload = Ledger::from_map(&ledger).encode();
    let id = repo.save_object(FileKind::Ledger, ObjectKind::Ledger, &payload)?;
    for old in read.iter().filter(|old| **old != id) {
        match repo.backend().delete(&object_path(FileKind::Ledger, old)) {
            // An append-only server keeps the ledgers read: readers merge
            // every ledger (SPEC.md §7.5), so nothing is lost but space.
            Err(Error::AppendOnly { .. }) => break,
            other => other?,
        }
    }
    Ok(())
}

fn load_snapshots(
    repo: &Repository,
    report: &mut CheckReport,
) -> Result<Vec<(SnapshotId, repo_format::snapshot::Snapshot)>> {
    let ids = repo.list_ids(FileKind::Snapshot)?;
    let loaded: Vec<_> = ids
        .par_iter()
        .map(|id| {
            let id = SnapshotId(*id);
            (id, repo.load_snapshot(&id))
        })
        .collect();
    let mut good = Vec::new();
    for (id, s) in loaded {
        match s {
            Ok(s) => good.push((id, s)),
            Err(e) => report.problem(Problem::Snapshot {
                id,
                message: error_detail(&e),
            }),
        }
    }
    good.sort_by_key(|(id, s)| (s.time, *id));
    Ok(good)
}

/// The trees reachable from the snapshots: each tree's subtrees, and
/// whether it references a lost blob directly.
#[derive(Default)]
struct TreeGraph {
    trees: HashMap<BlobId, TreeNode>,
    data: HashSet<BlobId>,
}

#[derive(Default)]
struct TreeNode {
    subtrees: Vec<BlobId>,
    damaged_content: bool,
}

/// What loading one tree found.
struct TreeVisit {
    id: BlobId,
    node: Option<TreeNode>,
    data: Vec<BlobId>,
    problems: Vec<Problem>,
    missing_data: Vec<BlobId>,
}

fn walk_trees(
    repo: &Repository,
    snapshots: &[(SnapshotId, repo_format::snapshot::Snapshot)],
    report: &mut CheckReport,
    lost: &mut HashMap<BlobId, usize>,
) -> TreeGraph {
    let mut graph = TreeGraph::default();
    let mut seen: HashSet<BlobId> = snapshots.iter().map(|(_, s)| s.tree).collect();
    let mut frontier: Vec<BlobId> = seen.iter().copied().collect();
    frontier.sort();
    while !frontier.is_empty() {
        let lost_now: &HashMap<BlobId, usize> = lost;
        let visits: Vec<TreeVisit> = frontier
            .par_iter()
            .map(|id| visit_tree(repo, id, lost_now))
            .collect();
        let mut next = Vec::new();
        for v in visits {
            for problem in v.problems {
                let at = report.findings.len();
                report.problem(problem);
                lost.entry(v.id).or_insert(at);
            }
            for blob in v.missing_data {
                if let std::collections::hash_map::Entry::Vacant(slot) = lost.entry(blob) {
                    slot.insert(report.findings.len());
                    report.problem(Problem::BlobMissing {
                        kind: BlobKind::Data,
                        blob,
                    });
                }
            }
            graph.data.extend(v.data);
            if let Some(node) = v.node {
                for sub in &node.subtrees {
                    if seen.insert(*sub) {
                        next.push(*sub);
                    }
                }
                graph.trees.insert(v.id, node);
            } else {
                graph.trees.insert(v.id, TreeNode::default());
            }
        }
        next.sort();
        frontier = next;
    }
    graph
}

fn visit_tree(repo: &Repository, id: &BlobId, lost: &HashMap<BlobId, usize>) -> TreeVisit {
    let mut visit = TreeVisit {
        id: *id,
        node: None,
        data: Vec::new(),
        problems: Vec::new(),
        missing_data: Vec::new(),
    };
    if lost.contains_key(id) {
        return visit;
    }
    let location = repo.index().get(BlobKind::Tree, id);
    let Some(location) = location else {
        visit.problems.push(Problem::BlobMissing {
            kind: BlobKind::Tree,
            blob: *id,
        });
        return visit;
    };
    let tree = match repo.load_tree(id) {
        Ok(t) => t,
        Err(e) => {
            visit.problems.push(Problem::BlobDamaged {
                kind: BlobKind::Tree,
                blob: *id,
                pack: location.pack,
                message: error_detail(&e),
            });
            return visit;
        }
    };
    let mut node = TreeNode::default();
    let index = repo.index();
    for n in &tree.nodes {
        match n.kind {
            NodeKind::File => {
                for c in &n.content {
                    visit.data.push(*c);
                    if lost.contains_key(c) {
                        node.damaged_content = true;
                    } else if !index.contains(BlobKind::Data, c) {
                        node.damaged_content = true;
                        visit.missing_data.push(*c);
                    }
                }
            }
            NodeKind::Dir => match n.subtree {
                Some(sub) => node.subtrees.push(sub),
                None => visit.problems.push(Problem::TreeInvalid {
                    blob: *id,
                    message: format!(
                        "directory {:?} has no subtree",
                        String::from_utf8_lossy(&n.name)
                    ),
                }),
            },
            _ => {}
        }
    }
    visit.node = Some(node);
    visit
}

/// Count indexed blobs (in packs present) that no snapshot references.
fn unused_blobs(
    indexed: &BTreeMap<PackId, IndexedPack>,
    stored: &BTreeMap<PackId, u64>,
    graph: &TreeGraph,
    report: &mut CheckReport,
) {
    let mut seen: HashSet<(BlobId, BlobKind)> = HashSet::new();
    let (mut count, mut bytes) = (0u64, 0u64);
    for (id, p) in indexed {
        if !stored.contains_key(id) {
            continue;
        }
        for e in &p.entries {
            let used = match e.kind {
                BlobKind::Data => graph.data.contains(&e.id),
                BlobKind::Tree => graph.trees.contains_key(&e.id),
            };
            if !used && seen.insert((e.id, e.kind)) {
                count += 1;
                bytes += u64::from(e.length);
            }
        }
    }
    if count > 0 {
        report.info.push(Info::UnusedBlobs { count, bytes });
    }
}

/// Whether a tree (transitively) references a lost blob.
fn tainted(
    graph: &TreeGraph,
    lost: &HashMap<BlobId, usize>,
    id: &BlobId,
    memo: &mut HashMap<BlobId, bool>,
) -> bool {
    if let Some(t) = memo.get(id) {
        return *t;
    }
    // Provisionally clean: trees form a DAG, but a hostile repository
    // could hold a cycle, which must not recurse forever.
    memo.insert(*id, false);
    let t = lost.contains_key(id)
        || graph.trees.get(id).is_some_and(|node| {
            node.damaged_content || node.subtrees.iter().any(|s| tainted(graph, lost, s, memo))
        });
    memo.insert(*id, t);
    t
}

/// For every lost blob, the snapshots and paths that reference it.
fn name_damage(
    repo: &Repository,
    snapshots: &[(SnapshotId, repo_format::snapshot::Snapshot)],
    graph: &TreeGraph,
    lost: &HashMap<BlobId, usize>,
    report: &mut CheckReport,
) {
    if lost.is_empty() {
        return;
    }
    let mut memo = HashMap::new();
    for (sid, s) in snapshots {
        if !tainted(graph, lost, &s.tree, &mut memo) {
            continue;
        }
        // finding index → paths in this snapshot
        let mut hits: BTreeMap<usize, (Vec<PathBuf>, usize)> = BTreeMap::new();
        let mut record = |at: usize, path: &Path| {
            let (paths, more) = hits.entry(at).or_default();
            if paths.len() < PATHS_PER_SNAPSHOT {
                paths.push(path.to_path_buf());
            } else {
                *more += 1;
            }
        };
        if let Some(at) = lost.get(&s.tree) {
            record(*at, Path::new("/"));
        } else {
            let mut stack = vec![(s.tree, PathBuf::from("/"))];
            let mut visited = HashSet::new();
            while let Some((tree, at)) = stack.pop() {
                // A hostile repository could hold a cycle of trees, whose
                // paths would grow without end.
                if at.components().count() > MAX_DEPTH || !visited.insert((tree, at.clone())) {
                    continue;
                }
                let Ok(t) = repo.load_tree(&tree) else {
                    continue;
                };
                for n in &t.nodes {
                    let path = at.join(std::ffi::OsStr::from_bytes(&n.name));
                    if n.kind == NodeKind::File {
                        let mut named = BTreeSet::new();
                        for c in &n.content {
                            if let Some(f) = lost.get(c)
                                && named.insert(*f)
                            {
                                record(*f, &path);
                            }
                        }
                    }
                    if let (NodeKind::Dir, Some(sub)) = (n.kind, n.subtree) {
                        if let Some(f) = lost.get(&sub) {
                            record(*f, &path);
                        } else if tainted(graph, lost, &sub, &mut memo) {
                            stack.push((sub, path));
                        }
                    }
                }
            }
        }
        for (at, (paths, more)) in hits {
            if let Some(f) = report.findings.get_mut(at) {
                f.affected.push(Affected {
                    snapshot: *sid,
                    paths,
                    more,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(b: u8) -> PackId {
        PackId(Id([b; 32]))
    }

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

    #[test]
    fn compare_entries_ignores_order_and_names_differences() {
        let e = |o: u32| PackEntry {
            kind: BlobKind::Data,
            id: BlobId(Id([o as u8; 32])),
            offset: o,
            length: 1,
            raw_length: 1,
        };
        assert_eq!(compare_entries(&[e(0), e(1)], &[e(1), e(0)]), None);
        assert!(compare_entries(&[e(0), e(1)], &[e(0)]).is_some());
    }
}
