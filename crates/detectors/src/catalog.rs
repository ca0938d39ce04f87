//! What the registry needs to know about our models: ids, constructors,
//! default params and the DAG edges.

use model_api::Implementation;
use serde_json::Value;

use crate::collision::{CollisionModel, CollisionParams};
use crate::identity::{IdentityModel, IdentityParams};
use crate::keys;
use crate::risk::{RiskModel, RiskParams};
use crate::spoofing::{SpoofingModel, SpoofingParams};
use crate::spoofing_graded::GradedSpoofingModel;
use crate::tracks::{TrackFeaturesModel, TrackParams};

/// The names of our implementations.
pub mod implementations {
    /// The first implementation of every model, its default.
    pub const V1: &str = "v1";
    /// `spoofing_score` with its evidences graded on logarithmic scales
    /// ([`GradedSpoofingModel`](crate::GradedSpoofingModel)).
    pub const SPOOFING_GRADED: &str = "v2";
}

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

/// An implementation's name and how to get its code.
pub type NamedImplementation = (&'static str, fn() -> Implementation);

/// One model of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct ModelSpec {
    /// The model id.
    pub id: &'static str,
    /// One line for `detection_models.description`.
    pub description: &'static str,
    /// `(upstream model, input key)` it reads.
    pub inputs: &'static [(&'static str, &'static str)],
    /// Its implementations by name, the first its default (what a version
    /// that names none runs, and what the legacy path runs).
    pub implementations: &'static [NamedImplementation],
    /// The legacy params as JSON (a full object: every field present).
    pub default_params: fn() -> Value,
}

impl ModelSpec {
    /// The code of its default implementation.
    pub fn default_implementation(&self) -> Implementation {
        (self.implementations[0].1)()
    }
}

fn code<M: model_api::Model + Clone + Default>() -> Implementation {
    Implementation::of(M::default())
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
            implementations: &[(implementations::V1, code::<TrackFeaturesModel>)],
            default_params: defaults_of::<TrackParams>,
        },
        ModelSpec {
            id: ids::IDENTITY,
            description: "MMSI class per ITU-R M.585 (ship, coast station, craft, AtoN, SART, ... or INVALID), MID and vessel name",
            inputs: &[],
            implementations: &[(implementations::V1, code::<IdentityModel>)],
            default_params: defaults_of::<IdentityParams>,
        },
        ModelSpec {
            id: ids::SPOOFING_SCORE,
            description: "Spoofing score 0..1 from confirmed impossible speeds, teleports and INVALID identities",
            inputs: &[
                (ids::TRACK_FEATURES, keys::TRACKS),
                (ids::IDENTITY, keys::IDENTITY),
            ],
            implementations: &[
                (implementations::V1, code::<SpoofingModel>),
                (
                    implementations::SPOOFING_GRADED,
                    code::<GradedSpoofingModel>,
                ),
            ],
            default_params: defaults_of::<SpoofingParams>,
        },
        ModelSpec {
            id: ids::IDENTITY_COLLISION,
            description: "One MMSI at confirmed places no vessel of its type could connect, with a severity",
            inputs: &[(ids::TRACK_FEATURES, keys::TRACKS)],
            implementations: &[(implementations::V1, code::<CollisionModel>)],
            default_params: defaults_of::<CollisionParams>,
        },
        ModelSpec {
            id: ids::RISK,
            description: "Fused vessel risk from spoofing score and identity collisions",
            inputs: &[
                (ids::SPOOFING_SCORE, keys::SPOOFING),
                (ids::IDENTITY_COLLISION, keys::COLLISIONS),
            ],
            implementations: &[(implementations::V1, code::<RiskModel>)],
            default_params: defaults_of::<RiskParams>,
        },
    ]
}

/// One model's spec by id.
pub fn spec(model_id: &str) -> Option<ModelSpec> {
    specs().into_iter().find(|s| s.id == model_id)
}

/// `(model_id, implementation name, code)` for the registry's catalog,
/// each model's default implementation first.
///
/// ```
/// let catalog = detectors::catalog();
/// let (_, _, code) = catalog.iter().find(|(id, _, _)| *id == "spoofing_score").unwrap();
/// assert_eq!(code.produces(), model_api::ArtifactType::of::<detectors::SpoofingScores>());
/// let id = model_api::ModelId::new("spoofing_score")?;
/// let err = code.build(id, &serde_json::json!({"teleport_km": 10})).unwrap_err();
/// assert!(err.message.contains("speed_floor_factor"), "{err}"); // missing fields are named
/// # Ok::<(), model_api::IdError>(())
/// ```
pub fn catalog() -> Vec<(&'static str, &'static str, Implementation)> {
    specs()
        .iter()
        .flat_map(|s| {
            s.implementations
                .iter()
                .map(move |(name, code)| (s.id, *name, code()))
        })
        .collect()
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
