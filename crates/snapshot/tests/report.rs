//! Reports on fixture states written into a real database, at fixed times,
//! pinned with insta snapshots of the text and JSON renderings.

use chrono::{DateTime, Utc};
use snapshot::compare::Flags;
use snapshot::{Kind, Options, Report, Verdict};
use test_support::TestDb;
use tokio_postgres::Client;

/// Every hourly report below covers [00:00, 01:00).
const AT: &str = "2022-01-03T01:00:00Z";

fn at() -> DateTime<Utc> {
    AT.parse().expect("fixed time")
}

fn ts(s: &str) -> DateTime<Utc> {
    s.parse().expect("fixed time")
}

async fn hourly(client: &Client) -> Report {
    snapshot::hourly(client, at()).await.expect("hourly report")
}

async fn diagnostic(client: &Client) -> Report {
    snapshot::diagnostic(client, at())
        .await
        .expect("diagnostic report")
}

fn json(report: &Report) -> String {
    report.render_json().expect("json")
}

/// Writes one `vessel_analysis` row per `(mmsi, score)` for each cycle.
async fn scores(client: &Client, cycles: &[&str], scores: &[(i64, f32)]) {
    for cycle in cycles {
        for (mmsi, score) in scores {
            client
                .execute(
                    "INSERT INTO kcg.vessel_analysis
                         (cycle_ts, mmsi, spoofing_score, fixes, identity_valid, vessel_name)
                     VALUES ($1, $2, $3, 12, true, $4)",
                    &[&ts(cycle), mmsi, score, &format!("VESSEL {mmsi}")],
                )
                .await
                .expect("insert vessel_analysis");
        }
    }
}

const IN_HOUR: [&str; 3] = [
    "2022-01-03T00:05:00Z",
    "2022-01-03T00:10:00Z",
    "2022-01-03T00:15:00Z",
];

/// Rows at the window's edges: the cycle stamped `at` itself and one just
/// before the start. Neither belongs to the hourly window; both carry high
/// scores, so counting either would change the verdict.
async fn scores_outside_window(client: &Client) {
    scores(
        client,
        &["2022-01-03T01:00:00Z", "2022-01-02T23:59:59Z"],
        &[(366000009, 0.99)],
    )
    .await;
}

#[tokio::test]
async fn no_input_on_an_empty_database() {
    let db = TestDb::new().await;
    let client = db.client().await;

    let report = hourly(&client).await;
    assert_eq!(report.spoofing.verdict, Verdict::NoInput);
    assert!(
        !report.in_alarm(),
        "empty tables are findings, not alarms: {:?}",
        report.alarms
    );
    insta::assert_snapshot!("no_input_hourly_text", report.render_text());
    insta::assert_snapshot!("no_input_hourly_json", json(&report));

    let report = diagnostic(&client).await;
    assert!(!report.in_alarm());
    insta::assert_snapshot!("no_input_diagnostic_text", report.render_text());
    insta::assert_snapshot!("no_input_diagnostic_json", json(&report));
}

#[tokio::test]
async fn silent_fault_when_every_score_is_zero() {
    let db = TestDb::new().await;
    let client = db.client().await;
    scores(
        &client,
        &IN_HOUR,
        &[
            (366000001, 0.0),
            (366000002, 0.0),
            (366000003, 0.0),
            (366000004, 0.0),
        ],
    )
    .await;
    scores_outside_window(&client).await;

    let report = hourly(&client).await;
    assert_eq!(report.spoofing.verdict, Verdict::SilentFault);
    assert_eq!(report.sections_in_alarm(), vec!["spoofing"]);
    assert_eq!(
        (
            report.spoofing.vessels,
            report.spoofing.rows,
            report.spoofing.cycles
        ),
        (4, 12, 3)
    );
    insta::assert_snapshot!("silent_fault_hourly_text", report.render_text());
    insta::assert_snapshot!("silent_fault_hourly_json", json(&report));
}

