//! One module per command family.

pub mod ingest;
pub mod migrate;
pub mod partitions;
pub mod snapshot;
