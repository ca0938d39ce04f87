//! Models and the dependency edges between them.

use model_api::{InputKey, ModelId};
use registry::Dependency;
use tokio_postgres::GenericClient;

use crate::StoreError;
use crate::audit::{self, Action};
use crate::error::{Subject, begin, commit, db, write_error};

/// `model` consumes `upstream`'s PRIMARY result under `input_key`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Edge {
    /// The consuming model.
    pub model: ModelId,
    /// The upstream model.
    pub upstream: ModelId,
    /// The key under which `model` reads the upstream result.
    pub input_key: InputKey,
}

impl Edge {
    fn subject(&self) -> Subject<'_> {
        Subject::Edge {
            model: self.model.as_str(),
            upstream: self.upstream.as_str(),
            input_key: self.input_key.as_str(),
        }
    }
}

/// What [`set_enabled`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnabledOutcome {
    /// The flag was changed.
    Changed,
    /// The model was already enabled (or disabled); nothing was changed.
    Unchanged,
}

/// What [`undepend`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UndependOutcome {
    /// The edge was removed.
    Removed,
    /// There was no such edge; nothing was changed.
    NotFound,
}

pub(crate) const INSERT_MODEL: &str = "INSERT INTO kcg.detection_models (model_id, description) \
     VALUES ($1, $2) ON CONFLICT (model_id) DO NOTHING";

/// Inserts an edge unless that very edge, or another upstream under its
/// key, exists (0 rows then).
pub(crate) const INSERT_EDGE: &str = "INSERT INTO kcg.detection_model_dependencies \
     (model_id, depends_on, input_key) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";

const MODEL_EXISTS: &str = "SELECT 1 FROM kcg.detection_models WHERE model_id = $1";

/// Registers `model`, enabled, with an optional one-line description.
///
/// Refused with [`StoreError::ModelExists`] when it is registered already.
pub async fn add_model(
    client: &mut (impl GenericClient + Send + Sync),
    model: &ModelId,
    description: Option<&str>,
) -> Result<(), StoreError> {
    let tx = begin(client).await?;
    let tag = audit::tag(&tx, Action::AddModel).await?;
    let inserted = tx
        .execute(INSERT_MODEL, &[&model.as_str(), &description])
        .await
        .map_err(|e| {
            write_error(e, Subject::Model(model.as_str()), || {
                format!("add model {model} to kcg.detection_models")
            })
        })?;
    if inserted == 0 {
        return Err(StoreError::ModelExists {
            model: model.to_string(),
        });
    }
    audit::untag(&tx, tag).await?;
    commit(tx, || format!("model {model}")).await?;
    tracing::info!(model_id = %model, "model added");
    Ok(())
}

/// Enables or disables `model`: a disabled model's versions are not loaded,
/// so it and every model depending on it are left out of the plan.
pub async fn set_enabled(
    client: &mut (impl GenericClient + Send + Sync),
    model: &ModelId,
    enabled: bool,
) -> Result<EnabledOutcome, StoreError> {
    let tx = begin(client).await?;
    let action = if enabled {
        Action::Enable
    } else {
        Action::Disable
    };
    let tag = audit::tag(&tx, action).await?;
    let changed = tx
        .execute(
            "UPDATE kcg.detection_models SET is_enabled = $2, updated_at = now() \
              WHERE model_id = $1 AND is_enabled IS DISTINCT FROM $2",
            &[&model.as_str(), &enabled],
        )
        .await
        .map_err(db("update kcg.detection_models"))?;
    if changed == 0 {
        ensure_model(&tx, model.as_str()).await?;
        return Ok(EnabledOutcome::Unchanged);
    }
    audit::untag(&tx, tag).await?;
    commit(tx, || format!("{action} model {model}")).await?;
    tracing::info!(model_id = %model, enabled, "model enabled flag changed");
    Ok(EnabledOutcome::Changed)
}

