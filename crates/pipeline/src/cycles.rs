//! `kcg.prediction_cycles`: which cycles ran, how, and whether the rows
//! stored for them come from a whole, committed run; and the schedule
//! arithmetic `runner serve` uses to find the ticks it missed.
//!
//! A run writes its row three times: RUNNING in a short transaction of its
//! own as it starts (a run killed at any point leaves that trace), then OK
//! in the cycle's own transaction (with every row of the cycle), or FAILED
//! in the transaction that rolled the cycle's writes back. `committed_at`
//! says when the rows now stored were committed: a failed or killed rerun
//! leaves the earlier run's rows, and their `committed_at`, in place.
//!
//! Times are `clock_timestamp()`, not `now()`: `now()` is the start of the
//! transaction, which for the cycle's own transaction is long past when it
//! records the end.

use std::fmt;
use std::time::Duration;

use chrono::TimeDelta;
use tokio_postgres::GenericClient;

use crate::{CycleTs, PipelineError, StageFailure};

const TABLE: &str = "kcg.prediction_cycles";

/// Who started a run, as stored in `prediction_cycles.run_by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunBy {
    /// `runner serve`, at its tick.
    Serve,
    /// `runner cycle` (and library callers).
    Cycle,
    /// `runner replay`.
    Replay,
    /// `runner serve`, late: a tick it missed (an outage, a takeover).
    CatchUp,
}

impl RunBy {
    /// The database string.
    pub fn as_str(self) -> &'static str {
        match self {
            RunBy::Serve => "serve",
            RunBy::Cycle => "cycle",
            RunBy::Replay => "replay",
            RunBy::CatchUp => "catch-up",
        }
    }
}

impl fmt::Display for RunBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one run of a cycle is recorded and guarded.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Who runs it.
    pub run_by: RunBy,
    /// How long after its tick it started (scheduled runs).
    pub late_by: Option<Duration>,
    /// The lease the run must still hold when it commits (`runner serve`):
    /// each of its transactions checks it right before `COMMIT` and rolls
    /// back, writing nothing, when it is lost.
    pub fence: Option<lease::Token>,
    /// The process, as stored in `prediction_cycles.runner`.
    pub runner: String,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            run_by: RunBy::Cycle,
            late_by: None,
            fence: None,
            runner: lease::this_process().to_owned(),
        }
    }
}

/// The status stored in `prediction_cycles.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CycleStatus {
    /// A run started and has not finished (or was killed).
    Running,
    /// The last run committed the whole cycle.
    Ok,
    /// The last run failed; its writes were rolled back.
    Failed,
}

impl CycleStatus {
    /// The database string.
    pub fn as_str(self) -> &'static str {
        match self {
            CycleStatus::Running => "RUNNING",
            CycleStatus::Ok => "OK",
            CycleStatus::Failed => "FAILED",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "RUNNING" => Some(CycleStatus::Running),
            "OK" => Some(CycleStatus::Ok),
            "FAILED" => Some(CycleStatus::Failed),
            _ => None,
        }
    }
}

fn late_ms(opts: &RunOptions) -> Option<f64> {
    opts.late_by.map(|d| d.as_secs_f64() * 1000.0)
}

fn epoch(opts: &RunOptions) -> Option<i64> {
    opts.fence.as_ref().map(|t| t.epoch)
}

/// Keeps `committed_at`: the rows of an earlier run are still there.
const MARK_RUNNING: &str = "INSERT INTO kcg.prediction_cycles AS c \
     (cycle_ts, status, run_by, runner, leader_epoch, attempts, started_at, late_by_ms) \
     VALUES ($1, 'RUNNING', $2, $3, $4, 1, clock_timestamp(), $5) \
     ON CONFLICT (cycle_ts) DO UPDATE SET status = 'RUNNING', run_by = EXCLUDED.run_by, \
       runner = EXCLUDED.runner, leader_epoch = EXCLUDED.leader_epoch, \
       attempts = c.attempts + 1, started_at = clock_timestamp(), finished_at = NULL, \
       late_by_ms = EXCLUDED.late_by_ms, failed_stage = NULL, detail = NULL \
     RETURNING started_at";

