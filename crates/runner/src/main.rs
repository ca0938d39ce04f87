//! `runner`: the operator's binary. A thin layer of CLI parsing and wiring
//! over the library crates; nothing clever lives here. Every command reads
//! `DATABASE_URL` (or `--database-url`) and never prints the password.

mod args;
mod catalog;
mod cmd;
mod db;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Registry-driven detection models on PostgreSQL.
#[derive(Debug, Parser)]
#[command(
    name = "runner",
    version,
    about,
    long_about = None,
    after_help = "Environment:\n  DATABASE_URL                   the database (or --database-url)\n  PREDICTION_USE_MODEL_REGISTRY  stage 10 on/off: 1/0, true/false, on/off, yes/no (anything else is a start-up error)\n  RUST_LOG                       log filter (or --log)\n\nExit status: 0 success, 1 failure, 2 snapshot --fail-on-alarm found an alarm, 64 bad command line.\nStart with: runner migrate; runner ingest --csv FILE; runner models add-reference; runner cycle --at TS."
)]
pub struct Cli {
    /// PostgreSQL connection URL (postgres://user:pass@host:port/db).
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,

    /// Log filter, e.g. `info` or `dag_exec=debug` (also RUST_LOG).
    #[arg(
        long,
        env = "RUST_LOG",
        global = true,
        default_value = "info",
        hide_env_values = true
    )]
    log: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply the embedded migrations (idempotent: a second run changes nothing).
    Migrate,
    /// Check the live schema against what this build expects; non-zero exit
    /// naming table, column, expected and found on any mismatch.
    CheckSchema,
    /// Load a MarineCadastre-format AIS CSV (plain or .gz) into kcg.ais_positions.
    Ingest(cmd::ingest::Args),
    /// The model registry: `list` ACTIVE versions, `plan` the next cycle,
    /// `add` a model, `depend` one model on another.
    Models(cmd::models::Args),
    /// Model versions: `list`, `add`, `promote` (archives the old PRIMARY in
    /// the same transaction), `archive`. Every change sends a NOTIFY.
    Versions(cmd::versions::Args),
    /// Health reports: `hourly` ([at-1h, at)) or `diagnostic` ([at-24h, at),
    /// with raw rows); `--fail-on-alarm` exits 2 when a section is in alarm.
    Snapshot(cmd::snapshot::Args),
    /// Run one prediction cycle at --at (the ten stages; stage 10 only with
    /// PREDICTION_USE_MODEL_REGISTRY on). Rerunning a cycle replaces its rows.
    Cycle(cmd::cycle::CycleArgs),
    /// Run the cycles from --from to --to every --every, in order (Ctrl-C
    /// stops after the current cycle).
    Replay(cmd::cycle::ReplayArgs),
    /// Run a cycle every --every, aligned to the clock, until SIGTERM (which
    /// finishes the current cycle). Among replicas the holder of a lease
    /// runs the cycles (a follower takes over a hung leader's expired
    /// lease); ticks missed in an outage or a takeover are caught up;
    /// a lost database is waited for; registry changes (NOTIFY) invalidate
    /// the params cache at once.
    Serve(cmd::serve::ServeArgs),
    /// Monthly partitions of the run outputs: `maintain` (create ahead, drop
    /// past retention, move DEFAULT rows; `--dry-run`) and `list`.
    Partitions(cmd::partitions::Args),
}

/// Exit status of a command line clap refuses. Not clap's default 2: that
/// status is reserved for `snapshot --fail-on-alarm`, so cron can tell a
/// mistyped command from an alarm (64 is EX_USAGE of sysexits.h).
const EXIT_USAGE: u8 = 64;

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                std::process::ExitCode::from(EXIT_USAGE)
            } else {
                std::process::ExitCode::SUCCESS // --help, --version
            };
        }
    };
    init_tracing(&cli.log);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if let Some(hint) = cmd::hint(&e) {
                eprintln!("hint: {hint}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<std::process::ExitCode> {
    // Parsed before anything else, for every command: a bad value is a
    // start-up error, never a silent default.
    let use_registry = pipeline::registry_flag_from_env()?;
    let url = db::Url::new(cli.database_url)?;
    match cli.command {
        Command::Cycle(args) => cmd::cycle::cycle(&url, args, use_registry).await,
        Command::Replay(args) => cmd::cycle::replay(&url, args, use_registry).await,
        Command::Serve(args) => cmd::serve::serve(&url, args, use_registry).await,
        Command::Migrate => cmd::migrate::migrate(&url).await,
        Command::CheckSchema => cmd::migrate::check_schema(&url).await,
        Command::Ingest(args) => cmd::ingest::run(&url, args).await,
        Command::Models(args) => cmd::models::run(&url, args).await,
        Command::Versions(args) => cmd::versions::run(&url, args).await,
        Command::Snapshot(args) => cmd::snapshot::run(&url, args).await,
        Command::Partitions(args) => cmd::partitions::run(&url, args).await,
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .compact()
        .init();
}
