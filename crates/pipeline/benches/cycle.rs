//! Whole cycles against PostgreSQL (needs `DATABASE_URL`; `cargo xtask bench`
//! sets it). Every timed cycle is a **first run**: each one gets a cycle_ts
//! of its own (one second after the previous one, so the windows are the
//! same real data), as `runner serve` runs each tick once; reruns are a
//! figure of their own. Medians, with the baseline of each figure measured
//! in the same run, interleaved run by run.
//!
//! The real sample (`data/ais-2022-01-03-sample.csv.gz`), cycles at
//! 2022-01-03T00:15:00Z + k s (10-minute window, ~33,000 positions), the
//! registry holding the 5 reference models (PRIMARY) plus a SHADOW of
//! spoofing_score and a CHALLENGER of identity_collision (7 versions):
//!
//! - `cycle_legacy_ms`: a first run with the registry off (stages 1-9);
//! - `cycle_ms`: a first run with it on, interleaved with the legacy runs
//!   (the order alternates within each pair);
//! - `registry_vs_legacy_cycle`: `cycle_ms / cycle_legacy_ms`;
//! - `rerun_cycle_ms`, `rerun_vs_first_cycle`: the registry cycle run again
//!   at a cycle_ts it just ran (everything replaced), against `cycle_ms`;
//! - `schema_check_ms`: what stage 10's schema check cost in those cycles;
//! - `cycle_output_rows_stored`, `cycle_output_rows_omitted`: the output
//!   rows of a registry cycle stored and left out by the output policies;
//! - `stage10_ms` and its parts (`stage10_run_ms`, `stage10_persist_ms`),
//!   and `cycle_stage_<name>_ms` for every stage.
//!
//! `shadow_ms_per_version`: stage 10's median over first runs with 7, 20
//! and 50 ACTIVE versions (the 7 above plus SHADOWs of spoofing_score,
//! identity_collision and risk in turn, each with params of its own), the
//! least-squares slope in ms per added version; `stage10_N_versions_ms` are
//! its points.
//!
//! `scaled20_cycle_s`: the real sample's vessels replicated 20 times (each
//! copy under new MMSIs of the same format and MID, the same real tracks),
//! about 660,000 positions in the window, the 7 versions; median of first
//! runs, beside `scaled20_legacy_s`, interleaved. `scaled20_peak_rss_mb` is
//! this process's peak resident memory (VmHWM) over those cycles (reset
//! before them). The replicated positions go in through
//! `partitions::ensure(&POSITIONS, ..)` first, so none lands in DEFAULT.
//!
//! The process runs on mimalloc, as the runner binary does (with glibc's
//! allocator the same 20x cycles peaked at 439 MB instead of 352 MB: its
//! per-thread arenas keep what the cycle freed).
//!
//! `cargo xtask bench [FILTER]` (e.g. `cycle`, `shadow`, `scaled20`).

/// The runner binary's allocator (`crates/runner/src/main.rs`), so the
/// memory and time figures are those of a deployed runner.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use pipeline::{CycleOutcome, Pipeline, PipelineConfig, Stage};
use test_support::TestDb;
use tokio_postgres::Client;

/// Timed pairs (legacy and registry) of the sample figures.
const RUNS: usize = 11;
/// Timed cycles per point of the SHADOW slope.
const SHADOW_RUNS: usize = 7;
/// Timed pairs at 20x.
const SCALED_RUNS: usize = 3;
/// Copies of the sample's vessels in the scaled figures.
const COPIES: i64 = 20;

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

fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty(), "no measurement");
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Cycle times one after the other, one second apart: each a first run.
struct Clock(DateTime<Utc>);

impl Clock {
    fn next(&mut self) -> DateTime<Utc> {
        let at = self.0;
        self.0 += TimeDelta::seconds(1);
        at
    }
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

async fn active_versions(client: &Client) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM kcg.detection_model_versions WHERE status = 'ACTIVE'",
            &[],
        )
        .await
        .expect("count")
        .get(0)
}

/// The sample ingested, the reference models registered, a SHADOW of
/// spoofing_score and a CHALLENGER of identity_collision: 7 versions.
async fn sample_db() -> (TestDb, Client) {
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
    assert_eq!(active_versions(&client).await, 7);
    (db, client)
}

