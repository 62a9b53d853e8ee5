//! `find`: the entries of snapshots whose name, or path, matches a glob.
//!
//! Patterns have the meaning of the exclude patterns ([`crate::exclude`]):
//! a pattern without `/` is matched against the entry's name, one with `/`
//! against the trailing components of its absolute path, and one that
//! starts with `/` against the whole path. An optional modification-time
//! window narrows the matches.
//!
//! A [`Finder`] remembers which subtrees held no match, by tree id (and by
//! the directory's path when a pattern looks at paths), so a directory that
//! many snapshots share is searched once, not once per snapshot.

use crate::error::{Error, Result};
use crate::exclude::Patterns;
use crate::read::tree_walk::{EntryCount, EntryLimit};
use crate::repository::Repository;
use repo_format::tree::{Node, NodeKind, Timestamp};
use repo_format::{BlobId, Id};
use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What to look for.
#[derive(Clone, Debug, Default)]
pub struct FindOptions {
    /// Glob patterns; an entry matching any of them is found.
    pub patterns: Vec<String>,
    /// Match patterns without regard to case.
    pub ignore_case: bool,
    /// Only entries modified at or after this time.
    pub oldest: Option<Timestamp>,
    /// Only entries modified at or before this time.
    pub newest: Option<Timestamp>,
    /// The most entries below a snapshot's root (SPEC.md §10).
    pub max_entries: EntryLimit,
}

/// Searches snapshots, remembering the subtrees that held nothing.
#[derive(Debug)]
pub struct Finder {
    patterns: Patterns,
    oldest: Option<Timestamp>,
    newest: Option<Timestamp>,
    /// Whether a pattern looks at more than the name, so that whether a
    /// subtree matches depends on where it is.
    by_path: bool,
    /// Subtrees (see [`Finder::key`]) known to hold no match.
    barren: HashSet<Id>,
    max_entries: EntryLimit,
    /// Entries below the trees of the snapshots searched so far.
    counts: EntryCount,
}

impl Finder {
    /// Compile the options. At least one pattern is needed.
    pub fn new(options: &FindOptions) -> Result<Self> {
        let patterns = Patterns::new(&options.patterns, options.ignore_case)?;
        if patterns.is_empty() {
            return Err(Error::InvalidArgument {
                what: "pattern",
                detail: "give at least one pattern, e.g. '*.conf' or '/etc/**'".to_owned(),
            });
        }
        if let (Some(o), Some(n)) = (options.oldest, options.newest)
            && o > n
        {
            return Err(Error::InvalidArgument {
                what: "time window",
                detail: "--oldest is after --newest: swap them".to_owned(),
            });
        }
        let by_path = patterns
            .sources()
            .iter()
            .any(|p| p.trim().trim_end_matches('/').contains('/'));
        Ok(Finder {
            patterns,
            oldest: options.oldest,
            newest: options.newest,
            by_path,
            barren: HashSet::new(),
            max_entries: options.max_entries,
            counts: EntryCount::default(),
        })
    }

    /// Whether the entry `node` at `path` (absolute) is a match.
    pub fn matches(&self, path: &Path, node: &Node) -> bool {
        self.oldest.is_none_or(|t| node.mtime >= t)
            && self.newest.is_none_or(|t| node.mtime <= t)
            && self.patterns.matches(path)
    }

    /// Visit every match below the root tree `root` (a snapshot's tree), in
    /// depth-first order with its absolute path; returns how many there were.
    /// A snapshot with more entries than the limit is refused before the
    /// first visit.
    pub fn find(
        &mut self,
        repo: &Repository,
        root: &BlobId,
        visit: &mut dyn FnMut(&Path, &Node) -> Result<()>,
    ) -> Result<u64> {
        self.counts.check(repo, root, self.max_entries)?;
        self.tree(repo, root, Path::new("/"), visit)
    }

