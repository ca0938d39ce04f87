//! The legacy path: the five models run in dependency order with their
//! default params, through the very constructors and `Model` impls the
//! registry uses. One implementation, two paths.

use std::any::{Any, type_name};
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use model_api::{CycleTs, ModelError, ModelId, ModelOutput, OUTPUT_PARAM, OutputRow, Upstream};
use serde_json::Value;

use crate::AisWindow;
use crate::Collisions;
use crate::Identities;
use crate::RiskScores;
use crate::SpoofingScores;
use crate::TrackFeatures;
use crate::catalog::{ids, spec};
use crate::events::{Event, EventRules, events};
use crate::keys;

/// Why a legacy run failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DetectorError {
    /// A model returned an error.
    #[error("model {model}")]
    Run {
        /// The model.
        model: &'static str,
        /// Its error.
        #[source]
        source: ModelError,
    },
    /// A model's default params were refused (a bug in this crate).
    #[error("model {model}: default params refused: {message}")]
    Params {
        /// The model.
        model: &'static str,
        /// The refusal.
        message: String,
    },
    /// A model returned no artifact of the expected type.
    #[error("model {model} returned no {expected} artifact")]
    Artifact {
        /// The model.
        model: &'static str,
        /// The Rust type expected.
        expected: &'static str,
    },
}

/// A model's whole result (rows, metrics, artifact) whose artifact is known
/// to be a `T`, with the upstream results it was computed from. Cloning
/// shares the result.
#[derive(Debug)]
pub struct Typed<T> {
    output: Arc<ModelOutput>,
    upstream: Upstream,
    took: Duration,
    _artifact: PhantomData<fn() -> T>,
}

impl<T> Clone for Typed<T> {
    fn clone(&self) -> Self {
        Self {
            output: Arc::clone(&self.output),
            upstream: self.upstream.clone(),
            took: self.took,
            _artifact: PhantomData,
        }
    }
}

impl<T> Typed<T> {
    /// The upstream results, by input key, the model read (none for a
    /// root model).
    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// How long the model ran.
    pub fn took(&self) -> Duration {
        self.took
    }
}

impl<T: Any> Typed<T> {
    /// Wraps `output` if its artifact is a `T` (computed from no upstream
    /// result, in no time).
    pub fn new(output: Arc<ModelOutput>) -> Option<Self> {
        Self::computed(output, Upstream::new(), Duration::ZERO)
    }

    fn computed(output: Arc<ModelOutput>, upstream: Upstream, took: Duration) -> Option<Self> {
        output.artifact::<T>().is_some().then_some(Self {
            output,
            upstream,
            took,
            _artifact: PhantomData,
        })
    }

    /// The typed artifact.
    pub fn artifact(&self) -> &T {
        match self.output.artifact::<T>() {
            Some(a) => a,
            None => unreachable!("Typed::new checked the artifact type"),
        }
    }

    /// The whole result, e.g. to place in an [`Upstream`].
    pub fn output(&self) -> &Arc<ModelOutput> {
        &self.output
    }

    /// The rows the registry path would persist.
    pub fn rows(&self) -> &[OutputRow] {
        self.output.rows()
    }
}

fn run_default<T: Any>(
    model: &'static str,
    cycle_ts: CycleTs,
    window: &AisWindow,
    inputs: &[(&str, &Arc<ModelOutput>)],
) -> Result<Typed<T>, DetectorError> {
    let params_error = |message: String| DetectorError::Params { model, message };
    let spec = spec(model).ok_or_else(|| params_error("not in the catalog".into()))?;
    let id = ModelId::new(model).map_err(|e| params_error(e.to_string()))?;
    let instance = spec
        .default_implementation()
        .build(id, &(spec.default_params)())
        .map_err(|e| params_error(e.to_string()))?;
    let mut upstream = Upstream::new();
    for (key, output) in inputs {
        upstream.insert(*key, Arc::clone(output));
    }
    let started = Instant::now();
    let output = instance
        .run(cycle_ts, window, &upstream)
        .map_err(|source| DetectorError::Run { model, source })?;
    Typed::computed(Arc::new(output), upstream, started.elapsed()).ok_or(DetectorError::Artifact {
        model,
        expected: type_name::<T>(),
    })
}

