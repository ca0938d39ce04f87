//! The executor's worker threads, kept between cycles.
//!
//! A cycle enlists up to `workers` threads; idle ones are reused, missing
//! ones started. A thread whose model overran its timeout is abandoned by
//! its cycle: when (if ever) the model returns, that thread ends instead of
//! coming back, so the pool holds at most `workers` idle threads plus the
//! abandoned ones still stuck in a model. Dropping the last clone of the
//! `Executor` lets idle threads end.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// What a thread does for a cycle; returns whether the thread may be
/// reused (`false` once the cycle abandoned it).
pub(crate) trait Work: Send + Sync + 'static {
    fn work(&self) -> bool;
}

pub(crate) struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// Idle threads beyond this many end.
    max_idle: usize,
}

struct State {
    queue: VecDeque<Arc<dyn Work>>,
    idle: usize,
    shutdown: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Pool {
    pub(crate) fn new(max_idle: usize) -> Self {
        let state = State {
            queue: VecDeque::new(),
            idle: 0,
            shutdown: false,
        };
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                wake: Condvar::new(),
                max_idle,
            }),
        }
    }

    /// Has `n` threads run `work`, starting threads where no idle one is
    /// available. Returns how many could not be started and the last error.
    pub(crate) fn enlist(&self, work: &Arc<dyn Work>, n: usize) -> (usize, Option<String>) {
        let mut st = self.shared.lock();
        let available = st.idle.saturating_sub(st.queue.len());
        st.queue.extend((0..n).map(|_| Arc::clone(work)));
        let missing = n.saturating_sub(available);
        let wake = n - missing;
        drop(st);
        for _ in 0..wake {
            self.shared.wake.notify_one();
        }
        let mut failed = 0;
        let mut error = None;
        for _ in 0..missing {
            let shared = Arc::clone(&self.shared);
            let spawned = std::thread::Builder::new()
                .name("dag-exec-worker".into())
                .spawn(move || thread_main(&shared));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a dag-exec worker thread");
                failed += 1;
                error = Some(e.to_string());
            }
        }
        if failed > 0 {
            // Take back the entries no thread will ever pick up.
            let mut st = self.shared.lock();
            for _ in 0..failed {
                if let Some(i) = st.queue.iter().rposition(|w| Arc::ptr_eq(w, work)) {
                    st.queue.remove(i);
                }
            }
        }
        (failed, error)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.wake.notify_all();
    }
}

fn thread_main(shared: &Shared) {
    let mut st = shared.lock();
    loop {
        if let Some(work) = st.queue.pop_front() {
            drop(st);
            let reusable = work.work();
            drop(work);
            if !reusable {
                return;
            }
            st = shared.lock();
            continue;
        }
        if st.shutdown || st.idle >= shared.max_idle {
            return;
        }
        st.idle += 1;
        st = shared.wake.wait(st).unwrap_or_else(PoisonError::into_inner);
        st.idle -= 1;
    }
}
