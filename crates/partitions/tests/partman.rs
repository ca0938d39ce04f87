//! Beside pg_partman 4.7 (Debian `postgresql-15-partman`, installed by
//! `cargo xtask ci` / `cargo xtask bench` when missing): on a second table of
//! the same shape, with premake 3, retention 12 months and the same `now`,
//! pg_partman and `maintain` end with the same set of month ranges and the
//! same rows.
//!
//! pg_partman plans with `now()`, so the test reads `now()` inside the
//! transaction that runs pg_partman and gives that instant to `maintain`.
//! Both run on a UTC session (pg_partman cuts months in the session's time
//! zone; `maintain` always in UTC). One known difference is not exercised:
//! at `now` exactly on a month's first microsecond, pg_partman keeps the
//! month whose end equals `now - retention` (`end < cutoff` drops), while
//! `maintain` drops it, its whole range being older than the retention.

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use test_support::TestDb;
use tokio_postgres::{Client, GenericClient};

const SKIP_VAR: &str = "KCG_SKIP_PARTMAN";

/// False (after saying so loudly) only when pg_partman is missing and the
/// caller set `KCG_SKIP_PARTMAN=1`; a missing pg_partman otherwise fails.
async fn partman_available(client: &Client) -> bool {
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_partman'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    if n > 0 {
        return true;
    }
    let why = "pg_partman is not installed on the PostgreSQL server's machine, so partitions cannot be \
               compared with it. `cargo xtask ci` and `cargo xtask bench` install it (as root, \
               `apt-get install postgresql-<major>-partman`); or install it by hand";
    if std::env::var(SKIP_VAR).as_deref() == Ok("1") {
        eprintln!("\n!!! SKIPPED the pg_partman comparison: {why}. ({SKIP_VAR}=1 is set.)\n");
        return false;
    }
    panic!("{why}, or set {SKIP_VAR}=1 to skip this comparison knowingly.");
}

/// `(suffix after the table name, bound text in a UTC session)` of every
/// non-DEFAULT partition of `table`.
async fn ranges(client: &Client, table: &str) -> Vec<(String, String)> {
    let rows = client
        .query(
            "SELECT substring(c.relname FROM length($2) + 2), pg_get_expr(c.relpartbound, c.oid) \
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = $1::text::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT' ORDER BY 1",
            &[&format!("kcg.{table}"), &table],
        )
        .await
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// Rows per partition suffix (`default` included).
async fn rows_per_partition(client: &Client, table: &str) -> BTreeMap<String, i64> {
    client
        .query(
            &format!(
                "SELECT substring(tableoid::regclass::text FROM length('kcg.{table}') + 2), count(*) \
                 FROM kcg.{table} GROUP BY 1"
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// One row at the 15th of every month from `history` months back to the
/// current one. (No row far ahead: pg_partman 4.7 then premakes past that
/// row and fails with "updated partition constraint for default partition
/// would be violated"; `maintain` leaves such a row in DEFAULT, tested in
/// tests/maintain.rs.)
async fn insert_rows<C: GenericClient>(client: &C, table: &str, history: i32) {
    client
        .execute(
            &format!(
                "INSERT INTO kcg.{table} (cycle_ts, model_id, version_id, role, entity_key, score) \
                 SELECT date_trunc('month', now()) - make_interval(months => k) + interval '14 days', \
                        'm', 1, 'PRIMARY', 'k' || k, 0.5 \
                 FROM generate_series(0, $1) AS k"
            ),
            &[&history],
        )
        .await
        .unwrap();
}

/// Runs pg_partman on `kcg.partman_run_outputs` (created here like the real
/// table) with history starting `history` months back; returns its `now()`.
async fn run_partman(client: &mut Client, history: i32) -> DateTime<Utc> {
    client
        .batch_execute(
            "CREATE SCHEMA partman;
             CREATE EXTENSION pg_partman SCHEMA partman;
             CREATE TABLE kcg.partman_run_outputs (LIKE kcg.detection_model_run_outputs INCLUDING ALL)
                 PARTITION BY RANGE (cycle_ts);",
        )
        .await
        .unwrap();
    let tx = client.transaction().await.unwrap();
    let now: DateTime<Utc> = tx.query_one("SELECT now()", &[]).await.unwrap().get(0);
    // pg_partman 4.7.2: create_parent(p_parent_table, p_control, p_type,
    // p_interval, ..., p_premake, ..., p_start_partition, ..., p_jobmon).
    tx.execute(
        "SELECT partman.create_parent(p_parent_table => 'kcg.partman_run_outputs', p_control => 'cycle_ts', \
         p_type => 'native', p_interval => 'monthly', p_premake => 3, \
         p_start_partition => (date_trunc('month', now()) - make_interval(months => $1))::text, p_jobmon => false)",
        &[&history],
    )
    .await
    .unwrap();
    tx.execute(
        "UPDATE partman.part_config SET retention = '12 months', retention_keep_table = false \
         WHERE parent_table = 'kcg.partman_run_outputs'",
        &[],
    )
    .await
    .unwrap();
    insert_rows(&tx, "partman_run_outputs", history).await;
    // run_maintenance(p_parent_table, p_analyze, p_jobmon)
    tx.execute("SELECT partman.run_maintenance(p_parent_table => 'kcg.partman_run_outputs', p_jobmon => false)", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    now
}

async fn compare(history: i32) {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    client.batch_execute("SET TIME ZONE 'UTC'").await.unwrap();
    if !partman_available(&client).await {
        return;
    }
    let now = run_partman(&mut client, history).await;

    // Ours starts with DEFAULT only; the same rows wait there.
    insert_rows(&client, "detection_model_run_outputs", history).await;
    let report = common::maintain(&mut client, now, 3, 12, false)
        .await
        .unwrap();

    let theirs = ranges(&client, "partman_run_outputs").await;
    let ours = ranges(&client, "detection_model_run_outputs").await;
    assert_eq!(
        ours, theirs,
        "month ranges at now = {now}, history {history} months\n{report}"
    );
    assert_eq!(
        ours.len(),
        if history >= 12 {
            13 + 3
        } else {
            history as usize + 1 + 3
        }
    );
    assert_eq!(
        rows_per_partition(&client, "detection_model_run_outputs").await,
        rows_per_partition(&client, "partman_run_outputs").await,
        "rows per partition"
    );

    // A second round on both changes nothing on either side.
    client
        .batch_execute("SELECT partman.run_maintenance(p_parent_table => 'kcg.partman_run_outputs', p_jobmon => false)")
        .await
        .unwrap();
    let again = common::maintain(&mut client, now, 3, 12, false)
        .await
        .unwrap();
    assert!(again.is_noop(), "{again}");
    assert_eq!(ranges(&client, "partman_run_outputs").await, theirs);
    assert_eq!(ranges(&client, "detection_model_run_outputs").await, ours);
}

#[tokio::test]
async fn same_months_as_pg_partman_with_history_past_the_retention() {
    compare(14).await;
}

#[tokio::test]
async fn same_months_as_pg_partman_on_a_fresh_table() {
    compare(0).await;
}
