//! One version against another over stored cycles: the one comparison of
//! the workspace, used by the snapshot's models section (every SHADOW and
//! CHALLENGER against its PRIMARY), by `runner versions compare` and by the
//! promotion gate ([`Gate`]).
//!
//! # Definitions
//!
//! - The *compared cycles* are the cycles of the window where both the
//!   candidate and the baseline (by default its model's ACTIVE PRIMARY)
//!   have an `OK` run, live or backtest (V051 `origin`).
//! - On those cycles an *entity-cycle* is an `(entity_key, cycle_ts)` pair
//!   of either version. A version that stored no row for it scored it 0,
//!   and so did one whose stored score is `NULL` (the executor stores a
//!   non-finite score as `NULL`). So a zero-score row and a missing row
//!   are the same thing everywhere below, which is also what lets a later
//!   version of a model stop storing zero-score rows without changing any
//!   figure.
//! - The *entities* compared are the entity-cycles at least one version
//!   scored non-zero (an entity both score 0 says nothing about their
//!   difference, and whether it has a row depends on the model).
//! - *Flags* are scores `>= threshold` (0.5 by default; a threshold must be
//!   above 0, so an unscored entity is never a flag). The confusion table
//!   has `both`, `only_baseline`, `only_candidate` and `neither`; it spans
//!   the *population*, the entity-cycles the model was shown. The run
//!   records carry no such count, so it is estimated per cycle as the
//!   larger of the two versions' stored rows together and the largest
//!   `output_count` of that cycle's `OK` runs of either version or of a
//!   PRIMARY upstream of the model (transitively, by today's edges): the
//!   reference models key every row by MMSI and `track_features` stores
//!   one row per vessel analysed, so for them the population is the
//!   vessels of the cycle. `neither` is the population minus the other
//!   three cells.
//! - *Agreement* is the fraction of the entities both put on the same side
//!   of the threshold (1 when there is no entity: nothing to disagree on);
//!   *mean absolute difference* is the mean `|candidate - baseline|` over
//!   the entities (0 then). Both are null without compared cycles.
//! - The *top divergent entities* are the entities whose two scores differ,
//!   by their largest difference (ties by entity key), each with both scores
//!   at the cycle of that difference and the number of compared cycles in
//!   which they differ.
//!
//! [`per_cycle`] gives the same figures one compared cycle at a time and
//! [`score_pairs`] the entities' two scores (the HTML report's plots): all
//! three queries start from the same SQL, so no plot can define an entity,
//! a missing score or a flag differently from the figures.
//!
//! Numbers are rounded to 6 significant digits (in JSON) and printed with 4
//! (in text), so 0.0001 never looks like 0.
//!
//! # Windows
//!
//! [`compare`] takes the half-open `[start, end)` of a snapshot;
//! [`compare_window`] an inclusive [`CycleWindow`], `from <= cycle_ts <=
//! to`. [`default_window`] is the 24 hours up to now when the candidate has
//! runs in them, else the 24 hours up to its newest cycle (stored history,
//! a backtest), and says which.
//!
//! # JSON (`runner versions compare --format json`)
//!
//! `window {from, to, basis}` (`basis` is `given`, `last_day` or
//! `newest_cycle`, the last two with `now`), then the [`Comparison`]'s
//! fields: `model_id`, `candidate` and
//! `baseline` (`{version_id, version, role, status}`), `threshold`,
//! `cycles`, `candidate_runs` and `baseline_runs` (`{total, ok, failed,
//! timeout, skipped, backtest}`), `rows {baseline, candidate, shared}`,
//! `entities`, `population`, `flags {both, only_baseline, only_candidate,
//! neither}`, `agreement`, `mean_abs_diff`, `top_divergent [{entity_key,
//! cycle_ts, baseline_score, candidate_score, abs_diff, diverging_cycles}]`.
//! The snapshot's `models.comparisons` entries are the same objects.

