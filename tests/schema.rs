//! The schema of SPEC §3: migrations, the constraints the database enforces,
//! and the pre-validation.

use std::collections::BTreeMap;

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

/// What a freshly migrated database holds in schema `kcg`, read with plain
/// catalog queries of this test's own (not the check's).
async fn migrated_catalog(client: &tokio_postgres::Client) -> BTreeMap<&'static str, Vec<String>> {
    let mut out = BTreeMap::new();
    let rows = |sql: &'static str| async move {
        client
            .query(sql, &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<String>>()
    };
    out.insert(
        "tables",
        rows(
            "SELECT relname::text FROM pg_class WHERE relnamespace = 'kcg'::regnamespace \
              AND relkind IN ('r', 'p') AND NOT relispartition ORDER BY 1",
        )
        .await,
    );
    out.insert(
        "columns",
        rows(
            "SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) \
                     || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END \
              FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
              WHERE c.relnamespace = 'kcg'::regnamespace AND c.relkind IN ('r', 'p') \
                AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1",
        )
        .await,
    );
    out.insert(
        "partitioned",
        rows(
            "SELECT c.relname || ' ' || pg_get_partkeydef(c.oid) FROM pg_class c \
              WHERE c.relnamespace = 'kcg'::regnamespace AND c.relkind = 'p' ORDER BY 1",
        )
        .await,
    );
    out.insert(
        "checks",
        rows("SELECT c.relname || ' ' || k.conname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid \
              WHERE c.relnamespace = 'kcg'::regnamespace AND NOT c.relispartition AND k.contype = 'c' ORDER BY 1")
        .await,
    );
    out.insert(
        "keys",
        rows("SELECT c.relname || ' ' || ic.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
              JOIN pg_class ic ON ic.oid = i.indexrelid \
              WHERE c.relnamespace = 'kcg'::regnamespace AND NOT c.relispartition AND i.indisunique ORDER BY 1")
        .await,
    );
    out.insert(
        "triggers",
        rows("SELECT c.relname || ' ' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
              WHERE c.relnamespace = 'kcg'::regnamespace AND NOT t.tgisinternal ORDER BY 1")
        .await,
    );
    out.insert(
        "functions",
        rows("SELECT oid::regprocedure::text FROM pg_proc WHERE pronamespace = 'kcg'::regnamespace ORDER BY 1")
        .await,
    );
    out
}

/// The same, from `schema::expected`.
fn declared_catalog() -> BTreeMap<&'static str, Vec<String>> {
    use schema::expected::{FUNCTIONS, TABLES};
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let each = |f: &dyn Fn(&schema::expected::Table) -> Vec<String>| {
        sorted(TABLES.iter().flat_map(f).collect())
    };
    BTreeMap::from([
        ("tables", each(&|t| vec![t.name.to_owned()])),
        (
            "columns",
            each(&|t| {
                t.columns
                    .iter()
                    .map(|c| {
                        format!(
                            "{}.{} {}{}",
                            t.name,
                            c.name,
                            c.ty,
                            if c.not_null { " NOT NULL" } else { "" }
                        )
                    })
                    .collect()
            }),
        ),
        (
            "partitioned",
            each(&|t| {
                t.partitioned
                    .map(|(c, _)| format!("{} RANGE ({c})", t.name))
                    .into_iter()
                    .collect()
            }),
        ),
        (
            "checks",
            each(&|t| {
                t.checks
                    .iter()
                    .map(|c| format!("{} {}", t.name, c.name))
                    .collect()
            }),
        ),
        (
            "keys",
            each(&|t| {
                t.keys
                    .iter()
                    .map(|k| format!("{} {}", t.name, k.name))
                    .collect()
            }),
        ),
        (
            "triggers",
            each(&|t| {
                t.triggers
                    .iter()
                    .map(|g| format!("{} {g}", t.name))
                    .collect()
            }),
        ),
        (
            "functions",
            sorted(FUNCTIONS.iter().map(|f| (*f).to_owned()).collect()),
        ),
    ])
}

