//! A tiny model kind and snapshot builders shared by the registry tests.
#![allow(dead_code)] // each test file uses a different part

use model_api::{Context, Model, ModelError, ModelOutput, Output, Role};
use registry::{ActiveVersion, Dependency, RegistrySnapshot};
use registry::{Catalog, Plan};
use serde::Deserialize;

/// Scores every entity with its weight.
#[derive(Clone)]
pub struct Weighted;

/// The params of [`Weighted`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedParams {
    pub weight: f64,
}

impl Model for Weighted {
    type Params = WeightedParams;
    type Artifact = ();
    fn run(&self, ctx: &Context<'_, WeightedParams>) -> Result<Output<()>, ModelError> {
        let mut out = ModelOutput::new();
        out.metric("weight", ctx.params().weight);
        Ok(out.into())
    }
}

/// A catalog that knows `names`, all of kind [`Weighted`] (implementation
/// `v1`, their default).
pub fn catalog<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Catalog {
    let mut catalog = Catalog::new();
    for n in names {
        catalog
            .register_model(n.as_ref(), "v1", Weighted)
            .expect("valid catalog");
    }
    catalog
}

pub fn version(
    id: i64,
    model: &str,
    version: &str,
    role: Role,
    params: serde_json::Value,
) -> ActiveVersion {
    ActiveVersion {
        id,
        model_id: model.to_owned(),
        version: version.to_owned(),
        role,
        params: Ok(params),
        timeout_ms: None,
        implementation: None,
    }
}

pub fn good() -> serde_json::Value {
    serde_json::json!({ "weight": 1.0 })
}

pub fn bad() -> serde_json::Value {
    serde_json::json!({ "wieght": 1.0 })
}

pub fn edge(model: &str, depends_on: &str, key: &str) -> Dependency {
    Dependency {
        model_id: model.to_owned(),
        depends_on: depends_on.to_owned(),
        input_key: key.to_owned(),
    }
}

pub fn snapshot(versions: Vec<ActiveVersion>, edges: Vec<Dependency>) -> RegistrySnapshot {
    RegistrySnapshot { versions, edges }
}

/// A model's place in a plan, as plain comparable data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub model_id: String,
    pub primary: i64,
    pub others: Vec<(i64, Role)>,
    pub inputs: Vec<(String, String)>,
}

/// Everything of a plan except the instances, comparable with `==`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanShape {
    pub levels: Vec<Vec<Shape>>,
    pub excluded: Vec<registry::Excluded>,
    pub cycles: Vec<String>,
}

pub fn shape(plan: &Plan) -> PlanShape {
    PlanShape {
        levels: plan
            .levels()
            .iter()
            .map(|level| {
                level
                    .iter()
                    .map(|m| Shape {
                        model_id: m.model_id.to_string(),
                        primary: m.primary.version_id,
                        others: m.others.iter().map(|o| (o.version_id, o.role)).collect(),
                        inputs: m
                            .inputs
                            .iter()
                            .map(|i| (i.upstream.to_string(), i.input_key.clone()))
                            .collect(),
                    })
                    .collect()
            })
            .collect(),
        excluded: plan.excluded().to_vec(),
        cycles: plan.cycles().iter().map(ToString::to_string).collect(),
    }
}

/// Model ids per level.
pub fn level_names(plan: &Plan) -> Vec<Vec<String>> {
    plan.levels()
        .iter()
        .map(|l| l.iter().map(|m| m.model_id.to_string()).collect())
        .collect()
}

/// The reason a whole model was left out, as operators read it.
pub fn reason(plan: &Plan, model: &str) -> String {
    plan.exclusion(model)
        .map(|e| e.reason.to_string())
        .unwrap_or_else(|| panic!("{model} is not excluded: {plan:#?}"))
}
