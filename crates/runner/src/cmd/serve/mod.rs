//! `serve`: a cycle at every tick of a clock-aligned schedule, by the one
//! replica that holds the lease, surviving database restarts.
//!
//! Three tasks, three kinds of connection: the heartbeat (the lease, on its
//! own connection), the control session (LISTEN), and this loop (cycles, on
//! the pool). At each tick the leader asks `kcg.prediction_cycles` which
//! ticks are due (the current one, and those of the last `--catch-up` that
//! have no OK run: missed in an outage or while another leader hung) and
//! runs them oldest first, each fenced by its lease. When the database goes
//! away, the loop waits for it with capped exponential backoff (each
//! attempt logged with its cause) and resumes; it exits on SIGTERM (after
//! the cycle in progress, 0) or after `--give-up-after` (1).

mod control;
mod heartbeat;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use chrono::{TimeDelta, Utc};
use pipeline::cycles::{self, Missed};
use pipeline::{CycleTs, Pipeline, PipelineError, RunBy, RunOptions};
use telemetry::{Telemetry, Tick};
use tokio::sync::{Notify, watch};

use crate::args::{parse_catch_up, parse_every, parse_give_up_after, parse_lease_ttl};
use crate::cmd::cycle::{CycleOpts, Stop, delta, pipeline, rfc3339, run_one, summary};
use crate::db::{Backoff, Pool, Url, is_misconfigured};

use heartbeat::LeaseState;

/// The lease all `serve` replicas of a database compete for.
const LEASE: &str = "serve";

/// A FAILED tick is retried by catch-up until it failed this many times.
const MAX_ATTEMPTS: i32 = 3;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Cycle period; ticks are aligned to wall-clock multiples of it (5m
    /// runs at :00, :05, :10, ...); 1s to 1d.
    #[arg(long, value_parser = parse_every)]
    every: Duration,
    /// How long the leader's lease lasts unrenewed (renewed every third of
    /// it), 1s to 10m; a follower takes over once it expired (default:
    /// --every, up to 30s).
    #[arg(long, value_parser = parse_lease_ttl)]
    lease_ttl: Option<Duration>,
    /// Ticks missed in this last stretch (an outage, a hung leader) are run
    /// late, oldest first; older ones are reported, not run. 0s runs none;
    /// at most 1d.
    #[arg(long, default_value = "1h", value_parser = parse_catch_up)]
    catch_up: Duration,
    /// Exit (status 1) once the database has been unreachable this long
    /// (default: retry until SIGTERM); 1s to 30d.
    #[arg(long, value_parser = parse_give_up_after)]
    give_up_after: Option<Duration>,
    /// Serve /metrics (Prometheus), /healthz and /report (the diagnostic
    /// snapshot as HTML) on this address, e.g. 127.0.0.1:9187. Off unless
    /// given.
    #[arg(long, value_name = "ADDR")]
    http: Option<std::net::SocketAddr>,
    #[command(flatten)]
    opts: CycleOpts,
}

/// The defaults that follow `--every`.
struct Timing {
    ttl: Duration,
    statement: Duration,
    lock: Duration,
    /// The longest wait between two reconnection attempts: the database
    /// is found again within one interval of its return, at most 10 s.
    backoff_cap: Duration,
    /// A tick that starts this long after its time is logged as late.
    late_after: Duration,
}

impl Timing {
    fn new(args: &ServeArgs) -> Timing {
        let every = args.every;
        let ttl = args.lease_ttl.unwrap_or(every.min(Duration::from_secs(30)));
        Timing {
            ttl,
            statement: (every / 2).min(Duration::from_secs(600)),
            lock: (every / 4).min(Duration::from_secs(60)),
            backoff_cap: every.min(Duration::from_secs(10)),
            late_after: (every / 4).min(Duration::from_secs(1)),
        }
    }
}