#[tokio::test]
async fn no_signal_when_scores_move_but_none_is_above_half() {
    let db = TestDb::new().await;
    let client = db.client().await;
    // 0.3 and 0.5 sit exactly on band edges: "> 0.3" and "> 0.5" exclude them.
    scores(
        &client,
        &IN_HOUR,
        &[
            (366000001, 0.0),
            (366000002, 0.1),
            (366000003, 0.3),
            (366000004, 0.5),
        ],
    )
    .await;
    scores_outside_window(&client).await;

    let report = hourly(&client).await;
    assert_eq!(report.spoofing.verdict, Verdict::NoSignal);
    assert_eq!(report.spoofing.bands.gt_0, 3);
    assert_eq!(report.spoofing.bands.gt_0_3, 1);
    assert_eq!(report.spoofing.bands.gt_0_5, 0);
    assert!(
        !report.in_alarm(),
        "a quiet sea is not an alarm: {:?}",
        report.alarms
    );
    insta::assert_snapshot!("no_signal_hourly_text", report.render_text());
    insta::assert_snapshot!("no_signal_hourly_json", json(&report));
}

#[tokio::test]
async fn signal_with_top_vessels_in_the_diagnostic() {
    let db = TestDb::new().await;
    let client = db.client().await;
    scores(
        &client,
        &IN_HOUR,
        &[(366000001, 0.0), (366000002, 0.31), (366000003, 0.6)],
    )
    .await;
    // One vessel peaks in one cycle only: it counts once, at its highest.
    scores(&client, &["2022-01-03T00:10:00Z"], &[(366000004, 0.95)]).await;
    scores(&client, &["2022-01-03T00:15:00Z"], &[(366000004, 0.2)]).await;
    // Earlier the same day: inside the diagnostic window only.
    scores(&client, &["2022-01-02T12:00:00Z"], &[(366000005, 0.75)]).await;

    let report = hourly(&client).await;
    assert_eq!(report.spoofing.verdict, Verdict::Signal);
    assert_eq!(report.spoofing.vessels, 4);
    assert_eq!(report.spoofing.bands.gt_0_7, 1);
    insta::assert_snapshot!("signal_hourly_text", report.render_text());
    insta::assert_snapshot!("signal_hourly_json", json(&report));

    let report = diagnostic(&client).await;
    assert_eq!(report.spoofing.vessels, 5);
    insta::assert_snapshot!("signal_diagnostic_text", report.render_text());
    insta::assert_snapshot!("signal_diagnostic_json", json(&report));
}

/// Events keyed on `event_ts`: the one found by the 01:00 cycle happened
/// at 00:59:59 and belongs to hour 00:00; the 01:00 events belong to the
/// next hour, outside the hourly window.
const EVENTS: &str = "
INSERT INTO kcg.prediction_events (cycle_ts, event_ts, category, mmsi, severity) VALUES
    ('2022-01-03T00:05:00Z', '2022-01-03T00:04:10Z', 'IDENTITY_INVALID', 123, 'MEDIUM'),
    ('2022-01-03T01:00:00Z', '2022-01-03T00:59:59Z', 'IDENTITY_INVALID', 456, 'MEDIUM'),
    ('2022-01-03T00:30:00Z', '2022-01-03T00:29:00Z', 'SPEED_JUMP', 366000001, 'HIGH'),
    ('2022-01-03T01:05:00Z', '2022-01-03T01:00:00Z', 'IDENTITY_INVALID', 789, 'LOW');";

#[tokio::test]
async fn drift_absent_when_stats_match_events() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(EVENTS).await.expect("events");
    client
        .batch_execute(
            "INSERT INTO kcg.prediction_stats_hourly (hour, category, event_count) VALUES
                 ('2022-01-03T00:00:00Z', 'IDENTITY_INVALID', 2),
                 ('2022-01-03T00:00:00Z', 'SPEED_JUMP', 1),
                 ('2022-01-03T00:00:00Z', 'COLLISION', 0),
                 ('2022-01-03T01:00:00Z', 'IDENTITY_INVALID', 1);",
        )
        .await
        .expect("stats");

    let report = hourly(&client).await;
    assert_eq!(report.drift.compared, 3);
    assert_eq!(report.drift.mismatches, 0);
    assert!(!report.drift.alarm);
    insta::assert_snapshot!("drift_absent_hourly_text", report.render_text());
    insta::assert_snapshot!("drift_absent_hourly_json", json(&report));
}

