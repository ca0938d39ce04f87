//! What one load of the registry tables yields: the input of the planner.
//! Plain data, filled by `registry-store` (or by hand in tests).

use model_api::Role;

/// One ACTIVE version of an enabled model, as stored.
///
/// `model_id` is kept as the raw string: turning it into a
/// [`model_api::ModelId`] (and refusing a bad one) is the planner's job.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveVersion {
    /// `detection_model_versions.id`.
    pub id: i64,
    /// The model this version belongs to.
    pub model_id: String,
    /// The version label, e.g. `1.2.0`.
    pub version: String,
    /// PRIMARY, SHADOW or CHALLENGER.
    pub role: Role,
    /// The params JSON; always an object (a non-object is logged and
    /// replaced by `{}` at load).
    pub params: serde_json::Value,
    /// Per-version timeout override, in milliseconds.
    pub timeout_ms: Option<u32>,
    /// The implementation of the model this version runs, as stored
    /// (`detection_model_versions.implementation`); `None` runs the
    /// model's default implementation.
    pub implementation: Option<String>,
}

/// `model_id` consumes `depends_on`'s PRIMARY result under `input_key`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dependency {
    /// The consuming model.
    pub model_id: String,
    /// The upstream model.
    pub depends_on: String,
    /// The name under which the consumer reads the upstream result.
    pub input_key: String,
}

/// One consistent load: versions ordered by model_id, then role (PRIMARY,
/// CHALLENGER, SHADOW), then id; edges ordered by (model_id, depends_on,
/// input_key).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegistrySnapshot {
    /// ACTIVE versions of enabled models.
    pub versions: Vec<ActiveVersion>,
    /// All dependency edges.
    pub edges: Vec<Dependency>,
}
