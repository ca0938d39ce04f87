//! What the catalog says about the partitioned table: its partition key and
//! its partitions, classified into month partitions (ours), the DEFAULT
//! partition and anything else (left alone). One query.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;
use tokio_postgres::types::Type;

use crate::error::PartitionError;
use crate::month::Month;

/// A table this crate partitions by month. Built only from constants, so
/// every identifier formatted into SQL comes from validated parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Table {
    pub schema: &'static str,
    pub name: &'static str,
}

/// `kcg.detection_model_run_outputs`: the one table partitioned by month.
pub(crate) const RUN_OUTPUTS: Table = Table {
    schema: "kcg",
    name: "detection_model_run_outputs",
};

impl Table {
    /// `schema.table`, for messages.
    pub fn display(self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// `"schema"."table"`, for SQL.
    pub fn quoted(self) -> String {
        qualified(self.schema, self.name)
    }

    /// `<table>_pYYYY_MM`.
    pub fn month_name(self, m: Month) -> String {
        format!("{}_{}", self.name, m.suffix())
    }

    /// The month a partition name stands for, if it follows our naming.
    pub fn month_of_name(self, name: &str) -> Option<Month> {
        name.strip_prefix(self.name)?
            .strip_prefix('_')
            .and_then(Month::parse_suffix)
    }
}

/// `"schema"."name"` with embedded quotes doubled.
pub(crate) fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The parent's partitioning and its children, one row per child (or one
/// row with NULL child columns when there is none; no row when the table is
/// missing). Bounds are read back through PostgreSQL's own parser from the
/// text `pg_get_expr` prints, so the session's TimeZone does not matter.
/// They are clamped to years 1..10000, which keeps MINVALUE/MAXVALUE and
/// infinities representable while every month comparison stays exact.
const CATALOG_SQL: &str = r"
SELECT p.relkind::text AS parent_kind,
       pt.partstrat::text AS strategy,
       pt.partnatts::int4 AS key_count,
       a.attname::text AS key_column,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS key_type,
       coalesce(a.atttypid = 'pg_catalog.timestamptz'::pg_catalog.regtype, false) AS key_is_timestamptz,
       ch.schema_name,
       ch.child_name,
       ch.bound,
       ch.lower,
       ch.upper
FROM pg_catalog.pg_class p
JOIN pg_catalog.pg_namespace n ON n.oid = p.relnamespace
LEFT JOIN pg_catalog.pg_partitioned_table pt ON pt.partrelid = p.oid
LEFT JOIN pg_catalog.pg_attribute a
       ON a.attrelid = p.oid AND pt.partnatts = 1 AND a.attnum = pt.partattrs[0]
LEFT JOIN LATERAL (
    SELECT cn.nspname::text AS schema_name,
           c.relname::text AS child_name,
           b.bound,
           CASE WHEN a.atttypid = 'pg_catalog.timestamptz'::pg_catalog.regtype THEN
               greatest(least(coalesce(substring(b.bound FROM 'FROM \(''([^'']*)''\)')::timestamptz,
                                       '-infinity'::timestamptz),
                              '10000-01-01 00:00:00+00'::timestamptz),
                        '0001-01-01 00:00:00+00'::timestamptz)
           END AS lower,
           CASE WHEN a.atttypid = 'pg_catalog.timestamptz'::pg_catalog.regtype THEN
               greatest(least(coalesce(substring(b.bound FROM 'TO \(''([^'']*)''\)')::timestamptz,
                                       'infinity'::timestamptz),
                              '10000-01-01 00:00:00+00'::timestamptz),
                        '0001-01-01 00:00:00+00'::timestamptz)
           END AS upper
    FROM pg_catalog.pg_inherits i
    JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
    JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
    CROSS JOIN LATERAL (SELECT pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound) b
    WHERE i.inhparent = p.oid
      AND ($3::text[] IS NULL OR c.relname = ANY ($3::text[]))
) ch ON true
WHERE n.nspname = $1 AND p.relname = $2
ORDER BY ch.child_name
";

/// A partition that is neither a month partition nor DEFAULT: left alone,
/// but no month may be created over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Foreign {
    pub schema: String,
    pub name: String,
    pub bound: String,
    pub lower: DateTime<Utc>,
    pub upper: DateTime<Utc>,
}

impl Foreign {
    pub fn overlaps(&self, m: Month) -> bool {
        self.lower < m.end() && m.start() < self.upper
    }
}

/// The validated layout of a month-partitioned table.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub table: Table,
    /// The partition key column.
    pub key_column: String,
    /// `(schema, name)` of the DEFAULT partition, if there is one.
    pub default: Option<(String, String)>,
    /// Month partitions, named `<table>_pYYYY_MM` with exactly that month's bounds.
    pub months: BTreeMap<Month, String>,
    pub foreign: Vec<Foreign>,
}

impl Layout {
    /// `"schema"."key"` pieces for SQL.
    pub fn key_quoted(&self) -> String {
        quote_ident(&self.key_column)
    }

