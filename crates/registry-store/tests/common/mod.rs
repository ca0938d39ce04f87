//! Raw SQL to set up states the library refuses to create (a cycle, a
//! non-object params value, two ACTIVE PRIMARYs), and a tiny model kind
//! whose params can be refused, shared by this crate's tests.
#![allow(dead_code)] // each test file uses a different part

use model_api::{Context, Model, ModelError, ModelId, ModelOutput, Output};
use registry::Catalog;
use serde::Deserialize;
use tokio_postgres::Client;

/// Scores nothing; its params need a `weight`.
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

/// A catalog that knows `names`, all of kind [`Weighted`] (implementation `v1`).
pub fn catalog<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Catalog {
    let mut catalog = Catalog::new();
    for n in names {
        catalog
            .register_model(n.as_ref(), "v1", Weighted)
            .expect("valid catalog");
    }
    catalog
}

pub fn id(s: &str) -> ModelId {
    ModelId::new(s).unwrap()
}

/// `{"weight": 0.5}` as a params map.
pub fn good() -> serde_json::Map<String, serde_json::Value> {
    params(serde_json::json!({ "weight": 0.5 }))
}

pub fn params(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

pub async fn raw_model(client: &Client, id: &str, enabled: bool) {
    client
        .execute(
            "INSERT INTO kcg.detection_models (model_id, is_enabled) VALUES ($1, $2)",
            &[&id, &enabled],
        )
        .await
        .unwrap();
}

/// A version stored by hand; `params` is JSON text (any JSON type).
pub async fn raw_version(
    client: &Client,
    model: &str,
    version: &str,
    role: &str,
    status: &str,
    params: &str,
) -> i64 {
    client
        .query_one(
            "INSERT INTO kcg.detection_model_versions (model_id, version, role, status, params) \
             VALUES ($1, $2, $3, $4, $5::text::jsonb) RETURNING id",
            &[&model, &version, &role, &status, &params],
        )
        .await
        .unwrap()
        .get(0)
}

/// An edge stored by hand (no cycle check).
pub async fn raw_depend(client: &Client, model: &str, on: &str, key: &str) {
    client
        .execute(
            "INSERT INTO kcg.detection_model_dependencies (model_id, depends_on, input_key) VALUES ($1, $2, $3)",
            &[&model, &on, &key],
        )
        .await
        .unwrap();
}

/// `(role, status)` of version `id` as stored.
pub async fn status(client: &Client, id: i64) -> (String, String) {
    let row = client
        .query_one(
            "SELECT role::text, status::text FROM kcg.detection_model_versions WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// The error and its causes, as a reporter prints them.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
}
