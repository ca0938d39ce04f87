//! The plan handed to the executor.

use std::sync::Arc;
use std::time::Duration;

use model_api::{ModelId, ModelInstance, Role};

/// One version ready to run.
#[derive(Debug, Clone)]
pub struct PlannedVersion {
    /// `detection_model_versions.id`.
    pub version_id: i64,
    /// The version label.
    pub version: String,
    /// Its role.
    pub role: Role,
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
    /// Why, e.g. `upstream spoofing_score unavailable`.
    pub reason: String,
}

/// Levels of models (every model's upstream is in an earlier level; inside a
/// level sorted by model_id) and everything left out.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The levels, in execution order.
    pub levels: Vec<Vec<PlannedModel>>,
    /// Left-out models and versions with their reasons, sorted by model_id.
    pub excluded: Vec<Excluded>,
}

impl Plan {
    /// How many models are planned.
    pub fn model_count(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    /// How many versions are planned (PRIMARY and others).
    pub fn version_count(&self) -> usize {
        self.levels.iter().flatten().map(|m| 1 + m.others.len()).sum()
    }
}
