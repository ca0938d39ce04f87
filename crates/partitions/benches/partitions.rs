//! `cargo bench -p partitions` (or `cargo xtask bench partitions`): what a
//! partition run costs, beside pg_partman's `run_maintenance` on the same
//! server in the same run. Medians in milliseconds, one `name: value` line
//! per figure. Goals: `partitions_noop_ms` <= 2, `partitions_first_run_ms` <= 20.
//! A filter selecting `partitions_first_run_ms` or `partitions_noop_ms` also
//! runs and prints its pg_partman baseline, and the other way round.
//!
//! - `partitions_first_run_ms`: `maintain(now, 3, 12)` on the table with only
//!   its DEFAULT partition: creates the current month and three ahead.
//! - `partitions_first_run_move_10k_ms`: the same with 10 000 rows of the
//!   current month waiting in DEFAULT (moved into the new partition).
//! - `partitions_noop_ms`: `maintain` again when nothing is to be done.
//! - `partitions_ensure_noop_ms`: `ensure_current_and_next` of the outputs
//!   when both months exist (one catalog query).
//! - `partitions_ensure_cycle_noop_ms`: the cycle's stage 9, `ensure_cycle`
//!   (this and next month of the outputs, this and next day of the
//!   positions) when all four exist (one catalog query for both tables).
//! - `partman_first_run_ms`: pg_partman 4.7 `create_parent` (start at the
//!   current month, premake 3: the same four months) plus its first
//!   `run_maintenance`, on a table of the same shape.
//! - `partman_noop_ms`: `run_maintenance` when nothing is to be done.

use std::time::Instant;

use chrono::Utc;
use partitions::{OUTPUTS, Policy};
use test_support::TestDb;
use tokio_postgres::Client;

const RESET_OURS: &str = "DO $$ DECLARE r record; BEGIN
    FOR r IN SELECT c.oid::regclass AS t FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'kcg.detection_model_run_outputs'::regclass
               AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
    LOOP EXECUTE format('DROP TABLE %s', r.t); END LOOP;
    TRUNCATE kcg.detection_model_run_outputs; END $$";

const RESET_PARTMAN: &str = "DROP TABLE IF EXISTS kcg.bench_partman CASCADE;
    DELETE FROM partman.part_config WHERE parent_table = 'kcg.bench_partman';
    DROP TABLE IF EXISTS partman.template_kcg_bench_partman;
    CREATE TABLE kcg.bench_partman (LIKE kcg.detection_model_run_outputs INCLUDING ALL) PARTITION BY RANGE (cycle_ts);";

const PARTMAN_CREATE: &str = "SELECT partman.create_parent(p_parent_table => 'kcg.bench_partman', \
    p_control => 'cycle_ts', p_type => 'native', p_interval => 'monthly', p_premake => 3, \
    p_start_partition => date_trunc('month', now())::text, p_jobmon => false)";

const PARTMAN_MAINTAIN: &str =
    "SELECT partman.run_maintenance(p_parent_table => 'kcg.bench_partman', p_jobmon => false)";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let names = [
        "partitions_first_run_ms",
        "partitions_first_run_move_10k_ms",
        "partitions_noop_ms",
        "partitions_ensure_noop_ms",
        "partitions_ensure_cycle_noop_ms",
        "partman_first_run_ms",
        "partman_noop_ms",
    ];
    let selected = Selected {
        first: wanted("partitions_first_run_ms") || wanted("partman_first_run_ms"),
        moving: wanted("partitions_first_run_move_10k_ms"),
        noop: wanted("partitions_noop_ms") || wanted("partman_noop_ms"),
        ensure: wanted("partitions_ensure_noop_ms") || wanted("partitions_ensure_cycle_noop_ms"),
    };
    if !names.iter().any(|n| wanted(n)) {
        return;
    }
    if std::env::var("DATABASE_URL").is_err() {
        eprintln!(
            "partitions bench: DATABASE_URL is not set (use `cargo xtask bench`); nothing measured"
        );
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run(selected));
}

/// Which figures run; each of ours comes with its pg_partman baseline.
#[derive(Clone, Copy)]
struct Selected {
    first: bool,
    moving: bool,
    noop: bool,
    ensure: bool,
}

