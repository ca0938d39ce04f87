//! Versions and edges stored with SQL in a real PostgreSQL, loaded through
//! params-cache and planned by the registry.

mod common;

use common::{catalog, level_names, reason};
use model_api::{ModelId, Role};
use params_cache::ParamsCache;
use registry::plan;
use test_support::TestDb;
use tokio_postgres::Client;

async fn model(client: &Client, id: &str) {
    client
        .execute(
            "INSERT INTO kcg.detection_models (model_id) VALUES ($1)",
            &[&id],
        )
        .await
        .unwrap();
}

async fn version(client: &Client, model: &str, version: &str, role: &str, params: &str) -> i64 {
    client
        .query_one(
            "INSERT INTO kcg.detection_model_versions (model_id, version, role, status, params) \
             VALUES ($1, $2, $3, 'ACTIVE', $4::text::jsonb) RETURNING id",
            &[&model, &version, &role, &params],
        )
        .await
        .unwrap()
        .get(0)
}

async fn depend(client: &Client, model: &str, on: &str) {
    client
        .execute(
            "INSERT INTO kcg.detection_model_dependencies (model_id, depends_on, input_key) VALUES ($1, $2, $2)",
            &[&model, &on],
        )
        .await
        .unwrap();
}

const GOOD: &str = r#"{"weight": 0.5}"#;

#[tokio::test]
async fn model_ids_are_limited_to_64_characters_counted_as_characters() {
    let e64 = "é".repeat(64); // 64 characters, 128 bytes
    let e65 = "é".repeat(65);
    assert!(ModelId::new(&e64).is_ok());
    assert_eq!(
        ModelId::new(&e65).unwrap_err().to_string(),
        format!("model id {e65:?} has 65 characters; at most 64 are allowed")
    );
    assert!(ModelId::new("x".repeat(64)).is_ok());
    assert!(ModelId::new("x".repeat(65)).is_err());

    let db = TestDb::new().await;
    let c = db.client().await;
    // The database agrees: 64 multibyte characters fit, 65 do not.
    model(&c, &e64).await;
    let refused = c
        .execute(
            "INSERT INTO kcg.detection_models (model_id) VALUES ($1)",
            &[&e65],
        )
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Some(&tokio_postgres::error::SqlState::STRING_DATA_RIGHT_TRUNCATION)
    );
    version(&c, &e64, "1", "PRIMARY", GOOD).await;
    // An id the database accepts but ModelId refuses (empty) is left out.
    model(&c, "").await;
    version(&c, "", "1", "PRIMARY", GOOD).await;

    let snapshot = ParamsCache::default().get(&c).await.unwrap();
    let p = plan(&catalog([e64.as_str()]), &snapshot);
    assert_eq!(level_names(&p), vec![vec![e64.clone()]]);
    assert_eq!(
        reason(&p, ""),
        "invalid model id: model id must not be empty"
    );
}

#[tokio::test]
async fn bad_params_leave_that_version_out_with_a_reason_naming_the_field() {
    let db = TestDb::new().await;
    let c = db.client().await;
    for m in ["scorer", "fused", "broken", "listy"] {
        model(&c, m).await;
    }
    version(&c, "scorer", "1.0.0", "PRIMARY", GOOD).await;
    let shadow = version(
        &c,
        "scorer",
        "1.1.0",
        "SHADOW",
        r#"{"weight": 0.5, "treshold": 3}"#,
    )
    .await;
    let challenger = version(&c, "scorer", "1.2.0", "CHALLENGER", r#"{"weight": 0.7}"#).await;
    version(&c, "fused", "1", "PRIMARY", GOOD).await;
    depend(&c, "fused", "scorer").await;
    let broken = version(&c, "broken", "2.0.0", "PRIMARY", r#"{"weight": "heavy"}"#).await;
    // Not an object: read as {}, so the required field is missing.
    version(&c, "listy", "1", "PRIMARY", "[0.5]").await;

    let snapshot = ParamsCache::default().get(&c).await.unwrap();
    let p = plan(&catalog(["scorer", "fused", "broken", "listy"]), &snapshot);
    assert_eq!(level_names(&p), vec![vec!["scorer"], vec!["fused"]]);
    let (_, scorer) = p.find("scorer").unwrap();
    assert_eq!(
        scorer
            .others
            .iter()
            .map(|o| o.version_id)
            .collect::<Vec<_>>(),
        vec![challenger]
    );

    let bad_shadow = p
        .excluded
        .iter()
        .find(|e| e.version_id == Some(shadow))
        .expect("shadow excluded");
    assert_eq!(bad_shadow.role, Some(Role::Shadow));
    assert!(bad_shadow.reason.starts_with(&format!(
        "SHADOW version 1.1.0 (id {shadow}): bad params for model scorer"
    )));
    assert!(
        bad_shadow.reason.contains("unknown field `treshold`"),
        "{}",
        bad_shadow.reason
    );

    let broken_reason = reason(&p, "broken");
    assert!(broken_reason.starts_with(&format!(
        "PRIMARY version 2.0.0 (id {broken}): bad params for model broken"
    )));
    assert!(
        broken_reason.contains("invalid type: string \"heavy\""),
        "{broken_reason}"
    );
    assert!(
        reason(&p, "listy").contains("missing field `weight`"),
        "{}",
        reason(&p, "listy")
    );
}

#[tokio::test]
async fn a_cycle_stored_in_the_database_is_reported_with_its_path() {
    let db = TestDb::new().await;
    let c = db.client().await;
    for m in ["alpha", "beta", "gamma", "delta", "root", "leaf"] {
        model(&c, m).await;
        version(&c, m, "1", "PRIMARY", GOOD).await;
    }
    depend(&c, "alpha", "beta").await;
    depend(&c, "beta", "gamma").await;
    depend(&c, "gamma", "alpha").await;
    depend(&c, "delta", "gamma").await;
    depend(&c, "leaf", "root").await;

    let snapshot = ParamsCache::default().get(&c).await.unwrap();
    let p = plan(
        &catalog(["alpha", "beta", "gamma", "delta", "root", "leaf"]),
        &snapshot,
    );
    assert_eq!(
        p.cycles.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec!["alpha -> beta -> gamma -> alpha"]
    );
    assert_eq!(
        reason(&p, "beta"),
        "in dependency cycle alpha -> beta -> gamma -> alpha"
    );
    assert_eq!(reason(&p, "delta"), "upstream gamma unavailable");
    assert_eq!(level_names(&p), vec![vec!["root"], vec!["leaf"]]);
}
