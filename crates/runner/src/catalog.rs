//! The model kinds this binary has code for.

use anyhow::{Context, Result};

/// The catalog of model kinds `models plan` (and the params checks of
/// `versions add/promote`) plan with: the reference detectors. A build with
/// other model crates adds their entries here.
pub fn build() -> Result<registry::Catalog> {
    registry::Catalog::from_entries(detectors::catalog())
        .context("the built-in model catalog is inconsistent")
}
