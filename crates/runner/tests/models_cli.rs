//! `runner models ...` and `runner versions ...` end to end: the built binary
//! against a fresh test database.

use std::process::{Command, Output};

use test_support::TestDb;
use tokio_postgres::Client;

fn runner(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("cannot run the runner binary")
}

/// Runs a command that must succeed; its stdout.
fn ok(db: &TestDb, args: &[&str]) -> String {
    let out = runner(db, args);
    assert!(
        out.status.success(),
        "runner {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The id in `... (id 7)` at the end of an `added ...` line.
fn id_in(stdout: &str) -> i64 {
    let start = stdout.rfind("(id ").expect("an id in the output") + 4;
    let end = start + stdout[start..].find(')').expect("closing parenthesis");
    stdout[start..end].parse().expect("a numeric id")
}

fn defaults(model: &str) -> String {
    detectors::default_params(model)
        .expect("a reference model")
        .to_string()
}

async fn status(client: &Client, id: i64) -> (String, String) {
    let row = client
        .query_one(
            "SELECT role::text, status::text FROM kcg.detection_model_versions WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// Registers the five reference models, a PRIMARY each with the legacy
/// params, and their dependencies, all through the CLI.
fn register_reference_models(db: &TestDb) {
    for spec in detectors::specs() {
        ok(
            db,
            &["models", "add", spec.id, "--description", spec.description],
        );
        let params = defaults(spec.id);
        ok(
            db,
            &[
                "versions",
                "add",
                spec.id,
                "1.0.0",
                "--role",
                "PRIMARY",
                "--params",
                &params,
                "--activate",
            ],
        );
    }
    for (model, upstream, key) in detectors::default_dependencies() {
        ok(
            db,
            &["models", "depend", model, "--on", upstream, "--as", key],
        );
    }
}

/// Runs a command the command line refuses (a name the value types refuse):
/// exit status 64, like clap's own refusals; its stderr.
fn fails_with_64(db: &TestDb, args: &[&str]) -> String {
    let out = runner(db, args);
    assert_eq!(
        out.status.code(),
        Some(64),
        "runner {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs a command that must fail with exit status 1; its stderr.
fn fails_with_1(db: &TestDb, args: &[&str]) -> String {
    let out = runner(db, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "runner {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The command line of `models` and `versions`: what each prints, exit
/// statuses, the argument errors the CLI itself finds, and the hints it adds
/// to the library's refusals. The rules themselves are tested on the library
/// (`registry-store/tests/lifecycle.rs`).
#[tokio::test]
async fn models_and_versions_print_outcomes_and_refuse_bad_arguments() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let tracks = detectors::ids::TRACK_FEATURES;
    let spoofing = detectors::ids::SPOOFING_SCORE;

    assert_eq!(
        ok(&db, &["models", "add", tracks, "--description", "tracks"]),
        "added model track_features\n"
    );
    let again = fails_with_1(&db, &["models", "add", tracks]);
    assert!(
        again.starts_with("error: model track_features already exists"),
        "{again}"
    );
    let long = "m".repeat(65);
    assert!(
        fails_with_64(&db, &["models", "add", &long]).contains("has 65 characters; at most 64")
    );
    let note = ok(&db, &["models", "add", "no_code_yet"]);
    assert!(
        note.contains("this build has no code for no_code_yet"),
        "{note}"
    );
    ok(&db, &["models", "add", spoofing]);

    assert_eq!(
        ok(
            &db,
            &[
                "models", "depend", spoofing, "--on", tracks, "--as", "tracks"
            ],
        ),
        "spoofing_score now reads track_features's PRIMARY result as tracks\n"
    );
    let unknown = fails_with_1(
        &db,
        &["models", "depend", spoofing, "--on", "nosuch", "--as", "x"],
    );
    assert!(
        unknown.contains("unknown model nosuch")
            && unknown.contains("hint: register it first with `runner models add nosuch`"),
        "{unknown}"
    );
    let cycle = fails_with_1(
        &db,
        &["models", "depend", tracks, "--on", spoofing, "--as", "back"],
    );
    assert!(
        cycle.contains(
            "would close the dependency cycle track_features -> spoofing_score -> track_features"
        ),
        "{cycle}"
    );
    let empty_key = fails_with_64(
        &db,
        &["models", "depend", spoofing, "--on", tracks, "--as", ""],
    );
    assert!(
        empty_key.contains("input key must not be empty"),
        "{empty_key}"
    );
    // clap's own refusals exit 64, not 1.
    let missing = runner(&db, &["models", "depend", spoofing, "--on", tracks]);
    assert_eq!(missing.status.code(), Some(64));

    // Versions: the CLI parses --params and --role; the library the rest.
    let params = defaults(tracks);
    let nosuch = fails_with_1(
        &db,
        &[
            "versions", "add", "nosuch", "1", "--role", "PRIMARY", "--params", "{}",
        ],
    );
    assert!(
        nosuch.contains("unknown model nosuch") && nosuch.contains("hint: register it first"),
        "{nosuch}"
    );
    let added = ok(
        &db,
        &[
            "versions",
            "add",
            tracks,
            "1.0.0",
            "--role",
            "PRIMARY",
            "--params",
            &params,
            "--activate",
        ],
    );
    assert!(
        added.starts_with("added model track_features version 1.0.0 as ACTIVE PRIMARY"),
        "{added}"
    );
    let v1 = id_in(&added);
    assert!(
        fails_with_1(
            &db,
            &[
                "versions", "add", tracks, "1.0.0", "--role", "SHADOW", "--params", &params
            ]
        )
        .contains("model track_features already has a version 1.0.0")
    );
    assert!(
        fails_with_1(
            &db,
            &[
                "versions",
                "add",
                tracks,
                "1.1.0",
                "--role",
                "SHADOW",
                "--params",
                "{not json"
            ]
        )
        .contains("--params of model track_features version 1.1.0 is not valid JSON")
    );
    assert!(
        fails_with_1(
            &db,
            &[
                "versions", "add", tracks, "1.1.0", "--role", "SHADOW", "--params", "[1, 2]"
            ]
        )
        .contains(
            "--params of model track_features version 1.1.0 must be a JSON object, got [1,2]"
        )
    );
    let refused = fails_with_1(
        &db,
        &[
            "versions",
            "add",
            tracks,
            "1.1.0",
            "--role",
            "SHADOW",
            "--params",
            r#"{"bogus": 1}"#,
        ],
    );
    assert!(
        refused.contains("params of model track_features version 1.1.0 are refused by its code"),
        "{refused}"
    );
    assert!(
        refused.contains("bogus"),
        "the cause is printed too: {refused}"
    );
    let label = fails_with_64(
        &db,
        &[
            "versions", "add", tracks, "", "--role", "SHADOW", "--params", "{}",
        ],
    );
    assert!(label.contains("version label must not be empty"), "{label}");
    let second = fails_with_1(
        &db,
        &[
            "versions",
            "add",
            tracks,
            "2.0.0",
            "--role",
            "PRIMARY",
            "--params",
            &params,
            "--activate",
        ],
    );
    assert!(
        second.contains("model track_features already has an ACTIVE PRIMARY (version 1.0.0")
            && second.contains("hint: add the new version without --activate, then `runner versions promote <its id>`"),
        "{second}"
    );
    let canary = runner(
        &db,
        &[
            "versions", "add", tracks, "2.0.0", "--role", "CANARY", "--params", "{}",
        ],
    );
    assert_eq!(canary.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&canary.stderr).contains("CANARY"));

    let shadow = ok(
        &db,
        &[
            "versions",
            "add",
            tracks,
            "2.0.0",
            "--role",
            "shadow",
            "--params",
            &params,
            "--activate",
            "--timeout-ms",
            "1500",
        ],
    );
    let v2 = id_in(&shadow);
    let draft_line = ok(
        &db,
        &[
            "versions",
            "add",
            tracks,
            "3.0.0",
            "--role",
            "CHALLENGER",
            "--params",
            &params,
        ],
    );
    assert!(
        draft_line.starts_with("added model track_features version 3.0.0 as DRAFT CHALLENGER"),
        "{draft_line}"
    );
    let draft = id_in(&draft_line);
    assert_eq!(
        status(&client, draft).await,
        ("CHALLENGER".into(), "DRAFT".into())
    );

    let promoted = ok(&db, &["versions", "promote", &v2.to_string()]);
    assert!(promoted.contains(&format!("promoted model track_features version 2.0.0 (id {v2}) from ACTIVE SHADOW to ACTIVE PRIMARY")), "{promoted}");
    assert!(
        promoted.contains(&format!(
            "archived the previous PRIMARY, version 1.0.0 (id {v1})"
        )),
        "{promoted}"
    );
    assert_eq!(
        status(&client, v1).await,
        ("PRIMARY".into(), "ARCHIVED".into())
    );
    let missing = fails_with_1(&db, &["versions", "promote", "999999"]);
    assert!(
        missing.contains("no model version with id 999999")
            && missing.contains("hint: see `runner versions list`"),
        "{missing}"
    );
    assert!(
        ok(&db, &["versions", "promote", &v2.to_string()])
            .contains("is already the ACTIVE PRIMARY")
    );
    let rolled_back = ok(&db, &["versions", "promote", &v1.to_string()]);
    assert!(
        rolled_back.contains("from ARCHIVED PRIMARY to ACTIVE PRIMARY"),
        "{rolled_back}"
    );

    let archived = ok(&db, &["versions", "archive", &v1.to_string()]);
    assert!(archived.contains(&format!(
        "archived model track_features version 1.0.0 (id {v1}, was ACTIVE PRIMARY)"
    )));
    assert!(archived.contains("has no ACTIVE PRIMARY now"), "{archived}");
    assert!(ok(&db, &["versions", "archive", &v1.to_string()]).contains("already archived"));

    // versions list shows every status; JSON for scripts.
    let listed: serde_json::Value = serde_json::from_str(&ok(
        &db,
        &["versions", "list", "--model", tracks, "--format", "json"],
    ))
    .unwrap();
    let rows: Vec<(i64, String, String)> = listed["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["id"].as_i64().unwrap(),
                v["role"].as_str().unwrap().into(),
                v["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (v1, "PRIMARY".into(), "ARCHIVED".into()),
            (v2, "PRIMARY".into(), "ARCHIVED".into()),
            (draft, "CHALLENGER".into(), "DRAFT".into()),
        ]
    );
    assert_eq!(listed["versions"][1]["timeout_ms"], 1500);
    assert_eq!(listed["versions"][1]["model_id"], tracks);
    assert_eq!(
        listed["versions"][2]["activated_at"],
        serde_json::Value::Null
    );
    assert!(
        listed["versions"][0]["created_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let text = ok(&db, &["versions", "list"]);
    assert!(text.starts_with("ID"), "{text}");
    assert!(text.contains("ARCHIVED"), "{text}");
    assert!(text.contains("1500ms"), "{text}");
}

#[tokio::test]
async fn models_list_shows_active_versions_by_model_and_role() {
    let db = TestDb::new().await;
    register_reference_models(&db);
    let spoofing = detectors::ids::SPOOFING_SCORE;
    let params = defaults(spoofing);
    let shadow = id_in(&ok(
        &db,
        &[
            "versions",
            "add",
            spoofing,
            "1.1.0",
            "--role",
            "SHADOW",
            "--params",
            &params,
            "--activate",
        ],
    ));
    ok(
        &db,
        &[
            "versions", "add", spoofing, "1.2.0", "--role", "SHADOW", "--params", &params,
        ],
    ); // DRAFT: not listed

    let text = ok(&db, &["models", "list"]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("MODEL") && lines[0].contains("PARAMS"),
        "{text}"
    );
    assert_eq!(lines.len(), 1 + 5 + 1, "{text}");
    let spoofing_lines: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("spoofing_score"))
        .collect();
    assert_eq!(spoofing_lines.len(), 2, "{text}");
    assert!(
        spoofing_lines[0].contains("PRIMARY") && spoofing_lines[1].contains("SHADOW"),
        "{text}"
    );
    assert!(spoofing_lines[1].contains("1.1.0"), "{text}");

    let json: serde_json::Value =
        serde_json::from_str(&ok(&db, &["models", "list", "--format", "json"])).unwrap();
    let models: Vec<&str> = json["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["model_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        models,
        vec![
            "identity",
            "identity_collision",
            "risk",
            "spoofing_score",
            "track_features"
        ]
    );
    let spoofing_json = &json["models"][3]["versions"];
    assert_eq!(spoofing_json[1]["id"], shadow);
    assert_eq!(
        spoofing_json[1]["params"],
        detectors::default_params(spoofing).unwrap()
    );
}

#[tokio::test]
async fn models_plan_prints_the_cycle_path_and_the_plan_of_the_rest() {
    let db = TestDb::new().await;
    register_reference_models(&db);
    let client = db.client().await;
    // The CLI refuses to close a cycle, so store one by hand:
    // identity -> risk -> spoofing_score -> identity.
    client
        .execute(
            "INSERT INTO kcg.detection_model_dependencies (model_id, depends_on, input_key) \
             VALUES ('identity', 'risk', 'feedback')",
            &[],
        )
        .await
        .unwrap();
    // A SHADOW whose params the code refuses is left out alone.
    let bad_shadow: i64 = client
        .query_one(
            "INSERT INTO kcg.detection_model_versions (model_id, version, role, status, params) \
             VALUES ('identity_collision', '9.9.9', 'SHADOW', 'ACTIVE', '{\"nonsense\": true}') RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .get(0);

    let text = ok(&db, &["models", "plan"]);
    let cycle = "identity -> risk -> spoofing_score -> identity";
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "plan: 2 models, 2 versions in 2 levels", "{text}");
    assert_eq!(lines[1], "level 0", "{text}");
    assert!(
        lines[2].starts_with("  track_features  PRIMARY 1.0.0 (id "),
        "{text}"
    );
    assert_eq!(lines[3], "level 1", "{text}");
    assert!(
        lines[4].starts_with("  identity_collision  PRIMARY 1.0.0 (id "),
        "{text}"
    );
    assert!(lines[4].ends_with("<- track_features as tracks"), "{text}");
    assert_eq!(
        lines[5], "dependency cycles (each model depends on the next)",
        "{text}"
    );
    assert_eq!(lines[6], format!("  {cycle}"), "{text}");
    assert_eq!(lines[7], "left out", "{text}");
    let left_out = &lines[8..];
    assert_eq!(left_out.len(), 4, "{text}");
    assert!(
        left_out[0].starts_with("  identity ")
            && left_out[0].ends_with(&format!("in dependency cycle {cycle}")),
        "{text}"
    );
    assert!(
        left_out[1].starts_with(&format!(
            "  identity_collision SHADOW version id {bad_shadow}"
        )),
        "{text}"
    );
    assert!(left_out[1].contains("nonsense"), "{text}");
    assert!(
        left_out[2].starts_with("  risk ")
            && left_out[2].ends_with(&format!("in dependency cycle {cycle}")),
        "{text}"
    );
    assert!(
        left_out[3].starts_with("  spoofing_score ")
            && left_out[3].ends_with(&format!("in dependency cycle {cycle}")),
        "{text}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&ok(&db, &["models", "plan", "--format", "json"])).unwrap();
    let levels: Vec<Vec<&str>> = json["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            l.as_array()
                .unwrap()
                .iter()
                .map(|m| m["model_id"].as_str().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(
        levels,
        vec![vec!["track_features"], vec!["identity_collision"]]
    );
    assert_eq!(
        json["levels"][1][0]["inputs"][0],
        serde_json::json!({"upstream": "track_features", "input_key": "tracks"})
    );
    assert_eq!(json["cycles"][0]["path"], cycle);
    assert_eq!(
        json["cycles"][0]["models"],
        serde_json::json!(["identity", "risk", "spoofing_score"])
    );
    let excluded: Vec<(&str, Option<i64>)> = json["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["model_id"].as_str().unwrap(), e["version_id"].as_i64()))
        .collect();
    assert_eq!(
        excluded,
        vec![
            ("identity", None),
            ("identity_collision", Some(bad_shadow)),
            ("risk", None),
            ("spoofing_score", None)
        ]
    );
    assert_eq!(json["excluded"][1]["role"], "SHADOW");

    // Breaking the cycle brings the whole graph back.
    client
        .execute(
            "DELETE FROM kcg.detection_model_dependencies WHERE input_key = 'feedback'",
            &[],
        )
        .await
        .unwrap();
    let text = ok(&db, &["models", "plan"]);
    assert!(
        text.starts_with("plan: 5 models, 5 versions in 3 levels"),
        "{text}"
    );
    assert!(!text.contains("dependency cycles"), "{text}");
}

/// `versions add --implementation` and `--allow-unknown` on the command
/// line: what each prints, the refusal and its hint, and where the listings
/// and the plan show the implementation a version runs.
#[tokio::test]
async fn implementations_and_versions_without_code_on_the_command_line() {
    let db = TestDb::new().await;
    register_reference_models(&db);
    let spoofing = defaults("spoofing_score");
    let added = ok(
        &db,
        &[
            "versions",
            "add",
            "spoofing_score",
            "2.0.0",
            "--role",
            "SHADOW",
            "--implementation",
            "v2",
            "--params",
            &spoofing,
            "--activate",
        ],
    );
    assert!(
        added.contains("as ACTIVE SHADOW, implementation v2 (id "),
        "{added}"
    );
    let shadow = id_in(&added);
    let listed = ok(&db, &["versions", "list", "--model", "spoofing_score"]);
    assert!(listed.contains("IMPLEMENTATION"), "{listed}");
    assert!(listed.contains("v1 (default)"), "{listed}");
    let plan = ok(&db, &["models", "plan"]);
    assert!(
        plan.contains(&format!("SHADOW 2.0.0 (id {shadow}, v2)")),
        "{plan}"
    );
    let list = ok(&db, &["models", "list", "--format", "json"]);
    assert!(list.contains("\"implementation\": \"v2\""), "{list}");

    // A model this build has no code for: DRAFT is fine, ACTIVE is refused
    // with a hint, and allowed on request.
    ok(&db, &["models", "add", "loitering"]);
    let add = |extra: &[&str]| {
        let mut args = vec![
            "versions",
            "add",
            "loitering",
            "1.0.0",
            "--role",
            "PRIMARY",
            "--params",
            "{}",
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let refused = fails_with_1(
        &db,
        &add(&["--activate"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(
        refused.contains(
            "model loitering version 1.0.0 cannot be activated: this build has no code for model loitering"
        ),
        "{refused}"
    );
    assert!(
        refused.contains("hint:") && refused.contains("--allow-unknown"),
        "{refused}"
    );
    let allowed = ok(
        &db,
        &add(&["--activate", "--allow-unknown"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(allowed.contains("implementation (default)"), "{allowed}");
    let plan = ok(&db, &["models", "plan"]);
    assert!(plan.contains("unknown model_id loitering"), "{plan}");

    // An implementation this build lacks names the ones it has.
    let refused = fails_with_1(
        &db,
        &[
            "versions",
            "add",
            "spoofing_score",
            "3.0.0",
            "--role",
            "SHADOW",
            "--implementation",
            "v9",
            "--params",
            &spoofing,
            "--activate",
        ],
    );
    assert!(
        refused.contains("no implementation v9 of model spoofing_score (it has v1, v2)"),
        "{refused}"
    );
}
