//! Pre-validation of the live schema (SPEC §3, issue 13): the live database
//! compared with [`expected`](crate::expected), in one catalog query. Every
//! mismatch is reported, not just the first, each naming table and column
//! (or constraint), what this build expects and what the database has.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use tokio_postgres::Client;

use crate::SchemaError;
use crate::expected::{self, Check, Key, Period, Rule, Table};

/// One difference between the live schema and what the code expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Table (schema-qualified), or function signature.
    pub table: String,
    /// Column (or the columns of a constraint), when the mismatch is about
    /// them.
    pub column: Option<String>,
    /// What the code expects.
    pub expected: String,
    /// What the database has.
    pub found: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(c) => write!(
                f,
                "{}.{}: expected {}, found {}",
                self.table, c, self.expected, self.found
            ),
            None => write!(
                f,
                "{}: expected {}, found {}",
                self.table, self.expected, self.found
            ),
        }
    }
}

/// A CHECK that is allowed to be `NOT VALID` and is: rows written before it
/// may break it (new rows are checked). Reported, never a mismatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotValid {
    /// Table (schema-qualified).
    pub table: String,
    /// The constraint's name in the database.
    pub constraint: String,
    /// Its columns.
    pub columns: Vec<String>,
}

impl fmt::Display for NotValid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let columns = self.columns.join(", ");
        write!(
            f,
            "{}.{columns}: CHECK {} is NOT VALID: rows written before it may break it (new rows are \
             checked); find them with SELECT * FROM {} WHERE NOT ({}), and once none is left run \
             ALTER TABLE {} VALIDATE CONSTRAINT {}",
            self.table,
            self.constraint,
            self.table,
            self.columns
                .iter()
                .map(|c| format!("kcg.is_valid_name({c})"))
                .collect::<Vec<_>>()
                .join(" AND "),
            self.table,
            self.constraint
        )
    }
}

/// What a successful check compared.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// Tables compared.
    pub tables: usize,
    /// Columns compared.
    pub columns: usize,
    /// CHECK constraints found as expected.
    pub checks: usize,
    /// Primary keys and unique indexes found as expected.
    pub keys: usize,
    /// Partitioned tables found partitioned as expected.
    pub partitioned: usize,
    /// CHECKs that are allowed to be NOT VALID and are.
    pub not_valid: Vec<NotValid>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} tables, {} columns, {} CHECKs, {} keys, {} partitioned tables as expected",
            self.tables, self.columns, self.checks, self.keys, self.partitioned
        )
    }
}

/// Everything the comparison needs about schema `kcg`, in one statement:
/// its tables (not the partitions), their partitioning, columns, CHECKs,
/// indexes, triggers and partitions, and the functions in `$1`. Partition
/// bounds are read back through PostgreSQL's own input function only when
/// the key is one `timestamptz` column (type OID 1184), classified in SQL
/// (one UTC day, one UTC month) and shown in UTC, so the session's TimeZone
/// changes nothing.
const CATALOG_SQL: &str = r"
WITH rel AS (
    SELECT c.oid, c.relname::text AS tbl, c.relkind::text AS relkind
      FROM pg_catalog.pg_class c
     WHERE c.relnamespace = (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = 'kcg')
       AND c.relkind IN ('r', 'p') AND NOT c.relispartition
)
SELECT 'table' AS kind, r.tbl, NULL::text AS name,
       r.relkind || coalesce(':' || pt.partstrat::text, '') AS detail,
       (SELECT array_agg(a.attname::text ORDER BY k.ord)
          FROM unnest(pt.partattrs::int2[]) WITH ORDINALITY AS k(attnum, ord)
          LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum = k.attnum) AS cols,
       NULL::bool AS f1, NULL::bool AS f2
  FROM rel r LEFT JOIN pg_catalog.pg_partitioned_table pt ON pt.partrelid = r.oid
UNION ALL
SELECT 'column', r.tbl, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), NULL,
       a.attnotnull, a.atthasdef
  FROM rel r JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'check', r.tbl, k.conname::text, pg_catalog.pg_get_constraintdef(k.oid),
       (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = r.oid AND a.attnum = ANY (k.conkey)),
       k.convalidated, NULL
  FROM rel r JOIN pg_catalog.pg_constraint k ON k.conrelid = r.oid AND k.contype = 'c'
