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
    /// history`), with the time and the database user. One line of text, at
    /// most 500 characters.
    #[arg(long, value_parser = crate::args::name::<crate::args::Note>())]
    pub note: Option<crate::args::Note>,
}

impl NoteArg {
    /// A transaction whose registry changes are recorded with the note;
    /// commit it with [`commit`].
    pub async fn begin<'a>(&self, client: &'a mut Client) -> Result<Transaction<'a>> {
        Ok(registry_store::noted(client, self.note.as_ref().map(|n| n.0.as_str())).await?)
    }
}

/// Commits a change begun with [`NoteArg::begin`].
pub async fn commit(tx: Transaction<'_>) -> Result<()> {
    tx.commit().await.context("cannot commit the change")
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Only this model's changes.
    #[arg(value_parser = crate::args::name::<ModelId>())]
    model: Option<ModelId>,
    /// The newest N changed rows (listed oldest first).
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(i64).range(1..=100_000))]
    limit: i64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub async fn run(url: &Url, args: HistoryArgs) -> Result<ExitCode> {
    let client = url.connect().await?;
    let entries = registry_store::history(&client, args.model.as_ref(), args.limit).await?;
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
                        "unreadable": e.unreadable,
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
                    e.model_id
                        .as_deref()
                        .map_or_else(|| "-".to_owned(), one_line),
                    e.version_id
                        .map_or_else(|| "-".to_owned(), |v| format!("id {v}")),
                    match &e.unreadable {
                        None => e.summary(),
                        Some(_) => format!("{} (params cannot be read)", e.summary()),
                    },
                    e.db_user.clone(),
                    e.note.as_deref().map(one_line).unwrap_or_default(),
                ]);
            }
            print!("{}", table(&rows));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `text` as one table cell: as it is, or escaped (`"a\nb"`) when it holds
/// a control character (a note or a name typed in psql before V052), so a
/// newline cannot break the table in two.
fn one_line(text: &str) -> String {
    if text
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        format!("{text:?}")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_with_a_control_character_is_escaped() {
        assert_eq!(one_line("recall +4%"), "recall +4%");
        assert_eq!(one_line("two\nlines"), "\"two\\nlines\"");
        assert_eq!(one_line("a\u{2028}b"), "\"a\\u{2028}b\"");
    }
}
