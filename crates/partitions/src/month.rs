//! A calendar month in UTC: the unit every partition covers.

use std::fmt;

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};

use crate::period::{Period, digits};

/// One calendar month, years 1 to 9999 (what a `pYYYY_MM` suffix can name).
///
/// Its range is `[start, end)` in UTC, whatever the session's or the
/// caller's time zone: `2026-01-31T23:30:00-01:00` is in February.
///
/// ```
/// use chrono::DateTime;
/// use partitions::Month;
///
/// let ts = DateTime::parse_from_rfc3339("2026-01-31T23:30:00-01:00").unwrap();
/// let m = Month::containing(ts.to_utc()).unwrap();
/// assert_eq!(m, Month::new(2026, 2).unwrap());
/// assert_eq!(m.suffix(), "p2026_02");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    /// `year * 12 + (month - 1)`: months in order, arithmetic by addition.
    index: i32,
}

const MIN_INDEX: i32 = 12; // 0001-01
const MAX_INDEX: i32 = 9999 * 12 + 11; // 9999-12

impl Month {
    /// The first representable month, 0001-01.
    pub const MIN: Month = Month { index: MIN_INDEX };
    /// The last representable month, 9999-12.
    pub const MAX: Month = Month { index: MAX_INDEX };

    /// `month` is 1 to 12; `None` outside years 1 to 9999.
    pub fn new(year: i32, month: u32) -> Option<Month> {
        if !(1..=12).contains(&month) {
            return None;
        }
        // `month` is 1..=12, so the conversion cannot fail.
        let m = i32::try_from(month).ok()?;
        Month::from_index(year.checked_mul(12)?.checked_add(m - 1)?)
    }

    pub(crate) fn from_index(index: i32) -> Option<Month> {
        (MIN_INDEX..=MAX_INDEX)
            .contains(&index)
            .then_some(Month { index })
    }

    /// The month holding `ts` (UTC); `None` outside years 1 to 9999.
    pub fn containing(ts: DateTime<Utc>) -> Option<Month> {
        Month::new(ts.year(), ts.month())
    }

    /// The calendar year.
    pub fn year(self) -> i32 {
        self.index.div_euclid(12)
    }

    /// The month of the year, 1 to 12.
    pub fn month(self) -> u32 {
        // rem_euclid(12) is 0..=11.
        self.index.rem_euclid(12).unsigned_abs() + 1
    }

    /// `self` plus `n` months (negative goes back); `None` past the ends.
    pub fn checked_add(self, n: i32) -> Option<Month> {
        Month::from_index(self.index.checked_add(n)?)
    }

    /// The next month, `None` after 9999-12.
    pub fn succ(self) -> Option<Month> {
        self.checked_add(1)
    }

    /// Months from `self` to `other` (negative when `other` is earlier).
    pub fn months_until(self, other: Month) -> i32 {
        other.index - self.index
    }

    /// First instant of the month, UTC.
    pub fn start(self) -> DateTime<Utc> {
        utc_midnight(self.year(), self.month())
    }

    /// First instant of the next month, UTC (exclusive end of the range).
    pub fn end(self) -> DateTime<Utc> {
        let next = self.index + 1;
        utc_midnight(next.div_euclid(12), next.rem_euclid(12).unsigned_abs() + 1)
    }

    /// `pYYYY_MM`, pg_partman's suffix for monthly partitions.
    pub fn suffix(self) -> String {
        format!("p{:04}_{:02}", self.year(), self.month())
    }

    /// Parses exactly `pYYYY_MM` (four digits, underscore, two digits 01-12).
    pub fn parse_suffix(s: &str) -> Option<Month> {
        let b = s.as_bytes();
        if b.len() != 8 || b[0] != b'p' || b[5] != b'_' {
            return None;
        }
        let year = i32::try_from(digits(s, 1..5)?).ok()?;
        Month::new(year, digits(s, 6..8)?)
    }

    /// The partition bound clause this month must have, as PostgreSQL
    /// prints it for a UTC session.
    pub fn bound_clause(self) -> String {
        Period::bound_clause(self)
    }
}

