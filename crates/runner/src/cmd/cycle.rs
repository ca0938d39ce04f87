//! `cycle`, `replay` and `serve`: running the prediction cycle.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, TimeDelta, Utc};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pipeline::{CycleOutcome, Pipeline, PipelineConfig};
use tokio_postgres::{AsyncMessage, NoTls};

use crate::args::{parse_duration, parse_ts};
use crate::db::Url;

/// Options every cycle command shares.
#[derive(Debug, clap::Args)]
pub struct CycleOpts {
    /// Length of the window of positions a cycle reads: (at - window, at].
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    window: Duration,
    /// Connections in the pool (a cycle checks out exactly one).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pool_size: u32,
    /// Worker threads for models (default: the number of cores).
    #[arg(long)]
    workers: Option<std::num::NonZeroUsize>,
    /// Timeout of a model version without its own `timeout_ms`.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    model_timeout: Duration,
    /// TTL of the params cache.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    cache_ttl: Duration,
    /// An OPEN identity collision not seen for this long is RESOLVED.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    resolve_collisions_after: Duration,
}

#[derive(Debug, clap::Args)]
pub struct CycleArgs {
    /// The cycle's time (RFC 3339, e.g. 2022-01-03T00:10:00Z).
    #[arg(long, value_parser = parse_ts)]
    at: DateTime<Utc>,
    #[command(flatten)]
    opts: CycleOpts,
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// First cycle (RFC 3339).
    #[arg(long, value_parser = parse_ts)]
    from: DateTime<Utc>,
    /// Last cycle, included when it falls on the step (RFC 3339).
    #[arg(long, value_parser = parse_ts)]
    to: DateTime<Utc>,
    /// Step between cycles, e.g. 5m.
    #[arg(long, value_parser = parse_duration)]
    every: Duration,
    #[command(flatten)]
    opts: CycleOpts,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Cycle period; ticks are aligned to wall-clock multiples of it (5m
    /// runs at :00, :05, :10, ...).
    #[arg(long, value_parser = parse_duration)]
    every: Duration,
    /// Serve /metrics (Prometheus), /healthz and /report (the diagnostic
    /// snapshot as HTML) on this address, e.g. 127.0.0.1:9187. Off unless
    /// given.
    #[arg(long, value_name = "ADDR")]
    http: Option<std::net::SocketAddr>,
    #[command(flatten)]
    opts: CycleOpts,
}

fn delta(d: Duration) -> Result<TimeDelta> {
    TimeDelta::from_std(d).context("duration out of range")
}

fn pipeline(opts: &CycleOpts, use_registry: bool) -> Result<Pipeline> {
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
        ..PipelineConfig::default()
    };
    Ok(Pipeline::new(config, crate::catalog::build()?))
}

