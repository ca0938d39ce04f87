//! Section 2: identity collisions from `kcg.gear_identity_collisions`.
//!
//! A collision belongs to a window when it was active during it
//! (`first_seen < end AND last_seen >= start`) or is still OPEN and was first
//! seen before the window's end. The status is the row's current status:
//! the table keeps no history, so a report for a past `at` shows today's
//! OPEN/RESOLVED state of the collisions that were active then.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::text;
use crate::{RAW_ROW_LIMIT, SnapshotError, Window, query};

const TABLE: &str = "kcg.gear_identity_collisions";

/// Severities in the order reports list them.
pub const SEVERITIES: [&str; 4] = ["LOW", "MEDIUM", "HIGH", "CRITICAL"];

/// Counts of one severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeverityCounts {
    /// `LOW`, `MEDIUM`, `HIGH` or `CRITICAL`.
    pub severity: String,
    /// Still OPEN.
    pub open: i64,
    /// RESOLVED.
    pub resolved: i64,
}

/// One raw row (diagnostic).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollisionRow {
    /// Row id.
    pub id: i64,
    /// The colliding identity.
    pub mmsi: i64,
    /// First cycle it was seen.
    pub first_seen: DateTime<Utc>,
    /// Last cycle it was seen.
    pub last_seen: DateTime<Utc>,
    /// Severity.
    pub severity: String,
    /// Status.
    pub status: String,
    /// Greatest distance between simultaneous reports.
    pub max_distance_km: f64,
    /// How many cycles saw it.
    pub occurrences: i32,
    /// The detector's details.
    pub details: serde_json::Value,
}

/// Section 2.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Collisions {
    /// True when any CRITICAL collision is OPEN.
    pub alarm: bool,
    /// Collisions in the window.
    pub total: i64,
    /// One entry per severity, LOW to CRITICAL, zeros included.
    pub by_severity: Vec<SeverityCounts>,
    /// CRITICAL and OPEN.
    pub critical_open: i64,
    /// E.g. "no rows in kcg.gear_identity_collisions in window".
    pub notes: Vec<String>,
    /// Diagnostic only (null in hourly): the CRITICAL OPEN rows, most
    /// recently seen first, at most [`RAW_ROW_LIMIT`].
    pub critical_open_rows: Option<Vec<CollisionRow>>,
}

const COUNTS: &str = "
SELECT severity, status, count(*)
FROM kcg.gear_identity_collisions
WHERE first_seen < $2 AND (last_seen >= $1 OR status = 'OPEN')
GROUP BY severity, status";

const CRITICAL_OPEN: &str = "
SELECT id, mmsi, first_seen, last_seen, severity, status, max_distance_km, occurrences, details
FROM kcg.gear_identity_collisions
WHERE first_seen < $1 AND severity = 'CRITICAL' AND status = 'OPEN'
ORDER BY last_seen DESC, id
LIMIT $2";

impl Collisions {
    pub(crate) async fn load(
        client: &impl GenericClient,
        w: &Window,
    ) -> Result<Collisions, SnapshotError> {
        let rows = query::all(client, "collisions", TABLE, COUNTS, &[&w.start, &w.end]).await?;
        let mut by_severity: Vec<SeverityCounts> = SEVERITIES
            .iter()
            .map(|s| SeverityCounts {
                severity: (*s).to_owned(),
                open: 0,
                resolved: 0,
            })
            .collect();
        let mut total = 0;
        for r in &rows {
            let r = query::Cols::new(r, "collisions", TABLE);
            let severity: String = r.get(0)?;
            let status: String = r.get(1)?;
            let n: i64 = r.get(2)?;
            total += n;
            let entry = match by_severity.iter_mut().find(|c| c.severity == severity) {
                Some(e) => e,
                // The CHECK constraint allows none, but a report must not
                // hide a row it does not understand.
                None => {
                    by_severity.push(SeverityCounts {
                        severity: severity.clone(),
                        open: 0,
                        resolved: 0,
                    });
                    let last = by_severity.len() - 1;
                    &mut by_severity[last]
                }
            };
            if status == "OPEN" {
                entry.open += n;
            } else {
                entry.resolved += n;
            }
        }
        let critical_open = by_severity
            .iter()
            .find(|c| c.severity == "CRITICAL")
            .map_or(0, |c| c.open);
        let mut notes = Vec::new();
        if total == 0 {
            notes.push(format!("no rows in {TABLE} in window"));
        }
        let critical_open_rows = if w.raw_rows() {
            let rows = query::all(
                client,
                "collisions",
                TABLE,
                CRITICAL_OPEN,
                &[&w.end, &RAW_ROW_LIMIT],
            )
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let r = query::Cols::new(r, "collisions", TABLE);
                out.push(CollisionRow {
                    id: r.get(0)?,
                    mmsi: r.get(1)?,
                    first_seen: r.get(2)?,
                    last_seen: r.get(3)?,
                    severity: r.get(4)?,
                    status: r.get(5)?,
                    max_distance_km: r.get(6)?,
                    occurrences: r.get(7)?,
                    details: r.get(8)?,
                });
            }
            if critical_open > RAW_ROW_LIMIT {
                notes.push(format!(
                    "showing {RAW_ROW_LIMIT} of {critical_open} CRITICAL OPEN rows"
                ));
            }
            Some(out)
        } else {
            None
        };
        Ok(Collisions {
            alarm: critical_open > 0,
            total,
            by_severity,
            critical_open,
            notes,
            critical_open_rows,
        })
    }

    pub(crate) fn alarms(&self) -> Vec<String> {
        if self.critical_open > 0 {
            vec![format!(
                "CRITICAL identity collisions OPEN: {}",
                self.critical_open
            )]
        } else {
            Vec::new()
        }
    }

    pub(crate) fn write_text(&self, out: &mut String) {
        text::heading(out, "2. identity collisions", self.alarm);
        text::notes(out, &self.notes);
        text::pairs(
            out,
            &[
                ("collisions", self.total.to_string()),
                ("CRITICAL OPEN", self.critical_open.to_string()),
            ],
        );
        let mut t = text::table(&[("severity", false), ("open", true), ("resolved", true)]);
        for c in &self.by_severity {
            t.row(vec![
                c.severity.clone(),
                c.open.to_string(),
                c.resolved.to_string(),
            ]);
        }
        t.write(out);
        if let Some(rows) = &self.critical_open_rows {
            text::line(out, "CRITICAL OPEN rows:");
            if rows.is_empty() {
                text::line(out, "(none)");
            } else {
                let mut t = text::table(&[
                    ("id", true),
                    ("mmsi", true),
                    ("first_seen", false),
                    ("last_seen", false),
                    ("max_distance_km", true),
                    ("occurrences", true),
                    ("details", false),
                ]);
                for r in rows {
                    t.row(vec![
                        r.id.to_string(),
                        crate::spoofing::mmsi_text(r.mmsi),
                        text::ts(r.first_seen),
                        text::ts(r.last_seen),
                        format!("{:.1}", r.max_distance_km),
                        r.occurrences.to_string(),
                        r.details.to_string(),
                    ]);
                }
                t.write(out);
            }
        }
    }
}