/// The declaration cannot drift from the migrations: a freshly migrated
/// database passes the check, and everything the migrations create in
/// schema `kcg` is declared (and nothing more).
#[tokio::test]
async fn the_expected_schema_is_exactly_what_the_migrations_create() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let report = schema::check_schema(&client).await.unwrap();
    assert!(report.not_valid.is_empty(), "{report:?}");
    assert_eq!(report.tables, schema::expected::TABLES.len());
    assert_eq!(report.partitioned, 2);
    let live = migrated_catalog(&client).await;
    let declared = declared_catalog();
    for (what, found) in &live {
        let want = &declared[what];
        let missing: Vec<&String> = found.iter().filter(|x| !want.contains(x)).collect();
        let extra: Vec<&String> = want.iter().filter(|x| !found.contains(x)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{what}: the migrations create {missing:?}, not declared in crates/schema/src/expected.rs; \
             declared but not created: {extra:?}"
        );
    }
}

/// Every kind of drift the check catches, each alone on a fresh database:
/// the DDL an operator might type in psql, and the one line the check must
/// print for it.
#[tokio::test]
async fn check_schema_catches_each_kind_of_drift_and_names_it() {
    let cases: &[(&str, &str)] = &[
        // A column type a typed bind depends on (scores would be rounded).
        (
            "ALTER TABLE kcg.vessel_analysis ALTER spoofing_score TYPE integer",
            "kcg.vessel_analysis.spoofing_score: expected real, found integer",
        ),
        // A narrowed text column (the cycle would abort recording nothing).
        (
            "ALTER TABLE kcg.prediction_stage_timings ALTER detail TYPE varchar(16)",
            "kcg.prediction_stage_timings.detail: expected text, found character varying(16)",
        ),
        (
            "ALTER TABLE kcg.detection_model_versions ALTER params TYPE json",
            "kcg.detection_model_versions.params: expected jsonb, found json",
        ),
        (
            "ALTER TABLE kcg.gear_identity_collisions DROP COLUMN details",
            "kcg.gear_identity_collisions.details: expected jsonb NOT NULL, found no such column",
        ),
        (
            "ALTER TABLE kcg.vessel_track_state ALTER lat DROP NOT NULL",
            "kcg.vessel_track_state.lat: expected NOT NULL, found nullable",
        ),
        (
            "ALTER TABLE kcg.prediction_stage_timings ALTER detail SET NOT NULL",
            "kcg.prediction_stage_timings.detail: expected nullable, found NOT NULL",
        ),
        (
            "ALTER TABLE kcg.prediction_events ADD COLUMN source text NOT NULL",
            "kcg.prediction_events.source: expected no such column, or one that is nullable or has a \
             default (this build's inserts do not write it), found text NOT NULL without a default",
        ),
        (
            "ALTER TABLE kcg.gear_identity_collisions DROP CONSTRAINT gear_identity_collisions_severity_check",
            "kcg.gear_identity_collisions.severity: expected CHECK (severity IN (LOW, MEDIUM, HIGH, \
             CRITICAL)), found no CHECK constraint",
        ),
        (
            "ALTER TABLE kcg.detection_models DROP CONSTRAINT detection_models_model_id_name_check",
            "kcg.detection_models.model_id: expected CHECK on (model_id) containing `is_valid_name(` \
             (detection_models_model_id_name_check), found no CHECK constraint",
        ),
        (
            "ALTER TABLE kcg.detection_model_versions DROP CONSTRAINT detection_model_versions_version_name_check;
             ALTER TABLE kcg.detection_model_versions ADD CONSTRAINT detection_model_versions_version_name_check
                 CHECK (kcg.is_valid_name(version)) NOT VALID",
            "kcg.detection_model_versions.version: expected CHECK on (version) containing `is_valid_name(` \
             (detection_model_versions_version_name_check), found \
             detection_model_versions_version_name_check NOT VALID (rows written before it may break it)",
        ),
        (
            "ALTER TABLE kcg.vessel_analysis DROP CONSTRAINT vessel_analysis_pkey",
            "kcg.vessel_analysis: expected PRIMARY KEY (cycle_ts, mmsi) (vessel_analysis_pkey), found no \
             unique index",
        ),
        (
            "DROP INDEX kcg.gear_identity_collisions_one_open;
             CREATE UNIQUE INDEX gear_identity_collisions_one_open ON kcg.gear_identity_collisions (mmsi)
                 WHERE status = 'RESOLVED'",
            "kcg.gear_identity_collisions: expected a unique index on (mmsi) WHERE ... 'OPEN' \
             (gear_identity_collisions_one_open), found PRIMARY KEY gear_identity_collisions_pkey (id); \
             gear_identity_collisions_one_open (mmsi) WHERE ((status)::text = 'RESOLVED'::text)",
        ),
        (
            "ALTER TABLE kcg.detection_model_dependencies DROP CONSTRAINT detection_model_dependencies_one_upstream_per_key",
            "kcg.detection_model_dependencies: expected a unique index on (model_id, input_key) \
             (detection_model_dependencies_one_upstream_per_key), found PRIMARY KEY \
             detection_model_dependencies_pkey (model_id, depends_on, input_key)",
        ),
        (
            "ALTER TABLE kcg.ais_positions DETACH PARTITION kcg.ais_positions_default",
            "kcg.ais_positions.ts: expected a DEFAULT partition (rows outside every period land there), \
             found none",
        ),
        (
            "CREATE TABLE kcg.ais_positions_w1 PARTITION OF kcg.ais_positions
                 FOR VALUES FROM ('2022-01-03 00:00:00+00') TO ('2022-01-10 00:00:00+00')",
            "kcg.ais_positions.ts: expected daily partitions (each exactly one UTC day), found \
             kcg.ais_positions_w1 FOR VALUES FROM ('2022-01-03 00:00:00+00') TO ('2022-01-10 00:00:00+00')",
        ),
        (
            "CREATE TABLE kcg.detection_model_run_outputs_p2022_01_03 PARTITION OF kcg.detection_model_run_outputs
                 FOR VALUES FROM ('2022-01-03 00:00:00+00') TO ('2022-01-04 00:00:00+00')",
            "kcg.detection_model_run_outputs.cycle_ts: expected monthly partitions (each exactly one UTC \
             calendar month), found kcg.detection_model_run_outputs_p2022_01_03 FOR VALUES FROM \
             ('2022-01-03 00:00:00+00') TO ('2022-01-04 00:00:00+00')",
        ),
        (
            "ALTER TABLE kcg.detection_model_versions DISABLE TRIGGER detection_model_versions_notify",
            "kcg.detection_model_versions: expected trigger detection_model_versions_notify, enabled, found \
             it is disabled",
        ),
        (
            "DROP FUNCTION kcg.role_rank(text)",
            "kcg.role_rank(text): expected function present, found no such function",
        ),
        (
            "DROP TABLE kcg.vessel_track_state",
            "kcg.vessel_track_state: expected table present, found no such table",
        ),
    ];
    for (ddl, expected) in cases {
        let db = TestDb::new().await;
        let client = db.client().await;
        // The session's time zone must not change what is read.
        client
            .batch_execute("SET TimeZone = 'Asia/Kolkata'")
            .await
            .unwrap();
        client.batch_execute(ddl).await.unwrap();
        let err = schema::check_schema(&client).await.unwrap_err();
        let schema::SchemaError::Mismatch(list) = &err else {
            panic!("{ddl}: unexpected error {err}")
        };
        let lines: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(lines, [*expected], "{ddl}");
    }
}

