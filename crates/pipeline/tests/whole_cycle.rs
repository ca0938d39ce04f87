//! A cycle is stored whole or not at all: a failed stage, a failed rerun, a
//! lost lease and a lock held elsewhere, on the bundled real AIS sample
//! against a real PostgreSQL.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use pipeline::{
    CycleStatus, LimitKind, Limits, Pipeline, PipelineConfig, PipelineError, RunBy, RunOptions,
    Stage,
};
use test_support::TestDb;
use tokio_postgres::Client;

fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn pipeline(use_registry: bool, limits: Limits) -> Pipeline {
    Pipeline::new(
        PipelineConfig {
            use_registry,
            limits,
            ..PipelineConfig::default()
        },
        registry::Catalog::from_entries(detectors::catalog()).unwrap(),
    )
}

async fn with_sample() -> (TestDb, Client) {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/ais-2022-01-03-sample.csv.gz");
    ingest::ingest_file(&mut client, &sample, &ingest::NoProgress)
        .await
        .unwrap();
    let done = pipeline::register_reference_models(&mut client)
        .await
        .unwrap();
    assert_eq!(done.primaries, 5);
    (db, client)
}

async fn count(client: &Client, sql: &str, at: DateTime<Utc>) -> i64 {
    client.query_one(sql, &[&at]).await.unwrap().get(0)
}

/// What is stored for one cycle.
#[derive(Debug, PartialEq, Eq)]
struct Stored {
    vessels: i64,
    primary_scores: i64,
    runs: i64,
    events: i64,
    timings: i64,
}

async fn stored(client: &Client, at: DateTime<Utc>) -> Stored {
    Stored {
        vessels: count(
            client,
            "SELECT count(*) FROM kcg.vessel_analysis WHERE cycle_ts = $1",
            at,
        )
        .await,
        primary_scores: count(
            client,
            // Stored, plus those its output policy left out (run record).
            "SELECT (SELECT count(*) FROM kcg.detection_model_run_outputs \
                      WHERE cycle_ts = $1 AND model_id = 'spoofing_score' AND role = 'PRIMARY') \
                  + (SELECT coalesce(sum(omitted_count), 0) FROM kcg.detection_model_runs \
                      WHERE cycle_ts = $1 AND model_id = 'spoofing_score' AND role = 'PRIMARY')",
            at,
        )
        .await,
        runs: count(
            client,
            "SELECT count(*) FROM kcg.detection_model_runs WHERE cycle_ts = $1",
            at,
        )
        .await,
        events: count(
            client,
            "SELECT count(*) FROM kcg.prediction_events WHERE cycle_ts = $1",
            at,
        )
        .await,
        timings: count(
            client,
            "SELECT count(*) FROM kcg.prediction_stage_timings WHERE cycle_ts = $1",
            at,
        )
        .await,
    }
}

/// `(status, attempts, failed_stage, committed_at)` of the cycle's row.
async fn cycle_row(
    client: &Client,
    at: DateTime<Utc>,
) -> Option<(String, i32, Option<i16>, Option<DateTime<Utc>>)> {
    client
        .query_opt(
            "SELECT status, attempts, failed_stage, committed_at FROM kcg.prediction_cycles \
             WHERE cycle_ts = $1",
            &[&at],
        )
        .await
        .unwrap()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
}

