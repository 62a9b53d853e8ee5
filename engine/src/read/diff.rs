//! `diff`: what changed between two snapshots, with restic's modifiers —
//! `+` added, `-` removed, `M` content changed (`M?` when every other
//! field is equal: the data changed behind an unchanged file, e.g. bit
//! rot), `T` type changed, and with [`DiffOptions::metadata`] `U` for an
//! entry whose content is the same but whose metadata (mode, owner, times,
//! extended attributes…; not the access time) changed.
//!
//! Directories with the same tree id on both sides are identical and are
//! not compared entry by entry. The byte totals count the distinct blobs
//! (data and tree) that only one snapshot refers to; to be exact they must
//! know the blobs of the identical subtrees too (a blob "added" in a changed
//! file may already sit in an unchanged one), so those subtrees are read
//! afterwards — only when some blob is a candidate, each distinct tree
//! once, and only until every candidate is settled.

use crate::error::Result;
use crate::read::tree_walk::{EntryCount, EntryLimit};
use crate::repository::Repository;
use crate::repository::index::Index;
use crate::repository::index::{BlobSet, BlobTotals};
use repo_format::BlobId;
use repo_format::crypto::BlobKind;
use repo_format::tree::{Node, NodeKind};
use std::cmp::Ordering;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Options of [`diff`].
#[derive(Clone, Copy, Debug, Default)]
pub struct DiffOptions {
    /// Report entries whose metadata alone changed (`U`).
    pub metadata: bool,
    /// The most entries each side may describe: a diff visits at most both
    /// sides' entries, which a tree naming a subtree many times makes
    /// astronomical (SPEC.md §10).
    pub max_entries: EntryLimit,
}

/// How an entry changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Modifier {
    /// Only in the second snapshot.
    Added,
    /// Only in the first snapshot.
    Removed,
    /// A different kind of entry (file, directory, link…) with that name.
    TypeChanged,
    /// A file whose content changed.
    ContentChanged,
    /// A file whose content changed while every other field stayed equal.
    ContentChangedSameMetadata,
    /// Same content, changed metadata.
    MetadataChanged,
}

impl Modifier {
    /// restic's symbol: `+`, `-`, `T`, `M`, `M?`, `U`.
    pub fn as_str(self) -> &'static str {
        match self {
            Modifier::Added => "+",
            Modifier::Removed => "-",
            Modifier::TypeChanged => "T",
            Modifier::ContentChanged => "M",
            Modifier::ContentChangedSameMetadata => "M?",
            Modifier::MetadataChanged => "U",
        }
    }
}

/// One changed entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Absolute path inside the snapshots.
    pub path: PathBuf,
    /// Kind of the entry (in the second snapshot, when present there).
    pub kind: NodeKind,
    /// How it changed.
    pub modifier: Modifier,
}

/// Entries and blobs on one side of a diff.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiffCounts {
    /// Regular files.
    pub files: u64,
    /// Directories.
    pub dirs: u64,
    /// Other entries (links, devices, fifos, sockets).
    pub others: u64,
    /// Distinct blobs on this side only, with their sizes.
    pub blobs: BlobTotals,
}

impl DiffCounts {
    fn count(&mut self, kind: NodeKind) {
        match kind {
            NodeKind::File => self.files += 1,
            NodeKind::Dir => self.dirs += 1,
            _ => self.others += 1,
        }
    }
}

/// What [`diff`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiffStats {
    /// Files whose content changed.
    pub changed_files: u64,
    /// Entries and blobs only in the second snapshot.
    pub added: DiffCounts,
    /// Entries and blobs only in the first snapshot.
    pub removed: DiffCounts,
}

/// Compare the trees `before` and `after` (snapshot roots, or two
/// directories' trees), calling `on_change` for each change in path order.
pub fn diff(
    repo: &Repository,
    before: &BlobId,
    after: &BlobId,
    options: &DiffOptions,
    on_change: &mut dyn FnMut(&Change) -> Result<()>,
) -> Result<DiffStats> {
    if before == after {
        return Ok(DiffStats::default());
    }
    let mut count = EntryCount::default();
    for tree in [before, after] {
        count.check(repo, tree, options.max_entries)?;
    }
    let empty = BlobSet::for_index(&repo.index());
    let mut d = Differ {
        repo,
        options: *options,
        on_change,
        before: empty.clone(),
        after: empty.clone(),
        common: Vec::new(),
        stats: DiffStats::default(),
    };
    d.trees(before, after, Path::new("/"))?;
    let Differ {
        mut before,
        mut after,
        common,
        mut stats,
        ..
    } = d;
    let mut both = before.clone();
    both.retain_in(&after);
    before.remove_all(&both);
    after.remove_all(&both);
    if !before.is_empty() || !after.is_empty() {
        let shared = common_blobs(repo, &common, &before, &after, empty)?;
        before.remove_all(&shared);
        after.remove_all(&shared);
    }
    let index = repo.index();
    stats.removed.blobs = before.totals(&index)?;
    stats.added.blobs = after.totals(&index)?;
    Ok(stats)
}

