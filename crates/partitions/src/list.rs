//! `runner partitions list`: every partition with its range and a row estimate.

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;
use tokio_postgres::types::Type;

use crate::catalog::{checked, read_rows};
use crate::error::PartitionError;
use crate::period::Period;
use crate::spec::TableSpec;

/// What kind of partition a [`PartitionInfo`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionKind<P> {
    /// A period partition `<table>_<suffix>` with exactly that period's bounds.
    Period(P),
    /// The DEFAULT partition.
    Default,
    /// Anything else (made by hand); maintenance leaves it alone.
    Other,
}

/// One partition of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionInfo<P> {
    /// `schema.name`.
    pub name: String,
    /// Period, DEFAULT or other.
    pub kind: PartitionKind<P>,
    /// Lower bound (inclusive), `None` for DEFAULT; clamped to year 1 for MINVALUE.
    pub from: Option<DateTime<Utc>>,
    /// Upper bound (exclusive), `None` for DEFAULT; clamped to year 10000 for MAXVALUE.
    pub to: Option<DateTime<Utc>>,
    /// The bound as PostgreSQL prints it.
    pub bound: String,
    /// `pg_class.reltuples`, or the live-tuple count of the statistics when
    /// the partition was never analyzed.
    pub row_estimate: i64,
}

const ESTIMATES_SQL: &str = r"
SELECT cn.nspname::text, c.relname::text,
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::int8 ELSE pg_catalog.pg_stat_get_live_tuples(c.oid) END
FROM pg_catalog.pg_inherits i
JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
JOIN pg_catalog.pg_namespace n ON n.oid = p.relnamespace
WHERE n.nspname = $1 AND p.relname = $2
";

/// The partitions of `table`, ordered by range (DEFAULT last). Read-only
/// and lock-free; a period-named partition with other bounds is listed as
/// [`PartitionKind::Other`] rather than refused.
pub async fn list<P: Period, C: GenericClient + Sync>(
    client: &C,
    table: &TableSpec<P>,
) -> Result<Vec<PartitionInfo<P>>, PartitionError> {
    let table = *table;
    let rows = read_rows(client, &[table.quoted()], None).await?;
    if rows.first().is_none_or(|r| r.key_column.is_none()) {
        // Refuses a table that is not range-partitioned on one timestamptz
        // column (and says what it is instead).
        checked(client, table, rows).await?;
        return Ok(Vec::new());
    }
    let estimates = client
        .query_typed(
            ESTIMATES_SQL,
            &[(&table.schema(), Type::TEXT), (&table.name(), Type::TEXT)],
        )
        .await
        .map_err(|source| PartitionError::Db {
            table: table.display(),
            doing: "reading row estimates".into(),
            source,
        })?;
    let estimate = |schema: &str, name: &str| -> i64 {
        estimates
            .iter()
            .find(|r| {
                r.try_get::<_, &str>(0).ok() == Some(schema)
                    && r.try_get::<_, &str>(1).ok() == Some(name)
            })
            .and_then(|r| r.try_get::<_, Option<i64>>(2).ok().flatten())
            .unwrap_or(0)
    };
    let mut out: Vec<PartitionInfo<P>> = rows
        .iter()
        .filter_map(|r| {
            let (schema, name) = (r.child_schema.as_deref()?, r.child.as_deref()?);
            let bound = r.bound.clone().unwrap_or_default();
            let (kind, from, to) = if bound == "DEFAULT" {
                (PartitionKind::Default, None, None)
            } else {
                let p = table.period_of_name(name).filter(|p| {
                    schema == table.schema()
                        && r.lower == Some(p.start())
                        && r.upper == Some(p.end())
                });
                (
                    p.map_or(PartitionKind::Other, PartitionKind::Period),
                    r.lower,
                    r.upper,
                )
            };
            Some(PartitionInfo {
                name: format!("{schema}.{name}"),
                kind,
                from,
                to,
                bound,
                row_estimate: estimate(schema, name),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (a.kind == PartitionKind::Default, a.from, &a.name).cmp(&(
            b.kind == PartitionKind::Default,
            b.from,
            &b.name,
        ))
    });
    Ok(out)
}
