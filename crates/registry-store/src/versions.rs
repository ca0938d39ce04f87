//! Versions: adding, promoting, archiving, listing.
//!
//! Every change runs in one transaction; the V034 statement triggers queue a
//! `NOTIFY kcg_model_registry` inside it, delivered when it commits, so a
//! running `serve` drops its params cache exactly when the change is visible.
//!
//! Concurrency: `add_version` and `promote` lock the model's row (`FOR
//! UPDATE`), so they take turns per model; `promote` and `archive` lock the
//! version's row first. The old PRIMARY is archived before the new one is
//! activated, inside the transaction, so the partial unique index of V034
//! (one ACTIVE PRIMARY per model) holds at every moment.

use std::fmt;

use chrono::{DateTime, Utc};
use model_api::{ImplementationName, ModelId, Role, VersionLabel};
use registry::{Catalog, ParamsCheck, UnreadableParams, Unresolved, VersionStatus};
use serde_json::{Map, Value};
use tokio_postgres::GenericClient;

use crate::audit::{self, Action};
use crate::decode::{VERSIONS, VersionColumns, get};
use crate::error::{Subject, begin, commit, db, write_error};
use crate::{BrokenPlan, StoreError};

/// A version to add.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVersion {
    /// The model (registered with [`add_model`](crate::add_model)).
    pub model: ModelId,
    /// Its label, unique per model.
    pub version: VersionLabel,
    /// PRIMARY, SHADOW or CHALLENGER.
    pub role: Role,
    /// Its params.
    pub params: Map<String, Value>,
    /// ACTIVE at once (otherwise DRAFT). A model has at most one ACTIVE
    /// PRIMARY: to replace it, add the new one as DRAFT and promote it.
    pub activate: bool,
    /// Per-version run timeout (the executor's default otherwise); 1 to
    /// `i32::MAX` milliseconds.
    pub timeout_ms: Option<u32>,
    /// The implementation of the model it runs; `None` runs the model's
    /// default implementation (whichever the running build has).
    pub implementation: Option<ImplementationName>,
    /// Activate it even though the caller's catalog has no code for the
    /// model or for the implementation named (a version registered ahead of
    /// the build that runs it; it is left out of the plan until then).
    /// Params are checked only where there is code to check them with.
    pub allow_unknown: bool,
}

/// A stored version, as messages and outcomes name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionSummary {
    /// `detection_model_versions.id`.
    pub id: i64,
    /// The model.
    pub model: String,
    /// The label.
    pub version: String,
    /// Its role.
    pub role: Role,
    /// Its status.
    pub status: VersionStatus,
}

impl fmt::Display for VersionSummary {
    /// `model m version 1.0.0 (id 7, ACTIVE PRIMARY)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "model {} version {} (id {}, {} {})",
            self.model, self.version, self.id, self.status, self.role
        )
    }
}

/// What [`promote`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromoteOutcome {
    /// The version is the model's ACTIVE PRIMARY now.
    Promoted(Promoted),
    /// It already was; nothing was changed.
    AlreadyPrimary(VersionSummary),
}

/// A promotion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promoted {
    /// The promoted version's id.
    pub id: i64,
    /// Its model.
    pub model: String,
    /// Its label.
    pub version: String,
    /// Its role before.
    pub from_role: Role,
    /// Its status before.
    pub from_status: VersionStatus,
    /// The previous ACTIVE PRIMARY, archived in the same transaction: id and
    /// label. `None` when the model had none.
    pub archived: Option<(i64, String)>,
}

/// What [`archive`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveOutcome {
    /// The version is ARCHIVED now; the summary is what it was before.
    Archived(VersionSummary),
    /// It already was; nothing was changed.
    AlreadyArchived(VersionSummary),
}

impl ArchiveOutcome {
    /// Whether the model was left without an ACTIVE PRIMARY (the version
    /// archived was it): it and every model depending on it are left out
    /// of the plan until a version is promoted.
    pub fn left_without_primary(&self) -> bool {
        matches!(self, ArchiveOutcome::Archived(was)
            if was.role == Role::Primary && was.status == VersionStatus::Active)
    }
}

