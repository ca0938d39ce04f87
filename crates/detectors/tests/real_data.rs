//! The reference models on the bundled real AIS sample (2022-01-03).

mod common;

use std::collections::BTreeSet;

use common::{at, raw_window, sample, whole_day, window};
use detectors::{
    EventCategory, IdentityProblem, Severity, TrackFeatures, TrackParams, clean, run_legacy,
};

const SHARED_MMSI: i64 = 211_002_010;

fn is_sog_sentinel(s: Option<f32>) -> bool {
    s.is_some_and(|s| (s - 102.3).abs() < 0.05)
}

#[test]
fn mmsi_211002010_collides_and_spoofs_over_the_first_25_minutes() {
    let (w, _) = window(at(0, 25), 25);
    let r = run_legacy(at(0, 25), &w).unwrap();
    let c = r
        .collisions
        .artifact()
        .get(SHARED_MMSI)
        .expect("a collision");
    assert!(
        matches!(c.severity, Severity::High | Severity::Critical),
        "{c:?}"
    );
    assert_eq!(
        c.hops, 3,
        "California -> Gulf at 00:02, Gulf -> California at 00:06, back at 00:09"
    );
    assert!((c.max_distance_km - 3042.4).abs() < 1.0, "{c:?}");
    assert_eq!(c.sites.len(), 2, "two transmitters: {:?}", c.sites);
    let s = r.spoofing.artifact().get(SHARED_MMSI).unwrap();
    assert!(s.score >= 0.7, "{s:?}");
    assert!(s.teleport.is_some() && !s.invalid_identity, "{s:?}");
    let events: Vec<EventCategory> = r
        .events()
        .into_iter()
        .filter(|e| e.mmsi == SHARED_MMSI)
        .map(|e| e.category)
        .collect();
    assert_eq!(
        events,
        [
            EventCategory::Spoofing,
            EventCategory::IdentityCollision,
            EventCategory::SpeedAnomaly
        ]
    );
}

/// The fixes (California at 00:00:44 and 00:06:45, Gulf otherwise, last at
/// 00:18:36) put the switches inside the windows ending 00:10 and 00:15
/// only: the windows ending 00:20 and 00:25 see the Gulf transmitter alone.
#[test]
fn mmsi_211002010_in_ten_minute_windows() {
    let expected = [
        (at(0, 10), Some((3, Severity::Critical))),
        (at(0, 15), Some((2, Severity::High))),
        (at(0, 20), None),
        (at(0, 25), None),
    ];
    for (end, want) in expected {
        let (w, _) = window(end, 10);
        let r = run_legacy(end, &w).unwrap();
        let got = r
            .collisions
            .artifact()
            .get(SHARED_MMSI)
            .map(|c| (c.hops, c.severity));
        assert_eq!(got, want, "window ending {end}");
        let score = r.spoofing.artifact().get(SHARED_MMSI).map(|s| s.score);
        if want.is_some() {
            assert!(
                score.is_some_and(|s| s >= 0.7),
                "window ending {end}: {score:?}"
            );
        } else {
            assert!(
                score.is_none_or(|s| s < 0.3),
                "window ending {end}: {score:?}"
            );
        }
    }
}

#[test]
fn every_mmsi_that_is_not_nine_digits_is_invalid() {
    let not_nine: BTreeSet<i64> = sample()
        .iter()
        .map(|f| f.mmsi)
        .filter(|m| m.to_string().len() != 9)
        .collect();
    assert!(
        not_nine.contains(&12_345_678) && not_nine.contains(&1_072_211_352),
        "{not_nine:?}"
    );

    for (w, label) in [
        (whole_day().0, "whole day"),
        (window(at(0, 25), 25).0, "00:00-00:25"),
    ] {
        let r = run_legacy(at(0, 25), &w).unwrap();
        let present: BTreeSet<i64> = not_nine
            .iter()
            .copied()
            .filter(|m| !w.vessel(*m).is_empty())
            .collect();
        assert!(!present.is_empty(), "{label}");
        let flagged: BTreeSet<i64> = r
            .identity
            .artifact()
            .invalid()
            .filter(|v| v.problem == Some(IdentityProblem::NotNineDigits))
            .map(|v| v.mmsi)
            .collect();
        assert_eq!(flagged, present, "{label}");
        let events: BTreeSet<i64> = r
            .events()
            .into_iter()
            .filter(|e| e.category == EventCategory::InvalidMmsi)
            .map(|e| e.mmsi)
            .collect();
        assert!(
            present.is_subset(&events),
            "{label}: {present:?} vs {events:?}"
        );
        // The registry rows say the same.
        let rows: BTreeSet<i64> = r
            .identity
            .rows()
            .iter()
            .filter_map(|row| row.entity_key.parse().ok())
            .collect();
        assert!(present.is_subset(&rows), "{label}");
    }
}

