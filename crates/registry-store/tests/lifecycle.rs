//! The lifecycle rules against a real PostgreSQL, through the library: every
//! refusal names the model, version, id or key and the rule; a request that
//! changes nothing is an outcome; listeners hear about every change once it
//! commits. (Ported from the runner's CLI tests, which now test only the
//! command line.)

mod common;

use std::time::Duration;

use common::*;
use model_api::{InputKey, ModelId, Role, VersionLabel};
use registry::{Catalog, VersionStatus};
use registry_store::{
    ArchiveOutcome, Edge, EnabledOutcome, NewVersion, PromoteOutcome, Promoted, ReferenceModel,
    StoreError, UndependOutcome, add_model, add_version, archive, depend, list_versions, load,
    promote, register_reference, set_enabled, undepend,
};
use test_support::TestDb;
use tokio_postgres::AsyncMessage;

/// The channel of V034's NOTIFY triggers (`params_cache::NOTIFY_CHANNEL`,
/// which depends on this crate).
const NOTIFY_CHANNEL: &str = "kcg_model_registry";

fn reference_catalog() -> Catalog {
    Catalog::from_entries(detectors::catalog()).unwrap()
}

fn defaults(model: &str) -> serde_json::Map<String, serde_json::Value> {
    params(detectors::default_params(model).expect("a reference model"))
}

fn edge(model: &str, upstream: &str, key: &str) -> Edge {
    Edge {
        model: id(model),
        upstream: id(upstream),
        input_key: InputKey::new(key).unwrap(),
    }
}

fn new_version(
    model: &str,
    version: &str,
    role: Role,
    params: serde_json::Map<String, serde_json::Value>,
    activate: bool,
) -> NewVersion {
    NewVersion {
        model: id(model),
        version: VersionLabel::new(version).unwrap(),
        role,
        params,
        activate,
        timeout_ms: None,
        implementation: None,
        allow_unknown: false,
    }
}

