//! One module per command family.

pub mod cycle;
pub mod ingest;
pub mod migrate;
pub mod models;
pub mod partitions;
pub mod serve;
pub mod snapshot;
pub mod versions;
