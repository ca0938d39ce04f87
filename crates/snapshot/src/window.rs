//! Which rows a report looks at.

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Serialize;

use crate::SnapshotError;

/// The two reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The hour before `at`, summaries only.
    Hourly,
    /// The 24 hours before `at`, with raw rows.
    Diagnostic,
}

impl Kind {
    /// `"hourly"` or `"diagnostic"`, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Hourly => "hourly",
            Kind::Diagnostic => "diagnostic",
        }
    }

    /// How far back from `at` the window reaches.
    pub fn span(self) -> Duration {
        match self {
            Kind::Hourly => Duration::hours(1),
            Kind::Diagnostic => Duration::hours(24),
        }
    }
}

/// The half-open window `[start, end)` of one report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Which report.
    pub kind: Kind,
    /// Inclusive.
    pub start: DateTime<Utc>,
    /// Exclusive; the report's `at`.
    pub end: DateTime<Utc>,
}

impl Window {
    /// The window of a `kind` report taken at `at`.
    pub fn ending_at(kind: Kind, at: DateTime<Utc>) -> Result<Window, SnapshotError> {
        let start = at
            .checked_sub_signed(kind.span())
            .ok_or(SnapshotError::TimeOutOfRange { at })?;
        Ok(Window {
            kind,
            start,
            end: at,
        })
    }

    /// Whether raw rows are collected (the diagnostic report).
    pub(crate) fn raw_rows(&self) -> bool {
        self.kind == Kind::Diagnostic
    }

    /// The UTC hour buckets `[first, last)` that overlap the window: from the
    /// hour holding `start` to the end of the hour holding the last instant
    /// before `end`.
    pub(crate) fn hour_buckets(&self) -> Result<(DateTime<Utc>, DateTime<Utc>), SnapshotError> {
        let hour = Duration::hours(1);
        let out = |_| SnapshotError::TimeOutOfRange { at: self.end };
        let first = self.start.duration_trunc(hour).map_err(out)?;
        let end_trunc = self.end.duration_trunc(hour).map_err(out)?;
        let last = if end_trunc == self.end {
            end_trunc
        } else {
            end_trunc
                .checked_add_signed(hour)
                .ok_or(SnapshotError::TimeOutOfRange { at: self.end })?
        };
        Ok((first, last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn hourly_window_is_the_hour_before() {
        let w = Window::ending_at(Kind::Hourly, ts("2022-01-03T01:00:00Z")).unwrap();
        assert_eq!(w.start, ts("2022-01-03T00:00:00Z"));
        assert_eq!(w.end, ts("2022-01-03T01:00:00Z"));
        assert_eq!(
            w.hour_buckets().unwrap(),
            (ts("2022-01-03T00:00:00Z"), ts("2022-01-03T01:00:00Z"))
        );
    }

    #[test]
    fn diagnostic_window_is_a_day() {
        let w = Window::ending_at(Kind::Diagnostic, ts("2022-01-03T01:00:00Z")).unwrap();
        assert_eq!(w.start, ts("2022-01-02T01:00:00Z"));
    }

    #[test]
    fn hour_buckets_cover_partial_hours() {
        let w = Window::ending_at(Kind::Hourly, ts("2022-01-03T01:30:00Z")).unwrap();
        assert_eq!(
            w.hour_buckets().unwrap(),
            (ts("2022-01-03T00:00:00Z"), ts("2022-01-03T02:00:00Z"))
        );
    }
}
