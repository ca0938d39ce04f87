//! `loitering`: vessels that keep moving but stay in one small area over
//! most of a cycle's window (circling, drifting under way, waiting off a
//! port), read from `track_features`' [`TrackFeatures`]: only the fixes the
//! track model confirmed count, so a glitch can neither make nor break a
//! loiterer.
//!
//! A model of a downstream crate, written against `model-api` and
//! `ais-types` only, as the template of "Ship your own model" (README of
//! kcg-models). It never does I/O: everything it sees comes through the
//! context.

use ais_types::{FixRole, TrackFeatures, VesselTrack, geo::haversine_km, nine_digits};
use model_api::{
    Context, DeclaredInput, Input, Model, ModelError, ModelOutput, Output, OutputRow, ParamsProblem,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What `loitering` reads: `track_features`' artifact under the key
/// `tracks` (`runner models depend loitering --on track_features --as tracks`).
pub const TRACKS: Input<TrackFeatures> = Input::new("tracks");

/// Thresholds of [`Loitering`]; every field may be left out (`{}` is the
/// defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoiteringParams {
    /// The area: every track fix within this many kilometres of the track's
    /// centre.
    pub max_radius_km: f64,
    /// The track spans at least this many minutes of the window.
    pub min_minutes: f64,
    /// At least this many track fixes.
    pub min_fixes: usize,
    /// Mean reported speed over ground at least this (knots): moving, not
    /// moored or at anchor.
    pub min_sog_kn: f64,
    /// The distance travelled is at least this many times the area's
    /// diameter: it goes round, not across.
    pub min_wander: f64,
    /// The distance travelled is at least this share of what the reported
    /// speed would cover: the positions agree that it moves (a moored boat
    /// whose SOG reads 2 knots while its fixes jitter on the spot is no
    /// loiterer).
    pub min_agreement: f64,
}

impl Default for LoiteringParams {
    fn default() -> Self {
        Self {
            max_radius_km: 1.0,
            min_minutes: 6.0,
            min_fixes: 5,
            min_sog_kn: 1.0,
            min_wander: 1.5,
            min_agreement: 0.5,
        }
    }
}

/// One loitering vessel.
#[derive(Debug, Clone, PartialEq)]
pub struct Loiter {
    /// The MMSI.
    pub mmsi: i64,
    /// The farthest track fix from the centre, kilometres.
    pub radius_km: f64,
    /// The distance travelled along the track, kilometres.
    pub path_km: f64,
    /// First to last track fix, minutes.
    pub minutes: f64,
    /// Mean reported SOG, knots.
    pub mean_sog_kn: f64,
    /// The score, 0 to 1: `1 - radius / max_radius_km` (the tighter the
    /// area, the surer).
    pub score: f64,
}

/// The artifact of `loitering`: the loitering vessels, by ascending MMSI.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loiterers {
    /// The vessels.
    pub vessels: Vec<Loiter>,
}

/// The loitering model (implementation `v1` of model `loitering`).
///
/// Rows: one per loitering vessel (entity key the nine-digit MMSI), `score`
/// from 0 to 1 ([`Loiter::score`]), payload `{"radius_km", "path_km",
/// "minutes", "mean_sog_kn"}`. Metrics: `vessels` (judged), `loitering`.
/// Artifact: [`Loiterers`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Loitering;

impl Model for Loitering {
    type Params = LoiteringParams;
    type Artifact = Loiterers;
    const INPUTS: &'static [DeclaredInput] = &[TRACKS.declare()];

    fn check(&self, p: &LoiteringParams) -> Result<(), ParamsProblem> {
        ParamsProblem::positive("max_radius_km", p.max_radius_km)?;
        ParamsProblem::positive("min_minutes", p.min_minutes)?;
        if p.min_fixes < 2 {
            return Err(ParamsProblem::new("min_fixes", "must be at least 2"));
        }
        if !(p.min_sog_kn.is_finite() && p.min_sog_kn >= 0.0) {
            return Err(ParamsProblem::new(
                "min_sog_kn",
                format!("must be a number of knots, 0 or more, got {}", p.min_sog_kn),
            ));
        }
        ParamsProblem::positive("min_wander", p.min_wander)?;
        ParamsProblem::fraction("min_agreement", p.min_agreement)
    }

