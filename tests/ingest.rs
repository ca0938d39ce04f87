//! `ingest` against a real PostgreSQL, on the bundled real AIS sample and on
//! small hand-made files.

use std::io::Write;
use std::path::{Path, PathBuf};

use ingest::{IngestError, NoProgress, ingest_file};
use test_support::TestDb;

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/ais-2022-01-03-sample.csv.gz")
}

/// A file under the system temp dir, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &str) -> TempFile {
        let dir = std::env::temp_dir().join(format!("kcg-ingest-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(contents.as_bytes())
            .unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const HEADER: &str = "MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,Length,Width,Draft,Cargo,TransceiverClass";

async fn count(client: &tokio_postgres::Client, table: &str) -> i64 {
    client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn the_bundled_sample_loads_whole_once() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let first = ingest_file(&mut client, &sample(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(first.rows_read, 74_731);
    assert_eq!(first.rows_loaded, 74_731);
    assert_eq!(first.rows_skipped, 0);
    assert_eq!(first.rows_already_present, 0);
    assert_eq!(
        first.sha256,
        "2b9d0a765c129252954d13eebff8577116f4d28cdf528f357e97068cf443b5dc"
    );
    assert_eq!(count(&client, "kcg.ais_positions").await, 74_731);

    // The sentinels are stored as reported: cleaning is the cycle's job.
    let sentinels: i64 = client
        .query_one(
            "SELECT count(*) FROM kcg.ais_positions WHERE sog BETWEEN 102.25 AND 102.35",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(sentinels, 111);

    let second = ingest_file(&mut client, &sample(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(second.rows_loaded, 0);
    assert_eq!(second.rows_already_present, 74_731);
    assert_eq!(count(&client, "kcg.ais_positions").await, 74_731);
    assert_eq!(count(&client, "kcg.ais_ingested_files").await, 1);
}

#[tokio::test]
async fn a_wrong_header_writes_nothing() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let file = TempFile::new(
        "wrong-header.csv",
        "mmsi,time,lat,lon\n368007760,2022-01-03T00:00:09,47.99793,-122.21675\n",
    );
    let err = ingest_file(&mut client, &file.0, &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(err, IngestError::Header { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("mmsi,time,lat,lon"), "{msg}");
    assert!(msg.contains(HEADER), "{msg}");
    assert!(msg.contains("nothing was written"), "{msg}");
    assert_eq!(count(&client, "kcg.ais_positions").await, 0);
    assert_eq!(count(&client, "kcg.ais_ingested_files").await, 0);
}

#[tokio::test]
async fn corrupted_rows_are_skipped_with_their_line_numbers_and_the_rest_lands() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let csv = format!(
        "{HEADER}\n\
         368007760,2022-01-03T00:00:09,47.99793,-122.21675,0.0,216.3,511,ROXIA,,WDJ7542,37,0,20,6,2.0,37,A\n\
         338347057,2022-01-03T00:00:10,33.7x603,-118.07364,0.0,358.8,511,ALEXANDRIA IV,IMO0000000,,37,,17,5,,,B\n\
         368124350,2022-01-03T00:00:10,31.16711,-81.41555,0.0,346.8,275,POSITIVE LATITUDE,IMO0000000,WDL3719,37,,14,5,,,B\n\
         316021522,2022-01-03 noonish,48.66969,-123.40571,0.0,194.5,511,HOUNDS HOLLOW,IMO0000000,VA7EJG,36,,13,4,,,B\n\
         316021523,2022-01-03T00:00:04,48.66969,-123.40571,,,,,,,,,,,,,\n"
    );
    let file = TempFile::new("two-bad.csv", &csv);
    let report = ingest_file(&mut client, &file.0, &NoProgress)
        .await
        .unwrap();
    assert_eq!(report.rows_read, 5);
    assert_eq!(report.rows_loaded, 3);
    assert_eq!(report.rows_skipped, 2);
    let lines: Vec<u64> = report.bad_rows.iter().map(|b| b.line).collect();
    assert_eq!(lines, [3, 5]);
    assert!(
        report.bad_rows[0].reason.starts_with("LAT:"),
        "{}",
        report.bad_rows[0]
    );
    assert!(
        report.bad_rows[1].reason.starts_with("BaseDateTime:"),
        "{}",
        report.bad_rows[1]
    );
    assert_eq!(count(&client, "kcg.ais_positions").await, 3);
    let ledger = client
        .query_one(
            "SELECT rows_read, rows_loaded, rows_skipped FROM kcg.ais_ingested_files",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            ledger.get::<_, i64>(0),
            ledger.get::<_, i64>(1),
            ledger.get::<_, i64>(2)
        ),
        (5, 3, 2)
    );

    // Again: nothing new, and the numbers still add up.
    let again = ingest_file(&mut client, &file.0, &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        (
            again.rows_read,
            again.rows_loaded,
            again.rows_skipped,
            again.rows_already_present
        ),
        (5, 0, 2, 3)
    );
    assert_eq!(count(&client, "kcg.ais_positions").await, 3);
}

#[tokio::test]
async fn a_plain_csv_of_the_same_rows_loads_too() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let file = TempFile::new(
        "plain.csv",
        &format!(
            "{HEADER}\n368007760,2022-01-03T00:00:09,47.99793,-122.21675,0.0,216.3,511,ROXIA,,WDJ7542,37,0,20,6,2.0,37,A\n"
        ),
    );
    let report = ingest_file(&mut client, &file.0, &NoProgress)
        .await
        .unwrap();
    assert_eq!(report.rows_loaded, 1);
    let row = client
        .query_one(
            "SELECT mmsi, lat, vessel_name, ts::text FROM kcg.ais_positions",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 368007760);
    assert_eq!(row.get::<_, f64>(1), 47.99793);
    assert_eq!(row.get::<_, Option<String>>(2).as_deref(), Some("ROXIA"));
    assert_eq!(row.get::<_, String>(3), "2022-01-03 00:00:09+00");
}

#[tokio::test]
async fn a_missing_file_is_a_clear_error() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let err = ingest_file(&mut client, Path::new("/nonexistent/ais.csv"), &NoProgress)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/ais.csv"), "{err}");
}

#[tokio::test]
async fn a_row_that_is_not_utf8_is_a_bad_row_not_a_failed_file() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let mut bytes = format!(
        "{HEADER}\n368007760,2022-01-03T00:00:09,47.99793,-122.21675,0.0,216.3,511,ROXIA,,WDJ7542,37,0,20,6,2.0,37,A\n"
    )
    .into_bytes();
    // A Latin-1 vessel name ("PEÑA"): one byte that is not UTF-8.
    bytes.extend_from_slice(
        b"338347057,2022-01-03T00:00:10,33.72603,-118.07364,0.0,358.8,511,PE\xd1A,,,37,,17,5,,,B\n",
    );
    bytes.extend_from_slice(
        b"368124350,2022-01-03T00:00:10,31.16711,-81.41555,0.0,346.8,275,POSITIVE LATITUDE,,WDL3719,37,,14,5,,,B\n",
    );
    let dir = std::env::temp_dir().join(format!("kcg-ingest-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("latin1.csv");
    std::fs::write(&path, &bytes).unwrap();
    let file = TempFile(path);

    let report = ingest_file(&mut client, &file.0, &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        (report.rows_read, report.rows_loaded, report.rows_skipped),
        (3, 2, 1)
    );
    assert_eq!(report.bad_rows.len(), 1);
    assert_eq!(report.bad_rows[0].line, 3);
    assert!(
        report.bad_rows[0].reason.starts_with("VesselName:"),
        "{}",
        report.bad_rows[0]
    );
    assert_eq!(count(&client, "kcg.ais_positions").await, 2);
}
