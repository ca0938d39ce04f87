//! Installing the reference detectors into the registry: what the demo, the
//! tests and a fresh deployment start from.

use tokio_postgres::Client;

use crate::PipelineError;

/// The version label the reference PRIMARY versions get.
pub const REFERENCE_VERSION: &str = "1.0.0";

/// What [`register_reference_models`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Registered {
    /// Models inserted (existing ones are left as they are).
    pub models: u64,
    /// Dependency edges inserted.
    pub edges: u64,
    /// PRIMARY versions inserted and activated (a model that already has an
    /// ACTIVE PRIMARY keeps it).
    pub primaries: u64,
}

/// Registers every reference model with its description, its dependency
/// edges, and an ACTIVE PRIMARY version [`REFERENCE_VERSION`] with the
/// default (legacy) params, in one transaction. Idempotent: what exists is
/// left alone, so an operator's promotions are never undone.
pub async fn register_reference_models(client: &mut Client) -> Result<Registered, PipelineError> {
    let db = |e| PipelineError::db("kcg.detection_models", e);
    let tx = client.transaction().await.map_err(db)?;
    let mut done = Registered::default();
    for spec in detectors::specs() {
        done.models += tx
            .execute(
                "INSERT INTO kcg.detection_models (model_id, description) VALUES ($1, $2) \
                 ON CONFLICT (model_id) DO NOTHING",
                &[&spec.id, &spec.description],
            )
            .await
            .map_err(db)?;
    }
    for (model, upstream, key) in detectors::default_dependencies() {
        done.edges += tx
            .execute(
                "INSERT INTO kcg.detection_model_dependencies (model_id, depends_on, input_key) \
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&model, &upstream, &key],
            )
            .await
            .map_err(|e| PipelineError::db("kcg.detection_model_dependencies", e))?;
    }
    for spec in detectors::specs() {
        let params = (spec.default_params)();
        done.primaries += tx
            .execute(
                "INSERT INTO kcg.detection_model_versions (model_id, version, role, status, params, activated_at) \
                 SELECT $1::varchar, $2::varchar, 'PRIMARY', 'ACTIVE', $3, now() \
                 WHERE NOT EXISTS (SELECT 1 FROM kcg.detection_model_versions \
                                   WHERE model_id = $1 AND (version = $2 OR (role = 'PRIMARY' AND status = 'ACTIVE')))",
                &[&spec.id, &REFERENCE_VERSION, &params],
            )
            .await
            .map_err(|e| PipelineError::db("kcg.detection_model_versions", e))?;
    }
    tx.commit().await.map_err(db)?;
    Ok(done)
}
