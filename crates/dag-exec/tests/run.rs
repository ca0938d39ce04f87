//! Running plans without persistence: data flow, failures, timeouts.

mod common;

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use common::*;
use dag_exec::{ExecConfig, Executor, RunReason, RunStatus};
use model_api::{ModelError, ModelOutput, OutputRow, Role};

fn executor(workers: usize) -> Executor {
    Executor::new(ExecConfig {
        workers: NonZeroUsize::new(workers).unwrap(),
        ..ExecConfig::default()
    })
}

/// A model that emits `score` under entity "x" and `score` as artifact.
fn constant(id: &str, score: f64) -> Arc<dyn model_api::ModelInstance> {
    model(id, move |_, _, _| {
        let mut out = ModelOutput::new();
        out.push(OutputRow::new("x", score));
        Ok(out.with_artifact(score))
    })
}

/// Reads every input's artifact (an f64) and emits one row per key.
fn summing(id: &str) -> Arc<dyn model_api::ModelInstance> {
    model(id, |_, _, upstream| {
        let mut out = ModelOutput::new();
        let mut total = 0.0;
        for key in upstream.keys() {
            let v = *upstream
                .get(key)
                .unwrap()
                .artifact::<f64>()
                .ok_or(ModelError::failed("no f64"))?;
            out.push(OutputRow::new(key, v));
            total += v;
        }
        Ok(out.with_artifact(total))
    })
}

#[tokio::test]
async fn primary_results_feed_dependents_under_their_keys_and_candidates_do_not() {
    let plan = plan(vec![
        vec![
            planned(
                "a",
                version(1, Role::Primary, constant("a", 1.0)),
                vec![
                    version(2, Role::Challenger, constant("a", 100.0)),
                    version(3, Role::Shadow, constant("a", 1000.0)),
                ],
                &[],
            ),
            planned(
                "b",
                version(4, Role::Primary, constant("b", 10.0)),
                vec![],
                &[],
            ),
        ],
        vec![planned(
            "c",
            version(5, Role::Primary, summing("c")),
            vec![],
            &[("a", "left"), ("b", "right"), ("a", "again")],
        )],
        vec![planned(
            "d",
            version(6, Role::Primary, summing("d")),
            vec![version(7, Role::Shadow, summing("d"))],
            &[("c", "sum")],
        )],
    ]);
    let run = executor(2).run(cycle(0), &plan, base(0)).await.unwrap();
    let report = run.report();
    assert_eq!(report.count(RunStatus::Ok), 7, "{report:#?}");
    let c = run.output(5).unwrap();
    let rows: Vec<_> = c
        .rows()
        .iter()
        .map(|r| (r.entity_key.as_str(), r.score))
        .collect();
    assert_eq!(rows, vec![("again", 1.0), ("left", 1.0), ("right", 10.0)]);
    assert_eq!(run.output(6).unwrap().rows()[0].score, 12.0);
    assert_eq!(
        run.output(7).unwrap().rows()[0].score,
        12.0,
        "the SHADOW of d sees d's inputs"
    );
    assert_eq!(
        run.output(2).unwrap().rows()[0].score,
        100.0,
        "candidates' own rows are kept for storage"
    );
    let lines: Vec<_> = report
        .versions
        .iter()
        .map(|v| (v.version_id, v.role))
        .collect();
    assert_eq!(
        lines,
        vec![
            (Some(1), Some(Role::Primary)),
            (Some(2), Some(Role::Challenger)),
            (Some(3), Some(Role::Shadow)),
            (Some(4), Some(Role::Primary)),
            (Some(5), Some(Role::Primary)),
            (Some(6), Some(Role::Primary)),
            (Some(7), Some(Role::Shadow)),
        ]
    );
    assert!(
        report
            .versions
            .iter()
            .all(|v| v.started_at.is_some() && v.reason.is_none())
    );
}

#[tokio::test]
async fn candidates_get_the_very_same_upstream_values_as_their_primary() {
    let seen: Arc<Mutex<Vec<(i64, usize)>>> = Arc::default();
    let probe = |vid: i64| {
        let seen = Arc::clone(&seen);
        model("b", move |_, _, upstream| {
            let ptr = Arc::as_ptr(upstream.get("in").unwrap()) as usize;
            seen.lock().unwrap().push((vid, ptr));
            Ok(ModelOutput::new())
        })
    };
    let plan = plan(vec![
        vec![planned(
            "a",
            version(1, Role::Primary, constant("a", 1.0)),
            vec![],
            &[],
        )],
        vec![planned(
            "b",
            version(2, Role::Primary, probe(2)),
            vec![
                version(3, Role::Challenger, probe(3)),
                version(4, Role::Shadow, probe(4)),
            ],
            &[("a", "in")],
        )],
    ]);
    executor(3).run(cycle(0), &plan, base(0)).await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|(_, p)| *p == seen[0].1), "{seen:?}");
}