/// One line per cycle, for logs and for people.
fn summary(o: &CycleOutcome) -> String {
    let status = match &o.failed {
        None => "ok".to_owned(),
        Some(f) => format!("FAILED at stage {}: {}", f.stage, f.detail()),
    };
    let registry = match &o.registry {
        None => "registry off".to_owned(),
        Some(r) => format!(
            "registry {} OK {} FAILED {} TIMEOUT {} SKIPPED",
            r.count(dag_exec::RunStatus::Ok),
            r.count(dag_exec::RunStatus::Failed),
            r.count(dag_exec::RunStatus::Timeout),
            r.count(dag_exec::RunStatus::Skipped)
        ),
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

async fn run_one(
    pipeline: &Pipeline,
    pool: &crate::db::Pool,
    at: DateTime<Utc>,
) -> Result<CycleOutcome> {
    let mut conn = pool.get().await.map_err(|e| match e {
        bb8::RunError::User(e) => anyhow::Error::new(e).context("cannot check out a connection"),
        bb8::RunError::TimedOut => {
            anyhow::anyhow!("cannot check out a connection: timed out waiting for a free one")
        }
    })?;
    Ok(pipeline.run_cycle(&mut conn, at).await?)
}

pub async fn cycle(url: &Url, args: CycleArgs, use_registry: bool) -> Result<ExitCode> {
    let pipeline = pipeline(&args.opts, use_registry)?;
    let pool = url.pool(args.opts.pool_size).await?;
    let outcome = run_one(&pipeline, &pool, args.at).await?;
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
fn stop_flag() -> Result<Arc<AtomicBool>> {
    use tokio::signal::unix::{SignalKind, signal};
    // Registered here, before any cycle starts: a signal that arrives before
    // the watcher task first runs is still caught, never the default "die".
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        eprintln!("stopping after the current cycle");
        flag.store(true, Ordering::SeqCst);
    });
    Ok(stop)
}

pub async fn replay(url: &Url, args: ReplayArgs, use_registry: bool) -> Result<ExitCode> {
    if args.to < args.from {
        bail!("--to {} is before --from {}", args.to, args.from);
    }
    let step = delta(args.every)?;
    let mut ticks = Vec::new();
    let mut t = args.from;
    while t <= args.to {
        ticks.push(t);
        t += step;
    }
    let pipeline = pipeline(&args.opts, use_registry)?;
    let pool = url.pool(args.opts.pool_size).await?;
    let stop = stop_flag()?;
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let bar =
            ProgressBar::with_draw_target(Some(ticks.len() as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{pos}/{len} cycles {wide_bar} {eta} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut failed = 0usize;
    let mut done = 0usize;
    for at in &ticks {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        bar.set_message(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let outcome = run_one(&pipeline, &pool, *at).await?;
        failed += usize::from(outcome.failed.is_some());
        done += 1;
        bar.suspend(|| println!("{}", summary(&outcome)));
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "replayed {done} of {} cycles, {failed} with a failed stage",
        ticks.len()
    );
    if done < ticks.len() {
        println!(
            "interrupted: the remaining {} cycles were not run",
            ticks.len() - done
        );
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The next wall-clock multiple of `every` strictly after `now`.
pub fn next_tick(now: DateTime<Utc>, every: TimeDelta) -> DateTime<Utc> {
    let step = every.num_milliseconds().max(1);
    let ms = now.timestamp_millis();
    let next = (ms.div_euclid(step) + 1) * step;
    DateTime::from_timestamp_millis(next).unwrap_or(now + every)
}

/// A tick whose cycle starts later than this after it counts as late.
fn late_after(every: TimeDelta) -> TimeDelta {
    (every / 10).clamp(TimeDelta::seconds(1), TimeDelta::seconds(30))
}

pub async fn serve(url: &Url, args: ServeArgs, use_registry: bool) -> Result<ExitCode> {
    let every = delta(args.every)?;
    let pipeline = Arc::new(pipeline(&args.opts, use_registry)?);
    let pool = url.pool(args.opts.pool_size).await?;
    let stop = stop_flag()?;
    let telemetry = telemetry::Telemetry::new(args.every, env!("CARGO_PKG_VERSION"));
    if let Some(addr) = args.http {
        // Its own connections to the database, never the cycle's pool.
        let config = ops_server::Config::new(url.config()?.clone());
        let server = ops_server::Server::bind(addr, telemetry.clone(), config).await?;
        println!(
            "http: /metrics /healthz /report on http://{}",
            server.local_addr()
        );
        let stopping = Arc::clone(&stop);
        tokio::spawn(server.run(async move {
            while !stopping.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }));
    }

    // A dedicated session: it holds the leader lock for the life of the
    // process and LISTENs for registry changes.
    let (control, mut connection) = url
        .config()?
        .connect(NoTls)
        .await
        .with_context(|| format!("cannot connect to {}", url.redacted()))?;
    let listener = Arc::clone(&pipeline);
    let notified = telemetry.clone();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    tracing::info!(
                        channel = n.channel(),
                        table = n.payload(),
                        "registry changed; params cache invalidated"
                    );
                    listener.cache().invalidate();
                    notified.on_notification();
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!("control connection lost: {e}");
                    break;
                }
            }
        }
    });
    control
        .batch_execute(&format!("LISTEN {}", params_cache::NOTIFY_CHANNEL))
        .await
        .context("cannot LISTEN for registry changes")?;

    let mut leader = false;
    let mut last_tick: Option<DateTime<Utc>> = None;
    println!(
        "serving: a cycle every {}s, aligned to the clock",
        every.num_seconds()
    );
    while !stop.load(Ordering::SeqCst) {
        let tick = next_tick(Utc::now(), every);
        let wait = (tick - Utc::now()).to_std().unwrap_or_default();
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        // Wake up early to notice a stop request while idle.
        loop {
            tokio::select! {
                () = &mut sleep => break,
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    if stop.load(Ordering::SeqCst) { break; }
                }
            }
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if control.is_closed() {
            // The session held the leader lock and the LISTEN: without it
            // another replica may already lead, and promotions go unheard.
            bail!(
                "lost the control connection to {}; stopping so a supervisor can restart cleanly",
                url.redacted()
            );
        }
        if !leader {
            leader = control
                .query_one(
                    "SELECT pg_try_advisory_lock($1)",
                    &[&schema::locks::SERVE_LEADER],
                )
                .await
                .context("cannot try the leader lock")?
                .get(0);
            telemetry.on_leadership(leader, Utc::now());
            if leader {
                println!("leader: this process runs the cycles");
            } else {
                tracing::info!(%tick, "another runner is the leader; standing by");
                continue;
            }
        }
        // Ticks this loop slept through (a cycle longer than the interval)
        // are not run again.
        if let Some(last) = last_tick {
            let skipped = ((tick - last).num_milliseconds() / every.num_milliseconds().max(1)) - 1;
            for _ in 0..skipped.max(0) {
                telemetry.on_tick(telemetry::Tick::Missed);
            }
        }
        last_tick = Some(tick);
        telemetry.on_tick(if Utc::now() - tick > late_after(every) {
            telemetry::Tick::Late
        } else {
            telemetry::Tick::OnTime
        });
        match run_one(&pipeline, &pool, tick).await {
            Ok(outcome) => {
                telemetry.record_cycle(&pipeline, &outcome, Utc::now());
                println!("{}", summary(&outcome));
            }
            Err(e) => {
                telemetry.record_cycle_error(&pipeline, &format!("cycle {tick}: {e:#}"));
                eprintln!("cycle {tick}: {e:#}");
            }
        }
    }
    println!("stopped");
    Ok(ExitCode::SUCCESS)
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
    fn a_pool_of_no_connections_is_a_usage_error_not_a_panic() {
        use clap::Parser as _;
        let err = Opts::try_parse_from(["t", "--pool-size", "0"]).unwrap_err();
        assert!(err.to_string().contains("--pool-size"), "{err}");
        let ok = Opts::try_parse_from(["t", "--pool-size", "1"]).unwrap();
        assert_eq!(ok.opts.pool_size, 1);
        assert_eq!(Opts::try_parse_from(["t"]).unwrap().opts.pool_size, 5);
    }

    #[test]
    fn ticks_align_to_the_clock() {
        let t = |s: &str| parse_ts(s).unwrap();
        let five = TimeDelta::minutes(5);
        assert_eq!(
            next_tick(t("2022-01-03T00:07:12Z"), five),
            t("2022-01-03T00:10:00Z")
        );
        assert_eq!(
            next_tick(t("2022-01-03T00:10:00Z"), five),
            t("2022-01-03T00:15:00Z")
        );
        assert_eq!(
            next_tick(t("2022-01-03T23:59:59Z"), TimeDelta::hours(1)),
            t("2022-01-04T00:00:00Z")
        );
    }
}