async fn cycle(p: &Pipeline, client: &mut Client, at: DateTime<Utc>) -> CycleOutcome {
    let o = p.run_cycle(client, at).await.expect("cycle");
    assert!(o.failed.is_none(), "{:?}", o.failed);
    if p.config().use_registry {
        let report = o.registry.as_ref().expect("stage 10 ran");
        assert_eq!(
            report.count(dag_exec::RunStatus::Ok),
            report.versions.len(),
            "{report:?}"
        );
    }
    o
}

fn stage_ms(o: &CycleOutcome, stage: Stage) -> f64 {
    o.stages
        .iter()
        .find(|s| s.stage == stage)
        .map_or(0.0, |s| ms(s.duration))
}

/// Per figure name, the values of the timed runs.
#[derive(Default)]
struct Figures(BTreeMap<String, Vec<f64>>);

impl Figures {
    fn push(&mut self, name: impl Into<String>, value: f64) {
        self.0.entry(name.into()).or_default().push(value);
    }

    fn median(&self, name: &str) -> f64 {
        median(self.0.get(name).cloned().unwrap_or_default())
    }
}

fn record_stages(f: &mut Figures, prefix: &str, o: &CycleOutcome) {
    for s in &o.stages {
        f.push(
            format!("{prefix}_stage_{}_ms", s.stage.name()),
            ms(s.duration),
        );
    }
    if let Some(p) = o.registry_phases {
        f.push("schema_check_ms", ms(p.schema_check));
        f.push("stage10_load_ms", ms(p.load));
        f.push("stage10_plan_ms", ms(p.plan));
        f.push("stage10_run_ms", ms(p.run));
        f.push("stage10_persist_ms", ms(p.persist));
    }
}

async fn sample_cycle() {
    let (_db, mut client) = sample_db().await;
    let (on, off) = (pipeline(true), pipeline(false));
    let mut clock = Clock(ts("2022-01-03T00:14:00Z"));
    // Warm-up (caches, plans, worker threads), not timed.
    for _ in 0..2 {
        cycle(&off, &mut client, clock.next()).await;
        cycle(&on, &mut client, clock.next()).await;
    }
    clock = Clock(ts("2022-01-03T00:15:00Z"));
    let mut f = Figures::default();
    for i in 0..RUNS {
        let order = if i % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        let mut registry_at = None;
        for registry in order {
            let at = clock.next();
            let t = Instant::now();
            let o = cycle(if registry { &on } else { &off }, &mut client, at).await;
            let took = ms(t.elapsed());
            if registry {
                if let Some(r) = &o.registry {
                    let returned: usize = r.versions.iter().map(|v| v.output_count).sum();
                    let omitted: usize = r.versions.iter().map(|v| v.omitted_count).sum();
                    f.push("cycle_output_rows_stored", (returned - omitted) as f64);
                    f.push("cycle_output_rows_omitted", omitted as f64);
                }
                f.push("cycle_ms", took);
                f.push("stage10_ms", stage_ms(&o, Stage::ModelRegistry));
                record_stages(&mut f, "cycle", &o);
                registry_at = Some(at);
            } else {
                f.push("cycle_legacy_ms", took);
            }
        }
        let at = registry_at.expect("a registry run");
        let t = Instant::now();
        cycle(&on, &mut client, at).await;
        f.push("rerun_cycle_ms", ms(t.elapsed()));
    }
    let (legacy, full, rerun) = (
        f.median("cycle_legacy_ms"),
        f.median("cycle_ms"),
        f.median("rerun_cycle_ms"),
    );
    println!("cycle_legacy_ms: {legacy:.1}");
    println!("cycle_ms: {full:.1}");
    println!("registry_vs_legacy_cycle: {:.3}", full / legacy);
    println!("rerun_cycle_ms: {rerun:.1}");
    println!("rerun_vs_first_cycle: {:.3}", rerun / full);
    println!("schema_check_ms: {:.3}", f.median("schema_check_ms"));
    println!(
        "cycle_output_rows_stored: {:.0}",
        f.median("cycle_output_rows_stored")
    );
    println!(
        "cycle_output_rows_omitted: {:.0}",
        f.median("cycle_output_rows_omitted")
    );
    for name in [
        "stage10_ms",
        "stage10_load_ms",
        "stage10_plan_ms",
        "stage10_run_ms",
        "stage10_persist_ms",
    ] {
        println!("{name}: {:.2}", f.median(name));
    }
    for stage in Stage::ALL {
        let name = format!("cycle_stage_{}_ms", stage.name());
        if f.0.contains_key(&name) {
            println!("{name}: {:.2}", f.median(&name));
        }
    }
}

