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

mod alarms;
mod decode;
mod render;
mod sql;
mod types;

use tokio_postgres::GenericClient;

pub use types::{ActiveVersion, Comparison, FailedRun, Models, RunCounts, Skipped, VersionRuns};

use crate::query::{self, Cols};
use crate::{RAW_ROW_LIMIT, SnapshotError, Window};

const VERSIONS: &str = "kcg.detection_model_versions";
const RUNS: &str = "kcg.detection_model_runs";
const OUTPUTS: &str = "kcg.detection_model_run_outputs";
const METRICS: &str = "kcg.detection_model_metrics";

impl Models {
    pub(crate) async fn load(
        client: &impl GenericClient,
        w: &Window,
    ) -> Result<Models, SnapshotError> {
        const S: &str = "models";
        let window: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&w.start, &w.end];

        let mut active_versions = Vec::new();
        for r in &query::all(client, S, VERSIONS, sql::ACTIVE, &[]).await? {
            active_versions.push(decode::active_version(Cols::new(r, S, VERSIONS))?);
        }

        let totals = query::one(client, S, RUNS, sql::TOTALS, &window).await?;
        let t = Cols::new(&totals, S, RUNS);
        let runs = decode::run_counts(t)?;

        let mut versions = Vec::new();
        for r in &query::all(client, S, RUNS, sql::PER_VERSION, &window).await? {
            versions.push(decode::version_runs(Cols::new(r, S, RUNS))?);
        }

        let mut skipped = Vec::new();
        for r in &query::all(client, S, RUNS, sql::SKIPPED, &window).await? {
            skipped.push(decode::skipped(Cols::new(r, S, RUNS))?);
        }

        let mut comparisons = Vec::new();
        for r in &query::all(client, S, OUTPUTS, sql::COMPARISONS, &window).await? {
            comparisons.push(decode::comparison(Cols::new(r, S, OUTPUTS))?);
        }

        let mut notes = Vec::new();
        if active_versions.is_empty() {
            notes.push(format!("no ACTIVE rows in {VERSIONS}"));
        }
        if runs.total == 0 {
            notes.push(format!("no rows in {RUNS} in window"));
        }
        let has_outputs: bool = Cols::new(
            &query::one(client, S, OUTPUTS, sql::HAS_OUTPUTS, &window).await?,
            S,
            OUTPUTS,
        )
        .get("present")?;
        if !has_outputs {
            notes.push(format!("no rows in {OUTPUTS} in window"));
        }
        let has_metrics: bool = Cols::new(
            &query::one(client, S, METRICS, sql::HAS_METRICS, &window).await?,
            S,
            METRICS,
        )
        .get("present")?;
        if !has_metrics {
            notes.push(format!("no rows in {METRICS} in window"));
        }

        let failed_runs = if w.raw_rows() {
            let rows = query::all(
                client,
                S,
                RUNS,
                sql::FAILED_RUNS,
                &[&w.start, &w.end, &RAW_ROW_LIMIT],
            )
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(decode::failed_run(Cols::new(r, S, RUNS))?);
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
            p50_ms: t.ms("p50")?,
            p95_ms: t.ms("p95")?,
            outputs_per_run: t.ratio("outputs")?,
            dropped_metrics: t.get("dropped")?,
            versions,
            skipped,
            comparisons,
            notes,
            failed_runs,
        };
        models.alarm = !models.alarms().is_empty();
        Ok(models)
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
