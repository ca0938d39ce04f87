//! Whole cycles against PostgreSQL (needs `DATABASE_URL`; `cargo xtask bench`
//! sets it).
//!
//! - `cycle_ms`: the cycle at 2022-01-03T00:15:00Z on the bundled sample
//!   (10-minute window, ~35,000 positions), registry on with the 5 reference
//!   models plus a SHADOW and a CHALLENGER; median of 7 runs (a rerun replaces
//!   the cycle's rows, so each run does the full work). Baseline in the same
//!   run: `cycle_legacy_ms`, the same cycle with the registry off.
//! - `scaled_cycle_s`: 50,000 synthetic vessels with 12 fixes each in one
//!   window and 10 model versions (5 PRIMARY, 3 SHADOW, 2 CHALLENGER); median
//!   of 3 runs, beside `scaled_legacy_s`. `scaled_peak_rss_mb` is the
//!   process's peak resident memory (VmHWM) afterwards.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use pipeline::{Pipeline, PipelineConfig};
use test_support::TestDb;
use tokio_postgres::Client;

fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .expect("valid time")
}

fn pipeline(use_registry: bool) -> Pipeline {
    let catalog = registry::Catalog::from_entries(detectors::catalog()).expect("catalog");
    Pipeline::new(
        PipelineConfig {
            use_registry,
            ..PipelineConfig::default()
        },
        catalog,
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn add_version(
    client: &Client,
    model: &str,
    version: &str,
    role: &str,
    changes: &[(&str, serde_json::Value)],
) {
    let mut params = detectors::default_params(model).expect("reference model");
    for (k, v) in changes {
        params[*k] = v.clone();
    }
    client
        .execute(
            "INSERT INTO kcg.detection_model_versions (model_id, version, role, status, params) \
             VALUES ($1, $2, $3, 'ACTIVE', $4)",
            &[&model, &version, &role, &params],
        )
        .await
        .expect("insert version");
}

async fn time_cycles(
    p: &Pipeline,
    client: &mut Client,
    at: DateTime<Utc>,
    runs: usize,
) -> Duration {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let o = p.run_cycle(client, at).await.expect("cycle");
        assert!(o.failed.is_none(), "{:?}", o.failed);
        times.push(start.elapsed());
    }
    median(times)
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

async fn sample_cycle() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/ais-2022-01-03-sample.csv.gz");
    ingest::ingest_file(&mut client, &sample, &ingest::NoProgress)
        .await
        .expect("ingest");
    pipeline::register_reference_models(&mut client)
        .await
        .expect("register");
    add_version(
        &client,
        "spoofing_score",
        "shadow",
        "SHADOW",
        &[
            ("speed_floor_factor", 0.5.into()),
            ("speed_full_factor", 1.0.into()),
        ],
    )
    .await;
    add_version(
        &client,
        "identity_collision",
        "challenger",
        "CHALLENGER",
        &[("min_switches", 2.into())],
    )
    .await;
    let at = ts("2022-01-03T00:15:00Z");
    let on = pipeline(true);
    let off = pipeline(false);
    on.run_cycle(&mut client, at).await.expect("warm-up");
    let legacy = time_cycles(&off, &mut client, at, 7).await;
    let full = time_cycles(&on, &mut client, at, 7).await;
    println!("cycle_legacy_ms: {:.1}", legacy.as_secs_f64() * 1e3);
    println!("cycle_ms: {:.1}", full.as_secs_f64() * 1e3);
    println!(
        "cycle_vs_legacy: {:.2}",
        full.as_secs_f64() / legacy.as_secs_f64()
    );
}

async fn scaled_cycle() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let at = ts("2022-01-03T12:00:00Z");
    // 50,000 vessels x 12 fixes inside the window (at - 10 min, at]; every
    // 1,000th vessel alternates between two places 20 degrees apart.
    client
        .batch_execute(
            "INSERT INTO kcg.ais_ingested_files (sha256, file_name, rows_read, rows_loaded, rows_skipped)
               VALUES (repeat('0', 64), 'synthetic', 600000, 600000, 0);
             INSERT INTO kcg.ais_positions (mmsi, ts, lat, lon, sog, cog, heading, vessel_name, source_file_id)
             SELECT 300000000 + v,
                    '2022-01-03T11:51:00Z'::timestamptz + ((f * 45 + v % 40) * interval '1 second'),
                    10 + (v % 250) * 0.2 + f * 0.001,
                    -150 + (v / 250) * 0.2 + f * 0.001 + CASE WHEN v % 1000 = 0 THEN (f % 2) * 20 ELSE 0 END,
                    10.0, 90, 90, 'SYNTHETIC ' || v,
                    (SELECT id FROM kcg.ais_ingested_files WHERE file_name = 'synthetic')
             FROM generate_series(0, 49999) v, generate_series(0, 11) f;
             ANALYZE kcg.ais_positions;",
        )
        .await
        .expect("synthetic positions");
    pipeline::register_reference_models(&mut client)
        .await
        .expect("register");
    for (i, floor) in [0.5, 0.6, 0.7].into_iter().enumerate() {
        add_version(
            &client,
            "spoofing_score",
            &format!("shadow-{i}"),
            "SHADOW",
            &[("speed_floor_factor", floor.into())],
        )
        .await;
    }
    add_version(
        &client,
        "identity_collision",
        "challenger-0",
        "CHALLENGER",
        &[("min_switches", 2.into())],
    )
    .await;
    add_version(
        &client,
        "identity_collision",
        "challenger-1",
        "CHALLENGER",
        &[("min_distance_km", 30.0.into())],
    )
    .await;
    let on = pipeline(true);
    let off = pipeline(false);
    let legacy = time_cycles(&off, &mut client, at, 3).await;
    let full = time_cycles(&on, &mut client, at, 3).await;
    let versions: i64 = client
        .query_one(
            "SELECT count(DISTINCT version_id) FROM kcg.detection_model_runs WHERE status = 'OK'",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(versions, 10);
    println!("scaled_legacy_s: {:.2}", legacy.as_secs_f64());
    println!("scaled_cycle_s: {:.2}", full.as_secs_f64());
    if let Some(mb) = peak_rss_mb() {
        println!("scaled_peak_rss_mb: {mb:.0}");
    }
}

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |figure: &str| filter.as_deref().is_none_or(|f| figure.contains(f));
    if std::env::var_os("DATABASE_URL").is_none() {
        eprintln!("pipeline bench skipped: DATABASE_URL is not set (run `cargo xtask bench`)");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        if wanted("cycle_ms") || wanted("cycle_legacy") {
            sample_cycle().await;
        }
        if wanted("scaled") {
            scaled_cycle().await;
        }
    });
}