/// Records that a run of `cycle_ts` starts; returns its start (the
/// database's clock).
pub(crate) async fn mark_running(
    client: &impl GenericClient,
    cycle_ts: CycleTs,
    opts: &RunOptions,
) -> Result<CycleTs, PipelineError> {
    let row = client
        .query_one(
            MARK_RUNNING,
            &[
                &cycle_ts,
                &opts.run_by.as_str(),
                &opts.runner,
                &epoch(opts),
                &late_ms(opts),
            ],
        )
        .await
        .map_err(|e| PipelineError::db(TABLE, e))?;
    row.try_get(0).map_err(|e| PipelineError::db(TABLE, e))
}

/// OK: `committed_at` is this transaction's end (near enough: the
/// statement runs right before `COMMIT`).
const FINISH_OK: &str = "INSERT INTO kcg.prediction_cycles AS c \
     (cycle_ts, status, run_by, runner, leader_epoch, attempts, started_at, finished_at, \
      late_by_ms, committed_at) \
     SELECT $1, 'OK', $2, $3, $4, 1, $5, t.at, $6, t.at FROM (SELECT clock_timestamp() AS at) t \
     ON CONFLICT (cycle_ts) DO UPDATE SET status = 'OK', run_by = EXCLUDED.run_by, \
       runner = EXCLUDED.runner, leader_epoch = EXCLUDED.leader_epoch, \
       started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, \
       late_by_ms = EXCLUDED.late_by_ms, failed_stage = NULL, detail = NULL, \
       committed_at = EXCLUDED.committed_at";

/// FAILED: `committed_at` stays what it was (the earlier run's rows are
/// still there, or none are).
const FINISH_FAILED: &str = "INSERT INTO kcg.prediction_cycles AS c \
     (cycle_ts, status, run_by, runner, leader_epoch, attempts, started_at, finished_at, \
      late_by_ms, failed_stage, detail) \
     VALUES ($1, 'FAILED', $2, $3, $4, 1, $5, clock_timestamp(), $6, $7, $8) \
     ON CONFLICT (cycle_ts) DO UPDATE SET status = 'FAILED', run_by = EXCLUDED.run_by, \
       runner = EXCLUDED.runner, leader_epoch = EXCLUDED.leader_epoch, \
       started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, \
       late_by_ms = EXCLUDED.late_by_ms, failed_stage = EXCLUDED.failed_stage, \
       detail = EXCLUDED.detail";

/// Records how the run that started at `started_at` ended, in the
/// transaction that commits (OK) or rolled back (FAILED) its rows.
pub(crate) async fn finish(
    client: &impl GenericClient,
    cycle_ts: CycleTs,
    opts: &RunOptions,
    started_at: CycleTs,
    failed: Option<&StageFailure>,
) -> Result<(), PipelineError> {
    let by = opts.run_by.as_str();
    let result = match failed {
        None => {
            client
                .execute(
                    FINISH_OK,
                    &[
                        &cycle_ts,
                        &by,
                        &opts.runner,
                        &epoch(opts),
                        &started_at,
                        &late_ms(opts),
                    ],
                )
                .await
        }
        Some(f) => {
            client
                .execute(
                    FINISH_FAILED,
                    &[
                        &cycle_ts,
                        &by,
                        &opts.runner,
                        &epoch(opts),
                        &started_at,
                        &late_ms(opts),
                        &f.stage.number(),
                        &f.detail(),
                    ],
                )
                .await
        }
    };
    result.map_err(|e| PipelineError::db(TABLE, e))?;
    Ok(())
}

/// The next multiple of `every` (counted from the Unix epoch) strictly
/// after `t`: a schedule of ticks aligned to the clock (`5m` runs at :00,
/// :05, ...).
pub fn next_tick(t: CycleTs, every: TimeDelta) -> CycleTs {
    tick_at_or_before(t, every) + every.max(TimeDelta::milliseconds(1))
}

/// The latest multiple of `every` at or before `t`.
pub fn tick_at_or_before(t: CycleTs, every: TimeDelta) -> CycleTs {
    let step = every.num_milliseconds().max(1);
    let ms = t.timestamp_millis().div_euclid(step) * step;
    CycleTs::from_timestamp_millis(ms).unwrap_or(t)
}

/// The first multiple of `every` at or after `t`.
fn tick_at_or_after(t: CycleTs, every: TimeDelta) -> CycleTs {
    let floor = tick_at_or_before(t, every);
    if floor == t { t } else { next_tick(t, every) }
}

