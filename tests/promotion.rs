//! The promotion workflow of issue 15 on the bundled real AIS sample,
//! through the libraries, the way `cargo xtask demo` sets it up: the five
//! reference PRIMARYs, the demo's SHADOW and CHALLENGER
//! (`data/demo-candidates.json`), cycles 00:05 to 00:25 every 5 minutes.
//!
//! - the CHALLENGER's comparison shows the entity-cycles only one of the
//!   two flags (counting a missing score as 0), in the snapshot and in
//!   `compare` alike;
//! - a backtested SHADOW over the five cycles has five OK runs, and every
//!   PRIMARY row, every other version's row and the legacy tables are
//!   unchanged (a fingerprint of counts and md5s before and after);
//! - the gate refuses a version with too few compared cycles and accepts it
//!   after a backtest;
//! - a rollback restores the previous PRIMARY and the next cycle runs it;
//! - the audit trail lists every change made, one by hand included.

use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use model_api::{ModelId, Role, VersionLabel};
use pipeline::{BacktestCycle, Pipeline, PipelineConfig, PipelineError};
use registry_store::{Action, NewVersion};
use snapshot::compare::{self, CycleWindow, Gate, Request, WindowBasis};
use test_support::TestDb;
use tokio_postgres::Client;

fn ts(s: &str) -> DateTime<Utc> {
    s.parse().expect("fixed time")
}

const FIRST: &str = "2022-01-03T00:05:00Z";
const LAST: &str = "2022-01-03T00:25:00Z";

fn cycles() -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut t = ts(FIRST);
    while t <= ts(LAST) {
        out.push(t);
        t += TimeDelta::minutes(5);
    }
    out
}

fn the_replay() -> CycleWindow {
    CycleWindow {
        from: ts(FIRST),
        to: ts(LAST),
        basis: WindowBasis::Given,
    }
}

fn catalog() -> registry::Catalog {
    registry::Catalog::from_entries(detectors::catalog()).expect("catalog")
}

fn pipeline() -> Pipeline {
    Pipeline::new(
        PipelineConfig {
            use_registry: true,
            ..PipelineConfig::default()
        },
        catalog(),
    )
}

/// A candidate of the demo: `(model, label, role, params)`.
fn demo_candidates() -> Vec<NewVersion> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/demo-candidates.json");
    let text = std::fs::read_to_string(&path).expect("data/demo-candidates.json");
    let list: Vec<serde_json::Value> = serde_json::from_str(&text).expect("a JSON list");
    list.iter()
        .map(|c| NewVersion {
            model: ModelId::new(c["model"].as_str().expect("model")).expect("model id"),
            version: VersionLabel::new(c["version"].as_str().expect("version")).expect("label"),
            role: c["role"].as_str().expect("role").parse().expect("a role"),
            params: c["params"].as_object().expect("params").clone(),
            activate: true,
            timeout_ms: None,
            implementation: None,
            allow_unknown: false,
        })
        .collect()
}

/// The id of `model`'s version `label`.
async fn version_id(client: &Client, model: &str, label: &str) -> i64 {
    client
        .query_one(
            "SELECT id FROM kcg.detection_model_versions WHERE model_id = $1 AND version = $2",
            &[&model, &label],
        )
        .await
        .expect("the version")
        .get(0)
}

/// The demo's database after its replay.
async fn demo(p: &Pipeline) -> (TestDb, Client) {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/ais-2022-01-03-sample.csv.gz");
    ingest::ingest_file(&mut client, &sample, &ingest::NoProgress)
        .await
        .expect("ingest the sample");
    pipeline::register_reference_models(&mut client)
        .await
        .expect("register the reference models");
    for candidate in demo_candidates() {
        registry_store::add_version(&mut client, &catalog(), &candidate)
            .await
            .expect("a demo candidate");
    }
    for t in cycles() {
        let outcome = p.run_cycle(&mut client, t).await.expect("cycle");
        assert!(outcome.failed.is_none(), "cycle {t}: {:?}", outcome.failed);
    }
    (db, client)
}

