//! The artifact of `track_features`: every vessel of a window with its
//! track (confirmed places, switches, speeds), the role of each fix and the
//! raw segments between consecutive fixes.

use std::ops::Range;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::geo::{haversine_km, knots};
use crate::{AisWindow, ArtifactError, CarriedFix, Fix};

/// What a fix is to its vessel's track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FixRole {
    /// On the vessel's track.
    Track,
    /// On another confirmed place, `sites[n]` of the vessel (n >= 1).
    Site(u8),
    /// Part of a fast run (a spoofed fast track).
    FastRun,
    /// Set aside: contradicts the confirmed places and is confirmed by nothing.
    Glitch,
}

/// A place the identity was confirmed at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Site {
    /// Fixes of the window there.
    pub fixes: u32,
    /// Its first fix (carried ones included).
    pub first_ts: DateTime<Utc>,
    /// Its last fix.
    pub last_ts: DateTime<Utc>,
    /// Latitude of the last fix.
    pub lat: f64,
    /// Longitude of the last fix.
    pub lon: f64,
    /// Whether an earlier cycle confirmed it (it holds a carried position).
    pub carried: bool,
}

/// Consecutive fixes of two confirmed places the vessel could not connect:
/// `km > noise_km + ceiling * dt`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Switch {
    /// Time of the fix it leaves.
    pub from_ts: DateTime<Utc>,
    /// Time of the fix it arrives at.
    pub to_ts: DateTime<Utc>,
    /// Great-circle distance, kilometres.
    pub km: f64,
    /// The implied speed, knots (infinite for two places at one instant).
    pub speed_kn: f64,
}

/// A chain of glitch-like fixes moving together too fast for the vessel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FastRun {
    /// Fixes in it.
    pub fixes: u32,
    /// First fix.
    pub from_ts: DateTime<Utc>,
    /// Last fix.
    pub to_ts: DateTime<Utc>,
    /// First to last, kilometres.
    pub km: f64,
    /// First to last, knots (the least speed they prove, as for
    /// [`VesselTrack::max_speed_kn`]).
    pub speed_kn: f64,
}

/// A move singled out, with its end times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Jump {
    /// Great-circle distance, kilometres.
    pub km: f64,
    /// Time taken, minutes.
    pub minutes: f64,
    /// The implied speed, knots (infinite when no time passed).
    pub speed_kn: f64,
    /// Time of the fix it starts from.
    pub from_ts: DateTime<Utc>,
    /// Time of the fix it ends at.
    pub to_ts: DateTime<Utc>,
}

/// The move between two consecutive fixes of the window (raw: glitches
/// included).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Great-circle distance, kilometres.
    pub km: f64,
    /// Time between the fixes, minutes (0 for two places at one instant).
    pub minutes: f64,
    /// The implied speed, knots (infinite when no time passed).
    pub speed_kn: f64,
}

/// The features of one vessel in the window.
#[derive(Debug, Clone, PartialEq)]
pub struct VesselTrack {
    /// The MMSI.
    pub mmsi: i64,
    /// Fixes in the window.
    pub fix_count: usize,
    /// Time of the first fix.
    pub first_ts: DateTime<Utc>,
    /// Time of the last fix.
    pub last_ts: DateTime<Utc>,
    /// The latest AIS ship type reported.
    pub vessel_type: Option<i32>,
    /// The speed ceiling used, knots.
    pub ceiling_kn: f64,
    /// Fixes of the window on the track.
    pub accepted: usize,
    /// Fixes set aside as glitches.
    pub glitches: u32,
    /// Highest speed along the track between fixes at least
    /// `TrackParams::speed_baseline_seconds` (detectors) apart (each fix against the
    /// first fix a baseline later and against the last one) and
    /// `TrackParams::min_speed_segment_km` (detectors) apart, knots: the least speed
    /// the two fixes prove (`(km - noise_km) / dt`), so position noise never
    /// reads as speed.
    pub max_speed_kn: Option<f64>,
    /// The fastest fast run, if any.
    pub fast_run: Option<FastRun>,
    /// The confirmed places, the track's first (when the track is
    /// confirmed); at most [`MAX_SITES`].
    pub sites: Vec<Site>,
    /// Whether `sites[0]` is the track (false when nothing is confirmed).
    pub track_confirmed: bool,
    /// Impossible moves between confirmed places, in time order, at least
    /// one end in the window.
    pub switches: Vec<Switch>,
    /// The longest move between consecutive confirmed fixes (switches
    /// included); `None` for a single one.
    pub max_jump: Option<Jump>,
    /// The longest time between consecutive fixes of the track, minutes.
    pub max_gap_minutes: Option<f64>,
    /// Moves of the track longer than `TrackParams::gap_minutes` (detectors).
    pub gaps: u32,
    /// Highest SOG reported on the track and its fast runs, knots.
    pub max_reported_sog: Option<f32>,
    /// Fixes of the track and its fast runs whose reported SOG is above the
    /// ceiling.
    pub reported_over_ceiling: u32,
}

