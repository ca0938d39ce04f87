//! Section 4: stage timing from `kcg.prediction_stage_timings`.
//!
//! Percentiles and maxima are over the stage's non-`SKIPPED` rows (a skipped
//! stage records a near-zero duration that would only dilute them). The
//! slowest stage is the one with the highest p95 (ties: lower `stage_no`).
//! A cycle's duration is the sum of all its stages' `duration_ms`; a cycle
//! is over budget when that sum exceeds the budget (60 000 ms by default).
//!
//! Alarm: any cycle over budget, and any `FAILED` stage.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::text;
use crate::{RAW_ROW_LIMIT, SnapshotError, Window, query};

const TABLE: &str = "kcg.prediction_stage_timings";

/// One stage over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageTiming {
    /// 1..10.
    pub stage_no: i16,
    /// E.g. `load_window`.
    pub stage_name: String,
    /// Rows (one per cycle).
    pub runs: i64,
    /// Rows with status `OK`.
    pub ok: i64,
    /// Rows with status `FAILED`.
    pub failed: i64,
    /// Rows with status `SKIPPED`.
    pub skipped: i64,
    /// Median of non-skipped durations.
    pub p50_ms: Option<f64>,
    /// 95th percentile of non-skipped durations.
    pub p95_ms: Option<f64>,
    /// Maximum of non-skipped durations.
    pub max_ms: Option<f64>,
}

/// Median, 95th percentile and maximum.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spread {
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

/// A cycle whose stages took longer than the budget in total.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CycleOverBudget {
    /// The cycle.
    pub cycle_ts: DateTime<Utc>,
    /// Sum of its stages.
    pub total_ms: f64,
    /// Its longest stage.
    pub slowest_stage: String,
    /// That stage's duration.
    pub slowest_stage_ms: f64,
}

/// A `FAILED` stage row (diagnostic).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedStage {
    /// The cycle.
    pub cycle_ts: DateTime<Utc>,
    /// Stage number.
    pub stage_no: i16,
    /// Stage name.
    pub stage_name: String,
    /// Duration until it failed.
    pub duration_ms: f64,
    /// The recorded detail.
    pub detail: Option<String>,
}

/// Section 4.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timing {
    /// True when a cycle is over budget or a stage FAILED.
    pub alarm: bool,
    /// The budget a cycle's total is held against.
    pub budget_ms: u64,
    /// Distinct cycles in the window.
    pub cycles: i64,
    /// Per stage, by `stage_no`.
    pub stages: Vec<StageTiming>,
    /// The stage with the highest p95.
    pub slowest_stage: Option<String>,
    /// Spread of cycle totals; null without cycles.
    pub cycle_total: Option<Spread>,
    /// Stage rows with status `FAILED`.
    pub failed_stages: i64,
    /// How many cycles are over budget.
    pub cycles_over_budget: i64,
    /// Those cycles, oldest first, at most [`RAW_ROW_LIMIT`].
    pub over_budget: Vec<CycleOverBudget>,
    /// E.g. "no rows in kcg.prediction_stage_timings in window".
    pub notes: Vec<String>,
    /// Diagnostic only (null in hourly): the FAILED stage rows, newest
    /// first, at most [`RAW_ROW_LIMIT`].
    pub failed_stage_rows: Option<Vec<FailedStage>>,
}

const STAGES: &str = "
SELECT stage_no, stage_name, count(*),
       count(*) FILTER (WHERE status = 'OK'),
       count(*) FILTER (WHERE status = 'FAILED'),
       count(*) FILTER (WHERE status = 'SKIPPED'),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE status <> 'SKIPPED'),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE status <> 'SKIPPED'),
       max(duration_ms) FILTER (WHERE status <> 'SKIPPED')
FROM kcg.prediction_stage_timings
WHERE cycle_ts >= $1 AND cycle_ts < $2
GROUP BY stage_no, stage_name
ORDER BY stage_no, stage_name";

const TOTALS_CTE: &str = "
WITH totals AS (
    SELECT cycle_ts,
           sum(duration_ms) AS total_ms,
           (array_agg(stage_name ORDER BY duration_ms DESC, stage_no))[1] AS slowest_stage,
           max(duration_ms) AS slowest_ms
    FROM kcg.prediction_stage_timings
    WHERE cycle_ts >= $1 AND cycle_ts < $2
    GROUP BY cycle_ts
)";

fn cycles_sql() -> String {
    format!(
        "{TOTALS_CTE}
         SELECT count(*),
                count(*) FILTER (WHERE total_ms > $3),
                percentile_cont(0.5) WITHIN GROUP (ORDER BY total_ms),
                percentile_cont(0.95) WITHIN GROUP (ORDER BY total_ms),
                max(total_ms)
         FROM totals"
    )
}

