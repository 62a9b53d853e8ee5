//! `vault list`: the ids of the objects of one kind, as restic's `list`.

use crate::args::{Global, ListArgs, ListKind};
use crate::exit;
use crate::output;
use anyhow::Result;
use engine::repo_format::layout::FileKind;

/// Run `list`. Listing locks takes no lock (it would list itself).
pub fn run(g: &Global, a: &ListArgs) -> Result<u8> {
    let kind = match a.kind {
        ListKind::Packs => FileKind::Pack,
        ListKind::Index => FileKind::Index,
        ListKind::Snapshots => FileKind::Snapshot,
        ListKind::Keys => FileKind::Key,
        ListKind::Locks => FileKind::Lock,
    };
    let (session, unlocked);
    let repo: &engine::Repository = if matches!(a.kind, ListKind::Locks) {
        unlocked = super::open_unlocked(g)?;
        unlocked.require_full_key()?;
        &unlocked
    } else {
        session = super::open(g, super::Access::Read, "list")?;
        &session
    };
    let mut ids: Vec<String> = repo.list_ids(kind)?.iter().map(|id| id.to_hex()).collect();
    ids.sort();
    if g.json {
        output::print_json(&serde_json::json!(ids))?;
    } else {
        for id in ids {
            out!("{id}");
        }
    }
    Ok(exit::OK)
}