#[tokio::test]
async fn models_and_versions_are_managed_with_clear_errors_and_notifications() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let c = &mut client;
    let catalog = reference_catalog();
    let tracks = detectors::ids::TRACK_FEATURES;
    let spoofing = detectors::ids::SPOOFING_SCORE;

    add_model(c, &id(tracks), Some("tracks")).await.unwrap();
    let again = add_model(c, &id(tracks), None).await.unwrap_err();
    assert!(matches!(&again, StoreError::ModelExists { model } if model == tracks));
    assert!(
        again
            .to_string()
            .contains("model track_features already exists"),
        "{again}"
    );
    // An id the database would refuse cannot even be named.
    let long = "m".repeat(65);
    assert!(
        ModelId::new(&long)
            .unwrap_err()
            .to_string()
            .contains("has 65 characters; at most 64")
    );
    add_model(c, &id("no_code_yet"), None).await.unwrap();
    add_model(c, &id(spoofing), None).await.unwrap();

    // Dependencies: unknown models, duplicates and cycles are refused.
    depend(c, &edge(spoofing, tracks, "tracks")).await.unwrap();
    let unknown = depend(c, &edge(spoofing, "nosuch", "x")).await.unwrap_err();
    assert!(matches!(&unknown, StoreError::UnknownModel { model } if model == "nosuch"));
    assert!(
        unknown.to_string().contains("unknown model nosuch"),
        "{unknown}"
    );
    let twice = depend(c, &edge(spoofing, tracks, "tracks"))
        .await
        .unwrap_err();
    assert!(
        matches!(twice, StoreError::AlreadyDepends { .. }),
        "{twice}"
    );
    assert!(
        twice
            .to_string()
            .contains("spoofing_score already depends on track_features as tracks"),
        "{twice}"
    );
    let taken = depend(c, &edge(spoofing, "no_code_yet", "tracks"))
        .await
        .unwrap_err();
    assert!(
        matches!(&taken, StoreError::InputKeyTaken { holder: Some(h), input_key, .. }
            if h == tracks && input_key == "tracks"),
        "{taken}"
    );
    assert!(
        taken.to_string().contains(
            "spoofing_score already reads track_features's result under input key tracks"
        ),
        "{taken}"
    );
    let cycle = depend(c, &edge(tracks, spoofing, "back"))
        .await
        .unwrap_err();
    assert!(
        matches!(&cycle, StoreError::WouldCloseCycle { cycle, .. }
            if cycle == &[tracks, spoofing, tracks]),
        "{cycle:?}"
    );
    assert!(
        cycle.to_string().contains(
            "would close the dependency cycle track_features -> spoofing_score -> track_features"
        ),
        "{cycle}"
    );
    let me = depend(c, &edge(tracks, tracks, "me")).await.unwrap_err();
    assert!(matches!(me, StoreError::SelfDependency { .. }));
    assert!(me.to_string().contains("cannot depend on itself"), "{me}");

    // Versions: every refusal names the model and version.
    let nosuch = add_version(
        c,
        &catalog,
        &new_version("nosuch", "1", Role::Primary, Default::default(), false),
    )
    .await
    .unwrap_err();
    assert!(
        nosuch.to_string().contains("unknown model nosuch"),
        "{nosuch}"
    );
    let added = add_version(
        c,
        &catalog,
        &new_version(tracks, "1.0.0", Role::Primary, defaults(tracks), true),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            added.model.as_str(),
            added.version.as_str(),
            added.status,
            added.role
        ),
        (tracks, "1.0.0", VersionStatus::Active, Role::Primary)
    );
    let v1 = added.id;
    let label_taken = add_version(
        c,
        &catalog,
        &new_version(tracks, "1.0.0", Role::Shadow, defaults(tracks), false),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(label_taken, StoreError::VersionExists { existing: Some((id, VersionStatus::Active, Role::Primary)), .. } if id == v1),
        "{label_taken}"
    );
    assert!(
        label_taken
            .to_string()
            .contains("model track_features already has a version 1.0.0"),
        "{label_taken}"
    );
    let refused = add_version(
        c,
        &catalog,
        &new_version(
            tracks,
            "1.1.0",
            Role::Shadow,
            params(serde_json::json!({"bogus": 1})),
            false,
        ),
    )
    .await
    .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("params of model track_features version 1.1.0 are refused by its code"),
        "{refused}"
    );
    assert!(
        !refused.to_string().contains("bogus"),
        "the cause is the source, not the message: {refused}"
    );
    assert!(chain(&refused).contains("bogus"), "{}", chain(&refused));
    let second = add_version(
        c,
        &catalog,
        &new_version(tracks, "2.0.0", Role::Primary, defaults(tracks), true),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&second, StoreError::SecondActivePrimary { existing: Some((id, v)), .. } if *id == v1 && v == "1.0.0"),
        "{second}"
    );
    assert!(
        second
            .to_string()
            .contains("model track_features already has an ACTIVE PRIMARY (version 1.0.0"),
        "{second}"
    );

    // A SHADOW with a timeout, then promoted: the old PRIMARY is archived in
    // the same transaction, and listeners hear about it once it commits.
    let mut shadow = new_version(tracks, "2.0.0", Role::Shadow, defaults(tracks), true);
    shadow.timeout_ms = Some(1500);
    let v2 = add_version(c, &catalog, &shadow).await.unwrap().id;
    let draft = add_version(
        c,
        &catalog,
        &new_version(tracks, "3.0.0", Role::Challenger, defaults(tracks), false),
    )
    .await
    .unwrap();
    assert_eq!(draft.status, VersionStatus::Draft);
    let draft = draft.id;
    assert_eq!(
        status(c, draft).await,
        ("CHALLENGER".into(), "DRAFT".into())
    );

    let (listener, mut connection) = db.config().connect(tokio_postgres::NoTls).await.unwrap();
    let (tx, mut notes) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            if let AsyncMessage::Notification(n) = message {
                let _ = tx.send((n.channel().to_owned(), n.payload().to_owned()));
            }
        }
    });
    listener
        .batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}"))
        .await
        .unwrap();

    let promoted = promote(c, &catalog, v2).await.unwrap();
    assert_eq!(
        promoted,
        PromoteOutcome::Promoted(Promoted {
            id: v2,
            model: tracks.into(),
            version: "2.0.0".into(),
            from_role: Role::Shadow,
            from_status: VersionStatus::Active,
            archived: Some((v1, "1.0.0".into())),
        })
    );
    assert_eq!(status(c, v1).await, ("PRIMARY".into(), "ARCHIVED".into()));
    assert_eq!(status(c, v2).await, ("PRIMARY".into(), "ACTIVE".into()));
    let (channel, payload) = tokio::time::timeout(Duration::from_secs(30), notes.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (channel.as_str(), payload.as_str()),
        (NOTIFY_CHANNEL, "detection_model_versions")
    );

    let missing = promote(c, &catalog, 999_999).await.unwrap_err();
    assert!(matches!(
        missing,
        StoreError::UnknownVersion { id: 999_999 }
    ));
    assert!(
        missing
            .to_string()
            .contains("no model version with id 999999"),
        "{missing}"
    );
    assert!(matches!(
        promote(c, &catalog, v2).await.unwrap(),
        PromoteOutcome::AlreadyPrimary(v) if v.id == v2
    ));

    // Rolling back is promoting the archived version again.
    promote(c, &catalog, v1).await.unwrap();
    assert_eq!(status(c, v1).await, ("PRIMARY".into(), "ACTIVE".into()));
    assert_eq!(status(c, v2).await, ("PRIMARY".into(), "ARCHIVED".into()));

    let archived = archive(c, v1).await.unwrap();
    assert!(archived.left_without_primary());
    let ArchiveOutcome::Archived(was) = &archived else {
        panic!("{archived:?}")
    };
    assert_eq!(
        was.to_string(),
        format!("model track_features version 1.0.0 (id {v1}, ACTIVE PRIMARY)")
    );
    assert_eq!(status(c, v1).await, ("PRIMARY".into(), "ARCHIVED".into()));
    let (channel, _) = tokio::time::timeout(Duration::from_secs(30), notes.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(channel, NOTIFY_CHANNEL);
    let again = archive(c, v1).await.unwrap();
    assert!(matches!(again, ArchiveOutcome::AlreadyArchived(_)));
    assert!(!again.left_without_primary());

    // Every status is listed, by model, role and id.
    let listed = list_versions(c, Some(&id(tracks))).await.unwrap();
    let rows: Vec<(i64, Role, VersionStatus)> =
        listed.iter().map(|v| (v.id, v.role, v.status)).collect();
    assert_eq!(
        rows,
        vec![
            (v1, Role::Primary, VersionStatus::Archived),
            (v2, Role::Primary, VersionStatus::Archived),
            (draft, Role::Challenger, VersionStatus::Draft),
        ]
    );
    assert_eq!(listed[1].timeout_ms, Some(1500));
    assert!(listed[0].archived_at.is_some() && listed[0].activated_at.is_some());
    assert_eq!(listed[2].activated_at, None);
    assert_eq!(list_versions(c, None).await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_version_whose_params_the_code_refuses_is_not_promoted() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    let catalog = catalog(["m"]);
    add_model(&mut c, &id("m"), None).await.unwrap();
    let primary = add_version(
        &mut c,
        &catalog,
        &new_version("m", "1", Role::Primary, good(), true),
    )
    .await
    .unwrap()
    .id;
    // Stored by hand: the library would not have taken it.
    let bad = raw_version(&c, "m", "2", "SHADOW", "DRAFT", r#"{"wieght": 1}"#).await;
    let err = promote(&mut c, &catalog, bad).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::ParamsRefused { model, version, .. } if model == "m" && version == "2"),
        "{err}"
    );
    assert!(chain(&err).contains("wieght"), "{}", chain(&err));
    assert_eq!(
        status(&c, primary).await,
        ("PRIMARY".into(), "ACTIVE".into())
    );
    assert_eq!(status(&c, bad).await, ("SHADOW".into(), "DRAFT".into()));
    // A build without code for the model does not check.
    assert!(matches!(
        promote(&mut c, &Catalog::new(), bad).await.unwrap(),
        PromoteOutcome::Promoted(Promoted { archived: Some((id, _)), .. }) if id == primary
    ));
}

