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
//! - *agreement*: per cycle, each SHADOW or CHALLENGER that ran `OK`
//!   against each PRIMARY of its model that ran `OK` in the same cycle. A
//!   version that stored no row for an entity scored it 0 (as did a `NULL`
//!   score); the *entities* are those at least one of the two scored
//!   non-zero; *agreement* is the fraction of them both put on the same
//!   side of 0.5 (1 when there is none), *mean absolute difference* their
//!   mean `|candidate - primary|` (0 then).
//! - *score pairs*: the same entities over all the window's compared
//!   cycles, as `(primary, candidate)` scores rounded to 0.01 with how many
//!   entity-cycles share them, at most [`SCORE_PAIR_LIMIT`] per pair of
//!   versions (the most frequent first).

use chrono::{DateTime, Utc};
use model_api::Role;
use tokio_postgres::GenericClient;

use crate::query::{self, Cols};
use crate::{SnapshotError, Window};

const S: &str = "series";
const ANALYSIS: &str = "kcg.vessel_analysis";
const TIMINGS: &str = "kcg.prediction_stage_timings";
const RUNS: &str = "kcg.detection_model_runs";
const OUTPUTS: &str = "kcg.detection_model_run_outputs";

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

/// A candidate against a PRIMARY in one cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct AgreementPoint {
    /// The cycle.
    pub cycle_ts: DateTime<Utc>,
    /// Model.
    pub model_id: String,
    /// The SHADOW's or CHALLENGER's version id.
    pub candidate_id: i64,
    /// The PRIMARY's version id.
    pub baseline_id: i64,
    /// Entities either scored non-zero.
    pub entities: i64,
    /// Fraction of them on the same side of 0.5.
    pub agreement: f64,
    /// Mean `|candidate - primary|` over them.
    pub mean_abs_diff: f64,
}

