//! A failed stage, and the one function that renders an error chain as
//! text for the database.
//!
//! Why a function here and not a reporter crate: the chain is rendered in
//! exactly two places, and they agree on the format (`outer: cause: root
//! cause`, each once). The runner, a binary, prints its errors with
//! anyhow's `{:#}`; library crates do not depend on anyhow, so the text the
//! pipeline stores in `kcg.prediction_stage_timings.detail` is rendered by
//! [`error_chain`]. Neither de-duplicates anything: every error type of the
//! workspace describes its own layer only and hands its cause on through
//! `source()`, so each cause is printed once by construction.

use std::error::Error;
use std::sync::Arc;

use crate::{PipelineError, Stage};

/// `e` and every cause under it, joined by `": "` (the format of anyhow's
/// `{:#}`).
///
/// ```
/// let io = std::io::Error::other("disk full");
/// #[derive(Debug, thiserror::Error)]
/// #[error("writing the report")]
/// struct Write(#[source] std::io::Error);
/// assert_eq!(pipeline::error_chain(&Write(io)), "writing the report: disk full");
/// ```
pub fn error_chain(e: &(dyn Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The stage that ended a cycle, and why. Cheap to clone (the error is
/// shared).
#[derive(Debug, Clone)]
pub struct StageFailure {
    /// The stage.
    pub stage: Stage,
    /// Its error; [`StageFailure::detail`] renders the chain.
    pub error: Arc<PipelineError>,
}

impl StageFailure {
    pub(crate) fn new(stage: Stage, error: PipelineError) -> Self {
        Self {
            stage,
            error: Arc::new(error),
        }
    }

    /// The error and its causes on one line, as stored in
    /// `kcg.prediction_stage_timings.detail`.
    pub fn detail(&self) -> String {
        error_chain(&*self.error)
    }
}
