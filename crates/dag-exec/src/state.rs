//! The scheduling state machine: which versions are waiting, ready,
//! running or done, what a finished PRIMARY unblocks, what a failed one
//! skips, and which running version is past its deadline.
//!
//! It does no I/O, starts no thread, reads no clock and logs nothing:
//! every instant comes from the caller, every decision is returned. The
//! worker threads and the coordinator drive it under one mutex; the tests
//! below drive it alone, with made-up instants.
//!
//! **Order.** A model becomes ready the moment every upstream PRIMARY it
//! reads has finished `OK` (no barrier between the plan's levels). Ready
//! PRIMARY versions are handed out before ready candidates; a model's
//! candidates are queued once its PRIMARY has built the inputs they share
//! ([`Machine::queue_candidates`]). Only a PRIMARY's end settles its
//! model: a candidate's end never unblocks or skips anything.
//!
//! **Failures.** A model whose upstream failed is skipped once all its
//! upstream models are settled, naming the failed one with the smallest
//! plan position, so the reason does not depend on which failure happened
//! first; its own dependents are skipped in turn.

use std::collections::VecDeque;
use std::ops::Range;
use std::time::{Duration, Instant};

/// The coordinator never sleeps shorter than this when waiting for a job
/// that has not started yet (keeps a zero timeout from spinning).
pub(crate) const MIN_WAKE: Duration = Duration::from_millis(1);

/// The shape of a prepared plan, by position: what the state machine needs
/// and nothing else (no model, no name).
#[derive(Debug, Clone, Default)]
pub(crate) struct Topology {
    pub(crate) models: Vec<ModelShape>,
    /// Dependent models, grouped by model (see `ModelShape::dependents`).
    pub(crate) dependents: Vec<usize>,
    /// Per version: its model.
    pub(crate) version_model: Vec<usize>,
    /// Per version: its timeout.
    pub(crate) timeouts: Vec<Duration>,
}

/// One model of a [`Topology`].
#[derive(Debug, Clone)]
pub(crate) struct ModelShape {
    /// Its versions; the first one is the PRIMARY.
    pub(crate) versions: Range<usize>,
    /// Into `Topology::dependents`.
    pub(crate) dependents: Range<usize>,
    /// Distinct upstream models.
    pub(crate) upstream_count: usize,
}

impl Topology {
    pub(crate) fn version_count(&self) -> usize {
        self.version_model.len()
    }

    pub(crate) fn dependents(&self, m: usize) -> &[usize] {
        &self.dependents[self.models[m].dependents.clone()]
    }

    pub(crate) fn is_primary(&self, v: usize) -> bool {
        self.models[self.version_model[v]].versions.start == v
    }
}

/// Why a version was skipped, by model position in the plan (named once
/// the cycle is over, where the plan's names are at hand).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    /// `root`'s PRIMARY failed; `via` is the direct upstream that failed
    /// or was skipped for it (`via == root` when it failed itself).
    Upstream { root: usize, via: usize },
    /// Unreachable by construction: `upstream` published nothing although
    /// it counted as settled.
    NoResult { upstream: usize },
}

/// How a version ended.
#[derive(Debug)]
pub(crate) enum End<O> {
    /// It ran and returned (well or badly): what the worker made of it.
    Ran(O),
    /// It was running past its deadline.
    TimedOut,
    Skipped(Skip),
    /// No worker thread could be started, with the error.
    NoWorker(String),
}

/// A resolved version.
#[derive(Debug)]
pub(crate) struct Done<O> {
    pub(crate) end: End<O>,
    pub(crate) started: Option<Instant>,
    pub(crate) duration: Duration,
}

impl<O> Done<O> {
    fn unstarted(end: End<O>) -> Self {
        Done {
            end,
            started: None,
            duration: Duration::ZERO,
        }
    }
}

#[derive(Debug)]
enum Slot<O> {
    Waiting,
    Ready,
    Running {
        started: Instant,
        deadline: Option<Instant>,
    },
    Done(Done<O>),
}

/// A model skipped because of a failed upstream: (model, via, root).
pub(crate) type Skipped = (usize, usize, usize);

/// The bookkeeping of one cycle; `O` is what a finished run produced.
#[derive(Debug)]
pub(crate) struct Machine<O> {
    primaries: VecDeque<usize>,
    candidates: VecDeque<usize>,
    slots: Vec<Slot<O>>,
    /// Per model: upstream models not settled yet.
    waiting_on: Vec<usize>,
    /// Per model: (failed or skipped upstream, the failure at its root), the
    /// upstream with the smallest plan position.
    blocked: Vec<Option<(usize, usize)>>,
    unresolved: usize,
    /// Models skipped since the last [`Machine::take_skipped`].
    skipped: Vec<Skipped>,
}

