//! Running a plan: one transaction, an advisory lock first, the catalog read
//! under it, DDL and row moves after it.

use chrono::{DateTime, Utc};
use tokio_postgres::types::Type;
use tokio_postgres::{GenericClient, Transaction};
use tracing::{Instrument, info, info_span, warn};

use crate::catalog::{Layout, RUN_OUTPUTS, Table, qualified, read_layout};
use crate::error::PartitionError;
use crate::month::Month;
use crate::plan::{DefaultRows, Plan, Policy, plan_ensure, plan_maintain};
use crate::report::{Created, MonthPartition, Report};

/// The `pg_advisory_xact_lock` key that every run that may change
/// anything takes first, so concurrent runners serialize (one of the keys
/// of [`schema::locks`]).
pub use schema::locks::PARTITIONS as LOCK_KEY;

/// The temporary table that holds rows on their way out of DEFAULT.
const MOVING: &str = "kcg_partitions_moving";

fn db(
    table: Table,
    doing: impl Into<String>,
) -> impl FnOnce(tokio_postgres::Error) -> PartitionError {
    let doing = doing.into();
    move |source| PartitionError::Db {
        table: table.display(),
        doing,
        source,
    }
}

/// Brings the month partitions of `kcg.detection_model_run_outputs` (the
/// only table this crate partitions) in line with the policy at `now`:
///
/// - creates every missing month from the oldest kept month (the oldest
///   month partition the retention keeps, or the oldest kept month a DEFAULT
///   row is waiting for, or the current month, whichever is earliest)
///   through `now + premake` months;
/// - drops every month partition whose whole range is older than
///   `now - retention_months` (its exclusive end is at or before that
///   instant); the current and future months are never dropped;
/// - moves the DEFAULT partition's rows of every created month into it,
///   deletes DEFAULT rows of months older than the retention, and leaves the
///   rest (later months, infinity) in DEFAULT.
///
/// Months are UTC calendar months whatever the session's TimeZone. A run
/// that finds nothing to do decides so from one catalog query (plus a count
/// of DEFAULT when DEFAULT has any page on disk), without a transaction or
/// a lock. Any other run does all its work in one transaction (a savepoint
/// when `client` is a transaction) after `pg_advisory_xact_lock(LOCK_KEY)`,
/// re-reading the catalog under the lock, so concurrent runs serialize and
/// the second finds nothing to do. With `dry_run` the plan is computed the
/// same way (under the lock when there is work) and nothing is changed.
///
/// Errors that touch nothing: `retention_months` outside 1..=1200, `premake`
/// outside 0..=120, the table missing or not `PARTITION BY RANGE` on one
/// timestamptz column, a partition named `<table>_pYYYY_MM` whose bounds are
/// not exactly that month, another partition overlapping a month that must
/// be created.
pub async fn maintain<C>(
    client: &mut C,
    now: DateTime<Utc>,
    premake: i32,
    retention_months: i32,
    dry_run: bool,
) -> Result<Report, PartitionError>
where
    C: GenericClient + Send + Sync,
{
    let policy = Policy::new(premake, retention_months)?;
    let table = RUN_OUTPUTS;
    let span = info_span!("partitions.maintain", table = %table.display(), %now, premake, retention_months, dry_run);
    async move {
        // Most runs find nothing to do: decide that without a transaction or
        // the lock. Anything else is decided again under the lock.
        let layout = read_layout(&*client, table, None).await?;
        let rows = default_rows(&*client, &layout, true).await?;
        let plan = plan_maintain(&layout, &rows, now, policy)?;
        if plan.is_noop() {
            return Ok(report(&layout, &plan, now, dry_run, 0));
        }
        let tx = client
            .transaction()
            .await
            .map_err(db(table, "starting the transaction"))?;
        let layout = lock_and_read(&tx, table).await?;
        let rows = default_rows(&tx, &layout, true).await?;
        let plan = plan_maintain(&layout, &rows, now, policy)?;
        if dry_run || plan.is_noop() {
            tx.rollback()
                .await
                .map_err(db(table, "ending the read-only transaction"))?;
            return Ok(report(&layout, &plan, now, dry_run, plan.moved()));
        }
        lock_parent(&tx, &layout).await?;
        // Under the table locks the DEFAULT partition cannot change any more:
        // count again so the moves are exact.
        let rows = default_rows(&tx, &layout, false).await?;
        let plan = plan_maintain(&layout, &rows, now, policy)?;
        let moved = apply(&tx, &layout, &plan).await?;
        tx.commit().await.map_err(db(table, "committing"))?;
        Ok(report(&layout, &plan, now, false, moved))
    }
    .instrument(span)
    .await
}