#[tokio::test]
async fn drift_present_lists_every_mismatch() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(EVENTS).await.expect("events");
    client
        .batch_execute(
            // IDENTITY_INVALID one too many, SPEED_JUMP missing, COLLISION
            // counted without events; the 01:00 hour and the noon hour of
            // the day before are right.
            "INSERT INTO kcg.prediction_stats_hourly (hour, category, event_count) VALUES
                 ('2022-01-03T00:00:00Z', 'IDENTITY_INVALID', 3),
                 ('2022-01-03T00:00:00Z', 'COLLISION', 2),
                 ('2022-01-03T01:00:00Z', 'IDENTITY_INVALID', 1),
                 ('2022-01-02T12:00:00Z', 'SPEED_JUMP', 1);
             INSERT INTO kcg.prediction_events (cycle_ts, event_ts, category, mmsi, severity) VALUES
                 ('2022-01-02T12:20:00Z', '2022-01-02T12:17:00Z', 'SPEED_JUMP', 366000002, 'HIGH');",
        )
        .await
        .expect("stats");

    let report = hourly(&client).await;
    assert_eq!(report.drift.mismatches, 3);
    assert_eq!(report.sections_in_alarm(), vec!["drift"]);
    assert_eq!(
        report.alarms.len(),
        3,
        "one alarm line per mismatch: {:?}",
        report.alarms
    );
    insta::assert_snapshot!("drift_present_hourly_text", report.render_text());
    insta::assert_snapshot!("drift_present_hourly_json", json(&report));

    // The diagnostic window [2022-01-02T01:00, 2022-01-03T01:00) also
    // holds the matching noon hour of the day before.
    let report = diagnostic(&client).await;
    assert_eq!((report.drift.compared, report.drift.mismatches), (4, 3));
    insta::assert_snapshot!("drift_present_diagnostic_text", report.render_text());
}

/// One model with a PRIMARY, a SHADOW that fails twice in three cycles and
/// a CHALLENGER that disagrees; a second model skipped every cycle.
const MODELS: &str = "
INSERT INTO kcg.detection_models (model_id, description) VALUES
    ('speed_anomaly', 'implied speed between fixes'),
    ('dark_vessel', 'gaps in reporting');
INSERT INTO kcg.detection_model_versions (id, model_id, version, role, status, activated_at) VALUES
    (1, 'speed_anomaly', '1.0.0', 'PRIMARY', 'ACTIVE', '2022-01-01T00:00:00Z'),
    (2, 'speed_anomaly', '1.1.0-rc1', 'SHADOW', 'ACTIVE', '2022-01-02T00:00:00Z'),
    (3, 'speed_anomaly', '2.0.0-exp', 'CHALLENGER', 'ACTIVE', '2022-01-02T00:00:00Z'),
    (4, 'speed_anomaly', '0.9.0', 'PRIMARY', 'ARCHIVED', '2021-12-01T00:00:00Z');
INSERT INTO kcg.detection_model_runs
    (cycle_ts, model_id, version_id, role, status, error, started_at, duration_ms, output_count, dropped_metric_count)
