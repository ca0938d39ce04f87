//! `spoofing_score` implementation `v2`: the same evidences as `v1`, the
//! speed evidences eased in and out instead of rising linearly.

use model_api::{Context, DeclaredInput, Model, ModelError, Output, ParamsProblem};

use crate::params::ModelParams;
use crate::spoofing::{IDENTITY, TRACKS, combine, output};
use crate::{SpoofingParams, SpoofingScores, VesselSpoofing};

/// `t² (3 − 2t)` on `0..=1`: 0 and 1 where the linear ramp is, flat at both
/// ends, ½ in the middle.
///
/// ```
/// use detectors::smoothstep;
/// assert_eq!((smoothstep(0.0), smoothstep(0.5), smoothstep(1.0)), (0.0, 0.5, 1.0));
/// assert!(smoothstep(0.1) < 0.1 && smoothstep(0.9) > 0.9);
/// ```
pub fn smoothstep(t: f64) -> f64 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// `spoofing_score`, implementation `v2`: [`SpoofingModel`](crate::SpoofingModel)'s
/// evidences with both speed evidences (implied and reported) on
/// [`smoothstep`] of the linear ramp between [`SpoofingParams::speed_floor_kn`]
/// and [`SpoofingParams::speed_full_kn`].
///
/// Why: just above the floor a speed is as likely jitter (a late
/// timestamp, two receivers) as a spoofed track, and the linear ramp
/// already counts it; near the full speed only a fake track is left, and
/// the ramp still holds back. The eased curve counts little near the floor
/// and nearly all near the full speed; teleports and invalid identities
/// count as in `v1`. Same params, same inputs, same rows and payload, the
/// same artifact ([`SpoofingScores`]): a drop-in SHADOW of `v1`, and one
/// that can be promoted without breaking `risk`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SmoothSpoofingModel;

impl VesselSpoofing {
    /// The same vessel with its speed evidences eased by [`smoothstep`] and
    /// its score combined again.
    fn eased(&self, p: &SpoofingParams) -> Self {
        let speed_evidence = smoothstep(self.speed_evidence);
        let reported_speed_evidence = smoothstep(self.reported_speed_evidence);
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

impl Model for SmoothSpoofingModel {
    type Params = SpoofingParams;
    type Artifact = SpoofingScores;
    const INPUTS: &'static [DeclaredInput] = &[TRACKS.declare(), IDENTITY.declare()];

    fn check(&self, params: &SpoofingParams) -> Result<(), ParamsProblem> {
        params.check()
    }

    fn run(&self, ctx: &Context<'_, SpoofingParams>) -> Result<Output<SpoofingScores>, ModelError> {
        let p = ctx.params();
        let linear = SpoofingScores::compute(ctx.read(&TRACKS)?, ctx.read(&IDENTITY)?, p);
        let vessels = linear.vessels.iter().map(|v| v.eased(p)).collect();
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
    fn eases_the_speed_evidence_and_keeps_the_rest() {
        let p = SpoofingParams::default();
        // 0.25 degrees (27.8 km) in 12 minutes: 75 knots, half-way up the
        // ramp; 0.2 degrees in 12 minutes: 60 knots, a fifth of the way.
        let w = window(vec![
            fix(211_000_001, 0, 10.0, 10.0),
            fix(211_000_001, 720, 10.25, 10.0),
            fix(211_000_002, 0, 20.0, 10.0),
            fix(211_000_002, 720, 20.2, 10.0),
            fix(12_345_678, 0, 1.0, 1.0),
        ]);
        let t = TrackFeatures::compute(&w, &TrackParams::default());
        let i = Identities::compute(&w, &IdentityParams::default());
        let linear = SpoofingScores::compute(&t, &i, &p);
        let eased: Vec<VesselSpoofing> = linear.vessels().iter().map(|v| v.eased(&p)).collect();
        let find = |mmsi| eased.iter().find(|v| v.mmsi == mmsi).unwrap();
        let lin = |mmsi| linear.get(mmsi).unwrap();

        // Near the middle of the ramp the two agree closely.
        let mid = find(211_000_001);
        assert!(
            (mid.speed_evidence - lin(211_000_001).speed_evidence).abs() < 0.01,
            "{mid:?}"
        );
        // Low on the ramp the eased evidence is smaller, and so is the score.
        let low = find(211_000_002);
        let low_lin = lin(211_000_002);
        assert!(
            low_lin.speed_evidence > 0.1 && low_lin.speed_evidence < 0.3,
            "{low_lin:?}"
        );
        assert!(low.speed_evidence < low_lin.speed_evidence, "{low:?}");
        assert!(low.score < low_lin.score, "{low:?} vs {low_lin:?}");
        // An invalid identity alone scores as in v1.
        assert_eq!(find(12_345_678).score, lin(12_345_678).score);
        assert_eq!(find(12_345_678).score, 0.4);
    }
}
