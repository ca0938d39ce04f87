//! One module per command family.

pub mod cycle;
pub mod ingest;
pub mod migrate;
pub mod models;
pub mod partitions;
pub mod serve;
pub mod snapshot;
pub mod versions;

use registry_store::StoreError;

/// The operator's next step after a refusal of the registry, in this
/// binary's terms (the library does not know its front end's commands).
pub fn hint(e: &anyhow::Error) -> Option<String> {
    let refusal = e.chain().find_map(|c| c.downcast_ref::<StoreError>())?;
    match refusal {
        StoreError::UnknownModel { model } => Some(format!(
            "register it first with `runner models add {model}`"
        )),
        StoreError::UnknownVersion { .. } => Some("see `runner versions list`".to_owned()),
        StoreError::SecondActivePrimary { .. } => Some(
            "add the new version without --activate, then `runner versions promote <its id>` \
             to replace the current one"
                .to_owned(),
        ),
        _ => None,
    }
}
