//! The planning rules of SPEC §4 on hand-made snapshots (no database).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use model_api::{ArtifactType, Implementation, ModelId, ModelInstance, ParamsError, Role};
use registry::{Catalog, CatalogError, Excluded, Exclusion, VersionRef, plan};

#[test]
fn levels_follow_dependencies_and_sort_by_model_id() {
    let catalog = catalog(["risk", "spoofing", "tracks", "identity", "collision"]);
    let snap = snapshot(
        vec![
            version(1, "tracks", "1", Role::Primary, good()),
            version(2, "identity", "1", Role::Primary, good()),
            version(3, "spoofing", "1", Role::Primary, good()),
            version(4, "collision", "1", Role::Primary, good()),
            version(5, "risk", "1", Role::Primary, good()),
            version(6, "spoofing", "2", Role::Shadow, good()),
            version(7, "spoofing", "3", Role::Challenger, good()),
            version(8, "spoofing", "4", Role::Shadow, good()),
        ],
        vec![
            edge("spoofing", "tracks", "tracks"),
            edge("spoofing", "identity", "identity"),
            edge("collision", "tracks", "tracks"),
            edge("risk", "spoofing", "spoof"),
            edge("risk", "collision", "coll"),
        ],
    );
    let p = plan(&catalog, &snap);
    assert_eq!(
        level_names(&p),
        vec![
            vec!["identity", "tracks"],
            vec!["collision", "spoofing"],
            vec!["risk"]
        ]
    );
    assert!(p.excluded().is_empty() && p.cycles().is_empty(), "{p:#?}");
    let (_, spoofing) = p.find("spoofing").unwrap();
    assert_eq!(spoofing.primary.version_id, 3);
    // CHALLENGER first, then SHADOW, each by id.
    let others: Vec<(i64, Role)> = spoofing
        .others
        .iter()
        .map(|o| (o.version_id, o.role))
        .collect();
    assert_eq!(
        others,
        vec![(7, Role::Challenger), (6, Role::Shadow), (8, Role::Shadow)]
    );
    let inputs: Vec<(String, String)> = spoofing
        .inputs
        .iter()
        .map(|i| (i.upstream.to_string(), i.input_key.clone()))
        .collect();
    assert_eq!(
        inputs,
        vec![
            ("identity".into(), "identity".into()),
            ("tracks".into(), "tracks".into())
        ]
    );
    assert_eq!(p.model_count(), 5);
    assert_eq!(p.version_count(), 8);
}

#[test]
fn a_cycle_is_reported_with_its_path_and_the_rest_is_planned() {
    let catalog = catalog(["a", "b", "c", "d", "e", "f"]);
    let snap = snapshot(
        ["a", "b", "c", "d", "e", "f"]
            .iter()
            .enumerate()
            .map(|(i, m)| version(i as i64 + 1, m, "1", Role::Primary, good()))
            .collect(),
        vec![
            edge("a", "b", "in"),
            edge("b", "c", "in"),
            edge("c", "a", "in"),
            edge("d", "a", "in"), // downstream of the cycle
            edge("f", "e", "in"), // unrelated
        ],
    );
    let p = plan(&catalog, &snap);
    let cycles: Vec<String> = p.cycles().iter().map(ToString::to_string).collect();
    assert_eq!(cycles, vec!["a -> b -> c -> a"]);
    for m in ["a", "b", "c"] {
        assert_eq!(reason(&p, m), "in dependency cycle a -> b -> c -> a");
    }
    assert_eq!(reason(&p, "d"), "upstream a unavailable");
    assert_eq!(level_names(&p), vec![vec!["e"], vec!["f"]]);
}

#[test]
fn every_model_of_an_entangled_group_lies_on_a_reported_cycle() {
    // a <-> b and b <-> c: one strongly connected group, two cycles.
    let catalog = catalog(["a", "b", "c"]);
    let snap = snapshot(
        vec![
            version(1, "a", "1", Role::Primary, good()),
            version(2, "b", "1", Role::Primary, good()),
            version(3, "c", "1", Role::Primary, good()),
        ],
        vec![
            edge("a", "b", "x"),
            edge("b", "a", "x"),
            edge("b", "c", "x"),
            edge("c", "b", "x"),
        ],
    );
    let p = plan(&catalog, &snap);
    let cycles: Vec<String> = p.cycles().iter().map(ToString::to_string).collect();
    assert_eq!(cycles, vec!["a -> b -> a", "c -> b -> c"]);
    assert_eq!(reason(&p, "c"), "in dependency cycle c -> b -> c");
    assert!(p.levels().is_empty());
}

