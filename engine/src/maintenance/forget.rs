//! Retention policy: which snapshots `forget` keeps, and why. A pure
//! function over a list of snapshots and a policy, with restic's semantics:
//!
//! * snapshots are divided into groups ([`GroupBy`]: by host and paths by
//!   default) and the policy applies to each group on its own;
//! * within a group, newest first, a `--keep-hourly/daily/weekly/monthly/
//!   yearly N` rule keeps the newest snapshot of each of the last N hours,
//!   days, ISO weeks, months or years that have a snapshot (N unlimited:
//!   every such period); `--keep-last N` keeps the N newest;
//! * `--keep-within D` keeps every snapshot newer than D before the group's
//!   newest snapshot (not before now: a host that stopped backing up does
//!   not lose its last snapshots; snapshots dated in the future do not
//!   count as the newest), and `--keep-within-daily D` etc. apply the
//!   period rule, without a count, to those snapshots only;
//! * `--keep-tag T` keeps every snapshot carrying the tags of T (`a,b`
//!   needs both; an empty T matches untagged snapshots);
//! * when a rule still has periods left at the group's oldest snapshot,
//!   that snapshot is kept too ("oldest daily snapshot"; restic 0.17);
//! * periods are taken in each snapshot's own recorded time zone;
//! * a snapshot's time is never later than when the store received it
//!   ([`crate::repository::witness`]): one dated in the future counts as
//!   written when it was, so it cannot outlive the snapshots it displaced;
//! * `--keep-newer-than D` is a floor, not a rule: whatever the rules say,
//!   no snapshot the store received less than D before now is removed.
//!
//! A snapshot is kept if any rule keeps it; every rule that keeps it is
//! listed among its reasons, in restic's words.

use crate::error::{Error, Result};
use crate::repository::witness::Witnessed;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Timelike, Utc};
use repo_format::SnapshotId;
use repo_format::snapshot::Snapshot;
use repo_format::snapshot::has_tags;
use std::fmt;

/// How many periods a rule keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Keep {
    /// The rule is off.
    #[default]
    Off,
    /// The last N periods.
    Count(u32),
    /// Every period.
    Unlimited,
}

impl Keep {
    /// Parse a count or `unlimited` (restic also takes -1 for unlimited).
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "unlimited" | "-1" => Ok(Keep::Unlimited),
            n => match n.parse::<u32>() {
                Ok(0) => Ok(Keep::Off),
                Ok(n) => Ok(Keep::Count(n)),
                Err(_) => Err(Error::InvalidArgument {
                    what: "keep count",
                    detail: format!("{s:?}: give a number or 'unlimited'"),
                }),
            },
        }
    }

    /// One period used up.
    fn used(self) -> Self {
        match self {
            Keep::Count(n) if n > 1 => Keep::Count(n - 1),
            Keep::Count(_) => Keep::Off,
            other => other,
        }
    }
}

/// A calendar span such as `2y5m7d3h`: years, months, days, hours (restic's
/// duration; `1w` is not one, say `7d`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// Years.
    pub years: u32,
    /// Months.
    pub months: u32,
    /// Days.
    pub days: u32,
    /// Hours.
    pub hours: u32,
}

impl Span {
    /// Parse `[Ny][Nm][Nd][Nh]` (at least one part, each unit at most once).
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: &str| Error::InvalidArgument {
            what: "duration",
            detail: format!("{s:?}: {why}; use numbers with y, m, d, h, e.g. 2y5m7d3h"),
        };
        let mut span = Span::default();
        let mut seen = String::new();
        let mut digits = String::new();
        for c in s.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            if digits.is_empty() {
                return Err(bad("a unit without a number"));
            }
            if seen.contains(c) {
                return Err(bad("a unit given twice"));
            }
            let n: u32 = digits.parse().map_err(|_| bad("number too large"))?;
            match c {
                'y' => span.years = n,
                'm' => span.months = n,
                'd' => span.days = n,
                'h' => span.hours = n,
                _ => return Err(bad("unknown unit")),
            }
            seen.push(c);
            digits.clear();
        }
        if !digits.is_empty() || seen.is_empty() {
            return Err(bad("a number without a unit"));
        }
        Ok(span)
    }

    /// Whether every part is 0 (such a rule is off, as in restic).
    pub fn is_zero(&self) -> bool {
        *self == Span::default()
    }

    /// `t` minus this span, computed as restic (Go's `AddDate`) does: years
    /// and months, then days, on the calendar date, normalising a day that
    /// does not exist (31 March minus one month is "31 February", that is
    /// 2 or 3 March); then hours. A span reaching before the calendar's
    /// start gives the earliest representable time.
    pub fn before(&self, t: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
        let offset = *t.offset();
        let earliest = DateTime::<Utc>::MIN_UTC.with_timezone(&offset);
        let local = t.naive_local();
        let months = i64::from(local.year()) * 12 + i64::from(local.month0())
            - i64::from(self.years) * 12
            - i64::from(self.months);
        let first = i32::try_from(months.div_euclid(12))
            .ok()
            .zip(u32::try_from(months.rem_euclid(12) + 1).ok())
            .and_then(|(y, m)| NaiveDate::from_ymd_opt(y, m, 1));
        let day = i64::from(local.day()) - 1 - i64::from(self.days);
        let shifted = first
            .zip(chrono::Duration::try_days(day))
            .and_then(|(first, day)| first.checked_add_signed(day))
            .map(|date| date.and_time(local.time()))
            .and_then(|l| offset.from_local_datetime(&l).single())
            .and_then(|d| d.checked_sub_signed(chrono::Duration::hours(i64::from(self.hours))));
        shifted.unwrap_or(earliest)
    }
}

impl fmt::Display for Span {
    /// restic's form: the non-zero parts, `2y5m7d3h`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, unit) in [
            (self.years, 'y'),
            (self.months, 'm'),
            (self.days, 'd'),
            (self.hours, 'h'),
        ] {
            if n != 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        Ok(())
    }
}

/// The periods a rule buckets by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Period {
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Period {
    const ALL: [Period; 5] = [
        Period::Hour,
        Period::Day,
        Period::Week,
        Period::Month,
        Period::Year,
    ];

    fn bucket(self, t: &DateTime<FixedOffset>) -> i64 {
        let (y, m, d, h) = (
            i64::from(t.year()),
            i64::from(t.month()),
            i64::from(t.day()),
            i64::from(t.hour()),
        );
        match self {
            Period::Hour => ((y * 100 + m) * 100 + d) * 100 + h,
            Period::Day => (y * 100 + m) * 100 + d,
            Period::Week => {
                let w = t.iso_week();
                i64::from(w.year()) * 100 + i64::from(w.week())
            }
            Period::Month => y * 100 + m,
            Period::Year => y,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Period::Hour => "hourly",
            Period::Day => "daily",
            Period::Week => "weekly",
            Period::Month => "monthly",
            Period::Year => "yearly",
        }
    }
}