#[tokio::test]
async fn the_demo_challenger_comparison_shows_the_flags_only_one_version_raises() {
    let p = pipeline();
    let (_db, client) = demo(&p).await;
    let challenger = version_id(&client, "identity_collision", "2.0.0-two-switches").await;
    let report = compare::compare_window(&client, &Request::new(challenger), the_replay())
        .await
        .expect("comparison");
    let c = &report.comparison;
    assert_eq!(c.baseline.version, "1.0.0");
    assert_eq!(c.cycles, 5);
    // The PRIMARY (one switch) stored 8 rows, the CHALLENGER (two
    // switches) 3, all of them shared and flagged by both: counted over the
    // shared entities only (the old comparison) the two agree completely.
    assert_eq!(
        (c.rows.baseline, c.rows.candidate, c.rows.shared),
        (8, 3, 3)
    );
    assert_eq!(c.flags.both, c.rows.shared);
    // A missing score is 0: the 5 entity-cycles only the PRIMARY flags show.
    assert_eq!(c.entities, 8);
    assert_eq!(
        (c.flags.both, c.flags.only_baseline, c.flags.only_candidate),
        (3, 5, 0)
    );
    // The population is the vessels track_features saw in those cycles.
    let vessels: i64 = client
        .query_one(
            "SELECT sum(output_count)::bigint FROM kcg.detection_model_runs \
              WHERE model_id = 'track_features' AND role = 'PRIMARY'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(c.population, vessels);
    assert_eq!(c.flags.neither, vessels - 8);
    // Where the old comparison said agree@0.5 1.000 and diff 0.000.
    assert_eq!((c.agreement, c.mean_abs_diff), (Some(0.375), Some(0.3125)));
    let text = report.render_text();
    assert!(text.contains("5 only PRIMARY"), "{text}");
    assert!(text.contains("agreement@0.5    0.3750"), "{text}");
    assert!(text.contains("mean abs diff    0.3125"), "{text}");
    assert_eq!(c.top_divergent[0].entity_key, "211002010");
    assert!(!c.top_divergent.is_empty());

    // The snapshot's models section holds the very same comparison.
    let hourly = snapshot::hourly(&client, ts("2022-01-03T00:25:01Z"))
        .await
        .expect("hourly");
    let from_snapshot = hourly
        .models
        .comparisons
        .iter()
        .find(|s| s.candidate.version_id == challenger)
        .expect("the CHALLENGER in the snapshot");
    assert_eq!(
        (
            from_snapshot.flags,
            from_snapshot.agreement,
            from_snapshot.mean_abs_diff
        ),
        (c.flags, c.agreement, c.mean_abs_diff)
    );
    // The SHADOW's small difference keeps its digits.
    let shadow = hourly
        .models
        .comparisons
        .iter()
        .find(|s| s.candidate.role == Role::Shadow)
        .expect("the SHADOW in the snapshot");
    let shadow_diff = shadow.mean_abs_diff.expect("a difference");
    assert!(shadow_diff > 0.0 && shadow_diff < 0.1, "{shadow_diff}");
    assert!(
        !hourly.sections_in_alarm().contains(&"models"),
        "{:?}",
        hourly.alarms
    );
}

/// Counts and md5s of everything a backtest of `except` must not touch:
/// the run tables' rows of every other version (PRIMARYs included, each
/// PRIMARY's also on its own) and the legacy tables.
async fn fingerprint(client: &Client, except: i64) -> Vec<(String, i64, String)> {
    let queries = [
        (
            "primary outputs",
            "SELECT count(*), coalesce(md5(string_agg(o::text, '|' ORDER BY cycle_ts, version_id, entity_key)), '') \
               FROM kcg.detection_model_run_outputs o WHERE role = 'PRIMARY'",
        ),
        (
            "primary metrics",
            "SELECT count(*), coalesce(md5(string_agg(m::text, '|' ORDER BY cycle_ts, version_id, metric_key)), '') \
               FROM kcg.detection_model_metrics m \
              WHERE version_id IN (SELECT id FROM kcg.detection_model_versions WHERE role = 'PRIMARY')",
        ),
        (
            "primary runs",
            "SELECT count(*), coalesce(md5(string_agg(r::text, '|' ORDER BY id)), '') \
               FROM kcg.detection_model_runs r WHERE role = 'PRIMARY'",
        ),
        (
            "other outputs",
            "SELECT count(*), coalesce(md5(string_agg(o::text, '|' ORDER BY cycle_ts, version_id, entity_key)), '') \
               FROM kcg.detection_model_run_outputs o WHERE version_id <> $1",
        ),
        (
            "other metrics",
            "SELECT count(*), coalesce(md5(string_agg(m::text, '|' ORDER BY cycle_ts, version_id, metric_key)), '') \
               FROM kcg.detection_model_metrics m WHERE version_id <> $1",
        ),
        (
            "other runs",
            "SELECT count(*), coalesce(md5(string_agg(r::text, '|' ORDER BY id)), '') \
               FROM kcg.detection_model_runs r WHERE version_id IS DISTINCT FROM $1",
        ),
        (
            "vessel_analysis",
            "SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY cycle_ts, mmsi)), '') \
               FROM kcg.vessel_analysis t",
        ),
        (
            "gear_identity_collisions",
            "SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY id)), '') \
               FROM kcg.gear_identity_collisions t",
        ),
        (
            "prediction_events",
            "SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY id)), '') \
               FROM kcg.prediction_events t",
        ),
        (
            "prediction_stats_hourly",
            "SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY hour, category)), '') \
               FROM kcg.prediction_stats_hourly t",
        ),
        (
            "prediction_stage_timings",
            "SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY cycle_ts, stage_no)), '') \
               FROM kcg.prediction_stage_timings t",
        ),
    ];
    let mut out = Vec::new();
    for (name, sql) in queries {
        let row = if sql.contains("$1") {
            client.query_one(sql, &[&except]).await
        } else {
            client.query_one(sql, &[]).await
        }
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        out.push((name.to_owned(), row.get(0), row.get(1)));
    }
    out
}

/// `(origin, status)` of every run record of `version`.
async fn runs_of(client: &Client, version: i64) -> Vec<(String, String)> {
    client
        .query(
            "SELECT origin::text, status::text FROM kcg.detection_model_runs \
              WHERE version_id = $1 ORDER BY cycle_ts",
            &[&version],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test]
async fn backtest_gate_promote_rollback_and_the_audit_of_it_all() {
    let p = pipeline();
    let (_db, mut client) = demo(&p).await;
    let catalog = catalog();
    let primary = version_id(&client, "spoofing_score", "1.0.0").await;
    let live_shadow = version_id(&client, "spoofing_score", "1.1.0-sensitive").await;
    let first_audit: i64 = client
        .query_one(
            "SELECT coalesce(max(id), 0) FROM kcg.detection_model_audit",
            &[],
        )
        .await
        .unwrap()
        .get(0);

    // A new candidate after the fact: the default params with speed
    // evidence from 0.9 of the vessel's ceiling (the PRIMARY: 1.0), added
    // as a DRAFT SHADOW (it never ran live).
    let mut params = detectors::default_params("spoofing_score")
        .and_then(|v| v.as_object().cloned())
        .expect("defaults");
    params.insert("speed_floor_factor".into(), serde_json::json!(0.9));
    let candidate = registry_store::add_version(
        &mut client,
        &catalog,
        &NewVersion {
            model: ModelId::new("spoofing_score").unwrap(),
            version: VersionLabel::new("1.2.0-floor09").unwrap(),
            role: Role::Shadow,
            params,
            activate: false,
            timeout_ms: None,
            implementation: None,
            allow_unknown: false,
        },
    )
    .await
    .expect("the candidate")
    .id;

    // Too few cycles: refused, with the figures.
    let gate = Gate {
        min_cycles: 5,
        min_agreement: 0.9,
    };
    let before = compare::compare_window(&client, &Request::new(candidate), the_replay())
        .await
        .expect("comparison");
    let verdict = gate.judge(&before.comparison);
    assert!(!verdict.passed());
    assert_eq!(verdict.failures()[0], "compared cycles >= 5 (found 0)");

    // A PRIMARY is not backtested.
    assert!(matches!(
        p.prepare_backtest(&client, primary).await,
        Err(PipelineError::NotBacktestable { version_id, .. }) if version_id == primary
    ));

    let fingerprint_before = fingerprint(&client, candidate).await;
    let backtest = p
        .prepare_backtest(&client, candidate)
        .await
        .expect("prepared");
    // The candidate, its PRIMARY and the two upstream PRIMARYs, nothing else.
    let planned: Vec<i64> = backtest
        .plan()
        .models()
        .flat_map(|m| {
            std::iter::once(m.primary.version_id).chain(m.others.iter().map(|o| o.version_id))
        })
        .collect();
    assert_eq!(planned.len(), 4, "{planned:?}");
    assert!(planned.contains(&candidate) && planned.contains(&primary));
    for round in 0..2 {
        for t in cycles() {
            match p
                .backtest(&mut client, &backtest, t)
                .await
                .expect("backtest")
            {
                BacktestCycle::Ran {
                    report, positions, ..
                } => {
                    assert_eq!(report.status, dag_exec::RunStatus::Ok, "{t}: {report:?}");
                    assert!(report.output_count > 0 && positions > 0, "{t}: {report:?}");
                }
                BacktestCycle::LiveRunKept => panic!("{t}: no live run of a DRAFT"),
            }
        }
        // Five OK backtest runs, the second round replacing the first.
        assert_eq!(
            runs_of(&client, candidate).await,
            vec![("BACKTEST".to_owned(), "OK".to_owned()); 5],
            "round {round}"
        );
        assert_eq!(
            fingerprint(&client, candidate).await,
            fingerprint_before,
            "round {round}"
        );
    }
    // The live SHADOW's live records are kept as they are.
    let live = p
        .prepare_backtest(&client, live_shadow)
        .await
        .expect("prepared");
    for t in cycles() {
        assert!(matches!(
            p.backtest(&mut client, &live, t).await.expect("backtest"),
            BacktestCycle::LiveRunKept
        ));
    }
    assert_eq!(fingerprint(&client, candidate).await, fingerprint_before);

    // Now the gate has five compared cycles to judge.
    let after = compare::compare_window(&client, &Request::new(candidate), the_replay())
        .await
        .expect("comparison");
    let verdict = gate.judge(&after.comparison);
    assert_eq!(after.comparison.cycles, 5);
    assert_eq!(after.comparison.candidate_runs.backtest, 5);
    assert!(verdict.passed(), "{}", verdict.render_text());

    // Promote with a note, then roll back: the previous PRIMARY again.
    {
        let mut tx = registry_store::noted(&mut client, Some("gate passed over the replay"))
            .await
            .unwrap();
        registry_store::promote(&mut tx, &catalog, candidate)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let back = registry_store::rollback(
        &mut client,
        &catalog,
        &ModelId::new("spoofing_score").unwrap(),
    )
    .await
    .expect("rollback");
    assert_eq!((back.restored.0, back.archived.0), (primary, candidate));
    let next = p
        .run_cycle(&mut client, ts("2022-01-03T00:30:00Z"))
        .await
        .expect("the next cycle");
    let report = next.registry.expect("stage 10 ran");
    let ran = report
        .primary("spoofing_score")
        .expect("spoofing_score ran");
    assert_eq!(
        (ran.version_id, ran.status),
        (Some(primary), dag_exec::RunStatus::Ok)
    );
    assert!(
        report.version(candidate).is_none(),
        "the archived candidate ran"
    );

    // By hand, as in psql.
    client
        .batch_execute(
            "UPDATE kcg.detection_models SET description = 'spoofing evidence per vessel' \
              WHERE model_id = 'spoofing_score'",
        )
        .await
        .unwrap();

    let entries: Vec<_> = registry_store::history(&client, None, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.id > first_audit)
        .collect();
    let changes: Vec<(Action, Option<i64>, Option<String>)> = entries
        .iter()
        .map(|e| (e.action, e.version_id, e.note.clone()))
        .collect();
    let note = Some("gate passed over the replay".to_owned());
    assert_eq!(
        changes,
        vec![
            (Action::AddVersion, Some(candidate), None),
            (Action::Promote, Some(primary), note.clone()),
            (Action::Promote, Some(candidate), note),
            (Action::Rollback, Some(candidate), None),
            (Action::Rollback, Some(primary), None),
            (Action::Manual, None, None),
        ]
    );
    let user: String = client
        .query_one("SELECT session_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert!(entries.iter().all(|e| e.db_user == user));
    for e in &entries {
        eprintln!(
            "audit {} {} {} {} {} {:?}",
            e.changed_at.format("%H:%M:%S"),
            e.action,
            e.model_id.as_deref().unwrap_or("-"),
            e.version_id.map_or("-".to_owned(), |v| v.to_string()),
            e.summary(),
            e.note
        );
    }
}
