//! The ten stages of a cycle and how their timings are recorded.

use std::fmt;
use std::time::Duration;

use tokio_postgres::GenericClient;

use crate::{CycleTs, PipelineError};

/// The stages, in the order a cycle runs them (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// 1: positions in `(cycle_ts - window, cycle_ts]`.
    LoadWindow,
    /// 2: drop impossible fixes, counted.
    Clean,
    /// 3: per-MMSI ordered tracks and implied speeds.
    Tracks,
    /// 4: MMSI validity.
    Identity,
    /// 5: legacy spoofing score into `vessel_analysis`.
    Spoofing,
    /// 6: identity collisions into `gear_identity_collisions`.
    Collisions,
    /// 7: events into `prediction_events`.
    Events,
    /// 8: `prediction_stats_hourly`.
    Stats,
    /// 9: this and next month's output partitions exist.
    Partitions,
    /// 10: the registry path (only with `PREDICTION_USE_MODEL_REGISTRY` on).
    ModelRegistry,
}

impl Stage {
    /// Every stage in execution order.
    pub const ALL: [Stage; 10] = [
        Stage::LoadWindow,
        Stage::Clean,
        Stage::Tracks,
        Stage::Identity,
        Stage::Spoofing,
        Stage::Collisions,
        Stage::Events,
        Stage::Stats,
        Stage::Partitions,
        Stage::ModelRegistry,
    ];

    /// 1 to 10.
    pub fn number(self) -> i16 {
        match self {
            Stage::LoadWindow => 1,
            Stage::Clean => 2,
            Stage::Tracks => 3,
            Stage::Identity => 4,
            Stage::Spoofing => 5,
            Stage::Collisions => 6,
            Stage::Events => 7,
            Stage::Stats => 8,
            Stage::Partitions => 9,
            Stage::ModelRegistry => 10,
        }
    }

    /// The name stored in `prediction_stage_timings.stage_name`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::LoadWindow => "load_window",
            Stage::Clean => "clean",
            Stage::Tracks => "tracks",
            Stage::Identity => "identity",
            Stage::Spoofing => "spoofing",
            Stage::Collisions => "collisions",
            Stage::Events => "events",
            Stage::Stats => "stats",
            Stage::Partitions => "partitions",
            Stage::ModelRegistry => "model_registry",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.number(), self.name())
    }
}

/// How a stage ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageStatus {
    /// Ran to completion.
    Ok,
    /// Failed; the cycle ended here.
    Failed,
    /// Not run (flag off, or an earlier stage failed).
    Skipped,
}

impl StageStatus {
    /// The database string.
    pub fn as_str(self) -> &'static str {
        match self {
            StageStatus::Ok => "OK",
            StageStatus::Failed => "FAILED",
            StageStatus::Skipped => "SKIPPED",
        }
    }
}

/// One stage's record.
#[derive(Debug, Clone, PartialEq)]
pub struct StageTiming {
    /// Which stage.
    pub stage: Stage,
    /// How it ended.
    pub status: StageStatus,
    /// Wall time.
    pub duration: Duration,
    /// A one-line summary, or the error of a failed stage.
    pub detail: Option<String>,
}

/// Every stage of a run in one statement, replacing the records of an
/// earlier run of the cycle. `clock_timestamp()`: the cycle's transaction
/// started long before.
const UPSERT: &str = "INSERT INTO kcg.prediction_stage_timings \
     (cycle_ts, stage_no, stage_name, status, duration_ms, detail, recorded_at) \
     SELECT $1, u.*, clock_timestamp() \
     FROM unnest($2::int2[], $3::text[], $4::text[], $5::float8[], $6::text[]) \
          AS u(stage_no, stage_name, status, duration_ms, detail) \
     ON CONFLICT (cycle_ts, stage_no) DO UPDATE SET stage_name = EXCLUDED.stage_name, \
     status = EXCLUDED.status, duration_ms = EXCLUDED.duration_ms, detail = EXCLUDED.detail, \
     recorded_at = EXCLUDED.recorded_at";

/// Records the stages of one run (replacing the records of an earlier run
/// of the cycle).
pub(crate) async fn record_all(
    client: &impl GenericClient,
    cycle_ts: CycleTs,
    timings: &[StageTiming],
) -> Result<(), PipelineError> {
    let no: Vec<i16> = timings.iter().map(|t| t.stage.number()).collect();
    let name: Vec<&str> = timings.iter().map(|t| t.stage.name()).collect();
    let status: Vec<&str> = timings.iter().map(|t| t.status.as_str()).collect();
    let ms: Vec<f64> = timings
        .iter()
        .map(|t| t.duration.as_secs_f64() * 1000.0)
        .collect();
    let detail: Vec<Option<&str>> = timings.iter().map(|t| t.detail.as_deref()).collect();
    client
        .execute(UPSERT, &[&cycle_ts, &no, &name, &status, &ms, &detail])
        .await
        .map_err(|e| PipelineError::db("kcg.prediction_stage_timings", e))?;
    Ok(())
}