    fn run(&self, ctx: &Context<'_, LoiteringParams>) -> Result<Output<Loiterers>, ModelError> {
        let tracks = ctx.read(&TRACKS)?;
        let p = ctx.params();
        let found = loiterers(tracks, p);
        let mut out = ModelOutput::with_capacity(found.vessels.len());
        for l in &found.vessels {
            out.push(
                OutputRow::new(nine_digits(l.mmsi), l.score).with_payload(json!({
                    "radius_km": round3(l.radius_km),
                    "path_km": round3(l.path_km),
                    "minutes": round3(l.minutes),
                    "mean_sog_kn": round3(l.mean_sog_kn),
                })),
            );
        }
        out.metric("vessels", tracks.vessels().len() as f64);
        out.metric("loitering", found.vessels.len() as f64);
        Ok(Output::new(out, found))
    }
}

/// Every loitering vessel of `tracks`.
pub fn loiterers(tracks: &TrackFeatures, p: &LoiteringParams) -> Loiterers {
    Loiterers {
        vessels: tracks
            .vessels()
            .iter()
            .filter_map(|v| judge(tracks, v, p))
            .collect(),
    }
}

/// The loiter of one vessel, if it loiters.
pub fn judge(tracks: &TrackFeatures, vessel: &VesselTrack, p: &LoiteringParams) -> Option<Loiter> {
    let on_track: Vec<_> = tracks
        .fixes(vessel)
        .iter()
        .zip(tracks.roles(vessel))
        .filter(|(_, role)| **role == FixRole::Track)
        .map(|(f, _)| f)
        .collect();
    let (first, last) = (on_track.first()?, on_track.last()?);
    let minutes = (last.ts - first.ts).num_milliseconds() as f64 / 60_000.0;
    if on_track.len() < p.min_fixes || minutes < p.min_minutes {
        return None;
    }
    let sogs: Vec<f64> = on_track
        .iter()
        .filter_map(|f| f.sog)
        .map(f64::from)
        .collect();
    let mean_sog_kn = sogs.iter().sum::<f64>() / sogs.len().max(1) as f64;
    if sogs.is_empty() || mean_sog_kn < p.min_sog_kn {
        return None;
    }
    let n = on_track.len() as f64;
    let (lat, lon) = on_track
        .iter()
        .fold((0.0, 0.0), |(a, b), f| (a + f.lat / n, b + f.lon / n));
    let radius_km = on_track
        .iter()
        .map(|f| haversine_km(lat, lon, f.lat, f.lon))
        .fold(0.0, f64::max);
    let path_km: f64 = on_track
        .windows(2)
        .map(|w| haversine_km(w[0].lat, w[0].lon, w[1].lat, w[1].lon))
        .sum();
    let wanders = path_km >= p.min_wander * 2.0 * radius_km.max(0.05);
    let reported_km = mean_sog_kn * 1.852 * minutes / 60.0;
    let agrees = path_km >= p.min_agreement * reported_km;
    (radius_km <= p.max_radius_km && wanders && agrees).then(|| Loiter {
        mmsi: vessel.mmsi,
        radius_km,
        path_km,
        minutes,
        mean_sog_kn,
        score: (1.0 - radius_km / p.max_radius_km).clamp(0.0, 1.0),
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use model_api::{ModelId, instantiate};

    fn id() -> ModelId {
        ModelId::new("loitering").unwrap()
    }

    #[test]
    fn params_default_to_their_fields_and_are_refused_by_name() {
        assert!(instantiate(Loitering, id(), &json!({})).is_ok());
        let wrong = instantiate(Loitering, id(), &json!({"max_radius_km": "big"})).unwrap_err();
        assert_eq!(wrong.field.as_deref(), Some("max_radius_km"), "{wrong}");
        let bad = instantiate(Loitering, id(), &json!({"min_fixes": 1})).unwrap_err();
        assert_eq!(bad.field.as_deref(), Some("min_fixes"), "{bad}");
        let unknown = instantiate(Loitering, id(), &json!({"radius": 2})).unwrap_err();
        assert!(unknown.message.contains("radius"), "{unknown}");
    }
}
