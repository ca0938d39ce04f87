//! What one load reads from a real PostgreSQL, in which order, and how the
//! registry plans it: versions and edges stored with plain SQL (also what the
//! library refuses to store: cycles, bad params, non-object params).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use model_api::{ModelId, Role};
use registry::{Dependency, Exclusion, Plan, plan};
use registry_store::load;
use test_support::TestDb;
use tokio_postgres::Client;

/// An ACTIVE version stored by hand.
async fn active(client: &Client, model: &str, version: &str, role: &str, params: &str) -> i64 {
    raw_version(client, model, version, role, "ACTIVE", params).await
}

/// `model` reads `on` under the key `on`.
async fn raw_depend1(client: &Client, model: &str, on: &str) {
    raw_depend(client, model, on, on).await;
}

fn level_names(plan: &Plan) -> Vec<Vec<String>> {
    plan.levels()
        .iter()
        .map(|l| l.iter().map(|m| m.model_id.to_string()).collect())
        .collect()
}

fn reason(plan: &Plan, model: &str) -> String {
    plan.exclusion(model)
        .map(|e| e.reason.to_string())
        .unwrap_or_else(|| panic!("{model} is not excluded: {plan:#?}"))
}

#[tokio::test]
async fn loads_active_versions_of_enabled_models_in_spec_order() {
    let db = TestDb::new().await;
    let c = db.client().await;
    // Created out of order on purpose; "B" sorts before "a" byte-wise.
    for m in ["b", "a", "B", "off"] {
        raw_model(&c, m, m != "off").await;
    }
    let b_shadow = raw_version(&c, "b", "2", "SHADOW", "ACTIVE", r#"{"x": 2}"#).await;
    let b_primary = raw_version(&c, "b", "1", "PRIMARY", "ACTIVE", r#"{"x": 1}"#).await;
    let b_chall = raw_version(&c, "b", "3", "CHALLENGER", "ACTIVE", "{}").await;
    let b_shadow2 = raw_version(&c, "b", "4", "SHADOW", "ACTIVE", "{}").await;
    raw_version(&c, "b", "0", "PRIMARY", "ARCHIVED", "{}").await;
    raw_version(&c, "b", "5", "SHADOW", "DRAFT", "{}").await;
    let a_primary = raw_version(&c, "a", "1", "PRIMARY", "ACTIVE", "{}").await;
    let big_primary = raw_version(&c, "B", "1", "PRIMARY", "ACTIVE", "{}").await;
    raw_version(&c, "off", "1", "PRIMARY", "ACTIVE", "{}").await;
    c.execute(
        "UPDATE kcg.detection_model_versions SET timeout_ms = 250 WHERE id = $1",
        &[&a_primary],
    )
    .await
    .unwrap();
    raw_depend(&c, "b", "a", "in").await;
    raw_depend(&c, "a", "off", "z").await;
    raw_depend(&c, "a", "B", "y").await;

    let snap = load(&c).await.unwrap();
    let got: Vec<(i64, &str, Role)> = snap
        .versions
        .iter()
        .map(|v| (v.id, v.model_id.as_str(), v.role))
        .collect();
    assert_eq!(
        got,
        vec![
            (big_primary, "B", Role::Primary),
            (a_primary, "a", Role::Primary),
            (b_primary, "b", Role::Primary),
            (b_chall, "b", Role::Challenger),
            (b_shadow, "b", Role::Shadow),
            (b_shadow2, "b", Role::Shadow),
        ]
    );
    assert_eq!(snap.versions[1].timeout_ms, Some(250));
    assert_eq!(snap.versions[0].timeout_ms, None);
    assert_eq!(snap.versions[2].params, Ok(serde_json::json!({"x": 1})));
    assert_eq!(snap.versions[2].version, "1");
    // All edges, also those naming a disabled model.
    let edge = |m: &str, d: &str, k: &str| Dependency {
        model_id: m.into(),
        depends_on: d.into(),
        input_key: k.into(),
    };
    assert_eq!(
        snap.edges,
        vec![
            edge("a", "B", "y"),
            edge("a", "off", "z"),
            edge("b", "a", "in")
        ]
    );
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn params_that_are_not_an_object_are_warned_about_and_read_as_empty() {
    let db = TestDb::new().await;
    let c = db.client().await;
    raw_model(&c, "listy", true).await;
    raw_model(&c, "texty", true).await;
    let listy = raw_version(&c, "listy", "1.0.0", "PRIMARY", "ACTIVE", "[1, 2]").await;
    raw_version(
        &c,
        "texty",
        "2.0.0",
        "PRIMARY",
        "ACTIVE",
        r#""threshold=3""#,
    )
    .await;

    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let snap = {
        let _guard = tracing::subscriber::set_default(subscriber);
        load(&c).await.unwrap()
    };
    assert_eq!(snap.versions.len(), 2);
    for v in &snap.versions {
        assert_eq!(v.params, Ok(serde_json::json!({})), "{v:?}");
    }
    let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("WARN"), "{log}");
    assert!(
        log.contains(&format!(
            "params of model listy version 1.0.0 (id {listy}) are not a JSON object (an array)"
        )),
        "{log}"
    );
    assert!(log.contains("params of model texty version 2.0.0"), "{log}");
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
    raw_model(&c, &e64, true).await;
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
    active(&c, &e64, "1", "PRIMARY", GOOD).await;
    // An id ModelId refuses (empty, blank, a newline) the database refuses
    // too (V052); the planner's answer to one in a snapshot is a reason
    // (registry's plan_cases).
    for id in ["", "   ", "a\nb"] {
        let refused = c
            .execute(
                "INSERT INTO kcg.detection_models (model_id) VALUES ($1)",
                &[&id],
            )
            .await
            .unwrap_err();
        assert_eq!(
            refused.as_db_error().and_then(|e| e.constraint()),
            Some("detection_models_model_id_name_check"),
            "{id:?}: {refused:?}"
        );
    }

    let snapshot = load(&c).await.unwrap();
    let p = plan(&catalog([e64.as_str()]), &snapshot);
    assert_eq!(level_names(&p), vec![vec![e64.clone()]]);
    assert!(p.excluded().is_empty(), "{:?}", p.excluded());
}

#[tokio::test]
async fn bad_params_leave_that_version_out_with_a_reason_naming_the_field() {
    let db = TestDb::new().await;
    let c = db.client().await;
    for m in ["scorer", "fused", "broken", "listy"] {
        raw_model(&c, m, true).await;
    }
    active(&c, "scorer", "1.0.0", "PRIMARY", GOOD).await;
    let shadow = active(
        &c,
        "scorer",
        "1.1.0",
        "SHADOW",
        r#"{"weight": 0.5, "treshold": 3}"#,
    )
    .await;
    let challenger = active(&c, "scorer", "1.2.0", "CHALLENGER", r#"{"weight": 0.7}"#).await;
    active(&c, "fused", "1", "PRIMARY", GOOD).await;
    raw_depend1(&c, "fused", "scorer").await;
    let broken = active(&c, "broken", "2.0.0", "PRIMARY", r#"{"weight": "heavy"}"#).await;
    // Not an object: read as {}, so the required field is missing.
    active(&c, "listy", "1", "PRIMARY", "[0.5]").await;

    let snapshot = load(&c).await.unwrap();
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
        .excluded()
        .iter()
        .find(|e| e.version_id == Some(shadow))
        .expect("shadow excluded");
    assert_eq!(bad_shadow.role, Some(Role::Shadow));
    let text = bad_shadow.reason.to_string();
    assert!(text.starts_with(&format!(
        "SHADOW version 1.1.0 (id {shadow}): bad params for model scorer"
    )));
    assert!(
        matches!(&bad_shadow.reason, Exclusion::BadParams { version, error }
            if version.id == shadow && error.message.contains("unknown field `treshold`")),
        "{text}"
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
        raw_model(&c, m, true).await;
        active(&c, m, "1", "PRIMARY", GOOD).await;
    }
    raw_depend1(&c, "alpha", "beta").await;
    raw_depend1(&c, "beta", "gamma").await;
    raw_depend1(&c, "gamma", "alpha").await;
    raw_depend1(&c, "delta", "gamma").await;
    raw_depend1(&c, "leaf", "root").await;

    let snapshot = load(&c).await.unwrap();
    let p = plan(
        &catalog(["alpha", "beta", "gamma", "delta", "root", "leaf"]),
        &snapshot,
    );
    assert_eq!(
        p.cycles()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec!["alpha -> beta -> gamma -> alpha"]
    );
    assert_eq!(
        reason(&p, "beta"),
        "in dependency cycle alpha -> beta -> gamma -> alpha"
    );
    assert_eq!(reason(&p, "delta"), "upstream gamma unavailable");
    assert_eq!(level_names(&p), vec![vec!["root"], vec!["leaf"]]);
}

#[tokio::test]
async fn the_database_orders_roles_exactly_as_role_load_order_does() {
    let db = TestDb::new().await;
    let c = db.client().await;
    for role in [Role::Primary, Role::Shadow, Role::Challenger] {
        let rank: i32 = c
            .query_one("SELECT kcg.role_rank($1)", &[&role.as_str()])
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            i64::from(rank),
            i64::from(role.load_order()),
            "kcg.role_rank and Role::load_order disagree on {role}"
        );
    }
    // The function is as the column passes it (VARCHAR), and inlined: an
    // IMMUTABLE SQL function costs what its CASE costs.
    let rank: i32 = c
        .query_one("SELECT kcg.role_rank('SHADOW'::varchar(16))", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rank, 2);
    let volatility: String = c
        .query_one(
            "SELECT provolatile::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
              WHERE n.nspname = 'kcg' AND p.proname = 'role_rank'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(volatility, "i", "kcg.role_rank must be IMMUTABLE");
}

#[tokio::test]
async fn a_stored_role_or_timeout_the_code_cannot_read_names_table_column_and_row() {
    let db = TestDb::new().await;
    let c = db.client().await;
    raw_model(&c, "m", true).await;
    let id = raw_version(&c, "m", "1.0.0", "PRIMARY", "ACTIVE", "{}").await;
    // What the CHECK constraint of V034 would refuse, with it out of the way.
    c.batch_execute(
        "ALTER TABLE kcg.detection_model_versions DROP CONSTRAINT detection_model_versions_timeout_check",
    )
    .await
    .unwrap();
    c.execute(
        "UPDATE kcg.detection_model_versions SET timeout_ms = -5 WHERE id = $1",
        &[&id],
    )
    .await
    .unwrap();
    let err = load(&c).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "kcg.detection_model_versions.timeout_ms of id {id} (model m, version 1.0.0): \
             -5 is not a positive number of milliseconds"
        )
    );
    assert!(matches!(
        err,
        registry_store::StoreError::BadRow {
            column: "timeout_ms",
            ..
        }
    ));
    let listed = registry_store::list_versions(&c, None).await.unwrap_err();
    assert!(listed.to_string().contains("timeout_ms of id"), "{listed}");
}

/// Params of any depth set in psql (JSONB takes them): the version is left
/// out with a reason naming it, its model's dependents with "upstream
/// unavailable", everything else is planned; the listing lists every
/// version, and the bad one can still be archived.
#[tokio::test]
async fn params_nested_beyond_the_readers_limit_cost_only_their_version() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    for m in ["a", "b", "deep", "after_deep"] {
        raw_model(&c, m, true).await;
    }
    active(&c, "a", "1", "PRIMARY", GOOD).await;
    active(&c, "b", "1", "PRIMARY", GOOD).await;
    let deep_shadow = active(&c, "b", "2", "SHADOW", GOOD).await;
    let deep_primary = active(&c, "deep", "1", "PRIMARY", GOOD).await;
    active(&c, "after_deep", "1", "PRIMARY", GOOD).await;
    raw_depend1(&c, "after_deep", "deep").await;
    // 300 levels (128 is serde_json's limit), and 5000 (about what
    // PostgreSQL's own stack allows).
    for (id, depth) in [(deep_primary, 300), (deep_shadow, 5000)] {
        c.execute(
            "UPDATE kcg.detection_model_versions \
                SET params = jsonb_build_object('weight', (repeat('[', $2) || repeat(']', $2))::jsonb) \
              WHERE id = $1",
            &[&id, &depth],
        )
        .await
        .unwrap();
    }

    let snapshot = load(&c).await.unwrap();
    let unreadable: Vec<i64> = snapshot
        .versions
        .iter()
        .filter(|v| v.params.is_err())
        .map(|v| v.id)
        .collect();
    assert_eq!(unreadable, [deep_shadow, deep_primary]);
    let p = plan(&catalog(["a", "b", "deep", "after_deep"]), &snapshot);
    assert_eq!(level_names(&p), vec![vec!["a".to_owned(), "b".to_owned()]]);
    assert_eq!(
        reason(&p, "deep"),
        format!(
            "PRIMARY version 1 (id {deep_primary}): its params cannot be read: recursion limit \
             exceeded at line 1 column 138"
        )
    );
    assert_eq!(reason(&p, "after_deep"), "upstream deep unavailable");
    let shadow = p
        .excluded()
        .iter()
        .find(|e| e.version_id == Some(deep_shadow))
        .expect("the SHADOW is left out");
    assert!(
        matches!(&shadow.reason, Exclusion::UnreadableParams { version, error }
            if version.id == deep_shadow && error.problem.starts_with("recursion limit exceeded")),
        "{shadow:?}"
    );

    let listed = registry_store::list_versions(&c, None).await.unwrap();
    assert_eq!(listed.len(), 5);
    assert_eq!(listed.iter().filter(|v| v.params.is_err()).count(), 2);

    let catalog = catalog(["deep"]);
    let refused = registry_store::promote(&mut c, &catalog, deep_shadow)
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        format!(
            "kcg.detection_model_versions.params of id {deep_shadow} (model b, version 2): \
             recursion limit exceeded at line 1 column 138"
        )
    );
    let archived = registry_store::archive(&mut c, deep_primary).await.unwrap();
    assert!(archived.left_without_primary(), "{archived:?}");
}
