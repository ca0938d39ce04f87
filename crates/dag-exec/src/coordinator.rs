//! The `async` side of a cycle: enlists the workers, sleeps until the
//! earliest deadline or the cycle's end, whichever comes first, and at a
//! deadline has the [`Machine`](crate::state::Machine) mark the version
//! `TIMEOUT` (a failure like any other for its dependents) and enlists a
//! replacement thread. A version's clock starts when a worker takes it.
//!
//! Dropping the future (the caller gave up) cancels the cycle: queued
//! versions are never handed out, and workers leave after their current
//! model.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use model_api::CycleTs;

use crate::isolation::SharedResults;
use crate::pool::{Pool, Work};
use crate::prepare::Prepared;
use crate::state::Done;
use crate::worker::{Cycle, Outcome};

/// Stops a cycle whose coordinator went away (the caller dropped the
/// future): queued jobs are dropped and workers leave after their current
/// model.
struct CancelOnDrop<'a>(&'a Cycle);

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        if st.machine.unresolved() > 0 {
            st.cancelled = true;
            st.machine.cancel();
        }
        drop(st);
        self.0.work.notify_all();
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
) -> Vec<Done<Outcome>> {
    let workers = workers.max(1).min(prepared.version_count());
    let cycle = Arc::new(Cycle::new(prepared, cycle_ts, base, span, abandoned));
    let cancel = CancelOnDrop(&cycle);
    let mut spawn_error = start_workers(pool, &cycle, workers);
    loop {
        let (wake_at, replace) = {
            let mut st = cycle.lock();
            if st.live_workers == 0 && st.machine.unresolved() > 0 {
                let error = spawn_error.as_deref().unwrap_or("unknown error");
                st.machine.fail_unstarted(error);
            }
            let p = &cycle.prepared;
            let (expired, next) = st.machine.expire(&p.topology, Instant::now());
            for &(v, _) in &expired {
                let label = p.label(v);
                tracing::warn!(
                    model = %label.model,
                    version = %label.version,
                    version_id = label.version_id,
                    role = %label.role,
                    timeout_ms = p.topology.timeouts[v].as_millis(),
                    "version TIMEOUT: its thread is abandoned and its result will be discarded"
                );
            }
            if !expired.is_empty() {
                cycle.abandoned.fetch_add(expired.len(), Ordering::Relaxed);
                st.live_workers -= expired.len();
            }
            if st.machine.unresolved() == 0 {
                cycle.wake(&mut st, 0, false);
                break;
            }
            // Log the models the timeouts skipped.
            cycle.wake(&mut st, 0, false);
            (next, expired.len())
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
    let machine = {
        let mut st = cycle.lock();
        st.upstream.clear();
        st.shared = SharedResults::new(0);
        std::mem::replace(
            &mut st.machine,
            crate::state::Machine::new(&crate::state::Topology::default()),
        )
    };
    // Abandoned workers may still hold the cycle (and drop it whenever
    // their model returns); everything they could touch was taken out above.
    machine.into_done()
}
