//! Section 5: category drift between `kcg.prediction_stats_hourly` and
//! `kcg.prediction_events`.
//!
//! **The hour of an event is `date_trunc('hour', event_ts, 'UTC')`**: the
//! UTC hour of the event's own time, not of the cycle that found it. The
//! stats stage must key `prediction_stats_hourly.hour` the same way, so
//! that for every `(hour, category)`
//! `event_count = count(*) of prediction_events in that hour and category`.
//!
//! A `prediction_events` row is an **episode** (issue 14): a finding that
//! continues from cycle to cycle updates its row, whose `event_ts` stays the
//! time it was first seen. So both sides count *new episodes* per hour, and
//! an episode counts once, in the hour it started.
//!
//! The report compares every UTC hour bucket that overlaps the window (from
//! the hour holding the window's start to the hour holding its last
//! instant), whole buckets on both sides. A pair present on one side only
//! is compared with 0 on the other; a stats row with `event_count = 0` and
//! no events matches. Every mismatch is listed, and any mismatch is an
//! alarm.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::text;
use crate::{SnapshotError, Window, query};

const STATS: &str = "kcg.prediction_stats_hourly";
const EVENTS: &str = "kcg.prediction_events";

/// One `(hour, category)` compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftRow {
    /// The UTC hour.
    pub hour: DateTime<Utc>,
    /// The category.
    pub category: String,
    /// `prediction_stats_hourly.event_count`; null when the row is missing.
    pub stats_count: Option<i64>,
    /// Events in that hour and category.
    pub events_count: i64,
    /// `stats_count` (0 when missing) minus `events_count`.
    pub delta: i64,
}

impl DriftRow {
    /// Whether the two sides disagree.
    pub fn is_mismatch(&self) -> bool {
        self.delta != 0
    }
}

/// Section 5.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    /// True when any row mismatches.
    pub alarm: bool,
    /// First hour bucket compared (inclusive).
    pub hours_start: DateTime<Utc>,
    /// End of the last hour bucket compared (exclusive).
    pub hours_end: DateTime<Utc>,
    /// `(hour, category)` pairs compared.
    pub compared: i64,
    /// How many disagree.
    pub mismatches: i64,
    /// Every mismatching pair, by hour then category.
    pub mismatch_rows: Vec<DriftRow>,
    /// E.g. "no rows in kcg.prediction_events in window".
    pub notes: Vec<String>,
    /// Every pair compared, matching or not, by hour then category.
    pub rows: Vec<DriftRow>,
}

const COMPARE: &str = "
WITH stats AS (
    SELECT hour, category, event_count
    FROM kcg.prediction_stats_hourly
    WHERE hour >= $1 AND hour < $2
),
events AS (
    SELECT date_trunc('hour', event_ts, 'UTC') AS hour, category, count(*) AS n
    FROM kcg.prediction_events
    WHERE event_ts >= $1 AND event_ts < $2
    GROUP BY 1, 2
)
SELECT coalesce(s.hour, e.hour) AS hour,
       coalesce(s.category, e.category)::text AS category,
       s.event_count,
       coalesce(e.n, 0) AS events_count
FROM stats s
FULL JOIN events e ON e.hour = s.hour AND e.category = s.category
ORDER BY 1, 2";

impl Drift {
    pub(crate) async fn load(
        client: &impl GenericClient,
        w: &Window,
    ) -> Result<Drift, SnapshotError> {
        const S: &str = "drift";
        let (hours_start, hours_end) = w.hour_buckets()?;
        let mut rows = Vec::new();
        for r in &query::all(client, S, STATS, COMPARE, &[&hours_start, &hours_end]).await? {
            let r = query::Cols::new(r, S, STATS);
            let stats_count: Option<i64> = r.get(2)?;
            let events_count: i64 = r.get(3)?;
            rows.push(DriftRow {
                hour: r.get(0)?,
                category: r.get(1)?,
                stats_count,
                events_count,
                delta: stats_count.unwrap_or(0) - events_count,
            });
        }
        let mut notes = Vec::new();
        if rows.iter().all(|r| r.stats_count.is_none()) {
            notes.push(format!("no rows in {STATS} in window"));
        }
        if rows.iter().all(|r| r.events_count == 0) {
            notes.push(format!("no rows in {EVENTS} in window"));
        }
        let mismatch_rows: Vec<DriftRow> =
            rows.iter().filter(|r| r.is_mismatch()).cloned().collect();
        Ok(Drift {
            alarm: !mismatch_rows.is_empty(),
            hours_start,
            hours_end,
            compared: rows.len() as i64,
            mismatches: mismatch_rows.len() as i64,
            mismatch_rows,
            notes,
            rows,
        })
    }

    pub(crate) fn alarms(&self) -> Vec<String> {
        self.mismatch_rows
            .iter()
            .map(|r| {
                format!(
                    "{} {}: prediction_stats_hourly says {}, prediction_events has {}",
                    text::ts(r.hour),
                    r.category,
                    r.stats_count
                        .map_or_else(|| "nothing (no row)".to_owned(), |n| n.to_string()),
                    r.events_count
                )
            })
            .collect()
    }

    pub(crate) fn write_text(&self, out: &mut String) {
        text::heading(out, "5. category drift", self.alarm);
        text::notes(out, &self.notes);
        text::pairs(
            out,
            &[
                (
                    "hours",
                    format!(
                        "[{}, {})",
                        text::ts(self.hours_start),
                        text::ts(self.hours_end)
                    ),
                ),
                ("compared", self.compared.to_string()),
                ("mismatches", self.mismatches.to_string()),
            ],
        );
        let table = |out: &mut String, rows: &[DriftRow]| {
            let mut t = text::table(&[
                ("hour", false),
                ("category", false),
                ("stats", true),
                ("events", true),
                ("delta", true),
                ("", false),
            ]);
            for r in rows {
                t.row(vec![
                    text::ts(r.hour),
                    r.category.clone(),
                    r.stats_count
                        .map_or_else(|| "-".to_owned(), |n| n.to_string()),
                    r.events_count.to_string(),
                    if r.delta == 0 {
                        "0".to_owned()
                    } else {
                        format!("{:+}", r.delta)
                    },
                    if r.is_mismatch() { "MISMATCH" } else { "" }.to_owned(),
                ]);
            }
            t.write(out);
        };
        if !self.rows.is_empty() {
            table(out, &self.rows);
        }
    }
}
