//! What a running `runner serve` says about itself: Prometheus metrics
//! (through the official `prometheus-client` crate, OpenMetrics text) of
//! its cycles, stages, model runs, params cache, NOTIFYs, reconnects and
//! leadership, and its health state, for `/metrics` and `/healthz`. One
//! cheap, cloneable [`Telemetry`] handle is the seam: `serve` calls
//! [`Telemetry::record_cycle`] once per cycle and the `on_*` methods when
//! leadership, the registry or the connection change; the HTTP side calls
//! [`Telemetry::encode`] and [`Telemetry::health`]. This crate never does
//! I/O, never blocks (every update is a few atomic operations or a short
//! lock), and never puts an unbounded value in a label: no entity keys or
//! error texts, only models, versions and roles the registry bounds, and
//! the fixed names of stages, statuses and outcomes.
//!
//! # Metrics
//!
//! | name | type | labels | meaning |
//! |---|---|---|---|
//! | `kcg_cycle_duration_seconds` | histogram | | wall time of a cycle that ran |
//! | `kcg_stage_duration_seconds` | histogram | `stage` | a stage's duration (not `SKIPPED` ones) |
//! | `kcg_stages_total` | counter | `stage`, `status` | stage records by status (`OK`, `FAILED`, `SKIPPED`) |
//! | `kcg_cycles_total` | counter | `outcome` | cycles by [`CycleResult`]: `ok`, `stage_failed`, `error` |
//! | `kcg_model_runs_total` | counter | `model`, `version`, `role`, `status` | run records of stage 10 |
//! | `kcg_model_outputs_total` | counter | `model`, `version`, `role` | output rows stored (those the version's output policy kept) |
//! | `kcg_model_dropped_metrics_total` | counter | `model`, `version`, `role` | metrics not stored |
//! | `kcg_model_abandoned_threads` | gauge | | threads of timed-out models still running |
//! | `kcg_params_cache_loads_total` | counter | | registry loads from the database |
//! | `kcg_registry_notifications_total` | counter | | NOTIFYs that invalidated the params cache |
//! | `kcg_database_reconnects_total` | counter | | control sessions made again after a loss |
//! | `kcg_leader` | gauge | | 1 while this replica leads, else 0 |
//! | `kcg_last_successful_cycle_timestamp_seconds` | gauge | | Unix time the last `ok` cycle ended |
//! | `kcg_ticks_total` | counter | `kind` | ticks by [`Tick`]: `on_time`, `late`, `caught_up`, `missed` |
//! | `kcg_build_info` | gauge | `version` | 1, with the runner's version |
//!
//! A run the registry left out before a version was chosen has no version:
//! its `version` and `role` labels are empty.

mod health;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use pipeline::{CycleOutcome, Pipeline, StageStatus};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

pub use health::{HealthReport, Role};

/// The content type of [`Telemetry::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How a cycle ended, as `kcg_cycles_total{outcome}` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CycleResult {
    /// Every stage ran or was skipped by design; the cycle committed.
    Ok,
    /// A stage failed; the cycle recorded it and ended cleanly.
    StageFailed,
    /// The cycle could not run or record itself (no connection, its
    /// transaction failed, it was fenced off).
    Error,
}

impl CycleResult {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            CycleResult::Ok => "ok",
            CycleResult::StageFailed => "stage_failed",
            CycleResult::Error => "error",
        }
    }
}

/// What became of a tick of `serve`'s clock, as `kcg_ticks_total{kind}`
/// counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// Its cycle started when the tick came.
    OnTime,
    /// Its cycle started, but later than the tick by more than the grace
    /// `serve` allows (a slow previous cycle, a slow checkout).
    Late,
    /// A tick missed earlier (while down or following) run afterwards.
    CaughtUp,
    /// A tick no cycle will run for.
    Missed,
}