#[tokio::test]
async fn a_timeout_the_column_cannot_hold_is_refused_before_anything_is_written() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    add_model(&mut c, &id("m"), None).await.unwrap();
    let mut v = new_version("m", "1", Role::Shadow, good(), false);
    v.timeout_ms = Some(u32::MAX);
    let err = add_version(&mut c, &Catalog::new(), &v).await.unwrap_err();
    assert!(matches!(err, StoreError::BadTimeout { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "the timeout of model m version 1 must be 1 to 2147483647 ms, not 4294967295"
    );
    v.timeout_ms = Some(0);
    assert!(matches!(
        add_version(&mut c, &Catalog::new(), &v).await,
        Err(StoreError::BadTimeout { timeout_ms: 0, .. })
    ));
    assert!(list_versions(&c, None).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_disabled_model_is_not_loaded_and_the_flag_reports_what_changed() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    add_model(&mut c, &id("m"), None).await.unwrap();
    add_version(
        &mut c,
        &catalog(["m"]),
        &new_version("m", "1", Role::Primary, good(), true),
    )
    .await
    .unwrap();
    assert_eq!(load(&c).await.unwrap().versions.len(), 1);
    assert_eq!(
        set_enabled(&mut c, &id("m"), true).await.unwrap(),
        EnabledOutcome::Unchanged
    );
    assert_eq!(
        set_enabled(&mut c, &id("m"), false).await.unwrap(),
        EnabledOutcome::Changed
    );
    assert!(load(&c).await.unwrap().versions.is_empty());
    assert_eq!(
        set_enabled(&mut c, &id("m"), false).await.unwrap(),
        EnabledOutcome::Unchanged
    );
    assert_eq!(
        set_enabled(&mut c, &id("m"), true).await.unwrap(),
        EnabledOutcome::Changed
    );
    assert_eq!(load(&c).await.unwrap().versions.len(), 1);
    assert!(matches!(
        set_enabled(&mut c, &id("ghost"), false).await,
        Err(StoreError::UnknownModel { model }) if model == "ghost"
    ));
}

#[tokio::test]
async fn an_edge_is_removed_once_and_then_reported_not_found() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    for m in ["a", "b"] {
        add_model(&mut c, &id(m), None).await.unwrap();
    }
    depend(&mut c, &edge("a", "b", "in")).await.unwrap();
    assert_eq!(load(&c).await.unwrap().edges.len(), 1);
    assert_eq!(
        undepend(&mut c, &edge("a", "b", "other")).await.unwrap(),
        UndependOutcome::NotFound
    );
    assert_eq!(
        undepend(&mut c, &edge("a", "b", "in")).await.unwrap(),
        UndependOutcome::Removed
    );
    assert!(load(&c).await.unwrap().edges.is_empty());
    assert_eq!(
        undepend(&mut c, &edge("a", "b", "in")).await.unwrap(),
        UndependOutcome::NotFound
    );
    assert!(matches!(
        undepend(&mut c, &edge("a", "zz", "in")).await,
        Err(StoreError::UnknownModel { model }) if model == "zz"
    ));
    // With the edge gone, the reverse edge no longer closes a cycle.
    depend(&mut c, &edge("b", "a", "in")).await.unwrap();
}

#[tokio::test]
async fn reference_models_are_registered_once_and_an_operators_primary_is_kept() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    let reference = |model: &str| ReferenceModel {
        model: id(model),
        description: format!("{model} does things"),
        version: VersionLabel::new("1.0.0").unwrap(),
        params: good(),
    };
    let models = [reference("up"), reference("down")];
    let edges = [edge("down", "up", "in")];
    let first = register_reference(&mut c, &models, &edges).await.unwrap();
    assert_eq!(
        (first.models, first.edges, first.primaries),
        (2, 1, 2),
        "{first:?}"
    );
    // An operator promotes a 2.0.0 of "up"; a second registration keeps it.
    let v2 = add_version(
        &mut c,
        &Catalog::new(),
        &new_version("up", "2.0.0", Role::Shadow, good(), false),
    )
    .await
    .unwrap()
    .id;
    promote(&mut c, &Catalog::new(), v2).await.unwrap();
    let again = register_reference(&mut c, &models, &edges).await.unwrap();
    assert_eq!((again.models, again.edges, again.primaries), (0, 0, 0));
    let snapshot = load(&c).await.unwrap();
    let up: Vec<(&str, Role)> = snapshot
        .versions
        .iter()
        .filter(|v| v.model_id == "up")
        .map(|v| (v.version.as_str(), v.role))
        .collect();
    assert_eq!(up, vec![("2.0.0", Role::Primary)]);

    // An edge naming a model that is not registered is refused by the
    // database's foreign key, and reported as the unknown model; the whole
    // registration is rolled back.
    let err = register_reference(
        &mut c,
        &[reference("third")],
        &[edge("third", "nosuch", "x")],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownModel { model } if model == "nosuch"),
        "{err:?}"
    );
    assert!(
        !load(&c)
            .await
            .unwrap()
            .versions
            .iter()
            .any(|v| v.model_id == "third")
    );
}

#[tokio::test]
async fn operations_compose_inside_a_callers_transaction() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    let mut tx = c.transaction().await.unwrap();
    add_model(&mut tx, &id("a"), None).await.unwrap();
    add_model(&mut tx, &id("b"), None).await.unwrap();
    depend(&mut tx, &edge("a", "b", "in")).await.unwrap();
    let v = add_version(
        &mut tx,
        &catalog(["b"]),
        &new_version("b", "1", Role::Primary, good(), true),
    )
    .await
    .unwrap();
    assert_eq!(load(&tx).await.unwrap().versions.len(), 1);
    tx.rollback().await.unwrap();
    // Nothing of it is left.
    let snapshot = load(&c).await.unwrap();
    assert!(snapshot.versions.is_empty() && snapshot.edges.is_empty());
    assert!(matches!(
        promote(&mut c, &Catalog::new(), v.id).await,
        Err(StoreError::UnknownVersion { .. })
    ));
}
