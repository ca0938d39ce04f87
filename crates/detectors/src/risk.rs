//! `risk`: one fused score per vessel from spoofing and identity collisions.

use model_api::{
    Context, DeclaredInput, Input, Model, ModelError, ModelOutput, Output, OutputPolicy, OutputRow,
    ParamsProblem,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Collisions;
use crate::params::{ModelParams, weight};
use crate::{RiskScores, SpoofingScores, VesselRisk};
use crate::{keys, score_bands};

/// Weights of [`RiskModel`]: `risk = 1 - (1 - w_s*spoofing)(1 - w_c*collision)`.
///
/// Default (the legacy values), as JSON:
/// `{"spoofing_weight": 1.0, "collision_weight": 1.0}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskParams {
    /// Weight of the spoofing score, 0 to 1.
    pub spoofing_weight: f64,
    /// Weight of the collision score (from its severity), 0 to 1.
    pub collision_weight: f64,
}

impl Default for RiskParams {
    fn default() -> Self {
        Self {
            spoofing_weight: 1.0,
            collision_weight: 1.0,
        }
    }
}

impl ModelParams for RiskParams {
    fn check(&self) -> Result<(), ParamsProblem> {
        weight("spoofing_weight", self.spoofing_weight)?;
        weight("collision_weight", self.collision_weight)
    }
}

/// The artifact of `risk`: fuses the two inputs.
pub fn risk_scores(
    spoofing: &SpoofingScores,
    collisions: &Collisions,
    p: &RiskParams,
) -> RiskScores {
    let fuse = |mmsi: i64, s: f64, c: f64| VesselRisk {
        mmsi,
        score: (1.0 - (1.0 - p.spoofing_weight * s) * (1.0 - p.collision_weight * c))
            .clamp(0.0, 1.0),
        spoofing: s,
        collision: c,
    };
    let mut vessels: Vec<VesselRisk> = spoofing
        .vessels()
        .iter()
        .map(|v| {
            fuse(
                v.mmsi,
                f64::from(v.score),
                collisions.get(v.mmsi).map_or(0.0, |c| c.score()),
            )
        })
        .collect();
    // Collisions of vessels the spoofing model did not see (not in one cycle's data).
    let extra: Vec<VesselRisk> = collisions
        .all()
        .iter()
        .filter(|c| spoofing.get(c.mmsi).is_none())
        .map(|c| fuse(c.mmsi, 0.0, c.score()))
        .collect();
    if !extra.is_empty() {
        vessels.extend(extra);
        vessels.sort_by_key(|v| v.mmsi);
    }
    RiskScores::new(vessels)
}

/// `risk`, on `spoofing_score` under input key [`keys::SPOOFING`]
/// (`"spoofing"`) and `identity_collision` under [`keys::COLLISIONS`]
/// (`"collisions"`).
///
/// Rows: one per vessel, `score` the fused risk, payload
/// `{"spoofing", "collision"}` only when the risk is above 0. Artifact:
/// [`RiskScores`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RiskModel;

/// What [`RiskModel`] reads under [`keys::SPOOFING`].
const SPOOFING: Input<SpoofingScores> = Input::new(keys::SPOOFING);
/// What [`RiskModel`] reads under [`keys::COLLISIONS`].
const COLLISIONS: Input<Collisions> = Input::new(keys::COLLISIONS);

impl Model for RiskModel {
    type Params = RiskParams;
    type Artifact = RiskScores;
    const INPUTS: &'static [DeclaredInput] = &[SPOOFING.declare(), COLLISIONS.declare()];
    /// 99.8% of its rows on the real sample are score 0 without payload
    /// (every vessel analysed, nearly none suspect): those are not stored,
    /// and every reader takes a missing row as score 0.
    const OUTPUT: OutputPolicy = OutputPolicy::NonZeroOrPayload;

    fn check(&self, params: &RiskParams) -> Result<(), ParamsProblem> {
        params.check()
    }

    fn run(&self, ctx: &Context<'_, RiskParams>) -> Result<Output<RiskScores>, ModelError> {
        let spoofing = ctx.read(&SPOOFING)?;
        let collisions = ctx.read(&COLLISIONS)?;
        let risk = risk_scores(spoofing, collisions, ctx.params());
        let mut out = ModelOutput::with_capacity(risk.vessels().len());
        for v in risk.vessels() {
            let row = OutputRow::new(crate::nine_digits(v.mmsi), v.score);
            out.push(if v.score > 0.0 {
                row.with_payload(json!({ "spoofing": v.spoofing, "collision": v.collision }))
            } else {
                row
            });
        }
        out.metric("vessels", risk.vessels().len() as f64);
        for (key, n) in score_bands(risk.vessels().iter().map(|v| v.score)) {
            out.metric(key, n as f64);
        }
        Ok(Output::new(out, risk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collision::CollisionParams;
    use crate::identity::IdentityParams;
    use crate::spoofing::SpoofingParams;
    use crate::test_fixtures::{fix, window};
    use crate::tracks::TrackParams;

    #[test]
    fn fuses_as_weighted_noisy_or() {
        let w = window(vec![
            fix(211_002_010, 0, 30.28, -87.54),
            fix(211_002_010, 60, 34.41, -119.69),
            fix(211_002_010, 120, 30.28, -87.54),
            fix(211_002_010, 180, 34.41, -119.69),
            fix(12_345_678, 0, 1.0, 1.0),
            fix(211_000_001, 0, 1.0, 1.0),
        ]);
        let t = crate::track_features(&w, &TrackParams::default()).unwrap();
        let i = crate::identity::identities(&w, &IdentityParams::default());
        let s = crate::spoofing_scores(&t, &i, &SpoofingParams::default());
        let c = crate::collisions(&t, &CollisionParams::default());
        let r = risk_scores(&s, &c, &RiskParams::default());
        assert_eq!(r.vessels().len(), 3);
        // Three switches, CRITICAL (1.0), whatever the spoofing score.
        assert!((r.get(211_002_010).unwrap().collision - 1.0).abs() < 1e-6);
        assert!((r.get(211_002_010).unwrap().score - 1.0).abs() < 1e-6);
        assert!(
            (r.get(211_002_010).unwrap().spoofing - 0.8).abs() < 1e-6,
            "a teleport"
        );
        assert!((r.get(12_345_678).unwrap().score - 0.4).abs() < 1e-6);
        assert_eq!(r.get(211_000_001).unwrap().score, 0.0);
        let half = RiskParams {
            spoofing_weight: 0.5,
            collision_weight: 0.0,
        };
        let r = risk_scores(&s, &c, &half);
        assert!((r.get(12_345_678).unwrap().score - 0.2).abs() < 1e-6);
    }
}
