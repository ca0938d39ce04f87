//! The bad inputs of issue 13 through the real binary against a real
//! PostgreSQL: each refused with its exit code and a message that names
//! it, and nothing written or lost (every table of the schema counted
//! before and after); the values at their documented maxima accepted.

mod common;

use std::collections::BTreeMap;
use std::process::Output;
use std::time::{Duration, Instant};

use common::{Proc, runner};
use test_support::TestDb;
use tokio_postgres::Client;

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/ais-2022-01-03-sample.csv.gz"
);

fn run(url: &str, args: &[&str], registry: bool) -> Output {
    let mut cmd = runner();
    cmd.args(args).env("DATABASE_URL", url);
    if registry {
        cmd.env("PREDICTION_USE_MODEL_REGISTRY", "on");
    }
    cmd.output().expect("cannot run the runner binary")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Rows of every table this build reads or writes (and the partitions
/// there are), so "nothing else was written or lost" is checked on all of
/// them.
async fn census(client: &Client) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for t in schema::expected::TABLES {
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM {}", t.qualified()), &[])
            .await
            .unwrap()
            .get(0);
        out.insert(t.qualified(), n);
    }
    let parts: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhparent \
             WHERE c.relnamespace = 'kcg'::regnamespace",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    out.insert("partitions".into(), parts);
    out
}

/// Every flag and name refused at parse: exit 64, the message, nothing
/// written, on a database holding the sample and the reference models.
#[tokio::test]
async fn bad_flags_and_names_are_usage_errors_that_change_nothing() {
    let db = TestDb::new().await;
    let url = db.url();
    assert!(
        run(url, &["ingest", "--csv", SAMPLE], false)
            .status
            .success()
    );
    assert!(
        run(url, &["models", "add-reference"], false)
            .status
            .success()
    );
    let client = db.client().await;
    let before = census(&client).await;

    let at = "2022-01-03T00:10:00Z";
    let cycle = |flag: &'static str, value: &'static str| vec!["cycle", "--at", at, flag, value];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        // Times.
        (
            vec!["cycle", "--at", "2016-12-31T23:59:60Z"],
            "\"2016-12-31T23:59:60Z\" is a leap second; PostgreSQL has no leap seconds and would \
             store it as 2017-01-01T00:00:00Z, another time",
        ),
        (
            vec!["cycle", "--at", "2022-01-03T00:10:00.0000001Z"],
            "is more precise than a microsecond",
        ),
        (
            vec!["cycle", "--at", "1969-12-31T23:59:59Z"],
            "outside the times this system handles, 1970-01-01T00:00:00Z to 2199-12-31T23:59:59.999999Z",
        ),
        (
            vec!["cycle", "--at", "2200-01-01T00:00:00Z"],
            "outside the times this system handles",
        ),
        (
            vec!["snapshot", "hourly", "--at", "2016-12-31T23:59:60Z"],
            "is a leap second",
        ),
        (
            vec!["partitions", "maintain", "--now", "2200-01-01T00:00:00Z"],
            "outside the times this system handles",
        ),
        (
            vec![
                "replay",
                "--from",
                "2022-01-03T00:05:00Z",
                "--to",
                "2016-12-31T23:59:60Z",
                "--every",
                "5m",
            ],
            "is a leap second",
        ),
        // Durations, each beyond its maximum or below its minimum.
        (
            cycle("--window", "300000y"),
            "300000y is longer than the maximum, 1day",
        ),
        (
            cycle("--window", "1day 1s"),
            "is longer than the maximum, 1day",
        ),
        (
            cycle("--window", "0s"),
            "0s is shorter than the minimum, 1s",
        ),
        (
            cycle("--resolve-collisions-after", "300000y"),
            "300000y is longer than the maximum, 30days",
        ),
        (
            cycle("--model-timeout", "61m"),
            "61m is longer than the maximum, 1h",
        ),
        (
            cycle("--cache-ttl", "25h"),
            "25h is longer than the maximum, 1day",
        ),
        (
            cycle("--statement-timeout", "2h"),
            "2h is longer than the maximum, 1h",
        ),
        (
            cycle("--lock-timeout", "2h"),
            "2h is longer than the maximum, 1h",
        ),
        (
            vec![
                "replay",
                "--from",
                "2022-01-01T00:00:00Z",
                "--to",
                "2122-01-01T00:00:00Z",
                "--every",
                "1ms",
            ],
            "1ms is shorter than the minimum, 1s",
        ),
        (
            vec!["replay", "--from", at, "--to", at, "--every", "2days"],
            "2days is longer than the maximum, 1day",
        ),
        (
            vec!["serve", "--every", "1ns"],
            "1ns is shorter than the minimum, 1s",
        ),
        (
            vec!["serve", "--every", "5m", "--lease-ttl", "11m"],
            "11m is longer than the maximum, 10m",
        ),
        (
            vec!["serve", "--every", "5m", "--catch-up", "2days"],
            "2days is longer than the maximum, 1day",
        ),
        (
            vec!["serve", "--every", "5m", "--give-up-after", "300000y"],
            "300000y is longer than the maximum, 30days",
        ),
        // Names.
        (
            vec!["models", "add", "   "],
            "invalid value for <MODEL>: model id \"   \" is blank",
        ),
        (
            vec!["models", "add", "new\nmodel"],
            "invalid value for <MODEL>: model id \"new\\nmodel\" holds the control character '\\n' \
             (U+000A) at character 4",
        ),
        (
            vec!["models", "add", " risk"],
            "model id \" risk\" begins or ends with whitespace",
        ),
        (
            vec![
                "versions", "add", "risk", "1.1\t", "--role", "SHADOW", "--params", "{}",
            ],
            "invalid value for <VERSION>: version label \"1.1\\t\" holds the control character",
        ),
        (
            vec![
                "versions", "add", "risk\r", "1.1", "--role", "SHADOW", "--params", "{}",
            ],
            "invalid value for <MODEL>: model id \"risk\\r\"",
        ),
        (
            vec![
                "models",
                "depend",
                "risk",
                "--on",
                "identity",
                "--as",
                "\u{1b}[31m",
            ],
            "invalid value for --as <KEY>: input key \"\\u{1b}[31m\" holds the control character",
        ),
        (
            vec!["versions", "list", "--model", ""],
            "invalid value for --model <MODEL>: model id must not be empty",
        ),
        // The promotion workflow's commands (issue 15) take the same names,
        // times and durations.
        (
            vec![
                "versions",
                "add",
                "risk",
                "1.1",
                "--role",
                "SHADOW",
                "--params",
                "{}",
                "--implementation",
                "v2\n",
            ],
            "invalid value for --implementation <NAME>: implementation name \"v2\\n\" holds the \
             control character",
        ),
        (
            vec!["models", "disable", " risk"],
            "invalid value for <MODEL>: model id \" risk\" begins or ends with whitespace",
        ),
        (vec!["models", "enable", ""], "model id must not be empty"),
        (
            vec![
                "models", "undepend", "risk", "--on", "identity", "--as", "   ",
            ],
            "invalid value for --as <KEY>: input key \"   \" is blank",
        ),
        (
            vec!["versions", "rollback", "risk\u{2028}"],
            "invalid value for <MODEL>: model id \"risk\\u{2028}\" holds the control character",
        ),
        (
            vec!["versions", "history", "risk\n"],
            "invalid value for [MODEL]: model id \"risk\\n\"",
        ),
        (
            vec!["versions", "archive", "1", "--note", "two\nlines"],
            "invalid value for --note <NOTE>: \"two\\nlines\" has the control character '\\n' at \
             character 4; a note is one line of text",
        ),
        (
            vec!["models", "add", "m", "--note", "  "],
            "a note must say something",
        ),
        (
            vec![
                "versions", "backtest", "1", "--from", at, "--to", at, "--every", "0s",
            ],
            "0s is shorter than the minimum, 1s",
        ),
        (
            vec![
                "versions", "backtest", "1", "--from", at, "--to", at, "--every", "5m", "--window",
                "300000y",
            ],
            "300000y is longer than the maximum, 1day",
        ),
        (
            vec![
                "versions",
                "backtest",
                "1",
                "--from",
                "2016-12-31T23:59:60Z",
                "--to",
                at,
                "--every",
                "5m",
            ],
            "is a leap second",
        ),
        (
            vec![
                "versions",
                "backtest",
                "1",
                "--from",
                at,
                "--to",
                "2200-01-01T00:00:00Z",
                "--every",
                "5m",
            ],
            "outside the times this system handles",
        ),
        (
            vec![
                "versions",
                "backtest",
                "1",
                "--from",
                at,
                "--to",
                at,
                "--every",
                "5m",
                "--model-timeout",
                "0s",
            ],
            "0s is shorter than the minimum, 1ms",
        ),
        (
            vec!["versions", "compare", "abc"],
            "invalid value 'abc' for '<ID>'",
        ),
        (
            vec![
                "versions",
                "compare",
                "1",
                "--from",
                "1969-12-31T23:59:59Z",
                "--to",
                at,
            ],
            "outside the times this system handles",
        ),
        (
            vec!["versions", "promote", "1", "--min-agreement", "1.5"],
            "1.5 is not between 0 and 1",
        ),
        (
            vec!["versions", "promote", "1", "--min-cycles", "0"],
            "0 is not in 1..=1000000",
        ),
        (
            vec!["versions", "history", "--limit", "0"],
            "0 is not in 1..=100000",
        ),
    ];
    for (args, message) in &cases {
        let out = run(url, args, true);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
        // One line of message: no name or value breaks it in two.
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error: ")).count(),
            1,
            "{args:?}: {err}"
        );
        assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
    }
    assert_eq!(
        census(&client).await,
        before,
        "a refused command wrote or lost rows"
    );
}