/// The cycle's stage 9: makes sure the month holding `now` (UTC) and the
/// next month exist for `kcg.detection_model_run_outputs`.
///
/// When both exist this is ONE catalog query and nothing else (no
/// transaction, no lock). When one is missing it takes the same advisory
/// lock as [`maintain`], re-reads the catalog, creates what is missing and
/// moves that month's rows out of DEFAULT, in one transaction (a savepoint
/// when `client` is a transaction). It never drops anything. Call it before
/// the cycle writes outputs in the same transaction: creating a partition
/// takes an ACCESS EXCLUSIVE lock on the parent.
pub async fn ensure_current_and_next<C>(
    client: &mut C,
    now: DateTime<Utc>,
) -> Result<Report, PartitionError>
where
    C: GenericClient + Send + Sync,
{
    let table = RUN_OUTPUTS;
    let current = Month::containing(now).ok_or(PartitionError::OutOfRange {
        what: "now",
        ts: now,
    })?;
    let next = current.succ().ok_or(PartitionError::OutOfRange {
        what: "now + 1 month",
        ts: now,
    })?;
    let names = [table.month_name(current), table.month_name(next)];
    let seen = read_layout(&*client, table, Some(&names)).await?;
    if seen.months.contains_key(&current) && seen.months.contains_key(&next) {
        let plan = plan_ensure(&seen, &DefaultRows::default(), now)?;
        return Ok(report(&seen, &plan, now, false, 0));
    }
    let span = info_span!("partitions.ensure", table = %table.display(), %now);
    async move {
        let tx = client
            .transaction()
            .await
            .map_err(db(table, "starting the transaction"))?;
        let layout = lock_and_read(&tx, table).await?;
        let rows = default_rows(&tx, &layout, true).await?;
        let plan = plan_ensure(&layout, &rows, now)?;
        if plan.is_noop() {
            // Another runner made them while we waited for the lock.
            tx.rollback()
                .await
                .map_err(db(table, "ending the read-only transaction"))?;
            return Ok(report(&layout, &plan, now, false, 0));
        }
        lock_parent(&tx, &layout).await?;
        let rows = default_rows(&tx, &layout, false).await?;
        let plan = plan_ensure(&layout, &rows, now)?;
        let moved = apply(&tx, &layout, &plan).await?;
        tx.commit().await.map_err(db(table, "committing"))?;
        Ok(report(&layout, &plan, now, false, moved))
    }
    .instrument(span)
    .await
}

/// Takes the advisory lock and reads the catalog, pipelined: the catalog
/// query is sent right behind the lock, and the server runs it (with a fresh
/// snapshot) only once the lock is granted.
async fn lock_and_read(tx: &Transaction<'_>, table: Table) -> Result<Layout, PartitionError> {
    let lock = async {
        tx.query_typed(
            "SELECT pg_catalog.pg_advisory_xact_lock($1)",
            &[(&LOCK_KEY, Type::INT8)],
        )
        .await
        .map_err(db(table, "taking the advisory lock"))
    };
    // try_join polls its futures in order: the lock's query is sent first.
    let (_, layout) = futures_util::future::try_join(lock, read_layout(tx, table, None)).await?;
    Ok(layout)
}

