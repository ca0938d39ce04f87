//! `cycle` and `serve` through the binary: the strict feature flag, and two
//! replicas sharing one database.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use test_support::TestDb;

fn runner() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runner"));
    cmd.env("RUST_LOG", "warn")
        .env_remove("PREDICTION_USE_MODEL_REGISTRY");
    cmd
}

#[tokio::test]
async fn a_bad_registry_flag_stops_the_runner_at_start_up() {
    let db = TestDb::new().await;
    let out = runner()
        .args(["cycle", "--at", "2022-01-03T00:10:00Z"])
        .env("DATABASE_URL", db.url())
        .env("PREDICTION_USE_MODEL_REGISTRY", "maybe")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("PREDICTION_USE_MODEL_REGISTRY=\"maybe\""),
        "{err}"
    );
    let written: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM kcg.prediction_stage_timings", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(written, 0, "nothing may run with a bad flag");

    let ok = runner()
        .args(["cycle", "--at", "2022-01-03T00:10:00Z"])
        .env("DATABASE_URL", db.url())
        .env("PREDICTION_USE_MODEL_REGISTRY", "off")
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("model_registry  SKIPPED"));
}

#[tokio::test]
async fn two_serve_replicas_run_each_cycle_once() {
    let db = TestDb::new().await;
    let spawn = || {
        runner()
            .args(["serve", "--every", "2s"])
            .env("DATABASE_URL", db.url())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn();
    let b = spawn();
    // Wait until three cycles have been recorded (or give up after 30 s).
    let client = db.client().await;
    let start = Instant::now();
    loop {
        let n: i64 = client
            .query_one("SELECT count(DISTINCT cycle_ts) FROM kcg.prediction_stage_timings WHERE stage_no = 10", &[])
            .await
            .unwrap()
            .get(0);
        if n >= 3 || start.elapsed() > Duration::from_secs(30) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Both at once, so the follower cannot take over in between.
    let status = Command::new("kill")
        .args(["-TERM", &a.id().to_string(), &b.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut logs = Vec::new();
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(0),
            "SIGTERM ends serve with 0\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("stopped"), "{stdout}");
        logs.push(stdout);
    }
    let mut runs: BTreeMap<String, usize> = BTreeMap::new();
    for log in &logs {
        for line in log.lines().filter(|l| l.starts_with("cycle ")) {
            let ts = line.split_whitespace().nth(1).unwrap().to_owned();
            *runs.entry(ts).or_default() += 1;
        }
    }
    assert!(
        runs.len() >= 3,
        "at least three ticks ran: {runs:?}\n{logs:?}"
    );
    assert!(
        runs.values().all(|&n| n == 1),
        "each cycle ran once: {runs:?}"
    );
    let leaders = logs
        .iter()
        .filter(|l| l.contains("leader: this process runs the cycles"))
        .count();
    assert_eq!(leaders, 1, "{logs:?}");
    // Ticks are aligned to the clock: every cycle_ts is a multiple of 2 s.
    let misaligned: i64 = client
        .query_one(
            "SELECT count(*) FROM kcg.prediction_stage_timings \
             WHERE (extract(epoch FROM cycle_ts) * 1000)::bigint % 2000 <> 0",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(misaligned, 0);
}

#[tokio::test]
async fn serve_picks_up_a_registry_change_at_the_next_tick_not_after_the_ttl() {
    let db = TestDb::new().await;
    let child = runner()
        .args(["serve", "--every", "1s", "--cache-ttl", "1h"])
        .env("DATABASE_URL", db.url())
        .env("PREDICTION_USE_MODEL_REGISTRY", "on")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = db.client().await;
    let count = |sql: &'static str| {
        let client = &client;
        async move { client.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    // Wait for a cycle with an empty registry: the cache now holds "nothing".
    let start = Instant::now();
    while count(
        "SELECT count(*) FROM kcg.prediction_stage_timings WHERE stage_no = 10 AND status = 'OK'",
    )
    .await
        == 0
        && start.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        count("SELECT count(*) FROM kcg.detection_model_runs").await,
        0
    );
    // An operator registers a model; the trigger NOTIFYs; serve invalidates.
    client
        .batch_execute(
            "INSERT INTO kcg.detection_models (model_id) VALUES ('identity');
             INSERT INTO kcg.detection_model_versions (model_id, version, role, status, params)
             VALUES ('identity', '1', 'PRIMARY', 'ACTIVE', '{\"unassigned_mid_invalid\": true, \"craft_mid_required\": false}');",
        )
        .await
        .unwrap();
    let start = Instant::now();
    while count("SELECT count(*) FROM kcg.detection_model_runs").await == 0
        && start.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let runs = count("SELECT count(*) FROM kcg.detection_model_runs WHERE model_id = 'identity' AND status = 'OK'").await;
    assert!(
        runs > 0,
        "the new version never ran (TTL is 1 h, so only the NOTIFY could have made it run)\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
}

#[tokio::test]
async fn ctrl_c_stops_a_replay_after_the_current_cycle() {
    use std::io::{BufRead, BufReader, Read};

    let db = TestDb::new().await;
    let mut child = runner()
        .args([
            "replay",
            "--from",
            "2022-01-03T00:00:00Z",
            "--to",
            "2022-01-05T00:00:00Z",
            "--every",
            "1m",
        ])
        .env("DATABASE_URL", db.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(
        first.starts_with("cycle 2022-01-03T00:00:00Z ok"),
        "{first}"
    );
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{rest}");
    let ran = 1 + rest.lines().filter(|l| l.starts_with("cycle ")).count();
    assert!(ran < 2881, "all 2,881 cycles ran despite Ctrl-C:\n{rest}");
    assert!(
        rest.contains(&format!("replayed {ran} of 2881 cycles")),
        "{rest}"
    );
    assert!(
        rest.contains(&format!(
            "interrupted: the remaining {} cycles were not run",
            2881 - ran
        )),
        "{rest}"
    );
    // Every cycle that was reported ran whole: ten stages each.
    let stages: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM kcg.prediction_stage_timings", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stages, 10 * i64::try_from(ran).unwrap());
}

/// How often `needle` occurs in `haystack`.
fn occurrences(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[tokio::test]
async fn a_failed_stage_and_a_failed_command_print_each_cause_once() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute("DROP TABLE kcg.gear_identity_collisions")
        .await
        .unwrap();
    let server = "ERROR: relation \"kcg.gear_identity_collisions\" does not exist";

    // A failed stage: the cycle's summary line and the stored detail.
    let out = runner()
        .args(["cycle", "--at", "2022-01-03T00:10:00Z"])
        .env("DATABASE_URL", db.url())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("FAILED at stage 6 collisions"))
        .unwrap_or_else(|| panic!("no failed-stage line in {stdout}"));
    let detail: String = client
        .query_one(
            "SELECT detail FROM kcg.prediction_stage_timings WHERE stage_no = 6",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        detail,
        format!("database error on kcg.gear_identity_collisions: db error: {server}")
    );
    assert!(
        line.contains(&format!("collisions: {detail}: 0 fixes")),
        "{line}"
    );
    for text in [line, detail.as_str()] {
        assert_eq!(occurrences(text, server), 1, "{text}");
        assert_eq!(occurrences(text, "db error"), 1, "{text}");
    }

    // A failed command: the runner's own report of an error chain.
    let out = runner()
        .args(["snapshot", "hourly", "--at", "2022-01-03T01:00:00Z"])
        .env("DATABASE_URL", db.url())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line in {stderr}"));
    assert_eq!(
        error,
        format!(
            "error: snapshot section collisions: query on kcg.gear_identity_collisions failed: db error: {server}"
        )
    );
}
