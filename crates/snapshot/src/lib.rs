//! Hourly and diagnostic health reports over the live `kcg` tables, the
//! on-call analyst's view of whether the detectors work, and [`compare`],
//! the one comparison of a candidate version with its PRIMARY (the
//! reports' models section, `runner versions compare` and the promotion
//! gate use it). Each of the five
//! sections is a typed struct computed by SQL over a time window; a report
//! renders as aligned text ([`Report::render_text`]), as JSON with a
//! stable, versioned schema ([`Report::render_json`]) or as one
//! self-contained HTML page with plots ([`Report::render_html`], drawn
//! from the per-cycle [`series`]), and names its alarms
//! ([`Report::alarms`]). This crate only reads: it must never write to,
//! lock or alter any table, and an empty table is a finding ("no rows in
//! kcg.x in window"), never an error.
//!
//! The key lesson it encodes: a spoofing model that outputs only zeros looks
//! like a calm hour unless the report tells the two apart, so the verdict
//! `SILENT_FAULT` (every score exactly 0) is an alarm while `NO_SIGNAL`
//! (scores move, none above 0.5) is not.
//!
//! # Windows
//!
//! Half-open, `[start, end)` with `end = at`:
//! - [`Kind::Hourly`]: `[at - 1h, at)`, summaries only;
//! - [`Kind::Diagnostic`]: `[at - 24h, at)`, plus raw rows.
//!
//! Rows are placed in the window by `cycle_ts` (spoofing, models, timing),
//! by `first_seen`/`last_seen` (collisions) and by UTC hour bucket (drift).
//! A cycle stamped exactly `at` is **not** in the window: to report on the
//! hour that ends with the cycle at `T`, pass an `at` after `T`
//! (e.g. `T + 1s`, or the next cycle's time).
//!
//! # Sections and alarms
//!
//! | # | key          | source tables | in alarm when |
//! |---|--------------|---------------|---------------|
//! | 1 | `spoofing`   | `vessel_analysis` | verdict is `SILENT_FAULT` |
//! | 2 | `collisions` | `gear_identity_collisions` | a CRITICAL collision is OPEN |
//! | 3 | `models`     | `detection_model_versions`, `_runs`, `_run_outputs`, `_metrics`, stage 1 of `prediction_stage_timings` | a PRIMARY run is `FAILED`, `TIMEOUT` or `SKIPPED`, or a PRIMARY's `OK` runs stored nothing while their cycles had positions (a failing SHADOW/CHALLENGER is reported, not alarmed) |
//! | 4 | `timing`     | `prediction_stage_timings` | a cycle's summed stage durations exceed the budget (60 000 ms default), or a stage `FAILED` |
//! | 5 | `drift`      | `prediction_stats_hourly`, `prediction_events` | any `(hour, category)` mismatch |
//!
//! The definitions each section uses (bands, failure rate, overlap, which
//! collisions and hours are in the window) are on its module:
//! [`spoofing`], [`collisions`], [`models`], [`timing`], [`drift`].
//! `NO_INPUT` and empty tables are not alarms.
//!
//! # JSON schema (`schema_version` 2)
//!
//! One object; timestamps are RFC 3339 UTC strings (`"2022-01-03T01:00:00Z"`),
//! durations are milliseconds as numbers rounded to 3 decimals, ratios and
//! means are rounded to 6 decimals (ratios lie in `[0, 1]`) except a
//! comparison's, which keep 6 significant digits, counts are
//! integers, and absent values are `null`. Keys are always present; fields marked
//! *diag* are `null` in the hourly report and a list in the diagnostic one.
//! New fields may be added within a version; renaming or removing one
//! bumps `schema_version`.
//!
//! - top level: `schema_version` (2), `kind` (`"hourly"`|`"diagnostic"`),
//!   `window_start`, `window_end`, `spoofing`, `collisions`, `models`,
//!   `timing`, `drift`, `alarms` (list of strings, each prefixed with the
//!   section key, e.g. `"spoofing: SILENT_FAULT: ..."`; empty when healthy).
//! - every section: `alarm` (bool), `notes` (list of strings, e.g.
//!   `"no rows in kcg.vessel_analysis in window"`).
//! - `spoofing`: `verdict` (`NO_INPUT`|`SILENT_FAULT`|`NO_SIGNAL`|`SIGNAL`),
//!   `cycles`, `rows`, `zero_rows`, `vessels`,
//!   `bands {gt_0, gt_0_3, gt_0_5, gt_0_7}` (vessels by their highest score),
//!   `max_score`, *diag* `top_vessels [{mmsi, max_score, rows, last_cycle_ts,
//!   vessel_name}]`.
//! - `collisions`: `total`, `by_severity [{severity, open, resolved}]`
//!   (LOW, MEDIUM, HIGH, CRITICAL, always four), `critical_open`,
//!   *diag* `critical_open_rows [{id, mmsi, first_seen, last_seen, severity,
//!   status, max_distance_km, occurrences, details}]`.
//! - `models`: `active_versions [{model_id, role, version, version_id,
//!   enabled}]`, `runs {total, ok, failed, timeout, skipped, backtest}`,
//!   `failure_rate`, `p50_ms`, `p95_ms`, `outputs_per_run`,
//!   `dropped_metrics`, `versions [{model_id, version_id, version, role,
//!   runs {..}, failure_rate, p50_ms, p95_ms, outputs_per_run, outputs,
//!   positions, dropped_metrics, metrics_stored}]`, `skipped [{model_id,
//!   version, role, reason, runs, last_cycle_ts}]`, `comparisons`: one
//!   [`compare::Comparison`] object per candidate and PRIMARY (see
//!   [`compare`] for its shape; `top_divergent` holds at most 5),
//!   *diag* `failed_runs [{cycle_ts, model_id, version, role, status, error,
//!   duration_ms}]`.
//!
//! Version 2 (issue 15) replaced the comparison objects of version 1
//! (`version_id, version, role, cycles, primary_entities,
//! candidate_entities, shared_entities, overlap, mean_abs_score_diff,
//! agreement_at_0_5`, computed over the entities both versions stored) by
//! the one comparison of [`compare`] (missing scores counted as 0, a
//! confusion table of flags, the most divergent entities), and added
//! `backtest` to the run counts and `outputs`, `positions` to `versions`.
//! - `timing`: `budget_ms`, `cycles`, `stages [{stage_no, stage_name, runs,
//!   ok, failed, skipped, p50_ms, p95_ms, max_ms}]`, `slowest_stage`,
//!   `cycle_total {p50_ms, p95_ms, max_ms}` (null without cycles),
//!   `failed_stages`, `cycles_over_budget`, `over_budget [{cycle_ts,
//!   total_ms, slowest_stage, slowest_stage_ms}]`, *diag*
//!   `failed_stage_rows [{cycle_ts, stage_no, stage_name, duration_ms,
//!   detail}]`.
//! - `drift`: `hours_start`, `hours_end`, `compared`, `mismatches`,
//!   `mismatch_rows [{hour, category, stats_count, events_count, delta}]`,
//!   `rows` (every pair compared, matching or not, same shape).
//!
//! Raw row lists are capped at [`RAW_ROW_LIMIT`] rows, with a note when cut.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo(client: &tokio_postgres::Client) -> Result<(), snapshot::SnapshotError> {
//! let at = "2022-01-03T01:00:00Z".parse().expect("a valid time");
//! let report = snapshot::hourly(client, at).await?;
//! print!("{}", report.render_text());
//! if report.in_alarm() {
//!     for alarm in &report.alarms {
//!         eprintln!("ALARM {alarm}");
//!     }
//! }
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod collisions;
pub mod compare;
pub mod drift;
mod html;
pub mod models;
mod query;
pub mod series;
pub mod spoofing;
pub mod table;
mod text;
pub mod timing;
mod window;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::GenericClient;
use tracing::Instrument as _;