/// The live rule and the Rust rule give the same answer for every string.
#[tokio::test]
async fn names_follow_one_rule_in_rust_and_in_the_database() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let mut cases: Vec<String> = [
        "spoofing_score",
        "my model",
        "1.0.0",
        "é",
        "스푸핑",
        "x\u{a0}y",
        "",
        "   ",
        " x",
        "x ",
        "\tx",
        "x\n",
        "a\nb",
        "a\rb",
        "a\u{1}b",
        "a\u{1b}[31m",
        "a\u{7f}",
        "a\u{80}",
        "a\u{85}b",
        "a\u{9f}",
        "a\u{a0}",
        "\u{a0}a",
        "\u{1680}a",
        "a\u{2000}",
        "a\u{200a}",
        "a\u{200b}",
        "a\u{2028}b",
        "a\u{2029}b",
        "a\u{202f}",
        "\u{205f}a",
        "\u{3000}",
        "a\u{feff}",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    cases.push("x".repeat(64));
    cases.push("x".repeat(65));
    cases.push("é".repeat(64));
    // Every character below U+0100 and the Unicode whitespace, between
    // letters and at both ends.
    let specials: Vec<char> = (1u32..0x100)
        .chain([
            0x1680, 0x2000, 0x2005, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff,
        ])
        .filter_map(char::from_u32)
        .collect();
    for c in &specials {
        cases.push(format!("a{c}b"));
        cases.push(format!("{c}ab"));
        cases.push(format!("ab{c}"));
    }
    let answers: Vec<bool> = client
        .query_one("SELECT array_agg(kcg.is_valid_name(n) ORDER BY i) FROM unnest($1::text[]) WITH ORDINALITY AS t(n, i)", &[&cases])
        .await
        .unwrap()
        .get(0);
    for (name, in_db) in cases.iter().zip(answers) {
        let in_rust = model_api::ModelId::new(name.as_str()).is_ok();
        assert_eq!(
            in_rust, in_db,
            "{name:?}: Rust says {in_rust}, kcg.is_valid_name says {in_db}"
        );
    }
}