/// A version as listed, any status.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVersion {
    /// `detection_model_versions.id`.
    pub id: i64,
    /// The model.
    pub model: String,
    /// The label.
    pub version: String,
    /// Its role.
    pub role: Role,
    /// Its status.
    pub status: VersionStatus,
    /// Its params as stored, or why they cannot be read (nested deeper than
    /// the JSON reader allows): the other versions are listed all the same.
    pub params: Result<Value, UnreadableParams>,
    /// Its timeout override.
    pub timeout_ms: Option<u32>,
    /// The implementation it names; `None` runs the model's default.
    pub implementation: Option<String>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When it was last made ACTIVE.
    pub activated_at: Option<DateTime<Utc>>,
    /// When it was archived.
    pub archived_at: Option<DateTime<Utc>>,
}

const LOCK_MODEL: &str = "SELECT 1 FROM kcg.detection_models WHERE model_id = $1 FOR UPDATE";

/// Adds a version: DRAFT, or ACTIVE with `new.activate`.
///
/// Refused when the model's code in `catalog` (the implementation named,
/// or the model's default) refuses the params; when it is to be ACTIVE and
/// `catalog` has no code for the model or the implementation, unless
/// `new.allow_unknown` (a DRAFT of such a version is kept unchecked); when
/// the model is unknown, the label exists, or an ACTIVE PRIMARY would be
/// the model's second. Returns the stored version.
pub async fn add_version(
    client: &mut (impl GenericClient + Send + Sync),
    catalog: &Catalog,
    new: &NewVersion,
) -> Result<VersionSummary, StoreError> {
    let (model, version) = (new.model.as_str(), new.version.as_str());
    let params = Value::Object(new.params.clone());
    let implementation = new.implementation.as_ref().map(ImplementationName::as_str);
    let refuse = if new.activate && !new.allow_unknown {
        Unknown::Refuse
    } else {
        Unknown::Allow
    };
    check_code(
        catalog,
        &new.model,
        version,
        implementation,
        &params,
        refuse,
    )?;
    let timeout_ms = new
        .timeout_ms
        .map(|ms| {
            i32::try_from(ms)
                .ok()
                .filter(|ms| *ms > 0)
                .ok_or_else(|| StoreError::BadTimeout {
                    model: model.to_owned(),
                    version: version.to_owned(),
                    timeout_ms: ms,
                })
        })
        .transpose()?;

    let tx = begin(client).await?;
    let tag = audit::tag(&tx, Action::AddVersion).await?;
    let known = tx
        .query_opt(LOCK_MODEL, &[&model])
        .await
        .map_err(db("read kcg.detection_models"))?;
    if known.is_none() {
        return Err(StoreError::UnknownModel {
            model: model.to_owned(),
        });
    }
    let existing = tx
        .query_opt(
            "SELECT id, model_id::text, version::text, role::text, status::text \
               FROM kcg.detection_model_versions WHERE model_id = $1 AND version = $2",
            &[&model, &version],
        )
        .await
        .map_err(db("read kcg.detection_model_versions"))?;
    if let Some(row) = existing {
        let found = summary(&VersionColumns::new(&row)?)?;
        return Err(StoreError::VersionExists {
            model: model.to_owned(),
            version: version.to_owned(),
            existing: Some((found.id, found.status, found.role)),
        });
    }
    if new.activate
        && new.role == Role::Primary
        && let Some(current) = active_primary(&tx, model, None).await?
    {
        return Err(StoreError::SecondActivePrimary {
            model: model.to_owned(),
            existing: Some(current),
        });
    }
    let status = if new.activate {
        VersionStatus::Active
    } else {
        VersionStatus::Draft
    };
    let row = tx
        .query_one(
            "INSERT INTO kcg.detection_model_versions \
                    (model_id, version, role, status, params, timeout_ms, implementation, activated_at) \
             VALUES ($1, $2, $3, $4::text, $5, $6, $7, CASE WHEN $4::text = 'ACTIVE' THEN now() END) \
             RETURNING id",
            &[
                &model,
                &version,
                &new.role.as_str(),
                &status.as_str(),
                &params,
                &timeout_ms,
                &implementation,
            ],
        )
        .await
        .map_err(|e| {
            write_error(e, Subject::Version { model, version }, || {
                format!("add version {version} of model {model} to kcg.detection_model_versions")
            })
        })?;
    let id: i64 = get(&row, "id", VERSIONS)?;
    audit::untag(&tx, tag).await?;
    commit(tx, || format!("version {version} of model {model}")).await?;
    tracing::info!(model_id = model, version, version_id = id, role = %new.role, %status, implementation, "version added");
    Ok(VersionSummary {
        id,
        model: model.to_owned(),
        version: version.to_owned(),
        role: new.role,
        status,
    })
}

