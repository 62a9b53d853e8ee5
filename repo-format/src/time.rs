//! Points in time as the format records them (SPEC.md §2: seconds and
//! nanoseconds since the Unix epoch, UTC), and their conversions to and
//! from calendar times. Pure: the clock is read by the caller, never here.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// A point in time: seconds and nanoseconds since the Unix epoch (UTC).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z (may be negative).
    pub secs: i64,
    /// Nanoseconds, 0 to 999,999,999.
    pub nanos: u32,
}

impl Timestamp {
    /// The timestamp of a calendar time in any zone.
    pub fn from_datetime<Tz: TimeZone>(t: &DateTime<Tz>) -> Self {
        Timestamp {
            secs: t.timestamp(),
            nanos: t.timestamp_subsec_nanos(),
        }
    }

    /// The calendar time in UTC; None for a time beyond the calendar's
    /// range (no real clock wrote it) or nanoseconds out of range.
    pub fn to_utc(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(self.secs, self.nanos)
    }

    /// RFC 3339 to the second in UTC (`2026-12-07T12:45:13Z`), or the
    /// seconds followed by `s` for a time beyond the calendar's range.
    pub fn rfc3339(&self) -> String {
        self.to_utc().map_or_else(
            || format!("{}s", self.secs),
            |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_round_trips_through_calendar_time() {
        let t = Timestamp {
            secs: 1_765_111_513,
            nanos: 42,
        };
        let utc = t.to_utc();
        assert_eq!(utc.map(|u| Timestamp::from_datetime(&u)), Some(t));
        assert_eq!(t.rfc3339(), "2025-12-07T12:45:13Z");
        let far = Timestamp {
            secs: i64::MAX,
            nanos: 0,
        };
        assert_eq!(far.to_utc(), None);
        assert_eq!(far.rfc3339(), format!("{}s", i64::MAX));
    }
}
