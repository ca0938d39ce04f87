//! Rolling a model back to the PRIMARY its current one replaced.
//!
//! The link between the two is in the versions table itself: a promotion
//! archives the old PRIMARY and activates the new one in one transaction,
//! both stamped with the transaction's `now()`, so the previous PRIMARY is
//! the model's ARCHIVED PRIMARY whose `archived_at` equals the current
//! one's `activated_at`. A rollback is such a promotion itself, so a second
//! rollback restores the version the first one archived (like `kubectl
//! rollout undo`).

use chrono::{DateTime, Utc};
use model_api::ModelId;
use registry::Catalog;
use tokio_postgres::GenericClient;

use crate::audit::{self, Action};
use crate::error::{begin, commit, db};
use crate::{PromoteOutcome, StoreError, promote};

/// What [`rollback`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolledBack {
    /// The model.
    pub model: String,
    /// The previous PRIMARY, ACTIVE PRIMARY again: id and label.
    pub restored: (i64, String),
    /// The PRIMARY it replaces, ARCHIVED now: id and label.
    pub archived: (i64, String),
}

/// Makes the PRIMARY that `model`'s current ACTIVE PRIMARY replaced the
/// ACTIVE PRIMARY again and archives the current one, in one transaction
/// (a savepoint inside a caller's), with the NOTIFY every registry change
/// sends and an audit row per changed version under action `rollback`.
///
/// Refused when the model is unknown, has no ACTIVE PRIMARY, its PRIMARY
/// replaced none, or the model's code in `catalog` refuses the previous
/// PRIMARY's params.
pub async fn rollback(
    client: &mut (impl GenericClient + Send + Sync),
    catalog: &Catalog,
    model: &ModelId,
) -> Result<RolledBack, StoreError> {
    let name = model.as_str();
    let mut tx = begin(client).await?;
    let tag = audit::tag(&tx, Action::Rollback).await?;
    let known = tx
        .query_opt(
            "SELECT 1 FROM kcg.detection_models WHERE model_id = $1 FOR UPDATE",
            &[&name],
        )
        .await
        .map_err(db("read kcg.detection_models"))?;
    if known.is_none() {
        return Err(StoreError::UnknownModel {
            model: name.to_owned(),
        });
    }
    let current = tx
        .query_opt(
            "SELECT id, version::text, activated_at FROM kcg.detection_model_versions \
              WHERE model_id = $1 AND role = 'PRIMARY' AND status = 'ACTIVE' FOR UPDATE",
            &[&name],
        )
        .await
        .map_err(db("read kcg.detection_model_versions"))?
        .ok_or_else(|| StoreError::NoPrimaryToRollBack {
            model: name.to_owned(),
        })?;
    let (current_id, current_version): (i64, String) = (current.get(0), current.get(1));
    let activated_at: Option<DateTime<Utc>> = current.get(2);
    let previous = tx
        .query_opt(
            "SELECT id FROM kcg.detection_model_versions \
              WHERE model_id = $1 AND role = 'PRIMARY' AND status = 'ARCHIVED' \
                AND archived_at = $2 AND id <> $3 \
              ORDER BY id DESC LIMIT 1",
            &[&name, &activated_at, &current_id],
        )
        .await
        .map_err(db("read kcg.detection_model_versions"))?
        .ok_or_else(|| StoreError::NothingToRollBack {
            model: name.to_owned(),
            id: current_id,
            version: current_version.clone(),
        })?;
    let previous_id: i64 = previous.get(0);
    // The promotion archives the current PRIMARY and checks the previous
    // one's params against its code, recorded under `rollback` (the name
    // set above stays).
    let restored = match promote(&mut tx, catalog, previous_id).await? {
        PromoteOutcome::Promoted(p) => (p.id, p.version),
        // Unreachable: it was ARCHIVED under the lock held.
        PromoteOutcome::AlreadyPrimary(v) => (v.id, v.version),
    };
    audit::untag(&tx, tag).await?;
    commit(tx, || format!("the rollback of model {name}")).await?;
    tracing::info!(
        model_id = name,
        restored = restored.0,
        archived = current_id,
        "model rolled back to its previous PRIMARY"
    );
    Ok(RolledBack {
        model: name.to_owned(),
        restored,
        archived: (current_id, current_version),
    })
}
