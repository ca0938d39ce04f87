//! Loads the ACTIVE versions of enabled models and every dependency edge from
//! `kcg.detection_model_*`, behind a process-wide TTL cache.
//!
//! [`load`] reads the registry in one SQL statement (one consistent
//! snapshot): ACTIVE versions of enabled models ordered by model_id, then
//! role (PRIMARY, CHALLENGER, SHADOW), then id, and all dependency edges. A
//! params value that is not a JSON object is logged and replaced by `{}`.
//! [`ParamsCache`] serves that [`RegistrySnapshot`] for a TTL (5 minutes by
//! default), reloads single-flight (many callers on a stale cache cause one
//! query), and can be invalidated, e.g. when a `NOTIFY` arrives on
//! [`NOTIFY_CHANNEL`].
//!
//! This crate never opens or pools connections itself: every load runs on
//! the caller's connection, so a prediction cycle uses exactly the one pooled
//! connection it checked out. It never writes, and it never interprets
//! versions (ids, catalog, dependencies): that is the `registry` crate's job.

mod cache;
mod load;
mod rows;

pub use cache::{DEFAULT_TTL, ParamsCache};
pub use load::load;
pub use rows::{ActiveVersion, Dependency, RegistrySnapshot};

/// The PostgreSQL `NOTIFY` channel on which every change to
/// `kcg.detection_models`, `kcg.detection_model_versions` or
/// `kcg.detection_model_dependencies` is announced (a statement trigger from
/// migration V034). A listener calls [`ParamsCache::invalidate`] on it.
pub const NOTIFY_CHANNEL: &str = "kcg_model_registry";

/// Why the registry could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The query failed (connection lost, schema missing, ...).
    #[error(
        "cannot load the model registry from kcg.detection_model_versions and \
         kcg.detection_model_dependencies: {}",
        db_message(.0)
    )]
    Query(tokio_postgres::Error),
    /// A stored value could not be read as the code expects.
    #[error("kcg.{table}.{column} of {row}: {problem}")]
    BadRow {
        /// The table the value came from.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// Which row, e.g. `id 7 (model spoofing_score, version 1.0.0)`.
        row: String,
        /// What was wrong with it.
        problem: String,
    },
}

/// The error with its causes: `tokio_postgres::Error` displays only its kind
/// (`db error`) and keeps the server's message (`ERROR: relation ... does
/// not exist`) as its source.
fn db_message(e: &tokio_postgres::Error) -> String {
    let mut message = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        message.push_str(": ");
        message.push_str(&c.to_string());
        cause = c.source();
    }
    message
}
