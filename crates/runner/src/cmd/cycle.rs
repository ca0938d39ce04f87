//! `cycle` and `replay`, and what they share with `serve`: the options of
//! a cycle, building the pipeline, running one cycle on a pooled
//! connection, the summary line.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, TimeDelta, Utc};
use pipeline::{CycleOutcome, Limits, Pipeline, PipelineConfig, RunBy, RunOptions};

use crate::args::{
    Ticks, parse_cache_ttl, parse_every, parse_lock_timeout, parse_model_timeout,
    parse_resolve_after, parse_statement_timeout, parse_ts, parse_window,
};
use crate::db::{Pool, Url};

/// Options every cycle command shares.
#[derive(Debug, clap::Args)]
pub struct CycleOpts {
    /// Length of the window of positions a cycle reads: (at - window, at];
    /// 1s to 1d.
    #[arg(long, default_value = "10m", value_parser = parse_window)]
    window: Duration,
    /// Connections in the pool (a cycle checks out exactly one).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pool_size: u32,
    /// Worker threads for models (default: the number of cores).
    #[arg(long)]
    workers: Option<std::num::NonZeroUsize>,
    /// Timeout of a model version without its own `timeout_ms`; 1ms to 1h.
    #[arg(long, default_value = "60s", value_parser = parse_model_timeout)]
    model_timeout: Duration,
    /// TTL of the params cache; 1s to 1d.
    #[arg(long, default_value = "5m", value_parser = parse_cache_ttl)]
    cache_ttl: Duration,
    /// An OPEN identity collision not seen for this long is RESOLVED; 1s
    /// to 30d.
    #[arg(long, default_value = "30m", value_parser = parse_resolve_after)]
    resolve_collisions_after: Duration,
    /// The longest one statement of a cycle may run (statement_timeout),
    /// 1ms to 1h; by default 10m, for serve half of --every up to 10m.
    #[arg(long, value_parser = parse_statement_timeout)]
    statement_timeout: Option<Duration>,
    /// The longest a cycle's statement may wait for a lock, e.g. a table
    /// locked in psql (lock_timeout), 1ms to 1h; by default 1m, for serve a
    /// quarter of --every up to 1m. The cycle then fails with an error
    /// naming the table and the limit.
    #[arg(long, value_parser = parse_lock_timeout)]
    lock_timeout: Option<Duration>,
}

/// Timeouts of `cycle` and `replay`, which nobody waits for on a schedule.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(600);
const LOCK_TIMEOUT: Duration = Duration::from_secs(60);

impl CycleOpts {
    /// The limits of a cycle: the flags, else `statement` and `lock`. The
    /// server ends a cycle's session left idle in its transaction for as
    /// long as `idle` (a process stopped mid-cycle), so its locks go.
    pub fn limits(&self, statement: Duration, lock: Duration, idle: Duration) -> Limits {
        Limits {
            statement_timeout: Some(self.statement_timeout.unwrap_or(statement)),
            lock_timeout: Some(self.lock_timeout.unwrap_or(lock)),
            idle_in_transaction_timeout: Some(idle),
        }
    }

    /// `--statement-timeout`, when given.
    pub fn statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout
    }

    /// Connections in the pool.
    pub fn pool_size(&self) -> u32 {
        self.pool_size
    }
}

#[derive(Debug, clap::Args)]
pub struct CycleArgs {
    /// The cycle's time (RFC 3339, e.g. 2022-01-03T00:10:00Z), 1970 to 2199;
    /// a leap second (23:59:60) is refused.
    #[arg(long, value_parser = parse_ts)]
    at: DateTime<Utc>,
    #[command(flatten)]
    opts: CycleOpts,
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// First cycle (RFC 3339, 1970 to 2199).
    #[arg(long, value_parser = parse_ts)]
    from: DateTime<Utc>,
    /// Last cycle, included when it falls on the step (RFC 3339, 1970 to
    /// 2199).
    #[arg(long, value_parser = parse_ts)]
    to: DateTime<Utc>,
    /// Step between cycles, e.g. 5m; 1s to 1d.
    #[arg(long, value_parser = parse_every)]
    every: Duration,
    #[command(flatten)]
    opts: CycleOpts,
}

