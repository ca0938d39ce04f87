//! The one comparison (`snapshot::compare`) on fixture runs written into a
//! real database: its figures, its default window, its refusals, and its
//! text and JSON pinned with insta.

use chrono::{DateTime, Utc};
use snapshot::SnapshotError;
use snapshot::compare::{self, CycleWindow, Flags, Request, WindowBasis};
use test_support::TestDb;
use tokio_postgres::Client;

fn ts(s: &str) -> DateTime<Utc> {
    s.parse().expect("fixed time")
}

/// A PRIMARY (1) and a CHALLENGER (2) of `m` over two cycles, an upstream
/// model `u` whose PRIMARY (5) saw 6 entities, a DRAFT (3) without runs,
/// an ARCHIVED PRIMARY (4), and a model `other` (6).
const FIXTURE: &str = "
INSERT INTO kcg.detection_models (model_id) VALUES ('m'), ('u'), ('other');
INSERT INTO kcg.detection_model_dependencies (model_id, depends_on, input_key) VALUES ('m', 'u', 'u');
INSERT INTO kcg.detection_model_versions (id, model_id, version, role, status) VALUES
    (1, 'm', '1.0', 'PRIMARY', 'ACTIVE'),
    (2, 'm', '2.0', 'CHALLENGER', 'ACTIVE'),
    (3, 'm', '3.0', 'SHADOW', 'DRAFT'),
    (4, 'm', '0.9', 'PRIMARY', 'ARCHIVED'),
    (5, 'u', '1.0', 'PRIMARY', 'ACTIVE'),
    (6, 'other', '1.0', 'PRIMARY', 'ACTIVE');
INSERT INTO kcg.detection_model_runs (cycle_ts, model_id, version_id, role, status, output_count, origin) VALUES
    ('2022-01-03T00:05:00Z', 'u', 5, 'PRIMARY', 'OK', 6, 'LIVE'),
    ('2022-01-03T00:05:00Z', 'm', 1, 'PRIMARY', 'OK', 3, 'LIVE'),
    ('2022-01-03T00:05:00Z', 'm', 2, 'CHALLENGER', 'OK', 4, 'BACKTEST'),
    ('2022-01-03T00:10:00Z', 'u', 5, 'PRIMARY', 'OK', 6, 'LIVE'),
    ('2022-01-03T00:10:00Z', 'm', 1, 'PRIMARY', 'OK', 2, 'LIVE'),
    ('2022-01-03T00:10:00Z', 'm', 2, 'CHALLENGER', 'OK', 2, 'LIVE'),
    ('2022-01-03T00:15:00Z', 'm', 1, 'PRIMARY', 'OK', 2, 'LIVE'),
    ('2022-01-03T00:15:00Z', 'm', 2, 'CHALLENGER', 'TIMEOUT', 0, 'LIVE');
INSERT INTO kcg.detection_model_run_outputs (cycle_ts, model_id, version_id, role, entity_key, score) VALUES
    ('2022-01-03T00:05:00Z', 'm', 1, 'PRIMARY', 'a', 0.9),
    ('2022-01-03T00:05:00Z', 'm', 1, 'PRIMARY', 'b', 0.0),
    ('2022-01-03T00:05:00Z', 'm', 1, 'PRIMARY', 'c', 0.6),
    ('2022-01-03T00:05:00Z', 'm', 2, 'CHALLENGER', 'a', 0.9001),
    ('2022-01-03T00:05:00Z', 'm', 2, 'CHALLENGER', 'b', 0.0),
    ('2022-01-03T00:05:00Z', 'm', 2, 'CHALLENGER', 'd', 0.75),
    ('2022-01-03T00:05:00Z', 'm', 2, 'CHALLENGER', 'e', NULL),
    ('2022-01-03T00:10:00Z', 'm', 1, 'PRIMARY', 'a', 0.9),
    ('2022-01-03T00:10:00Z', 'm', 1, 'PRIMARY', 'c', 0.2),
    ('2022-01-03T00:10:00Z', 'm', 2, 'CHALLENGER', 'a', 0.9),
    ('2022-01-03T00:10:00Z', 'm', 2, 'CHALLENGER', 'c', 0.4),
    ('2022-01-03T00:15:00Z', 'm', 1, 'PRIMARY', 'a', 0.9),
    ('2022-01-03T00:15:00Z', 'm', 1, 'PRIMARY', 'c', 0.6);";

async fn fixture() -> (TestDb, Client) {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(FIXTURE).await.expect("fixture");
    (db, client)
}

fn given(from: &str, to: &str) -> CycleWindow {
    CycleWindow {
        from: ts(from),
        to: ts(to),
        basis: WindowBasis::Given,
    }
}

