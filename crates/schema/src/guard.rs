//! The schema check of a long-running process, paid once (issue 17): the
//! whole comparison runs the first time and again only when the catalog of
//! the expected tables and functions changed since the last comparison that
//! passed.
//!
//! "Changed" is `kcg.schema_fingerprint` (V053): the count and the sum of the
//! `xmin` (the id of the transaction that wrote the row) of the catalog rows
//! describing [`expected::TABLES`] and [`expected::FUNCTIONS`] (`pg_class`,
//! `pg_attribute`, `pg_constraint`, `pg_index`, `pg_trigger`,
//! `pg_partitioned_table`, `pg_inherits`, `pg_proc`). Any DDL on them (a
//! migration, or an `ALTER TABLE` typed in psql) inserts, updates or deletes
//! such rows, and a row written by a later transaction has another `xmin`,
//! so the fingerprint moves; the next check then runs the whole comparison.
//! What else moves it is harmless, only costing one more comparison: a
//! partition created or dropped (the parent's `pg_inherits` rows), a catalog
//! `VACUUM FREEZE` (frozen rows read as `xmin` 2). A PL/pgSQL function, so a
//! connection plans it once: one call costs well under a millisecond.

use std::sync::Mutex;

use tokio_postgres::Client;

use crate::{Report, SchemaError, check_schema, expected};

const FINGERPRINT_SQL: &str = "SELECT row_count, xmin_sum FROM kcg.schema_fingerprint($1, $2)";

/// The catalog's state, as [`SchemaGuard`] compares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    rows: i64,
    xmin_sum: i64,
}

/// Reads the fingerprint of the expected tables' and functions' catalog
/// rows (one statement).
pub async fn fingerprint(client: &Client) -> Result<Fingerprint, SchemaError> {
    let tables: Vec<String> = expected::TABLES
        .iter()
        .map(expected::Table::qualified)
        .collect();
    let functions: Vec<&str> = expected::FUNCTIONS.to_vec();
    let row = client
        .query_one(FINGERPRINT_SQL, &[&tables, &functions])
        .await?;
    Ok(Fingerprint {
        rows: row.try_get(0)?,
        xmin_sum: row.try_get(1)?,
    })
}

/// What [`SchemaGuard::check`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guarded {
    /// The catalog is as it was when the schema last passed: nothing
    /// compared.
    Unchanged,
    /// The whole comparison ran (the first check, or the catalog changed)
    /// and passed.
    Checked(Report),
}

/// [`check_schema`] for a process that checks before every unit of work
/// (every cycle's stage 10): the whole comparison the first time and after
/// every change of the catalog, otherwise one cheap statement. A failed
/// comparison is not remembered, so every check until the schema is fixed
/// compares again and fails again.
#[derive(Debug, Default)]
pub struct SchemaGuard {
    passed: Mutex<Option<Fingerprint>>,
}

impl SchemaGuard {
    /// A guard that has checked nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// `Ok` when the live schema is what this build expects; otherwise the
    /// mismatches, as [`check_schema`] reports them.
    pub async fn check(&self, client: &Client) -> Result<Guarded, SchemaError> {
        // Read before comparing: DDL committed between the two moves the
        // fingerprint past the one stored, so the next check compares again.
        let now = fingerprint(client).await;
        if let Ok(now) = &now
            && *self.lock() == Some(*now)
        {
            return Ok(Guarded::Unchanged);
        }
        // A database without V053 cannot say: the comparison then names the
        // missing function (and everything else that is missing).
        let report = check_schema(client).await?;
        *self.lock() = Some(now?);
        Ok(Guarded::Checked(report))
    }

    /// Forgets the last comparison: the next check compares again.
    pub fn invalidate(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Fingerprint>> {
        // The guarded value is a plain Copy: a panic elsewhere while it was
        // held cannot have left it half-written.
        self.passed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
