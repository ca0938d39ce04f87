//! The lifecycle status of a model version.

use std::fmt;
use std::str::FromStr;

/// Where a version is in its lifecycle, as `kcg.detection_model_versions.status`
/// stores it. Only ACTIVE versions are loaded and planned.
///
/// ```
/// use registry::VersionStatus;
/// assert_eq!("ACTIVE".parse::<VersionStatus>()?, VersionStatus::Active);
/// assert_eq!(VersionStatus::Archived.as_str(), "ARCHIVED");
/// assert!("RETIRED".parse::<VersionStatus>().is_err());
/// # Ok::<(), registry::StatusParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VersionStatus {
    /// Registered, not running.
    Draft,
    /// Running every cycle in its role.
    Active,
    /// Retired; kept for the record and for rolling back.
    Archived,
}

impl VersionStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [VersionStatus; 3] = [
        VersionStatus::Draft,
        VersionStatus::Active,
        VersionStatus::Archived,
    ];

    /// The string stored in the database (`DRAFT`, `ACTIVE`, `ARCHIVED`).
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Draft => "DRAFT",
            VersionStatus::Active => "ACTIVE",
            VersionStatus::Archived => "ARCHIVED",
        }
    }
}

impl fmt::Display for VersionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status string that is not `DRAFT`, `ACTIVE` or `ARCHIVED`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown version status {0:?}; expected DRAFT, ACTIVE or ARCHIVED")]
pub struct StatusParseError(pub String);

impl FromStr for VersionStatus {
    type Err = StatusParseError;

    /// Parses the database strings exactly (the CHECK constraint of V034
    /// admits no other spelling).
    fn from_str(s: &str) -> Result<Self, StatusParseError> {
        VersionStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| StatusParseError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_database_strings() {
        for status in VersionStatus::ALL {
            assert_eq!(status.as_str().parse::<VersionStatus>(), Ok(status));
        }
        assert!("active".parse::<VersionStatus>().is_err());
    }
}