fn over_budget_sql() -> String {
    format!(
        "{TOTALS_CTE}
         SELECT cycle_ts, total_ms, slowest_stage, slowest_ms
         FROM totals WHERE total_ms > $3
         ORDER BY cycle_ts
         LIMIT $4"
    )
}

const FAILED: &str = "
SELECT cycle_ts, stage_no, stage_name, duration_ms, detail
FROM kcg.prediction_stage_timings
WHERE cycle_ts >= $1 AND cycle_ts < $2 AND status = 'FAILED'
ORDER BY cycle_ts DESC, stage_no
LIMIT $3";

impl Timing {
    pub(crate) async fn load(
        client: &impl GenericClient,
        w: &Window,
        budget_ms: u64,
    ) -> Result<Timing, SnapshotError> {
        const S: &str = "timing";
        let mut stages = Vec::new();
        for r in &query::all(client, S, TABLE, STAGES, &[&w.start, &w.end]).await? {
            let r = query::Cols::new(r, S, TABLE);
            stages.push(StageTiming {
                stage_no: r.get(0)?,
                stage_name: r.get(1)?,
                runs: r.get(2)?,
                ok: r.get(3)?,
                failed: r.get(4)?,
                skipped: r.get(5)?,
                p50_ms: r.ms(6)?,
                p95_ms: r.ms(7)?,
                max_ms: r.ms(8)?,
            });
        }
        let slowest_stage = slowest(&stages).map(|s| s.stage_name.clone());
        let failed_stages = stages.iter().map(|s| s.failed).sum();

        // Durations are double precision; the budget is compared as one.
        let budget = budget_ms as f64;
        let c = query::one(
            client,
            S,
            TABLE,
            &cycles_sql(),
            &[&w.start, &w.end, &budget],
        )
        .await?;
        let c = query::Cols::new(&c, S, TABLE);
        let cycles: i64 = c.get(0)?;
        let cycles_over_budget: i64 = c.get(1)?;
        let cycle_total = match (c.ms(2)?, c.ms(3)?, c.ms(4)?) {
            (Some(p50_ms), Some(p95_ms), Some(max_ms)) => Some(Spread {
                p50_ms,
                p95_ms,
                max_ms,
            }),
            _ => None,
        };

        let mut over_budget = Vec::new();
        if cycles_over_budget > 0 {
            let rows = query::all(
                client,
                S,
                TABLE,
                &over_budget_sql(),
                &[&w.start, &w.end, &budget, &RAW_ROW_LIMIT],
            )
            .await?;
            for r in &rows {
                let r = query::Cols::new(r, S, TABLE);
                over_budget.push(CycleOverBudget {
                    cycle_ts: r.get(0)?,
                    total_ms: r.ms(1)?.unwrap_or(0.0),
                    slowest_stage: r.get(2)?,
                    slowest_stage_ms: r.ms(3)?.unwrap_or(0.0),
                });
            }
        }

        let mut notes = Vec::new();
        if cycles == 0 {
            notes.push(format!("no rows in {TABLE} in window"));
        }
        if cycles_over_budget > RAW_ROW_LIMIT {
            notes.push(format!(
                "showing the oldest {RAW_ROW_LIMIT} of {cycles_over_budget} cycles over budget"
            ));
        }

        let failed_stage_rows = if w.raw_rows() {
            let rows = query::all(
                client,
                S,
                TABLE,
                FAILED,
                &[&w.start, &w.end, &RAW_ROW_LIMIT],
            )
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let r = query::Cols::new(r, S, TABLE);
                out.push(FailedStage {
                    cycle_ts: r.get(0)?,
                    stage_no: r.get(1)?,
                    stage_name: r.get(2)?,
                    duration_ms: r.ms(3)?.unwrap_or(0.0),
                    detail: r.get(4)?,
                });
            }
            if failed_stages > RAW_ROW_LIMIT {
                notes.push(format!(
                    "showing the newest {RAW_ROW_LIMIT} of {failed_stages} FAILED stage rows"
                ));
            }
            Some(out)
        } else {
            None
        };

