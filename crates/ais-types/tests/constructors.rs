//! Every artifact can be built by code outside the crate, as a model
//! author's test builds an upstream; what does not fit its window is
//! refused, never panicked on.

use ais_types::{
    ArtifactError, Collision, Collisions, Fix, FixRole, Identities, IdentityClass, Severity,
    TrackFeatures, VesselIdentity, VesselTrack, WindowBounds, clean,
};
use chrono::{TimeDelta, TimeZone, Utc};

fn fix(mmsi: i64, secs: i64, lat: f64) -> Fix {
    Fix {
        mmsi,
        ts: Utc.with_ymd_and_hms(2022, 1, 3, 0, 0, 0).unwrap() + TimeDelta::seconds(secs),
        lat,
        lon: -118.0,
        sog: Some(1.0),
        cog: None,
        heading: None,
        vessel_name: None,
        vessel_type: None,
    }
}

fn track(mmsi: i64, fix_count: usize) -> VesselTrack {
    let t = Utc.with_ymd_and_hms(2022, 1, 3, 0, 0, 0).unwrap();
    VesselTrack {
        mmsi,
        fix_count,
        first_ts: t,
        last_ts: t,
        vessel_type: None,
        ceiling_kn: 60.0,
        accepted: fix_count,
        glitches: 0,
        max_speed_kn: None,
        fast_run: None,
        sites: Vec::new(),
        track_confirmed: true,
        switches: Vec::new(),
        max_jump: None,
        max_gap_minutes: None,
        gaps: 0,
        max_reported_sog: Some(1.0),
        reported_over_ceiling: 0,
    }
}

#[test]
fn track_features_are_assembled_against_their_window() {
    let bounds = WindowBounds {
        start: Utc.with_ymd_and_hms(2022, 1, 2, 23, 59, 0).unwrap(),
        end: Utc.with_ymd_and_hms(2022, 1, 3, 0, 10, 0).unwrap(),
    };
    let (w, _) = clean(
        bounds,
        vec![fix(2, 0, 33.0), fix(1, 0, 34.0), fix(1, 60, 34.01)],
    );
    let roles = vec![FixRole::Track; 3];
    // In any order: sorted by MMSI.
    let t =
        TrackFeatures::new(&w, vec![track(2, 1), track(1, 2)], roles.clone(), 0.5, 30.0).unwrap();
    assert_eq!(t.vessels()[0].mmsi, 1);
    let v1 = t.vessel(1).unwrap();
    assert_eq!(t.fixes(v1).len(), 2);
    assert_eq!(t.roles(v1), &[FixRole::Track, FixRole::Track]);
    let seg = t.segments(v1)[0];
    assert!((seg.km - 1.11).abs() < 0.01, "{seg:?}");
    assert!((seg.minutes - 1.0).abs() < 1e-9);
    assert!(t.segments(t.vessel(2).unwrap()).is_empty());
    assert_eq!(
        t.carry_forward(bounds.end).len(),
        0,
        "no confirmed sites given"
    );

    assert_eq!(
        TrackFeatures::new(&w, vec![track(1, 2)], roles.clone(), 0.5, 30.0).unwrap_err(),
        ArtifactError::VesselsMismatch {
            what: "TrackFeatures",
            given: 1,
            window: 2
        }
    );
    assert!(matches!(
        TrackFeatures::new(&w, vec![track(1, 2), track(3, 1)], roles, 0.5, 30.0),
        Err(ArtifactError::NotInWindow { mmsi: 3, .. })
    ));
    assert!(matches!(
        TrackFeatures::new(
            &w,
            vec![track(1, 2), track(2, 1)],
            vec![FixRole::Track],
            0.5,
            30.0
        ),
        Err(ArtifactError::RolesMismatch { roles: 1, fixes: 3 })
    ));
}

#[test]
fn keyed_artifacts_are_sorted_and_keep_one_entry_per_mmsi() {
    let t = Utc.with_ymd_and_hms(2022, 1, 3, 0, 0, 0).unwrap();
    let collision = |mmsi, severity| Collision {
        mmsi,
        severity,
        hops: 2,
        max_distance_km: 3042.4,
        max_speed_kn: 72_000.0,
        ceiling_kn: 60.0,
        first_ts: t,
        last_ts: t,
        sites: vec![(30.3, -87.5), (34.4, -119.7)],
    };
    let c = Collisions::new(vec![
        collision(211_002_010, Severity::Critical),
        collision(12_345_678, Severity::Low),
        collision(211_002_010, Severity::Low),
    ]);
    assert_eq!(c.all().len(), 2);
    assert_eq!(c.get(211_002_010).unwrap().severity, Severity::Critical);
    assert_eq!(c.get(211_002_010).unwrap().score(), 1.0);
    let ids = Identities::new(vec![VesselIdentity {
        mmsi: 3_669_881,
        class: IdentityClass::CoastStation,
        mid: Some(366),
        problem: None,
        name: None,
        last_ts: t,
    }]);
    assert_eq!(ids.get(3_669_881).unwrap().mmsi_text(), "003669881");
    assert!(ids.get(3_669_881).unwrap().is_valid());
}
