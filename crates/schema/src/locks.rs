//! Every PostgreSQL advisory lock the workspace takes, in one place, so
//! two locks can never share a key by accident and an operator reading
//! `pg_locks` can tell them apart.
//!
//! Keys are ASCII tags. One-key locks (`bigint`) and two-key locks
//! (`int4, int4`) live in separate spaces in PostgreSQL (`pg_locks.objsubid`
//! 1 and 2), so they cannot collide with each other either.
//!
//! | lock | key | scope | taken by |
//! |---|---|---|---|
//! | [`INGEST`] | `"kcg_ingt"` | transaction | `ingest`, before it decides which rows of a file are new |
//! | [`PARTITIONS`] | `"kcg_part"` | transaction | `partitions::maintain` and stage 9 when a month is missing |
//! | [`TEST_TEMPLATE`] | `"kcg_tmpl"` | session, on a connection of its own, released before it is closed | `test-support` while it builds the template database |
//! | [`CYCLE`] + [`cycle_key`] | `"kcgc"`, the cycle's time | transaction | a pipeline cycle (its one transaction) and `dag-exec`'s persist transaction: the rerun guard of a `cycle_ts` |
//!
//! A lock on a pooled connection is always transaction-scoped: a dropped
//! future rolls its transaction back (tokio-postgres sends `ROLLBACK` when a
//! `Transaction` is dropped), which releases the lock, whereas a session
//! lock would stay with the connection when it goes back to the pool.
//!
//! Which `runner serve` replica runs the cycles is not a lock: a session
//! lock follows an open connection, not progress, so a hung leader kept
//! it for good. It is the lease of `kcg.runner_lease` (crate `lease`).

use chrono::{DateTime, Utc};

/// `pg_advisory_xact_lock(PARTITIONS)`: one partition maintenance at a
/// time. Visible in `pg_locks` as `classid = 1801676639, objid =
/// 1885434484, objsubid = 1`.
pub const PARTITIONS: i64 = 0x6b63_675f_7061_7274;

/// `pg_advisory_xact_lock(INGEST)`: two ingests of overlapping data never
/// both store a row.
pub const INGEST: i64 = 0x6b63_675f_696e_6774;

/// `pg_advisory_lock(TEST_TEMPLATE)`: one process builds the migrated
/// template database the tests clone.
pub const TEST_TEMPLATE: i64 = 0x6b63_675f_746d_706c;

/// The first key of `pg_advisory_xact_lock(CYCLE, cycle_key(cycle_ts))`,
/// which serializes two runs of the same cycle.
pub const CYCLE: i32 = 0x6b63_6763;

/// The second key of the cycle lock: the cycle's time in microseconds,
/// folded to 32 bits. Two different cycles that happen to share a key only
/// take turns.
pub fn cycle_key(cycle_ts: DateTime<Utc>) -> i32 {
    let micros = cycle_ts.timestamp_micros();
    #[allow(clippy::cast_possible_truncation)] // folding is the point
    let folded = (micros ^ (micros >> 32)) as i32;
    folded
}

/// `SELECT pg_advisory_xact_lock($1::int4, $2::int4)` with [`CYCLE`] and
/// [`cycle_key`]: the statement that takes the cycle lock.
pub const CYCLE_LOCK_SQL: &str = "SELECT pg_advisory_xact_lock($1::int4, $2::int4)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_distinct_and_cycles_fold_by_the_microsecond() {
        let one = [INGEST, PARTITIONS, TEST_TEMPLATE];
        for (i, a) in one.iter().enumerate() {
            assert!(one[i + 1..].iter().all(|b| a != b));
        }
        let t: DateTime<Utc> = "2022-01-03T00:10:00Z".parse().unwrap();
        assert_ne!(
            cycle_key(t),
            cycle_key(t + chrono::TimeDelta::microseconds(1))
        );
        assert_eq!(cycle_key(t), cycle_key(t));
    }
}
