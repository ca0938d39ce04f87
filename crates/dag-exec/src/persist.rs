//! Writing one cycle: outputs, metrics and run records in one transaction
//! on the caller's connection, bulk rows by binary COPY. A live cycle
//! replaces everything of its `cycle_ts`; a backtest ([`Scope::Backtest`])
//! replaces only its one version's rows and marks its run record
//! `origin = 'BACKTEST'` (V051). Only the rows a version's output policy
//! keeps are copied; the run record counts the others (`omitted_count`,
//! V055).
//!
//! The statement order matters to nobody but the atomicity test, which
//! blocks the run-record step to kill the connection after the outputs and
//! metrics were copied: replace outputs, replace metrics, replace runs.

use std::borrow::Cow;
use std::time::Instant;

use futures_util::pin_mut;
use model_api::MAX_ID_CHARS;
use tokio_postgres::GenericClient;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::CycleRun;
use crate::report::PersistStats;

use schema::locks;

const DELETE_OUTPUTS: &str = "DELETE FROM kcg.detection_model_run_outputs WHERE cycle_ts = $1";
const DELETE_METRICS: &str = "DELETE FROM kcg.detection_model_metrics WHERE cycle_ts = $1";
const DELETE_RUNS: &str = "DELETE FROM kcg.detection_model_runs WHERE cycle_ts = $1";

const DELETE_VERSION_OUTPUTS: &str =
    "DELETE FROM kcg.detection_model_run_outputs WHERE cycle_ts = $1 AND version_id = $2";
const DELETE_VERSION_METRICS: &str =
    "DELETE FROM kcg.detection_model_metrics WHERE cycle_ts = $1 AND version_id = $2";
const DELETE_VERSION_RUNS: &str =
    "DELETE FROM kcg.detection_model_runs WHERE cycle_ts = $1 AND version_id = $2";

/// Whether version `$2` has a run record of a live cycle at `$1`.
pub(crate) const LIVE_RUN_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM kcg.detection_model_runs \
     WHERE cycle_ts = $1 AND version_id = $2 AND origin = 'LIVE') AS live";

const COPY_OUTPUTS: &str = "COPY kcg.detection_model_run_outputs \
     (cycle_ts, model_id, version_id, role, entity_key, score, payload) FROM STDIN (FORMAT binary)";
const OUTPUT_TYPES: &[Type] = &[
    Type::TIMESTAMPTZ,
    Type::VARCHAR,
    Type::INT8,
    Type::VARCHAR,
    Type::TEXT,
    Type::FLOAT8,
    Type::JSONB,
];

const COPY_METRICS: &str = "COPY kcg.detection_model_metrics (cycle_ts, version_id, metric_key, value) \
     FROM STDIN (FORMAT binary)";
const METRIC_TYPES: &[Type] = &[Type::TIMESTAMPTZ, Type::INT8, Type::VARCHAR, Type::FLOAT8];

const COPY_RUNS: &str = "COPY kcg.detection_model_runs \
     (cycle_ts, model_id, version_id, role, status, error, started_at, duration_ms, output_count, omitted_count, dropped_metric_count) \
     FROM STDIN (FORMAT binary)";
/// A backtest's run record names its origin; a live cycle's takes the
/// column default (`LIVE`).
const COPY_BACKTEST_RUNS: &str = "COPY kcg.detection_model_runs \
     (cycle_ts, model_id, version_id, role, status, error, started_at, duration_ms, output_count, omitted_count, dropped_metric_count, origin) \
     FROM STDIN (FORMAT binary)";
const RUN_TYPES: &[Type] = &[
    Type::TIMESTAMPTZ,
    Type::VARCHAR,
    Type::INT8,
    Type::VARCHAR,
    Type::VARCHAR,
    Type::TEXT,
    Type::TIMESTAMPTZ,
    Type::FLOAT8,
    Type::INT4,
    Type::INT4,
    Type::INT4,
    // origin: only a backtest's COPY names it.
    Type::VARCHAR,
];
/// The columns of [`COPY_RUNS`], without `origin`.
const LIVE_RUN_COLUMNS: usize = 11;

/// Which rows of the cycle a persist replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// A live cycle: every row of the cycle.
    Cycle,
    /// A backtest of this version: only its rows.
    Backtest(i64),
}

impl Scope {
    fn keeps(self, version_id: Option<i64>) -> bool {
        match self {
            Scope::Cycle => true,
            Scope::Backtest(id) => version_id == Some(id),
        }
    }
}

/// Which step failed, and how.
#[derive(Debug)]
pub(crate) struct PersistFailure {
    pub(crate) step: &'static str,
    pub(crate) source: tokio_postgres::Error,
}

fn at(step: &'static str) -> impl Fn(tokio_postgres::Error) -> PersistFailure {
    move |source| PersistFailure { step, source }
}

