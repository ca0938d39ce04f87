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

// ---------------------------------------------------------------------------
// Bad input, table-driven (issue 13): each case names the error or the bad
// row and proves that nothing else was written or lost.

/// The bundled sample, decompressed.
fn sample_text() -> String {
    use std::io::Read;
    let mut s = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(sample()).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    s
}

fn gzip(bytes: &[u8], level: u32) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The sample with line `n` (1-based, the header is line 1) changed by `f`.
fn sample_with_line(n: usize, f: impl Fn(&str) -> String) -> String {
    sample_text()
        .lines()
        .enumerate()
        .map(|(i, l)| if i + 1 == n { f(l) } else { l.to_owned() })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// A file of raw bytes under the temp dir, removed on drop.
fn temp_bytes(name: &str, bytes: &[u8]) -> TempFile {
    let dir = std::env::temp_dir().join(format!("kcg-ingest-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    TempFile(path)
}

/// Rows already in the database before a bad file comes: one other day.
const EARLIER: &str = "366999001,2021-12-30T10:00:00,40.1,-70.1,1.0,10.0,511,EARLIER ONE,,,37,,17,5,,,B\n\
                       366999002,2021-12-30T10:00:01,40.2,-70.2,1.0,10.0,511,EARLIER TWO,,,37,,17,5,,,B\n";

/// `(mmsi, ts, vessel_name, source file name)` of every stored row, ordered.
async fn stored(client: &tokio_postgres::Client) -> Vec<(i64, String, Option<String>, String)> {
    client
        .query(
            "SELECT p.mmsi, p.ts::text, p.vessel_name, f.file_name FROM kcg.ais_positions p \
             JOIN kcg.ais_ingested_files f ON f.id = p.source_file_id ORDER BY 1, 2, 3",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

/// What one bad input must do.
enum Want {
    /// An error whose message holds every needle; nothing written.
    Refused(&'static [&'static str]),
    /// Loads, with exactly these bad lines (and a reason holding the needle).
    BadRows(&'static [(u64, &'static str)]),
}

#[tokio::test]
async fn bad_inputs_are_named_and_nothing_else_is_written_or_lost() {
    let sample_rows = 74_731u64;
    let truncated = {
        let gz = std::fs::read(sample()).unwrap();
        gz[..gz.len() / 2].to_vec()
    };
    let corrupt = {
        let mut gz = std::fs::read(sample()).unwrap();
        let mid = gz.len() / 2;
        for b in &mut gz[mid..mid + 64] {
            *b = !*b;
        }
        gz
    };
    let cases: Vec<(&str, Vec<u8>, Want)> = vec![
        (
            // The issue's repro: `awk -F, 'NR==101{$8="\"BROKEN"}1' OFS=,`.
            "unbalanced-quote.csv",
            sample_with_line(101, |l| {
                let mut f: Vec<&str> = l.split(',').collect();
                f[7] = "\"BROKEN";
                f.join(",")
            })
            .into_bytes(),
            Want::BadRows(&[(101, "VesselName: the quote opened in this field")]),
        ),
        (
            "nul.csv",
            sample_with_line(50, |l| {
                let mut f: Vec<String> = l.split(',').map(str::to_owned).collect();
                f[7].push_str("\0X");
                f.join(",")
            })
            .into_bytes(),
            Want::BadRows(&[(50, "VesselName: contains a NUL byte")]),
        ),
        (
            "truncated.csv.gz",
            truncated,
            Want::Refused(&[
                "truncated.csv.gz",
                "the gzip stream ends early, after line",
                "(truncated file?)",
                "nothing was written",
                "send the complete file again",
            ]),
        ),
        (
            "corrupt.csv.gz",
            corrupt,
            Want::Refused(&["corrupt.csv.gz", "after line", "nothing was written"]),
        ),
        (
            "wrong-header.csv",
            b"mmsi;time;lat;lon\n368007760;2022-01-03T00:00:09;47.99793;-122.21675\n".to_vec(),
            Want::Refused(&[
                "wrong-header.csv",
                "its header (line 1) is",
                "mmsi;time;lat;lon",
            ]),
        ),
        (
            "empty.csv",
            Vec::new(),
            Want::Refused(&["empty.csv", "the file is empty", "nothing was written"]),
        ),
    ];
    for (name, bytes, want) in cases {
        let db = TestDb::new().await;
        let mut client = db.client().await;
        let earlier = TempFile::new("earlier.csv", &format!("{HEADER}\n{EARLIER}"));
        ingest_file(&mut client, &earlier.0, &NoProgress)
            .await
            .unwrap();
        let before = stored(&client).await;
        let ledger_before = count(&client, "kcg.ais_ingested_files").await;

        let file = temp_bytes(name, &bytes);
        let result = ingest_file(&mut client, &file.0, &NoProgress).await;
        let after = stored(&client).await;
        match want {
            Want::Refused(needles) => {
                let err = result.expect_err(name);
                let msg = err.to_string();
                for n in needles {
                    assert!(msg.contains(n), "{name}: {n:?} missing in {msg}");
                }
                assert_eq!(after, before, "{name}: nothing written, nothing lost");
                assert_eq!(
                    count(&client, "kcg.ais_ingested_files").await,
                    ledger_before,
                    "{name}"
                );
                let default: i64 = client
                    .query_one("SELECT count(*) FROM kcg.ais_positions_default", &[])
                    .await
                    .unwrap()
                    .get(0);
                assert_eq!(default, 0, "{name}");
            }
            Want::BadRows(bad) => {
                let r = result.unwrap_or_else(|e| panic!("{name}: {e}"));
                let lines: Vec<u64> = r.bad_rows.iter().map(|b| b.line).collect();
                assert_eq!(lines, bad.iter().map(|b| b.0).collect::<Vec<_>>(), "{name}");
                for (b, (_, needle)) in r.bad_rows.iter().zip(bad) {
                    assert!(b.reason.contains(needle), "{name}: {b}");
                }
                let bad_n = bad.len() as u64;
                assert_eq!(
                    (
                        r.rows_read,
                        r.rows_loaded,
                        r.rows_skipped,
                        r.rows_already_present
                    ),
                    (sample_rows, sample_rows - bad_n, bad_n, 0),
                    "{name}"
                );
                // Everything before is still there, plus every good row.
                assert_eq!(
                    after.len() as u64,
                    before.len() as u64 + sample_rows - bad_n
                );
                assert!(
                    before.iter().all(|r| after.contains(r)),
                    "{name}: lost a row"
                );
                // Nothing huge was stored from a swallowed line.
                let longest: i32 = client
                    .query_one(
                        "SELECT coalesce(max(length(vessel_name)), 0) FROM kcg.ais_positions",
                        &[],
                    )
                    .await
                    .unwrap()
                    .get(0);
                assert!(
                    longest < 100,
                    "{name}: a vessel_name of {longest} characters"
                );
                // The rows landed in their day partition, not in DEFAULT.
                let homes: Vec<(String, i64)> = client
                    .query(
                        "SELECT tableoid::regclass::text, count(*) FROM kcg.ais_positions GROUP BY 1 ORDER BY 1",
                        &[],
                    )
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| (r.get(0), r.get(1)))
                    .collect();
                assert_eq!(
                    homes,
                    vec![
                        ("kcg.ais_positions_p2021_12_30".to_owned(), 2),
                        (
                            "kcg.ais_positions_p2022_01_03".to_owned(),
                            (sample_rows - bad_n) as i64
                        ),
                    ],
                    "{name}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_same_rows_as_gzip_plain_or_regzipped_load_once() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let text = sample_text();
    let plain = temp_bytes("same.csv", text.as_bytes());
    let regzipped = temp_bytes("same-level1.csv.gz", &gzip(text.as_bytes(), 1));

    let first = ingest_file(&mut client, &sample(), &NoProgress)
        .await
        .unwrap();
    assert_eq!((first.rows_loaded, first.rows_already_present), (74_731, 0));
    assert_eq!(first.partitions_created, ["kcg.ais_positions_p2022_01_03"]);
    for file in [&plain, &regzipped] {
        let r = ingest_file(&mut client, &file.0, &NoProgress)
            .await
            .unwrap();
        assert!(!r.seen_before, "other bytes: read again");
        assert_eq!(
            (
                r.rows_read,
                r.rows_loaded,
                r.rows_skipped,
                r.rows_already_present
            ),
            (74_731, 0, 0, 74_731),
            "{}",
            file.0.display()
        );
        assert_eq!(count(&client, "kcg.ais_positions").await, 74_731);
    }
    // Every file is in the ledger with counts that add up; every row comes
    // from the first.
    let ledger: Vec<(String, i64, i64, i64, i64)> = client
        .query(
            "SELECT file_name, rows_read, rows_loaded, rows_skipped, rows_duplicate \
             FROM kcg.ais_ingested_files ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(
        ledger,
        vec![
            ("ais-2022-01-03-sample.csv.gz".into(), 74_731, 74_731, 0, 0),
            ("same.csv".into(), 74_731, 0, 0, 74_731),
            ("same-level1.csv.gz".into(), 74_731, 0, 0, 74_731),
        ]
    );
    let sources: i64 = client
        .query_one(
            "SELECT count(DISTINCT source_file_id) FROM kcg.ais_positions",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(sources, 1);

    // Half the rows again plus two new ones: exactly the two are loaded.
    let mut half: Vec<&str> = text.lines().take(1 + 74_731 / 2).collect();
    half.push("366999003,2022-01-03T12:00:00,40.3,-70.3,1.0,10.0,511,NEW ONE,,,37,,17,5,,,B");
    // Same vessel and time as a stored row, elsewhere: a different report.
    let moved = {
        let f: Vec<&str> = text.lines().nth(1).unwrap().split(',').collect();
        let mut f: Vec<String> = f.iter().map(|s| (*s).to_owned()).collect();
        f[2] = "10.5".into();
        f.join(",")
    };
    half.push(&moved);
    let mixed = temp_bytes("mixed.csv", (half.join("\n") + "\n").as_bytes());
    let r = ingest_file(&mut client, &mixed.0, &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        (r.rows_read, r.rows_loaded, r.rows_already_present),
        (74_731 / 2 + 2, 2, 74_731 / 2)
    );
    assert_eq!(count(&client, "kcg.ais_positions").await, 74_733);
}

#[tokio::test]
async fn rows_land_in_their_day_partitions_created_before_writing() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let file = TempFile::new(
        "three-days.csv",
        &format!(
            "{HEADER}\n\
             1,2022-01-02T23:59:59,1,1,,,,,,,,,,,,,\n\
             2,2022-01-03T00:00:00,1,1,,,,,,,,,,,,,\n\
             3,2022-01-05T12:00:00,1,1,,,,,,,,,,,,,\n"
        ),
    );
    let r = ingest_file(&mut client, &file.0, &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        r.partitions_created,
        [
            "kcg.ais_positions_p2022_01_02",
            "kcg.ais_positions_p2022_01_03",
            "kcg.ais_positions_p2022_01_05"
        ]
    );
    let homes: Vec<String> = client
        .query(
            "SELECT tableoid::regclass::text FROM kcg.ais_positions ORDER BY mmsi",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        homes,
        [
            "kcg.ais_positions_p2022_01_02",
            "kcg.ais_positions_p2022_01_03",
            "kcg.ais_positions_p2022_01_05"
        ]
    );
    // A time the first pass's cheap look does not see (a space before it):
    // its day is still made and the row lands there.
    let sneaky = TempFile::new(
        "sneaky.csv",
        &format!(
            "{HEADER}\n\
             4,2022-01-03T01:00:00,1,1,,,,,,,,,,,,,\n\
             5, 2022-01-09T12:00:00,1,1,,,,,,,,,,,,,\n"
        ),
    );
    let r = ingest_file(&mut client, &sneaky.0, &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        (r.rows_read, r.rows_loaded, r.rows_already_present),
        (2, 2, 0)
    );
    assert_eq!(r.partitions_created, ["kcg.ais_positions_p2022_01_09"]);
    let home: String = client
        .query_one(
            "SELECT tableoid::regclass::text FROM kcg.ais_positions WHERE mmsi = 5",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(home, "kcg.ais_positions_p2022_01_09");
    assert_eq!(count(&client, "kcg.ais_positions_default").await, 0);

    // No temporary table or open transaction is left on the connection.
    let temp: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname = 'kcg_ingest_staging'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(temp, 0);

    // Too many days for one file: refused before anything is written.
    let rows: String = (0..400)
        .map(|i| {
            let day = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Days::new(i);
            format!("{},{}T00:00:00,1,1,,,,,,,,,,,,,\n", 100 + i, day)
        })
        .collect();
    let wide = TempFile::new("wide.csv", &format!("{HEADER}\n{rows}"));
    let err = ingest_file(&mut client, &wide.0, &NoProgress)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("wide.csv")
            && msg.contains("400 distinct UTC days")
            && msg.contains("split it by day"),
        "{msg}"
    );
    assert_eq!(count(&client, "kcg.ais_positions").await, 5);
}

// ---------------------------------------------------------------------------
// Fuzz-style: arbitrary bytes mixed into valid rows.

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// Valid row `i`: unique (mmsi, ts); some names quoted, with commas and
    /// escaped quotes.
    fn valid(i: usize, quoted: bool) -> (i64, String, String) {
        let mmsi = 200_000_000 + i as i64;
        let name = format!("SHIP {i}");
        let field = if quoted {
            format!("\"{name}, \"\"Q\"\" LTD\"")
        } else {
            name.clone()
        };
        let shown = if quoted {
            format!("{name}, \"Q\" LTD")
        } else {
            name
        };
        (
            mmsi,
            format!(
                "{mmsi},2022-01-03T{:02}:{:02}:{:02},{}.5,-70.25,1.0,10.0,511,{field},,,37,,17,5,,,B",
                i / 3600 % 24,
                i / 60 % 60,
                i % 60,
                i % 80
            ),
            shown,
        )
    }

    #[derive(Debug, Clone)]
    enum Line {
        Valid(bool),
        Garbage(Vec<u8>),
    }

    fn garbage() -> impl Strategy<Value = Vec<u8>> {
        // Bytes that matter to the splitter, often; anything, sometimes.
        let special = prop::sample::select(vec![b'"', b',', b'\n', b'\r', 0u8, b'x', b'1', 0xd1]);
        prop::collection::vec(prop_oneof![3 => special, 1 => any::<u8>()], 0..60)
    }

    fn lines() -> impl Strategy<Value = Vec<Line>> {
        prop::collection::vec(
            prop_oneof![
                2 => any::<bool>().prop_map(Line::Valid),
                1 => garbage().prop_map(Line::Garbage),
            ],
            1..40,
        )
    }

    async fn check(lines: Vec<Line>) {
        let db = TestDb::new().await;
        let mut client = db.client().await;
        let mut bytes = format!("{HEADER}\n").into_bytes();
        let mut want = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            match l {
                Line::Valid(quoted) => {
                    let (mmsi, text, name) = valid(i, *quoted);
                    bytes.extend_from_slice(text.as_bytes());
                    want.push((mmsi, name));
                }
                Line::Garbage(g) => bytes.extend_from_slice(g),
            }
            bytes.push(b'\n');
        }
        let file = temp_bytes(&format!("fuzz-{}.csv", db.name()), &bytes);
        let r = ingest_file(&mut client, &file.0, &NoProgress)
            .await
            .unwrap_or_else(|e| panic!("{e}\n{:?}", String::from_utf8_lossy(&bytes)));
        assert_eq!(
            r.rows_read,
            r.rows_loaded + r.rows_skipped + r.rows_already_present,
            "{r:?}"
        );
        assert_eq!(r.rows_already_present, 0, "a fresh database");
        assert_eq!(
            count(&client, "kcg.ais_positions").await as u64,
            r.rows_loaded
        );
        for (mmsi, name) in want {
            let found: Vec<Option<String>> = client
                .query(
                    "SELECT vessel_name FROM kcg.ais_positions WHERE mmsi = $1",
                    &[&mmsi],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            assert_eq!(
                found,
                vec![Some(name)],
                "valid row of {mmsi} in {:?}\n{r:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn garbage_never_costs_a_valid_row(lines in lines()) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(check(lines));
        }
    }
}