impl Tick {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Tick::OnTime => "on_time",
            Tick::Late => "late",
            Tick::CaughtUp => "caught_up",
            Tick::Missed => "missed",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabel {
    stage: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageStatusLabels {
    stage: &'static str,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    model: String,
    version: String,
    role: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    model: String,
    version: String,
    role: &'static str,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TickLabel {
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabel {
    version: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn cycle_histogram() -> Histogram {
    Histogram::new([
        0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
    ])
}

fn stage_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    ])
}

struct Metrics {
    cycle_duration: Histogram,
    stage_duration: HistogramFamily<StageLabel>,
    stages: Family<StageStatusLabels, Counter>,
    cycles: Family<OutcomeLabel, Counter>,
    runs: Family<RunLabels, Counter>,
    outputs: Family<VersionLabels, Counter>,
    dropped_metrics: Family<VersionLabels, Counter>,
    abandoned_threads: Gauge,
    cache_loads: Counter,
    notifications: Counter,
    reconnects: Counter,
    leader: Gauge,
    last_success: Gauge<f64, AtomicU64>,
    ticks: Family<TickLabel, Counter>,
}

struct Inner {
    registry: Registry,
    metrics: Metrics,
    /// The params cache's load count when last seen, to turn its running
    /// total into counter increments.
    cache_loads_seen: AtomicU64,
    health: Mutex<health::State>,
}

/// The handle `serve` updates and the HTTP side reads; see the crate docs.
#[derive(Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

impl Telemetry {
    /// A fresh set of metrics for a `serve` whose cycles come every
    /// `interval`, naming `build_version` in `kcg_build_info`.
    pub fn new(interval: Duration, build_version: &str) -> Telemetry {
        let metrics = Metrics {
            cycle_duration: cycle_histogram(),
            stage_duration: Family::new_with_constructor(stage_histogram),
            stages: Family::default(),
            cycles: Family::default(),
            runs: Family::default(),
            outputs: Family::default(),
            dropped_metrics: Family::default(),
            abandoned_threads: Gauge::default(),
            cache_loads: Counter::default(),
            notifications: Counter::default(),
            reconnects: Counter::default(),
            leader: Gauge::default(),
            last_success: Gauge::default(),
            ticks: Family::default(),
        };
        let mut r = Registry::with_prefix("kcg");
        let m = &metrics;
        r.register_with_unit(
            "cycle_duration",
            "Wall time of a prediction cycle that ran",
            Unit::Seconds,
            m.cycle_duration.clone(),
        );
        r.register_with_unit(
            "stage_duration",
            "Duration of a stage that ran (not SKIPPED)",
            Unit::Seconds,
            m.stage_duration.clone(),
        );
        r.register(
            "stages",
            "Stage records by stage and status",
            m.stages.clone(),
        );
        r.register(
            "cycles",
            "Cycles by outcome: ok, stage_failed (recorded and ended cleanly), error (could not run or record)",
            m.cycles.clone(),
        );
        r.register(
            "model_runs",
            "Model run records of stage 10 by model, version, role and status",
            m.runs.clone(),
        );
        r.register(
            "model_outputs",
            "Output rows stored by model, version and role",
            m.outputs.clone(),
        );
        r.register(
            "model_dropped_metrics",
            "Metrics a model returned that could not be stored",
            m.dropped_metrics.clone(),
        );
        r.register(
            "model_abandoned_threads",
            "Threads of timed-out models that have not returned yet",
            m.abandoned_threads.clone(),
        );
        r.register(
            "params_cache_loads",
            "Loads of the model registry from the database by the params cache",
            m.cache_loads.clone(),
        );
        r.register(
            "registry_notifications",
            "Registry NOTIFYs received, each invalidating the params cache",
            m.notifications.clone(),
        );
        r.register(
            "database_reconnects",
            "Control sessions made again after the database connection was lost",
            m.reconnects.clone(),
        );
        r.register(
            "leader",
            "1 while this replica is the leader that runs cycles, else 0",
            m.leader.clone(),
        );
        r.register(
            "last_successful_cycle_timestamp_seconds",
            "Unix time at which the last cycle without a failed stage ended",
            m.last_success.clone(),
        );
        r.register(
            "ticks",
            "Ticks of the clock by what became of them: on_time, late, caught_up, missed",
            m.ticks.clone(),
        );
        let build: Family<BuildLabel, Gauge> = Family::default();
        build
            .get_or_create(&BuildLabel {
                version: build_version.to_owned(),
            })
            .set(1);
        r.register("build_info", "The runner's version", build);
        Telemetry {
            inner: Arc::new(Inner {
                registry: r,
                metrics,
                cache_loads_seen: AtomicU64::new(0),
                health: Mutex::new(health::State::new(interval)),
            }),
        }
    }

    fn m(&self) -> &Metrics {
        &self.inner.metrics
    }

