//! The catalog as the registry and executor use it: built from params JSON,
//! wired by `default_dependencies`, PRIMARY results passed by input key.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{at, window};
use detectors::{
    AisWindow, SpoofingParams, catalog, default_dependencies, default_params, ids, run_legacy,
    specs,
};
use model_api::{ModelId, ModelOutput, Upstream};
use serde_json::{Value, json};

/// A minimal executor: every model in catalog order (upstream first) with
/// the given params, inputs from `default_dependencies`.
fn run_registry(
    window: &AisWindow,
    params: &BTreeMap<&str, Value>,
) -> BTreeMap<&'static str, Arc<ModelOutput>> {
    let deps = default_dependencies();
    let mut done: BTreeMap<&'static str, Arc<ModelOutput>> = BTreeMap::new();
    for spec in specs() {
        let model = spec.id;
        let p = params
            .get(model)
            .cloned()
            .or_else(|| default_params(model))
            .unwrap();
        let instance = spec
            .default_implementation()
            .build(ModelId::new(model).unwrap(), &p)
            .unwrap();
        let mut upstream = Upstream::new();
        for (m, on, key) in &deps {
            if *m == model {
                upstream.insert(*key, Arc::clone(&done[on]));
            }
        }
        let out = instance.run(at(0, 25), window, &upstream).unwrap();
        done.insert(model, Arc::new(out));
    }
    done
}

#[test]
fn primary_spoofing_rows_equal_the_legacy_scores() {
    let (w, _) = window(at(0, 25), 25);
    let legacy = run_legacy(at(0, 25), &w).unwrap();
    let registry = run_registry(&w, &BTreeMap::new());
    let rows = registry[ids::SPOOFING_SCORE].rows();
    let scores = legacy.spoofing.artifact().vessels();
    assert_eq!(rows.len(), scores.len());
    for (row, v) in rows.iter().zip(scores) {
        assert_eq!(row.entity_key, detectors::nine_digits(v.mmsi));
        // Exact: the f64 output is the f32 `vessel_analysis` stores, widened.
        assert_eq!(row.score, f64::from(v.score));
        assert_eq!(f64::from(row.score as f32), row.score);
    }
    assert_eq!(rows, legacy.spoofing.rows());
    let summaries = legacy.vessels();
    assert_eq!(summaries.len(), rows.len());
    for (row, v) in rows.iter().zip(&summaries) {
        assert_eq!(
            (row.entity_key.as_str(), row.score),
            (
                detectors::nine_digits(v.mmsi).as_str(),
                f64::from(v.spoofing_score)
            )
        );
        assert_eq!(row.payload, v.details);
        assert!(v.fixes >= 1);
    }
    let shared = summaries.iter().find(|v| v.mmsi == 211_002_010).unwrap();
    assert!(
        shared.identity_valid && shared.max_jump_km.unwrap() > 3000.0,
        "{shared:?}"
    );
    assert!(summaries.iter().any(|v| !v.identity_valid));
    assert_eq!(registry[ids::RISK].rows(), legacy.risk.rows());
    assert_eq!(
        registry[ids::IDENTITY_COLLISION].rows(),
        legacy.collisions.rows()
    );
}

#[test]
fn a_shadow_with_other_thresholds_scores_differently() {
    let (w, _) = window(at(0, 25), 25);
    let primary = run_registry(&w, &BTreeMap::new());
    let shadow_params = SpoofingParams {
        speed_floor_factor: 0.5,
        speed_full_factor: 1.0,
        ..SpoofingParams::default()
    };
    let shadow = run_registry(
        &w,
        &BTreeMap::from([(
            ids::SPOOFING_SCORE,
            serde_json::to_value(shadow_params).unwrap(),
        )]),
    );
    let (p, s) = (
        primary[ids::SPOOFING_SCORE].rows(),
        shadow[ids::SPOOFING_SCORE].rows(),
    );
    assert_eq!(p.len(), s.len());
    let differ = p.iter().zip(s).filter(|(a, b)| a.score != b.score).count();
    assert!(
        differ > 0 && differ < p.len() / 10,
        "{differ} of {}",
        p.len()
    );
    assert!(
        p.iter().zip(s).all(|(a, b)| b.score >= a.score),
        "a lower floor never lowers a score"
    );
}

