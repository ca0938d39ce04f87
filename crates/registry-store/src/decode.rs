//! Reading stored values by column name, every failure a
//! [`StoreError::BadRow`] naming table, column and row.

use model_api::Role;
use registry::{UnreadableParams, VersionStatus};
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use crate::StoreError;

pub(crate) const VERSIONS: &str = "detection_model_versions";
pub(crate) const DEPENDENCIES: &str = "detection_model_dependencies";

/// Column `column` of `row`, read from `table`.
pub(crate) fn get<'a, T: FromSql<'a>>(
    row: &'a Row,
    column: &'static str,
    table: &'static str,
) -> Result<T, StoreError> {
    row.try_get(column).map_err(|e| StoreError::BadRow {
        table,
        column,
        row: "a loaded row".to_owned(),
        problem: e.to_string(),
    })
}

/// The columns every read of a version decodes the same way, and the
/// row's name for messages: `id 7 (model spoofing_score, version 1.0.0)`.
pub(crate) struct VersionColumns<'a> {
    row: &'a Row,
    pub(crate) id: i64,
    pub(crate) model_id: String,
    pub(crate) version: String,
}

impl<'a> VersionColumns<'a> {
    pub(crate) fn new(row: &'a Row) -> Result<Self, StoreError> {
        Ok(Self {
            row,
            id: get(row, "id", VERSIONS)?,
            model_id: get(row, "model_id", VERSIONS)?,
            version: get(row, "version", VERSIONS)?,
        })
    }

    pub(crate) fn bad(&self, column: &'static str, problem: String) -> StoreError {
        StoreError::BadRow {
            table: VERSIONS,
            column,
            row: format!(
                "id {} (model {}, version {})",
                self.id, self.model_id, self.version
            ),
            problem,
        }
    }

    pub(crate) fn get<T: FromSql<'a>>(&self, column: &'static str) -> Result<T, StoreError> {
        get(self.row, column, VERSIONS)
    }

    pub(crate) fn role(&self) -> Result<Role, StoreError> {
        let text: String = self.get("role")?;
        text.parse().map_err(|e| self.bad("role", format!("{e}")))
    }

    pub(crate) fn status(&self) -> Result<VersionStatus, StoreError> {
        let text: String = self.get("status")?;
        text.parse().map_err(|e| self.bad("status", format!("{e}")))
    }

    /// `params`, selected as text (`params::text AS params`) and parsed here:
    /// JSONB holds JSON of any depth, and the reader's recursion limit (128
    /// levels) turns a deeper value into [`UnreadableParams`] naming the
    /// place, never a failed row or a stack overflow.
    pub(crate) fn params(&self) -> Result<Result<serde_json::Value, UnreadableParams>, StoreError> {
        let text: String = self.get("params")?;
        Ok(serde_json::from_str(&text).map_err(|e| {
            tracing::warn!(
                model_id = %self.model_id,
                version = %self.version,
                version_id = self.id,
                "params of model {} version {} (id {}) in kcg.detection_model_versions cannot be read: {e}",
                self.model_id,
                self.version,
                self.id
            );
            UnreadableParams {
                problem: e.to_string(),
            }
        }))
    }

    /// `timeout_ms`: positive milliseconds, or none.
    pub(crate) fn timeout_ms(&self) -> Result<Option<u32>, StoreError> {
        match self.get::<Option<i32>>("timeout_ms")? {
            None => Ok(None),
            Some(ms) => u32::try_from(ms)
                .ok()
                .filter(|ms| *ms > 0)
                .map(Some)
                .ok_or_else(|| {
                    self.bad(
                        "timeout_ms",
                        format!("{ms} is not a positive number of milliseconds"),
                    )
                }),
        }
    }
}