VALUES
    ('2022-01-03T00:05:00Z', 'speed_anomaly', 1, 'PRIMARY', 'OK', NULL, '2022-01-03T00:05:01Z', 120, 3, 0),
    ('2022-01-03T00:05:00Z', 'speed_anomaly', 2, 'SHADOW', 'FAILED',
        E'panicked at src/lib.rs:10:5:\\nindex out of bounds', '2022-01-03T00:05:01Z', 5, 0, 0),
    ('2022-01-03T00:05:00Z', 'speed_anomaly', 3, 'CHALLENGER', 'OK', NULL, '2022-01-03T00:05:01Z', 200, 3, 0),
    ('2022-01-03T00:05:00Z', 'dark_vessel', NULL, NULL, 'SKIPPED', 'no ACTIVE PRIMARY', NULL, 0, 0, 0),
    ('2022-01-03T00:10:00Z', 'speed_anomaly', 1, 'PRIMARY', 'OK', NULL, '2022-01-03T00:10:01Z', 100, 3, 0),
    ('2022-01-03T00:10:00Z', 'speed_anomaly', 2, 'SHADOW', 'TIMEOUT',
        'timed out after 2000 ms', '2022-01-03T00:10:01Z', 2000, 0, 0),
    ('2022-01-03T00:10:00Z', 'speed_anomaly', 3, 'CHALLENGER', 'OK', NULL, '2022-01-03T00:10:01Z', 180, 2, 0),
    ('2022-01-03T00:10:00Z', 'dark_vessel', NULL, NULL, 'SKIPPED', 'no ACTIVE PRIMARY', NULL, 0, 0, 0),
    ('2022-01-03T00:15:00Z', 'speed_anomaly', 1, 'PRIMARY', 'OK', NULL, '2022-01-03T00:15:01Z', 140, 3, 1),
    ('2022-01-03T00:15:00Z', 'speed_anomaly', 2, 'SHADOW', 'OK', NULL, '2022-01-03T00:15:01Z', 90, 3, 0),
    ('2022-01-03T00:15:00Z', 'speed_anomaly', 3, 'CHALLENGER', 'OK', NULL, '2022-01-03T00:15:01Z', 210, 3, 0),
    ('2022-01-03T00:15:00Z', 'dark_vessel', NULL, NULL, 'SKIPPED', 'no ACTIVE PRIMARY', NULL, 0, 0, 0);
INSERT INTO kcg.detection_model_run_outputs (cycle_ts, model_id, version_id, role, entity_key, score) VALUES
    ('2022-01-03T00:05:00Z', 'speed_anomaly', 1, 'PRIMARY', 'mmsi:1', 0.9),
    ('2022-01-03T00:05:00Z', 'speed_anomaly', 1, 'PRIMARY', 'mmsi:2', 0.2),
    ('2022-01-03T00:05:00Z', 'speed_anomaly', 1, 'PRIMARY', 'mmsi:3', 0.6),
    ('2022-01-03T00:10:00Z', 'speed_anomaly', 1, 'PRIMARY', 'mmsi:1', 0.9),
    ('2022-01-03T00:10:00Z', 'speed_anomaly', 1, 'PRIMARY', 'mmsi:2', 0.2),
    ('2022-01-03T00:10:00Z', 'speed_anomaly', 1, 'PRIMARY', 'mmsi:3', 0.6),
    ('2022-01-03T00:15:00Z', 'speed_anomaly', 1, 'PRIMARY', 'mmsi:1', 0.9),
    ('2022-01-03T00:15:00Z', 'speed_anomaly', 1, 'PRIMARY', 'mmsi:2', 0.2),
    ('2022-01-03T00:15:00Z', 'speed_anomaly', 1, 'PRIMARY', 'mmsi:3', 0.6),
    ('2022-01-03T00:15:00Z', 'speed_anomaly', 2, 'SHADOW', 'mmsi:1', 0.8),
    ('2022-01-03T00:15:00Z', 'speed_anomaly', 2, 'SHADOW', 'mmsi:2', 0.3),
    ('2022-01-03T00:15:00Z', 'speed_anomaly', 2, 'SHADOW', 'mmsi:3', 0.4),
    ('2022-01-03T00:05:00Z', 'speed_anomaly', 3, 'CHALLENGER', 'mmsi:1', 1.0),
    ('2022-01-03T00:05:00Z', 'speed_anomaly', 3, 'CHALLENGER', 'mmsi:2', 0.0),
    ('2022-01-03T00:05:00Z', 'speed_anomaly', 3, 'CHALLENGER', 'mmsi:4', 0.7),
    ('2022-01-03T00:10:00Z', 'speed_anomaly', 3, 'CHALLENGER', 'mmsi:1', 1.0),
    ('2022-01-03T00:10:00Z', 'speed_anomaly', 3, 'CHALLENGER', 'mmsi:3', 1.0),
    ('2022-01-03T00:15:00Z', 'speed_anomaly', 3, 'CHALLENGER', 'mmsi:1', 1.0),
    ('2022-01-03T00:15:00Z', 'speed_anomaly', 3, 'CHALLENGER', 'mmsi:2', 0.0),
    ('2022-01-03T00:15:00Z', 'speed_anomaly', 3, 'CHALLENGER', 'mmsi:3', 1.0);
