//! `identity_collision`: one MMSI at places the same vessel could not
//! connect at any plausible speed: two transmitters sharing an identity (or
//! one that jumped).

use model_api::{
    Context, DeclaredInput, Input, Model, ModelError, ModelOutput, Output, OutputRow, ParamsProblem,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Severity;
use crate::geo::round3;
use crate::keys;
use crate::nine_digits;
use crate::params::{ModelParams, positive};
use crate::{Collision, Collisions, TrackFeatures, VesselTrack};

/// How many sites a collision's payload lists at most.
pub const MAX_SITES_REPORTED: usize = 4;

/// Thresholds of [`CollisionModel`].
///
/// The physics is `track_features`': an identity seen at two confirmed
/// places whose consecutive fixes no vessel of its type could connect (a
/// [`Switch`](crate::Switch)). A collision is `min_switches` such switches
/// at least `min_distance_km` long (the GPS-noise floor). Severity, by the
/// implied speed as a multiple of the vessel's ceiling (`factor`) and by
/// persistence (switches): CRITICAL with `>= critical_switches` switches
/// and a factor `>= critical_speed_factor`; HIGH with `>= high_switches`
/// switches, or a simultaneous report at two places; MEDIUM with a factor
/// `>= medium_speed_factor`; else LOW.
///
/// Default, as JSON: `{"min_distance_km": 2.0, "min_switches": 1,
/// "medium_speed_factor": 3.0, "high_switches": 2, "critical_switches": 3,
/// "critical_speed_factor": 10.0}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollisionParams {
    /// Kilometres a switch must span to count (below: GPS noise).
    pub min_distance_km: f64,
    /// Switches that make a collision.
    pub min_switches: u32,
    /// Speed factor (implied speed / ceiling) from which it is MEDIUM.
    pub medium_speed_factor: f64,
    /// Switches from which it is HIGH.
    pub high_switches: u32,
    /// Switches from which, with `critical_speed_factor`, it is CRITICAL.
    pub critical_switches: u32,
    /// Speed factor from which, with `critical_switches`, it is CRITICAL.
    pub critical_speed_factor: f64,
}

impl Default for CollisionParams {
    fn default() -> Self {
        Self {
            min_distance_km: 2.0,
            min_switches: 1,
            medium_speed_factor: 3.0,
            high_switches: 2,
            critical_switches: 3,
            critical_speed_factor: 10.0,
        }
    }
}

impl ModelParams for CollisionParams {
    fn check(&self) -> Result<(), ParamsProblem> {
        positive("min_distance_km", self.min_distance_km)?;
        positive("medium_speed_factor", self.medium_speed_factor)?;
        positive("critical_speed_factor", self.critical_speed_factor)?;
        if self.min_switches == 0 {
            return Err(ParamsProblem::new("min_switches", "must be at least 1"));
        }
        if !(self.min_switches <= self.high_switches
            && self.high_switches <= self.critical_switches)
        {
            // Blame the one that breaks the order: the upper end first.
            let field = if self.high_switches > self.critical_switches {
                "critical_switches"
            } else {
                "high_switches"
            };
            return Err(ParamsProblem::new(
                field,
                format!(
                    "min_switches ({}) <= high_switches ({}) <= critical_switches ({}) must hold",
                    self.min_switches, self.high_switches, self.critical_switches
                ),
            ));
        }
        Ok(())
    }
}

impl CollisionParams {
    /// The severity of `switches` switches whose fastest implied speed is
    /// `factor` times the ceiling; `simultaneous` when two places were
    /// reported at one instant.
    ///
    /// ```
    /// use detectors::{CollisionParams, Severity};
    /// let p = CollisionParams::default();
    /// assert_eq!(p.severity(3, 5000.0, false), Severity::Critical);
    /// assert_eq!(p.severity(2, 20.0, false), Severity::High);
    /// assert_eq!(p.severity(1, 200.0, false), Severity::Medium);
    /// assert_eq!(p.severity(1, 2.0, false), Severity::Low);
    /// ```
    pub fn severity(&self, switches: u32, factor: f64, simultaneous: bool) -> Severity {
        if switches >= self.critical_switches && factor >= self.critical_speed_factor {
            Severity::Critical
        } else if switches >= self.high_switches || simultaneous {
            Severity::High
        } else if factor >= self.medium_speed_factor {
            Severity::Medium
        } else {
            Severity::Low
        }
    }
}

