//! `vault unlock`.

use crate::args::{Global, UnlockArgs};
use crate::exit;
use crate::output;
use anyhow::Result;
use serde_json::json;

/// Run `unlock`: remove stale locks, or all with `--remove-all`. Takes no
/// lock itself.
pub fn run(g: &Global, a: &UnlockArgs) -> Result<u8> {
    let repo = super::open_unlocked(g)?;
    repo.require_full_key()?;
    let removed = engine::repository::lock::unlock(&repo, a.remove_all)?;
    if g.json {
        output::print_json(&json!({ "removed": removed }))?;
    } else if !g.quiet {
        out!("removed {removed} lock(s)");
    }
    Ok(exit::OK)
}