/// A retention policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// `--keep-last`.
    pub last: Keep,
    /// `--keep-hourly`, `--keep-daily`, `--keep-weekly`, `--keep-monthly`,
    /// `--keep-yearly`, in that order.
    pub periods: [Keep; 5],
    /// `--keep-within`.
    pub within: Option<Span>,
    /// `--keep-within-hourly` … `--keep-within-yearly`, in that order.
    pub within_periods: [Option<Span>; 5],
    /// `--keep-tag` tag lists.
    pub tags: Vec<String>,
    /// `--keep-newer-than`: the floor (see the module docs).
    pub newer_than: Option<Span>,
}

impl Policy {
    /// Whether no rule is set (forgetting with an empty policy is an
    /// error). The floor is no rule: it only keeps.
    pub fn is_empty(&self) -> bool {
        let off = |s: &Option<Span>| s.is_none_or(|s| s.is_zero());
        self.last == Keep::Off
            && self.periods.iter().all(|k| *k == Keep::Off)
            && off(&self.within)
            && self.within_periods.iter().all(off)
            && self.tags.is_empty()
    }
}

impl fmt::Display for Policy {
    /// What the policy keeps, in restic's words: `keep 2 latest, 7 daily
    /// snapshots, daily snapshots within 7d and all snapshots with tags [a]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts: Vec<String> = std::iter::once((self.last, "latest"))
            .chain(
                self.periods
                    .iter()
                    .zip(Period::ALL)
                    .map(|(k, p)| (*k, p.name())),
            )
            .filter_map(|(k, name)| match k {
                Keep::Off => None,
                Keep::Count(n) => Some(format!("{n} {name}")),
                Keep::Unlimited => Some(format!("all {name}")),
            })
            .collect();
        let mut parts = Vec::new();
        if !counts.is_empty() {
            parts.push(format!("{} snapshots", counts.join(", ")));
        }
        for (span, period) in self.within_periods.iter().zip(Period::ALL) {
            if let Some(span) = span.filter(|s| !s.is_zero()) {
                parts.push(format!("{} snapshots within {span}", period.name()));
            }
        }
        let mut text = parts.join(", ");
        let mut and = |part: String| {
            if !text.is_empty() {
                text.push_str(" and ");
            }
            text.push_str(&part);
        };
        if !self.tags.is_empty() {
            let lists: Vec<String> = self.tags.iter().map(|t| tag_list(t)).collect();
            and(format!("all snapshots with tags {}", lists.join(" or ")));
        }
        if let Some(span) = self.within.filter(|s| !s.is_zero()) {
            and(format!("all snapshots within {span} of the newest"));
        }
        if let Some(span) = self.newer_than.filter(|s| !s.is_zero()) {
            and(format!("all snapshots newer than {span}"));
        }
        if text.is_empty() {
            f.write_str("keep nothing")
        } else {
            write!(f, "keep {text}")
        }
    }
}

/// `a, b` as `[a, b]`, the way reasons name a tag list.
fn tag_list(list: &str) -> String {
    let tags: Vec<&str> = list.split(',').map(str::trim).collect();
    format!("[{}]", tags.join(", "))
}

/// One snapshot as the policy sees it.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Its id.
    pub id: SnapshotId,
    /// Its time, in its own time zone, never later than `received`.
    pub time: DateTime<FixedOffset>,
    /// When the store received it, if known.
    pub received: Option<DateTime<Utc>>,
    /// Its own time, when later than `time` (the store received it
    /// earlier): snapshots counted at the same time keep their own order.
    pub claimed: Option<DateTime<FixedOffset>>,
    /// Its tags.
    pub tags: Vec<String>,
}

impl Candidate {
    /// The policy's view of a stored snapshot: its time in its recorded
    /// offset (one out of range counts as UTC), but no later than when
    /// the store received it.
    pub fn from_snapshot(id: SnapshotId, s: &Snapshot, witnessed: &Witnessed) -> Self {
        let time = witnessed.effective(&id, s);
        let own = crate::repository::witness::own_time(s);
        Candidate {
            id,
            time,
            received: witnessed.get(&id),
            claimed: (own != time).then_some(own),
            tags: s.tags.clone(),
        }
    }

    /// Whether the floor keeps it: received (or, not known, dated) less
    /// than `floor` before `now`.
    fn under_floor(&self, floor: &Span, now: DateTime<Utc>) -> bool {
        let written = self.received.unwrap_or(self.time.to_utc());
        written > floor.before(now.fixed_offset()).to_utc()
    }
}

/// The verdict on one snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The snapshot.
    pub id: SnapshotId,
    /// Why it is kept; empty when it is to be removed.
    pub reasons: Vec<String>,
}

