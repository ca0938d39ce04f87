//! The `kcg` schema: the migrations under `migrations/` embedded into the
//! binary and applied with refinery, and the pre-validation that checks a
//! live database against what the code assumes.
//!
//! This crate owns DDL only. It never writes or reads application rows, and
//! it never edits a released migration: refinery refuses to run when an
//! applied migration's checksum differs from the embedded one.

mod check;
pub mod locks;

pub use check::{Mismatch, check_schema};

use tokio_postgres::Client;

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// Errors at this crate's boundary.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// refinery could not apply the migrations.
    #[error("applying the migrations failed")]
    Migrate(#[from] refinery::Error),
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
    let report = runner.run_async(client).await?;
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