INSERT INTO kcg.detection_model_metrics (cycle_ts, version_id, metric_key, value) VALUES
    ('2022-01-03T00:05:00Z', 1, 'vessels', 3),
    ('2022-01-03T00:10:00Z', 1, 'vessels', 3),
    ('2022-01-03T00:15:00Z', 1, 'vessels', 3),
    ('2022-01-03T00:05:00Z', 3, 'vessels', 3);";

#[tokio::test]
async fn failing_shadow_is_reported_but_not_an_alarm() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(MODELS).await.expect("models fixture");

    let report = hourly(&client).await;
    let m = &report.models;
    assert!(
        !m.alarm,
        "a failing SHADOW must not alarm: {:?}",
        report.alarms
    );
    assert_eq!(
        (
            m.runs.total,
            m.runs.ok,
            m.runs.failed,
            m.runs.timeout,
            m.runs.skipped
        ),
        (12, 7, 1, 1, 3)
    );
    let shadow = m
        .versions
        .iter()
        .find(|v| v.version_id == 2)
        .expect("shadow row");
    assert_eq!(shadow.failure_rate.map(|r| (r * 3.0).round()), Some(2.0));

    // SHADOW: one cycle where both ran OK, the same 3 entities, two of
    // three on the same side of 0.5, differences 0.1, 0.1, 0.2.
    let shadow = m
        .comparisons
        .iter()
        .find(|c| c.candidate.version_id == 2)
        .expect("shadow comparison");
    assert_eq!(shadow.baseline.version_id, 1);
    assert_eq!(
        (
            shadow.cycles,
            shadow.rows.shared,
            shadow.entities,
            shadow.population
        ),
        (1, 3, 3, 3)
    );
    assert_eq!(
        shadow.flags,
        Flags {
            both: 1,
            only_baseline: 1,
            only_candidate: 0,
            neither: 1
        }
    );
    assert!(
        (shadow.mean_abs_diff.expect("mad") - 0.4 / 3.0).abs() < 1e-6,
        "rounded to 6 significant digits"
    );
    assert!(
        (shadow.agreement.expect("agreement") - 2.0 / 3.0).abs() < 1e-6,
        "rounded to 6 significant digits"
    );
    // CHALLENGER: 9 PRIMARY and 8 candidate rows, 7 shared, 10 entities
    // (a missing score is 0: mmsi:3 at 00:05 and mmsi:4 are flags of one
    // version only), 2 of them on different sides of 0.5.
    let challenger = m
        .comparisons
        .iter()
        .find(|c| c.candidate.version_id == 3)
        .expect("challenger comparison");
    assert_eq!(
        (
            challenger.cycles,
            challenger.rows.baseline,
            challenger.rows.candidate,
            challenger.rows.shared,
            challenger.entities,
        ),
        (3, 9, 8, 7, 10)
    );
    assert_eq!(
        challenger.flags,
        Flags {
            both: 5,
            only_baseline: 1,
            only_candidate: 1,
            neither: 3
        }
    );
    assert_eq!(challenger.agreement, Some(0.8));
    assert_eq!(challenger.mean_abs_diff, Some(0.3));
    let top: Vec<(&str, f64, f64, i64)> = challenger
        .top_divergent
        .iter()
        .map(|d| {
            (
                d.entity_key.as_str(),
                d.baseline_score,
                d.candidate_score,
                d.diverging_cycles,
            )
        })
        .collect();
    assert_eq!(
        top,
        vec![
            ("mmsi:4", 0.0, 0.7, 1),
            ("mmsi:3", 0.6, 0.0, 3),
            ("mmsi:2", 0.2, 0.0, 3),
            ("mmsi:1", 0.9, 1.0, 3),
        ]
    );

    insta::assert_snapshot!("failing_shadow_hourly_text", report.render_text());
    insta::assert_snapshot!("failing_shadow_hourly_json", json(&report));

    let report = diagnostic(&client).await;
    assert_eq!(report.models.failed_runs.as_ref().map(Vec::len), Some(2));
    insta::assert_snapshot!("failing_shadow_diagnostic_text", report.render_text());
    insta::assert_snapshot!("failing_shadow_diagnostic_json", json(&report));
}

