//! The audit trail of the registry (V050): who changed what, when and why.
//!
//! Row triggers on the three registry tables write one row of
//! `kcg.detection_model_audit` per changed row, in the changing transaction,
//! so nothing changes the registry without a trace, including a change made
//! by hand in psql (recorded as [`Action::Manual`] with the old and new row).
//! Every operation of this crate names its change first: it sets the
//! transaction-local setting `kcg.audit_action` (an operation inside another
//! one, e.g. the promotion a rollback makes, keeps the outer name). A note
//! is the setting `kcg.audit_note`, set by [`noted`] for the changes of one
//! transaction (a person in psql sets it the same way: `SELECT
//! set_config('kcg.audit_note', 'why', true)` inside `BEGIN ... COMMIT`).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use model_api::ModelId;
use serde_json::Value;
use tokio_postgres::{GenericClient, Transaction};

use crate::StoreError;
use crate::decode::get;
use crate::error::{begin, db};

const AUDIT: &str = "detection_model_audit";

/// A lifecycle change, as `kcg.detection_model_audit.action` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// [`add_model`](crate::add_model).
    AddModel,
    /// [`set_enabled`](crate::set_enabled) to `true`.
    Enable,
    /// [`set_enabled`](crate::set_enabled) to `false`.
    Disable,
    /// [`depend`](crate::depend).
    Depend,
    /// [`undepend`](crate::undepend).
    Undepend,
    /// [`add_version`](crate::add_version).
    AddVersion,
    /// [`promote`](crate::promote).
    Promote,
    /// [`archive`](crate::archive).
    Archive,
    /// [`rollback`](crate::rollback).
    Rollback,
    /// [`register_reference`](crate::register_reference).
    AddReference,
    /// A change that did not name itself: made by hand (psql) or by a
    /// program that bypassed this crate.
    Manual,
}

impl Action {
    /// Every action, in the order of the V050 CHECK.
    pub const ALL: [Action; 11] = [
        Action::AddModel,
        Action::Enable,
        Action::Disable,
        Action::Depend,
        Action::Undepend,
        Action::AddVersion,
        Action::Promote,
        Action::Archive,
        Action::Rollback,
        Action::AddReference,
        Action::Manual,
    ];

    /// The stored string, e.g. `promote`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::AddModel => "add_model",
            Action::Enable => "enable",
            Action::Disable => "disable",
            Action::Depend => "depend",
            Action::Undepend => "undepend",
            Action::AddVersion => "add_version",
            Action::Promote => "promote",
            Action::Archive => "archive",
            Action::Rollback => "rollback",
            Action::AddReference => "add_reference",
            Action::Manual => "manual",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored action this build does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown audit action {0:?}")]
pub struct UnknownAction(pub String);

impl FromStr for Action {
    type Err = UnknownAction;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAction(s.to_owned()))
    }
}

/// What the trigger saw happen to the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A row was inserted.
    Insert,
    /// A row was changed (an UPDATE that changed nothing is not recorded).
    Update,
    /// A row was deleted.
    Delete,
    /// The whole table was truncated (one entry, no row).
    Truncate,
}

