//! `vault find`.

use crate::args::{FindArgs, Global};
use crate::exit;
use crate::output;
use anyhow::{Context, Result, bail};
use chrono::TimeZone;
use engine::read::find::{FindOptions, Finder};
use engine::read::snapshots::select_many;
use engine::repo_format::tree::Timestamp;
use serde_json::json;

/// Run `find`.
pub fn run(g: &Global, a: &FindArgs) -> Result<u8> {
    let mut finder = Finder::new(&FindOptions {
        patterns: a.patterns.clone(),
        ignore_case: a.ignore_case,
        oldest: a
            .oldest
            .as_deref()
            .map(|t| parse_time("--oldest", t))
            .transpose()?,
        newest: a
            .newest
            .as_deref()
            .map(|t| parse_time("--newest", t))
            .transpose()?,
        max_entries: a.limit.max_entries(),
    })?;
    let repo = super::open_with_index(g, super::Access::Read, "find")?;
    let chosen = select_many(repo.snapshots()?, &a.snapshots, &super::filter(&a.filter))?;
    // JSON: one array, written as the matches come, so that memory does not
    // grow with the number of matches.
    if g.json {
        out!("[");
    }
    let mut snapshots_with_hits = 0u64;
    for (id, snapshot) in &chosen {
        let mut hits = 0u64;
        finder
            .find(&repo, &snapshot.tree, &mut |path, node| {
                if hits == 0 {
                    let time = output::time(&snapshot.time, snapshot.utc_offset);
                    if g.json {
                        let head = json!({
                            "snapshot": id.to_hex(),
                            "short_id": id.short(),
                            "time": time,
                        })
                        .to_string();
                        // The object stays open for its matches and hits.
                        let head = head.strip_suffix('}').unwrap_or(&head);
                        let comma = if snapshots_with_hits > 0 { "," } else { "" };
                        out!("{comma}{head},\"matches\":[");
                    } else {
                        if snapshots_with_hits > 0 {
                            out!();
                        }
                        out!(
                            "Found matching entries in snapshot {} from {}",
                            id.short(),
                            time.get(..19).unwrap_or(&time).replace('T', " ")
                        );
                    }
                    snapshots_with_hits += 1;
                }
                if g.json {
                    let comma = if hits > 0 { "," } else { "" };
                    out!("{comma}{}", output::node_json(Some(path), node));
                } else {
                    super::read::print_node(g, a.long, path, node)?;
                }
                hits += 1;
                Ok(())
            })
            .with_context(|| format!("while searching snapshot {}", id.short()))?;
        if g.json && hits > 0 {
            out!("],\"hits\":{hits}}}");
        }
    }
    if g.json {
        out!("]");
    } else if snapshots_with_hits == 0 && !g.quiet {
        eprintln!(
            "no match in {} snapshot{}",
            chosen.len(),
            if chosen.len() == 1 { "" } else { "s" }
        );
    }
    Ok(exit::OK)
}

/// A time bound: RFC 3339, or `YYYY-MM-DD[ HH:MM[:SS]]` in local time.
fn parse_time(flag: &str, text: &str) -> Result<Timestamp> {
    let parsed = chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| (t.timestamp(), t.timestamp_subsec_nanos()))
        .ok()
        .or_else(|| {
            ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
                .iter()
                .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
                .or_else(|| {
                    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                })
                .and_then(|t| chrono::Local.from_local_datetime(&t).earliest())
                .map(|t| (t.timestamp(), 0))
        });
    match parsed {
        Some((secs, nanos)) => Ok(Timestamp { secs, nanos }),
        None => bail!(
            "invalid {flag} {text:?}: use RFC 3339 (2024-05-01T12:00:00Z) or YYYY-MM-DD[ HH:MM[:SS]]"
        ),
    }
}
