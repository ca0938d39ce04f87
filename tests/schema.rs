//! The schema of SPEC §3: migrations, the constraints the database enforces,
//! and the pre-validation.

use test_support::TestDb;

#[tokio::test]
async fn migrate_twice_is_a_noop() {
    let db = TestDb::empty().await;
    let mut client = db.client().await;
    let first = schema::migrate(&mut client).await.unwrap();
    assert_eq!(first.applied.len(), first.known, "{first:?}");
    assert!(
        first
            .applied
            .iter()
            .any(|m| m == "V030__gear_identity_collisions")
    );
    assert!(
        first
            .applied
            .iter()
            .any(|m| m == "V034__detection_model_registry")
    );
    let second = schema::migrate(&mut client).await.unwrap();
    assert!(second.is_noop(), "{second:?}");
    schema::check_schema(&client).await.unwrap();
}

#[tokio::test]
async fn check_schema_names_an_altered_column() {
    let db = TestDb::new().await;
    let client = db.client().await;
    schema::check_schema(&client).await.unwrap();
    client
        .batch_execute(
            "ALTER TABLE kcg.detection_model_metrics ALTER COLUMN metric_key TYPE VARCHAR(32)",
        )
        .await
        .unwrap();
    let err = schema::check_schema(&client).await.unwrap_err();
    let schema::SchemaError::Mismatch(list) = &err else {
        panic!("unexpected error {err}")
    };
    assert_eq!(list.len(), 1, "{err}");
    assert_eq!(list[0].table, "kcg.detection_model_metrics");
    assert_eq!(list[0].column.as_deref(), Some("metric_key"));
    assert_eq!(list[0].expected, "character varying(64)");
    assert_eq!(list[0].found, "character varying(32)");
    assert!(
        err.to_string()
            .contains("kcg.detection_model_metrics.metric_key"),
        "{err}"
    );
}

#[tokio::test]
async fn check_schema_finds_a_missing_table_an_unpartitioned_output_and_a_dropped_check() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "DROP TABLE kcg.prediction_stage_timings;
             ALTER TABLE kcg.detection_model_versions DROP CONSTRAINT detection_model_versions_role_check;
             DROP TABLE kcg.detection_model_run_outputs;
             CREATE TABLE kcg.detection_model_run_outputs (cycle_ts timestamptz, model_id varchar(64));",
        )
        .await
        .unwrap();
    let err = schema::check_schema(&client).await.unwrap_err().to_string();
    assert!(
        err.contains("kcg.prediction_stage_timings: expected table present, found no such table"),
        "{err}"
    );
    assert!(err.contains("kcg.detection_model_run_outputs.cycle_ts: expected PARTITION BY RANGE (cycle_ts), found not partitioned"), "{err}");
    assert!(
        err.contains("kcg.detection_model_versions.role: expected CHECK"),
        "{err}"
    );
}

async fn insert_model(client: &tokio_postgres::Client, id: &str) {
    client
        .execute(
            "INSERT INTO kcg.detection_models (model_id) VALUES ($1)",
            &[&id],
        )
        .await
        .unwrap();
}

fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn a_second_active_primary_is_rejected() {
    let db = TestDb::new().await;
    let client = db.client().await;
    insert_model(&client, "spoofing_score").await;
    let add = "INSERT INTO kcg.detection_model_versions (model_id, version, role, status) VALUES ('spoofing_score', $1, $2, $3)";
    client
        .execute(add, &[&"1", &"PRIMARY", &"ACTIVE"])
        .await
        .unwrap();
    // Any number of ACTIVE shadows and archived primaries are fine.
    client
        .execute(add, &[&"2", &"SHADOW", &"ACTIVE"])
        .await
        .unwrap();
    client
        .execute(add, &[&"3", &"SHADOW", &"ACTIVE"])
        .await
        .unwrap();
    client
        .execute(add, &[&"4", &"PRIMARY", &"ARCHIVED"])
        .await
        .unwrap();
    client
        .execute(add, &[&"5", &"PRIMARY", &"DRAFT"])
        .await
        .unwrap();
    let err = client
        .execute(add, &[&"6", &"PRIMARY", &"ACTIVE"])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "23505", "{err}"); // unique_violation
    assert!(
        format!("{err:?}").contains("detection_model_versions_one_active_primary"),
        "{err:?}"
    );
    // Promoting the draft while the first is still ACTIVE is refused too.
    let err = client
        .execute(
            "UPDATE kcg.detection_model_versions SET status = 'ACTIVE' WHERE version = '5'",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "23505", "{err}");
}

