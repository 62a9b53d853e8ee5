//! Changing the tags of snapshots (`vault tag`). Objects are immutable, so a
//! snapshot whose tags change is written anew, with `original` naming the
//! snapshot it started as, and the old object is then removed (restic's
//! semantics). A crash in between leaves both: a duplicate, never a loss.

use crate::error::Result;
use crate::repository::Repository;
use repo_format::SnapshotId;
use repo_format::snapshot::Snapshot;

/// A change of tags: `--set` replaces them all, or `--add` then `--remove`.
/// Each entry may hold several tags separated by commas.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagChange {
    /// `--set` (given, possibly empty: `--set ''` removes every tag).
    pub set: Option<Vec<String>>,
    /// `--add`.
    pub add: Vec<String>,
    /// `--remove`.
    pub remove: Vec<String>,
}

fn split(lists: &[String]) -> impl Iterator<Item = String> + '_ {
    lists
        .iter()
        .flat_map(|l| l.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

impl TagChange {
    /// Whether the change does nothing to any snapshot.
    pub fn is_empty(&self) -> bool {
        self.set.is_none()
            && split(&self.add).next().is_none()
            && split(&self.remove).next().is_none()
    }

    /// The tags after the change: sorted and unique, as snapshots store them.
    pub fn apply(&self, tags: &[String]) -> Vec<String> {
        let mut out: Vec<String> = match &self.set {
            Some(set) => split(set).collect(),
            None => {
                let removed: Vec<String> = split(&self.remove).collect();
                tags.iter()
                    .cloned()
                    .chain(split(&self.add))
                    .filter(|t| !removed.contains(t))
                    .collect()
            }
        };
        out.sort();
        out.dedup();
        out
    }
}

/// Apply `change` to the snapshot `id`; returns the new snapshot's id, or
/// `None` when its tags stay as they are (then nothing is written).
pub fn retag(
    repo: &Repository,
    id: SnapshotId,
    snapshot: &Snapshot,
    change: &TagChange,
) -> Result<Option<SnapshotId>> {
    let tags = change.apply(&snapshot.tags);
    if tags == snapshot.tags {
        return Ok(None);
    }
    let changed = Snapshot {
        tags,
        original: snapshot.original.or(Some(id)),
        ..snapshot.clone()
    };
    // The new snapshot is written before the old one is deleted: ask first,
    // so that an append-only server does not end up with both.
    repo.backend().ensure_deletable()?;
    let new_id = repo.save_snapshot(&changed)?;
    repo.delete_snapshot(&id)?;
    Ok(Some(new_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn tag_change_add_remove_and_set() {
        let have = tags(&["b", "d"]);
        let add = TagChange {
            add: tags(&["c,a", " b "]),
            ..TagChange::default()
        };
        assert_eq!(add.apply(&have), tags(&["a", "b", "c", "d"]));
        let both = TagChange {
            add: tags(&["a"]),
            remove: tags(&["d,a", "zz"]),
            ..TagChange::default()
        };
        assert_eq!(both.apply(&have), tags(&["b"]));
        let set = TagChange {
            set: Some(tags(&["y,x"])),
            ..TagChange::default()
        };
        assert_eq!(set.apply(&have), tags(&["x", "y"]));
        let clear = TagChange {
            set: Some(tags(&[""])),
            ..TagChange::default()
        };
        assert!(clear.apply(&have).is_empty());
        assert!(!clear.is_empty());
        assert!(TagChange::default().is_empty());
        assert!(
            TagChange {
                add: tags(&[","]),
                ..TagChange::default()
            }
            .is_empty()
        );
    }
}