impl Operation {
    /// `INSERT`, `UPDATE`, `DELETE` or `TRUNCATE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Insert => "INSERT",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Truncate => "TRUNCATE",
        }
    }

    fn parse(s: &str) -> Option<Operation> {
        [
            Operation::Insert,
            Operation::Update,
            Operation::Delete,
            Operation::Truncate,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the audit trail: one changed row of a registry table.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// `detection_model_audit.id`, in the order the changes were made.
    pub id: i64,
    /// The changing transaction's start time (shared by its rows).
    pub changed_at: DateTime<Utc>,
    /// The changing transaction (shared by the rows of one change).
    pub txid: i64,
    /// The database user who made it (`session_user`).
    pub db_user: String,
    /// The change.
    pub action: Action,
    /// What happened to the row.
    pub operation: Operation,
    /// `detection_models`, `detection_model_versions` or
    /// `detection_model_dependencies`.
    pub table: String,
    /// The row's model (the consuming model of an edge).
    pub model_id: Option<String>,
    /// The row's version id (versions only).
    pub version_id: Option<i64>,
    /// The note given with the change.
    pub note: Option<String>,
    /// The row before (UPDATE, DELETE).
    pub old_row: Option<Value>,
    /// The row after (INSERT, UPDATE).
    pub new_row: Option<Value>,
    /// Why `old_row` or `new_row` could not be read whole: params nested
    /// deeper than the JSON reader allows (typed in psql). That row is then
    /// given without its `params`; the rest of the trail is read as usual.
    pub unreadable: Option<String>,
}

/// Columns whose change follows from another one (the time a status was
/// set) and would only repeat it in a summary.
const FOLLOWING: [&str; 4] = ["updated_at", "activated_at", "archived_at", "created_at"];

impl AuditEntry {
    /// What happened to the row in a few words, e.g. `SHADOW 1.1.0 ACTIVE
    /// -> PRIMARY ACTIVE` or `added version 1.2.0 (SHADOW, DRAFT)`.
    pub fn summary(&self) -> String {
        let text = |row: &Option<Value>, key: &str| -> String {
            match row.as_ref().and_then(|r| r.get(key)) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => "-".to_owned(),
                Some(other) => other.to_string(),
            }
        };
        let row = self.new_row.as_ref().or(self.old_row.as_ref());
        let row = || row.cloned();
        match (self.table.as_str(), self.operation) {
            (_, Operation::Truncate) => format!("{} truncated", self.table),
            ("detection_model_versions", Operation::Insert) => format!(
                "added version {} ({}, {})",
                text(&row(), "version"),
                text(&row(), "role"),
                text(&row(), "status")
            ),
            ("detection_model_versions", Operation::Update) => {
                let (old, new) = (&self.old_row, &self.new_row);
                let state =
                    |r: &Option<Value>| format!("{} {}", text(r, "role"), text(r, "status"));
                let mut out = format!("version {}", text(new, "version"));
                if state(old) != state(new) {
                    out.push_str(&format!(": {} -> {}", state(old), state(new)));
                }
                let others = changed_keys(old, new, &["role", "status"]);
                if !others.is_empty() {
                    out.push_str(&format!(" ({} changed)", others.join(", ")));
                }
                out
            }
            ("detection_model_versions", Operation::Delete) => {
                format!("deleted version {}", text(&row(), "version"))
            }
            ("detection_models", Operation::Insert) => "added model".to_owned(),
            ("detection_models", Operation::Update) => {
                let (old, new) = (&self.old_row, &self.new_row);
                if text(old, "is_enabled") != text(new, "is_enabled") {
                    let state = |r: &Option<Value>| {
                        if text(r, "is_enabled") == "true" {
                            "enabled"
                        } else {
                            "disabled"
                        }
                    };
                    format!("{} -> {}", state(old), state(new))
                } else {
                    format!("{} changed", changed_keys(old, new, &[]).join(", "))
                }
            }
            ("detection_models", Operation::Delete) => "deleted model".to_owned(),
            ("detection_model_dependencies", op) => {
                let edge = format!(
                    "{} as {}",
                    text(&row(), "depends_on"),
                    text(&row(), "input_key")
                );
                match op {
                    Operation::Insert => format!("depends on {edge}"),
                    Operation::Delete => format!("no longer depends on {edge}"),
                    _ => format!("dependency changed to {edge}"),
                }
            }
            (table, op) => format!("{op} on {table}"),
        }
    }
}

/// The keys whose values differ between `old` and `new`, besides `skip`
/// and the timestamps that follow another change.
fn changed_keys(old: &Option<Value>, new: &Option<Value>, skip: &[&str]) -> Vec<String> {
    let (Some(Value::Object(old)), Some(Value::Object(new))) = (old, new) else {
        return Vec::new();
    };
    let mut keys: Vec<String> = new
        .iter()
        .filter(|(k, v)| {
            !skip.contains(&k.as_str())
                && !FOLLOWING.contains(&k.as_str())
                && old.get(k.as_str()) != Some(v)
        })
        .map(|(k, _)| k.clone())
        .collect();
    keys.sort();
    keys
}

/// Whether an operation named the change (and so must clear the name when
/// it is done), or found it named by an enclosing operation.
#[must_use]
pub(crate) struct Tag(bool);

/// Names the changes `tx` is about to make `action`, unless an enclosing
/// operation of this crate named them already (its name stays).
pub(crate) async fn tag(tx: &Transaction<'_>, action: Action) -> Result<Tag, StoreError> {
    let set = tx
        .query_opt(
            "SELECT set_config('kcg.audit_action', $1, true) AS action \
              WHERE coalesce(current_setting('kcg.audit_action', true), '') = ''",
            &[&action.as_str()],
        )
        .await
        .map_err(db("name the change for kcg.detection_model_audit"))?;
    Ok(Tag(set.is_some()))
}

/// Clears the name [`tag`] set, so a later change in the same transaction
/// (by hand, say) is not recorded under it.
pub(crate) async fn untag(tx: &Transaction<'_>, tag: Tag) -> Result<(), StoreError> {
    if tag.0 {
        tx.execute("SELECT set_config('kcg.audit_action', '', true)", &[])
            .await
            .map_err(db(
                "clear the name of the change for kcg.detection_model_audit",
            ))?;
    }
    Ok(())
}

