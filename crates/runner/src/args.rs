//! Parsers for the values every command takes: times and durations, each
//! range-checked here, at parse, so a value no later code can compute with
//! is a usage error (exit 64) naming the flag, never a panic or an overflow
//! deep in a cycle.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Timelike, Utc};

/// The earliest time a command takes (`--at`, `--from`, `--to`, `--now`).
pub const EARLIEST: &str = "1970-01-01T00:00:00Z";
/// The latest time a command takes: the end of 2199. Far beyond any AIS
/// data, and well inside what every part computes with (the hour buckets of
/// a snapshot are rounded in nanoseconds since 1970, which end in 2262).
pub const LATEST: &str = "2199-12-31T23:59:59.999999Z";

/// An RFC 3339 time with any offset, converted to UTC, between [`EARLIEST`]
/// and [`LATEST`]. A leap second (`23:59:60`) is refused: PostgreSQL has
/// none and would store it as the next minute, another cycle's time; so is
/// a fraction finer than a microsecond, which PostgreSQL would round away.
pub fn parse_ts(s: &str) -> Result<DateTime<Utc>, String> {
    let t = DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time such as 2022-01-03T00:10:00Z: {e}"))?;
    if t.nanosecond() >= 1_000_000_000 {
        return Err(format!(
            "{s:?} is a leap second; PostgreSQL has no leap seconds and would store it as {}, \
             another time; give :59 or the next minute",
            DateTime::from_timestamp_micros(t.timestamp_micros())
                .unwrap_or(t)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    if t.nanosecond() % 1_000 != 0 {
        return Err(format!(
            "{s:?} is more precise than a microsecond, which is all PostgreSQL stores; \
             round it to at most 6 decimals"
        ));
    }
    let (earliest, latest) = (bound(EARLIEST), bound(LATEST));
    if t < earliest || t > latest {
        return Err(format!(
            "{s:?} is outside the times this system handles, {EARLIEST} to {LATEST}"
        ));
    }
    Ok(t)
}

fn bound(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map_or(DateTime::<Utc>::MIN_UTC, |t| t.with_timezone(&Utc))
}

/// The range a duration flag accepts (both ends included), said in its
/// `--help`.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    min: Duration,
    max: Duration,
}

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// `--window`: 1 second to 1 day. A day of positions is what a cycle can
/// hold in memory at global scale; a longer look back is a replay.
pub const WINDOW: Range = Range {
    min: secs(1),
    max: secs(DAY),
};
/// `--model-timeout`: 1 millisecond to 1 hour (a cycle runs every few
/// minutes).
pub const MODEL_TIMEOUT: Range = Range {
    min: Duration::from_millis(1),
    max: secs(HOUR),
};
/// `--cache-ttl`: 1 second to 1 day (NOTIFY invalidates it anyway).
pub const CACHE_TTL: Range = Range {
    min: secs(1),
    max: secs(DAY),
};
/// `--resolve-collisions-after`: 1 second to 30 days.
pub const RESOLVE_AFTER: Range = Range {
    min: secs(1),
    max: secs(30 * DAY),
};
/// `--every` of `replay` and `serve`: 1 second to 1 day. Cycles closer
/// than a second would run back to back (a cycle itself takes longer).
pub const EVERY: Range = Range {
    min: secs(1),
    max: secs(DAY),
};

/// `--statement-timeout`: 1 millisecond to 1 hour.
pub const STATEMENT_TIMEOUT: Range = Range {
    min: Duration::from_millis(1),
    max: secs(HOUR),
};
/// `--lock-timeout`: 1 millisecond to 1 hour.
pub const LOCK_TIMEOUT: Range = Range {
    min: Duration::from_millis(1),
    max: secs(HOUR),
};
/// `serve --lease-ttl`: 1 second to 10 minutes (a follower waits this long
/// to take over from a leader that died).
pub const LEASE_TTL: Range = Range {
    min: secs(1),
    max: secs(10 * MINUTE),
};
/// `serve --catch-up`: none (`0s`) to 1 day of missed ticks.
pub const CATCH_UP: Range = Range {
    min: Duration::ZERO,
    max: secs(DAY),
};
/// `serve --give-up-after`: 1 second to 30 days.
pub const GIVE_UP_AFTER: Range = Range {
    min: secs(1),
    max: secs(30 * DAY),
};

impl Range {
    /// Parses `s` (`30s`, `5m`, `1h`, `2d`) and checks it against the range.
    pub fn parse(self, s: &str) -> Result<Duration, String> {
        let d = humantime::parse_duration(s).map_err(|e| format!("{e} (try 30s, 5m, 1h)"))?;
        if d < self.min {
            return Err(format!(
                "{s} is shorter than the minimum, {}",
                humantime::format_duration(self.min)
            ));
        }
        if d > self.max {
            return Err(format!(
                "{s} is longer than the maximum, {}",
                humantime::format_duration(self.max)
            ));
        }
        Ok(d)
    }
}

/// `--window` (see [`WINDOW`]).
pub fn parse_window(s: &str) -> Result<Duration, String> {
    WINDOW.parse(s)
}

/// `--model-timeout` (see [`MODEL_TIMEOUT`]).
pub fn parse_model_timeout(s: &str) -> Result<Duration, String> {
    MODEL_TIMEOUT.parse(s)
}

/// `--cache-ttl` (see [`CACHE_TTL`]).
pub fn parse_cache_ttl(s: &str) -> Result<Duration, String> {
    CACHE_TTL.parse(s)
}

/// `--resolve-collisions-after` (see [`RESOLVE_AFTER`]).
pub fn parse_resolve_after(s: &str) -> Result<Duration, String> {
    RESOLVE_AFTER.parse(s)
}

/// `--every` (see [`EVERY`]).
pub fn parse_every(s: &str) -> Result<Duration, String> {
    EVERY.parse(s)
}

/// `--statement-timeout` (see [`STATEMENT_TIMEOUT`]).
pub fn parse_statement_timeout(s: &str) -> Result<Duration, String> {
    STATEMENT_TIMEOUT.parse(s)
}

/// `--lock-timeout` (see [`LOCK_TIMEOUT`]).
pub fn parse_lock_timeout(s: &str) -> Result<Duration, String> {
    LOCK_TIMEOUT.parse(s)
}

/// `serve --lease-ttl` (see [`LEASE_TTL`]).
pub fn parse_lease_ttl(s: &str) -> Result<Duration, String> {
    LEASE_TTL.parse(s)
}

/// `serve --catch-up` (see [`CATCH_UP`]).
pub fn parse_catch_up(s: &str) -> Result<Duration, String> {
    CATCH_UP.parse(s)
}

/// `serve --give-up-after` (see [`GIVE_UP_AFTER`]).
pub fn parse_give_up_after(s: &str) -> Result<Duration, String> {
    GIVE_UP_AFTER.parse(s)
}

/// The longest `--note`, in characters: a sentence or two saying why.
pub const MAX_NOTE_CHARS: usize = 500;

/// `--note`: one line of text of 1 to [`MAX_NOTE_CHARS`] characters, no
/// control characters (a newline would break `versions history`'s table in
/// two; a NUL cannot be stored), not blank. Leading or trailing spaces are
/// dropped: a note is read, not matched.
pub fn parse_note(s: &str) -> Result<String, String> {
    let note = s.trim();
    if note.is_empty() {
        return Err("a note must say something (leave --note out for none)".to_owned());
    }
    if let Some((i, c)) = note
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return Err(format!(
            "{note:?} has the control character {c:?} at character {}; a note is one line of text",
            i + 1
        ));
    }
    let chars = note.chars().count();
    if chars > MAX_NOTE_CHARS {
        return Err(format!(
            "the note has {chars} characters; at most {MAX_NOTE_CHARS} are allowed"
        ));
    }
    Ok(note.to_owned())
}

/// A `--note` that [`parse_note`] accepted (parsed with [`name`], so a
/// refused note is shown escaped on one line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note(pub String);

impl std::str::FromStr for Note {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        parse_note(s).map(Note)
    }
}

