//! Running a plan: one transaction, an advisory lock first, the catalog read
//! under it, DDL and row moves after it.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use tokio_postgres::types::Type;
use tokio_postgres::{GenericClient, Transaction};
use tracing::{Instrument, info, info_span, warn};

use crate::catalog::{Layout, checked, read_layout, read_rows};
use crate::day::Day;
use crate::error::PartitionError;
use crate::month::Month;
use crate::period::Period;
use crate::plan::{DefaultRows, Plan, Policy, period_of, plan_ensure, plan_maintain};
use crate::report::{Created, Partition, Report};
use crate::spec::{OUTPUTS, POSITIONS, TableSpec, qualified};

/// The `pg_advisory_xact_lock` key that every run that may change
/// anything takes first, so concurrent runners serialize (one of the keys
/// of [`schema::locks`]).
pub use schema::locks::PARTITIONS as LOCK_KEY;

/// The temporary table that holds rows on their way out of DEFAULT.
const MOVING: &str = "kcg_partitions_moving";

fn db<P: Period>(
    table: TableSpec<P>,
    doing: impl Into<String>,
) -> impl FnOnce(tokio_postgres::Error) -> PartitionError {
    let doing = doing.into();
    move |source| PartitionError::Db {
        table: table.display(),
        doing,
        source,
    }
}

/// Brings the partitions of `table` in line with `policy` at `now`:
///
/// - creates every missing period from the oldest kept period (the oldest
///   partition the retention keeps, or the oldest kept period a DEFAULT
///   row is waiting for, or the current period, whichever is earliest)
///   through `now + premake` periods;
/// - drops every partition whose whole range is older than
///   `now - retention` (its exclusive end is at or before that instant);
///   the current and future periods are never dropped;
/// - moves the DEFAULT partition's rows of every created period into it,
///   deletes DEFAULT rows of periods older than the retention, and leaves
///   the rest (later periods, infinity) in DEFAULT.
///
/// Periods are UTC months or days whatever the session's TimeZone. A run
/// that finds nothing to do decides so from one catalog query (plus a count
/// of DEFAULT when DEFAULT has any page on disk), without a transaction or
/// a lock. Any other run does all its work in one transaction (a savepoint
/// when `client` is a transaction) after `pg_advisory_xact_lock(LOCK_KEY)`,
/// re-reading the catalog under the lock, so concurrent runs serialize and
/// the second finds nothing to do. With `dry_run` the plan is computed the
/// same way (under the lock when there is work) and nothing is changed.
///
/// Errors that touch nothing: the table missing or not `PARTITION BY RANGE`
/// on one timestamptz column, a partition named `<table>_<suffix>` whose
/// bounds are not exactly that period, another partition overlapping a
/// period that must be created. (A bad premake or retention cannot reach
/// here: [`Policy::new`] refuses it.)
pub async fn maintain<P, C>(
    client: &mut C,
    table: &TableSpec<P>,
    now: DateTime<Utc>,
    policy: Policy<P>,
    dry_run: bool,
) -> Result<Report<P>, PartitionError>
where
    P: Period,
    C: GenericClient + Send + Sync,
{
    let table = *table;
    let span = info_span!(
        "partitions.maintain",
        table = %table.display(),
        %now,
        premake = policy.premake(),
        retention = policy.retention(),
        dry_run
    );
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

/// Makes sure a partition of `table` exists for every period of `periods`
/// (any order, repeats allowed, not empty), and moves the DEFAULT rows of
/// the periods it creates into them. It never drops anything.
///
/// When all exist this is ONE catalog query and nothing else (no
/// transaction, no lock). When one is missing it takes the same advisory
/// lock as [`maintain`], re-reads the catalog, creates what is missing and
/// moves those periods' rows out of DEFAULT, in one transaction (a savepoint
/// when `client` is a transaction). Creating a partition takes an ACCESS
/// EXCLUSIVE lock on the parent until that transaction ends: call it before
/// writing to the table, and preferably outside a long transaction.
///
/// The report's `now` is the start of the first period asked for, its
/// `current` and `last` the first and last period asked for.
pub async fn ensure<P, C>(
    client: &mut C,
    table: &TableSpec<P>,
    periods: &[P],
) -> Result<Report<P>, PartitionError>
where
    P: Period,
    C: GenericClient + Send + Sync,
{
    let table = *table;
    let wanted: Vec<P> = periods
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let Some(first) = wanted.first().copied() else {
        return Err(PartitionError::NothingAsked {
            table: table.display(),
        });
    };
    let names: Vec<String> = wanted.iter().map(|p| table.partition_name(*p)).collect();
    let seen = read_layout(&*client, table, Some(&names)).await?;
    ensure_seen(client, table, &wanted, seen, first.start()).await
}

/// [`ensure`] after its cheap read: done when `seen` has every period of
/// `wanted`, otherwise the locked path.
async fn ensure_seen<P, C>(
    client: &mut C,
    table: TableSpec<P>,
    wanted: &[P],
    seen: Layout<P>,
    now: DateTime<Utc>,
) -> Result<Report<P>, PartitionError>
where
    P: Period,
    C: GenericClient + Send + Sync,
{
    if wanted.iter().all(|p| seen.periods.contains_key(p)) {
        let plan = plan_ensure(&seen, &DefaultRows::default(), wanted)?;
        return Ok(report(&seen, &plan, now, false, 0));
    }
    let span = info_span!("partitions.ensure", table = %table.display(), periods = wanted.len());
    async move {
        let tx = client
            .transaction()
            .await
            .map_err(db(table, "starting the transaction"))?;
        let layout = lock_and_read(&tx, table).await?;
        let rows = default_rows(&tx, &layout, true).await?;
        let plan = plan_ensure(&layout, &rows, wanted)?;
        if plan.is_noop() {
            // Another runner made them while we waited for the lock.
            tx.rollback()
                .await
                .map_err(db(table, "ending the read-only transaction"))?;
            return Ok(report(&layout, &plan, now, false, 0));
        }
        lock_parent(&tx, &layout).await?;
        let rows = default_rows(&tx, &layout, false).await?;
        let plan = plan_ensure(&layout, &rows, wanted)?;
        let moved = apply(&tx, &layout, &plan).await?;
        tx.commit().await.map_err(db(table, "committing"))?;
        Ok(report(&layout, &plan, now, false, moved))
    }
    .instrument(span)
    .await
}

/// Makes sure the period holding `now` (UTC) and the next one exist for
/// `table`: [`ensure`] of those two (one catalog query when both exist).
pub async fn ensure_current_and_next<P, C>(
    client: &mut C,
    table: &TableSpec<P>,
    now: DateTime<Utc>,
) -> Result<Report<P>, PartitionError>
where
    P: Period,
    C: GenericClient + Send + Sync,
{
    let (current, next) = current_and_next::<P>(now)?;
    let mut report = ensure(client, table, &[current, next]).await?;
    report.now = now;
    Ok(report)
}

fn current_and_next<P: Period>(now: DateTime<Utc>) -> Result<(P, P), PartitionError> {
    let current: P = period_of(now, "now")?;
    let next = current.succ().ok_or(PartitionError::OutOfRange {
        what: "now + 1 period",
        ts: now,
    })?;
    Ok((current, next))
}

/// What the cycle's stage 9 ensured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleReport {
    /// This and next month of [`OUTPUTS`].
    pub outputs: Report<Month>,
    /// This and next day of [`POSITIONS`].
    pub positions: Report<Day>,
}