/// A transaction on `client` (a savepoint when `client` is one) whose
/// changes the audit trail records with `note`. Run this crate's
/// operations on it, then commit it: their changes and audit rows land
/// together. With `note` `None` it is a plain transaction.
///
/// ```no_run
/// # async fn demo(client: &mut tokio_postgres::Client, catalog: &registry::Catalog)
/// # -> Result<(), Box<dyn std::error::Error>> {
/// let mut tx = registry_store::noted(client, Some("recall +4% over a day of shadow")).await?;
/// registry_store::promote(&mut tx, catalog, 7).await?;
/// tx.commit().await?;
/// # Ok(())
/// # }
/// ```
pub async fn noted<'a, C>(
    client: &'a mut C,
    note: Option<&str>,
) -> Result<Transaction<'a>, StoreError>
where
    C: GenericClient + Send + Sync,
{
    let tx = begin(client).await?;
    if let Some(note) = note {
        tx.execute("SELECT set_config('kcg.audit_note', $1, true)", &[&note])
            .await
            .map_err(db(
                "set the note of the change for kcg.detection_model_audit",
            ))?;
    }
    Ok(tx)
}

/// The newest `limit` entries of the audit trail (of `model` only, when
/// given), oldest first.
pub async fn history(
    client: &(impl GenericClient + Sync),
    model: Option<&ModelId>,
    limit: i64,
) -> Result<Vec<AuditEntry>, StoreError> {
    let model = model.map(ModelId::as_str);
    let rows = client
        .query(
            "SELECT * FROM ( \
                 SELECT id, changed_at, txid, db_user, action::text, operation::text, \
                        table_name::text, model_id::text, version_id, note, \
                        old_row::text AS old_row, (old_row - 'params')::text AS old_row_top, \
                        new_row::text AS new_row, (new_row - 'params')::text AS new_row_top \
                   FROM kcg.detection_model_audit \
                  WHERE $1::text IS NULL OR model_id = $1 \
                  ORDER BY id DESC LIMIT $2) newest \
             ORDER BY id",
            &[&model, &limit],
        )
        .await
        .map_err(db("read kcg.detection_model_audit"))?;
    rows.iter()
        .map(|r| {
            let id: i64 = get(r, "id", AUDIT)?;
            let bad = |column: &'static str, problem: String| StoreError::BadRow {
                table: AUDIT,
                column,
                row: format!("id {id}"),
                problem,
            };
            let action: String = get(r, "action", AUDIT)?;
            let operation: String = get(r, "operation", AUDIT)?;
            let mut unreadable = None;
            let mut row = |column: &'static str, top: &'static str| {
                let Some(text) = get::<Option<String>>(r, column, AUDIT)? else {
                    return Ok(None);
                };
                match serde_json::from_str(&text) {
                    Ok(value) => Ok(Some(value)),
                    Err(e) => {
                        tracing::warn!(
                            audit_id = id,
                            "kcg.detection_model_audit.{column} of id {id} cannot be read whole \
                             ({e}); shown without its params"
                        );
                        unreadable = Some(format!("{column}: {e}"));
                        let top: Option<String> = get(r, top, AUDIT)?;
                        top.map(|t| {
                            serde_json::from_str(&t).map_err(|e| bad(column, e.to_string()))
                        })
                        .transpose()
                    }
                }
            };
            let old_row = row("old_row", "old_row_top")?;
            let new_row = row("new_row", "new_row_top")?;
            Ok(AuditEntry {
                id,
                changed_at: get(r, "changed_at", AUDIT)?,
                txid: get(r, "txid", AUDIT)?,
                db_user: get(r, "db_user", AUDIT)?,
                action: action.parse().map_err(|e| bad("action", format!("{e}")))?,
                operation: Operation::parse(&operation)
                    .ok_or_else(|| bad("operation", format!("unknown operation {operation:?}")))?,
                table: get(r, "table_name", AUDIT)?,
                model_id: get(r, "model_id", AUDIT)?,
                version_id: get(r, "version_id", AUDIT)?,
                note: get(r, "note", AUDIT)?,
                old_row,
                new_row,
                unreadable,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_through_their_stored_strings() {
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>(), Ok(a));
        }
        assert!("deploy".parse::<Action>().is_err());
    }

    #[test]
    fn the_v050_check_lists_every_action() {
        let sql = include_str!("../../../migrations/V050__registry_audit.sql");
        for a in Action::ALL {
            assert!(
                sql.contains(&format!("'{}'", a.as_str())),
                "{a} missing in V050"
            );
        }
    }
}