/// Whether a registry version of `model_id` running `implementation` with
/// `params` computes what the legacy path computes for it: the model's
/// default implementation with its default params and its kind's output
/// policy (a version that overrides it with `_output` does not: a model
/// may build its rows by its policy, e.g. `track_features` skips the
/// payloads of rows it will not store). Such a PRIMARY can take the legacy
/// stage's result (see `dag_exec::Seeds`) instead of computing it again,
/// given the same upstream results.
pub fn runs_as_legacy(model_id: &str, implementation: &str, params: &Value) -> bool {
    let Some(spec) = spec(model_id) else {
        return false;
    };
    let Value::Object(given) = params else {
        return false;
    };
    let Value::Object(defaults) = (spec.default_params)() else {
        return false;
    };
    spec.implementations.first().map(|(name, _)| *name) == Some(implementation)
        && !given.contains_key(OUTPUT_PARAM)
        && given.len() == defaults.len()
        && defaults.iter().all(|(k, v)| given.get(k) == Some(v))
}

/// Stage 3: `track_features` with default params.
pub fn track_features(
    cycle_ts: CycleTs,
    window: &AisWindow,
) -> Result<Typed<TrackFeatures>, DetectorError> {
    run_default(ids::TRACK_FEATURES, cycle_ts, window, &[])
}

/// Stage 3 of the pipeline: the artifact of `track_features` with default
/// params, without the model's rows. The artifact is the very one
/// [`track_features`] returns (the same function, the same params); the
/// rows (a JSON payload per vessel) are what only the registry path stores,
/// and building them, holding them through the cycle and dropping them
/// took about as long as computing the tracks. The pipeline's stage 3 takes
/// it when stage 10 is off (with stage 10 on, the whole result is stage
/// 10's seed). Its [`Typed::rows`] and metrics are empty, its upstream none;
/// the models downstream read the artifact alone.
pub fn track_features_artifact(
    cycle_ts: CycleTs,
    window: &AisWindow,
) -> Result<Typed<TrackFeatures>, DetectorError> {
    let _ = cycle_ts; // The model does not read it either.
    let model = ids::TRACK_FEATURES;
    // The catalog's default params (a test checks they are these).
    let params = crate::TrackParams::default();
    let features =
        crate::tracks::track_features(window, &params).map_err(|e| DetectorError::Run {
            model,
            source: ModelError::failed(e.to_string()),
        })?;
    Typed::new(Arc::new(ModelOutput::new().with_artifact(features))).ok_or(
        DetectorError::Artifact {
            model,
            expected: type_name::<TrackFeatures>(),
        },
    )
}

/// Stage 4: `identity` with default params.
pub fn identity(cycle_ts: CycleTs, window: &AisWindow) -> Result<Typed<Identities>, DetectorError> {
    run_default(ids::IDENTITY, cycle_ts, window, &[])
}

/// Stage 5: `spoofing_score` with default params.
pub fn spoofing_score(
    cycle_ts: CycleTs,
    window: &AisWindow,
    tracks: &Typed<TrackFeatures>,
    identity: &Typed<Identities>,
) -> Result<Typed<SpoofingScores>, DetectorError> {
    let inputs = [
        (keys::TRACKS, tracks.output()),
        (keys::IDENTITY, identity.output()),
    ];
    run_default(ids::SPOOFING_SCORE, cycle_ts, window, &inputs)
}

