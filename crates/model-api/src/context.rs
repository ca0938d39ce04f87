//! What a model sees while it runs.

use std::any::{Any, type_name};
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::{CycleTs, Input, ModelError, ModelOutput, OutputPolicy};

/// The PRIMARY results of a model's upstream models, by input key.
///
/// Built by the executor for each model from the cycle's shared map; models
/// only read it.
#[derive(Debug, Clone, Default)]
pub struct Upstream {
    by_key: BTreeMap<String, Arc<ModelOutput>>,
}

impl Upstream {
    /// No upstream results (a root model).
    pub fn new() -> Self {
        Self::default()
    }

    /// Places `output` under `key`, replacing what was there.
    pub fn insert(&mut self, key: impl Into<String>, output: Arc<ModelOutput>) {
        self.by_key.insert(key.into(), output);
    }

    /// The result under `key`.
    pub fn get(&self, key: &str) -> Option<&Arc<ModelOutput>> {
        self.by_key.get(key)
    }

    /// The input keys present, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.by_key.keys().map(String::as_str)
    }

    /// How many inputs are present.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether no inputs are present.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

/// Everything a model may look at during one run. Read-only.
#[derive(Debug)]
pub struct Context<'a, P> {
    cycle_ts: CycleTs,
    params: &'a P,
    base: &'a (dyn Any + Send + Sync),
    upstream: &'a Upstream,
    output: OutputPolicy,
}

impl<'a, P> Context<'a, P> {
    /// Assembles a context, every row stored ([`OutputPolicy::All`]). The
    /// executor does this; tests of a model may too.
    pub fn new(
        cycle_ts: CycleTs,
        params: &'a P,
        base: &'a (dyn Any + Send + Sync),
        upstream: &'a Upstream,
    ) -> Self {
        Self {
            cycle_ts,
            params,
            base,
            upstream,
            output: OutputPolicy::All,
        }
    }

    /// The same context under the version's output policy.
    pub fn with_output_policy(self, output: OutputPolicy) -> Self {
        Self { output, ..self }
    }

    /// The version's output policy: which of its rows will be stored. A
    /// model may skip work on what will not be stored, such as the payload
    /// of a row for which [`OutputPolicy::keeps_score`] is false (readers of
    /// this model's rows downstream then see such a row without it).
    pub fn output_policy(&self) -> OutputPolicy {
        self.output
    }

    /// The instant the cycle is computed for.
    pub fn cycle_ts(&self) -> CycleTs {
        self.cycle_ts
    }

    /// This version's typed params.
    pub fn params(&self) -> &'a P {
        self.params
    }

    /// The cycle's base input (e.g. the AIS window) as `T`.
    pub fn base<T: Any>(&self) -> Result<&'a T, ModelError> {
        (self.base as &dyn Any)
            .downcast_ref::<T>()
            .ok_or(ModelError::BaseInput {
                expected: type_name::<T>(),
            })
    }

    /// The artifact of the upstream PRIMARY result under `input`'s key, as
    /// the type `input` declares: the typed way to read what
    /// [`Model::INPUTS`](crate::Model::INPUTS) declares.
    pub fn read<T: Any>(&self, input: &Input<T>) -> Result<&'a T, ModelError> {
        self.input(input.key())
    }

    /// The artifact of the upstream PRIMARY result under `key`, as `T`.
    pub fn input<T: Any>(&self, key: &str) -> Result<&'a T, ModelError> {
        let output = self.input_output(key)?;
        output.artifact::<T>().ok_or_else(|| ModelError::InputType {
            key: key.to_owned(),
            expected: type_name::<T>(),
            found: output.artifact_type().map(|t| t.name()),
        })
    }

    /// The whole upstream PRIMARY result under `key` (rows, metrics, artifact).
    pub fn input_output(&self, key: &str) -> Result<&'a ModelOutput, ModelError> {
        self.upstream
            .get(key)
            .map(|o| o.as_ref())
            .ok_or_else(|| ModelError::MissingInput {
                key: key.to_owned(),
            })
    }

    /// All upstream results.
    pub fn upstream(&self) -> &'a Upstream {
        self.upstream
    }
}
