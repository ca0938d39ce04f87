//! Section 1: the spoofing score distribution over `kcg.vessel_analysis`.
//!
//! A vessel is counted once per window, with the highest score it had in any
//! cycle of the window; rows (one per vessel per cycle) and cycles are
//! reported beside it. The thresholds are compared as `real`, the column's
//! type, so a stored 0.3 is not "> 0.3".

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::text;
use crate::{RAW_ROW_LIMIT, SnapshotError, Window, query};

const TABLE: &str = "kcg.vessel_analysis";

/// How many top-scoring vessels the diagnostic report lists.
pub const TOP_VESSELS: i64 = 20;

/// What the distribution says about the detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// Nothing was analysed in the window.
    NoInput,
    /// Vessels were analysed but every score is exactly 0: the detector is
    /// running blind. The only alarm of this section.
    SilentFault,
    /// Scores move, but none is above 0.5: a quiet sea.
    NoSignal,
    /// At least one vessel scored above 0.5.
    Signal,
}

impl Verdict {
    /// The verdict as written in the report (`NO_INPUT`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::NoInput => "NO_INPUT",
            Verdict::SilentFault => "SILENT_FAULT",
            Verdict::NoSignal => "NO_SIGNAL",
            Verdict::Signal => "SIGNAL",
        }
    }

    /// Classifies a window from its row count, how many of those rows are
    /// exactly 0, and how many vessels scored above 0.5.
    pub fn classify(rows: i64, zero_rows: i64, vessels_above_half: i64) -> Verdict {
        if rows == 0 {
            Verdict::NoInput
        } else if zero_rows == rows {
            Verdict::SilentFault
        } else if vessels_above_half == 0 {
            Verdict::NoSignal
        } else {
            Verdict::Signal
        }
    }
}

/// Vessels whose highest score in the window is above each threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bands {
    /// `> 0`
    pub gt_0: i64,
    /// `> 0.3`
    pub gt_0_3: i64,
    /// `> 0.5`
    pub gt_0_5: i64,
    /// `> 0.7`
    pub gt_0_7: i64,
}

/// One vessel of the diagnostic top list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VesselScore {
    /// The vessel.
    pub mmsi: i64,
    /// Its highest score in the window.
    pub max_score: f32,
    /// How many cycles analysed it.
    pub rows: i64,
    /// The last cycle that analysed it.
    pub last_cycle_ts: DateTime<Utc>,
    /// Its most recent non-null name.
    pub vessel_name: Option<String>,
}

/// Section 1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spoofing {
    /// The verdict.
    pub verdict: Verdict,
    /// True for `SILENT_FAULT`.
    pub alarm: bool,
    /// Distinct `cycle_ts` in the window.
    pub cycles: i64,
    /// Rows (vessel x cycle) in the window.
    pub rows: i64,
    /// Rows whose score is exactly 0.
    pub zero_rows: i64,
    /// Distinct vessels analysed.
    pub vessels: i64,
    /// Vessels per band, by their highest score.
    pub bands: Bands,
    /// The highest score in the window.
    pub max_score: Option<f32>,
    /// E.g. "no rows in kcg.vessel_analysis in window".
    pub notes: Vec<String>,
    /// Diagnostic only (null in hourly): the top-scoring vessels with a
    /// score above 0, highest first, at most [`TOP_VESSELS`].
    pub top_vessels: Option<Vec<VesselScore>>,
}

const SUMMARY: &str = "
WITH per_vessel AS (
    SELECT mmsi,
           max(spoofing_score) AS score,
           count(*) AS rows,
           count(*) FILTER (WHERE spoofing_score = 0) AS zero_rows
    FROM kcg.vessel_analysis
    WHERE cycle_ts >= $1 AND cycle_ts < $2
    GROUP BY mmsi
)
SELECT (SELECT count(DISTINCT cycle_ts) FROM kcg.vessel_analysis
        WHERE cycle_ts >= $1 AND cycle_ts < $2) AS cycles,
       coalesce(sum(rows), 0)::bigint AS rows,
       coalesce(sum(zero_rows), 0)::bigint AS zero_rows,
       count(*) AS vessels,
       count(*) FILTER (WHERE score > 0::real) AS gt_0,
       count(*) FILTER (WHERE score > 0.3::real) AS gt_0_3,
       count(*) FILTER (WHERE score > 0.5::real) AS gt_0_5,
       count(*) FILTER (WHERE score > 0.7::real) AS gt_0_7,
       max(score) AS max_score
FROM per_vessel";

const TOP: &str = "
SELECT mmsi,
       max(spoofing_score) AS max_score,
       count(*) AS rows,
       max(cycle_ts) AS last_cycle_ts,
       (array_agg(vessel_name ORDER BY cycle_ts DESC)
            FILTER (WHERE vessel_name IS NOT NULL))[1] AS vessel_name
FROM kcg.vessel_analysis
WHERE cycle_ts >= $1 AND cycle_ts < $2
GROUP BY mmsi
HAVING max(spoofing_score) > 0::real
ORDER BY max_score DESC, mmsi
LIMIT $3";

