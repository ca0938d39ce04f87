//! `spoofing_score`: 0 to 1 per vessel, from speeds no ship makes,
//! teleports and an invalid identity.

use chrono::{DateTime, Utc};
use model_api::{
    Context, DeclaredInput, Input, Model, ModelError, ModelOutput, Output, OutputRow, ParamsProblem,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::geo::round3;
use crate::identity::Identities;
use crate::params::{ModelParams, positive, weight};
use crate::tracks::{Jump, TrackFeatures, VesselTrack};
use crate::{keys, score_bands};

/// Thresholds and weights of [`SpoofingModel`].
///
/// The score is a noisy-OR of four evidences, each in `0..=1` and scaled by
/// its weight: `1 - (1 - w_s*speed)(1 - w_r*reported)(1 - w_t*teleport)(1 - w_i*invalid)`.
///
/// Default (the legacy values), as JSON:
/// `{"min_segment_km": 0.5, "speed_floor_kn": 50.0, "speed_full_kn": 100.0,
///   "teleport_km": 50.0, "teleport_max_minutes": 10.0, "speed_weight": 0.6,
///   "reported_speed_weight": 0.3, "teleport_weight": 0.8,
///   "invalid_identity_weight": 0.4}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoofingParams {
    /// Segments shorter than this many kilometres are ignored (GPS and
    /// timestamp jitter make short hops look fast).
    pub min_segment_km: f64,
    /// Knots at which a speed starts to count: no ship goes faster.
    pub speed_floor_kn: f64,
    /// Knots at which the speed evidence is complete (linear from the floor).
    pub speed_full_kn: f64,
    /// A jump of at least this many kilometres ...
    pub teleport_km: f64,
    /// ... in at most this many minutes is a teleport.
    pub teleport_max_minutes: f64,
    /// Weight of the implied speed between fixes.
    pub speed_weight: f64,
    /// Weight of the speed the transponder itself reports (SOG).
    pub reported_speed_weight: f64,
    /// Weight of a teleport.
    pub teleport_weight: f64,
    /// Weight of an invalid identity.
    pub invalid_identity_weight: f64,
}

impl Default for SpoofingParams {
    fn default() -> Self {
        Self {
            min_segment_km: 0.5,
            speed_floor_kn: 50.0,
            speed_full_kn: 100.0,
            teleport_km: 50.0,
            teleport_max_minutes: 10.0,
            speed_weight: 0.6,
            reported_speed_weight: 0.3,
            teleport_weight: 0.8,
            invalid_identity_weight: 0.4,
        }
    }
}

impl ModelParams for SpoofingParams {
    fn check(&self) -> Result<(), ParamsProblem> {
        positive("min_segment_km", self.min_segment_km)?;
        positive("speed_floor_kn", self.speed_floor_kn)?;
        positive("speed_full_kn", self.speed_full_kn)?;
        if self.speed_full_kn <= self.speed_floor_kn {
            return Err(ParamsProblem::new(
                "speed_full_kn",
                format!(
                    "speed_full_kn ({}) must be greater than speed_floor_kn ({})",
                    self.speed_full_kn, self.speed_floor_kn
                ),
            ));
        }
        positive("teleport_km", self.teleport_km)?;
        positive("teleport_max_minutes", self.teleport_max_minutes)?;
        weight("speed_weight", self.speed_weight)?;
        weight("reported_speed_weight", self.reported_speed_weight)?;
        weight("teleport_weight", self.teleport_weight)?;
        weight("invalid_identity_weight", self.invalid_identity_weight)
    }
}

impl SpoofingParams {
    /// The speed evidence of `knots`: 0 at or below the floor, rising
    /// linearly to 1 at the full speed.
    ///
    /// ```
    /// let p = detectors::SpoofingParams::default();
    /// assert_eq!(p.speed_evidence(50.0), 0.0);
    /// assert_eq!(p.speed_evidence(75.0), 0.5);
    /// assert_eq!(p.speed_evidence(72_000.0), 1.0);
    /// ```
    pub fn speed_evidence(&self, knots: f64) -> f64 {
        ((knots - self.speed_floor_kn) / (self.speed_full_kn - self.speed_floor_kn)).clamp(0.0, 1.0)
    }
}