/// Stage 6: `identity_collision` with default params.
pub fn identity_collision(
    cycle_ts: CycleTs,
    window: &AisWindow,
    tracks: &Typed<TrackFeatures>,
) -> Result<Typed<Collisions>, DetectorError> {
    run_default(
        ids::IDENTITY_COLLISION,
        cycle_ts,
        window,
        &[(keys::TRACKS, tracks.output())],
    )
}

/// `risk` with default params.
pub fn risk(
    cycle_ts: CycleTs,
    window: &AisWindow,
    spoofing: &Typed<SpoofingScores>,
    collisions: &Typed<Collisions>,
) -> Result<Typed<RiskScores>, DetectorError> {
    let inputs = [
        (keys::SPOOFING, spoofing.output()),
        (keys::COLLISIONS, collisions.output()),
    ];
    run_default(ids::RISK, cycle_ts, window, &inputs)
}

/// The five results of one legacy run.
#[derive(Debug, Clone)]
pub struct LegacyResults {
    /// `track_features`.
    pub tracks: Typed<TrackFeatures>,
    /// `identity`.
    pub identity: Typed<Identities>,
    /// `spoofing_score`.
    pub spoofing: Typed<SpoofingScores>,
    /// `identity_collision`.
    pub collisions: Typed<Collisions>,
    /// `risk`.
    pub risk: Typed<RiskScores>,
}

/// One vessel's legacy analysis: what a `vessel_analysis` row holds.
#[derive(Debug, Clone, PartialEq)]
pub struct VesselSummary {
    /// The MMSI.
    pub mmsi: i64,
    /// The spoofing score, exactly as the `spoofing_score` row's (widened).
    pub spoofing_score: f32,
    /// Fixes in the window.
    pub fixes: usize,
    /// [`VesselTrack::max_speed_kn`](crate::VesselTrack::max_speed_kn).
    pub max_speed_kn: Option<f64>,
    /// Length of the longest jump, km.
    pub max_jump_km: Option<f64>,
    /// Whether the MMSI is a plausible ship identity.
    pub identity_valid: bool,
    /// The latest name reported.
    pub vessel_name: Option<String>,
    /// The `spoofing_score` row's payload (the evidences; `None` at score 0).
    pub details: Option<Value>,
}

impl LegacyResults {
    /// The events of this cycle under the default [`EventRules`].
    pub fn events(&self) -> Vec<Event> {
        events(
            self.identity.artifact(),
            self.spoofing.artifact(),
            self.collisions.artifact(),
            &EventRules::default(),
        )
    }

    /// One summary per vessel of the window, by ascending MMSI.
    pub fn vessels(&self) -> Vec<VesselSummary> {
        vessel_summaries(&self.tracks, &self.identity, &self.spoofing)
    }
}

/// One summary per vessel of the window, by ascending MMSI: what stage 5
/// writes to `vessel_analysis`, from the three results it depends on (so the
/// stage can run before collisions and risk are computed).
pub fn vessel_summaries(
    tracks: &Typed<TrackFeatures>,
    identity: &Typed<Identities>,
    spoofing: &Typed<SpoofingScores>,
) -> Vec<VesselSummary> {
    let (tracks, identity) = (tracks.artifact(), identity.artifact());
    spoofing
        .artifact()
        .vessels()
        .iter()
        .zip(spoofing.rows())
        .map(|(s, row)| {
            let track = tracks.vessel(s.mmsi);
            let id = identity.get(s.mmsi);
            VesselSummary {
                mmsi: s.mmsi,
                spoofing_score: s.score,
                fixes: track.map_or(0, |t| t.fix_count),
                max_speed_kn: track.and_then(|t| t.max_speed_kn),
                max_jump_km: track.and_then(|t| t.max_jump).map(|j| j.km),
                identity_valid: id.is_none_or(|i| i.is_valid()),
                vessel_name: id.and_then(|i| i.name.clone()),
                details: row.payload.clone(),
            }
        })
        .collect()
}