#[test]
fn a_model_depending_on_itself_is_a_cycle() {
    let catalog = catalog(["a"]);
    let snap = snapshot(
        vec![version(1, "a", "1", Role::Primary, good())],
        vec![edge("a", "a", "me")],
    );
    let p = plan(&catalog, &snap);
    assert_eq!(p.cycles()[0].to_string(), "a -> a");
    assert_eq!(reason(&p, "a"), "in dependency cycle a -> a");
}

#[test]
fn two_upstreams_under_one_input_key_leave_the_model_out() {
    // The executor hands a model one result per input key: with two
    // upstreams under "in" one of them would be dropped without a word.
    let catalog = catalog(["a", "b", "both", "after", "fine"]);
    let snap = snapshot(
        ["a", "b", "both", "after", "fine"]
            .iter()
            .enumerate()
            .map(|(i, m)| version(i as i64 + 1, m, "1", Role::Primary, good()))
            .collect(),
        vec![
            edge("both", "a", "in"),
            edge("both", "b", "in"),
            edge("after", "both", "x"),
            // One upstream under two keys is fine.
            edge("fine", "a", "left"),
            edge("fine", "a", "right"),
        ],
    );
    let p = plan(&catalog, &snap);
    assert_eq!(
        reason(&p, "both"),
        "input key \"in\" is declared for more than one upstream (a, b)"
    );
    assert_eq!(reason(&p, "after"), "upstream both unavailable");
    assert_eq!(level_names(&p), vec![vec!["a", "b"], vec!["fine"]]);
}

#[test]
fn own_problems_leave_the_model_and_its_dependents_out() {
    let catalog = catalog([
        "bad_params",
        "no_primary",
        "two_primaries",
        "ok",
        "child",
        "grandchild",
        "needs_ghost",
    ]);
    let snap = snapshot(
        vec![
            version(1, "bad_params", "1.0.0", Role::Primary, bad()),
            version(2, "no_primary", "1.0.0", Role::Shadow, good()),
            version(3, "two_primaries", "1", Role::Primary, good()),
            version(4, "two_primaries", "2", Role::Primary, good()),
            version(5, "unknown_kind", "1", Role::Primary, good()),
            version(6, "ok", "1", Role::Primary, good()),
            version(7, "child", "1", Role::Primary, good()),
            version(8, "grandchild", "1", Role::Primary, good()),
            version(9, "needs_ghost", "1", Role::Primary, good()),
        ],
        vec![
            edge("child", "bad_params", "x"),
            edge("child", "ok", "y"),
            edge("grandchild", "child", "x"),
            edge("needs_ghost", "ghost", "x"),
        ],
    );
    let p = plan(&catalog, &snap);
    let bad_params = reason(&p, "bad_params");
    assert!(
        bad_params.starts_with("PRIMARY version 1.0.0 (id 1): bad params for model bad_params"),
        "{bad_params}"
    );
    assert!(bad_params.contains("wieght"), "{bad_params}");
    assert_eq!(
        reason(&p, "no_primary"),
        "no ACTIVE PRIMARY version (ACTIVE: SHADOW version 1.0.0 (id 2))"
    );
    assert_eq!(
        reason(&p, "two_primaries"),
        "2 ACTIVE PRIMARY versions (ids 3, 4); exactly one is required"
    );
    assert_eq!(
        reason(&p, "unknown_kind"),
        "unknown model_id unknown_kind: no model kind of that name in this build's catalog"
    );
    assert_eq!(reason(&p, "child"), "upstream bad_params unavailable");
    assert_eq!(reason(&p, "grandchild"), "upstream child unavailable");
    assert_eq!(reason(&p, "ghost"), "no ACTIVE version of an enabled model");
    assert_eq!(reason(&p, "needs_ghost"), "upstream ghost unavailable");
    assert_eq!(level_names(&p), vec![vec!["ok"]]);
    let listed: Vec<&str> = p.excluded().iter().map(|e| e.model_id.as_str()).collect();
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    assert_eq!(listed, sorted, "excluded is sorted by model_id");

    // The same reasons as data, for code that acts on them.
    let typed = |model: &str| p.exclusion(model).unwrap().reason.clone();
    assert!(
        matches!(typed("bad_params"), Exclusion::BadParams { version, error }
            if version.id == 1 && error.model.as_str() == "bad_params"),
        "{:?}",
        typed("bad_params")
    );
    assert_eq!(
        typed("no_primary"),
        Exclusion::NoActivePrimary {
            active: vec![VersionRef {
                id: 2,
                version: "1.0.0".into(),
                role: Role::Shadow
            }]
        }
    );
    assert_eq!(
        typed("two_primaries"),
        Exclusion::SeveralActivePrimaries { ids: vec![3, 4] }
    );
    assert_eq!(
        typed("unknown_kind"),
        Exclusion::UnknownKind {
            model_id: "unknown_kind".into()
        }
    );
    assert_eq!(
        typed("grandchild"),
        Exclusion::UpstreamUnavailable {
            upstream: "child".into()
        }
    );
    assert_eq!(typed("ghost"), Exclusion::NoActiveVersion);
}