mod gate;
pub(crate) mod render;
mod sql;
mod types;

use chrono::{DateTime, TimeDelta, Utc};
use tokio_postgres::GenericClient;

pub use gate::{Gate, GateCheck, GateReport};
pub use types::{
    CompareReport, Comparison, CycleFigures, CycleWindow, Divergence, Flags, ScorePair, StoredRows,
    VersionInfo, WindowBasis,
};

use crate::SnapshotError;
use crate::models::RunCounts;
use crate::query::{self, Cols};

const S: &str = "compare";
const VERSIONS: &str = "kcg.detection_model_versions";
const RUNS: &str = "kcg.detection_model_runs";
const OUTPUTS: &str = "kcg.detection_model_run_outputs";

/// Flags are scores at or above this by default.
pub const DEFAULT_THRESHOLD: f64 = 0.5;

/// How many divergent entities a comparison lists by default.
pub const DEFAULT_TOP: i64 = 10;

/// Significant digits of the numbers a comparison carries.
const SIGNIFICANT: i32 = 6;

/// What to compare.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    /// The candidate's version id.
    pub candidate: i64,
    /// The baseline's version id; `None` for the ACTIVE PRIMARY of the
    /// candidate's model.
    pub baseline: Option<i64>,
    /// A score at or above it is a flag; finite and above 0.
    pub threshold: f64,
    /// How many divergent entities to list.
    pub top: i64,
}

impl Request {
    /// `candidate` against its model's ACTIVE PRIMARY at the default
    /// threshold, listing the default number of divergent entities.
    pub fn new(candidate: i64) -> Request {
        Request {
            candidate,
            baseline: None,
            threshold: DEFAULT_THRESHOLD,
            top: DEFAULT_TOP,
        }
    }
}

