//! Implementations per version and the type check of the DAG (no database).

mod common;

use common::{edge, level_names, reason, snapshot, version};
use model_api::{
    ArtifactType, Context, DeclaredInput, Input, Model, ModelError, ModelOutput, Output, Role,
};
use registry::{Catalog, Excluded, Exclusion, Plan, TypeMismatch, VersionRef, plan};

/// What implementation `a` of "up" produces.
#[derive(Debug)]
struct Apples(u32);
/// What implementation `b` of "up" produces.
#[derive(Debug)]
struct Bananas;

type Params = serde_json::Map<String, serde_json::Value>;

#[derive(Clone)]
struct UpA;
impl Model for UpA {
    type Params = Params;
    type Artifact = Apples;
    fn run(&self, _: &Context<'_, Params>) -> Result<Output<Apples>, ModelError> {
        Ok(Output::new(ModelOutput::new(), Apples(1)))
    }
}

#[derive(Clone)]
struct UpB;
impl Model for UpB {
    type Params = Params;
    type Artifact = Bananas;
    fn run(&self, _: &Context<'_, Params>) -> Result<Output<Bananas>, ModelError> {
        Ok(Output::new(ModelOutput::new(), Bananas))
    }
}

const APPLES: Input<Apples> = Input::new("in");
const BANANAS: Input<Bananas> = Input::new("in");

/// Reads apples under "in" and produces a count.
#[derive(Clone)]
struct DownApples;
impl Model for DownApples {
    type Params = Params;
    type Artifact = u32;
    const INPUTS: &'static [DeclaredInput] = &[APPLES.declare()];
    fn run(&self, ctx: &Context<'_, Params>) -> Result<Output<u32>, ModelError> {
        Ok(Output::new(ModelOutput::new(), ctx.read(&APPLES)?.0))
    }
}

/// Reads bananas under "in".
#[derive(Clone)]
struct DownBananas;
impl Model for DownBananas {
    type Params = Params;
    type Artifact = u32;
    const INPUTS: &'static [DeclaredInput] = &[BANANAS.declare()];
    fn run(&self, ctx: &Context<'_, Params>) -> Result<Output<u32>, ModelError> {
        ctx.read(&BANANAS)?;
        Ok(Output::new(ModelOutput::new(), 0))
    }
}

/// Reads nothing it declares (so any upstream will do).
#[derive(Clone)]
struct Leaf;
impl Model for Leaf {
    type Params = Params;
    type Artifact = ();
    fn run(&self, _: &Context<'_, Params>) -> Result<Output<()>, ModelError> {
        Ok(ModelOutput::new().into())
    }
}

/// up: `a` (default, apples) and `b` (bananas); down: `apples` (default)
/// and `bananas`; leaf reads down.
fn catalog() -> Catalog {
    let mut c = Catalog::new();
    c.register_model("up", "a", UpA).unwrap();
    c.register_model("up", "b", UpB).unwrap();
    c.register_model("down", "apples", DownApples).unwrap();
    c.register_model("down", "bananas", DownBananas).unwrap();
    c.register_model("leaf", "v1", Leaf).unwrap();
    c
}

fn v(id: i64, model: &str, role: Role, implementation: Option<&str>) -> registry::ActiveVersion {
    let mut v = version(id, model, &format!("{id}.0"), role, serde_json::json!({}));
    v.implementation = implementation.map(str::to_owned);
    v
}

fn edges() -> Vec<registry::Dependency> {
    vec![edge("down", "up", "in"), edge("leaf", "down", "down")]
}

fn run(versions: Vec<registry::ActiveVersion>) -> Plan {
    plan(&catalog(), &snapshot(versions, edges()))
}

fn vref(id: i64, role: Role) -> VersionRef {
    VersionRef {
        id,
        version: format!("{id}.0"),
        role,
    }
}

#[test]
fn a_version_without_implementation_runs_the_default_and_a_named_one_runs_that() {
    let p = run(vec![
        v(1, "up", Role::Primary, None),
        v(2, "up", Role::Shadow, Some("b")),
        v(3, "down", Role::Primary, Some("apples")),
        v(4, "leaf", Role::Primary, None),
    ]);
    assert!(p.excluded().is_empty(), "{:#?}", p.excluded());
    assert_eq!(
        level_names(&p),
        vec![vec!["up"], vec!["down"], vec!["leaf"]]
    );
    let (_, up) = p.find("up").unwrap();
    assert_eq!(up.primary.implementation.as_str(), "a");
    assert_eq!(up.others[0].implementation.as_str(), "b");
    assert_eq!(
        p.find("down").unwrap().1.primary.implementation.as_str(),
        "apples"
    );
}