pub use collisions::Collisions;
pub use drift::Drift;
pub use models::Models;
pub use spoofing::{Spoofing, Verdict};
pub use timing::Timing;
pub use window::{Kind, Window};

/// The JSON schema version; see the crate docs.
pub const SCHEMA_VERSION: u32 = 2;

/// The default cycle budget: 60 s.
pub const DEFAULT_BUDGET_MS: u64 = 60_000;

/// The most raw rows any diagnostic list carries.
pub const RAW_ROW_LIMIT: i64 = 200;

/// Errors at this crate's boundary.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A section's query failed (missing table, permissions, connection).
    #[error("snapshot section {section}: query on {table} failed")]
    Query {
        /// Section key (`spoofing`, `models`, ...).
        section: &'static str,
        /// The main table of the query.
        table: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A column had a type this build does not expect (schema drift).
    #[error("snapshot section {section}: column {column} of a query on {table} cannot be read")]
    Column {
        /// Section key.
        section: &'static str,
        /// The main table of the query.
        table: &'static str,
        /// The result column.
        column: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A column holds a role this build does not know (schema drift).
    #[error("snapshot section {section}: column {column} of a query on {table} cannot be decoded")]
    Role {
        /// Section key.
        section: &'static str,
        /// The main table of the query.
        table: &'static str,
        /// The result column.
        column: String,
        /// What is wrong with the value.
        #[source]
        source: model_api::RoleParseError,
    },
    /// `at` is so far from now that the window cannot be computed.
    #[error("snapshot time {at} is out of range")]
    TimeOutOfRange {
        /// The requested time.
        at: DateTime<Utc>,
    },
    /// A comparison names a version that does not exist.
    #[error("no model version with id {id}")]
    UnknownVersion {
        /// `detection_model_versions.id`.
        id: i64,
    },
    /// A comparison has no baseline to compare the candidate with.
    #[error("version {candidate} has nothing to compare with: {why}")]
    NoBaseline {
        /// The candidate's id.
        candidate: i64,
        /// Why, and what to do.
        why: String,
    },
    /// A comparison of versions of two models.
    #[error(
        "version {candidate} (model {candidate_model}) and version {baseline} (model {baseline_model}) \
         belong to different models; only versions of one model compare"
    )]
    DifferentModels {
        /// The candidate's id.
        candidate: i64,
        /// Its model.
        candidate_model: String,
        /// The baseline's id.
        baseline: i64,
        /// Its model.
        baseline_model: String,
    },
    /// A comparison threshold that would flag unscored entities.
    #[error("the comparison threshold must be a finite number above 0, not {threshold}")]
    BadThreshold {
        /// The threshold given.
        threshold: f64,
    },
    /// A query that always returns a row returned none.
    #[error("snapshot section {section}: a query on {table} returned no row")]
    NoRow {
        /// Section key.
        section: &'static str,
        /// The main table of the query.
        table: &'static str,
    },
    /// The report could not be serialised (not expected to happen).
    #[error("cannot serialise the snapshot report as JSON")]
    Json(#[from] serde_json::Error),
}

