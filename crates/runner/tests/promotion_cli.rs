//! The promotion workflow through the built binary, on the bundled real AIS
//! sample set up as `cargo xtask demo` does: `versions compare`,
//! `backtest`, `promote --gate`, `rollback`, `history`, `models
//! enable|disable|undepend`, `--note`, and the exit codes of each.

use std::path::Path;
use std::process::{Command, Output};

use test_support::TestDb;

const FIRST: &str = "2022-01-03T00:05:00Z";
const LAST: &str = "2022-01-03T00:25:00Z";

fn runner(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("RUST_LOG", "warn")
        .env("PREDICTION_USE_MODEL_REGISTRY", "on")
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .output()
        .expect("cannot run the runner binary")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs a command that must succeed; its stdout.
fn ok(db: &TestDb, args: &[&str]) -> String {
    let out = runner(db, args);
    assert!(
        out.status.success(),
        "runner {args:?} failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// Runs a command that must fail with `code`; its stdout and stderr.
fn fails(db: &TestDb, args: &[&str], code: i32) -> (String, String) {
    let out = runner(db, args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "runner {args:?}:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    (stdout(&out), stderr(&out))
}

/// The id in the last `(id N)` of `text`.
fn id_in(text: &str) -> i64 {
    let start = text.rfind("(id ").expect("an id in the output") + 4;
    let end = start + text[start..].find(')').expect("closing parenthesis");
    text[start..end].parse().expect("a numeric id")
}

/// The demo's database after its replay, through the CLI; the ids of the
/// CHALLENGER and of spoofing_score's PRIMARY.
fn demo(db: &TestDb) -> (i64, i64) {
    ok(
        db,
        &["ingest", "--csv", "data/ais-2022-01-03-sample.csv.gz"],
    );
    ok(
        db,
        &[
            "models",
            "add-reference",
            "--note",
            "the reference detectors",
        ],
    );
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo-candidates.json"),
    )
    .expect("data/demo-candidates.json");
    let candidates: Vec<serde_json::Value> = serde_json::from_str(&text).expect("JSON");
    let mut challenger = 0;
    for c in &candidates {
        let params = c["params"].to_string();
        let out = ok(
            db,
            &[
                "versions",
                "add",
                c["model"].as_str().unwrap(),
                c["version"].as_str().unwrap(),
                "--role",
                c["role"].as_str().unwrap(),
                "--params",
                &params,
                "--activate",
            ],
        );
        if c["role"] == "CHALLENGER" {
            challenger = id_in(&out);
        }
    }
    ok(
        db,
        &["replay", "--from", FIRST, "--to", LAST, "--every", "5m"],
    );
    let listed = ok(
        db,
        &[
            "versions",
            "list",
            "--model",
            "spoofing_score",
            "--format",
            "json",
        ],
    );
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let primary = listed["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["role"] == "PRIMARY")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    (challenger, primary)
}

#[tokio::test]
async fn compare_backtest_gate_rollback_and_history_from_the_command_line() {
    let db = TestDb::new().await;
    let (challenger, primary) = demo(&db);

    // The CHALLENGER against its PRIMARY, on the default window: the
    // replay is in 2022, so it is anchored on the newest cycle, and says so.
    let text = ok(&db, &["versions", "compare", &challenger.to_string()]);
    assert!(
        text.starts_with(
            "model identity_collision: CHALLENGER 2.0.0-two-switches (id 7) against PRIMARY 1.0.0 (id 4)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("the 24 hours up to the candidate's newest cycle"),
        "{text}"
    );
    assert!(text.contains("compared cycles  5 (both OK)"), "{text}");
    assert!(text.contains("5 only PRIMARY"), "{text}");
    assert!(text.contains("agreement@0.5    0.3750"), "{text}");
    assert!(text.contains("mean abs diff    0.3125"), "{text}");
    let json = ok(
        &db,
        &[
            "versions",
            "compare",
            &challenger.to_string(),
            "--from",
            FIRST,
            "--to",
            LAST,
            "--format",
            "json",
            "--top",
            "2",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(v["window"]["basis"], "given");
    assert_eq!(v["flags"]["only_baseline"], 5);
    assert_eq!(v["rows"]["baseline"], 8);
    assert_eq!(v["top_divergent"].as_array().unwrap().len(), 2);

    // Refusals: exit 1 naming the version; a half window is a usage error.
    let (_, err) = fails(&db, &["versions", "compare", "999"], 1);
    assert!(err.contains("no model version with id 999"), "{err}");
    let (_, err) = fails(&db, &["versions", "compare", &primary.to_string()], 1);
    assert!(
        err.contains("it is the ACTIVE PRIMARY of model spoofing_score"),
        "{err}"
    );
    let (_, err) = fails(&db, &["versions", "compare", "7", "--from", FIRST], 64);
    assert!(err.contains("--to"), "{err}");
    let (_, err) = fails(&db, &["versions", "compare", "7", "--threshold", "0"], 64);
    assert!(err.contains("above 0"), "{err}");

    // A new SHADOW after the fact, as a DRAFT.
    let mut params = detectors::default_params("spoofing_score").unwrap();
    params["speed_floor_factor"] = serde_json::json!(0.9);
    let added = ok(
        &db,
        &[
            "versions",
            "add",
            "spoofing_score",
            "1.2.0-floor09",
            "--role",
            "SHADOW",
            "--params",
            &params.to_string(),
            "--note",
            "a lower speed floor",
        ],
    );
    let candidate = id_in(&added);
    let id = candidate.to_string();
    let gate = [
        "versions",
        "promote",
        &id,
        "--gate",
        "--min-cycles",
        "5",
        "--min-agreement",
        "0.9",
        "--from",
        FIRST,
        "--to",
        LAST,
    ];
    // The gate refuses: no compared cycle yet. The figures are printed.
    let (out, err) = fails(&db, &gate, 1);
    assert!(
        out.contains("compared cycles >= 5                                         0  REFUSED"),
        "{out}"
    );
    assert!(out.contains("gate: refused"), "{out}");
    assert!(
        err.contains(&format!(
            "error: the promotion gate refused version {candidate}: compared cycles >= 5 (found 0)"
        )),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    let (_, err) = fails(
        &db,
        &[
            "versions",
            "backtest",
            &primary.to_string(),
            "--from",
            FIRST,
            "--to",
            LAST,
            "--every",
            "5m",
        ],
        1,
    );
    assert!(
        err.contains(&format!(
            "version {primary} cannot be backtested: it is a PRIMARY"
        )),
        "{err}"
    );

    let out = ok(
        &db,
        &[
            "versions", "backtest", &id, "--from", FIRST, "--to", LAST, "--every", "5m",
        ],
    );
    assert_eq!(out.matches("  OK  ").count(), 5, "{out}");
    assert!(
        out.contains(
            "backtested 5 cycles: 5 OK, 0 FAILED, 0 TIMEOUT, 0 SKIPPED, 0 kept (live runs)"
        ),
        "{out}"
    );
    let noted: Vec<&str> = gate
        .iter()
        .copied()
        .chain(["--note", "gate passed"])
        .collect();
    let out = ok(&db, &noted);
    assert!(out.contains("gate: passed"), "{out}");
    assert!(out.contains("5 of them backtest"), "{out}");
    assert!(
        out.contains(&format!(
            "promoted model spoofing_score version 1.2.0-floor09 (id {candidate}) from DRAFT SHADOW to ACTIVE PRIMARY"
        )),
        "{out}"
    );

    // Roll back: the previous PRIMARY again, and the next cycle runs it.
    let out = ok(
        &db,
        &[
            "versions",
            "rollback",
            "spoofing_score",
            "--note",
            "back to 1.0.0",
        ],
    );
    assert_eq!(
        out,
        format!(
            "rolled back model spoofing_score: version 1.0.0 (id {primary}) is the ACTIVE PRIMARY again; \
             version 1.2.0-floor09 (id {candidate}) is archived\n"
        )
    );
    ok(&db, &["cycle", "--at", "2022-01-03T00:30:00Z"]);
    let client = db.client().await;
    let ran: Vec<i64> = client
        .query(
            "SELECT version_id FROM kcg.detection_model_runs \
              WHERE cycle_ts = '2022-01-03T00:30:00Z' AND model_id = 'spoofing_score' AND role = 'PRIMARY' AND status = 'OK'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ran, vec![primary]);
    let (_, err) = fails(&db, &["versions", "rollback", "track_features"], 1);
    assert!(err.contains("did not replace a previous PRIMARY"), "{err}");
    assert!(
        err.contains("hint: promote the version you want instead"),
        "{err}"
    );
    let (_, err) = fails(&db, &["versions", "rollback", "ghost"], 1);
    assert!(err.contains("unknown model ghost"), "{err}");

    // A change by hand, then the audit trail of the model.
    client
        .batch_execute(
            "UPDATE kcg.detection_models SET description = 'spoofing evidence per vessel' \
              WHERE model_id = 'spoofing_score'",
        )
        .await
        .unwrap();
    let history = ok(&db, &["versions", "history", "spoofing_score"]);
    eprintln!("{history}");
    let lines: Vec<&str> = history.lines().collect();
    assert!(lines[0].starts_with("CHANGED_AT"), "{history}");
    let actions: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            // The model, its two edges, its PRIMARY.
            "add_reference",
            "add_reference",
            "add_reference",
            "add_reference",
            "add_version",
            "add_version",
            "promote",
            "promote",
            "rollback",
            "rollback",
            "manual",
        ],
        "{history}"
    );
    assert!(history.contains("a lower speed floor"), "{history}");
    assert!(history.contains("back to 1.0.0"), "{history}");
    assert!(history.contains("manual UPDATE"), "{history}");
    assert!(history.contains("description changed"), "{history}");
    let json = ok(
        &db,
        &["versions", "history", "--format", "json", "--limit", "1"],
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let last = &v["history"][0];
    assert_eq!(
        (last["action"].as_str(), last["operation"].as_str()),
        (Some("manual"), Some("UPDATE"))
    );
    assert_eq!(
        last["new_row"]["description"],
        "spoofing evidence per vessel"
    );
}

#[tokio::test]
async fn a_disabled_upstream_skips_its_dependents_and_the_snapshot_alarms() {
    let db = TestDb::new().await;
    demo(&db);
    let snapshot = [
        "snapshot",
        "hourly",
        "--at",
        "2022-01-03T00:30:01Z",
        "--fail-on-alarm",
    ];
    // The replay's hour: a CRITICAL collision is open, nothing else.
    let (_, err) = fails(&db, &snapshot, 2);
    assert!(!err.contains("models"), "{err}");

    let out = ok(
        &db,
        &[
            "models",
            "disable",
            "track_features",
            "--note",
            "maintenance",
        ],
    );
    assert!(out.starts_with("disabled model track_features"), "{out}");
    let out = ok(&db, &["models", "disable", "track_features"]);
    assert_eq!(
        out,
        "model track_features is already disabled; nothing changed\n"
    );
    ok(&db, &["cycle", "--at", "2022-01-03T00:30:00Z"]);
    let client = db.client().await;
    // One SKIPPED record per ACTIVE version of each model left out.
    let skipped: Vec<(String, Option<String>)> = client
        .query(
            "SELECT model_id::text, role::text FROM kcg.detection_model_runs \
              WHERE cycle_ts = '2022-01-03T00:30:00Z' AND status = 'SKIPPED' \
              ORDER BY model_id, kcg.role_rank(role) NULLS FIRST",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let s = |m: &str, r: Option<&str>| (m.to_owned(), r.map(str::to_owned));
    assert_eq!(
        skipped,
        vec![
            s("identity_collision", Some("PRIMARY")),
            s("identity_collision", Some("CHALLENGER")),
            s("risk", Some("PRIMARY")),
            s("spoofing_score", Some("PRIMARY")),
            s("spoofing_score", Some("SHADOW")),
            // Disabled: its versions are not loaded, it is named by edges.
            s("track_features", None),
        ]
    );
    let (_, err) = fails(&db, &snapshot, 2);
    for model in ["identity_collision", "risk", "spoofing_score"] {
        assert!(
            err.contains(&format!(
                "models: PRIMARY {model} version 1.0.0: 0 FAILED, 0 TIMEOUT and 1 SKIPPED"
            )),
            "{model}: {err}"
        );
    }
    let out = ok(&db, &["models", "enable", "track_features"]);
    assert!(out.starts_with("enabled model track_features"), "{out}");

    let undepend = [
        "models",
        "undepend",
        "risk",
        "--on",
        "spoofing_score",
        "--as",
        "spoofing",
    ];
    let out = ok(&db, &undepend);
    assert_eq!(
        out,
        "risk no longer reads spoofing_score's result as spoofing\n"
    );
    let out = ok(&db, &undepend);
    assert!(out.ends_with("nothing changed\n"), "{out}");
    let (_, err) = fails(&db, &["models", "enable", "ghost"], 1);
    assert!(err.contains("unknown model ghost"), "{err}");
    let history = ok(&db, &["versions", "history", "track_features"]);
    assert!(
        history.contains("enabled -> disabled") && history.contains("maintenance"),
        "{history}"
    );
}