/// Counts the DEFAULT partition's rows per UTC month. With `trust_empty`,
/// a DEFAULT the catalog saw without a single page is not read at all.
async fn default_rows<C: GenericClient + Sync>(
    client: &C,
    layout: &Layout,
    trust_empty: bool,
) -> Result<DefaultRows, PartitionError> {
    let Some(default) = layout.default_quoted() else {
        return Ok(DefaultRows::default());
    };
    if trust_empty && layout.default_empty {
        return Ok(DefaultRows::default());
    }
    let k = layout.key_quoted();
    let sql = format!(
        "SELECT CASE WHEN {k} < '0001-01-01 00:00:00+00' THEN -1 \
                     WHEN {k} < '10000-01-01 00:00:00+00' \
                     THEN extract(year FROM {k} AT TIME ZONE 'UTC')::int4 * 12 \
                          + extract(month FROM {k} AT TIME ZONE 'UTC')::int4 - 1 END, \
                count(*)::int8 \
         FROM {default} GROUP BY 1"
    );
    let rows = client.query_typed(&sql, &[]).await.map_err(db(
        layout.table,
        format!("counting the rows of {}", layout.default_display()),
    ))?;
    let mut out = DefaultRows::default();
    for r in rows {
        let idx: Option<i32> = r
            .try_get(0)
            .map_err(db(layout.table, "decoding DEFAULT row counts"))?;
        let n: i64 = r
            .try_get(1)
            .map_err(db(layout.table, "decoding DEFAULT row counts"))?;
        let n = n.unsigned_abs();
        match idx {
            Some(-1) => out.ancient += n,
            Some(i) => match Month::from_index(i) {
                Some(m) => *out.by_month.entry(m).or_default() += n,
                None => out.unplaceable += n,
            },
            None => out.unplaceable += n,
        }
    }
    Ok(out)
}

/// Locks the parent, then DEFAULT, in the order inserts take them, so the
/// DEFAULT partition holds still until commit.
async fn lock_parent(tx: &Transaction<'_>, layout: &Layout) -> Result<(), PartitionError> {
    let mut sql = format!(
        "LOCK TABLE ONLY {} IN ACCESS EXCLUSIVE MODE;",
        layout.table.quoted()
    );
    if let Some(d) = layout.default_quoted() {
        sql.push_str(&format!(" LOCK TABLE ONLY {d} IN EXCLUSIVE MODE;"));
    }
    tx.batch_execute(&sql)
        .await
        .map_err(db(layout.table, "locking the table"))
}

