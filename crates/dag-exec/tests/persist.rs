//! Persisting cycles against a real PostgreSQL: what lands, replacement on
//! rerun, one connection per cycle, atomicity under a killed connection,
//! dropped metrics, and SHADOW isolation at the database level.

mod common;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use dag_exec::{ExecError, Executor, RunStatus};
use model_api::{ModelOutput, OutputRow, Role};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use registry::Plan;
use test_support::TestDb;
use tokio_postgres::Client;

/// `rows` rows per version, scores from `scale`.
fn rows_model(id: &str, rows: usize, scale: f64) -> Arc<dyn model_api::ModelInstance> {
    model(id, move |_, base, _| {
        let b = *base.downcast_ref::<u64>().unwrap() as f64;
        let mut out = ModelOutput::with_capacity(rows);
        for i in 0..rows {
            let row = OutputRow::new(format!("e{i}"), (i as f64 + b) * scale);
            out.push(if i % 3 == 0 {
                row.with_payload(serde_json::json!({ "i": i }))
            } else {
                row
            });
        }
        out.metric("rows", rows as f64);
        Ok(out.with_artifact(rows))
    })
}

/// A plan of `models` models in levels of 10, each reading one model of the
/// previous level, with a SHADOW on every third model.
fn wide_plan(models: usize, rows: usize) -> Plan {
    let mut levels: Vec<Vec<TestModel>> = Vec::new();
    for i in 0..models {
        let (level, id) = (i / 10, format!("w{i:03}"));
        if levels.len() <= level {
            levels.push(Vec::new());
        }
        let input = (level > 0).then(|| format!("w{:03}", i - 10));
        let inputs: Vec<(&str, &str)> = input.iter().map(|u| (u.as_str(), "prev")).collect();
        let vid = 1000 + 2 * i as i64;
        let others = if i % 3 == 0 {
            vec![version(vid + 1, Role::Shadow, rows_model(&id, rows, 2.0))]
        } else {
            vec![]
        };
        levels[level].push(planned(
            &id,
            version(vid, Role::Primary, rows_model(&id, rows, 1.0)),
            others,
            &inputs,
        ));
    }
    plan(levels)
}

/// model, version id, role, status, error, output count, dropped metrics,
/// whether started_at is set.
type RunLine = (
    String,
    Option<i64>,
    Option<String>,
    String,
    Option<String>,
    i32,
    i32,
    bool,
);

