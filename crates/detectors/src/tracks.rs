//! `track_features`: per vessel the ordered fixes, the implied speed between
//! consecutive fixes, the largest jump and the time gaps.

use std::ops::Range;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use model_api::{Context, Model, ModelError, ModelOutput, Output, OutputRow, ParamsProblem};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::geo::{haversine_km, knots, round3};
use crate::params::{ModelParams, positive};
use crate::window::{AisWindow, Fix};

/// Thresholds of [`TrackFeaturesModel`].
///
/// Default (the legacy values), as JSON:
/// `{"min_speed_segment_km": 0.5, "gap_minutes": 5.0}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackParams {
    /// Segments shorter than this many kilometres are left out of
    /// [`VesselTrack::max_speed_kn`]: over a few hundred metres GPS and
    /// timestamp jitter dominate the implied speed.
    pub min_speed_segment_km: f64,
    /// Consecutive fixes further apart than this many minutes count as a gap.
    pub gap_minutes: f64,
}

impl Default for TrackParams {
    fn default() -> Self {
        Self {
            min_speed_segment_km: 0.5,
            gap_minutes: 5.0,
        }
    }
}

impl ModelParams for TrackParams {
    fn check(&self) -> Result<(), ParamsProblem> {
        positive("min_speed_segment_km", self.min_speed_segment_km)?;
        positive("gap_minutes", self.gap_minutes)
    }
}

/// The move between two consecutive fixes of one vessel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Great-circle distance, kilometres.
    pub km: f64,
    /// Time between the fixes, minutes (always > 0: the window has one fix
    /// per `(mmsi, ts)`).
    pub minutes: f64,
    /// The implied speed, knots.
    pub speed_kn: f64,
}

/// A segment singled out, with its end times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Jump {
    /// Great-circle distance, kilometres.
    pub km: f64,
    /// Time taken, minutes.
    pub minutes: f64,
    /// The implied speed, knots.
    pub speed_kn: f64,
    /// Time of the fix it starts from.
    pub from_ts: DateTime<Utc>,
    /// Time of the fix it ends at.
    pub to_ts: DateTime<Utc>,
}

impl Jump {
    /// The jump made by segment `seg`, which joins `fixes[i]` and `fixes[i + 1]`.
    pub(crate) fn of(seg: &Segment, from: &Fix, to: &Fix) -> Self {
        Self {
            km: seg.km,
            minutes: seg.minutes,
            speed_kn: seg.speed_kn,
            from_ts: from.ts,
            to_ts: to.ts,
        }
    }
}

/// The features of one vessel in the window.
#[derive(Debug, Clone, PartialEq)]
pub struct VesselTrack {
    /// The MMSI.
    pub mmsi: i64,
    /// Number of fixes.
    pub fix_count: usize,
    /// Time of the first fix.
    pub first_ts: DateTime<Utc>,
    /// Time of the last fix.
    pub last_ts: DateTime<Utc>,
    /// Highest implied speed over segments of at least
    /// [`TrackParams::min_speed_segment_km`], knots; `None` if there is none.
    pub max_speed_kn: Option<f64>,
    /// The longest segment by distance; `None` for a single fix.
    pub max_jump: Option<Jump>,
    /// The longest time between consecutive fixes, minutes.
    pub max_gap_minutes: Option<f64>,
    /// Segments longer than [`TrackParams::gap_minutes`].
    pub gaps: u32,
    /// Highest reported SOG, knots.
    pub max_reported_sog: Option<f32>,
    fixes: Range<usize>,
    segments: Range<usize>,
}

/// The artifact of `track_features`: every vessel of the window, by
/// ascending MMSI, with its fixes and segments.
#[derive(Debug, Clone)]
pub struct TrackFeatures {
    fixes: Arc<[Fix]>,
    segments: Vec<Segment>,
    vessels: Vec<VesselTrack>,
}

