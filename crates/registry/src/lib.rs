//! Turns the ACTIVE versions of the registry into a plan the executor runs.
//!
//! [`plan`] takes a [`Catalog`] (the model kinds this build has code for,
//! model_id to constructor) and a [`RegistrySnapshot`] (plain data, loaded
//! by `registry-store`), groups the versions per model, instantiates
//! each version from its params, and builds the dependency DAG with daggy.
//! A model is planned only with exactly one instantiable ACTIVE PRIMARY and
//! available upstreams. An invalid or unknown model_id, bad params, a
//! missing PRIMARY, two upstreams declared under one input key or a
//! dependency cycle leave the model out with a reason,
//! and every model downstream of it goes out too ("upstream X unavailable");
//! a SHADOW or CHALLENGER whose params are refused is left out alone, each
//! with a typed [`Exclusion`] whose text operators read. A cycle
//! is reported with its whole path (`a -> b -> c -> a`) while the rest of the
//! graph is still planned. The [`Plan`] is a topological order grouped into
//! levels (every upstream in an earlier level, sorted by model_id inside a
//! level), identical for any order of the input rows. Only the planner
//! builds a [`Plan`], so the executor trusts it without checking again.
//! [`dependency_path`] is the same graph search for a front end that must
//! refuse an edge closing a cycle; [`VersionStatus`] is the lifecycle
//! status as stored.
//!
//! This crate must never do I/O (it depends on `model-api` alone among our
//! crates and on no database or async crate), never panic on what the
//! database holds, and never let a plan reach the executor in which a model
//! could run before one of its upstreams.

mod catalog;
mod exclusion;
mod graph;
mod plan;
mod planner;
mod snapshot;
mod status;

pub use catalog::{Catalog, CatalogError, Constructor, ParamsCheck, Resolved, Unresolved};
pub use exclusion::{Exclusion, TypeMismatch, VersionRef};
pub use graph::dependency_path;
pub use plan::{DependencyCycle, Excluded, InputEdge, Plan, PlannedModel, PlannedVersion};
pub use planner::{plan, versions_by_model};
pub use snapshot::{ActiveVersion, Dependency, RegistrySnapshot, UnreadableParams};
pub use status::{StatusParseError, VersionStatus};