/// The value parser of a name argument (a model id, version label, input
/// key, implementation name, or a [`Note`]): the value types' rule, refused as a usage error (exit 64) whose
/// message shows the value escaped, so a newline in it cannot break the
/// message in two (clap's own "invalid value" would print it raw).
#[derive(Debug)]
pub struct NameParser<T>(std::marker::PhantomData<fn() -> T>);

impl<T> Clone for NameParser<T> {
    fn clone(&self) -> Self {
        Self(std::marker::PhantomData)
    }
}

/// See [`NameParser`].
pub fn name<T>() -> NameParser<T> {
    NameParser(std::marker::PhantomData)
}

impl<T> clap::builder::TypedValueParser for NameParser<T>
where
    T: std::str::FromStr + Clone + Send + Sync + 'static,
    T::Err: std::fmt::Display,
{
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        let what = arg.map_or_else(|| "the value".to_owned(), ToString::to_string);
        let refuse = |message: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid value for {what}: {message}\n"),
            )
            .with_cmd(cmd)
        };
        let text = value
            .to_str()
            .ok_or_else(|| refuse(format!("{value:?} is not UTF-8")))?;
        text.parse().map_err(|e: T::Err| refuse(e.to_string()))
    }
}

/// The cycles of a replay or a backtest, `from`, `from + step`, ... up to `to`
/// inclusive, one at a time (never all in memory), with their number known
/// in advance for the progress bar.
#[derive(Debug, Clone)]
pub struct Ticks {
    next: DateTime<Utc>,
    step: TimeDelta,
    left: u64,
}

impl Ticks {
    /// `step` must be positive (`--every` is at least a second); a `to`
    /// before `from` gives no tick.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>, step: TimeDelta) -> Ticks {
        let left = match ((to - from).num_microseconds(), step.num_microseconds()) {
            (Some(span), Some(step)) if span >= 0 && step > 0 => {
                u64::try_from(span / step).map_or(0, |n| n + 1)
            }
            _ => 0,
        };
        Ticks {
            next: from,
            step,
            left,
        }
    }

    /// How many ticks are left.
    pub fn remaining(&self) -> u64 {
        self.left
    }
}

