//! Section 3: the detection models of the registry (V034).
//!
//! Definitions:
//! - *executed* runs are those not `SKIPPED`; durations and percentiles are
//!   over executed runs only;
//! - *failure rate* = (`FAILED` + `TIMEOUT`) / executed runs, null when
//!   nothing executed;
//! - *outputs per run* = mean `output_count` of `OK` runs;
//! - ACTIVE versions are the registry's current state, not windowed;
//! - a SHADOW or CHALLENGER is compared with its model's PRIMARY on the
//!   cycles of the window where both have an `OK` run. Over those cycles,
//!   entities are `(cycle_ts, entity_key)` pairs: *overlap* = shared /
//!   union (Jaccard; 1 means both flagged exactly the same entities), *mean
//!   absolute score difference* and *agreement at 0.5* (the fraction where
//!   both scores are `>= 0.5` or both `< 0.5`) are over shared entities
//!   where both scores are non-null.
//!
//! Alarm: any `FAILED` or `TIMEOUT` run of a PRIMARY in the window, because
//! a PRIMARY's failure reaches every dependent. A failing SHADOW or
//! CHALLENGER is reported (its runs, failure rate and, in the diagnostic,
//! its failed runs) but is not an alarm: by design nothing depends on it.
//! `SKIPPED` runs are reported with their reasons, not alarmed.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::text::{self, Table};
use crate::{RAW_ROW_LIMIT, SnapshotError, Window, query};

const VERSIONS: &str = "kcg.detection_model_versions";
const RUNS: &str = "kcg.detection_model_runs";
const OUTPUTS: &str = "kcg.detection_model_run_outputs";
const METRICS: &str = "kcg.detection_model_metrics";

/// An ACTIVE version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveVersion {
    /// Model.
    pub model_id: String,
    /// `PRIMARY`, `CHALLENGER` or `SHADOW`.
    pub role: String,
    /// Version label.
    pub version: String,
    /// `detection_model_versions.id`.
    pub version_id: i64,
    /// `detection_models.is_enabled`.
    pub enabled: bool,
}

/// Runs by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunCounts {
    /// All runs.
    pub total: i64,
    /// `OK`.
    pub ok: i64,
    /// `FAILED`.
    pub failed: i64,
    /// `TIMEOUT`.
    pub timeout: i64,
    /// `SKIPPED`.
    pub skipped: i64,
}

impl RunCounts {
    /// (`FAILED` + `TIMEOUT`) / executed runs; `None` when nothing executed.
    pub fn failure_rate(&self) -> Option<f64> {
        let executed = self.ok + self.failed + self.timeout;
        (executed > 0).then(|| {
            query::round(
                (self.failed + self.timeout) as f64 / executed as f64,
                query::RATIO_DECIMALS,
            )
        })
    }
}

/// All runs of one version in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionRuns {
    /// Model.
    pub model_id: String,
    /// `detection_model_versions.id`.
    pub version_id: i64,
    /// Version label (null if the version row is gone).
    pub version: Option<String>,
    /// Role recorded with the runs.
    pub role: Option<String>,
    /// Runs by status.
    pub runs: RunCounts,
    /// See the section doc.
    pub failure_rate: Option<f64>,
    /// Median duration of executed runs.
    pub p50_ms: Option<f64>,
    /// 95th percentile duration of executed runs.
    pub p95_ms: Option<f64>,
    /// Mean `output_count` of `OK` runs.
    pub outputs_per_run: Option<f64>,
    /// Sum of `dropped_metric_count`.
    pub dropped_metrics: i64,
    /// Rows in `kcg.detection_model_metrics` for this version in the window.
    pub metrics_stored: i64,
}

/// Skipped runs grouped by model, version and reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    /// Model.
    pub model_id: String,
    /// Version label, null when skipped before a version was chosen.
    pub version: Option<String>,
    /// Role, null when skipped before a version was chosen.
    pub role: Option<String>,
    /// The recorded `error`.
    pub reason: String,
    /// How many runs.
    pub runs: i64,
    /// The last cycle skipped for this reason.
    pub last_cycle_ts: DateTime<Utc>,
}

