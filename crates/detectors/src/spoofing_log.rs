//! `spoofing_score` implementation `v2`: the same evidences as `v1`, the
//! speed evidences graded on a logarithmic scale of speed.

use model_api::{Context, DeclaredInput, Model, ModelError, Output, ParamsProblem};

use crate::params::ModelParams;
use crate::spoofing::{IDENTITY, TRACKS, combine, output};
use crate::{SpoofingParams, SpoofingScores, VesselSpoofing};

/// How many times the span from [`SpoofingParams::speed_floor_kn`] to
/// [`SpoofingParams::speed_full_kn`] (as a ratio) the logarithmic scale of
/// `v2` takes to reach full evidence: with the defaults (50 and 100 knots)
/// it reaches 1 at 400 knots, a third per doubling.
pub const LOG_SPEED_SPANS: f64 = 3.0;

impl SpoofingParams {
    /// The speed evidence of `knots` on `v2`'s logarithmic scale: 0 at or
    /// below the floor, then `ln(knots / floor) / (3 ln(full / floor))`, 1
    /// from `floor * (full / floor)³` on. Never above
    /// [`speed_evidence`](Self::speed_evidence) (`v1`'s linear ramp).
    ///
    /// ```
    /// let p = detectors::SpoofingParams::default(); // floor 50, full 100 knots
    /// assert_eq!(p.log_speed_evidence(50.0), 0.0);
    /// assert!((p.log_speed_evidence(100.0) - 1.0 / 3.0).abs() < 1e-12);
    /// assert!((p.log_speed_evidence(200.0) - 2.0 / 3.0).abs() < 1e-12);
    /// assert_eq!(p.log_speed_evidence(400.0), 1.0);
    /// assert_eq!(p.log_speed_evidence(72_000.0), 1.0);
    /// ```
    pub fn log_speed_evidence(&self, knots: f64) -> f64 {
        if knots <= self.speed_floor_kn {
            return 0.0;
        }
        let span = (self.speed_full_kn / self.speed_floor_kn).ln() * LOG_SPEED_SPANS;
        ((knots / self.speed_floor_kn).ln() / span).clamp(0.0, 1.0)
    }
}

/// `spoofing_score`, implementation `v2`: [`SpoofingModel`](crate::SpoofingModel)'s
/// evidences, with both speed evidences (implied and reported) on
/// [`SpoofingParams::log_speed_evidence`] instead of the linear ramp.
///
/// Why: an implied speed a little beyond what ships make is as often a late
/// timestamp or two receivers hearing one ship as a fake track, and `v1`
/// already counts 100 knots as certain. On a logarithmic scale the
/// impossible is graded by how impossible: 100 knots counts a third, 400
/// knots and beyond (a position jumping across a bay in seconds) counts in
/// full. Teleports and invalid identities count as in `v1`. Same params,
/// same inputs, same rows and payload, the same artifact
/// ([`SpoofingScores`]): a drop-in SHADOW of `v1` that never scores higher,
/// and one that can be promoted without breaking `risk`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSpeedSpoofingModel;

impl VesselSpoofing {
    /// The same vessel with its speed evidences on `v2`'s logarithmic
    /// scale and its score combined again.
    fn on_log_scale(&self, p: &SpoofingParams) -> Self {
        let speed_evidence = self.max_speed_kn.map_or(0.0, |k| p.log_speed_evidence(k));
        let reported_speed_evidence = self
            .max_reported_sog
            .map_or(0.0, |k| p.log_speed_evidence(f64::from(k)));
        Self {
            score: combine(
                p,
                speed_evidence,
                reported_speed_evidence,
                self.teleport.is_some(),
                self.invalid_identity,
            ),
            speed_evidence,
            reported_speed_evidence,
            ..self.clone()
        }
    }
}

impl Model for LogSpeedSpoofingModel {
    type Params = SpoofingParams;
    type Artifact = SpoofingScores;
    const INPUTS: &'static [DeclaredInput] = &[TRACKS.declare(), IDENTITY.declare()];

    fn check(&self, params: &SpoofingParams) -> Result<(), ParamsProblem> {
        params.check()
    }

    fn run(&self, ctx: &Context<'_, SpoofingParams>) -> Result<Output<SpoofingScores>, ModelError> {
        let p = ctx.params();
        let linear = SpoofingScores::compute(ctx.read(&TRACKS)?, ctx.read(&IDENTITY)?, p);
        let vessels = linear.vessels.iter().map(|v| v.on_log_scale(p)).collect();
        Ok(output(SpoofingScores { vessels }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{Identities, IdentityParams};
    use crate::test_fixtures::{fix, window};
    use crate::tracks::{TrackFeatures, TrackParams};

    #[test]
    fn grades_speed_on_a_log_scale_and_keeps_the_other_evidences() {
        let p = SpoofingParams::default();
        // 0.25 degrees (27.8 km) in 12 minutes: 75 knots; 0.9 degrees
        // (100 km) in 5 minutes: 648 knots; an invalid identity at rest.
        let w = window(vec![
            fix(211_000_001, 0, 10.0, 10.0),
            fix(211_000_001, 720, 10.25, 10.0),
            fix(211_000_002, 0, 20.0, 10.0),
            fix(211_000_002, 300, 20.9, 10.0),
            fix(12_345_678, 0, 1.0, 1.0),
        ]);
        let t = TrackFeatures::compute(&w, &TrackParams::default());
        let i = Identities::compute(&w, &IdentityParams::default());
        let linear = SpoofingScores::compute(&t, &i, &p);
        let log: Vec<VesselSpoofing> = linear
            .vessels()
            .iter()
            .map(|v| v.on_log_scale(&p))
            .collect();
        let find = |mmsi| log.iter().find(|v| v.mmsi == mmsi).unwrap();
        let lin = |mmsi| linear.get(mmsi).unwrap();

        // 75 knots: half of v1's ramp, ln(1.5)/ln(8) = 0.195 on the log scale.
        let slow = find(211_000_001);
        assert!((lin(211_000_001).speed_evidence - 0.5).abs() < 0.01);
        assert!((slow.speed_evidence - 0.195).abs() < 0.01, "{slow:?}");
        assert!(slow.score < lin(211_000_001).score);
        // 648 knots: full evidence on both, the same score.
        assert_eq!(find(211_000_002).speed_evidence, 1.0);
        assert_eq!(find(211_000_002).score, lin(211_000_002).score);
        // An invalid identity alone scores as in v1.
        assert_eq!(find(12_345_678).score, 0.4);
        // Never above v1.
        for v in &log {
            assert!(v.score <= lin(v.mmsi).score, "{v:?}");
        }
    }
}