/// Makes version `id` the ACTIVE PRIMARY of its model, archiving the
/// current one, in one transaction. A SHADOW or CHALLENGER becomes the
/// PRIMARY; an ARCHIVED version comes back (rolling back is promoting the
/// previous PRIMARY again).
///
/// Refused when there is no such version, its model's code in `catalog`
/// refuses its params, or the promotion would break the plan: the registry
/// is planned with `catalog` as it is and as it would be after the
/// promotion, inside the promoting transaction, and a model that was
/// planned and would not be (a dependent whose input type the candidate
/// does not produce, the candidate's own model when this build lacks its
/// implementation, ...), or a dependent the candidate's artifact type
/// breaks, refuses the promotion with [`StoreError::BreaksPlan`], naming
/// it and the planner's reason; nothing is changed. A model this build has
/// no code for at all is not judged (it is not planned either way).
pub async fn promote(
    client: &mut (impl GenericClient + Send + Sync),
    catalog: &Catalog,
    id: i64,
) -> Result<PromoteOutcome, StoreError> {
    let tx = begin(client).await?;
    let tag = audit::tag(&tx, Action::Promote).await?;
    let (target, params, implementation) = lock_version(&tx, id).await?;
    let model = target.model.as_str();
    tx.execute(LOCK_MODEL, &[&model])
        .await
        .map_err(db("lock the model in kcg.detection_models"))?;
    if target.role == Role::Primary && target.status == VersionStatus::Active {
        return Ok(PromoteOutcome::AlreadyPrimary(target));
    }
    // A stored model id this build cannot even name has no code to check.
    let params = params?;
    if let Ok(model_id) = ModelId::new(model) {
        check_code(
            catalog,
            &model_id,
            &target.version,
            implementation.as_deref(),
            &params,
            Unknown::RefuseImplementation,
        )?;
    }
    let before = registry::plan(catalog, &crate::load(&tx).await?);
    let old = active_primary(&tx, model, Some(id)).await?;
    if let Some((old_id, _)) = &old {
        tx.execute(
            "UPDATE kcg.detection_model_versions SET status = 'ARCHIVED', archived_at = now() \
              WHERE id = $1",
            &[old_id],
        )
        .await
        .map_err(|e| StoreError::Db {
            operation: format!("archive version id {old_id} in kcg.detection_model_versions"),
            source: e,
        })?;
    }
    tx.execute(
        "UPDATE kcg.detection_model_versions \
            SET role = 'PRIMARY', status = 'ACTIVE', activated_at = now(), archived_at = NULL \
          WHERE id = $1",
        &[&id],
    )
    .await
    .map_err(|e| {
        write_error(
            e,
            Subject::Version {
                model,
                version: &target.version,
            },
            || format!("promote {target}"),
        )
    })?;
    let after = registry::plan(catalog, &crate::load(&tx).await?);
    if let Some(broken) = broken_by(&target, &before, &after) {
        // Dropping `tx` rolls the promotion back.
        tracing::warn!(
            version_id = id,
            model_id = model,
            "promotion refused: {broken}"
        );
        return Err(StoreError::BreaksPlan(Box::new(broken)));
    }
    audit::untag(&tx, tag).await?;
    commit(tx, || format!("the promotion of {target}")).await?;
    tracing::info!(
        model_id = model,
        version = %target.version,
        version_id = id,
        archived = ?old.as_ref().map(|(id, _)| id),
        "version promoted to ACTIVE PRIMARY"
    );
    Ok(PromoteOutcome::Promoted(Promoted {
        id,
        model: target.model.clone(),
        version: target.version.clone(),
        from_role: target.role,
        from_status: target.status,
        archived: old,
    }))
}