/// Which side of the diff a subtree is on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Before,
    After,
}

struct Differ<'a, 'f> {
    repo: &'a Repository,
    options: DiffOptions,
    on_change: &'f mut dyn FnMut(&Change) -> Result<()>,
    /// Blobs met in the first snapshot outside identical subtrees.
    before: BlobSet,
    /// Blobs met in the second snapshot outside identical subtrees.
    after: BlobSet,
    /// The identical subtrees, to be read only if the byte totals need them.
    common: Vec<BlobId>,
    stats: DiffStats,
}

impl Differ<'_, '_> {
    fn set(&mut self, side: Side) -> &mut BlobSet {
        match side {
            Side::Before => &mut self.before,
            Side::After => &mut self.after,
        }
    }

    /// Load a tree and record it and its files' data blobs on `side`.
    fn load(&mut self, id: &BlobId, side: Side) -> Result<Vec<Node>> {
        let repo = self.repo;
        let tree = repo.load_tree(id)?;
        let index = repo.index();
        let set = self.set(side);
        set.insert_blob(&index, BlobKind::Tree, id)?;
        for node in &tree.nodes {
            set.insert_content(&index, node)?;
        }
        Ok(tree.nodes)
    }

    /// Whether the tree was loaded on `side` already.
    fn loaded(&mut self, id: &BlobId, side: Side) -> Result<bool> {
        let repo = self.repo;
        let index = repo.index();
        Ok(index
            .position(BlobKind::Tree, id)?
            .is_some_and(|p| self.set(side).contains(p)))
    }

    fn emit(&mut self, path: PathBuf, kind: NodeKind, modifier: Modifier) -> Result<()> {
        (self.on_change)(&Change {
            path,
            kind,
            modifier,
        })
    }