#[tokio::test]
async fn a_failed_primary_skips_its_transitive_dependents_and_nothing_else() {
    quiet_worker_panics();
    let plan = plan(vec![
        vec![
            planned(
                "a",
                version(
                    1,
                    Role::Primary,
                    model("a", |_, _, _| panic!("boom at {}", 42)),
                ),
                vec![],
                &[],
            ),
            planned(
                "z",
                version(2, Role::Primary, constant("z", 1.0)),
                vec![],
                &[],
            ),
        ],
        vec![planned(
            "b",
            version(3, Role::Primary, summing("b")),
            vec![version(4, Role::Shadow, summing("b"))],
            &[("a", "in"), ("z", "other")],
        )],
        vec![
            planned(
                "c",
                version(5, Role::Primary, summing("c")),
                vec![],
                &[("b", "in")],
            ),
            planned(
                "y",
                version(6, Role::Primary, summing("y")),
                vec![],
                &[("z", "in")],
            ),
        ],
    ]);
    let run = executor(2).run(cycle(0), &plan, base(0)).await.unwrap();
    let r = run.report();
    let a = r.version(1).unwrap();
    assert_eq!(
        (
            a.status,
            a.reason.as_ref().map(ToString::to_string).as_deref()
        ),
        (RunStatus::Failed, Some("panicked: boom at 42"))
    );
    for vid in [3, 4] {
        let b = r.version(vid).unwrap();
        assert_eq!(
            (
                b.status,
                b.reason.as_ref().map(ToString::to_string).as_deref()
            ),
            (RunStatus::Skipped, Some("upstream a failed"))
        );
        assert_eq!(b.started_at, None);
    }
    let c = r.version(5).unwrap();
    assert_eq!(
        (
            c.status,
            c.reason.as_ref().map(ToString::to_string).as_deref()
        ),
        (RunStatus::Skipped, Some("upstream a failed (via b)"))
    );
    let id = |s: &str| model_api::ModelId::new(s).unwrap();
    assert_eq!(
        c.reason,
        Some(RunReason::UpstreamFailed {
            root: id("a"),
            via: id("b")
        })
    );
    assert_eq!(a.reason, Some(RunReason::Panicked("boom at 42".to_owned())));
    assert_eq!(r.version(2).unwrap().status, RunStatus::Ok);
    assert_eq!(r.version(6).unwrap().status, RunStatus::Ok);
}

#[tokio::test]
async fn model_errors_fail_the_version_with_the_message() {
    let plan = plan(vec![
        vec![planned(
            "a",
            version(
                1,
                Role::Primary,
                model("a", |_, base, _| {
                    base.downcast_ref::<String>()
                        .map(|_| ModelOutput::new())
                        .ok_or(ModelError::BaseInput { expected: "String" })
                }),
            ),
            vec![version(
                2,
                Role::Shadow,
                model("a", |_, _, _| Err(ModelError::failed("shadow says no"))),
            )],
            &[],
        )],
        vec![planned(
            "b",
            version(3, Role::Primary, constant("b", 1.0)),
            vec![],
            &[("a", "in")],
        )],
    ]);
    let run = executor(1).run(cycle(0), &plan, base(0)).await.unwrap();
    let r = run.report();
    assert_eq!(
        r.version(1)
            .unwrap()
            .reason
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("model error: the cycle's base input is not a String")
    );
    assert_eq!(
        r.version(2)
            .unwrap()
            .reason
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("model error: shadow says no")
    );
    assert_eq!(
        r.version(3)
            .unwrap()
            .reason
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("upstream a failed")
    );
}

