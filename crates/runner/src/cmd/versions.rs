//! `versions list|add|promote|archive`.
//!
//! Every change runs in one transaction; the V034 statement triggers queue a
//! `NOTIFY kcg_model_registry` inside it, delivered when it commits, so a
//! running `serve` drops its params cache exactly when the change is visible.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use model_api::{MAX_ID_CHARS, ModelId, Role};
use serde_json::{Value, json};
use tokio_postgres::Transaction;
use tokio_postgres::error::SqlState;

use super::models::{Format, header, summarise_params, table};
use crate::db::Url;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Every version of every model (any status), by model, role and id.
    List {
        /// Only this model's versions.
        #[arg(long)]
        model: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Add a version: DRAFT, or ACTIVE with --activate.
    Add {
        /// The model (registered with `models add`).
        model: String,
        /// The version label, e.g. 1.2.0 (1 to 64 characters).
        version: String,
        /// PRIMARY, SHADOW or CHALLENGER.
        #[arg(long)]
        role: Role,
        /// The params as a JSON object, e.g. '{"threshold": 0.7}'.
        #[arg(long)]
        params: String,
        /// Make it ACTIVE at once. A model has at most one ACTIVE PRIMARY:
        /// to replace it, add the new one without --activate and promote it.
        #[arg(long)]
        activate: bool,
        /// Per-version run timeout in milliseconds (the executor's default
        /// otherwise).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64))]
        timeout_ms: Option<u32>,
    },
    /// Make version ID the ACTIVE PRIMARY of its model, archiving the current
    /// one, in one transaction. A SHADOW or CHALLENGER becomes the PRIMARY.
    Promote {
        /// `detection_model_versions.id`.
        id: i64,
    },
    /// Archive version ID (it stops running from the next cycle).
    Archive {
        /// `detection_model_versions.id`.
        id: i64,
    },
}

pub async fn run(url: &Url, args: Args) -> Result<ExitCode> {
    match args.command {
        Command::List { model, format } => list(url, model.as_deref(), format).await,
        Command::Add {
            model,
            version,
            role,
            params,
            activate,
            timeout_ms,
        } => add(url, &model, &version, role, &params, activate, timeout_ms).await,
        Command::Promote { id } => promote(url, id).await,
        Command::Archive { id } => archive(url, id).await,
    }
}

const ROLE_ORDER: &str = "CASE role WHEN 'PRIMARY' THEN 0 WHEN 'CHALLENGER' THEN 1 ELSE 2 END";