    fn trees(&mut self, before: &BlobId, after: &BlobId, at: &Path) -> Result<()> {
        let old = self.load(before, Side::Before)?;
        let new = self.load(after, Side::After)?;
        let (mut old, mut new) = (old.iter().peekable(), new.iter().peekable());
        loop {
            let order = match (old.peek(), new.peek()) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(a), Some(b)) => a.name.cmp(&b.name),
            };
            match order {
                Ordering::Less => {
                    if let Some(a) = old.next() {
                        self.one_side(a, at, Side::Before)?;
                    }
                }
                Ordering::Greater => {
                    if let Some(b) = new.next() {
                        self.one_side(b, at, Side::After)?;
                    }
                }
                Ordering::Equal => {
                    if let (Some(a), Some(b)) = (old.next(), new.next()) {
                        self.both(a, b, at)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// An entry present on one side only, with everything below it.
    fn one_side(&mut self, node: &Node, at: &Path, side: Side) -> Result<()> {
        let path = at.join(OsStr::from_bytes(&node.name));
        let (modifier, counts) = match side {
            Side::Before => (Modifier::Removed, &mut self.stats.removed),
            Side::After => (Modifier::Added, &mut self.stats.added),
        };
        counts.count(node.kind);
        self.emit(path.clone(), node.kind, modifier)?;
        if node.kind == NodeKind::Dir
            && let Some(sub) = &node.subtree
        {
            let nodes = self.load(sub, side)?;
            for child in &nodes {
                self.one_side(child, &path, side)?;
            }
        }
        Ok(())
    }

    /// An entry present on both sides.
    fn both(&mut self, a: &Node, b: &Node, at: &Path) -> Result<()> {
        let path = at.join(OsStr::from_bytes(&b.name));
        let modifier = if a.kind != b.kind {
            Some(Modifier::TypeChanged)
        } else if a.kind == NodeKind::File && a.content != b.content {
            self.stats.changed_files += 1;
            Some(if same_metadata(a, b) {
                Modifier::ContentChangedSameMetadata
            } else {
                Modifier::ContentChanged
            })
        } else if self.options.metadata && !same_metadata(a, b) {
            Some(Modifier::MetadataChanged)
        } else {
            None
        };
        if let Some(m) = modifier {
            self.emit(path.clone(), b.kind, m)?;
        }
        let sub = |n: &Node| n.subtree.filter(|_| n.kind == NodeKind::Dir);
        match (sub(a), sub(b)) {
            (Some(x), Some(y)) if x == y => self.common.push(x),
            (Some(x), Some(y)) => self.trees(&x, &y, &path)?,
            (Some(x), None) => self.collect(&x, Side::Before)?,
            (None, Some(y)) => self.collect(&y, Side::After)?,
            (None, None) => {}
        }
        Ok(())
    }

    /// Record the blobs below a directory that changed into something else
    /// (restic lists no entries below it).
    fn collect(&mut self, id: &BlobId, side: Side) -> Result<()> {
        if self.loaded(id, side)? {
            return Ok(());
        }
        let nodes = self.load(id, side)?;
        for node in &nodes {
            if node.kind == NodeKind::Dir
                && let Some(sub) = &node.subtree
            {
                self.collect(sub, side)?;
            }
        }
        Ok(())
    }
}

/// The blobs of the identical subtrees that are among the candidates
/// (`before` and `after`, the blobs seen on one side only so far).
fn common_blobs(
    repo: &Repository,
    roots: &[BlobId],
    before: &BlobSet,
    after: &BlobSet,
    empty: BlobSet,
) -> Result<BlobSet> {
    let mut walk = Common {
        repo,
        candidates: before.clone(),
        seen: empty.clone(),
        found: empty,
        left: 0,
    };
    walk.candidates.union_with(after);
    walk.left = walk.candidates.len();
    for root in roots {
        if walk.left == 0 {
            break;
        }
        walk.tree(root)?;
    }
    Ok(walk.found)
}

struct Common<'a> {
    repo: &'a Repository,
    candidates: BlobSet,
    /// Trees read.
    seen: BlobSet,
    /// Candidates met in an identical subtree.
    found: BlobSet,
    /// Candidates not met yet.
    left: usize,
}

impl Common<'_> {
    fn note(&mut self, index: &Index, kind: BlobKind, id: &BlobId) -> Result<()> {
        let position = index
            .position(kind, id)?
            .ok_or_else(|| crate::Error::BlobNotIndexed(id.to_hex()))?;
        if self.candidates.contains(position) && self.found.insert(position) {
            self.left -= 1;
        }
        Ok(())
    }

    fn tree(&mut self, id: &BlobId) -> Result<()> {
        {
            let index = self.repo.index();
            let Some(position) = index.position(BlobKind::Tree, id)? else {
                return Err(crate::Error::BlobNotIndexed(id.to_hex()));
            };
            if !self.seen.insert(position) {
                return Ok(());
            }
            self.note(&index, BlobKind::Tree, id)?;
        }
        let tree = self.repo.load_tree(id)?;
        {
            let index = self.repo.index();
            for node in &tree.nodes {
                for c in node.content.iter().filter(|_| node.kind == NodeKind::File) {
                    self.note(&index, BlobKind::Data, c)?;
                }
            }
        }
        for node in &tree.nodes {
            if self.left == 0 {
                break;
            }
            if node.kind == NodeKind::Dir
                && let Some(sub) = &node.subtree
            {
                self.tree(sub)?;
            }
        }
        Ok(())
    }
}

/// Whether two entries agree on everything but their name, content, subtree
/// and access time (which reading alone changes).
fn same_metadata(a: &Node, b: &Node) -> bool {
    a.kind == b.kind
        && a.mode == b.mode
        && a.uid == b.uid
        && a.gid == b.gid
        && a.user == b.user
        && a.group == b.group
        && a.mtime == b.mtime
        && a.ctime == b.ctime
        && a.size == b.size
        && a.inode == b.inode
        && a.device_id == b.device_id
        && a.links == b.links
        && a.rdev == b.rdev
        && a.link_target == b.link_target
        && a.xattrs == b.xattrs
}

#[cfg(test)]
mod tests {
    use super::*;
    use repo_format::tree::Timestamp;

    #[test]
    fn same_metadata_ignores_content_subtree_and_access_time() {
        let mut a = Node::new(b"f".to_vec(), NodeKind::File);
        a.mode = 0o644;
        let mut b = a.clone();
        b.content = vec![BlobId::default()];
        b.atime = Timestamp { secs: 5, nanos: 0 };
        b.subtree = Some(BlobId::default());
        assert!(same_metadata(&a, &b));
        b.mode = 0o600;
        assert!(!same_metadata(&a, &b));
        let mut c = a.clone();
        c.ctime = Timestamp { secs: 1, nanos: 0 };
        assert!(!same_metadata(&a, &c));
    }

    #[test]
    fn modifier_symbols_are_restics() {
        let all = [
            Modifier::Added,
            Modifier::Removed,
            Modifier::TypeChanged,
            Modifier::ContentChanged,
            Modifier::ContentChangedSameMetadata,
            Modifier::MetadataChanged,
        ];
        let symbols: Vec<&str> = all.iter().map(|m| m.as_str()).collect();
        assert_eq!(symbols, ["+", "-", "T", "M", "M?", "U"]);
    }
}