impl Verdict {
    /// Whether the snapshot stays.
    pub fn keep(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// The counted rules: `--keep-last` (every snapshot its own bucket), then
/// the periods.
const COUNTED: [Option<Period>; 6] = [
    None,
    Some(Period::Hour),
    Some(Period::Day),
    Some(Period::Week),
    Some(Period::Month),
    Some(Period::Year),
];

/// Apply `policy` to one group of snapshots; verdicts newest first. `now`
/// only decides which snapshots are in the future (see the module docs).
pub fn apply(policy: &Policy, group: &[Candidate], now: DateTime<Utc>) -> Vec<Verdict> {
    let mut list: Vec<&Candidate> = group.iter().collect();
    // Newest first; a store that keeps whole seconds counts snapshots of
    // one second as received at once, and their own times order them.
    let key = |c: &Candidate| (c.time, c.claimed.unwrap_or(c.time), c.id);
    list.sort_by_key(|c| std::cmp::Reverse(key(c)));
    // The newest snapshot not in the future; without one, every snapshot
    // is within any span (restic measures from the zero time then).
    let latest = list.iter().map(|c| c.time).find(|t| *t < now);
    let within = |span: &Option<Span>, t: &DateTime<FixedOffset>| match span {
        Some(s) if !s.is_zero() => Some(*s).filter(|s| latest.is_none_or(|l| *t > s.before(l))),
        _ => None,
    };
    let oldest = list.len().saturating_sub(1);
    let mut counts: [Keep; 6] = [Keep::Off; 6];
    for (count, keep) in counts
        .iter_mut()
        .zip(std::iter::once(&policy.last).chain(&policy.periods))
    {
        *count = *keep;
    }
    let mut counted_last: [Option<i64>; 6] = [None; 6];
    let mut within_last: [Option<i64>; 5] = [None; 5];
    let mut verdicts: Vec<Verdict> = Vec::with_capacity(list.len());
    for (nr, c) in list.iter().enumerate() {
        let mut reasons = Vec::new();
        for t in &policy.tags {
            if has_tags(&c.tags, t) {
                reasons.push(format!("has tags {}", tag_list(t)));
            }
        }
        if let Some(span) = within(&policy.within, &c.time) {
            reasons.push(format!("within {span}"));
        }
        if let Some(floor) = policy.newer_than.filter(|s| !s.is_zero())
            && c.under_floor(&floor, now)
        {
            reasons.push(format!("newer than {floor}"));
        }
        // A rule keeps the newest snapshot of each new bucket, and the
        // group's oldest snapshot while it has periods left.
        let take = |last: &mut Option<i64>, bucket: i64| {
            let same = *last == Some(bucket);
            let keep = !same || nr == oldest;
            if keep {
                *last = Some(bucket);
            }
            keep.then_some(if same { "oldest " } else { "" })
        };
        for ((count, last), period) in counts.iter_mut().zip(&mut counted_last).zip(COUNTED) {
            if *count == Keep::Off {
                continue;
            }
            let (bucket, name) = match period {
                Some(p) => (p.bucket(&c.time), p.name()),
                None => (i64::try_from(nr).unwrap_or(i64::MAX), "last"),
            };
            if let Some(prefix) = take(last, bucket) {
                *count = count.used();
                reasons.push(format!("{prefix}{name} snapshot"));
            }
        }
        for ((span, last), period) in policy
            .within_periods
            .iter()
            .zip(&mut within_last)
            .zip(Period::ALL)
        {
            if let Some(span) = within(span, &c.time)
                && let Some(prefix) = take(last, period.bucket(&c.time))
            {
                reasons.push(format!("{prefix}{} within {span}", period.name()));
            }
        }
        verdicts.push(Verdict { id: c.id, reasons });
    }
    verdicts
}

/// Which snapshot fields separate groups (`--group-by host,paths,tags`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupBy {
    /// By host name.
    pub host: bool,
    /// By the set of paths.
    pub paths: bool,
    /// By the set of tags.
    pub tags: bool,
}

impl Default for GroupBy {
    /// restic's default: host and paths.
    fn default() -> Self {
        GroupBy {
            host: true,
            paths: true,
            tags: false,
        }
    }
}

impl GroupBy {
    /// Parse a comma-separated list of `host`, `paths`, `tags` (singular
    /// forms too); the empty string means one group for everything.
    pub fn parse(s: &str) -> Result<Self> {
        let mut by = GroupBy {
            host: false,
            paths: false,
            tags: false,
        };
        for part in s.split(',').map(str::trim) {
            match part {
                "host" | "hosts" => by.host = true,
                "path" | "paths" => by.paths = true,
                "tag" | "tags" => by.tags = true,
                "" => {}
                other => {
                    return Err(Error::InvalidArgument {
                        what: "--group-by",
                        detail: format!(
                            "unknown field {other:?}: use host, paths, tags (comma-separated) or '' for no grouping"
                        ),
                    });
                }
            }
        }
        Ok(by)
    }

    /// The group `s` belongs to.
    pub fn key(&self, s: &Snapshot) -> GroupKey {
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v.dedup();
            v
        };
        GroupKey {
            host: self.host.then(|| s.hostname.clone()),
            paths: self.paths.then(|| sorted(&s.paths)),
            tags: self.tags.then(|| sorted(&s.tags)),
        }
    }
}

/// What the snapshots of one group share; `None` for a field not grouped by.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKey {
    /// The host name.
    pub host: Option<String>,
    /// The paths, sorted.
    pub paths: Option<Vec<String>>,
    /// The tags, sorted.
    pub tags: Option<Vec<String>>,
}

impl fmt::Display for GroupKey {
    /// `host web1, paths [/etc, /home], tags []`, or `all snapshots`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(h) = &self.host {
            parts.push(format!("host {h}"));
        }
        if let Some(p) = &self.paths {
            parts.push(format!("paths [{}]", p.join(", ")));
        }
        if let Some(t) = &self.tags {
            parts.push(format!("tags [{}]", t.join(", ")));
        }
        if parts.is_empty() {
            f.write_str("all snapshots")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// Split snapshots into groups; groups in key order, each keeping the
/// input order of its snapshots.
pub fn group(
    by: GroupBy,
    snapshots: &[(SnapshotId, Snapshot)],
) -> Vec<(GroupKey, Vec<&(SnapshotId, Snapshot)>)> {
    let mut groups: std::collections::BTreeMap<GroupKey, Vec<&(SnapshotId, Snapshot)>> =
        std::collections::BTreeMap::new();
    for entry in snapshots {
        groups.entry(by.key(&entry.1)).or_default().push(entry);
    }
    groups.into_iter().collect()
}

/// The policy's verdicts on one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupPlan {
    /// The group.
    pub key: GroupKey,
    /// Every snapshot of the group, newest first.
    pub verdicts: Vec<Verdict>,
}

impl GroupPlan {
    /// Whether the policy keeps none of the group's snapshots.
    pub fn removes_all(&self) -> bool {
        !self.verdicts.iter().any(Verdict::keep)
    }
}

/// What `forget` would do: the verdicts, group by group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForgetPlan {
    /// The groups, in key order.
    pub groups: Vec<GroupPlan>,
}

impl ForgetPlan {
    /// The snapshots to remove, group by group, newest first in each.
    pub fn removals(&self) -> Vec<SnapshotId> {
        self.groups
            .iter()
            .flat_map(|g| g.verdicts.iter().filter(|v| !v.keep()).map(|v| v.id))
            .collect()
    }

    /// The groups whose every snapshot would go.
    pub fn groups_removing_all(&self) -> Vec<&GroupKey> {
        self.groups
            .iter()
            .filter(|g| g.removes_all())
            .map(|g| &g.key)
            .collect()
    }
}

