//! `spoofing_score`: 0 to 1 per vessel, from speeds no ship makes,
//! teleports and an invalid identity.

use model_api::{
    Context, DeclaredInput, Input, Model, ModelError, ModelOutput, Output, OutputPolicy, OutputRow,
    ParamsProblem,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use ais_types::{
    Identities, IdentityClass, SpoofingScores, Switch, TrackFeatures, VesselSpoofing, VesselTrack,
    nine_digits,
};

use crate::geo::round3;
use crate::params::{ModelParams, positive, weight};
use crate::{keys, score_bands};

/// Thresholds and weights of [`SpoofingModel`].
///
/// The score is a noisy-OR of four evidences, each in `0..=1` and scaled by
/// its weight: `1 - (1 - w_s*speed)(1 - w_r*reported)(1 - w_t*teleport)(1 - w_i*invalid)`.
/// Speeds are judged against the vessel's ceiling `C` (its AIS type's,
/// [`crate::ceiling_kn`]): the speed evidence rises linearly from
/// `speed_floor_factor * C` to `speed_full_factor * C`. Only what the track
/// model confirmed counts: a glitch it set aside never adds to a score.
///
/// Default, as JSON:
/// `{"speed_floor_factor": 1.0, "speed_full_factor": 2.0,
///   "min_reported_over_ceiling": 2, "reported_min_agreement": 0.5,
///   "teleport_km": 5.0, "speed_weight": 0.6,
///   "reported_speed_weight": 0.3, "teleport_weight": 0.8,
///   "invalid_identity_weight": 0.4}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoofingParams {
    /// Multiple of the ceiling at which a speed starts to count.
    pub speed_floor_factor: f64,
    /// Multiple of the ceiling at which the speed evidence is complete.
    pub speed_full_factor: f64,
    /// Reports of a SOG above the ceiling needed before the reported speed
    /// counts (one odd SOG is a glitch of its own).
    pub min_reported_over_ceiling: u32,
    /// The reported SOG counts only when the positions move at least this
    /// fraction of it: a moored boat whose transponder says 102.2 kn all
    /// night has a broken SOG field, not a spoofed track.
    pub reported_min_agreement: f64,
    /// A switch between two confirmed places at least this many kilometres
    /// apart is a teleport.
    pub teleport_km: f64,
    /// Weight of the speed the positions imply.
    pub speed_weight: f64,
    /// Weight of the speed the transponder itself reports (SOG).
    pub reported_speed_weight: f64,
    /// Weight of a teleport.
    pub teleport_weight: f64,
    /// Weight of an INVALID identity (other non-ship classes add nothing).
    pub invalid_identity_weight: f64,
}

impl Default for SpoofingParams {
    fn default() -> Self {
        Self {
            speed_floor_factor: 1.0,
            speed_full_factor: 2.0,
            min_reported_over_ceiling: 2,
            reported_min_agreement: 0.5,
            teleport_km: 5.0,
            speed_weight: 0.6,
            reported_speed_weight: 0.3,
            teleport_weight: 0.8,
            invalid_identity_weight: 0.4,
        }
    }
}

impl ModelParams for SpoofingParams {
    fn check(&self) -> Result<(), ParamsProblem> {
        positive("speed_floor_factor", self.speed_floor_factor)?;
        positive("speed_full_factor", self.speed_full_factor)?;
        if self.speed_full_factor <= self.speed_floor_factor {
            return Err(ParamsProblem::new(
                "speed_full_factor",
                format!(
                    "speed_full_factor ({}) must be greater than speed_floor_factor ({})",
                    self.speed_full_factor, self.speed_floor_factor
                ),
            ));
        }
        if self.min_reported_over_ceiling == 0 {
            return Err(ParamsProblem::new(
                "min_reported_over_ceiling",
                "must be at least 1",
            ));
        }
        weight("reported_min_agreement", self.reported_min_agreement)?;
        positive("teleport_km", self.teleport_km)?;
        weight("speed_weight", self.speed_weight)?;
        weight("reported_speed_weight", self.reported_speed_weight)?;
        weight("teleport_weight", self.teleport_weight)?;
        weight("invalid_identity_weight", self.invalid_identity_weight)
    }
}