#[tokio::test]
async fn failing_primary_is_an_alarm() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(MODELS).await.expect("models fixture");
    client
        .batch_execute(
            "INSERT INTO kcg.detection_model_runs
                 (cycle_ts, model_id, version_id, role, status, error, duration_ms)
             VALUES ('2022-01-03T00:20:00Z', 'speed_anomaly', 1, 'PRIMARY', 'TIMEOUT', 'timed out after 2000 ms', 2000);",
        )
        .await
        .expect("primary timeout");

    let report = hourly(&client).await;
    assert_eq!(report.sections_in_alarm(), vec!["models"]);
    assert_eq!(
        report.alarms,
        vec![
            "models: PRIMARY speed_anomaly version 1.0.0: 0 FAILED, 1 TIMEOUT and 0 SKIPPED of 4 runs"
                .to_owned()
        ]
    );
    insta::assert_snapshot!("failing_primary_hourly_text", report.render_text());
}

/// A PRIMARY skipped once (with one run record per version, as the
/// executor writes a model left out) and one that runs OK but stores
/// nothing while stage 1 loaded positions: both alarms, naming the model.
#[tokio::test]
async fn a_skipped_or_blind_primary_is_an_alarm() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO kcg.detection_models (model_id) VALUES ('risk'), ('quiet'), ('blind');
             INSERT INTO kcg.detection_model_versions (id, model_id, version, role, status) VALUES
                 (11, 'risk', '1.0.0', 'PRIMARY', 'ACTIVE'),
                 (12, 'risk', '1.1.0', 'SHADOW', 'ACTIVE'),
                 (13, 'quiet', '1.0.0', 'PRIMARY', 'ACTIVE'),
                 (14, 'blind', '1.0.0', 'PRIMARY', 'ACTIVE');
             INSERT INTO kcg.detection_model_runs
                 (cycle_ts, model_id, version_id, role, status, error, duration_ms, output_count)
             VALUES
                 ('2022-01-03T00:05:00Z', 'risk', 11, 'PRIMARY', 'OK', NULL, 5, 2),
                 ('2022-01-03T00:05:00Z', 'risk', 12, 'SHADOW', 'OK', NULL, 5, 2),
                 ('2022-01-03T00:10:00Z', 'risk', 11, 'PRIMARY', 'SKIPPED', 'upstream spoofing_score unavailable', 0, 0),
                 ('2022-01-03T00:10:00Z', 'risk', 12, 'SHADOW', 'SKIPPED', 'upstream spoofing_score unavailable', 0, 0),
                 -- quiet: nothing stored, but no positions either (a quiet sea)
                 ('2022-01-03T00:20:00Z', 'quiet', 13, 'PRIMARY', 'OK', NULL, 5, 0),
                 ('2022-01-03T00:05:00Z', 'blind', 14, 'PRIMARY', 'OK', NULL, 5, 0),
                 ('2022-01-03T00:10:00Z', 'blind', 14, 'PRIMARY', 'OK', NULL, 5, 0);
             INSERT INTO kcg.prediction_stage_timings (cycle_ts, stage_no, stage_name, status, duration_ms, detail) VALUES
                 ('2022-01-03T00:05:00Z', 1, 'load_window', 'OK', 3,
                  '18438 positions in (2022-01-02 23:55:00 UTC, 2022-01-03 00:05:00 UTC]'),
                 ('2022-01-03T00:10:00Z', 1, 'load_window', 'OK', 3,
                  '35327 positions in (2022-01-03 00:00:00 UTC, 2022-01-03 00:10:00 UTC]'),
                 ('2022-01-03T00:20:00Z', 1, 'load_window', 'OK', 3,
                  '0 positions in (2022-01-03 00:10:00 UTC, 2022-01-03 00:20:00 UTC]');",
        )
        .await
        .expect("fixture");

    let report = hourly(&client).await;
    assert_eq!(
        report.alarms,
        vec![
            "models: PRIMARY blind version 1.0.0: no output in 2 OK runs while those cycles loaded 53765 positions"
                .to_owned(),
            "models: PRIMARY risk version 1.0.0: 0 FAILED, 0 TIMEOUT and 1 SKIPPED of 2 runs".to_owned(),
        ]
    );
    // The SHADOW skipped with it is reported, not alarmed.
    let shadow = report
        .models
        .versions
        .iter()
        .find(|v| v.version_id == 12)
        .expect("shadow runs");
    assert_eq!((shadow.runs.total, shadow.runs.skipped), (2, 1));
    let blind = report
        .models
        .versions
        .iter()
        .find(|v| v.version_id == 14)
        .expect("blind runs");
    assert_eq!((blind.outputs, blind.positions), (0, 53765));
}

