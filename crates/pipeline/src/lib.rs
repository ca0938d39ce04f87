//! The prediction cycle: ten stages that turn the latest window of AIS
//! positions into detection results (SPEC §4, "runner and the cycle").
//!
//! Stages 1 to 8 are the legacy path: they call the reference detectors with
//! their default params and write `vessel_analysis`,
//! `gear_identity_collisions`, `prediction_events` and
//! `prediction_stats_hourly`. Stage 9 makes sure this and next month's output
//! partitions exist. Stage 10 is the registry path, only when
//! `PREDICTION_USE_MODEL_REGISTRY` is on: schema pre-check, params-cache,
//! registry plan, dag-exec. Every stage is timed and recorded in
//! `prediction_stage_timings`, every run in `prediction_cycles`
//! ([`cycles`]). A cycle is stored whole or not at all: its rows, timings
//! and OK row commit in one transaction; a failed stage rolls all of the
//! run's rows back and records only the timings and the FAILED row.
//! [`Pipeline::backtest`] runs one SHADOW or CHALLENGER over a stored cycle
//! on the input that cycle built (the same functions build it) and stores
//! only that version's rows. This crate never lets a failing stage crash
//! the process (the stage is recorded FAILED, the later ones SKIPPED, and
//! the cycle ends cleanly), never commits a part of a cycle, never commits
//! for a leader whose lease is lost, and never uses more than the one
//! connection its caller hands it for the cycle.

mod backtest;
mod cancel;
pub mod cycles;
mod failure;
mod flag;
mod input;
mod legacy;
mod limits;
mod reference;
mod seeds;
mod stage;
mod state;
mod window;

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use detectors::{AisWindow, CleanStats, Identities, TrackFeatures, Typed};
use tokio_postgres::{Client, Transaction};
use tracing::Instrument;

pub use backtest::{Backtest, BacktestCycle};
pub use cycles::{CycleStatus, RunBy, RunOptions};
pub use failure::{StageFailure, error_chain};
pub use flag::{FlagError, REGISTRY_FLAG, parse_registry_flag, registry_flag_from_env};
pub use limits::{LimitKind, Limits};
pub use reference::{REFERENCE_VERSION, Registered, register_reference_models};
pub use stage::{Stage, StageStatus, StageTiming};

/// The instant a cycle is computed for (UTC).
pub type CycleTs = chrono::DateTime<chrono::Utc>;