async fn run(selected: Selected) {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let policy = Policy::new(&OUTPUTS, 3, 12).expect("a valid policy");
    // Ours, for the ratios against pg_partman's in the same run.
    let (mut ours_first, mut ours_noop) = (None, None);

    if selected.first {
        let mut times = Vec::new();
        for _ in 0..21 {
            client.batch_execute(RESET_OURS).await.unwrap();
            let start = Instant::now();
            let r = partitions::maintain(&mut client, &OUTPUTS, Utc::now(), policy, false)
                .await
                .unwrap();
            times.push(ms(start));
            assert_eq!(r.created.len(), 4);
        }
        let m = median(times);
        println!("partitions_first_run_ms: {m:.3}");
        ours_first = Some(m);
    }

    if selected.moving {
        let mut times = Vec::new();
        for _ in 0..7 {
            client.batch_execute(RESET_OURS).await.unwrap();
            client
                .batch_execute(
                    "INSERT INTO kcg.detection_model_run_outputs (cycle_ts, model_id, version_id, role, entity_key, score, payload)
                     SELECT date_trunc('month', now()) + make_interval(secs => k), 'm', 1, 'PRIMARY', 'e' || k, 0.5, '{}'::jsonb
                     FROM generate_series(1, 10000) AS k",
                )
                .await
                .unwrap();
            let start = Instant::now();
            let r = partitions::maintain(&mut client, &OUTPUTS, Utc::now(), policy, false)
                .await
                .unwrap();
            times.push(ms(start));
            assert_eq!(r.moved_from_default, 10_000);
        }
        println!("partitions_first_run_move_10k_ms: {:.3}", median(times));
    }

    if selected.noop || selected.ensure {
        partitions::maintain(&mut client, &OUTPUTS, Utc::now(), policy, false)
            .await
            .unwrap();
        partitions::ensure_cycle(&mut client, Utc::now())
            .await
            .unwrap();
        let mut maintain = Vec::new();
        let mut ensure = Vec::new();
        let mut cycle = Vec::new();
        for _ in 0..101 {
            let start = Instant::now();
            let r = partitions::maintain(&mut client, &OUTPUTS, Utc::now(), policy, false)
                .await
                .unwrap();
            maintain.push(ms(start));
            assert!(r.is_noop());
            let start = Instant::now();
            let r = partitions::ensure_current_and_next(&mut client, &OUTPUTS, Utc::now())
                .await
                .unwrap();
            ensure.push(ms(start));
            assert!(r.is_noop());
            let start = Instant::now();
            let r = partitions::ensure_cycle(&mut client, Utc::now())
                .await
                .unwrap();
            cycle.push(ms(start));
            assert!(r.outputs.is_noop() && r.positions.is_noop());
        }
        if selected.noop {
            let m = median(maintain);
            println!("partitions_noop_ms: {m:.3}");
            ours_noop = Some(m);
        }
        if selected.ensure {
            println!("partitions_ensure_noop_ms: {:.3}", median(ensure));
            println!("partitions_ensure_cycle_noop_ms: {:.3}", median(cycle));
        }
    }

    if selected.first || selected.noop {
        partman(&client, selected, ours_first, ours_noop).await;
    }
}

/// pg_partman's figures, and ours divided by them (goal <= 0.5).
async fn partman(
    client: &Client,
    selected: Selected,
    ours_first: Option<f64>,
    ours_noop: Option<f64>,
) {
    let available: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_partman'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    if available == 0 {
        for (name, on) in [
            ("partman_first_run_ms", selected.first),
            ("partman_noop_ms", selected.noop),
        ] {
            if on {
                println!(
                    "{name}: unavailable (pg_partman is not installed; `cargo xtask bench` installs it as root)"
                );
            }
        }
        return;
    }
    client
        .batch_execute("CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman")
        .await
        .unwrap();

    let mut first = Vec::new();
    // Only the noop wanted: one setup run is enough.
    let rounds = if selected.first { 21 } else { 1 };
    for _ in 0..rounds {
        client.batch_execute(RESET_PARTMAN).await.unwrap();
        let start = Instant::now();
        client.batch_execute(PARTMAN_CREATE).await.unwrap();
        client.batch_execute(PARTMAN_MAINTAIN).await.unwrap();
        first.push(ms(start));
    }
    let parts: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'kcg.bench_partman'::regclass",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(parts, 5, "pg_partman: four months and its DEFAULT");
    if selected.first {
        let m = median(first);
        println!("partman_first_run_ms: {m:.3}");
        if let Some(ours) = ours_first {
            println!("partitions_first_run_vs_partman: {:.3}", ours / m);
        }
    }

    if selected.noop {
        let mut noop = Vec::new();
        for _ in 0..101 {
            let start = Instant::now();
            client.batch_execute(PARTMAN_MAINTAIN).await.unwrap();
            noop.push(ms(start));
        }
        let m = median(noop);
        println!("partman_noop_ms: {m:.3}");
        if let Some(ours) = ours_noop {
            println!("partitions_noop_vs_partman: {:.3}", ours / m);
        }
    }
}