/// Finds the collision of one vessel, if any.
pub fn detect(vessel: &VesselTrack, p: &CollisionParams) -> Option<Collision> {
    let counted: Vec<_> = vessel
        .switches
        .iter()
        .filter(|s| s.km >= p.min_distance_km)
        .collect();
    if counted.len() < p.min_switches as usize {
        return None;
    }
    let hops = counted.len() as u32;
    let max_km = counted.iter().map(|s| s.km).fold(0.0, f64::max);
    let max_speed = counted.iter().map(|s| s.speed_kn).fold(0.0, f64::max);
    let simultaneous = counted.iter().any(|s| s.from_ts == s.to_ts);
    let factor = max_speed / vessel.ceiling_kn;
    Some(Collision {
        mmsi: vessel.mmsi,
        severity: p.severity(hops, factor, simultaneous),
        hops,
        max_distance_km: max_km,
        max_speed_kn: max_speed,
        ceiling_kn: vessel.ceiling_kn,
        first_ts: counted[0].from_ts,
        last_ts: counted[counted.len() - 1].to_ts,
        sites: vessel.sites.iter().map(|s| (s.lat, s.lon)).collect(),
    })
}

/// The artifact of `identity_collision`: looks for collisions in every
/// vessel of `tracks`.
pub fn collisions(tracks: &TrackFeatures, params: &CollisionParams) -> Collisions {
    Collisions::new(
        tracks
            .vessels()
            .iter()
            .filter_map(|v| detect(v, params))
            .collect(),
    )
}

/// `identity_collision`, on `track_features` under input key
/// [`keys::TRACKS`] (`"tracks"`).
///
/// Rows: one per colliding MMSI only (entity key the nine-digit MMSI),
/// `score` from the severity (LOW 0.25, MEDIUM 0.5, HIGH 0.75, CRITICAL 1),
/// payload `{"severity", "hops", "max_km", "max_speed_kn", "ceiling_kn",
/// "first_ts", "last_ts", "sites": [[lat, lon], ...]}` (at most
/// [`MAX_SITES_REPORTED`] sites; `max_speed_kn` null for two places at one
/// instant). Artifact: [`Collisions`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CollisionModel;

/// What [`CollisionModel`] reads under [`keys::TRACKS`].
const TRACKS: Input<TrackFeatures> = Input::new(keys::TRACKS);

impl Model for CollisionModel {
    type Params = CollisionParams;
    type Artifact = Collisions;
    const INPUTS: &'static [DeclaredInput] = &[TRACKS.declare()];

    fn check(&self, params: &CollisionParams) -> Result<(), ParamsProblem> {
        params.check()
    }