/// A SHADOW or CHALLENGER against its PRIMARY.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Model.
    pub model_id: String,
    /// The candidate's `detection_model_versions.id`.
    pub version_id: i64,
    /// The candidate's label.
    pub version: Option<String>,
    /// `SHADOW` or `CHALLENGER`.
    pub role: String,
    /// Cycles where both the candidate and a PRIMARY ran `OK`.
    pub cycles: i64,
    /// PRIMARY entities on those cycles.
    pub primary_entities: i64,
    /// Candidate entities on those cycles.
    pub candidate_entities: i64,
    /// Entities both produced.
    pub shared_entities: i64,
    /// shared / union; null when neither produced anything.
    pub overlap: Option<f64>,
    /// Mean |candidate - primary| over shared scored entities.
    pub mean_abs_score_diff: Option<f64>,
    /// Fraction of shared scored entities on the same side of 0.5.
    pub agreement_at_0_5: Option<f64>,
}

/// A `FAILED` or `TIMEOUT` run (diagnostic).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedRun {
    /// Cycle.
    pub cycle_ts: DateTime<Utc>,
    /// Model.
    pub model_id: String,
    /// Version label.
    pub version: Option<String>,
    /// Role.
    pub role: Option<String>,
    /// `FAILED` or `TIMEOUT`.
    pub status: String,
    /// The recorded error.
    pub error: Option<String>,
    /// How long it ran.
    pub duration_ms: f64,
}

/// Section 3.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Models {
    /// True when a PRIMARY run FAILED or timed out.
    pub alarm: bool,
    /// ACTIVE versions by model, then role (PRIMARY, CHALLENGER, SHADOW).
    pub active_versions: Vec<ActiveVersion>,
    /// All runs in the window by status.
    pub runs: RunCounts,
    /// Over all runs.
    pub failure_rate: Option<f64>,
    /// Median duration of all executed runs.
    pub p50_ms: Option<f64>,
    /// 95th percentile duration of all executed runs.
    pub p95_ms: Option<f64>,
    /// Mean `output_count` of all `OK` runs.
    pub outputs_per_run: Option<f64>,
    /// Sum of `dropped_metric_count` over all runs.
    pub dropped_metrics: i64,
    /// Per version that has runs in the window.
    pub versions: Vec<VersionRuns>,
    /// Skipped runs with their reasons.
    pub skipped: Vec<Skipped>,
    /// One per SHADOW/CHALLENGER version with runs in the window.
    pub comparisons: Vec<Comparison>,
    /// E.g. "no rows in kcg.detection_model_runs in window".
    pub notes: Vec<String>,
    /// Diagnostic only (null in hourly): FAILED and TIMEOUT runs, newest
    /// first, at most [`RAW_ROW_LIMIT`].
    pub failed_runs: Option<Vec<FailedRun>>,
}

const ROLE_ORDER: &str = "CASE role WHEN 'PRIMARY' THEN 0 WHEN 'CHALLENGER' THEN 1 ELSE 2 END";

fn active_sql() -> String {
    format!(
        "SELECT v.model_id, v.role, v.version, v.id, m.is_enabled
         FROM kcg.detection_model_versions v
         JOIN kcg.detection_models m ON m.model_id = v.model_id
         WHERE v.status = 'ACTIVE'
         ORDER BY v.model_id, {ROLE_ORDER}, v.id"
    )
}

const TOTALS: &str = "
SELECT count(*),
       count(*) FILTER (WHERE status = 'OK'),
       count(*) FILTER (WHERE status = 'FAILED'),
       count(*) FILTER (WHERE status = 'TIMEOUT'),
       count(*) FILTER (WHERE status = 'SKIPPED'),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE status <> 'SKIPPED'),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE status <> 'SKIPPED'),
       (avg(output_count) FILTER (WHERE status = 'OK'))::float8,
       coalesce(sum(dropped_metric_count), 0)::bigint
FROM kcg.detection_model_runs
WHERE cycle_ts >= $1 AND cycle_ts < $2";

