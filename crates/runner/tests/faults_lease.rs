//! Two `runner serve` replicas; the leader is stopped (SIGSTOP) for longer
//! than its lease: the follower takes over within one interval of the
//! lease's expiry and runs the ticks missed meanwhile, and the stale
//! leader, resumed (SIGCONT), writes nothing. Stopping a client harms no
//! one else, so the shared test server is enough here.

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use common::{
    Proc, census, lease_holder, positions_csv, run_ok, runner, schedule_gaps, wait_until,
};
use test_support::TestDb;
use tokio_postgres::Client;

const EVERY_S: i64 = 2;
/// Longer than the interval, so that the hang costs ticks to catch up.
const LEASE_S: i64 = 4;

fn serve(url: &str) -> Proc {
    let every = format!("{EVERY_S}s");
    let ttl = format!("{LEASE_S}s");
    let mut cmd = runner();
    cmd.args(["serve", "--every", &every, "--lease-ttl", &ttl])
        .env("DATABASE_URL", url)
        .env("PREDICTION_USE_MODEL_REGISTRY", "on");
    Proc::spawn(cmd)
}

fn holds(holder: &Option<(String, i64)>, p: &Proc) -> bool {
    holder
        .as_ref()
        .is_some_and(|(h, _)| h.contains(&format!(":{}:", p.pid())))
}

async fn db_now(client: &Client) -> DateTime<Utc> {
    client
        .query_one("SELECT clock_timestamp()", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_hung_leader_is_replaced_and_writes_nothing_once_it_wakes_up() {
    let db = TestDb::new().await;
    let url = db.url();
    run_ok(url, &["models", "add-reference"]);
    let now = Utc::now();
    let csv = std::env::temp_dir().join(format!("kcg-fault-lease-{}.csv", std::process::id()));
    positions_csv(
        &csv,
        367_100_001,
        30,
        now - TimeDelta::minutes(11),
        now + TimeDelta::minutes(3),
        TimeDelta::seconds(20),
    );
    run_ok(url, &["ingest", "--csv", csv.to_str().unwrap()]);
    let _ = std::fs::remove_file(&csv);
    let client = db.client().await;
    let every = TimeDelta::seconds(EVERY_S);

    let mut a = serve(url);
    assert!(
        wait_until(Duration::from_secs(20), || async {
            holds(&lease_holder(&client).await, &a)
        })
        .await,
        "{}",
        a.dump()
    );
    let (a_holder, a_epoch) = lease_holder(&client).await.unwrap();
    let mut b = serve(url);
    let by_a = "SELECT count(*) FROM kcg.prediction_cycles WHERE status = 'OK' AND runner = $1";
    let count_by = |holder: String| {
        let client = &client;
        async move {
            client
                .query_one(by_a, &[&holder])
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    assert!(
        wait_until(Duration::from_secs(20), || async {
            count_by(a_holder.clone()).await >= 2
        })
        .await,
        "{}",
        a.dump()
    );

    // The leader hangs.
    a.signal("STOP");
    let stopped = Instant::now();
    let expires: DateTime<Utc> = client
        .query_one("SELECT expires_at FROM kcg.runner_lease", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        wait_until(Duration::from_secs(20), || async {
            holds(&lease_holder(&client).await, &b)
        })
        .await,
        "no takeover\n{}",
        b.dump()
    );
    let takeover = stopped.elapsed();
    let row = client
        .query_one(
            "SELECT holder, epoch, acquired_at FROM kcg.runner_lease",
            &[],
        )
        .await
        .unwrap();
    let (b_holder, b_epoch, acquired): (String, i64, DateTime<Utc>) =
        (row.get(0), row.get(1), row.get(2));
    assert_eq!(b_epoch, a_epoch + 1);
    let after_expiry = acquired - expires;
    assert!(
        after_expiry < every,
        "taken over {after_expiry} after the lease expired, more than one interval"
    );

    // The follower runs the ticks, those missed during the hang included.
    std::thread::sleep(Duration::from_millis(3000 * EVERY_S as u64));
    a.signal("CONT");
    let resumed_at = Instant::now();
    let resumed = db_now(&client).await;
    std::thread::sleep(Duration::from_millis(3000 * EVERY_S as u64));

    let stale_writes: i64 = client
        .query_one(
            "SELECT count(*) FROM kcg.prediction_cycles WHERE runner = $1 \
             AND (started_at > $2 OR finished_at > $2)",
            &[&a_holder, &resumed],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stale_writes, 0, "the stale leader wrote\n{}", a.dump());
    let a_after = a.stdout_since(resumed_at);
    assert!(
        a_after.iter().all(|l| !l.starts_with("cycle ")),
        "the stale leader reported a cycle: {a_after:?}"
    );
    assert!(
        a_after
            .iter()
            .any(|l| l.starts_with("lost the lease") || l.starts_with("not leader any more")),
        "{}",
        a.dump()
    );
    assert!(a.running() && b.running());
    let caught_up: i64 = client
        .query_one(
            "SELECT count(*) FROM kcg.prediction_cycles \
             WHERE runner = $1 AND run_by = 'catch-up' AND status = 'OK'",
            &[&b_holder],
        )
        .await
        .unwrap()
        .get(0);
    assert!(caught_up > 0, "{}", b.dump());
    let (ok, missing, not_ok) = schedule_gaps(&client, every).await;
    assert!(
        missing.is_empty() && not_ok.iter().all(|t| *t >= resumed - every),
        "missing {missing:?}, not OK {not_ok:?}\n{}",
        b.dump()
    );
    let c = census(&client, 5).await;
    assert!(c.partial.is_empty(), "{:#?}", c.partial);

    for p in [&a, &b] {
        p.signal("TERM");
    }
    for p in [&mut a, &mut b] {
        let status = p.wait(Duration::from_secs(60));
        assert_eq!(status.code(), Some(0), "{}", p.dump());
    }
    println!(
        "hung leader (SIGSTOP, --every {EVERY_S}s --lease-ttl {LEASE_S}s): the follower took over \
         {} ms after the stop, {} ms after the lease expired; it caught up {caught_up} missed \
         ticks ({ok} OK cycles in all); writes by the stale leader after SIGCONT: {stale_writes}; \
         partial cycles: {}",
        takeover.as_millis(),
        after_expiry.num_milliseconds(),
        c.partial.len()
    );
}