    fn run(&self, ctx: &Context<'_, CollisionParams>) -> Result<Output<Collisions>, ModelError> {
        let tracks = ctx.read(&TRACKS)?;
        let found = collisions(tracks, ctx.params());
        let mut out = ModelOutput::with_capacity(found.all().len());
        let mut by_severity = [0usize; 4];
        for c in found.all() {
            by_severity[c.severity as usize] += 1;
            let sites: Vec<[f64; 2]> = c
                .sites
                .iter()
                .take(MAX_SITES_REPORTED)
                .map(|&(lat, lon)| [lat, lon])
                .collect();
            out.push(
                OutputRow::new(nine_digits(c.mmsi), c.score()).with_payload(json!({
                    "severity": c.severity.as_str(),
                    "hops": c.hops,
                    "max_km": round3(c.max_distance_km),
                    "max_speed_kn": Some(c.max_speed_kn).filter(|v| v.is_finite()).map(round3),
                    "ceiling_kn": c.ceiling_kn,
                    "first_ts": c.first_ts.to_rfc3339(),
                    "last_ts": c.last_ts.to_rfc3339(),
                    "sites": sites,
                })),
            );
        }
        out.metric("vessels", tracks.vessels().len() as f64);
        out.metric("collisions", found.all().len() as f64);
        for s in Severity::ALL {
            out.metric(
                format!("severity_{}", s.as_str().to_ascii_lowercase()),
                by_severity[s as usize] as f64,
            );
        }
        Ok(Output::new(out, found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Fix;
    use crate::test_fixtures::{fix, window};
    use crate::tracks::TrackParams;

    const GULF: (f64, f64) = (30.28391, -87.53641);
    const CALIFORNIA: (f64, f64) = (34.40715, -119.69165);

    fn detect(fixes: Vec<Fix>, p: &CollisionParams) -> Collisions {
        let t = crate::tracks::track_features(&window(fixes), &TrackParams::default()).unwrap();
        collisions(&t, p)
    }

    fn at(secs: i64, (lat, lon): (f64, f64)) -> Fix {
        fix(211_002_010, secs, lat, lon)
    }

    #[test]
    fn alternating_places_make_a_recurring_collision() {
        let p = CollisionParams::default();
        let c = detect(
            vec![
                at(44, CALIFORNIA),
                at(126, GULF),
                at(338, GULF),
                at(405, CALIFORNIA),
                at(578, GULF),
            ],
            &p,
        );
        let c = c.get(211_002_010).unwrap();
        assert_eq!((c.hops, c.severity), (3, Severity::Critical));
        assert!((c.max_distance_km - 3042.4).abs() < 0.5);
        assert_eq!(
            (c.first_ts, c.last_ts),
            (crate::test_fixtures::t(44), crate::test_fixtures::t(578))
        );
        assert_eq!(c.sites.len(), 2);
        assert_eq!(c.score(), 1.0);
    }

    #[test]
    fn a_lone_far_fix_is_no_collision_and_a_confirmed_one_is() {
        let p = CollisionParams::default();
        // One California fix among Gulf ones: a glitch.
        let lone = vec![
            at(0, GULF),
            at(60, GULF),
            at(120, CALIFORNIA),
            at(180, GULF),
        ];
        assert!(detect(lone, &p).all().is_empty());
        // Two agreeing California fixes a minute apart: a place; one switch there and one back.
        let two = vec![
            at(0, GULF),
            at(60, GULF),
            at(120, CALIFORNIA),
            at(180, CALIFORNIA),
            at(240, GULF),
        ];
        let c = detect(two, &p);
        let c = c.get(211_002_010).unwrap();
        assert_eq!((c.hops, c.severity), (2, Severity::High));
    }

    #[test]
    fn gps_noise_and_plausible_speeds_are_no_collision() {
        let p = CollisionParams::default();
        // 0.4 degrees (44.5 km) each way in 20 minutes: 72 knots, fast but
        // not impossible for an unknown type? Above its 60 kn ceiling: two places.
        let fast = vec![
            fix(1, 0, 10.0, 10.0),
            fix(1, 60, 10.0, 10.0),
            fix(1, 1200, 10.4, 10.0),
            fix(1, 1260, 10.4, 10.0),
        ];
        let c = detect(fast.clone(), &p);
        assert_eq!(
            c.get(1).unwrap().severity,
            Severity::Low,
            "factor 1.2, one switch"
        );
        // The same trip in 40 minutes (36 kn) is one track.
        let slow: Vec<Fix> = fast
            .into_iter()
            .map(|mut f| {
                f.ts = f.ts + (f.ts - crate::test_fixtures::t(0));
                f
            })
            .collect();
        assert!(detect(slow, &p).all().is_empty());
        // Two places 1.5 km apart, switching every minute: within the noise floor.
        let near: Vec<Fix> = (0..8)
            .map(|k| {
                fix(
                    1,
                    60 * k,
                    10.0 + if k % 2 == 0 { 0.0 } else { 0.0135 },
                    10.0,
                )
            })
            .collect();
        let strict = CollisionParams {
            min_distance_km: 2.0,
            ..p
        };
        assert!(detect(near, &strict).all().is_empty());
    }

    #[test]
    fn simultaneous_reports_at_two_places_are_high() {
        let p = CollisionParams::default();
        let c = detect(
            vec![
                at(0, GULF),
                at(60, GULF),
                at(60, CALIFORNIA),
                at(120, CALIFORNIA),
            ],
            &p,
        );
        let c = c.get(211_002_010).unwrap();
        assert_eq!(c.severity, Severity::High, "{c:?}");
        assert!(c.max_speed_kn.is_infinite());
    }

    #[test]
    fn severity_table() {
        let p = CollisionParams::default();
        assert_eq!(p.severity(1, 2.9, false), Severity::Low);
        assert_eq!(p.severity(1, 3.0, false), Severity::Medium);
        assert_eq!(p.severity(2, 1.0, false), Severity::High);
        assert_eq!(p.severity(1, 1.0, true), Severity::High);
        assert_eq!(p.severity(3, 9.9, false), Severity::High);
        assert_eq!(p.severity(3, 10.0, false), Severity::Critical);
    }
}
