//! Helpers shared by the database tests.
#![allow(dead_code)] // each test file uses a different subset

use chrono::{DateTime, Utc};
use partitions::{Month, OUTPUTS, PartitionError, PartitionKind, Policy, Report};
use tokio_postgres::{Client, GenericClient};

/// `partitions::maintain` of the outputs table with a premake and retention
/// in months, refused like the CLI refuses them.
pub async fn maintain<C: GenericClient + Send + Sync>(
    client: &mut C,
    now: DateTime<Utc>,
    premake: i32,
    retention: i32,
    dry_run: bool,
) -> Result<Report<Month>, PartitionError> {
    let policy = Policy::new(&OUTPUTS, premake, retention)?;
    partitions::maintain(client, &OUTPUTS, now, policy, dry_run).await
}

/// `partitions::ensure_current_and_next` of the outputs table.
pub async fn ensure_current_and_next<C: GenericClient + Send + Sync>(
    client: &mut C,
    now: DateTime<Utc>,
) -> Result<Report<Month>, PartitionError> {
    partitions::ensure_current_and_next(client, &OUTPUTS, now).await
}

pub fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("bad timestamp {s}: {e}"))
        .to_utc()
}

pub fn m(y: i32, mo: u32) -> Month {
    Month::new(y, mo).unwrap()
}

/// Consecutive months `first..=last`.
pub fn range(first: Month, last: Month) -> Vec<Month> {
    (0..=first.months_until(last))
        .map(|i| first.checked_add(i).unwrap())
        .collect()
}

/// The month partitions that exist, ascending; panics on any partition that
/// is neither a month nor DEFAULT.
pub async fn months(client: &Client) -> Vec<Month> {
    partitions::list(client, &OUTPUTS)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|p| match p.kind {
            PartitionKind::Period(m) => Some(m),
            PartitionKind::Default => None,
            PartitionKind::Other => panic!("unexpected partition {p:?}"),
        })
        .collect()
}

/// Everything that maintenance could change: every partition with its bound,
/// and every row with the partition holding it.
pub async fn snapshot(client: &Client) -> (Vec<(String, String)>, Vec<(String, String, String)>) {
    let parts = client
        .query(
            "SELECT c.oid::regclass::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i \
             JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'kcg.detection_model_run_outputs'::regclass ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    (parts, rows(client).await)
}

/// `(partition, cycle_ts as UTC text, entity_key)` of every output row.
pub async fn rows(client: &Client) -> Vec<(String, String, String)> {
    client
        .query(
            "SELECT tableoid::regclass::text, \
                    coalesce(to_char(cycle_ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), cycle_ts::text), entity_key \
             FROM kcg.detection_model_run_outputs ORDER BY 2, 3",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// One output row at `at` (any PostgreSQL timestamptz literal).
pub async fn insert(client: &Client, at: &str, key: &str) {
    client
        .execute(
            "INSERT INTO kcg.detection_model_run_outputs \
             (cycle_ts, model_id, version_id, role, entity_key, score, payload) \
             VALUES ($1::text::timestamptz, 'm', 1, 'PRIMARY', $2, 0.5, jsonb_build_object('k', $2::text))",
            &[&at, &key],
        )
        .await
        .unwrap_or_else(|e| panic!("insert at {at}: {e}"));
}

/// The partition holding the row with `key`.
pub async fn home(client: &Client, key: &str) -> String {
    client
        .query_one("SELECT tableoid::regclass::text FROM kcg.detection_model_run_outputs WHERE entity_key = $1", &[&key])
        .await
        .unwrap()
        .get(0)
}