impl SpoofingParams {
    /// The speed evidence of `knots` for a vessel whose ceiling is
    /// `ceiling_kn`: 0 up to the floor, rising linearly to 1 at the full
    /// speed.
    ///
    /// ```
    /// let p = detectors::SpoofingParams::default();
    /// assert_eq!(p.speed_evidence(40.0, 40.0), 0.0);
    /// assert_eq!(p.speed_evidence(60.0, 40.0), 0.5);
    /// assert_eq!(p.speed_evidence(72_000.0, 40.0), 1.0);
    /// ```
    pub fn speed_evidence(&self, knots: f64, ceiling_kn: f64) -> f64 {
        let floor = self.speed_floor_factor * ceiling_kn;
        let full = self.speed_full_factor * ceiling_kn;
        ((knots - floor) / (full - floor)).clamp(0.0, 1.0)
    }
}

/// Scores one vessel. `class` comes from the identity model.
pub fn vessel_spoofing(
    vessel: &VesselTrack,
    class: Option<IdentityClass>,
    p: &SpoofingParams,
) -> VesselSpoofing {
    let c = vessel.ceiling_kn;
    let max_speed_kn = match (vessel.max_speed_kn, vessel.fast_run.map(|f| f.speed_kn)) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let speed_evidence = max_speed_kn.map_or(0.0, |s| p.speed_evidence(s, c));
    let moved = max_speed_kn.unwrap_or(0.0);
    let reported_speed_evidence = match vessel.max_reported_sog.map(f64::from) {
        Some(sog)
            if vessel.reported_over_ceiling >= p.min_reported_over_ceiling
                && moved >= p.reported_min_agreement * sog =>
        {
            p.speed_evidence(sog, c)
        }
        _ => 0.0,
    };
    let mut teleport: Option<Switch> = None;
    let mut teleports = 0;
    for s in vessel.switches.iter().filter(|s| s.km >= p.teleport_km) {
        teleports += 1;
        if teleport.is_none_or(|t| s.km > t.km) {
            teleport = Some(*s);
        }
    }
    let invalid_identity = class == Some(IdentityClass::Invalid);
    let score = combine(
        p,
        speed_evidence,
        reported_speed_evidence,
        if teleport.is_some() { 1.0 } else { 0.0 },
        invalid_identity,
    );
    VesselSpoofing {
        mmsi: vessel.mmsi,
        score,
        ceiling_kn: c,
        max_speed_kn,
        speed_evidence,
        max_reported_sog: vessel.max_reported_sog,
        reported_speed_evidence,
        teleport,
        teleports,
        invalid_identity,
        identity_class: class,
        glitches: vessel.glitches,
        last_ts: vessel.last_ts,
    }
}

/// The row payload: only the evidences present, `None` when the score is 0.
pub(crate) fn payload(v: &VesselSpoofing) -> Option<Value> {
    if v.score <= 0.0 {
        return None;
    }
    let mut m = Map::new();
    if v.speed_evidence > 0.0 {
        m.insert("speed_kn".into(), v.max_speed_kn.map(round3).into());
        m.insert("ceiling_kn".into(), v.ceiling_kn.into());
    }
    if v.reported_speed_evidence > 0.0 {
        m.insert(
            "reported_sog".into(),
            v.max_reported_sog.map(f64::from).map(round3).into(),
        );
    }
    if let Some(t) = v.teleport {
        m.insert("teleport_km".into(), round3(t.km).into());
        m.insert(
            "teleport_min".into(),
            round3((t.to_ts - t.from_ts).num_milliseconds() as f64 / 60_000.0).into(),
        );
        m.insert("teleports".into(), v.teleports.into());
    }
    if v.invalid_identity {
        m.insert("invalid_identity".into(), true.into());
    }
    if v.glitches > 0 {
        m.insert("glitches".into(), v.glitches.into());
    }
    Some(Value::Object(m))
}

