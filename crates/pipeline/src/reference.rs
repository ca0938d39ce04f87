//! Installing the reference detectors into the registry: what the demo, the
//! tests and a fresh deployment start from. The rows are written by
//! `registry-store`; this module only says which.

use model_api::{IdError, InputKey, ModelId, VersionLabel};
use registry_store::{Edge, ReferenceModel};
use tokio_postgres::GenericClient;

use crate::PipelineError;

pub use registry_store::Registered;

/// The version label the reference PRIMARY versions get.
pub const REFERENCE_VERSION: &str = "1.0.0";

/// Registers every reference model with its description, its dependency
/// edges, and an ACTIVE PRIMARY version [`REFERENCE_VERSION`] with the
/// default (legacy) params, in one transaction. Idempotent: what exists is
/// left alone, so an operator's promotions are never undone.
pub async fn register_reference_models(
    client: &mut (impl GenericClient + Send + Sync),
) -> Result<Registered, PipelineError> {
    let (models, edges) = reference_models().map_err(PipelineError::ReferenceSpec)?;
    Ok(registry_store::register_reference(client, &models, &edges).await?)
}

/// `detectors`' specs as the store's plain data.
fn reference_models() -> Result<(Vec<ReferenceModel>, Vec<Edge>), IdError> {
    let version = VersionLabel::new(REFERENCE_VERSION)?;
    let mut models = Vec::new();
    for spec in detectors::specs() {
        let params = match (spec.default_params)() {
            serde_json::Value::Object(map) => map,
            // A spec's defaults are a full object by construction; anything
            // else would be refused by its own constructor anyway.
            _ => serde_json::Map::new(),
        };
        models.push(ReferenceModel {
            model: ModelId::new(spec.id)?,
            description: spec.description.to_owned(),
            version: version.clone(),
            params,
        });
    }
    let edges = detectors::default_dependencies()
        .into_iter()
        .map(|(model, upstream, key)| {
            Ok(Edge {
                model: ModelId::new(model)?,
                upstream: ModelId::new(upstream)?,
                input_key: InputKey::new(key)?,
            })
        })
        .collect::<Result<_, IdError>>()?;
    Ok((models, edges))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_spec_is_valid_store_data() {
        let (models, edges) = reference_models().unwrap();
        assert_eq!(models.len(), detectors::specs().len());
        assert_eq!(edges.len(), detectors::default_dependencies().len());
        assert!(models.iter().all(|m| !m.params.is_empty()));
    }
}
