//! `kill -9` of `runner cycle` at random points, registry on, the real AIS
//! sample ingested: after every kill each table holds the whole cycle or
//! none of it, also for killed reruns with late positions ingested between
//! the runs.
//!
//! `KCG_FAULT_TRIALS` sets the number of trials (20 by default),
//! `KCG_FAULT_SEED` the seed of the kill points (printed, to replay a run).
//! The shared test server is enough here: a killed client harms no one.

mod common;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, TimeDelta, Utc};
use common::{Proc, census, positions_csv, run_ok, runner, settle};
use test_support::TestDb;
use tokio_postgres::Client;

/// xorshift64*: kill points that a seed reproduces, without a dependency.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// First MMSI of the late vessels: none of them is in the sample.
const LATE_MMSI: i64 = 990_000_001;

/// `vessel_analysis` rows of cycle `at`: all, and the late vessels only.
async fn vessels(client: &Client, at: DateTime<Utc>) -> (i64, i64) {
    let r = client
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE mmsi >= $2) FROM kcg.vessel_analysis \
             WHERE cycle_ts = $1",
            &[&at, &LATE_MMSI],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

/// Late vessels whose positions lie in the window of cycle `at`.
async fn late_in_window(client: &Client, at: DateTime<Utc>) -> i64 {
    client
        .query_one(
            "SELECT count(DISTINCT mmsi) FROM kcg.ais_positions \
             WHERE mmsi >= $2 AND ts > $1::timestamptz - interval '10 minutes' AND ts <= $1",
            &[&at, &LATE_MMSI],
        )
        .await
        .unwrap()
        .get(0)
}

async fn committed_at(client: &Client, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    client
        .query_opt(
            "SELECT committed_at FROM kcg.prediction_cycles WHERE cycle_ts = $1",
            &[&at],
        )
        .await
        .unwrap()
        .and_then(|r| r.get(0))
}

#[tokio::test]
async fn kill_9_at_random_points_leaves_every_cycle_whole_or_absent() {
    let trials = env_number("KCG_FAULT_TRIALS").unwrap_or(20).max(1);
    let seed = env_number("KCG_FAULT_SEED").unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1
    });
    let mut rng = Rng(seed);
    let db = TestDb::new().await;
    let url = db.url();
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/ais-2022-01-03-sample.csv.gz");
    run_ok(url, &["ingest", "--csv", sample.to_str().unwrap()]);
    run_ok(url, &["models", "add-reference"]);
    let client = db.client().await;
    let versions = 5;
    let cycle = |at: DateTime<Utc>| {
        let mut cmd = runner();
        cmd.args(["cycle", "--at", &at.to_rfc3339()])
            .env("DATABASE_URL", url)
            .env("PREDICTION_USE_MODEL_REGISTRY", "on");
        cmd
    };

    // An undisturbed run: how long a whole `runner cycle` takes.
    let base: DateTime<Utc> = "2022-01-03T00:10:00Z".parse().unwrap();
    let t0 = Instant::now();
    let mut first = Proc::spawn(cycle(base));
    assert!(
        first.wait(Duration::from_secs(120)).success(),
        "{}",
        first.dump()
    );
    let whole = t0.elapsed();
    let mut committed: Vec<DateTime<Utc>> = vec![base];

    let tmp = std::env::temp_dir().join(format!("kcg-fault-kill-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut late_mmsi = LATE_MMSI;
    let (mut nothing, mut old_kept, mut new_whole, mut partial_seen) = (0, 0, 0, 0);
    let mut next_first = base;
    for trial in 0..trials {
        let rerun = trial % 2 == 1;
        let at = if rerun {
            committed[(rng.next_f64() * committed.len() as f64) as usize % committed.len()]
        } else {
            next_first += TimeDelta::seconds(20);
            next_first
        };
        if rerun {
            // Late positions of three new vessels arrive before the rerun.
            let csv = tmp.join(format!("late-{trial}.csv"));
            let ts = at - TimeDelta::seconds(30);
            positions_csv(&csv, late_mmsi, 3, ts, ts, TimeDelta::seconds(1));
            late_mmsi += 3;
            run_ok(url, &["ingest", "--csv", csv.to_str().unwrap()]);
        }
        let before = vessels(&client, at).await;
        let before_commit = committed_at(&client, at).await;
        // A whole run now: the sample's vessels of the window as before,
        // plus every late vessel of the window.
        let late_now = late_in_window(&client, at).await;
        let full = before.0 - before.1 + late_now;

        let delay = whole.mul_f64(rng.next_f64() * 1.1);
        let mut child = Proc::spawn(cycle(at));
        std::thread::sleep(delay);
        child.kill9();
        let status = child.wait(Duration::from_secs(60));
        settle(&client).await;

        let after = vessels(&client, at).await;
        let after_commit = committed_at(&client, at).await;
        let mut c = census(&client, versions).await;
        let new_commit = after_commit.is_some() && after_commit != before_commit;
        if new_commit {
            new_whole += 1;
            if !committed.contains(&at) {
                committed.push(at);
            }
            if after.1 != late_now || (rerun && after.0 != full) {
                c.partial.push(format!(
                    "cycle {at}: committed with {} vessels ({} late), a whole run has {full} ({late_now} late)",
                    after.0, after.1
                ));
            }
        } else if after != before {
            c.partial.push(format!(
                "cycle {at}: not committed, yet vessels went from {before:?} to {after:?}"
            ));
        } else if before_commit.is_some() {
            old_kept += 1;
        } else {
            nothing += 1;
        }
        if !c.partial.is_empty() {
            partial_seen += 1;
            eprintln!(
                "trial {trial} ({}, killed after {delay:?}, exit {status}): {:#?}",
                if rerun { "rerun" } else { "first run" },
                c.partial
            );
        }
    }
    let mid_run = client
        .query_one(
            "SELECT count(*) FROM kcg.prediction_cycles WHERE status = 'RUNNING'",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0);
    println!(
        "kill -9 of runner cycle: {trials} trials (seed {seed}, kill points uniform in 0..{:.0} ms, \
         a whole run {:.0} ms): {nothing} stored nothing, {old_kept} kept the earlier run, \
         {new_whole} committed a whole new run; {mid_run} cycles left RUNNING by a kill; \
         partial cycles seen: {partial_seen}",
        whole.as_secs_f64() * 1100.0,
        whole.as_secs_f64() * 1000.0
    );
    let _ = std::fs::remove_dir_all(&tmp);
    assert_eq!(partial_seen, 0, "see the trials above");
    assert!(nothing + old_kept > 0, "no kill landed before a commit");
}
