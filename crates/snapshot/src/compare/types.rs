//! The comparison's types, serialized as documented in the module (roles
//! as their database strings).

use chrono::{DateTime, Utc};
use model_api::Role;
use serde::{Serialize, Serializer};

use crate::models::RunCounts;

// `serialize_with` hands over `&Role`.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn role<S: Serializer>(role: &Role, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(role.as_str())
}

/// A version as the comparison names it: its registry row today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionInfo {
    /// `detection_model_versions.id`.
    pub version_id: i64,
    /// The label.
    pub version: String,
    /// Its role today.
    #[serde(serialize_with = "role")]
    pub role: Role,
    /// Its status today (`DRAFT`, `ACTIVE`, `ARCHIVED`).
    pub status: String,
}

impl std::fmt::Display for VersionInfo {
    /// `CHALLENGER 2.0.0-one-hop (id 7)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} (id {})", self.role, self.version, self.version_id)
    }
}

/// The flags of the two versions at the threshold, over the population of
/// the compared cycles: a small confusion table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Flags {
    /// Entity-cycles both flag.
    pub both: i64,
    /// Entity-cycles only the baseline flags.
    pub only_baseline: i64,
    /// Entity-cycles only the candidate flags.
    pub only_candidate: i64,
    /// Entity-cycles of the population neither flags.
    pub neither: i64,
}

/// Rows the two versions stored on the compared cycles: what the storage
/// holds, not what the models returned. Under a sparse output policy
/// (model_api `OutputPolicy`, the run rows' `omitted_count`) these are
/// smaller while every other figure of the comparison stays the same, an
/// omitted row being a score of 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StoredRows {
    /// The baseline's rows.
    pub baseline: i64,
    /// The candidate's rows.
    pub candidate: i64,
    /// Entity-cycles both stored a row for.
    pub shared: i64,
}

/// An entity the two versions score differently.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Divergence {
    /// The entity (an MMSI for the reference models).
    pub entity_key: String,
    /// The cycle where the two scores are furthest apart (the latest such).
    pub cycle_ts: DateTime<Utc>,
    /// The baseline's score there (0 when it stored none).
    pub baseline_score: f64,
    /// The candidate's score there (0 when it stored none).
    pub candidate_score: f64,
    /// `|candidate - baseline|` there.
    pub abs_diff: f64,
    /// Compared cycles in which the two scores differ at all.
    pub diverging_cycles: i64,
}

/// A candidate version against a baseline (by default its model's ACTIVE
/// PRIMARY), over the cycles of a window where both ran `OK`; see the
/// module docs for every definition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The model both versions belong to.
    pub model_id: String,
    /// The version judged.
    pub candidate: VersionInfo,
    /// The version it is judged against.
    pub baseline: VersionInfo,
    /// A score at or above it is a flag.
    pub threshold: f64,
    /// Cycles of the window where both ran `OK`: the compared cycles.
    pub cycles: i64,
    /// The candidate's runs in the window, by status.
    pub candidate_runs: RunCounts,
    /// The baseline's runs in the window, by status.
    pub baseline_runs: RunCounts,
    /// Rows stored on the compared cycles.
    pub rows: StoredRows,
    /// Entity-cycles at least one of the two scored non-zero.
    pub entities: i64,
    /// Entity-cycles the model was shown on the compared cycles (estimated
    /// from the run records; never less than the rows stored).
    pub population: i64,
    /// Flags at the threshold.
    pub flags: Flags,
    /// Fraction of `entities` both put on the same side of the threshold;
    /// 1 when there is none (nothing to disagree on), null without compared
    /// cycles.
    pub agreement: Option<f64>,
    /// Mean `|candidate - baseline|` over `entities`; 0 when there is none,
    /// null without compared cycles.
    pub mean_abs_diff: Option<f64>,
    /// The most divergent entities, most divergent first.
    pub top_divergent: Vec<Divergence>,
}

impl Comparison {
    /// The confusion table's name for the baseline: `PRIMARY` when it is
    /// one, `baseline` otherwise.
    pub fn baseline_name(&self) -> &'static str {
        if self.baseline.role == Role::Primary {
            "PRIMARY"
        } else {
            "baseline"
        }
    }
}

/// A comparison's figures on one compared cycle ([`super::per_cycle`]):
/// over a window they sum to the [`Comparison`]'s.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CycleFigures {
    /// The cycle.
    pub cycle_ts: DateTime<Utc>,
    /// Entities of the cycle at least one of the two scored non-zero.
    pub entities: i64,
    /// Of them, flagged by the baseline only.
    pub only_baseline: i64,
    /// Of them, flagged by the candidate only.
    pub only_candidate: i64,
    /// Fraction of `entities` both put on the same side of the threshold
    /// (1 when there is none).
    pub agreement: f64,
    /// Mean `|candidate - baseline|` over `entities` (0 when there is none).
    pub mean_abs_diff: f64,
}

/// How many of a comparison's entity-cycles have this pair of scores,
/// rounded to 0.01 ([`super::score_pairs`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScorePair {
    /// The baseline's score, rounded.
    pub baseline_score: f64,
    /// The candidate's score, rounded.
    pub candidate_score: f64,
    /// Entity-cycles with these scores.
    pub count: i64,
}

/// How the cycles of a comparison were chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "basis", rename_all = "snake_case")]
pub enum WindowBasis {
    /// `--from` and `--to` as given.
    Given,
    /// The 24 hours up to now, where the candidate has runs.
    LastDay {
        /// The time taken as now.
        now: DateTime<Utc>,
    },
    /// The candidate has no run in the 24 hours up to now: the 24 hours up
    /// to its newest cycle instead.
    NewestCycle {
        /// The time taken as now.
        now: DateTime<Utc>,
    },
}

/// The cycles a comparison looks at: `from <= cycle_ts <= to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CycleWindow {
    /// The first cycle included.
    pub from: DateTime<Utc>,
    /// The last cycle included.
    pub to: DateTime<Utc>,
    /// Why these.
    #[serde(flatten)]
    pub basis: WindowBasis,
}

/// A comparison with the window it covers, as `runner versions compare`
/// prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareReport {
    /// The window.
    pub window: CycleWindow,
    /// The figures.
    #[serde(flatten)]
    pub comparison: Comparison,
}