/// The cycle's stage 9: [`ensure_current_and_next`] for [`OUTPUTS`] (months)
/// and for [`POSITIONS`] (days) at `now`. When all four partitions exist
/// this is ONE catalog query for both tables and nothing else; otherwise
/// each table with something missing takes [`ensure`]'s locked path.
pub async fn ensure_cycle<C>(
    client: &mut C,
    now: DateTime<Utc>,
) -> Result<CycleReport, PartitionError>
where
    C: GenericClient + Send + Sync,
{
    let (month, next_month) = current_and_next::<Month>(now)?;
    let (day, next_day) = current_and_next::<Day>(now)?;
    let names = [
        OUTPUTS.partition_name(month),
        OUTPUTS.partition_name(next_month),
        POSITIONS.partition_name(day),
        POSITIONS.partition_name(next_day),
    ];
    let parents = [OUTPUTS.quoted(), POSITIONS.quoted()];
    let rows = read_rows(&*client, &parents, Some(&names)).await?;
    let (outputs_rows, positions_rows): (Vec<_>, Vec<_>) =
        rows.into_iter().partition(|r| r.parent == parents[0]);
    let outputs_seen = checked(&*client, OUTPUTS, outputs_rows).await?;
    let positions_seen = checked(&*client, POSITIONS, positions_rows).await?;
    let outputs = ensure_seen(client, OUTPUTS, &[month, next_month], outputs_seen, now).await?;
    let positions = ensure_seen(client, POSITIONS, &[day, next_day], positions_seen, now).await?;
    Ok(CycleReport { outputs, positions })
}

