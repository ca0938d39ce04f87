//! Running a plan's versions on worker threads.
//!
//! **Why our own `std` threads, not `tokio::task::spawn_blocking` with a
//! semaphore.** A model that overruns its timeout cannot be killed, only
//! abandoned. A `spawn_blocking` task that never returns keeps a thread of
//! tokio's blocking pool and makes the runtime's shutdown wait for it (a
//! hung model would hang `runner serve`'s exit), and with a semaphore its
//! permit would either stay taken (the pool shrinks for good) or be
//! released while the thread still runs (the bound lies). A detached `std`
//! thread can be abandoned honestly: we stop waiting for it, count it
//! (`Executor::abandoned_threads`), start a replacement so the cycle keeps
//! its parallelism, and the thread ends on its own whenever the model
//! returns, its result discarded. Per-job dispatch through tokio would also
//! cost microseconds per model; here a worker takes the next ready job under
//! one mutex and hands a finished PRIMARY's dependents on without waking
//! anybody, which keeps the executor's overhead well under a microsecond per
//! model.
//!
//! **Order.** The plan's levels are a dependency order; execution follows
//! dependencies without a barrier between levels: a model becomes ready the
//! moment every upstream PRIMARY it reads has finished, so all versions of a
//! level run in parallel, and a slow SHADOW of one level never delays the
//! next. Ready PRIMARY versions are taken before ready candidates.
//!
//! **Timeouts.** A version's clock starts when a worker takes it. The
//! coordinator (the `async` caller) sleeps until the earliest deadline or
//! until the cycle is done, whichever comes first; at a deadline it marks the
//! version `TIMEOUT`, which for a PRIMARY skips its dependents at once.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use model_api::{CycleTs, ModelId, Role, Upstream};
use registry::Plan;
use tokio::sync::Notify;

use crate::check::VersionLabel;
use crate::isolation::{
    CandidateJob, Checked, Failure, PersistOnly, PrimaryJob, PrimaryResult, RunInput, SharedResults,
};

/// The coordinator never sleeps shorter than this when waiting for a job
/// that has not started yet (keeps a zero timeout from spinning).
const MIN_WAKE: Duration = Duration::from_millis(1);

/// A plan turned into indices, validated, with everything a worker needs.
pub(crate) struct Prepared {
    models: Vec<ModelNode>,
    versions: Vec<VersionNode>,
}

struct ModelNode {
    id: ModelId,
    /// Indices into `Prepared::versions`; the first one is the PRIMARY.
    versions: Range<usize>,
    /// (upstream model, input key), as the plan lists them.
    inputs: Vec<(usize, String)>,
    /// Distinct upstream models.
    upstream_count: usize,
    dependents: Vec<usize>,
}

enum Job {
    Primary(PrimaryJob),
    Candidate(CandidateJob),
}

struct VersionNode {
    model: usize,
    job: Job,
    label: VersionLabel,
    timeout: Duration,
}

