//! `versions list|add|promote|archive|rollback|compare|backtest|history`:
//! arguments and output; the rules (and the one transaction per change,
//! whose commit NOTIFYs a running `serve` and writes the audit trail) are
//! `registry-store`'s, the comparison and the gate `snapshot::compare`'s,
//! the backtest `pipeline`'s.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use model_api::{ImplementationName, ModelId, Role, VersionLabel};
use registry::{Catalog, VersionStatus};
use registry_store::{ArchiveOutcome, NewVersion, PromoteOutcome};
use serde_json::{Map, Value, json};
use snapshot::compare::{Gate, Request};

use super::backtest::BacktestArgs;
use super::compare::{CompareArgs, WindowArgs};
use super::history::{HistoryArgs, NoteArg, commit};
use super::models::{
    Format, Listed, header, implementation, params_cell, table, unreadable_params,
};
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
        #[arg(long, value_parser = crate::args::name::<ModelId>())]
        model: Option<ModelId>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Add a version: DRAFT, or ACTIVE with --activate.
    Add {
        /// The model (registered with `models add`).
        #[arg(value_parser = crate::args::name::<ModelId>())]
        model: ModelId,
        /// The version label, e.g. 1.2.0: 1 to 64 characters of one line of
        /// text (not blank, no surrounding whitespace, no control
        /// characters).
        #[arg(value_parser = crate::args::name::<VersionLabel>())]
        version: VersionLabel,
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
        /// The implementation of the model this version runs (see `models
        /// plan`): 1 to 64 characters of one line of text; without it, the
        /// model's default implementation.
        #[arg(long, value_name = "NAME", value_parser = crate::args::name::<ImplementationName>())]
        implementation: Option<ImplementationName>,
        /// With --activate: store it even though this build has no code for
        /// the model or the implementation (for a build that will); it is
        /// left out of the plan until then, and its params are not checked.
        #[arg(long)]
        allow_unknown: bool,
        #[command(flatten)]
        note: NoteArg,
    },
    /// Make version ID the ACTIVE PRIMARY of its model, archiving the current
    /// one, in one transaction. A SHADOW or CHALLENGER becomes the PRIMARY.
    /// Prints its comparison with the current PRIMARY first; with --gate,
    /// refuses (exit 1, nothing changed) unless the figures pass.
    Promote(PromoteArgs),
    /// Archive version ID (it stops running from the next cycle).
    Archive {
        /// `detection_model_versions.id`.
        id: i64,
        #[command(flatten)]
        note: NoteArg,
    },
    /// Make the PRIMARY that MODEL's current PRIMARY replaced the ACTIVE
    /// PRIMARY again, archiving the current one, in one transaction (a
    /// second rollback undoes the first).
    Rollback {
        /// The model.
        #[arg(value_parser = crate::args::name::<ModelId>())]
        model: ModelId,
        #[command(flatten)]
        note: NoteArg,
    },
    /// Compare version ID with its model's PRIMARY (or --against) over the
    /// cycles both ran OK: flags at the threshold (both, only one, neither),
    /// agreement, mean absolute difference, the most divergent entities.
    Compare(CompareArgs),
    /// Run version ID (a SHADOW or CHALLENGER) over stored cycles on the
    /// inputs its PRIMARY saw, storing only its own rows as backtest runs.
    Backtest(BacktestArgs),
    /// The audit trail: every change of the registry (also by hand in
    /// psql), with its time, database user and note.
    History(HistoryArgs),
}

#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    /// `detection_model_versions.id`.
    id: i64,
    /// Refuse unless the version has at least --min-cycles cycles compared
    /// with the current PRIMARY, agreement at least --min-agreement over
    /// them, and no FAILED or TIMEOUT run in the window.
    #[arg(long)]
    gate: bool,
    /// Compared cycles the gate requires.
    #[arg(long, value_name = "N", default_value_t = Gate::default().min_cycles,
          value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    min_cycles: i64,
    /// Agreement the gate requires (0 to 1).
    #[arg(long, value_name = "X", default_value_t = Gate::default().min_agreement,
          value_parser = fraction)]
    min_agreement: f64,
    #[command(flatten)]
    window: WindowArgs,
    #[command(flatten)]
    note: NoteArg,
}

/// A number from 0 to 1.
fn fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        Ok(v) => Err(format!("{v} is not between 0 and 1")),
        Err(e) => Err(format!("{s:?} is not a number: {e}")),
    }
}

