//! When the store received each snapshot: the time a snapshot's writer
//! does not control (SPEC.md §7.3, "Witnessed time").
//!
//! A snapshot's own time is whatever its writer put there: `backup --time`,
//! a wrong clock, or a compromised client of an append-only server dating
//! seven empty snapshots 2027 so that `forget --keep-daily 7` keeps them
//! and removes the real ones. The store's modification time of the
//! snapshot object is set by the store (a local directory's file system,
//! an object store, `vault serve` as it received the upload), so:
//!
//! - for retention and health a snapshot is never newer than when the
//!   store received it ([`Witnessed::effective`]): it cannot claim a day it
//!   had not been written by;
//! - a snapshot dated well after it was received, or well before (and
//!   not a copy), is reported ([`Witnessed::skewed`]) by `forget`,
//!   `check` and `health`.

use super::Repository;
use crate::error::Result;
use chrono::{DateTime, FixedOffset, Offset, Utc};
use repo_format::SnapshotId;
use repo_format::layout::FileKind;
use repo_format::snapshot::Snapshot;
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

/// How far a snapshot's own time may be from when the store received it
/// before it is reported (a backup that runs longer is measured from its
/// end; see [`Witnessed::skewed`]).
pub const DEFAULT_SKEW: Duration = Duration::from_secs(60 * 60);

/// The store's time of every snapshot object, by id.
#[derive(Clone, Debug, Default)]
pub struct Witnessed(HashMap<SnapshotId, DateTime<Utc>>);

impl Repository {
    /// When the store received each snapshot (one listing).
    pub fn witnessed(&self) -> Result<Witnessed> {
        Ok(Witnessed(
            self.backend()
                .list(FileKind::Snapshot)?
                .objects
                .into_iter()
                .map(|(id, meta)| (SnapshotId(id), meta.modified))
                .collect(),
        ))
    }
}

/// A snapshot whose own time is far from when the store received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skewed {
    /// The snapshot.
    pub id: SnapshotId,
    /// Its own time, in its own offset.
    pub own: DateTime<FixedOffset>,
    /// When the store received it.
    pub witnessed: DateTime<Utc>,
    /// Dated after it was received (the case that could poison
    /// retention); otherwise dated well before.
    pub ahead: bool,
}

impl fmt::Display for Skewed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
        let own = at(self.own.to_utc());
        let got = at(self.witnessed);
        if self.ahead {
            write!(
                f,
                "snapshot {} is dated {own} but the store received it at {got}: a wrong clock \
                 or a forged snapshot; retention and health count it as received",
                self.id.short()
            )
        } else {
            write!(
                f,
                "snapshot {} is dated {own} but the store received it only at {got}: \
                 a backdated (backup --time) or forged snapshot",
                self.id.short()
            )
        }
    }
}

impl Witnessed {
    /// From known times (tests, and callers that listed already).
    pub fn from_times(times: HashMap<SnapshotId, DateTime<Utc>>) -> Self {
        Witnessed(times)
    }

    /// When the store received `id`, if it listed it.
    pub fn get(&self, id: &SnapshotId) -> Option<DateTime<Utc>> {
        self.0.get(id).copied()
    }

    /// The time retention and health count for `s`: its own time (in its
    /// own offset; one out of range counts as UTC), but never later than
    /// when the store received it.
    pub fn effective(&self, id: &SnapshotId, s: &Snapshot) -> DateTime<FixedOffset> {
        let own = own_time(s);
        match self.get(id) {
            Some(got) if got < own => got.with_timezone(own.offset()),
            _ => own,
        }
    }