/// Plan `forget`: group `snapshots` and apply `policy` to each group,
/// each snapshot no newer than `witnessed` says the store received it.
pub fn plan(
    policy: &Policy,
    by: GroupBy,
    snapshots: &[(SnapshotId, Snapshot)],
    witnessed: &Witnessed,
    now: DateTime<Utc>,
) -> ForgetPlan {
    let groups = group(by, snapshots)
        .into_iter()
        .map(|(key, members)| {
            let candidates: Vec<Candidate> = members
                .iter()
                .map(|(id, s)| Candidate::from_snapshot(*id, s, witnessed))
                .collect();
            GroupPlan {
                key,
                verdicts: apply(policy, &candidates, now),
            }
        })
        .collect();
    ForgetPlan { groups }
}

#[cfg(test)]
mod tests {
    use super::*;
    use repo_format::Id;

    /// Snapshots at the given UTC times ("YYYY-MM-DD HH:MM"), ids 1, 2, ...
    fn group(times: &[&str]) -> Vec<Candidate> {
        times
            .iter()
            .enumerate()
            .map(|(i, t)| Candidate {
                id: SnapshotId(Id([i as u8 + 1; 32])),
                time: DateTime::parse_from_str(&format!("{t} +0000"), "%Y-%m-%d %H:%M %z").unwrap(),
                received: None,
                claimed: None,
                tags: Vec::new(),
            })
            .collect()
    }

