//! Versions that name an implementation, the code a build must have to
//! activate one, and promotions refused because the planner could not plan
//! the registry after them (the type check of the DAG), against a real
//! PostgreSQL.

mod common;

use common::*;
use model_api::{
    ArtifactType, Context, DeclaredInput, ImplementationName, Input, InputKey, Model, ModelError,
    ModelOutput, Output, Role, VersionLabel,
};
use registry::{Catalog, Exclusion, VersionStatus};
use registry_store::{
    Edge, NewVersion, PromoteOutcome, ReferenceModel, StoreError, add_model, add_version,
    list_versions, load, promote, register_reference,
};
use test_support::TestDb;

const SPOOFING: &str = detectors::ids::SPOOFING_SCORE;

/// A `spoofing_score` whose result carries no scores: what a team might
/// ship as a cheaper SHADOW. `risk` cannot read it.
#[derive(Clone)]
struct Bare;

impl Model for Bare {
    type Params = serde_json::Map<String, serde_json::Value>;
    type Artifact = Vec<i64>;
    const INPUTS: &'static [DeclaredInput] =
        &[Input::<detectors::TrackFeatures>::new("tracks").declare()];
    fn run(&self, ctx: &Context<'_, Self::Params>) -> Result<Output<Vec<i64>>, ModelError> {
        let tracks = ctx.input::<detectors::TrackFeatures>("tracks")?;
        let mmsis = tracks.vessels().iter().map(|v| v.mmsi).collect();
        Ok(Output::new(ModelOutput::new(), mmsis))
    }
}

/// The reference detectors (both `spoofing_score` implementations) and
/// `Bare` as `spoofing_score` implementation `bare`.
fn catalog_with_bare() -> Catalog {
    let mut c = Catalog::from_entries(detectors::catalog()).unwrap();
    c.register_model(SPOOFING, "bare", Bare).unwrap();
    c
}

/// The reference models as `runner models add-reference` installs them.
async fn reference(c: &mut tokio_postgres::Client) {
    let models: Vec<ReferenceModel> = detectors::specs()
        .iter()
        .map(|s| ReferenceModel {
            model: id(s.id),
            description: s.description.to_owned(),
            version: VersionLabel::new("1.0.0").unwrap(),
            params: params((s.default_params)()),
        })
        .collect();
    let edges: Vec<Edge> = detectors::default_dependencies()
        .into_iter()
        .map(|(m, u, k)| Edge {
            model: id(m),
            upstream: id(u),
            input_key: InputKey::new(k).unwrap(),
        })
        .collect();
    register_reference(c, &models, &edges).await.unwrap();
}

fn version(
    model: &str,
    label: &str,
    role: Role,
    implementation: Option<&str>,
    activate: bool,
) -> NewVersion {
    NewVersion {
        model: id(model),
        version: VersionLabel::new(label).unwrap(),
        role,
        params: detectors::default_params(model).map_or_else(Default::default, params),
        activate,
        timeout_ms: None,
        implementation: implementation.map(|i| ImplementationName::new(i).unwrap()),
        allow_unknown: false,
    }
}

#[tokio::test]
async fn a_version_names_its_implementation_and_the_store_keeps_it() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    reference(&mut c).await;
    let catalog = Catalog::from_entries(detectors::catalog()).unwrap();
    let shadow = add_version(
        &mut c,
        &catalog,
        &version(SPOOFING, "2.0.0-graded", Role::Shadow, Some("v2"), true),
    )
    .await
    .unwrap();
    let listed = list_versions(&c, Some(&id(SPOOFING))).await.unwrap();
    let implementations: Vec<(&str, Option<&str>)> = listed
        .iter()
        .map(|v| (v.version.as_str(), v.implementation.as_deref()))
        .collect();
    assert_eq!(
        implementations,
        vec![("1.0.0", None), ("2.0.0-graded", Some("v2"))]
    );
    let loaded = load(&c).await.unwrap();
    let v = loaded.versions.iter().find(|v| v.id == shadow.id).unwrap();
    assert_eq!(v.implementation.as_deref(), Some("v2"));
    // The plan runs it beside the PRIMARY, which runs the default.
    let plan = registry::plan(&catalog, &loaded);
    let (_, planned) = plan.find(SPOOFING).unwrap();
    assert_eq!(planned.primary.implementation.as_str(), "v1");
    assert_eq!(planned.others[0].implementation.as_str(), "v2");
    assert!(plan.excluded().is_empty(), "{:#?}", plan.excluded());

    // The column has the registry's bounds.
    let err = c
        .execute(
            "UPDATE kcg.detection_model_versions SET implementation = '' WHERE id = $1",
            &[&shadow.id],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.as_db_error().and_then(|e| e.constraint()),
        Some("detection_model_versions_implementation_check")
    );
}

