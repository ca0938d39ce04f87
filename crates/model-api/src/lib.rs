//! The contract between detection models and the executor that runs them.
//!
//! This crate provides the small value types every model and the executor
//! share ([`ModelId`], [`MetricKey`], [`InputKey`], [`VersionLabel`],
//! [`Role`]), the [`Model`] trait a model author implements, the [`Context`]
//! a model runs on, and the [`ModelOutput`] it returns. It must never do I/O and never depend on
//! another crate of this workspace: model authors depend on it alone.
//!
//! **Key design decision: models are pure.** A model sees the cycle time,
//! its own typed params, the cycle's base input and the PRIMARY results of
//! its upstream models, and returns a result. It cannot write anywhere. That
//! is what lets the executor run SHADOW and CHALLENGER versions on exactly the
//! inputs their PRIMARY saw, persist everything in one transaction per cycle,
//! and guarantee that a non-PRIMARY version can never influence anything
//! downstream.
//!
//! **Results carry a typed artifact.** Besides the rows that are persisted
//! (`entity_key`, `score`, `payload`), a result may carry any Rust value as
//! its [artifact](ModelOutput::with_artifact). Downstream models read it with
//! [`Context::input`] as the concrete type, without re-parsing JSON.
//!
//! Params are parsed, not validated: a model kind declares a
//! [`Model::Params`] struct (use `#[serde(deny_unknown_fields)]`) and
//! [`instantiate`] turns a version's params JSON into it, naming the unknown
//! or missing field on failure. Invariants live in constructors:
//! [`ModelId::new`] refuses ids the database would refuse.
//!
//! # Example: a complete downstream model
//!
//! ```
//! use model_api::{instantiate, Context, Model, ModelError, ModelId, ModelOutput, OutputRow, Upstream};
//! use serde::Deserialize;
//! use std::collections::BTreeMap;
//!
//! /// What the upstream model hands to its dependents.
//! struct Speeds(BTreeMap<u64, f64>);
//!
//! /// Flags vessels faster than a threshold.
//! struct Speeding;
//!
//! /// Thresholds of [`Speeding`].
//! #[derive(Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct SpeedingParams {
//!     /// Knots above which a vessel is flagged.
//!     max_knots: f64,
//! }
//!
//! impl Model for Speeding {
//!     type Params = SpeedingParams;
//!
//!     fn run(&self, ctx: &Context<'_, SpeedingParams>) -> Result<ModelOutput, ModelError> {
//!         let speeds: &Speeds = ctx.input("speeds")?;
//!         let mut out = ModelOutput::new();
//!         for (mmsi, knots) in &speeds.0 {
//!             let score = if *knots > ctx.params().max_knots { 1.0 } else { 0.0 };
//!             out.push(OutputRow::new(mmsi.to_string(), score));
//!         }
//!         out.metric("vessels", speeds.0.len() as f64);
//!         Ok(out)
//!     }
//! }
//!
//! // The executor's side: build from params JSON, then run on a context.
//! let id = ModelId::new("speeding")?;
//! let model = instantiate(Speeding, id, &serde_json::json!({ "max_knots": 40.0 }))?;
//!
//! let upstream_result = ModelOutput::new()
//!     .with_artifact(Speeds(BTreeMap::from([(211002010, 900.0), (366999712, 12.0)])));
//! let mut upstream = Upstream::new();
//! upstream.insert("speeds", std::sync::Arc::new(upstream_result));
//!
//! let now = chrono::Utc::now();
//! let out = model.run(now, &(), &upstream)?;
//! assert_eq!(out.rows()[0].score, 1.0);
//! assert_eq!(out.rows()[1].score, 0.0);
//!
//! // Bad params are refused with the field named.
//! let err = instantiate(Speeding, ModelId::new("speeding")?, &serde_json::json!({})).unwrap_err();
//! assert!(err.to_string().contains("max_knots"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod context;
mod id;
mod model;
mod output;

pub use context::{Context, Upstream};
pub use id::{
    IdError, InputKey, MAX_ID_CHARS, MetricKey, ModelId, Role, RoleParseError, VersionLabel,
};
pub use model::{Model, ModelError, ModelInstance, ParamsError, instantiate, panic_message};
pub use output::{ModelOutput, OutputRow};

/// The instant a cycle is computed for (UTC).
pub type CycleTs = chrono::DateTime<chrono::Utc>;
