//! The one error type at this crate's boundary.

use chrono::{DateTime, Utc};

/// Everything [`maintain`](crate::maintain), [`ensure`](crate::ensure) (and
/// its callers) and [`list`](crate::list) can fail with. Configuration errors are found
/// before anything is changed: the transaction is rolled back untouched.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    /// Retention must keep at least the current period's predecessor.
    #[error(
        "bad configuration of {table}: retention must be between 1 and {max} {units}, got {value}"
    )]
    InvalidRetention {
        /// `schema.table`.
        table: String,
        /// What was asked for.
        value: i32,
        /// The largest accepted value.
        max: i32,
        /// `"months"` or `"days"`.
        units: &'static str,
    },

    /// Premake counts periods ahead of the current one.
    #[error(
        "bad configuration of {table}: premake must be between 0 and {max} {units}, got {value}"
    )]
    InvalidPremake {
        /// `schema.table`.
        table: String,
        /// What was asked for.
        value: i32,
        /// The largest accepted value.
        max: i32,
        /// `"months"` or `"days"`.
        units: &'static str,
    },

    /// `now` (or `now + premake`) is outside the years a partition name can hold.
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
         expected PARTITION BY RANGE ({key} timestamptz), found {found}"
    )]
    NotRangePartitioned {
        /// `schema.table`.
        table: String,
        /// The key column the migrations create.
        key: &'static str,
        /// What the catalog says instead.
        found: String,
    },

    /// A partition is named like a period partition but does not cover that period.
    #[error(
        "bad configuration: partition {partition} is named for {period} but its bounds do \
         not match: expected {expected}, found {found} (made by hand? rename or drop it)"
    )]
    BoundsMismatch {
        /// `schema.partition`.
        partition: String,
        /// The period its name says, with its unit: `month 2026-05`.
        period: String,
        /// The bounds that name requires.
        expected: String,
        /// The bounds it has.
        found: String,
    },

    /// A partition that is not ours covers part of a period that must exist.
    #[error(
        "bad configuration: partition {partition} ({found}) overlaps {period}, which must \
         exist as {expected_name} {expected}; it was not made by partition maintenance, so it \
         is left alone and nothing was changed"
    )]
    Overlap {
        /// `schema.partition` in the way.
        partition: String,
        /// Its bounds.
        found: String,
        /// The period that could not be created, with its unit: `day 2026-04-10`.
        period: String,
        /// The name that period would get.
        expected_name: String,
        /// The bounds that period would get.
        expected: String,
    },

    /// [`ensure`](crate::ensure) was given no period at all (a caller's bug:
    /// nothing was read or changed).
    #[error("internal: asked to ensure partitions of {table} for no period at all")]
    NothingAsked {
        /// `schema.table`.
        table: String,
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
    #[error("partition maintenance of {table}: {doing}")]
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
