//! Installing a set of models at once (the reference detectors): what the
//! demo, the tests and a fresh deployment start from.

use model_api::{ModelId, VersionLabel};
use serde_json::{Map, Value};
use tokio_postgres::GenericClient;

use crate::audit::{self, Action};
use crate::error::{Subject, begin, commit, write_error};
use crate::models::{INSERT_EDGE, INSERT_MODEL};
use crate::{Edge, StoreError};

/// One model to install with [`register_reference`], as plain data (the
/// caller takes it from its model crate, e.g. `detectors::specs()`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceModel {
    /// The model.
    pub model: ModelId,
    /// One line for `detection_models.description`.
    pub description: String,
    /// The label of its PRIMARY version.
    pub version: VersionLabel,
    /// The params of its PRIMARY version.
    pub params: Map<String, Value>,
}

/// What [`register_reference`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Registered {
    /// Models inserted (existing ones are left as they are).
    pub models: u64,
    /// Dependency edges inserted.
    pub edges: u64,
    /// PRIMARY versions inserted and activated (a model that already has an
    /// ACTIVE PRIMARY, or a version of that label, keeps what it has).
    pub primaries: u64,
}

/// Registers every model of `models` with its description and an ACTIVE
/// PRIMARY version, and every edge of `edges`, in one transaction.
/// Idempotent: what exists is left alone (a model, an edge, a key another
/// upstream holds, a model's ACTIVE PRIMARY or a version of the same
/// label), so an operator's promotions are never undone.
pub async fn register_reference(
    client: &mut (impl GenericClient + Send + Sync),
    models: &[ReferenceModel],
    edges: &[Edge],
) -> Result<Registered, StoreError> {
    let tx = begin(client).await?;
    let tag = audit::tag(&tx, Action::AddReference).await?;
    let mut done = Registered::default();
    for m in models {
        let model = m.model.as_str();
        done.models += tx
            .execute(INSERT_MODEL, &[&model, &m.description])
            .await
            .map_err(|e| {
                write_error(e, Subject::Model(model), || {
                    format!("add model {model} to kcg.detection_models")
                })
            })?;
    }
    for edge in edges {
        let (model, upstream) = (edge.model.as_str(), edge.upstream.as_str());
        done.edges += tx
            .execute(INSERT_EDGE, &[&model, &upstream, &edge.input_key.as_str()])
            .await
            .map_err(|e| {
                write_error(
                    e,
                    Subject::Edge {
                        model,
                        upstream,
                        input_key: edge.input_key.as_str(),
                    },
                    || {
                        format!(
                            "record in kcg.detection_model_dependencies that {model} depends on {upstream}"
                        )
                    },
                )
            })?;
    }
    for m in models {
        let (model, version) = (m.model.as_str(), m.version.as_str());
        let params = Value::Object(m.params.clone());
        done.primaries += tx
            .execute(
                "INSERT INTO kcg.detection_model_versions \
                        (model_id, version, role, status, params, activated_at) \
                 SELECT $1::varchar, $2::varchar, 'PRIMARY', 'ACTIVE', $3, now() \
                  WHERE NOT EXISTS (SELECT 1 FROM kcg.detection_model_versions \
                                     WHERE model_id = $1 \
                                       AND (version = $2 OR (role = 'PRIMARY' AND status = 'ACTIVE')))",
                &[&model, &version, &params],
            )
            .await
            .map_err(|e| {
                write_error(e, Subject::Version { model, version }, || {
                    format!("add version {version} of model {model} to kcg.detection_model_versions")
                })
            })?;
    }
    audit::untag(&tx, tag).await?;
    commit(tx, || "the reference models".to_owned()).await?;
    tracing::info!(
        models = done.models,
        edges = done.edges,
        primaries = done.primaries,
        "reference models registered"
    );
    Ok(done)
}
