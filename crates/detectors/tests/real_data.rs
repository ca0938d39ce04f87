//! The reference models on the bundled real AIS sample (2022-01-03).

mod common;

use std::collections::BTreeSet;

use common::{at, raw_window, replay, sample, whole_day, window};
use detectors::{
    EventCategory, IdentityClass, IdentityProblem, Severity, TrackParams, clean, run_legacy,
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
    // The switches between the two places are a collision and a teleport;
    // neither track is fast in itself, so no SPEED_ANOMALY.
    assert_eq!(
        events,
        [EventCategory::Spoofing, EventCategory::IdentityCollision]
    );
}

/// The fixes (California at 00:00:44 and 00:06:45, Gulf otherwise, last at
/// 00:18:36) put both California fixes inside the window ending 00:10 only.
/// Alone, the window ending 00:15 holds one California fix: a lone far fix,
/// which is no evidence. Replayed as the pipeline runs them, each cycle
/// carrying its confirmed places to the next, the 00:15 cycle knows the
/// California place and sees the switch back, and the collision goes on
/// while the Gulf transmitter keeps reporting and the California place is
/// remembered (30 minutes).
#[test]
fn mmsi_211002010_in_ten_minute_windows() {
    // Alone.
    let alone = [
        (at(0, 10), Some((3, Severity::Critical))),
        (at(0, 15), None),
    ];
    for (end, want) in alone {
        let (w, _) = window(end, 10);
        let r = run_legacy(end, &w).unwrap();
        let got = r
            .collisions
            .artifact()
            .get(SHARED_MMSI)
            .map(|c| (c.hops, c.severity));
        assert_eq!(got, want, "window ending {end} alone");
    }
    // Replayed with carried state.
    let replayed = replay(at(0, 5), at(0, 30));
    let got: Vec<_> = replayed
        .iter()
        .map(|(end, r)| {
            let c = r.collisions.artifact().get(SHARED_MMSI);
            let s = r.spoofing.artifact().get(SHARED_MMSI).map(|s| s.score);
            (*end, c.map(|c| c.severity), s.is_some_and(|s| s >= 0.7))
        })
        .collect();
    assert_eq!(
        got,
        [
            (at(0, 5), None, false), // one California fix so far: unconfirmed
            (at(0, 10), Some(Severity::Critical), true),
            (at(0, 15), Some(Severity::High), true),
            (at(0, 20), Some(Severity::Medium), true),
            (at(0, 25), Some(Severity::Medium), true),
            (at(0, 30), None, false),
        ]
    );
}

