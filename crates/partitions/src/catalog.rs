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

/// The parent's partition key and its children: one row per child, or one
/// row with NULL child columns when there is none (or the table is missing).
///
/// Written for a cheap plan (it is planned on every call): the key comes
/// from `pg_get_partkeydef` and a scalar subquery that yields the key
/// column's name only when the key is one `timestamptz` column (type OID
/// 1184, fixed in PostgreSQL). Bounds are read back through PostgreSQL's own
/// input function from the text `pg_get_expr` prints, so the session's
/// TimeZone and DateStyle do not matter, and clamped to years 1..10000 so
/// MINVALUE/MAXVALUE and infinities decode while every month comparison
/// stays exact. `pg_get_expr(relpartbound, 0)`: bounds are constants and
/// need no relation context, so no partition is opened or locked, and one
/// being dropped concurrently neither blocks nor blanks the read. For
/// DEFAULT, the last column is its size on disk: zero proves it empty
/// without reading it.
const CATALOG_SQL: &str = r"
SELECT s.keydef, s.key_column, s.schema_name, s.child_name, s.bound,
       greatest(least(coalesce(s.lo, '-infinity'::timestamptz), '10000-01-01 00:00:00+00'::timestamptz),
                '0001-01-01 00:00:00+00'::timestamptz),
       greatest(least(coalesce(s.hi, 'infinity'::timestamptz), '10000-01-01 00:00:00+00'::timestamptz),
                '0001-01-01 00:00:00+00'::timestamptz),
       CASE WHEN s.bound = 'DEFAULT' THEN pg_catalog.pg_relation_size(s.child_oid) END
FROM (
    SELECT t.*,
           CASE WHEN t.key_column IS NOT NULL AND t.bound LIKE 'FOR VALUES FROM (''%'
                THEN pg_catalog.split_part(pg_catalog.split_part(t.bound, 'FROM (', 2), '''', 2)::timestamptz END AS lo,
           CASE WHEN t.key_column IS NOT NULL AND t.bound LIKE '% TO (''%'
                THEN pg_catalog.split_part(pg_catalog.split_part(t.bound, ' TO (', 2), '''', 2)::timestamptz END AS hi
    FROM (
        SELECT pg_catalog.pg_get_partkeydef(r.oid) AS keydef,
               (SELECT a.attname::text FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = r.oid AND a.atttypid = 1184
                   AND a.attnum = (SELECT pt.partattrs[0] FROM pg_catalog.pg_partitioned_table pt
                                    WHERE pt.partrelid = r.oid AND pt.partnatts = 1)) AS key_column,
               ch.oid AS child_oid,
               ch.relnamespace::pg_catalog.regnamespace::text AS schema_name,
               ch.relname::text AS child_name,
               pg_catalog.pg_get_expr(ch.relpartbound, 0) AS bound
        FROM pg_catalog.to_regclass($1) AS r(oid)
        LEFT JOIN (pg_catalog.pg_inherits i
                   JOIN pg_catalog.pg_class ch
                     ON ch.oid = i.inhrelid AND ($2::text[] IS NULL OR ch.relname = ANY ($2::text[])))
               ON i.inhparent = r.oid
        OFFSET 0
    ) t
    OFFSET 0
) s
ORDER BY s.child_name
";

/// Says what the table is instead (the error path only).
const DESCRIBE_SQL: &str = r"
SELECT c.relkind::text, pg_catalog.pg_get_partkeydef(c.oid),
       (SELECT pg_catalog.format_type(a.atttypid, a.atttypmod)
          FROM pg_catalog.pg_partitioned_table pt
          JOIN pg_catalog.pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
         WHERE pt.partrelid = c.oid AND pt.partnatts = 1)
FROM pg_catalog.pg_class c
WHERE c.oid = pg_catalog.to_regclass($1)
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
    /// True when DEFAULT is missing or has no pages at all (so no rows).
    pub default_empty: bool,
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
    let rows = read_rows(client, table, only).await?;
    classify(table, &rows)
}

/// Runs [`CATALOG_SQL`] (one query) and decodes its rows. When the table is
/// not range-partitioned on one timestamptz column, a second query finds
/// out what it is instead, and the answer is an error.
pub(crate) async fn read_rows<C: GenericClient + Sync>(
    client: &C,
    table: Table,
    only: Option<&[String]>,
) -> Result<Vec<CatalogRow>, PartitionError> {
    let db = |doing: &str| {
        let doing = doing.to_owned();
        move |source| PartitionError::Db {
            table: table.display(),
            doing,
            source,
        }
    };
    let regclass = table.quoted();
    let rows = client
        .query_typed(
            CATALOG_SQL,
            &[(&regclass, Type::TEXT), (&only, Type::TEXT_ARRAY)],
        )
        .await
        .map_err(db("reading the partition catalog"))?;
    let rows = rows
        .iter()
        .map(CatalogRow::try_from)
        .collect::<Result<Vec<_>, _>>()
        .map_err(db("decoding the partition catalog"))?;
    if rows.first().is_some_and(|r| r.key_column.is_some()) {
        return Ok(rows);
    }
    let described = client
        .query_typed(DESCRIBE_SQL, &[(&regclass, Type::TEXT)])
        .await
        .map_err(db("describing the table"))?;
    let found = match described.first() {
        None => None,
        Some(r) => Some((
            r.try_get::<_, String>(0)
                .map_err(db("describing the table"))?,
            r.try_get::<_, Option<String>>(1)
                .map_err(db("describing the table"))?,
            r.try_get::<_, Option<String>>(2)
                .map_err(db("describing the table"))?,
        )),
    };
    Err(not_range(table, found))
}

