//! What stage 10's schema pre-check costs (needs `DATABASE_URL`; `cargo
//! xtask bench` sets it). A throwaway database is created from the migrated
//! template, with 40 day partitions of the positions and 14 month
//! partitions of the outputs, as a database some weeks into service has.
//!
//! - `schema_check_ms`: what one cycle spends on the check when nothing
//!   changed (median of 101 calls of the check a cycle makes).
//! - `schema_check_full_ms`: the whole comparison of the live schema with
//!   the expected one (median of 31), as `runner check-schema`, the first
//!   cycle of a process and the first cycle after a migration run it.

use std::time::{Duration, Instant};

use test_support::TestDb;

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}

async fn run() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "DO $$ DECLARE d date; BEGIN
               FOR d IN SELECT generate_series('2022-01-01'::date, '2022-02-09'::date, '1 day') LOOP
                 EXECUTE format('CREATE TABLE kcg.%I PARTITION OF kcg.ais_positions FOR VALUES FROM (%L) TO (%L)',
                   'ais_positions_p' || to_char(d, 'YYYY_MM_DD'), d::text || ' 00:00:00+00', (d + 1)::text || ' 00:00:00+00');
               END LOOP;
               FOR d IN SELECT generate_series('2022-01-01'::date, '2023-02-01'::date, '1 month') LOOP
                 EXECUTE format('CREATE TABLE kcg.%I PARTITION OF kcg.detection_model_run_outputs FOR VALUES FROM (%L) TO (%L)',
                   'detection_model_run_outputs_p' || to_char(d, 'YYYY_MM'), d::text || ' 00:00:00+00',
                   (d + interval '1 month')::date::text || ' 00:00:00+00');
               END LOOP;
             END $$",
        )
        .await
        .expect("partitions");

    let mut full = Vec::new();
    for _ in 0..31 {
        let t = Instant::now();
        schema::check_schema(&client).await.expect("schema OK");
        full.push(t.elapsed());
    }
    let full = median(full);

    // What stage 10 does: the guard a pipeline keeps, checked once before.
    let guard = schema::SchemaGuard::new();
    guard.check(&client).await.expect("schema OK");
    let mut per_cycle = Vec::new();
    for _ in 0..101 {
        let t = Instant::now();
        let outcome = guard.check(&client).await.expect("schema OK");
        per_cycle.push(t.elapsed());
        assert_eq!(outcome, schema::Guarded::Unchanged);
    }
    println!("schema_check_ms: {:.3}", median(per_cycle));
    println!("schema_check_full_ms: {full:.3}");
}

fn main() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run());
}
