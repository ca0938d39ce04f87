//! The model trait and how a version becomes a runnable instance.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::params::parse;
use crate::{
    Context, CycleTs, DeclaredInput, ModelId, ModelOutput, OUTPUT_PARAM, Output, OutputPolicy,
    ParamsError, ParamsProblem, Upstream,
};

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
    #[error("upstream input {key:?} is not a {expected} (it carries {})", found.unwrap_or("no artifact"))]
    InputType {
        /// The input key.
        key: String,
        /// The Rust type the model asked for.
        expected: &'static str,
        /// The type the upstream result carries, if any.
        found: Option<&'static str>,
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

/// A kind of detection model: a pure computation over a [`Context`].
///
/// Implementations must not do I/O, must not keep state between runs, and
/// should be deterministic functions of their context: SHADOW comparison and
/// reruns of a cycle rely on it.
///
/// A model declares what it produces ([`Artifact`](Self::Artifact)) and
/// what it reads ([`INPUTS`](Self::INPUTS)); the registry compares the two
/// across every dependency edge before a cycle runs, so a model whose
/// upstream produces the wrong type is left out with both types named
/// instead of failing at run time.
pub trait Model: Send + Sync + 'static {
    /// The typed params a version carries. Declare it with
    /// `#[serde(deny_unknown_fields)]` so a misspelt threshold is refused.
    type Params: DeserializeOwned + Send + Sync + 'static;

    /// What downstream models read from this model's result (`()` for
    /// none). [`run`](Self::run) returns it typed, so the declaration
    /// cannot lie.
    type Artifact: Any + Send + Sync;

    /// The inputs this model reads, each an input key and the artifact
    /// type expected under it (build them with
    /// [`Input::declare`](crate::Input::declare)). The registry leaves the
    /// model out when a declared key has no upstream or its upstream's
    /// PRIMARY produces another type. Default: none (a root model).
    const INPUTS: &'static [DeclaredInput] = &[];

    /// Which of this kind's rows are stored (default: all of them). A
    /// version overrides it with the reserved params key
    /// [`OUTPUT_PARAM`](crate::OUTPUT_PARAM). Declare
    /// [`OutputPolicy::NonZeroOrPayload`] when most rows score 0 and say
    /// nothing: readers take an omitted row as score 0.
    const OUTPUT: OutputPolicy = OutputPolicy::All;

    /// The model's rules for values that parse but make no sense (a
    /// negative distance, a ramp that ends before it starts), run by
    /// [`instantiate`] after parsing. Name the field with
    /// [`ParamsProblem`]. Default: every value that parses is accepted.
    fn check(&self, params: &Self::Params) -> Result<(), ParamsProblem> {
        let _ = params;
        Ok(())
    }

    /// Computes this model's result for one cycle.
    fn run(&self, ctx: &Context<'_, Self::Params>) -> Result<Output<Self::Artifact>, ModelError>;
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

    /// Which rows of a result the executor stores: the kind's
    /// [`Model::OUTPUT`] or the version's override. Default: all.
    fn output_policy(&self) -> OutputPolicy {
        OutputPolicy::All
    }
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
    output: OutputPolicy,
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
            .run(
                &Context::new(cycle_ts, &self.params, base, upstream)
                    .with_output_policy(self.output),
            )
            .map(ModelOutput::from)
    }

    fn output_policy(&self) -> OutputPolicy {
        self.output
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
/// The JSON must be an object; it is parsed into `M::Params` and then
/// checked by [`Model::check`]. An unknown field, a missing field, a value
/// of the wrong type or a value the model's rules refuse is a
/// [`ParamsError`] that names it. The reserved key
/// [`OUTPUT_PARAM`](crate::OUTPUT_PARAM), when present, is taken out first
/// and overrides the kind's [`Model::OUTPUT`].
pub fn instantiate<M: Model>(
    kind: M,
    id: ModelId,
    params: &serde_json::Value,
) -> Result<Arc<dyn ModelInstance>, ParamsError> {
    let (output, params) = split_output(&id, params)?;
    let params: M::Params = parse(&id, params.as_ref())?;
    kind.check(&params).map_err(|p| p.into_error(&id))?;
    Ok(Arc::new(Bound {
        id,
        kind,
        params,
        output: output.unwrap_or(M::OUTPUT),
    }))
}

/// The version's output policy override, if any, and the params without
/// it.
fn split_output<'p>(
    id: &ModelId,
    params: &'p serde_json::Value,
) -> Result<(Option<OutputPolicy>, Cow<'p, serde_json::Value>), ParamsError> {
    let Some(value) = params.get(OUTPUT_PARAM) else {
        return Ok((None, Cow::Borrowed(params)));
    };
    let refuse = |message: String| ParamsError {
        model: id.clone(),
        field: Some(OUTPUT_PARAM.to_owned()),
        message,
    };
    let policy: OutputPolicy = serde_json::from_value(value.clone()).map_err(|e| {
        refuse(format!(
            "{e} (expected \"all\", \"non_zero_or_payload\", \"non_zero\" or {{\"at_least\": <score>}})"
        ))
    })?;
    if let Some(problem) = policy.problem() {
        return Err(refuse(problem));
    }
    let mut rest = params.clone();
    if let Some(map) = rest.as_object_mut() {
        map.remove(OUTPUT_PARAM);
    }
    Ok((Some(policy), Cow::Owned(rest)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ArtifactType, Input};
    use serde::Deserialize;

    struct Echo;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct EchoParams {
        factor: f64,
        #[serde(default)]
        #[allow(dead_code)] // parsed to test error paths, never read
        nested: Option<Nested>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Nested {
        #[allow(dead_code)]
        limits: Vec<f64>,
    }

    impl Model for Echo {
        type Params = EchoParams;
        type Artifact = f64;

        fn check(&self, p: &EchoParams) -> Result<(), ParamsProblem> {
            ParamsProblem::positive("factor", p.factor)
        }

        fn run(&self, ctx: &Context<'_, EchoParams>) -> Result<Output<f64>, ModelError> {
            let base: &f64 = ctx.base()?;
            let mut out = ModelOutput::new();
            let value = base * ctx.params().factor;
            out.push(crate::OutputRow::new("x", value));
            // What the model is told of its output policy.
            out.metric(
                "keeps_zero",
                f64::from(u8::from(ctx.output_policy().keeps_score(0.0))),
            );
            Ok(Output::new(out, value))
        }
    }

    /// Reads an `f64` under "echo" and produces nothing.
    struct Reader;

    const ECHO: Input<f64> = Input::new("echo");

    impl Model for Reader {
        type Params = serde_json::Map<String, serde_json::Value>;
        type Artifact = ();
        const INPUTS: &'static [DeclaredInput] = &[ECHO.declare()];

        fn run(&self, ctx: &Context<'_, Self::Params>) -> Result<Output<()>, ModelError> {
            let mut out = ModelOutput::new();
            out.metric("echo", *ctx.read(&ECHO)?);
            Ok(out.into())
        }
    }

    fn id() -> ModelId {
        ModelId::new("echo").unwrap()
    }

    #[test]
    fn a_version_overrides_its_kinds_output_policy_under_the_reserved_key() {
        let plain = instantiate(Echo, id(), &serde_json::json!({"factor": 1.0})).unwrap();
        assert_eq!(plain.output_policy(), OutputPolicy::All);
        let sparse = instantiate(
            Echo,
            id(),
            &serde_json::json!({"factor": 1.0, "_output": "non_zero_or_payload"}),
        )
        .unwrap();
        assert_eq!(sparse.output_policy(), OutputPolicy::NonZeroOrPayload);
        let flagged = instantiate(
            Echo,
            id(),
            &serde_json::json!({"factor": 1.0, "_output": "non_zero"}),
        )
        .unwrap();
        assert_eq!(flagged.output_policy(), OutputPolicy::NonZero);
        // The model runs under its version's policy.
        let keeps_zero = |instance: &Arc<dyn ModelInstance>| {
            let base: &(dyn Any + Send + Sync) = &2.0_f64;
            let out = instance
                .run(chrono::Utc::now(), base, &Upstream::new())
                .unwrap();
            out.metrics()
                .iter()
                .find(|(k, _)| k == "keeps_zero")
                .map(|m| m.1)
        };
        assert_eq!(keeps_zero(&plain), Some(1.0));
        assert_eq!(keeps_zero(&flagged), Some(0.0));
        let above = instantiate(
            Echo,
            id(),
            &serde_json::json!({"factor": 1.0, "_output": {"at_least": 0.25}}),
        )
        .unwrap();
        assert_eq!(above.output_policy(), OutputPolicy::AtLeast(0.25));
        let base: &(dyn Any + Send + Sync) = &2.0_f64;
        let out = above
            .run(chrono::Utc::now(), base, &Upstream::new())
            .unwrap();
        assert_eq!(
            out.artifact::<f64>(),
            Some(&2.0),
            "the model saw its own params"
        );

        let bad = instantiate(
            Echo,
            id(),
            &serde_json::json!({"factor": 1.0, "_output": "sparse"}),
        )
        .unwrap_err();
        assert_eq!(bad.field.as_deref(), Some("_output"), "{bad}");
        assert!(bad.message.contains("non_zero_or_payload"), "{bad}");
        assert!(bad.message.contains("\"non_zero\""), "{bad}");
        let zero = instantiate(
            Echo,
            id(),
            &serde_json::json!({"factor": 1.0, "_output": {"at_least": 0.0}}),
        )
        .unwrap_err();
        assert!(zero.message.contains("above 0"), "{zero}");
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
        assert_eq!(wrong.field.as_deref(), Some("factor"), "{wrong}");
        assert_eq!(
            wrong.to_string(),
            "bad params for model echo: field `factor`: invalid type: string \"big\", expected f64"
        );
        let deep = instantiate(
            Echo,
            id(),
            &serde_json::json!({"factor": 1.0, "nested": {"limits": [1.0, "x"]}}),
        )
        .unwrap_err();
        assert_eq!(deep.field.as_deref(), Some("nested.limits[1]"), "{deep}");
        let not_object = instantiate(Echo, id(), &serde_json::json!([1])).unwrap_err();
        assert!(not_object.message.contains("JSON object"), "{not_object}");
        assert_eq!(not_object.field, None);
    }

    #[test]
    fn the_check_hook_runs_after_parsing_and_names_its_field() {
        let refused = instantiate(Echo, id(), &serde_json::json!({"factor": -2.0})).unwrap_err();
        assert_eq!(refused.field.as_deref(), Some("factor"));
        assert_eq!(
            refused.to_string(),
            "bad params for model echo: field `factor`: must be a positive number, got -2"
        );
    }

    #[test]
    fn runs_on_typed_base_input_and_refuses_the_wrong_type() {
        let m = instantiate(Echo, id(), &serde_json::json!({"factor": 2.0})).unwrap();
        let out = m
            .run(chrono::Utc::now(), &21.0_f64, &Upstream::new())
            .unwrap();
        assert_eq!(out.rows()[0].score, 42.0);
        assert_eq!(out.artifact::<f64>(), Some(&42.0));
        assert_eq!(out.artifact_type(), Some(ArtifactType::of::<f64>()));
        let err = m
            .run(chrono::Utc::now(), &"text", &Upstream::new())
            .unwrap_err();
        assert!(matches!(err, ModelError::BaseInput { .. }));
    }

    #[test]
    fn a_declared_input_is_read_typed_and_a_wrong_type_names_both() {
        assert_eq!(Reader::INPUTS, &[ECHO.declare()]);
        let reader = instantiate(Reader, id(), &serde_json::json!({})).unwrap();
        let mut upstream = Upstream::new();
        upstream.insert("echo", Arc::new(ModelOutput::new().with_artifact(2.5_f64)));
        let out = reader.run(chrono::Utc::now(), &(), &upstream).unwrap();
        assert_eq!(out.metrics(), &[("echo".to_owned(), 2.5)]);
        assert!(!out.has_artifact(), "a model of artifact () carries none");

        upstream.insert("echo", Arc::new(ModelOutput::new().with_artifact("2.5")));
        let err = reader.run(chrono::Utc::now(), &(), &upstream).unwrap_err();
        assert_eq!(
            err.to_string(),
            "upstream input \"echo\" is not a f64 (it carries &str)"
        );
    }
}