async fn statuses(client: &Client, at: DateTime<Utc>) -> Vec<String> {
    client
        .query(
            "SELECT status FROM kcg.prediction_stage_timings WHERE cycle_ts = $1 ORDER BY stage_no",
            &[&at],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn expected_statuses(failed: i16) -> Vec<String> {
    (1..=10)
        .map(|n| match n {
            n if n < failed => "OK",
            n if n == failed => "FAILED",
            _ => "SKIPPED",
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_failed_stage_rolls_the_whole_cycle_back_and_records_why() {
    let (_db, client) = with_sample().await;
    let mut client = client;
    client
        .batch_execute("DROP TABLE kcg.gear_identity_collisions")
        .await
        .unwrap();
    let at = ts("2022-01-03T00:10:00Z");
    let o = pipeline(true, Limits::default())
        .run_cycle(&mut client, at)
        .await
        .unwrap();
    let failed = o.failed.expect("stage 6 fails");
    assert_eq!(failed.stage, Stage::Collisions);
    // Stage 5 wrote vessel_analysis before stage 6 failed: rolled back too.
    assert_eq!(
        stored(&client, at).await,
        Stored {
            vessels: 0,
            primary_scores: 0,
            runs: 0,
            events: 0,
            timings: 10
        }
    );
    assert_eq!(statuses(&client, at).await, expected_statuses(6));
    let (status, attempts, stage, committed) = cycle_row(&client, at).await.unwrap();
    assert_eq!(
        (status.as_str(), attempts, stage, committed),
        ("FAILED", 1, Some(6), None)
    );
    let detail: String = client
        .query_one(
            "SELECT detail FROM kcg.prediction_cycles WHERE cycle_ts = $1",
            &[&at],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(detail, failed.detail());
    // Stage 9's partitions are infrastructure, committed in their own
    // transaction before the cycle's: they stay.
    let partitions: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname = 'detection_model_run_outputs_p2022_01'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(partitions, 1);
}

#[tokio::test]
async fn a_failed_rerun_leaves_the_earlier_run_whole_and_a_good_one_replaces_it() {
    let (_db, mut client) = with_sample().await;
    let at = ts("2022-01-03T00:10:00Z");
    let p = pipeline(true, Limits::default());
    let first = p.run_cycle(&mut client, at).await.unwrap();
    assert!(first.failed.is_none(), "{:?}", first.failed);
    let before = stored(&client, at).await;
    assert!(before.vessels > 7000);
    assert_eq!(before.vessels, before.primary_scores);
    assert_eq!(before.runs, 5);
    let (_, _, _, committed) = cycle_row(&client, at).await.unwrap();
    let committed = committed.expect("an OK run is committed");

    // Six late positions of vessels not seen yet, inside the window.
    client
        .batch_execute(
            "INSERT INTO kcg.ais_positions (mmsi, ts, lat, lon, sog, source_file_id)
             SELECT 366999000 + m, '2022-01-03T00:05:00Z'::timestamptz, 30.0 + m, -88.0, 5, 0
             FROM generate_series(1, 6) m",
        )
        .await
        .unwrap();
    // Stage 10 fails on a schema the registry path refuses.
    client
        .batch_execute(
            "ALTER TABLE kcg.detection_model_metrics ALTER COLUMN metric_key TYPE varchar(80)",
        )
        .await
        .unwrap();
    let rerun = p.run_cycle(&mut client, at).await.unwrap();
    assert_eq!(
        rerun.failed.as_ref().map(|f| f.stage),
        Some(Stage::ModelRegistry)
    );
    assert_eq!(rerun.vessels, before.vessels as usize + 6, "stages 1-9 ran");
    // Nothing of the rerun remains: the earlier run is whole.
    let after = stored(&client, at).await;
    assert_eq!(after, before);
    assert_eq!(statuses(&client, at).await, expected_statuses(10));
    assert_eq!(
        cycle_row(&client, at).await.unwrap(),
        ("FAILED".to_owned(), 2, Some(10), Some(committed)),
        "the earlier run's rows, and when they were committed, are kept"
    );

    // Fixed: the next rerun replaces the earlier run entirely.
    client
        .batch_execute(
            "ALTER TABLE kcg.detection_model_metrics ALTER COLUMN metric_key TYPE varchar(64)",
        )
        .await
        .unwrap();
    let good = p.run_cycle(&mut client, at).await.unwrap();
    assert!(good.failed.is_none(), "{:?}", good.failed);
    let replaced = stored(&client, at).await;
    assert_eq!(replaced.vessels, before.vessels + 6);
    assert_eq!(replaced.vessels, replaced.primary_scores);
    assert_eq!(replaced.runs, 5);
    let (status, attempts, stage, now_committed) = cycle_row(&client, at).await.unwrap();
    assert_eq!((status.as_str(), attempts, stage), ("OK", 3, None));
    assert!(now_committed.unwrap() > committed);
}

#[tokio::test]
async fn a_run_whose_lease_is_lost_writes_nothing() {
    let (db, mut client) = with_sample().await;
    let p = pipeline(false, Limits::default());
    let hour = Duration::from_secs(3600);
    let a = lease::acquire(&client, "serve", "a", hour)
        .await
        .unwrap()
        .unwrap();
    let opts = |fence: &lease::Token| RunOptions {
        run_by: RunBy::Serve,
        late_by: Some(Duration::from_millis(12)),
        fence: Some(fence.clone()),
        runner: "a".to_owned(),
    };
    let t1 = ts("2022-01-03T00:10:00Z");
    let o = p.run_cycle_with(&mut client, t1, &opts(&a)).await.unwrap();
    assert!(o.failed.is_none());
    let row = client
        .query_one(
            "SELECT status, run_by, runner, leader_epoch, late_by_ms FROM kcg.prediction_cycles \
             WHERE cycle_ts = $1",
            &[&t1],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "OK");
    assert_eq!(row.get::<_, String>(1), "serve");
    assert_eq!(row.get::<_, String>(2), "a");
    assert_eq!(row.get::<_, Option<i64>>(3), Some(1));
    assert_eq!(row.get::<_, Option<f64>>(4), Some(12.0));

    // Lost before the run starts: not even the RUNNING row is written.
    client
        .execute(
            "UPDATE kcg.runner_lease SET expires_at = clock_timestamp()",
            &[],
        )
        .await
        .unwrap();
    let b = lease::acquire(&client, "serve", "b", hour)
        .await
        .unwrap()
        .unwrap();
    let t2 = ts("2022-01-03T00:15:00Z");
    let err = p
        .run_cycle_with(&mut client, t2, &opts(&a))
        .await
        .unwrap_err();
    assert!(err.is_lease_lost(), "{err:?}");
    assert_eq!(cycle_row(&client, t2).await, None);
    assert_eq!(stored(&client, t2).await.timings, 0);

    // Lost in the middle of the run (the run waits on a lock held
    // elsewhere while the lease changes hands): the cycle's transaction
    // fails the fence before COMMIT and writes nothing; only the RUNNING
    // row, committed as it started, says it was tried.
    let mut blocker = db.client().await;
    let hold = blocker.transaction().await.unwrap();
    hold.batch_execute("LOCK TABLE kcg.vessel_analysis IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let observer = db.client().await;
    let run = {
        let opts = opts(&b);
        let p = &p;
        let client = &mut client;
        async move { p.run_cycle_with(client, t2, &opts).await }
    };
    let takeover = async {
        // Wait until the run holds its RUNNING row, then take over.
        loop {
            if cycle_row(&observer, t2).await.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        observer
            .execute(
                "UPDATE kcg.runner_lease SET expires_at = clock_timestamp()",
                &[],
            )
            .await
            .unwrap();
        let c = lease::acquire(&observer, "serve", "c", hour)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.epoch, 3);
        hold.rollback().await.unwrap();
    };
    let (result, ()) = tokio::join!(run, takeover);
    let err = result.unwrap_err();
    assert!(err.is_lease_lost(), "{err:?}");
    assert_eq!(
        stored(&observer, t2).await,
        Stored {
            vessels: 0,
            primary_scores: 0,
            runs: 0,
            events: 0,
            timings: 0
        }
    );
    let (status, _, _, committed) = cycle_row(&observer, t2).await.unwrap();
    assert_eq!((status.as_str(), committed), ("RUNNING", None));
}

#[tokio::test]
async fn a_lock_or_a_slow_statement_fails_the_cycle_at_its_limit_with_the_limit_named() {
    let (db, mut client) = with_sample().await;
    let limits = Limits {
        statement_timeout: Some(Duration::from_millis(1500)),
        lock_timeout: Some(Duration::from_millis(300)),
        idle_in_transaction_timeout: Some(Duration::from_secs(30)),
    };
    let p = pipeline(false, limits);
    let at = ts("2022-01-03T00:10:00Z");

    let mut blocker = db.client().await;
    let hold = blocker.transaction().await.unwrap();
    hold.batch_execute("LOCK TABLE kcg.vessel_analysis IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let o = p.run_cycle(&mut client, at).await.unwrap();
    let failed = o.failed.expect("stage 5 gives up waiting for the lock");
    assert_eq!(failed.stage, Stage::Spoofing);
    assert!(
        matches!(
            *failed.error,
            PipelineError::Limit {
                limit: LimitKind::Lock,
                ..
            }
        ),
        "{:?}",
        failed.error
    );
    assert_eq!(
        failed.detail(),
        "lock_timeout of 300 ms reached: database error on kcg.vessel_analysis: db error: \
         ERROR: canceling statement due to lock timeout"
    );
    let waited = o.stages[4].duration;
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert_eq!(
        cycle_row(&client, at).await.map(|r| r.0),
        Some(CycleStatus::Failed.as_str().to_owned())
    );
    hold.rollback().await.unwrap();
    // The limits were the transaction's own: the connection is back to
    // the server's settings.
    let lock_timeout: String = client
        .query_one("SHOW lock_timeout", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(lock_timeout, "0");

    // A statement slower than statement_timeout.
    client
        .batch_execute(
            "CREATE FUNCTION kcg.slow() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN PERFORM pg_sleep(5); RETURN NULL; END $$;
             CREATE TRIGGER slow BEFORE INSERT ON kcg.prediction_events
               FOR EACH STATEMENT EXECUTE FUNCTION kcg.slow();",
        )
        .await
        .unwrap();
    let o = p.run_cycle(&mut client, at).await.unwrap();
    let failed = o.failed.expect("stage 7 runs into statement_timeout");
    assert_eq!(failed.stage, Stage::Events);
    assert!(
        failed.detail().starts_with(
            "statement_timeout of 1.5 s reached: database error on kcg.prediction_events: \
             db error: ERROR: canceling statement due to statement timeout"
        ),
        "{}",
        failed.detail()
    );
    assert_eq!(
        stored(&client, at).await.vessels,
        0,
        "stages 5 and 6 rolled back"
    );

    client
        .batch_execute("DROP TRIGGER slow ON kcg.prediction_events")
        .await
        .unwrap();
    let o = p.run_cycle(&mut client, at).await.unwrap();
    assert!(o.failed.is_none(), "{:?}", o.failed);
    let (status, attempts, _, _) = cycle_row(&client, at).await.unwrap();
    assert_eq!((status.as_str(), attempts), ("OK", 3));
}

#[tokio::test]
async fn serve_finds_the_ticks_it_missed_and_reports_those_beyond_the_limit() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let every = TimeDelta::minutes(5);
    let now = ts("2022-01-03T02:01:00Z");
    // Nothing ever ran: only the current tick is due.
    let due = pipeline::cycles::due(&client, now, every, TimeDelta::hours(1), 3)
        .await
        .unwrap();
    assert_eq!(due.ticks, vec![ts("2022-01-03T02:00:00Z")]);
    assert_eq!(due.too_old, None);
    // serve ran 00:00 and 00:05, then nothing until now, except a FAILED
    // 01:30 and a RUNNING 01:40 (its runner was killed).
    client
        .batch_execute(
            "INSERT INTO kcg.prediction_cycles
               (cycle_ts, status, run_by, runner, started_at, finished_at, failed_stage, committed_at)
             VALUES ('2022-01-03T00:00:00Z', 'OK', 'serve', 'x', now(), now(), NULL, now()),
                    ('2022-01-03T00:05:00Z', 'OK', 'serve', 'x', now(), now(), NULL, now()),
                    ('2022-01-03T01:30:00Z', 'FAILED', 'serve', 'x', now(), now(), 5, NULL),
                    ('2022-01-03T01:40:00Z', 'RUNNING', 'catch-up', 'x', now(), NULL, NULL, NULL)",
        )
        .await
        .unwrap();
    let due = pipeline::cycles::due(&client, now, every, TimeDelta::hours(1), 3)
        .await
        .unwrap();
    assert_eq!(due.ticks.len(), 13, "01:00..02:00: {:?}", due.ticks);
    assert_eq!(due.ticks.first(), Some(&ts("2022-01-03T01:00:00Z")));
    assert!(due.ticks.contains(&ts("2022-01-03T01:30:00Z")));
    assert!(due.ticks.contains(&ts("2022-01-03T01:40:00Z")));
    let old = due.too_old.unwrap();
    assert_eq!(
        (old.first, old.last, old.count),
        (ts("2022-01-03T00:10:00Z"), ts("2022-01-03T00:55:00Z"), 10)
    );
}