/// Issue 14: identities per ITU-R M.585, with the leading zeros the
/// integer column lost restored.
#[test]
fn identities_are_classified_per_itu_r_m585_on_the_sample() {
    let (w, _) = whole_day();
    let r = run_legacy(at(0, 25), &w).unwrap();
    let ids = r.identity.artifact();
    let events: BTreeSet<i64> = r
        .events()
        .into_iter()
        .filter(|e| e.category == EventCategory::InvalidMmsi)
        .map(|e| e.mmsi)
        .collect();
    let valid = [
        (3_669_881, IdentityClass::CoastStation, "003669881"),
        (3_669_884, IdentityClass::CoastStation, "003669884"),
        (7_751_005, IdentityClass::CoastStation, "007751005"),
        (983_105_007, IdentityClass::CraftOfParentShip, "983105007"),
        (983_191_051, IdentityClass::CraftOfParentShip, "983191051"),
        (985_226_000, IdentityClass::CraftOfParentShip, "985226000"),
        (985_346_207, IdentityClass::CraftOfParentShip, "985346207"),
        (972_971_214, IdentityClass::ManOverboard, "972971214"),
        (36_926_403, IdentityClass::Group, "036926403"),
    ];
    for (mmsi, class, text) in valid {
        let v = ids
            .get(mmsi)
            .unwrap_or_else(|| panic!("{mmsi} not in the sample"));
        assert_eq!((v.class, v.is_valid()), (class, true), "{mmsi}");
        assert_eq!(v.mmsi_text(), text);
        assert!(!events.contains(&mmsi), "{mmsi} has an INVALID_MMSI event");
        let s = r.spoofing.artifact().get(mmsi).unwrap();
        assert!(!s.invalid_identity && s.score == 0.0, "{mmsi}: {s:?}");
        // The identity model's row names the class, under the nine-digit key.
        let row = r.identity.rows().iter().find(|row| row.entity_key == text);
        let row = row.unwrap_or_else(|| panic!("no identity row {text}"));
        assert_eq!(row.score, 0.0);
        assert_eq!(row.payload.as_ref().unwrap()["class"], class.as_str());
    }
    let invalid = [
        (386_168_180, IdentityProblem::UnassignedMid(386)),
        (386_115_820, IdentityProblem::UnassignedMid(386)),
        (388_141_702, IdentityProblem::UnassignedMid(388)),
        (583_071_265, IdentityProblem::UnassignedMid(583)),
        (12_345_678, IdentityProblem::UnassignedMid(123)),
        (9_110_192, IdentityProblem::UnassignedMid(911)),
        (999_999_999, IdentityProblem::UnassignedMid(999)),
        (122_292_919, IdentityProblem::NoFormat),
        (1_072_211_352, IdentityProblem::NotNineDigits),
    ];
    for (mmsi, problem) in invalid {
        let v = ids
            .get(mmsi)
            .unwrap_or_else(|| panic!("{mmsi} not in the sample"));
        assert_eq!(
            (v.class, v.problem),
            (IdentityClass::Invalid, Some(problem)),
            "{mmsi}"
        );
        assert!(events.contains(&mmsi), "{mmsi} has no INVALID_MMSI event");
        assert!(r.spoofing.artifact().get(mmsi).unwrap().invalid_identity);
    }
    let e = r
        .events()
        .into_iter()
        .find(|e| e.mmsi == 12_345_678 && e.category == EventCategory::InvalidMmsi)
        .unwrap();
    assert_eq!(e.details["mmsi"], "012345678");
    assert_eq!(e.details["problem"], "UNASSIGNED_MID");
    // Every INVALID identity of the day has its event; nothing else has one.
    let all_invalid: BTreeSet<i64> = ids.invalid().map(|v| v.mmsi).collect();
    assert_eq!(all_invalid, events);
    let counts = ids.class_counts();
    println!("identity classes over the day: {counts:?}");
    assert!(
        counts
            .iter()
            .all(|(c, n)| *c != IdentityClass::Ship || *n > 7_000)
    );
}

/// Issue 14: stale reports stamped 00:00:00-00:00:0x far from a vessel's
/// consistent track are glitches, not evidence.
#[test]
fn stale_midnight_reports_score_below_half() {
    let cases = [
        (311_000_923, "CMA CGM MARCO POLO"),
        (316_020_871, "SEASPAN EAGLE"),
        (538_006_167, "GLOVIS CAPTAIN"),
        (367_353_080, "EMPIRE STATE"),
    ];
    let (w25, _) = window(at(0, 25), 25);
    let mut runs = vec![(at(0, 25), run_legacy(at(0, 25), &w25).unwrap())];
    runs.extend(replay(at(0, 5), at(0, 25)));
    for (mmsi, name) in cases {
        let mut glitches = 0;
        for (end, r) in &runs {
            let Some(s) = r.spoofing.artifact().get(mmsi) else {
                continue;
            };
            assert!(s.score < 0.5, "{name} {mmsi} at {end}: {s:?}");
            assert!(
                r.collisions.artifact().get(mmsi).is_none(),
                "{name} at {end}"
            );
            glitches += s.glitches;
            let id = r.identity.artifact().get(mmsi).unwrap();
            assert_eq!(id.name.as_deref(), Some(name));
        }
        assert!(
            glitches > 0,
            "{name}: the stale fixes must be counted as glitches"
        );
    }
}

