//! Deletion notices (SPEC.md §7.6): the packs a prune condemned, waiting
//! until every lock session that might still use them has ended. Prune
//! writes and finishes them; check reports the packs they hold.

use crate::error::{Error, Result};
use crate::repository::Repository;
use repo_format::Id;
use repo_format::crypto::ObjectKind;
use repo_format::deletion::Deletion;
use repo_format::layout::{FileKind, ObjectName};

/// Every deletion notice in the store, each with its own outcome.
pub fn read_notices(repo: &Repository) -> Result<Vec<(Id, Result<Deletion>)>> {
    Ok(repo
        .list_ids(FileKind::Deletion)?
        .into_iter()
        .map(|id| {
            let notice = repo
                .load_object(FileKind::Deletion, ObjectKind::Deletion, &id)
                .and_then(|payload| {
                    Deletion::decode(&payload).map_err(|e| {
                        Error::format(ObjectName::new(FileKind::Deletion, id).path(), e)
                    })
                });
            (id, notice)
        })
        .collect())
}

/// Every readable deletion notice. A damaged one is left out: its packs
/// are in no index, so the next plan condemns them again under a new
/// notice, and prune then removes the damaged one.
pub fn pending_notices(repo: &Repository) -> Result<Vec<(Id, Deletion)>> {
    Ok(read_notices(repo)?
        .into_iter()
        .filter_map(|(id, n)| n.ok().map(|n| (id, n)))
        .collect())
}
