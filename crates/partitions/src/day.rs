//! A UTC calendar day: the unit a daily partition covers.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};

use crate::period::{Period, digits};

/// One UTC calendar day, 0001-01-01 to 9999-12-31 (what a `pYYYY_MM_DD`
/// suffix can name). Its range is `[00:00, next 00:00)` in UTC, whatever
/// the session's time zone.
///
/// ```
/// use chrono::DateTime;
/// use partitions::{Day, Period};
///
/// let ts = DateTime::parse_from_rfc3339("2022-01-02T23:30:00-01:00").unwrap();
/// let d = Day::containing(ts.to_utc()).unwrap();
/// assert_eq!(d, Day::new(2022, 1, 3).unwrap());
/// assert_eq!(d.suffix(), "p2022_01_03");
/// assert_eq!(d.succ(), Day::new(2022, 1, 4));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day {
    date: NaiveDate,
}

impl Day {
    /// The first representable day, 0001-01-01.
    pub const MIN: Day = Day {
        date: NaiveDate::from_ymd_opt(1, 1, 1).expect("0001-01-01 is a date"),
    };
    /// The last representable day, 9999-12-31.
    pub const MAX: Day = Day {
        date: NaiveDate::from_ymd_opt(9999, 12, 31).expect("9999-12-31 is a date"),
    };

    /// A calendar date; `None` when it is not one or is outside years 1 to 9999.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Day> {
        Day::from_date(NaiveDate::from_ymd_opt(year, month, day)?)
    }

    /// The day of `date`; `None` outside years 1 to 9999.
    pub fn from_date(date: NaiveDate) -> Option<Day> {
        (1..=9999).contains(&date.year()).then_some(Day { date })
    }

    /// The calendar date.
    pub fn date(self) -> NaiveDate {
        self.date
    }
}

impl Period for Day {
    const UNIT: &'static str = "day";
    const UNITS: &'static str = "days";
    const MIN: Day = Day::MIN;
    const MAX: Day = Day::MAX;
    /// A year ahead.
    const MAX_PREMAKE: i32 = 366;
    /// A hundred years.
    const MAX_RETENTION: i32 = 36_525;

    fn containing(ts: DateTime<Utc>) -> Option<Day> {
        Day::from_date(ts.date_naive())
    }

    /// Days since the common era: 0001-01-01 is 1.
    fn index(self) -> i32 {
        self.date.num_days_from_ce()
    }

    fn from_index(index: i32) -> Option<Day> {
        Day::from_date(NaiveDate::from_num_days_from_ce_opt(index)?)
    }

    fn start(self) -> DateTime<Utc> {
        self.date.and_time(chrono::NaiveTime::MIN).and_utc()
    }

    fn end(self) -> DateTime<Utc> {
        // 9999-12-31 + 1 day is 10000-01-01, a valid chrono date.
        self.start() + TimeDelta::days(1)
    }

    fn suffix(self) -> String {
        format!(
            "p{:04}_{:02}_{:02}",
            self.date.year(),
            self.date.month(),
            self.date.day()
        )
    }

    /// Exactly `pYYYY_MM_DD` naming a real date.
    fn parse_suffix(s: &str) -> Option<Day> {
        let b = s.as_bytes();
        if b.len() != 11 || b[0] != b'p' || b[5] != b'_' || b[8] != b'_' {
            return None;
        }
        let year = i32::try_from(digits(s, 1..5)?).ok()?;
        Day::new(year, digits(s, 6..8)?, digits(s, 9..11)?)
    }

    fn back(now: DateTime<Utc>, n: i32) -> Option<DateTime<Utc>> {
        now.checked_sub_signed(TimeDelta::days(i64::from(n)))
    }

    fn sql_index(k: &str) -> String {
        // date - date is an integer number of days; 0001-01-01 is index 1.
        format!("(({k} AT TIME ZONE 'UTC')::date - DATE '0001-01-01' + 1)")
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.date.year(),
            self.date.month(),
            self.date.day()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_boundaries_and_arithmetic() {
        let d = Day::new(2022, 1, 3).unwrap();
        assert_eq!(d.start().to_rfc3339(), "2022-01-03T00:00:00+00:00");
        assert_eq!(d.end(), Day::new(2022, 1, 4).unwrap().start());
        assert_eq!(Day::new(2021, 12, 31).unwrap().succ(), Day::new(2022, 1, 1));
        assert_eq!(Day::new(2024, 2, 28).unwrap().succ(), Day::new(2024, 2, 29));
        assert_eq!(d.checked_add(-3), Day::new(2021, 12, 31));
        assert_eq!(Day::MAX.succ(), None);
        assert_eq!(Day::MIN.checked_add(-1), None);
        assert_eq!(Day::MIN.index(), 1);
        assert_eq!(Day::from_index(Day::MAX.index()), Some(Day::MAX));
        assert_eq!(
            crate::period::sql_ts(Day::MAX.end()),
            "10000-01-01 00:00:00+00"
        );
        let ts = DateTime::parse_from_rfc3339("2022-01-03T00:30:00+01:00")
            .unwrap()
            .to_utc();
        assert_eq!(Day::containing(ts), Day::new(2022, 1, 2));
    }

    #[test]
    fn suffixes_round_trip_and_reject_near_misses() {
        let d = Day::new(2022, 1, 3).unwrap();
        assert_eq!(d.suffix(), "p2022_01_03");
        assert_eq!(Day::parse_suffix("p2022_01_03"), Some(d));
        for bad in [
            "p2022_02_30",
            "p2022_13_01",
            "p2022_01_3",
            "p2022_01",
            "p2022-01-03",
            "p0000_01_01",
            "p2022_01_03x",
            "x2022_01_03",
            "p+022_01_03",
        ] {
            assert_eq!(Day::parse_suffix(bad), None, "{bad}");
        }
    }

    #[test]
    fn bound_clause_is_utc() {
        assert_eq!(
            Day::new(2022, 1, 3).unwrap().bound_clause(),
            "FOR VALUES FROM ('2022-01-03 00:00:00+00') TO ('2022-01-04 00:00:00+00')"
        );
    }
}
