//! What a cycle did, per version.

use std::fmt;
use std::time::Duration;

use model_api::{CycleTs, ModelError, ModelId, Role};

/// The outcome of one version in one cycle, as stored in
/// `kcg.detection_model_runs.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RunStatus {
    /// The model returned a result; its rows and metrics are stored.
    Ok,
    /// The model returned an error, panicked, or returned a result that
    /// cannot be stored (see the crate docs); nothing of it is stored.
    Failed,
    /// The model did not return within its timeout; its thread was abandoned
    /// and whatever it returns later is discarded.
    Timeout,
    /// The version never ran: an upstream PRIMARY failed, or the registry
    /// left it out of the plan.
    Skipped,
}

impl RunStatus {
    /// The database string (`OK`, `FAILED`, `TIMEOUT`, `SKIPPED`).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "OK",
            RunStatus::Failed => "FAILED",
            RunStatus::Timeout => "TIMEOUT",
            RunStatus::Skipped => "SKIPPED",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One version's line of the [`CycleReport`] (and of
/// `kcg.detection_model_runs`).
#[derive(Debug, Clone, PartialEq)]
pub struct VersionReport {
    /// The model. A `String` because the registry may leave out a model
    /// whose stored id is not a valid `ModelId`.
    pub model_id: String,
    /// `detection_model_versions.id`; `None` only for a model the registry
    /// left out that has no ACTIVE version at all (a model left out with
    /// versions gets a line per version).
    pub version_id: Option<i64>,
    /// The version label, when known.
    pub version: Option<String>,
    /// The version's role, when known.
    pub role: Option<Role>,
    /// What happened.
    pub status: RunStatus,
    /// When the model started running (`None` when it never ran).
    pub started_at: Option<CycleTs>,
    /// How long it ran (for `TIMEOUT`: until it was abandoned).
    pub duration: Duration,
    /// Output rows the model returned (0 unless `OK`), stored or not.
    pub output_count: usize,
    /// Of those, rows its output policy left out (`omitted_count` of the
    /// run record, V055): readers take each as score 0. Stored rows are
    /// `output_count - omitted_count`.
    pub omitted_count: usize,
    /// Metrics not stored: key empty, over 64 characters or containing NUL,
    /// value NaN or infinite, or an earlier value of a key reported again.
    pub dropped_metrics: usize,
    /// Rows whose score was NaN or infinite and is stored as `NULL`.
    pub null_scores: usize,
    /// Its result was a seed the caller offered ([`crate::Seeds`]), not
    /// computed here; `duration` then includes the seed's own time.
    pub seeded: bool,
    /// Why it is not `OK`, `None` when `OK`. Its text is the run
    /// record's `error`.
    pub reason: Option<RunReason>,
}

/// Why a version is not `OK`. Its `Display` is the text stored in
/// `kcg.detection_model_runs.error`.
#[derive(Debug, Clone, PartialEq)]
pub enum RunReason {
    /// `FAILED`: the model returned an error.
    ModelError(ModelError),
    /// `FAILED`: the model panicked, with this message.
    Panicked(String),
    /// `FAILED`: the model returned rows the database would refuse (what
    /// is wrong with them); see the crate docs.
    Unstorable(String),
    /// `TIMEOUT`: no result within `timeout`; the thread was abandoned.
    TimedOut {
        /// The version's timeout.
        timeout: Duration,
    },
    /// `SKIPPED`: the PRIMARY of `root` failed; `via` is the direct
    /// upstream that failed or was skipped for it (`via == root` when the
    /// direct upstream failed itself).
    UpstreamFailed {
        /// The model whose PRIMARY failed.
        root: ModelId,
        /// The direct upstream through which the failure arrived.
        via: ModelId,
    },
    /// `SKIPPED`: `upstream` counted as done but published nothing (not
    /// expected to happen: the executor never runs a model blind).
    UpstreamNoResult {
        /// The upstream model.
        upstream: ModelId,
    },
    /// `FAILED`: no worker thread could be started.
    NoWorker {
        /// The operating system's error.
        error: String,
    },
    /// `SKIPPED`: the registry left the model or version out of the plan,
    /// with its reason.
    Excluded(registry::Exclusion),
}

impl fmt::Display for RunReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunReason::ModelError(e) => write!(f, "model error: {e}"),
            RunReason::Panicked(message) => write!(f, "panicked: {message}"),
            RunReason::Unstorable(what) => write!(f, "output cannot be stored: {what}"),
            RunReason::TimedOut { timeout } => write!(
                f,
                "no result within the timeout of {timeout:?}; the thread was abandoned and its result is discarded"
            ),
            RunReason::UpstreamFailed { root, via } if root == via => {
                write!(f, "upstream {root} failed")
            }
            RunReason::UpstreamFailed { root, via } => {
                write!(f, "upstream {root} failed (via {via})")
            }
            RunReason::UpstreamNoResult { upstream } => {
                write!(f, "upstream {upstream} produced no result")
            }
            RunReason::NoWorker { error } => {
                write!(f, "no worker thread could be started: {error}")
            }
            RunReason::Excluded(reason) => write!(f, "{reason}"),
        }
    }
}

/// Statistics of a cycle's persistence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersistStats {
    /// Rows copied into `kcg.detection_model_run_outputs`.
    pub output_rows: u64,
    /// Rows copied into `kcg.detection_model_metrics`.
    pub metric_rows: u64,
    /// Rows copied into `kcg.detection_model_runs`.
    pub run_rows: u64,
    /// Rows of earlier runs of the same `cycle_ts` that were replaced
    /// (outputs, metrics and run records together).
    pub replaced_rows: u64,
    /// From `BEGIN` to `COMMIT` inclusive.
    pub duration: Duration,
}

/// What one cycle did: a line per planned version (level by level, model by
/// model, PRIMARY first), then a line per entry the registry left out.
#[derive(Debug, Clone, PartialEq)]
pub struct CycleReport {
    /// The cycle.
    pub cycle_ts: CycleTs,
    /// One line per version.
    pub versions: Vec<VersionReport>,
    /// Wall time of running the models (not persisting).
    pub run_duration: Duration,
    /// Set once the cycle was committed.
    pub persisted: Option<PersistStats>,
}

impl CycleReport {
    /// How many lines have `status`.
    pub fn count(&self, status: RunStatus) -> usize {
        self.versions.iter().filter(|v| v.status == status).count()
    }

    /// The line of version `version_id`.
    pub fn version(&self, version_id: i64) -> Option<&VersionReport> {
        self.versions
            .iter()
            .find(|v| v.version_id == Some(version_id))
    }

    /// The line of `model_id`'s PRIMARY version (or of the whole model, when
    /// the registry left it out).
    pub fn primary(&self, model_id: &str) -> Option<&VersionReport> {
        self.versions
            .iter()
            .find(|v| v.model_id == model_id && matches!(v.role, Some(Role::Primary) | None))
    }
}