/// Every duration and time at its documented maximum (and the earliest
/// time) is accepted, and the cycle runs to the end.
#[tokio::test]
async fn every_flag_at_its_maximum_is_accepted_and_the_cycle_runs() {
    let db = TestDb::new().await;
    let url = db.url();
    assert!(
        run(url, &["models", "add-reference"], false)
            .status
            .success()
    );
    let maxima = [
        "--window",
        "1day",
        "--resolve-collisions-after",
        "30days",
        "--model-timeout",
        "1h",
        "--cache-ttl",
        "1day",
        "--statement-timeout",
        "1h",
        "--lock-timeout",
        "1h",
    ];
    for at in ["2199-12-31T23:59:59.999999Z", "1970-01-01T00:00:00Z"] {
        let mut args = vec!["cycle", "--at", at];
        args.extend(maxima);
        let out = run(url, &args, true);
        assert!(
            out.status.success(),
            "{at}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        let text = stdout(&out);
        assert!(text.contains(" ok: "), "{text}");
        assert!(
            text.contains("registry 5 OK 0 FAILED 0 TIMEOUT 0 SKIPPED"),
            "{text}"
        );
    }
    let out = run(
        url,
        &[
            "replay",
            "--from",
            "2199-12-30T00:00:00Z",
            "--to",
            "2199-12-31T23:59:59.999999Z",
            "--every",
            "1day",
        ],
        false,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("replayed 2 of 2 cycles"),
        "{}",
        stdout(&out)
    );
    let out = run(
        url,
        &["snapshot", "hourly", "--at", "2199-12-31T23:59:59.999999Z"],
        false,
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

/// A century at one second: the ticks are counted, not built (the first
/// cycle starts at once, memory stays small), and SIGINT says how many
/// were not run.
#[tokio::test]
async fn a_replay_of_a_century_starts_at_once_and_stops_on_sigint() {
    let db = TestDb::new().await;
    let mut cmd = runner();
    cmd.args([
        "replay",
        "--from",
        "2022-01-01T00:00:00Z",
        "--to",
        "2122-01-01T00:00:00Z",
        "--every",
        "1s",
    ])
    .env("DATABASE_URL", db.url());
    let start = Instant::now();
    let mut p = Proc::spawn(cmd);
    let client = db.client().await;
    let ran = common::wait_until(Duration::from_secs(60), || async {
        common::one(
            &client,
            "SELECT count(*) FROM kcg.prediction_cycles WHERE status = 'OK'",
        )
        .await
            >= 2
    })
    .await;
    assert!(ran, "no cycle within a minute: {}", p.dump());
    let rss_kb: u64 = std::fs::read_to_string(format!("/proc/{}/status", p.pid()))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    // 3.2 billion ticks built first took 3 GiB; counted, a replay is a
    // cycle's memory.
    assert!(rss_kb < 300 * 1024, "peak RSS {rss_kb} kB: {}", p.dump());
    p.signal("INT");
    let status = p.wait(Duration::from_secs(60));
    let out: Vec<String> = p.stdout().into_iter().map(|(_, l)| l).collect();
    let done = out
        .iter()
        .find(|l| l.starts_with("replayed "))
        .unwrap_or_else(|| panic!("no summary: {}", p.dump()));
    assert!(done.contains("of 3155673601 cycles"), "{done}");
    let left = out
        .iter()
        .find(|l| l.starts_with("interrupted: the remaining "))
        .unwrap_or_else(|| panic!("no interruption line: {}", p.dump()));
    assert!(left.ends_with(" cycles were not run"), "{left}");
    assert!(status.success(), "{}", p.dump());
    assert!(start.elapsed() < Duration::from_secs(120));
}

/// Params nested 300 levels deep, set in psql: `versions list` lists every
/// version and exits 1 naming the bad one; `models plan` leaves it out with
/// the reason; a cycle runs every other model, records the left-out one
/// SKIPPED with the reason, and the version can still be archived.
#[tokio::test]
async fn nested_params_cost_only_their_version() {
    let db = TestDb::new().await;
    let url = db.url();
    assert!(
        run(url, &["ingest", "--csv", SAMPLE], false)
            .status
            .success()
    );
    assert!(
        run(url, &["models", "add-reference"], false)
            .status
            .success()
    );
    let client = db.client().await;
    let risk: i64 = client
        .query_one(
            "UPDATE kcg.detection_model_versions \
                SET params = jsonb_build_object('risk_weight', (repeat('[', 300) || repeat(']', 300))::jsonb) \
              WHERE model_id = 'risk' RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let problem = "recursion limit exceeded at line 1 column 143";

    let list = run(url, &["versions", "list"], false);
    assert_eq!(list.status.code(), Some(1), "{}", stderr(&list));
    let rows = stdout(&list);
    assert_eq!(
        rows.lines().count(),
        6,
        "a header and five versions: {rows}"
    );
    assert!(rows.contains("(cannot be read, see below)"), "{rows}");
    let errors: Vec<String> = stderr(&list)
        .lines()
        .filter(|l| l.starts_with("error: "))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        errors,
        [format!(
            "error: params of model \"risk\" version \"1.0.0\" (id {risk}) in \
             kcg.detection_model_versions cannot be read: {problem}; the version is left out of \
             every cycle until it is archived (`runner versions archive {risk}`) or its params are \
             replaced in psql"
        )]
    );
    let json = run(url, &["versions", "list", "--format", "json"], false);
    assert_eq!(json.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let bad = value["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == risk)
        .unwrap();
    assert_eq!(bad["params"], serde_json::Value::Null);
    assert_eq!(bad["params_error"], problem);

    let plan = run(url, &["models", "plan"], false);
    assert!(plan.status.success(), "{}", stderr(&plan));
    assert!(
        stdout(&plan).contains(&format!(
            "PRIMARY version 1.0.0 (id {risk}): its params cannot be read: {problem}"
        )),
        "{}",
        stdout(&plan)
    );

    let cycle = run(url, &["cycle", "--at", "2022-01-03T00:10:00Z"], true);
    assert!(
        cycle.status.success(),
        "{}{}",
        stdout(&cycle),
        stderr(&cycle)
    );
    assert!(
        stdout(&cycle).contains("registry 4 OK 0 FAILED 0 TIMEOUT 1 SKIPPED"),
        "{}",
        stdout(&cycle)
    );
    let runs = client
        .query(
            "SELECT model_id::text, status::text, coalesce(error, '') FROM kcg.detection_model_runs \
             ORDER BY model_id",
            &[],
        )
        .await
        .unwrap();
    let runs: Vec<(String, String, String)> = runs
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(runs.len(), 5, "{runs:?}");
    for (model, status, error) in &runs {
        if model == "risk" {
            assert_eq!(status, "SKIPPED");
            assert!(
                error.contains(&format!("(id {risk}): its params cannot be read")),
                "{error}"
            );
        } else {
            assert_eq!(status, "OK", "{model}: {error}");
        }
    }
    let outputs: i64 = common::one(
        &client,
        "SELECT count(DISTINCT model_id) FROM kcg.detection_model_run_outputs",
    )
    .await;
    assert_eq!(outputs, 4);

    let archive = run(url, &["versions", "archive", &risk.to_string()], false);
    assert!(archive.status.success(), "{}", stderr(&archive));
    // Archived, it runs nowhere: a note, not an error.
    let list = run(url, &["versions", "list"], false);
    assert!(list.status.success(), "{}", stderr(&list));
    assert!(
        stderr(&list).contains(&format!(
            "note: params of the archived model \"risk\" version \"1.0.0\" (id {risk}) cannot be read"
        )),
        "{}",
        stderr(&list)
    );
}

/// The promotion workflow's bad inputs that only the database can judge
/// (an unknown id, a PRIMARY to backtest) or that relate two flags (`--to`
/// before `--from`): exit 1, one line naming what is wrong, nothing
/// written.
#[tokio::test]
async fn bad_ids_and_reversed_windows_are_refused_and_change_nothing() {
    let db = TestDb::new().await;
    let url = db.url();
    assert!(
        run(url, &["ingest", "--csv", SAMPLE], false)
            .status
            .success()
    );
    assert!(
        run(url, &["models", "add-reference"], false)
            .status
            .success()
    );
    let client = db.client().await;
    let primary: i64 = common::one(
        &client,
        "SELECT id FROM kcg.detection_model_versions WHERE model_id = 'risk'",
    )
    .await;
    let primary = primary.to_string();
    let before = census(&client).await;
    let (from, to) = ("2022-01-03T00:20:00Z", "2022-01-03T00:10:00Z");
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["versions", "compare", "999"],
            "error: no model version with id 999".to_owned(),
        ),
        (
            vec!["versions", "compare", &primary, "--against", "999"],
            "error: no model version with id 999".to_owned(),
        ),
        (
            vec!["versions", "compare", &primary, "--against", &primary],
            format!(
                "error: version {primary} has nothing to compare with: it would be compared with itself"
            ),
        ),
        (
            vec!["versions", "compare", &primary, "--from", from, "--to", to],
            format!("error: --to {to} is before --from {from}; nothing was compared"),
        ),
        (
            vec![
                "versions", "backtest", &primary, "--from", from, "--to", to, "--every", "5m",
            ],
            format!("error: --to {to} is before --from {from}; nothing was run"),
        ),
        (
            vec![
                "versions", "backtest", "999", "--from", to, "--to", from, "--every", "5m",
            ],
            "error: no model version with id 999".to_owned(),
        ),
        (
            vec![
                "versions", "backtest", &primary, "--from", to, "--to", from, "--every", "5m",
            ],
            format!(
                "error: version {primary} cannot be backtested: it is a PRIMARY (risk version 1.0.0)"
            ),
        ),
        (
            vec!["versions", "promote", "999", "--note", "why"],
            "error: no model version with id 999".to_owned(),
        ),
        (
            vec!["versions", "rollback", "nosuchmodel"],
            "nosuchmodel".to_owned(),
        ),
    ];
    for (args, message) in &cases {
        let out = run(url, args, true);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(message.as_str()), "{args:?}: {err}");
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error: ")).count(),
            1,
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        census(&client).await,
        before,
        "a refused command wrote or lost rows"
    );
}

/// A version's params nested deeper than the JSON reader allows, set in
/// psql, are recorded by the audit trigger like any change; `versions
/// history` still lists the whole trail, that row without its params.
#[tokio::test]
async fn history_lists_a_change_whose_params_cannot_be_read() {
    let db = TestDb::new().await;
    let url = db.url();
    assert!(
        run(url, &["models", "add-reference"], false)
            .status
            .success()
    );
    let client = db.client().await;
    client
        .batch_execute(
            "UPDATE kcg.detection_model_versions \
                SET params = jsonb_build_object('w', (repeat('[', 300) || repeat(']', 300))::jsonb) \
              WHERE model_id = 'risk'",
        )
        .await
        .unwrap();
    let text = run(url, &["versions", "history", "risk"], false);
    assert!(text.status.success(), "{}", stderr(&text));
    let out = stdout(&text);
    assert!(out.contains("add_reference"), "{out}");
    let manual: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("manual UPDATE"))
        .collect();
    assert_eq!(manual.len(), 1, "{out}");
    assert!(
        manual[0].contains("version 1.0.0 (params cannot be read)"),
        "{out}"
    );
    let json = run(
        url,
        &["versions", "history", "risk", "--format", "json"],
        false,
    );
    assert!(json.status.success(), "{}", stderr(&json));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let last = v["history"].as_array().unwrap().last().unwrap().clone();
    assert!(
        last["unreadable"]
            .as_str()
            .unwrap()
            .starts_with("new_row: recursion limit exceeded"),
        "{last}"
    );
    assert_eq!(last["new_row"]["version"], "1.0.0");
    assert!(last["new_row"].get("params").is_none(), "{last}");
    // The old row was readable, and is given whole.
    assert!(last["old_row"]["params"].is_object(), "{last}");
}

/// In psql the database refuses what the CLI refuses (V052).
#[tokio::test]
async fn the_database_refuses_bad_names_typed_in_psql() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let before = census(&client).await;
    for (sql, constraint) in [
        (
            "INSERT INTO kcg.detection_models (model_id) VALUES ('   ')",
            "detection_models_model_id_name_check",
        ),
        (
            "INSERT INTO kcg.detection_models (model_id) VALUES (E'new\\nmodel')",
            "detection_models_model_id_name_check",
        ),
    ] {
        let err = client.batch_execute(sql).await.unwrap_err();
        assert_eq!(
            err.as_db_error().and_then(|e| e.constraint()),
            Some(constraint),
            "{sql}: {err:?}"
        );
    }
    assert_eq!(census(&client).await, before);
}