async fn list(url: &Url, model: Option<&str>, format: Format) -> Result<ExitCode> {
    let client = url.connect().await?;
    let rows = client
        .query(
            &format!(
                "SELECT id, model_id::text, version::text, role::text, status::text, params, timeout_ms, \
                        created_at, activated_at, archived_at \
                   FROM kcg.detection_model_versions \
                  WHERE $1::text IS NULL OR model_id = $1 \
                  ORDER BY model_id COLLATE \"C\", {ROLE_ORDER}, id"
            ),
            &[&model],
        )
        .await
        .context("cannot read kcg.detection_model_versions")?;
    let time = |t: Option<DateTime<Utc>>| t.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    match format {
        Format::Json => {
            let versions: Vec<Value> = rows
                .iter()
                .map(|r| {
                    json!({
                        "id": r.get::<_, i64>(0),
                        "model_id": r.get::<_, String>(1),
                        "version": r.get::<_, String>(2),
                        "role": r.get::<_, String>(3),
                        "status": r.get::<_, String>(4),
                        "params": r.get::<_, Value>(5),
                        "timeout_ms": r.get::<_, Option<i32>>(6),
                        "created_at": time(Some(r.get(7))),
                        "activated_at": time(r.get(8)),
                        "archived_at": time(r.get(9)),
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({ "versions": versions }))?
            );
        }
        Format::Text => {
            if rows.is_empty() {
                println!("no versions");
                return Ok(ExitCode::SUCCESS);
            }
            let mut table_rows = vec![header(&[
                "ID",
                "MODEL",
                "VERSION",
                "ROLE",
                "STATUS",
                "TIMEOUT",
                "ACTIVATED",
                "PARAMS",
            ])];
            for r in &rows {
                table_rows.push(vec![
                    r.get::<_, i64>(0).to_string(),
                    r.get(1),
                    r.get(2),
                    r.get(3),
                    r.get(4),
                    r.get::<_, Option<i32>>(6)
                        .map_or_else(|| "-".to_owned(), |ms| format!("{ms}ms")),
                    time(r.get(8)).unwrap_or_else(|| "-".to_owned()),
                    summarise_params(&r.get(5)),
                ]);
            }
            print!("{}", table(&table_rows));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The params of a new version: a JSON object, and one the model's code
/// accepts when this build has code for it.
fn parse_params(model: &str, version: &str, raw: &str) -> Result<Value> {
    let params: Value = serde_json::from_str(raw).with_context(|| {
        format!("--params of model {model} version {version} is not valid JSON")
    })?;
    if !params.is_object() {
        bail!("--params of model {model} version {version} must be a JSON object, got {params}");
    }
    check_params(model, version, &params)?;
    Ok(params)
}

/// Refuses params the model's constructor refuses (when this build knows the
/// model), so a version that could never run is not registered or promoted.
fn check_params(model: &str, version: &str, params: &Value) -> Result<()> {
    let catalog = crate::catalog::build()?;
    let (Some(constructor), Ok(id)) = (catalog.get(model), ModelId::new(model)) else {
        return Ok(());
    };
    if let Err(e) = constructor(id, params) {
        bail!(
            "params of model {model} version {version} are refused by its code: {}",
            e.message
        );
    }
    Ok(())
}

/// A stored version, locked for the rest of the transaction.
struct Stored {
    id: i64,
    model_id: String,
    version: String,
    role: String,
    status: String,
    params: Value,
}

impl Stored {
    fn describe(&self) -> String {
        format!(
            "model {} version {} (id {}, {} {})",
            self.model_id, self.version, self.id, self.status, self.role
        )
    }
}

async fn lock_version(tx: &Transaction<'_>, id: i64) -> Result<Stored> {
    let row = tx
        .query_opt(
            "SELECT id, model_id::text, version::text, role::text, status::text, params \
               FROM kcg.detection_model_versions WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .context("cannot read kcg.detection_model_versions")?;
    let Some(r) = row else {
        bail!("no model version with id {id} (see `runner versions list`)")
    };
    Ok(Stored {
        id: r.get(0),
        model_id: r.get(1),
        version: r.get(2),
        role: r.get(3),
        status: r.get(4),
        params: r.get(5),
    })
}

/// The model's ACTIVE PRIMARY other than `except`, locked.
async fn active_primary(
    tx: &Transaction<'_>,
    model: &str,
    except: Option<i64>,
) -> Result<Option<(i64, String)>> {
    let row = tx
        .query_opt(
            "SELECT id, version::text FROM kcg.detection_model_versions \
              WHERE model_id = $1 AND role = 'PRIMARY' AND status = 'ACTIVE' AND id IS DISTINCT FROM $2 \
              FOR UPDATE",
            &[&model, &except],
        )
        .await
        .context("cannot read kcg.detection_model_versions")?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

#[allow(clippy::too_many_arguments)]
async fn add(
    url: &Url,
    model: &str,
    version: &str,
    role: Role,
    raw_params: &str,
    activate: bool,
    timeout_ms: Option<u32>,
) -> Result<ExitCode> {
    let chars = version.chars().count();
    if chars == 0 || chars > MAX_ID_CHARS {
        bail!(
            "version label {version:?} of model {model} must have 1 to {MAX_ID_CHARS} characters, it has {chars}"
        );
    }
    let params = parse_params(model, version, raw_params)?;
    let timeout_ms = timeout_ms
        .map(i32::try_from)
        .transpose()
        .context("--timeout-ms is too large")?;

    let mut client = url.connect().await?;
    let tx = client.transaction().await?;
    // Locking the model row serialises add/promote/archive per model.
    let known = tx
        .query_opt(
            "SELECT 1 FROM kcg.detection_models WHERE model_id = $1 FOR UPDATE",
            &[&model],
        )
        .await
        .context("cannot read kcg.detection_models")?;
    if known.is_none() {
        bail!("unknown model {model}: register it first with `runner models add {model}`");
    }
    let existing = tx
        .query_opt(
            "SELECT id, status::text, role::text FROM kcg.detection_model_versions WHERE model_id = $1 AND version = $2",
            &[&model, &version],
        )
        .await?;
    if let Some(r) = existing {
        bail!(
            "model {model} already has a version {version} (id {}, {} {}); nothing was changed",
            r.get::<_, i64>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(2)
        );
    }
    let current = if activate && role == Role::Primary {
        active_primary(&tx, model, None).await?
    } else {
        None
    };
    if let Some((id, current)) = current {
        bail!(
            "model {model} already has an ACTIVE PRIMARY (version {current}, id {id}): a second one is not \
             allowed. Add {version} without --activate, then `runner versions promote <its id>` to replace it"
        );
    }
    let status = if activate { "ACTIVE" } else { "DRAFT" };
    let row = tx
        .query_one(
            "INSERT INTO kcg.detection_model_versions (model_id, version, role, status, params, timeout_ms, activated_at) \
             VALUES ($1, $2, $3, $4::text, $5, $6, CASE WHEN $4::text = 'ACTIVE' THEN now() END) RETURNING id",
            &[&model, &version, &role.as_str(), &status, &params, &timeout_ms],
        )
        .await
        .map_err(|e| version_write_error(e, model, version))?;
    let id: i64 = row.get(0);
    tx.commit()
        .await
        .with_context(|| format!("cannot commit version {version} of model {model}"))?;
    println!("added model {model} version {version} as {status} {role} (id {id})");
    Ok(ExitCode::SUCCESS)
}

/// Constraint violations of `kcg.detection_model_versions` in words.
fn version_write_error(e: tokio_postgres::Error, model: &str, version: &str) -> anyhow::Error {
    let constraint = e
        .as_db_error()
        .and_then(|d| d.constraint())
        .unwrap_or_default()
        .to_owned();
    match (e.code(), constraint.as_str()) {
        (Some(c), "detection_model_versions_one_active_primary")
            if *c == SqlState::UNIQUE_VIOLATION =>
        {
            anyhow::anyhow!(
                "model {model} already has an ACTIVE PRIMARY; a second one is not allowed"
            )
        }
        (Some(c), "detection_model_versions_model_version_key")
            if *c == SqlState::UNIQUE_VIOLATION =>
        {
            anyhow::anyhow!("model {model} already has a version {version}")
        }
        _ => anyhow::Error::new(e)
            .context(format!("cannot write version {version} of model {model}")),
    }
}

async fn promote(url: &Url, id: i64) -> Result<ExitCode> {
    let mut client = url.connect().await?;
    let tx = client.transaction().await?;
    let target = lock_version(&tx, id).await?;
    tx.execute(
        "SELECT 1 FROM kcg.detection_models WHERE model_id = $1 FOR UPDATE",
        &[&target.model_id],
    )
    .await?;
    if target.role == "PRIMARY" && target.status == "ACTIVE" {
        println!(
            "{} is already the ACTIVE PRIMARY; nothing changed",
            target.describe()
        );
        return Ok(ExitCode::SUCCESS);
    }
    check_params(&target.model_id, &target.version, &target.params)
        .with_context(|| format!("cannot promote {}", target.describe()))?;
    // Archive first: the partial unique index allows one ACTIVE PRIMARY at
    // any moment, also inside the transaction.
    let old = active_primary(&tx, &target.model_id, Some(id)).await?;
    if let Some((old_id, _)) = &old {
        tx.execute(
            "UPDATE kcg.detection_model_versions SET status = 'ARCHIVED', archived_at = now() WHERE id = $1",
            &[old_id],
        )
        .await
        .with_context(|| format!("cannot archive version id {old_id}"))?;
    }
    tx.execute(
        "UPDATE kcg.detection_model_versions \
            SET role = 'PRIMARY', status = 'ACTIVE', activated_at = now(), archived_at = NULL \
          WHERE id = $1",
        &[&id],
    )
    .await
    .map_err(|e| version_write_error(e, &target.model_id, &target.version))?;
    tx.commit()
        .await
        .with_context(|| format!("cannot commit the promotion of {}", target.describe()))?;
    println!(
        "promoted model {} version {} (id {id}) from {} {} to ACTIVE PRIMARY",
        target.model_id, target.version, target.status, target.role
    );
    match old {
        Some((old_id, old_version)) => {
            println!("archived the previous PRIMARY, version {old_version} (id {old_id})")
        }
        None => println!("model {} had no ACTIVE PRIMARY before", target.model_id),
    }
    Ok(ExitCode::SUCCESS)
}

async fn archive(url: &Url, id: i64) -> Result<ExitCode> {
    let mut client = url.connect().await?;
    let tx = client.transaction().await?;
    let target = lock_version(&tx, id).await?;
    if target.status == "ARCHIVED" {
        println!("{} is already archived; nothing changed", target.describe());
        return Ok(ExitCode::SUCCESS);
    }
    tx.execute(
        "UPDATE kcg.detection_model_versions SET status = 'ARCHIVED', archived_at = now() WHERE id = $1",
        &[&id],
    )
    .await
    .with_context(|| format!("cannot archive {}", target.describe()))?;
    tx.commit()
        .await
        .with_context(|| format!("cannot commit archiving {}", target.describe()))?;
    println!(
        "archived model {} version {} (id {id}, was {} {})",
        target.model_id, target.version, target.status, target.role
    );
    if target.role == "PRIMARY" && target.status == "ACTIVE" {
        println!(
            "warning: model {} has no ACTIVE PRIMARY now; it and every model depending on it are left out of \
             the plan until a version is promoted",
            target.model_id
        );
    }
    Ok(ExitCode::SUCCESS)
}
