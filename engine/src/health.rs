//! Health verdicts (`vault health`): is a source's newest backup fresh and
//! of its usual size, and is the repository checked often enough? Pure
//! judgement over what the snapshots or the signed heartbeats (SPEC.md
//! §7.7) say, so that a monitor can call it without the CLI.

use chrono::{DateTime, Utc};
use repo_format::SnapshotId;
use repo_format::heartbeat::Heartbeat;
use repo_format::snapshot::Snapshot;
use std::time::Duration;

/// How many earlier sizes the median is taken over by default.
pub const DEFAULT_SIZE_HISTORY: usize = 5;

/// What is known of a source's newest backup (or drill).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Last {
    /// When it was taken.
    pub time: Option<DateTime<Utc>>,
    /// Bytes it read.
    pub bytes: u64,
    /// How long it took.
    pub seconds: Option<f64>,
    /// Files it read.
    pub files: u64,
    /// Files it could not read, when known.
    pub errors: Option<u64>,
    /// The snapshot it made, in hex.
    pub snapshot: Option<String>,
    /// Earlier sizes, newest first.
    pub history: Vec<u64>,
}

impl Last {
    /// What a heartbeat says.
    pub fn from_heartbeat(b: &Heartbeat) -> Last {
        Last {
            time: b.time.to_utc(),
            bytes: b.bytes,
            seconds: Some(b.duration_ms as f64 / 1000.0),
            files: b.files,
            errors: Some(b.errors),
            snapshot: b.snapshot.map(|id| repo_format::Id(id).to_hex()),
            history: b.history.clone(),
        }
    }

    /// What a source's snapshots (oldest first) say of the newest; its
    /// errors come from its backup heartbeat when one of `beats` names it.
    pub fn from_snapshots(mine: &[(SnapshotId, Snapshot)], beats: &[Heartbeat]) -> Option<Last> {
        let (id, s) = mine.last()?;
        let beat = beats.iter().find(|b| {
            b.kind == repo_format::heartbeat::HeartbeatKind::Backup
                && b.snapshot == Some(*id.as_bytes())
        });
        let summary = s.summary.as_ref();
        let span = |m: &repo_format::snapshot::SnapshotSummary| {
            let (start, end) = (m.backup_start.to_utc()?, m.backup_end.to_utc()?);
            Some((end - start).to_std().unwrap_or_default().as_secs_f64())
        };
        Some(Last {
            time: s.time.to_utc(),
            bytes: summary.map_or(0, |m| m.total_bytes_processed),
            seconds: summary.and_then(span),
            files: summary.map_or(0, |m| m.total_files_processed),
            errors: beat.map(|b| b.errors),
            snapshot: Some(id.to_hex()),
            history: mine
                .iter()
                .rev()
                .skip(1)
                .map(|(_, s)| s.summary.as_ref().map_or(0, |m| m.total_bytes_processed))
                .collect(),
        })
    }
}

/// A source's limits.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Thresholds {
    /// The newest backup may be at most this old.
    pub max_age: Option<Duration>,
    /// Its size may be at most this share (0 to 1) below the median.
    pub size_drop: Option<f64>,
    /// How many earlier sizes the median is taken over.
    pub size_history: Option<usize>,
}

/// Something unhealthy about a source or a repository.
#[derive(Clone, Debug, PartialEq)]
pub enum Problem {
    /// The source has no backup at all.
    NoBackup,
    /// Its newest backup is older than allowed.
    TooOld {
        /// How old it is.
        age: Duration,
        /// The limit.
        max: Duration,
    },
    /// Its newest backup is much smaller than the ones before.
    Shrunk {
        /// Its size.
        bytes: u64,
        /// The median size of the ones before.
        median: f64,
        /// How many sizes the median is of.
        earlier: usize,
        /// The allowed drop (0 to 1).
        allowed: f64,
    },
    /// The repository has no successful check on record.
    NeverChecked {
        /// The limit it should have been checked within.
        max: Duration,
    },
    /// The last successful check is older than allowed.
    CheckTooOld {
        /// How old it is.
        age: Duration,
        /// The limit.
        max: Duration,
    },
}

/// How long ago `t` was at `now` (zero for a time in the future).
pub fn age(now: DateTime<Utc>, t: DateTime<Utc>) -> Duration {
    (now - t).to_std().unwrap_or_default()
}

/// The median of `values` (sorted in place), or None of none.
pub fn median(values: &mut [u64]) -> Option<f64> {
    values.sort_unstable();
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => values.get(n / 2).map(|v| *v as f64),
        _ => Some((*values.get(n / 2 - 1)? as f64 + *values.get(n / 2)? as f64) / 2.0),
    }
}

/// The age and size rules for one source's newest backup.
pub fn judge_source(last: Option<&Last>, limits: &Thresholds, now: DateTime<Utc>) -> Vec<Problem> {
    let Some(last) = last else {
        return vec![Problem::NoBackup];
    };
    let mut problems = Vec::new();
    if let (Some(max), Some(t)) = (limits.max_age, last.time)
        && age(now, t) > max
    {
        problems.push(Problem::TooOld {
            age: age(now, t),
            max,
        });
    }
    if let Some(allowed) = limits.size_drop {
        let n = limits.size_history.unwrap_or(DEFAULT_SIZE_HISTORY);
        let mut earlier: Vec<u64> = last.history.iter().take(n).copied().collect();
        if let Some(median) = median(&mut earlier)
            && median > 0.0
            && (last.bytes as f64) < median * (1.0 - allowed)
        {
            problems.push(Problem::Shrunk {
                bytes: last.bytes,
                median,
                earlier: earlier.len(),
                allowed,
            });
        }
    }
    problems
}

/// The rule for the repository's last successful check.
pub fn judge_check(
    last: Option<DateTime<Utc>>,
    max: Option<Duration>,
    now: DateTime<Utc>,
) -> Option<Problem> {
    let max = max?;
    match last {
        None => Some(Problem::NeverChecked { max }),
        Some(t) if age(now, t) > max => Some(Problem::CheckTooOld {
            age: age(now, t),
            max,
        }),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_none() {
        assert_eq!(median(&mut [3, 1, 2]), Some(2.0));
        assert_eq!(median(&mut [4, 1, 2, 3]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }

    #[test]
    fn judge_source_flags_age_and_shrinking_only_past_their_limits() {
        let now = DateTime::from_timestamp(1_000_000, 0).unwrap();
        let hours = |h: u64| Duration::from_secs(h * 3600);
        let last = Last {
            time: Some(now - chrono::Duration::hours(30)),
            bytes: 40,
            history: vec![100, 90, 110, 5, 1000, 1],
            ..Last::default()
        };
        let limits = Thresholds {
            max_age: Some(hours(26)),
            size_drop: Some(0.5),
            size_history: None,
        };
        let problems = judge_source(Some(&last), &limits, now);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(matches!(problems[0], Problem::TooOld { max, .. } if max == hours(26)));
        // The median of the five before is 100: 40 is 60% below it.
        assert!(
            matches!(problems[1], Problem::Shrunk { median, earlier: 5, .. } if median == 100.0)
        );
        let lenient = Thresholds {
            max_age: Some(hours(31)),
            size_drop: Some(0.7),
            size_history: Some(5),
        };
        assert!(judge_source(Some(&last), &lenient, now).is_empty());
        assert_eq!(judge_source(None, &lenient, now), [Problem::NoBackup]);
        assert_eq!(
            judge_check(None, Some(hours(1)), now),
            Some(Problem::NeverChecked { max: hours(1) })
        );
        assert_eq!(judge_check(None, None, now), None);
    }
}
