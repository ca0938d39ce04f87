//! The plan handed to the executor.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use model_api::{ImplementationName, ModelId, ModelInstance, Role};

use crate::{Exclusion, VersionRef};

/// One version ready to run.
#[derive(Debug, Clone)]
pub struct PlannedVersion {
    /// `detection_model_versions.id`.
    pub version_id: i64,
    /// The version label.
    pub version: String,
    /// Its role.
    pub role: Role,
    /// The implementation it runs (its model's default when the version
    /// names none).
    pub implementation: ImplementationName,
    /// Per-version timeout override (the executor's default otherwise).
    pub timeout: Option<Duration>,
    /// The instance built from the version's params.
    pub instance: Arc<dyn ModelInstance>,
}

/// `input_key` of the planned model is fed by `upstream`'s PRIMARY result.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct InputEdge {
    /// The upstream model (always in an earlier level).
    pub upstream: ModelId,
    /// The key under which the planned model reads it.
    pub input_key: String,
}

/// A model with exactly one instantiable ACTIVE PRIMARY, and its
/// instantiable SHADOW and CHALLENGER versions.
#[derive(Debug, Clone)]
pub struct PlannedModel {
    /// The model.
    pub model_id: ModelId,
    /// Its PRIMARY version, whose result feeds downstream models.
    pub primary: PlannedVersion,
    /// Its SHADOW and CHALLENGER versions (CHALLENGER first, then SHADOW,
    /// each by id): they run on the PRIMARY's inputs and are persist-only.
    pub others: Vec<PlannedVersion>,
    /// Where its inputs come from, sorted.
    pub inputs: Vec<InputEdge>,
}

/// A model or a single version left out of the plan, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excluded {
    /// The model as stored (may be an id `ModelId` refuses).
    pub model_id: String,
    /// The version, when one version is left out; `None` when the whole
    /// model is.
    pub version_id: Option<i64>,
    /// The version's role, when `version_id` is set.
    pub role: Option<Role>,
    /// Why; its `Display` is the sentence operators read, e.g. `upstream
    /// spoofing_score unavailable`.
    pub reason: Exclusion,
    /// For a whole model (`version_id` `None`): the ACTIVE versions it had
    /// (PRIMARY, CHALLENGER, SHADOW, each by id), each of which the
    /// executor records as SKIPPED with `reason`, so per-version
    /// statistics count the cycle. Empty for a single version, and for a
    /// model that only a dependency names (it has no ACTIVE version).
    pub versions: Vec<VersionRef>,
}

/// A dependency cycle: each model depends on the next, and the last one on
/// the first. Displayed as `a -> b -> c -> a` ("a depends on b, ...").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DependencyCycle {
    /// The models on the cycle, starting with the smallest model_id of the
    /// cycle's models that no earlier reported cycle passes through; the
    /// first model is not repeated at the end.
    pub models: Vec<String>,
}

impl fmt::Display for DependencyCycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for model in &self.models {
            write!(f, "{model} -> ")?;
        }
        f.write_str(self.models.first().map_or("", String::as_str))
    }
}

/// Levels of models (every model's upstream is in an earlier level; inside a
/// level sorted by model_id) and everything left out.
///
/// Only [`plan`](crate::plan) builds one (the fields are private, and
/// nothing hands out a `&mut` to them), so whoever holds a `Plan` may rely
/// on it without checking again: every model is planned once, each input
/// comes from a model of an earlier level, `primary` is the PRIMARY and
/// `others` are not, and no version id appears twice. The empty plan
/// ([`Plan::default`]) is what an empty registry plans to.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub(crate) levels: Vec<Vec<PlannedModel>>,
    pub(crate) excluded: Vec<Excluded>,
    pub(crate) cycles: Vec<DependencyCycle>,
}

impl Plan {
    /// The levels, in execution order.
    pub fn levels(&self) -> &[Vec<PlannedModel>] {
        &self.levels
    }

    /// Left-out models and versions with their reasons, sorted by model_id
    /// (a whole model before its versions, versions by id). A model is
    /// listed once, with the first of these that applies: it is on a
    /// dependency cycle; it has no ACTIVE version, an invalid id, no code in
    /// the catalog (or not in the implementation its PRIMARY names), not
    /// exactly one ACTIVE PRIMARY, a PRIMARY whose params its constructor
    /// refuses, or two upstreams declared under one input key; its
    /// PRIMARY's implementation declares an input no dependency provides,
    /// or one whose upstream PRIMARY produces another artifact type; an
    /// upstream is unavailable.
    pub fn excluded(&self) -> &[Excluded] {
        &self.excluded
    }

    /// Every dependency cycle found, in the order of their first model. Each
    /// model of a strongly connected group of models lies on at least one
    /// reported cycle.
    pub fn cycles(&self) -> &[DependencyCycle] {
        &self.cycles
    }

    /// How many models are planned.
    pub fn model_count(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    /// How many versions are planned (PRIMARY and others).
    pub fn version_count(&self) -> usize {
        self.levels
            .iter()
            .flatten()
            .map(|m| 1 + m.others.len())
            .sum()
    }

    /// The planned models, level by level.
    pub fn models(&self) -> impl Iterator<Item = &PlannedModel> {
        self.levels.iter().flatten()
    }

    /// The planned model `model_id` and its level.
    pub fn find(&self, model_id: &str) -> Option<(usize, &PlannedModel)> {
        self.levels.iter().enumerate().find_map(|(level, models)| {
            models
                .iter()
                .find(|m| m.model_id.as_str() == model_id)
                .map(|m| (level, m))
        })
    }

    /// Why the whole model `model_id` was left out, if it was.
    pub fn exclusion(&self, model_id: &str) -> Option<&Excluded> {
        self.excluded
            .iter()
            .find(|e| e.model_id == model_id && e.version_id.is_none())
    }
}