fn per_version_sql() -> String {
    format!(
        "WITH r AS (
             SELECT r.model_id, r.version_id, r.role,
                    count(*) AS total,
                    count(*) FILTER (WHERE r.status = 'OK') AS ok,
                    count(*) FILTER (WHERE r.status = 'FAILED') AS failed,
                    count(*) FILTER (WHERE r.status = 'TIMEOUT') AS timeout,
                    count(*) FILTER (WHERE r.status = 'SKIPPED') AS skipped,
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY r.duration_ms)
                        FILTER (WHERE r.status <> 'SKIPPED') AS p50,
                    percentile_cont(0.95) WITHIN GROUP (ORDER BY r.duration_ms)
                        FILTER (WHERE r.status <> 'SKIPPED') AS p95,
                    (avg(r.output_count) FILTER (WHERE r.status = 'OK'))::float8 AS outputs,
                    coalesce(sum(r.dropped_metric_count), 0)::bigint AS dropped
             FROM kcg.detection_model_runs r
             WHERE r.cycle_ts >= $1 AND r.cycle_ts < $2 AND r.version_id IS NOT NULL
             GROUP BY r.model_id, r.version_id, r.role
         ),
         m AS (
             SELECT version_id, count(*) AS n
             FROM kcg.detection_model_metrics
             WHERE cycle_ts >= $1 AND cycle_ts < $2
             GROUP BY version_id
         )
         SELECT r.model_id, r.version_id, v.version, r.role,
                r.total, r.ok, r.failed, r.timeout, r.skipped,
                r.p50, r.p95, r.outputs, r.dropped, coalesce(m.n, 0)
         FROM r
         LEFT JOIN kcg.detection_model_versions v ON v.id = r.version_id
         LEFT JOIN m ON m.version_id = r.version_id
         ORDER BY r.model_id, {}, r.version_id",
        ROLE_ORDER.replace("role", "r.role")
    )
}

const SKIPPED: &str = "
SELECT r.model_id, v.version, r.role, coalesce(r.error, '(no reason recorded)') AS reason,
       count(*), max(r.cycle_ts)
FROM kcg.detection_model_runs r
LEFT JOIN kcg.detection_model_versions v ON v.id = r.version_id
WHERE r.cycle_ts >= $1 AND r.cycle_ts < $2 AND r.status = 'SKIPPED'
GROUP BY r.model_id, v.version, r.role, reason
ORDER BY r.model_id, v.version NULLS FIRST, r.role NULLS FIRST, reason";

// Per paired cycle, the two versions' outputs are joined inside a LATERAL
// subquery: each join is one cycle's worth of rows, read in primary-key
// order, instead of one window-wide join that spills to disk on a day of
// outputs (measured: 1.7 M output rows, 7 s -> about 3 s).
const COMPARISONS: &str = "
WITH runs AS (
    SELECT cycle_ts, model_id, version_id, role, status
    FROM kcg.detection_model_runs
    WHERE cycle_ts >= $1 AND cycle_ts < $2 AND version_id IS NOT NULL
),
candidates AS (
    SELECT DISTINCT model_id, version_id, role
    FROM runs WHERE role IN ('SHADOW', 'CHALLENGER')
),
pairs AS (
    SELECT DISTINCT c.version_id AS cand_id, c.role AS cand_role,
           p.version_id AS prim_id, c.cycle_ts
    FROM runs c
    JOIN runs p ON p.cycle_ts = c.cycle_ts AND p.model_id = c.model_id
    WHERE c.role IN ('SHADOW', 'CHALLENGER') AND c.status = 'OK'
      AND p.role = 'PRIMARY' AND p.status = 'OK'
),
per_cycle AS (
    SELECT pr.cand_id, pr.cand_role, pr.cycle_ts,
           (SELECT count(*) FROM kcg.detection_model_run_outputs o
             WHERE o.cycle_ts = pr.cycle_ts AND o.version_id = pr.prim_id) AS prim_n,
           (SELECT count(*) FROM kcg.detection_model_run_outputs o
             WHERE o.cycle_ts = pr.cycle_ts AND o.version_id = pr.cand_id) AS cand_n,
           s.shared_n, s.scored_n, s.abs_diff, s.agree_n
    FROM pairs pr
    CROSS JOIN LATERAL (
        SELECT count(*) AS shared_n,
               count(*) FILTER (WHERE c.score IS NOT NULL AND p.score IS NOT NULL) AS scored_n,
               sum(abs(c.score - p.score)) AS abs_diff,
               count(*) FILTER (WHERE (c.score >= 0.5) = (p.score >= 0.5)) AS agree_n
        FROM kcg.detection_model_run_outputs c
        JOIN kcg.detection_model_run_outputs p ON p.entity_key = c.entity_key
        WHERE c.cycle_ts = pr.cycle_ts AND c.version_id = pr.cand_id
          AND p.cycle_ts = pr.cycle_ts AND p.version_id = pr.prim_id
    ) s
),
stats AS (
    SELECT cand_id, cand_role,
           count(DISTINCT cycle_ts) AS cycles,
           sum(prim_n)::bigint AS prim_n,
           sum(cand_n)::bigint AS cand_n,
           sum(shared_n)::bigint AS shared_n,
           sum(scored_n) AS scored_n,
           sum(abs_diff) AS abs_diff,
           sum(agree_n) AS agree_n
    FROM per_cycle
    GROUP BY cand_id, cand_role
)
SELECT c.model_id, c.version_id, v.version, c.role,
       coalesce(s.cycles, 0),
       coalesce(s.prim_n, 0), coalesce(s.cand_n, 0), coalesce(s.shared_n, 0),
       CASE WHEN s.prim_n + s.cand_n - s.shared_n > 0
            THEN s.shared_n::float8 / (s.prim_n + s.cand_n - s.shared_n) END,
       CASE WHEN s.scored_n > 0 THEN s.abs_diff / s.scored_n END,
       CASE WHEN s.scored_n > 0 THEN s.agree_n::float8 / s.scored_n END