/// The noisy-OR of the four evidences, each scaled by its weight, as the
/// `f32` that `vessel_analysis` stores.
pub(crate) fn combine(
    p: &SpoofingParams,
    speed_evidence: f64,
    reported_speed_evidence: f64,
    teleport_evidence: f64,
    invalid_identity: bool,
) -> f32 {
    let quiet = (1.0 - p.speed_weight * speed_evidence)
        * (1.0 - p.reported_speed_weight * reported_speed_evidence)
        * (1.0 - p.teleport_weight * teleport_evidence)
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

/// The artifact of `spoofing_score` (`v1`): scores every vessel of
/// `tracks`. A vessel missing from `identities` adds no identity evidence.
pub fn spoofing_scores(
    tracks: &TrackFeatures,
    identities: &Identities,
    params: &SpoofingParams,
) -> SpoofingScores {
    SpoofingScores::new(
        tracks
            .vessels()
            .iter()
            .map(|v| vessel_spoofing(v, identities.get(v.mmsi).map(|i| i.class), params))
            .collect(),
    )
}

/// `spoofing_score`, on `track_features` under input key
/// [`keys::TRACKS`] (`"tracks"`) and `identity` under [`keys::IDENTITY`]
/// (`"identity"`).
///
/// Rows: one per vessel (entity key the nine-digit MMSI), `score` 0 to 1
/// (the legacy `vessel_analysis` score), payload only when the score is
/// above 0: the evidences present (`speed_kn` with `ceiling_kn`,
/// `reported_sog`, `teleport_km`, `teleport_min`, `teleports`,
/// `invalid_identity`) and `glitches` set aside. Artifact: [`SpoofingScores`].
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
    /// 99.8% of its rows on the real sample are score 0 without payload
    /// (every vessel analysed, nearly none suspect): those are not stored,
    /// and every reader takes a missing row as score 0.
    const OUTPUT: OutputPolicy = OutputPolicy::NonZeroOrPayload;

    fn check(&self, params: &SpoofingParams) -> Result<(), ParamsProblem> {
        params.check()
    }

    fn run(&self, ctx: &Context<'_, SpoofingParams>) -> Result<Output<SpoofingScores>, ModelError> {
        let scores = spoofing_scores(ctx.read(&TRACKS)?, ctx.read(&IDENTITY)?, ctx.params());
        Ok(output(scores))
    }
}

