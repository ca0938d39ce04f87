//! The artifact of `spoofing_score`: each vessel's score and the evidence
//! behind it.

use chrono::{DateTime, Utc};

use crate::{IdentityClass, Switch};

/// One vessel's spoofing score and the evidence behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct VesselSpoofing {
    /// The MMSI.
    pub mmsi: i64,
    /// The score, 0 to 1. Held as `f32` (what `vessel_analysis` stores), so
    /// the legacy column and the registry's `DOUBLE PRECISION` output hold
    /// exactly the same number.
    pub score: f32,
    /// The vessel's speed ceiling, knots.
    pub ceiling_kn: f64,
    /// The highest speed its confirmed positions imply: along its track or
    /// of a fast run, knots.
    pub max_speed_kn: Option<f64>,
    /// Evidence from `max_speed_kn`, 0 to 1.
    pub speed_evidence: f64,
    /// Highest SOG reported on the track, knots.
    pub max_reported_sog: Option<f32>,
    /// Evidence from `max_reported_sog`, 0 to 1.
    pub reported_speed_evidence: f64,
    /// The longest teleport (switch between confirmed places), if any.
    pub teleport: Option<Switch>,
    /// How many switches were teleports.
    pub teleports: u32,
    /// Whether the identity model found the MMSI INVALID.
    pub invalid_identity: bool,
    /// The identity's class, when the identity model saw the vessel.
    pub identity_class: Option<IdentityClass>,
    /// Fixes set aside as glitches (counted, never evidence).
    pub glitches: u32,
    /// Time of the vessel's last fix in the window.
    pub last_ts: DateTime<Utc>,
}

/// The artifact of `spoofing_score`: every vessel, by ascending MMSI.
///
/// ```
/// use ais_types::{SpoofingScores, VesselSpoofing};
/// let v = |mmsi, score| VesselSpoofing {
///     mmsi, score, ceiling_kn: 40.0, max_speed_kn: None, speed_evidence: 0.0,
///     max_reported_sog: None, reported_speed_evidence: 0.0, teleport: None, teleports: 0,
///     invalid_identity: false, identity_class: None, glitches: 0, last_ts: chrono::Utc::now(),
/// };
/// let scores = SpoofingScores::new(vec![v(366_999_712, 0.0), v(211_002_010, 0.8)]);
/// assert_eq!(scores.get(211_002_010).map(|v| v.score), Some(0.8));
/// assert_eq!(scores.vessels()[0].mmsi, 211_002_010);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SpoofingScores {
    vessels: Vec<VesselSpoofing>,
}

impl SpoofingScores {
    /// The scores of `vessels`, in any order (sorted here by MMSI; of two
    /// entries for one MMSI the first given is kept).
    pub fn new(vessels: Vec<VesselSpoofing>) -> Self {
        Self {
            vessels: crate::by_mmsi(vessels, |v| v.mmsi),
        }
    }

    /// All vessels, by ascending MMSI.
    pub fn vessels(&self) -> &[VesselSpoofing] {
        &self.vessels
    }

    /// One vessel's score.
    pub fn get(&self, mmsi: i64) -> Option<&VesselSpoofing> {
        self.vessels
            .binary_search_by_key(&mmsi, |v| v.mmsi)
            .ok()
            .map(|i| &self.vessels[i])
    }
}