    pub fn default_quoted(&self) -> Option<String> {
        self.default.as_ref().map(|(s, n)| qualified(s, n))
    }

    pub fn default_display(&self) -> String {
        self.default.as_ref().map_or_else(
            || "(no DEFAULT partition)".into(),
            |(s, n)| format!("{s}.{n}"),
        )
    }
}

/// Reads and validates the layout. With `only`, just those partition names
/// are read (the cheap check of [`crate::ensure_current_and_next`]).
pub(crate) async fn read_layout<C: GenericClient + Sync>(
    client: &C,
    table: Table,
    only: Option<&[String]>,
) -> Result<Layout, PartitionError> {
    classify(table, &read_rows(client, table, only).await?)
}

/// Runs [`CATALOG_SQL`] (one query) and decodes its rows.
pub(crate) async fn read_rows<C: GenericClient + Sync>(
    client: &C,
    table: Table,
    only: Option<&[String]>,
) -> Result<Vec<CatalogRow>, PartitionError> {
    let rows = client
        .query_typed(
            CATALOG_SQL,
            &[
                (&table.schema, Type::TEXT),
                (&table.name, Type::TEXT),
                (&only, Type::TEXT_ARRAY),
            ],
        )
        .await
        .map_err(|source| PartitionError::Db {
            table: table.display(),
            doing: "reading the partition catalog".into(),
            source,
        })?;
    rows.iter()
        .map(CatalogRow::try_from)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| PartitionError::Db {
            table: table.display(),
            doing: "decoding the partition catalog".into(),
            source,
        })
}

/// One row of [`CATALOG_SQL`], decoded.
#[derive(Debug, Clone, Default)]
pub(crate) struct CatalogRow {
    pub parent_kind: String,
    pub strategy: Option<String>,
    pub key_count: Option<i32>,
    pub key_column: Option<String>,
    pub key_type: Option<String>,
    pub key_is_timestamptz: bool,
    pub child_schema: Option<String>,
    pub child: Option<String>,
    pub bound: Option<String>,
    pub lower: Option<DateTime<Utc>>,
    pub upper: Option<DateTime<Utc>>,
}

impl TryFrom<&tokio_postgres::Row> for CatalogRow {
    type Error = tokio_postgres::Error;

    fn try_from(r: &tokio_postgres::Row) -> Result<Self, Self::Error> {
        Ok(CatalogRow {
            parent_kind: r.try_get(0)?,
            strategy: r.try_get(1)?,
            key_count: r.try_get(2)?,
            key_column: r.try_get(3)?,
            key_type: r.try_get(4)?,
            key_is_timestamptz: r.try_get(5)?,
            child_schema: r.try_get(6)?,
            child: r.try_get(7)?,
            bound: r.try_get(8)?,
            lower: r.try_get(9)?,
            upper: r.try_get(10)?,
        })
    }
}

