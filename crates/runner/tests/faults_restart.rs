//! `runner serve` against a PostgreSQL of the test's own that is restarted
//! (`pg_ctl restart -m fast`) and crashed and brought back later
//! (`pg_ctl stop -m immediate`, then `start`): serve survives, resumes,
//! catches up the ticks it missed, nothing is partial; and with
//! `--give-up-after` it exits non-zero saying why.

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use common::{Proc, census, positions_csv, run_ok, runner, schedule_gaps, wait_until};
use test_support::{StopMode, TestServer};
use tokio_postgres::Client;

const EVERY_S: i64 = 3;

/// Positions around now, so every window of the test has vessels.
fn ingest_positions_around_now(url: &str) {
    let now = Utc::now();
    let csv = std::env::temp_dir().join(format!("kcg-fault-restart-{}.csv", std::process::id()));
    positions_csv(
        &csv,
        367_000_001,
        40,
        now - TimeDelta::minutes(11),
        now + TimeDelta::minutes(3),
        TimeDelta::seconds(20),
    );
    run_ok(url, &["ingest", "--csv", csv.to_str().unwrap()]);
    let _ = std::fs::remove_file(csv);
}

fn serve(url: &str, extra: &[&str]) -> Proc {
    let every = format!("{EVERY_S}s");
    let mut cmd = runner();
    cmd.args(["serve", "--every", &every])
        .args(extra)
        .env("DATABASE_URL", url)
        .env("PREDICTION_USE_MODEL_REGISTRY", "on");
    Proc::spawn(cmd)
}

async fn ok_cycles(client: &Client) -> i64 {
    common::one(
        client,
        "SELECT count(*) FROM kcg.prediction_cycles WHERE status = 'OK'",
    )
    .await
}

/// The first cycle started after `t` (the database's clock), if any.
async fn first_started_after(client: &Client, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    client
        .query_one(
            "SELECT min(started_at) FROM kcg.prediction_cycles WHERE started_at > $1",
            &[&t],
        )
        .await
        .ok()
        .and_then(|r| r.get(0))
}