#[tokio::test]
async fn a_missing_score_is_zero_and_the_flags_span_the_population() {
    let (_db, client) = fixture().await;
    let report = compare::compare_window(
        &client,
        &Request::new(2),
        given("2022-01-03T00:00:00Z", "2022-01-03T00:15:00Z"),
    )
    .await
    .expect("comparison");
    let c = &report.comparison;
    assert_eq!(
        (c.baseline.version_id, c.baseline.version.as_str()),
        (1, "1.0")
    );
    // 00:15 is not compared: the candidate timed out there.
    assert_eq!(c.cycles, 2);
    assert_eq!(
        (
            c.candidate_runs.total,
            c.candidate_runs.timeout,
            c.candidate_runs.backtest
        ),
        (3, 1, 1)
    );
    assert_eq!(c.baseline_runs.ok, 3);
    // Stored: 00:05 PRIMARY a b c, CHALLENGER a b d e (shared a b);
    // 00:10 both a c.
    assert_eq!(
        (c.rows.baseline, c.rows.candidate, c.rows.shared),
        (5, 6, 4)
    );
    // Scored non-zero by either: 00:05 a c d (b is 0 in both, e NULL = 0),
    // 00:10 a c.
    assert_eq!(c.entities, 5);
    // Population: 00:05 the upstream's 6 (more than the 5 stored), 00:10
    // the upstream's 6 again.
    assert_eq!(c.population, 12);
    assert_eq!(
        c.flags,
        Flags {
            both: 2,
            only_baseline: 1,
            only_candidate: 1,
            neither: 8
        }
    );
    // a (both), c at 00:10 (neither) agree; c at 00:05, d disagree.
    assert_eq!(c.agreement, Some(0.6));
    // |0.9001-0.9| + 0.6 + 0.75 + 0 + 0.2 over 5.
    assert_eq!(c.mean_abs_diff, Some(0.31002));
    let top: Vec<(&str, f64, f64, i64)> = c
        .top_divergent
        .iter()
        .map(|d| {
            (
                d.entity_key.as_str(),
                d.baseline_score,
                d.candidate_score,
                d.diverging_cycles,
            )
        })
        .collect();
    assert_eq!(
        top,
        vec![
            ("d", 0.0, 0.75, 1),
            ("c", 0.6, 0.0, 2),
            ("a", 0.9, 0.9001, 1),
        ]
    );
    insta::assert_snapshot!("challenger_text", report.render_text());
    insta::assert_snapshot!("challenger_json", report.render_json().expect("json"));

    // A small difference keeps its digits.
    let small = compare::compare_window(
        &client,
        &Request {
            top: 1,
            ..Request::new(2)
        },
        given("2022-01-03T00:10:00Z", "2022-01-03T00:10:00Z"),
    )
    .await
    .expect("comparison");
    let s = &small.comparison;
    assert_eq!((s.cycles, s.entities, s.mean_abs_diff), (1, 2, Some(0.1)));
    assert_eq!(s.top_divergent.len(), 1);
}

#[tokio::test]
async fn the_default_window_says_whether_it_is_now_or_the_newest_cycle() {
    let (_db, client) = fixture().await;
    let now = ts("2022-01-03T06:00:00Z");
    let w = compare::default_window(&client, 2, now)
        .await
        .expect("window");
    assert_eq!(
        (w.from, w.to, w.basis),
        (
            ts("2022-01-02T06:00:00Z"),
            now,
            WindowBasis::LastDay { now }
        )
    );
    let later = ts("2026-01-01T00:00:00Z");
    let w = compare::default_window(&client, 2, later)
        .await
        .expect("window");
    assert_eq!(
        (w.from, w.to, w.basis),
        (
            ts("2022-01-02T00:15:00Z"),
            ts("2022-01-03T00:15:00Z"),
            WindowBasis::NewestCycle { now: later }
        )
    );
    // A version without runs: the day up to now, with nothing in it.
    let w = compare::default_window(&client, 3, later)
        .await
        .expect("window");
    assert_eq!(w.basis, WindowBasis::LastDay { now: later });
    let empty = compare::compare_window(&client, &Request::new(3), w)
        .await
        .expect("comparison");
    let e = &empty.comparison;
    assert_eq!((e.cycles, e.agreement, e.mean_abs_diff), (0, None, None));
    assert!(
        empty
            .render_text()
            .contains("cycles 2025-12-31T00:00:00Z to 2026-01-01T00:00:00Z (the 24 hours up to now, 2026-01-01T00:00:00Z)"),
        "{}",
        empty.render_text()
    );
}

