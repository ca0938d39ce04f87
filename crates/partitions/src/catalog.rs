//! What the catalog says about a partitioned table: its partition key and
//! its partitions, classified into period partitions (ours), the DEFAULT
//! partition and anything else (left alone). One query, for one table or
//! several.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;
use tokio_postgres::types::Type;

use crate::error::PartitionError;
use crate::period::Period;
use crate::spec::{TableSpec, qualified, quote_ident};

/// Each parent's partition key and its children: one row per child, or one
/// row with NULL child columns when there is none (or the table is missing),
/// for every parent named in `$1`.
///
/// Written for a cheap plan (it is planned on every call): a scalar subquery
/// yields the key column's name only when the key is one `timestamptz`
/// column (type OID 1184, fixed in PostgreSQL). Bounds are read back through PostgreSQL's own
/// input function from the text `pg_get_expr` prints, so the session's
/// TimeZone and DateStyle do not matter, and clamped to years 1..10000 so
/// MINVALUE/MAXVALUE and infinities decode while every period comparison
/// stays exact. `pg_get_expr(relpartbound, 0)`: bounds are constants and
/// need no relation context, so no partition is opened or locked, and one
/// being dropped concurrently neither blocks nor blanks the read. For
/// DEFAULT, the last column is its size on disk: zero proves it empty
/// without reading it.
const CATALOG_SQL: &str = r"
SELECT s.parent, s.key_column, s.schema_name, s.child_name, s.bound,
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
        SELECT p.parent,
               (SELECT a.attname::text FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = r.oid AND a.atttypid = 1184
                   AND a.attnum = (SELECT pt.partattrs[0] FROM pg_catalog.pg_partitioned_table pt
                                    WHERE pt.partrelid = r.oid AND pt.partnatts = 1)) AS key_column,
               ch.oid AS child_oid,
               ch.relnamespace::pg_catalog.regnamespace::text AS schema_name,
               ch.relname::text AS child_name,
               pg_catalog.pg_get_expr(ch.relpartbound, 0) AS bound
        FROM unnest($1::text[]) AS p(parent)
        CROSS JOIN LATERAL pg_catalog.to_regclass(p.parent) AS r(oid)
        LEFT JOIN (pg_catalog.pg_inherits i
                   JOIN pg_catalog.pg_class ch
                     ON ch.oid = i.inhrelid AND ($2::text[] IS NULL OR ch.relname = ANY ($2::text[])))
               ON i.inhparent = r.oid
        OFFSET 0
    ) t
    OFFSET 0
) s
ORDER BY s.parent, s.child_name
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

/// A partition that is neither a period partition nor DEFAULT: left alone,
/// but no period may be created over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Foreign {
    pub schema: String,
    pub name: String,
    pub bound: String,
    pub lower: DateTime<Utc>,
    pub upper: DateTime<Utc>,
}

impl Foreign {
    pub fn overlaps<P: Period>(&self, p: P) -> bool {
        self.lower < p.end() && p.start() < self.upper
    }
}

/// The validated layout of a table partitioned by periods `P`.
#[derive(Debug, Clone)]
pub(crate) struct Layout<P: Period> {
    pub table: TableSpec<P>,
    /// The partition key column.
    pub key_column: String,
    /// `(schema, name)` of the DEFAULT partition, if there is one.
    pub default: Option<(String, String)>,
    /// True when DEFAULT is missing or has no pages at all (so no rows).
    pub default_empty: bool,
    /// Period partitions, named `<table>_<suffix>` with exactly that period's bounds.
    pub periods: BTreeMap<P, String>,
    pub foreign: Vec<Foreign>,
}