        Ok(Timing {
            alarm: cycles_over_budget > 0 || failed_stages > 0,
            budget_ms,
            cycles,
            stages,
            slowest_stage,
            cycle_total,
            failed_stages,
            cycles_over_budget,
            over_budget,
            notes,
            failed_stage_rows,
        })
    }

    pub(crate) fn alarms(&self) -> Vec<String> {
        let mut alarms = Vec::new();
        if self.cycles_over_budget > 0 {
            let worst = self
                .over_budget
                .iter()
                .max_by(|a, b| a.total_ms.total_cmp(&b.total_ms));
            let mut msg = format!(
                "{} of {} cycles over the {} ms budget",
                self.cycles_over_budget, self.cycles, self.budget_ms
            );
            if let Some(w) = worst {
                msg.push_str(&format!(
                    " (worst {} at {:.1} ms, slowest stage {} {:.1} ms)",
                    text::ts(w.cycle_ts),
                    w.total_ms,
                    w.slowest_stage,
                    w.slowest_stage_ms
                ));
            }
            alarms.push(msg);
        }
        for s in self.stages.iter().filter(|s| s.failed > 0) {
            alarms.push(format!(
                "stage {} {} FAILED in {} of {} cycles",
                s.stage_no, s.stage_name, s.failed, s.runs
            ));
        }
        alarms
    }

    pub(crate) fn write_text(&self, out: &mut String) {
        text::heading(out, "4. stage timing", self.alarm);
        text::notes(out, &self.notes);
        let total = |f: fn(&Spread) -> f64| text::ms(self.cycle_total.as_ref().map(f));
        text::pairs(
            out,
            &[
                ("cycles", self.cycles.to_string()),
                (
                    "cycle total p50/p95/max ms",
                    format!(
                        "{} / {} / {}",
                        total(|s| s.p50_ms),
                        total(|s| s.p95_ms),
                        total(|s| s.max_ms)
                    ),
                ),
                ("budget ms", self.budget_ms.to_string()),
                ("cycles over budget", self.cycles_over_budget.to_string()),
                ("failed stages", self.failed_stages.to_string()),
                (
                    "slowest stage (p95)",
                    text::opt(self.slowest_stage.as_deref()),
                ),
            ],
        );
        if !self.stages.is_empty() {
            let mut t = text::table(&[
                ("no", true),
                ("stage", false),
                ("runs", true),
                ("ok", true),
                ("failed", true),
                ("skipped", true),
                ("p50_ms", true),
                ("p95_ms", true),
                ("max_ms", true),
            ]);
            for s in &self.stages {
                t.row(vec![
                    s.stage_no.to_string(),
                    s.stage_name.clone(),
                    s.runs.to_string(),
                    s.ok.to_string(),
                    s.failed.to_string(),
                    s.skipped.to_string(),
                    text::ms(s.p50_ms),
                    text::ms(s.p95_ms),
                    text::ms(s.max_ms),
                ]);
            }
            t.write(out);
        }
        if !self.over_budget.is_empty() {
            text::line(out, "cycles over budget:");
            let mut t = text::table(&[
                ("cycle_ts", false),
                ("total_ms", true),
                ("slowest_stage", false),
                ("stage_ms", true),
            ]);
            for c in &self.over_budget {
                t.row(vec![
                    text::ts(c.cycle_ts),
                    text::ms(Some(c.total_ms)),
                    c.slowest_stage.clone(),
                    text::ms(Some(c.slowest_stage_ms)),
                ]);
            }
            t.write(out);
        }
        if let Some(rows) = &self.failed_stage_rows {
            text::line(out, "FAILED stages:");
            if rows.is_empty() {
                text::line(out, "(none)");
            } else {
                let mut t = text::table(&[
                    ("cycle_ts", false),
                    ("no", true),
                    ("stage", false),
                    ("ms", true),
                    ("detail", false),
                ]);
                for f in rows {
                    t.row(vec![
                        text::ts(f.cycle_ts),
                        f.stage_no.to_string(),
                        f.stage_name.clone(),
                        text::ms(Some(f.duration_ms)),
                        text::opt(f.detail.as_deref()),
                    ]);
                }
                t.write(out);
            }
        }
    }
}

/// The stage with the highest p95; ties go to the earlier stage.
fn slowest(stages: &[StageTiming]) -> Option<&StageTiming> {
    let mut best: Option<&StageTiming> = None;
    for s in stages {
        let Some(p95) = s.p95_ms else { continue };
        if best.and_then(|b| b.p95_ms).is_none_or(|b| p95 > b) {
            best = Some(s);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(no: i16, p95: Option<f64>) -> StageTiming {
        StageTiming {
            stage_no: no,
            stage_name: format!("s{no}"),
            runs: 1,
            ok: 1,
            failed: 0,
            skipped: 0,
            p50_ms: p95,
            p95_ms: p95,
            max_ms: p95,
        }
    }

    #[test]
    fn slowest_is_highest_p95_first_on_ties() {
        let stages = [
            stage(1, Some(5.0)),
            stage(2, None),
            stage(3, Some(9.0)),
            stage(4, Some(9.0)),
        ];
        assert_eq!(slowest(&stages).map(|s| s.stage_no), Some(3));
        assert!(slowest(&[stage(1, None)]).is_none());
    }
}