impl Prepared {
    /// Validates and indexes `plan`; the error says what is wrong with it.
    pub(crate) fn new(plan: &Plan, default_timeout: Duration) -> Result<Self, String> {
        let mut index: HashMap<&str, (usize, usize)> = HashMap::with_capacity(plan.model_count());
        let mut version_ids = HashMap::with_capacity(plan.version_count());
        let mut models = Vec::with_capacity(plan.model_count());
        let mut versions = Vec::with_capacity(plan.version_count());
        for (level, planned_models) in plan.levels.iter().enumerate() {
            for planned in planned_models {
                let m = models.len();
                if index
                    .insert(planned.model_id.as_str(), (m, level))
                    .is_some()
                {
                    return Err(format!("model {} is planned twice", planned.model_id));
                }
                let mut inputs = Vec::with_capacity(planned.inputs.len());
                for edge in &planned.inputs {
                    match index.get(edge.upstream.as_str()) {
                        Some(&(u, up_level)) if up_level < level => {
                            inputs.push((u, edge.input_key.clone()))
                        }
                        _ => {
                            return Err(format!(
                                "model {} (level {level}) reads input {:?} from {}, which is not planned in an earlier level",
                                planned.model_id, edge.input_key, edge.upstream
                            ));
                        }
                    }
                }
                let first = versions.len();
                let all = std::iter::once(&planned.primary).chain(&planned.others);
                for (i, v) in all.enumerate() {
                    let is_primary = i == 0;
                    if is_primary != (v.role == Role::Primary) {
                        return Err(format!(
                            "model {}: version {} (id {}) has role {} as {}",
                            planned.model_id,
                            v.version,
                            v.version_id,
                            v.role,
                            if is_primary {
                                "the PRIMARY"
                            } else {
                                "one of the others"
                            }
                        ));
                    }
                    if let Some(other) = version_ids.insert(v.version_id, planned.model_id.as_str())
                    {
                        return Err(format!(
                            "version id {} is planned twice (models {other} and {})",
                            v.version_id, planned.model_id
                        ));
                    }
                    let job = if is_primary {
                        Job::Primary(PrimaryJob::of(m, planned))
                    } else {
                        Job::Candidate(CandidateJob::of(v))
                    };
                    versions.push(VersionNode {
                        model: m,
                        job,
                        label: VersionLabel {
                            model: planned.model_id.clone(),
                            version: v.version.clone(),
                            version_id: v.version_id,
                            role: v.role,
                        },
                        timeout: v.timeout.unwrap_or(default_timeout),
                    });
                }
                let mut distinct: Vec<usize> = inputs.iter().map(|(u, _)| *u).collect();
                distinct.sort_unstable();
                distinct.dedup();
                models.push(ModelNode {
                    id: planned.model_id.clone(),
                    versions: first..versions.len(),
                    inputs,
                    upstream_count: distinct.len(),
                    dependents: Vec::new(),
                });
                for u in distinct {
                    models[u].dependents.push(m);
                }
            }
        }
        Ok(Self { models, versions })
    }

    pub(crate) fn version_count(&self) -> usize {
        self.versions.len()
    }
}

/// What became of one version.
pub(crate) enum Outcome {
    Primary(Result<Checked<PrimaryResult>, Failure>),
    Candidate(Result<Checked<PersistOnly>, Failure>),
    TimedOut,
    Skipped(String),
    /// No worker thread could be started.
    NoWorker(String),
}

/// A resolved version.
pub(crate) struct Done {
    pub(crate) outcome: Outcome,
    pub(crate) started: Option<Instant>,
    pub(crate) duration: Duration,
}

enum Slot {
    Waiting,
    Ready,
    Running {
        started: Instant,
        deadline: Option<Instant>,
    },
    Done(Done),
}

struct State {
    primaries: VecDeque<usize>,
    candidates: VecDeque<usize>,
    slots: Vec<Slot>,
    /// Per model: upstream models not settled yet.
    waiting_on: Vec<usize>,
    /// Per model: (failed or skipped upstream, the failure at its root), the
    /// upstream with the smallest plan position.
    blocked: Vec<Option<(usize, usize)>>,
    /// Per model: its inputs, once ready. Shared by the PRIMARY and its
    /// candidates: they see the very same value.
    upstream: Vec<Arc<Upstream>>,
    shared: SharedResults,
    unresolved: usize,
    idle: usize,
    live_workers: usize,
    cancelled: bool,
}

struct Cycle {
    prepared: Prepared,
    cycle_ts: CycleTs,
    base: Arc<dyn Any + Send + Sync>,
    dispatch: tracing::Dispatch,
    span: tracing::Span,
    state: Mutex<State>,
    /// Workers wait here for ready jobs.
    work: Condvar,
    /// The coordinator waits here for the cycle's end.
    done: Notify,
    abandoned: Arc<AtomicUsize>,
}

impl Cycle {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding the lock (models run outside it);
        // recover anyway rather than turn a bug into a crashed cycle.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes whoever must act after `pushed` jobs were queued by a thread
    /// that is about to take one of them itself (`self_takes`).
    fn wake(&self, st: &State, pushed: usize, self_takes: bool) {
        if st.unresolved == 0 {
            self.work.notify_all();
            self.done.notify_one();
            return;
        }
        let others = if self_takes {
            pushed.saturating_sub(1)
        } else {
            pushed
        };
        for _ in 0..others.min(st.idle) {
            self.work.notify_one();
        }
    }

