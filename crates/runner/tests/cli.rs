//! The runner binary end to end: migrate, check-schema, ingest.

use std::process::{Command, Output};

use test_support::TestDb;

fn runner(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("cannot run the runner binary")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test]
async fn migrate_twice_says_the_second_changed_nothing() {
    let db = TestDb::empty().await;
    let first = runner(db.url(), &["migrate"]);
    assert!(first.status.success(), "{}", text(&first));
    assert!(
        text(&first).contains("applied V034__detection_model_registry"),
        "{}",
        text(&first)
    );
    let second = runner(db.url(), &["migrate"]);
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        text(&second).contains("nothing changed"),
        "{}",
        text(&second)
    );
    assert!(!text(&second).contains("applied V"), "{}", text(&second));
}

#[tokio::test]
async fn check_schema_exits_non_zero_naming_table_column_expected_and_found() {
    let db = TestDb::new().await;
    let ok = runner(db.url(), &["check-schema"]);
    assert!(ok.status.success(), "{}", text(&ok));
    db.client()
        .await
        .batch_execute(
            "ALTER TABLE kcg.detection_model_runs ALTER COLUMN model_id TYPE VARCHAR(32)",
        )
        .await
        .unwrap();
    let bad = runner(db.url(), &["check-schema"]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(
        text(&bad).contains(
            "kcg.detection_model_runs.model_id: expected character varying(64), found character varying(32)"
        ),
        "{}",
        text(&bad)
    );
}

#[tokio::test]
async fn ingest_prints_read_loaded_skipped_and_already_present() {
    let db = TestDb::new().await;
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/ais-2022-01-03-sample.csv.gz"
    );
    let first = runner(db.url(), &["ingest", "--csv", sample]);
    assert!(first.status.success(), "{}", text(&first));
    let out = text(&first);
    for line in [
        "rows read:       74731",
        "rows loaded:     74731",
        "rows skipped:    0",
        "already present: 0",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    let second = text(&runner(db.url(), &["ingest", "--csv", sample]));
    assert!(second.contains("rows loaded:     0"), "{second}");
    assert!(second.contains("already present: 74731"), "{second}");
}

#[test]
fn a_missing_database_url_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_runner"))
        .arg("migrate")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("set DATABASE_URL or pass --database-url"),
        "{}",
        text(&out)
    );
}

#[test]
fn passwords_never_appear_in_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_runner"))
        .arg("migrate")
        .env("DATABASE_URL", "postgres://kcg:s3cr3t-pw@127.0.0.1:1/kcg")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("kcg@127.0.0.1:1/kcg"), "{t}");
    assert!(!t.contains("s3cr3t-pw"), "{t}");
}