/// Compares over the cycles `start <= cycle_ts < end`. Read-only.
///
/// Refused when a version does not exist, the two are one version or of
/// different models, there is no baseline (no ACTIVE PRIMARY, or the
/// candidate is it), or the threshold is not above 0.
pub async fn compare(
    client: &impl GenericClient,
    request: &Request,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Comparison, SnapshotError> {
    if !(request.threshold.is_finite() && request.threshold > 0.0) {
        return Err(SnapshotError::BadThreshold {
            threshold: request.threshold,
        });
    }
    let (model_id, candidate) = version(client, request.candidate).await?;
    let baseline = match request.baseline {
        Some(id) => {
            let (model, baseline) = version(client, id).await?;
            if model != model_id {
                return Err(SnapshotError::DifferentModels {
                    candidate: request.candidate,
                    candidate_model: model_id,
                    baseline: id,
                    baseline_model: model,
                });
            }
            baseline
        }
        None => {
            let row = query::all(client, S, VERSIONS, sql::ACTIVE_PRIMARY, &[&model_id]).await?;
            match row.first() {
                Some(r) => version_info(Cols::new(r, S, VERSIONS))?.1,
                None => {
                    return Err(SnapshotError::NoBaseline {
                        candidate: request.candidate,
                        why: format!(
                            "model {model_id} has no ACTIVE PRIMARY; name one with --against"
                        ),
                    });
                }
            }
        }
    };
    if baseline.version_id == candidate.version_id {
        return Err(SnapshotError::NoBaseline {
            candidate: request.candidate,
            why: if request.baseline.is_some() {
                "it would be compared with itself".to_owned()
            } else {
                format!(
                    "it is the ACTIVE PRIMARY of model {model_id}; name the version to compare it with (--against)"
                )
            },
        });
    }

    let ids = [candidate.version_id, baseline.version_id];
    let mut runs = [RunCounts::default(), RunCounts::default()];
    for r in &query::all(
        client,
        S,
        RUNS,
        sql::RUNS,
        &[&ids[0], &ids[1], &start, &end],
    )
    .await?
    {
        let c = Cols::new(r, S, RUNS);
        let id: i64 = c.get("version_id")?;
        if let Some(slot) = ids.iter().position(|&v| v == id) {
            runs[slot] = crate::models::run_counts(c)?;
        }
    }
    let [candidate_runs, baseline_runs] = runs;

    let rows = query::all(
        client,
        S,
        OUTPUTS,
        sql::COMPARE,
        &[
            &ids[0],
            &ids[1],
            &model_id,
            &start,
            &end,
            &request.threshold,
            &request.top.max(0),
        ],
    )
    .await?;
    // The figures come on every row, and there is always one.
    let f = rows
        .first()
        .map(|r| Cols::new(r, S, OUTPUTS))
        .ok_or(SnapshotError::NoRow {
            section: S,
            table: OUTPUTS,
        })?;
    let cycles: i64 = f.get("cycles")?;
    let entities: i64 = f.get("entities")?;
    let flags = {
        let both: i64 = f.get("both_flag")?;
        let only_baseline: i64 = f.get("only_baseline")?;
        let only_candidate: i64 = f.get("only_candidate")?;
        let population: i64 = f.get("population")?;
        Flags {
            both,
            only_baseline,
            only_candidate,
            neither: (population - both - only_baseline - only_candidate).max(0),
        }
    };
    let abs_diff: f64 = f.get("abs_diff")?;
    let (agreement, mean_abs_diff) = if cycles == 0 {
        (None, None)
    } else {
        let (a, d) = agreement(
            entities,
            flags.only_baseline + flags.only_candidate,
            abs_diff,
        );
        (Some(a), Some(d))
    };
    let mut top_divergent = Vec::new();
    for r in &rows {
        let c = Cols::new(r, S, OUTPUTS);
        let Some(entity_key) = c.get::<Option<String>>("top_entity")? else {
            continue;
        };
        top_divergent.push(Divergence {
            entity_key,
            cycle_ts: c.get("top_cycle_ts")?,
            baseline_score: sig(c.get("top_baseline")?),
            candidate_score: sig(c.get("top_candidate")?),
            abs_diff: sig(c.get("top_diff")?),
            diverging_cycles: c.get("top_cycles")?,
        });
    }
    Ok(Comparison {
        model_id,
        candidate,
        baseline,
        threshold: request.threshold,
        cycles,
        candidate_runs,
        baseline_runs,
        rows: StoredRows {
            baseline: f.get("baseline_rows")?,
            candidate: f.get("candidate_rows")?,
            shared: f.get("shared_rows")?,
        },
        entities,
        population: f.get("population")?,
        flags,
        agreement,
        mean_abs_diff,
        top_divergent,
    })
}

/// `c`'s figures (the same versions, model and threshold) on each of its
/// compared cycles with `start <= cycle_ts < end`, oldest first. Over the
/// window of `c` they sum to its `entities`, flags and mean absolute
/// difference. Read-only.
pub async fn per_cycle(
    client: &impl GenericClient,
    c: &Comparison,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<CycleFigures>, SnapshotError> {
    let rows = query::all(
        client,
        S,
        OUTPUTS,
        sql::PER_CYCLE,
        &[
            &c.candidate.version_id,
            &c.baseline.version_id,
            &c.model_id,
            &start,
            &end,
            &c.threshold,
        ],
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let r = Cols::new(r, S, OUTPUTS);
        let entities: i64 = r.get("entities")?;
        let only_baseline: i64 = r.get("only_baseline")?;
        let only_candidate: i64 = r.get("only_candidate")?;
        let (agreement, mean_abs_diff) =
            agreement(entities, only_baseline + only_candidate, r.get("abs_diff")?);
        out.push(CycleFigures {
            cycle_ts: r.get("cycle_ts")?,
            entities,
            only_baseline,
            only_candidate,
            agreement,
            mean_abs_diff,
        });
    }
    Ok(out)
}

/// `c`'s entities on its compared cycles with `start <= cycle_ts < end` as
/// `(baseline, candidate)` score pairs rounded to 0.01, with how many
/// entity-cycles share each, at most `limit`, the most frequent first.
/// Read-only.
pub async fn score_pairs(
    client: &impl GenericClient,
    c: &Comparison,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ScorePair>, SnapshotError> {
    let rows = query::all(
        client,
        S,
        OUTPUTS,
        sql::SCORE_PAIRS,
        &[
            &c.candidate.version_id,
            &c.baseline.version_id,
            &c.model_id,
            &start,
            &end,
            &c.threshold,
            &limit.max(0),
        ],
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let r = Cols::new(r, S, OUTPUTS);
        out.push(ScorePair {
            baseline_score: r.get("baseline_score")?,
            candidate_score: r.get("candidate_score")?,
            count: r.get("n")?,
        });
    }
    Ok(out)
}

/// Agreement and mean absolute difference over `entities` of which
/// `disagreeing` are on different sides of the threshold and whose
/// differences sum to `abs_diff`: 1 and 0 when there is no entity.
fn agreement(entities: i64, disagreeing: i64, abs_diff: f64) -> (f64, f64) {
    if entities == 0 {
        return (1.0, 0.0);
    }
    let n = entities as f64;
    (sig((entities - disagreeing) as f64 / n), sig(abs_diff / n))
}

/// Compares over the cycles of `window` (both ends included).
pub async fn compare_window(
    client: &impl GenericClient,
    request: &Request,
    window: CycleWindow,
) -> Result<CompareReport, SnapshotError> {
    // Timestamps have microseconds: the next one after `to` ends the
    // half-open range.
    let end = window
        .to
        .checked_add_signed(TimeDelta::microseconds(1))
        .ok_or(SnapshotError::TimeOutOfRange { at: window.to })?;
    let comparison = compare(client, request, window.from, end).await?;
    Ok(CompareReport { window, comparison })
}

/// The cycles a comparison of `candidate` looks at when none are given:
/// the 24 hours up to `now` if the candidate has a run in them, otherwise
/// the 24 hours up to its newest cycle (both ends included); the 24 hours
/// up to `now` when it has no run at all.
pub async fn default_window(
    client: &impl GenericClient,
    candidate: i64,
    now: DateTime<Utc>,
) -> Result<CycleWindow, SnapshotError> {
    let day = TimeDelta::hours(24);
    let out = SnapshotError::TimeOutOfRange { at: now };
    let row = query::one(client, S, RUNS, sql::NEWEST_CYCLE, &[&candidate, &now]).await?;
    let c = Cols::new(&row, S, RUNS);
    let newest: Option<DateTime<Utc>> = c.get("newest")?;
    let recent: bool = c.get("recent")?;
    let (to, basis) = match newest {
        Some(newest) if !recent => (newest, WindowBasis::NewestCycle { now }),
        _ => (now, WindowBasis::LastDay { now }),
    };
    Ok(CycleWindow {
        from: to.checked_sub_signed(day).ok_or(out)?,
        to,
        basis,
    })
}

/// Version `id`: its model and how comparisons name it.
async fn version(
    client: &impl GenericClient,
    id: i64,
) -> Result<(String, VersionInfo), SnapshotError> {
    let rows = query::all(client, S, VERSIONS, sql::VERSION, &[&id]).await?;
    let row = rows.first().ok_or(SnapshotError::UnknownVersion { id })?;
    version_info(Cols::new(row, S, VERSIONS))
}

fn version_info(c: Cols<'_>) -> Result<(String, VersionInfo), SnapshotError> {
    Ok((
        c.get("model_id")?,
        VersionInfo {
            version_id: c.get("id")?,
            version: c.get("version")?,
            role: c.role("role")?,
            status: c.get("status")?,
        },
    ))
}

/// `v` rounded to the comparison's significant digits.
fn sig(v: f64) -> f64 {
    query::round_significant(v, SIGNIFICANT)
}
