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
//! next. Ready PRIMARY versions are taken before ready candidates; a model's
//! candidates are queued as soon as its PRIMARY has built the inputs they
//! share.
//!
//! **Failures.** A model whose upstream failed is skipped once all its
//! upstream models are settled, naming the failed one first in plan order,
//! so the reason does not depend on which failure happened first.
//!
//! **Timeouts.** A version's clock starts when a worker takes it. The
//! coordinator (the `async` caller) sleeps until the earliest deadline or
//! until the cycle is done, whichever comes first; at a deadline it marks the
//! version `TIMEOUT` (a failure like any other for its dependents) and
//! enlists a replacement thread.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use model_api::{CycleTs, ModelOutput, Role, Upstream};
use registry::Plan;
use tokio::sync::Notify;

use crate::check::VersionLabel;
use crate::isolation::{
    CandidateJob, Checked, Failure, PersistOnly, PrimaryJob, PrimaryResult, RunInput, SharedResults,
};
use crate::pool::{Pool, Work};

/// The coordinator never sleeps shorter than this when waiting for a job
/// that has not started yet (keeps a zero timeout from spinning).
const MIN_WAKE: Duration = Duration::from_millis(1);

/// A plan turned into indices, with everything a worker needs,
/// in a handful of allocations (the executor's overhead per model is mostly
/// allocation): names live in one string, edges in flat arrays.
pub(crate) struct Prepared {
    models: Vec<ModelNode>,
    versions: Vec<VersionNode>,
    /// Model ids, version labels and input keys, concatenated.
    text: String,
    /// (upstream model, input key in `text`), grouped by model.
    inputs: Vec<(usize, Range<usize>)>,
    /// Dependent models, grouped by model.
    dependents: Vec<usize>,
}

struct ModelNode {
    /// In `Prepared::text`.
    id: Range<usize>,
    /// Indices into `Prepared::versions`; the first one is the PRIMARY.
    versions: Range<usize>,
    /// Into `Prepared::inputs`.
    inputs: Range<usize>,
    /// Into `Prepared::dependents`.
    dependents: Range<usize>,
    /// Distinct upstream models.
    upstream_count: usize,
}

enum Job {
    Primary(PrimaryJob),
    Candidate(CandidateJob),
}

struct VersionNode {
    model: usize,
    job: Job,
    /// In `Prepared::text`.
    version: Range<usize>,
    version_id: i64,
    role: Role,
    timeout: Duration,
}

/// rustc's FxHash: far cheaper than SipHash for short ids, and model ids come
/// from operators, not from an attacker.
#[derive(Default)]
struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxBuild = std::hash::BuildHasherDefault<FxHasher>;

fn intern(text: &mut String, s: &str) -> Range<usize> {
    let start = text.len();
    text.push_str(s);
    start..text.len()
}

impl Prepared {
    /// Indexes `plan`. A [`Plan`] only comes from the planner, so it is
    /// valid by construction (each model once, every input from an earlier
    /// level, the PRIMARY first, version ids distinct): nothing is checked
    /// again here.
    pub(crate) fn new(plan: &Plan, default_timeout: Duration) -> Self {
        let mut index: HashMap<&str, usize, FxBuild> =
            HashMap::with_capacity_and_hasher(plan.model_count(), FxBuild::default());
        let mut models = Vec::with_capacity(plan.model_count());
        let mut versions = Vec::with_capacity(plan.version_count());
        let mut text = String::new();
        let mut inputs = Vec::new();
        // (upstream, dependent), distinct, in dependent order.
        let mut edges: Vec<(usize, usize)> = Vec::new();
        for planned in plan.models() {
            let m = models.len();
            index.insert(planned.model_id.as_str(), m);
            let first_input = inputs.len();
            for edge in &planned.inputs {
                // Always found: every upstream is planned in an earlier level.
                if let Some(&u) = index.get(edge.upstream.as_str()) {
                    inputs.push((u, intern(&mut text, &edge.input_key)));
                }
            }
            let own = &mut inputs[first_input..];
            own.sort_unstable_by_key(|(u, _)| *u);
            let before = edges.len();
            for (i, (u, _)) in own.iter().enumerate() {
                if i == 0 || own[i - 1].0 != *u {
                    edges.push((*u, m));
                }
            }
            let first = versions.len();
            let all = std::iter::once(&planned.primary).chain(&planned.others);
            for (i, v) in all.enumerate() {
                let job = if i == 0 {
                    Job::Primary(PrimaryJob::of(m, planned))
                } else {
                    Job::Candidate(CandidateJob::of(v))
                };
                versions.push(VersionNode {
                    model: m,
                    job,
                    version: intern(&mut text, &v.version),
                    version_id: v.version_id,
                    role: v.role,
                    timeout: v.timeout.unwrap_or(default_timeout),
                });
            }
            models.push(ModelNode {
                id: intern(&mut text, planned.model_id.as_str()),
                versions: first..versions.len(),
                inputs: first_input..inputs.len(),
                dependents: 0..0,
                upstream_count: edges.len() - before,
            });
        }
        // Group the edges by upstream (a counting sort keeps dependents in
        // plan order).
        let mut start = vec![0_usize; models.len() + 1];
        for &(u, _) in &edges {
            start[u + 1] += 1;
        }
        for i in 0..models.len() {
            start[i + 1] += start[i];
        }
        let mut dependents = vec![0; edges.len()];
        let mut fill = start.clone();
        for &(u, d) in &edges {
            dependents[fill[u]] = d;
            fill[u] += 1;
        }
        for (m, node) in models.iter_mut().enumerate() {
            node.dependents = start[m]..start[m + 1];
        }
        Self {
            models,
            versions,
            text,
            inputs,
            dependents,
        }
    }

