//! A process-wide TTL cache of the model registry: the ACTIVE versions of
//! enabled models and every dependency edge, as `registry-store`'s [`load`]
//! reads them in one statement.
//!
//! [`ParamsCache`] serves that [`RegistrySnapshot`] for a TTL (5 minutes by
//! default), reloads single-flight (many callers on a stale cache cause one
//! query), and can be invalidated, e.g. when a `NOTIFY` arrives on
//! [`NOTIFY_CHANNEL`].
//!
//! This crate never opens or pools connections itself: every load runs on
//! the caller's connection, so a prediction cycle uses exactly the one pooled
//! connection it checked out. It never writes, never holds SQL of its own
//! (the statement is `registry-store`'s), and never interprets versions
//! (ids, catalog, dependencies): that is the `registry` crate's job.
//!
//! [`load`]: registry_store::load

mod cache;

pub use cache::{DEFAULT_TTL, ParamsCache};
pub use registry::RegistrySnapshot;

/// The PostgreSQL `NOTIFY` channel on which every change to
/// `kcg.detection_models`, `kcg.detection_model_versions` or
/// `kcg.detection_model_dependencies` is announced (a statement trigger from
/// migration V034). A listener calls [`ParamsCache::invalidate`] on it.
pub const NOTIFY_CHANNEL: &str = "kcg_model_registry";

/// Why the registry could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The load failed (the query, or a stored value the code cannot read).
    #[error(transparent)]
    Load(#[from] registry_store::StoreError),
}
