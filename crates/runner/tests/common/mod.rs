//! What the fault tests share: the runner binary as a child process whose
//! output is kept line by line with the time it was printed, AIS positions
//! written as a MarineCadastre CSV and ingested through `runner ingest`,
//! and the check that every cycle in the database is whole or absent.

#![allow(dead_code)] // each test binary uses its own part

use std::future::Future;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use tokio_postgres::Client;

/// The runner binary, logging warnings, the registry flag unset.
pub fn runner() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runner"));
    cmd.env("RUST_LOG", "warn")
        .env_remove("PREDICTION_USE_MODEL_REGISTRY")
        .env_remove("DATABASE_URL");
    cmd
}

/// Runs `runner args...` against `url` to completion; panics on failure.
pub fn run_ok(url: &str, args: &[&str]) -> String {
    let out = runner()
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "runner {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

type Lines = Arc<Mutex<Vec<(Instant, String)>>>;

/// A running runner whose stdout and stderr are collected as they come.
pub struct Proc {
    child: Child,
    out: Lines,
    err: Lines,
}

fn collect(stream: impl Read + Send + 'static) -> Lines {
    let lines: Lines = Arc::default();
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push((Instant::now(), line));
        }
    });
    lines
}

impl Proc {
    pub fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = collect(child.stdout.take().unwrap());
        let err = collect(child.stderr.take().unwrap());
        Proc { child, out, err }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -SIG pid`, a real signal.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{sig} {}", self.pid());
    }

    /// SIGKILL (`kill -9`), unless it has exited already.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
    }

    /// Still running?
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the exit, at most `timeout` (then kills it and panics).
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader threads drain the pipes.
                std::thread::sleep(Duration::from_millis(50));
                return status;
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                panic!("runner did not exit within {timeout:?}\n{}", self.dump());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stdout(&self) -> Vec<(Instant, String)> {
        self.out.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> Vec<(Instant, String)> {
        self.err.lock().unwrap().clone()
    }

    /// Lines of stdout printed after `since`.
    pub fn stdout_since(&self, since: Instant) -> Vec<String> {
        self.stdout()
            .into_iter()
            .filter(|(at, _)| *at >= since)
            .map(|(_, l)| l)
            .collect()
    }

    /// Everything printed, for failure messages.
    pub fn dump(&self) -> String {
        let join = |v: Vec<(Instant, String)>| {
            v.into_iter().map(|(_, l)| l).collect::<Vec<_>>().join("\n")
        };
        format!(
            "--- stdout\n{}\n--- stderr\n{}",
            join(self.stdout()),
            join(self.stderr())
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `check` every 50 ms until it holds or `timeout` passed.
pub async fn wait_until<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn one(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

/// Writes `vessels` vessels (MMSIs from `first_mmsi`) reporting every
/// `step` from `from` to `to` as a MarineCadastre CSV, each vessel moving
/// slowly north from its own position.
pub fn positions_csv(
    path: &Path,
    first_mmsi: i64,
    vessels: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step: TimeDelta,
) {
    let mut csv = String::from(
        "MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,\
         Length,Width,Draft,Cargo,TransceiverClass\n",
    );
    let mut t = from;
    let mut k = 0.0;
    while t <= to {
        for v in 0..vessels {
            let lat = 30.0 + (v as f64) * 0.01 + k * 0.0005;
            let lon = -88.0 + (v as f64) * 0.01;
            csv.push_str(&format!(
                "{},{},{lat:.5},{lon:.5},6.0,0.0,511,TEST {v},,,70,0,50,10,3.0,70,A\n",
                first_mmsi + v,
                t.format("%Y-%m-%dT%H:%M:%S"),
            ));
        }
        t += step;
        k += 1.0;
    }
    std::fs::write(path, csv).unwrap();
}

/// The figures of one check of the database.
#[derive(Debug, Default)]
pub struct Census {
    /// Cycles by status of their `prediction_cycles` row.
    pub ok: usize,
    pub failed: usize,
    pub running: usize,
    /// Cycles without a row (and, if whole, without anything).
    pub unrecorded: usize,
    /// What is not whole, one line per cycle.
    pub partial: Vec<String>,
}

const CENSUS: &str = "WITH ts AS (
      SELECT cycle_ts FROM kcg.prediction_cycles
      UNION SELECT cycle_ts FROM kcg.prediction_stage_timings
      UNION SELECT cycle_ts FROM kcg.vessel_analysis
      UNION SELECT cycle_ts FROM kcg.prediction_events
      UNION SELECT cycle_ts FROM kcg.detection_model_runs
      UNION SELECT cycle_ts FROM kcg.detection_model_run_outputs)
    SELECT ts.cycle_ts, c.status, c.committed_at IS NOT NULL,
      (SELECT count(*) FROM kcg.prediction_stage_timings t WHERE t.cycle_ts = ts.cycle_ts),
      (SELECT count(*) FROM kcg.prediction_stage_timings t
        WHERE t.cycle_ts = ts.cycle_ts AND t.status = 'FAILED'),
      (SELECT count(*) FROM kcg.prediction_stage_timings t
        WHERE t.cycle_ts = ts.cycle_ts AND t.status = 'OK'),
      (SELECT count(*) FROM kcg.vessel_analysis v WHERE v.cycle_ts = ts.cycle_ts),
      (SELECT count(*) FROM kcg.detection_model_run_outputs o WHERE o.cycle_ts = ts.cycle_ts
        AND o.model_id = 'spoofing_score' AND o.role = 'PRIMARY')
        + (SELECT coalesce(sum(r.omitted_count), 0) FROM kcg.detection_model_runs r
            WHERE r.cycle_ts = ts.cycle_ts AND r.model_id = 'spoofing_score' AND r.role = 'PRIMARY'),
      (SELECT count(*) FROM kcg.detection_model_runs r WHERE r.cycle_ts = ts.cycle_ts),
      (SELECT count(*) FROM kcg.prediction_events e WHERE e.cycle_ts = ts.cycle_ts)
    FROM ts LEFT JOIN kcg.prediction_cycles c USING (cycle_ts) ORDER BY 1";

const STATS_DRIFT: &str = "SELECT count(*) FROM kcg.prediction_stats_hourly s FULL JOIN
      (SELECT date_trunc('hour', event_ts, 'UTC') AS hour, category, count(*) AS n
         FROM kcg.prediction_events GROUP BY 1, 2) e USING (hour, category)
    WHERE s.event_count IS DISTINCT FROM e.n";

/// Checks that every cycle in the database is stored whole or not at all,
/// with the registry on and `versions` ACTIVE versions: its rows, its ten
/// stage timings and its `prediction_cycles` row agree, the PRIMARY
/// `spoofing_score` outputs count (stored, plus those its output policy
/// left out, from its run record) equals `vessel_analysis`, and the hourly
/// stats agree with the events.
pub async fn census(client: &Client, versions: i64) -> Census {
    let mut c = Census::default();
    for r in client.query(CENSUS, &[]).await.unwrap() {
        let ts: DateTime<Utc> = r.get(0);
        let status: Option<String> = r.get(1);
        let committed: Option<bool> = r.get(2);
        let committed = committed.unwrap_or(false);
        let (timings, failed, ok): (i64, i64, i64) = (r.get(3), r.get(4), r.get(5));
        let (vessels, scores, runs, events): (i64, i64, i64, i64) =
            (r.get(6), r.get(7), r.get(8), r.get(9));
        let has_rows = runs == versions;
        let mut why = Vec::new();
        if vessels != scores {
            why.push(format!(
                "{vessels} vessel_analysis rows but {scores} PRIMARY spoofing_score outputs (stored and omitted)"
            ));
        }
        if runs != 0 && runs != versions {
            why.push(format!("{runs} run records, expected 0 or {versions}"));
        }
        if !has_rows && (vessels > 0 || events > 0) {
            why.push(format!(
                "{vessels} vessels and {events} events without the run records"
            ));
        }
        if timings != 0 && timings != 10 {
            why.push(format!("{timings} stage timings"));
        }
        match status.as_deref() {
            None => {
                c.unrecorded += 1;
                if timings > 0 || has_rows {
                    why.push("rows but no prediction_cycles row".to_owned());
                }
            }
            Some("OK") => {
                c.ok += 1;
                if !(committed && has_rows && timings == 10 && ok == 10) {
                    why.push(format!(
                        "OK but committed {committed}, rows {has_rows}, {ok} of {timings} timings OK"
                    ));
                }
            }
            Some(s) => {
                if s == "FAILED" {
                    c.failed += 1;
                    if timings != 10 || failed != 1 {
                        why.push(format!("FAILED with {failed} FAILED of {timings} timings"));
                    }
                } else {
                    c.running += 1;
                }
                if has_rows != committed {
                    why.push(format!("{s}: rows {has_rows} but committed {committed}"));
                }
            }
        }
        if !why.is_empty() {
            c.partial
                .push(format!("cycle {ts} ({status:?}): {}", why.join("; ")));
        }
    }
    let drift = one(client, STATS_DRIFT).await;
    if drift != 0 {
        c.partial.push(format!(
            "{drift} (hour, category) stats disagree with the events"
        ));
    }
    c
}

/// Waits until no session but this one is connected to the database: a
/// killed runner's transactions are rolled back and its locks gone.
pub async fn settle(client: &Client) {
    let settled = wait_until(Duration::from_secs(20), || async {
        one(
            client,
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await
            == 0
    })
    .await;
    assert!(settled, "sessions of a killed runner are still there");
}

/// The lease row: `(holder, epoch)`.
pub async fn lease_holder(client: &Client) -> Option<(String, i64)> {
    client
        .query_opt("SELECT holder, epoch FROM kcg.runner_lease", &[])
        .await
        .unwrap()
        .map(|r| (r.get(0), r.get(1)))
}

/// Ticks of `every` from the first serve ran to the last: how many have an
/// OK row, and which have none.
pub async fn schedule_gaps(
    client: &Client,
    every: TimeDelta,
) -> (i64, Vec<DateTime<Utc>>, Vec<DateTime<Utc>>) {
    let rows = client
        .query(
            "SELECT cycle_ts, status FROM kcg.prediction_cycles ORDER BY cycle_ts",
            &[],
        )
        .await
        .unwrap();
    let all: Vec<(DateTime<Utc>, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let (Some(first), Some(last)) = (all.first(), all.last()) else {
        return (0, Vec::new(), Vec::new());
    };
    let mut missing = Vec::new();
    let mut not_ok = Vec::new();
    let mut t = first.0;
    while t <= last.0 {
        match all.iter().find(|(ts, _)| *ts == t) {
            None => missing.push(t),
            Some((_, s)) if s != "OK" => not_ok.push(t),
            Some(_) => {}
        }
        t += every;
    }
    let ok = all.iter().filter(|(_, s)| s == "OK").count() as i64;
    (ok, missing, not_ok)
}
