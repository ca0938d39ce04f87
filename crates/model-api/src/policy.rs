//! Which of a result's rows are stored: the output policy a model kind
//! declares ([`Model::OUTPUT`](crate::Model::OUTPUT)) and a version's
//! params may override under the reserved key [`OUTPUT_PARAM`].
//!
//! Every reader of stored outputs treats a row that an `OK` run did not
//! store as a score of 0, so a policy that omits only rows of score 0
//! ([`OutputPolicy::NonZeroOrPayload`], [`OutputPolicy::NonZero`]) changes
//! no figure of any comparison; it only saves the database the rows. The run record
//! keeps both counts: `output_count` (rows the model returned) and
//! `omitted_count` (of those, rows not stored).

use serde::{Deserialize, Serialize};

use crate::OutputRow;

/// The reserved key of a version's params that overrides its kind's
/// [`OutputPolicy`]: `"_output": "all"`, `"_output": "non_zero_or_payload"`,
/// `"_output": "non_zero"` or `"_output": {"at_least": 0.5}`. It is taken out of the params before
/// the model parses them, so a model's own params never see it.
pub const OUTPUT_PARAM: &str = "_output";

/// Which rows of a result are stored.
///
/// A row with a non-finite score (stored as `NULL`) is always kept: it
/// says the model produced something it could not score, which the cycle
/// report counts and an operator should see.
///
/// ```
/// use model_api::{OutputPolicy, OutputRow};
/// let zero = OutputRow::new("1", 0.0);
/// let flagged = OutputRow::new("2", 0.7);
/// let explained = OutputRow::new("3", 0.0).with_payload(serde_json::json!({"why": 1}));
/// assert!(OutputPolicy::All.keeps(&zero));
/// assert!(!OutputPolicy::NonZeroOrPayload.keeps(&zero));
/// assert!(OutputPolicy::NonZeroOrPayload.keeps(&explained));
/// assert!(!OutputPolicy::NonZero.keeps(&explained));
/// assert!(OutputPolicy::NonZero.keeps(&flagged));
/// assert!(!OutputPolicy::AtLeast(0.8).keeps(&flagged));
/// assert!(OutputPolicy::AtLeast(0.5).keeps(&flagged));
/// let p: OutputPolicy = serde_json::from_value(serde_json::json!({"at_least": 0.5})).unwrap();
/// assert_eq!(p, OutputPolicy::AtLeast(0.5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
///
/// New policies may be added in a minor version (`#[non_exhaustive]`).
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum OutputPolicy {
    /// Every row (the default of a kind that declares nothing).
    #[default]
    All,
    /// Rows whose score is not 0, or that carry a payload. Lossless for
    /// every reader: an omitted row is read as the score 0 it had.
    NonZeroOrPayload,
    /// Rows whose score is not 0, payload or not. Lossless for every
    /// comparison (an omitted row is read as the score 0 it had); the
    /// payloads of zero-score rows are not kept. For kinds whose every row
    /// carries a payload but most score 0 (`track_features`: a moored
    /// vessel's fix counts, which `kcg.vessel_analysis` keeps anyway).
    NonZero,
    /// Rows whose score is at or above the threshold (finite, above 0).
    /// Lossy: a comparison reads an omitted row's score as 0, so figures
    /// that look below the threshold (mean difference, divergent entities)
    /// change; flags at or above the threshold do not.
    AtLeast(f64),
}

impl OutputPolicy {
    /// Whether `row` is stored under this policy.
    pub fn keeps(&self, row: &OutputRow) -> bool {
        if !row.score.is_finite() {
            return true;
        }
        match *self {
            OutputPolicy::All => true,
            OutputPolicy::NonZeroOrPayload => row.score != 0.0 || row.payload.is_some(),
            OutputPolicy::NonZero => row.score != 0.0,
            OutputPolicy::AtLeast(threshold) => row.score >= threshold,
        }
    }

    /// Whether a row of score `score` that carries a payload is stored. A
    /// model may skip building the payload of a row for which this is
    /// false ([`Context::output_policy`](crate::Context::output_policy)):
    /// the row is left out with or without it.
    ///
    /// ```
    /// use model_api::OutputPolicy;
    /// assert!(OutputPolicy::NonZeroOrPayload.keeps_score(0.0));
    /// assert!(!OutputPolicy::NonZero.keeps_score(0.0));
    /// assert!(OutputPolicy::NonZero.keeps_score(f64::NAN));
    /// assert!(!OutputPolicy::AtLeast(0.5).keeps_score(0.4));
    /// ```
    pub fn keeps_score(&self, score: f64) -> bool {
        if !score.is_finite() {
            return true;
        }
        match *self {
            OutputPolicy::All | OutputPolicy::NonZeroOrPayload => true,
            OutputPolicy::NonZero => score != 0.0,
            OutputPolicy::AtLeast(threshold) => score >= threshold,
        }
    }

    /// Why this policy cannot be used, if it cannot.
    pub(crate) fn problem(&self) -> Option<String> {
        match *self {
            OutputPolicy::AtLeast(t) if !(t.is_finite() && t > 0.0) => {
                Some(format!("at_least must be a finite number above 0, got {t}"))
            }
            _ => None,
        }
    }
}