pub async fn serve(
    url: &Url,
    args: ServeArgs,
    use_registry: bool,
    catalog: &registry::Catalog,
) -> Result<ExitCode> {
    let every = delta(args.every)?;
    let timing = Timing::new(&args);
    let statement = args.opts.statement_timeout().unwrap_or(timing.statement);
    // A leader stopped mid-cycle must not keep its locks past its lease.
    let limits = args
        .opts
        .limits(timing.statement, timing.lock, statement.min(timing.ttl));
    let pipeline = Arc::new(pipeline(&args.opts, use_registry, limits, catalog)?);
    let stop = Stop::install()?;
    let pool = url.pool(args.opts.pool_size())?;
    let telemetry = Telemetry::new(args.every, env!("CARGO_PKG_VERSION"));
    // Dropped on every way out of this function, which stops the endpoint.
    let (_http_alive, http_alive) = watch::channel(());
    if let Some(addr) = args.http {
        // Bound before anything else, so a taken port fails at once; its
        // own connections to the database, never the cycles' pool.
        let config = ops_server::Config::new(url.config()?.clone());
        let server = ops_server::Server::bind(addr, telemetry.clone(), config).await?;
        println!(
            "http: /metrics /healthz /report on http://{}",
            server.local_addr()
        );
        let mut alive = http_alive;
        tokio::spawn(server.run(async move { while alive.changed().await.is_ok() {} }));
    }
    let mut outage = Outage {
        pool: &pool,
        stop: &stop,
        give_up: args.give_up_after,
        backoff_cap: timing.backoff_cap,
    };
    // A wrong target is an error now; a database not up yet is waited for.
    if outage.wait(Start::First).await? == Back::Stopped {
        println!("stopped");
        return Ok(ExitCode::SUCCESS);
    }

    let (state_tx, state_rx) = watch::channel(LeaseState {
        token: None,
        renewed: None,
    });
    let (done_tx, done_rx) = watch::channel(false);
    let nudge = Arc::new(Notify::new());
    let lost = Arc::new(Notify::new());
    let heartbeat = tokio::spawn(
        heartbeat::Heartbeat {
            url: url.clone(),
            name: LEASE,
            holder: lease::this_process().to_owned(),
            ttl: timing.ttl,
            state: state_tx,
            nudge: Arc::clone(&nudge),
            done: done_rx.clone(),
            backoff_cap: timing.backoff_cap,
        }
        .run(),
    );
    let control = tokio::spawn(
        control::Control {
            url: url.clone(),
            pipeline: Arc::clone(&pipeline),
            telemetry: telemetry.clone(),
            lost: Arc::clone(&lost),
            done: done_rx,
            backoff_cap: timing.backoff_cap,
        }
        .run(),
    );

    println!(
        "serving: a cycle every {}s, aligned to the clock; lease {} s, catch-up {} s, \
         statement_timeout {} ms, lock_timeout {} ms",
        every.num_seconds(),
        timing.ttl.as_secs_f64(),
        args.catch_up.as_secs(),
        limits.statement_timeout.unwrap_or_default().as_millis(),
        limits.lock_timeout.unwrap_or_default().as_millis(),
    );
    let mut schedule = Schedule {
        pipeline: &pipeline,
        pool: &pool,
        every,
        catch_up: delta(args.catch_up)?,
        ttl: timing.ttl,
        late_after: timing.late_after,
        lease: state_rx,
        nudge: &nudge,
        lost: &lost,
        announced: None,
        reported_until: None,
        telemetry: &telemetry,
    };
    let result = schedule.run(&mut outage).await;
    // The lease is released only now, after the cycle in progress.
    let _ = done_tx.send(true);
    let _ = heartbeat.await;
    let _ = control.await;
    result?;
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Back {
    /// The database takes connections again.
    Up,
    /// A stop was requested while waiting.
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// Start-up: a target that refuses us (password, user, database) is a
    /// configuration error, reported at once.
    First,
    /// Later: the database went away; wait for it whatever it says.
    Again,
}

/// Waiting for the database with capped exponential backoff.
struct Outage<'a> {
    pool: &'a Pool,
    stop: &'a Stop,
    give_up: Option<Duration>,
    backoff_cap: Duration,
}

impl Outage<'_> {
    async fn wait(&mut self, start: Start) -> Result<Back> {
        let since = Instant::now();
        let mut backoff = Backoff::new(Duration::from_millis(200), self.backoff_cap);
        loop {
            let e = match self.pool.probe().await {
                Ok(()) => {
                    if backoff.attempts() > 0 {
                        println!(
                            "database {} is back after {:.1} s ({} failed attempts); resuming",
                            self.pool.target(),
                            since.elapsed().as_secs_f64(),
                            backoff.attempts()
                        );
                    }
                    return Ok(Back::Up);
                }
                Err(e) => e,
            };
            if start == Start::First && is_misconfigured(&e) {
                return Err(e);
            }
            let waited = since.elapsed();
            if let Some(limit) = self.give_up
                && waited >= limit
            {
                return Err(e.context(format!(
                    "giving up: {} has been unreachable for {:.1} s (--give-up-after {})",
                    self.pool.target(),
                    waited.as_secs_f64(),
                    humantime::format_duration(limit)
                )));
            }
            let wait = backoff.next_delay();
            tracing::warn!(
                attempt = backoff.attempts(),
                retry_in_ms = wait.as_millis(),
                cause = %format!("{e:#}"),
                "database unreachable"
            );
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.stop.wait() => return Ok(Back::Stopped),
            }
        }
    }
}