/// Archives version `id`: it stops running from the next cycle.
pub async fn archive(
    client: &mut (impl GenericClient + Send + Sync),
    id: i64,
) -> Result<ArchiveOutcome, StoreError> {
    let tx = begin(client).await?;
    let tag = audit::tag(&tx, Action::Archive).await?;
    let (target, _, _) = lock_version(&tx, id).await?;
    if target.status == VersionStatus::Archived {
        return Ok(ArchiveOutcome::AlreadyArchived(target));
    }
    tx.execute(
        "UPDATE kcg.detection_model_versions SET status = 'ARCHIVED', archived_at = now() \
          WHERE id = $1",
        &[&id],
    )
    .await
    .map_err(|e| StoreError::Db {
        operation: format!("archive {target}"),
        source: e,
    })?;
    audit::untag(&tx, tag).await?;
    commit(tx, || format!("archiving {target}")).await?;
    tracing::info!(model_id = %target.model, version = %target.version, version_id = id, "version archived");
    Ok(ArchiveOutcome::Archived(target))
}

/// Every version of every model (or of `model`), any status, by model
/// (byte order), role (PRIMARY, CHALLENGER, SHADOW) and id.
pub async fn list_versions(
    client: &(impl GenericClient + Sync),
    model: Option<&ModelId>,
) -> Result<Vec<StoredVersion>, StoreError> {
    let model = model.map(ModelId::as_str);
    let rows = client
        .query(
            &format!(
                "{STORED_VERSION} WHERE $1::text IS NULL OR model_id = $1 \
                 ORDER BY model_id COLLATE \"C\", kcg.role_rank(role), id"
            ),
            &[&model],
        )
        .await
        .map_err(db("read kcg.detection_model_versions"))?;
    rows.iter().map(stored_version).collect()
}

/// Version `id`, any status.
pub async fn version(
    client: &(impl GenericClient + Sync),
    id: i64,
) -> Result<StoredVersion, StoreError> {
    let row = client
        .query_opt(&format!("{STORED_VERSION} WHERE id = $1"), &[&id])
        .await
        .map_err(db("read kcg.detection_model_versions"))?
        .ok_or(StoreError::UnknownVersion { id })?;
    stored_version(&row)
}

/// The columns of a [`StoredVersion`].
const STORED_VERSION: &str = "SELECT id, model_id::text, version::text, role::text, status::text, \
     params::text AS params, timeout_ms, implementation::text, created_at, activated_at, archived_at \
     FROM kcg.detection_model_versions";

fn stored_version(row: &tokio_postgres::Row) -> Result<StoredVersion, StoreError> {
    let c = VersionColumns::new(row)?;
    Ok(StoredVersion {
        role: c.role()?,
        status: c.status()?,
        params: c.params()?,
        timeout_ms: c.timeout_ms()?,
        implementation: c.get("implementation")?,
        created_at: c.get("created_at")?,
        activated_at: c.get("activated_at")?,
        archived_at: c.get("archived_at")?,
        id: c.id,
        model: c.model_id,
        version: c.version,
    })
}

/// Whether version `version` of `model` (running `implementation`, or the
/// model's default) may be stored with `params`: [`StoreError::ParamsRefused`]
/// when `catalog` has its code and the code refuses them; when it has no
/// code, [`StoreError::NoCode`] or [`StoreError::UnknownImplementation`] as
/// `unknown` says, else nothing to check.
fn check_code(
    catalog: &Catalog,
    model: &ModelId,
    version: &str,
    implementation: Option<&str>,
    params: &Value,
    unknown: Unknown,
) -> Result<(), StoreError> {
    match catalog.check_params(model, implementation, params) {
        ParamsCheck::Accepted { .. } => Ok(()),
        ParamsCheck::Refused {
            implementation,
            error,
        } => Err(StoreError::ParamsRefused {
            model: model.to_string(),
            version: version.to_owned(),
            implementation,
            source: Box::new(error),
        }),
        ParamsCheck::NoCode(Unresolved::UnknownModel) if unknown != Unknown::Refuse => Ok(()),
        ParamsCheck::NoCode(_) if unknown == Unknown::Allow => Ok(()),
        ParamsCheck::NoCode(Unresolved::UnknownModel) => Err(StoreError::NoCode {
            model: model.to_string(),
            version: version.to_owned(),
        }),
        ParamsCheck::NoCode(Unresolved::UnknownImplementation { known }) => {
            // Only a named implementation can be unknown: a model's default
            // always exists.
            match implementation.and_then(|i| ImplementationName::new(i).ok()) {
                Some(implementation) => Err(StoreError::UnknownImplementation {
                    model: model.to_string(),
                    version: version.to_owned(),
                    implementation,
                    known,
                }),
                None => Err(StoreError::NoCode {
                    model: model.to_string(),
                    version: version.to_owned(),
                }),
            }
        }
    }
}