/// At most this many places are kept per vessel.
pub const MAX_SITES: usize = 8;

/// The artifact of `track_features`: every vessel of the window, by
/// ascending MMSI, with its fixes, their roles and the raw segments.
///
/// **How a track is built.** A vessel's fixes (with the positions carried
/// from earlier cycles, [`CarriedFix`]) are taken in time order and each is
/// joined to the nearest *place hypothesis* whose last fix it can be reached
/// from: `distance <= noise_km + ceiling * dt`, where the ceiling is the
/// highest speed a vessel of its AIS type plausibly makes
/// (`detectors::ceiling_kn`). A fix reachable from none starts a hypothesis of its
/// own; a fix that no hypothesis reaches from its last fix but one reaches
/// from the fix before, more slowly than that last fix was reached, sets the
/// last fix apart (a spike: it contradicts both its neighbours). A hypothesis is **confirmed** when two of its fixes at least
/// `TrackParams::confirm_seconds` (detectors) apart agree on it (a far position that
/// persists), or when it holds a carried position (an earlier cycle
/// confirmed it). The confirmed hypothesis with the most fixes is the
/// vessel's **track**; other confirmed hypotheses are further **sites** (two
/// transmitters, or a teleport); the consecutive fixes of two sites that the
/// vessel could not connect are **switches**. A fix of an unconfirmed
/// hypothesis is a **glitch**: counted, and never evidence on its own
/// (the stale `00:00:00` reports of a day file, a lone GPS jump), unless
/// `TrackParams::min_fast_fixes` (detectors) of them chain at a speed no vessel of the
/// type makes but a transmitter that is moved can (up to
/// `max_track_speed_kn`): a **fast run**, the signature of a speed spoof.
#[derive(Debug, Clone)]
pub struct TrackFeatures {
    fixes: Arc<[Fix]>,
    roles: Vec<FixRole>,
    segments: Vec<Segment>,
    vessels: Vec<VesselTrack>,
    /// Per vessel, parallel to `vessels`: its fixes in `fixes`, its
    /// segments in `segments`.
    spans: Vec<(Range<usize>, Range<usize>)>,
    noise_km: f64,
    site_memory_minutes: f64,
}