    fn run_version(&self, v: usize, upstream: &Upstream) -> Outcome {
        let node = &self.prepared.versions[v];
        let label = &node.label;
        let span = tracing::info_span!(
            parent: &self.span,
            "model_version",
            model = %label.model,
            version = %label.version,
            version_id = label.version_id,
            role = %label.role,
        );
        let _entered = span.enter();
        let input = RunInput {
            cycle_ts: self.cycle_ts,
            base: &*self.base,
            upstream,
        };
        let outcome = match &node.job {
            Job::Primary(job) => Outcome::Primary(job.run(&input, label)),
            Job::Candidate(job) => Outcome::Candidate(job.run(&input, label)),
        };
        let failure = match &outcome {
            Outcome::Primary(Err(f)) | Outcome::Candidate(Err(f)) => Some(f),
            _ => None,
        };
        match failure {
            Some(f) => tracing::warn!(reason = %f.reason(), "version FAILED"),
            None => tracing::debug!("version OK"),
        }
        outcome
    }
}

fn worker(cycle: &Cycle) {
    let _dispatch = tracing::dispatcher::set_default(&cycle.dispatch);
    let mut st = cycle.lock();
    loop {
        if st.cancelled {
            return;
        }
        if let Some((v, started)) = st.pop(&cycle.prepared) {
            let upstream = Arc::clone(&st.upstream[cycle.prepared.versions[v].model]);
            drop(st);
            let outcome = cycle.run_version(v, &upstream);
            let duration = started.elapsed();
            drop(upstream);
            st = cycle.lock();
            if !matches!(st.slots.get(v), Some(Slot::Running { .. })) {
                // Abandoned at its deadline: the coordinator has recorded
                // TIMEOUT and started a replacement. Discard and leave.
                drop(st);
                drop(outcome);
                cycle.abandoned.fetch_sub(1, Ordering::Relaxed);
                return;
            }
            let pushed = st.resolve(
                &cycle.prepared,
                v,
                Done {
                    outcome,
                    started: Some(started),
                    duration,
                },
            );
            cycle.wake(&st, pushed, true);
            continue;
        }
        if st.unresolved == 0 {
            return;
        }
        st.idle += 1;
        st = cycle.work.wait(st).unwrap_or_else(PoisonError::into_inner);
        st.idle -= 1;
    }
}

impl State {
    fn new(p: &Prepared) -> Self {
        let empty = Arc::new(Upstream::new());
        State {
            primaries: VecDeque::new(),
            candidates: VecDeque::new(),
            slots: (0..p.versions.len()).map(|_| Slot::Waiting).collect(),
            waiting_on: p.models.iter().map(|m| m.upstream_count).collect(),
            blocked: vec![None; p.models.len()],
            upstream: vec![empty; p.models.len()],
            shared: SharedResults::new(p.models.len()),
            unresolved: p.versions.len(),
            idle: 0,
            live_workers: 0,
            cancelled: false,
        }
    }

    fn pop(&mut self, p: &Prepared) -> Option<(usize, Instant)> {
        let v = self
            .primaries
            .pop_front()
            .or_else(|| self.candidates.pop_front())?;
        let started = Instant::now();
        let deadline = started.checked_add(p.versions[v].timeout);
        self.slots[v] = Slot::Running { started, deadline };
        Some((v, started))
    }

    /// Builds model `m`'s inputs from the shared map and queues its
    /// versions. Returns how many jobs were queued, or why it cannot run.
    fn make_ready(&mut self, p: &Prepared, m: usize) -> Result<usize, String> {
        let node = &p.models[m];
        if !node.inputs.is_empty() {
            let mut upstream = Upstream::new();
            for (u, key) in &node.inputs {
                match self.shared.get(*u) {
                    Some(output) => upstream.insert(key.clone(), Arc::clone(output)),
                    // Unreachable by construction (ready means every
                    // upstream PRIMARY published); never run blind.
                    None => return Err(format!("upstream {} produced no result", p.models[*u].id)),
                }
            }
            self.upstream[m] = Arc::new(upstream);
        }
        let range = node.versions.clone();
        for v in range.clone() {
            self.slots[v] = Slot::Ready;
        }
        self.primaries.push_back(range.start);
        self.candidates.extend(range.start + 1..range.end);
        Ok(range.len())
    }

    /// Records `done` for version `v`. For a PRIMARY, tells its dependents.
    /// Returns how many jobs were queued.
    fn resolve(&mut self, p: &Prepared, v: usize, done: Done) -> usize {
        let m = p.versions[v].model;
        let published = match &done.outcome {
            Outcome::Primary(Ok(checked)) => {
                self.shared.publish(&checked.result);
                true
            }
            _ => false,
        };
        self.slots[v] = Slot::Done(done);
        self.unresolved -= 1;
        if v != p.models[m].versions.start {
            return 0;
        }
        self.settle(p, m, if published { None } else { Some(m) })
    }

