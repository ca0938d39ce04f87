//! The model trait and how a version becomes a runnable instance.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize as _;
use serde::de::DeserializeOwned;

use crate::{Context, CycleTs, ModelId, ModelOutput, Upstream};

/// Why a model run produced no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// No upstream result under this input key.
    #[error("no upstream input under key {key:?}")]
    MissingInput {
        /// The input key the model asked for.
        key: String,
    },
    /// The upstream result under this key carries no artifact of the type
    /// the model expected.
    #[error("upstream input {key:?} is not a {expected}")]
    InputType {
        /// The input key.
        key: String,
        /// The Rust type the model asked for.
        expected: &'static str,
    },
    /// The cycle's base input is not of the type the model expected.
    #[error("the cycle's base input is not a {expected}")]
    BaseInput {
        /// The Rust type the model asked for.
        expected: &'static str,
    },
    /// The computation itself failed.
    #[error("{0}")]
    Failed(String),
}

impl ModelError {
    /// A computation failure with a message.
    pub fn failed(message: impl Into<String>) -> Self {
        ModelError::Failed(message.into())
    }
}

/// A version's params JSON could not be turned into the kind's typed params.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad params for model {model}: {message}")]
pub struct ParamsError {
    /// The model whose params were refused.
    pub model: ModelId,
    /// What was wrong, naming the unknown or missing field.
    pub message: String,
}

/// A kind of detection model: a pure computation over a [`Context`].
///
/// Implementations must not do I/O, must not keep state between runs, and
/// should be deterministic functions of their context: SHADOW comparison and
/// reruns of a cycle rely on it.
pub trait Model: Send + Sync + 'static {
    /// The typed params a version carries. Declare it with
    /// `#[serde(deny_unknown_fields)]` so a misspelt threshold is refused.
    type Params: DeserializeOwned + Send + Sync + 'static;

    /// Computes this model's result for one cycle.
    fn run(&self, ctx: &Context<'_, Self::Params>) -> Result<ModelOutput, ModelError>;
}

/// A model kind bound to one version's id and parsed params, ready to run.
/// The executor only sees this erased form.
pub trait ModelInstance: Send + Sync {
    /// The model's id.
    fn id(&self) -> &ModelId;

    /// Runs once on the cycle's inputs.
    fn run(
        &self,
        cycle_ts: CycleTs,
        base: &(dyn Any + Send + Sync),
        upstream: &Upstream,
    ) -> Result<ModelOutput, ModelError>;
}

impl fmt::Debug for dyn ModelInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModelInstance({})", self.id())
    }
}

struct Bound<M: Model> {
    id: ModelId,
    kind: M,
    params: M::Params,
}

impl<M: Model> ModelInstance for Bound<M> {
    fn id(&self) -> &ModelId {
        &self.id
    }

    fn run(
        &self,
        cycle_ts: CycleTs,
        base: &(dyn Any + Send + Sync),
        upstream: &Upstream,
    ) -> Result<ModelOutput, ModelError> {
        self.kind
            .run(&Context::new(cycle_ts, &self.params, base, upstream))
    }
}

/// The message of a panic's payload (what `catch_unwind` returns): the
/// text of `panic!("...")` with or without arguments, or a fixed text for a
/// payload that is not a string. The executor and the registry use it to
/// turn a panicking model or constructor into a reason.
///
/// ```
/// let payload = std::panic::catch_unwind(|| panic!("boom at {}", 42)).unwrap_err();
/// assert_eq!(model_api::panic_message(payload.as_ref()), "boom at 42");
/// ```
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a payload that is not a string".to_owned()
    }
}

/// Builds a runnable instance of `kind` from a version's params JSON.
///
/// The JSON is parsed into `M::Params`; an unknown field, a missing field or
/// a value of the wrong type is refused with a [`ParamsError`] that names it.
pub fn instantiate<M: Model>(
    kind: M,
    id: ModelId,
    params: &serde_json::Value,
) -> Result<Arc<dyn ModelInstance>, ParamsError> {
    match M::Params::deserialize(params) {
        Ok(params) => Ok(Arc::new(Bound { id, kind, params })),
        Err(e) => Err(ParamsError {
            model: id,
            message: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    struct Echo;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct EchoParams {
        factor: f64,
    }

    impl Model for Echo {
        type Params = EchoParams;
        fn run(&self, ctx: &Context<'_, EchoParams>) -> Result<ModelOutput, ModelError> {
            let base: &f64 = ctx.base()?;
            let mut out = ModelOutput::new();
            out.push(crate::OutputRow::new("x", base * ctx.params().factor));
            Ok(out)
        }
    }

    fn id() -> ModelId {
        ModelId::new("echo").unwrap()
    }

    #[test]
    fn params_errors_name_the_field() {
        let missing = instantiate(Echo, id(), &serde_json::json!({})).unwrap_err();
        assert!(missing.message.contains("factor"), "{missing}");
        let unknown =
            instantiate(Echo, id(), &serde_json::json!({"factor": 1.0, "fact0r": 2})).unwrap_err();
        assert!(unknown.message.contains("fact0r"), "{unknown}");
        let wrong = instantiate(Echo, id(), &serde_json::json!({"factor": "big"})).unwrap_err();
        assert!(wrong.to_string().contains("echo"), "{wrong}");
    }

    #[test]
    fn runs_on_typed_base_input_and_refuses_the_wrong_type() {
        let m = instantiate(Echo, id(), &serde_json::json!({"factor": 2.0})).unwrap();
        let out = m
            .run(chrono::Utc::now(), &21.0_f64, &Upstream::new())
            .unwrap();
        assert_eq!(out.rows()[0].score, 42.0);
        let err = m
            .run(chrono::Utc::now(), &"text", &Upstream::new())
            .unwrap_err();
        assert!(matches!(err, ModelError::BaseInput { .. }));
    }
}
