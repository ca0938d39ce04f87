//! `spoofing_score` implementation `v2`: the same evidences as `v1`, each
//! graded by how far beyond its threshold it goes, on a logarithmic scale.

use model_api::{Context, DeclaredInput, Model, ModelError, Output, OutputPolicy, ParamsProblem};

use crate::params::ModelParams;
use crate::spoofing::{IDENTITY, TRACKS, combine, output, spoofing_scores};
use crate::{SpoofingParams, SpoofingScores, VesselSpoofing};

/// How many times the span from the speed floor to the full speed (as a
/// ratio: [`SpoofingParams::speed_full_factor`] over
/// [`SpoofingParams::speed_floor_factor`]) `v2`'s speed scale takes to
/// reach full evidence: with the defaults (1 and 2 times the vessel's
/// ceiling) it reaches 1 at 8 times the ceiling, a third per doubling.
pub const LOG_SPEED_SPANS: f64 = 3.0;

/// How many times [`SpoofingParams::teleport_km`] a teleport spans before
/// `v2` counts it in full: with the default 5 km, 500 km. At the threshold
/// itself a teleport counts half.
pub const TELEPORT_FULL_RATIO: f64 = 100.0;

impl SpoofingParams {
    /// The speed evidence of `knots` on `v2`'s logarithmic scale, for a
    /// vessel whose ceiling is `ceiling_kn`: 0 at or below the floor, then
    /// `ln(knots / floor) / (3 ln(full / floor))`, 1 from
    /// `floor * (full / floor)³` on. Never above
    /// [`speed_evidence`](Self::speed_evidence) (`v1`'s linear ramp).
    ///
    /// ```
    /// let p = detectors::SpoofingParams::default(); // floor 1x, full 2x the ceiling
    /// assert_eq!(p.log_speed_evidence(40.0, 40.0), 0.0);
    /// assert!((p.log_speed_evidence(80.0, 40.0) - 1.0 / 3.0).abs() < 1e-12);
    /// assert!((p.log_speed_evidence(160.0, 40.0) - 2.0 / 3.0).abs() < 1e-12);
    /// assert_eq!(p.log_speed_evidence(320.0, 40.0), 1.0);
    /// assert!(p.log_speed_evidence(60.0, 40.0) < p.speed_evidence(60.0, 40.0));
    /// ```
    pub fn log_speed_evidence(&self, knots: f64, ceiling_kn: f64) -> f64 {
        let floor = self.speed_floor_factor * ceiling_kn;
        if knots <= floor {
            return 0.0;
        }
        let span = (self.speed_full_factor / self.speed_floor_factor).ln() * LOG_SPEED_SPANS;
        ((knots / floor).ln() / span).clamp(0.0, 1.0)
    }

    /// The evidence of a teleport spanning `km` on `v2`'s logarithmic
    /// scale: none below [`teleport_km`](Self::teleport_km) (it is no
    /// teleport), half at it, rising to 1 at [`TELEPORT_FULL_RATIO`] times
    /// it. `v1` counts every teleport as 1.
    ///
    /// ```
    /// let p = detectors::SpoofingParams::default(); // teleport_km 5
    /// assert_eq!(p.teleport_evidence(4.0), 0.0);
    /// assert_eq!(p.teleport_evidence(5.0), 0.5);
    /// assert!((p.teleport_evidence(50.0) - 0.75).abs() < 1e-12);
    /// assert_eq!(p.teleport_evidence(3042.0), 1.0);
    /// ```
    pub fn teleport_evidence(&self, km: f64) -> f64 {
        if km < self.teleport_km {
            return 0.0;
        }
        (0.5 + 0.5 * (km / self.teleport_km).ln() / TELEPORT_FULL_RATIO.ln()).clamp(0.0, 1.0)
    }
}

/// `spoofing_score`, implementation `v2`: [`SpoofingModel`](crate::SpoofingModel)'s
/// evidences, each graded by how far beyond its threshold it goes instead
/// of counting in full once past it: both speeds (implied and reported) on
/// [`SpoofingParams::log_speed_evidence`], the teleport on
/// [`SpoofingParams::teleport_evidence`].
///
/// The hypothesis it is shipped to test as a SHADOW: a speed a little
/// beyond what a vessel of its type makes, or a switch between places a
/// few tens of kilometres apart, is as often two receivers hearing one
/// ship (or one clock running late) as a fake track, while `v1` counts it
/// as certain; graded on a logarithmic scale, the impossible counts by how
/// impossible it is (twice the ceiling counts a third, eight times in full;
/// a 50 km switch three quarters, 500 km in full). The reported speed counts
/// only where `v1` lets it count; an invalid identity counts as in `v1`.
/// Same params, same inputs, same rows and payload, the same artifact
/// ([`SpoofingScores`]): it never scores higher than `v1`, and it can be
/// promoted without breaking `risk`.
#[derive(Debug, Clone, Copy, Default)]
pub struct GradedSpoofingModel;

