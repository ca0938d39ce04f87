//! `runner snapshot`: exit codes of `--fail-on-alarm`, the JSON format and
//! `--budget-ms`, by running the built binary against a test database.

use std::process::Output;

use test_support::TestDb;

const AT: &str = "2022-01-03T01:00:00Z";

fn runner(db: &TestDb, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the runner binary")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every spoofing score of the hour is 0: SILENT_FAULT, an alarm.
async fn silent_fault(db: &TestDb) {
    db.client()
        .await
        .batch_execute(
            "INSERT INTO kcg.vessel_analysis (cycle_ts, mmsi, spoofing_score, fixes, identity_valid) VALUES
                 ('2022-01-03T00:05:00Z', 366000001, 0, 10, true),
                 ('2022-01-03T00:05:00Z', 366000002, 0, 10, true),
                 ('2022-01-03T00:10:00Z', 366000001, 0, 10, true);",
        )
        .await
        .expect("fixture");
}

#[tokio::test]
async fn fail_on_alarm_exits_2_and_names_the_section() {
    let db = TestDb::new().await;
    silent_fault(&db).await;

    let out = runner(&db, &["snapshot", "hourly", "--at", AT, "--fail-on-alarm"]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("in spoofing"),
        "stderr: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("SILENT_FAULT"),
        "stderr: {}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("1. spoofing scores: SILENT_FAULT"),
        "stdout: {}",
        stdout(&out)
    );

    // Without the flag the report is printed and the exit is 0.
    let out = runner(&db, &["snapshot", "diagnostic", "--at", AT]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(
        stdout(&out)
            .starts_with("snapshot diagnostic [2022-01-02T01:00:00Z, 2022-01-03T01:00:00Z)")
    );
    assert!(!stderr(&out).contains("ALARM"), "stderr: {}", stderr(&out));
}

#[tokio::test]
async fn fail_on_alarm_exits_0_when_healthy() {
    let db = TestDb::new().await;
    let out = runner(&db, &["snapshot", "hourly", "--at", AT, "--fail-on-alarm"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(stdout(&out).contains("NO_INPUT"));
    assert!(stdout(&out).contains("no rows in kcg.vessel_analysis in window"));
}

#[tokio::test]
async fn json_format_carries_schema_version_and_alarms() {
    let db = TestDb::new().await;
    silent_fault(&db).await;
    let out = runner(
        &db,
        &[
            "snapshot",
            "hourly",
            "--at",
            "2022-01-03T02:00:00+01:00",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("stdout is JSON");
    assert_eq!(v["schema_version"], 2);
    assert_eq!(v["kind"], "hourly");
    // +01:00 is normalised to UTC.
    assert_eq!(v["window_end"], AT);
    assert_eq!(v["spoofing"]["verdict"], "SILENT_FAULT");
    assert_eq!(v["alarms"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn budget_ms_decides_over_budget() {
    let db = TestDb::new().await;
    db.client()
        .await
        .batch_execute(
            "INSERT INTO kcg.prediction_stage_timings (cycle_ts, stage_no, stage_name, status, duration_ms) VALUES
                 ('2022-01-03T00:05:00Z', 1, 'load_window', 'OK', 40000),
                 ('2022-01-03T00:05:00Z', 2, 'clean', 'OK', 30000);",
        )
        .await
        .expect("fixture");

    let out = runner(&db, &["snapshot", "hourly", "--at", AT, "--fail-on-alarm"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "70 s is over the default 60 s: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("in timing"),
        "stderr: {}",
        stderr(&out)
    );

    let out = runner(
        &db,
        &[
            "snapshot",
            "hourly",
            "--at",
            AT,
            "--fail-on-alarm",
            "--budget-ms",
            "80000",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
}

#[tokio::test]
async fn a_bad_time_is_refused() {
    let db = TestDb::new().await;
    let out = runner(
        &db,
        &["snapshot", "hourly", "--at", "yesterday", "--fail-on-alarm"],
    );
    // A usage error is 64, never the alarm status 2.
    assert_eq!(out.status.code(), Some(64), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("RFC 3339"),
        "stderr: {}",
        stderr(&out)
    );
}

#[tokio::test]
async fn html_goes_to_the_output_file_and_keeps_the_alarm_exit() {
    let db = TestDb::new().await;
    silent_fault(&db).await;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let file = dir.join(format!("snapshot_cli_{}.html", db.name()));
    let file_arg = file.to_str().expect("a UTF-8 path");

    let out = runner(
        &db,
        &[
            "snapshot",
            "diagnostic",
            "--at",
            AT,
            "--format",
            "html",
            "--output",
            file_arg,
            "--fail-on-alarm",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "", "the report went to the file");
    assert!(stderr(&out).contains(file_arg), "stderr: {}", stderr(&out));
    let html = std::fs::read_to_string(&file).expect("the report file");
    std::fs::remove_file(&file).expect("remove the report file");
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("SILENT_FAULT"), "{html}");
    assert!(
        html.contains("class=\"alarm\" id=\"verdict-spoofing\""),
        "{html}"
    );
    assert!(html.trim_end().ends_with("</html>"));

    let out = runner(&db, &["snapshot", "hourly", "--at", AT, "--format", "html"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(stdout(&out).contains("<svg"), "stdout: {}", stdout(&out));
}