/// Takes the advisory lock and reads the catalog, pipelined: the catalog
/// query is sent right behind the lock, and the server runs it (with a fresh
/// snapshot) only once the lock is granted.
async fn lock_and_read<P: Period>(
    tx: &Transaction<'_>,
    table: TableSpec<P>,
) -> Result<Layout<P>, PartitionError> {
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

/// Counts the DEFAULT partition's rows per UTC period. With `trust_empty`,
/// a DEFAULT the catalog saw without a single page is not read at all.
async fn default_rows<P: Period, C: GenericClient + Sync>(
    client: &C,
    layout: &Layout<P>,
    trust_empty: bool,
) -> Result<DefaultRows<P>, PartitionError> {
    let Some(default) = layout.default_quoted() else {
        return Ok(DefaultRows::default());
    };
    if trust_empty && layout.default_empty {
        return Ok(DefaultRows::default());
    }
    let k = layout.key_quoted();
    // Indexes of both period types are positive, so -1 is free for "before year 1".
    let index = P::sql_index(&k);
    let sql = format!(
        "SELECT CASE WHEN {k} < '0001-01-01 00:00:00+00' THEN -1 \
                     WHEN {k} < '10000-01-01 00:00:00+00' THEN {index} END, \
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
            Some(i) => match P::from_index(i) {
                Some(p) => *out.by_period.entry(p).or_default() += n,
                None => out.unplaceable += n,
            },
            None => out.unplaceable += n,
        }
    }
    Ok(out)
}

/// Locks the parent, then DEFAULT, in the order inserts take them, so the
/// DEFAULT partition holds still until commit.
async fn lock_parent<P: Period>(
    tx: &Transaction<'_>,
    layout: &Layout<P>,
) -> Result<(), PartitionError> {
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
async fn apply<P: Period>(
    tx: &Transaction<'_>,
    layout: &Layout<P>,
    plan: &Plan<P>,
) -> Result<u64, PartitionError> {
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

    for (p, name) in &plan.drop {
        tx.batch_execute(&format!("DROP TABLE {}", qualified(table.schema(), name)))
            .await
            .map_err(db(table, format!("dropping {}.{name}", table.schema())))?;
        info!(partition = %name, period = %p, "dropped");
    }

    let planned = plan.moved();
    let mut taken = 0;
    if planned > 0 {
        // PostgreSQL refuses to create a partition while DEFAULT holds rows
        // of its range: park them in a temporary table, create, put them back.
        let spans = spans(plan.create.iter().filter(|(_, n)| *n > 0).map(|(p, _)| *p));
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
        // bounds prune every scan to DEFAULT (no period partition covers them).
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
    for (p, _) in &plan.create {
        ddl.push_str(&format!(
            "CREATE TABLE {} PARTITION OF {parent} {};\n",
            qualified(table.schema(), &table.partition_name(*p)),
            p.bound_clause()
        ));
    }
    if !ddl.is_empty() {
        tx.batch_execute(&ddl).await.map_err(db(
            table,
            format!("creating partitions {}", names(table, &plan.create)),
        ))?;
    }
    for (p, n) in &plan.create {
        info!(partition = %table.partition_name(*p), period = %p, rows_moved = n, "created");
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

fn names<P: Period>(table: TableSpec<P>, periods: &[(P, u64)]) -> String {
    periods
        .iter()
        .map(|(p, _)| table.partition_name(*p))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Consecutive periods merged into `(first, last)` spans.
fn spans<P: Period>(periods: impl Iterator<Item = P>) -> Vec<(P, P)> {
    let mut out: Vec<(P, P)> = Vec::new();
    for p in periods {
        match out.last_mut() {
            Some((_, hi)) if hi.succ() == Some(p) => *hi = p,
            _ => out.push((p, p)),
        }
    }
    out
}

fn report<P: Period>(
    layout: &Layout<P>,
    plan: &Plan<P>,
    now: DateTime<Utc>,
    dry_run: bool,
    moved: u64,
) -> Report<P> {
    let table = layout.table;
    let part = |p: P, name: &str| Partition {
        period: p,
        name: format!("{}.{name}", table.schema()),
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
            .map(|(p, n)| Created {
                partition: part(*p, &table.partition_name(*p)),
                rows_moved: *n,
            })
            .collect(),
        dropped: plan.drop.iter().map(|(p, n)| part(*p, n)).collect(),
        kept: plan.kept.iter().map(|(p, n)| part(*p, n)).collect(),
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
    fn spans_merge_consecutive_periods() {
        let m = |y, mo| Month::new(y, mo).unwrap();
        let got = spans([m(2025, 11), m(2025, 12), m(2026, 1), m(2026, 3)].into_iter());
        assert_eq!(
            got,
            vec![(m(2025, 11), m(2026, 1)), (m(2026, 3), m(2026, 3))]
        );
        let d = |y, mo, da| Day::new(y, mo, da).unwrap();
        let got = spans([d(2021, 12, 31), d(2022, 1, 1), d(2022, 1, 3)].into_iter());
        assert_eq!(
            got,
            vec![
                (d(2021, 12, 31), d(2022, 1, 1)),
                (d(2022, 1, 3), d(2022, 1, 3))
            ]
        );
    }
}