#[test]
fn a_bad_shadow_or_challenger_is_left_out_alone() {
    let catalog = catalog(["m", "down"]);
    let snap = snapshot(
        vec![
            version(1, "m", "1", Role::Primary, good()),
            version(2, "m", "2", Role::Shadow, bad()),
            version(3, "m", "3", Role::Challenger, serde_json::json!({})),
            version(4, "m", "4", Role::Shadow, good()),
            version(5, "down", "1", Role::Primary, good()),
        ],
        vec![edge("down", "m", "m")],
    );
    let p = plan(&catalog, &snap);
    assert_eq!(level_names(&p), vec![vec!["m"], vec!["down"]]);
    let (_, m) = p.find("m").unwrap();
    assert_eq!(
        m.others.iter().map(|o| o.version_id).collect::<Vec<_>>(),
        vec![4]
    );
    assert_eq!(p.excluded().len(), 2, "{:#?}", p.excluded());
    let shadow = &p.excluded()[0];
    assert_eq!(
        (shadow.version_id, shadow.role),
        (Some(2), Some(Role::Shadow))
    );
    let Exclusion::BadParams { version, error } = &shadow.reason else {
        panic!("{:?}", shadow.reason)
    };
    assert_eq!((version.id, version.role), (2, Role::Shadow));
    assert!(error.message.contains("wieght"), "{error}");
    let text = shadow.reason.to_string();
    assert!(
        text.starts_with("SHADOW version 2 (id 2): bad params for model m"),
        "{text}"
    );
    assert!(text.contains("wieght"), "{text}");
    let challenger = &p.excluded()[1];
    assert_eq!(
        (challenger.version_id, challenger.role),
        (Some(3), Some(Role::Challenger))
    );
    assert!(
        matches!(&challenger.reason, Exclusion::BadParams { error, .. } if error.message.contains("missing field `weight`")),
        "{}",
        challenger.reason
    );
}

#[test]
fn an_invalid_model_id_is_left_out_with_the_reason() {
    let long = "x".repeat(65);
    let catalog = catalog(["fine"]);
    let snap = snapshot(
        vec![
            version(1, "", "1", Role::Primary, good()),
            version(2, &long, "1", Role::Primary, good()),
            version(3, "fine", "1", Role::Primary, good()),
        ],
        vec![],
    );
    let p = plan(&catalog, &snap);
    assert_eq!(
        reason(&p, ""),
        "invalid model id: model id must not be empty"
    );
    assert!(
        reason(&p, &long).contains("has 65 characters; at most 64"),
        "{}",
        reason(&p, &long)
    );
    assert_eq!(level_names(&p), vec![vec!["fine"]]);
}

