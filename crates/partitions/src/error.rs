//! The one error type at this crate's boundary.

use chrono::{DateTime, Utc};

/// Everything [`maintain`](crate::maintain), [`ensure_current_and_next`](crate::ensure_current_and_next)
/// and [`list`](crate::list) can fail with. Configuration errors are found
/// before anything is changed: the transaction is rolled back untouched.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    /// Retention must keep at least the current month's predecessor.
    #[error("bad configuration: retention must be between 1 and {max} months, got {months}")]
    InvalidRetention {
        /// What was asked for.
        months: i32,
        /// The largest accepted value.
        max: i32,
    },

    /// Premake counts months ahead of the current one.
    #[error("bad configuration: premake must be between 0 and {max} months, got {months}")]
    InvalidPremake {
        /// What was asked for.
        months: i32,
        /// The largest accepted value.
        max: i32,
    },

    /// `now` (or `now + premake`) is outside the years a `pYYYY_MM` name can hold.
    #[error("bad configuration: {what} ({ts}) is outside years 0001-9999")]
    OutOfRange {
        /// Which instant.
        what: &'static str,
        /// The instant.
        ts: DateTime<Utc>,
    },

    /// The table does not exist.
    #[error("bad configuration: table {table} does not exist")]
    TableMissing {
        /// `schema.table`.
        table: String,
    },

    /// The table exists but is not `PARTITION BY RANGE (<one timestamptz column>)`.
    #[error(
        "bad configuration: table {table} is not range-partitioned on one timestamptz column: \
         expected PARTITION BY RANGE (cycle_ts timestamptz), found {found}"
    )]
    NotRangePartitioned {
        /// `schema.table`.
        table: String,
        /// What the catalog says instead.
        found: String,
    },

    /// A partition is named like a month partition but does not cover that month.
    #[error(
        "bad configuration: partition {partition} is named for month {month} but its bounds do \
         not match: expected {expected}, found {found} (made by hand? rename or drop it)"
    )]
    BoundsMismatch {
        /// `schema.partition`.
        partition: String,
        /// The month its name says.
        month: String,
        /// The bounds that name requires.
        expected: String,
        /// The bounds it has.
        found: String,
    },

    /// A partition that is not ours covers part of a month that must exist.
    #[error(
        "bad configuration: partition {partition} ({found}) overlaps month {month}, which must \
         exist as {expected_name} {expected}; it is not a month partition, so it is left alone \
         and nothing was changed"
    )]
    Overlap {
        /// `schema.partition` in the way.
        partition: String,
        /// Its bounds.
        found: String,
        /// The month that could not be created.
        month: String,
        /// The name that month would get.
        expected_name: String,
        /// The bounds that month would get.
        expected: String,
    },

    /// Rows left DEFAULT but did not all come back (should be impossible: the
    /// transaction is rolled back and nothing is lost).
    #[error(
        "moving rows out of {default} into new partitions of {table}: took {taken} rows out \
         but put {put} back; rolled back"
    )]
    MoveMismatch {
        /// `schema.table`.
        table: String,
        /// `schema.default_partition`.
        default: String,
        /// Rows deleted from DEFAULT.
        taken: u64,
        /// Rows inserted back through the parent.
        put: u64,
    },

    /// A database call failed; `doing` says which step.
    #[error("partition maintenance of {table}: {doing}: {source}")]
    Db {
        /// `schema.table`.
        table: String,
        /// The step, e.g. "creating kcg.x_p2026_01".
        doing: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
}

impl PartitionError {
    /// True for errors that mean the configuration or the table layout is
    /// wrong (as opposed to a database failure).
    pub fn is_config(&self) -> bool {
        !matches!(
            self,
            PartitionError::Db { .. } | PartitionError::MoveMismatch { .. }
        )
    }
}