FROM candidates c
LEFT JOIN stats s ON s.cand_id = c.version_id AND s.cand_role = c.role
LEFT JOIN kcg.detection_model_versions v ON v.id = c.version_id
ORDER BY c.model_id, CASE c.role WHEN 'CHALLENGER' THEN 0 ELSE 1 END, c.version_id";

const FAILED_RUNS: &str = "
SELECT r.cycle_ts, r.model_id, v.version, r.role, r.status, r.error, r.duration_ms
FROM kcg.detection_model_runs r
LEFT JOIN kcg.detection_model_versions v ON v.id = r.version_id
WHERE r.cycle_ts >= $1 AND r.cycle_ts < $2 AND r.status IN ('FAILED', 'TIMEOUT')
ORDER BY r.cycle_ts DESC, r.model_id, r.id
LIMIT $3";

const HAS_OUTPUTS: &str = "SELECT EXISTS (SELECT 1 FROM kcg.detection_model_run_outputs WHERE cycle_ts >= $1 AND cycle_ts < $2)";
const HAS_METRICS: &str = "SELECT EXISTS (SELECT 1 FROM kcg.detection_model_metrics WHERE cycle_ts >= $1 AND cycle_ts < $2)";

impl Models {
    pub(crate) async fn load(
        client: &impl GenericClient,
        w: &Window,
    ) -> Result<Models, SnapshotError> {
        const S: &str = "models";
        let window: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&w.start, &w.end];

        let mut active_versions = Vec::new();
        for r in &query::all(client, S, VERSIONS, &active_sql(), &[]).await? {
            let r = query::Cols::new(r, S, VERSIONS);
            active_versions.push(ActiveVersion {
                model_id: r.get(0)?,
                role: r.get(1)?,
                version: r.get(2)?,
                version_id: r.get(3)?,
                enabled: r.get(4)?,
            });
        }

        let t = query::one(client, S, RUNS, TOTALS, &window).await?;
        let t = query::Cols::new(&t, S, RUNS);
        let runs = RunCounts {
            total: t.get(0)?,
            ok: t.get(1)?,
            failed: t.get(2)?,
            timeout: t.get(3)?,
            skipped: t.get(4)?,
        };

        let mut versions = Vec::new();
        for r in &query::all(client, S, RUNS, &per_version_sql(), &window).await? {
            let r = query::Cols::new(r, S, RUNS);
            let counts = RunCounts {
                total: r.get(4)?,
                ok: r.get(5)?,
                failed: r.get(6)?,
                timeout: r.get(7)?,
                skipped: r.get(8)?,
            };
            versions.push(VersionRuns {
                model_id: r.get(0)?,
                version_id: r.get(1)?,
                version: r.get(2)?,
                role: r.get(3)?,
                failure_rate: counts.failure_rate(),
                runs: counts,
                p50_ms: r.ms(9)?,
                p95_ms: r.ms(10)?,
                outputs_per_run: r.ratio(11)?,
                dropped_metrics: r.get(12)?,
                metrics_stored: r.get(13)?,
            });
        }

        let mut skipped = Vec::new();
        for r in &query::all(client, S, RUNS, SKIPPED, &window).await? {
            let r = query::Cols::new(r, S, RUNS);
            skipped.push(Skipped {
                model_id: r.get(0)?,
                version: r.get(1)?,
                role: r.get(2)?,
                reason: r.get(3)?,
                runs: r.get(4)?,
                last_cycle_ts: r.get(5)?,
            });
        }

