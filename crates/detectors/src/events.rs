//! The events the cycle writes to `prediction_events`, derived from the
//! models' artifacts.

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::Collisions;
use crate::geo::round3;
use crate::{Identities, IdentityProblem, nine_digits};
use crate::{Severity, SpoofingScores};

/// The category of a `prediction_events` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventCategory {
    /// `SPOOFING`: spoofing score at or above [`EventRules::spoofing_min_score`].
    Spoofing,
    /// `IDENTITY_COLLISION`: one per collision, with its severity.
    IdentityCollision,
    /// `INVALID_MMSI`: one per INVALID identity (LOW for an unassigned MID,
    /// MEDIUM when it fits no format). Valid non-ship classes (coast
    /// stations, craft of a parent ship, MOB devices, ...) raise none.
    InvalidMmsi,
    /// `SPEED_ANOMALY`: a confirmed implied speed, or a sustained reported
    /// one, above the vessel's ceiling (MEDIUM when the implied speed
    /// evidence is complete, else LOW).
    SpeedAnomaly,
}

impl EventCategory {
    /// All categories.
    pub const ALL: [EventCategory; 4] = [
        EventCategory::Spoofing,
        EventCategory::IdentityCollision,
        EventCategory::InvalidMmsi,
        EventCategory::SpeedAnomaly,
    ];

    /// The category of a database string; `None` for any other string.
    ///
    /// ```
    /// use detectors::EventCategory;
    /// assert_eq!(EventCategory::from_db("SPOOFING"), Some(EventCategory::Spoofing));
    /// assert_eq!(EventCategory::from_db("spoofing"), None);
    /// ```
    pub fn from_db(s: &str) -> Option<Self> {
        EventCategory::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The database string, e.g. `IDENTITY_COLLISION`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventCategory::Spoofing => "SPOOFING",
            EventCategory::IdentityCollision => "IDENTITY_COLLISION",
            EventCategory::InvalidMmsi => "INVALID_MMSI",
            EventCategory::SpeedAnomaly => "SPEED_ANOMALY",
        }
    }
}

impl fmt::Display for EventCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its category.
    pub category: EventCategory,
    /// The vessel.
    pub mmsi: i64,
    /// How bad.
    pub severity: Severity,
    /// When it was observed: the end of the last hop for a collision, the
    /// vessel's last fix in the window otherwise.
    pub event_ts: DateTime<Utc>,
    /// The finding's magnitude, to keep an episode's worst: the score
    /// (SPOOFING), the speed in knots (SPEED_ANOMALY), the farthest switch in
    /// km (IDENTITY_COLLISION), 1 (INVALID_MMSI).
    pub value: f64,
    /// Small JSON details for `prediction_events.details`; always holds
    /// `"mmsi"` in its nine-digit form.
    pub details: Value,
}

/// Score thresholds for SPOOFING events.
///
/// Default: `{"spoofing_min_score": 0.5, "spoofing_high_score": 0.7,
/// "spoofing_critical_score": 0.9}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRules {
    /// Score from which a SPOOFING event is raised (MEDIUM).
    pub spoofing_min_score: f64,
    /// Score from which it is HIGH.
    pub spoofing_high_score: f64,
    /// Score from which it is CRITICAL.
    pub spoofing_critical_score: f64,
}

impl Default for EventRules {
    fn default() -> Self {
        Self {
            spoofing_min_score: 0.5,
            spoofing_high_score: 0.7,
            spoofing_critical_score: 0.9,
        }
    }
}

/// The events of one cycle, sorted by category then MMSI.
pub fn events(
    identities: &Identities,
    spoofing: &SpoofingScores,
    collisions: &Collisions,
    rules: &EventRules,
) -> Vec<Event> {
    let mut out = Vec::new();
    for v in spoofing.vessels() {
        let score = f64::from(v.score);
        if score >= rules.spoofing_min_score {
            let severity = if score >= rules.spoofing_critical_score {
                Severity::Critical
            } else if score >= rules.spoofing_high_score {
                Severity::High
            } else {
                Severity::Medium
            };
            out.push(Event {
                category: EventCategory::Spoofing,
                mmsi: v.mmsi,
                severity,
                event_ts: v.last_ts,
                value: score,
                details: json!({ "mmsi": nine_digits(v.mmsi), "score": score }),
            });
        }
        if v.speed_evidence > 0.0 || v.reported_speed_evidence > 0.0 {
            let severity = if v.speed_evidence >= 1.0 {
                Severity::Medium
            } else {
                Severity::Low
            };
            out.push(Event {
                category: EventCategory::SpeedAnomaly,
                mmsi: v.mmsi,
                severity,
                event_ts: v.last_ts,
                value: v
                    .max_speed_kn
                    .filter(|_| v.speed_evidence > 0.0)
                    .or(v.max_reported_sog.map(f64::from))
                    .unwrap_or(0.0),
                details: json!({
                    "mmsi": nine_digits(v.mmsi),
                    "ceiling_kn": v.ceiling_kn,
                    "speed_kn": v.max_speed_kn.filter(|_| v.speed_evidence > 0.0).map(round3),
                    "reported_sog": v.max_reported_sog
                        .filter(|_| v.reported_speed_evidence > 0.0)
                        .map(|s| round3(f64::from(s))),
                }),
            });
        }
    }
    for c in collisions.all() {
        out.push(Event {
            category: EventCategory::IdentityCollision,
            mmsi: c.mmsi,
            severity: c.severity,
            event_ts: c.last_ts,
            value: c.max_distance_km,
            details: json!({
                "mmsi": nine_digits(c.mmsi),
                "hops": c.hops,
                "max_km": round3(c.max_distance_km),
                "max_speed_kn": Some(c.max_speed_kn).filter(|v| v.is_finite()).map(round3),
            }),
        });
    }
    for v in identities.invalid() {
        let severity = match v.problem {
            Some(IdentityProblem::UnassignedMid(_)) => Severity::Low,
            _ => Severity::Medium,
        };
        out.push(Event {
            category: EventCategory::InvalidMmsi,
            mmsi: v.mmsi,
            severity,
            event_ts: v.last_ts,
            value: 1.0,
            details: json!({
                "mmsi": v.mmsi_text(),
                "class": v.class.as_str(),
                "problem": v.problem.map(IdentityProblem::as_str),
                "mid": match v.problem { Some(IdentityProblem::UnassignedMid(m)) => Some(m), _ => None },
                "name": v.name,
            }),
        });
    }
    out.sort_by_key(|e| (e.category, e.mmsi));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip() {
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>().unwrap(), s);
        }
        assert!("SEVERE".parse::<Severity>().is_err());
        assert!(Severity::Low < Severity::Critical);
        let names: Vec<&str> = EventCategory::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "SPOOFING",
                "IDENTITY_COLLISION",
                "INVALID_MMSI",
                "SPEED_ANOMALY"
            ]
        );
    }
}
