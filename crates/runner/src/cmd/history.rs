//! `versions history` and `--note`: the audit trail of the registry
//! (`registry_store::history`), and the note a change is recorded with.

use std::process::ExitCode;

use anyhow::{Context, Result};
use model_api::ModelId;
use serde_json::{Value, json};
use tokio_postgres::{Client, Transaction};

use super::models::{Format, header, table};
use crate::db::Url;

/// `--note`, for every command that changes the registry.
#[derive(Debug, Clone, clap::Args)]
pub struct NoteArg {
    /// Why: recorded with the change in the audit trail (`runner versions
    /// history`), with the time and the database user.
    #[arg(long)]
    pub note: Option<String>,
}

impl NoteArg {
    /// A transaction whose registry changes are recorded with the note;
    /// commit it with [`commit`].
    pub async fn begin<'a>(&self, client: &'a mut Client) -> Result<Transaction<'a>> {
        Ok(registry_store::noted(client, self.note.as_deref()).await?)
    }
}

/// Commits a change begun with [`NoteArg::begin`].
pub async fn commit(tx: Transaction<'_>) -> Result<()> {
    tx.commit().await.context("cannot commit the change")
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Only this model's changes.
    model: Option<String>,
    /// The newest N changed rows (listed oldest first).
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(i64).range(1..))]
    limit: i64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub async fn run(url: &Url, args: HistoryArgs) -> Result<ExitCode> {
    let model = args
        .model
        .as_deref()
        .map(ModelId::new)
        .transpose()
        .context("cannot read the model")?;
    let client = url.connect().await?;
    let entries = registry_store::history(&client, model.as_ref(), args.limit).await?;
    let time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    match args.format {
        Format::Json => {
            let entries: Vec<Value> = entries
                .iter()
                .map(|e| {
                    json!({
                        "id": e.id,
                        "changed_at": time(e.changed_at),
                        "txid": e.txid,
                        "db_user": e.db_user,
                        "action": e.action.as_str(),
                        "operation": e.operation.as_str(),
                        "table": e.table,
                        "model_id": e.model_id,
                        "version_id": e.version_id,
                        "change": e.summary(),
                        "note": e.note,
                        "old_row": e.old_row,
                        "new_row": e.new_row,
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({ "history": entries }))?
            );
        }
        Format::Text => {
            if entries.is_empty() {
                println!("no changes recorded");
                return Ok(ExitCode::SUCCESS);
            }
            let mut rows = vec![header(&[
                "CHANGED_AT",
                "ACTION",
                "MODEL",
                "VERSION",
                "CHANGE",
                "USER",
                "NOTE",
            ])];
            for e in &entries {
                rows.push(vec![
                    time(e.changed_at),
                    if e.action == registry_store::Action::Manual {
                        format!("manual {}", e.operation)
                    } else {
                        e.action.to_string()
                    },
                    e.model_id.clone().unwrap_or_else(|| "-".to_owned()),
                    e.version_id
                        .map_or_else(|| "-".to_owned(), |v| format!("id {v}")),
                    e.summary(),
                    e.db_user.clone(),
                    e.note.clone().unwrap_or_default(),
                ]);
            }
            print!("{}", table(&rows));
        }
    }
    Ok(ExitCode::SUCCESS)
}
