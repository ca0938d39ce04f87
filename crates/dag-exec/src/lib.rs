//! Runs a registry [`Plan`] for one cycle and stores what it produced.
//!
//! For every planned model the PRIMARY version and its SHADOW and CHALLENGER
//! versions run on worker threads, on exactly the same inputs; only the
//! PRIMARY's result is placed into the cycle's shared map, from which every
//! dependent's [`Upstream`](model_api::Upstream) is built under the input keys
//! its edges declare. Then the cycle's outputs, metrics and run records are
//! written in one transaction on one connection. This crate must never let a
//! SHADOW or CHALLENGER result reach a downstream model, never open a second
//! connection for a cycle, and never let a model (error, panic, hang or
//! garbage output) crash or stall the cycle.
//!
//! # Entry points
//!
//! - [`Executor::execute`] runs and persists on a connection the caller has
//!   checked out for the whole cycle, or on a transaction on it (the
//!   pipeline's way: its cycle is one transaction, the persist a savepoint).
//! - [`Executor::execute_pooled`] checks out exactly one connection from a
//!   bb8 pool, after the models ran, and persists on it.
//! - [`Executor::run`] runs without persisting (tests, benchmarks, dry runs);
//!   [`Executor::persist`] stores such a [`CycleRun`].
//!   [`Executor::run_seeded`] also takes [`Seeds`]: PRIMARY results the
//!   caller already computed with the same model and params (the pipeline's
//!   legacy stages), used instead of running the model again when they
//!   were computed from the very upstream results of this cycle.
//! - [`Executor::persist_backtest`] stores one version's lines of a run as a
//!   backtest (`origin = 'BACKTEST'`), replacing only that version's rows of
//!   the cycle; [`live_run_exists`] tells whether the cycle holds a live
//!   record of it, which a backtest leaves alone.
//!
//! # Guarantees
//!
//! - **SHADOW isolation by construction.** The shared map only accepts a
//!   type that only the PRIMARY code path can build (see the `isolation`
//!   module); a candidate's result has no path into it. Whatever a candidate
//!   returns, fails, panics or times out, every PRIMARY's inputs and outputs
//!   are what they would be without it (property-tested).
//! - **Parallel, bounded.** Versions run on the executor's worker threads
//!   (`ExecConfig::workers`, the number of cores by default), kept between
//!   cycles. A model runs as soon as every upstream PRIMARY it reads has
//!   finished (no barrier between the plan's levels, which are a dependency
//!   order), PRIMARY versions before candidates; the models of one level run
//!   in parallel.
//! - **Failures stay local.** A model error or a panic makes the version
//!   `FAILED` with the message (`model error: ...`, `panicked: ...`); a
//!   version that does not return within its timeout (60 s by default,
//!   `PlannedVersion::timeout` overrides) is `TIMEOUT`. The dependents of a
//!   PRIMARY that is not `OK`, transitively, are `SKIPPED` with
//!   `upstream X failed` (`upstream X failed (via Y)` further down; with
//!   several failed upstreams, the first in plan order, so the text is
//!   deterministic). A failing candidate affects nothing else.
//! - **Timeouts do not wait.** A thread cannot be killed: a timed-out
//!   model's thread is abandoned, the cycle goes on at once (a replacement
//!   thread keeps the parallelism), and whatever the model returns later is
//!   discarded; the thread then ends. Until then it keeps what the model reads
//!   alive (its inputs and the cycle's base input) plus the cycle's small
//!   bookkeeping, not the cycle's results.
//!   [`Executor::abandoned_threads`] counts such threads; a model that hangs
//!   every cycle costs one thread per cycle, so archive it.
//! - **One transaction per cycle.** Rerunning a `cycle_ts` deletes that
//!   cycle's outputs, metrics and run records and inserts the new ones in
//!   the same transaction; a failure anywhere before `COMMIT` leaves the
//!   previous state of that cycle untouched (nothing, the first time).
//!   Output rows go in by binary COPY. Run records include a `SKIPPED` line
//!   for each entry of the plan's `excluded`, with the registry's reason: a
//!   whole model left out gets one line per ACTIVE version it had (with
//!   `version_id` and `role`), so per-version statistics are true; only a
//!   model without any version gets one line with neither.
//!
//! # What is stored when a model returns odd values
//!
//! Decided so that one version's odd output can never break the cycle's
//! transaction (which would lose every other version's rows):
//!
//! | the model returns | stored |
//! |---|---|
//! | a score that is NaN or ±∞ | the row, with `score` `NULL`; counted in [`VersionReport::null_scores`] and warned about. A non-finite score means "no score", and SQL aggregates skip `NULL` where a stored `NaN` would poison them. `NULL` never means anything else: scores are `f64`, not optional. |
//! | a metric key that is empty or over 64 characters, or contains NUL | nothing for that metric: a warning naming model, version and key; the other metrics are stored; counted in the run record's `dropped_metric_count` |
//! | a metric value that is NaN or ±∞ | dropped the same way (a metric without a value says nothing, and a `NULL` would look like one that was measured) |
//! | the same metric key twice | the last value; the earlier ones count as dropped |
//! | the same `entity_key` twice, an `entity_key` over 2048 bytes (the table has no unique key since V056: this check keeps keys unique per version and cycle), an `entity_key` or payload string containing NUL, or a payload nested deeper than 128 levels | the version is `FAILED` (`output cannot be stored: ...`) and nothing of it is stored; for a PRIMARY this happens before publishing, so its dependents are `SKIPPED` |
//!
//! # Tracing
//!
//! A `dag_exec_cycle` span per cycle, a `model_version` span (model, version,
//! version id, role) per version run on the worker threads, and a
//! `dag_exec_persist` span. Worker threads log through the caller's
//! subscriber.