        let mut comparisons = Vec::new();
        for r in &query::all(client, S, OUTPUTS, COMPARISONS, &window).await? {
            let r = query::Cols::new(r, S, OUTPUTS);
            comparisons.push(Comparison {
                model_id: r.get(0)?,
                version_id: r.get(1)?,
                version: r.get(2)?,
                role: r.get(3)?,
                cycles: r.get(4)?,
                primary_entities: r.get(5)?,
                candidate_entities: r.get(6)?,
                shared_entities: r.get(7)?,
                overlap: r.ratio(8)?,
                mean_abs_score_diff: r.ratio(9)?,
                agreement_at_0_5: r.ratio(10)?,
            });
        }

        let mut notes = Vec::new();
        if active_versions.is_empty() {
            notes.push(format!("no ACTIVE rows in {VERSIONS}"));
        }
        if runs.total == 0 {
            notes.push(format!("no rows in {RUNS} in window"));
        }
        let has_outputs: bool = query::Cols::new(
            &query::one(client, S, OUTPUTS, HAS_OUTPUTS, &window).await?,
            S,
            OUTPUTS,
        )
        .get(0)?;
        if !has_outputs {
            notes.push(format!("no rows in {OUTPUTS} in window"));
        }
        let has_metrics: bool = query::Cols::new(
            &query::one(client, S, METRICS, HAS_METRICS, &window).await?,
            S,
            METRICS,
        )
        .get(0)?;
        if !has_metrics {
            notes.push(format!("no rows in {METRICS} in window"));
        }

