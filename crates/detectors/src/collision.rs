//! `identity_collision`: one MMSI reported from places too far apart for one
//! vessel, again and again: two transmitters sharing an identity.

use chrono::{DateTime, Utc};
use model_api::{
    Context, DeclaredInput, Input, Model, ModelError, ModelOutput, Output, OutputRow, ParamsProblem,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::events::Severity;
use crate::geo::{haversine_km, round3};
use crate::keys;
use crate::params::{ModelParams, positive};
use crate::tracks::{TrackFeatures, VesselTrack};
use crate::window::Fix;

/// How many sites a collision's payload lists at most.
pub const MAX_SITES_REPORTED: usize = 4;

/// Thresholds of [`CollisionModel`].
///
/// A *hop* is a segment between consecutive fixes of at least
/// `min_distance_km` at an implied speed above `impossible_speed_kn`. Two
/// transmitters sharing an MMSI produce one hop per switch, so a collision
/// is `min_hops` hops or more in the window. Severity:
/// CRITICAL if the farthest hop is `>= critical_km` and there are
/// `>= critical_hops` hops; else HIGH if `>= high_km` or `>= critical_hops`
/// hops; else MEDIUM if `>= medium_km`; else LOW.
///
/// Default (the legacy values), as JSON:
/// `{"min_distance_km": 50.0, "impossible_speed_kn": 60.0, "min_hops": 2,
///   "medium_km": 100.0, "high_km": 500.0, "critical_km": 1000.0,
///   "critical_hops": 3}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollisionParams {
    /// Kilometres between consecutive fixes from which a hop can count.
    pub min_distance_km: f64,
    /// Knots above which a hop is impossible for one vessel.
    pub impossible_speed_kn: f64,
    /// Hops in the window that make a collision (recurrence).
    pub min_hops: u32,
    /// Farthest hop (km) from which the severity is at least MEDIUM.
    pub medium_km: f64,
    /// Farthest hop (km) from which the severity is at least HIGH.
    pub high_km: f64,
    /// Farthest hop (km) from which, with `critical_hops`, it is CRITICAL.
    pub critical_km: f64,
    /// Hops from which the severity is at least HIGH, and CRITICAL when
    /// also `critical_km` far.
    pub critical_hops: u32,
}

impl Default for CollisionParams {
    fn default() -> Self {
        Self {
            min_distance_km: 50.0,
            impossible_speed_kn: 60.0,
            min_hops: 2,
            medium_km: 100.0,
            high_km: 500.0,
            critical_km: 1000.0,
            critical_hops: 3,
        }
    }
}

impl ModelParams for CollisionParams {
    fn check(&self) -> Result<(), ParamsProblem> {
        positive("min_distance_km", self.min_distance_km)?;
        positive("impossible_speed_kn", self.impossible_speed_kn)?;
        positive("medium_km", self.medium_km)?;
        if self.min_hops == 0 {
            return Err(ParamsProblem::new("min_hops", "must be at least 1"));
        }
        if !(self.medium_km <= self.high_km && self.high_km <= self.critical_km) {
            return Err(ParamsProblem::new(
                "high_km",
                format!(
                    "medium_km ({}) <= high_km ({}) <= critical_km ({}) must hold",
                    self.medium_km, self.high_km, self.critical_km
                ),
            ));
        }
        if self.critical_hops < self.min_hops {
            return Err(ParamsProblem::new(
                "critical_hops",
                format!(
                    "critical_hops ({}) must be at least min_hops ({})",
                    self.critical_hops, self.min_hops
                ),
            ));
        }
        Ok(())
    }
}

impl CollisionParams {
    /// The severity of `hops` hops, the farthest `max_km` long.
    ///
    /// ```
    /// use detectors::{CollisionParams, Severity};
    /// let p = CollisionParams::default();
    /// assert_eq!(p.severity(3, 3042.0), Severity::Critical);
    /// assert_eq!(p.severity(2, 3042.0), Severity::High);
    /// assert_eq!(p.severity(2, 125.0), Severity::Medium);
    /// assert_eq!(p.severity(2, 79.0), Severity::Low);
    /// ```
    pub fn severity(&self, hops: u32, max_km: f64) -> Severity {
        let recurring = hops >= self.critical_hops;
        if recurring && max_km >= self.critical_km {
            Severity::Critical
        } else if recurring || max_km >= self.high_km {
            Severity::High
        } else if max_km >= self.medium_km {
            Severity::Medium
        } else {
            Severity::Low
        }
    }
}

/// One identity seen in places too far apart for one vessel.
#[derive(Debug, Clone, PartialEq)]
pub struct Collision {
    /// The shared MMSI.
    pub mmsi: i64,
    /// How bad it is.
    pub severity: Severity,
    /// Impossible hops in the window.
    pub hops: u32,
    /// The farthest hop, kilometres.
    pub max_distance_km: f64,
    /// Start of the first hop.
    pub first_ts: DateTime<Utc>,
    /// End of the last hop.
    pub last_ts: DateTime<Utc>,
    /// The distinct places reported: the first fix of each cluster of fixes
    /// within `min_distance_km` of it, as `(lat, lon)`, in order of first
    /// appearance.
    pub sites: Vec<(f64, f64)>,
}