mod check;
mod coordinator;
mod isolation;
mod persist;
mod pool;
mod prepare;
mod report;
mod seed;
mod state;
mod worker;

use std::any::Any;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use model_api::{CycleTs, ModelOutput};
use registry::Plan;
use tokio_postgres::{Client, GenericClient};
use tracing::Instrument as _;

pub use report::{CycleReport, PersistStats, RunReason, RunStatus, VersionReport};
pub use seed::Seeds;

use crate::check::OutputCheck;
use crate::isolation::{PersistOnly, PrimaryResult};
use crate::prepare::Prepared;
use crate::state::{Done, End, Skip};
use crate::worker::Outcome;

/// A version's timeout when the plan does not override it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How an [`Executor`] runs models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecConfig {
    /// Worker threads per cycle (a timed-out worker is replaced, so this
    /// many keep working). Default: the number of cores.
    pub workers: NonZeroUsize,
    /// Timeout of a version whose `PlannedVersion::timeout` is `None`.
    pub default_timeout: Duration,
}

impl Default for ExecConfig {
    fn default() -> Self {
        Self {
            workers: std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
            default_timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Errors at this crate's boundary. Model failures are not errors: they are
/// lines of the [`CycleReport`].
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// No connection could be checked out of the pool after the models ran.
    #[error(
        "cannot check out a database connection to persist cycle {cycle_ts}; nothing was stored"
    )]
    Checkout {
        /// The cycle.
        cycle_ts: CycleTs,
        /// The pool's error (or that it timed out).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
        /// What ran.
        report: Box<CycleReport>,
    },
    /// Persisting failed at `step`. Before `COMMIT` the transaction is
    /// rolled back: the cycle's previously stored rows (if any) are intact
    /// and nothing of this run is stored. If the connection broke during
    /// `COMMIT` itself, the outcome is unknown; rerunning the cycle replaces
    /// it either way.
    #[error("persisting cycle {cycle_ts} failed at {step}; {outcome}")]
    Persist {
        /// The cycle.
        cycle_ts: CycleTs,
        /// The statement that failed, naming its table.
        step: &'static str,
        /// The database's error.
        #[source]
        source: tokio_postgres::Error,
        /// What the rollback means for the stored rows.
        outcome: &'static str,
        /// What ran.
        report: Box<CycleReport>,
    },
    /// A backtest asked to store a version the run has no line of.
    #[error("cycle {cycle_ts} ran no version with id {version_id}; nothing was stored")]
    NotInRun {
        /// The cycle.
        cycle_ts: CycleTs,
        /// The version asked for.
        version_id: i64,
    },
    /// Reading the stored runs of a cycle failed.
    #[error("cannot read {table} for cycle {cycle_ts}")]
    Read {
        /// The cycle.
        cycle_ts: CycleTs,
        /// The table.
        table: &'static str,
        /// The database's error.
        #[source]
        source: tokio_postgres::Error,
    },
}

