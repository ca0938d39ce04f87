//! One module per command family.

pub mod backtest;
pub mod compare;
pub mod cycle;
pub mod history;
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
        StoreError::NoCode { .. } | StoreError::UnknownImplementation { .. } => Some(
            "this build's models and implementations show in `runner models list` and \
             `runner models plan`; `runner versions add --activate --allow-unknown` registers \
             a version for a build that has its code"
                .to_owned(),
        ),
        StoreError::BreaksPlan(_) => Some(
            "see `runner models plan`; promote a version whose implementation produces what \
             its dependents read, or change the dependents first"
                .to_owned(),
        ),
        StoreError::SecondActivePrimary { .. } => Some(
            "add the new version without --activate, then `runner versions promote <its id>` \
             to replace the current one"
                .to_owned(),
        ),
        StoreError::NoPrimaryToRollBack { model } | StoreError::NothingToRollBack { model, .. } => {
            Some(format!(
                "promote the version you want instead (`runner versions history {model}` shows what it had)"
            ))
        }
        _ => None,
    }
}
