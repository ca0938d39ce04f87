//! The typed params of our models: their defaults (the legacy thresholds)
//! and their rules, in model-api's words ([`ParamsProblem`]).

use model_api::ParamsProblem;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Typed params of one of our models: parsed with `deny_unknown_fields`,
/// defaulting to the legacy thresholds, and checked for values that parse
/// but make no sense (a negative distance, a ramp that ends before it starts).
pub(crate) trait ModelParams: DeserializeOwned + Serialize + Default {
    /// What is wrong with these values, naming the field.
    fn check(&self) -> Result<(), ParamsProblem>;
}

/// `value` must be finite and strictly positive.
pub(crate) fn positive(name: &str, value: f64) -> Result<(), ParamsProblem> {
    ParamsProblem::positive(name, value)
}

/// `value` must lie in `0..=1`.
pub(crate) fn weight(name: &str, value: f64) -> Result<(), ParamsProblem> {
    ParamsProblem::fraction(name, value)
}