pub fn delta(d: Duration) -> Result<TimeDelta> {
    TimeDelta::from_std(d).context("duration out of range")
}

pub fn pipeline(
    opts: &CycleOpts,
    use_registry: bool,
    limits: Limits,
    catalog: &registry::Catalog,
) -> Result<Pipeline> {
    let mut exec = dag_exec::ExecConfig {
        default_timeout: opts.model_timeout,
        ..Default::default()
    };
    if let Some(w) = opts.workers {
        exec.workers = w;
    }
    let config = PipelineConfig {
        window: delta(opts.window)?,
        use_registry,
        collision_resolve_after: delta(opts.resolve_collisions_after)?,
        exec,
        cache_ttl: opts.cache_ttl,
        limits,
        ..PipelineConfig::default()
    };
    Ok(Pipeline::new(config, catalog.clone()))
}

/// One line per cycle, for logs and for people.
pub fn summary(o: &CycleOutcome) -> String {
    let status = match &o.failed {
        None => "ok".to_owned(),
        Some(f) => format!("FAILED at stage {}: {}", f.stage, f.detail()),
    };
    let registry = match (&o.registry, &o.failed) {
        (Some(r), _) => format!(
            "registry {} OK {} FAILED {} TIMEOUT {} SKIPPED",
            r.count(dag_exec::RunStatus::Ok),
            r.count(dag_exec::RunStatus::Failed),
            r.count(dag_exec::RunStatus::Timeout),
            r.count(dag_exec::RunStatus::Skipped)
        ),
        (None, Some(f)) if f.stage == pipeline::Stage::ModelRegistry => {
            "registry FAILED".to_owned()
        }
        (None, Some(f)) => format!("registry not run (stage {} failed)", f.stage.number()),
        (None, None) => "registry off".to_owned(),
    };
    format!(
        "cycle {} {status}: {} fixes, {} kept, {} vessels, {} events, {registry}, {:.0} ms",
        o.cycle_ts
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        o.clean.input,
        o.clean.kept,
        o.vessels,
        o.events,
        o.duration.as_secs_f64() * 1000.0
    )
}

/// Runs the cycle `at` on one connection of `pool`. The error is the
/// pipeline's own, when it is one, so callers can tell a lost lease.
pub async fn run_one(
    pipeline: &Pipeline,
    pool: &Pool,
    at: DateTime<Utc>,
    opts: &RunOptions,
) -> Result<CycleOutcome> {
    let mut conn = pool.get().await?;
    Ok(pipeline.run_cycle_with(&mut conn, at, opts).await?)
}

fn limits(opts: &CycleOpts) -> Limits {
    let statement = opts.statement_timeout.unwrap_or(STATEMENT_TIMEOUT);
    opts.limits(STATEMENT_TIMEOUT, LOCK_TIMEOUT, statement)
}

fn run_by(run_by: RunBy) -> RunOptions {
    RunOptions {
        run_by,
        ..RunOptions::default()
    }
}

pub async fn cycle(
    url: &Url,
    args: CycleArgs,
    use_registry: bool,
    catalog: &registry::Catalog,
) -> Result<ExitCode> {
    let pipeline = pipeline(&args.opts, use_registry, limits(&args.opts), catalog)?;
    let pool = url.pool(args.opts.pool_size)?;
    let outcome = run_one(&pipeline, &pool, args.at, &run_by(RunBy::Cycle))
        .await
        .with_context(|| format!("cycle {}", rfc3339(args.at)))?;
    println!("{}", summary(&outcome));
    for s in &outcome.stages {
        println!(
            "  {:>2} {:<15} {:<7} {:>9.1} ms  {}",
            s.stage.number(),
            s.stage.name(),
            s.status.as_str(),
            s.duration.as_secs_f64() * 1000.0,
            s.detail.as_deref().unwrap_or("")
        );
    }
    Ok(if outcome.failed.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Set by Ctrl-C / SIGTERM; loops stop after the cycle in progress.
#[derive(Clone)]
pub struct Stop(tokio::sync::watch::Receiver<bool>);

impl Stop {
    /// Handles SIGINT and SIGTERM from now on: a signal that arrives
    /// before the first cycle is caught too, never the default "die".
    pub fn install() -> Result<Stop> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            eprintln!("stopping after the current cycle");
            let _ = tx.send(true);
            // Keep the sender: receivers would see a closed channel.
            std::future::pending::<()>().await;
        });
        Ok(Stop(rx))
    }

    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Returns once a stop was requested.
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

