//! The model kinds of the stock runner.

use registry::{Catalog, CatalogError};

/// The reference detectors (every implementation of each, the first its
/// default), as the stock `runner` plans with them: the start of a
/// downstream catalog.
///
/// ```
/// let catalog = runner::reference_catalog()?;
/// assert!(catalog.contains("spoofing_score"));
/// assert_eq!(catalog.implementations("spoofing_score").count(), 2);
/// # Ok::<(), registry::CatalogError>(())
/// ```
pub fn reference_catalog() -> Result<Catalog, CatalogError> {
    Catalog::from_entries(detectors::catalog())
}