    fn health_state(&self) -> std::sync::MutexGuard<'_, health::State> {
        // The state is a few plain fields, consistent after any update.
        self.inner
            .health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a cycle that ran: its duration, every stage, every run record
    /// of stage 10, and the pipeline's gauges (abandoned threads, cache
    /// loads). The one call `serve` makes per cycle; `ended_at` is when it
    /// ended (for `kcg_last_successful_cycle_timestamp_seconds` and health).
    pub fn record_cycle(
        &self,
        pipeline: &Pipeline,
        outcome: &CycleOutcome,
        ended_at: DateTime<Utc>,
    ) {
        let m = self.m();
        m.cycle_duration.observe(outcome.duration.as_secs_f64());
        for s in &outcome.stages {
            let stage = s.stage.name();
            m.stages
                .get_or_create(&StageStatusLabels {
                    stage,
                    status: s.status.as_str(),
                })
                .inc();
            if s.status != StageStatus::Skipped {
                m.stage_duration
                    .get_or_create(&StageLabel { stage })
                    .observe(s.duration.as_secs_f64());
            }
        }
        if let Some(report) = &outcome.registry {
            for v in &report.versions {
                let labels = VersionLabels {
                    model: v.model_id.clone(),
                    version: v.version.clone().unwrap_or_default(),
                    role: v.role.map_or("", model_api::Role::as_str),
                };
                m.runs
                    .get_or_create(&RunLabels {
                        model: labels.model.clone(),
                        version: labels.version.clone(),
                        role: labels.role,
                        status: v.status.as_str(),
                    })
                    .inc();
                // Stored: what the output policy kept of what it returned.
                let stored = v.output_count.saturating_sub(v.omitted_count);
                if stored > 0 {
                    m.outputs.get_or_create(&labels).inc_by(stored as u64);
                }
                if v.dropped_metrics > 0 {
                    m.dropped_metrics
                        .get_or_create(&labels)
                        .inc_by(v.dropped_metrics as u64);
                }
            }
        }
        let result = if outcome.failed.is_some() {
            CycleResult::StageFailed
        } else {
            CycleResult::Ok
        };
        self.count_cycle(result);
        self.observe_pipeline(pipeline);
        let mut h = self.health_state();
        if result == CycleResult::Ok {
            m.last_success
                .set(ended_at.timestamp_millis() as f64 / 1000.0);
            h.succeeded(ended_at);
        } else {
            h.failed(outcome.failed.as_ref().map_or_else(String::new, |f| {
                format!("stage {} failed: {}", f.stage, f.detail())
            }));
        }
    }

    /// Records a cycle that could not run or record itself, with the reason
    /// `/healthz` reports (the label is only `error`).
    pub fn record_cycle_error(&self, pipeline: &Pipeline, reason: &str) {
        self.count_cycle(CycleResult::Error);
        self.observe_pipeline(pipeline);
        self.health_state().failed(reason.to_owned());
    }

    fn count_cycle(&self, result: CycleResult) {
        self.m()
            .cycles
            .get_or_create(&OutcomeLabel {
                outcome: result.as_str(),
            })
            .inc();
    }

    /// Reads the pipeline's running totals into the metrics (also done by
    /// every `record_cycle`).
    pub fn observe_pipeline(&self, pipeline: &Pipeline) {
        let m = self.m();
        m.abandoned_threads
            .set(i64::try_from(pipeline.abandoned_threads()).unwrap_or(i64::MAX));
        let loads = pipeline.cache().load_count();
        let seen = self.inner.cache_loads_seen.swap(loads, Ordering::AcqRel);
        m.cache_loads.inc_by(loads.saturating_sub(seen));
    }

    /// This replica became the leader (`true`) or stopped leading.
    pub fn on_leadership(&self, leader: bool, at: DateTime<Utc>) {
        self.m().leader.set(i64::from(leader));
        self.health_state()
            .role(if leader { Role::Leader } else { Role::Follower }, at);
    }

    /// A registry NOTIFY arrived (and invalidated the params cache).
    pub fn on_notification(&self) {
        self.m().notifications.inc();
    }

    /// The control session was made again after a loss.
    pub fn on_reconnect(&self) {
        self.m().reconnects.inc();
    }

    /// What became of a tick.
    pub fn on_tick(&self, tick: Tick) {
        self.m()
            .ticks
            .get_or_create(&TickLabel {
                kind: tick.as_str(),
            })
            .inc();
    }

    /// The metrics in the OpenMetrics text format ([`CONTENT_TYPE`]), ending
    /// with `# EOF`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry);
        out
    }

    /// The health at `now`, given whether the database answers (`Err` with
    /// the reason when it does not); see [`HealthReport`].
    pub fn health(&self, now: DateTime<Utc>, database: Result<(), String>) -> HealthReport {
        self.health_state().report(now, database)
    }
}

#[cfg(test)]
mod tests;
