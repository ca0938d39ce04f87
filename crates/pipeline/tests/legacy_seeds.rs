//! Stage 10 takes stages 3-6's results for the PRIMARY versions that run
//! as the legacy path (the reference implementation with its default
//! params, fed by the same upstream results), and computes everything else.
//! On the bundled real sample: a SHADOW with exactly the PRIMARY's params,
//! which always computes, stores exactly what the seeded PRIMARY stored;
//! a PRIMARY with other params is computed, and so is everything
//! downstream of it.

mod common;

use std::collections::BTreeMap;

use common::{registry_pipeline as pipeline, ts};
use pipeline::Stage;
use test_support::TestDb;
use tokio_postgres::Client;

const MODELS: [&str; 5] = [
    "track_features",
    "identity",
    "spoofing_score",
    "identity_collision",
    "risk",
];

/// Per (model, role): whether its line of the report was seeded.
async fn cycle(client: &mut Client, at: &str) -> (BTreeMap<(String, String), bool>, String) {
    let o = pipeline().run_cycle(client, ts(at)).await.unwrap();
    assert!(o.failed.is_none(), "{:?}", o.failed);
    let report = o.registry.as_ref().expect("stage 10 ran");
    assert_eq!(
        report.count(dag_exec::RunStatus::Ok),
        report.versions.len(),
        "{report:?}"
    );
    let seeded = report
        .versions
        .iter()
        .map(|v| {
            let role = v.role.map(|r| r.as_str().to_owned()).unwrap_or_default();
            ((v.model_id.clone(), role), v.seeded)
        })
        .collect();
    let detail = o
        .stages
        .iter()
        .find(|s| s.stage == Stage::ModelRegistry)
        .and_then(|s| s.detail.clone())
        .unwrap_or_default();
    (seeded, detail)
}

/// Every stored row of `model`'s `role` version at `at`, as text.
async fn rows(client: &Client, model: &str, role: &str, at: &str) -> Vec<(String, String)> {
    client
        .query(
            "SELECT entity_key, concat_ws(' ', score::text, payload::text) \
             FROM kcg.detection_model_run_outputs \
             WHERE model_id = $1 AND role = $2 AND cycle_ts = $3 ORDER BY entity_key",
            &[&model, &role, &ts(at)],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

async fn run_counts(client: &Client, model: &str, role: &str, at: &str) -> (i32, i32) {
    let r = client
        .query_one(
            "SELECT output_count, omitted_count FROM kcg.detection_model_runs \
             WHERE model_id = $1 AND role = $2 AND cycle_ts = $3",
            &[&model, &role, &ts(at)],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

#[tokio::test]
async fn seeded_primaries_store_what_computing_them_stores_and_a_change_upstream_stops_the_reuse() {
    let db = TestDb::new().await;
    let mut client = common::sample_with_reference_models(&db).await;
    // A SHADOW of every model with exactly its PRIMARY's params: a SHADOW
    // is never seeded, so it computes.
    client
        .batch_execute(
            "INSERT INTO kcg.detection_model_versions (model_id, version, role, status, params) \
             SELECT model_id, 'same-params', 'SHADOW', 'ACTIVE', params \
             FROM kcg.detection_model_versions WHERE role = 'PRIMARY'",
        )
        .await
        .unwrap();

    let at = "2022-01-03T00:15:00Z";
    let (seeded, detail) = cycle(&mut client, at).await;
    for model in MODELS {
        let primary = seeded[&(model.to_owned(), "PRIMARY".to_owned())];
        // risk has no legacy stage.
        assert_eq!(primary, model != "risk", "{model} PRIMARY seeded");
        assert!(
            !seeded[&(model.to_owned(), "SHADOW".to_owned())],
            "{model} SHADOW"
        );
        let (p, s) = (
            rows(&client, model, "PRIMARY", at).await,
            rows(&client, model, "SHADOW", at).await,
        );
        assert_eq!(p, s, "{model}: the seeded PRIMARY and the computed SHADOW");
        assert_eq!(
            run_counts(&client, model, "PRIMARY", at).await,
            run_counts(&client, model, "SHADOW", at).await,
            "{model}"
        );
        if model != "identity_collision" {
            assert!(!p.is_empty(), "{model} stored rows to compare");
        }
    }
    assert!(
        detail.ends_with("4 PRIMARY results taken from stages 3-6"),
        "{detail}"
    );

    // track_features' PRIMARY gets other params: it computes, and so does
    // everything fed by it, directly or not; identity still takes stage 4's.
    client
        .batch_execute(
            "UPDATE kcg.detection_model_versions \
             SET params = jsonb_set(params, '{noise_km}', '0.3') \
             WHERE model_id = 'track_features' AND role = 'PRIMARY'",
        )
        .await
        .unwrap();
    let at = "2022-01-03T00:20:00Z";
    let (seeded, detail) = cycle(&mut client, at).await;
    for model in MODELS {
        assert_eq!(
            seeded[&(model.to_owned(), "PRIMARY".to_owned())],
            model == "identity",
            "{model} PRIMARY seeded after track_features changed"
        );
    }
    assert!(
        detail.ends_with("1 PRIMARY results taken from stages 3-6"),
        "{detail}"
    );
    // The PRIMARY computed with its own params: not the legacy tracks.
    assert_ne!(
        rows(&client, "track_features", "PRIMARY", at).await,
        rows(&client, "track_features", "SHADOW", at).await
    );
}