    pub(crate) fn version_count(&self) -> usize {
        self.versions.len()
    }

    fn model_id(&self, m: usize) -> &str {
        &self.text[self.models[m].id.clone()]
    }

    fn label(&self, v: usize) -> VersionLabel<'_> {
        let node = &self.versions[v];
        VersionLabel {
            model: self.model_id(node.model),
            version: &self.text[node.version.clone()],
            version_id: node.version_id,
            role: node.role,
        }
    }

    fn inputs_of(&self, m: usize) -> &[(usize, Range<usize>)] {
        &self.inputs[self.models[m].inputs.clone()]
    }

    fn dependents(&self, m: usize) -> &[usize] {
        &self.dependents[self.models[m].dependents.clone()]
    }
}

/// Why a version was skipped, by model position in the plan (formatted
/// once the cycle is over, where the plan's names are at hand).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    /// `root`'s PRIMARY failed; `via` is the direct upstream that failed
    /// or was skipped for it (`via == root` when it failed itself).
    Upstream { root: usize, via: usize },
    /// Unreachable by construction: `upstream` published nothing although
    /// it counted as settled.
    NoResult { upstream: usize },
}

/// What became of one version.
pub(crate) enum Outcome {
    Primary(Result<Checked<PrimaryResult>, Failure>),
    Candidate(Result<Checked<PersistOnly>, Failure>),
    TimedOut,
    Skipped(Skip),
    /// No worker thread could be started.
    NoWorker(String),
}

/// A resolved version.
pub(crate) struct Done {
    pub(crate) outcome: Outcome,
    pub(crate) started: Option<Instant>,
    pub(crate) duration: Duration,
}