impl<O> Machine<O> {
    /// Every version waiting; the root models' PRIMARY versions queued.
    pub(crate) fn new(t: &Topology) -> Self {
        let mut machine = Machine {
            primaries: VecDeque::new(),
            candidates: VecDeque::new(),
            slots: (0..t.version_count()).map(|_| Slot::Waiting).collect(),
            waiting_on: t.models.iter().map(|m| m.upstream_count).collect(),
            blocked: vec![None; t.models.len()],
            unresolved: t.version_count(),
            skipped: Vec::new(),
        };
        for (m, shape) in t.models.iter().enumerate() {
            if shape.upstream_count == 0 {
                machine.make_ready(t, m);
            }
        }
        machine
    }

    /// Versions not done yet.
    pub(crate) fn unresolved(&self) -> usize {
        self.unresolved
    }

    /// Takes the next ready version (PRIMARY versions first) and marks it
    /// running since `now`.
    pub(crate) fn pop(&mut self, t: &Topology, now: Instant) -> Option<usize> {
        let v = self
            .primaries
            .pop_front()
            .or_else(|| self.candidates.pop_front())?;
        let deadline = now.checked_add(t.timeouts[v]);
        self.slots[v] = Slot::Running {
            started: now,
            deadline,
        };
        Some(v)
    }

    /// Whether `v` is running (a worker that finds its version no longer
    /// running was abandoned at the deadline).
    pub(crate) fn is_running(&self, v: usize) -> bool {
        matches!(self.slots.get(v), Some(Slot::Running { .. }))
    }

    /// Every upstream of model `m` published: queues its PRIMARY, which
    /// prepares the inputs and then queues the candidates.
    fn make_ready(&mut self, t: &Topology, m: usize) {
        let first = t.models[m].versions.start;
        self.slots[first] = Slot::Ready;
        self.primaries.push_back(first);
    }

    /// Queues model `m`'s candidates once its inputs are ready. Returns how
    /// many.
    pub(crate) fn queue_candidates(&mut self, t: &Topology, m: usize) -> usize {
        let range = t.models[m].versions.clone();
        let mut queued = 0;
        for v in range.start + 1..range.end {
            if matches!(self.slots[v], Slot::Waiting) {
                self.slots[v] = Slot::Ready;
                self.candidates.push_back(v);
                queued += 1;
            }
        }
        queued
    }

    /// Records the end of running version `v`, which ran from `started` to
    /// `end`. `published` says whether it was a PRIMARY whose result its
    /// dependents can read. Returns how many versions were queued.
    pub(crate) fn finish(
        &mut self,
        t: &Topology,
        v: usize,
        outcome: O,
        published: bool,
        started: Instant,
        end: Instant,
    ) -> usize {
        let done = Done {
            end: End::Ran(outcome),
            started: Some(started),
            duration: end.saturating_duration_since(started),
        };
        self.resolve(t, v, done, published)
    }

    fn resolve(&mut self, t: &Topology, v: usize, done: Done<O>, published: bool) -> usize {
        self.slots[v] = Slot::Done(done);
        self.unresolved -= 1;
        if !t.is_primary(v) {
            return 0;
        }
        let m = t.version_model[v];
        self.settle(t, m, if published { None } else { Some(m) })
    }

    /// Model `m`'s PRIMARY, ready to run, cannot get an upstream result
    /// (unreachable by construction): the model is skipped, and so are its
    /// dependents. Returns how many versions were queued (none).
    pub(crate) fn skip_unfed(&mut self, t: &Topology, m: usize, upstream: usize) -> usize {
        self.skip_model(t, m, Skip::NoResult { upstream });
        self.settle(t, m, Some(m))
    }

    /// Model `m`'s PRIMARY is settled: published (`failed_root` `None`) or
    /// not, because of `failed_root`'s failure. Returns how many versions
    /// were queued.
    fn settle(&mut self, t: &Topology, m: usize, failed_root: Option<usize>) -> usize {
        // Models skipped on the way are appended to `self.skipped` and
        // settled in turn (the final reasons do not depend on the order:
        // a model is skipped only once all its upstream models settled).
        let mut cursor = self.skipped.len();
        let mut pushed = self.settle_one(t, m, failed_root);
        while let Some(&(d, _, root)) = self.skipped.get(cursor) {
            cursor += 1;
            pushed += self.settle_one(t, d, Some(root));
        }
        pushed
    }

