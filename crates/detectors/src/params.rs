//! Parsing a version's params JSON into a model's typed params, with errors
//! that name the field.

use std::sync::Arc;

use model_api::{Model, ModelId, ModelInstance, ParamsError, instantiate};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Typed params of one of our models: parsed with `deny_unknown_fields`,
/// defaulting to the legacy thresholds, and checked for values that parse
/// but make no sense (a negative distance, a ramp that ends before it starts).
pub(crate) trait ModelParams: DeserializeOwned + Serialize + Default {
    /// What is wrong with these values, naming the field(s).
    fn check(&self) -> Result<(), String>;
}

/// `value` must be finite and strictly positive.
pub(crate) fn positive(name: &str, value: f64) -> Result<(), String> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(format!("{name} must be a positive number, got {value}"))
    }
}

/// `value` must lie in `0..=1`.
pub(crate) fn weight(name: &str, value: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(format!("{name} must lie between 0 and 1, got {value}"))
    }
}

fn params_error(model: &ModelId, message: String) -> ParamsError {
    ParamsError {
        model: model.clone(),
        message,
    }
}

/// serde names unknown and missing fields, but not the field whose value has
/// the wrong type ("invalid type: string, expected f64"). Try each given field
/// alone on top of the defaults to find the first one that fails.
fn blame_field<P: ModelParams>(given: &serde_json::Map<String, Value>) -> Option<String> {
    let Ok(Value::Object(defaults)) = serde_json::to_value(P::default()) else {
        return None;
    };
    given.iter().find_map(|(key, value)| {
        let mut probe = defaults.clone();
        probe.insert(key.clone(), value.clone());
        P::deserialize(&Value::Object(probe))
            .err()
            .map(|e| format!("field `{key}`: {e}"))
    })
}

/// Parses and checks params for `model`.
pub(crate) fn parse<P: ModelParams>(model: &ModelId, value: &Value) -> Result<P, ParamsError> {
    let Value::Object(given) = value else {
        return Err(params_error(
            model,
            format!("params must be a JSON object, got {value}"),
        ));
    };
    let params = P::deserialize(value).map_err(|e| {
        let message = e.to_string();
        let named = message.starts_with("missing field") || message.starts_with("unknown field");
        let message = if named {
            message
        } else {
            blame_field::<P>(given).unwrap_or(message)
        };
        params_error(model, message)
    })?;
    params.check().map_err(|m| params_error(model, m))?;
    Ok(params)
}

/// The constructor shape the catalog hands out: parse and check the params,
/// then bind them through [`model_api::instantiate`].
pub(crate) fn construct<M>(
    id: ModelId,
    value: &Value,
) -> Result<Arc<dyn ModelInstance>, ParamsError>
where
    M: Model + Default,
    M::Params: ModelParams,
{
    parse::<M::Params>(&id, value)?;
    instantiate(M::default(), id, value)
}