impl Done {
    fn skipped(skip: Skip) -> Self {
        Done {
            outcome: Outcome::Skipped(skip),
            started: None,
            duration: Duration::ZERO,
        }
    }
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
        let label = &self.prepared.label(v);
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

/// The inputs a version runs on: its own when the model has no
/// candidates, shared with them otherwise.
enum Inputs {
    Own(Upstream),
    Shared(Arc<Upstream>),
}

impl Inputs {
    fn get(&self) -> &Upstream {
        match self {
            Inputs::Own(u) => u,
            Inputs::Shared(u) => u,
        }
    }
}

/// Works on `cycle` until nothing is left; `false` when abandoned.
fn worker(cycle: &Cycle) -> bool {
    let _dispatch = tracing::dispatcher::set_default(&cycle.dispatch);
    let p = &cycle.prepared;
    // Reused for every model this worker prepares the inputs of.
    let mut gathered: Vec<Arc<ModelOutput>> = Vec::new();
    let mut st = cycle.lock();
    // When the last job ended: the next one starts now, as far as timeouts
    // and durations go (within the bookkeeping's microsecond).
    let mut now = None;
    loop {
        if st.cancelled {
            return true;
        }
        let Some((v, started)) = st.pop(p, now.take()) else {
            if st.unresolved == 0 {
                return true;
            }
            st.idle += 1;
            st = cycle.work.wait(st).unwrap_or_else(PoisonError::into_inner);
            st.idle -= 1;
            continue;
        };
        let m = p.versions[v].model;
        let node = &p.models[m];
        let inputs = if v != node.versions.start {
            let inputs = Inputs::Shared(Arc::clone(&st.upstream[m]));
            drop(st);
            inputs
        } else if node.inputs.is_empty() {
            // A root model: its candidates can start right away.
            let pushed = st.queue_candidates(p, m);
            cycle.wake(&st, pushed, false);
            let inputs = Inputs::Shared(Arc::clone(&st.upstream[m]));
            drop(st);
            inputs
        } else {
            // The model's PRIMARY builds the inputs, outside the lock, then
            // hands them to its candidates.
            if let Err(skip) = st.gather(p, m, &mut gathered) {
                st.skip_model(p, m, skip);
                let pushed = st.settle(p, m, Some(m));
                cycle.wake(&st, pushed, true);
                continue;
            }
            drop(st);
            let mut upstream = Upstream::new();
            for ((_, key), output) in p.inputs_of(m).iter().zip(gathered.drain(..)) {
                upstream.insert(&p.text[key.clone()], output);
            }
            if node.versions.len() == 1 {
                Inputs::Own(upstream)
            } else {
                let upstream = Arc::new(upstream);
                let mut st = cycle.lock();
                st.upstream[m] = Arc::clone(&upstream);
                let pushed = st.queue_candidates(p, m);
                cycle.wake(&st, pushed, false);
                drop(st);
                Inputs::Shared(upstream)
            }
        };
        let outcome = cycle.run_version(v, inputs.get());
        drop(inputs);
        let end = Instant::now();
        st = cycle.lock();
        if !matches!(st.slots.get(v), Some(Slot::Running { .. })) {
            // Abandoned at its deadline: the coordinator has recorded
            // TIMEOUT and started a replacement. Discard and leave.
            drop(st);
            drop(outcome);
            cycle.abandoned.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        let done = Done {
            outcome,
            started: Some(started),
            duration: end - started,
        };
        let pushed = st.resolve(p, v, done);
        cycle.wake(&st, pushed, true);
        now = Some(end);
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

    /// Takes the next ready job (PRIMARY versions first) and marks it
    /// running since `now` (or this instant).
    fn pop(&mut self, p: &Prepared, now: Option<Instant>) -> Option<(usize, Instant)> {
        let v = self
            .primaries
            .pop_front()
            .or_else(|| self.candidates.pop_front())?;
        let started = now.unwrap_or_else(Instant::now);
        let deadline = started.checked_add(p.versions[v].timeout);
        self.slots[v] = Slot::Running { started, deadline };
        Some((v, started))
    }

    /// Model `m`'s upstream PRIMARY results, in `p.inputs_of(m)`'s order.
    fn gather(&self, p: &Prepared, m: usize, into: &mut Vec<Arc<ModelOutput>>) -> Result<(), Skip> {
        into.clear();
        for (u, _) in p.inputs_of(m) {
            match self.shared.get(*u) {
                Some(output) => into.push(Arc::clone(output)),
                // Unreachable by construction (ready means every upstream
                // PRIMARY published); never run blind.
                None => {
                    into.clear();
                    return Err(Skip::NoResult { upstream: *u });
                }
            }
        }
        Ok(())
    }

    /// Every upstream of model `m` published: queues its PRIMARY, which
    /// prepares the inputs and then queues the candidates.
    fn make_ready(&mut self, p: &Prepared, m: usize) -> usize {
        let first = p.models[m].versions.start;
        self.slots[first] = Slot::Ready;
        self.primaries.push_back(first);
        1
    }

    /// Queues model `m`'s candidates once its inputs are ready.
    fn queue_candidates(&mut self, p: &Prepared, m: usize) -> usize {
        let range = p.models[m].versions.clone();
        for v in range.start + 1..range.end {
            if matches!(self.slots[v], Slot::Waiting) {
                self.slots[v] = Slot::Ready;
                self.candidates.push_back(v);
            }
        }
        range.len() - 1
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
        // Models skipped on the way, settled in turn; allocates only then.
        let mut skipped: Vec<(usize, usize)> = Vec::new();
        let mut pushed = self.settle_one(p, m, failed_root, &mut skipped);
        while let Some((d, root)) = skipped.pop() {
            pushed += self.settle_one(p, d, Some(root), &mut skipped);
        }
        pushed
    }

    fn settle_one(
        &mut self,
        p: &Prepared,
        m: usize,
        failed_root: Option<usize>,
        skipped: &mut Vec<(usize, usize)>,
    ) -> usize {
        let mut pushed = 0;
        for &d in p.dependents(m) {
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
            let Some((via, root)) = self.blocked[d] else {
                pushed += self.make_ready(p, d);
                continue;
            };
            tracing::info!(
                model = p.model_id(d),
                failed_upstream = p.model_id(root),
                via = p.model_id(via),
                "model SKIPPED"
            );
            self.skip_model(p, d, Skip::Upstream { root, via });
            skipped.push((d, root));
        }
        pushed
    }

    fn skip_model(&mut self, p: &Prepared, m: usize, skip: Skip) {
        for v in p.models[m].versions.clone() {
            if !matches!(self.slots[v], Slot::Done(_)) {
                self.slots[v] = Slot::Done(Done::skipped(skip));
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
            let label = p.label(v);
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

impl Work for Cycle {
    fn work(&self) -> bool {
        worker(self)
    }
}

/// Enlists `n` pool threads, counting them as live; returns the last error
/// if some could not be started.
fn start_workers(pool: &Pool, cycle: &Arc<Cycle>, n: usize) -> Option<String> {
    cycle.lock().live_workers += n;
    let work: Arc<dyn Work> = Arc::clone(cycle) as Arc<dyn Work>;
    let (failed, error) = pool.enlist(&work, n);
    if failed > 0 {
        cycle.lock().live_workers -= failed;
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
    pool: &Pool,
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
                st.make_ready(&cycle.prepared, m);
            }
        }
    }
    let workers = workers.max(1).min(cycle.prepared.versions.len());
    let mut spawn_error = start_workers(pool, &cycle, workers);
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
            spawn_error = start_workers(pool, &cycle, replace).or(spawn_error);
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
