//! SHADOW isolation, property-tested: on random DAGs with fan-in and
//! fan-out, adversarial SHADOW and CHALLENGER versions (garbage outputs,
//! errors, panics, sleeping past their timeout) leave every PRIMARY's inputs
//! and outputs exactly as they are in the same run without them.

mod common;

use std::num::NonZeroUsize;

use common::*;
use dag_exec::{CycleRun, ExecConfig, Executor, RunReason, RunStatus};
use model_api::Role;
use proptest::prelude::*;

/// A PRIMARY's model, status, reason, rows (debug-printed), stored metrics.
type PrimaryLine = (
    String,
    RunStatus,
    Option<RunReason>,
    String,
    Vec<(String, f64)>,
);

/// Everything about PRIMARY versions.
fn primaries(run: &CycleRun) -> Vec<PrimaryLine> {
    run.report()
        .versions
        .iter()
        .filter(|v| v.role == Some(Role::Primary))
        .map(|v| {
            let vid = v.version_id.unwrap();
            let rows = run
                .output(vid)
                .map(|o| format!("{:?}", o.rows()))
                .unwrap_or_default();
            let metrics = run
                .stored_metrics(vid)
                .into_iter()
                .map(|(k, x)| (k.to_owned(), x))
                .collect();
            (
                v.model_id.clone(),
                v.status,
                v.reason.clone(),
                rows,
                metrics,
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn adversarial_candidates_never_change_what_primaries_see_or_produce(
        specs in dag(),
        workers in 1..4_usize,
        base_value in any::<u64>(),
    ) {
        quiet_worker_panics();
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let exec = Executor::new(ExecConfig {
            workers: NonZeroUsize::new(workers).unwrap(),
            ..ExecConfig::default()
        });
        let alone = Recorder::default();
        let beside = Recorder::default();
        let without = rt.block_on(exec.run(cycle(0), &build(&specs, false, &alone), base(base_value))).unwrap();
        let with = rt.block_on(exec.run(cycle(0), &build(&specs, true, &beside), base(base_value))).unwrap();

        prop_assert_eq!(alone.seen(), beside.seen(), "PRIMARY inputs differ");
        prop_assert_eq!(primaries(&without), primaries(&with), "PRIMARY outcomes differ");
        // Every candidate has a line, and nothing was lost or added.
        let candidates: usize = specs.iter().map(|s| s.candidates.len()).sum();
        prop_assert_eq!(with.report().versions.len(), specs.len() + candidates);
        // The failure paths were really taken by candidates, not just declared.
        for (i, spec) in specs.iter().enumerate() {
            for (k, (_, adv)) in spec.candidates.iter().enumerate() {
                let line = with.report().version((i as i64 + 1) * 100 + k as i64 + 1).unwrap();
                if line.status == RunStatus::Skipped {
                    continue;
                }
                let expected = match adv {
                    Adversary::Error | Adversary::Panic => RunStatus::Failed,
                    // Only if the machine stalled 150 ms past the deadline
                    // could the sleeper return first.
                    Adversary::Sleep(_) => line.status,
                    Adversary::Garbage { rows, .. } => {
                        let mut keys: Vec<&String> = rows.iter().map(|(k, _)| k).collect();
                        keys.sort();
                        let dup = keys.windows(2).any(|w| w[0] == w[1]);
                        let nul = rows.iter().any(|(k, _)| k.contains('\0'));
                        if dup || nul { RunStatus::Failed } else { RunStatus::Ok }
                    }
                };
                prop_assert_eq!(line.status, expected, "{:?}", line);
            }
        }
    }
}
