//! Why an artifact could not be assembled.

/// An artifact's parts do not fit together: a defect of the code that
/// assembles it (a model), never of the data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArtifactError {
    /// Not one entry per vessel of the window.
    #[error("{what} got {given} vessels for a window of {window}")]
    VesselsMismatch {
        /// The artifact.
        what: &'static str,
        /// Vessels given.
        given: usize,
        /// Vessels in the window.
        window: usize,
    },
    /// A vessel that is not the window's (or is given twice).
    #[error("{what} got MMSI {mmsi}, which is not the window's next vessel")]
    NotInWindow {
        /// The artifact.
        what: &'static str,
        /// The MMSI.
        mmsi: i64,
    },
    /// Not one role per fix of the window.
    #[error("TrackFeatures got {roles} fix roles for a window of {fixes} fixes")]
    RolesMismatch {
        /// Roles given.
        roles: usize,
        /// Fixes in the window.
        fixes: usize,
    },
}
