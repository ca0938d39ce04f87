//! The contract between detection models and the executor that runs them.
//!
//! This crate provides the small value types every model and the executor
//! share ([`ModelId`], [`MetricKey`], [`InputKey`], [`VersionLabel`],
//! [`ImplementationName`], [`Role`]), the [`Model`] trait a model author
//! implements, the [`Context`] a model runs on, the [`Output`] it returns,
//! and [`Implementation`], the erased form a catalog holds. It must never do
//! I/O and never depend on another crate of this workspace: model authors
//! depend on it alone (plus, for AIS models, the versioned `ais-types` and,
//! in tests, `ais-csv`).
//!
//! **Shipping a model of your own** (a crate of your own, a binary of ten
//! lines that runs every `runner` command with your models added, tests on
//! the real sample without a database): see the section "Ship your own
//! model" of the repository's `README.md` and the template in
//! `examples/own-models/`.
//!
//! **Key design decision: models are pure.** A model sees the cycle time,
//! its own typed params, the cycle's base input and the PRIMARY results of
//! its upstream models, and returns a result. It cannot write anywhere. That
//! is what lets the executor run SHADOW and CHALLENGER versions on exactly the
//! inputs their PRIMARY saw, persist everything in one transaction per cycle,
//! and guarantee that a non-PRIMARY version can never influence anything
//! downstream.
//!
//! **Results carry a typed artifact, and the DAG is checked on types.**
//! Besides the rows that are persisted (`entity_key`, `score`, `payload`), a
//! result carries the model's [`Model::Artifact`], returned typed in an
//! [`Output`], which downstream models read with [`Context::read`] as the
//! concrete type, without re-parsing JSON. Because a model declares what it
//! produces (`Artifact`) and what it reads ([`Model::INPUTS`], built from
//! [`Input`] consts), the registry compares both ends of every dependency
//! before a cycle runs and leaves out, naming the key and both types, a
//! model whose upstream produces something else.
//!
//! Params are parsed, then checked: a model kind declares a
//! [`Model::Params`] struct (use `#[serde(deny_unknown_fields)]`) and its
//! rules in [`Model::check`]; [`instantiate`] parses a version's params JSON
//! into it and runs the check, naming the unknown or missing field, the path
//! of a value of the wrong type, or the field the rules refuse
//! ([`ParamsError::field`]). Invariants live in constructors:
//! [`ModelId::new`] refuses ids the database would refuse.
//!
//! # Example: a complete downstream model
//!
//! ```
//! use model_api::{
//!     instantiate, Context, DeclaredInput, Input, Model, ModelError, ModelId, ModelOutput,
//!     Output, OutputRow, ParamsProblem, Upstream,
//! };
//! use serde::Deserialize;
//! use std::collections::BTreeMap;
//!
//! /// What the upstream model hands to its dependents.
//! struct Speeds(BTreeMap<u64, f64>);
//!
//! /// The one input of [`Speeding`]: `Speeds` under the key "speeds".
//! const SPEEDS: Input<Speeds> = Input::new("speeds");
//!
//! /// Flags vessels faster than a threshold.
//! #[derive(Clone)]
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
//!     /// The flagged MMSIs, for models downstream.
//!     type Artifact = Vec<u64>;
//!     const INPUTS: &'static [DeclaredInput] = &[SPEEDS.declare()];
//!
//!     fn check(&self, p: &SpeedingParams) -> Result<(), ParamsProblem> {
//!         ParamsProblem::positive("max_knots", p.max_knots)
//!     }
//!
//!     fn run(&self, ctx: &Context<'_, SpeedingParams>) -> Result<Output<Vec<u64>>, ModelError> {
//!         let speeds = ctx.read(&SPEEDS)?;
//!         let mut out = ModelOutput::new();
//!         let mut flagged = Vec::new();
//!         for (mmsi, knots) in &speeds.0 {
//!             let fast = *knots > ctx.params().max_knots;
//!             out.push(OutputRow::new(mmsi.to_string(), if fast { 1.0 } else { 0.0 }));
//!             if fast {
//!                 flagged.push(*mmsi);
//!             }
//!         }
//!         out.metric("vessels", speeds.0.len() as f64);
//!         Ok(Output::new(out, flagged))
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
//! assert_eq!(out.artifact::<Vec<u64>>(), Some(&vec![211002010]));
//!
//! // Bad params are refused with the field named: missing, mistyped, or
//! // refused by the model's own rules.
//! let err = instantiate(Speeding, ModelId::new("speeding")?, &serde_json::json!({})).unwrap_err();
//! assert!(err.to_string().contains("max_knots"));
//! let err = instantiate(Speeding, ModelId::new("speeding")?, &serde_json::json!({"max_knots": "fast"}))
//!     .unwrap_err();
//! assert_eq!(err.field.as_deref(), Some("max_knots"));
//! let err = instantiate(Speeding, ModelId::new("speeding")?, &serde_json::json!({"max_knots": -1}))
//!     .unwrap_err();
//! assert_eq!(err.field.as_deref(), Some("max_knots"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod artifact;
mod context;
mod id;
mod implementation;
mod model;
mod output;
mod params;
mod policy;

pub use artifact::{ArtifactType, DeclaredInput, Input};
pub use context::{Context, Upstream};
pub use id::{
    IdError, ImplementationName, InputKey, MAX_ID_CHARS, MetricKey, ModelId, Role, RoleParseError,
    VersionLabel,
};
pub use implementation::{Constructor, Implementation};
pub use model::{Model, ModelError, ModelInstance, instantiate, panic_message};
pub use output::{ModelOutput, Output, OutputRow};
pub use params::{ParamsError, ParamsProblem};
pub use policy::{OUTPUT_PARAM, OutputPolicy};

/// The instant a cycle is computed for (UTC).
pub type CycleTs = chrono::DateTime<chrono::Utc>;