/// The SHADOWs added beyond the first 7 versions, in turn: each with
/// params of its own, as a team trying variants would add them.
async fn add_shadow(client: &Client, n: usize) {
    let step = (n / 3) as f64;
    match n % 3 {
        0 => {
            add_version(
                client,
                "spoofing_score",
                &format!("shadow-{n}"),
                "SHADOW",
                &[("speed_floor_factor", (0.3 + 0.01 * step).into())],
            )
            .await
        }
        1 => {
            add_version(
                client,
                "identity_collision",
                &format!("shadow-{n}"),
                "SHADOW",
                &[("min_distance_km", (2.0 + 0.5 * step).into())],
            )
            .await
        }
        _ => {
            add_version(
                client,
                "risk",
                &format!("shadow-{n}"),
                "SHADOW",
                &[("spoofing_weight", (0.2 + 0.01 * step).into())],
            )
            .await
        }
    }
}

/// The least-squares slope of `points`.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let cov: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let var: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    cov / var
}

async fn shadow_slope() {
    let (_db, mut client) = sample_db().await;
    let on = pipeline(true);
    let mut clock = Clock(ts("2022-01-03T00:15:00Z"));
    cycle(&on, &mut client, clock.next()).await;
    let mut points = Vec::new();
    let mut added = 0;
    for versions in [7_i64, 20, 50] {
        while active_versions(&client).await < versions {
            add_shadow(&client, added).await;
            added += 1;
        }
        on.cache().invalidate();
        // Warm-up with the new registry.
        cycle(&on, &mut client, clock.next()).await;
        let mut stage10 = Vec::with_capacity(SHADOW_RUNS);
        for _ in 0..SHADOW_RUNS {
            let o = cycle(&on, &mut client, clock.next()).await;
            assert_eq!(
                o.registry.as_ref().map(|r| r.versions.len()),
                Some(versions as usize)
            );
            stage10.push(stage_ms(&o, Stage::ModelRegistry));
        }
        let m = median(stage10);
        println!("stage10_{versions}_versions_ms: {m:.1}");
        points.push((versions as f64, m));
    }
    println!("shadow_ms_per_version: {:.2}", slope(&points));
}

/// New MMSIs for `copies - 1` more copies of each of `mmsis`: the same
/// leading part (the MID and the format: 9 digits with the same first
/// digits, the same leading zeros) and a serial no MMSI of the sample and
/// no other copy has.
fn replicas(mmsis: &[i64], copies: i64) -> Vec<(i64, i64)> {
    // The part of an MMSI that carries its class and MID, and the serial.
    let split = |m: i64| -> (i64, i64) {
        let base = if (200_000_000..800_000_000).contains(&m) {
            1_000_000 // ship: MID + 6 digits
        } else if (100_000_000..200_000_000).contains(&m) {
            1_000 // SAR aircraft: 111 + MID + 3 digits
        } else {
            10_000 // coast stations, groups, aids, craft, SART, invalid: the last 4 digits
        };
        (m / base, base)
    };
    let mut used: BTreeSet<i64> = mmsis.iter().copied().collect();
    // Per (leading part, its scale): ship MID 366 and coast station MID 366
    // count their serials apart.
    let mut next: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    let mut out = Vec::with_capacity(mmsis.len() * (copies as usize - 1));
    for _ in 1..copies {
        for &m in mmsis {
            let (head, base) = split(m);
            let serial = next.entry((head, base)).or_insert(0);
            let new = loop {
                assert!(*serial < base, "no serial left for {m}");
                let candidate = head * base + *serial;
                *serial += 1;
                if used.insert(candidate) {
                    break candidate;
                }
            };
            out.push((m, new));
        }
    }
    out
}

