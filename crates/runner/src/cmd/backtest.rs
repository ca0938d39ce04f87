//! `versions backtest`: one SHADOW or CHALLENGER over stored history;
//! arguments, progress and output. What runs and what is stored is
//! `pipeline::Pipeline::backtest`'s.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, TimeDelta, Utc};
use dag_exec::RunStatus;
use pipeline::{BacktestCycle, Pipeline, PipelineConfig};
use registry::Catalog;

use super::cycle::rfc3339;
use crate::args::{Ticks, parse_every, parse_model_timeout, parse_ts, parse_window};
use crate::db::Url;

#[derive(Debug, clap::Args)]
pub struct BacktestArgs {
    /// The SHADOW or CHALLENGER's `detection_model_versions.id` (any
    /// status: a DRAFT is run as if it were ACTIVE).
    id: i64,
    /// First cycle (RFC 3339, 1970 to 2199).
    #[arg(long, value_name = "TS", value_parser = parse_ts)]
    from: DateTime<Utc>,
    /// Last cycle, included when it falls on the step (RFC 3339, 1970 to
    /// 2199).
    #[arg(long, value_name = "TS", value_parser = parse_ts)]
    to: DateTime<Utc>,
    /// Step between cycles, e.g. 5m (the live cycles' period), 1s to 1d.
    #[arg(long, value_parser = parse_every)]
    every: Duration,
    /// The window of positions a cycle reads: what the live cycles used,
    /// 1s to 1d.
    #[arg(long, default_value = "10m", value_parser = parse_window)]
    window: Duration,
    /// Worker threads for models (default: the number of cores).
    #[arg(long)]
    workers: Option<std::num::NonZeroUsize>,
    /// Timeout of a model version without its own `timeout_ms`, 1ms to 1h.
    #[arg(long, default_value = "60s", value_parser = parse_model_timeout)]
    model_timeout: Duration,
}

fn delta(d: Duration) -> Result<TimeDelta> {
    TimeDelta::from_std(d).context("duration out of range")
}

pub async fn run(url: &Url, args: BacktestArgs, catalog: &Catalog) -> Result<ExitCode> {
    if args.to < args.from {
        bail!(
            "--to {} is before --from {}; nothing was run",
            rfc3339(args.to),
            rfc3339(args.from)
        );
    }
    // Lazily, as replay: counted, not built.
    let ticks = Ticks::new(args.from, args.to, delta(args.every)?);
    let total = ticks.remaining();
    let mut exec = dag_exec::ExecConfig {
        default_timeout: args.model_timeout,
        ..Default::default()
    };
    if let Some(w) = args.workers {
        exec.workers = w;
    }
    let config = PipelineConfig {
        window: delta(args.window)?,
        use_registry: true,
        exec,
        ..PipelineConfig::default()
    };
    let pipeline = Pipeline::new(config, catalog.clone());
    let mut client = url.connect().await?;
    let backtest = pipeline.prepare_backtest(&client, args.id).await?;
    let v = backtest.version();
    println!(
        "backtest of model {} {} {} (id {}) over {} cycles, {} to {}, recomputing its PRIMARY and \
         those of its {} upstream models in memory",
        v.model,
        v.role,
        v.version,
        v.id,
        total,
        ts(args.from),
        ts(args.to),
        backtest.plan().model_count().saturating_sub(1),
    );

    let bar = crate::progress::cycles(total);
    let mut counts = [0u64; 4];
    let mut kept = 0u64;
    for at in ticks {
        bar.set_message(ts(at));
        let line = match pipeline.backtest(&mut client, &backtest, at).await? {
            BacktestCycle::LiveRunKept => {
                kept += 1;
                format!("  {}  kept: the version has a live run record here", ts(at))
            }
            BacktestCycle::Ran {
                report, positions, ..
            } => {
                counts[status_index(report.status)] += 1;
                let reason = report
                    .reason
                    .as_ref()
                    .map_or_else(String::new, |r| format!("  {r}"));
                format!(
                    "  {}  {:<7}  {} outputs  {positions} positions  {:.1} ms{reason}",
                    ts(at),
                    report.status.as_str(),
                    report.output_count,
                    report.duration.as_secs_f64() * 1000.0
                )
            }
        };
        bar.suspend(|| println!("{line}"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "backtested {} cycles: {} OK, {} FAILED, {} TIMEOUT, {} SKIPPED, {kept} kept (live runs); \
         stored as backtest run records, replacing this version's earlier backtest of those cycles",
        total - kept,
        counts[0],
        counts[1],
        counts[2],
        counts[3]
    );
    println!(
        "compare it: runner versions compare {} --from {} --to {}",
        args.id,
        ts(args.from),
        ts(args.to)
    );
    Ok(ExitCode::SUCCESS)
}

fn status_index(status: RunStatus) -> usize {
    match status {
        RunStatus::Ok => 0,
        RunStatus::Failed => 1,
        RunStatus::Timeout => 2,
        RunStatus::Skipped => 3,
    }
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