    /// Model `m`'s PRIMARY is settled: published (`failed_root` `None`) or
    /// not, because of `failed_root`'s failure. A dependent waits for all its
    /// upstream models, then runs, or is skipped naming the failed upstream
    /// with the smallest plan position, so the reason does not depend on
    /// which failure happened first. Returns how many jobs were queued.
    fn settle(&mut self, p: &Prepared, m: usize, failed_root: Option<usize>) -> usize {
        let mut pushed = 0;
        let mut work = vec![(m, failed_root)];
        while let Some((m, failed_root)) = work.pop() {
            for &d in &p.models[m].dependents {
                if let Some(root) = failed_root {
                    match self.blocked[d] {
                        Some((from, _)) if from <= m => {}
                        _ => self.blocked[d] = Some((m, root)),
                    }
                }
                self.waiting_on[d] -= 1;
                if self.waiting_on[d] > 0 {
                    continue;
                }
                let reason = match self.blocked[d] {
                    None => match self.make_ready(p, d) {
                        Ok(n) => {
                            pushed += n;
                            continue;
                        }
                        Err(reason) => {
                            work.push((d, Some(d)));
                            reason
                        }
                    },
                    Some((from, root)) => {
                        work.push((d, Some(root)));
                        if from == root {
                            format!("upstream {} failed", p.models[root].id)
                        } else {
                            format!(
                                "upstream {} failed (via {})",
                                p.models[root].id, p.models[from].id
                            )
                        }
                    }
                };
                tracing::info!(model = %p.models[d].id, %reason, "model SKIPPED");
                self.skip_model(p, d, &reason);
            }
        }
        pushed
    }

    fn skip_model(&mut self, p: &Prepared, m: usize, reason: &str) {
        for v in p.models[m].versions.clone() {
            if !matches!(self.slots[v], Slot::Done(_)) {
                self.slots[v] = Slot::Done(Done {
                    outcome: Outcome::Skipped(reason.to_owned()),
                    started: None,
                    duration: Duration::ZERO,
                });
                self.unresolved -= 1;
            }
        }
    }

    /// Marks every running version past its deadline `TIMEOUT`. Returns how
    /// many, and when to look again.
    fn expire(&mut self, p: &Prepared, now: Instant) -> (usize, Option<Instant>) {
        let mut next: Option<Instant> = None;
        let mut pending_timeout: Option<Duration> = None;
        let mut expired = Vec::new();
        for (v, slot) in self.slots.iter().enumerate() {
            match slot {
                Slot::Running {
                    started,
                    deadline: Some(deadline),
                } if *deadline <= now => {
                    expired.push((v, *started));
                }
                Slot::Running {
                    deadline: Some(deadline),
                    ..
                } => {
                    next = Some(next.map_or(*deadline, |n| n.min(*deadline)));
                }
                Slot::Waiting | Slot::Ready => {
                    let t = p.versions[v].timeout;
                    pending_timeout = Some(pending_timeout.map_or(t, |p| p.min(t)));
                }
                Slot::Running { deadline: None, .. } | Slot::Done(_) => {}
            }
        }
        for &(v, started) in &expired {
            let label = &p.versions[v].label;
            tracing::warn!(
                model = %label.model,
                version = %label.version,
                version_id = label.version_id,
                role = %label.role,
                timeout_ms = p.versions[v].timeout.as_millis(),
                "version TIMEOUT: its thread is abandoned and its result will be discarded"
            );
            let done = Done {
                outcome: Outcome::TimedOut,
                started: Some(started),
                duration: now - started,
            };
            self.resolve(p, v, done);
        }
        // A job that has not started cannot expire before now + its timeout.
        if let Some(t) = pending_timeout.and_then(|t| now.checked_add(t.max(MIN_WAKE))) {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        (expired.len(), next)
    }

    /// No worker thread exists and none can be started: every version still
    /// waiting fails with `why` rather than waiting forever.
    fn fail_unstarted(&mut self, why: &str) {
        self.primaries.clear();
        self.candidates.clear();
        for slot in &mut self.slots {
            if matches!(slot, Slot::Waiting | Slot::Ready) {
                *slot = Slot::Done(Done {
                    outcome: Outcome::NoWorker(why.to_owned()),
                    started: None,
                    duration: Duration::ZERO,
                });
                self.unresolved -= 1;
            }
        }
    }
}

/// Stops a cycle whose coordinator went away (the caller dropped the
/// future): queued jobs are dropped and workers leave after their current
/// model.
struct CancelOnDrop<'a>(&'a Cycle);

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        if st.unresolved > 0 {
            st.cancelled = true;
            st.primaries.clear();
            st.candidates.clear();
        }
        drop(st);
        self.0.work.notify_all();
    }
}