/// Pure: checks the partitioning and sorts the children.
pub(crate) fn classify(table: Table, rows: &[CatalogRow]) -> Result<Layout, PartitionError> {
    let Some(first) = rows.first() else {
        return Err(PartitionError::TableMissing {
            table: table.display(),
        });
    };
    let not_range = |found: String| PartitionError::NotRangePartitioned {
        table: table.display(),
        found,
    };
    match first.parent_kind.as_str() {
        "p" => {}
        "r" => return Err(not_range("an ordinary table (not partitioned)".into())),
        "v" => return Err(not_range("a view".into())),
        "m" => return Err(not_range("a materialized view".into())),
        "f" => return Err(not_range("a foreign table".into())),
        other => return Err(not_range(format!("a relation of kind '{other}'"))),
    }
    match first.strategy.as_deref() {
        Some("r") => {}
        Some("l") => return Err(not_range("PARTITION BY LIST".into())),
        Some("h") => return Err(not_range("PARTITION BY HASH".into())),
        other => return Err(not_range(format!("partition strategy {other:?}"))),
    }
    let key_count = first.key_count.unwrap_or(0);
    if key_count != 1 {
        return Err(not_range(format!(
            "PARTITION BY RANGE on {key_count} columns"
        )));
    }
    let Some(key_column) = first.key_column.clone() else {
        return Err(not_range("PARTITION BY RANGE on an expression".into()));
    };
    if !first.key_is_timestamptz {
        let ty = first.key_type.clone().unwrap_or_default();
        return Err(not_range(format!("PARTITION BY RANGE ({key_column} {ty})")));
    }

    let mut layout = Layout {
        table,
        key_column,
        default: None,
        months: BTreeMap::new(),
        foreign: Vec::new(),
    };
    for row in rows {
        let (Some(schema), Some(name)) = (row.child_schema.clone(), row.child.clone()) else {
            continue;
        };
        let bound = row.bound.clone().unwrap_or_default();
        if bound == "DEFAULT" {
            layout.default = Some((schema, name));
            continue;
        }
        let (lower, upper) = (
            row.lower.unwrap_or(Month::MIN.start()),
            row.upper.unwrap_or(Month::MAX.end()),
        );
        match table
            .month_of_name(&name)
            .filter(|_| schema == table.schema)
        {
            Some(m) if lower == m.start() && upper == m.end() => {
                layout.months.insert(m, name);
            }
            Some(m) => {
                return Err(PartitionError::BoundsMismatch {
                    partition: format!("{schema}.{name}"),
                    month: m.to_string(),
                    expected: m.bound_clause(),
                    found: bound,
                });
            }
            None => layout.foreign.push(Foreign {
                schema,
                name,
                bound,
                lower,
                upper,
            }),
        }
    }
    Ok(layout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent() -> CatalogRow {
        CatalogRow {
            parent_kind: "p".into(),
            strategy: Some("r".into()),
            key_count: Some(1),
            key_column: Some("cycle_ts".into()),
            key_type: Some("timestamp with time zone".into()),
            key_is_timestamptz: true,
            ..CatalogRow::default()
        }
    }

    fn child(name: &str, bound: &str, lower: DateTime<Utc>, upper: DateTime<Utc>) -> CatalogRow {
        CatalogRow {
            child_schema: Some("kcg".into()),
            child: Some(name.into()),
            bound: Some(bound.into()),
            lower: Some(lower),
            upper: Some(upper),
            ..parent()
        }
    }

    #[test]
    fn sorts_children() {
        let jan = Month::new(2026, 1).unwrap();
        let rows = vec![
            child(
                "detection_model_run_outputs_default",
                "DEFAULT",
                jan.start(),
                jan.end(),
            ),
            child(
                "detection_model_run_outputs_p2026_01",
                &jan.bound_clause(),
                jan.start(),
                jan.end(),
            ),
            child(
                "archive",
                "FOR VALUES FROM (MINVALUE) TO ('2020-01-01')",
                Month::MIN.start(),
                jan.start(),
            ),
        ];
        let l = classify(RUN_OUTPUTS, &rows).unwrap();
        assert_eq!(
            l.default.as_ref().map(|d| d.1.as_str()),
            Some("detection_model_run_outputs_default")
        );
        assert_eq!(l.months.keys().copied().collect::<Vec<_>>(), vec![jan]);
        assert_eq!(l.foreign.len(), 1);
        assert_eq!(l.key_quoted(), "\"cycle_ts\"");
    }

    #[test]
    fn a_month_name_with_other_bounds_is_an_error_naming_both() {
        let jan = Month::new(2026, 1).unwrap();
        let feb = jan.succ().unwrap();
        let rows = vec![child(
            "detection_model_run_outputs_p2026_01",
            "FOR VALUES FROM ('x') TO ('y')",
            jan.start(),
            feb.end(),
        )];
        let e = classify(RUN_OUTPUTS, &rows).unwrap_err().to_string();
        assert!(
            e.contains("kcg.detection_model_run_outputs_p2026_01"),
            "{e}"
        );
        assert!(e.contains(&jan.bound_clause()), "{e}");
        assert!(e.contains("FROM ('x') TO ('y')"), "{e}");
    }

    #[test]
    fn refuses_what_is_not_range_on_timestamptz() {
        let cases = [
            (
                CatalogRow {
                    parent_kind: "r".into(),
                    ..CatalogRow::default()
                },
                "ordinary table",
            ),
            (
                CatalogRow {
                    strategy: Some("l".into()),
                    ..parent()
                },
                "LIST",
            ),
            (
                CatalogRow {
                    key_count: Some(2),
                    ..parent()
                },
                "2 columns",
            ),
            (
                CatalogRow {
                    key_column: None,
                    ..parent()
                },
                "expression",
            ),
            (
                CatalogRow {
                    key_is_timestamptz: false,
                    key_type: Some("date".into()),
                    ..parent()
                },
                "cycle_ts date",
            ),
        ];
        for (row, want) in cases {
            let e = classify(RUN_OUTPUTS, &[row]).unwrap_err().to_string();
            assert!(
                e.contains(want) && e.contains("kcg.detection_model_run_outputs"),
                "{e}"
            );
        }
        assert!(matches!(
            classify(RUN_OUTPUTS, &[]),
            Err(PartitionError::TableMissing { .. })
        ));
    }

    #[test]
    fn names_are_quoted() {
        assert_eq!(qualified("kcg", "a\"b"), "\"kcg\".\"a\"\"b\"");
        assert_eq!(
            RUN_OUTPUTS.month_of_name("detection_model_run_outputs_p2026_02"),
            Month::new(2026, 2)
        );
        assert_eq!(
            RUN_OUTPUTS.month_of_name("detection_model_run_outputsp2026_02"),
            None
        );
        assert_eq!(
            RUN_OUTPUTS.month_of_name("detection_model_run_outputs_default"),
            None
        );
    }
}
