//! What can go wrong, by the rule that was broken, and how constraint
//! violations of the registry tables map onto those rules.

use model_api::{ImplementationName, ParamsError, Role};
use registry::{Exclusion, VersionStatus};

use crate::VersionSummary;
use tokio_postgres::error::SqlState;
use tokio_postgres::{GenericClient, Transaction};

/// Why a registry operation changed nothing.
///
/// Each variant names the model, version, id or key concerned and the rule
/// that was broken; causes (the database's error, the model's refusal) come
/// through [`source`](std::error::Error::source), never in the message. When
/// an operation fails, its transaction is rolled back: nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such model in `kcg.detection_models`.
    #[error("unknown model {model}")]
    UnknownModel {
        /// The model id as given.
        model: String,
    },
    /// `add_model` of a model that is registered already.
    #[error("model {model} already exists; nothing was changed")]
    ModelExists {
        /// The model.
        model: String,
    },
    /// The model already has a version with this label.
    #[error("model {model} already has a version {version}{}; nothing was changed", existing_version(.existing))]
    VersionExists {
        /// The model.
        model: String,
        /// The label.
        version: String,
        /// The existing version's id, status and role (unknown when the
        /// database's unique constraint caught it).
        existing: Option<(i64, VersionStatus, Role)>,
    },
    /// No version with this id.
    #[error("no model version with id {id}")]
    UnknownVersion {
        /// `detection_model_versions.id`.
        id: i64,
    },
    /// A model has at most one ACTIVE PRIMARY.
    #[error("model {model} already has an ACTIVE PRIMARY{}: a second one is not allowed", existing_primary(.existing))]
    SecondActivePrimary {
        /// The model.
        model: String,
        /// The existing ACTIVE PRIMARY's id and label (unknown when the
        /// database's partial unique index caught it).
        existing: Option<(i64, String)>,
    },
    /// A model cannot depend on itself.
    #[error("model {model} cannot depend on itself")]
    SelfDependency {
        /// The model.
        model: String,
    },
    /// The new edge would close a dependency cycle.
    #[error(
        "{model} cannot depend on {upstream}: that would close the dependency cycle {}; nothing was changed",
        .cycle.join(" -> ")
    )]
    WouldCloseCycle {
        /// The consuming model.
        model: String,
        /// The upstream it was to depend on.
        upstream: String,
        /// The cycle the edge would close, from `model` back to `model`:
        /// `[model, upstream, ..., model]`.
        cycle: Vec<String>,
    },
    /// One input key names one upstream.
    #[error(
        "{model} already reads {}'s result under input key {input_key}; one key names one upstream, \
         choose another key; nothing was changed",
        .holder.as_deref().unwrap_or("another upstream")
    )]
    InputKeyTaken {
        /// The consuming model.
        model: String,
        /// The key.
        input_key: String,
        /// The upstream already read under it (unknown when the database's
        /// unique constraint caught it).
        holder: Option<String>,
    },
    /// The very same edge exists.
    #[error("{model} already depends on {upstream} as {input_key}; nothing was changed")]
    AlreadyDepends {
        /// The consuming model.
        model: String,
        /// The upstream.
        upstream: String,
        /// The key.
        input_key: String,
    },
    /// The model's code (in the caller's catalog) refuses the params: a
    /// version that could never run is not registered or promoted.
    #[error(
        "params of model {model} version {version} are refused by its code (implementation {implementation})"
    )]
    ParamsRefused {
        /// The model.
        model: String,
        /// The version label.
        version: String,
        /// The implementation whose code refused them.
        implementation: ImplementationName,
        /// What the code refused, naming the field (boxed: it is the
        /// largest cause, and errors travel by value).
        #[source]
        source: Box<ParamsError>,
    },
    /// A rollback of a model that has no ACTIVE PRIMARY to replace.
    #[error(
        "model {model} has no ACTIVE PRIMARY, so there is nothing to roll back; nothing was changed"
    )]
    NoPrimaryToRollBack {
        /// The model.
        model: String,
    },
    /// A rollback of a model whose ACTIVE PRIMARY did not replace another
    /// one (it was added as the first PRIMARY, or its predecessor was
    /// archived on its own before).
    #[error(
        "model {model}'s ACTIVE PRIMARY, version {version} (id {id}), did not replace a previous PRIMARY, \
         so there is none to restore; nothing was changed"
    )]
    NothingToRollBack {
        /// The model.
        model: String,
        /// The current ACTIVE PRIMARY's id.
        id: i64,
        /// Its label.
        version: String,
    },
    /// An ACTIVE version of a model the caller's catalog has no code for:
    /// it could not run in this build (allowed on request, for a version a
    /// newer build will run).
    #[error(
        "model {model} version {version} cannot be activated: this build has no code for model {model}; \
         nothing was changed"
    )]
    NoCode {
        /// The model.
        model: String,
        /// The version label.
        version: String,
    },
    /// An ACTIVE version naming an implementation the caller's catalog does
    /// not have for its model (allowed on request, as [`StoreError::NoCode`]).
    #[error(
        "model {model} version {version} cannot be activated: this build has no implementation \
         {implementation} of model {model} (it has {}); nothing was changed",
        list(.known)
    )]
    UnknownImplementation {
        /// The model.
        model: String,
        /// The version label.
        version: String,
        /// The implementation named.
        implementation: ImplementationName,
        /// The implementations this build has, sorted.
        known: Vec<ImplementationName>,
    },
    /// The promotion would leave a model out of the plan that the registry
    /// could plan before (or break a dependent by its artifact type): the
    /// candidate was not promoted.
    #[error("{0}")]
    BreaksPlan(Box<BrokenPlan>),
    /// A timeout the column cannot hold (`timeout_ms > 0`, an `INTEGER`).
    #[error(
        "the timeout of model {model} version {version} must be 1 to {} ms, not {timeout_ms}",
        i32::MAX
    )]
    BadTimeout {
        /// The model.
        model: String,
        /// The version label.
        version: String,
        /// The timeout given.
        timeout_ms: u32,
    },
    /// A stored value could not be read as the code expects.
    #[error("kcg.{table}.{column} of {row}: {problem}")]
    BadRow {
        /// The table the value came from.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// Which row, e.g. `id 7 (model spoofing_score, version 1.0.0)`.
        row: String,
        /// What was wrong with it.
        problem: String,
    },
    /// A statement failed for a reason of the database's own (connection
    /// lost, schema missing, ...).
    #[error("cannot {operation}")]
    Db {
        /// What was being done, naming the table, e.g. `read
        /// kcg.detection_model_versions`.
        operation: String,
        /// The database's error.
        #[source]
        source: tokio_postgres::Error,
    },
}