/// What [`DESCRIBE_SQL`] found: `(relkind, pg_get_partkeydef, the type of a
/// single key column)`.
pub(crate) type Described = (String, Option<String>, Option<String>);

/// Pure: the error for a table that is missing (`None`) or not partitioned
/// by range on one timestamptz column.
pub(crate) fn not_range(table: Table, found: Option<Described>) -> PartitionError {
    let Some((kind, keydef, key_type)) = found else {
        return PartitionError::TableMissing {
            table: table.display(),
        };
    };
    let found = match (kind.as_str(), keydef) {
        ("p", Some(keydef)) => match key_type {
            Some(ty) if keydef.starts_with("RANGE ") => {
                format!("PARTITION BY {keydef} on a column of type {ty}")
            }
            _ => format!("PARTITION BY {keydef}"),
        },
        ("r", _) => "an ordinary table (not partitioned)".into(),
        ("v", _) => "a view".into(),
        ("m", _) => "a materialized view".into(),
        ("f", _) => "a foreign table".into(),
        (other, _) => format!("a relation of kind '{other}'"),
    };
    PartitionError::NotRangePartitioned {
        table: table.display(),
        found,
    }
}

/// One row of [`CATALOG_SQL`], decoded.
#[derive(Debug, Clone, Default)]
pub(crate) struct CatalogRow {
    /// The key column, when the key is one timestamptz column.
    pub key_column: Option<String>,
    pub child_schema: Option<String>,
    pub child: Option<String>,
    pub bound: Option<String>,
    pub lower: Option<DateTime<Utc>>,
    pub upper: Option<DateTime<Utc>>,
    /// DEFAULT's size on disk.
    pub default_bytes: Option<i64>,
}

impl TryFrom<&tokio_postgres::Row> for CatalogRow {
    type Error = tokio_postgres::Error;

    fn try_from(r: &tokio_postgres::Row) -> Result<Self, Self::Error> {
        Ok(CatalogRow {
            key_column: r.try_get(1)?,
            child_schema: r.try_get(2)?,
            child: r.try_get(3)?,
            bound: r.try_get(4)?,
            lower: r.try_get(5)?,
            upper: r.try_get(6)?,
            default_bytes: r.try_get(7)?,
        })
    }
}

/// Pure: sorts the children of a table known to be range-partitioned on one
/// timestamptz column (the first row carries the key column).
pub(crate) fn classify(table: Table, rows: &[CatalogRow]) -> Result<Layout, PartitionError> {
    let Some(key_column) = rows.first().and_then(|r| r.key_column.clone()) else {
        return Err(PartitionError::TableMissing {
            table: table.display(),
        });
    };
    let mut layout = Layout {
        table,
        key_column,
        default: None,
        default_empty: true,
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
            layout.default_empty = row.default_bytes == Some(0);
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

    fn child(name: &str, bound: &str, lower: DateTime<Utc>, upper: DateTime<Utc>) -> CatalogRow {
        CatalogRow {
            key_column: Some("cycle_ts".into()),
            child_schema: Some("kcg".into()),
            child: Some(name.into()),
            bound: Some(bound.into()),
            lower: Some(lower),
            upper: Some(upper),
            default_bytes: None,
        }
    }

    #[test]
    fn sorts_children() {
        let jan = Month::new(2026, 1).unwrap();
        let mut default = child(
            "detection_model_run_outputs_default",
            "DEFAULT",
            jan.start(),
            jan.end(),
        );
        default.default_bytes = Some(8192);
        let rows = vec![
            default,
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
        assert!(!l.default_empty);
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
    fn says_what_the_table_is_instead() {
        let s = |x: &str| Some(x.to_owned());
        let cases = [
            (Some(("r".into(), None, None)), "an ordinary table"),
            (
                Some(("p".into(), s("LIST (role)"), s("character varying(16)"))),
                "PARTITION BY LIST (role)",
            ),
            (
                Some(("p".into(), s("RANGE (cycle_ts, v)"), None)),
                "PARTITION BY RANGE (cycle_ts, v)",
            ),
            (
                Some(("p".into(), s("RANGE (cycle_ts)"), s("date"))),
                "PARTITION BY RANGE (cycle_ts) on a column of type date",
            ),
            (Some(("v".into(), None, None)), "a view"),
        ];
        for (found, want) in cases {
            let e = not_range(RUN_OUTPUTS, found).to_string();
            assert!(
                e.contains(want) && e.contains("kcg.detection_model_run_outputs"),
                "{e}"
            );
        }
        assert!(matches!(
            not_range(RUN_OUTPUTS, None),
            PartitionError::TableMissing { .. }
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