/// What `runner serve` should run now, oldest first, and what it missed
/// beyond its catch-up limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// Ticks without an OK run, oldest first; the last is the current tick
    /// when that one is due too.
    pub ticks: Vec<CycleTs>,
    /// Ticks missed before the catch-up window: reported, not run.
    pub too_old: Option<Missed>,
}

/// A run of consecutive ticks that have no row at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missed {
    /// The first.
    pub first: CycleTs,
    /// The last.
    pub last: CycleTs,
    /// How many.
    pub count: i64,
}

/// A tick is due when no run of it is recorded, when its last run never
/// finished (RUNNING: killed, or its connection was lost), or when it
/// FAILED fewer than `max_attempts` times. A failure that repeats is
/// retried a bounded number of times, not at every tick forever.
fn is_due(row: Option<(CycleStatus, i32)>, max_attempts: i32) -> bool {
    match row {
        None | Some((CycleStatus::Running, _)) => true,
        Some((CycleStatus::Ok, _)) => false,
        Some((CycleStatus::Failed, attempts)) => attempts < max_attempts,
    }
}

/// The ticks of the schedule `every` in `[from, now]` that are due (see
/// [`is_due`]), given the recorded rows of that range and where the
/// schedule started (`first`, the earliest tick serve ever ran: before it
/// nothing was missed, there was no schedule).
fn due_ticks(
    rows: &[(CycleTs, CycleStatus, i32)],
    first: Option<CycleTs>,
    from: CycleTs,
    now: CycleTs,
    every: TimeDelta,
    max_attempts: i32,
) -> Vec<CycleTs> {
    let current = tick_at_or_before(now, every);
    let mut start = match first {
        Some(first) => tick_at_or_after(first.max(from), every),
        None => current,
    };
    start = start.min(current);
    // By time, so each tick is one lookup (a day at 1 s is 86,400 ticks
    // and as many rows: a scan per tick would be 7 billion comparisons).
    let by_ts: std::collections::HashMap<CycleTs, (CycleStatus, i32)> =
        rows.iter().map(|&(ts, s, a)| (ts, (s, a))).collect();
    let mut ticks = Vec::new();
    let mut t = start;
    while t <= current {
        let row = by_ts.get(&t).copied();
        if is_due(row, max_attempts) {
            ticks.push(t);
        }
        t += every;
    }
    ticks
}

/// The ticks strictly between `last` (the last recorded cycle before the
/// window) and `from` (the window's start): none has a row.
fn missed_between(last: CycleTs, from: CycleTs, every: TimeDelta) -> Option<Missed> {
    let first = next_tick(last, every);
    let end = if tick_at_or_before(from, every) == from {
        from - every
    } else {
        tick_at_or_before(from, every)
    };
    if end < first {
        return None;
    }
    let step = every.num_milliseconds().max(1);
    let count = (end - first).num_milliseconds() / step + 1;
    Some(Missed {
        first,
        last: end,
        count,
    })
}

const FIRST_SCHEDULED: &str = "SELECT min(cycle_ts) FROM kcg.prediction_cycles \
     WHERE run_by IN ('serve', 'catch-up')";
const STATES: &str = "SELECT cycle_ts, status, attempts FROM kcg.prediction_cycles \
     WHERE cycle_ts >= $1 AND cycle_ts <= $2 ORDER BY cycle_ts";
const LAST_BEFORE: &str = "SELECT max(cycle_ts) FROM kcg.prediction_cycles WHERE cycle_ts < $1";

