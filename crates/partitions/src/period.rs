//! What one partition covers: a UTC calendar [`Month`](crate::Month) or a
//! UTC [`Day`](crate::Day). Everything else in this crate is written once
//! over this trait.

use std::fmt;
use std::hash::Hash;

use chrono::{DateTime, Datelike, Timelike, Utc};

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::Month {}
    impl Sealed for crate::Day {}
}

/// A partition's range: consecutive, non-overlapping UTC periods, numbered
/// by an index so that arithmetic is addition. Implemented by
/// [`Month`](crate::Month) and [`Day`](crate::Day) only (sealed).
pub trait Period:
    Copy + Ord + Eq + Hash + fmt::Debug + fmt::Display + Send + Sync + 'static + sealed::Sealed
{
    /// `"month"` or `"day"`, for messages.
    const UNIT: &'static str;
    /// `"months"` or `"days"`.
    const UNITS: &'static str;
    /// The first representable period (in year 0001).
    const MIN: Self;
    /// The last representable period (in year 9999).
    const MAX: Self;
    /// The largest premake accepted, in periods.
    const MAX_PREMAKE: i32;
    /// The largest retention accepted, in periods.
    const MAX_RETENTION: i32;

    /// The period holding `ts` (UTC); `None` outside years 1 to 9999.
    fn containing(ts: DateTime<Utc>) -> Option<Self>;

    /// Periods in order: `b.index() - a.index()` periods lie between them.
    fn index(self) -> i32;

    /// The inverse of [`index`](Period::index); `None` outside years 1 to 9999.
    fn from_index(index: i32) -> Option<Self>;

    /// First instant of the period, UTC.
    fn start(self) -> DateTime<Utc>;

    /// First instant of the next period, UTC (exclusive end of the range).
    fn end(self) -> DateTime<Utc>;

    /// The partition name suffix, pg_partman's: `pYYYY_MM` or `pYYYY_MM_DD`.
    fn suffix(self) -> String;

    /// Parses exactly what [`suffix`](Period::suffix) prints.
    fn parse_suffix(s: &str) -> Option<Self>;

    /// `now` minus `n` periods (calendar months for [`Month`](crate::Month));
    /// `None` before year 1.
    fn back(now: DateTime<Utc>, n: i32) -> Option<DateTime<Utc>>;

    /// A SQL expression of type int4 giving the index of the timestamptz
    /// expression `key` (already quoted), for instants within years 1 to 9999.
    fn sql_index(key: &str) -> String;

    /// `self` plus `n` periods (negative goes back); `None` past the ends.
    fn checked_add(self, n: i32) -> Option<Self> {
        Self::from_index(self.index().checked_add(n)?)
    }

    /// The next period, `None` after the last.
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }

    /// Periods from `self` to `other` (negative when `other` is earlier).
    fn periods_until(self, other: Self) -> i32 {
        other.index() - self.index()
    }

    /// The partition bound clause this period must have, as PostgreSQL
    /// prints it for a UTC session.
    fn bound_clause(self) -> String {
        format!(
            "FOR VALUES FROM ('{}') TO ('{}')",
            sql_ts(self.start()),
            sql_ts(self.end())
        )
    }
}

/// A timestamp literal with an explicit UTC offset, so its meaning does not
/// depend on the session's TimeZone.
/// Written out by hand: chrono's `%Y` prints year 10000 as `+10000`,
/// which PostgreSQL does not read.
pub(crate) fn sql_ts(ts: DateTime<Utc>) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}+00",
        ts.year(),
        ts.month(),
        ts.day(),
        ts.hour(),
        ts.minute(),
        ts.second()
    )
}

/// Parses exactly `len` ASCII digits of `s[range]`.
pub(crate) fn digits(s: &str, range: std::ops::Range<usize>) -> Option<u32> {
    let part = s.get(range)?;
    part.bytes()
        .all(|c| c.is_ascii_digit())
        .then(|| part.parse().ok())?
}
