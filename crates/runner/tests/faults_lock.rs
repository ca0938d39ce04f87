//! A table locked in a psql-like session while `runner serve` runs: the
//! cycle fails at the lock timeout with an error naming the table and the
//! limit, instead of stalling serve; the next tick after the lock is gone
//! runs, and the failed ticks are retried. The lock is taken in a test
//! database of its own on the shared test server.

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use common::{Proc, census, positions_csv, run_ok, runner, wait_until};
use test_support::TestDb;

const EVERY_S: i64 = 2;

#[tokio::test]
async fn a_locked_table_fails_the_cycle_at_the_lock_timeout_and_the_next_tick_runs() {
    let db = TestDb::new().await;
    let url = db.url();
    run_ok(url, &["models", "add-reference"]);
    let now = Utc::now();
    let csv = std::env::temp_dir().join(format!("kcg-fault-lock-{}.csv", std::process::id()));
    positions_csv(
        &csv,
        367_200_001,
        30,
        now - TimeDelta::minutes(11),
        now + TimeDelta::minutes(3),
        TimeDelta::seconds(20),
    );
    run_ok(url, &["ingest", "--csv", csv.to_str().unwrap()]);
    let _ = std::fs::remove_file(&csv);
    let client = db.client().await;
    let every = format!("{EVERY_S}s");
    let mut cmd = runner();
    cmd.args(["serve", "--every", &every, "--lock-timeout", "500ms"])
        .env("DATABASE_URL", url)
        .env("PREDICTION_USE_MODEL_REGISTRY", "on");
    let mut serve = Proc::spawn(cmd);
    let count = |sql: &'static str| {
        let client = &client;
        async move { common::one(client, sql).await }
    };
    assert!(
        wait_until(Duration::from_secs(20), || async {
            count("SELECT count(*) FROM kcg.prediction_cycles WHERE status = 'OK'").await > 0
        })
        .await,
        "{}",
        serve.dump()
    );

    // An operator's session holds the table stage 5 writes.
    let mut psql = db.client().await;
    let hold = psql.transaction().await.unwrap();
    hold.batch_execute("LOCK TABLE kcg.vessel_analysis IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let locked = Utc::now();
    let locked_at = Instant::now();
    // The failed run's row and its stage 5 timing, read together (one
    // snapshot) as soon as it is there: the tick is retried at the next
    // ticks, which replace both (RUNNING while a retry waits for the lock).
    let failed_sql = "SELECT c.cycle_ts, c.failed_stage, c.detail,
                             (SELECT t.duration_ms FROM kcg.prediction_stage_timings t
                               WHERE t.cycle_ts = c.cycle_ts AND t.stage_no = 5) AS waited
                      FROM kcg.prediction_cycles c WHERE c.status = 'FAILED' AND c.started_at > $1
                      ORDER BY c.cycle_ts LIMIT 1";
    let failed = std::cell::RefCell::new(None);
    assert!(
        wait_until(Duration::from_secs(20), || async {
            let row = client.query_opt(failed_sql, &[&locked]).await.unwrap();
            let found = row.is_some();
            *failed.borrow_mut() = row;
            found
        })
        .await,
        "no cycle failed while the table was locked\n{}",
        serve.dump()
    );
    let to_fail = locked_at.elapsed();
    // One more tick under the lock, then the operator commits.
    std::thread::sleep(Duration::from_millis(1000 * EVERY_S as u64));
    hold.commit().await.unwrap();
    let released = Utc::now();
    let released_at = Instant::now();

    let row = failed.into_inner().expect("the failed run's row");
    let (stage, detail, waited): (Option<i16>, Option<String>, f64) =
        (row.get(1), row.get(2), row.get(3));
    assert_eq!(stage, Some(5));
    assert_eq!(
        detail.as_deref(),
        Some(
            "lock_timeout of 500 ms reached: database error on kcg.vessel_analysis: db error: \
             ERROR: canceling statement due to lock timeout"
        )
    );
    assert!(waited >= 500.0, "stage 5 waited {waited} ms");
    // The failure is printed with its cause.
    assert!(
        serve
            .stdout()
            .iter()
            .any(|(_, l)| l.contains("FAILED at stage 5 spoofing: lock_timeout of 500 ms reached")),
        "{}",
        serve.dump()
    );

    // The next tick runs, and the ticks that failed under the lock are
    // retried (catch-up) until none is left without an OK run.
    let next_ok = "SELECT min(started_at) FROM kcg.prediction_cycles \
                   WHERE status = 'OK' AND started_at > $1";
    assert!(
        wait_until(Duration::from_secs(20), || async {
            let t: Option<DateTime<Utc>> = client
                .query_one(next_ok, &[&released])
                .await
                .unwrap()
                .get(0);
            t.is_some()
                && count("SELECT count(*) FROM kcg.prediction_cycles WHERE status <> 'OK'").await
                    == 0
        })
        .await,
        "{}",
        serve.dump()
    );
    let resumed = released_at.elapsed();
    let failed_under_lock: i64 = client
        .query_one(
            "SELECT count(*) FROM kcg.prediction_cycles WHERE attempts > 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(failed_under_lock > 0);
    let c = census(&client, 5).await;
    assert!(c.partial.is_empty(), "{:#?}", c.partial);
    serve.signal("TERM");
    assert_eq!(serve.wait(Duration::from_secs(60)).code(), Some(0));
    println!(
        "LOCK TABLE kcg.vessel_analysis held under serve --every {EVERY_S}s --lock-timeout 500ms: \
         a cycle failed {} ms after the lock was taken (stage 5 waited {waited:.0} ms), \
         {failed_under_lock} ticks failed under the lock and were retried OK; an OK cycle and \
         no tick left without one {} ms after the release",
        to_fail.as_millis(),
        resumed.as_millis()
    );
}
