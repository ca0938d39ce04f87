//! `models list|plan|add|add-reference|depend|undepend|enable|disable`:
//! arguments and output; the rules (and the audit trail of every change)
//! are `registry-store`'s.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use model_api::{InputKey, ModelId};
use registry::{Catalog, UnreadableParams};
use registry_store::{Edge, EnabledOutcome, UndependOutcome};
use serde_json::{Value, json};

use super::history::{NoteArg, commit};
use crate::db::Url;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// ACTIVE versions of enabled models, by model and role, params summarised.
    List(FormatArg),
    /// What the next cycle would run: the levels, then every dependency cycle
    /// and every left-out model or version with its reason.
    Plan(FormatArg),
    /// Register a model id (its code must be in this build to be planned).
    Add {
        /// The model id: 1 to 64 characters of one line of text (not blank,
        /// no surrounding whitespace, no control characters).
        #[arg(value_parser = crate::args::name::<ModelId>())]
        model: ModelId,
        /// One line saying what the model does.
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        note: NoteArg,
    },
    /// Register the reference detectors built into this runner (track_features,
    /// identity, spoofing_score, identity_collision, risk): each model, its
    /// dependencies, and an ACTIVE PRIMARY version 1.0.0 with the default
    /// params. Idempotent; never replaces a model's existing ACTIVE PRIMARY.
    AddReference(NoteArg),
    /// Declare that MODEL consumes UPSTREAM's PRIMARY result under KEY.
    Depend(EdgeArgs),
    /// Remove the declaration that MODEL consumes UPSTREAM's result under KEY.
    Undepend(EdgeArgs),
    /// Enable MODEL: its ACTIVE versions run from the next cycle.
    Enable {
        /// The model.
        #[arg(value_parser = crate::args::name::<ModelId>())]
        model: ModelId,
        #[command(flatten)]
        note: NoteArg,
    },
    /// Disable MODEL: it and every model depending on it are left out of the
    /// plan from the next cycle (their versions are recorded SKIPPED).
    Disable {
        /// The model.
        #[arg(value_parser = crate::args::name::<ModelId>())]
        model: ModelId,
        #[command(flatten)]
        note: NoteArg,
    },
}

/// An edge: MODEL reads UPSTREAM's PRIMARY result under KEY.
#[derive(Debug, clap::Args)]
pub struct EdgeArgs {
    /// The consuming model.
    #[arg(value_parser = crate::args::name::<ModelId>())]
    model: ModelId,
    /// The upstream model.
    #[arg(long = "on", value_name = "UPSTREAM", value_parser = crate::args::name::<ModelId>())]
    upstream: ModelId,
    /// The input key under which MODEL reads the upstream result (1 to 64
    /// characters of one line of text).
    #[arg(long = "as", value_name = "KEY", value_parser = crate::args::name::<InputKey>())]
    input_key: InputKey,
    #[command(flatten)]
    note: NoteArg,
}

impl EdgeArgs {
    fn edge(&self) -> Edge {
        Edge {
            model: self.model.clone(),
            upstream: self.upstream.clone(),
            input_key: self.input_key.clone(),
        }
    }
}

/// Output format of the read-only commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    Text,
    /// JSON for scripts.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct FormatArg {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub async fn run(url: &Url, args: Args, catalog: &Catalog) -> Result<ExitCode> {
    match args.command {
        Command::List(f) => list(url, f.format, catalog).await,
        Command::Plan(f) => plan(url, f.format, catalog).await,
        Command::Add {
            model,
            description,
            note,
        } => add(url, &model, description.as_deref(), &note, catalog).await,
        Command::AddReference(note) => add_reference(url, &note).await,
        Command::Depend(edge) => depend(url, &edge).await,
        Command::Undepend(edge) => undepend(url, &edge).await,
        Command::Enable { model, note } => set_enabled(url, &model, true, &note).await,
        Command::Disable { model, note } => set_enabled(url, &model, false, &note).await,
    }
}

async fn add_reference(url: &Url, note: &NoteArg) -> Result<ExitCode> {
    let mut client = url.connect().await?;
    let mut tx = note.begin(&mut client).await?;
    let done = pipeline::register_reference_models(&mut tx).await?;
    commit(tx).await?;
    println!(
        "reference models: {} models, {} dependencies, {} PRIMARY versions {} added \
         (what already existed was left alone)",
        done.models,
        done.edges,
        done.primaries,
        pipeline::REFERENCE_VERSION
    );
    Ok(ExitCode::SUCCESS)
}