impl Period for Month {
    const UNIT: &'static str = "month";
    const UNITS: &'static str = "months";
    const MIN: Month = Month::MIN;
    const MAX: Month = Month::MAX;
    const MAX_PREMAKE: i32 = 120;
    const MAX_RETENTION: i32 = 1200;

    fn containing(ts: DateTime<Utc>) -> Option<Month> {
        Month::containing(ts)
    }
    fn index(self) -> i32 {
        self.index
    }
    fn from_index(index: i32) -> Option<Month> {
        Month::from_index(index)
    }
    fn start(self) -> DateTime<Utc> {
        Month::start(self)
    }
    fn end(self) -> DateTime<Utc> {
        Month::end(self)
    }
    fn suffix(self) -> String {
        Month::suffix(self)
    }
    fn parse_suffix(s: &str) -> Option<Month> {
        Month::parse_suffix(s)
    }
    fn back(now: DateTime<Utc>, n: i32) -> Option<DateTime<Utc>> {
        now.checked_sub_months(Months::new(n.unsigned_abs()))
    }
    fn sql_index(k: &str) -> String {
        format!(
            "(extract(year FROM {k} AT TIME ZONE 'UTC')::int4 * 12 \
             + extract(month FROM {k} AT TIME ZONE 'UTC')::int4 - 1)"
        )
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

fn utc_midnight(year: i32, month: u32) -> DateTime<Utc> {
    // Years 1..=10000 and months 1..=12 are always valid dates for chrono.
    let date = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN);
    Utc.from_utc_datetime(&date.and_time(chrono::NaiveTime::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::period::sql_ts;

    #[test]
    fn utc_boundaries_whatever_the_offset() {
        let ts = DateTime::parse_from_rfc3339("2026-01-31T23:30:00-01:00")
            .unwrap()
            .to_utc();
        assert_eq!(Month::containing(ts), Month::new(2026, 2));
        let ts = DateTime::parse_from_rfc3339("2026-02-01T00:30:00+01:00")
            .unwrap()
            .to_utc();
        assert_eq!(Month::containing(ts), Month::new(2026, 1));
    }

    #[test]
    fn arithmetic_and_ranges() {
        let dec = Month::new(2025, 12).unwrap();
        assert_eq!(dec.succ(), Month::new(2026, 1));
        assert_eq!(dec.checked_add(-12), Month::new(2024, 12));
        assert_eq!(dec.end(), Month::new(2026, 1).unwrap().start());
        assert_eq!(dec.start().to_rfc3339(), "2025-12-01T00:00:00+00:00");
        assert_eq!(dec.months_until(Month::new(2026, 3).unwrap()), 3);
        assert_eq!(Month::MAX.succ(), None);
        assert_eq!(Month::MIN.checked_add(-1), None);
        assert_eq!(
            Month::MAX.end(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap()
        );
        assert_eq!(sql_ts(Month::MAX.end()), "10000-01-01 00:00:00+00");
        assert_eq!(
            sql_ts(Month::new(2026, 2).unwrap().start()),
            "2026-02-01 00:00:00+00"
        );
    }

    #[test]
    fn suffixes_round_trip_and_reject_near_misses() {
        let m = Month::new(2026, 3).unwrap();
        assert_eq!(m.suffix(), "p2026_03");
        assert_eq!(Month::parse_suffix("p2026_03"), Some(m));
        for bad in [
            "p2026_13",
            "p2026_00",
            "p2026_3",
            "p26_03",
            "p2026-03",
            "x2026_03",
            "p2026_03x",
            "p0000_01",
            "p+026_03",
        ] {
            assert_eq!(Month::parse_suffix(bad), None, "{bad}");
        }
    }

    #[test]
    fn bound_clause_is_utc() {
        assert_eq!(
            Month::new(2026, 2).unwrap().bound_clause(),
            "FOR VALUES FROM ('2026-02-01 00:00:00+00') TO ('2026-03-01 00:00:00+00')"
        );
    }
}