impl ExecError {
    /// The report of the models that ran, when they did.
    pub fn report(&self) -> Option<&CycleReport> {
        match self {
            ExecError::Checkout { report, .. } | ExecError::Persist { report, .. } => Some(report),
            ExecError::NotInRun { .. } | ExecError::Read { .. } => None,
        }
    }
}

/// Whether version `version_id` has a run record of a live cycle at
/// `cycle_ts` (`origin = 'LIVE'`, V051): what a backtest must leave alone.
pub async fn live_run_exists(
    client: &(impl GenericClient + Sync),
    cycle_ts: CycleTs,
    version_id: i64,
) -> Result<bool, ExecError> {
    let read = |source| ExecError::Read {
        cycle_ts,
        table: "kcg.detection_model_runs",
        source,
    };
    let row = client
        .query_one(persist::LIVE_RUN_EXISTS, &[&cycle_ts, &version_id])
        .await
        .map_err(read)?;
    row.try_get("live").map_err(read)
}

/// A version's stored result.
enum StoredOutput {
    Primary(PrimaryResult),
    Candidate(PersistOnly),
}

struct Stored {
    output: StoredOutput,
    check: OutputCheck,
}

impl Stored {
    fn output(&self) -> &ModelOutput {
        match &self.output {
            StoredOutput::Primary(r) => r.output(),
            StoredOutput::Candidate(r) => r.output(),
        }
    }
}

/// A cycle that ran but is not (necessarily) persisted: its report and the
/// results of its `OK` versions.
pub struct CycleRun {
    report: CycleReport,
    /// Aligned with `report.versions`; `Some` for `OK` versions.
    stored: Vec<Option<Stored>>,
}

impl std::fmt::Debug for CycleRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CycleRun")
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl CycleRun {
    /// What ran.
    pub fn report(&self) -> &CycleReport {
        &self.report
    }

    /// The report, dropping the results.
    pub fn into_report(self) -> CycleReport {
        self.report
    }

    /// The result of version `version_id`, when it is `OK`.
    pub fn output(&self, version_id: i64) -> Option<&ModelOutput> {
        self.position(version_id)
            .and_then(|i| self.stored[i].as_ref())
            .map(Stored::output)
    }

    /// The metrics of version `version_id` that are stored, in the order
    /// the model reported them (empty unless `OK`).
    pub fn stored_metrics(&self, version_id: i64) -> Vec<(&str, f64)> {
        self.position(version_id)
            .and_then(|i| self.stored[i].as_ref())
            .map(|s| s.check.kept_metrics(s.output()).collect())
            .unwrap_or_default()
    }

    fn position(&self, version_id: i64) -> Option<usize> {
        self.report
            .versions
            .iter()
            .position(|v| v.version_id == Some(version_id))
    }

    fn stored_lines(&self) -> impl Iterator<Item = (&VersionReport, &Stored)> {
        self.report
            .versions
            .iter()
            .zip(&self.stored)
            .filter_map(|(line, s)| s.as_ref().map(|s| (line, s)))
    }
}

/// Runs plans. Cheap to clone; clones share the worker threads (kept
/// between cycles, ended when the last clone is dropped) and the count of
/// abandoned threads.
#[derive(Clone)]
pub struct Executor {
    config: ExecConfig,
    pool: Arc<pool::Pool>,
    abandoned: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("config", &self.config)
            .field("abandoned_threads", &self.abandoned_threads())
            .finish_non_exhaustive()
    }
}

impl Default for Executor {
    fn default() -> Self {
        Self::new(ExecConfig::default())
    }
}