/// Records that `edge.model` reads `edge.upstream`'s PRIMARY result under
/// `edge.input_key`, in one transaction (a savepoint when `client` is a
/// transaction).
///
/// Refused, naming the rule: a model depending on itself, an unknown model,
/// an edge that would close a dependency cycle (the error has the path), a
/// key another upstream already holds, or the very same edge again. The
/// dependencies table is locked against other writers for the check, so
/// two concurrent `depend`s cannot close a cycle that neither sees alone.
pub async fn depend(
    client: &mut (impl GenericClient + Send + Sync),
    edge: &Edge,
) -> Result<(), StoreError> {
    let (model, upstream, key) = (
        edge.model.as_str(),
        edge.upstream.as_str(),
        edge.input_key.as_str(),
    );
    if model == upstream {
        return Err(StoreError::SelfDependency {
            model: model.to_owned(),
        });
    }
    let tx = begin(client).await?;
    let tag = audit::tag(&tx, Action::Depend).await?;
    // SHARE ROW EXCLUSIVE conflicts with itself: concurrent `depend`s take
    // turns, while the planner's reads go on.
    tx.batch_execute("LOCK TABLE kcg.detection_model_dependencies IN SHARE ROW EXCLUSIVE MODE")
        .await
        .map_err(db("lock kcg.detection_model_dependencies"))?;
    for m in [model, upstream] {
        ensure_model(&tx, m).await?;
    }
    let edges = all_edges(&tx).await?;
    if let Some(path) = registry::dependency_path(&edges, upstream, model) {
        let mut cycle = Vec::with_capacity(path.len() + 1);
        cycle.push(model.to_owned());
        cycle.extend(path);
        return Err(StoreError::WouldCloseCycle {
            model: model.to_owned(),
            upstream: upstream.to_owned(),
            cycle,
        });
    }
    if let Some(taken) = edges
        .iter()
        .find(|e| e.model_id == model && e.input_key == key)
    {
        return Err(if taken.depends_on == upstream {
            StoreError::AlreadyDepends {
                model: model.to_owned(),
                upstream: upstream.to_owned(),
                input_key: key.to_owned(),
            }
        } else {
            StoreError::InputKeyTaken {
                model: model.to_owned(),
                input_key: key.to_owned(),
                holder: Some(taken.depends_on.clone()),
            }
        });
    }
    let write = |e| {
        write_error(e, edge.subject(), || {
            format!("record in kcg.detection_model_dependencies that {model} depends on {upstream}")
        })
    };
    let inserted = tx
        .execute(INSERT_EDGE, &[&model, &upstream, &key])
        .await
        .map_err(write)?;
    if inserted == 0 {
        // Only a writer that bypassed the lock gets here.
        return Err(StoreError::AlreadyDepends {
            model: model.to_owned(),
            upstream: upstream.to_owned(),
            input_key: key.to_owned(),
        });
    }
    audit::untag(&tx, tag).await?;
    commit(tx, || format!("the dependency of {model} on {upstream}")).await?;
    tracing::info!(
        model_id = model,
        upstream,
        input_key = key,
        "dependency added"
    );
    Ok(())
}

/// Removes the edge `edge`; [`UndependOutcome::NotFound`] when there was no
/// such edge. A removal never closes a cycle, so nothing else is checked.
pub async fn undepend(
    client: &mut (impl GenericClient + Send + Sync),
    edge: &Edge,
) -> Result<UndependOutcome, StoreError> {
    let (model, upstream, key) = (
        edge.model.as_str(),
        edge.upstream.as_str(),
        edge.input_key.as_str(),
    );
    let tx = begin(client).await?;
    let tag = audit::tag(&tx, Action::Undepend).await?;
    let removed = tx
        .execute(
            "DELETE FROM kcg.detection_model_dependencies \
              WHERE model_id = $1 AND depends_on = $2 AND input_key = $3",
            &[&model, &upstream, &key],
        )
        .await
        .map_err(db("delete from kcg.detection_model_dependencies"))?;
    if removed == 0 {
        for m in [model, upstream] {
            ensure_model(&tx, m).await?;
        }
        return Ok(UndependOutcome::NotFound);
    }
    audit::untag(&tx, tag).await?;
    commit(tx, || {
        format!("removing the dependency of {model} on {upstream}")
    })
    .await?;
    tracing::info!(
        model_id = model,
        upstream,
        input_key = key,
        "dependency removed"
    );
    Ok(UndependOutcome::Removed)
}

/// [`StoreError::UnknownModel`] unless `model` is registered.
pub(crate) async fn ensure_model(
    client: &(impl GenericClient + Sync),
    model: &str,
) -> Result<(), StoreError> {
    let known = client
        .query_opt(MODEL_EXISTS, &[&model])
        .await
        .map_err(db("read kcg.detection_models"))?;
    match known {
        Some(_) => Ok(()),
        None => Err(StoreError::UnknownModel {
            model: model.to_owned(),
        }),
    }
}

/// Every dependency edge.
async fn all_edges(client: &(impl GenericClient + Sync)) -> Result<Vec<Dependency>, StoreError> {
    let rows = client
        .query(
            "SELECT model_id::text, depends_on::text, input_key::text \
               FROM kcg.detection_model_dependencies",
            &[],
        )
        .await
        .map_err(db("read kcg.detection_model_dependencies"))?;
    let table = crate::decode::DEPENDENCIES;
    rows.iter()
        .map(|r| {
            Ok(Dependency {
                model_id: crate::decode::get(r, "model_id", table)?,
                depends_on: crate::decode::get(r, "depends_on", table)?,
                input_key: crate::decode::get(r, "input_key", table)?,
            })
        })
        .collect()
}
