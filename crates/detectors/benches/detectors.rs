//! Pure model cost, without any database: the legacy run and the 7 versions
//! of the demo (5 PRIMARY, a SHADOW of spoofing_score, a CHALLENGER of
//! identity_collision) on a real 10-minute window of the sample (the
//! cycle at 00:15, ~33,000 positions, what a cycle of the pipeline bench
//! computes) and on a synthetic 50,000 vessels x 12 fixes. Baseline:
//! `clean` alone. `detectors_sample_10min_<model>_ms` is each PRIMARY alone
//! on the real window (its upstream results computed beforehand).
//!
//! `cargo bench -p detectors --bench detectors [-- FILTER]`

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::TimeDelta;
use detectors::{
    AisWindow, CollisionParams, Fix, SpoofingParams, WindowBounds, clean, default_dependencies,
    default_params, ids, run_legacy, spec, specs,
};
use model_api::{ModelId, ModelInstance, ModelOutput, Upstream};

const RUNS: usize = 7;

fn median_ms(mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[RUNS / 2]
}

/// 50,000 vessels, 12 fixes a minute apart each, cruising; every 1000th
/// alternates between two far places (a collision), every 997th has an
/// invalid MMSI.
fn synthetic() -> (WindowBounds, Vec<Fix>) {
    let end = common::at(0, 15);
    let bounds = WindowBounds::ending_at(end, TimeDelta::minutes(15)).expect("a 15-minute window");
    let mut fixes = Vec::with_capacity(600_000);
    for v in 0..50_000i64 {
        let mmsi = if v % 997 == 0 { v + 1 } else { 211_000_000 + v };
        let (lat0, lon0) = (
            20.0 + (v % 200) as f64 * 0.1,
            -120.0 + (v / 200) as f64 * 0.1,
        );
        for k in 0..12i64 {
            let far = v % 1000 == 0 && k % 2 == 1;
            fixes.push(Fix {
                mmsi,
                ts: end - TimeDelta::seconds(60 * (12 - k)),
                lat: lat0 + k as f64 * 0.002 + if far { 5.0 } else { 0.0 },
                lon: lon0,
                sog: Some(12.0),
                cog: Some(0.0),
                heading: Some(0.0),
                vessel_name: Some(format!("V{v}")),
                vessel_type: Some(70),
            });
        }
    }
    (bounds, fixes)
}

fn instance(model: &str, params: &serde_json::Value) -> Arc<dyn ModelInstance> {
    spec(model)
        .unwrap_or_else(|| panic!("{model}"))
        .default_implementation()
        .build(
            ModelId::new(model).unwrap_or_else(|e| panic!("{e}")),
            params,
        )
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The demo's 7 versions, run as the executor would (sequentially here).
fn seven_versions(window: &AisWindow) -> usize {
    let shadow = serde_json::to_value(SpoofingParams {
        speed_floor_factor: 0.5,
        ..SpoofingParams::default()
    });
    let challenger = serde_json::to_value(CollisionParams {
        min_switches: 2,
        ..CollisionParams::default()
    });
    let (shadow, challenger) = (shadow.unwrap_or_default(), challenger.unwrap_or_default());
    let deps = default_dependencies();
    let mut done: BTreeMap<&str, Arc<ModelOutput>> = BTreeMap::new();
    let mut rows = 0;
    for model in specs().map(|s| s.id) {
        let mut upstream = Upstream::new();
        for (m, on, key) in &deps {
            if *m == model {
                upstream.insert(*key, Arc::clone(&done[on]));
            }
        }
        let mut versions = vec![instance(model, &default_params(model).unwrap_or_default())];
        if model == ids::SPOOFING_SCORE {
            versions.push(instance(model, &shadow));
        }
        if model == ids::IDENTITY_COLLISION {
            versions.push(instance(model, &challenger));
        }
        for (i, v) in versions.iter().enumerate() {
            let out = v
                .run(common::at(0, 15), window, &upstream)
                .unwrap_or_else(|e| panic!("{e}"));
            rows += out.rows().len();
            if i == 0 {
                done.insert(model, Arc::new(out));
            }
        }
    }
    rows
}

/// Each reference PRIMARY alone, its upstream results computed first.
fn each_model(
    at: chrono::DateTime<chrono::Utc>,
    window: &AisWindow,
    figure: &dyn Fn(&str, &mut dyn FnMut() -> f64),
) {
    let deps = default_dependencies();
    let mut done: BTreeMap<&str, Arc<ModelOutput>> = BTreeMap::new();
    for model in specs().map(|s| s.id) {
        let mut upstream = Upstream::new();
        for (m, on, key) in &deps {
            if *m == model {
                upstream.insert(*key, Arc::clone(&done[on]));
            }
        }
        let v = instance(model, &default_params(model).unwrap_or_default());
        figure(&format!("detectors_sample_10min_{model}_ms"), &mut || {
            median_ms(|| {
                std::hint::black_box(
                    v.run(at, window, &upstream)
                        .unwrap_or_else(|e| panic!("{e}")),
                );
            })
        });
        let out = v
            .run(at, window, &upstream)
            .unwrap_or_else(|e| panic!("{e}"));
        done.insert(model, Arc::new(out));
    }
}

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let figure = |name: &str, f: &mut dyn FnMut() -> f64| {
        if wanted(name) {
            println!("{name}: {:.1}", f());
        }
    };

    let sample_at = common::at(0, 15);
    let (sample_bounds, sample_raw) = common::raw_window(sample_at, 10);
    let (sample_window, _) = clean(sample_bounds, sample_raw.clone());
    figure("detectors_sample_10min_fixes", &mut || {
        sample_raw.len() as f64
    });
    figure("detectors_sample_10min_clean_ms", &mut || {
        median_ms(|| {
            std::hint::black_box(clean(sample_bounds, sample_raw.clone()));
        })
    });
    figure("detectors_sample_10min_legacy_ms", &mut || {
        median_ms(|| {
            std::hint::black_box(
                run_legacy(sample_at, &sample_window).unwrap_or_else(|e| panic!("{e}")),
            );
        })
    });
    figure("detectors_sample_10min_7_versions_ms", &mut || {
        median_ms(|| {
            std::hint::black_box(seven_versions(&sample_window));
        })
    });
    each_model(sample_at, &sample_window, &|name, f| figure(name, f));

    let (bounds, raw) = synthetic();
    let (window, _) = clean(bounds, raw.clone());
    figure("detectors_scaled_clean_ms", &mut || {
        median_ms(|| {
            std::hint::black_box(clean(bounds, raw.clone()));
        })
    });
    figure("detectors_scaled_legacy_ms", &mut || {
        median_ms(|| {
            std::hint::black_box(
                run_legacy(common::at(0, 15), &window).unwrap_or_else(|e| panic!("{e}")),
            );
        })
    });
    figure("detectors_scaled_7_versions_ms", &mut || {
        median_ms(|| {
            std::hint::black_box(seven_versions(&window));
        })
    });
}