#[test]
fn an_upstream_primary_of_the_wrong_type_leaves_the_reader_out_and_its_dependents_follow() {
    let p = run(vec![
        v(1, "up", Role::Primary, Some("b")),
        v(3, "down", Role::Primary, None),
        v(4, "leaf", Role::Primary, None),
    ]);
    assert_eq!(level_names(&p), vec![vec!["up"]]);
    assert_eq!(
        p.exclusion("down").unwrap().reason,
        Exclusion::InputTypeMismatch(Box::new(TypeMismatch {
            version: vref(3, Role::Primary),
            implementation: "apples".parse().unwrap(),
            input_key: "in".into(),
            upstream: "up".into(),
            upstream_implementation: "b".parse().unwrap(),
            expected: ArtifactType::of::<Apples>(),
            found: ArtifactType::of::<Bananas>(),
        }))
    );
    assert_eq!(
        reason(&p, "down"),
        "PRIMARY version 3.0 (id 3) (implementation apples) reads input key \"in\" as \
         implementations::Apples, but the PRIMARY of up (implementation b) produces \
         implementations::Bananas"
    );
    assert_eq!(reason(&p, "leaf"), "upstream down unavailable");

    // The reader in the implementation that fits is planned.
    let p = run(vec![
        v(1, "up", Role::Primary, Some("b")),
        v(3, "down", Role::Primary, Some("bananas")),
        v(4, "leaf", Role::Primary, None),
    ]);
    assert!(p.excluded().is_empty(), "{:#?}", p.excluded());
}

#[test]
fn a_shadow_of_another_type_never_breaks_dependents_but_a_shadow_reading_the_wrong_type_is_left_out()
 {
    // up's SHADOW produces bananas: nothing downstream reads a SHADOW.
    let p = run(vec![
        v(1, "up", Role::Primary, None),
        v(2, "up", Role::Shadow, Some("b")),
        v(3, "down", Role::Primary, None),
        v(5, "down", Role::Challenger, Some("bananas")),
    ]);
    assert_eq!(level_names(&p), vec![vec!["up"], vec!["down"]]);
    let excluded = p.excluded();
    assert_eq!(excluded.len(), 1, "{excluded:#?}");
    assert_eq!(
        (
            excluded[0].model_id.as_str(),
            excluded[0].version_id,
            excluded[0].role
        ),
        ("down", Some(5), Some(Role::Challenger))
    );
    assert!(
        matches!(&excluded[0].reason, Exclusion::InputTypeMismatch(m)
            if m.expected == ArtifactType::of::<Bananas>() && m.found == ArtifactType::of::<Apples>()),
        "{excluded:#?}"
    );
    assert!(p.find("down").unwrap().1.others.is_empty());
}

#[test]
fn an_unknown_implementation_leaves_its_version_out_with_the_known_ones_named() {
    let p = run(vec![
        v(1, "up", Role::Primary, Some("c")),
        v(3, "down", Role::Primary, None),
    ]);
    assert_eq!(
        p.exclusion("up").unwrap().reason,
        Exclusion::UnknownImplementation {
            version: vref(1, Role::Primary),
            model_id: "up".into(),
            implementation: "c".into(),
            known: vec!["a".parse().unwrap(), "b".parse().unwrap()],
        }
    );
    assert_eq!(
        reason(&p, "up"),
        "PRIMARY version 1.0 (id 1): model up has no implementation c in this build's catalog (it has a, b)"
    );
    assert_eq!(reason(&p, "down"), "upstream up unavailable");

    // On a SHADOW only that version goes.
    let p = run(vec![
        v(1, "up", Role::Primary, None),
        v(2, "up", Role::Shadow, Some("c")),
    ]);
    assert_eq!(level_names(&p), vec![vec!["up"]]);
    assert_eq!(
        p.excluded()
            .iter()
            .filter(|e| e.model_id == "up")
            .map(|e| (e.version_id, e.reason.to_string()))
            .collect::<Vec<_>>(),
        vec![(
            Some(2),
            "SHADOW version 2.0 (id 2): model up has no implementation c in this build's catalog (it has a, b)"
                .to_owned()
        )]
    );
}

#[test]
fn a_declared_input_without_a_dependency_is_a_reason() {
    let p = plan(
        &catalog(),
        &snapshot(
            vec![
                v(1, "up", Role::Primary, None),
                v(3, "down", Role::Primary, None),
            ],
            vec![edge("down", "up", "apples")], // wired under another key
        ),
    );
    assert_eq!(
        p.excluded(),
        vec![Excluded {
            model_id: "down".into(),
            version_id: None,
            role: None,
            reason: Exclusion::InputNotWired {
                version: vref(3, Role::Primary),
                implementation: "apples".parse().unwrap(),
                input_key: "in".into(),
                expected: ArtifactType::of::<Apples>(),
            },
            versions: vec![vref(3, Role::Primary)],
        }]
    );
    assert!(reason(&p, "down").contains("no dependency provides that key"));
}

#[test]
fn the_default_can_be_changed_and_a_key_the_registry_cannot_store_is_refused() {
    let mut c = catalog();
    c.set_default("up", "b").unwrap();
    assert_eq!(c.resolve("up", None).unwrap().name.as_str(), "b");
    assert!(c.set_default("up", "zz").is_err());

    #[derive(Clone)]
    struct LongKey;
    const LONG: Input<u8> =
        Input::new("kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk");
    impl Model for LongKey {
        type Params = Params;
        type Artifact = ();
        const INPUTS: &'static [DeclaredInput] = &[LONG.declare()];
        fn run(&self, _: &Context<'_, Params>) -> Result<Output<()>, ModelError> {
            Ok(ModelOutput::new().into())
        }
    }
    assert!(matches!(
        c.register_model("long", "v1", LongKey),
        Err(registry::CatalogError::InvalidInputKey { .. })
    ));
    assert!(!c.contains("long"));
}