/// What the schedule `every` should run at `now`: the ticks of the last
/// `catch_up` (and the current one) without an OK run (see
/// [`RunOptions`]; a FAILED tick is retried until it failed `max_attempts`
/// times), counted from the first tick serve ever ran in this database;
/// and the ticks missed before that window, which are only reported.
pub async fn due(
    client: &impl GenericClient,
    now: CycleTs,
    every: TimeDelta,
    catch_up: TimeDelta,
    max_attempts: i32,
) -> Result<Due, PipelineError> {
    let db = |e| PipelineError::db(TABLE, e);
    let current = tick_at_or_before(now, every);
    let from = crate::checked_sub(current, catch_up, "catch_up")?;
    let first: Option<CycleTs> = client
        .query_one(FIRST_SCHEDULED, &[])
        .await
        .map_err(db)?
        .try_get(0)
        .map_err(db)?;
    let rows = client
        .query(STATES, &[&from, &current])
        .await
        .map_err(db)?
        .iter()
        .map(|r| {
            let status: String = r.try_get(1).map_err(db)?;
            let status = CycleStatus::parse(&status).ok_or(PipelineError::Missing {
                what: "a known prediction_cycles.status",
            })?;
            Ok((r.try_get(0).map_err(db)?, status, r.try_get(2).map_err(db)?))
        })
        .collect::<Result<Vec<_>, PipelineError>>()?;
    let ticks = due_ticks(&rows, first, from, now, every, max_attempts);
    let too_old = match first {
        Some(first) if first < from => {
            let last: Option<CycleTs> = client
                .query_one(LAST_BEFORE, &[&from])
                .await
                .map_err(db)?
                .try_get(0)
                .map_err(db)?;
            last.and_then(|last| missed_between(last, from, every))
        }
        _ => None,
    };
    Ok(Due { ticks, too_old })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> CycleTs {
        s.parse().unwrap()
    }

    #[test]
    fn ticks_align_to_the_clock() {
        let five = TimeDelta::minutes(5);
        assert_eq!(
            next_tick(t("2022-01-03T00:07:12Z"), five),
            t("2022-01-03T00:10:00Z")
        );
        assert_eq!(
            next_tick(t("2022-01-03T00:10:00Z"), five),
            t("2022-01-03T00:15:00Z")
        );
        assert_eq!(
            next_tick(t("2022-01-03T23:59:59Z"), TimeDelta::hours(1)),
            t("2022-01-04T00:00:00Z")
        );
        assert_eq!(
            tick_at_or_before(t("2022-01-03T00:07:12Z"), five),
            t("2022-01-03T00:05:00Z")
        );
        assert_eq!(
            tick_at_or_before(t("2022-01-03T00:10:00Z"), five),
            t("2022-01-03T00:10:00Z")
        );
        assert_eq!(
            tick_at_or_after(t("2022-01-03T00:07:12Z"), five),
            t("2022-01-03T00:10:00Z")
        );
    }

    #[test]
    fn only_ticks_without_an_ok_run_since_the_schedule_began_are_due() {
        let five = TimeDelta::minutes(5);
        let now = t("2022-01-03T01:02:00Z");
        let from = t("2022-01-03T00:00:00Z");
        // Nothing ever ran: only the current tick, no back-fill of a
        // schedule that did not exist.
        assert_eq!(
            due_ticks(&[], None, from, now, five, 3),
            vec![t("2022-01-03T01:00:00Z")]
        );
        let rows = [
            (t("2022-01-03T00:40:00Z"), CycleStatus::Ok, 1),
            (t("2022-01-03T00:45:00Z"), CycleStatus::Running, 1),
            (t("2022-01-03T00:50:00Z"), CycleStatus::Failed, 1),
            (t("2022-01-03T00:55:00Z"), CycleStatus::Failed, 3),
        ];
        assert_eq!(
            due_ticks(&rows, Some(t("2022-01-03T00:40:00Z")), from, now, five, 3),
            vec![
                t("2022-01-03T00:45:00Z"),
                t("2022-01-03T00:50:00Z"),
                t("2022-01-03T01:00:00Z")
            ]
        );
        // The schedule began before the window: the window bounds it.
        let due = due_ticks(&rows, Some(t("2022-01-02T00:00:00Z")), from, now, five, 3);
        assert_eq!(due.first(), Some(&from));
        assert_eq!(due.len(), 8 + 3, "00:00..00:35, then as above");
        // The current tick itself, once OK, is not due again.
        let ok_now = [(t("2022-01-03T01:00:00Z"), CycleStatus::Ok, 1)];
        assert!(due_ticks(&ok_now, Some(t("2022-01-03T01:00:00Z")), from, now, five, 3).is_empty());
    }

    #[test]
    fn ticks_missed_before_the_window_are_counted() {
        let five = TimeDelta::minutes(5);
        let m = missed_between(t("2022-01-03T00:00:00Z"), t("2022-01-03T01:00:00Z"), five).unwrap();
        assert_eq!(m.first, t("2022-01-03T00:05:00Z"));
        assert_eq!(m.last, t("2022-01-03T00:55:00Z"));
        assert_eq!(m.count, 11);
        assert_eq!(
            missed_between(t("2022-01-03T00:55:00Z"), t("2022-01-03T01:00:00Z"), five),
            None
        );
    }
}
