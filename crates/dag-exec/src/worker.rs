//! The worker loop: what a pool thread does for a cycle.
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
//! A worker takes a ready version from the [`Machine`], builds its inputs
//! (a PRIMARY gathers its upstream results and shares them with its
//! candidates), runs it outside the lock, and reports the end back. A
//! worker whose version is no longer running when it returns was abandoned
//! at the deadline: it discards the result and leaves.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use model_api::{CycleTs, ModelOutput, Upstream};
use tokio::sync::Notify;

use crate::isolation::{Checked, PersistOnly, PrimaryResult, RunInput, SharedResults};
use crate::pool::Work;
use crate::prepare::{Job, Prepared};
use crate::report::RunReason;
use crate::state::Machine;

/// What a version that ran produced.
pub(crate) enum Outcome {
    Primary(Result<Checked<PrimaryResult>, RunReason>),
    Candidate(Result<Checked<PersistOnly>, RunReason>),
}

/// Everything under the cycle's mutex.
pub(crate) struct CycleState {
    pub(crate) machine: Machine<Outcome>,
    /// Per model: its inputs, once ready. Shared by the PRIMARY and its
    /// candidates: they see the very same value.
    pub(crate) upstream: Vec<Arc<Upstream>>,
    pub(crate) shared: SharedResults,
    /// Workers waiting for a ready version.
    pub(crate) idle: usize,
    /// Workers enlisted and not abandoned.
    pub(crate) live_workers: usize,
    /// The caller went away.
    pub(crate) cancelled: bool,
}

/// One cycle, shared by its coordinator and its workers.
pub(crate) struct Cycle {
    pub(crate) prepared: Prepared,
    pub(crate) cycle_ts: CycleTs,
    pub(crate) base: Arc<dyn Any + Send + Sync>,
    pub(crate) dispatch: tracing::Dispatch,
    pub(crate) span: tracing::Span,
    pub(crate) state: Mutex<CycleState>,
    /// Workers wait here for ready jobs.
    pub(crate) work: Condvar,
    /// The coordinator waits here for the cycle's end.
    pub(crate) done: Notify,
    pub(crate) abandoned: Arc<AtomicUsize>,
}

impl Cycle {
    pub(crate) fn new(
        prepared: Prepared,
        cycle_ts: CycleTs,
        base: Arc<dyn Any + Send + Sync>,
        span: tracing::Span,
        abandoned: Arc<AtomicUsize>,
    ) -> Self {
        let models = prepared.topology.models.len();
        let empty = Arc::new(Upstream::new());
        let state = CycleState {
            machine: Machine::new(&prepared.topology),
            upstream: vec![empty; models],
            shared: SharedResults::new(models),
            idle: 0,
            live_workers: 0,
            cancelled: false,
        };
        Cycle {
            prepared,
            cycle_ts,
            base,
            dispatch: tracing::dispatcher::get_default(tracing::Dispatch::clone),
            span,
            state: Mutex::new(state),
            work: Condvar::new(),
            done: Notify::new(),
            abandoned,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, CycleState> {
        // No code panics while holding the lock (models run outside it);
        // recover anyway rather than turn a bug into a crashed cycle.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes whoever must act after `pushed` jobs were queued by a thread
    /// that is about to take one of them itself (`self_takes`), and logs
    /// the models skipped meanwhile.
    pub(crate) fn wake(&self, st: &mut CycleState, pushed: usize, self_takes: bool) {
        for (m, via, root) in st.machine.take_skipped() {
            let p = &self.prepared;
            tracing::info!(
                model = p.model_id(m),
                failed_upstream = p.model_id(root),
                via = p.model_id(via),
                "model SKIPPED"
            );
        }
        if st.machine.unresolved() == 0 {
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
        let outcome = match self.prepared.job(v) {
            Job::Primary(job) => Outcome::Primary(job.run(&input, label)),
            Job::Candidate(job) => Outcome::Candidate(job.run(&input, label)),
        };
        match &outcome {
            Outcome::Primary(Err(f)) | Outcome::Candidate(Err(f)) => {
                tracing::warn!(reason = %f, "version FAILED");
            }
            _ => tracing::debug!("version OK"),
        }
        outcome
    }
}

impl Work for Cycle {
    fn work(&self) -> bool {
        worker(self)
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

/// Model `m`'s upstream PRIMARY results, in `p.inputs_of(m)`'s order, or
/// the first upstream that published nothing.
fn gather(
    p: &Prepared,
    shared: &SharedResults,
    m: usize,
    into: &mut Vec<Arc<ModelOutput>>,
) -> Result<(), usize> {
    into.clear();
    for (u, _) in p.inputs_of(m) {
        match shared.get(u) {
            Some(output) => into.push(Arc::clone(output)),
            // Unreachable by construction (ready means every upstream
            // PRIMARY published); never run blind.
            None => {
                into.clear();
                return Err(u);
            }
        }
    }
    Ok(())
}

/// Works on `cycle` until nothing is left; `false` when abandoned.
fn worker(cycle: &Cycle) -> bool {
    let _dispatch = tracing::dispatcher::set_default(&cycle.dispatch);
    let p = &cycle.prepared;
    let t = &p.topology;
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
        let started = now.take().unwrap_or_else(Instant::now);
        let Some(v) = st.machine.pop(t, started) else {
            if st.machine.unresolved() == 0 {
                return true;
            }
            st.idle += 1;
            st = cycle.work.wait(st).unwrap_or_else(PoisonError::into_inner);
            st.idle -= 1;
            continue;
        };
        let m = t.version_model[v];
        let versions = t.models[m].versions.clone();
        let inputs = if v != versions.start {
            let inputs = Inputs::Shared(Arc::clone(&st.upstream[m]));
            drop(st);
            inputs
        } else if !p.has_inputs(m) {
            // A root model: its candidates can start right away.
            let pushed = st.machine.queue_candidates(t, m);
            cycle.wake(&mut st, pushed, false);
            let inputs = Inputs::Shared(Arc::clone(&st.upstream[m]));
            drop(st);
            inputs
        } else {
            // The model's PRIMARY builds the inputs, outside the lock, then
            // hands them to its candidates.
            if let Err(upstream) = gather(p, &st.shared, m, &mut gathered) {
                let pushed = st.machine.skip_unfed(t, m, upstream);
                cycle.wake(&mut st, pushed, true);
                continue;
            }
            drop(st);
            let mut upstream = Upstream::new();
            for ((_, key), output) in p.inputs_of(m).zip(gathered.drain(..)) {
                upstream.insert(key, output);
            }
            if versions.len() == 1 {
                Inputs::Own(upstream)
            } else {
                let upstream = Arc::new(upstream);
                let mut st = cycle.lock();
                st.upstream[m] = Arc::clone(&upstream);
                let pushed = st.machine.queue_candidates(t, m);
                cycle.wake(&mut st, pushed, false);
                drop(st);
                Inputs::Shared(upstream)
            }
        };
        let outcome = cycle.run_version(v, inputs.get());
        drop(inputs);
        let end = Instant::now();
        st = cycle.lock();
        if !st.machine.is_running(v) {
            // Abandoned at its deadline: the coordinator has recorded
            // TIMEOUT and started a replacement. Discard and leave.
            drop(st);
            drop(outcome);
            cycle.abandoned.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        let published = match &outcome {
            Outcome::Primary(Ok(checked)) => {
                st.shared.publish(&checked.result);
                true
            }
            _ => false,
        };
        let pushed = st.machine.finish(t, v, outcome, published, started, end);
        cycle.wake(&mut st, pushed, true);
        now = Some(end);
    }
}