impl TrackFeatures {
    /// Assembles the artifact for `window`: `vessels` one per vessel of the
    /// window (any order; sorted here by MMSI), `roles` one per fix of the
    /// window in its order ([`AisWindow::fixes`]). The raw segments are
    /// computed from the window. `noise_km` and `site_memory_minutes` are
    /// the params the track was built with (what
    /// [`carry_forward`](Self::carry_forward) needs).
    ///
    /// Refused when the vessels are not exactly the window's (one each) or
    /// the roles do not match its fixes.
    pub fn new(
        window: &AisWindow,
        mut vessels: Vec<VesselTrack>,
        roles: Vec<FixRole>,
        noise_km: f64,
        site_memory_minutes: f64,
    ) -> Result<Self, ArtifactError> {
        let fixes = window.shared_fixes();
        if roles.len() != fixes.len() {
            return Err(ArtifactError::RolesMismatch {
                roles: roles.len(),
                fixes: fixes.len(),
            });
        }
        vessels.sort_by_key(|v| v.mmsi);
        if vessels.len() != window.vessel_count() {
            return Err(ArtifactError::VesselsMismatch {
                what: "TrackFeatures",
                given: vessels.len(),
                window: window.vessel_count(),
            });
        }
        let mut segments = Vec::with_capacity(fixes.len().saturating_sub(vessels.len()));
        let mut spans = Vec::with_capacity(vessels.len());
        for (v, (mmsi, range)) in vessels.iter().zip(window.vessel_ranges()) {
            if v.mmsi != mmsi {
                return Err(ArtifactError::NotInWindow {
                    what: "TrackFeatures",
                    mmsi: v.mmsi,
                });
            }
            let seg_start = segments.len();
            for pair in fixes[range.clone()].windows(2) {
                let (a, b) = (&pair[0], &pair[1]);
                let km = haversine_km(a.lat, a.lon, b.lat, b.lon);
                let secs = (b.ts - a.ts).num_milliseconds() as f64 / 1000.0;
                segments.push(Segment {
                    km,
                    minutes: secs / 60.0,
                    speed_kn: knots(km, secs / 60.0).unwrap_or(f64::INFINITY),
                });
            }
            spans.push((range, seg_start..segments.len()));
        }
        Ok(Self {
            fixes,
            roles,
            segments,
            vessels,
            spans,
            noise_km,
            site_memory_minutes,
        })
    }

    /// The spans of `vessel` (one of [`vessels`](Self::vessels)).
    fn spans_of(&self, vessel: &VesselTrack) -> Option<&(Range<usize>, Range<usize>)> {
        let i = self
            .vessels
            .binary_search_by_key(&vessel.mmsi, |v| v.mmsi)
            .ok()?;
        self.spans.get(i)
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
        self.spans_of(vessel)
            .and_then(|(fixes, _)| self.fixes.get(fixes.clone()))
            .unwrap_or(&[])
    }

    /// What each fix of `vessel` is to its track, parallel to
    /// [`fixes`](Self::fixes).
    pub fn roles(&self, vessel: &VesselTrack) -> &[FixRole] {
        self.spans_of(vessel)
            .and_then(|(fixes, _)| self.roles.get(fixes.clone()))
            .unwrap_or(&[])
    }

    /// The raw segments of `vessel`: `segments[i]` joins `fixes[i]` and
    /// `fixes[i + 1]` (glitches included).
    pub fn segments(&self, vessel: &VesselTrack) -> &[Segment] {
        self.spans_of(vessel)
            .and_then(|(_, segments)| self.segments.get(segments.clone()))
            .unwrap_or(&[])
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

    /// Fixes set aside as glitches, over all vessels.
    pub fn glitch_count(&self) -> usize {
        self.roles.iter().filter(|r| **r == FixRole::Glitch).count()
    }

    /// The position error the track was built with, kilometres.
    pub fn noise_km(&self) -> f64 {
        self.noise_km
    }

    /// What the next cycle must know, to store in `kcg.vessel_track_state`:
    /// per vessel, the last fix of each confirmed place (site 0 the track)
    /// whose last fix is at most `site_memory_minutes` older than
    /// `cycle_ts`. A vessel with nothing confirmed carries nothing: a lone
    /// fix must not confirm itself in the next cycle.
    pub fn carry_forward(&self, cycle_ts: DateTime<Utc>) -> Vec<CarriedFix> {
        let horizon = cycle_ts
            - chrono::TimeDelta::milliseconds((self.site_memory_minutes * 60_000.0) as i64);
        let mut out = Vec::new();
        for v in &self.vessels {
            if !v.track_confirmed {
                continue;
            }
            for (n, s) in v.sites.iter().enumerate() {
                if s.last_ts < horizon {
                    continue;
                }
                out.push(CarriedFix {
                    mmsi: v.mmsi,
                    site: n as i16,
                    ts: s.last_ts,
                    lat: s.lat,
                    lon: s.lon,
                    cycle_ts,
                });
            }
        }
        out
    }
}