async fn list(url: &Url, format: Format, catalog: &Catalog) -> Result<ExitCode> {
    let client = url.connect().await?;
    let snapshot = registry_store::load(&client).await?;
    let by_model = registry::versions_by_model(&snapshot);
    match format {
        Format::Json => {
            let models: Vec<Value> = by_model
                .iter()
                .map(|(model, versions)| {
                    let versions: Vec<Value> = versions
                        .iter()
                        .map(|v| {
                            json!({
                                "id": v.id,
                                "version": v.version,
                                "role": v.role.as_str(),
                                "timeout_ms": v.timeout_ms,
                                "implementation": v.implementation,
                                "runs": catalog
                                    .resolve(model, v.implementation.as_deref())
                                    .ok()
                                    .map(|r| r.name.as_str()),
                                "params": v.params.as_ref().ok(),
                                "params_error": v.params.as_ref().err().map(|e| &e.problem),
                            })
                        })
                        .collect();
                    json!({ "model_id": model, "versions": versions })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({ "models": models }))?
            );
        }
        Format::Text => {
            if by_model.is_empty() {
                println!("no ACTIVE versions of enabled models");
                return Ok(ExitCode::SUCCESS);
            }
            let mut rows = vec![header(&[
                "MODEL",
                "ROLE",
                "VERSION",
                "ID",
                "IMPLEMENTATION",
                "TIMEOUT",
                "PARAMS",
            ])];
            for (model, versions) in &by_model {
                for v in versions {
                    rows.push(vec![
                        (*model).to_owned(),
                        v.role.to_string(),
                        v.version.clone(),
                        v.id.to_string(),
                        implementation(catalog, model, v.implementation.as_deref()),
                        v.timeout_ms
                            .map_or_else(|| "-".to_owned(), |ms| format!("{ms}ms")),
                        params_cell(&v.params),
                    ]);
                }
            }
            print!("{}", table(&rows));
        }
    }
    Ok(unreadable_params(snapshot.versions.iter().map(|v| {
        Listed {
            model: &v.model_id,
            version: &v.version,
            id: v.id,
            params: &v.params,
            archived: false,
        }
    })))
}

/// A listed version, as [`unreadable_params`] reports it.
pub(crate) struct Listed<'a> {
    pub model: &'a str,
    pub version: &'a str,
    pub id: i64,
    pub params: &'a Result<Value, UnreadableParams>,
    pub archived: bool,
}

/// A listing's exit status: after the listing, each version whose params
/// cannot be read is an error on stderr naming it (exit 1), or only a note
/// when it is archived (it runs nowhere); the other versions were listed
/// all the same.
pub(crate) fn unreadable_params<'a>(versions: impl Iterator<Item = Listed<'a>>) -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    for v in versions {
        let Err(e) = v.params else {
            continue;
        };
        let (model, version, id) = (v.model, v.version, v.id);
        if v.archived {
            eprintln!(
                "note: params of the archived model {model:?} version {version:?} (id {id}) \
                 cannot be read: {}",
                e.problem
            );
            continue;
        }
        eprintln!(
            "error: params of model {model:?} version {version:?} (id {id}) in \
             kcg.detection_model_versions cannot be read: {}; the version is left out of every \
             cycle until it is archived (`runner versions archive {id}`) or its params are \
             replaced in psql",
            e.problem
        );
        code = ExitCode::FAILURE;
    }
    code
}

/// The PARAMS cell of a listing.
pub(crate) fn params_cell(params: &Result<Value, UnreadableParams>) -> String {
    match params {
        Ok(p) => summarise_params(p),
        Err(_) => "(cannot be read, see below)".to_owned(),
    }
}

