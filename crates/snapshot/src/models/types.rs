//! The section's types, serialized as documented in the crate's JSON
//! schema (roles as their database strings).

use chrono::{DateTime, Utc};
use model_api::Role;
use serde::{Serialize, Serializer};

use crate::compare::Comparison;
use crate::query;

// `serialize_with` hands over `&Role`/`&Option<Role>`.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn role<S: Serializer>(role: &Role, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(role.as_str())
}

#[allow(clippy::trivially_copy_pass_by_ref, clippy::ref_option)]
fn opt_role<S: Serializer>(role: &Option<Role>, s: S) -> Result<S::Ok, S::Error> {
    match role {
        Some(role) => s.serialize_some(role.as_str()),
        None => s.serialize_none(),
    }
}

/// An ACTIVE version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveVersion {
    /// Model.
    pub model_id: String,
    /// `PRIMARY`, `CHALLENGER` or `SHADOW`.
    #[serde(serialize_with = "role")]
    pub role: Role,
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
    /// Of all these, how many are backtest records (V051 `origin`), not
    /// live cycles.
    pub backtest: i64,
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
    #[serde(serialize_with = "opt_role")]
    pub role: Option<Role>,
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
    /// Sum of `output_count` of `OK` runs.
    pub outputs: i64,
    /// Positions stage 1 loaded in the cycles of its `OK` runs (0 where
    /// the cycle has no stage record).
    pub positions: i64,
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
    #[serde(serialize_with = "opt_role")]
    pub role: Option<Role>,
    /// The recorded `error`.
    pub reason: String,
    /// How many runs.
    pub runs: i64,
    /// The last cycle skipped for this reason.
    pub last_cycle_ts: DateTime<Utc>,
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
    #[serde(serialize_with = "opt_role")]
    pub role: Option<Role>,
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
    /// True when a PRIMARY run was not `OK`, or a PRIMARY stored nothing
    /// while its cycles had positions.
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
    /// Each SHADOW/CHALLENGER version with runs in the window against
    /// each PRIMARY version that ran in one of its cycles (usually one).
    pub comparisons: Vec<Comparison>,
    /// E.g. "no rows in kcg.detection_model_runs in window".
    pub notes: Vec<String>,
    /// Diagnostic only (null in hourly): FAILED and TIMEOUT runs, newest
    /// first, at most [`RAW_ROW_LIMIT`].
    pub failed_runs: Option<Vec<FailedRun>>,
}