/// Runs the five models in dependency order with their default params.
///
/// ```
/// use chrono::{TimeDelta, TimeZone, Utc};
/// use detectors::{clean, run_legacy, Fix, WindowBounds};
/// let at = Utc.with_ymd_and_hms(2022, 1, 3, 0, 10, 0).unwrap();
/// let fix = |s: i64, lat: f64, lon: f64| Fix {
///     mmsi: 211002010, ts: at - TimeDelta::seconds(s), lat, lon,
///     sog: Some(0.0), cog: None, heading: None, vessel_name: None, vessel_type: None,
/// };
/// // Two places, each confirmed by two fixes minutes apart: two transmitters.
/// let raw = vec![fix(500, 34.41, -119.69), fix(400, 30.28, -87.54), fix(300, 34.41, -119.69), fix(200, 30.28, -87.54)];
/// let (window, _stats) = clean(WindowBounds::ending_at(at, TimeDelta::minutes(10))?, raw);
/// let r = run_legacy(at, &window)?;
/// assert!(r.spoofing.artifact().get(211002010).unwrap().score >= 0.7);
/// assert!(r.collisions.artifact().get(211002010).is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run_legacy(cycle_ts: CycleTs, window: &AisWindow) -> Result<LegacyResults, DetectorError> {
    let tracks = track_features(cycle_ts, window)?;
    let identity = identity(cycle_ts, window)?;
    let spoofing = spoofing_score(cycle_ts, window, &tracks, &identity)?;
    let collisions = identity_collision(cycle_ts, window, &tracks)?;
    let risk = risk(cycle_ts, window, &spoofing, &collisions)?;
    Ok(LegacyResults {
        tracks,
        identity,
        spoofing,
        collisions,
        risk,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::implementations;

    #[test]
    fn only_the_default_implementation_with_the_default_params_runs_as_legacy() {
        for spec in crate::specs() {
            let defaults = (spec.default_params)();
            assert!(
                runs_as_legacy(spec.id, implementations::V1, &defaults),
                "{}",
                spec.id
            );
            // Another output policy: a model may build its rows by it.
            let mut stored_all = defaults.clone();
            stored_all[OUTPUT_PARAM] = "all".into();
            assert!(!runs_as_legacy(spec.id, implementations::V1, &stored_all));
            // Another implementation, a changed, missing or extra field.
            assert!(!runs_as_legacy(spec.id, "v9", &defaults));
            let Value::Object(fields) = &defaults else {
                panic!("{}: default params are an object", spec.id);
            };
            if let Some((first, _)) = fields.iter().next() {
                let mut changed = defaults.clone();
                changed[first.as_str()] = serde_json::json!("something else");
                assert!(!runs_as_legacy(spec.id, implementations::V1, &changed));
                let mut missing = defaults.clone();
                if let Some(map) = missing.as_object_mut() {
                    map.remove(first.as_str());
                }
                assert!(!runs_as_legacy(spec.id, implementations::V1, &missing));
            }
            let mut extra = defaults.clone();
            extra["unknown_field"] = 1.into();
            assert!(!runs_as_legacy(spec.id, implementations::V1, &extra));
        }
        assert!(!runs_as_legacy(
            "spoofing_score",
            implementations::SPOOFING_GRADED,
            &crate::default_params("spoofing_score").unwrap_or_default()
        ));
        assert!(!runs_as_legacy("loitering", "v1", &serde_json::json!({})));
        assert!(!runs_as_legacy("risk", "v1", &serde_json::json!([])));
    }

    /// [`track_features_artifact`] runs with `TrackParams::default()`: the
    /// catalog's default params, which the legacy path's other models get.
    #[test]
    fn the_rowless_track_features_runs_with_the_catalogs_default_params() {
        let catalog = spec(ids::TRACK_FEATURES).map(|s| (s.default_params)());
        let ours = serde_json::to_value(crate::TrackParams::default()).ok();
        assert!(ours.as_ref().is_some_and(Value::is_object));
        assert_eq!(catalog, ours);
    }
}
