//! The cycles without a database: what the pipeline's legacy stages compute
//! (clean, the five models, events, carried state), with any params. The
//! sweep that chose the reference defaults runs on this; the end-to-end
//! evaluation runs the real pipeline.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use detectors::{
    AisWindow, Collisions, EventCategory, EventRules, Identities, SpoofingScores, WindowBounds,
    clean, default_dependencies, default_params, events, specs,
};
use model_api::{ModelId, ModelOutput, Upstream};
use serde_json::Value;

use crate::{EvalError, Flags, Record};

/// Params to use instead of the defaults, by model id: each given field
/// replaces the default's.
pub type ParamOverrides = BTreeMap<String, serde_json::Map<String, Value>>;

fn run_models(
    at: DateTime<Utc>,
    window: &AisWindow,
    overrides: &ParamOverrides,
) -> Result<BTreeMap<&'static str, Arc<ModelOutput>>, EvalError> {
    let deps = default_dependencies();
    let mut done: BTreeMap<&'static str, Arc<ModelOutput>> = BTreeMap::new();
    for spec in specs() {
        let model = spec.id;
        let err = |message: String| EvalError::Model {
            model: model.to_owned(),
            message,
        };
        let mut params = default_params(model).ok_or_else(|| err("no defaults".into()))?;
        if let (Some(over), Some(obj)) = (overrides.get(model), params.as_object_mut()) {
            obj.extend(over.clone());
        }
        let id = ModelId::new(model).map_err(|e| err(e.to_string()))?;
        let instance = spec
            .default_implementation()
            .build(id, &params)
            .map_err(|e| err(e.to_string()))?;
        let mut upstream = Upstream::new();
        for (m, on, key) in &deps {
            if *m == model {
                let out = done
                    .get(on)
                    .ok_or_else(|| err(format!("{on} has not run")))?;
                upstream.insert(*key, Arc::clone(out));
            }
        }
        let out = instance
            .run(at, window, &upstream)
            .map_err(|e| err(e.to_string()))?;
        done.insert(model, Arc::new(out));
    }
    Ok(done)
}

/// Runs the cycles `from, from + every, ... <= to` over `records` with
/// `window`-long windows, carrying each cycle's state into the next, and
/// returns what analysts would see flagged.
pub fn replay_in_memory(
    records: &[Record],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    every: TimeDelta,
    window: TimeDelta,
    overrides: &ParamOverrides,
) -> Result<Flags, EvalError> {
    let fixes: Vec<detectors::Fix> = records.iter().map(Record::to_fix).collect();
    let mut flags = Flags::default();
    let mut carried = Vec::new();
    let mut at = from;
    while at <= to {
        let bounds = WindowBounds::ending_at(at, window)?;
        let raw: Vec<detectors::Fix> = fixes
            .iter()
            .filter(|f| bounds.contains(f.ts))
            .cloned()
            .collect();
        let (w, _) = clean(bounds, raw);
        let w = w.with_carried(std::mem::take(&mut carried));
        let out = run_models(at, &w, overrides)?;
        let artifact = |id: &str| out.get(id).map(Arc::as_ref);
        let tracks =
            artifact("track_features").and_then(|o| o.artifact::<detectors::TrackFeatures>());
        let ids = artifact("identity").and_then(|o| o.artifact::<Identities>());
        let spoofing = artifact("spoofing_score").and_then(|o| o.artifact::<SpoofingScores>());
        let collisions = artifact("identity_collision").and_then(|o| o.artifact::<Collisions>());
        let (Some(tracks), Some(ids), Some(spoofing), Some(collisions)) =
            (tracks, ids, spoofing, collisions)
        else {
            return Err(EvalError::Model {
                model: "reference models".into(),
                message: "an artifact is missing".into(),
            });
        };
        carried = tracks.carry_forward(at);
        for v in spoofing.vessels() {
            if v.score >= 0.5 {
                flags.spoofing.insert(v.mmsi);
            }
        }
        for c in collisions.all() {
            flags.collision.insert(c.mmsi);
        }
        for e in events(ids, spoofing, collisions, &EventRules::default()) {
            if e.category == EventCategory::SpeedAnomaly {
                flags.speed.insert(e.mmsi);
            }
        }
        for v in ids.vessels() {
            flags.classes.insert(v.mmsi, v.class);
        }
        at += every;
    }
    Ok(flags)
}