/// The rows and metrics of `spoofing_score` (whichever implementation
/// scored), with the scores as artifact.
pub(crate) fn output(scores: SpoofingScores) -> Output<SpoofingScores> {
    let mut out = ModelOutput::with_capacity(scores.vessels().len());
    for v in scores.vessels() {
        let row = OutputRow::new(nine_digits(v.mmsi), f64::from(v.score));
        out.push(match payload(v) {
            Some(p) => row.with_payload(p),
            None => row,
        });
    }
    let all = scores.vessels().iter().map(|v| f64::from(v.score));
    out.metric("vessels", scores.vessels().len() as f64);
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
        let t = crate::track_features(&w, &TrackParams::default()).unwrap();
        let i = crate::identity::identities(&w, &IdentityParams::default());
        spoofing_scores(&t, &i, p)
    }

    /// `n` fixes of `mmsi` every `every` seconds moving north at `kn`.
    fn cruise(mmsi: i64, n: i64, every: i64, kn: f64) -> Vec<crate::Fix> {
        (0..n)
            .map(|k| {
                let km = kn * 1.852 * (k * every) as f64 / 3600.0;
                fix(mmsi, k * every, 10.0 + km / 111.2, 10.0)
            })
            .collect()
    }

    #[test]
    fn a_quiet_vessel_scores_zero_without_payload() {
        let s = score(
            cruise(211_000_001, 10, 60, 12.0),
            &SpoofingParams::default(),
        );
        let v = s.get(211_000_001).unwrap();
        assert_eq!(v.score, 0.0);
        assert_eq!(payload(v), None);
    }

    #[test]
    fn evidences_combine_as_noisy_or() {
        let p = SpoofingParams::default();
        // 90 kn on a 60 kn ceiling: half the speed evidence: 0.6 * 0.5.
        let s = score(cruise(211_000_001, 12, 60, 90.0), &p);
        let v = s.get(211_000_001).unwrap();
        assert!((v.speed_evidence - 0.5).abs() < 0.05, "{v:?}");
        assert!((f64::from(v.score) - 0.3).abs() < 0.03, "{v:?}");
        assert!(v.teleport.is_none());

        // An INVALID identity alone; a coast station adds nothing.
        let s = score(vec![fix(12_345_678, 0, 10.0, 10.0)], &p);
        assert_eq!(s.get(12_345_678).unwrap().score, 0.4);
        let s = score(vec![fix(3_669_881, 0, 10.0, 10.0)], &p);
        let v = s.get(3_669_881).unwrap();
        assert_eq!(
            (v.score, v.identity_class),
            (0.0, Some(IdentityClass::CoastStation))
        );

        // Two confirmed places 100 km apart, switching: a teleport: 0.8.
        let mut f: Vec<crate::Fix> = (0..4)
            .map(|k| fix(211_000_001, 60 * k, 10.0, 10.0))
            .collect();
        f.extend((4..8).map(|k| fix(211_000_001, 60 * k, 10.9, 10.0)));
        let s = score(f.clone(), &p);
        let v = s.get(211_000_001).unwrap();
        assert_eq!(v.teleports, 1, "{v:?}");
        assert!((f64::from(v.score) - 0.8).abs() < 1e-6, "{v:?}");

        // With an invalid identity too: 1 - 0.2 * 0.6.
        for x in &mut f {
            x.mmsi = 12_345_678;
        }
        let s = score(f, &p);
        let v = s.get(12_345_678).unwrap();
        assert!(
            (f64::from(v.score) - (1.0 - 0.2 * 0.6)).abs() < 1e-6,
            "{v:?}"
        );
        let payload = payload(v).unwrap();
        for k in [
            "teleport_km",
            "teleport_min",
            "teleports",
            "invalid_identity",
        ] {
            assert!(payload.get(k).is_some(), "{k} missing in {payload}");
        }
    }

    #[test]
    fn a_lone_glitch_adds_nothing() {
        // A fix 100 km off between consistent neighbours: no speed, no teleport.
        let mut f = cruise(211_000_001, 10, 60, 10.0);
        f[5].lat += 0.9;
        let s = score(f, &SpoofingParams::default());
        let v = s.get(211_000_001).unwrap();
        assert_eq!((v.score, v.glitches), (0.0, 1), "{v:?}");
        // One odd reported SOG is no evidence either, nor a SOG the
        // positions contradict (moored, "102.2 kn" all along).
        let mut f = cruise(211_000_001, 10, 60, 10.0);
        f[5].sog = Some(102.2);
        let s = score(f, &SpoofingParams::default());
        assert_eq!(s.get(211_000_001).unwrap().score, 0.0);
        let mut f = cruise(211_000_001, 10, 60, 0.0);
        for x in &mut f {
            x.sog = Some(102.2);
        }
        let s = score(f, &SpoofingParams::default());
        assert_eq!(s.get(211_000_001).unwrap().reported_speed_evidence, 0.0);
        // Moving at 90 kn and saying so: both evidences.
        let mut f = cruise(211_000_001, 12, 60, 90.0);
        for x in &mut f {
            x.sog = Some(90.0);
        }
        let s = score(f, &SpoofingParams::default());
        let v = s.get(211_000_001).unwrap();
        assert!(
            v.reported_speed_evidence > 0.4 && v.speed_evidence > 0.4,
            "{v:?}"
        );
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