/// Knobs of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// A cycle whose summed stage durations exceed this is over budget.
    pub budget_ms: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            budget_ms: DEFAULT_BUDGET_MS,
        }
    }
}

/// One report: the window, the five sections and the alarms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Hourly or diagnostic.
    pub kind: Kind,
    /// Inclusive.
    pub window_start: DateTime<Utc>,
    /// Exclusive: the `at` the report was asked for.
    pub window_end: DateTime<Utc>,
    /// Section 1.
    pub spoofing: Spoofing,
    /// Section 2.
    pub collisions: Collisions,
    /// Section 3.
    pub models: Models,
    /// Section 4.
    pub timing: Timing,
    /// Section 5.
    pub drift: Drift,
    /// Every alarm, prefixed with its section key; empty when healthy.
    pub alarms: Vec<String>,
}

/// The hourly report for `[at - 1h, at)` with default options.
pub async fn hourly(
    client: &impl GenericClient,
    at: DateTime<Utc>,
) -> Result<Report, SnapshotError> {
    report(client, Kind::Hourly, at, &Options::default()).await
}

/// The diagnostic report for `[at - 24h, at)` with default options.
pub async fn diagnostic(
    client: &impl GenericClient,
    at: DateTime<Utc>,
) -> Result<Report, SnapshotError> {
    report(client, Kind::Diagnostic, at, &Options::default()).await
}