fn spawn_worker(cycle: &Arc<Cycle>) -> std::io::Result<()> {
    let cycle = Arc::clone(cycle);
    std::thread::Builder::new()
        .name("dag-exec-worker".into())
        .spawn(move || worker(&cycle))
        .map(drop)
}

/// Starts `n` workers, counting them as live; returns the last spawn error
/// if any failed.
fn start_workers(cycle: &Arc<Cycle>, n: usize) -> Option<String> {
    cycle.lock().live_workers += n;
    let mut error = None;
    for _ in 0..n {
        if let Err(e) = spawn_worker(cycle) {
            tracing::error!(error = %e, "cannot start a dag-exec worker thread");
            cycle.lock().live_workers -= 1;
            error = Some(e.to_string());
        }
    }
    error
}

/// Runs every version of `prepared` and returns one [`Done`] per version, in
/// `prepared`'s order (the plan's: level by level, model by model, PRIMARY
/// then others).
pub(crate) async fn run(
    prepared: Prepared,
    cycle_ts: CycleTs,
    base: Arc<dyn Any + Send + Sync>,
    workers: usize,
    abandoned: Arc<AtomicUsize>,
    span: tracing::Span,
) -> Vec<Done> {
    let state = State::new(&prepared);
    let cycle = Arc::new(Cycle {
        prepared,
        cycle_ts,
        base,
        dispatch: tracing::dispatcher::get_default(tracing::Dispatch::clone),
        span,
        state: Mutex::new(state),
        work: Condvar::new(),
        done: Notify::new(),
        abandoned,
    });
    let cancel = CancelOnDrop(&cycle);
    {
        let mut st = cycle.lock();
        for m in 0..cycle.prepared.models.len() {
            if cycle.prepared.models[m].upstream_count == 0 {
                // A model without inputs cannot lack one.
                let _ = st.make_ready(&cycle.prepared, m);
            }
        }
    }
    let workers = workers.max(1).min(cycle.prepared.versions.len());
    let mut spawn_error = start_workers(&cycle, workers);
    loop {
        let (wake_at, replace) = {
            let mut st = cycle.lock();
            if st.live_workers == 0 && st.unresolved > 0 {
                let why = format!(
                    "no worker thread could be started: {}",
                    spawn_error.as_deref().unwrap_or("unknown error")
                );
                st.fail_unstarted(&why);
            }
            let (expired, next) = st.expire(&cycle.prepared, Instant::now());
            if expired > 0 {
                cycle.abandoned.fetch_add(expired, Ordering::Relaxed);
                st.live_workers -= expired;
            }
            if st.unresolved == 0 {
                cycle.wake(&st, 0, false);
                break;
            }
            (next, expired)
        };
        if replace > 0 {
            spawn_error = start_workers(&cycle, replace).or(spawn_error);
            continue;
        }
        match wake_at {
            Some(at) => {
                let _ = tokio::time::timeout_at(at.into(), cycle.done.notified()).await;
            }
            None => cycle.done.notified().await,
        }
    }
    drop(cancel);
    let slots = {
        let mut st = cycle.lock();
        st.upstream.clear();
        st.shared = SharedResults::new(0);
        std::mem::take(&mut st.slots)
    };
    let done = slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Done(done) => done,
            // Unreachable: the loop above ends only when nothing is unresolved.
            Slot::Waiting | Slot::Ready | Slot::Running { .. } => Done {
                outcome: Outcome::NoWorker("the executor lost track of this version".into()),
                started: None,
                duration: Duration::ZERO,
            },
        })
        .collect();
    // Abandoned workers may still hold the cycle (and drop it whenever
    // their model returns); everything they could touch was taken out above.
    done
}
