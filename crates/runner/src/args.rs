//! Parsers for the values every command takes: times and durations.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// An RFC 3339 time with any offset, converted to UTC.
pub fn parse_ts(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time such as 2022-01-03T00:10:00Z: {e}"))
}

/// A positive duration such as `30s`, `5m`, `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (try 30s, 5m, 1h)"))?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d)
}

/// The cycles from `from` to `to` (included when it falls on the step),
/// `every` apart.
pub fn ticks(from: DateTime<Utc>, to: DateTime<Utc>, every: TimeDelta) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut t = from;
    while t <= to && every > TimeDelta::zero() {
        out.push(t);
        t += every;
    }
    out
}

/// A duration such as `1h`, or `0s` for none.
pub fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (try 0s, 30s, 5m, 1h)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times_are_parsed_strictly() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("five").is_err());
        assert_eq!(parse_duration_or_zero("0s"), Ok(Duration::ZERO));
        assert!(parse_duration_or_zero("-1s").is_err());
        assert!(parse_ts("2022-01-03 00:10").is_err());
        assert_eq!(
            parse_ts("2026-01-31T23:30:00-01:00").unwrap().to_rfc3339(),
            "2026-02-01T00:30:00+00:00"
        );
    }

    #[test]
    fn ticks_include_the_last_cycle_on_the_step() {
        let t = |s: &str| parse_ts(s).unwrap();
        let five = TimeDelta::minutes(5);
        let on = ticks(t("2022-01-03T00:05:00Z"), t("2022-01-03T00:25:00Z"), five);
        assert_eq!(on.len(), 5);
        assert_eq!(on[4], t("2022-01-03T00:25:00Z"));
        let off = ticks(t("2022-01-03T00:05:00Z"), t("2022-01-03T00:24:00Z"), five);
        assert_eq!(off.len(), 4);
        assert!(ticks(t("2022-01-03T00:05:00Z"), t("2022-01-03T00:00:00Z"), five).is_empty());
    }
}
