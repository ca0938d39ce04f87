//! `runner ingest` on bad input: the exit code, what it prints, and what
//! reached the database.

use std::path::PathBuf;
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

fn sample() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/ais-2022-01-03-sample.csv.gz"
    ))
}

/// A file in a directory of its own under the temp dir, both removed on drop.
struct Temp(PathBuf);

impl Temp {
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn temp(name: &str, bytes: &[u8]) -> Temp {
    let dir = std::env::temp_dir().join(format!("kcg-ingest-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    Temp(path)
}

async fn positions(db: &TestDb) -> i64 {
    db.client()
        .await
        .query_one("SELECT count(*) FROM kcg.ais_positions", &[])
        .await
        .unwrap()
        .get(0)
}

const HEADER: &str = "MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,Length,Width,Draft,Cargo,TransceiverClass";

#[tokio::test]
async fn an_unbalanced_quote_is_one_reported_bad_row_and_the_rest_loads() {
    let db = TestDb::new().await;
    let mut csv = format!("{HEADER}\n");
    for i in 2..=200 {
        let name = if i == 101 {
            "\"BROKEN".to_owned()
        } else {
            format!("SHIP {i}")
        };
        csv.push_str(&format!(
            "{},2022-01-03T00:{:02}:{:02},47.9,-122.2,0.0,216.3,511,{name},,WDJ7542,37,0,20,6,2.0,37,A\n",
            368_000_000 + i,
            i / 60,
            i % 60
        ));
    }
    let file = temp("quote.csv", csv.as_bytes());
    let o = runner(db.url(), &["ingest", "--csv", file.path()]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    for want in [
        "skipped line 101: VesselName: the quote opened in this field is not closed",
        "rows read:       199",
        "rows loaded:     198",
        "rows skipped:    1 (bad rows)",
        "already present: 0",
        "partitions made: kcg.ais_positions_p2022_01_03",
    ] {
        assert!(out.contains(want), "{want:?} missing in\n{out}");
    }
    assert_eq!(positions(&db).await, 198);
}

#[tokio::test]
async fn a_truncated_gzip_fails_naming_the_file_and_line_and_writes_nothing() {
    let db = TestDb::new().await;
    let gz = std::fs::read(sample()).unwrap();
    let file = temp("cut.csv.gz", &gz[..gz.len() / 3]);
    let o = runner(db.url(), &["ingest", "--csv", file.path()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("cut.csv.gz: the gzip stream ends early, after line")
            && out.contains("(truncated file?); nothing was written: send the complete file again"),
        "{out}"
    );
    assert_eq!(positions(&db).await, 0);
}