#[tokio::test]
async fn serve_survives_restarts_and_runs_the_ticks_it_missed() {
    let server = TestServer::start();
    let url = server.migrated("kcg").await;
    run_ok(&url, &["models", "add-reference"]);
    ingest_positions_around_now(&url);
    let every = TimeDelta::seconds(EVERY_S);
    let mut serve = serve(&url, &[]);
    let client = server.client("kcg").await;
    assert!(
        wait_until(Duration::from_secs(30), || async {
            ok_cycles(&client).await >= 2
        })
        .await,
        "{}",
        serve.dump()
    );
    drop(client);

    // 1. A fast restart: every session is disconnected, a running cycle's
    //    transaction rolled back.
    server.restart(StopMode::Fast);
    let back = Utc::now();
    let client = server.client("kcg").await;
    assert!(
        wait_until(Duration::from_secs(30), || async {
            first_started_after(&client, back).await.is_some()
        })
        .await,
        "no cycle after the restart\n{}",
        serve.dump()
    );
    let resumed_fast = first_started_after(&client, back).await.unwrap() - back;
    assert!(serve.running(), "serve exited\n{}", serve.dump());
    drop(client);

    // 2. A crash, and the database away for more than two intervals.
    server.stop(StopMode::Immediate);
    let down = Instant::now();
    let down_at = Utc::now();
    std::thread::sleep(Duration::from_millis(2500 * EVERY_S as u64));
    server.start_again();
    let outage = down.elapsed();
    let back = Utc::now();
    let client = server.client("kcg").await;
    let caught_up = wait_until(Duration::from_secs(40), || async {
        let (_, missing, not_ok) = schedule_gaps(&client, every).await;
        let newest: Option<DateTime<Utc>> = client
            .query_one("SELECT max(cycle_ts) FROM kcg.prediction_cycles", &[])
            .await
            .unwrap()
            .get(0);
        missing.is_empty() && not_ok.is_empty() && newest.is_some_and(|n| n > back)
    })
    .await;
    let (ok, missing, not_ok) = schedule_gaps(&client, every).await;
    assert!(
        caught_up,
        "ticks without an OK run: missing {missing:?}, not OK {not_ok:?}\n{}",
        serve.dump()
    );
    let resumed_crash = first_started_after(&client, back).await.unwrap() - back;
    assert!(serve.running(), "serve exited\n{}", serve.dump());
    // The ticks of the outage (at least two: it lasted 2.5 intervals) ran
    // once the server was back, late.
    let row = client
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE status = 'OK' AND started_at > $2), \
                    count(*) FILTER (WHERE run_by = 'catch-up') \
             FROM kcg.prediction_cycles WHERE cycle_ts > $1 AND cycle_ts < $2",
            &[&down_at, &back],
        )
        .await
        .unwrap();
    let (missed, ran_after, late): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert!(missed >= 2, "{missed} ticks in an outage of {outage:?}");
    assert_eq!(ran_after, missed, "{}", serve.dump());
    assert!(late >= 1, "{}", serve.dump());
    let c = census(&client, 5).await;
    assert!(c.partial.is_empty(), "{:#?}", c.partial);

    // Each attempt was logged with its cause; the control session came back.
    let stderr: Vec<String> = serve.stderr().into_iter().map(|(_, l)| l).collect();
    let attempts = stderr
        .iter()
        .filter(|l| l.contains("database unreachable") && l.contains("cause"))
        .count();
    assert!(attempts > 0, "{}", serve.dump());
    let stdout = serve.stdout_since(down);
    assert!(
        stdout
            .iter()
            .any(|l| l.starts_with("control connection re-established")),
        "{}",
        serve.dump()
    );
    assert!(
        stdout.iter().any(|l| l.starts_with("catching up ")),
        "{}",
        serve.dump()
    );

    serve.signal("TERM");
    let status = serve.wait(Duration::from_secs(60));
    assert_eq!(status.code(), Some(0), "{}", serve.dump());
    assert!(serve.stdout().iter().any(|(_, l)| l == "stopped"));
    let ms = |d: TimeDelta| d.num_milliseconds();
    println!(
        "serve under restarts (--every {EVERY_S}s): first cycle {} ms after `pg_ctl restart -m fast` \
         returned; after a crash (-m immediate) and {:.1} s down, first cycle {} ms after the \
         server was back; the {missed} ticks of the outage ran after it ({late} of them as \
         catch-up), {ok} OK cycles in all, {attempts} \
         reconnection attempts logged, partial cycles: {}",
        ms(resumed_fast),
        outage.as_secs_f64(),
        ms(resumed_crash),
        c.partial.len()
    );
}

#[tokio::test]
async fn serve_gives_up_after_the_configured_time_saying_why() {
    let server = TestServer::start();
    let url = server.migrated("kcg").await;
    let mut serve = serve(&url, &["--give-up-after", "3s"]);
    let client = server.client("kcg").await;
    assert!(
        wait_until(Duration::from_secs(30), || async {
            common::one(&client, "SELECT count(*) FROM kcg.prediction_cycles").await > 0
        })
        .await,
        "{}",
        serve.dump()
    );
    drop(client);
    server.stop(StopMode::Immediate);
    let down = Instant::now();
    let status = serve.wait(Duration::from_secs(60));
    let after = down.elapsed();
    assert_eq!(status.code(), Some(1), "{}", serve.dump());
    // Counted from when serve noticed, which can be a little before
    // `pg_ctl stop` returned here: not at once, in any case.
    assert!(after >= Duration::from_secs(2), "gave up after {after:?}");
    let error = serve
        .stderr()
        .into_iter()
        .map(|(_, l)| l)
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line\n{}", serve.dump()));
    let target = format!("postgres@127.0.0.1:{}/kcg", server.port());
    assert!(
        error.starts_with(&format!(
            "error: giving up: {target} has been unreachable for "
        )),
        "{error}"
    );
    assert!(error.contains("(--give-up-after 3s)"), "{error}");
    assert!(error.contains("Connection refused"), "{error}");
    println!(
        "serve --give-up-after 3s: exited with 1 {:.1} s after the database went away: {error}",
        after.as_secs_f64()
    );
}