impl Executor {
    /// An executor with `config`. Worker threads start with the first cycle.
    pub fn new(config: ExecConfig) -> Self {
        let pool = Arc::new(pool::Pool::new(config.workers.get()));
        Self {
            config,
            pool,
            abandoned: Arc::default(),
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &ExecConfig {
        &self.config
    }

    /// Threads of timed-out models that have not returned yet.
    pub fn abandoned_threads(&self) -> usize {
        self.abandoned.load(Ordering::Relaxed)
    }

    /// Runs `plan` for `cycle_ts` without persisting anything.
    ///
    /// Needs a tokio runtime with timers enabled (for timeouts); the models
    /// themselves run on this executor's worker threads, never on the
    /// runtime's.
    pub async fn run(
        &self,
        cycle_ts: CycleTs,
        plan: &Plan,
        base: Arc<dyn Any + Send + Sync>,
    ) -> Result<CycleRun, ExecError> {
        let span = tracing::info_span!(
            "dag_exec_cycle",
            cycle_ts = %cycle_ts,
            models = plan.model_count(),
            versions = plan.version_count()
        );
        self.run_in(cycle_ts, plan, base, Seeds::new(), span).await
    }

    /// [`Executor::run`], with `seeds` offered to the PRIMARY versions
    /// they name (see [`Seeds`]); [`VersionReport::seeded`] tells which
    /// took theirs.
    pub async fn run_seeded(
        &self,
        cycle_ts: CycleTs,
        plan: &Plan,
        base: Arc<dyn Any + Send + Sync>,
        seeds: Seeds,
    ) -> Result<CycleRun, ExecError> {
        let span = tracing::info_span!(
            "dag_exec_cycle",
            cycle_ts = %cycle_ts,
            models = plan.model_count(),
            versions = plan.version_count(),
            seeds = seeds.len()
        );
        self.run_in(cycle_ts, plan, base, seeds, span).await
    }

    async fn run_in(
        &self,
        cycle_ts: CycleTs,
        plan: &Plan,
        base: Arc<dyn Any + Send + Sync>,
        seeds: Seeds,
        span: tracing::Span,
    ) -> Result<CycleRun, ExecError> {
        let tp = Instant::now();
        let prepared = Prepared::new(plan, self.config.default_timeout, seeds);
        let tp = tp.elapsed();
        let wall = chrono::Utc::now();
        let t0 = Instant::now();
        let done = if prepared.version_count() == 0 {
            Vec::new()
        } else {
            let workers = self.config.workers.get();
            coordinator::run(
                prepared,
                cycle_ts,
                base,
                &self.pool,
                workers,
                Arc::clone(&self.abandoned),
                span.clone(),
            )
            .instrument(span.clone())
            .await
        };
        let run_duration = t0.elapsed();
        let ta = Instant::now();
        let run = assemble(
            cycle_ts,
            plan,
            done,
            wall,
            t0,
            run_duration,
            self.config.default_timeout,
        );
        span.in_scope(|| {
            tracing::debug!(
                prepare_us = tp.as_micros(),
                run_us = run_duration.as_micros(),
                assemble_us = ta.elapsed().as_micros(),
                "cycle phases"
            );
        });
        let report = &run.report;
        span.in_scope(|| {
            tracing::info!(
                ok = report.count(RunStatus::Ok),
                failed = report.count(RunStatus::Failed),
                timeout = report.count(RunStatus::Timeout),
                skipped = report.count(RunStatus::Skipped),
                run_ms = run_duration.as_secs_f64() * 1000.0,
                "cycle ran"
            );
        });
        Ok(run)
    }

    /// Stores `run` on `client` in one transaction (a savepoint when
    /// `client` is itself a transaction), replacing whatever was stored for
    /// its cycle.
    pub async fn persist<C>(
        &self,
        client: &mut C,
        run: &CycleRun,
    ) -> Result<PersistStats, ExecError>
    where
        C: GenericClient + Send + Sync,
    {
        self.persist_scoped(client, run, persist::Scope::Cycle)
            .await
    }

    /// Stores the lines of version `version_id` of `run` as a backtest, in
    /// one transaction (a savepoint when `client` is itself a transaction)
    /// under the cycle's lock: that version's outputs, metrics and run
    /// records of the cycle are replaced, its run record is marked
    /// `origin = 'BACKTEST'`, and no other row of the cycle is touched.
    ///
    /// A backtest must not replace a live record: the caller checks
    /// [`live_run_exists`] under the same lock first (the pipeline's
    /// backtest does, in the transaction it persists in).
    pub async fn persist_backtest<C>(
        &self,
        client: &mut C,
        run: &CycleRun,
        version_id: i64,
    ) -> Result<PersistStats, ExecError>
    where
        C: GenericClient + Send + Sync,
    {
        if run.report.version(version_id).is_none() {
            return Err(ExecError::NotInRun {
                cycle_ts: run.report.cycle_ts,
                version_id,
            });
        }
        self.persist_scoped(client, run, persist::Scope::Backtest(version_id))
            .await
    }

    async fn persist_scoped<C>(
        &self,
        client: &mut C,
        run: &CycleRun,
        scope: persist::Scope,
    ) -> Result<PersistStats, ExecError>
    where
        C: GenericClient + Send + Sync,
    {
        let cycle_ts = run.report.cycle_ts;
        let span = tracing::info_span!("dag_exec_persist", cycle_ts = %cycle_ts, backtest = ?match scope {
            persist::Scope::Cycle => None,
            persist::Scope::Backtest(id) => Some(id),
        });
        let stats = persist::persist(client, run, scope).instrument(span.clone()).await.map_err(|f| {
            let outcome = if f.step == "COMMIT" {
                "the connection failed during COMMIT, so whether this run was stored is unknown; rerunning the cycle replaces it either way"
            } else {
                "the transaction was rolled back: nothing of this run was stored, earlier rows of this cycle are intact"
            };
            span.in_scope(|| tracing::error!(step = f.step, error = %f.source, "persisting the cycle failed"));
            ExecError::Persist {
                cycle_ts,
                step: f.step,
                source: f.source,
                outcome,
                report: Box::new(run.report.clone()),
            }
        })?;
        span.in_scope(|| {
            tracing::info!(
                outputs = stats.output_rows,
                metrics = stats.metric_rows,
                runs = stats.run_rows,
                replaced = stats.replaced_rows,
                persist_ms = stats.duration.as_secs_f64() * 1000.0,
                "cycle persisted"
            );
        });
        Ok(stats)
    }

    /// Runs `plan` for `cycle_ts` and persists it on `client`, a connection
    /// (or a transaction on one) the caller holds for the whole cycle. No
    /// other connection is used.
    pub async fn execute<C>(
        &self,
        client: &mut C,
        cycle_ts: CycleTs,
        plan: &Plan,
        base: Arc<dyn Any + Send + Sync>,
    ) -> Result<CycleReport, ExecError>
    where
        C: GenericClient + Send + Sync,
    {
        let run = self.run(cycle_ts, plan, base).await?;
        let stats = self.persist(client, &run).await?;
        let mut report = run.into_report();
        report.persisted = Some(stats);
        Ok(report)
    }

    /// Like [`execute`](Self::execute), checking out exactly one connection
    /// from `pool`, once the models have run (so a long model run does not
    /// hold a connection).
    pub async fn execute_pooled<M>(
        &self,
        pool: &bb8::Pool<M>,
        cycle_ts: CycleTs,
        plan: &Plan,
        base: Arc<dyn Any + Send + Sync>,
    ) -> Result<CycleReport, ExecError>
    where
        M: bb8::ManageConnection<Connection = Client>,
        M::Error: std::error::Error + Send + Sync + 'static,
    {
        let run = self.run(cycle_ts, plan, base).await?;
        let mut conn = match pool.get().await {
            Ok(conn) => conn,
            Err(e) => {
                let source = match e {
                    bb8::RunError::User(e) => {
                        Box::new(e) as Box<dyn std::error::Error + Send + Sync>
                    }
                    bb8::RunError::TimedOut => "timed out waiting for a free connection".into(),
                };
                return Err(ExecError::Checkout {
                    cycle_ts,
                    source,
                    report: Box::new(run.into_report()),
                });
            }
        };
        let stats = self.persist(&mut *conn, &run).await?;
        let mut report = run.into_report();
        report.persisted = Some(stats);
        Ok(report)
    }
}

/// Builds the report (plan order, then the plan's exclusions) and keeps the
/// `OK` results.
fn assemble(
    cycle_ts: CycleTs,
    plan: &Plan,
    done: Vec<Done<Outcome>>,
    wall: CycleTs,
    t0: Instant,
    run_duration: Duration,
    default_timeout: Duration,
) -> CycleRun {
    let mut versions = Vec::with_capacity(done.len() + plan.excluded().len());
    let mut stored = Vec::with_capacity(done.len() + plan.excluded().len());
    let names: Vec<&model_api::ModelId> = plan.models().map(|m| &m.model_id).collect();
    let planned = plan.models().flat_map(|m| {
        std::iter::once(&m.primary)
            .chain(&m.others)
            .map(move |v| (m, v))
    });
    for ((model, version), done) in planned.zip(done) {
        let started_at = done
            .started
            .and_then(|s| chrono::Duration::from_std(s.saturating_duration_since(t0)).ok())
            .map(|offset| wall + offset);
        let mut line = VersionReport {
            model_id: model.model_id.to_string(),
            version_id: Some(version.version_id),
            version: Some(version.version.clone()),
            role: Some(version.role),
            status: RunStatus::Ok,
            started_at,
            duration: done.duration,
            output_count: 0,
            omitted_count: 0,
            dropped_metrics: 0,
            null_scores: 0,
            seeded: false,
            reason: None,
        };
        let (status, reason, kept) = match done.end {
            End::Ran(Outcome::Primary(Ok(c))) => {
                if let Some(took) = c.seeded {
                    line.seeded = true;
                    line.duration += took;
                }
                (
                    RunStatus::Ok,
                    None,
                    Some(Stored {
                        output: StoredOutput::Primary(c.result),
                        check: c.check,
                    }),
                )
            }
            End::Ran(Outcome::Candidate(Ok(c))) => (
                RunStatus::Ok,
                None,
                Some(Stored {
                    output: StoredOutput::Candidate(c.result),
                    check: c.check,
                }),
            ),
            End::Ran(Outcome::Primary(Err(reason)) | Outcome::Candidate(Err(reason))) => {
                (RunStatus::Failed, Some(reason), None)
            }
            End::TimedOut => {
                let timeout = version.timeout.unwrap_or(default_timeout);
                (
                    RunStatus::Timeout,
                    Some(RunReason::TimedOut { timeout }),
                    None,
                )
            }
            End::Skipped(Skip::Upstream { root, via }) => (
                RunStatus::Skipped,
                Some(RunReason::UpstreamFailed {
                    root: names[root].clone(),
                    via: names[via].clone(),
                }),
                None,
            ),
            End::Skipped(Skip::NoResult { upstream }) => (
                RunStatus::Skipped,
                Some(RunReason::UpstreamNoResult {
                    upstream: names[upstream].clone(),
                }),
                None,
            ),
            End::NoWorker(error) => (RunStatus::Failed, Some(RunReason::NoWorker { error }), None),
        };
        line.status = status;
        line.reason = reason;
        if let Some(s) = &kept {
            line.output_count = s.output().rows().len();
            line.omitted_count = s.check.omitted;
            line.dropped_metrics = s.check.dropped_metrics.len();
            line.null_scores = s.check.null_scores;
        }
        versions.push(line);
        stored.push(kept);
    }
    for excluded in plan.excluded() {
        let skipped = |version_id, version, role| VersionReport {
            model_id: excluded.model_id.clone(),
            version_id,
            version,
            role,
            status: RunStatus::Skipped,
            started_at: None,
            duration: Duration::ZERO,
            output_count: 0,
            omitted_count: 0,
            dropped_metrics: 0,
            null_scores: 0,
            seeded: false,
            reason: Some(RunReason::Excluded(excluded.reason.clone())),
        };
        // A whole model left out is recorded once per version it had, so
        // each version's statistics count the cycle; a model without any
        // version (named by a dependency only) once, without one.
        if excluded.versions.is_empty() {
            versions.push(skipped(excluded.version_id, None, excluded.role));
            stored.push(None);
        }
        for v in &excluded.versions {
            versions.push(skipped(Some(v.id), Some(v.version.clone()), Some(v.role)));
            stored.push(None);
        }
    }
    CycleRun {
        report: CycleReport {
            cycle_ts,
            versions,
            run_duration,
            persisted: None,
        },
        stored,
    }
}