impl Collision {
    /// Finds the collision of one vessel, if any.
    pub fn detect(
        tracks: &TrackFeatures,
        vessel: &VesselTrack,
        p: &CollisionParams,
    ) -> Option<Self> {
        let (fixes, segments) = tracks.track(vessel);
        let mut hops = 0u32;
        let mut max_km = 0.0f64;
        let mut first_ts = None;
        let mut last_ts = None;
        for (i, seg) in segments.iter().enumerate() {
            if seg.km >= p.min_distance_km && seg.speed_kn > p.impossible_speed_kn {
                hops += 1;
                max_km = max_km.max(seg.km);
                first_ts.get_or_insert(fixes[i].ts);
                last_ts = Some(fixes[i + 1].ts);
            }
        }
        let (first_ts, last_ts) = (first_ts?, last_ts?);
        (hops >= p.min_hops).then(|| Collision {
            mmsi: vessel.mmsi,
            severity: p.severity(hops, max_km),
            hops,
            max_distance_km: max_km,
            first_ts,
            last_ts,
            sites: sites(fixes, p.min_distance_km),
        })
    }

    /// The score of a collision: its severity's ([`Severity::score`]).
    pub fn score(&self) -> f64 {
        self.severity.score()
    }
}

fn sites(fixes: &[Fix], radius_km: f64) -> Vec<(f64, f64)> {
    let mut sites: Vec<(f64, f64)> = Vec::new();
    for f in fixes {
        if !sites
            .iter()
            .any(|&(lat, lon)| haversine_km(lat, lon, f.lat, f.lon) < radius_km)
        {
            sites.push((f.lat, f.lon));
        }
    }
    sites
}

/// The artifact of `identity_collision`: the colliding identities only, by
/// ascending MMSI.
#[derive(Debug, Clone, PartialEq)]
pub struct Collisions {
    collisions: Vec<Collision>,
}

impl Collisions {
    /// Looks for collisions in every vessel of `tracks`.
    pub fn compute(tracks: &TrackFeatures, params: &CollisionParams) -> Self {
        let collisions = tracks
            .vessels()
            .iter()
            .filter_map(|v| Collision::detect(tracks, v, params))
            .collect();
        Self { collisions }
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

/// `identity_collision`, on `track_features` under input key
/// [`keys::TRACKS`] (`"tracks"`).
///
/// Rows: one per colliding MMSI only, `score` from the severity (LOW 0.25,
/// MEDIUM 0.5, HIGH 0.75, CRITICAL 1), payload `{"severity", "hops",
/// "max_km", "first_ts", "last_ts", "sites": [[lat, lon], ...]}` (at most
/// [`MAX_SITES_REPORTED`] sites). Artifact: [`Collisions`].
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
        let found = Collisions::compute(tracks, ctx.params());
        let mut out = ModelOutput::with_capacity(found.collisions.len());
        let mut by_severity = [0usize; 4];
        for c in &found.collisions {
            by_severity[c.severity as usize] += 1;
            let sites: Vec<[f64; 2]> = c
                .sites
                .iter()
                .take(MAX_SITES_REPORTED)
                .map(|&(lat, lon)| [lat, lon])
                .collect();
            out.push(
                OutputRow::new(c.mmsi.to_string(), c.score()).with_payload(json!({
                    "severity": c.severity.as_str(),
                    "hops": c.hops,
                    "max_km": round3(c.max_distance_km),
                    "first_ts": c.first_ts.to_rfc3339(),
                    "last_ts": c.last_ts.to_rfc3339(),
                    "sites": sites,
                })),
            );
        }
        out.metric("vessels", tracks.vessels().len() as f64);
        out.metric("collisions", found.collisions.len() as f64);
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
    use crate::test_fixtures::{fix, window};
    use crate::tracks::TrackParams;

    const GULF: (f64, f64) = (30.28391, -87.53641);
    const CALIFORNIA: (f64, f64) = (34.40715, -119.69165);

    fn detect(fixes: Vec<Fix>, p: &CollisionParams) -> Collisions {
        let t = TrackFeatures::compute(&window(fixes), &TrackParams::default());
        Collisions::compute(&t, p)
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
        assert_eq!(c.sites, vec![CALIFORNIA, GULF]);
        assert_eq!(c.score(), 1.0);
        // Two switches only: HIGH.
        let c = detect(vec![at(338, GULF), at(405, CALIFORNIA), at(578, GULF)], &p);
        assert_eq!(c.get(211_002_010).unwrap().severity, Severity::High);
    }

    #[test]
    fn one_jump_is_not_recurring_and_slow_travel_is_no_hop() {
        let p = CollisionParams::default();
        assert!(
            detect(
                vec![at(0, GULF), at(60, CALIFORNIA), at(120, CALIFORNIA)],
                &p
            )
            .all()
            .is_empty()
        );
        // 0.4 degrees (44.5 km) each way in 20 minutes: 72 knots, but too
        // short a distance to tell two transmitters from one fast craft.
        let slow = vec![
            fix(1, 0, 10.0, 10.0),
            fix(1, 1200, 10.4, 10.0),
            fix(1, 2400, 10.0, 10.0),
        ];
        assert!(detect(slow.clone(), &p).all().is_empty());
        let strict = CollisionParams {
            min_distance_km: 40.0,
            ..p.clone()
        };
        let c = detect(slow, &strict);
        assert_eq!(c.get(1).unwrap().severity, Severity::Low);
        let once = CollisionParams { min_hops: 1, ..p };
        assert_eq!(
            detect(vec![at(0, GULF), at(60, CALIFORNIA)], &once)
                .get(211_002_010)
                .unwrap()
                .severity,
            Severity::High
        );
    }

    #[test]
    fn severity_table() {
        let p = CollisionParams::default();
        assert_eq!(p.severity(2, 99.9), Severity::Low);
        assert_eq!(p.severity(2, 100.0), Severity::Medium);
        assert_eq!(p.severity(2, 500.0), Severity::High);
        assert_eq!(p.severity(3, 60.0), Severity::High);
        assert_eq!(p.severity(2, 5000.0), Severity::High);
        assert_eq!(p.severity(3, 1000.0), Severity::Critical);
    }
}