/// One vessel's spoofing score and the evidence behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct VesselSpoofing {
    /// The MMSI.
    pub mmsi: i64,
    /// The score, 0 to 1. Held as `f32` (what `vessel_analysis` stores), so
    /// the legacy column and the registry's `DOUBLE PRECISION` output hold
    /// exactly the same number.
    pub score: f32,
    /// Highest implied speed over segments of at least
    /// [`SpoofingParams::min_segment_km`], knots.
    pub max_speed_kn: Option<f64>,
    /// Evidence from `max_speed_kn`, 0 to 1.
    pub speed_evidence: f64,
    /// Highest reported SOG, knots.
    pub max_reported_sog: Option<f32>,
    /// Evidence from `max_reported_sog`, 0 to 1.
    pub reported_speed_evidence: f64,
    /// The longest teleport, if any.
    pub teleport: Option<Jump>,
    /// How many segments were teleports.
    pub teleports: u32,
    /// Whether the identity model found the MMSI invalid.
    pub invalid_identity: bool,
    /// Time of the vessel's last fix in the window.
    pub last_ts: DateTime<Utc>,
}

impl VesselSpoofing {
    /// Scores one vessel. `invalid_identity` comes from the identity model.
    pub fn compute(
        tracks: &TrackFeatures,
        vessel: &VesselTrack,
        invalid_identity: bool,
        p: &SpoofingParams,
    ) -> Self {
        let (fixes, segments) = tracks.track(vessel);
        let mut max_speed_kn: Option<f64> = None;
        let mut teleport: Option<Jump> = None;
        let mut teleports = 0;
        for (i, seg) in segments.iter().enumerate() {
            if seg.km < p.min_segment_km {
                continue;
            }
            if max_speed_kn.is_none_or(|m| seg.speed_kn > m) {
                max_speed_kn = Some(seg.speed_kn);
            }
            if seg.km >= p.teleport_km && seg.minutes <= p.teleport_max_minutes {
                teleports += 1;
                if teleport.is_none_or(|t| seg.km > t.km) {
                    teleport = Some(Jump::of(seg, &fixes[i], &fixes[i + 1]));
                }
            }
        }
        let speed_evidence = max_speed_kn.map_or(0.0, |s| p.speed_evidence(s));
        let reported_speed_evidence = vessel
            .max_reported_sog
            .map_or(0.0, |s| p.speed_evidence(f64::from(s)));
        let score = combine(
            p,
            speed_evidence,
            reported_speed_evidence,
            teleport.is_some(),
            invalid_identity,
        );
        Self {
            mmsi: vessel.mmsi,
            score,
            max_speed_kn,
            speed_evidence,
            max_reported_sog: vessel.max_reported_sog,
            reported_speed_evidence,
            teleport,
            teleports,
            invalid_identity,
            last_ts: vessel.last_ts,
        }
    }

    /// The row payload: only the evidences present, `None` when the score is 0.
    pub(crate) fn payload(&self) -> Option<Value> {
        if self.score <= 0.0 {
            return None;
        }
        let mut m = Map::new();
        if self.speed_evidence > 0.0 {
            m.insert("speed_kn".into(), self.max_speed_kn.map(round3).into());
        }
        if self.reported_speed_evidence > 0.0 {
            m.insert(
                "reported_sog".into(),
                self.max_reported_sog.map(f64::from).map(round3).into(),
            );
        }
        if let Some(t) = self.teleport {
            m.insert("teleport_km".into(), round3(t.km).into());
            m.insert("teleport_min".into(), round3(t.minutes).into());
            m.insert("teleports".into(), self.teleports.into());
        }
        if self.invalid_identity {
            m.insert("invalid_identity".into(), true.into());
        }
        Some(Value::Object(m))
    }
}