const STAGES: [&str; 10] = [
    "load_window",
    "clean",
    "tracks",
    "identity",
    "spoofing",
    "collisions",
    "events",
    "stats",
    "partitions",
    "model_registry",
];

/// Ten stage rows for one cycle; `model_registry` is SKIPPED.
async fn stage_timings(client: &Client, cycle: &str, durations_ms: [f64; 10]) {
    for (i, (name, ms)) in STAGES.iter().zip(durations_ms).enumerate() {
        let no = i16::try_from(i + 1).expect("ten stages");
        let status = if *name == "model_registry" {
            "SKIPPED"
        } else {
            "OK"
        };
        client
            .execute(
                "INSERT INTO kcg.prediction_stage_timings (cycle_ts, stage_no, stage_name, status, duration_ms)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&ts(cycle), &no, name, &status, &ms],
            )
            .await
            .expect("insert stage timing");
    }
}

#[tokio::test]
async fn stage_over_budget_is_an_alarm() {
    let db = TestDb::new().await;
    let client = db.client().await;
    stage_timings(
        &client,
        IN_HOUR[0],
        [850.0, 40.0, 120.0, 5.0, 300.0, 60.0, 30.0, 10.0, 2.0, 0.0],
    )
    .await;
    // 70 s loading the window: this cycle is over the 60 s budget.
    stage_timings(
        &client,
        IN_HOUR[1],
        [
            70_000.0, 45.0, 130.0, 6.0, 320.0, 65.0, 35.0, 12.0, 2.5, 0.0,
        ],
    )
    .await;
    stage_timings(
        &client,
        IN_HOUR[2],
        [900.0, 42.0, 125.0, 5.5, 5_000.0, 62.0, 31.0, 11.0, 2.0, 0.0],
    )
    .await;
    // Exactly at `at`, and slow: outside the window.
    stage_timings(
        &client,
        AT,
        [99_000.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
    )
    .await;

    let report = hourly(&client).await;
    let t = &report.timing;
    assert_eq!((t.cycles, t.cycles_over_budget), (3, 1));
    assert_eq!(t.slowest_stage.as_deref(), Some("load_window"));
    assert_eq!(report.sections_in_alarm(), vec!["timing"]);
    insta::assert_snapshot!("over_budget_hourly_text", report.render_text());
    insta::assert_snapshot!("over_budget_hourly_json", json(&report));

    // The budget is configurable.
    let relaxed = snapshot::report(&client, Kind::Hourly, at(), &Options { budget_ms: 100_000 })
        .await
        .expect("report");
    assert_eq!(relaxed.timing.cycles_over_budget, 0);
    assert!(!relaxed.in_alarm(), "{:?}", relaxed.alarms);
}

#[tokio::test]
async fn failed_stage_is_an_alarm() {
    let db = TestDb::new().await;
    let client = db.client().await;
    stage_timings(
        &client,
        IN_HOUR[0],
        [850.0, 40.0, 120.0, 5.0, 300.0, 60.0, 30.0, 10.0, 2.0, 0.0],
    )
    .await;
    client
        .execute(
            "UPDATE kcg.prediction_stage_timings SET status = 'FAILED', detail = 'deadlock detected'
             WHERE stage_no = 6",
            &[],
        )
        .await
        .expect("fail a stage");

    let report = diagnostic(&client).await;
    assert_eq!(
        report.alarms,
        vec!["timing: stage 6 collisions FAILED in 1 of 1 cycles".to_owned()]
    );
    let rows = report
        .timing
        .failed_stage_rows
        .as_ref()
        .expect("diagnostic rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].detail.as_deref(), Some("deadlock detected"));
}

#[tokio::test]
async fn critical_open_collision_is_an_alarm_with_raw_rows_in_the_diagnostic() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO kcg.gear_identity_collisions
                 (mmsi, first_seen, last_seen, severity, status, max_distance_km, occurrences, resolved_at, details)
             VALUES
                 -- open, seen in the hour
                 (367000001, '2022-01-02T22:00:00Z', '2022-01-03T00:55:00Z', 'CRITICAL', 'OPEN', 2950.4, 40, NULL,
                  '{\"regions\": [\"Gulf of Mexico\", \"California\"]}'),
                 -- came and went inside the hour
                 (367000002, '2022-01-03T00:10:00Z', '2022-01-03T00:20:00Z', 'HIGH', 'RESOLVED', 310.0, 3,
                  '2022-01-03T00:25:00Z', '{}'),
                 -- resolved the day before: diagnostic only
                 (367000003, '2022-01-02T10:00:00Z', '2022-01-02T11:00:00Z', 'CRITICAL', 'RESOLVED', 900.0, 5,
                  '2022-01-02T11:05:00Z', '{}'),
                 -- stale but still OPEN: in both
                 (367000004, '2022-01-01T05:00:00Z', '2022-01-01T05:30:00Z', 'LOW', 'OPEN', 12.5, 2, NULL, '{}'),
                 -- first seen after `at`: in neither
                 (367000005, '2022-01-03T01:30:00Z', '2022-01-03T01:35:00Z', 'CRITICAL', 'OPEN', 50.0, 1, NULL, '{}');",
        )
        .await
        .expect("collisions fixture");

    let report = hourly(&client).await;
    assert_eq!(
        (report.collisions.total, report.collisions.critical_open),
        (3, 1)
    );
    assert_eq!(report.sections_in_alarm(), vec!["collisions"]);
    insta::assert_snapshot!("collisions_hourly_text", report.render_text());

    let report = diagnostic(&client).await;
    assert_eq!(report.collisions.total, 4);
    let rows = report
        .collisions
        .critical_open_rows
        .as_ref()
        .expect("raw rows");
    assert_eq!(
        rows.iter().map(|r| r.mmsi).collect::<Vec<_>>(),
        vec![367000001]
    );
    insta::assert_snapshot!("collisions_diagnostic_text", report.render_text());
    insta::assert_snapshot!("collisions_diagnostic_json", json(&report));
}

#[tokio::test]
async fn a_role_this_build_does_not_know_is_an_error_naming_the_column() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "ALTER TABLE kcg.detection_model_versions DROP CONSTRAINT detection_model_versions_role_check;
             INSERT INTO kcg.detection_models (model_id) VALUES ('m');
             INSERT INTO kcg.detection_model_versions (model_id, version, role, status)
             VALUES ('m', '1', 'CANARY', 'ACTIVE');",
        )
        .await
        .unwrap();
    let err = snapshot::hourly(&client, at()).await.unwrap_err();
    assert!(
        matches!(&err, snapshot::SnapshotError::Role { column, .. } if column == "role"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "snapshot section models: column role of a query on kcg.detection_model_versions cannot be decoded"
    );
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(cause.contains("\"CANARY\""), "{cause}");
}