impl<P: Period> Layout<P> {
    /// The key column, quoted for SQL.
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
/// are read (the cheap check of [`crate::ensure`]).
pub(crate) async fn read_layout<P: Period, C: GenericClient + Sync>(
    client: &C,
    table: TableSpec<P>,
    only: Option<&[String]>,
) -> Result<Layout<P>, PartitionError> {
    let rows = read_rows(client, &[table.quoted()], only).await?;
    checked(client, table, rows).await
}

/// `rows` (of `table` alone) classified; when they say the table is not
/// range-partitioned on one timestamptz column, a second query finds out
/// what it is instead, and the answer is an error.
pub(crate) async fn checked<P: Period, C: GenericClient + Sync>(
    client: &C,
    table: TableSpec<P>,
    rows: Vec<CatalogRow>,
) -> Result<Layout<P>, PartitionError> {
    if rows.first().is_some_and(|r| r.key_column.is_some()) {
        return classify(table, &rows);
    }
    let db = |source| PartitionError::Db {
        table: table.display(),
        doing: "describing the table".into(),
        source,
    };
    let described = client
        .query_typed(DESCRIBE_SQL, &[(&table.quoted(), Type::TEXT)])
        .await
        .map_err(db)?;
    let found = match described.first() {
        None => None,
        Some(r) => Some((
            r.try_get::<_, String>(0).map_err(db)?,
            r.try_get::<_, Option<String>>(1).map_err(db)?,
            r.try_get::<_, Option<String>>(2).map_err(db)?,
        )),
    };
    Err(not_range(table, found))
}

/// Runs [`CATALOG_SQL`] (one query) for every table of `parents` (quoted
/// names) and decodes its rows, ordered by parent.
pub(crate) async fn read_rows<C: GenericClient + Sync>(
    client: &C,
    parents: &[String],
    only: Option<&[String]>,
) -> Result<Vec<CatalogRow>, PartitionError> {
    let db = |doing: &str| {
        let doing = doing.to_owned();
        let table = parents.join(", ").replace('"', "");
        move |source| PartitionError::Db {
            table,
            doing,
            source,
        }
    };
    let rows = client
        .query_typed(
            CATALOG_SQL,
            &[(&parents, Type::TEXT_ARRAY), (&only, Type::TEXT_ARRAY)],
        )
        .await
        .map_err(db("reading the partition catalog"))?;
    rows.iter()
        .map(CatalogRow::try_from)
        .collect::<Result<Vec<_>, _>>()
        .map_err(db("decoding the partition catalog"))
}

/// What [`DESCRIBE_SQL`] found: `(relkind, pg_get_partkeydef, the type of a
/// single key column)`.
pub(crate) type Described = (String, Option<String>, Option<String>);

/// Pure: the error for a table that is missing (`None`) or not partitioned
/// by range on one timestamptz column.
pub(crate) fn not_range<P: Period>(
    table: TableSpec<P>,
    found: Option<Described>,
) -> PartitionError {
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
        key: table.key(),
        found,
    }
}

/// One row of [`CATALOG_SQL`], decoded.
#[derive(Debug, Clone, Default)]
pub(crate) struct CatalogRow {
    /// The parent, as given (quoted).
    pub parent: String,
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
            parent: r.try_get(0)?,
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
pub(crate) fn classify<P: Period>(
    table: TableSpec<P>,
    rows: &[CatalogRow],
) -> Result<Layout<P>, PartitionError> {
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
        periods: BTreeMap::new(),
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
            row.lower.unwrap_or(P::MIN.start()),
            row.upper.unwrap_or(P::MAX.end()),
        );
        match table
            .period_of_name(&name)
            .filter(|_| schema == table.schema())
        {
            Some(p) if lower == p.start() && upper == p.end() => {
                layout.periods.insert(p, name);
            }
            Some(p) => {
                return Err(PartitionError::BoundsMismatch {
                    partition: format!("{schema}.{name}"),
                    period: format!("{} {p}", P::UNIT),
                    expected: p.bound_clause(),
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
    use crate::day::Day;
    use crate::month::Month;
    use crate::spec::{OUTPUTS, POSITIONS};

    fn child(name: &str, bound: &str, lower: DateTime<Utc>, upper: DateTime<Utc>) -> CatalogRow {
        CatalogRow {
            parent: OUTPUTS.quoted(),
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
        let l = classify(OUTPUTS, &rows).unwrap();
        assert_eq!(
            l.default.as_ref().map(|d| d.1.as_str()),
            Some("detection_model_run_outputs_default")
        );
        assert!(!l.default_empty);
        assert_eq!(l.periods.keys().copied().collect::<Vec<_>>(), vec![jan]);
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
        let e = classify(OUTPUTS, &rows).unwrap_err().to_string();
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
            let e = not_range(OUTPUTS, found).to_string();
            assert!(
                e.contains(want) && e.contains("kcg.detection_model_run_outputs"),
                "{e}"
            );
        }
        assert!(matches!(
            not_range(OUTPUTS, None),
            PartitionError::TableMissing { .. }
        ));
    }

    #[test]
    fn a_day_partition_is_recognised_by_name_and_bounds() {
        let d = Day::new(2022, 1, 3).unwrap();
        let mut row = child(
            &POSITIONS.partition_name(d),
            &d.bound_clause(),
            d.start(),
            d.end(),
        );
        row.parent = POSITIONS.quoted();
        row.key_column = Some("ts".into());
        let mut wrong = child(
            &POSITIONS.partition_name(d.succ().unwrap()),
            "FOR VALUES FROM ('x') TO ('y')",
            d.start(),
            d.end(),
        );
        wrong.key_column = Some("ts".into());
        let l = classify(POSITIONS, std::slice::from_ref(&row)).unwrap();
        assert_eq!(l.periods.keys().copied().collect::<Vec<_>>(), vec![d]);
        let e = classify(POSITIONS, &[row, wrong]).unwrap_err().to_string();
        assert!(
            e.contains("kcg.ais_positions_p2022_01_04") && e.contains("named for day 2022-01-04"),
            "{e}"
        );
        let e = not_range(POSITIONS, Some(("r".into(), None, None))).to_string();
        assert!(e.contains("PARTITION BY RANGE (ts timestamptz)"), "{e}");
    }
}
