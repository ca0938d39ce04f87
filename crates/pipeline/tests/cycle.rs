//! The cycle end to end on the bundled real AIS sample, against a real
//! PostgreSQL.

use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use pipeline::{CycleOutcome, Pipeline, PipelineConfig, Stage, StageStatus};
use test_support::TestDb;
use tokio_postgres::Client;

fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn catalog() -> registry::Catalog {
    registry::Catalog::from_entries(detectors::catalog()).unwrap()
}

fn pipeline(use_registry: bool) -> Pipeline {
    Pipeline::new(
        PipelineConfig {
            use_registry,
            ..PipelineConfig::default()
        },
        catalog(),
    )
}

async fn with_sample() -> (TestDb, Client) {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/ais-2022-01-03-sample.csv.gz");
    let report = ingest::ingest_file(&mut client, &sample, &ingest::NoProgress)
        .await
        .unwrap();
    assert_eq!(report.rows_loaded, 74_731);
    (db, client)
}

/// The reference models, plus a SHADOW of spoofing_score with other
/// thresholds and a CHALLENGER of identity_collision, as the demo has them.
async fn register_models(client: &mut Client) {
    let done = pipeline::register_reference_models(client).await.unwrap();
    assert_eq!((done.models, done.edges, done.primaries), (5, 5, 5));
    let mut shadow = detectors::default_params("spoofing_score").unwrap();
    shadow["speed_floor_factor"] = 0.5.into();
    shadow["speed_full_factor"] = 1.0.into();
    let mut challenger = detectors::default_params("identity_collision").unwrap();
    challenger["min_switches"] = 2.into();
    for (model, version, role, params) in [
        ("spoofing_score", "1.1.0-shadow", "SHADOW", shadow),
        ("identity_collision", "2.0.0-rc1", "CHALLENGER", challenger),
    ] {
        client
            .execute(
                "INSERT INTO kcg.detection_model_versions (model_id, version, role, status, params) \
                 VALUES ($1, $2, $3, 'ACTIVE', $4)",
                &[&model, &version, &role, &params],
            )
            .await
            .unwrap();
    }
    // Registering twice changes nothing.
    let again = pipeline::register_reference_models(client).await.unwrap();
    assert_eq!((again.models, again.edges, again.primaries), (0, 0, 0));
}

async fn replay(p: &Pipeline, client: &mut Client, from: &str, to: &str) -> Vec<CycleOutcome> {
    let mut out = Vec::new();
    let mut t = ts(from);
    while t <= ts(to) {
        out.push(p.run_cycle(client, t).await.unwrap());
        t += TimeDelta::minutes(5);
    }
    out
}