/// Why a tick's work stopped early.
enum Interrupted {
    /// A stop was requested (after the cycle in progress).
    Stop,
    /// The database is unreachable.
    Unreachable,
}

struct Schedule<'a> {
    pipeline: &'a Pipeline,
    pool: &'a Pool,
    every: TimeDelta,
    catch_up: TimeDelta,
    ttl: Duration,
    late_after: Duration,
    lease: watch::Receiver<LeaseState>,
    nudge: &'a Notify,
    lost: &'a Notify,
    /// The lease epoch last announced as ours.
    announced: Option<i64>,
    /// Ticks missed beyond the catch-up window already reported, up to.
    reported_until: Option<CycleTs>,
    /// Told of every cycle, tick and change of leadership.
    telemetry: &'a Telemetry,
}

impl Schedule<'_> {
    async fn run(&mut self, outage: &mut Outage<'_>) -> Result<()> {
        let mut due_now = false;
        loop {
            if !due_now {
                let next = cycles::next_tick(Utc::now(), self.every);
                let wait = (next - Utc::now()).to_std().unwrap_or_default();
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = outage.stop.wait() => return Ok(()),
                    // The control session is gone: is the database?
                    () = self.lost.notified() => {
                        if self.pool.probe().await.is_ok() {
                            continue;
                        }
                        if outage.wait(Start::Again).await? == Back::Stopped {
                            return Ok(());
                        }
                    }
                }
            }
            due_now = false;
            if outage.stop.is_set() {
                return Ok(());
            }
            match self.tick(outage.stop).await {
                Ok(()) => {}
                Err(Interrupted::Stop) => return Ok(()),
                Err(Interrupted::Unreachable) => {
                    if outage.wait(Start::Again).await? == Back::Stopped {
                        return Ok(());
                    }
                    self.pipeline.cache().invalidate();
                    // What was missed meanwhile is due at once.
                    due_now = true;
                }
            }
        }
    }

    /// The lease token, when this process leads; announces changes.
    async fn leadership(&mut self) -> Option<lease::Token> {
        let stale =
            |s: &LeaseState, ttl| s.token.is_some() && s.renewed.is_none_or(|r| r.elapsed() >= ttl);
        if stale(&self.lease.borrow(), self.ttl) {
            // Not renewed for a whole TTL (an outage, a pause): renew now
            // rather than have the cycle refused by the fence.
            self.nudge.notify_one();
            let _ = tokio::time::timeout(self.ttl / 3, self.lease.changed()).await;
        }
        let state = self.lease.borrow().clone();
        let leads = state.token.is_some() && !stale(&state, self.ttl);
        self.telemetry.on_leadership(leads, Utc::now());
        match &state.token {
            Some(token) if !stale(&state, self.ttl) => {
                if self.announced != Some(token.epoch) {
                    println!(
                        "leader: this process runs the cycles (lease {LEASE:?}, epoch {})",
                        token.epoch
                    );
                    self.announced = Some(token.epoch);
                }
                Some(token.clone())
            }
            _ => {
                tracing::info!("another runner is the leader; standing by");
                self.announced = None;
                None
            }
        }
    }

    /// Runs what is due: the ticks missed (oldest first), then this one.
    async fn tick(&mut self, stop: &Stop) -> Result<(), Interrupted> {
        let Some(token) = self.leadership().await else {
            return Ok(());
        };
        let now = Utc::now();
        let due = {
            let conn = self.pool.get().await.map_err(|e| {
                tracing::warn!(cause = %format!("{e:#}"), "cannot check out a connection");
                Interrupted::Unreachable
            })?;
            cycles::due(&*conn, now, self.every, self.catch_up, MAX_ATTEMPTS)
                .await
                .map_err(|e| {
                    tracing::warn!(cause = %pipeline::error_chain(&e), "cannot read kcg.prediction_cycles");
                    Interrupted::Unreachable
                })?
        };
        if let Some(missed) = due.too_old {
            self.report_too_old(missed);
        }
        let current = cycles::tick_at_or_before(now, self.every);
        let late: Vec<CycleTs> = due.ticks.iter().copied().filter(|t| *t < current).collect();
        if let (Some(first), Some(last)) = (late.first(), late.last()) {
            println!(
                "catching up {} missed ticks, {} to {}",
                late.len(),
                rfc3339(*first),
                rfc3339(*last)
            );
        }
        for at in due.ticks {
            if stop.is_set() {
                return Err(Interrupted::Stop);
            }
            let late_by = (Utc::now() - at).to_std().unwrap_or_default();
            let run_by = if at < current {
                RunBy::CatchUp
            } else {
                RunBy::Serve
            };
            if run_by == RunBy::Serve && late_by >= self.late_after {
                tracing::warn!(tick = %rfc3339(at), late_by_ms = late_by.as_millis(), "tick is late");
            }
            self.telemetry.on_tick(match run_by {
                RunBy::CatchUp => Tick::CaughtUp,
                _ if late_by >= self.late_after => Tick::Late,
                _ => Tick::OnTime,
            });
            let opts = RunOptions {
                run_by,
                late_by: Some(late_by),
                fence: Some(token.clone()),
                runner: token.holder.clone(),
            };
            let result = run_one(self.pipeline, self.pool, at, &opts).await;
            match &result {
                Ok(outcome) => self
                    .telemetry
                    .record_cycle(self.pipeline, outcome, Utc::now()),
                Err(e) => self
                    .telemetry
                    .record_cycle_error(self.pipeline, &format!("cycle {}: {e:#}", rfc3339(at))),
            }
            match result {
                Ok(outcome) => {
                    let note = if run_by == RunBy::CatchUp || late_by >= self.late_after {
                        format!(" [{run_by}, late by {:.1} s]", late_by.as_secs_f64())
                    } else {
                        String::new()
                    };
                    println!("{}{note}", summary(&outcome));
                }
                Err(e)
                    if e.downcast_ref::<PipelineError>()
                        .is_some_and(PipelineError::is_lease_lost) =>
                {
                    println!(
                        "not leader any more: cycle {} written by nobody here ({e:#})",
                        rfc3339(at)
                    );
                    self.nudge.notify_one();
                    return Ok(());
                }
                Err(e) => {
                    eprintln!("cycle {}: {e:#}", rfc3339(at));
                    if self.pool.probe().await.is_err() {
                        return Err(Interrupted::Unreachable);
                    }
                }
            }
        }
        Ok(())
    }

    /// Logs ticks missed before the catch-up window, each range once.
    fn report_too_old(&mut self, missed: Missed) {
        let first = match self.reported_until {
            Some(until) if until >= missed.last => return,
            Some(until) if until >= missed.first => cycles::next_tick(until, self.every),
            _ => missed.first,
        };
        let count =
            (missed.last - first).num_milliseconds() / self.every.num_milliseconds().max(1) + 1;
        for _ in 0..count.max(0) {
            self.telemetry.on_tick(Tick::Missed);
        }
        println!(
            "{count} ticks from {} to {} were missed and are older than --catch-up: not run \
             (runner replay can run them)",
            rfc3339(first),
            rfc3339(missed.last)
        );
        self.reported_until = Some(missed.last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn timing(args: &[&str]) -> Timing {
        use clap::Parser as _;
        let cli = Cli::try_parse_from(std::iter::once("t").chain(args.iter().copied())).unwrap();
        Timing::new(&cli.serve)
    }

    #[test]
    fn timeouts_and_the_lease_follow_the_interval() {
        let t = timing(&["--every", "5m"]);
        assert_eq!(t.ttl, Duration::from_secs(30));
        assert_eq!(t.statement, Duration::from_secs(150));
        assert_eq!(t.lock, Duration::from_secs(60));
        assert_eq!(t.backoff_cap, Duration::from_secs(10));
        let t = timing(&["--every", "2s"]);
        assert_eq!(t.ttl, Duration::from_secs(2));
        assert_eq!(t.lock, Duration::from_millis(500));
        assert_eq!(t.backoff_cap, Duration::from_secs(2));
        let t = timing(&["--every", "2s", "--lease-ttl", "5s"]);
        assert_eq!(t.ttl, Duration::from_secs(5));
    }
}
