//! A SHADOW that runs other code than its PRIMARY (issue 11): on the
//! bundled real AIS sample, `spoofing_score` implementation `v2` (its
//! evidences graded on logarithmic scales) as a SHADOW beside the PRIMARY's
//! `v1`, on the very same inputs and params, against a real PostgreSQL.

mod common;

use chrono::TimeDelta;
use common::ts;
use model_api::{ImplementationName, ModelId, Role, VersionLabel};
use pipeline::{Pipeline, PipelineConfig};
use registry_store::NewVersion;
use test_support::TestDb;

#[tokio::test]
async fn a_shadow_running_another_implementation_beside_the_primary_differs_on_real_data() {
    let db = TestDb::new().await;
    let mut client = common::sample_with_reference_models(&db).await;
    let catalog = registry::Catalog::from_entries(detectors::catalog()).unwrap();
    let params = match detectors::default_params("spoofing_score").unwrap() {
        serde_json::Value::Object(map) => map,
        other => panic!("{other}"),
    };
    let shadow = registry_store::add_version(
        &mut client,
        &catalog,
        &NewVersion {
            model: ModelId::new("spoofing_score").unwrap(),
            version: VersionLabel::new("2.0.0-graded").unwrap(),
            role: Role::Shadow,
            params, // the very same params: only the code differs
            activate: true,
            timeout_ms: None,
            implementation: Some(ImplementationName::new("v2").unwrap()),
            allow_unknown: false,
        },
    )
    .await
    .unwrap();
    // Both store every vessel (the kind's policy leaves out score 0), so
    // the two are compared vessel by vessel below.
    client
        .execute(
            "UPDATE kcg.detection_model_versions SET params = params || '{\"_output\": \"all\"}' \
             WHERE model_id = 'spoofing_score'",
            &[],
        )
        .await
        .unwrap();

    let p = Pipeline::new(
        PipelineConfig {
            use_registry: true,
            ..PipelineConfig::default()
        },
        catalog,
    );
    let mut t = ts("2022-01-03T00:05:00Z");
    while t <= ts("2022-01-03T00:25:00Z") {
        let o = p.run_cycle(&mut client, t).await.unwrap();
        assert!(o.failed.is_none(), "{:?}", o.failed);
        let report = o.registry.as_ref().expect("stage 10 ran");
        assert_eq!(report.versions.len(), 6, "5 PRIMARY + the SHADOW");
        assert_eq!(report.count(dag_exec::RunStatus::Ok), 6, "{report:?}");
        t += TimeDelta::minutes(5);
    }

    // PRIMARY (v1) against SHADOW (v2), entity by entity, cycle by cycle.
    let row = client
        .query_one(
            "SELECT count(*) AS pairs,
                    count(*) FILTER (WHERE p.score IS NULL OR s.score IS NULL) AS unpaired,
                    count(*) FILTER (WHERE p.score <> s.score) AS differ,
                    count(*) FILTER (WHERE s.score < p.score) AS lower,
                    count(*) FILTER (WHERE s.score > p.score) AS higher,
                    coalesce(max(abs(p.score - s.score)), 0) AS max_diff,
                    count(*) FILTER (WHERE p.score > 0.5) AS primary_above_half,
                    count(*) FILTER (WHERE s.score > 0.5) AS shadow_above_half
               FROM (SELECT * FROM kcg.detection_model_run_outputs
                      WHERE model_id = 'spoofing_score' AND role = 'PRIMARY') p
               FULL JOIN (SELECT * FROM kcg.detection_model_run_outputs
                      WHERE model_id = 'spoofing_score' AND version_id = $1) s
                 USING (cycle_ts, entity_key)",
            &[&shadow.id],
        )
        .await
        .unwrap();
    let n = |c: &str| row.get::<_, i64>(c);
    let max_diff: f64 = row.get("max_diff");
    println!(
        "spoofing_score v1 PRIMARY vs v2 SHADOW over 5 cycles: {} vessel-cycles, {} differ \
         ({} lower, {} higher), max |diff| {max_diff:.3}; above 0.5: {} PRIMARY, {} SHADOW",
        n("pairs"),
        n("differ"),
        n("lower"),
        n("higher"),
        n("primary_above_half"),
        n("shadow_above_half")
    );
    assert!(n("pairs") > 30_000, "{}", n("pairs"));
    assert_eq!(
        n("unpaired"),
        0,
        "the SHADOW saw exactly the PRIMARY's vessels"
    );
    assert!(n("differ") > 0, "another implementation, other scores");
    assert_eq!(n("higher"), 0, "v2 never scores above v1");
    assert!(
        n("differ") * 100 < n("pairs"),
        "only evidence short of its full strength moves"
    );
    assert!(max_diff > 0.01 && max_diff < 0.6, "{max_diff}");

    // Which vessels: the sample's speeds never count (its only impossible
    // moves are switches between places), and its teleports span 48 km
    // (367654150), 1,394 km (367654040) and 3,042 km (211002010, the Gulf
    // and California): only the near one is graded below full.
    let moved: Vec<(String, f64, f64, serde_json::Value)> = client
        .query(
            "SELECT entity_key, p.score, s.score, p.payload
               FROM kcg.detection_model_run_outputs p
               JOIN kcg.detection_model_run_outputs s USING (cycle_ts, entity_key)
              WHERE p.model_id = 'spoofing_score' AND p.role = 'PRIMARY' AND s.version_id = $1
                AND p.score <> s.score
              ORDER BY cycle_ts",
            &[&shadow.id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    for (mmsi, v1, v2, payload) in &moved {
        println!("  {mmsi}: v1 {v1:.3}, v2 {v2:.3}, {payload}");
        assert_eq!(mmsi, "367654150");
        assert!(
            payload["teleport_km"].as_f64().is_some_and(|km| km < 500.0),
            "{payload}"
        );
    }

    // The SHADOW reached nothing downstream: the PRIMARY still equals the
    // legacy score, and risk read the PRIMARY's artifact.
    let legacy_differs: i64 = client
        .query_one(
            "SELECT count(*) FROM kcg.vessel_analysis v
               JOIN kcg.detection_model_run_outputs o
                 ON o.cycle_ts = v.cycle_ts AND o.entity_key = v.mmsi::text
              WHERE o.model_id = 'spoofing_score' AND o.role = 'PRIMARY'
                AND o.score IS DISTINCT FROM v.spoofing_score::float8",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(legacy_differs, 0);
}
