//! `snapshot hourly|diagnostic`: print a health report; with
//! `--fail-on-alarm`, exit 2 when any section is in alarm (for cron and
//! alerting).

use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use crate::args::parse_ts;
use crate::db::Url;

/// Exit code of `--fail-on-alarm` when a section is in alarm.
pub const ALARM_EXIT: u8 = 2;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    kind: KindArg,
}

#[derive(Debug, clap::Subcommand)]
enum KindArg {
    /// The hour before --at: [at - 1h, at).
    Hourly(Opts),
    /// The 24 hours before --at, with raw rows (top vessels, CRITICAL OPEN
    /// collisions, FAILED/TIMEOUT runs, FAILED stages).
    Diagnostic(Opts),
}

#[derive(Debug, clap::Args)]
struct Opts {
    /// End of the window (exclusive), RFC 3339, e.g. 2022-01-03T01:00:00Z,
    /// 1970 to 2199. Defaults to now.
    #[arg(long, value_name = "TS", value_parser = parse_ts)]
    at: Option<DateTime<Utc>>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Write the report to FILE instead of standard output (replaced
    /// whole; its path is printed on stderr).
    #[arg(long, value_name = "FILE")]
    output: Option<std::path::PathBuf>,

    /// Exit with status 2 when any section is in alarm, naming them on stderr.
    #[arg(long)]
    fail_on_alarm: bool,

    /// A cycle whose stages take longer than this in total is over budget.
    #[arg(long, value_name = "N", default_value_t = snapshot::DEFAULT_BUDGET_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    budget_ms: u64,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    /// Aligned text.
    Text,
    /// JSON (schema documented in the snapshot crate, `schema_version`).
    Json,
    /// One self-contained HTML page with plots (inline CSS and SVG, no
    /// script, no network).
    Html,
}

pub async fn run(url: &Url, args: Args) -> Result<ExitCode> {
    let (kind, opts) = match args.kind {
        KindArg::Hourly(o) => (snapshot::Kind::Hourly, o),
        KindArg::Diagnostic(o) => (snapshot::Kind::Diagnostic, o),
    };
    let at = opts.at.unwrap_or_else(Utc::now);
    let mut client = url.connect().await?;
    // One consistent view for all five sections, and a guarantee that the
    // report writes nothing.
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let options = snapshot::Options {
        budget_ms: opts.budget_ms,
    };
    let (report, rendered) = match opts.format {
        Format::Text => {
            let report = snapshot::report(&tx, kind, at, &options).await?;
            let text = report.render_text();
            (report, text)
        }
        Format::Json => {
            let report = snapshot::report(&tx, kind, at, &options).await?;
            let json = format!("{}\n", report.render_json()?);
            (report, json)
        }
        Format::Html => snapshot::html_report(&tx, kind, at, &options).await?,
    };
    tx.commit().await?;
    match &opts.output {
        None => print!("{rendered}"),
        Some(path) => {
            std::fs::write(path, &rendered)
                .with_context(|| format!("cannot write the report to {}", path.display()))?;
            eprintln!("snapshot {}: written to {}", kind.as_str(), path.display());
        }
    }
    if opts.fail_on_alarm && report.in_alarm() {
        eprintln!(
            "snapshot {}: {} alarm(s) in {}",
            kind.as_str(),
            report.alarms.len(),
            report.sections_in_alarm().join(", ")
        );
        for alarm in &report.alarms {
            eprintln!("ALARM {alarm}");
        }
        return Ok(ExitCode::from(ALARM_EXIT));
    }
    Ok(ExitCode::SUCCESS)
}
