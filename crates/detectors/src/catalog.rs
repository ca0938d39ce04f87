//! What the registry needs to know about our models: ids, constructors,
//! default params and the DAG edges.

use std::sync::Arc;

use model_api::{ModelId, ModelInstance, ParamsError};
use serde_json::Value;

use crate::collision::{CollisionModel, CollisionParams};
use crate::identity::{IdentityModel, IdentityParams};
use crate::keys;
use crate::params::construct;
use crate::risk::{RiskModel, RiskParams};
use crate::spoofing::{SpoofingModel, SpoofingParams};
use crate::tracks::{TrackFeaturesModel, TrackParams};

/// Builds a runnable instance of one model from a version's params JSON,
/// refusing bad params with an error naming the field.
pub type Constructor = fn(ModelId, &Value) -> Result<Arc<dyn ModelInstance>, ParamsError>;

/// The model ids.
pub mod ids {
    /// Root: per-vessel tracks and speeds. Base input: [`AisWindow`](crate::AisWindow).
    pub const TRACK_FEATURES: &str = "track_features";
    /// Root: MMSI validity and names. Base input: [`AisWindow`](crate::AisWindow).
    pub const IDENTITY: &str = "identity";
    /// On `track_features` ("tracks") and `identity` ("identity").
    pub const SPOOFING_SCORE: &str = "spoofing_score";
    /// On `track_features` ("tracks").
    pub const IDENTITY_COLLISION: &str = "identity_collision";
    /// On `spoofing_score` ("spoofing") and `identity_collision` ("collisions").
    pub const RISK: &str = "risk";
}

/// One model of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct ModelSpec {
    /// The model id.
    pub id: &'static str,
    /// One line for `detection_models.description`.
    pub description: &'static str,
    /// `(upstream model, input key)` it reads.
    pub inputs: &'static [(&'static str, &'static str)],
    /// Builds an instance from params JSON.
    pub constructor: Constructor,
    /// The legacy params as JSON (a full object: every field present).
    pub default_params: fn() -> Value,
}

fn defaults_of<P: serde::Serialize + Default>() -> Value {
    serde_json::to_value(P::default()).unwrap_or(Value::Null)
}

/// The five reference models, upstream before downstream.
pub fn specs() -> [ModelSpec; 5] {
    [
        ModelSpec {
            id: ids::TRACK_FEATURES,
            description: "Per-vessel track by physics: glitches set aside, confirmed places, switches, speeds",
            inputs: &[],
            constructor: construct::<TrackFeaturesModel>,
            default_params: defaults_of::<TrackParams>,
        },
        ModelSpec {
            id: ids::IDENTITY,
            description: "MMSI class per ITU-R M.585 (ship, coast station, craft, AtoN, SART, ... or INVALID), MID and vessel name",
            inputs: &[],
            constructor: construct::<IdentityModel>,
            default_params: defaults_of::<IdentityParams>,
        },
        ModelSpec {
            id: ids::SPOOFING_SCORE,
            description: "Spoofing score 0..1 from confirmed impossible speeds, teleports and INVALID identities",
            inputs: &[
                (ids::TRACK_FEATURES, keys::TRACKS),
                (ids::IDENTITY, keys::IDENTITY),
            ],
            constructor: construct::<SpoofingModel>,
            default_params: defaults_of::<SpoofingParams>,
        },
        ModelSpec {
            id: ids::IDENTITY_COLLISION,
            description: "One MMSI at confirmed places no vessel of its type could connect, with a severity",
            inputs: &[(ids::TRACK_FEATURES, keys::TRACKS)],
            constructor: construct::<CollisionModel>,
            default_params: defaults_of::<CollisionParams>,
        },
        ModelSpec {
            id: ids::RISK,
            description: "Fused vessel risk from spoofing score and identity collisions",
            inputs: &[
                (ids::SPOOFING_SCORE, keys::SPOOFING),
                (ids::IDENTITY_COLLISION, keys::COLLISIONS),
            ],
            constructor: construct::<RiskModel>,
            default_params: defaults_of::<RiskParams>,
        },
    ]
}

/// One model's spec by id.
pub fn spec(model_id: &str) -> Option<ModelSpec> {
    specs().into_iter().find(|s| s.id == model_id)
}

/// `model_id -> constructor` for the registry.
///
/// ```
/// let catalog = detectors::catalog();
/// let (_, build) = catalog.iter().find(|(id, _)| *id == "spoofing_score").unwrap();
/// let id = model_api::ModelId::new("spoofing_score")?;
/// let err = build(id, &serde_json::json!({"teleport_km": 10})).unwrap_err();
/// assert!(err.message.contains("speed_floor_factor"), "{err}"); // missing fields are named
/// # Ok::<(), model_api::IdError>(())
/// ```
pub fn catalog() -> Vec<(&'static str, Constructor)> {
    specs().iter().map(|s| (s.id, s.constructor)).collect()
}

/// The edges the registry must hold: `(model_id, depends_on, input_key)`.
pub fn default_dependencies() -> Vec<(&'static str, &'static str, &'static str)> {
    specs()
        .iter()
        .flat_map(|s| {
            s.inputs
                .iter()
                .map(move |&(upstream, key)| (s.id, upstream, key))
        })
        .collect()
}

/// The legacy params of `model_id` as a JSON object, to register PRIMARY
/// versions with; `None` for an unknown model.
pub fn default_params(model_id: &str) -> Option<Value> {
    spec(model_id).map(|s| (s.default_params)())
}