impl TrackFeatures {
    /// Computes the features of every vessel in `window`.
    pub fn compute(window: &AisWindow, params: &TrackParams) -> Self {
        let fixes = window.shared_fixes();
        let mut segments = Vec::with_capacity(fixes.len().saturating_sub(window.vessel_count()));
        let mut vessels = Vec::with_capacity(window.vessel_count());
        for span in window.spans() {
            let track = &fixes[span.fixes.clone()];
            let seg_start = segments.len();
            let mut v = VesselTrack {
                mmsi: span.mmsi,
                fix_count: track.len(),
                first_ts: track[0].ts,
                last_ts: track[track.len() - 1].ts,
                max_speed_kn: None,
                max_jump: None,
                max_gap_minutes: None,
                gaps: 0,
                max_reported_sog: track.iter().filter_map(|f| f.sog).reduce(f32::max),
                fixes: span.fixes.clone(),
                segments: seg_start..seg_start,
            };
            for pair in track.windows(2) {
                let (a, b) = (&pair[0], &pair[1]);
                let km = haversine_km(a.lat, a.lon, b.lat, b.lon);
                let minutes = (b.ts - a.ts).num_milliseconds() as f64 / 60_000.0;
                let speed_kn = knots(km, minutes).unwrap_or(f64::INFINITY);
                let seg = Segment {
                    km,
                    minutes,
                    speed_kn,
                };
                if km >= params.min_speed_segment_km && v.max_speed_kn.is_none_or(|m| speed_kn > m)
                {
                    v.max_speed_kn = Some(speed_kn);
                }
                if v.max_jump.is_none_or(|j| km > j.km) {
                    v.max_jump = Some(Jump::of(&seg, a, b));
                }
                if v.max_gap_minutes.is_none_or(|g| minutes > g) {
                    v.max_gap_minutes = Some(minutes);
                }
                if minutes > params.gap_minutes {
                    v.gaps += 1;
                }
                segments.push(seg);
            }
            v.segments = seg_start..segments.len();
            vessels.push(v);
        }
        Self {
            fixes,
            segments,
            vessels,
        }
    }

    /// All vessels, by ascending MMSI.
    pub fn vessels(&self) -> &[VesselTrack] {
        &self.vessels
    }

    /// One vessel's features.
    pub fn vessel(&self, mmsi: i64) -> Option<&VesselTrack> {
        self.vessels
            .binary_search_by_key(&mmsi, |v| v.mmsi)
            .ok()
            .map(|i| &self.vessels[i])
    }

    /// The fixes of `vessel` (one of [`vessels`](Self::vessels)) in time order.
    pub fn fixes(&self, vessel: &VesselTrack) -> &[Fix] {
        self.fixes.get(vessel.fixes.clone()).unwrap_or(&[])
    }

    /// The segments of `vessel`: `segments[i]` joins `fixes[i]` and `fixes[i + 1]`.
    pub fn segments(&self, vessel: &VesselTrack) -> &[Segment] {
        self.segments.get(vessel.segments.clone()).unwrap_or(&[])
    }

    /// The fixes and segments of `vessel` together, so that `segments[i]`
    /// joins `fixes[i]` and `fixes[i + 1]`; both empty for a vessel that is
    /// not of this artifact.
    pub fn track(&self, vessel: &VesselTrack) -> (&[Fix], &[Segment]) {
        let (fixes, segments) = (self.fixes(vessel), self.segments(vessel));
        if fixes.len() == segments.len() + 1 {
            (fixes, segments)
        } else {
            (&[], &[])
        }
    }

    /// Total number of fixes.
    pub fn fix_count(&self) -> usize {
        self.fixes.len()
    }

    /// Total number of segments.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }
}

/// `track_features` (root model, base input [`AisWindow`]).
///
/// Rows: one per vessel; `score` = [`VesselTrack::max_speed_kn`] (0 if
/// none); payload `{"fixes", "max_speed_kn", "max_jump_km", "max_jump_min",
/// "max_gap_min", "gaps"}`. Artifact: [`TrackFeatures`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TrackFeaturesModel;

