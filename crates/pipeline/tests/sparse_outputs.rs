//! Sparse outputs on the bundled real sample: the same cycles stored with
//! every row (`"_output": "all"` on every version) and then rerun with the
//! reference models' default output policies give the same comparison
//! figures, the same per-version statistics, and fewer stored rows, the
//! difference recorded as `omitted_count` in the run rows.

mod common;

use std::collections::BTreeMap;

use common::{registry_pipeline as pipeline, ts};
use snapshot::compare::StoredRows;
use test_support::TestDb;
use tokio_postgres::Client;

const CYCLES: [&str; 2] = ["2022-01-03T00:15:00Z", "2022-01-03T00:20:00Z"];

async fn replay(client: &mut Client) {
    // A fresh pipeline: its params cache reads the registry as it is now.
    let p = pipeline();
    for at in CYCLES {
        let o = p.run_cycle(client, ts(at)).await.unwrap();
        assert!(o.failed.is_none(), "{:?}", o.failed);
        let r = o.registry.as_ref().expect("stage 10 ran");
        assert_eq!(r.count(dag_exec::RunStatus::Ok), 9, "{r:?}");
    }
}

/// Per model: (rows stored, rows with score 0 and no payload, rows with
/// score 0), and per version id: (output_count, omitted_count) summed over
/// the run rows.
type Stored = (BTreeMap<String, (i64, i64, i64)>, BTreeMap<i64, (i64, i64)>);

async fn stored(client: &Client) -> Stored {
    let rows = client
        .query(
            "SELECT model_id::text, count(*), \
                    count(*) FILTER (WHERE coalesce(score, 0) = 0 AND payload IS NULL), \
                    count(*) FILTER (WHERE score = 0) \
             FROM kcg.detection_model_run_outputs GROUP BY model_id",
            &[],
        )
        .await
        .unwrap();
    let by_model = rows
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
        .collect();
    let rows = client
        .query(
            "SELECT version_id, sum(output_count)::int8, sum(omitted_count)::int8 \
             FROM kcg.detection_model_runs WHERE status = 'OK' GROUP BY version_id",
            &[],
        )
        .await
        .unwrap();
    let by_version = rows
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    (by_model, by_version)
}

#[tokio::test]
async fn sparse_outputs_leave_every_comparison_figure_unchanged_on_real_data() {
    let db = TestDb::new().await;
    let mut client = common::sample_with_reference_models(&db).await;
    let mut spoofing = detectors::default_params("spoofing_score").unwrap();
    spoofing["speed_floor_factor"] = 0.5.into();
    spoofing["speed_full_factor"] = 1.0.into();
    let mut identity = detectors::default_params("identity_collision").unwrap();
    identity["min_switches"] = 2.into();
    let mut risk = detectors::default_params("risk").unwrap();
    risk["spoofing_weight"] = 0.3.into();
    let mut tracks = detectors::default_params("track_features").unwrap();
    tracks["noise_km"] = 0.3.into();
    for (model, version, role, params) in [
        ("track_features", "shadow", "SHADOW", tracks),
        ("spoofing_score", "shadow", "SHADOW", spoofing),
        ("identity_collision", "challenger", "CHALLENGER", identity),
        ("risk", "shadow", "SHADOW", risk),
    ] {
        common::insert_version(&client, model, version, role, &params).await;
    }

    // Every row stored.
    client
        .batch_execute(
            "UPDATE kcg.detection_model_versions SET params = params || '{\"_output\": \"all\"}'",
        )
        .await
        .unwrap();
    replay(&mut client).await;
    let (all_models, all_runs) = stored(&client).await;
    for (model, (rows, empty, zero)) in &all_models {
        println!(
            "storing everything: {model}: {rows} rows, {zero} with score 0, {empty} of them without payload"
        );
    }
    assert!(all_runs.values().all(|&(_, omitted)| omitted == 0));
    let at = ts("2022-01-03T01:00:00Z");
    let full = snapshot::hourly(&client, at).await.unwrap().models;

    // The defaults: the same cycles rerun (replacing them).
    client
        .batch_execute("UPDATE kcg.detection_model_versions SET params = params - '_output'")
        .await
        .unwrap();
    replay(&mut client).await;
    let (sparse_models, sparse_runs) = stored(&client).await;
    let sparse = snapshot::hourly(&client, at).await.unwrap().models;

    // What was left out is what carried nothing, and the run rows count it.
    let mut omitted_total = 0;
    for (model, (rows, empty, zero)) in &all_models {
        let (kept, kept_empty, kept_zero) = sparse_models.get(model).copied().unwrap_or((0, 0, 0));
        if ["spoofing_score", "risk"].contains(&model.as_str()) {
            // NonZeroOrPayload.
            assert_eq!((kept, kept_empty), (rows - empty, 0), "{model}");
            assert!(*empty > 0, "{model} has zero-score rows to leave out");
        } else if model == "track_features" {
            // NonZero: every row has a payload when all are stored (the
            // model builds them by its policy), most score 0.
            assert_eq!(*empty, 0, "{model} stores every payload under \"all\"");
            assert_eq!((kept, kept_zero), (rows - zero, 0), "{model}");
            assert!(*zero > rows / 2, "{model}: {zero} of {rows} rows score 0");
        } else {
            assert_eq!(kept, *rows, "{model} keeps every row");
        }
        omitted_total += rows - kept;
    }
    assert_eq!(
        sparse_runs.values().map(|r| r.1).sum::<i64>(),
        omitted_total
    );
    for (version, (count, _)) in &all_runs {
        assert_eq!(sparse_runs[version].0, *count, "output_count of {version}");
    }

    // The models section: the same statistics and comparisons, but for
    // the rows stored.
    assert_eq!(full.outputs_per_run, sparse.outputs_per_run);
    let outputs = |m: &snapshot::Models| -> Vec<_> {
        m.versions
            .iter()
            .map(|v| (v.version_id, v.runs.clone(), v.outputs, v.outputs_per_run))
            .collect()
    };
    assert_eq!(outputs(&full), outputs(&sparse));
    assert_eq!(full.comparisons.len(), 4);
    assert_eq!(full.alarm, sparse.alarm);
    let no_rows = StoredRows {
        baseline: 0,
        candidate: 0,
        shared: 0,
    };
    let mut fewer = 0;
    for (mut f, mut s) in full.comparisons.into_iter().zip(sparse.comparisons) {
        assert!(s.rows.baseline <= f.rows.baseline && s.rows.candidate <= f.rows.candidate);
        fewer += (s.rows.baseline < f.rows.baseline) as usize;
        f.rows = no_rows;
        s.rows = no_rows;
        assert_eq!(f, s);
        assert!(f.cycles == 2 && f.population > 0, "{f:?}");
    }
    assert!(
        fewer >= 3,
        "track_features, spoofing_score and risk stored fewer rows"
    );
}