/// The objects V052 makes, dropped, so its SQL can be run again on a
/// database that holds rows V052 would meet in the field.
const UNDO_V052: &str = "
    ALTER TABLE kcg.detection_models DROP CONSTRAINT detection_models_model_id_name_check;
    ALTER TABLE kcg.detection_model_versions DROP CONSTRAINT detection_model_versions_model_id_name_check,
        DROP CONSTRAINT detection_model_versions_version_name_check,
        DROP CONSTRAINT detection_model_versions_implementation_name_check;
    ALTER TABLE kcg.detection_model_dependencies DROP CONSTRAINT detection_model_dependencies_model_id_name_check,
        DROP CONSTRAINT detection_model_dependencies_depends_on_name_check,
        DROP CONSTRAINT detection_model_dependencies_input_key_name_check;
    ALTER TABLE kcg.detection_model_runs DROP CONSTRAINT detection_model_runs_model_id_name_check;
    ALTER TABLE kcg.detection_model_metrics DROP CONSTRAINT detection_model_metrics_metric_key_name_check;
    DROP FUNCTION kcg.is_valid_name(text);";

const V052: &str = include_str!("../migrations/V052__valid_names.sql");

#[tokio::test]
async fn v052_refuses_to_migrate_names_it_would_refuse_and_names_every_row() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    client.batch_execute(UNDO_V052).await.unwrap();
    client
        .batch_execute(
            "INSERT INTO kcg.detection_models (model_id) VALUES ('ok'), (E'bad\\nid'), ('   ');
             INSERT INTO kcg.detection_model_versions (model_id, version, role) VALUES ('ok', ' 1.0', 'SHADOW');
             INSERT INTO kcg.detection_model_versions (model_id, version, role, implementation)
                  VALUES ('ok', '2.0', 'SHADOW', E'v2\\r');
             INSERT INTO kcg.detection_model_dependencies VALUES ('ok', '   ', E'tab\\tkey');",
        )
        .await
        .unwrap();
    // As refinery runs it: one transaction.
    let tx = client.transaction().await.unwrap();
    let err = tx.batch_execute(V052).await.unwrap_err();
    let db_err = err.as_db_error().expect("the database's refusal");
    assert_eq!(
        db_err.code(),
        &tokio_postgres::error::SqlState::CHECK_VIOLATION
    );
    assert_eq!(
        db_err.message(),
        "V052 refuses names that are blank, begin or end with whitespace or hold a control character; \
         nothing was changed. Rows to fix:\n  \
         kcg.detection_model_dependencies.depends_on \"   \" (the dependency of \"ok\" on \"   \" as \"tab\\tkey\")\n  \
         kcg.detection_model_dependencies.input_key \"tab\\tkey\" (the dependency of \"ok\" on \"   \" as \"tab\\tkey\")\n  \
         kcg.detection_model_versions.implementation \"v2\\r\" (version id 2 of model \"ok\")\n  \
         kcg.detection_model_versions.version \" 1.0\" (version id 1 of model \"ok\")\n  \
         kcg.detection_models.model_id \"   \" (a model)\n  \
         kcg.detection_models.model_id \"bad\\nid\" (a model)"
    );
    assert!(
        db_err.hint().unwrap().contains("runner migrate"),
        "{db_err:?}"
    );
    drop(tx);
    // Nothing was changed: no function, the rows as they were.
    let left: i64 = client
        .query_one(
            "SELECT (SELECT count(*) FROM pg_proc WHERE proname = 'is_valid_name')
                  + (SELECT count(*) FROM kcg.detection_models) * 10",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 30);

    // The fix the hint asks for, typed in psql, is recorded in the audit
    // trail (V050) with the bad names it removes (the trail has no name
    // CHECK, so it cannot refuse the fix), and V052 then passes.
    let before: i64 = client
        .query_one("SELECT count(*) FROM kcg.detection_model_audit", &[])
        .await
        .unwrap()
        .get(0);
    client
        .batch_execute(
            "BEGIN;
             SELECT set_config('kcg.audit_note', 'V052: names fixed', true);
             UPDATE kcg.detection_model_versions SET version = '1.0' WHERE id = 1;
             UPDATE kcg.detection_model_versions SET implementation = 'v2' WHERE id = 2;
             DELETE FROM kcg.detection_model_dependencies;
             DELETE FROM kcg.detection_models WHERE model_id <> 'ok';
             COMMIT;",
        )
        .await
        .unwrap();
    let trail: Vec<(String, String, Option<String>, Option<String>)> = client
        .query(
            "SELECT action::text, operation::text, model_id::text, note FROM kcg.detection_model_audit
              WHERE id > $1 ORDER BY id",
            &[&(before as i64)],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let note = Some("V052: names fixed".to_owned());
    let manual = |op: &str, model: &str| {
        (
            "manual".to_owned(),
            op.to_owned(),
            Some(model.to_owned()),
            note.clone(),
        )
    };
    assert_eq!(
        trail,
        [
            manual("UPDATE", "ok"),
            manual("UPDATE", "ok"),
            manual("DELETE", "ok"),
            manual("DELETE", "bad\nid"),
            manual("DELETE", "   "),
        ]
    );
    let tx = client.transaction().await.unwrap();
    tx.batch_execute(V052).await.unwrap();
    tx.commit().await.unwrap();
    schema::check_schema(&client).await.unwrap();
}

#[tokio::test]
async fn v052_keeps_old_records_with_bad_names_and_check_schema_notes_them() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    client.batch_execute(UNDO_V052).await.unwrap();
    client
        .batch_execute(
            "INSERT INTO kcg.detection_model_runs (cycle_ts, model_id, status)
                  VALUES ('2022-01-03T00:10:00Z', E'old\\nmodel', 'SKIPPED'), ('2022-01-03T00:10:00Z', 'fine', 'SKIPPED')",
        )
        .await
        .unwrap();
    let tx = client.transaction().await.unwrap();
    tx.batch_execute(V052).await.unwrap();
    tx.commit().await.unwrap();
    let report = schema::check_schema(&client).await.unwrap();
    let notes: Vec<String> = report.not_valid.iter().map(ToString::to_string).collect();
    assert_eq!(
        notes,
        [
            "kcg.detection_model_runs.model_id: CHECK detection_model_runs_model_id_name_check is NOT VALID: \
          rows written before it may break it (new rows are checked); find them with SELECT * FROM \
          kcg.detection_model_runs WHERE NOT (kcg.is_valid_name(model_id)), and once none is left run \
          ALTER TABLE kcg.detection_model_runs VALIDATE CONSTRAINT detection_model_runs_model_id_name_check"
        ]
    );
    // The record is kept; a new one like it is refused.
    let kept: i64 = client
        .query_one("SELECT count(*) FROM kcg.detection_model_runs", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, 2);
    let err = client
        .execute(
            "INSERT INTO kcg.detection_model_runs (cycle_ts, model_id, status) VALUES (now(), E'new\\nmodel', 'SKIPPED')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "23514", "{err}");
}

/// Stage 10's guard: the whole comparison once, then one cheap query per
/// cycle; DDL typed between two cycles (by hand, on another connection) is
/// caught at the next one, and a fixed schema passes again.
#[tokio::test]
async fn the_schema_guard_compares_again_exactly_when_the_catalog_changed() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let psql = db.client().await;
    let guard = schema::SchemaGuard::new();
    assert!(matches!(
        guard.check(&client).await.unwrap(),
        schema::Guarded::Checked(_)
    ));
    assert_eq!(
        guard.check(&client).await.unwrap(),
        schema::Guarded::Unchanged
    );
    // Rows written are not DDL: still unchanged.
    psql.batch_execute("INSERT INTO kcg.detection_models (model_id) VALUES ('m')")
        .await
        .unwrap();
    assert_eq!(
        guard.check(&client).await.unwrap(),
        schema::Guarded::Unchanged
    );

    psql.batch_execute("ALTER TABLE kcg.vessel_analysis ALTER spoofing_score TYPE integer")
        .await
        .unwrap();
    let err = guard.check(&client).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("kcg.vessel_analysis.spoofing_score: expected real, found integer"),
        "{err}"
    );
    // Not remembered: still failing at the cycle after.
    assert!(guard.check(&client).await.is_err());
    psql.batch_execute("ALTER TABLE kcg.vessel_analysis ALTER spoofing_score TYPE real")
        .await
        .unwrap();
    assert!(matches!(
        guard.check(&client).await.unwrap(),
        schema::Guarded::Checked(_)
    ));
    assert_eq!(
        guard.check(&client).await.unwrap(),
        schema::Guarded::Unchanged
    );

    // A constraint dropped and added again under the same name in one
    // transaction is a change too.
    psql.batch_execute(
        "BEGIN;
         ALTER TABLE kcg.prediction_events DROP CONSTRAINT prediction_events_severity_check;
         ALTER TABLE kcg.prediction_events ADD CONSTRAINT prediction_events_severity_check
             CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL', 'EXTREME'));
         COMMIT;",
    )
    .await
    .unwrap();
    let err = guard.check(&client).await.unwrap_err();
    assert!(err.to_string().contains("EXTREME"), "{err}");
}