#[tokio::test]
async fn a_timed_out_model_is_abandoned_and_the_cycle_does_not_wait_for_it() {
    let (release, blocked) = mpsc::channel::<()>();
    let blocked = Mutex::new(blocked);
    let returned = Arc::new(AtomicBool::new(false));
    let returned_in_model = Arc::clone(&returned);
    let hang = model("a", move |_, _, _| {
        // Blocks until the test releases it, long after the cycle ended.
        let _ = blocked.lock().unwrap().recv();
        returned_in_model.store(true, Ordering::SeqCst);
        let mut out = ModelOutput::new();
        out.push(OutputRow::new("late", 1.0));
        Ok(out)
    });
    let plan = plan(vec![
        vec![planned(
            "a",
            with_timeout(version(1, Role::Primary, hang), Duration::from_millis(50)),
            vec![version(2, Role::Shadow, constant("a", 2.0))],
            &[],
        )],
        vec![planned(
            "b",
            version(3, Role::Primary, constant("b", 1.0)),
            vec![],
            &[("a", "in")],
        )],
    ]);
    let exec = executor(1);
    let run = exec.run(cycle(0), &plan, base(0)).await.unwrap();
    assert!(
        !returned.load(Ordering::SeqCst),
        "the cycle ended while the model still ran"
    );
    let r = run.report();
    let a = r.version(1).unwrap();
    assert_eq!(a.status, RunStatus::Timeout);
    assert!(
        a.reason
            .as_ref()
            .map(ToString::to_string)
            .as_deref()
            .unwrap()
            .contains("abandoned"),
        "{a:?}"
    );
    assert!(a.duration >= Duration::from_millis(50));
    assert!(run.output(1).is_none());
    assert_eq!(
        r.version(2).unwrap().status,
        RunStatus::Ok,
        "a replacement worker ran the SHADOW"
    );
    assert_eq!(
        r.version(3)
            .unwrap()
            .reason
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("upstream a failed")
    );
    assert_eq!(exec.abandoned_threads(), 1);

    release.send(()).unwrap();
    for _ in 0..1000 {
        if exec.abandoned_threads() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(returned.load(Ordering::SeqCst));
    assert_eq!(
        exec.abandoned_threads(),
        0,
        "the abandoned thread ended once its model returned"
    );
    assert_eq!(
        run.report().version(1).unwrap().status,
        RunStatus::Timeout,
        "its late result is discarded"
    );
}

#[tokio::test]
async fn unstorable_outputs_fail_the_version_before_anything_is_published() {
    let dup = model("a", |_, _, _| {
        let mut out = ModelOutput::new();
        out.push(OutputRow::new("k", 1.0));
        out.push(OutputRow::new("k", 2.0));
        Ok(out.with_artifact(1.0_f64))
    });
    let plan = plan(vec![
        vec![planned("a", version(1, Role::Primary, dup), vec![], &[])],
        vec![planned(
            "b",
            version(2, Role::Primary, summing("b")),
            vec![],
            &[("a", "in")],
        )],
    ]);
    let run = executor(2).run(cycle(0), &plan, base(0)).await.unwrap();
    let a = run.report().version(1).unwrap();
    assert_eq!(a.status, RunStatus::Failed);
    assert_eq!(
        a.reason.as_ref().map(ToString::to_string).as_deref(),
        Some("output cannot be stored: entity_key \"k\" appears more than once")
    );
    assert_eq!(run.report().version(2).unwrap().status, RunStatus::Skipped);
}

#[tokio::test]
async fn non_finite_scores_become_null_and_non_finite_metrics_are_dropped() {
    let odd = model("a", |_, _, _| {
        let mut out = ModelOutput::new();
        out.push(OutputRow::new("nan", f64::NAN));
        out.push(OutputRow::new("inf", f64::INFINITY));
        out.push(OutputRow::new("ok", 0.25));
        out.metric("nan", f64::NAN);
        out.metric("ninf", f64::NEG_INFINITY);
        out.metric("fine", 3.0);
        Ok(out)
    });
    let plan = plan(vec![vec![planned(
        "a",
        version(1, Role::Primary, odd),
        vec![],
        &[],
    )]]);
    let run = executor(1).run(cycle(0), &plan, base(0)).await.unwrap();
    let a = run.report().version(1).unwrap();
    assert_eq!(
        (a.status, a.output_count, a.null_scores, a.dropped_metrics),
        (RunStatus::Ok, 3, 2, 2)
    );
    assert_eq!(run.stored_metrics(1), vec![("fine", 3.0)]);
}

#[tokio::test]
async fn excluded_entries_are_reported_as_skipped_with_the_registry_reason() {
    let mut builder = PlanBuilder::new();
    add_models(
        &mut builder,
        vec![vec![planned(
            "a",
            version(1, Role::Primary, constant("a", 1.0)),
            vec![],
            &[],
        )]],
    );
    builder
        .unknown("ghost", 8)
        .refused("a", 9, Role::Shadow, "missing field `x`");
    let plan = builder.build();
    let reasons: Vec<(&str, Option<i64>, String)> = plan
        .excluded()
        .iter()
        .map(|e| (e.model_id.as_str(), e.version_id, e.reason.to_string()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (
                "a",
                Some(9),
                "SHADOW version v9 (id 9): bad params for model a: missing field `x`".to_owned()
            ),
            (
                "ghost",
                None,
                "unknown model_id ghost: no model kind of that name in this build's catalog"
                    .to_owned()
            ),
        ]
    );
    let run = executor(1).run(cycle(0), &plan, base(0)).await.unwrap();
    let r = run.report();
    assert_eq!(r.versions.len(), 3);
    // The whole model left out is recorded under the version it had.
    let ghost = r.primary("ghost").unwrap();
    assert_eq!(
        (ghost.status, ghost.version_id, ghost.role),
        (RunStatus::Skipped, Some(8), Some(Role::Primary))
    );
    assert_eq!(
        ghost.reason.as_ref().map(ToString::to_string).as_deref(),
        Some(reasons[1].2.as_str())
    );
    let shadow = r.version(9).unwrap();
    assert_eq!(
        (shadow.status, shadow.role),
        (RunStatus::Skipped, Some(Role::Shadow))
    );
    assert_eq!(
        shadow.reason.as_ref().map(ToString::to_string).as_deref(),
        Some(reasons[0].2.as_str())
    );
}

#[tokio::test]
async fn an_empty_plan_runs_nothing() {
    let run = executor(4)
        .run(cycle(0), &plan(vec![]), base(0))
        .await
        .unwrap();
    assert!(run.report().versions.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_models_on_few_or_many_workers_give_the_same_result() {
    let recorder = Recorder::default();
    let mut levels = Vec::new();
    for level in 0..10 {
        let mut models = Vec::new();
        for i in 0..50 {
            let id = format!("m{level:02}_{i:02}");
            let inputs: Vec<(String, String)> = if level == 0 {
                vec![]
            } else {
                vec![
                    (format!("m{:02}_{:02}", level - 1, i), "same".to_owned()),
                    (
                        format!("m{:02}_{:02}", level - 1, (i * 7 + 3) % 50),
                        "other".to_owned(),
                    ),
                ]
            };
            let inputs: Vec<(&str, &str)> = inputs
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            let vid = (level * 100 + i) as i64;
            models.push(planned(
                &id,
                version(vid, Role::Primary, deterministic(&id, 1, &recorder)),
                vec![],
                &inputs,
            ));
        }
        levels.push(models);
    }
    let plan = plan(levels);
    let one = executor(1).run(cycle(0), &plan, base(5)).await.unwrap();
    let seen_one = recorder.seen();
    let eight = executor(8).run(cycle(0), &plan, base(5)).await.unwrap();
    assert_eq!(one.report().count(RunStatus::Ok), 500);
    for line in &one.report().versions {
        let vid = line.version_id.unwrap();
        assert_eq!(
            one.output(vid).unwrap().rows(),
            eight.output(vid).unwrap().rows()
        );
    }
    assert_eq!(seen_one, recorder.seen());
}

/// Compiles only if a cycle can be spawned on a multi-threaded runtime.
fn futures_are_send(
    exec: &Executor,
    client: &mut tokio_postgres::Client,
    pool: &test_support::Pool,
    plan: &registry::Plan,
) {
    fn send<T: Send>(_: T) {}
    send(exec.run(cycle(0), plan, base(0)));
    send(exec.execute(client, cycle(0), plan, base(0)));
    send(exec.execute_pooled(pool, cycle(0), plan, base(0)));
}

#[test]
fn the_executor_and_its_futures_can_cross_threads() {
    fn send_sync<T: Send + Sync + Clone + 'static>() {}
    send_sync::<Executor>();
    let _compiled: fn(
        &Executor,
        &mut tokio_postgres::Client,
        &test_support::Pool,
        &registry::Plan,
    ) = futures_are_send;
}

#[tokio::test]
async fn a_cycle_given_up_by_its_caller_stops_after_the_running_model() {
    let (release, blocked) = mpsc::channel::<()>();
    let blocked = Mutex::new(blocked);
    let a = model("a", move |_, _, _| {
        let _ = blocked.lock().unwrap().recv();
        Ok(ModelOutput::new().with_artifact(1.0_f64))
    });
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let b = model("b", move |_, _, _| {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(ModelOutput::new())
    });
    let plan = plan(vec![
        vec![planned("a", version(1, Role::Primary, a), vec![], &[])],
        vec![planned(
            "b",
            version(2, Role::Primary, Arc::clone(&b)),
            vec![],
            &[("a", "in")],
        )],
    ]);
    let exec = executor(1);
    let given_up = tokio::time::timeout(
        Duration::from_millis(50),
        exec.run(cycle(0), &plan, base(0)),
    )
    .await;
    assert!(given_up.is_err(), "the run should still be waiting for a");
    release.send(()).unwrap();
    // The cycle (which holds b's instance) is gone once its worker left.
    for _ in 0..1000 {
        if Arc::strong_count(&b) == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        Arc::strong_count(&b),
        2,
        "only the test and the plan hold b"
    );
    assert_eq!(
        runs.load(Ordering::SeqCst),
        0,
        "b was queued after the caller gave up and never ran"
    );
    // The executor is fine for the next cycle.
    drop(plan);
    let next = crate::plan(vec![vec![planned(
        "c",
        version(3, Role::Primary, constant("c", 1.0)),
        vec![],
        &[],
    )]]);
    assert_eq!(
        exec.run(cycle(1), &next, base(0))
            .await
            .unwrap()
            .report()
            .count(RunStatus::Ok),
        1
    );
}