/// How many entity-cycles had this pair of (rounded) scores.
#[derive(Debug, Clone, PartialEq)]
pub struct ScorePair {
    /// Model.
    pub model_id: String,
    /// The SHADOW's or CHALLENGER's version id.
    pub candidate_id: i64,
    /// The PRIMARY's version id.
    pub baseline_id: i64,
    /// The PRIMARY's score, rounded to 0.01.
    pub baseline_score: f64,
    /// The candidate's score, rounded to 0.01.
    pub candidate_score: f64,
    /// Entity-cycles with these scores.
    pub count: i64,
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
    /// Agreement per cycle, by model, candidate, PRIMARY, cycle.
    pub agreement: Vec<AgreementPoint>,
    /// Score pairs, by model, candidate, PRIMARY, then most frequent.
    pub score_pairs: Vec<ScorePair>,
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

/// The compared pairs of one cycle, shared by both comparison queries.
const PAIRS_CTE: &str = "
WITH ok AS (
    SELECT cycle_ts, model_id, version_id, role
    FROM kcg.detection_model_runs
    WHERE cycle_ts >= $1 AND cycle_ts < $2 AND version_id IS NOT NULL AND status = 'OK'
),
pairs AS (
    SELECT c.cycle_ts, c.model_id, c.version_id AS candidate_id, p.version_id AS baseline_id
    FROM ok c
    JOIN ok p ON p.cycle_ts = c.cycle_ts AND p.model_id = c.model_id AND p.role = 'PRIMARY'
    WHERE c.role IN ('SHADOW', 'CHALLENGER')
),
entities AS (
    SELECT pr.cycle_ts, pr.model_id, pr.candidate_id, pr.baseline_id,
           coalesce(j.c_score, 0) AS candidate_score, coalesce(j.b_score, 0) AS baseline_score
    FROM pairs pr
    CROSS JOIN LATERAL (
        SELECT c.score AS c_score, b.score AS b_score
        FROM (SELECT entity_key, score FROM kcg.detection_model_run_outputs
               WHERE cycle_ts = pr.cycle_ts AND version_id = pr.candidate_id) c
        FULL JOIN (SELECT entity_key, score FROM kcg.detection_model_run_outputs
                    WHERE cycle_ts = pr.cycle_ts AND version_id = pr.baseline_id) b
               ON b.entity_key = c.entity_key
    ) j
    WHERE coalesce(j.c_score, 0) <> 0 OR coalesce(j.b_score, 0) <> 0
)";

fn agreement_sql() -> String {
    format!(
        "{PAIRS_CTE}
SELECT pr.cycle_ts, pr.model_id, pr.candidate_id, pr.baseline_id,
       count(e.cycle_ts) AS entities,
       CASE WHEN count(e.cycle_ts) = 0 THEN 1.0::float8
            ELSE (count(*) FILTER (WHERE (e.candidate_score >= 0.5) = (e.baseline_score >= 0.5)))::float8
                 / count(e.cycle_ts) END AS agreement,
       coalesce(avg(abs(e.candidate_score - e.baseline_score)), 0)::float8 AS mean_abs_diff
FROM pairs pr
LEFT JOIN entities e ON e.cycle_ts = pr.cycle_ts AND e.candidate_id = pr.candidate_id
                    AND e.baseline_id = pr.baseline_id
GROUP BY pr.cycle_ts, pr.model_id, pr.candidate_id, pr.baseline_id
ORDER BY pr.model_id, pr.candidate_id, pr.baseline_id, pr.cycle_ts"
    )
}

fn score_pairs_sql() -> String {
    format!(
        "{PAIRS_CTE},
rounded AS (
    SELECT model_id, candidate_id, baseline_id,
           round(baseline_score::numeric, 2)::float8 AS baseline_score,
           round(candidate_score::numeric, 2)::float8 AS candidate_score,
           count(*) AS n
    FROM entities
    GROUP BY 1, 2, 3, 4, 5
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY candidate_id, baseline_id
                                 ORDER BY n DESC, baseline_score, candidate_score) AS k
    FROM rounded
)
SELECT model_id, candidate_id, baseline_id, baseline_score, candidate_score, n
FROM ranked
WHERE k <= $3
ORDER BY model_id, candidate_id, baseline_id, n DESC, baseline_score, candidate_score"
    )
}

/// The series of `window`, one query per kind on `client` (pass the
/// report's `REPEATABLE READ` transaction for the same view).
pub async fn load(client: &impl GenericClient, window: &Window) -> Result<Series, SnapshotError> {
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

    let mut agreement = Vec::new();
    for r in &query::all(client, S, OUTPUTS, &agreement_sql(), &w).await? {
        let r = Cols::new(r, S, OUTPUTS);
        agreement.push(AgreementPoint {
            cycle_ts: r.get("cycle_ts")?,
            model_id: r.get("model_id")?,
            candidate_id: r.get("candidate_id")?,
            baseline_id: r.get("baseline_id")?,
            entities: r.get("entities")?,
            agreement: r.ratio("agreement")?.unwrap_or(1.0),
            mean_abs_diff: r.ratio("mean_abs_diff")?.unwrap_or(0.0),
        });
    }

    let mut score_pairs = Vec::new();
    let limit = SCORE_PAIR_LIMIT;
    for r in &query::all(
        client,
        S,
        OUTPUTS,
        &score_pairs_sql(),
        &[&window.start, &window.end, &limit],
    )
    .await?
    {
        let r = Cols::new(r, S, OUTPUTS);
        score_pairs.push(ScorePair {
            model_id: r.get("model_id")?,
            candidate_id: r.get("candidate_id")?,
            baseline_id: r.get("baseline_id")?,
            baseline_score: r.get("baseline_score")?,
            candidate_score: r.get("candidate_score")?,
            count: r.get("n")?,
        });
    }

    Ok(Series {
        score_bins,
        stages,
        runs,
        agreement,
        score_pairs,
    })
}