/// Replaces what `scope` covers of `run`'s cycle with `run`'s lines of it,
/// atomically.
pub(crate) async fn persist<C>(
    client: &mut C,
    run: &CycleRun,
    scope: Scope,
) -> Result<PersistStats, PersistFailure>
where
    C: GenericClient + Send + Sync,
{
    let started = Instant::now();
    let ts = run.report.cycle_ts;
    let tx = client.transaction().await.map_err(at("BEGIN"))?;
    // The rerun guard of the cycle, the same lock a pipeline cycle holds
    // (re-taking it in the pipeline's transaction is free).
    tx.execute(
        locks::CYCLE_LOCK_SQL,
        &[&locks::CYCLE, &locks::cycle_key(ts)],
    )
    .await
    .map_err(at("advisory lock on the cycle"))?;

    let delete = |cycle: &'static str, version: &'static str| match scope {
        Scope::Cycle => (cycle, None),
        Scope::Backtest(id) => (version, Some(id)),
    };
    let (sql, version) = delete(DELETE_OUTPUTS, DELETE_VERSION_OUTPUTS);
    let mut replaced = execute(&tx, sql, ts, version)
        .await
        .map_err(at("DELETE FROM kcg.detection_model_run_outputs"))?;
    let (sql, version) = delete(DELETE_METRICS, DELETE_VERSION_METRICS);
    replaced += execute(&tx, sql, ts, version)
        .await
        .map_err(at("DELETE FROM kcg.detection_model_metrics"))?;

    let step = "COPY into kcg.detection_model_run_outputs";
    let writer = BinaryCopyInWriter::new(
        tx.copy_in(COPY_OUTPUTS).await.map_err(at(step))?,
        OUTPUT_TYPES,
    );
    pin_mut!(writer);
    for (line, stored) in run
        .stored_lines()
        .filter(|(l, _)| scope.keeps(l.version_id))
    {
        let (Some(version_id), Some(role)) = (line.version_id, line.role) else {
            continue;
        };
        let (model_id, role) = (line.model_id.as_str(), role.as_str());
        for row in stored.check.kept_rows(stored.output()) {
            let score = row.score.is_finite().then_some(row.score);
            let values: [&(dyn ToSql + Sync); 7] = [
                &ts,
                &model_id,
                &version_id,
                &role,
                &row.entity_key,
                &score,
                &row.payload,
            ];
            writer.as_mut().write(&values).await.map_err(at(step))?;
        }
    }
    let output_rows = writer.as_mut().finish().await.map_err(at(step))?;

    let step = "COPY into kcg.detection_model_metrics";
    let writer = BinaryCopyInWriter::new(
        tx.copy_in(COPY_METRICS).await.map_err(at(step))?,
        METRIC_TYPES,
    );
    pin_mut!(writer);
    for (line, stored) in run
        .stored_lines()
        .filter(|(l, _)| scope.keeps(l.version_id))
    {
        let Some(version_id) = line.version_id else {
            continue;
        };
        for (key, value) in stored.check.kept_metrics(stored.output()) {
            writer
                .as_mut()
                .write(&[&ts, &version_id, &key, &value])
                .await
                .map_err(at(step))?;
        }
    }
    let metric_rows = writer.as_mut().finish().await.map_err(at(step))?;

    let (sql, version) = delete(DELETE_RUNS, DELETE_VERSION_RUNS);
    replaced += execute(&tx, sql, ts, version)
        .await
        .map_err(at("DELETE FROM kcg.detection_model_runs"))?;
    let step = "COPY into kcg.detection_model_runs";
    let (copy, types, origin) = match scope {
        Scope::Cycle => (COPY_RUNS, &RUN_TYPES[..LIVE_RUN_COLUMNS], None),
        Scope::Backtest(_) => (COPY_BACKTEST_RUNS, RUN_TYPES, Some("BACKTEST")),
    };
    let writer = BinaryCopyInWriter::new(tx.copy_in(copy).await.map_err(at(step))?, types);
    pin_mut!(writer);
    for line in run
        .report
        .versions
        .iter()
        .filter(|l| scope.keeps(l.version_id))
    {
        let model_id = storable_id(&line.model_id);
        let role = line.role.map(model_api::Role::as_str);
        let error = line
            .reason
            .as_ref()
            .map(|r| storable_text(&r.to_string()).into_owned());
        let duration_ms = line.duration.as_secs_f64() * 1000.0;
        let output_count = i32::try_from(line.output_count).unwrap_or(i32::MAX);
        let omitted = i32::try_from(line.omitted_count).unwrap_or(i32::MAX);
        let dropped = i32::try_from(line.dropped_metrics).unwrap_or(i32::MAX);
        let values: [&(dyn ToSql + Sync); 12] = [
            &ts,
            &model_id,
            &line.version_id,
            &role,
            &line.status.as_str(),
            &error,
            &line.started_at,
            &duration_ms,
            &output_count,
            &omitted,
            &dropped,
            &origin,
        ];
        let values = if origin.is_some() {
            &values[..]
        } else {
            &values[..LIVE_RUN_COLUMNS]
        };
        writer.as_mut().write(values).await.map_err(at(step))?;
    }
    let run_rows = writer.as_mut().finish().await.map_err(at(step))?;

    tx.commit().await.map_err(at("COMMIT"))?;
    Ok(PersistStats {
        output_rows,
        metric_rows,
        run_rows,
        replaced_rows: replaced,
        duration: started.elapsed(),
    })
}

/// `sql` with the cycle and, for a backtest, the version bound.
async fn execute(
    tx: &tokio_postgres::Transaction<'_>,
    sql: &str,
    ts: model_api::CycleTs,
    version: Option<i64>,
) -> Result<u64, tokio_postgres::Error> {
    match version {
        None => tx.execute(sql, &[&ts]).await,
        Some(id) => tx.execute(sql, &[&ts, &id]).await,
    }
}

/// PostgreSQL text cannot hold NUL; error texts come from models.
fn storable_text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// A model id as `VARCHAR(64)` takes it. Planned models have valid ids;
/// an excluded model's stored id came from that very column, so this only
/// guards against a plan of a registry snapshot built by hand.
fn storable_id(s: &str) -> Cow<'_, str> {
    let text = storable_text(s);
    if text.chars().count() <= MAX_ID_CHARS {
        text
    } else {
        Cow::Owned(text.chars().take(MAX_ID_CHARS).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_made_storable() {
        assert_eq!(storable_text("a\0b"), "a\u{FFFD}b");
        assert!(matches!(storable_text("plain"), Cow::Borrowed("plain")));
        assert_eq!(storable_id(&"é".repeat(70)).chars().count(), 64);
        assert_eq!(storable_id("m"), "m");
    }
}
