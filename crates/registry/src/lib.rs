//! Turns the ACTIVE versions of the registry into a plan.
//!
//! TODO(helper): catalog, grouping, DAG with daggy, cycle paths, levels.

mod plan;

pub use plan::{Excluded, InputEdge, Plan, PlannedModel, PlannedVersion};