/// Executes `plan`; returns the rows moved out of DEFAULT.
async fn apply(tx: &Transaction<'_>, layout: &Layout, plan: &Plan) -> Result<u64, PartitionError> {
    let table = layout.table;
    let parent = table.quoted();
    let key = layout.key_quoted();

    if let (Some(default), Some(first_kept)) = (layout.default_quoted(), plan.first_kept)
        && plan.expired_default_rows > 0
    {
        let n = tx
            .execute_typed(
                &format!("DELETE FROM {default} WHERE {key} < $1"),
                &[(&first_kept.start(), Type::TIMESTAMPTZ)],
            )
            .await
            .map_err(db(
                table,
                format!("deleting expired rows from {}", layout.default_display()),
            ))?;
        info!(rows = n, before = %first_kept, "deleted DEFAULT rows older than the retention");
    }

    for (m, name) in &plan.drop {
        tx.batch_execute(&format!("DROP TABLE {}", qualified(table.schema, name)))
            .await
            .map_err(db(table, format!("dropping {}.{name}", table.schema)))?;
        info!(partition = %name, month = %m, "dropped");
    }

    let planned = plan.moved();
    let mut taken = 0;
    if planned > 0 {
        // PostgreSQL refuses to create a partition while DEFAULT holds rows
        // of its range: park them in a temporary table, create, put them back.
        let spans = spans(plan.create.iter().filter(|(_, n)| *n > 0).map(|(m, _)| *m));
        let mut cond = Vec::new();
        let mut params: Vec<DateTime<Utc>> = Vec::new();
        for (lo, hi) in &spans {
            cond.push(format!(
                "({key} >= ${} AND {key} < ${})",
                params.len() + 1,
                params.len() + 2
            ));
            params.push(lo.start());
            params.push(hi.end());
        }
        tx.batch_execute(&format!(
            "CREATE TEMPORARY TABLE {MOVING} (LIKE {parent}) ON COMMIT DROP"
        ))
        .await
        .map_err(db(
            table,
            "creating the temporary table for rows leaving DEFAULT",
        ))?;
        // Through the parent, so the column order is the parent's; the
        // bounds prune every scan to DEFAULT (no month partition covers them).
        let sql = format!(
            "WITH moved AS (DELETE FROM {parent} WHERE {} RETURNING *) INSERT INTO pg_temp.{MOVING} SELECT * FROM moved",
            cond.join(" OR ")
        );
        let typed: Vec<(&(dyn tokio_postgres::types::ToSql + Sync), Type)> = params
            .iter()
            .map(|p| {
                (
                    p as &(dyn tokio_postgres::types::ToSql + Sync),
                    Type::TIMESTAMPTZ,
                )
            })
            .collect();
        taken = tx.execute_typed(&sql, &typed).await.map_err(db(
            table,
            format!("taking rows out of {}", layout.default_display()),
        ))?;
    }

    let mut ddl = String::new();
    for (m, _) in &plan.create {
        ddl.push_str(&format!(
            "CREATE TABLE {} PARTITION OF {parent} {};\n",
            qualified(table.schema, &table.month_name(*m)),
            m.bound_clause()
        ));
    }
    if !ddl.is_empty() {
        tx.batch_execute(&ddl).await.map_err(db(
            table,
            format!("creating partitions {}", names(table, &plan.create)),
        ))?;
    }
    for (m, n) in &plan.create {
        info!(partition = %table.month_name(*m), month = %m, rows_moved = n, "created");
    }

    if planned > 0 {
        let put = tx
            .execute_typed(
                &format!("INSERT INTO {parent} SELECT * FROM pg_temp.{MOVING}"),
                &[],
            )
            .await
            .map_err(db(
                table,
                "putting rows from DEFAULT into the new partitions",
            ))?;
        tx.batch_execute(&format!("DROP TABLE pg_temp.{MOVING}"))
            .await
            .map_err(db(table, "dropping the temporary table"))?;
        if taken != planned || put != taken {
            warn!(
                planned,
                taken, put, "rows moved out of DEFAULT do not add up; rolling back"
            );
            return Err(PartitionError::MoveMismatch {
                table: table.display(),
                default: layout.default_display(),
                taken,
                put,
            });
        }
    }
    Ok(taken)
}

fn names(table: Table, months: &[(Month, u64)]) -> String {
    months
        .iter()
        .map(|(m, _)| table.month_name(*m))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Consecutive months merged into `(first, last)` spans.
fn spans(months: impl Iterator<Item = Month>) -> Vec<(Month, Month)> {
    let mut out: Vec<(Month, Month)> = Vec::new();
    for m in months {
        match out.last_mut() {
            Some((_, hi)) if hi.succ() == Some(m) => *hi = m,
            _ => out.push((m, m)),
        }
    }
    out
}

fn report(layout: &Layout, plan: &Plan, now: DateTime<Utc>, dry_run: bool, moved: u64) -> Report {
    let table = layout.table;
    let part = |m: Month, name: &str| MonthPartition {
        month: m,
        name: format!("{}.{name}", table.schema),
    };
    Report {
        table: table.display(),
        dry_run,
        now,
        current: plan.current,
        last: plan.last,
        first_kept: plan.first_kept,
        created: plan
            .create
            .iter()
            .map(|(m, n)| Created {
                partition: part(*m, &table.month_name(*m)),
                rows_moved: *n,
            })
            .collect(),
        dropped: plan.drop.iter().map(|(m, n)| part(*m, n)).collect(),
        kept: plan.kept.iter().map(|(m, n)| part(*m, n)).collect(),
        moved_from_default: moved,
        expired_default_rows: plan.expired_default_rows,
        left_in_default: plan.left_in_default,
        foreign: layout
            .foreign
            .iter()
            .map(|f| format!("{}.{} ({})", f.schema, f.name, f.bound))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_merge_consecutive_months() {
        let m = |y, mo| Month::new(y, mo).unwrap();
        let got = spans([m(2025, 11), m(2025, 12), m(2026, 1), m(2026, 3)].into_iter());
        assert_eq!(
            got,
            vec![(m(2025, 11), m(2026, 1)), (m(2026, 3), m(2026, 3))]
        );
    }
}