#[test]
fn sentinels_and_duplicates_are_cleaned_and_counted() {
    let raw_sog = sample().iter().filter(|f| is_sog_sentinel(f.sog)).count();
    assert_eq!(
        raw_sog, 111,
        "the README promises 111 reports with SOG 102.3"
    );
    let (w, stats) = whole_day();
    assert_eq!(stats.input, 74_731);
    assert_eq!(stats.sog_not_available, 111);
    assert_eq!(stats.duplicates, 53);
    assert_eq!(stats.input, stats.kept + stats.dropped());
    assert!(w.fixes().iter().all(|f| !is_sog_sentinel(f.sog)));

    // The real data has no 91/181; add some to a real vessel's track, far away.
    let (bounds, mut raw) = raw_window(at(0, 25), 25);
    let victim = raw
        .iter()
        .find(|f| f.mmsi == 366_999_712)
        .cloned()
        .unwrap_or_else(|| raw[0].clone());
    let mut injected = Vec::new();
    for (k, (lat, lon, sog)) in [
        (91.0, victim.lon, Some(0.0)),
        (victim.lat, 181.0, Some(0.0)),
        (91.0, 181.0, None),
        (victim.lat + 5.0, victim.lon, Some(102.3)),
    ]
    .into_iter()
    .enumerate()
    {
        let mut f = victim.clone();
        f.ts = victim.ts + chrono::TimeDelta::milliseconds(250 * (k as i64 + 1));
        (f.lat, f.lon, f.sog) = (lat, lon, sog);
        injected.push(f);
    }
    let (clean_w, clean_stats) = clean(bounds, raw.clone());
    raw.extend(injected);
    let (dirty_w, dirty_stats) = clean(bounds, raw);
    assert_eq!(
        dirty_stats.position_not_available,
        clean_stats.position_not_available + 3
    );
    assert_eq!(
        dirty_stats.sog_not_available,
        clean_stats.sog_not_available + 1
    );
    assert_eq!(dirty_w.fixes(), clean_w.fixes());

    // Never reach a speed computation: the victim's segments are those of its real fixes.
    let p = TrackParams::default();
    let (a, b) = (
        TrackFeatures::compute(&clean_w, &p),
        TrackFeatures::compute(&dirty_w, &p),
    );
    let (va, vb) = (
        a.vessel(victim.mmsi).unwrap(),
        b.vessel(victim.mmsi).unwrap(),
    );
    assert_eq!(a.segments(va), b.segments(vb));
    assert_eq!(va, vb);

    // And over the real sample: vessels that sent SOG 102.3 are tracked on
    // their other fixes only, with the same speeds as if those never existed.
    let (bounds, raw) = raw_window(at(0, 25), 25);
    let senders: BTreeSet<i64> = raw
        .iter()
        .filter(|f| is_sog_sentinel(f.sog))
        .map(|f| f.mmsi)
        .collect();
    assert!(!senders.is_empty());
    let without: Vec<_> = raw
        .iter()
        .filter(|f| !is_sog_sentinel(f.sog))
        .cloned()
        .collect();
    let (with_w, _) = clean(bounds, raw);
    let (without_w, _) = clean(bounds, without);
    let (a, b) = (
        TrackFeatures::compute(&with_w, &p),
        TrackFeatures::compute(&without_w, &p),
    );
    for m in senders {
        match (a.vessel(m), b.vessel(m)) {
            (Some(va), Some(vb)) => {
                assert_eq!(a.segments(va), b.segments(vb), "{m}");
                assert!(a.fixes(va).iter().all(|f| !is_sog_sentinel(f.sog)), "{m}");
            }
            (None, None) => {} // every fix it sent was a sentinel
            (x, y) => panic!("{m}: {x:?} vs {y:?}"),
        }
    }
}

#[test]
fn score_distribution_on_a_quiet_sea() {
    for (end, minutes) in [(at(0, 25), 25), (at(0, 10), 10), (at(0, 25), 5)] {
        let (w, _) = window(end, minutes);
        let r = run_legacy(end, &w).unwrap();
        let scores: Vec<f32> = r
            .spoofing
            .artifact()
            .vessels()
            .iter()
            .map(|v| v.score)
            .collect();
        let above = |t: f32| scores.iter().filter(|&&s| s > t).count();
        let (n, a0, a3, a5, a7) = (scores.len(), above(0.0), above(0.3), above(0.5), above(0.7));
        let collisions = r.collisions.artifact().all().len();
        println!(
            "window ({minutes} min ending {end}): {n} vessels, spoofing > 0: {a0}, > 0.3: {a3}, > 0.5: {a5}, > 0.7: {a7}; collisions: {collisions}"
        );
        assert!(n > 5_000, "{n}");
        assert!(a7 > 0, "some vessels must score high");
        assert!(a0 * 20 < n, "a quiet sea mostly scores 0: {a0} of {n}");
        assert!(a5 * 100 < n, "fewer than 1% above 0.5: {a5} of {n}");
    }
}

#[test]
fn results_do_not_depend_on_row_order_or_repetition() {
    let (bounds, raw) = raw_window(at(0, 25), 25);
    let mut shuffled = raw.clone();
    shuffled.reverse();
    shuffled.rotate_left(12_345);
    let (w1, s1) = clean(bounds, raw);
    let (w2, s2) = clean(bounds, shuffled);
    assert_eq!(s1, s2);
    let r1 = run_legacy(at(0, 25), &w1).unwrap();
    let r2 = run_legacy(at(0, 25), &w2).unwrap();
    let r3 = run_legacy(at(0, 25), &w1).unwrap();
    for other in [&r2, &r3] {
        assert_eq!(r1.tracks.rows(), other.tracks.rows());
        assert_eq!(r1.identity.rows(), other.identity.rows());
        assert_eq!(r1.spoofing.rows(), other.spoofing.rows());
        assert_eq!(r1.collisions.rows(), other.collisions.rows());
        assert_eq!(r1.risk.rows(), other.risk.rows());
        assert_eq!(
            r1.tracks.output().metrics(),
            other.tracks.output().metrics()
        );
        assert_eq!(r1.events(), other.events());
    }
}