/// The noisy-OR of the four evidences, each scaled by its weight, as the
/// `f32` that `vessel_analysis` stores.
pub(crate) fn combine(
    p: &SpoofingParams,
    speed_evidence: f64,
    reported_speed_evidence: f64,
    teleport: bool,
    invalid_identity: bool,
) -> f32 {
    let quiet = (1.0 - p.speed_weight * speed_evidence)
        * (1.0 - p.reported_speed_weight * reported_speed_evidence)
        * (1.0 - if teleport { p.teleport_weight } else { 0.0 })
        * (1.0
            - if invalid_identity {
                p.invalid_identity_weight
            } else {
                0.0
            });
    #[allow(clippy::cast_possible_truncation)] // stored as REAL; see `VesselSpoofing::score`
    let score = (1.0 - quiet).clamp(0.0, 1.0) as f32;
    score
}

/// The artifact of `spoofing_score`: every vessel, by ascending MMSI.
#[derive(Debug, Clone, PartialEq)]
pub struct SpoofingScores {
    pub(crate) vessels: Vec<VesselSpoofing>,
}

impl SpoofingScores {
    /// Scores every vessel of `tracks`. A vessel missing from `identities`
    /// counts as a valid identity.
    pub fn compute(
        tracks: &TrackFeatures,
        identities: &Identities,
        params: &SpoofingParams,
    ) -> Self {
        let vessels = tracks
            .vessels()
            .iter()
            .map(|v| {
                let invalid = identities.get(v.mmsi).is_some_and(|i| !i.is_valid());
                VesselSpoofing::compute(tracks, v, invalid, params)
            })
            .collect();
        Self { vessels }
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

/// `spoofing_score`, on `track_features` under input key
/// [`keys::TRACKS`] (`"tracks"`) and `identity` under [`keys::IDENTITY`]
/// (`"identity"`).
///
/// Rows: one per vessel, `score` 0 to 1 (the legacy `vessel_analysis`
/// score), payload only when the score is above 0: the evidences present
/// (`speed_kn`, `reported_sog`, `teleport_km`, `teleport_min`, `teleports`,
/// `invalid_identity`). Artifact: [`SpoofingScores`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SpoofingModel;

/// What `spoofing_score` reads under [`keys::TRACKS`].
pub(crate) const TRACKS: Input<TrackFeatures> = Input::new(keys::TRACKS);
/// What `spoofing_score` reads under [`keys::IDENTITY`].
pub(crate) const IDENTITY: Input<Identities> = Input::new(keys::IDENTITY);

impl Model for SpoofingModel {
    type Params = SpoofingParams;
    type Artifact = SpoofingScores;
    const INPUTS: &'static [DeclaredInput] = &[TRACKS.declare(), IDENTITY.declare()];

    fn check(&self, params: &SpoofingParams) -> Result<(), ParamsProblem> {
        params.check()
    }

    fn run(&self, ctx: &Context<'_, SpoofingParams>) -> Result<Output<SpoofingScores>, ModelError> {
        let scores =
            SpoofingScores::compute(ctx.read(&TRACKS)?, ctx.read(&IDENTITY)?, ctx.params());
        Ok(output(scores))
    }
}

/// The rows and metrics of `spoofing_score` (whichever implementation
/// scored), with the scores as artifact.
pub(crate) fn output(scores: SpoofingScores) -> Output<SpoofingScores> {
    let mut out = ModelOutput::with_capacity(scores.vessels.len());
    for v in &scores.vessels {
        let row = OutputRow::new(v.mmsi.to_string(), f64::from(v.score));
        out.push(match v.payload() {
            Some(p) => row.with_payload(p),
            None => row,
        });
    }
    let all = scores.vessels.iter().map(|v| f64::from(v.score));
    out.metric("vessels", scores.vessels.len() as f64);
    for (key, n) in score_bands(all) {
        out.metric(key, n as f64);
    }
    Output::new(out, scores)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityParams;
    use crate::test_fixtures::{fix, window};
    use crate::tracks::TrackParams;

    fn score(fixes: Vec<crate::Fix>, p: &SpoofingParams) -> SpoofingScores {
        let w = window(fixes);
        let t = TrackFeatures::compute(&w, &TrackParams::default());
        let i = Identities::compute(&w, &IdentityParams::default());
        SpoofingScores::compute(&t, &i, p)
    }

    #[test]
    fn a_quiet_vessel_scores_zero_without_payload() {
        let s = score(
            vec![
                fix(211_000_001, 0, 10.0, 10.0),
                fix(211_000_001, 600, 10.01, 10.0),
            ],
            &SpoofingParams::default(),
        );
        let v = s.get(211_000_001).unwrap();
        assert_eq!(v.score, 0.0);
        assert_eq!(v.payload(), None);
    }

    #[test]
    fn evidences_combine_as_noisy_or() {
        let p = SpoofingParams::default();
        // 0.25 degrees (27.8 km) in 12 minutes: 75 knots, half the speed evidence, no teleport.
        let s = score(
            vec![
                fix(211_000_001, 0, 10.0, 10.0),
                fix(211_000_001, 720, 10.25, 10.0),
            ],
            &p,
        );
        let v = s.get(211_000_001).unwrap();
        assert!((v.speed_evidence - 0.5).abs() < 0.01, "{v:?}");
        assert!((f64::from(v.score) - 0.3).abs() < 0.01, "{v:?}");
        assert!(v.teleport.is_none());

        // Invalid identity alone.
        let s = score(vec![fix(12_345_678, 0, 10.0, 10.0)], &p);
        assert_eq!(s.get(12_345_678).unwrap().score, 0.4);

        // 100 km in 2 minutes: full speed evidence and a teleport: 1 - 0.4 * 0.2 = 0.92.
        let s = score(
            vec![
                fix(211_000_001, 0, 10.0, 10.0),
                fix(211_000_001, 120, 10.9, 10.0),
            ],
            &p,
        );
        let v = s.get(211_000_001).unwrap();
        assert_eq!((v.teleports, v.speed_evidence), (1, 1.0));
        assert!((f64::from(v.score) - 0.92).abs() < 1e-6, "{v:?}");

        // All four: 1 - 0.4 * 0.7 * 0.2 * 0.6.
        let mut a = fix(12_345_678, 0, 10.0, 10.0);
        a.sog = Some(102.2);
        let s = score(vec![a, fix(12_345_678, 120, 10.9, 10.0)], &p);
        let v = s.get(12_345_678).unwrap();
        assert!(
            (f64::from(v.score) - (1.0 - 0.4 * 0.7 * 0.2 * 0.6)).abs() < 1e-6,
            "{v:?}"
        );
        let payload = v.payload().unwrap();
        for k in [
            "speed_kn",
            "reported_sog",
            "teleport_km",
            "teleport_min",
            "invalid_identity",
        ] {
            assert!(payload.get(k).is_some(), "{k} missing in {payload}");
        }
    }

    #[test]
    fn a_far_jump_over_a_long_time_is_not_a_teleport() {
        // 100 km in 30 minutes (108 kn): speed evidence, but slower than a teleport.
        let s = score(
            vec![
                fix(211_000_001, 0, 10.0, 10.0),
                fix(211_000_001, 1800, 10.9, 10.0),
            ],
            &SpoofingParams::default(),
        );
        let v = s.get(211_000_001).unwrap();
        assert_eq!((v.teleports, v.speed_evidence), (0, 1.0));
        assert!((f64::from(v.score) - 0.6).abs() < 1e-6);
    }

    #[test]
    fn short_hops_are_ignored() {
        // 333 m in 1 s would be 647 knots.
        let s = score(
            vec![
                fix(211_000_001, 0, 10.0, 10.0),
                fix(211_000_001, 1, 10.003, 10.0),
            ],
            &SpoofingParams::default(),
        );
        assert_eq!(s.get(211_000_001).unwrap().score, 0.0);
    }
}