/// `check-schema` on drift typed in psql: exit 1 and one line per
/// mismatch naming table, column, expected and found.
#[tokio::test]
async fn check_schema_names_each_drift_through_the_binary() {
    for (ddl, line) in [
        (
            "ALTER TABLE kcg.vessel_analysis ALTER spoofing_score TYPE integer",
            "  kcg.vessel_analysis.spoofing_score: expected real, found integer",
        ),
        (
            "ALTER TABLE kcg.prediction_stage_timings ALTER detail TYPE varchar(16)",
            "  kcg.prediction_stage_timings.detail: expected text, found character varying(16)",
        ),
        (
            "ALTER TABLE kcg.ais_positions DETACH PARTITION kcg.ais_positions_default",
            "  kcg.ais_positions.ts: expected a DEFAULT partition (rows outside every period land \
             there), found none",
        ),
        // What issues 11 and 15 added (V048, V050, V051).
        (
            "ALTER TABLE kcg.detection_model_versions ALTER implementation TYPE varchar(8)",
            "  kcg.detection_model_versions.implementation: expected character varying(64), found \
             character varying(8)",
        ),
        (
            "ALTER TABLE kcg.detection_model_versions DISABLE TRIGGER detection_model_versions_audit",
            "  kcg.detection_model_versions: expected trigger detection_model_versions_audit, \
             enabled, found it is disabled",
        ),
        (
            "ALTER TABLE kcg.detection_model_runs DROP CONSTRAINT detection_model_runs_origin_check",
            "  kcg.detection_model_runs.origin: expected CHECK (origin IN (LIVE, BACKTEST)), found \
             no CHECK constraint",
        ),
        (
            "ALTER TABLE kcg.detection_model_audit ALTER note TYPE varchar(10)",
            "  kcg.detection_model_audit.note: expected text, found character varying(10)",
        ),
        (
            "ALTER TABLE kcg.prediction_stats_hourly DROP CONSTRAINT prediction_stats_hourly_pkey",
            "  kcg.prediction_stats_hourly: expected PRIMARY KEY (hour, category) \
             (prediction_stats_hourly_pkey), found no unique index",
        ),
    ] {
        let db = TestDb::new().await;
        let ok = run(db.url(), &["check-schema"], false);
        assert!(ok.status.success(), "{}", stderr(&ok));
        assert!(stdout(&ok).starts_with("schema OK: "), "{}", stdout(&ok));
        db.client().await.batch_execute(ddl).await.unwrap();
        let bad = run(db.url(), &["check-schema"], false);
        assert_eq!(bad.status.code(), Some(1), "{ddl}: {}", stderr(&bad));
        assert_eq!(
            stderr(&bad),
            format!("schema check FAILED: 1 mismatch(es)\n{line}\n"),
            "{ddl}"
        );
    }
}

