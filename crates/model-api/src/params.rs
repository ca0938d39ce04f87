//! A version's params: parsed into the model's typed struct, then checked by
//! the model's own rules, every refusal naming the field.

use std::fmt;

use serde::de::DeserializeOwned;

use crate::ModelId;

/// A version's params JSON could not be turned into the kind's typed params,
/// or its values break the kind's rules.
///
/// `field` is the path of the offending value (`speed_full_kn`,
/// `bands[2].limit`) when one value is to blame: a value of the wrong type
/// or one that [`Model::check`](crate::Model::check) refuses. An unknown or
/// missing field is named in `message` (serde's own words).
///
/// ```
/// use model_api::{ModelId, ParamsError};
/// let e = ParamsError {
///     model: ModelId::new("spoofing_score")?,
///     field: Some("speed_weight".into()),
///     message: "must lie between 0 and 1, got 1.5".into(),
/// };
/// assert_eq!(
///     e.to_string(),
///     "bad params for model spoofing_score: field `speed_weight`: must lie between 0 and 1, got 1.5"
/// );
/// # Ok::<(), model_api::IdError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad params for model {model}: {}{message}", field_prefix(.field))]
pub struct ParamsError {
    /// The model whose params were refused.
    pub model: ModelId,
    /// The path of the value to blame, when there is one.
    pub field: Option<String>,
    /// What was wrong.
    pub message: String,
}

fn field_prefix(field: &Option<String>) -> String {
    field
        .as_deref()
        .map_or_else(String::new, |f| format!("field `{f}`: "))
}

/// What [`Model::check`](crate::Model::check) found wrong with values that
/// parse: the field to blame and why. Build one with [`ParamsProblem::new`]
/// or the rules of this type ([`positive`](Self::positive),
/// [`fraction`](Self::fraction)), so every model words them alike.
///
/// ```
/// use model_api::ParamsProblem;
/// assert!(ParamsProblem::positive("teleport_km", 50.0).is_ok());
/// let p = ParamsProblem::positive("teleport_km", -1.0).unwrap_err();
/// assert_eq!((p.field(), p.message()), ("teleport_km", "must be a positive number, got -1"));
/// assert!(ParamsProblem::fraction("weight", 1.5).is_err());
/// assert!(ParamsProblem::fraction("weight", f64::NAN).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamsProblem {
    field: String,
    message: String,
}

impl ParamsProblem {
    /// `field` is wrong because of `message` (e.g. `must be at least 1`).
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// `value` must be finite and strictly positive.
    pub fn positive(field: &str, value: f64) -> Result<(), ParamsProblem> {
        if value.is_finite() && value > 0.0 {
            Ok(())
        } else {
            Err(Self::new(
                field,
                format!("must be a positive number, got {value}"),
            ))
        }
    }

    /// `value` must lie in `0..=1` (a weight, a probability, a share).
    pub fn fraction(field: &str, value: f64) -> Result<(), ParamsProblem> {
        if (0.0..=1.0).contains(&value) {
            Ok(())
        } else {
            Err(Self::new(
                field,
                format!("must lie between 0 and 1, got {value}"),
            ))
        }
    }

    /// The field to blame.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// Why.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ParamsProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}`: {}", self.field, self.message)
    }
}

/// Parses `value` into `P` for `model`: a JSON object is required, and a
/// failure names the path of the value to blame (serde names unknown and
/// missing fields itself; `serde_path_to_error` adds the path of a value of
/// the wrong type, which serde's message lacks).
pub(crate) fn parse<P: DeserializeOwned>(
    model: &ModelId,
    value: &serde_json::Value,
) -> Result<P, ParamsError> {
    let refuse = |field: Option<String>, message: String| ParamsError {
        model: model.clone(),
        field,
        message,
    };
    if !value.is_object() {
        return Err(refuse(
            None,
            format!("params must be a JSON object, got {value}"),
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = (!path.is_empty() && path != ".").then_some(path);
        refuse(field, e.into_inner().to_string())
    })
}

impl ParamsProblem {
    pub(crate) fn into_error(self, model: &ModelId) -> ParamsError {
        ParamsError {
            model: model.clone(),
            field: Some(self.field),
            message: self.message,
        }
    }
}