#[tokio::test]
async fn unknown_roles_and_statuses_are_rejected() {
    let db = TestDb::new().await;
    let client = db.client().await;
    insert_model(&client, "m").await;
    let add = "INSERT INTO kcg.detection_model_versions (model_id, version, role, status) VALUES ('m', $1, $2, $3)";
    let err = client
        .execute(add, &[&"1", &"CANARY", &"ACTIVE"])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "23514", "{err}"); // check_violation
    assert!(format!("{err:?}").contains("detection_model_versions_role_check"));
    let err = client
        .execute(add, &[&"1", &"PRIMARY", &"LIVE"])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "23514", "{err}");
    assert!(format!("{err:?}").contains("detection_model_versions_status_check"));
    let err = client
        .execute(
            "INSERT INTO kcg.detection_model_runs (cycle_ts, model_id, status) VALUES (now(), 'm', 'MAYBE')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "23514", "{err}");
}

#[tokio::test]
async fn ids_are_limited_to_64_characters_and_self_dependencies_refused() {
    let db = TestDb::new().await;
    let client = db.client().await;
    insert_model(&client, &"é".repeat(64)).await; // 64 characters, 128 bytes
    let err = client
        .execute(
            "INSERT INTO kcg.detection_models (model_id) VALUES ($1)",
            &[&"x".repeat(65)],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "22001", "{err}"); // string_data_right_truncation
    insert_model(&client, "a").await;
    let err = client
        .execute(
            "INSERT INTO kcg.detection_model_dependencies (model_id, depends_on, input_key) VALUES ('a', 'a', 'k')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "23514", "{err}");
}

#[tokio::test]
async fn run_outputs_are_range_partitioned_with_a_default() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let row = client
        .query_one(
            "SELECT pg_get_partkeydef('kcg.detection_model_run_outputs'::regclass),
                    (SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                      WHERE i.inhparent = 'kcg.detection_model_run_outputs'::regclass
                        AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "RANGE (cycle_ts)");
    assert_eq!(row.get::<_, i64>(1), 1);
    // An insert for any time lands (in DEFAULT when no month exists).
    client
        .execute(
            "INSERT INTO kcg.detection_model_run_outputs (cycle_ts, model_id, version_id, role, entity_key, score)
             VALUES ('2031-05-01T00:00:00Z', 'm', 1, 'PRIMARY', 'e', 0.5)",
            &[],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn check_schema_refuses_a_check_that_allows_more_values_than_the_code_knows() {
    let db = TestDb::new().await;
    let client = db.client().await;
    // A widened CHECK still lists every expected value, but lets in a role
    // the code cannot parse: rows would then fail one by one at load time.
    client
        .batch_execute(
            "ALTER TABLE kcg.detection_model_versions DROP CONSTRAINT detection_model_versions_role_check;
             ALTER TABLE kcg.detection_model_versions ADD CONSTRAINT detection_model_versions_role_check
                 CHECK (role IN ('PRIMARY', 'SHADOW', 'CHALLENGER', 'CANARY'));
             ALTER TABLE kcg.detection_model_runs DROP CONSTRAINT detection_model_runs_role_check;",
        )
        .await
        .unwrap();
    let err = schema::check_schema(&client).await.unwrap_err();
    let schema::SchemaError::Mismatch(list) = &err else {
        panic!("unexpected error {err}")
    };
    let named: Vec<String> = list
        .iter()
        .map(|m| format!("{}.{}", m.table, m.column.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        named,
        [
            "kcg.detection_model_versions.role",
            "kcg.detection_model_runs.role"
        ],
        "{err}"
    );
    assert!(err.to_string().contains("CANARY"), "{err}");
}

#[tokio::test]
async fn one_input_key_names_one_upstream() {
    let db = TestDb::new().await;
    let client = db.client().await;
    for m in ["a", "b", "c"] {
        insert_model(&client, m).await;
    }
    let edge = "INSERT INTO kcg.detection_model_dependencies (model_id, depends_on, input_key) VALUES ($1, $2, $3)";
    client.execute(edge, &[&"c", &"a", &"in"]).await.unwrap();
    client.execute(edge, &[&"c", &"b", &"other"]).await.unwrap();
    let err = client
        .execute(edge, &[&"c", &"b", &"in"])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "23505", "{err}");
    assert!(format!("{err:?}").contains("detection_model_dependencies_one_upstream_per_key"));
}
