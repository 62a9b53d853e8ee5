//! `vault tag`: add, remove or replace the tags of snapshots. Each changed
//! snapshot is written anew and the old one removed (`engine::maintenance::tag`).

use crate::args::{Global, TagArgs};
use crate::exit;
use crate::output;
use anyhow::{Context, Result, bail};
use engine::maintenance::tag::{TagChange, retag};
use engine::read::snapshots::select_many;
use engine::repository::lock::LockKind;
use serde_json::json;

/// Run `tag`.
pub fn run(g: &Global, a: &TagArgs) -> Result<u8> {
    let change = TagChange {
        set: a.set.clone(),
        add: a.add.clone(),
        remove: a.remove.clone(),
    };
    if change.is_empty() {
        bail!("nothing to change: give --add TAG, --remove TAG or --set TAG");
    }
    let repo = super::open(g, super::Access::Write(LockKind::Maintenance), "tag")?;
    let targets = select_many(repo.snapshots()?, &a.snapshots, &super::filter(&a.filter))?;
    let mut changed = Vec::new();
    for (id, snapshot) in &targets {
        let new = retag(&repo, *id, snapshot, &change)
            .with_context(|| format!("while changing the tags of snapshot {}", id.short()))?;
        if let Some(new) = new {
            if g.verbose > 0 && !g.quiet && !g.json {
                out!("snapshot {} is now {}", id.short(), new.short());
            }
            changed.push((*id, new));
        }
    }
    if g.json {
        output::print_json(&json!({
            "changed_snapshots": changed.len(),
            "snapshots": changed
                .iter()
                .map(|(old, new)| json!({"old_id": old.to_hex(), "new_id": new.to_hex()}))
                .collect::<Vec<_>>(),
        }))?;
    } else if !g.quiet {
        out!("changed the tags of {} snapshots", changed.len());
    }
    Ok(exit::OK)
}
