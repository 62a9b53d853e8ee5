//! Retention policy: which snapshots `forget` keeps, and why. A pure
//! function over a list of snapshots and a policy, with restic's semantics:
//!
//! * snapshots are divided into groups (by host and paths by default) and
//!   the policy applies to each group on its own;
//! * within a group, newest first, a `--keep-hourly/daily/weekly/monthly/
//!   yearly N` rule keeps the newest snapshot of each of the last N hours,
//!   days, ISO weeks, months or years that have a snapshot (N unlimited:
//!   every such period); `--keep-last N` keeps the N newest;
//! * `--keep-within D` keeps every snapshot no older than D before the
//!   group's newest snapshot (not before now: a host that stopped backing
//!   up does not lose its last snapshots), and `--keep-within-daily D` etc.
//!   apply the period rule to those snapshots only;
//! * `--keep-tag T` keeps every snapshot carrying the tags of T (`a,b`
//!   needs both);
//! * when a period rule asks for more periods than the group has, the
//!   group's oldest snapshot is kept as well (restic 0.17);
//! * periods are taken in each snapshot's own recorded time zone.
//!
//! A snapshot is kept if any rule keeps it; every rule that keeps it is
//! listed among its reasons.

use crate::error::{Error, Result};
use chrono::{DateTime, Datelike, FixedOffset, Months, Timelike};
use repo_format::SnapshotId;

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
}

/// A calendar span such as `2y5m7d3h`: years, months, days, hours.
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

    /// `t` minus this span (calendar months; a day that does not exist in
    /// the target month becomes the month's last day).
    pub fn before(&self, t: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
        let months = self.years.saturating_mul(12).saturating_add(self.months);
        let t = t.checked_sub_months(Months::new(months)).unwrap_or(t);
        t - chrono::Duration::days(i64::from(self.days))
            - chrono::Duration::hours(i64::from(self.hours))
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
}

impl Policy {
    /// Whether no rule is set (forgetting with an empty policy is an error).
    pub fn is_empty(&self) -> bool {
        self.last == Keep::Off
            && self.periods.iter().all(|k| *k == Keep::Off)
            && self.within.is_none()
            && self.within_periods.iter().all(Option::is_none)
            && self.tags.is_empty()
    }
}

/// One snapshot as the policy sees it.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Its id.
    pub id: SnapshotId,
    /// Its time, in its own time zone.
    pub time: DateTime<FixedOffset>,
    /// Its tags.
    pub tags: Vec<String>,
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

fn has_tags(tags: &[String], list: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .all(|t| tags.iter().any(|s| s == t))
}

/// Apply `policy` to one group of snapshots; verdicts newest first.
pub fn apply(policy: &Policy, group: &[Candidate]) -> Vec<Verdict> {
    let mut list: Vec<&Candidate> = group.iter().collect();
    list.sort_by(|a, b| b.time.cmp(&a.time).then(b.id.cmp(&a.id)));
    let Some(latest) = list.first().map(|c| c.time) else {
        return Vec::new();
    };
    let mut last_left = policy.last;
    let mut counts = policy.periods;
    let mut seen: [Option<i64>; 5] = [None; 5];
    let mut within_seen: [Option<i64>; 5] = [None; 5];
    let mut verdicts: Vec<Verdict> = Vec::with_capacity(list.len());
    for c in &list {
        let mut reasons = Vec::new();
        for t in &policy.tags {
            if has_tags(&c.tags, t) {
                reasons.push(format!("tags {t}"));
            }
        }
        if let Some(span) = &policy.within
            && c.time >= span.before(latest)
        {
            reasons.push("within".to_owned());
        }
        match last_left {
            Keep::Off => {}
            Keep::Count(n) => {
                reasons.push("last snapshot".to_owned());
                last_left = if n > 1 { Keep::Count(n - 1) } else { Keep::Off };
            }
            Keep::Unlimited => reasons.push("last snapshot".to_owned()),
        }
        for (i, period) in Period::ALL.iter().enumerate() {
            let bucket = period.bucket(&c.time);
            if let (Some(count), Some(last)) = (counts.get_mut(i), seen.get_mut(i))
                && *count != Keep::Off
                && *last != Some(bucket)
            {
                *last = Some(bucket);
                reasons.push(format!("{} snapshot", period.name()));
                if let Keep::Count(n) = *count {
                    *count = if n > 1 { Keep::Count(n - 1) } else { Keep::Off };
                }
            }
            if let (Some(Some(span)), Some(last)) =
                (policy.within_periods.get(i), within_seen.get_mut(i))
                && c.time >= span.before(latest)
                && *last != Some(bucket)
            {
                *last = Some(bucket);
                reasons.push(format!("{} within", period.name()));
            }
        }
        verdicts.push(Verdict { id: c.id, reasons });
    }
    // Too few periods for a rule: the oldest snapshot stays too.
    if let Some(oldest) = verdicts.last_mut() {
        for (i, period) in Period::ALL.iter().enumerate() {
            if matches!(counts.get(i), Some(Keep::Count(_))) {
                let reason = format!("oldest {} snapshot", period.name());
                if !oldest
                    .reasons
                    .iter()
                    .any(|r| r == &format!("{} snapshot", period.name()))
                {
                    oldest.reasons.push(reason);
                }
            }
        }
    }
    verdicts
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
                tags: Vec::new(),
            })
            .collect()
    }

    /// The times kept, newest first.
    fn kept(policy: &Policy, g: &[Candidate]) -> Vec<String> {
        apply(policy, g)
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
        let v = apply(&p, &g);
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
        let g = group(&[
            "2020-01-01 00:00",
            "2020-01-08 11:00",
            "2020-01-08 12:00",
            "2020-01-10 12:00",
        ]);
        let p = Policy {
            within: Some(Span::parse("2d").unwrap()),
            ..Policy::default()
        };
        assert_eq!(kept(&p, &g), ["2020-01-10 12:00", "2020-01-08 12:00"]);
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
        let v = apply(&p, &g);
        assert_eq!(v[0].reasons, ["last snapshot", "daily snapshot"]);
        assert_eq!(kept(&p, &g), ["2024-01-02 10:00", "2024-01-01 11:00"]);
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
    fn span_before_clamps_to_the_end_of_shorter_months() {
        let t = DateTime::parse_from_rfc3339("2024-03-31T12:00:00Z").unwrap();
        let b = Span::parse("1m").unwrap().before(t);
        assert_eq!(b.format("%Y-%m-%d").to_string(), "2024-02-29");
    }
}