/// V052 beside V050: a bad name typed in psql is refused by the registry
/// table's CHECK, naming the constraint, before the audit trigger runs, so
/// no audit row is written for a change that did not happen; a good change
/// in the same session is recorded as usual.
#[tokio::test]
async fn a_bad_name_typed_in_psql_is_refused_and_leaves_no_audit_row() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO kcg.detection_models (model_id) VALUES ('risk');
             INSERT INTO kcg.detection_model_versions (model_id, version, role) VALUES ('risk', '1.0', 'SHADOW');",
        )
        .await
        .unwrap();
    let count = || async {
        client
            .query_one("SELECT count(*) FROM kcg.detection_model_audit", &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    let before = count().await;
    assert_eq!(before, 2, "the two good rows are recorded");
    for (sql, constraint) in [
        (
            "INSERT INTO kcg.detection_models (model_id) VALUES (E'risk\\n')",
            "detection_models_model_id_name_check",
        ),
        (
            "UPDATE kcg.detection_model_versions SET version = ' 1.0' WHERE model_id = 'risk'",
            "detection_model_versions_version_name_check",
        ),
        (
            "UPDATE kcg.detection_model_versions SET implementation = E'v2\\t' WHERE model_id = 'risk'",
            "detection_model_versions_implementation_name_check",
        ),
        (
            "INSERT INTO kcg.detection_model_dependencies VALUES ('risk', 'risk2', '   ')",
            "detection_model_dependencies_input_key_name_check",
        ),
    ] {
        let err = client.batch_execute(sql).await.unwrap_err();
        let db_err = err.as_db_error().expect("the database's refusal");
        assert_eq!(sqlstate(&err), "23514", "{sql}: {err}");
        assert_eq!(db_err.constraint(), Some(constraint), "{sql}");
        assert_eq!(count().await, before, "{sql}: no audit row");
    }
    // The audit trail's actions are exactly the ones registry-store names.
    let actions: Vec<&str> = registry_store::Action::ALL
        .iter()
        .map(|a| a.as_str())
        .collect();
    let declared = schema::expected::TABLES
        .iter()
        .find(|t| t.name == "detection_model_audit")
        .and_then(|t| t.checks.iter().find(|c| c.columns == ["action"]))
        .map(|c| c.rule);
    let Some(schema::expected::Rule::In(declared)) = declared else {
        panic!("kcg.detection_model_audit.action has no IN (...) CHECK declared: {declared:?}");
    };
    assert_eq!(declared, actions.as_slice());
}