#[test]
fn a_panicking_constructor_is_a_reason_not_a_crash() {
    let mut catalog = Catalog::new();
    catalog
        .register(
            "boom",
            "v1",
            Implementation::from_constructor(
                ArtifactType::NONE,
                &[],
                |_id: ModelId,
                 _p: &serde_json::Value|
                 -> Result<Arc<dyn ModelInstance>, ParamsError> {
                    panic!("threshold table missing")
                },
            ),
        )
        .unwrap();
    let snap = snapshot(vec![version(1, "boom", "1", Role::Primary, good())], vec![]);
    let p = plan(&catalog, &snap);
    assert_eq!(
        p.excluded(),
        vec![Excluded {
            model_id: "boom".into(),
            version_id: None,
            role: None,
            reason: Exclusion::ConstructorPanicked {
                version: VersionRef {
                    id: 1,
                    version: "1".into(),
                    role: Role::Primary,
                },
                model_id: "boom".into(),
                message: "threshold table missing".into(),
            },
            versions: vec![VersionRef {
                id: 1,
                version: "1".into(),
                role: Role::Primary,
            }],
        }]
    );
}

#[test]
fn the_timeout_override_reaches_the_plan() {
    let catalog = catalog(["m"]);
    let mut v = version(1, "m", "1", Role::Primary, good());
    v.timeout_ms = Some(1500);
    let p = plan(&catalog, &snapshot(vec![v], vec![]));
    assert_eq!(
        p.find("m").unwrap().1.primary.timeout,
        Some(Duration::from_millis(1500))
    );
}

#[test]
fn a_disabled_consumer_is_not_listed_but_a_missing_upstream_is() {
    // "consumer" has no ACTIVE version (e.g. disabled) and nothing needs it.
    let catalog = catalog(["base"]);
    let snap = snapshot(
        vec![version(1, "base", "1", Role::Primary, good())],
        vec![edge("consumer", "base", "x")],
    );
    let p = plan(&catalog, &snap);
    assert!(p.excluded().is_empty(), "{:#?}", p.excluded());
    assert_eq!(level_names(&p), vec![vec!["base"]]);
}

#[test]
fn the_catalog_refuses_duplicates_and_invalid_ids() {
    let mut catalog = catalog(["a"]);
    assert!(matches!(
        catalog.register_model("a", "v1", Weighted),
        Err(CatalogError::Duplicate { .. })
    ));
    assert!(matches!(
        catalog.register_model(&"y".repeat(65), "v1", Weighted),
        Err(CatalogError::InvalidId { .. })
    ));
    assert!(matches!(
        catalog.register_model("a", "", Weighted),
        Err(CatalogError::InvalidImplementation { .. })
    ));
    assert_eq!(catalog.model_ids().collect::<Vec<_>>(), vec!["a"]);
}

#[test]
fn an_empty_registry_plans_nothing() {
    let p = plan(&Catalog::new(), &Default::default());
    assert!(p.levels().is_empty() && p.excluded().is_empty() && p.cycles().is_empty());
}

#[test]
fn a_model_left_out_names_every_active_version_it_had() {
    let catalog = catalog(["tracks", "spoofing"]);
    let snap = snapshot(
        vec![
            version(1, "spoofing", "1", Role::Primary, good()),
            version(2, "spoofing", "2", Role::Shadow, good()),
            version(3, "spoofing", "3", Role::Challenger, good()),
        ],
        vec![
            edge("spoofing", "tracks", "tracks"),
            edge("spoofing", "ghost", "ghost"),
        ],
    );
    let p = plan(&catalog, &snap);
    let out = p.exclusion("spoofing").expect("spoofing is left out");
    assert_eq!(
        out.reason,
        Exclusion::UpstreamUnavailable {
            upstream: "ghost".into()
        }
    );
    let versions: Vec<(i64, Role)> = out.versions.iter().map(|v| (v.id, v.role)).collect();
    assert_eq!(
        versions,
        vec![(1, Role::Primary), (3, Role::Challenger), (2, Role::Shadow)]
    );
    // A model only an edge names has no version to name.
    let ghost = p.exclusion("ghost").expect("ghost is left out");
    assert!(ghost.versions.is_empty(), "{ghost:?}");
}