    fn tree(
        &mut self,
        repo: &Repository,
        id: &BlobId,
        at: &Path,
        visit: &mut dyn FnMut(&Path, &Node) -> Result<()>,
    ) -> Result<u64> {
        let key = self.key(id, at);
        if self.barren.contains(&key) {
            return Ok(0);
        }
        let tree = repo.load_tree(id)?;
        let mut hits = 0;
        for node in &tree.nodes {
            let path = at.join(OsStr::from_bytes(&node.name));
            if self.matches(&path, node) {
                visit(&path, node)?;
                hits += 1;
            }
            if node.kind == NodeKind::Dir
                && let Some(sub) = &node.subtree
            {
                hits += self.tree(repo, sub, &path, visit)?;
            }
        }
        if hits == 0 {
            self.barren.insert(key);
        }
        Ok(hits)
    }

    /// The tree's id, or with path patterns a hash of the id and the path
    /// it is found at.
    fn key(&self, id: &BlobId, at: &Path) -> Id {
        if !self.by_path {
            return id.0;
        }
        let path = at.as_os_str().as_bytes();
        let mut bytes = Vec::with_capacity(32 + path.len());
        bytes.extend_from_slice(id.as_bytes());
        bytes.extend_from_slice(path);
        Id::hash(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finder(patterns: &[&str], ignore_case: bool) -> Finder {
        Finder::new(&FindOptions {
            patterns: patterns.iter().map(|s| s.to_string()).collect(),
            ignore_case,
            ..FindOptions::default()
        })
        .unwrap()
    }

    fn file(secs: i64) -> Node {
        let mut n = Node::new(b"x".to_vec(), NodeKind::File);
        n.mtime = Timestamp { secs, nanos: 0 };
        n
    }

    #[test]
    fn finder_name_patterns_match_base_name_path_patterns_paths() {
        let f = finder(&["*.conf"], false);
        assert!(!f.by_path);
        assert!(f.matches(Path::new("/etc/a.conf"), &file(0)));
        assert!(!f.matches(Path::new("/etc/a.conf/b"), &file(0)));
        assert!(!f.matches(Path::new("/etc/A.CONF"), &file(0)));
        assert!(finder(&["*.conf"], true).matches(Path::new("/etc/A.CONF"), &file(0)));

        let f = finder(&["etc/*.conf"], false);
        assert!(f.by_path);
        assert!(f.matches(Path::new("/x/etc/a.conf"), &file(0)));
        assert!(!f.matches(Path::new("/x/usr/a.conf"), &file(0)));
        let f = finder(&["/etc/*"], false);
        assert!(f.matches(Path::new("/etc/a"), &file(0)));
        assert!(!f.matches(Path::new("/x/etc/a"), &file(0)));
    }

    #[test]
    fn finder_time_window_bounds_are_inclusive() {
        let f = Finder::new(&FindOptions {
            patterns: vec!["*".to_owned()],
            oldest: Some(Timestamp { secs: 10, nanos: 0 }),
            newest: Some(Timestamp { secs: 20, nanos: 0 }),
            ..FindOptions::default()
        })
        .unwrap();
        let p = Path::new("/a");
        assert!(!f.matches(p, &file(9)));
        assert!(f.matches(p, &file(10)));
        assert!(f.matches(p, &file(20)));
        assert!(!f.matches(p, &file(21)));
    }

    #[test]
    fn finder_without_pattern_or_with_reversed_window_is_error() {
        assert!(Finder::new(&FindOptions::default()).is_err());
        assert!(
            Finder::new(&FindOptions {
                patterns: vec!["a".to_owned()],
                oldest: Some(Timestamp { secs: 2, nanos: 0 }),
                newest: Some(Timestamp { secs: 1, nanos: 0 }),
                ..FindOptions::default()
            })
            .is_err()
        );
    }

    #[test]
    fn finder_key_depends_on_path_only_for_path_patterns() {
        let id = BlobId(Id([7; 32]));
        let f = finder(&["*.c"], false);
        assert_eq!(f.key(&id, Path::new("/a")), f.key(&id, Path::new("/b")));
        let f = finder(&["src/*.c"], false);
        assert_ne!(f.key(&id, Path::new("/a")), f.key(&id, Path::new("/b")));
    }
}