pub async fn replay(
    url: &Url,
    args: ReplayArgs,
    use_registry: bool,
    catalog: &registry::Catalog,
) -> Result<ExitCode> {
    if args.to < args.from {
        bail!(
            "--to {} is before --from {}; nothing was run",
            rfc3339(args.to),
            rfc3339(args.from)
        );
    }
    // Lazily: a century at one second is 3 billion ticks, counted, not
    // built.
    let ticks = Ticks::new(args.from, args.to, delta(args.every)?);
    let total = ticks.remaining();
    let pipeline = pipeline(&args.opts, use_registry, limits(&args.opts), catalog)?;
    let pool = url.pool(args.opts.pool_size)?;
    let stop = Stop::install()?;
    let bar = crate::progress::cycles(total);
    let mut failed = 0u64;
    let mut done = 0u64;
    for at in ticks {
        if stop.is_set() {
            break;
        }
        bar.set_message(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let outcome = run_one(&pipeline, &pool, at, &run_by(RunBy::Replay))
            .await
            .with_context(|| format!("cycle {}", rfc3339(at)))?;
        failed += u64::from(outcome.failed.is_some());
        done += 1;
        bar.suspend(|| println!("{}", summary(&outcome)));
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!("replayed {done} of {total} cycles, {failed} with a failed stage");
    if done < total {
        println!(
            "interrupted: the remaining {} cycles were not run",
            total - done
        );
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `2022-01-03T00:10:00Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Opts {
        #[command(flatten)]
        opts: CycleOpts,
    }

    #[test]
    fn replay_ticks_are_counted_not_built() {
        let t = |s: &str| parse_ts(s).unwrap();
        // A century at one second (3.2 billion ticks): counted at once.
        let mut century = Ticks::new(
            t("2022-01-01T00:00:00Z"),
            t("2122-01-01T00:00:00Z"),
            TimeDelta::seconds(1),
        );
        assert_eq!(century.remaining(), 3_155_673_601);
        assert_eq!(century.next(), Some(t("2022-01-01T00:00:00Z")));
        assert_eq!(century.next(), Some(t("2022-01-01T00:00:01Z")));
        assert_eq!(century.remaining(), 3_155_673_599);
        // `to` is included when it falls on the step, and nothing after it.
        let ticks: Vec<_> = Ticks::new(
            t("2022-01-03T00:05:00Z"),
            t("2022-01-03T00:17:00Z"),
            TimeDelta::minutes(5),
        )
        .collect();
        assert_eq!(
            ticks,
            [
                t("2022-01-03T00:05:00Z"),
                t("2022-01-03T00:10:00Z"),
                t("2022-01-03T00:15:00Z")
            ]
        );
        let last = Ticks::new(t(args_latest()), t(args_latest()), TimeDelta::days(1));
        assert_eq!(last.collect::<Vec<_>>(), [t(args_latest())]);
        assert_eq!(
            Ticks::new(
                t("2022-01-02T00:00:00Z"),
                t("2022-01-01T00:00:00Z"),
                TimeDelta::seconds(1)
            )
            .remaining(),
            0
        );
    }

    fn args_latest() -> &'static str {
        crate::args::LATEST
    }

    #[test]
    fn a_pool_of_no_connections_is_a_usage_error_not_a_panic() {
        use clap::Parser as _;
        let err = Opts::try_parse_from(["t", "--pool-size", "0"]).unwrap_err();
        assert!(err.to_string().contains("--pool-size"), "{err}");
        let ok = Opts::try_parse_from(["t", "--pool-size", "1"]).unwrap();
        assert_eq!(ok.opts.pool_size, 1);
        assert_eq!(Opts::try_parse_from(["t"]).unwrap().opts.pool_size, 5);
    }
}
