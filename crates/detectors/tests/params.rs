//! Bad params are refused at construction, naming the field.

use detectors::{catalog, default_params, ids, specs};
use model_api::{ModelId, ParamsError};
use serde_json::{Value, json};

/// Builds `model` with `params` in every implementation it has; each must
/// give the same answer (they share their params), which is returned.
fn build(model: &str, params: &Value) -> Result<(), ParamsError> {
    let answers: Vec<Result<(), ParamsError>> = catalog()
        .into_iter()
        .filter(|(id, _, _)| *id == model)
        .map(|(_, _, code)| code.build(ModelId::new(model).unwrap(), params).map(|_| ()))
        .collect();
    assert!(!answers.is_empty(), "{model} is not in the catalog");
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    answers.into_iter().next().unwrap()
}

fn with(model: &str, key: &str, value: Value) -> Value {
    let mut p = default_params(model).unwrap();
    p.as_object_mut().unwrap().insert(key.to_owned(), value);
    p
}

fn without(model: &str, key: &str) -> Value {
    let mut p = default_params(model).unwrap();
    p.as_object_mut().unwrap().remove(key);
    p
}

#[test]
fn every_field_of_every_model_is_named_when_missing_mistyped_or_misspelt() {
    for s in specs() {
        let defaults = default_params(s.id).unwrap();
        for key in defaults.as_object().unwrap().keys() {
            let missing = build(s.id, &without(s.id, key)).unwrap_err();
            assert!(missing.message.contains(key), "{}: {missing}", s.id);
            assert_eq!(missing.model.as_str(), s.id);
            let mistyped = build(s.id, &with(s.id, key, json!("big"))).unwrap_err();
            assert_eq!(
                mistyped.field.as_deref(),
                Some(key.as_str()),
                "{}: {mistyped}",
                s.id
            );
            assert!(
                mistyped
                    .to_string()
                    .contains(&format!("field `{key}`: invalid type")),
                "{}: {mistyped}",
                s.id
            );
            assert!(mistyped.to_string().contains(s.id), "{mistyped}");
        }
        let unknown = build(s.id, &with(s.id, "treshold", json!(1))).unwrap_err();
        assert!(unknown.message.contains("treshold"), "{}: {unknown}", s.id);
        let not_object = build(s.id, &json!([1, 2])).unwrap_err();
        assert!(not_object.message.contains("JSON object"), "{not_object}");
    }
}

#[test]
fn values_that_parse_but_make_no_sense_are_refused_by_name() {
    let cases = [
        (
            ids::TRACK_FEATURES,
            "min_speed_segment_km",
            json!(-1.0),
            "min_speed_segment_km",
        ),
        (
            ids::TRACK_FEATURES,
            "gap_minutes",
            json!(0.0),
            "gap_minutes",
        ),
        (ids::TRACK_FEATURES, "noise_km", json!(0.0), "noise_km"),
        (
            ids::TRACK_FEATURES,
            "max_track_speed_kn",
            json!(30.0),
            "max_track_speed_kn",
        ),
        (
            ids::TRACK_FEATURES,
            "min_fast_fixes",
            json!(1),
            "min_fast_fixes",
        ),
        (
            ids::IDENTITY,
            "unassigned_mid_invalid",
            json!(1),
            "unassigned_mid_invalid",
        ),
        (
            ids::SPOOFING_SCORE,
            "speed_full_factor",
            json!(0.5),
            "speed_full_factor",
        ),
        (
            ids::SPOOFING_SCORE,
            "teleport_weight",
            json!(1.5),
            "teleport_weight",
        ),
        (ids::SPOOFING_SCORE, "teleport_km", json!(0), "teleport_km"),
        (
            ids::SPOOFING_SCORE,
            "min_reported_over_ceiling",
            json!(0),
            "min_reported_over_ceiling",
        ),
        (
            ids::IDENTITY_COLLISION,
            "min_switches",
            json!(0),
            "min_switches",
        ),
        (
            ids::IDENTITY_COLLISION,
            "min_switches",
            json!(-1),
            "min_switches",
        ),
        (
            ids::IDENTITY_COLLISION,
            "min_distance_km",
            json!(0.0),
            "min_distance_km",
        ),
        (
            ids::IDENTITY_COLLISION,
            "critical_switches",
            json!(1),
            "critical_switches",
        ),
        (
            ids::RISK,
            "collision_weight",
            json!(-0.1),
            "collision_weight",
        ),
    ];
    for (model, key, value, named) in cases {
        assert!(
            default_params(model).unwrap().get(key).is_some(),
            "{model}.{key} is no field"
        );
        let err = build(model, &with(model, key, value.clone())).unwrap_err();
        assert!(
            err.to_string().contains(named),
            "{model}.{key} = {value}: {err}"
        );
        // Refused by serde (a negative count) or by the model's own rules,
        // the field to blame is named apart from the message.
        assert_eq!(
            err.field.as_deref(),
            Some(named),
            "{model}.{key} = {value}: {err}"
        );
    }
}

#[test]
fn other_valid_thresholds_are_accepted() {
    build(
        ids::SPOOFING_SCORE,
        &with(ids::SPOOFING_SCORE, "teleport_km", json!(30)),
    )
    .unwrap();
    build(
        ids::IDENTITY_COLLISION,
        &with(ids::IDENTITY_COLLISION, "min_switches", json!(2)),
    )
    .unwrap();
    build(
        ids::IDENTITY,
        &json!({"unassigned_mid_invalid": false, "craft_mid_required": true}),
    )
    .unwrap();
    build(
        ids::RISK,
        &json!({"spoofing_weight": 0.5, "collision_weight": 1}),
    )
    .unwrap();
}
