//! Section 3: the detection models of the registry (V034).
//!
//! Definitions:
//! - *executed* runs are those not `SKIPPED`; durations and percentiles are
//!   over executed runs only;
//! - *failure rate* = (`FAILED` + `TIMEOUT`) / executed runs, null when
//!   nothing executed;
//! - *outputs per run* = mean `output_count` of `OK` runs;
//! - run counts include backtest records (`backtest` says how many);
//! - ACTIVE versions are the registry's current state, not windowed;
//! - a model the registry left out is recorded once per ACTIVE version it
//!   had, so a version's `skipped` counts the cycles it missed;
//! - every SHADOW or CHALLENGER with runs in the window is compared with
//!   each PRIMARY version that has a run of the same model in one of its
//!   cycles, by [`crate::compare`] (the definitions of cycles, entities,
//!   flags, population, agreement and mean absolute difference are there);
//!   a candidate whose cycles have no PRIMARY run is named in a note.
//!
//! Alarms, each naming the model and version: a PRIMARY run `FAILED`,
//! `TIMEOUT` or `SKIPPED` in the window (a PRIMARY that does not deliver
//! starves every dependent), and a PRIMARY whose `OK` runs stored no row at
//! all while stage 1 of those cycles loaded positions (running, but blind:
//! the models' silent fault). The position count is the leading number of
//! stage 1's `prediction_stage_timings.detail`. A failing SHADOW or
//! CHALLENGER is reported (its runs, failure rate and, in the diagnostic,
//! its failed runs) but is not an alarm: by design nothing depends on it.
//! The zero-output rule is over the whole window, not per cycle: a model
//! that stores rows only for what it flags (`identity_collision`) is quiet
//! in many cycles; an hour in which it flagged nothing at all while vessels
//! moved is worth a look.

mod alarms;
mod decode;
mod render;
mod sql;
mod types;

use tokio_postgres::GenericClient;

pub(crate) use decode::run_counts;
pub use types::{ActiveVersion, FailedRun, Models, RunCounts, Skipped, VersionRuns};

use crate::compare;
use crate::query::{self, Cols};
use crate::{RAW_ROW_LIMIT, SnapshotError, Window};

const VERSIONS: &str = "kcg.detection_model_versions";
const RUNS: &str = "kcg.detection_model_runs";
const OUTPUTS: &str = "kcg.detection_model_run_outputs";
const METRICS: &str = "kcg.detection_model_metrics";

/// Divergent entities listed per comparison.
const TOP_DIVERGENT: i64 = 5;

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
        let runs = run_counts(t)?;

        let mut versions = Vec::new();
        for r in &query::all(client, S, RUNS, sql::PER_VERSION, &window).await? {
            versions.push(decode::version_runs(Cols::new(r, S, RUNS))?);
        }

        let mut skipped = Vec::new();
        for r in &query::all(client, S, RUNS, sql::SKIPPED, &window).await? {
            skipped.push(decode::skipped(Cols::new(r, S, RUNS))?);
        }

        let mut notes = Vec::new();
        let mut comparisons = Vec::new();
        let pairs = query::all(client, S, RUNS, sql::PAIRS, &window).await?;
        let pairs: Vec<(String, i64, Option<i64>)> = pairs
            .iter()
            .map(|r| {
                let c = Cols::new(r, S, RUNS);
                Ok((c.get("model_id")?, c.get("candidate")?, c.get("baseline")?))
            })
            .collect::<Result<_, SnapshotError>>()?;
        for (model, candidate, baseline) in &pairs {
            let paired = pairs.iter().any(|(_, c, b)| c == candidate && b.is_some());
            match baseline {
                Some(baseline) => {
                    let request = compare::Request {
                        baseline: Some(*baseline),
                        top: TOP_DIVERGENT,
                        ..compare::Request::new(*candidate)
                    };
                    comparisons.push(compare::compare(client, &request, w.start, w.end).await?);
                }
                None if !paired => notes.push(format!(
                    "version id {candidate} of model {model} has runs but no PRIMARY run in the same cycles: nothing to compare"
                )),
                None => {}
            }
        }

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
            backtest: 0,
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