    /// The snapshots of `snapshots` dated more than `skew` after the store
    /// received them, or more than `skew` before the end of their backup
    /// was received (copies, which keep their original's time, are not).
    pub fn skewed<'a>(
        &self,
        snapshots: impl IntoIterator<Item = &'a (SnapshotId, Snapshot)>,
        skew: Duration,
    ) -> Vec<Skewed> {
        let skew = chrono::Duration::from_std(skew).unwrap_or(chrono::Duration::MAX);
        let mut found: Vec<Skewed> = snapshots
            .into_iter()
            .filter_map(|(id, s)| {
                let witnessed = self.get(id)?;
                let own = own_time(s);
                let end = s
                    .summary
                    .as_ref()
                    .and_then(|m| m.backup_end.to_utc())
                    .unwrap_or(own.to_utc())
                    .max(own.to_utc());
                let ahead = own.to_utc() > witnessed.checked_add_signed(skew)?;
                let behind = s.original.is_none() && end < witnessed.checked_sub_signed(skew)?;
                (ahead || behind).then_some(Skewed {
                    id: *id,
                    own,
                    witnessed,
                    ahead,
                })
            })
            .collect();
        found.sort_by_key(|s| (s.own, s.id));
        found
    }
}

/// A snapshot's own time in its own offset (one out of range counts as
/// UTC; a time beyond the calendar, as its earliest).
pub fn own_time(s: &Snapshot) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(s.utc_offset).unwrap_or(Utc.fix());
    s.time
        .to_utc()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
        .with_timezone(&offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use repo_format::Id;
    use repo_format::time::Timestamp;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn snapshot(time: &str) -> Snapshot {
        Snapshot {
            time: Timestamp::from_datetime(&at(time)),
            ..Snapshot::default()
        }
    }

    #[test]
    fn effective_time_is_never_after_the_store_received_it() {
        let id = SnapshotId(Id([1; 32]));
        let w = Witnessed::from_times(HashMap::from([(id, at("2026-12-07T10:00:00Z"))]));
        let fake = snapshot("2027-01-01T00:00:00Z");
        assert_eq!(w.effective(&id, &fake).to_utc(), at("2026-12-07T10:00:00Z"));
        let real = snapshot("2026-12-07T09:59:00Z");
        assert_eq!(w.effective(&id, &real).to_utc(), at("2026-12-07T09:59:00Z"));
        let unknown = SnapshotId(Id([2; 32]));
        assert_eq!(
            w.effective(&unknown, &fake).to_utc(),
            at("2027-01-01T00:00:00Z")
        );
    }

    #[test]
    fn skew_reports_future_and_backdated_snapshots_but_not_copies_or_long_backups() {
        let got = at("2026-12-07T10:00:00Z");
        let list: Vec<(SnapshotId, Snapshot)> = [
            ("2026-12-07T10:59:00Z", false, None), // clock a bit ahead
            ("2026-12-07T11:01:00Z", false, None), // ahead
            ("2026-12-07T08:59:00Z", false, None), // behind
            ("2026-12-07T08:59:00Z", true, None),  // a copy
            ("2026-12-07T06:00:00Z", false, Some("2026-12-07T09:58:00Z")), // a 4-hour backup
        ]
        .into_iter()
        .enumerate()
        .map(|(i, (time, copy, end))| {
            let mut s = snapshot(time);
            if copy {
                s.original = Some(SnapshotId(Id([9; 32])));
            }
            if let Some(end) = end {
                s.summary = Some(repo_format::snapshot::SnapshotSummary {
                    backup_end: Timestamp::from_datetime(&at(end)),
                    ..Default::default()
                });
            }
            (SnapshotId(Id([i as u8; 32])), s)
        })
        .collect();
        let w = Witnessed::from_times(list.iter().map(|(id, _)| (*id, got)).collect());
        let found = w.skewed(&list, DEFAULT_SKEW);
        let ids: Vec<(u8, bool)> = found.iter().map(|s| (s.id.0.0[0], s.ahead)).collect();
        assert_eq!(ids, vec![(2, false), (1, true)]);
        assert!(
            found[1]
                .to_string()
                .contains("dated 2026-12-07 11:01:00 UTC")
        );
    }
}