        let failed_runs = if w.raw_rows() {
            let rows = query::all(
                client,
                S,
                RUNS,
                FAILED_RUNS,
                &[&w.start, &w.end, &RAW_ROW_LIMIT],
            )
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let r = query::Cols::new(r, S, RUNS);
                out.push(FailedRun {
                    cycle_ts: r.get(0)?,
                    model_id: r.get(1)?,
                    version: r.get(2)?,
                    role: r.get(3)?,
                    status: r.get(4)?,
                    error: r.get(5)?,
                    duration_ms: r.ms(6)?.unwrap_or(0.0),
                });
            }
            let failed = runs.failed + runs.timeout;
            if failed > RAW_ROW_LIMIT {
                notes.push(format!(
                    "showing the newest {RAW_ROW_LIMIT} of {failed} FAILED/TIMEOUT runs"
                ));
            }
            Some(out)
        } else {
            None
        };

        let mut models = Models {
            alarm: false,
            active_versions,
            failure_rate: runs.failure_rate(),
            runs,
            p50_ms: t.ms(5)?,
            p95_ms: t.ms(6)?,
            outputs_per_run: t.ratio(7)?,
            dropped_metrics: t.get(8)?,
            versions,
            skipped,
            comparisons,
            notes,
            failed_runs,
        };
        models.alarm = !models.alarms().is_empty();
        Ok(models)
    }

    pub(crate) fn alarms(&self) -> Vec<String> {
        self.versions
            .iter()
            .filter(|v| v.role.as_deref() == Some("PRIMARY") && v.runs.failed + v.runs.timeout > 0)
            .map(|v| {
                format!(
                    "PRIMARY {} version {}: {} FAILED and {} TIMEOUT of {} runs",
                    v.model_id,
                    v.version.as_deref().unwrap_or("?"),
                    v.runs.failed,
                    v.runs.timeout,
                    v.runs.total
                )
            })
            .collect()
    }

    pub(crate) fn write_text(&self, out: &mut String) {
        text::heading(out, "3. detection models", self.alarm);
        text::notes(out, &self.notes);
        let r = &self.runs;
        text::pairs(
            out,
            &[
                (
                    "runs",
                    format!(
                        "{} (OK {}, FAILED {}, TIMEOUT {}, SKIPPED {})",
                        r.total, r.ok, r.failed, r.timeout, r.skipped
                    ),
                ),
                ("failure rate", text::ratio(self.failure_rate)),
                (
                    "duration p50/p95 ms",
                    format!("{} / {}", text::ms(self.p50_ms), text::ms(self.p95_ms)),
                ),
                ("outputs per run", text::ms(self.outputs_per_run)),
                ("dropped metrics", self.dropped_metrics.to_string()),
            ],
        );

        text::line(out, "ACTIVE versions:");
        if self.active_versions.is_empty() {
            text::line(out, "(none)");
        } else {
            let mut t = Table::new(&[
                ("model", false),
                ("role", false),
                ("version", false),
                ("id", true),
                ("enabled", false),
            ]);
            for v in &self.active_versions {
                t.row(vec![
                    v.model_id.clone(),
                    v.role.clone(),
                    v.version.clone(),
                    v.version_id.to_string(),
                    if v.enabled { "yes" } else { "no" }.to_owned(),
                ]);
            }
            t.write(out);
        }

        if !self.versions.is_empty() {
            text::line(out, "runs per version:");
            let mut t = Table::new(&[
                ("model", false),
                ("version", false),
                ("role", false),
                ("runs", true),
                ("ok", true),
                ("failed", true),
                ("timeout", true),
                ("skipped", true),
                ("fail_rate", true),
                ("p50_ms", true),
                ("p95_ms", true),
                ("outputs/run", true),
                ("metrics", true),
                ("dropped", true),
            ]);
            for v in &self.versions {
                t.row(vec![
                    v.model_id.clone(),
                    text::opt(v.version.as_deref()),
                    text::opt(v.role.as_deref()),
                    v.runs.total.to_string(),
                    v.runs.ok.to_string(),
                    v.runs.failed.to_string(),
                    v.runs.timeout.to_string(),
                    v.runs.skipped.to_string(),
                    text::ratio(v.failure_rate),
                    text::ms(v.p50_ms),
                    text::ms(v.p95_ms),
                    text::ms(v.outputs_per_run),
                    v.metrics_stored.to_string(),
                    v.dropped_metrics.to_string(),
                ]);
            }
            t.write(out);
        }

        if !self.skipped.is_empty() {
            text::line(out, "skipped:");
            let mut t = Table::new(&[
                ("model", false),
                ("version", false),
                ("role", false),
                ("runs", true),
                ("last_cycle_ts", false),
                ("reason", false),
            ]);
            for s in &self.skipped {
                t.row(vec![
                    s.model_id.clone(),
                    text::opt(s.version.as_deref()),
                    text::opt(s.role.as_deref()),
                    s.runs.to_string(),
                    text::ts(s.last_cycle_ts),
                    s.reason.clone(),
                ]);
            }
            t.write(out);
        }

        if !self.comparisons.is_empty() {
            text::line(out, "candidates against PRIMARY (same cycles):");
            let mut t = Table::new(&[
                ("model", false),
                ("version", false),
                ("role", false),
                ("cycles", true),
                ("primary", true),
                ("candidate", true),
                ("shared", true),
                ("overlap", true),
                ("mean_abs_diff", true),
                ("agree@0.5", true),
            ]);
            for c in &self.comparisons {
                t.row(vec![
                    c.model_id.clone(),
                    text::opt(c.version.as_deref()),
                    c.role.clone(),
                    c.cycles.to_string(),
                    c.primary_entities.to_string(),
                    c.candidate_entities.to_string(),
                    c.shared_entities.to_string(),
                    text::ratio(c.overlap),
                    text::ratio(c.mean_abs_score_diff),
                    text::ratio(c.agreement_at_0_5),
                ]);
            }
            t.write(out);
        }

        if let Some(failed) = &self.failed_runs {
            text::line(out, "FAILED/TIMEOUT runs:");
            if failed.is_empty() {
                text::line(out, "(none)");
            } else {
                let mut t = Table::new(&[
                    ("cycle_ts", false),
                    ("model", false),
                    ("version", false),
                    ("role", false),
                    ("status", false),
                    ("ms", true),
                    ("error", false),
                ]);
                for f in failed {
                    t.row(vec![
                        text::ts(f.cycle_ts),
                        f.model_id.clone(),
                        text::opt(f.version.as_deref()),
                        text::opt(f.role.as_deref()),
                        f.status.clone(),
                        text::ms(Some(f.duration_ms)),
                        text::opt(f.error.as_deref()),
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
    fn failure_rate_ignores_skipped() {
        let c = RunCounts {
            total: 10,
            ok: 6,
            failed: 1,
            timeout: 1,
            skipped: 2,
        };
        assert_eq!(c.failure_rate(), Some(0.25));
        let none = RunCounts {
            total: 3,
            skipped: 3,
            ..RunCounts::default()
        };
        assert_eq!(none.failure_rate(), None);
    }
}
