//! Time series behind the HTML report's plots: what the sections aggregate
//! away (per cycle, per run, per score bin). Read-only like the sections,
//! over the same [`Window`], and computed only when a plot asks for them
//! ([`load`]); the text and JSON reports never run these queries.
//!
//! Definitions:
//! - *score bins*: vessels by their highest `spoofing_score` in the window,
//!   in 20 bins `(k/20, (k+1)/20]` (compared as `real`, the column's type,
//!   like the section's bands); vessels scoring exactly 0 are in no bin
//!   (the section counts them).
//! - *stages*: every `prediction_stage_timings` row, by cycle then stage.
//! - *runs*: every `detection_model_runs` row with a version, by cycle.
//! - *comparisons*: for each comparison of the report's models section
//!   (each SHADOW or CHALLENGER against each PRIMARY it ran beside), its
//!   figures per compared cycle ([`compare::per_cycle`]) and its score
//!   pairs ([`compare::score_pairs`], at most [`SCORE_PAIR_LIMIT`]): the one
//!   comparison of [`compare`], one cycle at a time, so the plots and the
//!   section's figures cannot disagree.

use chrono::{DateTime, Utc};
use model_api::Role;
use tokio_postgres::GenericClient;

use crate::compare::{self, CycleFigures, ScorePair};
use crate::query::{self, Cols};
use crate::{Report, SnapshotError};

const S: &str = "series";
const ANALYSIS: &str = "kcg.vessel_analysis";
const TIMINGS: &str = "kcg.prediction_stage_timings";
const RUNS: &str = "kcg.detection_model_runs";

/// Bins of the score histogram.
pub const SCORE_BINS: i32 = 20;

/// The most distinct score pairs kept per pair of versions.
pub const SCORE_PAIR_LIMIT: i64 = 2000;

/// Vessels whose highest score falls in `(lower, upper]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreBin {
    /// Exclusive.
    pub lower: f64,
    /// Inclusive.
    pub upper: f64,
    /// How many vessels.
    pub vessels: i64,
}

/// One stage of one cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct StagePoint {
    /// The cycle.
    pub cycle_ts: DateTime<Utc>,
    /// 1..10.
    pub stage_no: i16,
    /// E.g. `load_window`.
    pub stage_name: String,
    /// `OK`, `FAILED` or `SKIPPED`.
    pub status: String,
    /// Its duration.
    pub duration_ms: f64,
}

/// One run of one version.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPoint {
    /// The cycle.
    pub cycle_ts: DateTime<Utc>,
    /// Model.
    pub model_id: String,
    /// `detection_model_versions.id`.
    pub version_id: i64,
    /// Label (null if the version row is gone).
    pub version: Option<String>,
    /// Role recorded with the run.
    pub role: Option<Role>,
    /// `OK`, `FAILED`, `TIMEOUT` or `SKIPPED`.
    pub status: String,
}

/// One comparison of the models section, cycle by cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonSeries {
    /// Model.
    pub model_id: String,
    /// The SHADOW's or CHALLENGER's version id.
    pub candidate_id: i64,
    /// The PRIMARY's version id.
    pub baseline_id: i64,
    /// The comparison's figures on each compared cycle, oldest first.
    pub cycles: Vec<CycleFigures>,
    /// Its entities' score pairs, the most frequent first.
    pub score_pairs: Vec<ScorePair>,
}

/// Everything the plots draw beyond the sections.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// The score histogram, [`SCORE_BINS`] bins from low to high.
    pub score_bins: Vec<ScoreBin>,
    /// Stage durations, by cycle then stage.
    pub stages: Vec<StagePoint>,
    /// Runs, by cycle, model, role, version.
    pub runs: Vec<RunPoint>,
    /// In the order of the section's comparisons.
    pub comparisons: Vec<ComparisonSeries>,
}

const SCORE_BINS_SQL: &str = "
WITH per_vessel AS (
    SELECT mmsi, max(spoofing_score) AS score
    FROM kcg.vessel_analysis
    WHERE cycle_ts >= $1 AND cycle_ts < $2
    GROUP BY mmsi
)
SELECT b.i AS bin, count(v.mmsi) AS vessels
FROM generate_series(1, $3::int) AS b(i)
LEFT JOIN per_vessel v
       ON v.score > ((b.i - 1)::float8 / $3)::real
      AND (v.score <= (b.i::float8 / $3)::real OR b.i = $3)
GROUP BY b.i
ORDER BY b.i";

const STAGES_SQL: &str = "
SELECT cycle_ts, stage_no, stage_name, status, duration_ms
FROM kcg.prediction_stage_timings
WHERE cycle_ts >= $1 AND cycle_ts < $2
ORDER BY cycle_ts, stage_no";

const RUNS_SQL: &str = "
SELECT r.cycle_ts, r.model_id, r.version_id, v.version, r.role, r.status
FROM kcg.detection_model_runs r
LEFT JOIN kcg.detection_model_versions v ON v.id = r.version_id
WHERE r.cycle_ts >= $1 AND r.cycle_ts < $2 AND r.version_id IS NOT NULL
ORDER BY r.cycle_ts, r.model_id, kcg.role_rank(r.role), r.version_id";

/// The series of `report`'s window and comparisons, one query per kind and
/// comparison on `client` (pass the report's `REPEATABLE READ` transaction
/// for the same view).
pub async fn load(client: &impl GenericClient, report: &Report) -> Result<Series, SnapshotError> {
    let window = report.window();
    let w: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&window.start, &window.end];

    let mut score_bins = Vec::new();
    let bins = SCORE_BINS;
    for r in &query::all(
        client,
        S,
        ANALYSIS,
        SCORE_BINS_SQL,
        &[&window.start, &window.end, &bins],
    )
    .await?
    {
        let r = Cols::new(r, S, ANALYSIS);
        let bin: i32 = r.get("bin")?;
        score_bins.push(ScoreBin {
            lower: f64::from(bin - 1) / f64::from(bins),
            upper: f64::from(bin) / f64::from(bins),
            vessels: r.get("vessels")?,
        });
    }

    let mut stages = Vec::new();
    for r in &query::all(client, S, TIMINGS, STAGES_SQL, &w).await? {
        let r = Cols::new(r, S, TIMINGS);
        stages.push(StagePoint {
            cycle_ts: r.get("cycle_ts")?,
            stage_no: r.get("stage_no")?,
            stage_name: r.get("stage_name")?,
            status: r.get("status")?,
            duration_ms: r.ms("duration_ms")?.unwrap_or(0.0),
        });
    }

    let mut runs = Vec::new();
    for r in &query::all(client, S, RUNS, RUNS_SQL, &w).await? {
        let r = Cols::new(r, S, RUNS);
        runs.push(RunPoint {
            cycle_ts: r.get("cycle_ts")?,
            model_id: r.get("model_id")?,
            version_id: r.get("version_id")?,
            version: r.get("version")?,
            role: r.opt_role("role")?,
            status: r.get("status")?,
        });
    }

    let mut comparisons = Vec::new();
    for c in &report.models.comparisons {
        comparisons.push(ComparisonSeries {
            model_id: c.model_id.clone(),
            candidate_id: c.candidate.version_id,
            baseline_id: c.baseline.version_id,
            cycles: compare::per_cycle(client, c, window.start, window.end).await?,
            score_pairs: compare::score_pairs(
                client,
                c,
                window.start,
                window.end,
                SCORE_PAIR_LIMIT,
            )
            .await?,
        });
    }

    Ok(Series {
        score_bins,
        stages,
        runs,
        comparisons,
    })
}
