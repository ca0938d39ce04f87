//! The `kcg` schema: the migrations under `migrations/` embedded into the
//! binary and applied with refinery, the schema this build expects as one
//! declarative table ([`expected`]), the pre-validation that checks a live
//! database against it in one catalog query ([`check_schema`]), and the
//! [`SchemaGuard`] that repeats that check only when the catalog changed.
//!
//! This crate owns DDL only. It never writes or reads application rows, and
//! it never edits a released migration: refinery refuses to run when an
//! applied migration's checksum differs from the embedded one.

mod check;
pub mod expected;
mod guard;
pub mod locks;

pub use check::{Mismatch, NotValid, Report, check_schema};
pub use guard::{Fingerprint, Guarded, SchemaGuard, fingerprint};

use tokio_postgres::Client;

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// Errors at this crate's boundary.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// refinery could not apply the migrations: a migration the database
    /// refused (its error is the source), or one changed or missing since
    /// it was applied.
    #[error("applying the migrations failed")]
    Migrate(#[source] MigrateError),
    /// A catalog query failed.
    #[error("database error while checking the schema")]
    Db(#[from] tokio_postgres::Error),
    /// The live schema differs from what the code assumes.
    #[error("the live schema does not match what this build expects:\n{}", render(.0))]
    Mismatch(Vec<Mismatch>),
}

fn render(m: &[Mismatch]) -> String {
    m.iter()
        .map(|m| format!("  - {m}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// refinery's error, rendered so that each cause is said once: refinery's
/// own text of a failed statement repeats the database's error it also
/// hands on as its source (`` `error applying migration V052`, `db error` ``
/// then `db error: ...` again); this says the step only.
#[derive(Debug)]
pub struct MigrateError(refinery::Error);

impl MigrateError {
    /// The migrations applied before the failure (each in its own
    /// transaction, so they stay applied), as `V###__name`.
    pub fn applied(&self) -> Vec<String> {
        self.0
            .report()
            .map(|r| {
                r.applied_migrations()
                    .iter()
                    .map(|m| format!("V{:03}__{}", m.version(), m.name()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl std::fmt::Display for MigrateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.kind() {
            refinery::error::Kind::Connection(step, _) => f.write_str(step),
            other => write!(f, "{other}"),
        }
    }
}

impl std::error::Error for MigrateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self.0.kind() {
            refinery::error::Kind::Connection(_, source) => Some(&**source),
            other => std::error::Error::source(other),
        }
    }
}

/// What [`migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    /// Migrations applied by this call, as `V###__name`.
    pub applied: Vec<String>,
    /// Migrations embedded in this build.
    pub known: usize,
}

impl MigrateReport {
    /// True when the database was already up to date.
    pub fn is_noop(&self) -> bool {
        self.applied.is_empty()
    }
}

/// Applies every embedded migration not yet applied, in order, each in its
/// own transaction. Idempotent: a second call applies nothing.
pub async fn migrate(client: &mut Client) -> Result<MigrateReport, SchemaError> {
    let runner = embedded::migrations::runner();
    let known = runner.get_migrations().len();
    let report = runner
        .run_async(client)
        .await
        .map_err(|e| SchemaError::Migrate(MigrateError(e)))?;
    let applied = report
        .applied_migrations()
        .iter()
        .map(|m| format!("V{:03}__{}", m.version(), m.name()))
        .collect();
    Ok(MigrateReport { applied, known })
}

/// A fingerprint of the embedded migrations (names and SQL): equal
/// fingerprints mean equal schemas. Test templates are keyed by it.
pub fn migrations_fingerprint() -> u64 {
    let mut migrations = embedded::migrations::runner().get_migrations().clone();
    migrations.sort_by_key(refinery::Migration::version);
    migrations.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, m| {
        (h ^ m.checksum()).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The names of the embedded migrations, as `V###__name`, in order.
pub fn embedded_migrations() -> Vec<String> {
    let mut v: Vec<_> = embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| (m.version(), format!("V{:03}__{}", m.version(), m.name())))
        .collect();
    v.sort();
    v.into_iter().map(|(_, n)| n).collect()
}
