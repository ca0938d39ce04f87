//! The model registry's lifecycle in PostgreSQL, as a library any front end
//! (the `runner` CLI, an embedding service) calls: register models
//! ([`add_model`], [`set_enabled`]), their dependencies ([`depend`],
//! [`undepend`]), versions ([`add_version`], [`promote`], [`archive`],
//! [`list_versions`], [`version`], [`rollback`]), a whole set at once
//! ([`register_reference`]), and [`load`], the one-statement read of the
//! ACTIVE registry that `params-cache` caches and `registry::plan` plans
//! from; the audit trail of every change ([`history`], notes through
//! [`noted`]).
//!
//! Every change is recorded in `kcg.detection_model_audit` (V050) in its
//! own transaction, by row triggers, under the [`Action`] the operation
//! names (a change made by hand in psql is [`Action::Manual`]).
//!
//! Every statement on the `kcg.detection_model*` tables that is about the
//! lifecycle lives here, with the rules it enforces: one ACTIVE PRIMARY per
//! model, no dependency cycle (checked with the planner's own graph search,
//! [`registry::dependency_path`]), one upstream per input key, params the
//! model's code accepts (through the caller's [`registry::Catalog`]). A
//! refusal is a [`StoreError`] naming the model, version, id or key and the
//! rule; a request that changes nothing is an outcome (e.g.
//! [`PromoteOutcome::AlreadyPrimary`]), not an error. Each change is one
//! transaction (a savepoint inside a caller's transaction), safe against
//! concurrent writers through row locks and, for `depend`, a table lock.
//!
//! This crate never opens, pools or keeps a connection (every operation
//! runs on the caller's), never prints, never plans, and never writes the
//! per-cycle run tables (`detection_model_runs`, outputs, metrics: that is
//! `dag-exec`).

mod audit;
mod decode;
mod error;
mod load;
mod models;
mod reference;
mod rollback;
mod versions;

pub use audit::{Action, AuditEntry, Operation, UnknownAction, history, noted};
pub use error::{BrokenPlan, StoreError};
pub use load::load;
pub use models::{Edge, EnabledOutcome, UndependOutcome, add_model, depend, set_enabled, undepend};
pub use reference::{ReferenceModel, Registered, register_reference};
pub use rollback::{RolledBack, rollback};
pub use versions::{
    ArchiveOutcome, NewVersion, PromoteOutcome, Promoted, StoredVersion, VersionSummary,
    add_version, archive, list_versions, promote, version,
};