/// A report of `kind` ending at `at`. Read-only; the sections' queries run
/// one after another on `client` (pass a `REPEATABLE READ` transaction for
/// one consistent view).
pub async fn report(
    client: &impl GenericClient,
    kind: Kind,
    at: DateTime<Utc>,
    options: &Options,
) -> Result<Report, SnapshotError> {
    let window = Window::ending_at(kind, at)?;
    let span = tracing::info_span!("snapshot", kind = kind.as_str(), at = %at);
    async {
        let spoofing = Spoofing::load(client, &window).await?;
        let collisions = Collisions::load(client, &window).await?;
        let models = Models::load(client, &window).await?;
        let timing = Timing::load(client, &window, options.budget_ms).await?;
        let drift = Drift::load(client, &window).await?;
        let mut report = Report {
            schema_version: SCHEMA_VERSION,
            kind,
            window_start: window.start,
            window_end: window.end,
            spoofing,
            collisions,
            models,
            timing,
            drift,
            alarms: Vec::new(),
        };
        report.alarms = report.collect_alarms();
        tracing::debug!(alarms = report.alarms.len(), "snapshot computed");
        Ok(report)
    }
    .instrument(span)
    .await
}

impl Report {
    /// Whether any section is in alarm.
    pub fn in_alarm(&self) -> bool {
        !self.alarms.is_empty()
    }

    /// The keys of the sections in alarm, in report order.
    pub fn sections_in_alarm(&self) -> Vec<&'static str> {
        [
            ("spoofing", self.spoofing.alarm),
            ("collisions", self.collisions.alarm),
            ("models", self.models.alarm),
            ("timing", self.timing.alarm),
            ("drift", self.drift.alarm),
        ]
        .into_iter()
        .filter_map(|(k, a)| a.then_some(k))
        .collect()
    }

    fn collect_alarms(&self) -> Vec<String> {
        let sections = [
            ("spoofing", self.spoofing.alarms()),
            ("collisions", self.collisions.alarms()),
            ("models", self.models.alarms()),
            ("timing", self.timing.alarms()),
            ("drift", self.drift.alarms()),
        ];
        sections
            .into_iter()
            .flat_map(|(key, msgs)| msgs.into_iter().map(move |m| format!("{key}: {m}")))
            .collect()
    }

    /// The report as aligned plain text, ending with a newline.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "snapshot {} [{}, {})\n",
            self.kind.as_str(),
            text::ts(self.window_start),
            text::ts(self.window_end)
        ));
        if self.alarms.is_empty() {
            out.push_str("alarms: none\n");
        } else {
            out.push_str(&format!("alarms: {}\n", self.alarms.len()));
            for a in &self.alarms {
                text::line(&mut out, &format!("ALARM {a}"));
            }
        }
        self.spoofing.write_text(&mut out);
        self.collisions.write_text(&mut out);
        self.models.write_text(&mut out);
        self.timing.write_text(&mut out);
        self.drift.write_text(&mut out);
        out
    }

    /// The report as pretty-printed JSON (schema in the crate docs).
    pub fn render_json(&self) -> Result<String, SnapshotError> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// The report as one self-contained HTML page (inline CSS and SVG, no
    /// script, no external reference; well-formed XML too), its plots drawn
    /// from `series`, which must be [`series::load`]ed for this report.
    /// See [`html_report`] for both in one call.
    pub fn render_html(&self, series: &series::Series) -> String {
        html::render(self, series)
    }

    /// The report's window.
    pub fn window(&self) -> Window {
        Window {
            kind: self.kind,
            start: self.window_start,
            end: self.window_end,
        }
    }
}

/// The report of `kind` ending at `at` and the series its plots need,
/// rendered as HTML ([`Report::render_html`]). Read-only; pass a
/// `REPEATABLE READ` transaction for one consistent view.
pub async fn html_report(
    client: &impl GenericClient,
    kind: Kind,
    at: DateTime<Utc>,
    options: &Options,
) -> Result<(Report, String), SnapshotError> {
    let report = report(client, kind, at, options).await?;
    let series = series::load(client, &report).await?;
    let html = report.render_html(&series);
    Ok((report, html))
}