async fn plan(url: &Url, format: Format, catalog: &Catalog) -> Result<ExitCode> {
    let client = url.connect().await?;
    let snapshot = registry_store::load(&client).await?;
    let plan = registry::plan(catalog, &snapshot);
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&plan_json(&plan))?),
        Format::Text => print!("{}", plan_text(&plan)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The implementation a version runs, as `versions list` and `models list`
/// show it: the stored name, or the default's (`v1 (default)`); one this
/// build lacks says so.
pub(crate) fn implementation(catalog: &Catalog, model: &str, stored: Option<&str>) -> String {
    match (stored, catalog.resolve(model, stored)) {
        (Some(name), Ok(_)) => name.to_owned(),
        (Some(name), Err(_)) => format!("{name} (not in this build)"),
        (None, Ok(resolved)) => format!("{} (default)", resolved.name),
        (None, Err(_)) => "(default)".to_owned(),
    }
}

fn version_json(v: &registry::PlannedVersion) -> Value {
    json!({
        "version_id": v.version_id,
        "version": v.version,
        "role": v.role.as_str(),
        "implementation": v.implementation.as_str(),
        "timeout_ms": v.timeout.map(|t| t.as_millis() as u64),
    })
}

fn plan_json(plan: &registry::Plan) -> Value {
    let levels: Vec<Value> = plan
        .levels()
        .iter()
        .map(|level| {
            Value::Array(
                level
                    .iter()
                    .map(|m| {
                        json!({
                            "model_id": m.model_id.as_str(),
                            "primary": version_json(&m.primary),
                            "others": m.others.iter().map(version_json).collect::<Vec<_>>(),
                            "inputs": m.inputs.iter().map(|i| json!({
                                "upstream": i.upstream.as_str(),
                                "input_key": i.input_key,
                            })).collect::<Vec<_>>(),
                        })
                    })
                    .collect(),
            )
        })
        .collect();
    let cycles: Vec<Value> = plan
        .cycles()
        .iter()
        .map(|c| json!({ "path": c.to_string(), "models": c.models }))
        .collect();
    let excluded: Vec<Value> = plan
        .excluded()
        .iter()
        .map(|e| {
            json!({
                "model_id": e.model_id,
                "version_id": e.version_id,
                "role": e.role.map(|r| r.as_str()),
                "reason": e.reason.to_string(),
                // A whole model: the versions recorded SKIPPED with it.
                "versions": e.versions.iter().map(|v| json!({
                    "version_id": v.id,
                    "version": v.version,
                    "role": v.role.as_str(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "levels": levels, "cycles": cycles, "excluded": excluded })
}

fn plan_text(plan: &registry::Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "plan: {}, {} in {}",
        counted(plan.model_count(), "model"),
        counted(plan.version_count(), "version"),
        counted(plan.levels().len(), "level")
    );
    for (i, level) in plan.levels().iter().enumerate() {
        let _ = writeln!(out, "level {i}");
        let mut rows = Vec::new();
        for m in level {
            let versions: Vec<String> = std::iter::once(&m.primary)
                .chain(&m.others)
                .map(|v| {
                    format!(
                        "{} {} (id {}, {})",
                        v.role, v.version, v.version_id, v.implementation
                    )
                })
                .collect();
            let inputs: Vec<String> = m
                .inputs
                .iter()
                .map(|i| {
                    if i.input_key == i.upstream.as_str() {
                        i.input_key.clone()
                    } else {
                        format!("{} as {}", i.upstream, i.input_key)
                    }
                })
                .collect();
            let inputs = if inputs.is_empty() {
                String::new()
            } else {
                format!("<- {}", inputs.join(", "))
            };
            rows.push(vec![
                format!("  {}", m.model_id),
                versions.join(", "),
                inputs,
            ]);
        }
        out.push_str(&table(&rows));
    }
    if !plan.cycles().is_empty() {
        let _ = writeln!(out, "dependency cycles (each model depends on the next)");
        for c in plan.cycles() {
            let _ = writeln!(out, "  {c}");
        }
    }
    if !plan.excluded().is_empty() {
        let _ = writeln!(out, "left out");
        let rows: Vec<Vec<String>> = plan
            .excluded()
            .iter()
            .map(|e| {
                let what = match (e.version_id, e.role) {
                    (Some(id), Some(role)) => {
                        format!("  {} {role} version id {id}", display_id(&e.model_id))
                    }
                    (Some(id), None) => format!("  {} version id {id}", display_id(&e.model_id)),
                    _ => format!("  {}", display_id(&e.model_id)),
                };
                vec![what, e.reason.to_string()]
            })
            .collect();
        out.push_str(&table(&rows));
    }
    out
}

/// `1 model`, `2 models`.
fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A stored model id as shown to people: the empty id would be invisible.
fn display_id(model_id: &str) -> String {
    if model_id.is_empty() {
        "\"\"".to_owned()
    } else {
        model_id.to_owned()
    }
}

async fn add(
    url: &Url,
    model_id: &ModelId,
    description: Option<&str>,
    note: &NoteArg,
    catalog: &Catalog,
) -> Result<ExitCode> {
    let mut client = url.connect().await?;
    let mut tx = note.begin(&mut client).await?;
    registry_store::add_model(&mut tx, model_id, description).await?;
    commit(tx).await?;
    println!("added model {model_id}");
    if !catalog.contains(model_id.as_str()) {
        println!(
            "note: this build has no code for {model_id}; it will be left out of the plan until a build that has runs"
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn depend(url: &Url, args: &EdgeArgs) -> Result<ExitCode> {
    let edge = args.edge();
    let mut client = url.connect().await?;
    let mut tx = args.note.begin(&mut client).await?;
    registry_store::depend(&mut tx, &edge).await?;
    commit(tx).await?;
    println!(
        "{} now reads {}'s PRIMARY result as {}",
        edge.model, edge.upstream, edge.input_key
    );
    Ok(ExitCode::SUCCESS)
}

async fn undepend(url: &Url, args: &EdgeArgs) -> Result<ExitCode> {
    let edge = args.edge();
    let mut client = url.connect().await?;
    let mut tx = args.note.begin(&mut client).await?;
    let outcome = registry_store::undepend(&mut tx, &edge).await?;
    commit(tx).await?;
    match outcome {
        UndependOutcome::Removed => println!(
            "{} no longer reads {}'s result as {}",
            edge.model, edge.upstream, edge.input_key
        ),
        UndependOutcome::NotFound => println!(
            "{} did not read {}'s result as {}; nothing changed",
            edge.model, edge.upstream, edge.input_key
        ),
    }
    Ok(ExitCode::SUCCESS)
}

async fn set_enabled(
    url: &Url,
    model: &ModelId,
    enabled: bool,
    note: &NoteArg,
) -> Result<ExitCode> {
    let mut client = url.connect().await?;
    let mut tx = note.begin(&mut client).await?;
    let outcome = registry_store::set_enabled(&mut tx, model, enabled).await?;
    commit(tx).await?;
    match (outcome, enabled) {
        (EnabledOutcome::Changed, true) => {
            println!("enabled model {model}: its ACTIVE versions run from the next cycle");
        }
        (EnabledOutcome::Changed, false) => println!(
            "disabled model {model}: it and every model depending on it are left out of the plan \
             from the next cycle"
        ),
        (EnabledOutcome::Unchanged, true) => {
            println!("model {model} is already enabled; nothing changed");
        }
        (EnabledOutcome::Unchanged, false) => {
            println!("model {model} is already disabled; nothing changed");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A header row.
pub(crate) fn header(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// Rows as left-aligned columns separated by two spaces, trailing spaces
/// trimmed, control characters escaped (the first row is the header), by
/// the workspace's one table renderer.
pub(crate) fn table(rows: &[Vec<String>]) -> String {
    let Some((head, body)) = rows.split_first() else {
        return String::new();
    };
    let columns: Vec<(&str, bool)> = head.iter().map(|h| (h.as_str(), false)).collect();
    let mut t = snapshot::table::Table::new(&columns);
    for row in body {
        t.row(row.clone());
    }
    t.render()
}

/// `key=value, ...` in at most 60 characters.
pub(crate) fn summarise_params(params: &Value) -> String {
    const MAX: usize = 60;
    let text = match params {
        Value::Object(map) if map.is_empty() => "{}".to_owned(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    };
    if text.chars().count() <= MAX {
        text
    } else {
        let mut cut: String = text.chars().take(MAX - 1).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_summarised_in_one_short_line() {
        assert_eq!(summarise_params(&json!({})), "{}");
        assert_eq!(summarise_params(&json!({"a": 1, "b": "x"})), "a=1, b=\"x\"");
        let long = summarise_params(&json!({"k": "x".repeat(100)}));
        assert_eq!(long.chars().count(), 60);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn tables_align_columns() {
        let rows = vec![header(&["A", "BB"]), vec!["long".into(), "x".into()]];
        assert_eq!(table(&rows), "A     BB\nlong  x\n");
    }
}
