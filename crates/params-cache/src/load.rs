//! One load of the registry tables: a single SQL statement, so versions and
//! edges come from one consistent snapshot of the database.

use model_api::Role;
use tokio_postgres::{Client, Row};

use crate::{ActiveVersion, CacheError, Dependency, RegistrySnapshot};

/// ACTIVE versions of enabled models (kind 0) and every dependency edge
/// (kind 1), in the order [`RegistrySnapshot`] documents. Identifiers are
/// compared with `COLLATE "C"` so the database orders them exactly as Rust
/// compares strings, whatever the database's default collation.
const LOAD_SQL: &str = r#"
SELECT 0 AS kind,
       v.id,
       v.model_id::text COLLATE "C" AS model_id,
       v.version::text AS version,
       v.role::text AS role,
       CASE v.role WHEN 'PRIMARY' THEN 0 WHEN 'CHALLENGER' THEN 1 ELSE 2 END AS role_rank,
       v.params,
       v.timeout_ms,
       NULL::text COLLATE "C" AS depends_on,
       NULL::text COLLATE "C" AS input_key
  FROM kcg.detection_model_versions v
  JOIN kcg.detection_models m ON m.model_id = v.model_id
 WHERE v.status = 'ACTIVE' AND m.is_enabled
UNION ALL
SELECT 1, NULL, d.model_id::text COLLATE "C", NULL, NULL, NULL, NULL, NULL,
       d.depends_on::text COLLATE "C", d.input_key::text COLLATE "C"
  FROM kcg.detection_model_dependencies d
ORDER BY kind, model_id, role_rank, id, depends_on, input_key
"#;

/// Loads the registry without any caching: ACTIVE versions of enabled
/// models and all dependency edges, in one statement on `client`.
///
/// A params value that is not a JSON object is logged (naming model and
/// version) and replaced by `{}`.
pub async fn load(client: &Client) -> Result<RegistrySnapshot, CacheError> {
    let rows = client
        .query(LOAD_SQL, &[])
        .await
        .map_err(CacheError::Query)?;
    let mut snapshot = RegistrySnapshot::default();
    for row in &rows {
        let kind: i32 = get(row, "kind", "detection_model_versions")?;
        if kind == 0 {
            snapshot.versions.push(version(row)?);
        } else {
            snapshot.edges.push(Dependency {
                model_id: get(row, "model_id", "detection_model_dependencies")?,
                depends_on: get(row, "depends_on", "detection_model_dependencies")?,
                input_key: get(row, "input_key", "detection_model_dependencies")?,
            });
        }
    }
    Ok(snapshot)
}

const VERSIONS: &str = "detection_model_versions";

fn version(row: &Row) -> Result<ActiveVersion, CacheError> {
    let id: i64 = get(row, "id", VERSIONS)?;
    let model_id: String = get(row, "model_id", VERSIONS)?;
    let version: String = get(row, "version", VERSIONS)?;
    let bad = |column: &'static str, problem: String| CacheError::BadRow {
        table: VERSIONS,
        column,
        row: format!("id {id} (model {model_id}, version {version})"),
        problem,
    };
    let role_text: String = get(row, "role", VERSIONS)?;
    let role: Role = role_text.parse().map_err(|e| bad("role", format!("{e}")))?;
    let timeout_ms = match get::<Option<i32>>(row, "timeout_ms", VERSIONS)? {
        None => None,
        Some(ms) => Some(u32::try_from(ms).ok().filter(|ms| *ms > 0).ok_or_else(|| {
            bad(
                "timeout_ms",
                format!("{ms} is not a positive number of milliseconds"),
            )
        })?),
    };
    let mut params: serde_json::Value = get(row, "params", VERSIONS)?;
    if !params.is_object() {
        tracing::warn!(
            model_id = %model_id,
            version = %version,
            version_id = id,
            "params of model {model_id} version {version} (id {id}) are not a JSON object \
             ({}); treating them as {{}}",
            json_kind(&params)
        );
        params = serde_json::Value::Object(serde_json::Map::new());
    }
    Ok(ActiveVersion {
        id,
        model_id,
        version,
        role,
        params,
        timeout_ms,
    })
}

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    column: &'static str,
    table: &'static str,
) -> Result<T, CacheError> {
    row.try_get(column).map_err(|e| CacheError::BadRow {
        table,
        column,
        row: "a loaded row".to_owned(),
        problem: e.to_string(),
    })
}

/// The JSON type of a value, for messages.
fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
