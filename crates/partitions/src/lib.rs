//! Monthly partitions of `kcg.detection_model_run_outputs`, the one table
//! this crate partitions (every model version writes to it every cycle; the
//! other `kcg` tables stay small or are pruned by their owners). Partitions
//! are UTC calendar months named `<table>_pYYYY_MM` (pg_partman's naming, so
//! operators find them), created `premake` months ahead and dropped once
//! their whole month is older than the retention. Rows that landed in the
//! DEFAULT partition are moved into the month partition when it is created,
//! in the same transaction, so no row is ever lost.
//!
//! - [`maintain`]: the full run (`runner partitions maintain`), dry run included.
//! - [`ensure_current_and_next`]: the cycle's stage 9; one catalog query when
//!   nothing is missing.
//! - [`list`]: every partition with its range and a row estimate.
//!
//! Every run that may change anything takes `pg_advisory_xact_lock(`[`LOCK_KEY`]`)`
//! before it reads the catalog, so concurrent runners serialize and the
//! second finds nothing left to do. All work happens in one transaction on
//! the caller's connection (a savepoint when the caller passes a transaction).
//!
//! This crate must never drop the current or a future month, never create a
//! month over a partition it did not make, never delete a row that the
//! retention keeps, and never change anything when the configuration or the
//! table's layout is wrong: those are errors that name the table or
//! partition and say what was expected and what was found.

mod catalog;
mod error;
mod list;
mod month;
mod plan;
mod report;
mod run;

pub use error::PartitionError;
pub use list::{PartitionInfo, PartitionKind, list};
pub use month::Month;
pub use plan::{MAX_PREMAKE, MAX_RETENTION};
pub use report::{Created, MonthPartition, Report};
pub use run::{LOCK_KEY, ensure_current_and_next, maintain};

/// The table this crate partitions, `schema.table`.
pub const TABLE: &str = "kcg.detection_model_run_outputs";

/// Months created ahead of the current one by default.
pub const DEFAULT_PREMAKE: i32 = 3;

/// Months kept by default.
pub const DEFAULT_RETENTION_MONTHS: i32 = 12;

#[cfg(test)]
mod tests {
    /// The pipeline runs these on tokio's multi-threaded runtime: their
    /// futures must be `Send` (checked at compile time), on a client as on a
    /// transaction.
    #[test]
    fn futures_are_send_on_clients_and_transactions() {
        fn send<T: Send>(_: &T) {}
        fn check(c: &mut tokio_postgres::Client, tx: &mut tokio_postgres::Transaction<'_>) {
            let now = chrono::Utc::now();
            send(&super::maintain(c, now, 3, 12, false));
            send(&super::ensure_current_and_next(tx, now));
            send(&super::list(tx));
        }
        let _ = check;
    }

    #[test]
    fn table_constant_matches_the_catalog_target() {
        assert_eq!(super::TABLE, super::catalog::RUN_OUTPUTS.display());
    }
}