/// `migrate` over hand-typed bad names: refinery runs V052, which refuses
/// and names every row; the error is said once (no "db error: db error"),
/// and nothing was changed (V052 not recorded, the rows as they were).
#[tokio::test]
async fn migrate_refuses_bad_names_naming_them_and_changes_nothing() {
    let db = TestDb::new().await;
    let client = db.client().await;
    // The database as it was before V052 and V053, with rows typed in psql.
    client
        .batch_execute(
            "ALTER TABLE kcg.detection_models DROP CONSTRAINT detection_models_model_id_name_check;
             ALTER TABLE kcg.detection_model_versions DROP CONSTRAINT detection_model_versions_model_id_name_check,
                 DROP CONSTRAINT detection_model_versions_version_name_check,
                 DROP CONSTRAINT detection_model_versions_implementation_name_check;
             ALTER TABLE kcg.detection_model_dependencies DROP CONSTRAINT detection_model_dependencies_model_id_name_check,
                 DROP CONSTRAINT detection_model_dependencies_depends_on_name_check,
                 DROP CONSTRAINT detection_model_dependencies_input_key_name_check;
             ALTER TABLE kcg.detection_model_runs DROP CONSTRAINT detection_model_runs_model_id_name_check;
             ALTER TABLE kcg.detection_model_metrics DROP CONSTRAINT detection_model_metrics_metric_key_name_check;
             DROP FUNCTION kcg.is_valid_name(text);
             DROP FUNCTION kcg.schema_fingerprint(text[], text[]);
             DELETE FROM refinery_schema_history WHERE version >= 52;
             INSERT INTO kcg.detection_models (model_id) VALUES (E'bad\\nid'), ('   ');",
        )
        .await
        .unwrap();
    let before = census(&client).await;
    let out = run(db.url(), &["migrate"], false);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with(
            "error: applying the migrations failed: error applying migration V52__valid_names: \
             db error: ERROR: V052 refuses names that are blank, begin or end with whitespace or \
             hold a control character; nothing was changed. Rows to fix:\n  \
             kcg.detection_models.model_id \"   \" (a model)\n  \
             kcg.detection_models.model_id \"bad\\nid\" (a model)\nHINT: rename or delete them, \
             then run `runner migrate` again"
        ),
        "{err}"
    );
    assert_eq!(err.matches("db error").count(), 1, "{err}");
    assert_eq!(census(&client).await, before);
    let applied = common::one(
        &client,
        "SELECT count(*) FROM refinery_schema_history WHERE version >= 52",
    )
    .await;
    assert_eq!(applied, 0);
}