#[tokio::test]
async fn what_cannot_be_compared_is_refused_naming_the_versions() {
    let (_db, client) = fixture().await;
    let (start, end) = (ts("2022-01-03T00:00:00Z"), ts("2022-01-03T01:00:00Z"));
    let refusal = |request: Request| {
        let client = &client;
        async move {
            compare::compare(client, &request, start, end)
                .await
                .expect_err("refused")
                .to_string()
        }
    };
    assert_eq!(
        refusal(Request::new(99)).await,
        "no model version with id 99"
    );
    assert_eq!(
        refusal(Request::new(1)).await,
        "version 1 has nothing to compare with: it is the ACTIVE PRIMARY of model m; \
         name the version to compare it with (--against)"
    );
    assert_eq!(
        refusal(Request {
            baseline: Some(2),
            ..Request::new(2)
        })
        .await,
        "version 2 has nothing to compare with: it would be compared with itself"
    );
    assert_eq!(
        refusal(Request {
            baseline: Some(6),
            ..Request::new(2)
        })
        .await,
        "version 2 (model m) and version 6 (model other) belong to different models; \
         only versions of one model compare"
    );
    assert_eq!(
        refusal(Request {
            threshold: 0.0,
            ..Request::new(2)
        })
        .await,
        "the comparison threshold must be a finite number above 0, not 0"
    );
    client
        .batch_execute("UPDATE kcg.detection_model_versions SET status = 'ARCHIVED' WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(
        refusal(Request::new(2)).await,
        "version 2 has nothing to compare with: model m has no ACTIVE PRIMARY; name one with --against"
    );
    // Against an archived PRIMARY by name it works.
    let c = compare::compare(
        &client,
        &Request {
            baseline: Some(1),
            ..Request::new(2)
        },
        start,
        end,
    )
    .await
    .expect("comparison");
    assert_eq!(c.cycles, 2);
    assert!(matches!(
        compare::compare(&client, &Request::new(99), start, end).await,
        Err(SnapshotError::UnknownVersion { id: 99 })
    ));
}

#[tokio::test]
async fn per_cycle_and_score_pairs_are_the_same_comparison() {
    let (_db, client) = fixture().await;
    let (start, end) = (ts("2022-01-03T00:00:00Z"), ts("2022-01-03T01:00:00Z"));
    let c = compare::compare(&client, &Request::new(2), start, end)
        .await
        .expect("comparison");
    let cycles = compare::per_cycle(&client, &c, start, end)
        .await
        .expect("per cycle");
    // The compared cycles only (00:15 is not: the candidate timed out).
    let at: Vec<DateTime<Utc>> = cycles.iter().map(|p| p.cycle_ts).collect();
    assert_eq!(at, [ts("2022-01-03T00:05:00Z"), ts("2022-01-03T00:10:00Z")]);
    // 00:05: a agrees, c (0.6 vs missing) and d (missing vs 0.75) do not,
    // b (0 and 0) and e (NULL) are no entity.
    let first = &cycles[0];
    assert_eq!(
        (first.entities, first.only_baseline, first.only_candidate),
        (3, 1, 1)
    );
    assert_eq!(first.agreement, 0.333333);
    assert_eq!(first.mean_abs_diff, 0.450033);
    // 00:10: a and c (0.2 vs 0.4) both on the same side.
    let second = &cycles[1];
    assert_eq!(
        (second.entities, second.agreement, second.mean_abs_diff),
        (2, 1.0, 0.1)
    );
    // They add up to the window's figures.
    assert_eq!(cycles.iter().map(|p| p.entities).sum::<i64>(), c.entities);
    assert_eq!(
        cycles.iter().map(|p| p.only_baseline).sum::<i64>(),
        c.flags.only_baseline
    );
    assert_eq!(
        cycles.iter().map(|p| p.only_candidate).sum::<i64>(),
        c.flags.only_candidate
    );

    let pairs = compare::score_pairs(&client, &c, start, end, 100)
        .await
        .expect("score pairs");
    let got: Vec<(f64, f64, i64)> = pairs
        .iter()
        .map(|p| (p.baseline_score, p.candidate_score, p.count))
        .collect();
    assert_eq!(
        got,
        [(0.9, 0.9, 2), (0.0, 0.75, 1), (0.2, 0.4, 1), (0.6, 0.0, 1)]
    );
    assert_eq!(pairs.iter().map(|p| p.count).sum::<i64>(), c.entities);
    let top = compare::score_pairs(&client, &c, start, end, 1)
        .await
        .expect("score pairs");
    assert_eq!(top.len(), 1);

    // Another threshold moves the flags the same way in both.
    let at_0_3 = compare::compare(
        &client,
        &Request {
            threshold: 0.3,
            ..Request::new(2)
        },
        start,
        end,
    )
    .await
    .expect("comparison");
    let cycles = compare::per_cycle(&client, &at_0_3, start, end)
        .await
        .expect("per cycle");
    // 00:10: c is 0.2 for the PRIMARY and 0.4 for the candidate.
    assert_eq!(cycles[1].only_candidate, 1);
    assert_eq!(
        cycles.iter().map(|p| p.only_candidate).sum::<i64>(),
        at_0_3.flags.only_candidate
    );
}