    /// A `now` after every test snapshot.
    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2200-01-01T00:00:00Z")
            .unwrap()
            .to_utc()
    }

    /// The times kept, newest first.
    fn kept(policy: &Policy, g: &[Candidate]) -> Vec<String> {
        apply(policy, g, now())
            .iter()
            .filter(|v| v.keep())
            .map(|v| {
                let c = g.iter().find(|c| c.id == v.id).unwrap();
                c.time.format("%Y-%m-%d %H:%M").to_string()
            })
            .collect()
    }

    fn periods(h: Keep, d: Keep, w: Keep, m: Keep, y: Keep) -> [Keep; 5] {
        [h, d, w, m, y]
    }

    const OFF: Keep = Keep::Off;

    #[test]
    fn policy_keep_last_keeps_the_newest_n() {
        let g = group(&[
            "2024-01-01 10:00",
            "2024-01-02 10:00",
            "2024-01-03 10:00",
            "2024-01-04 10:00",
        ]);
        let p = Policy {
            last: Keep::Count(2),
            ..Policy::default()
        };
        assert_eq!(kept(&p, &g), ["2024-01-04 10:00", "2024-01-03 10:00"]);
    }

    #[test]
    fn policy_keep_daily_keeps_newest_of_each_day() {
        let g = group(&[
            "2024-01-01 10:00",
            "2024-01-01 18:00",
            "2024-01-02 09:00",
            "2024-01-03 08:00",
            "2024-01-03 12:00",
        ]);
        let p = Policy {
            periods: periods(OFF, Keep::Count(2), OFF, OFF, OFF),
            ..Policy::default()
        };
        assert_eq!(kept(&p, &g), ["2024-01-03 12:00", "2024-01-02 09:00"]);
    }

    #[test]
    fn policy_more_periods_than_snapshots_keeps_the_oldest_too() {
        let g = group(&["2024-01-01 10:00", "2024-01-01 18:00", "2024-01-02 09:00"]);
        let p = Policy {
            periods: periods(OFF, Keep::Count(5), OFF, OFF, OFF),
            ..Policy::default()
        };
        assert_eq!(
            kept(&p, &g),
            ["2024-01-02 09:00", "2024-01-01 18:00", "2024-01-01 10:00"]
        );
        let v = apply(&p, &g, now());
        assert_eq!(v.last().unwrap().reasons, ["oldest daily snapshot"]);
    }

    #[test]
    fn policy_weeks_are_iso_weeks() {
        // 2024-12-29 is a Sunday (ISO week 52 of 2024); 2024-12-30 a Monday
        // (ISO week 1 of 2025); 2024-12-23 a Monday of week 52.
        let g = group(&["2024-12-23 10:00", "2024-12-29 10:00", "2024-12-30 10:00"]);
        let p = Policy {
            periods: periods(OFF, OFF, Keep::Count(2), OFF, OFF),
            ..Policy::default()
        };
        assert_eq!(kept(&p, &g), ["2024-12-30 10:00", "2024-12-29 10:00"]);
    }

    #[test]
    fn policy_daily_weekly_monthly_over_100_daily_snapshots() {
        // The combination restic's manual recommends, over one snapshot a
        // day at noon for 100 days: --keep-daily 7
        // --keep-weekly 5 --keep-monthly 12 keeps the last 7 days, the
        // Sunday (end) of each of the last 5 ISO weeks, and the last day of
        // each month present.
        let times: Vec<String> = (0..100)
            .map(|i| {
                (chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(i))
                    .format("%Y-%m-%d 12:00")
                    .to_string()
            })
            .collect();
        let refs: Vec<&str> = times.iter().map(String::as_str).collect();
        let g = group(&refs);
        let p = Policy {
            periods: periods(OFF, Keep::Count(7), Keep::Count(5), Keep::Count(12), OFF),
            ..Policy::default()
        };
        let k = kept(&p, &g);
        // Days 2024-04-03 .. 2024-04-09 (the last 7); Sundays 03-17, 03-24,
        // 03-31 and 04-07 plus the newest day (04-09) of its week; the last
        // day of each month 01..04 (04-09 for April); and, since 12 months
        // were asked for and only 4 exist, the oldest snapshot.
        let expected = [
            "2024-04-09 12:00",
            "2024-04-08 12:00",
            "2024-04-07 12:00",
            "2024-04-06 12:00",
            "2024-04-05 12:00",
            "2024-04-04 12:00",
            "2024-04-03 12:00",
            "2024-03-31 12:00",
            "2024-03-24 12:00",
            "2024-03-17 12:00",
            "2024-02-29 12:00",
            "2024-01-31 12:00",
            "2024-01-01 12:00",
        ];
        assert_eq!(k, expected);
    }

    #[test]
    fn policy_keep_within_is_relative_to_the_newest_snapshot() {
        // Strictly newer than the newest minus the span (restic: After).
        let g = group(&[
            "2020-01-01 00:00",
            "2020-01-08 12:00",
            "2020-01-08 12:30",
            "2020-01-10 12:00",
        ]);
        let p = Policy {
            within: Some(Span::parse("2d").unwrap()),
            ..Policy::default()
        };
        assert_eq!(kept(&p, &g), ["2020-01-10 12:00", "2020-01-08 12:30"]);
        assert_eq!(apply(&p, &g, now())[0].reasons, ["within 2d"]);
    }

    #[test]
    fn policy_keep_within_daily_limits_the_period_rule_to_the_span() {
        let g = group(&[
            "2024-01-01 10:00",
            "2024-01-05 08:00",
            "2024-01-05 20:00",
            "2024-01-06 09:00",
        ]);
        let p = Policy {
            within_periods: [None, Some(Span::parse("3d").unwrap()), None, None, None],
            ..Policy::default()
        };
        assert_eq!(kept(&p, &g), ["2024-01-06 09:00", "2024-01-05 20:00"]);
    }

    #[test]
    fn policy_keep_tag_needs_every_tag_of_the_list() {
        let mut g = group(&["2024-01-01 10:00", "2024-01-02 10:00", "2024-01-03 10:00"]);
        g[0].tags = vec!["db".into(), "monthly".into()];
        g[1].tags = vec!["db".into()];
        let p = Policy {
            tags: vec!["db,monthly".into()],
            ..Policy::default()
        };
        assert_eq!(kept(&p, &g), ["2024-01-01 10:00"]);
    }

    #[test]
    fn policy_unlimited_keeps_every_period_and_reasons_accumulate() {
        let g = group(&["2024-01-01 10:00", "2024-01-01 11:00", "2024-01-02 10:00"]);
        let p = Policy {
            last: Keep::Count(1),
            periods: periods(OFF, Keep::Unlimited, OFF, OFF, OFF),
            ..Policy::default()
        };
        let v = apply(&p, &g, now());
        assert_eq!(v[0].reasons, ["last snapshot", "daily snapshot"]);
        // An unlimited rule always has periods left, so the oldest stays.
        assert_eq!(v[2].reasons, ["oldest daily snapshot"]);
        assert_eq!(
            kept(&p, &g),
            ["2024-01-02 10:00", "2024-01-01 11:00", "2024-01-01 10:00"]
        );
    }

    #[test]
    fn policy_periods_use_each_snapshots_own_time_zone() {
        // 23:30 and 00:30 UTC+02 are one UTC day apart but two local days.
        let mut g = group(&["2024-01-01 21:30", "2024-01-01 22:30"]);
        for c in &mut g {
            c.time = c
                .time
                .with_timezone(&FixedOffset::east_opt(2 * 3600).unwrap());
        }
        let p = Policy {
            periods: periods(OFF, Keep::Unlimited, OFF, OFF, OFF),
            ..Policy::default()
        };
        assert_eq!(kept(&p, &g).len(), 2);
    }

    #[test]
    fn span_parse_accepts_restic_durations_and_rejects_the_rest() {
        assert_eq!(
            Span::parse("2y5m7d3h").unwrap(),
            Span {
                years: 2,
                months: 5,
                days: 7,
                hours: 3
            }
        );
        assert_eq!(
            Span::parse("36h").unwrap(),
            Span {
                hours: 36,
                ..Span::default()
            }
        );
        for bad in ["", "5", "5x", "d", "3d3d", "-1d"] {
            assert!(Span::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Keep::parse("unlimited").unwrap(), Keep::Unlimited);
        assert_eq!(Keep::parse("0").unwrap(), Keep::Off);
        assert!(Keep::parse("many").is_err());
    }

    #[test]
    fn span_before_normalises_missing_days_as_restic_does() {
        // Go's AddDate: 2024-03-31 minus one month is "2024-02-31", which
        // is 2024-03-02; days are taken after the months.
        let t = DateTime::parse_from_rfc3339("2024-03-31T12:00:00+02:00").unwrap();
        let before = |s: &str| {
            Span::parse(s)
                .unwrap()
                .before(t)
                .format("%Y-%m-%d %H:%M %z")
                .to_string()
        };
        assert_eq!(before("1m"), "2024-03-02 12:00 +0200");
        assert_eq!(before("1m1d"), "2024-03-01 12:00 +0200");
        assert_eq!(before("1y1m"), "2023-03-03 12:00 +0200");
        assert_eq!(before("2y5m7d3h"), "2021-10-24 09:00 +0200");
        assert_eq!(before("36h"), "2024-03-30 00:00 +0200");
        assert_eq!(before("12m"), before("1y"));
        // Beyond the calendar: the earliest time, so everything is within.
        assert_eq!(
            Span::parse("4000000000y").unwrap().before(t).to_utc(),
            DateTime::<Utc>::MIN_UTC
        );
    }

    /// One snapshot a day at `hh:00` UTC, from `first` to `last` inclusive.
    fn daily(first: &str, last: &str, hour: u32) -> Vec<Candidate> {
        let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let (first, last) = (day(first), day(last));
        first
            .iter_days()
            .take_while(|d| *d <= last)
            .enumerate()
            .map(|(i, d)| {
                let mut id = [0u8; 32];
                id[..8].copy_from_slice(&(i as u64).to_le_bytes());
                Candidate {
                    id: SnapshotId(Id(id)),
                    time: d.and_hms_opt(hour, 0, 0).unwrap().and_utc().fixed_offset(),
                    received: None,
                    claimed: None,
                    tags: Vec::new(),
                }
            })
            .collect()
    }

    /// How many kept snapshots have a reason starting with each prefix,
    /// and how many are kept in all.
    fn reason_counts(v: &[Verdict], prefixes: &[&str]) -> (Vec<usize>, usize) {
        let counts = prefixes
            .iter()
            .map(|p| {
                v.iter()
                    .filter(|x| x.reasons.iter().any(|r| r.starts_with(p)))
                    .count()
            })
            .collect();
        (counts, v.iter().filter(|x| x.keep()).count())
    }

    #[test]
    fn restic_docs_sundays_for_12_weeks_keep_daily_4_keeps_the_last_4() {
        // restic's manual: one backup every Sunday at 11:00 for 12 weeks
        // (2019-09-01 .. 2019-11-17); --keep-daily 4 keeps the last four
        // Sundays and removes the other eight.
        let sundays: Vec<Candidate> = daily("2019-09-01", "2019-11-17", 11)
            .into_iter()
            .filter(|c| c.time.weekday() == chrono::Weekday::Sun)
            .collect();
        assert_eq!(sundays.len(), 12);
        let p = Policy {
            periods: periods(OFF, Keep::Count(4), OFF, OFF, OFF),
            ..Policy::default()
        };
        assert_eq!(
            kept(&p, &sundays),
            [
                "2019-11-17 11:00",
                "2019-11-10 11:00",
                "2019-11-03 11:00",
                "2019-10-27 11:00"
            ]
        );
        let v = apply(&p, &sundays, now());
        assert!(
            v.iter()
                .filter(|x| x.keep())
                .all(|x| x.reasons == ["daily snapshot"])
        );
        assert_eq!(v.iter().filter(|x| !x.keep()).count(), 8);
    }

    #[test]
    fn restic_docs_a_daily_backup_for_100_years() {
        // restic's manual: a backup every day for 100 years, then
        // --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --keep-yearly 75
        // keeps the 7 newest dailies, 4 more week ends (the dailies hold
        // one), 12 or 11 more month ends and 75 or 74 more year ends. With
        // the newest backup on Sunday 2023-12-31 every rule's newest pick is
        // that one snapshot, so the lower figures apply: 7 + 4 + 11 + 74.
        let g = daily("1924-01-01", "2023-12-31", 3);
        assert_eq!(g.len(), 36525);
        let p = Policy {
            periods: periods(
                OFF,
                Keep::Count(7),
                Keep::Count(5),
                Keep::Count(12),
                Keep::Count(75),
            ),
            ..Policy::default()
        };
        let v = apply(&p, &g, now());
        let only = |reason: &str| {
            v.iter()
                .filter(|x| x.reasons.len() == 1 && x.reasons[0] == reason)
                .count()
        };
        let (counts, total) = reason_counts(&v, &["daily", "weekly", "monthly", "yearly"]);
        assert_eq!(counts, [7, 5, 12, 75]);
        assert_eq!(only("weekly snapshot"), 4);
        assert_eq!(only("monthly snapshot"), 11);
        assert_eq!(only("yearly snapshot"), 74);
        assert_eq!(total, 7 + 4 + 11 + 74);
        // The oldest year kept is 1949; nothing older, and no "oldest"
        // reason, since every rule used up its count.
        let k = kept(&p, &g);
        assert_eq!(k.last().unwrap(), "1949-12-31 03:00");
        assert!(
            v.iter()
                .all(|x| x.reasons.iter().all(|r| !r.starts_with("oldest")))
        );
        // A newest backup on a Monday: the 7 dailies (Tuesday .. Monday)
        // span two ISO weeks, so only 3 week ends are added.
        let g = daily("1924-01-01", "2024-01-01", 3);
        let v = apply(&p, &g, now());
        let (counts, total) = reason_counts(&v, &["daily", "weekly", "monthly", "yearly"]);
        assert_eq!(counts, [7, 5, 12, 75]);
        // Dailies 12-26 .. 01-01; week ends 12-31 and 01-01 among them;
        // month ends 01-01 and 12-31 among them; year ends likewise.
        assert_eq!(total, 7 + 3 + 10 + 73);
    }

    #[test]
    fn restic_docs_keep_within_family_over_irregular_backups() {
        // restic's manual: for irregular backups, --keep-within-daily 7d
        // --keep-within-weekly 1m --keep-within-monthly 1y
        // --keep-within-yearly 75y keeps daily snapshots for the last week,
        // weekly ones for the last month, monthly for the last year and
        // yearly for 75 years, all measured from the newest snapshot.
        let g = group(&[
            "1940-05-01 10:00", // older than 75 years: removed
            "1960-03-01 10:00", // yearly (oldest within 75y)
            "1960-08-01 10:00", // yearly for 1960
            "2023-01-10 10:00", // year 2023 ...
            "2023-06-10 10:00", // ... before the 1y window (2023-06-15 12:00)
            "2023-11-20 10:00", // monthly for 2023-11 and yearly for 2023
            "2024-02-03 10:00", // monthly for 2024-02
            "2024-02-20 10:00", // a newer one that month: this one is kept
            "2024-05-20 09:00", // week 21, within 1m (after 05-15 12:00)
            "2024-05-21 09:00", // newest of week 21 and of May
            "2024-06-05 09:00", // week 23, older than 7d
            "2024-06-09 09:00", // daily, and newest of week 23 (a Sunday)
            "2024-06-10 09:00", // not the newest of its day
            "2024-06-10 18:00", // daily for 06-10
            "2024-06-15 12:00", // the newest
        ]);
        let p = Policy {
            within_periods: [
                None,
                Some(Span::parse("7d").unwrap()),
                Some(Span::parse("1m").unwrap()),
                Some(Span::parse("1y").unwrap()),
                Some(Span::parse("75y").unwrap()),
            ],
            ..Policy::default()
        };
        let v = apply(&p, &g, now());
        let reasons = |t: &str| {
            let c = g
                .iter()
                .find(|c| c.time.format("%Y-%m-%d %H:%M").to_string() == t)
                .unwrap();
            v.iter().find(|x| x.id == c.id).unwrap().reasons.clone()
        };
        assert_eq!(
            reasons("2024-06-15 12:00"),
            [
                "daily within 7d",
                "weekly within 1m",
                "monthly within 1y",
                "yearly within 75y"
            ]
        );
        // Monday 06-10 is in the newest snapshot's ISO week (24).
        assert_eq!(reasons("2024-06-10 18:00"), ["daily within 7d"]);
        assert!(reasons("2024-06-10 09:00").is_empty());
        assert_eq!(
            reasons("2024-06-09 09:00"),
            ["daily within 7d", "weekly within 1m"]
        );
        assert!(reasons("2024-06-05 09:00").is_empty());
        assert_eq!(
            reasons("2024-05-21 09:00"),
            ["weekly within 1m", "monthly within 1y"]
        );
        assert!(reasons("2024-05-20 09:00").is_empty());
        assert_eq!(reasons("2024-02-20 10:00"), ["monthly within 1y"]);
        assert!(reasons("2024-02-03 10:00").is_empty());
        assert_eq!(
            reasons("2023-11-20 10:00"),
            ["monthly within 1y", "yearly within 75y"]
        );
        assert!(reasons("2023-06-10 10:00").is_empty());
        assert!(reasons("2023-01-10 10:00").is_empty());
        assert_eq!(reasons("1960-08-01 10:00"), ["yearly within 75y"]);
        // The group's oldest snapshot within the span of a rule is not the
        // group's oldest (1940 is), so 1960-03 goes.
        assert!(reasons("1960-03-01 10:00").is_empty());
        assert!(reasons("1940-05-01 10:00").is_empty());
    }

    #[test]
    fn policy_within_rules_keep_the_oldest_when_it_is_inside_the_span() {
        let g = group(&["2024-01-01 08:00", "2024-01-01 09:00", "2024-01-01 10:00"]);
        let p = Policy {
            within_periods: [None, Some(Span::parse("2d").unwrap()), None, None, None],
            ..Policy::default()
        };
        let v = apply(&p, &g, now());
        assert_eq!(v[0].reasons, ["daily within 2d"]);
        assert!(v[1].reasons.is_empty());
        assert_eq!(v[2].reasons, ["oldest daily within 2d"]);
    }

    #[test]
    fn policy_future_snapshots_are_kept_and_do_not_move_the_window() {
        // restic measures spans from the newest snapshot that is not in the
        // future; snapshots dated after now are within every span.
        let g = group(&["2024-01-01 10:00", "2024-01-05 10:00", "2030-01-01 10:00"]);
        let p = Policy {
            within: Some(Span::parse("1d").unwrap()),
            ..Policy::default()
        };
        let now = DateTime::parse_from_rfc3339("2024-01-06T00:00:00Z")
            .unwrap()
            .to_utc();
        let v = apply(&p, &g, now);
        let keep: Vec<bool> = v.iter().map(Verdict::keep).collect();
        assert_eq!(keep, [true, true, false]);
        // Every snapshot in the future: all within.
        let early = DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        assert!(apply(&p, &g, early).iter().all(Verdict::keep));
    }

    #[test]
    fn policy_keep_tag_empty_matches_untagged_only_and_reasons_name_the_list() {
        let mut g = group(&["2024-01-01 10:00", "2024-01-02 10:00"]);
        g[1].tags = vec!["a".into(), "b".into()];
        let untagged = Policy {
            tags: vec![String::new()],
            ..Policy::default()
        };
        assert_eq!(kept(&untagged, &g), ["2024-01-01 10:00"]);
        let both = Policy {
            tags: vec!["a, b".into()],
            ..Policy::default()
        };
        assert_eq!(apply(&both, &g, now())[0].reasons, ["has tags [a, b]"]);
    }

    #[test]
    fn policy_zero_rules_are_off_and_the_description_reads_like_restic() {
        let zero = Policy {
            last: Keep::parse("0").unwrap(),
            within: Some(Span::parse("0d").unwrap()),
            ..Policy::default()
        };
        assert!(zero.is_empty());
        assert!(Policy::default().is_empty());
        let p = Policy {
            last: Keep::Count(2),
            periods: periods(OFF, Keep::Count(7), OFF, Keep::Unlimited, OFF),
            within: Some(Span::parse("1y2d").unwrap()),
            within_periods: [None, Some(Span::parse("7d").unwrap()), None, None, None],
            tags: vec!["a,b".into(), "c".into()],
            newer_than: Some(Span::parse("7d").unwrap()),
        };
        assert!(!p.is_empty());
        assert_eq!(
            p.to_string(),
            "keep 2 latest, 7 daily, all monthly snapshots, daily snapshots within 7d \
             and all snapshots with tags [a, b] or [c] and all snapshots within 1y2d of the newest \
             and all snapshots newer than 7d"
        );
        let floor_only = Policy {
            newer_than: Some(Span::parse("7d").unwrap()),
            ..Policy::default()
        };
        assert!(floor_only.is_empty(), "the floor is no rule");
        assert_eq!(Span::parse("2y5m7d3h").unwrap().to_string(), "2y5m7d3h");
        assert_eq!(Span::parse("3h1y").unwrap().to_string(), "1y3h");
    }

    fn snapshot(host: &str, paths: &[&str], tags: &[&str], time: &str) -> Snapshot {
        let t = DateTime::parse_from_rfc3339(time).unwrap();
        Snapshot {
            time: repo_format::tree::Timestamp {
                secs: t.timestamp(),
                nanos: t.timestamp_subsec_nanos(),
            },
            utc_offset: t.offset().local_minus_utc(),
            tree: repo_format::BlobId(Id([0; 32])),
            paths: paths.iter().map(|p| p.to_string()).collect(),
            hostname: host.into(),
            username: "u".into(),
            uid: 0,
            gid: 0,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            parent: None,
            excludes: Vec::new(),
            command: None,
            original: None,
            program_version: "test".into(),
            summary: None,
        }
    }

    #[test]
    fn group_by_parse_accepts_restic_names_and_rejects_others() {
        assert_eq!(GroupBy::parse("host,paths").unwrap(), GroupBy::default());
        assert_eq!(
            GroupBy::parse("").unwrap(),
            GroupBy {
                host: false,
                paths: false,
                tags: false
            }
        );
        assert_eq!(
            GroupBy::parse("tags, path").unwrap(),
            GroupBy {
                host: false,
                paths: true,
                tags: true
            }
        );
        assert!(GroupBy::parse("hosts").unwrap().host);
        assert!(GroupBy::parse("host,user").is_err());
    }

    #[test]
    fn group_keys_sort_paths_and_leave_out_what_is_not_grouped_by() {
        let s = snapshot("h1", &["/b", "/a"], &["x"], "2024-01-01T00:00:00Z");
        let key = GroupBy::default().key(&s);
        assert_eq!(
            key,
            GroupKey {
                host: Some("h1".into()),
                paths: Some(vec!["/a".into(), "/b".into()]),
                tags: None
            }
        );
        assert_eq!(key.to_string(), "host h1, paths [/a, /b]");
        let all = GroupBy::parse("host,paths,tags").unwrap().key(&s);
        assert_eq!(all.to_string(), "host h1, paths [/a, /b], tags [x]");
        assert_eq!(
            GroupBy::parse("").unwrap().key(&s).to_string(),
            "all snapshots"
        );
    }

    #[test]
    fn plan_applies_the_policy_per_group_and_names_groups_it_would_empty() {
        let list: Vec<(SnapshotId, Snapshot)> = [
            ("h1", "/a", "x", "2024-01-01T00:00:00Z"),
            ("h1", "/a", "", "2024-01-02T00:00:00Z"),
            ("h1", "/b", "", "2024-01-03T00:00:00Z"),
            ("h2", "/a", "x", "2024-01-04T00:00:00Z"),
            ("h2", "/a", "x", "2024-01-05T00:00:00Z"),
        ]
        .iter()
        .enumerate()
        .map(|(i, (h, p, t, time))| {
            let tags: Vec<&str> = t.split(',').filter(|t| !t.is_empty()).collect();
            (
                SnapshotId(Id([i as u8; 32])),
                snapshot(h, &[p], &tags, time),
            )
        })
        .collect();
        let id = |i: u8| SnapshotId(Id([i; 32]));
        let last = Policy {
            last: Keep::Count(1),
            ..Policy::default()
        };
        let p = plan(
            &last,
            GroupBy::default(),
            &list,
            &Witnessed::default(),
            now(),
        );
        let keys: Vec<String> = p.groups.iter().map(|g| g.key.to_string()).collect();
        assert_eq!(
            keys,
            [
                "host h1, paths [/a]",
                "host h1, paths [/b]",
                "host h2, paths [/a]"
            ]
        );
        assert_eq!(p.removals(), [id(0), id(3)]);
        assert!(p.groups_removing_all().is_empty());
        // No grouping: one group, newest first.
        let p = plan(
            &last,
            GroupBy::parse("").unwrap(),
            &list,
            &Witnessed::default(),
            now(),
        );
        assert_eq!(p.groups.len(), 1);
        assert_eq!(p.removals(), [id(3), id(2), id(1), id(0)]);
        // Grouped by tags: the untagged h1 snapshots of /a and the tagged
        // ones are separate groups.
        let p = plan(
            &last,
            GroupBy::parse("host,paths,tags").unwrap(),
            &list,
            &Witnessed::default(),
            now(),
        );
        assert_eq!(p.groups.len(), 4);
        assert_eq!(p.removals(), [id(3)]);
        // --keep-tag x keeps nothing in the two untagged groups.
        let tag = Policy {
            tags: vec!["x".into()],
            ..Policy::default()
        };
        let p = plan(
            &tag,
            GroupBy::default(),
            &list,
            &Witnessed::default(),
            now(),
        );
        let empty: Vec<String> = p
            .groups_removing_all()
            .iter()
            .map(|k| k.to_string())
            .collect();
        assert_eq!(empty, ["host h1, paths [/b]"]);
    }

    /// The review's attack on retention: four real daily snapshots, then
    /// seven empty ones dated 2027 (same host and paths) uploaded today.
    /// Counted at their own time the fakes took all seven days and the
    /// real ones went; counted as received they share today, and every
    /// real snapshot stays.
    #[test]
    fn future_dated_snapshots_count_as_received_and_displace_nothing() {
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().to_utc();
        let today = at("2026-12-07T12:00:00Z");
        let mut list = Vec::new();
        let mut received = std::collections::HashMap::new();
        for day in 3..=6 {
            let time = format!("2026-12-0{day}T02:00:00Z");
            let id = SnapshotId(Id([day; 32]));
            list.push((id, snapshot("web", &["/srv"], &[], &time)));
            received.insert(id, at(&time) + chrono::Duration::minutes(5));
        }
        for n in 1..=7u8 {
            let id = SnapshotId(Id([100 + n; 32]));
            let time = format!("2027-01-0{n}T00:00:00Z");
            list.push((id, snapshot("web", &["/srv"], &[], &time)));
            received.insert(id, today + chrono::Duration::seconds(i64::from(n)));
        }
        let daily = Policy {
            periods: periods(OFF, Keep::Count(7), OFF, OFF, OFF),
            ..Policy::default()
        };
        let removed = |w: &Witnessed| {
            plan(&daily, GroupBy::default(), &list, w, today)
                .removals()
                .iter()
                .map(|id| id.0.0[0])
                .collect::<Vec<u8>>()
        };
        // Believing the snapshots: the four real ones go.
        assert_eq!(removed(&Witnessed::default()), [6, 5, 4, 3]);
        // Counting what the store witnessed: six fakes go, no real one.
        assert_eq!(
            removed(&Witnessed::from_times(received)),
            [106, 105, 104, 103, 102, 101]
        );
    }

    #[test]
    fn the_floor_keeps_whatever_was_received_within_it() {
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().to_utc();
        let now = at("2026-12-07T12:00:00Z");
        let times = ["2026-11-20", "2026-11-30", "2026-12-01", "2026-12-05"];
        let list: Vec<(SnapshotId, Snapshot)> = times
            .iter()
            .enumerate()
            .map(|(i, d)| {
                (
                    SnapshotId(Id([i as u8; 32])),
                    snapshot("h", &["/a"], &[], &format!("{d}T00:00:00Z")),
                )
            })
            .collect();
        // The snapshot dated 2026-11-20 was received (backdated) yesterday.
        let received =
            Witnessed::from_times([(SnapshotId(Id([0; 32])), at("2026-12-06T00:00:00Z"))].into());
        let policy = Policy {
            last: Keep::Count(1),
            newer_than: Some(Span::parse("7d").unwrap()),
            ..Policy::default()
        };
        let p = plan(&policy, GroupBy::default(), &list, &received, now);
        let kept: Vec<(u8, Vec<String>)> = p.groups[0]
            .verdicts
            .iter()
            .filter(|v| v.keep())
            .map(|v| (v.id.0.0[0], v.reasons.clone()))
            .collect();
        assert_eq!(
            kept,
            [
                (
                    3,
                    vec!["newer than 7d".to_owned(), "last snapshot".to_owned()]
                ),
                (2, vec!["newer than 7d".to_owned()]),
                (0, vec!["newer than 7d".to_owned()]),
            ]
        );
    }

    /// A store that keeps whole seconds (PROPFIND's HTTP dates) received
    /// both snapshots "at once": their own times still order them.
    #[test]
    fn snapshots_received_in_one_second_keep_their_own_order() {
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().to_utc();
        let list: Vec<(SnapshotId, Snapshot)> =
            ["2026-12-07T12:00:00.300Z", "2026-12-07T12:00:00.800Z"]
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    (
                        SnapshotId(Id([i as u8 + 1; 32])),
                        snapshot("h", &["/a"], &[], t),
                    )
                })
                .collect();
        let witnessed = Witnessed::from_times(
            list.iter()
                .map(|(id, _)| (*id, at("2026-12-07T12:00:00Z")))
                .collect(),
        );
        let last = Policy {
            last: Keep::Count(1),
            ..Policy::default()
        };
        let p = plan(
            &last,
            GroupBy::default(),
            &list,
            &witnessed,
            at("2026-12-08T00:00:00Z"),
        );
        assert_eq!(p.removals(), [SnapshotId(Id([1; 32]))]);
    }
}
