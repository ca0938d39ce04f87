//! Pre-validation of the live schema (SPEC §3): tables present, the
//! VARCHAR(64) id columns, the partitioned output table, the role and status
//! CHECKs. Every mismatch is reported, not just the first.

use std::fmt;

use tokio_postgres::Client;

use crate::SchemaError;

/// One difference between the live schema and what the code expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Table (schema-qualified).
    pub table: String,
    /// Column or constraint, when the mismatch is about one.
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

const TABLES: &[&str] = &[
    "ais_positions",
    "vessel_analysis",
    "gear_identity_collisions",
    "prediction_events",
    "prediction_stats_hourly",
    "prediction_stage_timings",
    "detection_models",
    "detection_model_versions",
    "detection_model_dependencies",
    "detection_model_runs",
    "detection_model_run_outputs",
    "detection_model_metrics",
];

/// `(table, column)` pairs that must be `character varying(64)`.
const VARCHAR64: &[(&str, &str)] = &[
    ("detection_models", "model_id"),
    ("detection_model_versions", "model_id"),
    ("detection_model_versions", "version"),
    ("detection_model_versions", "implementation"),
    ("detection_model_dependencies", "model_id"),
    ("detection_model_dependencies", "depends_on"),
    ("detection_model_dependencies", "input_key"),
    ("detection_model_runs", "model_id"),
    ("detection_model_run_outputs", "model_id"),
    ("detection_model_metrics", "metric_key"),
];

/// `(table, column, values)` whose CHECK constraint must list these values.
const CHECKS: &[(&str, &str, &[&str])] = &[
    (
        "detection_model_versions",
        "role",
        &["PRIMARY", "SHADOW", "CHALLENGER"],
    ),
    (
        "detection_model_versions",
        "status",
        &["DRAFT", "ACTIVE", "ARCHIVED"],
    ),
    (
        "detection_model_runs",
        "role",
        &["PRIMARY", "SHADOW", "CHALLENGER"],
    ),
    (
        "detection_model_runs",
        "status",
        &["OK", "FAILED", "TIMEOUT", "SKIPPED"],
    ),
    (
        "detection_model_run_outputs",
        "role",
        &["PRIMARY", "SHADOW", "CHALLENGER"],
    ),
    // V051: a backtest's run records say so.
    ("detection_model_runs", "origin", &["LIVE", "BACKTEST"]),
];

const PARTITIONED: (&str, &str) = ("detection_model_run_outputs", "cycle_ts");

fn qualified(t: &str) -> String {
    format!("kcg.{t}")
}

/// The single-quoted literals of a constraint definition as
/// `pg_get_constraintdef` prints it (`''` inside one is a quote).
fn quoted_literals(def: &str) -> Vec<String> {
    let mut out = Vec::new();
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
        out.push(literal);
    }
    out
}

/// Compares the live schema with what the code assumes. `Ok(())` when they
/// agree; otherwise [`SchemaError::Mismatch`] listing every difference.
pub async fn check_schema(client: &Client) -> Result<(), SchemaError> {
    let mut out = Vec::new();

    let present: Vec<String> = client
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'kcg' AND c.relkind IN ('r', 'p')",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for t in TABLES {
        if !present.iter().any(|p| p == t) {
            out.push(Mismatch {
                table: qualified(t),
                column: None,
                expected: "table present".into(),
                found: "no such table".into(),
            });
        }
    }

    for (t, c) in VARCHAR64 {
        let row = client
            .query_opt(
                "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
                 JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = 'kcg' AND c.relname = $1 AND a.attname = $2 \
                 AND a.attnum > 0 AND NOT a.attisdropped",
                &[t, c],
            )
            .await?;
        let found: Option<String> = row.map(|r| r.get(0));
        let expected = "character varying(64)";
        match found {
            Some(f) if f == expected => {}
            Some(f) => out.push(Mismatch {
                table: qualified(t),
                column: Some((*c).into()),
                expected: expected.into(),
                found: f,
            }),
            None if present.iter().any(|p| p == t) => out.push(Mismatch {
                table: qualified(t),
                column: Some((*c).into()),
                expected: expected.into(),
                found: "no such column".into(),
            }),
            None => {}
        }
    }

    let (pt, pc) = PARTITIONED;
    if present.iter().any(|p| p == pt) {
        let key: Option<String> = client
            .query_opt(
                "SELECT p.partstrat::text || ':' || pg_get_partkeydef(c.oid) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 LEFT JOIN pg_partitioned_table p ON p.partrelid = c.oid \
                 WHERE n.nspname = 'kcg' AND c.relname = $1",
                &[&pt],
            )
            .await?
            .and_then(|r| r.get(0));
        let expected = format!("r:RANGE ({pc})");
        if key.as_deref() != Some(expected.as_str()) {
            out.push(Mismatch {
                table: qualified(pt),
                column: Some(pc.into()),
                expected: format!("PARTITION BY RANGE ({pc})"),
                found: key.unwrap_or_else(|| "not partitioned".into()),
            });
        }
    }

    for (t, c, values) in CHECKS {
        if !present.iter().any(|p| p == t) {
            continue;
        }
        let defs: Vec<String> = client
            .query(
                "SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k \
                 JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (k.conkey) \
                 WHERE n.nspname = 'kcg' AND c.relname = $1 AND a.attname = $2 AND k.contype = 'c'",
                &[t, c],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        // Exactly these values: a CHECK that lets in one more lets in rows
        // the code cannot read.
        let ok = defs.iter().any(|d| {
            let mut found = quoted_literals(d);
            found.sort_unstable();
            found.dedup();
            let mut want: Vec<&str> = values.to_vec();
            want.sort_unstable();
            found == want
        });
        if !ok {
            out.push(Mismatch {
                table: qualified(t),
                column: Some((*c).into()),
                expected: format!("CHECK ({c} IN ({}))", values.join(", ")),
                found: if defs.is_empty() {
                    "no CHECK constraint".into()
                } else {
                    defs.join("; ")
                },
            });
        }
    }

    if out.is_empty() {
        Ok(())
    } else {
        Err(SchemaError::Mismatch(out))
    }
}