/// The same vessel with its evidences graded as `v2` grades them and its
/// score combined again.
fn graded(v: &VesselSpoofing, p: &SpoofingParams) -> VesselSpoofing {
    let c = v.ceiling_kn;
    let speed_evidence = v.max_speed_kn.map_or(0.0, |k| p.log_speed_evidence(k, c));
    let reported_speed_evidence = match v.max_reported_sog {
        Some(sog) if v.reported_speed_evidence > 0.0 => p.log_speed_evidence(f64::from(sog), c),
        _ => 0.0,
    };
    let teleport_evidence = v.teleport.map_or(0.0, |t| p.teleport_evidence(t.km));
    VesselSpoofing {
        score: combine(
            p,
            speed_evidence,
            reported_speed_evidence,
            teleport_evidence,
            v.invalid_identity,
        ),
        speed_evidence,
        reported_speed_evidence,
        ..v.clone()
    }
}

impl Model for GradedSpoofingModel {
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
        let p = ctx.params();
        let v1 = spoofing_scores(ctx.read(&TRACKS)?, ctx.read(&IDENTITY)?, p);
        let vessels = v1.vessels().iter().map(|v| graded(v, p)).collect();
        Ok(output(SpoofingScores::new(vessels)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityParams;
    use crate::test_fixtures::{fix, window};
    use crate::tracks::TrackParams;

    /// `n` fixes of `mmsi` every `every` seconds moving north at `kn`.
    fn cruise(mmsi: i64, n: i64, every: i64, kn: f64) -> Vec<crate::Fix> {
        (0..n)
            .map(|k| {
                let km = kn * 1.852 * (k * every) as f64 / 3600.0;
                fix(mmsi, k * every, 10.0 + km / 111.2, 10.0 + mmsi as f64 % 7.0)
            })
            .collect()
    }

    #[test]
    fn grades_speed_on_a_log_scale_and_keeps_the_other_evidences() {
        let p = SpoofingParams::default();
        // On the default 60 kn ceiling: 90 kn is half of v1's ramp and
        // ln(1.5) / (3 ln 2) = 0.195 on the log scale; 150 kn is past v1's
        // full speed (120 kn) and ln(2.5) / (3 ln 2) = 0.44 on the log scale.
        let mut fixes = cruise(211_000_001, 12, 60, 90.0);
        fixes.extend(cruise(211_000_002, 12, 60, 150.0));
        fixes.push(fix(12_345_678, 0, 1.0, 1.0));
        let w = window(fixes);
        let t = crate::track_features(&w, &TrackParams::default()).unwrap();
        let i = crate::identity::identities(&w, &IdentityParams::default());
        let linear = spoofing_scores(&t, &i, &p);
        let graded: Vec<VesselSpoofing> = linear.vessels().iter().map(|v| graded(v, &p)).collect();
        let find = |mmsi| graded.iter().find(|v| v.mmsi == mmsi).unwrap();
        let lin = |mmsi| linear.get(mmsi).unwrap();

        let mid = find(211_000_001);
        assert!(
            (lin(211_000_001).speed_evidence - 0.5).abs() < 0.05,
            "{:?}",
            lin(211_000_001)
        );
        assert!((mid.speed_evidence - 0.195).abs() < 0.03, "{mid:?}");
        assert!(mid.score < lin(211_000_001).score);
        let fast = find(211_000_002);
        assert_eq!(lin(211_000_002).speed_evidence, 1.0);
        assert!((fast.speed_evidence - 0.44).abs() < 0.03, "{fast:?}");
        // An invalid identity alone scores as in v1.
        assert_eq!(find(12_345_678).score, lin(12_345_678).score);
        assert!(find(12_345_678).score > 0.0);
        // Never above v1, and the rest of the evidence is v1's.
        for v in &graded {
            let l = lin(v.mmsi);
            assert!(v.score <= l.score, "{v:?}");
            assert_eq!(
                (v.teleports, v.invalid_identity),
                (l.teleports, l.invalid_identity)
            );
        }
    }

    #[test]
    fn a_near_teleport_counts_less_than_a_far_one() {
        let p = SpoofingParams::default();
        let score = |km: f64| combine(&p, 0.0, 0.0, p.teleport_evidence(km), false);
        assert!(
            score(48.4) < score(1393.7),
            "{} {}",
            score(48.4),
            score(1393.7)
        );
        assert_eq!(score(3042.4), combine(&p, 0.0, 0.0, 1.0, false));
        assert_eq!(score(1.0), 0.0);
    }
}