#[tokio::test]
async fn a_cycle_lands_whole_and_a_rerun_replaces_it() {
    quiet_worker_panics();
    let db = TestDb::new().await;
    let client = db.client().await;
    let pool = db.pool(5).await;
    let odd = model("odd", |_, _, _| {
        let mut out = ModelOutput::new();
        out.push(OutputRow::new("nan", f64::NAN));
        out.push(OutputRow::new("fine", 0.5).with_payload(serde_json::json!({"why": "test"})));
        out.metric("ok", 1.0);
        out.metric("inf", f64::INFINITY);
        Ok(out)
    });
    let mut builder = PlanBuilder::new();
    add_models(
        &mut builder,
        vec![
            vec![
                planned(
                    "a",
                    version(1, Role::Primary, rows_model("a", 3, 1.0)),
                    vec![version(2, Role::Shadow, rows_model("a", 4, 9.0))],
                    &[],
                ),
                planned(
                    "c",
                    version(5, Role::Primary, model("c", |_, _, _| panic!("c breaks"))),
                    vec![],
                    &[],
                ),
                planned("odd", version(7, Role::Primary, odd), vec![], &[]),
            ],
            vec![
                planned(
                    "b",
                    version(3, Role::Primary, rows_model("b", 2, 1.0)),
                    vec![],
                    &[("a", "in")],
                ),
                planned(
                    "d",
                    version(6, Role::Primary, rows_model("d", 2, 1.0)),
                    vec![],
                    &[("c", "in")],
                ),
            ],
        ],
    );
    // Left out by the planner: a model without code, a CHALLENGER whose
    // params are refused.
    builder
        .unknown("ghost", 8)
        .refused("a", 4, Role::Challenger, "missing field `x`");
    let plan = builder.build();
    assert_eq!(plan.excluded().len(), 2);
    register(&client, &plan).await;
    // Rows of another cycle must survive this cycle's reruns.
    let exec = Executor::default();
    exec.execute_pooled(&pool, cycle(5), &plan, base(0))
        .await
        .unwrap();
    let other = counts(&client, cycle(5)).await;

    let report = exec
        .execute_pooled(&pool, cycle(0), &plan, base(0))
        .await
        .unwrap();
    let stats = report.persisted.unwrap();
    // a 3 + shadow 4 + b 2 + odd 2; c failed, d skipped.
    assert_eq!(
        (
            stats.output_rows,
            stats.metric_rows,
            stats.run_rows,
            stats.replaced_rows
        ),
        (11, 4, 8, 0)
    );
    assert_eq!(counts(&client, cycle(0)).await, (11, 4, 8));

    let runs = client
        .query(
            "SELECT model_id, version_id, role, status, error, output_count, dropped_metric_count, \
                    started_at IS NOT NULL, duration_ms \
             FROM kcg.detection_model_runs WHERE cycle_ts = $1 ORDER BY model_id, version_id NULLS FIRST",
            &[&cycle(0)],
        )
        .await
        .unwrap();
    let runs: Vec<RunLine> = runs
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
                r.get(7),
            )
        })
        .collect();
    let s = |x: &str| Some(x.to_owned());
    assert_eq!(
        runs,
        vec![
            (
                "a".into(),
                Some(1),
                s("PRIMARY"),
                "OK".into(),
                None,
                3,
                0,
                true
            ),
            (
                "a".into(),
                Some(2),
                s("SHADOW"),
                "OK".into(),
                None,
                4,
                0,
                true
            ),
            (
                "a".into(),
                Some(4),
                s("CHALLENGER"),
                "SKIPPED".into(),
                s("CHALLENGER version v4 (id 4): bad params for model a: missing field `x`"),
                0,
                0,
                false
            ),
            (
                "b".into(),
                Some(3),
                s("PRIMARY"),
                "OK".into(),
                None,
                2,
                0,
                true
            ),
            (
                "c".into(),
                Some(5),
                s("PRIMARY"),
                "FAILED".into(),
                s("panicked: c breaks"),
                0,
                0,
                true
            ),
            (
                "d".into(),
                Some(6),
                s("PRIMARY"),
                "SKIPPED".into(),
                s("upstream c failed"),
                0,
                0,
                false
            ),
            // A whole model left out: one line per ACTIVE version it had.
            (
                "ghost".into(),
                Some(8),
                s("PRIMARY"),
                "SKIPPED".into(),
                s("unknown model_id ghost: no model kind of that name in this build's catalog"),
                0,
                0,
                false
            ),
            (
                "odd".into(),
                Some(7),
                s("PRIMARY"),
                "OK".into(),
                None,
                2,
                1,
                true
            ),
        ]
    );
    let odd_rows = client
        .query(
            "SELECT entity_key, score, payload FROM kcg.detection_model_run_outputs \
             WHERE cycle_ts = $1 AND version_id = 7 ORDER BY entity_key",
            &[&cycle(0)],
        )
        .await
        .unwrap();
    let odd_rows: Vec<(String, Option<f64>, Option<serde_json::Value>)> = odd_rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        odd_rows,
        vec![
            (
                "fine".into(),
                Some(0.5),
                Some(serde_json::json!({"why": "test"}))
            ),
            ("nan".into(), None, None)
        ]
    );
    let roles: Vec<(String, i64)> = client
        .query(
            "SELECT role, count(*) FROM kcg.detection_model_run_outputs WHERE cycle_ts = $1 GROUP BY role ORDER BY role",
            &[&cycle(0)],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(roles, vec![("PRIMARY".into(), 7), ("SHADOW".into(), 4)]);

    // Rerun: the same rows, replaced, not duplicated; the other cycle intact.
    let again = exec
        .execute_pooled(&pool, cycle(0), &plan, base(0))
        .await
        .unwrap();
    assert_eq!(again.persisted.unwrap().replaced_rows, 11 + 4 + 8);
    assert_eq!(counts(&client, cycle(0)).await, (11, 4, 8));
    assert_eq!(counts(&client, cycle(5)).await, other);
    assert_eq!(again.count(RunStatus::Ok), report.count(RunStatus::Ok));
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_65_character_metric_key_is_dropped_with_a_warning_and_the_others_are_stored() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let db = TestDb::new().await;
    let mut client = db.client().await;
    let long_key = "k".repeat(65);
    let key = long_key.clone();
    let metrics = model("metrics", move |_, _, _| {
        let mut out = ModelOutput::new();
        out.metric("first", 1.0);
        out.metric(key.clone(), 2.0);
        out.metric("k".repeat(64), 3.0);
        Ok(out)
    });
    let plan = plan(vec![vec![planned(
        "metrics",
        version(11, Role::Primary, metrics),
        vec![],
        &[],
    )]]);
    register(&client, &plan).await;
    // The pipeline's way: the caller's connection.
    let report = Executor::default()
        .execute(&mut client, cycle(0), &plan, base(0))
        .await
        .unwrap();
    assert_eq!(report.version(11).unwrap().dropped_metrics, 1);

    let stored: Vec<(String, f64)> = client
        .query(
            "SELECT metric_key, value FROM kcg.detection_model_metrics WHERE cycle_ts = $1 ORDER BY metric_key",
            &[&cycle(0)],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        stored,
        vec![("first".to_owned(), 1.0), ("k".repeat(64), 3.0)]
    );
    let dropped: i32 = client
        .query_one(
            "SELECT dropped_metric_count FROM kcg.detection_model_runs WHERE cycle_ts = $1",
            &[&cycle(0)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(dropped, 1);

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let warning = log
        .lines()
        .find(|l| l.contains("metric dropped"))
        .unwrap_or_else(|| panic!("no warning in the log:\n{log}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("model=metrics"), "{warning}");
    assert!(warning.contains("version=v11"), "{warning}");
    assert!(warning.contains(&format!("key={long_key}")), "{warning}");
    assert!(warning.contains("65 characters"), "{warning}");
    assert_eq!(log.matches("metric dropped").count(), 1, "{log}");
    // The warning sits inside the cycle's and the version's spans.
    assert!(warning.contains("dag_exec_cycle{"), "{warning}");
    assert!(warning.contains("model_version{"), "{warning}");
    assert!(log.contains("cycle persisted"), "{log}");
}

#[tokio::test]
async fn a_100_model_cycle_checks_out_exactly_one_connection_from_a_pool_of_5_or_1() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let plan = wide_plan(100, 20);
    register(&client, &plan).await;
    let exec = Executor::default();
    for size in [5, 1] {
        let pool = db.pool(size).await;
        drop(pool.get().await.unwrap()); // warm: the cycle must not need a new connection
        let before = pool.state().statistics;
        let report = exec
            .execute_pooled(&pool, cycle(size), &plan, base(0))
            .await
            .unwrap();
        let after = pool.state().statistics;
        assert_eq!(report.count(RunStatus::Ok), 134, "pool of {size}");
        assert_eq!(
            after.get_started - before.get_started,
            1,
            "checkouts during a cycle, pool of {size}"
        );
        assert_eq!(
            after.connections_created, before.connections_created,
            "pool of {size}"
        );
        assert_eq!(counts(&client, cycle(size)).await, (134 * 20, 134, 134));
    }
    // The pipeline's way: one checkout by the caller, the executor takes none.
    let pool = db.pool(1).await;
    let before = pool.state().statistics;
    let mut conn = pool.get().await.unwrap();
    exec.execute(&mut *conn, cycle(9), &plan, base(0))
        .await
        .unwrap();
    drop(conn);
    assert_eq!(pool.state().statistics.get_started - before.get_started, 1);
}

async fn wait_for_blocked_backend(admin: &Client, query_prefix: &str) -> i32 {
    for _ in 0..3000 {
        let row = admin
            .query_opt(
                "SELECT pid FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock' AND starts_with(query, $1)",
                &[&query_prefix],
            )
            .await
            .unwrap();
        if let Some(row) = row {
            return row.get(0);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no backend blocked on {query_prefix:?} after 30 s");
}

async fn score_sum(client: &Client, cycle_ts: model_api::CycleTs) -> f64 {
    client
        .query_one(
            "SELECT coalesce(sum(score), 0) FROM kcg.detection_model_run_outputs WHERE cycle_ts = $1",
            &[&cycle_ts],
        )
        .await
        .unwrap()
        .get(0)
}

/// Runs a cycle whose persistence is blocked at the run-record step by a
/// lock another session holds, i.e. after its outputs and metrics were
/// copied, kills that connection, and returns the executor's error.
async fn kill_while_persisting(
    db: &TestDb,
    exec: &Executor,
    pool: &test_support::Pool,
    plan: &Arc<Plan>,
    b: u64,
) -> ExecError {
    let admin = db.client().await;
    let mut blocker = db.client().await;
    let lock = blocker.transaction().await.unwrap();
    lock.batch_execute("LOCK TABLE kcg.detection_model_runs IN SHARE MODE")
        .await
        .unwrap();
    let task = tokio::spawn({
        let (exec, pool, plan) = (exec.clone(), pool.clone(), Arc::clone(plan));
        async move { exec.execute_pooled(&pool, cycle(0), &plan, base(b)).await }
    });
    let pid = wait_for_blocked_backend(&admin, "DELETE FROM kcg.detection_model_runs").await;
    let killed: bool = admin
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap()
        .get(0);
    assert!(killed);
    let err = task.await.unwrap().unwrap_err();
    lock.rollback().await.unwrap();
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_killed_while_persisting_leaves_nothing_of_the_cycle() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let pool = db.pool(2).await;
    let plan = Arc::new(wide_plan(30, 2000));
    register(&client, &plan).await;
    let exec = Executor::default();

    let err = kill_while_persisting(&db, &exec, &pool, &plan, 0).await;
    match &err {
        ExecError::Persist {
            step,
            outcome,
            report,
            ..
        } => {
            // Reached only after both COPYs (outputs, metrics) completed.
            assert_eq!(*step, "DELETE FROM kcg.detection_model_runs");
            assert!(outcome.contains("rolled back"));
            assert_eq!(report.count(RunStatus::Ok), 40);
        }
        other => panic!("unexpected error: {other}"),
    }
    assert!(
        err.to_string().contains("nothing of this run was stored"),
        "{err}"
    );
    assert_eq!(counts(&client, cycle(0)).await, (0, 0, 0));

    // A rerun succeeds, on a fresh connection from the same pool.
    let report = exec
        .execute_pooled(&pool, cycle(0), &plan.clone(), base(0))
        .await
        .unwrap();
    assert_eq!(report.persisted.unwrap().output_rows, 40 * 2000);
    let landed = counts(&client, cycle(0)).await;
    assert_eq!(landed, (40 * 2000, 40, 40));
    let sum = score_sum(&client, cycle(0)).await;

    // Killing a rerun (with different results) leaves the earlier rows as they were.
    let err = kill_while_persisting(&db, &exec, &pool, &plan, 7).await;
    assert!(matches!(err, ExecError::Persist { .. }), "{err}");
    assert_eq!(counts(&client, cycle(0)).await, landed);
    assert_eq!(score_sum(&client, cycle(0)).await, sum);
}

type PrimaryRows = (
    Vec<(String, i64, String, Option<f64>, Option<String>)>,
    Vec<(i64, String, Option<f64>)>,
    Vec<(String, i64, String, Option<String>, i32, i32)>,
);

/// Everything stored about PRIMARY versions for `cycle_ts`, minus timings.
async fn primary_rows(client: &Client, cycle_ts: model_api::CycleTs) -> PrimaryRows {
    let outputs = client
        .query(
            "SELECT model_id, version_id, entity_key, score, payload::text FROM kcg.detection_model_run_outputs \
             WHERE cycle_ts = $1 AND role = 'PRIMARY' ORDER BY version_id, entity_key",
            &[&cycle_ts],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let metrics = client
        .query(
            "SELECT m.version_id, m.metric_key, m.value FROM kcg.detection_model_metrics m \
             JOIN kcg.detection_model_runs r ON r.cycle_ts = m.cycle_ts AND r.version_id = m.version_id \
             WHERE m.cycle_ts = $1 AND r.role = 'PRIMARY' ORDER BY 1, 2",
            &[&cycle_ts],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let runs = client
        .query(
            "SELECT model_id, version_id, status, error, output_count, dropped_metric_count \
             FROM kcg.detection_model_runs WHERE cycle_ts = $1 AND role = 'PRIMARY' ORDER BY version_id",
            &[&cycle_ts],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect();
    (outputs, metrics, runs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_rows_in_the_database_are_identical_with_and_without_adversarial_candidates() {
    quiet_worker_panics();
    let db = TestDb::new().await;
    let client = db.client().await;
    let pool = db.pool(5).await;
    let exec = Executor::default();
    let mut runner = TestRunner::deterministic();
    let strategy = dag();
    let mut candidates_stored = 0;
    for case in 0..8_u32 {
        let specs = strategy.new_tree(&mut runner).unwrap().current();
        let ts = cycle(case);
        let alone = build(&specs, false, &Recorder::default());
        let beside = build(&specs, true, &Recorder::default());
        register(&client, &beside).await;

        exec.execute_pooled(&pool, ts, &alone, base(u64::from(case)))
            .await
            .unwrap();
        let without = primary_rows(&client, ts).await;
        // The same cycle again, now with the candidates: it replaces the rows.
        let report = exec
            .execute_pooled(&pool, ts, &beside, base(u64::from(case)))
            .await
            .unwrap();
        let with = primary_rows(&client, ts).await;
        assert_eq!(without, with, "case {case}: {specs:#?}");
        assert!(!with.2.is_empty());

        let (_, _, runs) = counts(&client, ts).await;
        assert_eq!(runs as usize, beside.version_count());
        candidates_stored += report
            .versions
            .iter()
            .filter(|v| {
                v.role != Some(Role::Primary) && v.status == RunStatus::Ok && v.output_count > 0
            })
            .count();
    }
    assert!(
        candidates_stored > 0,
        "no candidate rows were stored in any case"
    );
}

#[tokio::test]
async fn a_database_error_while_persisting_rolls_back_everything_and_the_connection_stays_usable() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let known = plan(vec![vec![planned(
        "a",
        version(1, Role::Primary, rows_model("a", 50, 1.0)),
        vec![],
        &[],
    )]]);
    register(&client, &known).await;
    let exec = Executor::default();
    exec.execute(&mut client, cycle(0), &known, base(0))
        .await
        .unwrap();
    let before = counts(&client, cycle(0)).await;
    assert_eq!(before, (50, 1, 1));

    // Version 2 is not registered: its metrics break a foreign key after the
    // outputs were already copied.
    let unknown = plan(vec![vec![
        planned(
            "a",
            version(1, Role::Primary, rows_model("a", 80, 2.0)),
            vec![],
            &[],
        ),
        planned(
            "b",
            version(2, Role::Primary, rows_model("b", 80, 1.0)),
            vec![],
            &[],
        ),
    ]]);
    let err = exec
        .execute(&mut client, cycle(0), &unknown, base(0))
        .await
        .unwrap_err();
    let ExecError::Persist { step, report, .. } = &err else {
        panic!("unexpected error: {err}")
    };
    assert_eq!(*step, "COPY into kcg.detection_model_metrics");
    assert_eq!(report.count(RunStatus::Ok), 2);
    assert!(err.to_string().contains("detection_model_metrics"), "{err}");
    assert_eq!(
        counts(&client, cycle(0)).await,
        before,
        "the earlier run of the cycle is intact"
    );
    // The same connection goes on working.
    exec.execute(&mut client, cycle(0), &known, base(0))
        .await
        .unwrap();
}

#[tokio::test]
async fn no_free_connection_is_an_error_that_still_reports_what_ran() {
    let db = TestDb::new().await;
    let manager =
        bb8_postgres::PostgresConnectionManager::new(db.config().clone(), tokio_postgres::NoTls);
    let pool = bb8::Pool::builder()
        .max_size(1)
        .connection_timeout(Duration::from_millis(200))
        .build(manager)
        .await
        .unwrap();
    let held = pool.get().await.unwrap();
    register(&held, &wide_plan(3, 1)).await;
    let err = Executor::default()
        .execute_pooled(&pool, cycle(0), &wide_plan(3, 1), base(0))
        .await
        .unwrap_err();
    assert!(matches!(err, ExecError::Checkout { .. }), "{err}");
    assert!(err.to_string().contains("nothing was stored"), "{err}");
    assert_eq!(err.report().unwrap().count(RunStatus::Ok), 4);
    assert_eq!(counts(&held, cycle(0)).await, (0, 0, 0));
}

/// `len` characters that pglz cannot compress (an LCG's hex digits).
fn incompressible(len: usize) -> String {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            char::from_digit(((x >> 60) & 0xf) as u32, 16).unwrap_or('0')
        })
        .collect()
}

#[tokio::test]
async fn a_shadow_entity_key_too_long_for_the_primary_key_index_fails_only_that_shadow() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let key = incompressible(6000);
    let long = model("a", move |_, _, _| {
        let mut out = ModelOutput::new();
        out.push(OutputRow::new("fine", 0.5));
        out.push(OutputRow::new(key.clone(), 0.9));
        Ok(out)
    });
    let plan = plan(vec![vec![planned(
        "a",
        version(1, Role::Primary, rows_model("a", 5, 1.0)),
        vec![version(2, Role::Shadow, long)],
        &[],
    )]]);
    register(&client, &plan).await;
    let report = Executor::default()
        .execute(&mut client, cycle(0), &plan, base(0))
        .await
        .unwrap_or_else(|e| panic!("the SHADOW broke the cycle's transaction: {e}"));
    assert_eq!(report.version(1).unwrap().status, RunStatus::Ok);
    let shadow = report.version(2).unwrap();
    assert_eq!(shadow.status, RunStatus::Failed);
    let reason = shadow
        .reason
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(reason.contains("entity_key"), "{reason}");
    // The PRIMARY's rows, and the SHADOW's run record, are stored.
    assert_eq!(counts(&client, cycle(0)).await, (5, 1, 2));
}

/// Counts and an md5 of every stored row of `cycle_ts` except those of
/// version `except`: what a backtest of `except` must leave as it was.
async fn fingerprint_except(client: &Client, cycle_ts: model_api::CycleTs, except: i64) -> String {
    client
        .query_one(
            "SELECT (SELECT count(*) || ':' || coalesce(md5(string_agg(o::text, '|' ORDER BY o.version_id, o.entity_key)), '') \
                       FROM kcg.detection_model_run_outputs o WHERE cycle_ts = $1 AND version_id <> $2) || ' ' || \
                    (SELECT count(*) || ':' || coalesce(md5(string_agg(m::text, '|' ORDER BY m.version_id, m.metric_key)), '') \
                       FROM kcg.detection_model_metrics m WHERE cycle_ts = $1 AND version_id <> $2) || ' ' || \
                    (SELECT count(*) || ':' || coalesce(md5(string_agg(r::text, '|' ORDER BY r.id)), '') \
                       FROM kcg.detection_model_runs r WHERE cycle_ts = $1 AND version_id IS DISTINCT FROM $2)",
            &[&cycle_ts, &except],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_backtest_stores_only_its_version_and_a_rerun_replaces_it() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    // Live: a PRIMARY and a SHADOW; the backtest adds a CHALLENGER.
    let live = plan(vec![vec![planned(
        "a",
        version(1, Role::Primary, rows_model("a", 3, 1.0)),
        vec![version(2, Role::Shadow, rows_model("a", 2, 2.0))],
        &[],
    )]]);
    let backtest = plan(vec![vec![planned(
        "a",
        version(1, Role::Primary, rows_model("a", 3, 1.0)),
        vec![version(3, Role::Challenger, rows_model("a", 4, 5.0))],
        &[],
    )]]);
    register(&client, &live).await;
    register(&client, &backtest).await;
    let exec = Executor::default();
    exec.execute(&mut client, cycle(0), &live, base(0))
        .await
        .unwrap();
    let before = fingerprint_except(&client, cycle(0), 3).await;
    assert!(before.starts_with("5:"), "{before}");

    assert!(
        dag_exec::live_run_exists(&client, cycle(0), 1)
            .await
            .unwrap()
    );
    assert!(
        !dag_exec::live_run_exists(&client, cycle(0), 3)
            .await
            .unwrap()
    );
    for scale in [0, 1] {
        let run = exec.run(cycle(0), &backtest, base(scale)).await.unwrap();
        let stats = exec.persist_backtest(&mut client, &run, 3).await.unwrap();
        assert_eq!(
            (stats.output_rows, stats.metric_rows, stats.run_rows),
            (4, 1, 1)
        );
        // The second run replaces the first one's 4 outputs, 1 metric, 1 run.
        assert_eq!(stats.replaced_rows, 6 * scale);
    }
    assert_eq!(fingerprint_except(&client, cycle(0), 3).await, before);
    let rows: Vec<(String, String, i32)> = client
        .query(
            "SELECT status, origin, output_count FROM kcg.detection_model_runs \
              WHERE cycle_ts = $1 AND version_id = 3",
            &[&cycle(0)],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(rows, vec![("OK".into(), "BACKTEST".into(), 4)]);
    // Its scores are the second run's (base 1, scale 5): 5, 10, 15, 20.
    let sum: f64 = client
        .query_one(
            "SELECT sum(score) FROM kcg.detection_model_run_outputs WHERE cycle_ts = $1 AND version_id = 3",
            &[&cycle(0)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(sum, 50.0);
    // A backtest record is not a live one; a version the run lacks is refused.
    assert!(
        !dag_exec::live_run_exists(&client, cycle(0), 3)
            .await
            .unwrap()
    );
    let run = exec.run(cycle(0), &backtest, base(0)).await.unwrap();
    let refused = exec
        .persist_backtest(&mut client, &run, 2)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ExecError::NotInRun { version_id: 2, .. }),
        "{refused}"
    );
    assert_eq!(fingerprint_except(&client, cycle(0), 3).await, before);
}

/// Keys of `cycle_ts` stored more than once, and the rows stored.
async fn duplicates(client: &Client, cycle_ts: model_api::CycleTs) -> (i64, i64) {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM (SELECT 1 FROM kcg.detection_model_run_outputs \
                      WHERE cycle_ts = $1 GROUP BY version_id, entity_key HAVING count(*) > 1) d), \
                    (SELECT count(*) FROM kcg.detection_model_run_outputs WHERE cycle_ts = $1)",
            &[&cycle_ts],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// The output table has no unique key (V056): the executor alone keeps
/// `(cycle_ts, version_id, entity_key)` unique, through reruns, two
/// persists of one cycle at once, backtests, and a model that returns a
/// key twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_output_key_is_ever_stored_twice() {
    let db = TestDb::new().await;
    let (mut one, mut two) = (db.client().await, db.client().await);
    let twice = model("a", |_, _, _| {
        let mut out = ModelOutput::new();
        out.push(OutputRow::new("k", 0.5));
        out.push(OutputRow::new("k", 0.7));
        Ok(out)
    });
    let live = plan(vec![vec![planned(
        "a",
        version(1, Role::Primary, rows_model("a", 50, 1.0)),
        vec![
            version(2, Role::Shadow, rows_model("a", 40, 2.0)),
            version(4, Role::Shadow, twice),
        ],
        &[],
    )]]);
    let backtest = plan(vec![vec![planned(
        "a",
        version(1, Role::Primary, rows_model("a", 50, 1.0)),
        vec![version(3, Role::Challenger, rows_model("a", 30, 5.0))],
        &[],
    )]]);
    register(&one, &live).await;
    register(&one, &backtest).await;
    let exec = Executor::default();
    let run = exec.run(cycle(0), &live, base(0)).await.unwrap();
    assert_eq!(run.report().version(4).unwrap().status, RunStatus::Failed);
    exec.persist(&mut one, &run).await.unwrap();
    assert_eq!(duplicates(&one, cycle(0)).await, (0, 90));
    // A rerun, then two at once on two connections.
    exec.persist(&mut one, &run).await.unwrap();
    assert_eq!(duplicates(&one, cycle(0)).await, (0, 90));
    let (a, b) = tokio::join!(exec.persist(&mut one, &run), exec.persist(&mut two, &run));
    a.unwrap();
    b.unwrap();
    assert_eq!(duplicates(&one, cycle(0)).await, (0, 90));
    // Backtests of a version, twice, beside the live rows.
    for _ in 0..2 {
        let run = exec.run(cycle(0), &backtest, base(0)).await.unwrap();
        exec.persist_backtest(&mut one, &run, 3).await.unwrap();
        assert_eq!(duplicates(&one, cycle(0)).await, (0, 120));
    }
    // Nothing in the schema would have refused a duplicate: the guarantee
    // is the executor's.
    one.execute(
        "INSERT INTO kcg.detection_model_run_outputs \
           (cycle_ts, model_id, version_id, role, entity_key, score) \
         SELECT cycle_ts, model_id, version_id, role, entity_key, score \
         FROM kcg.detection_model_run_outputs WHERE cycle_ts = $1 AND version_id = 1",
        &[&cycle(0)],
    )
    .await
    .unwrap();
    assert_eq!(duplicates(&one, cycle(0)).await, (50, 170));
    // And the executor's next rerun puts it right.
    exec.persist(&mut one, &run).await.unwrap();
    assert_eq!(duplicates(&one, cycle(0)).await, (0, 90));
}