impl Model for TrackFeaturesModel {
    type Params = TrackParams;
    type Artifact = TrackFeatures;

    fn check(&self, params: &TrackParams) -> Result<(), ParamsProblem> {
        params.check()
    }

    fn run(&self, ctx: &Context<'_, TrackParams>) -> Result<Output<TrackFeatures>, ModelError> {
        let window: &AisWindow = ctx.base()?;
        let features = TrackFeatures::compute(window, ctx.params());
        let mut out = ModelOutput::with_capacity(features.vessels.len());
        let mut gaps = 0u64;
        for v in &features.vessels {
            gaps += u64::from(v.gaps);
            let payload = json!({
                "fixes": v.fix_count,
                "max_speed_kn": v.max_speed_kn.map(round3),
                "max_jump_km": v.max_jump.map(|j| round3(j.km)),
                "max_jump_min": v.max_jump.map(|j| round3(j.minutes)),
                "max_gap_min": v.max_gap_minutes.map(round3),
                "gaps": v.gaps,
            });
            out.push(
                OutputRow::new(v.mmsi.to_string(), v.max_speed_kn.unwrap_or(0.0))
                    .with_payload(payload),
            );
        }
        out.metric("vessels", features.vessels.len() as f64);
        out.metric("fixes", features.fix_count() as f64);
        out.metric("segments", features.segment_count() as f64);
        out.metric("gaps", gaps as f64);
        Ok(Output::new(out, features))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::{fix, window};

    #[test]
    fn segments_speeds_jumps_and_gaps() {
        // 0.1 degree of latitude (11.1 km) in 6 minutes: 60 knots.
        let w = window(vec![
            fix(1, 0, 10.0, 10.0),
            fix(1, 360, 10.1, 10.0),
            fix(1, 420, 10.1, 10.0),
            fix(2, 60, 0.0, 0.0),
        ]);
        let t = TrackFeatures::compute(&w, &TrackParams::default());
        let v1 = t.vessel(1).unwrap();
        assert_eq!(v1.fix_count, 3);
        assert_eq!(t.segments(v1).len(), 2);
        let s = t.segments(v1)[0];
        assert!((s.km - 11.12).abs() < 0.01, "{s:?}");
        assert!((s.minutes - 6.0).abs() < 1e-12);
        assert!((s.speed_kn - 60.04).abs() < 0.05, "{s:?}");
        assert_eq!(v1.max_speed_kn, Some(s.speed_kn));
        let j = v1.max_jump.unwrap();
        assert_eq!(
            (j.km, j.from_ts, j.to_ts),
            (s.km, t.fixes(v1)[0].ts, t.fixes(v1)[1].ts)
        );
        assert_eq!(v1.max_gap_minutes, Some(6.0));
        assert_eq!(v1.gaps, 1);
        let v2 = t.vessel(2).unwrap();
        assert_eq!(
            (v2.fix_count, v2.max_speed_kn, v2.max_jump, v2.gaps),
            (1, None, None, 0)
        );
        assert!(t.segments(v2).is_empty());
        assert!(t.vessel(3).is_none());
    }

    #[test]
    fn short_segments_do_not_set_the_max_speed() {
        // 0.003 degrees (333 m) in 2 s is 324 knots of jitter.
        let w = window(vec![fix(1, 0, 10.0, 10.0), fix(1, 2, 10.003, 10.0)]);
        let t = TrackFeatures::compute(&w, &TrackParams::default());
        assert_eq!(t.vessel(1).unwrap().max_speed_kn, None);
        let loose = TrackParams {
            min_speed_segment_km: 0.1,
            ..TrackParams::default()
        };
        let t = TrackFeatures::compute(&w, &loose);
        assert!(t.vessel(1).unwrap().max_speed_kn.unwrap() > 300.0);
    }
}
