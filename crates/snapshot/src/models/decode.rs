//! Rows into the section's types, reading every column by name.

use crate::SnapshotError;
use crate::query::Cols;

use super::{ActiveVersion, FailedRun, RunCounts, Skipped, VersionRuns};

pub(super) fn active_version(r: Cols<'_>) -> Result<ActiveVersion, SnapshotError> {
    Ok(ActiveVersion {
        model_id: r.get("model_id")?,
        role: r.role("role")?,
        version: r.get("version")?,
        version_id: r.get("id")?,
        enabled: r.get("is_enabled")?,
    })
}

/// The counts of a totals, per-version or comparison row.
pub(crate) fn run_counts(r: Cols<'_>) -> Result<RunCounts, SnapshotError> {
    Ok(RunCounts {
        total: r.get("total")?,
        ok: r.get("ok")?,
        failed: r.get("failed")?,
        timeout: r.get("timeout")?,
        skipped: r.get("skipped")?,
        backtest: r.get("backtest")?,
    })
}

pub(super) fn version_runs(r: Cols<'_>) -> Result<VersionRuns, SnapshotError> {
    let runs = run_counts(r)?;
    Ok(VersionRuns {
        model_id: r.get("model_id")?,
        version_id: r.get("version_id")?,
        version: r.get("version")?,
        role: r.opt_role("role")?,
        failure_rate: runs.failure_rate(),
        runs,
        p50_ms: r.ms("p50")?,
        p95_ms: r.ms("p95")?,
        outputs_per_run: r.ratio("outputs")?,
        outputs: r.get("output_rows")?,
        positions: r.get("positions")?,
        dropped_metrics: r.get("dropped")?,
        metrics_stored: r.get("metrics")?,
    })
}

pub(super) fn skipped(r: Cols<'_>) -> Result<Skipped, SnapshotError> {
    Ok(Skipped {
        model_id: r.get("model_id")?,
        version: r.get("version")?,
        role: r.opt_role("role")?,
        reason: r.get("reason")?,
        runs: r.get("runs")?,
        last_cycle_ts: r.get("last_cycle_ts")?,
    })
}

pub(super) fn failed_run(r: Cols<'_>) -> Result<FailedRun, SnapshotError> {
    Ok(FailedRun {
        cycle_ts: r.get("cycle_ts")?,
        model_id: r.get("model_id")?,
        version: r.get("version")?,
        role: r.opt_role("role")?,
        status: r.get("status")?,
        error: r.get("error")?,
        duration_ms: r.ms("duration_ms")?.unwrap_or(0.0),
    })
}