impl Spoofing {
    pub(crate) async fn load(
        client: &impl GenericClient,
        w: &Window,
    ) -> Result<Spoofing, SnapshotError> {
        let row = query::one(client, "spoofing", TABLE, SUMMARY, &[&w.start, &w.end]).await?;
        let c = query::Cols::new(&row, "spoofing", TABLE);
        let get = |i: usize| c.get::<i64>(i);
        let rows = get(1)?;
        let zero_rows = get(2)?;
        let bands = Bands {
            gt_0: get(4)?,
            gt_0_3: get(5)?,
            gt_0_5: get(6)?,
            gt_0_7: get(7)?,
        };
        let verdict = Verdict::classify(rows, zero_rows, bands.gt_0_5);
        let mut notes = Vec::new();
        if rows == 0 {
            notes.push(format!("no rows in {TABLE} in window"));
        }
        let top_vessels = if w.raw_rows() {
            let limit = TOP_VESSELS.min(RAW_ROW_LIMIT);
            let rows =
                query::all(client, "spoofing", TABLE, TOP, &[&w.start, &w.end, &limit]).await?;
            let mut top = Vec::with_capacity(rows.len());
            for r in &rows {
                let r = query::Cols::new(r, "spoofing", TABLE);
                top.push(VesselScore {
                    mmsi: r.get(0)?,
                    max_score: r.get(1)?,
                    rows: r.get(2)?,
                    last_cycle_ts: r.get(3)?,
                    vessel_name: r.get(4)?,
                });
            }
            Some(top)
        } else {
            None
        };
        Ok(Spoofing {
            verdict,
            alarm: verdict == Verdict::SilentFault,
            cycles: get(0)?,
            rows,
            zero_rows,
            vessels: get(3)?,
            bands,
            max_score: c.get(8)?,
            notes,
            top_vessels,
        })
    }

    pub(crate) fn alarms(&self) -> Vec<String> {
        if self.verdict == Verdict::SilentFault {
            vec![format!(
                "SILENT_FAULT: {} vessels analysed in {} rows over {} cycles and every score is exactly 0",
                self.vessels, self.rows, self.cycles
            )]
        } else {
            Vec::new()
        }
    }

    pub(crate) fn write_text(&self, out: &mut String) {
        text::heading(
            out,
            &format!("1. spoofing scores: {}", self.verdict.as_str()),
            self.alarm,
        );
        text::notes(out, &self.notes);
        text::pairs(
            out,
            &[
                (
                    "vessels analysed",
                    format!(
                        "{} ({} rows over {} cycles)",
                        self.vessels, self.rows, self.cycles
                    ),
                ),
                ("rows exactly 0", self.zero_rows.to_string()),
                ("score > 0", self.bands.gt_0.to_string()),
                ("score > 0.3", self.bands.gt_0_3.to_string()),
                ("score > 0.5", self.bands.gt_0_5.to_string()),
                ("score > 0.7", self.bands.gt_0_7.to_string()),
                (
                    "max score",
                    self.max_score
                        .map_or_else(|| "-".to_owned(), |s| s.to_string()),
                ),
            ],
        );
        if let Some(top) = &self.top_vessels {
            text::line(
                out,
                &format!("top vessels (score > 0, at most {TOP_VESSELS}):"),
            );
            if top.is_empty() {
                text::line(out, "(none)");
            } else {
                let mut t = text::table(&[
                    ("mmsi", true),
                    ("max_score", true),
                    ("rows", true),
                    ("last_cycle_ts", false),
                    ("vessel_name", false),
                ]);
                for v in top {
                    t.row(vec![
                        mmsi_text(v.mmsi),
                        v.max_score.to_string(),
                        v.rows.to_string(),
                        text::ts(v.last_cycle_ts),
                        text::opt(v.vessel_name.as_deref()),
                    ]);
                }
                t.write(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        assert_eq!(Verdict::classify(0, 0, 0), Verdict::NoInput);
        assert_eq!(Verdict::classify(10, 10, 0), Verdict::SilentFault);
        assert_eq!(Verdict::classify(10, 9, 0), Verdict::NoSignal);
        assert_eq!(Verdict::classify(10, 9, 1), Verdict::Signal);
        assert_eq!(Verdict::classify(10, 0, 3), Verdict::Signal);
    }
}

/// An MMSI as shown: nine digits with the leading zeros its integer column
/// lost (coast stations are `00` + MID), other values as they are.
pub(crate) fn mmsi_text(mmsi: i64) -> String {
    if (0..1_000_000_000).contains(&mmsi) {
        format!("{mmsi:09}")
    } else {
        mmsi.to_string()
    }
}

#[cfg(test)]
mod mmsi_tests {
    use super::mmsi_text;

    #[test]
    fn mmsis_are_shown_with_their_leading_zeros() {
        assert_eq!(mmsi_text(3_669_881), "003669881");
        assert_eq!(mmsi_text(211_002_010), "211002010");
        assert_eq!(mmsi_text(1_072_211_352), "1072211352");
        assert_eq!(mmsi_text(-1), "-1");
    }
}
