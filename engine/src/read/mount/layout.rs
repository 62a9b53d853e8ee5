//! The virtual directories above the snapshots of a mount (`snapshots/`,
//! `ids/`, `hosts/`, `tags/`), built from one listing of the snapshots,
//! and the inode numbers of their entries.

use super::ROOT;
use crate::read::tree_walk::root_node;
use repo_format::SnapshotId;
use repo_format::snapshot::Snapshot;
use repo_format::tree::{Node, Timestamp};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

/// A virtual directory above the snapshots.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum VirtualDir {
    Root,
    Snapshots,
    Ids,
    Hosts,
    Host(String),
    Tags,
    Tag(String),
}

/// What an inode is.
#[derive(Clone, Debug)]
pub(super) enum What {
    Virtual(VirtualDir),
    /// A snapshot's root, or an entry of one of its trees.
    Node(Arc<Node>),
    /// `latest`: a symlink to a sibling.
    Link(Vec<u8>),
}

/// A name in a virtual directory.
#[derive(Clone, Debug)]
pub(super) enum Child {
    Dir(VirtualDir),
    Snapshot(usize),
    Link(Vec<u8>),
}

/// The virtual directories, built from one listing of the snapshots.
pub(super) struct Layout {
    pub(super) snapshots: Vec<(SnapshotId, Snapshot)>,
    pub(super) dirs: HashMap<VirtualDir, BTreeMap<Vec<u8>, Child>>,
    pub(super) newest: Timestamp,
    pub(super) listed_at: Instant,
}

/// The inode number of `name` in `parent` (with `snapshot` for a
/// snapshot's root, so that another snapshot under the same name later is
/// another inode). Never 0 or [`ROOT`].
pub(super) fn child_ino(parent: u64, name: &[u8], snapshot: Option<&SnapshotId>) -> u64 {
    let mut h = DefaultHasher::new();
    parent.hash(&mut h);
    name.hash(&mut h);
    snapshot.hash(&mut h);
    match h.finish() {
        0 | ROOT => 2,
        n => n,
    }
}

/// `secs` as RFC 3339 in UTC to the second: `2024-05-01T12:00:00Z`.
fn time_name(time: &Timestamp) -> String {
    chrono::DateTime::from_timestamp(time.secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| time.secs.to_string())
}

/// A host or tag as a directory name: `/` and NUL become `_`; an empty
/// name, `.` and `..` have no directory.
fn dir_name(text: &str) -> Option<String> {
    let name: String = text
        .chars()
        .map(|c| if c == '/' || c == '\0' { '_' } else { c })
        .collect();
    (!name.is_empty() && name != "." && name != "..").then_some(name)
}

impl Layout {
    pub(super) fn build(snapshots: Vec<(SnapshotId, Snapshot)>) -> Layout {
        let mut dirs = HashMap::new();
        let root: BTreeMap<Vec<u8>, Child> = [
            ("hosts", VirtualDir::Hosts),
            ("ids", VirtualDir::Ids),
            ("snapshots", VirtualDir::Snapshots),
            ("tags", VirtualDir::Tags),
        ]
        .into_iter()
        .map(|(n, d)| (n.as_bytes().to_vec(), Child::Dir(d)))
        .collect();
        dirs.insert(VirtualDir::Root, root);
        dirs.insert(
            VirtualDir::Snapshots,
            timeline(&snapshots, 0..snapshots.len()),
        );
        let mut shorts: HashMap<String, usize> = HashMap::new();
        for (id, _) in &snapshots {
            *shorts.entry(id.short()).or_default() += 1;
        }
        let ids = snapshots
            .iter()
            .enumerate()
            .map(|(i, (id, _))| {
                let short = id.short();
                let name = match shorts.get(&short) {
                    Some(1) => short,
                    _ => id.to_hex(),
                };
                (name.into_bytes(), Child::Snapshot(i))
            })
            .collect();
        dirs.insert(VirtualDir::Ids, ids);
        let mut hosts: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut tags: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, (_, s)) in snapshots.iter().enumerate() {
            if let Some(host) = dir_name(&s.hostname) {
                hosts.entry(host).or_default().push(i);
            }
            let named: HashSet<String> = s.tags.iter().filter_map(|t| dir_name(t)).collect();
            for tag in named {
                tags.entry(tag).or_default().push(i);
            }
        }
        for (groups, top, each) in [
            (
                hosts,
                VirtualDir::Hosts,
                VirtualDir::Host as fn(String) -> _,
            ),
            (tags, VirtualDir::Tags, VirtualDir::Tag),
        ] {
            let mut listing = BTreeMap::new();
            for (name, members) in groups {
                let dir = each(name.clone());
                dirs.insert(dir.clone(), timeline(&snapshots, members.into_iter()));
                listing.insert(name.into_bytes(), Child::Dir(dir));
            }
            dirs.insert(top, listing);
        }
        let newest = snapshots
            .iter()
            .map(|(_, s)| s.time)
            .max()
            .unwrap_or_default();
        Layout {
            snapshots,
            dirs,
            newest,
            listed_at: Instant::now(),
        }
    }

    /// The inode number and meaning of `name` (a `child`) in `parent`.
    pub(super) fn child(&self, parent: u64, name: &[u8], child: &Child) -> (u64, What) {
        match child {
            Child::Dir(dir) => (child_ino(parent, name, None), What::Virtual(dir.clone())),
            Child::Link(target) => (child_ino(parent, name, None), What::Link(target.clone())),
            Child::Snapshot(i) => match self.snapshots.get(*i) {
                Some((id, s)) => {
                    let mut node = root_node(s.tree);
                    node.name = name.to_vec();
                    node.uid = s.uid;
                    node.gid = s.gid;
                    node.mtime = s.time;
                    node.atime = s.time;
                    node.ctime = s.time;
                    (
                        child_ino(parent, name, Some(id)),
                        What::Node(Arc::new(node)),
                    )
                }
                None => (child_ino(parent, name, None), What::Link(Vec::new())),
            },
        }
    }
}

/// The snapshots `members` (oldest first) by time name, with `-1`, `-2` …
/// after equal times, and `latest` pointing at the newest.
fn timeline(
    snapshots: &[(SnapshotId, Snapshot)],
    members: impl Iterator<Item = usize>,
) -> BTreeMap<Vec<u8>, Child> {
    let mut out = BTreeMap::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut last = None;
    for i in members {
        let Some((_, s)) = snapshots.get(i) else {
            continue;
        };
        let base = time_name(&s.time);
        let count = seen.entry(base.clone()).or_default();
        let name = match *count {
            0 => base,
            n => format!("{base}-{n}"),
        };
        *count += 1;
        out.insert(name.clone().into_bytes(), Child::Snapshot(i));
        last = Some(name);
    }
    if let Some(name) = last {
        out.insert(b"latest".to_vec(), Child::Link(name.into_bytes()));
    }
    out
}