/// Issue 14: collisions by physics on the sample's real cases.
#[test]
fn bobalou_collides_amore_mia_does_not_and_seaside_blonde_is_caught() {
    const BOBALOU: i64 = 367_654_150;
    const AMORE_MIA: i64 = 338_415_278;
    const SEASIDE_BLONDE: i64 = 367_654_040;
    let runs = replay(at(0, 5), at(0, 35));
    let collided = |mmsi: i64| -> Vec<_> {
        runs.iter()
            .filter_map(|(end, r)| r.collisions.artifact().get(mmsi).map(|c| (*end, c.clone())))
            .collect()
    };
    let b = collided(BOBALOU);
    assert!(!b.is_empty(), "BOBALOU: two boats on one MMSI, 48 km apart");
    assert!(
        b.iter()
            .any(|(_, c)| c.hops >= 2 && c.max_distance_km > 45.0),
        "{b:?}"
    );
    assert!(
        collided(AMORE_MIA).is_empty(),
        "AMORE MIA: two incompatible lone fixes"
    );
    let s = collided(SEASIDE_BLONDE);
    assert!(
        !s.is_empty(),
        "SEASIDE BLONDE: Florida, then Chesapeake Bay"
    );
    assert!(s.iter().all(|(_, c)| c.max_distance_km > 1_000.0), "{s:?}");
    for (end, r) in &runs {
        if let Some(v) = r.spoofing.artifact().get(AMORE_MIA) {
            assert!(v.score < 0.5, "AMORE MIA at {end}: {v:?}");
        }
    }
    // And over the whole replay the real sample flags exactly these, plus 211002010.
    let flagged: BTreeSet<i64> = runs
        .iter()
        .flat_map(|(_, r)| r.collisions.artifact().all().iter().map(|c| c.mmsi))
        .collect();
    assert_eq!(
        flagged,
        BTreeSet::from([SHARED_MMSI, SEASIDE_BLONDE, BOBALOU])
    );
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
    // 53 reports share their (mmsi, ts) with another: 13 at the same place
    // (one message through two stations, dropped), the others at other
    // places, kept as evidence (65 fixes in such groups).
    assert_eq!(stats.duplicates, 13);
    assert_eq!(stats.same_time_elsewhere, 65);
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
        detectors::track_features(&clean_w, &p).unwrap(),
        detectors::track_features(&dirty_w, &p).unwrap(),
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
        detectors::track_features(&with_w, &p).unwrap(),
        detectors::track_features(&without_w, &p).unwrap(),
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
        // The 5-minute window ending 00:25 holds no confirmed evidence on
        // its own (211002010's switches are earlier; see the replay test).
        if minutes >= 10 {
            assert!(a7 > 0, "some vessels must score high");
        } else {
            assert_eq!(a5, 0, "a lone window of 5 minutes confirms nothing here");
        }
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

/// The pipeline's stage 3 runs `track_features` without its rows: its
/// artifact is the model's, field for field, on real windows.
#[test]
fn the_rowless_track_features_artifact_is_the_models() {
    for (end, minutes) in [(at(0, 10), 10), (at(0, 20), 5), (at(0, 25), 25)] {
        let (w, _) = window(end, minutes);
        let model = detectors::legacy::track_features(end, &w).unwrap();
        let rowless = detectors::legacy::track_features_artifact(end, &w).unwrap();
        assert!(!model.rows().is_empty());
        assert!(rowless.rows().is_empty());
        let (a, b) = (model.artifact(), rowless.artifact());
        assert_eq!(a.vessels(), b.vessels());
        assert_eq!(
            (a.fix_count(), a.segment_count(), a.glitch_count()),
            (b.fix_count(), b.segment_count(), b.glitch_count())
        );
        for v in a.vessels() {
            assert_eq!(a.roles(v), b.roles(v));
            assert_eq!(a.segments(v), b.segments(v));
        }
        assert_eq!(a.carry_forward(end), b.carry_forward(end));
    }
}