#[tokio::test]
async fn activating_a_version_this_build_has_no_code_for_needs_allow_unknown() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    reference(&mut c).await;
    let catalog = Catalog::from_entries(detectors::catalog()).unwrap();
    add_model(&mut c, &id("loitering"), None).await.unwrap();

    let mut v = version("loitering", "1.0.0", Role::Primary, None, true);
    let err = add_version(&mut c, &catalog, &v).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::NoCode { model, .. } if model == "loitering"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "model loitering version 1.0.0 cannot be activated: this build has no code for model \
         loitering; nothing was changed"
    );
    assert!(
        list_versions(&c, Some(&id("loitering")))
            .await
            .unwrap()
            .is_empty()
    );
    // As a DRAFT (it runs nowhere) or on request it is stored unchecked.
    v.allow_unknown = true;
    let stored = add_version(&mut c, &catalog, &v).await.unwrap();
    assert_eq!(stored.status, VersionStatus::Active);

    // A model the build knows, in an implementation it does not.
    let mut v3 = version(SPOOFING, "3.0.0", Role::Shadow, Some("v3"), true);
    let err = add_version(&mut c, &catalog, &v3).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "model spoofing_score version 3.0.0 cannot be activated: this build has no implementation \
         v3 of model spoofing_score (it has v1, v2); nothing was changed"
    );
    v3.activate = false;
    let draft = add_version(&mut c, &catalog, &v3).await.unwrap();
    assert_eq!(draft.status, VersionStatus::Draft);
    // ... and promoting that DRAFT is refused the same way.
    let err = promote(&mut c, &catalog, draft.id).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownImplementation { implementation, known, .. }
            if implementation.as_str() == "v3" && known.len() == 2),
        "{err:?}"
    );
    assert_eq!(
        status(&c, draft.id).await,
        ("SHADOW".into(), "DRAFT".into())
    );
}

#[tokio::test]
async fn params_are_checked_by_the_implementation_the_version_runs() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    reference(&mut c).await;
    let catalog = catalog_with_bare();
    // `bare` takes any object; v1 (the default) refuses an empty one.
    let mut bare = version(SPOOFING, "9.0.0", Role::Shadow, Some("bare"), true);
    bare.params = Default::default();
    add_version(&mut c, &catalog, &bare).await.unwrap();
    let mut default = version(SPOOFING, "9.0.1", Role::Shadow, None, true);
    default.params = Default::default();
    let err = add_version(&mut c, &catalog, &default).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::ParamsRefused { implementation, .. } if implementation.as_str() == "v1"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .ends_with("are refused by its code (implementation v1)"),
        "{err}"
    );
    // A mistyped value is refused naming its field, for any implementation.
    let mut mistyped = version(SPOOFING, "9.0.2", Role::Shadow, Some("v2"), true);
    mistyped
        .params
        .insert("speed_weight".into(), serde_json::json!("big"));
    let err = add_version(&mut c, &catalog, &mistyped).await.unwrap_err();
    assert_eq!(
        chain(&err),
        "params of model spoofing_score version 9.0.2 are refused by its code (implementation v2): \
         bad params for model spoofing_score: field `speed_weight`: invalid type: string \"big\", \
         expected f64"
    );
}