async fn one(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

const COUNTS: &str = "SELECT (SELECT count(*) FROM kcg.vessel_analysis) \
    + 1000000 * (SELECT count(*) FROM kcg.prediction_events) \
    + 1000000000 * (SELECT count(*) FROM kcg.gear_identity_collisions)";

#[tokio::test]
async fn replay_on_real_data_with_the_registry_on() {
    let (_db, mut client) = with_sample().await;
    register_models(&mut client).await;
    let p = pipeline(true);
    let outcomes = replay(
        &p,
        &mut client,
        "2022-01-03T00:05:00Z",
        "2022-01-03T00:25:00Z",
    )
    .await;
    assert_eq!(outcomes.len(), 5);
    for o in &outcomes {
        assert!(o.failed.is_none(), "{:?}", o.failed);
        let registry = o.registry.as_ref().expect("stage 10 ran");
        assert_eq!(
            registry.versions.len(),
            7,
            "5 PRIMARY + SHADOW + CHALLENGER"
        );
        assert_eq!(registry.count(dag_exec::RunStatus::Ok), 7, "{registry:?}");
        assert!(
            o.stages.iter().all(|s| s.status == StageStatus::Ok),
            "{:?}",
            o.stages
        );
    }

    // MMSI 211002010: two transmitters, Gulf of Mexico and California.
    let row = client
        .query_one(
            "SELECT status, severity, occurrences FROM kcg.gear_identity_collisions WHERE mmsi = 211002010",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "OPEN");
    assert!(["HIGH", "CRITICAL"].contains(&row.get::<_, String>(1).as_str()));
    let score: f32 = client
        .query_one(
            "SELECT max(spoofing_score) FROM kcg.vessel_analysis WHERE mmsi = 211002010",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(score >= 0.7, "spoofing score {score}");

    // Every analysed identity found INVALID has an INVALID_MMSI event, and
    // no valid one has (the coast stations 003669881, 003669884 and 007751005
    // are not nine digits as integers, yet valid).
    let missing = one(
        &client,
        "SELECT count(*) FROM (SELECT DISTINCT mmsi FROM kcg.vessel_analysis \
           WHERE NOT identity_valid) v \
         WHERE NOT EXISTS (SELECT 1 FROM kcg.prediction_events e \
           WHERE e.category = 'INVALID_MMSI' AND e.mmsi = v.mmsi)",
    )
    .await;
    assert_eq!(missing, 0);
    let wrong = one(
        &client,
        "SELECT count(*) FROM kcg.prediction_events e WHERE e.category = 'INVALID_MMSI' \
           AND EXISTS (SELECT 1 FROM kcg.vessel_analysis v WHERE v.mmsi = e.mmsi AND v.identity_valid)",
    )
    .await;
    assert_eq!(wrong, 0);
    let invalid = one(
        &client,
        "SELECT count(DISTINCT mmsi) FROM kcg.vessel_analysis WHERE NOT identity_valid",
    )
    .await;
    assert!(
        invalid >= 5,
        "the sample has several invalid identities, found {invalid}"
    );
    let coast = one(
        &client,
        "SELECT count(DISTINCT mmsi) FROM kcg.vessel_analysis \
        WHERE mmsi IN (3669881, 3669884, 7751005) AND identity_valid",
    )
    .await;
    assert_eq!(coast, 3, "the coast stations are valid identities");
    let details: String = client
        .query_one(
            "SELECT details->>'mmsi' FROM kcg.prediction_events \
             WHERE category = 'INVALID_MMSI' AND mmsi = 12345678 LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(details, "012345678", "shown with its leading zero");
    let raw_invalid = one(&client, "SELECT count(DISTINCT mmsi) FROM kcg.ais_positions WHERE mmsi NOT BETWEEN 100000000 AND 999999999 AND ts > '2022-01-02T23:55:00Z' AND ts <= '2022-01-03T00:25:00Z'").await;
    let analysed_odd = one(&client, "SELECT count(DISTINCT mmsi) FROM kcg.vessel_analysis WHERE mmsi NOT BETWEEN 100000000 AND 999999999").await;
    assert_eq!(
        analysed_odd, raw_invalid,
        "every odd MMSI of the windows was analysed"
    );

    // The SOG 102.3 sentinels were cleaned and counted.
    let sentinels: usize = outcomes.iter().map(|o| o.clean.sog_not_available).sum();
    assert!(sentinels > 0);
    let stage2: String = client
        .query_one(
            "SELECT detail FROM kcg.prediction_stage_timings WHERE stage_no = 2 AND cycle_ts = '2022-01-03T00:10:00Z'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(stage2.contains("\"sog_not_available\":56"), "{stage2}");

    // Stats agree with the events, per hour and category.
    let drift = one(
        &client,
        "SELECT count(*) FROM kcg.prediction_stats_hourly s FULL JOIN \
           (SELECT date_trunc('hour', event_ts, 'UTC') AS hour, category, count(*) AS n \
              FROM kcg.prediction_events GROUP BY 1, 2) e USING (hour, category) \
         WHERE s.event_count IS DISTINCT FROM e.n",
    )
    .await;
    assert_eq!(drift, 0);
    assert!(one(&client, "SELECT count(*) FROM kcg.prediction_stats_hourly").await > 0);

    // One implementation, two paths: the registry's PRIMARY spoofing_score
    // equals the legacy vessel_analysis score of the same cycle (a row
    // spoofing_score's output policy left out is its score 0).
    let row = client
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE coalesce(o.score, 0) IS DISTINCT FROM v.spoofing_score::float8) \
             FROM kcg.vessel_analysis v FULL JOIN \
               (SELECT * FROM kcg.detection_model_run_outputs \
                 WHERE model_id = 'spoofing_score' AND role = 'PRIMARY') o \
               ON o.cycle_ts = v.cycle_ts AND o.entity_key = \
                  CASE WHEN v.mmsi BETWEEN 0 AND 999999999 THEN lpad(v.mmsi::text, 9, '0') \
                       ELSE v.mmsi::text END",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, i64>(0) > 30_000);
    assert_eq!(row.get::<_, i64>(1), 0, "registry and legacy scores differ");

    // SHADOW and CHALLENGER ran and were stored, beside their PRIMARY.
    let roles = one(
        &client,
        "SELECT count(DISTINCT role) FROM kcg.detection_model_runs WHERE status = 'OK'",
    )
    .await;
    assert_eq!(roles, 3);
    let shadow_rows = one(
        &client,
        "SELECT count(*) FROM kcg.detection_model_run_outputs WHERE role = 'SHADOW'",
    )
    .await;
    assert!(shadow_rows > 0);

    // Running a cycle again changes no counts, and no collision state.
    let collision_state = "SELECT occurrences::bigint * 1000000 + extract(epoch FROM last_seen)::bigint % 1000000 \
        FROM kcg.gear_identity_collisions WHERE mmsi = 211002010";
    let state_before = one(&client, collision_state).await;
    let before = one(&client, COUNTS).await;
    let outputs_before = one(
        &client,
        "SELECT count(*) FROM kcg.detection_model_run_outputs",
    )
    .await;
    let runs_before = one(&client, "SELECT count(*) FROM kcg.detection_model_runs").await;
    let again = p
        .run_cycle(&mut client, ts("2022-01-03T00:15:00Z"))
        .await
        .unwrap();
    assert!(again.failed.is_none());
    assert_eq!(one(&client, COUNTS).await, before);
    assert_eq!(
        one(
            &client,
            "SELECT count(*) FROM kcg.detection_model_run_outputs"
        )
        .await,
        outputs_before
    );
    assert_eq!(
        one(&client, "SELECT count(*) FROM kcg.detection_model_runs").await,
        runs_before
    );
    assert_eq!(one(&client, collision_state).await, state_before);
}

#[tokio::test]
async fn with_the_flag_off_stage_10_is_skipped_and_no_model_runs_are_written() {
    let (_db, mut client) = with_sample().await;
    register_models(&mut client).await;
    let o = pipeline(false)
        .run_cycle(&mut client, ts("2022-01-03T00:10:00Z"))
        .await
        .unwrap();
    assert!(o.failed.is_none());
    assert!(o.registry.is_none());
    assert_eq!(
        one(&client, "SELECT count(*) FROM kcg.detection_model_runs").await,
        0
    );
    assert_eq!(
        one(
            &client,
            "SELECT count(*) FROM kcg.detection_model_run_outputs"
        )
        .await,
        0
    );
    let row = client
        .query_one(
            "SELECT status, detail FROM kcg.prediction_stage_timings WHERE stage_no = 10",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "SKIPPED");
    assert!(
        row.get::<_, String>(1)
            .contains("PREDICTION_USE_MODEL_REGISTRY")
    );
    let stages = one(&client, "SELECT count(*) FROM kcg.prediction_stage_timings").await;
    assert_eq!(stages, 10);
    assert!(one(&client, "SELECT count(*) FROM kcg.vessel_analysis").await > 7000);
}

#[tokio::test]
async fn not_available_positions_are_cleaned_counted_and_never_reach_a_speed() {
    let (_db, mut client) = with_sample().await;
    let at = ts("2022-01-03T00:10:00Z");
    let p = pipeline(false);
    p.run_cycle(&mut client, at).await.unwrap();
    let speed = "SELECT max_speed_kn, fixes FROM kcg.vessel_analysis WHERE mmsi = 368007760 AND cycle_ts = $1";
    let before = client.query_one(speed, &[&at]).await.unwrap();
    // Three "not available" reports of a real vessel, minutes apart: any of
    // them in a speed computation would be a jump of thousands of km.
    client
        .batch_execute(
            "INSERT INTO kcg.ais_positions (mmsi, ts, lat, lon, sog, source_file_id)
             SELECT 368007760, t, lat, lon, 0, (SELECT min(id) FROM kcg.ais_ingested_files)
             FROM (VALUES ('2022-01-03T00:02:01Z'::timestamptz, 91.0, -122.2),
                          ('2022-01-03T00:04:01Z', 47.9, 181.0),
                          ('2022-01-03T00:06:01Z', 91.0, 181.0)) v(t, lat, lon)",
        )
        .await
        .unwrap();
    let o = p.run_cycle(&mut client, at).await.unwrap();
    assert_eq!(o.clean.position_not_available, 3);
    let after = client.query_one(speed, &[&at]).await.unwrap();
    assert_eq!(
        before.get::<_, Option<f64>>(0),
        after.get::<_, Option<f64>>(0)
    );
    assert_eq!(before.get::<_, i32>(1), after.get::<_, i32>(1));
}

#[tokio::test]
async fn a_failing_stage_is_recorded_and_ends_the_cycle_cleanly() {
    let (_db, mut client) = with_sample().await;
    client
        .batch_execute("DROP TABLE kcg.gear_identity_collisions")
        .await
        .unwrap();
    let o = pipeline(true)
        .run_cycle(&mut client, ts("2022-01-03T00:10:00Z"))
        .await
        .unwrap();
    let failed = o.failed.clone().expect("stage 6 fails");
    assert_eq!(failed.stage, Stage::Collisions);
    assert!(
        matches!(
            *failed.error,
            pipeline::PipelineError::Db {
                table: "kcg.gear_identity_collisions",
                ..
            }
        ),
        "{:?}",
        failed.error
    );
    let error = failed.detail();
    // Each cause once: the relation named by the server, "db error" from
    // the driver, this layer's table.
    assert_eq!(
        error,
        "database error on kcg.gear_identity_collisions: db error: \
         ERROR: relation \"kcg.gear_identity_collisions\" does not exist",
    );
    assert!(error.contains("kcg.gear_identity_collisions"), "{error}");
    // The database's own message, not just "db error".
    assert!(error.contains("does not exist"), "{error}");
    let detail: String = client
        .query_one(
            "SELECT detail FROM kcg.prediction_stage_timings WHERE stage_no = 6",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(detail, error);
    let rows = client
        .query(
            "SELECT stage_no, status FROM kcg.prediction_stage_timings ORDER BY stage_no",
            &[],
        )
        .await
        .unwrap();
    let statuses: Vec<(i16, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let expected: Vec<(i16, String)> = (1..=10)
        .map(|n| {
            let s = match n {
                1..=5 => "OK",
                6 => "FAILED",
                _ => "SKIPPED",
            };
            (n, s.to_owned())
        })
        .collect();
    assert_eq!(statuses, expected);
}

#[tokio::test]
async fn rerunning_an_earlier_cycle_leaves_later_collision_state_alone() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    // One MMSI alternately off California and in the Gulf of Mexico, every
    // minute from 00:01 to 00:14, then never again.
    client
        .batch_execute(
            "INSERT INTO kcg.ais_positions (mmsi, ts, lat, lon, sog, source_file_id)
             SELECT 211000099, '2022-01-03T00:00:00Z'::timestamptz + m * interval '1 minute',
                    CASE WHEN m % 2 = 1 THEN 34.41 ELSE 30.28 END,
                    CASE WHEN m % 2 = 1 THEN -119.69 ELSE -87.54 END, 0, 0
             FROM generate_series(1, 14) m",
        )
        .await
        .unwrap();
    let p = pipeline(false);
    let state = "SELECT count(*) * 10 + count(*) FILTER (WHERE status = 'OPEN') \
                 FROM kcg.gear_identity_collisions";
    let row = "SELECT hashtext(concat_ws('|', status, first_seen, last_seen, severity, \
                 max_distance_km, occurrences, resolved_at, details))::bigint \
               FROM kcg.gear_identity_collisions";
    for at in ["2022-01-03T00:10:00Z", "2022-01-03T00:15:00Z"] {
        p.run_cycle(&mut client, ts(at)).await.unwrap();
    }
    assert_eq!(one(&client, state).await, 11, "one OPEN collision");
    let open = one(&client, row).await;
    // Rerunning the earlier cycle while it is OPEN changes nothing.
    p.run_cycle(&mut client, ts("2022-01-03T00:10:00Z"))
        .await
        .unwrap();
    assert_eq!(one(&client, state).await, 11);
    assert_eq!(one(&client, row).await, open, "OPEN row changed by a rerun");

    p.run_cycle(&mut client, ts("2022-01-03T00:50:00Z"))
        .await
        .unwrap();
    assert_eq!(one(&client, state).await, 10, "resolved, not recurring");
    let resolved = one(&client, row).await;
    // Nor once it is RESOLVED: the rerun must not open it again.
    for at in ["2022-01-03T00:10:00Z", "2022-01-03T00:55:00Z"] {
        let o = p.run_cycle(&mut client, ts(at)).await.unwrap();
        assert!(o.failed.is_none());
        assert_eq!(
            one(&client, state).await,
            10,
            "reopened by the rerun of {at}"
        );
    }
    assert_eq!(one(&client, row).await, resolved);
}

#[tokio::test]
async fn two_runs_of_the_same_cycle_at_once_take_turns() {
    let (db, mut client) = with_sample().await;
    let at = ts("2022-01-03T00:10:00Z");
    let p = pipeline(false);
    p.run_cycle(&mut client, at).await.unwrap();
    let single = one(&client, COUNTS).await;
    let mut other = db.client().await;
    for _ in 0..3 {
        let (a, b) = tokio::join!(p.run_cycle(&mut client, at), p.run_cycle(&mut other, at));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a.failed.is_none(), "{:?}", a.failed);
        assert!(b.failed.is_none(), "{:?}", b.failed);
    }
    assert_eq!(one(&client, COUNTS).await, single);
}

/// Sessions other than the cycle's: may they take the cycle's lock now?
async fn cycle_lock_is_free(client: &Client, at: DateTime<Utc>) -> bool {
    let tx_free: bool = client
        .query_one(
            "SELECT pg_try_advisory_xact_lock($1::int4, $2::int4)",
            &[&schema::locks::CYCLE, &schema::locks::cycle_key(at)],
        )
        .await
        .unwrap()
        .get(0);
    tx_free
}

#[tokio::test]
async fn a_cycle_dropped_mid_way_releases_its_lock_at_once() {
    let (db, mut client) = with_sample().await;
    let at = ts("2022-01-03T00:10:00Z");
    let p = pipeline(false);
    // Another session holds a table stage 5 writes: the cycle blocks there,
    // holding the cycle lock.
    let mut blocker = db.client().await;
    let hold = blocker.transaction().await.unwrap();
    hold.batch_execute("LOCK TABLE kcg.vessel_analysis IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let observer = db.client().await;
    let given_up = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        p.run_cycle(&mut client, at),
    )
    .await;
    assert!(
        given_up.is_err(),
        "the cycle should be blocked on the table lock"
    );
    // The table lock is still held, yet the dropped cycle's lock is free
    // within moments (its statement cancelled, its transaction rolled back).
    let mut free = false;
    for _ in 0..100 {
        if cycle_lock_is_free(&observer, at).await {
            free = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(free, "the dropped cycle still holds its lock");
    // Nothing of the dropped cycle is stored: it ran in one transaction.
    assert_eq!(
        one(
            &observer,
            "SELECT count(*) FROM kcg.prediction_stage_timings"
        )
        .await,
        0
    );
    hold.rollback().await.unwrap();
    // Another session runs the same cycle, and so does the first
    // connection, which went back to being usable.
    let mut other = db.client().await;
    let o = p.run_cycle(&mut other, at).await.unwrap();
    assert!(o.failed.is_none(), "{:?}", o.failed);
    let again = p.run_cycle(&mut client, at).await.unwrap();
    assert!(again.failed.is_none(), "{:?}", again.failed);
}

/// Settings no calendar can hold (a library caller's, past the runner's
/// parse-time ranges): the cycle ends cleanly with the stage that needs the
/// value FAILED, naming it, and no panic; earlier stages' rows are kept.
#[tokio::test]
async fn extreme_settings_fail_their_stage_cleanly_and_never_panic() {
    let far = TimeDelta::days(300_000 * 365);
    let cases: [(&str, PipelineConfig, Stage, &str); 4] = [
        (
            "window",
            PipelineConfig {
                window: far,
                ..PipelineConfig::default()
            },
            Stage::LoadWindow,
            "no window of",
        ),
        (
            "state_lookback",
            PipelineConfig {
                state_lookback: far,
                ..PipelineConfig::default()
            },
            Stage::LoadWindow,
            "state_lookback of",
        ),
        (
            "collision_resolve_after",
            PipelineConfig {
                collision_resolve_after: far,
                ..PipelineConfig::default()
            },
            Stage::Collisions,
            "collision_resolve_after of",
        ),
        (
            "episode_gap",
            PipelineConfig {
                episode_gap: far,
                ..PipelineConfig::default()
            },
            Stage::Events,
            "episode_gap of",
        ),
    ];
    let (_db, mut client) = with_sample().await;
    for (what, config, stage, message) in cases {
        let o = Pipeline::new(config, catalog())
            .run_cycle(&mut client, ts("2022-01-03T00:10:00Z"))
            .await
            .unwrap();
        let failed = o
            .failed
            .clone()
            .unwrap_or_else(|| panic!("{what}: no stage failed"));
        assert_eq!(failed.stage, stage, "{what}");
        assert!(
            failed.detail().contains(message),
            "{what}: {}",
            failed.detail()
        );
        let recorded: String = client
            .query_one(
                "SELECT status FROM kcg.prediction_stage_timings WHERE cycle_ts = $1 AND stage_no = $2",
                &[&ts("2022-01-03T00:10:00Z"), &stage.number()],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(recorded, "FAILED", "{what}");
    }
}