pub async fn run(url: &Url, args: Args, catalog: &Catalog) -> Result<ExitCode> {
    match args.command {
        Command::List { model, format } => list(url, model.as_ref(), format, catalog).await,
        Command::Add {
            model,
            version,
            role,
            params,
            activate,
            timeout_ms,
            implementation,
            allow_unknown,
            note,
        } => {
            let code = Code {
                implementation: implementation.as_ref(),
                allow_unknown,
                catalog,
            };
            add(
                url, model, version, role, &params, activate, timeout_ms, code, &note,
            )
            .await
        }
        Command::Promote(args) => promote(url, args, catalog).await,
        Command::Archive { id, note } => archive(url, id, &note).await,
        Command::Rollback { model, note } => rollback(url, &model, &note, catalog).await,
        Command::Compare(args) => super::compare::run(url, args).await,
        Command::Backtest(args) => super::backtest::run(url, args, catalog).await,
        Command::History(args) => super::history::run(url, args).await,
    }
}

async fn list(
    url: &Url,
    model: Option<&ModelId>,
    format: Format,
    catalog: &Catalog,
) -> Result<ExitCode> {
    let client = url.connect().await?;
    let versions = registry_store::list_versions(&client, model).await?;
    let time = |t: Option<DateTime<Utc>>| t.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    match format {
        Format::Json => {
            let versions: Vec<Value> = versions
                .iter()
                .map(|v| {
                    json!({
                        "id": v.id,
                        "model_id": v.model,
                        "version": v.version,
                        "role": v.role.as_str(),
                        "status": v.status.as_str(),
                        "params": v.params.as_ref().ok(),
                        "params_error": v.params.as_ref().err().map(|e| &e.problem),
                        "timeout_ms": v.timeout_ms,
                        "implementation": v.implementation,
                        "created_at": time(Some(v.created_at)),
                        "activated_at": time(v.activated_at),
                        "archived_at": time(v.archived_at),
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({ "versions": versions }))?
            );
        }
        Format::Text => {
            if versions.is_empty() {
                println!("no versions");
                return Ok(ExitCode::SUCCESS);
            }
            let mut table_rows = vec![header(&[
                "ID",
                "MODEL",
                "VERSION",
                "ROLE",
                "STATUS",
                "IMPLEMENTATION",
                "TIMEOUT",
                "ACTIVATED",
                "PARAMS",
            ])];
            for v in &versions {
                table_rows.push(vec![
                    v.id.to_string(),
                    v.model.clone(),
                    v.version.clone(),
                    v.role.to_string(),
                    v.status.to_string(),
                    implementation(catalog, &v.model, v.implementation.as_deref()),
                    v.timeout_ms
                        .map_or_else(|| "-".to_owned(), |ms| format!("{ms}ms")),
                    time(v.activated_at).unwrap_or_else(|| "-".to_owned()),
                    params_cell(&v.params),
                ]);
            }
            print!("{}", table(&table_rows));
        }
    }
    Ok(unreadable_params(versions.iter().map(|v| Listed {
        model: &v.model,
        version: &v.version,
        id: v.id,
        params: &v.params,
        archived: v.status == VersionStatus::Archived,
    })))
}

/// `--params`: a JSON object.
fn parse_params(model: &str, version: &str, raw: &str) -> Result<Map<String, Value>> {
    let params: Value = serde_json::from_str(raw).with_context(|| {
        format!("--params of model {model} version {version} is not valid JSON")
    })?;
    match params {
        Value::Object(map) => Ok(map),
        other => {
            bail!("--params of model {model} version {version} must be a JSON object, got {other}")
        }
    }
}

/// Which code a new version runs, and what this build knows of it.
struct Code<'a> {
    implementation: Option<&'a ImplementationName>,
    allow_unknown: bool,
    catalog: &'a Catalog,
}

#[allow(clippy::too_many_arguments)]
async fn add(
    url: &Url,
    model: ModelId,
    version: VersionLabel,
    role: Role,
    raw_params: &str,
    activate: bool,
    timeout_ms: Option<u32>,
    code: Code<'_>,
    note: &NoteArg,
) -> Result<ExitCode> {
    let params = parse_params(model.as_str(), version.as_str(), raw_params)?;
    let new = NewVersion {
        model,
        version,
        role,
        params,
        activate,
        timeout_ms,
        implementation: code.implementation.cloned(),
        allow_unknown: code.allow_unknown,
    };
    let mut client = url.connect().await?;
    let mut tx = note.begin(&mut client).await?;
    let added = registry_store::add_version(&mut tx, code.catalog, &new).await?;
    commit(tx).await?;
    let runs = implementation(
        code.catalog,
        new.model.as_str(),
        code.implementation.map(ImplementationName::as_str),
    );
    println!(
        "added model {} version {} as {} {role}, implementation {runs} (id {})",
        new.model, new.version, added.status, added.id
    );
    Ok(ExitCode::SUCCESS)
}

async fn promote(url: &Url, args: PromoteArgs, catalog: &Catalog) -> Result<ExitCode> {
    let id = args.id;
    let mut client = url.connect().await?;
    let mut tx = args.note.begin(&mut client).await?;
    let target = registry_store::version(&tx, id).await?;
    let already = target.role == Role::Primary && target.status == VersionStatus::Active;
    if !already {
        let gate = Gate {
            min_cycles: args.min_cycles,
            min_agreement: args.min_agreement,
        };
        let request = Request {
            threshold: args.window.threshold,
            top: 5,
            ..Request::new(id)
        };
        let verdict = match super::compare::figures(&tx, &request, &args.window).await {
            Ok(report) => {
                print!("{}", report.render_text());
                let verdict = gate.judge(&report.comparison);
                if !args.gate {
                    println!("(without --gate the figures are shown, not enforced)");
                }
                print!("{}", verdict.render_text());
                verdict.failures()
            }
            // Nothing to compare with (the model has no ACTIVE PRIMARY):
            // no figures, and a gate cannot pass.
            Err(e) => match e.downcast_ref::<snapshot::SnapshotError>() {
                Some(none @ snapshot::SnapshotError::NoBaseline { .. }) => {
                    println!("no comparison: {none}");
                    vec![format!("a comparison with the current PRIMARY ({none})")]
                }
                _ => return Err(e),
            },
        };
        if args.gate && !verdict.is_empty() {
            bail!(
                "the promotion gate refused version {id}: {}; nothing was changed",
                verdict.join("; ")
            );
        }
    }
    let outcome = registry_store::promote(&mut tx, catalog, id).await?;
    commit(tx).await?;
    match outcome {
        PromoteOutcome::AlreadyPrimary(v) => {
            println!("{v} is already the ACTIVE PRIMARY; nothing changed");
        }
        PromoteOutcome::Promoted(p) => {
            println!(
                "promoted model {} version {} (id {id}) from {} {} to ACTIVE PRIMARY",
                p.model, p.version, p.from_status, p.from_role
            );
            match p.archived {
                Some((old_id, old_version)) => {
                    println!("archived the previous PRIMARY, version {old_version} (id {old_id})")
                }
                None => println!("model {} had no ACTIVE PRIMARY before", p.model),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn archive(url: &Url, id: i64, note: &NoteArg) -> Result<ExitCode> {
    let mut client = url.connect().await?;
    let mut tx = note.begin(&mut client).await?;
    let outcome = registry_store::archive(&mut tx, id).await?;
    commit(tx).await?;
    match &outcome {
        ArchiveOutcome::AlreadyArchived(v) => {
            println!("{v} is already archived; nothing changed");
        }
        ArchiveOutcome::Archived(was) => {
            println!(
                "archived model {} version {} (id {id}, was {} {})",
                was.model, was.version, was.status, was.role
            );
        }
    }
    if outcome.left_without_primary() {
        let model = match &outcome {
            ArchiveOutcome::Archived(v) | ArchiveOutcome::AlreadyArchived(v) => &v.model,
        };
        println!(
            "warning: model {model} has no ACTIVE PRIMARY now; it and every model depending on it are left out of \
             the plan until a version is promoted"
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn rollback(
    url: &Url,
    model: &ModelId,
    note: &NoteArg,
    catalog: &Catalog,
) -> Result<ExitCode> {
    let mut client = url.connect().await?;
    let mut tx = note.begin(&mut client).await?;
    let done = registry_store::rollback(&mut tx, catalog, model).await?;
    commit(tx).await?;
    println!(
        "rolled back model {}: version {} (id {}) is the ACTIVE PRIMARY again; version {} (id {}) is archived",
        done.model, done.restored.1, done.restored.0, done.archived.1, done.archived.0
    );
    Ok(ExitCode::SUCCESS)
}
