//! Snapshot selection: filters by host, tag and path, and resolution of a
//! snapshot argument (full id, unique prefix of at least 4 hex digits, or
//! `latest`).

use crate::error::{Error, Result};
use crate::prefix::{Matches, by_prefix};
use crate::repository::Repository;
use repo_format::SnapshotId;
use repo_format::snapshot::Snapshot;

pub use repo_format::snapshot::has_tags;

/// Narrows a list of snapshots. Empty lists match everything.
#[derive(Clone, Debug, Default)]
pub struct SnapshotFilter {
    /// Any of these hosts.
    pub hosts: Vec<String>,
    /// Any of these tag lists; a list `a,b` needs both tags.
    pub tags: Vec<String>,
    /// Any of these paths (the snapshot must contain the path).
    pub paths: Vec<String>,
}

impl SnapshotFilter {
    /// Whether `s` passes.
    pub fn matches(&self, s: &Snapshot) -> bool {
        let host = self.hosts.is_empty() || self.hosts.contains(&s.hostname);
        let tags = self.tags.is_empty() || self.tags.iter().any(|list| has_tags(&s.tags, list));
        let paths = self.paths.is_empty()
            || self.paths.iter().any(|p| {
                let p = p.trim_end_matches('/');
                s.paths
                    .iter()
                    .any(|sp| sp == p || (p.is_empty() && sp == "/"))
            });
        host && tags && paths
    }
}

/// Find the snapshot named by `arg` among those `filter` passes (the filter
/// narrows `latest`; an explicit id must also pass it).
pub fn find_snapshot(
    repo: &Repository,
    arg: &str,
    filter: &SnapshotFilter,
) -> Result<(SnapshotId, Snapshot)> {
    let all = repo.snapshots()?;
    select(all, arg, filter)
}

/// [`find_snapshot`] over an already loaded list (oldest first).
pub fn select(
    all: Vec<(SnapshotId, Snapshot)>,
    arg: &str,
    filter: &SnapshotFilter,
) -> Result<(SnapshotId, Snapshot)> {
    let mut candidates = all.into_iter().filter(|(_, s)| filter.matches(s));
    if arg == "latest" {
        return candidates
            .next_back()
            .ok_or_else(|| Error::SnapshotNotFound(arg.to_owned()));
    }
    let Some(matches) = by_prefix(arg, candidates, |(id, _)| &id.0) else {
        return Err(Error::InvalidArgument {
            what: "snapshot",
            detail: format!("{arg:?}: give 'latest' or at least 4 hex digits of a snapshot id"),
        });
    };
    match matches {
        Matches::One(found) => Ok(found),
        Matches::None => Err(Error::SnapshotNotFound(arg.to_owned())),
        Matches::Many(count) => Err(Error::AmbiguousSnapshot {
            prefix: arg.to_owned(),
            count,
        }),
    }
}

/// The snapshots named by `args` (each as [`select`] takes it), or with no
/// args every snapshot `filter` passes; oldest first, each once.
pub fn select_many(
    all: Vec<(SnapshotId, Snapshot)>,
    args: &[String],
    filter: &SnapshotFilter,
) -> Result<Vec<(SnapshotId, Snapshot)>> {
    if args.is_empty() {
        return Ok(all.into_iter().filter(|(_, s)| filter.matches(s)).collect());
    }
    let mut chosen = std::collections::HashSet::new();
    for arg in args {
        chosen.insert(select(all.clone(), arg, filter)?.0);
    }
    Ok(all
        .into_iter()
        .filter(|(id, _)| chosen.contains(id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use repo_format::tree::Timestamp;

    fn list() -> Vec<(SnapshotId, Snapshot)> {
        ["aaaa01", "aaaa02", "bbbb01"]
            .iter()
            .enumerate()
            .map(|(i, prefix)| {
                let id = SnapshotId::from_hex(&format!("{prefix:0<64}")).unwrap();
                let snapshot = Snapshot {
                    time: Timestamp {
                        secs: i as i64,
                        nanos: 0,
                    },
                    paths: vec!["/src".to_owned()],
                    hostname: if i == 2 { "b" } else { "a" }.to_owned(),
                    ..Snapshot::default()
                };
                (id, snapshot)
            })
            .collect()
    }

    fn ids(found: &[(SnapshotId, Snapshot)]) -> Vec<String> {
        found
            .iter()
            .map(|(id, _)| id.to_hex()[..6].to_owned())
            .collect()
    }

    #[test]
    fn select_many_no_args_is_every_filtered_snapshot_oldest_first() {
        let all = select_many(list(), &[], &SnapshotFilter::default()).unwrap();
        assert_eq!(ids(&all), ["aaaa01", "aaaa02", "bbbb01"]);
        let host_a = SnapshotFilter {
            hosts: vec!["a".to_owned()],
            ..SnapshotFilter::default()
        };
        assert_eq!(
            ids(&select_many(list(), &[], &host_a).unwrap()),
            ["aaaa01", "aaaa02"]
        );
        let latest = select_many(list(), &["latest".to_owned()], &host_a).unwrap();
        assert_eq!(ids(&latest), ["aaaa02"]);
    }

    #[test]
    fn select_many_args_each_once_in_time_order_errors_named() {
        let args: Vec<String> = ["bbbb", "aaaa01", "latest", "bbbb01"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let found = select_many(list(), &args, &SnapshotFilter::default()).unwrap();
        assert_eq!(ids(&found), ["aaaa01", "bbbb01"]);
        let f = SnapshotFilter::default();
        assert!(matches!(
            select_many(list(), &["aaaa".to_owned()], &f),
            Err(Error::AmbiguousSnapshot { count: 2, .. })
        ));
        assert!(matches!(
            select_many(list(), &["cccc".to_owned()], &f),
            Err(Error::SnapshotNotFound(_))
        ));
        assert!(matches!(
            select_many(list(), &["xy".to_owned()], &f),
            Err(Error::InvalidArgument { .. })
        ));
    }
}