#[tokio::test]
async fn a_promotion_whose_artifact_type_breaks_a_dependent_is_refused_and_changes_nothing() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    reference(&mut c).await;
    let catalog = catalog_with_bare();
    let primary = load(&c)
        .await
        .unwrap()
        .versions
        .into_iter()
        .find(|v| v.model_id == SPOOFING)
        .unwrap()
        .id;
    let mut bare = version(SPOOFING, "9.9.9-bare", Role::Shadow, Some("bare"), false);
    bare.params = Default::default();
    let candidate = add_version(&mut c, &catalog, &bare).await.unwrap();
    let before = load(&c).await.unwrap();

    let err = promote(&mut c, &catalog, candidate.id).await.unwrap_err();
    let StoreError::BreaksPlan(broken) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(broken.model, "risk");
    assert!(broken.also.is_empty(), "{broken:?}");
    let Exclusion::InputTypeMismatch(m) = &broken.reason else {
        panic!("{broken:?}");
    };
    assert_eq!(
        (
            m.input_key.as_str(),
            m.upstream.as_str(),
            m.upstream_implementation.as_str()
        ),
        ("spoofing", SPOOFING, "bare")
    );
    assert_eq!(m.expected, ArtifactType::of::<detectors::SpoofingScores>());
    assert_eq!(m.found, ArtifactType::of::<Vec<i64>>());
    let message = err.to_string();
    println!("refused: {message}");
    assert_eq!(
        message,
        format!(
            "promoting model spoofing_score version 9.9.9-bare (id {}, DRAFT SHADOW) would leave \
             model risk out of the plan: PRIMARY version 1.0.0 (id {}) (implementation v1) reads \
             input key \"spoofing\" as ais_types::spoofing::SpoofingScores, but the PRIMARY of \
             spoofing_score (implementation bare) produces alloc::vec::Vec<i64>; nothing was changed",
            candidate.id,
            load(&c)
                .await
                .unwrap()
                .versions
                .iter()
                .find(|v| v.model_id == "risk")
                .unwrap()
                .id
        )
    );
    // Nothing changed: the same registry, the candidate still a DRAFT.
    assert_eq!(load(&c).await.unwrap(), before);
    assert_eq!(
        status(&c, primary).await,
        ("PRIMARY".into(), "ACTIVE".into())
    );
    assert_eq!(
        status(&c, candidate.id).await,
        ("SHADOW".into(), "DRAFT".into())
    );

    // With risk disabled nothing planned reads spoofing_score's artifact:
    // the same promotion goes through.
    registry_store::set_enabled(&mut c, &id("risk"), false)
        .await
        .unwrap();
    assert!(
        matches!(
            promote(&mut c, &catalog, candidate.id).await,
            Ok(PromoteOutcome::Promoted(_))
        ),
        "a disabled dependent is not planned, so nothing breaks"
    );
}

#[tokio::test]
async fn a_promotion_of_another_implementation_of_the_same_type_goes_through() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    reference(&mut c).await;
    let catalog = catalog_with_bare();
    let log_speed = add_version(
        &mut c,
        &catalog,
        &version(SPOOFING, "2.0.0-graded", Role::Shadow, Some("v2"), true),
    )
    .await
    .unwrap();
    let PromoteOutcome::Promoted(p) = promote(&mut c, &catalog, log_speed.id).await.unwrap() else {
        panic!("not promoted");
    };
    assert_eq!(
        (p.from_role, p.from_status),
        (Role::Shadow, VersionStatus::Active)
    );
    let plan = registry::plan(&catalog, &load(&c).await.unwrap());
    assert!(plan.excluded().is_empty(), "{:#?}", plan.excluded());
    assert_eq!(
        plan.find(SPOOFING)
            .unwrap()
            .1
            .primary
            .implementation
            .as_str(),
        "v2"
    );
    assert!(plan.find("risk").is_some());
}