UNION ALL
SELECT 'index', r.tbl, ic.relname::text, pg_catalog.pg_get_expr(i.indpred, i.indrelid),
       (SELECT array_agg(coalesce(a.attname::text, '(expression)') ORDER BY k.ord)
          FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
          LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum = k.attnum),
       i.indisunique, i.indisprimary
  FROM rel r JOIN pg_catalog.pg_index i ON i.indrelid = r.oid
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
UNION ALL
SELECT 'trigger', r.tbl, t.tgname::text, NULL, NULL, t.tgenabled <> 'D', NULL
  FROM rel r JOIN pg_catalog.pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
UNION ALL
SELECT 'partition', p.tbl, p.child,
       CASE WHEN p.lo IS NOT NULL AND p.hi IS NOT NULL
            THEN 'FOR VALUES FROM (''' || to_char(p.lo AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'') TO ('''
                 || to_char(p.hi AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'')'
            ELSE p.bound END,
       NULL,
       p.lo = date_trunc('day', p.lo, 'UTC')
           AND p.hi = ((p.lo AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC',
       p.lo = date_trunc('month', p.lo, 'UTC')
           AND p.hi = ((p.lo AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'
  FROM (
    SELECT b.*,
           CASE WHEN b.tstz_key AND b.bound LIKE 'FOR VALUES FROM (''%'
                THEN pg_catalog.split_part(pg_catalog.split_part(b.bound, 'FROM (', 2), '''', 2)::timestamptz END AS lo,
           CASE WHEN b.tstz_key AND b.bound LIKE '% TO (''%'
                THEN pg_catalog.split_part(pg_catalog.split_part(b.bound, ' TO (', 2), '''', 2)::timestamptz END AS hi
      FROM (
        SELECT r.tbl, ch.relname::text AS child, pg_catalog.pg_get_expr(ch.relpartbound, 0) AS bound,
               coalesce((SELECT pt.partnatts = 1 AND a.atttypid = 1184
                           FROM pg_catalog.pg_partitioned_table pt
                           JOIN pg_catalog.pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
                          WHERE pt.partrelid = r.oid), false) AS tstz_key
          FROM rel r JOIN pg_catalog.pg_inherits h ON h.inhparent = r.oid
          JOIN pg_catalog.pg_class ch ON ch.oid = h.inhrelid
         WHERE r.relkind = 'p'
        OFFSET 0
      ) b
    OFFSET 0
  ) p
UNION ALL
SELECT 'function', NULL, f.sig, NULL, NULL, pg_catalog.to_regprocedure(f.sig) IS NOT NULL, NULL
  FROM unnest($1::text[]) AS f(sig)
";

#[derive(Debug, Default)]
struct LiveTable {
    /// `r`, or `p:r` for a range-partitioned table.
    kind: String,
    partition_key: Vec<String>,
    columns: BTreeMap<String, LiveColumn>,
    checks: Vec<LiveCheck>,
    indexes: Vec<LiveIndex>,
    triggers: BTreeMap<String, bool>,
    partitions: Vec<LivePartition>,
}

#[derive(Debug)]
struct LiveColumn {
    ty: String,
    not_null: bool,
    has_default: bool,
}

#[derive(Debug)]
struct LiveCheck {
    name: String,
    definition: String,
    columns: Vec<String>,
    validated: bool,
}

#[derive(Debug)]
struct LiveIndex {
    name: String,
    columns: Vec<String>,
    predicate: Option<String>,
    unique: bool,
    primary: bool,
}

#[derive(Debug)]
struct LivePartition {
    name: String,
    bound: String,
    one_day: bool,
    one_month: bool,
}

#[derive(Debug, Default)]
struct Live {
    tables: BTreeMap<String, LiveTable>,
    functions: BTreeMap<String, bool>,
}

async fn read_catalog(client: &Client) -> Result<Live, SchemaError> {
    let functions: Vec<&str> = expected::FUNCTIONS.to_vec();
    let rows = client.query(CATALOG_SQL, &[&functions]).await?;
    let mut live = Live::default();
    for row in &rows {
        let kind: &str = row.try_get(0)?;
        let name: Option<String> = row.try_get(2)?;
        let detail: Option<String> = row.try_get(3)?;
        let cols: Option<Vec<Option<String>>> = row.try_get(4)?;
        let cols: Vec<String> = cols.unwrap_or_default().into_iter().flatten().collect();
        let f1: Option<bool> = row.try_get(5)?;
        let f2: Option<bool> = row.try_get(6)?;
        if kind == "function" {
            live.functions
                .insert(name.unwrap_or_default(), f1.unwrap_or(false));
            continue;
        }
        let table: String = row.try_get(1)?;
        let t = live.tables.entry(table).or_default();
        let name = name.unwrap_or_default();
        match kind {
            "table" => {
                t.kind = detail.unwrap_or_default();
                t.partition_key = cols;
            }
            "column" => {
                t.columns.insert(
                    name,
                    LiveColumn {
                        ty: detail.unwrap_or_default(),
                        not_null: f1.unwrap_or(false),
                        has_default: f2.unwrap_or(false),
                    },
                );
            }
            "check" => t.checks.push(LiveCheck {
                name,
                definition: detail.unwrap_or_default(),
                columns: cols,
                validated: f1.unwrap_or(false),
            }),
            "index" => t.indexes.push(LiveIndex {
                name,
                columns: cols,
                predicate: detail,
                unique: f1.unwrap_or(false),
                primary: f2.unwrap_or(false),
            }),
            "trigger" => {
                t.triggers.insert(name, f1.unwrap_or(false));
            }
            _ => t.partitions.push(LivePartition {
                name,
                bound: detail.unwrap_or_default(),
                one_day: f1.unwrap_or(false),
                one_month: f2.unwrap_or(false),
            }),
        }
    }
    Ok(live)
}

/// The single-quoted literals of a definition as `pg_get_constraintdef` or
/// `pg_get_expr` prints it (`''` inside one is a quote).
fn quoted_literals(def: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut chars = def.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut literal = String::new();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    literal.push('\'');
                } else {
                    break;
                }
            } else {
                literal.push(c);
            }
        }
        out.insert(literal);
    }
    out
}

fn column_list(columns: &[&str]) -> String {
    columns.join(", ")
}

/// Compares the live schema with [`expected::TABLES`] and
/// [`expected::FUNCTIONS`] in one catalog query. `Ok` (with what was
/// compared, and the CHECKs accepted as NOT VALID) when they agree;
/// otherwise [`SchemaError::Mismatch`] listing every difference.
pub async fn check_schema(client: &Client) -> Result<Report, SchemaError> {
    let live = read_catalog(client).await?;
    compare(&live)
}

fn compare(live: &Live) -> Result<Report, SchemaError> {
    let mut out = Vec::new();
    let mut report = Report::default();
    for table in expected::TABLES {
        let Some(found) = live.tables.get(table.name) else {
            out.push(Mismatch {
                table: table.qualified(),
                column: None,
                expected: "table present".into(),
                found: "no such table".into(),
            });
            continue;
        };
        report.tables += 1;
        columns(table, found, &mut out, &mut report);
        partitioning(table, found, &mut out, &mut report);
        for check in table.checks {
            self::check(table, check, found, &mut out, &mut report);
        }
        for key in table.keys {
            self::key(table, key, found, &mut out, &mut report);
        }
        for trigger in table.triggers {
            let found = match found.triggers.get(*trigger) {
                Some(true) => continue,
                Some(false) => "it is disabled",
                None => "no such trigger",
            };
            out.push(Mismatch {
                table: table.qualified(),
                column: None,
                expected: format!("trigger {trigger}, enabled"),
                found: found.into(),
            });
        }
    }
    for function in expected::FUNCTIONS {
        if !live.functions.get(*function).copied().unwrap_or(false) {
            out.push(Mismatch {
                table: (*function).to_owned(),
                column: None,
                expected: "function present".into(),
                found: "no such function".into(),
            });
        }
    }
    if out.is_empty() {
        Ok(report)
    } else {
        Err(SchemaError::Mismatch(out))
    }
}

fn not_null(yes: bool) -> &'static str {
    if yes { " NOT NULL" } else { "" }
}

fn columns(table: &Table, found: &LiveTable, out: &mut Vec<Mismatch>, report: &mut Report) {
    let mismatch = |column: &str, expected: String, found: String| Mismatch {
        table: table.qualified(),
        column: Some(column.to_owned()),
        expected,
        found,
    };
    for c in table.columns {
        let Some(live) = found.columns.get(c.name) else {
            out.push(mismatch(
                c.name,
                format!("{}{}", c.ty, not_null(c.not_null)),
                "no such column".into(),
            ));
            continue;
        };
        report.columns += 1;
        if live.ty != c.ty {
            out.push(mismatch(c.name, c.ty.to_owned(), live.ty.clone()));
        }
        if live.not_null != c.not_null {
            let word = |nn: bool| if nn { "NOT NULL" } else { "nullable" };
            out.push(mismatch(
                c.name,
                word(c.not_null).to_owned(),
                word(live.not_null).to_owned(),
            ));
        }
    }
    for (name, live) in &found.columns {
        let declared = table.columns.iter().any(|c| c.name == name);
        if !declared && live.not_null && !live.has_default {
            out.push(mismatch(
                name,
                "no such column, or one that is nullable or has a default (this build's \
                 inserts do not write it)"
                    .into(),
                format!("{} NOT NULL without a default", live.ty),
            ));
        }
    }
}

fn partitioning(table: &Table, found: &LiveTable, out: &mut Vec<Mismatch>, report: &mut Report) {
    let Some((column, period)) = table.partitioned else {
        return;
    };
    let mismatch = |expected: String, found: String| Mismatch {
        table: table.qualified(),
        column: Some(column.to_owned()),
        expected,
        found,
    };
    if found.kind != "p:r" || found.partition_key != [column] {
        let what = if found.kind.starts_with("p:") {
            let strategy = match found.kind.as_str() {
                "p:l" => "LIST",
                "p:h" => "HASH",
                _ => "RANGE",
            };
            format!(
                "PARTITION BY {strategy} ({})",
                found.partition_key.join(", ")
            )
        } else {
            "not partitioned".to_owned()
        };
        out.push(mismatch(format!("PARTITION BY RANGE ({column})"), what));
        return;
    }
    let mut ok = true;
    if !found.partitions.iter().any(|p| p.bound == "DEFAULT") {
        out.push(mismatch(
            "a DEFAULT partition (rows outside every period land there)".into(),
            "none".into(),
        ));
        ok = false;
    }
    let misfits: Vec<String> = found
        .partitions
        .iter()
        .filter(|p| {
            p.bound != "DEFAULT"
                && !match period {
                    Period::Day => p.one_day,
                    Period::Month => p.one_month,
                }
        })
        .map(|p| format!("kcg.{} {}", p.name, p.bound))
        .collect();
    if !misfits.is_empty() {
        let unit = match period {
            Period::Day => "day",
            Period::Month => "calendar month",
        };
        out.push(mismatch(
            format!(
                "{} partitions (each exactly one UTC {unit})",
                period.adjective()
            ),
            misfits.join("; "),
        ));
        ok = false;
    }
    report.partitioned += usize::from(ok);
}

fn describe_check(check: &Check) -> String {
    let columns = column_list(check.columns);
    match check.rule {
        Rule::In(values) => format!("CHECK ({columns} IN ({}))", values.join(", ")),
        Rule::Expr(text) => format!("CHECK on ({columns}) containing `{text}` ({})", check.name),
    }
}

fn check(
    table: &Table,
    check: &Check,
    found: &LiveTable,
    out: &mut Vec<Mismatch>,
    report: &mut Report,
) {
    let mut want_columns: Vec<&str> = check.columns.to_vec();
    want_columns.sort_unstable();
    let on_columns: Vec<&LiveCheck> = found
        .checks
        .iter()
        .filter(|k| k.columns == want_columns)
        .collect();
    let matches = |k: &&LiveCheck| match check.rule {
        Rule::In(values) => {
            // Exactly these values: a CHECK that lets in one more lets in
            // rows the code cannot read.
            quoted_literals(&k.definition) == values.iter().map(|v| (*v).to_owned()).collect()
        }
        Rule::Expr(text) => k.definition.contains(text),
    };
    let mismatch = |found: String| Mismatch {
        table: table.qualified(),
        column: Some(column_list(check.columns)),
        expected: describe_check(check),
        found,
    };
    let Some(live) = on_columns.iter().find(|k| matches(k)) else {
        let found = if on_columns.is_empty() {
            "no CHECK constraint".to_owned()
        } else {
            on_columns
                .iter()
                .map(|k| k.definition.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        };
        out.push(mismatch(found));
        return;
    };
    if live.validated {
        report.checks += 1;
    } else if check.may_be_not_valid {
        report.checks += 1;
        report.not_valid.push(NotValid {
            table: table.qualified(),
            constraint: live.name.clone(),
            columns: live.columns.clone(),
        });
    } else {
        out.push(mismatch(format!(
            "{} NOT VALID (rows written before it may break it)",
            live.name
        )));
    }
}

fn describe_key(key: &Key) -> String {
    let columns = column_list(key.columns);
    let what = if key.primary {
        format!("PRIMARY KEY ({columns})")
    } else {
        format!("a unique index on ({columns})")
    };
    match key.predicate {
        None => format!("{what} ({})", key.name),
        Some(literals) => format!(
            "{what} WHERE ... {} ({})",
            literals
                .iter()
                .map(|l| format!("'{l}'"))
                .collect::<Vec<_>>()
                .join(" ... "),
            key.name
        ),
    }
}

fn key(table: &Table, key: &Key, found: &LiveTable, out: &mut Vec<Mismatch>, report: &mut Report) {
    let literals: Option<BTreeSet<String>> = key
        .predicate
        .map(|l| l.iter().map(|v| (*v).to_owned()).collect());
    let matches = |i: &&LiveIndex| {
        i.unique
            && (!key.primary || i.primary)
            && i.columns == key.columns
            && i.predicate.as_deref().map(quoted_literals) == literals
    };
    if found.indexes.iter().any(|i| matches(&i)) {
        report.keys += 1;
        return;
    }
    let unique: Vec<String> = found
        .indexes
        .iter()
        .filter(|i| i.unique)
        .map(|i| {
            let mut s = format!(
                "{}{} ({})",
                if i.primary { "PRIMARY KEY " } else { "" },
                i.name,
                i.columns.join(", ")
            );
            if let Some(p) = &i.predicate {
                s.push_str(&format!(" WHERE {p}"));
            }
            s
        })
        .collect();
    out.push(Mismatch {
        table: table.qualified(),
        column: None,
        expected: describe_key(key),
        found: if unique.is_empty() {
            "no unique index".to_owned()
        } else {
            unique.join("; ")
        },
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_read_with_doubled_quotes() {
        let found = quoted_literals(
            "CHECK (((role)::text = ANY ((ARRAY['PRIMARY'::character varying, 'it''s'::character varying])::text[])))",
        );
        assert_eq!(
            found,
            ["PRIMARY", "it's"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        );
    }

    #[test]
    fn the_declaration_names_each_column_once_and_its_constraints_name_declared_columns() {
        for t in expected::TABLES {
            let mut names: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
            names.sort_unstable();
            let n = names.len();
            names.dedup();
            assert_eq!(names.len(), n, "{}: a column declared twice", t.name);
            let declared = |c: &&str| t.columns.iter().any(|d| d.name == *c);
            for c in t.checks {
                assert!(c.columns.iter().all(&declared), "{}: {c:?}", t.name);
            }
            for k in t.keys {
                assert!(k.columns.iter().all(&declared), "{}: {k:?}", t.name);
            }
            if let Some((c, _)) = t.partitioned {
                assert!(declared(&c), "{}", t.name);
            }
        }
    }
}