#[test]
fn catalog_edges_and_defaults_are_consistent() {
    let ids_in_order: Vec<&str> = specs().iter().map(|s| s.id).collect();
    assert_eq!(
        ids_in_order,
        [
            "track_features",
            "identity",
            "spoofing_score",
            "identity_collision",
            "risk"
        ]
    );
    let deps = default_dependencies();
    assert_eq!(
        deps,
        [
            ("spoofing_score", "track_features", "tracks"),
            ("spoofing_score", "identity", "identity"),
            ("identity_collision", "track_features", "tracks"),
            ("risk", "spoofing_score", "spoofing"),
            ("risk", "identity_collision", "collisions"),
        ]
    );
    for (model, on, _) in &deps {
        let (m, u) = (
            ids_in_order.iter().position(|x| x == model),
            ids_in_order.iter().position(|x| x == on),
        );
        assert!(u < m && u.is_some(), "{on} must come before {model}");
    }
    for s in specs() {
        let p = default_params(s.id).unwrap();
        assert!(
            p.as_object().is_some_and(|o| !o.is_empty()),
            "{}: {p}",
            s.id
        );
        for (name, code) in s.implementations {
            assert!(
                code().build(ModelId::new(s.id).unwrap(), &p).is_ok(),
                "{} {name}",
                s.id
            );
        }
        assert!(s.description.len() > 10);
        assert!(ModelId::new(s.id).is_ok());
    }
    assert_eq!(default_params("no_such_model"), None);

    // The DAG type-checks: every implementation reads exactly the keys its
    // spec wires, each as the type its upstream's default implementation
    // produces.
    let entries = catalog();
    assert_eq!(entries.len(), 6, "five models, spoofing_score twice");
    for (model, name, code) in &entries {
        let spec = detectors::spec(model).unwrap();
        let mut read: Vec<&str> = code.reads().iter().map(|i| i.key()).collect();
        let mut wired: Vec<&str> = spec.inputs.iter().map(|(_, key)| *key).collect();
        read.sort_unstable();
        wired.sort_unstable();
        assert_eq!(read, wired, "{model} {name}");
        for (upstream, key) in spec.inputs {
            let declared = code.reads().iter().find(|i| i.key() == *key).unwrap();
            let produced = detectors::spec(upstream)
                .unwrap()
                .default_implementation()
                .produces();
            assert_eq!(declared.artifact(), produced, "{model} {name} reads {key}");
        }
    }
    assert_eq!(
        default_params(ids::SPOOFING_SCORE).unwrap(),
        json!({
            "speed_floor_factor": 1.0, "speed_full_factor": 2.0,
            "min_reported_over_ceiling": 2, "reported_min_agreement": 0.5,
            "teleport_km": 5.0, "speed_weight": 0.6,
            "reported_speed_weight": 0.3, "teleport_weight": 0.8, "invalid_identity_weight": 0.4
        })
    );
}

#[test]
fn a_missing_input_is_a_model_error_not_a_panic() {
    let (w, _) = window(at(0, 10), 10);
    let risk = detectors::spec(ids::RISK)
        .unwrap()
        .default_implementation()
        .build(
            ModelId::new(ids::RISK).unwrap(),
            &default_params(ids::RISK).unwrap(),
        )
        .unwrap();
    let err = risk.run(at(0, 10), &w, &Upstream::new()).unwrap_err();
    assert!(err.to_string().contains("spoofing"), "{err}");
    let tracks = detectors::spec(ids::TRACK_FEATURES)
        .unwrap()
        .default_implementation()
        .build(
            ModelId::new(ids::TRACK_FEATURES).unwrap(),
            &default_params(ids::TRACK_FEATURES).unwrap(),
        )
        .unwrap();
    let err = tracks
        .run(at(0, 10), &"not a window", &Upstream::new())
        .unwrap_err();
    assert!(err.to_string().contains("AisWindow"), "{err}");
}
