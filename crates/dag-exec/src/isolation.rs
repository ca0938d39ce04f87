//! SHADOW isolation by construction: the only way into the shared map of
//! PRIMARY results.
//!
//! [`SharedResults::publish`] accepts nothing but a [`PrimaryResult`]. A
//! `PrimaryResult` has private fields and exactly one constructor call,
//! in [`PrimaryJob::run`]; a `PrimaryJob` can only be built from a
//! [`PlannedModel`] as a whole, and takes its `primary` field. SHADOW and
//! CHALLENGER versions (the plan's `others`) become [`CandidateJob`]s, whose
//! `run` yields a [`PersistOnly`], a type with no conversion into anything
//! the shared map takes. So no code path, correct or buggy, can hand a
//! candidate's result to a downstream model: it would not compile.
//!
//! Keep this module small; it is the part a reviewer must trust.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use model_api::{CycleTs, ModelInstance, ModelOutput, Upstream};
use registry::{PlannedModel, PlannedVersion};

use crate::check::{OutputCheck, VersionLabel, check_output};
use crate::report::RunReason;
use crate::seed::Seed;

/// What a model run sees; the same value for a PRIMARY and its candidates.
pub(crate) struct RunInput<'a> {
    pub(crate) cycle_ts: CycleTs,
    pub(crate) base: &'a (dyn Any + Send + Sync),
    pub(crate) upstream: &'a Upstream,
}

/// A checked result of either kind.
pub(crate) struct Checked<R> {
    pub(crate) result: R,
    pub(crate) check: OutputCheck,
    /// `Some(how long it took to compute)` when the result was a seed.
    pub(crate) seeded: Option<Duration>,
}

/// A PRIMARY version's successful, checked result: what downstream models
/// may see. Only [`PrimaryJob::run`] builds one.
pub(crate) struct PrimaryResult {
    model: usize,
    output: Arc<ModelOutput>,
}

impl PrimaryResult {
    pub(crate) fn output(&self) -> &ModelOutput {
        &self.output
    }
}

/// A SHADOW or CHALLENGER version's checked result: stored, never shared.
pub(crate) struct PersistOnly {
    output: ModelOutput,
}

impl PersistOnly {
    pub(crate) fn output(&self) -> &ModelOutput {
        &self.output
    }
}

/// The job of a model's PRIMARY version.
pub(crate) struct PrimaryJob {
    model: usize,
    instance: Arc<dyn ModelInstance>,
    /// Its result, already computed, if the caller offered one (see
    /// `seed`): used when it fits the inputs of this cycle.
    seed: Option<Seed>,
}

impl PrimaryJob {
    /// The PRIMARY job of `planned` (the model at index `model` of the
    /// cycle). Takes the model, not a version, so it cannot be handed a
    /// SHADOW or CHALLENGER version.
    pub(crate) fn of(model: usize, planned: &PlannedModel, seed: Option<Seed>) -> Self {
        Self {
            model,
            instance: Arc::clone(&planned.primary.instance),
            seed,
        }
    }

    pub(crate) fn run(
        &self,
        input: &RunInput<'_>,
        label: &VersionLabel<'_>,
    ) -> Result<Checked<PrimaryResult>, RunReason> {
        if let Some(seed) = self.seed.as_ref().filter(|s| s.fits(input.upstream)) {
            let check = check_output(&seed.output, label, self.instance.output_policy())
                .map_err(RunReason::Unstorable)?;
            return Ok(Checked {
                result: PrimaryResult {
                    model: self.model,
                    output: Arc::clone(&seed.output),
                },
                check,
                seeded: Some(seed.took),
            });
        }
        let (output, check) = run_checked(self.instance.as_ref(), input, label)?;
        Ok(Checked {
            result: PrimaryResult {
                model: self.model,
                output: Arc::new(output),
            },
            check,
            seeded: None,
        })
    }
}

/// The job of a SHADOW or CHALLENGER version.
pub(crate) struct CandidateJob {
    instance: Arc<dyn ModelInstance>,
}

impl CandidateJob {
    /// A job for one of a planned model's `others`.
    pub(crate) fn of(version: &PlannedVersion) -> Self {
        Self {
            instance: Arc::clone(&version.instance),
        }
    }

    pub(crate) fn run(
        &self,
        input: &RunInput<'_>,
        label: &VersionLabel<'_>,
    ) -> Result<Checked<PersistOnly>, RunReason> {
        let (output, check) = run_checked(self.instance.as_ref(), input, label)?;
        Ok(Checked {
            result: PersistOnly { output },
            check,
            seeded: None,
        })
    }
}

/// The PRIMARY results of one cycle, by model index: what `Upstream`s are
/// built from.
pub(crate) struct SharedResults {
    by_model: Vec<Option<Arc<ModelOutput>>>,
}

impl SharedResults {
    pub(crate) fn new(models: usize) -> Self {
        Self {
            by_model: vec![None; models],
        }
    }

    /// Makes a PRIMARY's result visible to its dependents. There is no other
    /// way to fill this map.
    pub(crate) fn publish(&mut self, result: &PrimaryResult) {
        if let Some(slot) = self.by_model.get_mut(result.model) {
            *slot = Some(Arc::clone(&result.output));
        }
    }

    pub(crate) fn get(&self, model: usize) -> Option<&Arc<ModelOutput>> {
        self.by_model.get(model).and_then(Option::as_ref)
    }
}

/// Runs a model, turning an error or a panic into a [`RunReason`], then
/// checks its output.
fn run_checked(
    instance: &dyn ModelInstance,
    input: &RunInput<'_>,
    label: &VersionLabel<'_>,
) -> Result<(ModelOutput, OutputCheck), RunReason> {
    // The model only gets shared references to immutable inputs, and a
    // panicking run's partial state is discarded, so unwind safety holds.
    let ran = catch_unwind(AssertUnwindSafe(|| {
        instance.run(input.cycle_ts, input.base, input.upstream)
    }));
    let output = match ran {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Err(RunReason::ModelError(e)),
        Err(payload) => {
            return Err(RunReason::Panicked(model_api::panic_message(
                payload.as_ref(),
            )));
        }
    };
    let check =
        check_output(&output, label, instance.output_policy()).map_err(RunReason::Unstorable)?;
    Ok((output, check))
}