impl Iterator for Ticks {
    type Item = DateTime<Utc>;

    fn next(&mut self) -> Option<DateTime<Utc>> {
        if self.left == 0 {
            return None;
        }
        let at = self.next;
        self.left -= 1;
        // The last tick lies at or before `to`, which is in range, so
        // every step up to it is too; past it nothing is computed.
        if self.left > 0 {
            self.next = at.checked_add_signed(self.step)?;
        }
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times_are_parsed_strictly() {
        assert_eq!(parse_window("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_window("0s").is_err());
        assert!(parse_window("five").is_err());
        assert!(parse_ts("2022-01-03 00:10").is_err());
        assert_eq!(
            parse_ts("2026-01-31T23:30:00-01:00").unwrap().to_rfc3339(),
            "2026-02-01T00:30:00+00:00"
        );
    }

    #[test]
    fn every_duration_flag_takes_its_maximum_and_refuses_beyond() {
        for (range, max, beyond) in [
            (WINDOW, "1day", "1day 1s"),
            (MODEL_TIMEOUT, "1h", "3601s"),
            (CACHE_TTL, "24h", "25h"),
            (RESOLVE_AFTER, "30days", "31days"),
            (EVERY, "1d", "300000y"),
            (STATEMENT_TIMEOUT, "1h", "61m"),
            (LOCK_TIMEOUT, "60m", "1h 1ms"),
            (LEASE_TTL, "10m", "601s"),
            (CATCH_UP, "1day", "2days"),
            (GIVE_UP_AFTER, "30d", "300000y"),
        ] {
            assert_eq!(range.parse(max), Ok(range.max), "{max}");
            assert_eq!(
                range.parse(&humantime::format_duration(range.min).to_string()),
                Ok(range.min)
            );
            let err = range.parse(beyond).unwrap_err();
            assert!(err.contains("longer than the maximum"), "{err}");
        }
        assert_eq!(
            EVERY.parse("1ms").unwrap_err(),
            "1ms is shorter than the minimum, 1s"
        );
        assert_eq!(
            WINDOW.parse("300000y").unwrap_err(),
            "300000y is longer than the maximum, 1day"
        );
        assert!(WINDOW.parse("99999999999999999999999y").is_err());
        assert_eq!(CATCH_UP.parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn times_outside_the_range_leap_seconds_and_nanoseconds_are_refused() {
        assert!(parse_ts(EARLIEST).is_ok());
        assert!(parse_ts(LATEST).is_ok());
        assert!(
            parse_ts("1969-12-31T23:59:59Z")
                .unwrap_err()
                .contains("outside the times this system handles")
        );
        assert!(parse_ts("2200-01-01T00:00:00Z").is_err());
        assert!(parse_ts("+10000-01-01T00:00:00Z").is_err());
        assert_eq!(
            parse_ts("2016-12-31T23:59:60Z").unwrap_err(),
            "\"2016-12-31T23:59:60Z\" is a leap second; PostgreSQL has no leap seconds and would \
             store it as 2017-01-01T00:00:00Z, another time; give :59 or the next minute"
        );
        assert!(parse_ts("2022-01-03T00:10:00.000001Z").is_ok());
        assert!(
            parse_ts("2022-01-03T00:10:00.0000001Z")
                .unwrap_err()
                .contains("more precise than a microsecond")
        );
    }

    #[test]
    fn a_note_is_one_line_of_text() {
        assert_eq!(
            parse_note("  recall +4% over a day "),
            Ok("recall +4% over a day".to_owned())
        );
        assert!(
            parse_note("   ")
                .unwrap_err()
                .contains("must say something")
        );
        assert_eq!(
            parse_note("two\nlines").unwrap_err(),
            "\"two\\nlines\" has the control character '\\n' at character 4; a note is one line of text"
        );
        assert!(parse_note(&"x".repeat(MAX_NOTE_CHARS)).is_ok());
        assert!(
            parse_note(&"x".repeat(MAX_NOTE_CHARS + 1))
                .unwrap_err()
                .contains("at most 500")
        );
    }

    #[test]
    fn ticks_include_the_last_cycle_on_the_step() {
        let t = |s: &str| parse_ts(s).unwrap();
        let five = TimeDelta::minutes(5);
        let on: Vec<_> =
            Ticks::new(t("2022-01-03T00:05:00Z"), t("2022-01-03T00:25:00Z"), five).collect();
        assert_eq!(on.len(), 5);
        assert_eq!(on[4], t("2022-01-03T00:25:00Z"));
        let off = Ticks::new(t("2022-01-03T00:05:00Z"), t("2022-01-03T00:24:00Z"), five);
        assert_eq!(off.remaining(), 4);
        assert_eq!(off.count(), 4);
        assert_eq!(
            Ticks::new(t("2022-01-03T00:05:00Z"), t("2022-01-03T00:00:00Z"), five).remaining(),
            0
        );
    }
}
