//! Range partitions by UTC period of the two tables that grow without
//! bound: `kcg.detection_model_run_outputs` by month ([`OUTPUTS`]: every
//! model version writes to it every cycle) and `kcg.ais_positions` by day
//! ([`POSITIONS`]: every ingested AIS report; every cycle reads a window of
//! it). A [`TableSpec`] names the table, its period ([`Month`] or [`Day`],
//! one [`Period`] trait, so every rule below is written once) and the
//! defaults of its [`Policy`] (premake and retention, in periods).
//! Partitions are named `<table>_pYYYY_MM` / `<table>_pYYYY_MM_DD`
//! (pg_partman's naming, so operators find them), created `premake` periods
//! ahead and dropped once their whole period is older than the retention.
//! Rows that landed in the DEFAULT partition are moved into the period
//! partition when it is created, in the same transaction, so no row is ever
//! lost.
//!
//! - [`maintain`]: the full run of one table (`runner partitions maintain`), dry run included.
//! - [`ensure`]: the partitions of some periods (ingest: the days of a
//!   file); one catalog query when nothing is missing.
//! - [`ensure_cycle`]: the cycle's stage 9, this and next month of the
//!   outputs and this and next day of the positions; one catalog query for
//!   both when nothing is missing.
//! - [`list`]: every partition of a table with its range and a row estimate.
//!
//! Every run that may change anything takes `pg_advisory_xact_lock(`[`LOCK_KEY`]`)`
//! before it reads the catalog, so concurrent runners serialize and the
//! second finds nothing left to do. All work happens in one transaction on
//! the caller's connection (a savepoint when the caller passes a transaction).
//!
//! This crate must never drop the current or a future period, never create a
//! period over a partition it did not make, never delete a row that the
//! retention keeps, and never change anything when the configuration or the
//! table's layout is wrong: those are errors that name the table or
//! partition and say what was expected and what was found.

mod catalog;
mod day;
mod error;
mod list;
mod month;
mod period;
mod plan;
mod report;
mod run;
mod spec;

pub use day::Day;
pub use error::PartitionError;
pub use list::{PartitionInfo, PartitionKind, list};
pub use month::Month;
pub use period::Period;
pub use plan::{MAX_PREMAKE, MAX_RETENTION, Policy};
pub use report::{Created, Partition, Report};
pub use run::{CycleReport, LOCK_KEY, ensure, ensure_current_and_next, ensure_cycle, maintain};
pub use spec::{OUTPUTS, POSITIONS, TableSpec};

/// The monthly table, `schema.table`.
pub const TABLE: &str = "kcg.detection_model_run_outputs";

/// Months created ahead of the current one by default ([`OUTPUTS`]).
pub const DEFAULT_PREMAKE: i32 = OUTPUTS.default_premake;

/// Months kept by default ([`OUTPUTS`]).
pub const DEFAULT_RETENTION_MONTHS: i32 = OUTPUTS.default_retention;

/// Days of positions created ahead of today by default ([`POSITIONS`]).
pub const DEFAULT_POSITIONS_PREMAKE_DAYS: i32 = POSITIONS.default_premake;

/// Days of positions kept by default ([`POSITIONS`]).
pub const DEFAULT_POSITIONS_RETENTION_DAYS: i32 = POSITIONS.default_retention;

#[cfg(test)]
mod tests {
    /// The pipeline and ingest run these on tokio's multi-threaded runtime:
    /// their futures must be `Send` (checked at compile time), on a client
    /// as on a transaction.
    #[test]
    fn futures_are_send_on_clients_and_transactions() {
        fn send<T: Send>(_: &T) {}
        fn check(c: &mut tokio_postgres::Client, tx: &mut tokio_postgres::Transaction<'_>) {
            let now = chrono::Utc::now();
            let policy = super::Policy::new(&super::OUTPUTS, 3, 12).unwrap();
            send(&super::maintain(c, &super::OUTPUTS, now, policy, false));
            send(&super::ensure_current_and_next(tx, &super::OUTPUTS, now));
            send(&super::ensure_cycle(tx, now));
            send(&super::ensure(c, &super::POSITIONS, &[]));
            send(&super::list(tx, &super::POSITIONS));
        }
        let _ = check;
    }

    #[test]
    fn table_constant_matches_the_spec() {
        assert_eq!(super::TABLE, super::OUTPUTS.display());
    }
}