/// What to do about a version the caller's catalog has no code for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unknown {
    /// Store it unchecked.
    Allow,
    /// Refuse it when the catalog knows the model but not the
    /// implementation named; a model without any code is not judged.
    RefuseImplementation,
    /// Refuse it.
    Refuse,
}

/// What promoting `target` breaks, comparing the plans before and after:
/// every model planned before and left out after, and every model left out
/// after because it reads the candidate's model as another type. The one
/// named first is the first whose reason is its own (not "upstream X
/// unavailable"), by model_id.
fn broken_by(
    target: &VersionSummary,
    before: &registry::Plan,
    after: &registry::Plan,
) -> Option<BrokenPlan> {
    let broken: Vec<&registry::Excluded> = after
        .excluded()
        .iter()
        .filter(|e| e.version_id.is_none())
        .filter(|e| {
            before.find(&e.model_id).is_some()
                || matches!(&e.reason, registry::Exclusion::InputTypeMismatch(m)
                    if m.upstream == target.model)
        })
        .collect();
    let first = broken
        .iter()
        .find(|e| !matches!(e.reason, registry::Exclusion::UpstreamUnavailable { .. }))
        .or(broken.first())?;
    Some(BrokenPlan {
        promoted: target.clone(),
        model: first.model_id.clone(),
        reason: first.reason.clone(),
        also: broken
            .iter()
            .filter(|e| e.model_id != first.model_id)
            .map(|e| e.model_id.clone())
            .collect(),
    })
}

/// Version `id`, locked for the rest of the transaction, its params
/// (unreadable params do not stop an archive) and its implementation.
async fn lock_version(
    tx: &(impl GenericClient + Sync),
    id: i64,
) -> Result<(VersionSummary, Result<Value, StoreError>, Option<String>), StoreError> {
    let row = tx
        .query_opt(
            "SELECT id, model_id::text, version::text, role::text, status::text, params::text AS params, \
                    implementation::text \
               FROM kcg.detection_model_versions WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .map_err(db("read kcg.detection_model_versions"))?
        .ok_or(StoreError::UnknownVersion { id })?;
    let columns = VersionColumns::new(&row)?;
    let params = columns
        .params()?
        .map_err(|e| columns.bad("params", e.problem));
    let implementation = columns.get("implementation")?;
    Ok((summary(&columns)?, params, implementation))
}

fn summary(columns: &VersionColumns<'_>) -> Result<VersionSummary, StoreError> {
    Ok(VersionSummary {
        id: columns.id,
        model: columns.model_id.clone(),
        version: columns.version.clone(),
        role: columns.role()?,
        status: columns.status()?,
    })
}

/// The model's ACTIVE PRIMARY other than `except`, locked: id and label.
async fn active_primary(
    tx: &(impl GenericClient + Sync),
    model: &str,
    except: Option<i64>,
) -> Result<Option<(i64, String)>, StoreError> {
    let row = tx
        .query_opt(
            "SELECT id, version::text AS version FROM kcg.detection_model_versions \
              WHERE model_id = $1 AND role = 'PRIMARY' AND status = 'ACTIVE' \
                AND id IS DISTINCT FROM $2 \
              FOR UPDATE",
            &[&model, &except],
        )
        .await
        .map_err(db("read kcg.detection_model_versions"))?;
    row.map(|r| Ok((get(&r, "id", VERSIONS)?, get(&r, "version", VERSIONS)?)))
        .transpose()
}
