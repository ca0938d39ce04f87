//! `loitering` on the bundled real AIS sample, without a database: the
//! window of a cycle from `ais-csv`, the upstream artifact computed by the
//! reference `track_features` exactly as a cycle computes it, and the model
//! run as the executor runs it (instantiated from params JSON, upstream
//! under its input key).

use std::sync::Arc;

use ais_csv::Sample;
use ais_types::TrackFeatures;
use chrono::{TimeDelta, TimeZone, Utc};
use loitering::{Loiterers, Loitering, LoiteringParams, judge};
use model_api::{ModelId, ModelOutput, Upstream, instantiate};

#[test]
fn loiterers_of_a_real_cycle_move_but_stay_in_a_small_area() {
    let sample = Sample::bundled().expect("the bundled sample");
    let at = Utc.with_ymd_and_hms(2022, 1, 3, 0, 10, 0).unwrap();
    let (window, _) = sample
        .window(at, TimeDelta::minutes(10))
        .expect("a 10-minute window");
    let tracks = detectors::track_features(&window, &detectors::TrackParams::default())
        .expect("the reference track model");

    let model = instantiate(
        Loitering,
        ModelId::new("loitering").unwrap(),
        &serde_json::json!({}),
    )
    .expect("the defaults");
    let mut upstream = Upstream::new();
    upstream.insert(
        loitering::TRACKS.key(),
        Arc::new(ModelOutput::new().with_artifact(tracks.clone())),
    );
    let out = model.run(at, &window, &upstream).expect("a run");
    let found: &Loiterers = out.artifact().expect("its artifact");
    println!(
        "loitering at {at}: {} of {} vessels; first: {:?}",
        found.vessels.len(),
        tracks.vessels().len(),
        found.vessels.first()
    );
    assert!(!found.vessels.is_empty(), "a real sea has loiterers");
    assert!(found.vessels.len() * 20 < tracks.vessels().len(), "but few");
    assert_eq!(out.rows().len(), found.vessels.len());
    let p = LoiteringParams::default();
    for l in &found.vessels {
        assert!(l.radius_km <= p.max_radius_km, "{l:?}");
        assert!(l.mean_sog_kn >= p.min_sog_kn, "{l:?}");
        assert!(l.minutes >= p.min_minutes, "{l:?}");
        assert!(
            l.path_km >= p.min_wander * 2.0 * l.radius_km.max(0.05),
            "{l:?}"
        );
        let reported_km = l.mean_sog_kn * 1.852 * l.minutes / 60.0;
        assert!(l.path_km >= p.min_agreement * reported_km, "{l:?}");
        assert!((0.0..=1.0).contains(&l.score), "{l:?}");
    }

    // A vessel at anchor in the same window (reported SOG 0) is no loiterer,
    // however small its area; one crossing the window at speed neither.
    let still = pick(&tracks, |v| {
        v.max_reported_sog == Some(0.0) && v.accepted >= 5
    });
    assert!(judge(&tracks, still, &p).is_none(), "{still:?}");
    let fast = pick(&tracks, |v| {
        v.max_speed_kn.is_some_and(|k| k > 15.0) && v.accepted >= 5
    });
    assert!(judge(&tracks, fast, &p).is_none(), "{fast:?}");

    // Stricter params find a subset.
    let strict = LoiteringParams {
        max_radius_km: 0.3,
        ..p
    };
    let fewer = loitering::loiterers(&tracks, &strict);
    assert!(fewer.vessels.len() <= found.vessels.len());
    assert!(
        fewer
            .vessels
            .iter()
            .all(|l| found.vessels.iter().any(|f| f.mmsi == l.mmsi))
    );
}

fn pick(
    tracks: &TrackFeatures,
    want: impl Fn(&ais_types::VesselTrack) -> bool,
) -> &ais_types::VesselTrack {
    tracks
        .vessels()
        .iter()
        .find(|v| want(v))
        .expect("the sample has such a vessel")
}