/// Errors at this crate's boundary: the cycle could not even record what
/// happened, or (inside a [`StageFailure`]) why a stage failed. Each
/// message names this layer's context only; the cause is its `source()`,
/// and [`error_chain`] renders the whole chain.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A query on `table` failed.
    #[error("database error on {table}")]
    Db {
        /// The table involved.
        table: &'static str,
        /// The cause.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The cycle's own transaction (`BEGIN`, its lock, `COMMIT`) failed.
    #[error("the cycle's transaction failed at {step}")]
    Transaction {
        /// The statement.
        step: &'static str,
        /// The cause.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A detector failed on the cycle's window.
    #[error(transparent)]
    Detector(#[from] detectors::DetectorError),
    /// The configured window cannot end at this cycle's time.
    #[error(transparent)]
    Window(#[from] detectors::WindowOutOfRange),
    /// A configured duration cannot be added to or taken from this
    /// cycle's time (a value beyond any calendar).
    #[error("{what} of {by} cannot be taken from or added to the cycle's time {cycle_ts}")]
    TimeOutOfRange {
        /// Which setting, e.g. `collision_resolve_after`.
        what: &'static str,
        /// Its value.
        by: TimeDelta,
        /// The cycle.
        cycle_ts: CycleTs,
    },
    /// Partition maintenance failed.
    #[error(transparent)]
    Partitions(#[from] partitions::PartitionError),
    /// Stage 10: the live schema is not what this build expects.
    #[error("schema pre-check")]
    Schema(#[source] schema::SchemaError),
    /// Stage 10: the registry could not be loaded.
    #[error("loading the registry")]
    Registry(#[source] params_cache::CacheError),
    /// Stage 10: the executor could not store the cycle.
    #[error(transparent)]
    Exec(#[from] dag_exec::ExecError),
    /// A stage ran without what an earlier stage hands it (a bug).
    #[error("internal: {what} missing")]
    Missing {
        /// What is missing.
        what: &'static str,
    },
    /// Registering models in the registry failed.
    #[error(transparent)]
    Store(#[from] registry_store::StoreError),
    /// `version_id` cannot be backtested.
    #[error("version {version_id} cannot be backtested: {why}")]
    NotBacktestable {
        /// The version.
        version_id: i64,
        /// Why, in the words of the registry where it left the version out.
        why: String,
    },
    /// A reference model's spec does not fit the registry (an id or key
    /// over 64 characters): a defect of this build.
    #[error("a reference model's spec does not fit the registry")]
    ReferenceSpec(#[source] model_api::IdError),
    /// A statement was cancelled by the server at one of the cycle's
    /// [`Limits`] (the cause names the statement's table).
    #[error("{limit} of {} reached", limits::human(*.after))]
    Limit {
        /// Which limit.
        limit: LimitKind,
        /// Its value.
        after: Duration,
        /// The statement's error.
        #[source]
        source: Box<PipelineError>,
    },
    /// The lease the run was fenced by is lost (nothing was written), or
    /// could not be checked.
    #[error(transparent)]
    Lease(#[from] lease::LeaseError),
    /// A stage failed, and then rolling its writes back or recording the
    /// failure failed too (the connection was lost, typically): nothing of
    /// the run was stored, not even its failure.
    #[error("stage {stage} failed ({detail}), and the failure could not be recorded")]
    Unrecorded {
        /// The failed stage.
        stage: Stage,
        /// Its error chain.
        detail: String,
        /// Why it could not be recorded.
        #[source]
        source: Box<PipelineError>,
    },
}

impl PipelineError {
    pub(crate) fn db(table: &'static str, source: tokio_postgres::Error) -> Self {
        PipelineError::Db { table, source }
    }

    /// The run was refused because its lease is lost: nothing was written.
    pub fn is_lease_lost(&self) -> bool {
        matches!(self, PipelineError::Lease(lease::LeaseError::Lost { .. }))
    }
}

/// `cycle_ts - by`, or [`PipelineError::TimeOutOfRange`] naming `what`.
pub(crate) fn checked_sub(
    cycle_ts: CycleTs,
    by: TimeDelta,
    what: &'static str,
) -> Result<CycleTs, PipelineError> {
    cycle_ts
        .checked_sub_signed(by)
        .ok_or(PipelineError::TimeOutOfRange { what, by, cycle_ts })
}

/// `cycle_ts + by`, or [`PipelineError::TimeOutOfRange`] naming `what`.
pub(crate) fn checked_add(
    cycle_ts: CycleTs,
    by: TimeDelta,
    what: &'static str,
) -> Result<CycleTs, PipelineError> {
    cycle_ts
        .checked_add_signed(by)
        .ok_or(PipelineError::TimeOutOfRange { what, by, cycle_ts })
}

/// How cycles run.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// The window of positions a cycle reads: `(cycle_ts - window, cycle_ts]`.
    /// Default 10 minutes.
    pub window: TimeDelta,
    /// Stage 10 on or off (`PREDICTION_USE_MODEL_REGISTRY`). Default off.
    pub use_registry: bool,
    /// An OPEN identity collision that has not recurred for this long is
    /// RESOLVED. Default 30 minutes.
    pub collision_resolve_after: TimeDelta,
    /// How stage 10 runs models.
    pub exec: dag_exec::ExecConfig,
    /// The params cache's TTL. Default 5 minutes.
    pub cache_ttl: Duration,
    /// How far back a cycle looks for the state an earlier cycle carried
    /// (`kcg.vessel_track_state`). Default 1 hour.
    pub state_lookback: TimeDelta,
    /// A finding continues a stored episode (one `prediction_events` row)
    /// when that episode's cycles reach this cycle within this gap.
    /// Default 15 minutes (three 5-minute cycles).
    pub episode_gap: TimeDelta,
    /// Timeouts of every transaction of a cycle. Default: none (the
    /// server's settings).
    pub limits: Limits,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            window: TimeDelta::minutes(10),
            use_registry: false,
            collision_resolve_after: TimeDelta::minutes(30),
            exec: dag_exec::ExecConfig::default(),
            cache_ttl: params_cache::DEFAULT_TTL,
            state_lookback: TimeDelta::hours(1),
            episode_gap: TimeDelta::minutes(15),
            limits: Limits::default(),
        }
    }
}

/// What one cycle did.
#[derive(Debug, Clone)]
pub struct CycleOutcome {
    /// The cycle.
    pub cycle_ts: CycleTs,
    /// Every stage, in order, as recorded.
    pub stages: Vec<StageTiming>,
    /// What stage 2 dropped and why.
    pub clean: CleanStats,
    /// Vessels written to `vessel_analysis`.
    pub vessels: usize,
    /// Events written to `prediction_events`.
    pub events: usize,
    /// Identity collisions opened, moved forward, and resolved.
    pub collisions: CollisionChanges,
    /// Stage 10's report, when it ran.
    pub registry: Option<dag_exec::CycleReport>,
    /// How long stage 10's parts took, when it ran to the end.
    pub registry_phases: Option<RegistryPhases>,
    /// The stage that failed, with its error.
    pub failed: Option<StageFailure>,
    /// Wall time of the whole cycle.
    pub duration: Duration,
}

pub use legacy::CollisionChanges;

/// How long each part of stage 10 took: what a cycle pays for the schema
/// check, the registry load (the params cache), planning, running the
/// models and storing their results. Benchmarks and operators read where
/// stage 10's time goes from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegistryPhases {
    /// The live schema's check.
    pub schema_check: Duration,
    /// The ACTIVE registry, from the params cache (or the database).
    pub load: Duration,
    /// `registry::plan`.
    pub plan: Duration,
    /// The models, on the executor's workers.
    pub run: Duration,
    /// Outputs, metrics and run records, stored.
    pub persist: Duration,
}

/// Runs cycles. One per process; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Pipeline {
    config: PipelineConfig,
    catalog: registry::Catalog,
    cache: params_cache::ParamsCache,
    executor: dag_exec::Executor,
    /// Stage 10's schema pre-check, compared again only when the catalog
    /// changed (issue 17).
    schema: schema::SchemaGuard,
    /// How many positions the last window loaded held: the next load's
    /// capacity.
    window_hint: AtomicUsize,
}

/// What the stages hand each other.
#[derive(Default)]
struct Work {
    raw: Vec<detectors::Fix>,
    carried: Vec<detectors::CarriedFix>,
    /// Shared with stage 10's models as their base input (no copy).
    window: Option<Arc<AisWindow>>,
    clean: CleanStats,
    tracks: Option<Typed<TrackFeatures>>,
    identity: Option<Typed<Identities>>,
    spoofing: Option<Typed<detectors::SpoofingScores>>,
    collisions: Option<Typed<detectors::Collisions>>,
    vessels: usize,
    events: usize,
    event_hours: Vec<CycleTs>,
    changes: CollisionChanges,
    registry: Option<dag_exec::CycleReport>,
    registry_phases: Option<RegistryPhases>,
}

impl Pipeline {
    /// A pipeline running the model kinds of `catalog` on the registry path.
    pub fn new(config: PipelineConfig, catalog: registry::Catalog) -> Self {
        let cache = params_cache::ParamsCache::new(config.cache_ttl);
        let executor = dag_exec::Executor::new(config.exec.clone());
        Self {
            config,
            catalog,
            cache,
            executor,
            schema: schema::SchemaGuard::new(),
            window_hint: AtomicUsize::new(0),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// The params cache (for `invalidate()` on a registry NOTIFY).
    pub fn cache(&self) -> &params_cache::ParamsCache {
        &self.cache
    }

    /// Threads of timed-out models that have not returned yet (for
    /// telemetry).
    pub fn abandoned_threads(&self) -> usize {
        self.executor.abandoned_threads()
    }

    /// Runs one cycle on `client`, the one connection the cycle uses, as
    /// `runner cycle` does ([`RunOptions::default`]); see
    /// [`run_cycle_with`](Self::run_cycle_with).
    pub async fn run_cycle(
        &self,
        client: &mut Client,
        cycle_ts: CycleTs,
    ) -> Result<CycleOutcome, PipelineError> {
        self.run_cycle_with(client, cycle_ts, &RunOptions::default())
            .await
    }

    /// Runs one cycle on `client`, the one connection the cycle uses: the
    /// whole cycle or nothing.
    ///
    /// Three transactions, each with the [`Limits`] of the configuration:
    ///
    /// 1. the RUNNING row of `kcg.prediction_cycles` (a run killed at any
    ///    later point leaves that trace, and nothing else);
    /// 2. stage 9's partitions: DDL that takes a strong lock on the parent
    ///    table, so it is kept out of the long transaction below (the
    ///    partitions are infrastructure for any cycle, not this cycle's
    ///    data); its outcome is reported as stage 9;
    /// 3. the cycle: the cycle lock of [`schema::locks`] (two runs of one
    ///    cycle take turns), then a savepoint, the stages, and either
    ///    every row of the cycle with its stage timings and its OK row, or,
    ///    when a stage failed, `ROLLBACK TO` the savepoint (nothing of the
    ///    run remains: a rerun replaces the earlier run entirely or not at
    ///    all) and then the timings (the stages before OK, the failed one
    ///    with its error chain, the later ones SKIPPED) and the FAILED row,
    ///    under the same cycle lock, so no other run of the cycle can slip
    ///    in between.
    ///
    /// With [`RunOptions::fence`], transactions 1 and 3 check the lease
    /// right before `COMMIT` and roll back when it is lost
    /// ([`PipelineError::Lease`]): a leader that lost its lease writes
    /// nothing.
    ///
    /// Being transaction-scoped, the cycle lock ends with the transaction
    /// on every path: `COMMIT`, an error, or this future being dropped
    /// (tokio-postgres rolls a dropped transaction back, and a statement
    /// still running is cancelled so the rollback does not wait for it).
    pub async fn run_cycle_with(
        &self,
        client: &mut Client,
        cycle_ts: CycleTs,
        opts: &RunOptions,
    ) -> Result<CycleOutcome, PipelineError> {
        let span = tracing::info_span!(
            "cycle",
            %cycle_ts,
            registry = self.config.use_registry,
            run_by = opts.run_by.as_str()
        );
        async {
            let cancel = cancel::CancelOnDrop::new(client);
            let result = self.run_attempt(client, cycle_ts, opts).await;
            cancel.disarm();
            result
        }
        .instrument(span)
        .await
    }

    async fn run_attempt(
        &self,
        client: &mut Client,
        cycle_ts: CycleTs,
        opts: &RunOptions,
    ) -> Result<CycleOutcome, PipelineError> {
        let start = Instant::now();
        let started_at = self.mark_running(client, cycle_ts, opts).await?;
        let t0 = Instant::now();
        let partitions = self.partitions_tx(client, cycle_ts).await;
        let partitions = (partitions, t0.elapsed());
        self.cycle_tx(client, cycle_ts, opts, started_at, partitions, start)
            .await
    }

    /// Transaction 1: the RUNNING row.
    async fn mark_running(
        &self,
        client: &mut Client,
        cycle_ts: CycleTs,
        opts: &RunOptions,
    ) -> Result<CycleTs, PipelineError> {
        let step = |step| move |source| PipelineError::Transaction { step, source };
        let tx = client
            .transaction()
            .await
            .map_err(step("BEGIN (the RUNNING row)"))?;
        self.config.limits.apply(&tx).await?;
        let started_at = cycles::mark_running(&tx, cycle_ts, opts)
            .await
            .map_err(|e| self.config.limits.explain(e))?;
        if let Some(token) = &opts.fence {
            lease::fence(&tx, token).await?;
        }
        tx.commit()
            .await
            .map_err(step("COMMIT (the RUNNING row)"))?;
        Ok(started_at)
    }

    /// Transaction 2: stage 9's partitions.
    async fn partitions_tx(
        &self,
        client: &mut Client,
        cycle_ts: CycleTs,
    ) -> Result<String, PipelineError> {
        let step = |step| move |source| PipelineError::Transaction { step, source };
        let mut tx = client
            .transaction()
            .await
            .map_err(step("BEGIN (stage 9's partitions)"))?;
        self.config.limits.apply(&tx).await?;
        let detail = ensure_partitions(&mut tx, cycle_ts).await?;
        tx.commit()
            .await
            .map_err(step("COMMIT (stage 9's partitions)"))?;
        Ok(detail)
    }

    /// Transaction 3: the cycle.
    async fn cycle_tx(
        &self,
        client: &mut Client,
        cycle_ts: CycleTs,
        opts: &RunOptions,
        started_at: CycleTs,
        partitions: (Result<String, PipelineError>, Duration),
        start: Instant,
    ) -> Result<CycleOutcome, PipelineError> {
        let limits = self.config.limits;
        let step = |step| move |source| PipelineError::Transaction { step, source };
        let mut tx = client.transaction().await.map_err(step("BEGIN"))?;
        limits.apply(&tx).await?;
        let key = schema::locks::cycle_key(cycle_ts);
        tx.execute(
            schema::locks::CYCLE_LOCK_SQL,
            &[&schema::locks::CYCLE, &key],
        )
        .await
        .map_err(|e| limits.explain(step("the cycle lock")(e)))?;
        let mut rows = tx
            .savepoint("cycle_rows")
            .await
            .map_err(step("SAVEPOINT"))?;
        let (stages, work, failed) = self.run_stages(&mut rows, cycle_ts, partitions).await;
        let unrecorded = |failed: &Option<StageFailure>, e: PipelineError| match failed {
            Some(f) => PipelineError::Unrecorded {
                stage: f.stage,
                detail: f.detail(),
                source: Box::new(e),
            },
            None => e,
        };
        let ended = match &failed {
            None => rows.commit().await.map_err(step("RELEASE SAVEPOINT")),
            Some(_) => rows.rollback().await.map_err(step("ROLLBACK TO SAVEPOINT")),
        };
        ended.map_err(|e| unrecorded(&failed, e))?;
        let recorded = async {
            stage::record_all(&tx, cycle_ts, &stages).await?;
            cycles::finish(&tx, cycle_ts, opts, started_at, failed.as_ref()).await?;
            Ok::<_, PipelineError>(())
        };
        recorded
            .await
            .map_err(|e| unrecorded(&failed, limits.explain(e)))?;
        if let Some(token) = &opts.fence
            && let Err(e) = lease::fence(&tx, token).await
        {
            tracing::warn!(error = %error_chain(&e), "lease lost: the cycle is rolled back, nothing written");
            return Err(e.into());
        }
        tx.commit()
            .await
            .map_err(|e| unrecorded(&failed, step("COMMIT")(e)))?;
        let outcome = CycleOutcome {
            cycle_ts,
            stages,
            clean: work.clean,
            vessels: work.vessels,
            events: work.events,
            collisions: work.changes,
            registry: work.registry,
            registry_phases: work.registry_phases,
            failed,
            duration: start.elapsed(),
        };
        tracing::info!(
            vessels = outcome.vessels,
            events = outcome.events,
            failed = outcome.failed.as_ref().map(|f| f.stage.name()),
            ms = outcome.duration.as_secs_f64() * 1e3,
            "cycle done"
        );
        Ok(outcome)
    }

    /// Runs the stages in order until one fails; the later ones are
    /// SKIPPED. Nothing is recorded here: the caller commits the rows and
    /// the timings, or rolls the rows back and records the timings.
    async fn run_stages(
        &self,
        tx: &mut Transaction<'_>,
        cycle_ts: CycleTs,
        partitions: (Result<String, PipelineError>, Duration),
    ) -> (Vec<StageTiming>, Work, Option<StageFailure>) {
        let mut work = Work::default();
        let mut partitions = Some(partitions);
        let mut stages = Vec::with_capacity(Stage::ALL.len());
        let mut failed: Option<StageFailure> = None;
        for stage in Stage::ALL {
            let t0 = Instant::now();
            let mut duration = None;
            let (status, detail) = if let Some(f) = &failed {
                (
                    StageStatus::Skipped,
                    Some(format!("stage {} failed", f.stage)),
                )
            } else if stage == Stage::ModelRegistry && !self.config.use_registry {
                (
                    StageStatus::Skipped,
                    Some(format!("{REGISTRY_FLAG} is off")),
                )
            } else {
                let span = tracing::info_span!("stage", no = stage.number(), name = stage.name());
                let result = if stage == Stage::Partitions {
                    // Ran before this transaction, in its own.
                    let (result, took) = partitions.take().unwrap_or_else(|| {
                        (
                            Err(PipelineError::Missing {
                                what: "stage 9's result",
                            }),
                            Duration::ZERO,
                        )
                    });
                    duration = Some(took);
                    result
                } else {
                    self.run_stage(stage, tx, cycle_ts, &mut work)
                        .instrument(span)
                        .await
                };
                match result {
                    Ok(detail) => (StageStatus::Ok, Some(detail)),
                    Err(e) => {
                        let f = StageFailure::new(stage, self.config.limits.explain(e));
                        let detail = f.detail();
                        tracing::error!(stage = stage.name(), error = %detail, "stage failed; the cycle is rolled back");
                        failed = Some(f);
                        (StageStatus::Failed, Some(detail))
                    }
                }
            };
            let timing = StageTiming {
                stage,
                status,
                duration: duration.unwrap_or_else(|| t0.elapsed()),
                detail,
            };
            tracing::debug!(
                stage = stage.name(),
                status = status.as_str(),
                ms = timing.duration.as_secs_f64() * 1e3,
                "stage done"
            );
            stages.push(timing);
        }
        (stages, work, failed)
    }

    async fn run_stage(
        &self,
        stage: Stage,
        client: &mut Transaction<'_>,
        cycle_ts: CycleTs,
        w: &mut Work,
    ) -> Result<String, PipelineError> {
        let missing = |what: &'static str| PipelineError::Missing { what };
        match stage {
            Stage::LoadWindow => {
                let bounds = self.bounds(cycle_ts)?;
                (w.raw, w.carried) = self.load_input(&*client, cycle_ts).await?;
                // The snapshot reads the leading count (a PRIMARY that
                // stores nothing while its cycles had positions alarms).
                Ok(format!(
                    "{} positions in ({}, {}], {} carried from earlier cycles",
                    w.raw.len(),
                    bounds.start,
                    bounds.end,
                    w.carried.len()
                ))
            }
            Stage::Clean => {
                let (window, stats) = self.clean(
                    cycle_ts,
                    std::mem::take(&mut w.raw),
                    std::mem::take(&mut w.carried),
                )?;
                w.window = Some(Arc::new(window));
                w.clean = stats;
                Ok(serde_json::to_string(&stats).unwrap_or_default())
            }
            Stage::Tracks => {
                let window = w.window.as_deref().ok_or_else(|| missing("window"))?;
                // Stage 10 takes this result, rows and all, for a PRIMARY
                // that runs as the legacy path (see `seeds`); without stage
                // 10 nothing reads the rows, and they are not built.
                let tracks = if self.config.use_registry {
                    detectors::legacy::track_features(cycle_ts, window)?
                } else {
                    detectors::legacy::track_features_artifact(cycle_ts, window)?
                };
                let carry = tracks.artifact().carry_forward(cycle_ts);
                let stored = state::write(client, cycle_ts, &carry).await?;
                let detail = format!(
                    "{} vessels, {} segments, {} glitches set aside, {} positions carried in, {stored} carried on",
                    tracks.artifact().vessels().len(),
                    tracks.artifact().segment_count(),
                    tracks.artifact().glitch_count(),
                    window.carried_all().len(),
                );
                w.tracks = Some(tracks);
                Ok(detail)
            }
            Stage::Identity => {
                let window = w.window.as_deref().ok_or_else(|| missing("window"))?;
                let identity = detectors::legacy::identity(cycle_ts, window)?;
                let classes: Vec<String> = identity
                    .artifact()
                    .class_counts()
                    .into_iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(c, n)| format!("{c} {n}"))
                    .collect();
                let detail = format!(
                    "{} invalid identities; classes: {}",
                    identity.artifact().invalid().count(),
                    classes.join(", ")
                );
                w.identity = Some(identity);
                Ok(detail)
            }
            Stage::Spoofing => {
                let window = w.window.as_deref().ok_or_else(|| missing("window"))?;
                let tracks = w.tracks.as_ref().ok_or_else(|| missing("tracks"))?;
                let identity = w.identity.as_ref().ok_or_else(|| missing("identity"))?;
                let spoofing =
                    detectors::legacy::spoofing_score(cycle_ts, window, tracks, identity)?;
                let vessels = detectors::vessel_summaries(tracks, identity, &spoofing);
                w.vessels = legacy::write_vessel_analysis(client, cycle_ts, &vessels).await?;
                w.spoofing = Some(spoofing);
                Ok(format!("{} vessels analysed", w.vessels))
            }
            Stage::Collisions => {
                let window = w.window.as_deref().ok_or_else(|| missing("window"))?;
                let tracks = w.tracks.as_ref().ok_or_else(|| missing("tracks"))?;
                let collisions = detectors::legacy::identity_collision(cycle_ts, window, tracks)?;
                w.changes = legacy::write_collisions(
                    client,
                    cycle_ts,
                    collisions.artifact(),
                    self.config.collision_resolve_after,
                )
                .await?;
                w.collisions = Some(collisions);
                Ok(w.changes.to_string())
            }
            Stage::Events => {
                let identity = w.identity.as_ref().ok_or_else(|| missing("identity"))?;
                let spoofing = w.spoofing.as_ref().ok_or_else(|| missing("spoofing"))?;
                let collisions = w.collisions.as_ref().ok_or_else(|| missing("collisions"))?;
                let events = detectors::events(
                    identity.artifact(),
                    spoofing.artifact(),
                    collisions.artifact(),
                    &detectors::EventRules::default(),
                );
                let (n, hours) =
                    legacy::write_events(client, cycle_ts, &events, self.config.episode_gap)
                        .await?;
                w.events = n;
                w.event_hours = hours;
                Ok(format!("{n} events"))
            }
            Stage::Stats => {
                let rows = legacy::refresh_stats(client, &w.event_hours).await?;
                Ok(format!(
                    "{rows} (hour, category) rows over {} hours",
                    w.event_hours.len()
                ))
            }
            // Run in its own transaction before the cycle's (see run_cycle_with).
            Stage::Partitions => Err(missing("stage 9 outside its transaction")),
            Stage::ModelRegistry => {
                let (report, phases) = self.registry_path(client, cycle_ts, w).await?;
                w.registry_phases = Some(phases);
                let detail = format!(
                    "{} versions: {} OK, {} FAILED, {} TIMEOUT, {} SKIPPED; {} PRIMARY results taken from stages 3-6",
                    report.versions.len(),
                    report.count(dag_exec::RunStatus::Ok),
                    report.count(dag_exec::RunStatus::Failed),
                    report.count(dag_exec::RunStatus::Timeout),
                    report.count(dag_exec::RunStatus::Skipped),
                    report.versions.iter().filter(|v| v.seeded).count(),
                );
                w.registry = Some(report);
                Ok(detail)
            }
        }
    }

    async fn registry_path(
        &self,
        client: &mut Transaction<'_>,
        cycle_ts: CycleTs,
        w: &Work,
    ) -> Result<(dag_exec::CycleReport, RegistryPhases), PipelineError> {
        let window = w
            .window
            .as_ref()
            .ok_or(PipelineError::Missing { what: "window" })?;
        let mut phases = RegistryPhases::default();
        // The whole comparison on the first cycle and after any change of
        // the catalog (a migration, an ALTER in psql); otherwise one cheap
        // fingerprint query.
        let started = Instant::now();
        let guarded = self
            .schema
            .check(client.client())
            .await
            .map_err(PipelineError::Schema)?;
        phases.schema_check = started.elapsed();
        tracing::debug!(
            schema_check_ms = phases.schema_check.as_secs_f64() * 1e3,
            compared = matches!(guarded, schema::Guarded::Checked(_)),
            "schema pre-check passed"
        );
        let t = Instant::now();
        let snapshot = self
            .cache
            .get(client.client())
            .await
            .map_err(PipelineError::Registry)?;
        phases.load = t.elapsed();
        let t = Instant::now();
        let plan = registry::plan(&self.catalog, &snapshot);
        phases.plan = t.elapsed();
        for cycle in plan.cycles() {
            tracing::warn!(path = %cycle, "dependency cycle: its models are left out");
        }
        let base = self.base_input(window);
        let seeds = seeds::legacy_seeds(&plan, &snapshot, w);
        // The transaction is idle while the models run: allow their budget,
        // not more, then the cycle's own limit again for the persist.
        let limits = self.config.limits;
        limits
            .idle_for(client, models_budget(&plan, &self.config.exec))
            .await?;
        let t = Instant::now();
        let run = self
            .executor
            .run_seeded(cycle_ts, &plan, base, seeds)
            .await?;
        phases.run = t.elapsed();
        limits.idle_for(client, Duration::ZERO).await?;
        let t = Instant::now();
        let stats = self.executor.persist(client, &run).await?;
        phases.persist = t.elapsed();
        let mut report = run.into_report();
        report.persisted = Some(stats);
        Ok((report, phases))
    }
}

/// Stage 9: the partitions the cycle writes into exist (this and next
/// month of the run outputs, this and next day of the positions: one
/// catalog query when all exist). Runs in a transaction of its own, before
/// the cycle's (see [`Pipeline::run_cycle_with`]).
async fn ensure_partitions(
    tx: &mut Transaction<'_>,
    cycle_ts: CycleTs,
) -> Result<String, PipelineError> {
    let r = partitions::ensure_cycle(tx, cycle_ts).await?;
    let names: Vec<&str> = (r.outputs.created.iter().map(|c| &c.partition.name))
        .chain(r.positions.created.iter().map(|c| &c.partition.name))
        .map(String::as_str)
        .collect();
    Ok(if names.is_empty() {
        "this and next month, this and next day exist".to_owned()
    } else {
        format!(
            "created {}; {} rows moved from DEFAULT",
            names.join(", "),
            r.outputs.moved_from_default + r.positions.moved_from_default
        )
    })
}

/// The longest the models of `plan` may run: level by level, the longest
/// timeout of the level for each round of versions the workers take.
fn models_budget(plan: &registry::Plan, exec: &dag_exec::ExecConfig) -> Duration {
    let workers = exec.workers.get();
    plan.levels()
        .iter()
        .map(|level| {
            let versions: Vec<&registry::PlannedVersion> = level
                .iter()
                .flat_map(|m| std::iter::once(&m.primary).chain(&m.others))
                .collect();
            let longest = versions
                .iter()
                .map(|v| v.timeout.unwrap_or(exec.default_timeout))
                .max()
                .unwrap_or_default();
            let rounds = u32::try_from(versions.len().div_ceil(workers)).unwrap_or(u32::MAX);
            longest.saturating_mul(rounds)
        })
        .fold(Duration::ZERO, Duration::saturating_add)
}
