//! The artifact of `identity_collision`: identities seen at places too far
//! apart for one vessel.

use chrono::{DateTime, Utc};

use crate::Severity;

/// One identity seen at places too far apart for one vessel.
#[derive(Debug, Clone, PartialEq)]
pub struct Collision {
    /// The shared MMSI.
    pub mmsi: i64,
    /// How bad it is.
    pub severity: Severity,
    /// Impossible switches between places (carried positions included).
    pub hops: u32,
    /// The farthest switch, kilometres.
    pub max_distance_km: f64,
    /// The fastest implied speed of a switch, knots (infinite for two places
    /// at one instant).
    pub max_speed_kn: f64,
    /// The vessel's ceiling, knots.
    pub ceiling_kn: f64,
    /// Start of the first switch.
    pub first_ts: DateTime<Utc>,
    /// End of the last switch.
    pub last_ts: DateTime<Utc>,
    /// The confirmed places, as `(lat, lon)` of their last fix, the track's
    /// first.
    pub sites: Vec<(f64, f64)>,
}

impl Collision {
    /// The score of a collision: its severity's ([`Severity::score`]).
    pub fn score(&self) -> f64 {
        self.severity.score()
    }
}

/// The artifact of `identity_collision`: the colliding identities only, by
/// ascending MMSI.
#[derive(Debug, Clone, PartialEq)]
pub struct Collisions {
    collisions: Vec<Collision>,
}

impl Collisions {
    /// The collisions of `collisions`, in any order (sorted here by MMSI; of
    /// two entries for one MMSI the first given is kept).
    pub fn new(collisions: Vec<Collision>) -> Self {
        Self {
            collisions: crate::by_mmsi(collisions, |c| c.mmsi),
        }
    }

    /// All collisions, by ascending MMSI.
    pub fn all(&self) -> &[Collision] {
        &self.collisions
    }

    /// The collision of one MMSI, if it has one.
    pub fn get(&self, mmsi: i64) -> Option<&Collision> {
        self.collisions
            .binary_search_by_key(&mmsi, |c| c.mmsi)
            .ok()
            .map(|i| &self.collisions[i])
    }
}
