//! One load of the registry tables: a single SQL statement, so versions and
//! edges come from one consistent snapshot of the database.

use registry::{ActiveVersion, Dependency, RegistrySnapshot};
use tokio_postgres::{GenericClient, Row};

use crate::StoreError;
use crate::decode::{DEPENDENCIES, VERSIONS, VersionColumns, get};
use crate::error::db;

/// ACTIVE versions of enabled models (kind 0) and every dependency edge
/// (kind 1), in the order [`RegistrySnapshot`] documents. Identifiers are
/// compared with `COLLATE "C"` so the database orders them exactly as Rust
/// compares strings, whatever the database's default collation; roles by
/// `kcg.role_rank` (V036), the order of [`model_api::Role::load_order`].
const LOAD_SQL: &str = r#"
SELECT 0 AS kind,
       v.id,
       v.model_id::text COLLATE "C" AS model_id,
       v.version::text AS version,
       v.role::text AS role,
       kcg.role_rank(v.role) AS role_rank,
       v.params::text AS params,
       v.timeout_ms,
       v.implementation::text AS implementation,
       NULL::text COLLATE "C" AS depends_on,
       NULL::text COLLATE "C" AS input_key
  FROM kcg.detection_model_versions v
  JOIN kcg.detection_models m ON m.model_id = v.model_id
 WHERE v.status = 'ACTIVE' AND m.is_enabled
UNION ALL
SELECT 1, NULL, d.model_id::text COLLATE "C", NULL, NULL, NULL, NULL, NULL, NULL,
       d.depends_on::text COLLATE "C", d.input_key::text COLLATE "C"
  FROM kcg.detection_model_dependencies d
ORDER BY kind, model_id, role_rank, id, depends_on, input_key
"#;

/// Loads the registry without any caching: ACTIVE versions of enabled
/// models and all dependency edges, in one statement on `client` (a
/// connection or a transaction of the caller's: this crate never opens
/// one).
///
/// A params value that is not a JSON object is logged (naming model and
/// version) and replaced by `{}`. Params that cannot be read at all (nested
/// deeper than the reader allows) are logged and loaded as
/// [`registry::UnreadableParams`]: the planner leaves that version out with
/// the reason, and plans the rest.
pub async fn load(client: &(impl GenericClient + Sync)) -> Result<RegistrySnapshot, StoreError> {
    let rows = client.query(LOAD_SQL, &[]).await.map_err(db(
        "load the model registry from kcg.detection_model_versions and \
         kcg.detection_model_dependencies",
    ))?;
    let mut snapshot = RegistrySnapshot::default();
    for row in &rows {
        let kind: i32 = get(row, "kind", VERSIONS)?;
        if kind == 0 {
            snapshot.versions.push(version(row)?);
        } else {
            snapshot.edges.push(Dependency {
                model_id: get(row, "model_id", DEPENDENCIES)?,
                depends_on: get(row, "depends_on", DEPENDENCIES)?,
                input_key: get(row, "input_key", DEPENDENCIES)?,
            });
        }
    }
    Ok(snapshot)
}

fn version(row: &Row) -> Result<ActiveVersion, StoreError> {
    let columns = VersionColumns::new(row)?;
    let role = columns.role()?;
    let timeout_ms = columns.timeout_ms()?;
    let implementation: Option<String> = columns.get("implementation")?;
    let params = columns.params()?;
    let VersionColumns {
        id,
        model_id,
        version,
        ..
    } = columns;
    let params = params.map(|params| {
        if params.is_object() {
            return params;
        }
        tracing::warn!(
            model_id = %model_id,
            version = %version,
            version_id = id,
            "params of model {model_id} version {version} (id {id}) are not a JSON object \
             ({}); treating them as {{}}",
            json_kind(&params)
        );
        serde_json::Value::Object(serde_json::Map::new())
    });
    Ok(ActiveVersion {
        id,
        model_id,
        version,
        role,
        params,
        timeout_ms,
        implementation,
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
