//! `runner`: every operator command (migrate, check-schema, ingest, models,
//! versions, cycle, replay, serve, partitions, snapshot) as a library, so a
//! deploy that adds models of its own is a binary of a few lines around
//! [`Runner`] instead of a fork. The stock `runner` binary is
//! `Runner::reference().run()`: the reference detectors and nothing else.
//! A downstream binary adds its models to the catalog and gets the very
//! same commands (serve's leader lock, LISTEN and signal handling
//! included):
//!
//! ```no_run
//! # #[derive(Clone)] struct Loitering;
//! # impl model_api::Model for Loitering {
//! #     type Params = serde_json::Map<String, serde_json::Value>;
//! #     type Artifact = ();
//! #     fn run(&self, _: &model_api::Context<'_, Self::Params>) -> Result<model_api::Output<()>, model_api::ModelError> {
//! #         Ok(model_api::ModelOutput::new().into())
//! #     }
//! # }
//! fn main() -> std::process::ExitCode {
//!     runner::Runner::reference()
//!         .model("loitering", "v1", Loitering)
//!         .run()
//! }
//! ```
//!
//! This crate is a thin layer of CLI parsing, wiring and output formatting
//! over the library crates; nothing clever lives here. Every command reads
//! `DATABASE_URL` (or `--database-url`) and never prints the password. It
//! never exits the process itself ([`Runner::run`] returns the exit status)
//! and never lets a bad catalog panic: a registration error is reported at
//! start-up like any other error.

mod args;
mod cmd;
mod db;
mod progress;
mod reference;

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use model_api::{Implementation, Model};
use registry::{Catalog, CatalogError};

pub use reference::reference_catalog;

/// Registry-driven detection models on PostgreSQL.
#[derive(Debug, Parser)]
#[command(
    name = "runner",
    version,
    about,
    long_about = None,
    after_help = "Environment:\n  DATABASE_URL                   the database (or --database-url)\n  PREDICTION_USE_MODEL_REGISTRY  stage 10 on/off: 1/0, true/false, on/off, yes/no (anything else is a start-up error)\n  RUST_LOG                       log filter (or --log)\n\nExit status: 0 success, 1 failure, 2 snapshot --fail-on-alarm found an alarm, 64 bad command line.\nStart with: runner migrate; runner ingest --csv FILE; runner models add-reference; runner cycle --at TS."
)]
struct Cli {
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
    /// `add` a model, `depend`/`undepend` one model on another,
    /// `enable`/`disable` a model.
    Models(cmd::models::Args),
    /// Model versions: `list`, `add`, `compare`, `backtest`, `promote`
    /// (archives the old PRIMARY in the same transaction; `--gate`),
    /// `rollback`, `archive`, `history`. Every change sends a NOTIFY and is
    /// recorded in the audit trail.
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
pub const EXIT_USAGE: u8 = 64;

/// The operator's command line over a catalog of model kinds: what the
/// stock `runner` binary runs, and what a deploy with models of its own
/// runs with them added.
///
/// Registration errors (a duplicate, an id the registry cannot store) are
/// kept and reported by [`run`](Self::run) as a start-up error (exit 1), so
/// a binary's `main` needs no `unwrap`.
#[derive(Debug)]
pub struct Runner {
    catalog: Catalog,
    errors: Vec<CatalogError>,
}

impl Runner {
    /// A runner planning with `catalog` (and nothing else: add the
    /// reference detectors with [`reference_catalog`] or start from
    /// [`Runner::reference`]).
    pub fn new(catalog: Catalog) -> Self {
        Self {
            catalog,
            errors: Vec::new(),
        }
    }

    /// The stock runner: the reference detectors (`track_features`,
    /// `identity`, `spoofing_score` in `v1` and `v2`, `identity_collision`,
    /// `risk`).
    pub fn reference() -> Self {
        match reference_catalog() {
            Ok(catalog) => Self::new(catalog),
            Err(e) => Self {
                catalog: Catalog::new(),
                errors: vec![e],
            },
        }
    }

    /// Adds model kind `kind` as implementation `implementation` of
    /// `model_id` (the first implementation of a model is its default:
    /// what a version that names none runs).
    pub fn model<M: Model + Clone>(self, model_id: &str, implementation: &str, kind: M) -> Self {
        self.implementation(model_id, implementation, Implementation::of(kind))
    }

    /// Adds `code` as implementation `implementation` of `model_id`.
    pub fn implementation(
        mut self,
        model_id: &str,
        implementation: &str,
        code: Implementation,
    ) -> Self {
        if let Err(e) = self.catalog.register(model_id, implementation, code) {
            self.errors.push(e);
        }
        self
    }

    /// The catalog the commands plan with.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Parses the process's arguments and runs the command.
    pub fn run(self) -> ExitCode {
        self.run_from(std::env::args_os())
    }

    /// Parses `args` (the first is the binary's name) and runs the command:
    /// `--help` and `--version` print and succeed, a bad command line exits
    /// [`EXIT_USAGE`], a failed command 1 (with its error chain, each cause
    /// once, and a hint where there is one), `snapshot --fail-on-alarm` 2 on
    /// an alarm.
    pub fn run_from<I, T>(self, args: I) -> ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let cli = match Cli::try_parse_from(args) {
            Ok(cli) => cli,
            Err(e) => {
                let _ = e.print();
                return if e.use_stderr() {
                    ExitCode::from(EXIT_USAGE)
                } else {
                    ExitCode::SUCCESS // --help, --version
                };
            }
        };
        init_tracing(&cli.log);
        if let Some(e) = self.errors.first() {
            eprintln!(
                "error: {:#}",
                anyhow::Error::new(e.clone())
                    .context("the model catalog of this build is inconsistent")
            );
            return ExitCode::FAILURE;
        }
        let rt = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("error: cannot start the async runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
        match rt.block_on(dispatch(cli, &self.catalog)) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                if let Some(hint) = cmd::hint(&e) {
                    eprintln!("hint: {hint}");
                }
                ExitCode::FAILURE
            }
        }
    }
}

async fn dispatch(cli: Cli, catalog: &Catalog) -> Result<ExitCode> {
    // Parsed before anything else, for every command: a bad value is a
    // start-up error, never a silent default.
    let use_registry = pipeline::registry_flag_from_env()?;
    let url = db::Url::new(cli.database_url)?;
    match cli.command {
        Command::Cycle(args) => cmd::cycle::cycle(&url, args, use_registry, catalog).await,
        Command::Replay(args) => cmd::cycle::replay(&url, args, use_registry, catalog).await,
        Command::Serve(args) => cmd::serve::serve(&url, args, use_registry, catalog).await,
        Command::Migrate => cmd::migrate::migrate(&url).await,
        Command::CheckSchema => cmd::migrate::check_schema(&url).await,
        Command::Ingest(args) => cmd::ingest::run(&url, args).await,
        Command::Models(args) => cmd::models::run(&url, args, catalog).await,
        Command::Versions(args) => cmd::versions::run(&url, args, catalog).await,
        Command::Snapshot(args) => cmd::snapshot::run(&url, args).await,
        Command::Partitions(args) => cmd::partitions::run(&url, args).await,
    }
}

/// Logs to stderr with `filter`; a second call in one process (a test that
/// runs the runner twice) keeps the first subscriber.
fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .compact()
        .try_init();
}