async fn scaled_cycle() {
    let (_db, mut client) = sample_db().await;
    let mmsis: Vec<i64> = client
        .query(
            "SELECT DISTINCT mmsi FROM kcg.ais_positions ORDER BY mmsi",
            &[],
        )
        .await
        .expect("mmsis")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let map = replicas(&mmsis, COPIES);
    let (old, new): (Vec<i64>, Vec<i64>) = map.into_iter().unzip();
    let days: Vec<partitions::Day> = client
        .query(
            "SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date FROM kcg.ais_positions",
            &[],
        )
        .await
        .expect("days")
        .iter()
        .map(|r| {
            let d: chrono::NaiveDate = r.get(0);
            partitions::Day::from_date(d).expect("a day partitions can hold")
        })
        .collect();
    partitions::ensure(&mut client, &partitions::POSITIONS, &days)
        .await
        .expect("day partitions");
    let copied = client
        .execute(
            "INSERT INTO kcg.ais_positions (mmsi, ts, lat, lon, sog, cog, heading, vessel_name, \
                 vessel_type, source_file_id) \
             SELECT m.new, p.ts, p.lat, p.lon, p.sog, p.cog, p.heading, p.vessel_name, \
                    p.vessel_type, p.source_file_id \
             FROM kcg.ais_positions p \
             JOIN unnest($1::int8[], $2::int8[]) AS m(old, new) ON m.old = p.mmsi",
            &[&old, &new],
        )
        .await
        .expect("replicated positions");
    let in_default: i64 = client
        .query_one("SELECT count(*) FROM kcg.ais_positions_default", &[])
        .await
        .expect("default")
        .get(0);
    assert_eq!(in_default, 0, "replicated positions landed in DEFAULT");
    client
        .batch_execute("VACUUM ANALYZE kcg.ais_positions")
        .await
        .expect("analyze");
    let (on, off) = (pipeline(true), pipeline(false));
    let mut clock = Clock(ts("2022-01-03T00:14:50Z"));
    cycle(&on, &mut client, clock.next()).await;
    clock = Clock(ts("2022-01-03T00:15:00Z"));
    reset_peak_rss();
    let (mut full, mut legacy, mut fixes) = (Vec::new(), Vec::new(), 0);
    let mut f = Figures::default();
    for i in 0..SCALED_RUNS {
        let order = if i % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for registry in order {
            let t = Instant::now();
            let o = cycle(if registry { &on } else { &off }, &mut client, clock.next()).await;
            let took = t.elapsed().as_secs_f64();
            fixes = o.clean.kept;
            if registry {
                full.push(took);
                record_stages(&mut f, "scaled20", &o);
            } else {
                legacy.push(took);
                record_stages(&mut f, "scaled20_legacy", &o);
            }
        }
    }
    println!("scaled20_positions_copied: {copied}");
    println!("scaled20_window_fixes: {fixes}");
    println!("scaled20_legacy_s: {:.2}", median(legacy));
    println!("scaled20_cycle_s: {:.2}", median(full));
    if let Some(mb) = peak_rss_mb() {
        println!("scaled20_peak_rss_mb: {mb:.0}");
    }
    for prefix in ["scaled20_legacy", "scaled20"] {
        for stage in Stage::ALL {
            let name = format!("{prefix}_stage_{}_ms", stage.name());
            if f.0.contains_key(&name) {
                println!("{name}: {:.1}", f.median(&name));
            }
        }
    }
    for name in ["stage10_run_ms", "stage10_persist_ms"] {
        println!("scaled20_{name}: {:.1}", f.median(name));
    }
}

/// Resets VmHWM to the current resident size (Linux: `clear_refs` 5).
fn reset_peak_rss() {
    if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
        eprintln!("cannot reset the peak RSS ({e}); scaled20_peak_rss_mb covers the whole process");
    }
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |figures: &[&str]| {
        filter
            .as_deref()
            .is_none_or(|f| figures.iter().any(|n| n.contains(f)))
    };
    if std::env::var_os("DATABASE_URL").is_none() {
        eprintln!("pipeline bench skipped: DATABASE_URL is not set (run `cargo xtask bench`)");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        if wanted(&[
            "cycle_ms",
            "cycle_legacy_ms",
            "registry_vs_legacy_cycle",
            "rerun_vs_first_cycle",
            "schema_check_ms",
            "stage10_ms",
        ]) {
            sample_cycle().await;
        }
        if wanted(&["shadow_ms_per_version"]) {
            shadow_slope().await;
        }
        if wanted(&["scaled20_cycle_s", "scaled20_peak_rss_mb"]) {
            scaled_cycle().await;
        }
    });
}
