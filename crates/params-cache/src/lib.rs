//! Loads the ACTIVE versions of enabled models and every dependency edge from
//! `kcg.detection_model_*`, behind a process-wide TTL cache.
//!
//! TODO(helper): cache, single-flight, invalidate, tests.

mod rows;

pub use rows::{ActiveVersion, Dependency, RegistrySnapshot};