fn list(items: &[ImplementationName]) -> String {
    items
        .iter()
        .map(ImplementationName::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a refused promotion would have broken ([`StoreError::BreaksPlan`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "promoting {promoted} would leave model {model} out of the plan: {reason}{}; nothing was changed",
    and_with(.also)
)]
pub struct BrokenPlan {
    /// The candidate, as it was before the refused promotion.
    pub promoted: VersionSummary,
    /// The first model the promotion would leave out (the one its own
    /// reason names, when the others only follow it).
    pub model: String,
    /// Why the planner would leave it out, naming key and both types for a
    /// type mismatch.
    pub reason: Exclusion,
    /// The other models it would leave out, sorted.
    pub also: Vec<String>,
}

fn and_with(models: &[String]) -> String {
    if models.is_empty() {
        String::new()
    } else {
        format!(" (and with it {})", models.join(", "))
    }
}

fn existing_version(existing: &Option<(i64, VersionStatus, Role)>) -> String {
    existing.map_or_else(String::new, |(id, status, role)| {
        format!(" (id {id}, {status} {role})")
    })
}

fn existing_primary(existing: &Option<(i64, String)>) -> String {
    existing.as_ref().map_or_else(String::new, |(id, version)| {
        format!(" (version {version}, id {id})")
    })
}

/// What a write was about, to name it when the database refuses it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Subject<'a> {
    Model(&'a str),
    Version {
        model: &'a str,
        version: &'a str,
    },
    Edge {
        model: &'a str,
        upstream: &'a str,
        input_key: &'a str,
    },
}

/// A failed write in words: the constraint violations of the registry
/// tables (V034, V035) become the rule they enforce; anything else is
/// [`StoreError::Db`] with `operation`.
///
/// The operations check their rules before writing, under row or table
/// locks, so these are the database's last word against a writer that
/// bypassed them (psql by hand), not the usual path.
pub(crate) fn write_error(
    e: tokio_postgres::Error,
    subject: Subject<'_>,
    operation: impl FnOnce() -> String,
) -> StoreError {
    let violated = match e.code() {
        Some(c)
            if *c == SqlState::UNIQUE_VIOLATION
                || *c == SqlState::FOREIGN_KEY_VIOLATION
                || *c == SqlState::CHECK_VIOLATION =>
        {
            e.as_db_error().and_then(|d| d.constraint())
        }
        _ => None,
    };
    let owned = |s: &str| s.to_owned();
    match (violated, subject) {
        (Some("detection_models_pkey"), Subject::Model(model)) => StoreError::ModelExists {
            model: owned(model),
        },
        (Some("detection_model_versions_one_active_primary"), Subject::Version { model, .. }) => {
            StoreError::SecondActivePrimary {
                model: owned(model),
                existing: None,
            }
        }
        (
            Some("detection_model_versions_model_version_key"),
            Subject::Version { model, version },
        ) => StoreError::VersionExists {
            model: owned(model),
            version: owned(version),
            existing: None,
        },
        (Some("detection_model_versions_model_id_fkey"), Subject::Version { model, .. })
        | (Some("detection_model_dependencies_model_id_fkey"), Subject::Edge { model, .. }) => {
            StoreError::UnknownModel {
                model: owned(model),
            }
        }
        (Some("detection_model_dependencies_depends_on_fkey"), Subject::Edge { upstream, .. }) => {
            StoreError::UnknownModel {
                model: owned(upstream),
            }
        }
        (
            Some("detection_model_dependencies_pkey"),
            Subject::Edge {
                model,
                upstream,
                input_key,
            },
        ) => StoreError::AlreadyDepends {
            model: owned(model),
            upstream: owned(upstream),
            input_key: owned(input_key),
        },
        (
            Some("detection_model_dependencies_one_upstream_per_key"),
            Subject::Edge {
                model, input_key, ..
            },
        ) => StoreError::InputKeyTaken {
            model: owned(model),
            input_key: owned(input_key),
            holder: None,
        },
        (Some("detection_model_dependencies_not_self"), Subject::Edge { model, .. }) => {
            StoreError::SelfDependency {
                model: owned(model),
            }
        }
        _ => StoreError::Db {
            operation: operation(),
            source: e,
        },
    }
}

/// A transaction on the caller's connection (a savepoint when the caller
/// is in a transaction itself).
pub(crate) async fn begin<C: GenericClient + Send + Sync>(
    client: &mut C,
) -> Result<Transaction<'_>, StoreError> {
    client
        .transaction()
        .await
        .map_err(db("begin a transaction"))
}

/// Commits `tx`; `what` names the change for the error.
pub(crate) async fn commit(
    tx: Transaction<'_>,
    what: impl FnOnce() -> String,
) -> Result<(), StoreError> {
    tx.commit().await.map_err(|source| StoreError::Db {
        operation: format!("commit {}", what()),
        source,
    })
}

/// A failed statement that is not a write of a lifecycle rule.
pub(crate) fn db(operation: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
    move |source| StoreError::Db {
        operation: operation.into(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_support::TestDb;
    use tokio_postgres::Client;

    /// A statement, what it is about, and the error it must map to.
    type Case<'a> = (&'a str, Subject<'a>, fn(&StoreError) -> bool);

    /// The database's own refusal of `sql`.
    async fn refusal(c: &Client, sql: &str) -> tokio_postgres::Error {
        c.batch_execute(sql).await.unwrap_err()
    }

    fn version<'a>(model: &'a str, version: &'a str) -> Subject<'a> {
        Subject::Version { model, version }
    }

    fn edge<'a>(model: &'a str, upstream: &'a str, input_key: &'a str) -> Subject<'a> {
        Subject::Edge {
            model,
            upstream,
            input_key,
        }
    }

    #[tokio::test]
    async fn every_registry_constraint_maps_to_the_rule_it_enforces() {
        let db = TestDb::new().await;
        let c = db.client().await;
        c.batch_execute(
            "INSERT INTO kcg.detection_models (model_id) VALUES ('a'), ('b'), ('c');
             INSERT INTO kcg.detection_model_versions (model_id, version, role, status)
                  VALUES ('a', '1', 'PRIMARY', 'ACTIVE');
             INSERT INTO kcg.detection_model_dependencies VALUES ('a', 'b', 'in');",
        )
        .await
        .unwrap();
        let op = || "do it".to_owned();
        let cases: Vec<Case<'_>> = vec![
            (
                "INSERT INTO kcg.detection_models (model_id) VALUES ('a')",
                Subject::Model("a"),
                |e| matches!(e, StoreError::ModelExists { model } if model == "a"),
            ),
            (
                "INSERT INTO kcg.detection_model_versions (model_id, version, role) VALUES ('a', '1', 'SHADOW')",
                version("a", "1"),
                |e| matches!(e, StoreError::VersionExists { existing: None, .. }),
            ),
            (
                "INSERT INTO kcg.detection_model_versions (model_id, version, role, status) VALUES ('a', '2', 'PRIMARY', 'ACTIVE')",
                version("a", "2"),
                |e| matches!(e, StoreError::SecondActivePrimary { existing: None, .. }),
            ),
            (
                "INSERT INTO kcg.detection_model_versions (model_id, version, role) VALUES ('zz', '1', 'SHADOW')",
                version("zz", "1"),
                |e| matches!(e, StoreError::UnknownModel { model } if model == "zz"),
            ),
            (
                "INSERT INTO kcg.detection_model_dependencies VALUES ('a', 'b', 'in')",
                edge("a", "b", "in"),
                |e| matches!(e, StoreError::AlreadyDepends { .. }),
            ),
            (
                "INSERT INTO kcg.detection_model_dependencies VALUES ('a', 'c', 'in')",
                edge("a", "c", "in"),
                |e| matches!(e, StoreError::InputKeyTaken { holder: None, .. }),
            ),
            (
                "INSERT INTO kcg.detection_model_dependencies VALUES ('c', 'c', 'me')",
                edge("c", "c", "me"),
                |e| matches!(e, StoreError::SelfDependency { model } if model == "c"),
            ),
            (
                "INSERT INTO kcg.detection_model_dependencies VALUES ('zz', 'a', 'x')",
                edge("zz", "a", "x"),
                |e| matches!(e, StoreError::UnknownModel { model } if model == "zz"),
            ),
            (
                "INSERT INTO kcg.detection_model_dependencies VALUES ('a', 'yy', 'x')",
                edge("a", "yy", "x"),
                |e| matches!(e, StoreError::UnknownModel { model } if model == "yy"),
            ),
            (
                "INSERT INTO kcg.detection_model_versions (model_id, version, role) VALUES ('a', '3', 'CANARY')",
                version("a", "3"),
                |e| matches!(e, StoreError::Db { operation, .. } if operation == "do it"),
            ),
        ];
        for (sql, subject, expected) in cases {
            let e = write_error(refusal(&c, sql).await, subject, op);
            assert!(expected(&e), "{sql}: {e:?}");
        }
    }

    #[test]
    fn messages_name_what_is_known() {
        let exists = StoreError::VersionExists {
            model: "m".into(),
            version: "1".into(),
            existing: Some((7, VersionStatus::Active, Role::Primary)),
        };
        assert_eq!(
            exists.to_string(),
            "model m already has a version 1 (id 7, ACTIVE PRIMARY); nothing was changed"
        );
        let primary = StoreError::SecondActivePrimary {
            model: "m".into(),
            existing: None,
        };
        assert_eq!(
            primary.to_string(),
            "model m already has an ACTIVE PRIMARY: a second one is not allowed"
        );
        let taken = StoreError::InputKeyTaken {
            model: "m".into(),
            input_key: "k".into(),
            holder: None,
        };
        assert!(
            taken
                .to_string()
                .starts_with("m already reads another upstream's result under input key k"),
            "{taken}"
        );
    }
}