    fn settle_one(&mut self, t: &Topology, m: usize, failed_root: Option<usize>) -> usize {
        let mut pushed = 0;
        for &d in t.dependents(m) {
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
                self.make_ready(t, d);
                pushed += 1;
                continue;
            };
            self.skip_model(t, d, Skip::Upstream { root, via });
            self.skipped.push((d, via, root));
        }
        pushed
    }

    fn skip_model(&mut self, t: &Topology, m: usize, skip: Skip) {
        for v in t.models[m].versions.clone() {
            if !matches!(self.slots[v], Slot::Done(_)) {
                self.slots[v] = Slot::Done(Done::unstarted(End::Skipped(skip)));
                self.unresolved -= 1;
            }
        }
    }

    /// The models skipped for a failed upstream since the last call, as
    /// (model, via, root), for the caller to log.
    pub(crate) fn take_skipped(&mut self) -> Vec<Skipped> {
        std::mem::take(&mut self.skipped)
    }

    /// Marks every version running past its deadline at `now` as timed
    /// out. Returns them as (version, started), and when to look again:
    /// the earliest deadline still ahead, or for a version not started yet
    /// `now` plus its timeout (it cannot expire before that).
    pub(crate) fn expire(
        &mut self,
        t: &Topology,
        now: Instant,
    ) -> (Vec<(usize, Instant)>, Option<Instant>) {
        let mut next: Option<Instant> = None;
        let mut pending_timeout: Option<Duration> = None;
        let mut expired = Vec::new();
        for (v, slot) in self.slots.iter().enumerate() {
            match slot {
                Slot::Running {
                    started,
                    deadline: Some(deadline),
                } if *deadline <= now => expired.push((v, *started)),
                Slot::Running {
                    deadline: Some(deadline),
                    ..
                } => next = Some(next.map_or(*deadline, |n| n.min(*deadline))),
                Slot::Waiting | Slot::Ready => {
                    let timeout = t.timeouts[v];
                    pending_timeout = Some(pending_timeout.map_or(timeout, |p| p.min(timeout)));
                }
                Slot::Running { deadline: None, .. } | Slot::Done(_) => {}
            }
        }
        for &(v, started) in &expired {
            let done = Done {
                end: End::TimedOut,
                started: Some(started),
                duration: now.saturating_duration_since(started),
            };
            self.resolve(t, v, done, false);
        }
        if let Some(at) = pending_timeout.and_then(|p| now.checked_add(p.max(MIN_WAKE))) {
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        (expired, next)
    }

    /// No worker thread exists and none can be started: every version not
    /// started yet ends with `error` rather than waiting forever.
    pub(crate) fn fail_unstarted(&mut self, error: &str) {
        self.primaries.clear();
        self.candidates.clear();
        for slot in &mut self.slots {
            if matches!(slot, Slot::Waiting | Slot::Ready) {
                *slot = Slot::Done(Done::unstarted(End::NoWorker(error.to_owned())));
                self.unresolved -= 1;
            }
        }
    }

    /// The caller went away: nothing queued is handed out any more.
    pub(crate) fn cancel(&mut self) {
        self.primaries.clear();
        self.candidates.clear();
    }

    /// One [`Done`] per version, in the topology's order. Only meaningful
    /// once nothing is unresolved; a version still open (a bug) ends as
    /// `NoWorker` rather than being lost.
    pub(crate) fn into_done(self) -> Vec<Done<O>> {
        self.slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Done(done) => done,
                Slot::Waiting | Slot::Ready | Slot::Running { .. } => Done::unstarted(
                    End::NoWorker("the executor lost track of this version".to_owned()),
                ),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// How a simulated version ends when it runs.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Sim {
        Ok,
        Fails,
        Hangs,
    }

    /// A topology from (upstream models, candidates) per model, upstreams
    /// always earlier models; every version times out after `timeout`.
    fn topology(models: &[(Vec<usize>, usize)], timeout: Duration) -> Topology {
        let mut t = Topology::default();
        let mut edges = Vec::new();
        for (m, (ups, candidates)) in models.iter().enumerate() {
            let first = t.version_model.len();
            for _ in 0..=*candidates {
                t.version_model.push(m);
                t.timeouts.push(timeout);
            }
            let mut ups = ups.clone();
            ups.sort_unstable();
            ups.dedup();
            edges.extend(ups.iter().map(|&u| (u, m)));
            t.models.push(ModelShape {
                versions: first..t.version_model.len(),
                dependents: 0..0,
                upstream_count: ups.len(),
            });
        }
        edges.sort_unstable();
        for m in 0..t.models.len() {
            let start = t.dependents.len();
            t.dependents
                .extend(edges.iter().filter(|(u, _)| *u == m).map(|(_, d)| *d));
            t.models[m].dependents = start..t.dependents.len();
        }
        t
    }

    #[test]
    fn a_chain_runs_in_order_and_a_failure_skips_the_rest() {
        let t = topology(
            &[(vec![], 1), (vec![0], 0), (vec![1], 0)],
            Duration::from_secs(1),
        );
        let now = Instant::now();
        let mut m: Machine<bool> = Machine::new(&t);
        assert_eq!(m.pop(&t, now), Some(0), "the root PRIMARY first");
        assert_eq!(m.pop(&t, now), None, "its candidate waits for the inputs");
        assert_eq!(m.queue_candidates(&t, 0), 1);
        assert_eq!(m.pop(&t, now), Some(1));
        assert_eq!(
            m.finish(&t, 1, true, false, now, now),
            0,
            "a candidate unblocks nothing"
        );
        assert_eq!(m.finish(&t, 0, true, true, now, now), 1);
        assert_eq!(m.pop(&t, now), Some(2));
        assert_eq!(m.finish(&t, 2, false, false, now, now), 0);
        assert_eq!(m.take_skipped(), vec![(2, 1, 1)]);
        assert_eq!(m.unresolved(), 0);
        let done = m.into_done();
        assert!(matches!(
            done[3].end,
            End::Skipped(Skip::Upstream { root: 1, via: 1 })
        ));
    }

    #[test]
    fn timeouts_are_decided_from_the_given_instants() {
        let t = topology(&[(vec![], 0), (vec![0], 0)], Duration::from_millis(50));
        let t0 = Instant::now();
        let mut m: Machine<bool> = Machine::new(&t);
        let (expired, next) = m.expire(&t, t0);
        assert!(expired.is_empty());
        assert_eq!(
            next,
            Some(t0 + Duration::from_millis(50)),
            "a queued version"
        );
        assert_eq!(m.pop(&t, t0), Some(0));
        let (expired, next) = m.expire(&t, t0 + Duration::from_millis(49));
        assert!(expired.is_empty());
        assert_eq!(next, Some(t0 + Duration::from_millis(50)), "its deadline");
        let (expired, _) = m.expire(&t, t0 + Duration::from_millis(50));
        assert_eq!(expired, vec![(0, t0)]);
        assert!(!m.is_running(0), "its worker will find it abandoned");
        assert_eq!(m.unresolved(), 0, "the dependent is skipped");
        let done = m.into_done();
        assert!(matches!(done[0].end, End::TimedOut));
        assert_eq!(done[0].duration, Duration::from_millis(50));
        assert!(matches!(
            done[1].end,
            End::Skipped(Skip::Upstream { root: 0, via: 0 })
        ));
    }

    #[test]
    fn without_workers_every_unstarted_version_fails() {
        let t = topology(&[(vec![], 2), (vec![0], 0)], Duration::from_secs(1));
        let mut m: Machine<bool> = Machine::new(&t);
        m.fail_unstarted("no threads");
        assert_eq!(m.unresolved(), 0);
        assert!(
            m.into_done()
                .iter()
                .all(|d| matches!(&d.end, End::NoWorker(e) if e == "no threads"))
        );
    }

    /// Random DAGs: per model its upstreams (earlier models), its number of
    /// candidates, and how each version ends; and how many workers.
    /// Per model (upstreams, candidates); how each version ends; workers;
    /// which running version finishes next.
    type Case = (Vec<(Vec<usize>, usize)>, Vec<Sim>, usize, Vec<usize>);

    fn cases() -> impl Strategy<Value = Case> {
        (1_usize..12).prop_flat_map(|n| {
            let models = (0..n)
                .map(|m| {
                    (
                        proptest::collection::vec(0..m.max(1), 0..3)
                            .prop_map(move |ups| if m == 0 { vec![] } else { ups }),
                        0_usize..3,
                    )
                })
                .collect::<Vec<_>>();
            let sims = proptest::collection::vec(
                prop_oneof![4 => Just(Sim::Ok), 1 => Just(Sim::Fails), 1 => Just(Sim::Hangs)],
                n * 3,
            );
            (
                models,
                sims,
                1_usize..4,
                proptest::collection::vec(0_usize..100, 64),
            )
        })
    }

    proptest! {
        #[test]
        fn invariants_hold_on_random_dags(
            (models, sims, workers, picks) in cases()
        ) {
            let timeout = Duration::from_millis(10);
            let t = topology(&models, timeout);
            let sim = |v: usize| sims[v % sims.len()];
            let t0 = Instant::now();
            let mut now = t0;
            let mut m: Machine<Sim> = Machine::new(&t);
            let mut popped = vec![0_usize; t.version_count()];
            let mut published = vec![false; t.models.len()];
            let mut running: Vec<(usize, Instant)> = Vec::new();
            let mut terminal = vec![0_usize; t.version_count()];
            let mut pick = picks.iter().cycle();
            while m.unresolved() > 0 {
                while running.len() < workers {
                    let Some(v) = m.pop(&t, now) else { break };
                    popped[v] += 1;
                    let model = t.version_model[v];
                    // A version starts only once every upstream PRIMARY of
                    // its model published.
                    for &u in &models[model].0 {
                        prop_assert!(published[u], "v{} started before upstream {}", v, u);
                    }
                    if t.is_primary(v) {
                        m.queue_candidates(&t, model);
                    }
                    running.push((v, now));
                }
                let finishable: Vec<usize> = (0..running.len())
                    .filter(|&i| sim(running[i].0) != Sim::Hangs)
                    .collect();
                if let Some(&i) = finishable.get(pick.next().copied().unwrap_or(0) % finishable.len().max(1)) {
                    let (v, started) = running.swap_remove(i);
                    prop_assert!(m.is_running(v));
                    now += Duration::from_millis(1);
                    let ok = sim(v) == Sim::Ok && t.is_primary(v);
                    if ok {
                        published[t.version_model[v]] = true;
                    }
                    let queued = m.finish(&t, v, sim(v), ok, started, now);
                    // Candidates never unblock anything.
                    if !t.is_primary(v) {
                        prop_assert_eq!(queued, 0);
                    }
                    terminal[v] += 1;
                } else {
                    // Only hung versions run: the clock moves to the next
                    // deadline and they expire then, not before.
                    let (expired, next) = m.expire(&t, now);
                    for (v, started) in &expired {
                        prop_assert!(now.duration_since(*started) >= timeout);
                        terminal[*v] += 1;
                        running.retain(|(r, _)| r != v);
                    }
                    if expired.is_empty() {
                        prop_assert!(!running.is_empty(), "nothing runs, nothing is queued, yet versions are open");
                        now = next.expect("a running version has a deadline");
                    }
                }
            }
            let _ = m.take_skipped();
            let done = m.into_done();
            // Independently: which models fail, which are skipped and why.
            let mut fate: Vec<Option<(usize, usize)>> = vec![None; t.models.len()];
            let mut failed = vec![false; t.models.len()];
            for (model, (ups, _)) in models.iter().enumerate() {
                let mut ups = ups.clone();
                ups.sort_unstable();
                let via = ups.into_iter().find(|&u| failed[u] || fate[u].is_some());
                if let Some(via) = via {
                    let root = fate[via].map_or(via, |(_, root)| root);
                    fate[model] = Some((via, root));
                } else {
                    failed[model] = sim(t.models[model].versions.start) != Sim::Ok;
                }
            }
            for (v, d) in done.iter().enumerate() {
                let model = t.version_model[v];
                match fate[model] {
                    Some((via, root)) => {
                        prop_assert_eq!(popped[v], 0);
                        let expected = Skip::Upstream { root, via };
                        prop_assert!(
                            matches!(d.end, End::Skipped(s) if s == expected),
                            "v{} of model {}: {:?}, expected {:?}", v, model, d.end, expected
                        );
                    }
                    None => {
                        // Every version ends exactly once.
                        prop_assert_eq!(popped[v], 1, "v{}", v);
                        prop_assert_eq!(terminal[v], 1, "v{}", v);
                        match sim(v) {
                            Sim::Hangs => prop_assert!(matches!(d.end, End::TimedOut)),
                            s => prop_assert!(matches!(d.end, End::Ran(r) if r == s)),
                        }
                    }
                }
            }
        }
    }
}
