//! `track_features`: per vessel, which fixes form its track, which are
//! glitches set aside, which other places the identity was confirmed at,
//! and how fast it moved, by physics.
//!
//! **How a track is built.** A vessel's fixes (with the positions carried
//! from earlier cycles, [`CarriedFix`]) are taken in time order and each is
//! joined to the nearest *place hypothesis* whose last fix it can be reached
//! from: `distance <= noise_km + ceiling * dt`, where the ceiling is the
//! highest speed a vessel of its AIS type plausibly makes
//! ([`ceiling_kn`]). A fix reachable from none starts a hypothesis of its
//! own; a fix that no hypothesis reaches from its last fix but one reaches
//! from the fix before, more slowly than that last fix was reached, sets the
//! last fix apart (a spike: it contradicts both its neighbours). A hypothesis is **confirmed** when two of its fixes at least
//! [`TrackParams::confirm_seconds`] apart agree on it (a far position that
//! persists), or when it holds a carried position (an earlier cycle
//! confirmed it). The confirmed hypothesis with the most fixes is the
//! vessel's **track**; other confirmed hypotheses are further **sites** (two
//! transmitters, or a teleport); the consecutive fixes of two sites that the
//! vessel could not connect are **switches**. A fix of an unconfirmed
//! hypothesis is a **glitch**: counted, and never evidence on its own
//! (the stale `00:00:00` reports of a day file, a lone GPS jump), unless
//! [`TrackParams::min_fast_fixes`] of them chain at a speed no vessel of the
//! type makes but a transmitter that is moved can (up to
//! `max_track_speed_kn`): a **fast run**, the signature of a speed spoof.

use ais_types::{
    AisWindow, ArtifactError, CarriedFix, FastRun, Fix, FixRole, Jump, MAX_SITES, Site, Switch,
    TrackFeatures, VesselTrack,
};
use chrono::{DateTime, Utc};
use model_api::{
    Context, Model, ModelError, ModelOutput, Output, OutputPolicy, OutputRow, ParamsProblem,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::geo::{KM_PER_NAUTICAL_MILE, haversine_km, knots, round3};
use crate::identity::{IdentityParams, classify_mmsi};
use crate::params::{ModelParams, positive};
use crate::{IdentityClass, nine_digits};
use ais_types::geo::{cos_lat, haversine_km_cos};

/// Thresholds of [`TrackFeaturesModel`].
///
/// Default, as JSON: `{"min_speed_segment_km": 0.5, "gap_minutes": 5.0,
/// "noise_km": 0.5, "default_ceiling_kn": 60.0, "type_ceilings": true,
/// "max_track_speed_kn": 500.0, "min_fast_fixes": 3, "confirm_seconds": 30.0,
/// "speed_baseline_seconds": 120.0, "site_memory_minutes": 30.0}`. The
/// values were chosen with `cargo xtask eval` (see the README).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackParams {
    /// Moves shorter than this many kilometres never set a speed: over a few
    /// hundred metres GPS and timestamp jitter dominate.
    pub min_speed_segment_km: f64,
    /// Consecutive fixes further apart than this many minutes count as a gap.
    pub gap_minutes: f64,
    /// Position error allowed between any two fixes (GPS error of both, and
    /// the movement during a receiver's timestamp error), kilometres.
    pub noise_km: f64,
    /// Speed ceiling, knots, of a vessel whose type is unknown or has no
    /// ceiling of its own.
    pub default_ceiling_kn: f64,
    /// Whether the per-type ceilings of [`ceiling_kn`] apply.
    pub type_ceilings: bool,
    /// The fastest a chain of fixes may move and still be one (spoofed)
    /// track, knots; faster is no movement at all, just places.
    pub max_track_speed_kn: f64,
    /// Fixes a fast run needs (a lone glitch, or two, never make one).
    pub min_fast_fixes: u32,
    /// Two fixes confirm a place only if at least this many seconds apart: a
    /// burst of stale reports stamped within one second confirms nothing.
    pub confirm_seconds: f64,
    /// The track's speed is measured between fixes at least this many
    /// seconds apart, so position noise does not read as speed.
    pub speed_baseline_seconds: f64,
    /// A confirmed place is carried to later cycles while its last fix is
    /// at most this many minutes older than the cycle.
    pub site_memory_minutes: f64,
}

impl Default for TrackParams {
    fn default() -> Self {
        Self {
            min_speed_segment_km: 0.5,
            gap_minutes: 5.0,
            noise_km: 0.5,
            default_ceiling_kn: 60.0,
            type_ceilings: true,
            max_track_speed_kn: 500.0,
            min_fast_fixes: 3,
            confirm_seconds: 30.0,
            speed_baseline_seconds: 120.0,
            site_memory_minutes: 30.0,
        }
    }
}

impl ModelParams for TrackParams {
    fn check(&self) -> Result<(), ParamsProblem> {
        positive("min_speed_segment_km", self.min_speed_segment_km)?;
        positive("gap_minutes", self.gap_minutes)?;
        positive("noise_km", self.noise_km)?;
        positive("default_ceiling_kn", self.default_ceiling_kn)?;
        positive("max_track_speed_kn", self.max_track_speed_kn)?;
        positive("confirm_seconds", self.confirm_seconds)?;
        positive("speed_baseline_seconds", self.speed_baseline_seconds)?;
        positive("site_memory_minutes", self.site_memory_minutes)?;
        if self.min_fast_fixes < 2 {
            return Err(ParamsProblem::new("min_fast_fixes", "must be at least 2"));
        }
        if self.max_track_speed_kn <= self.default_ceiling_kn {
            return Err(ParamsProblem::new(
                "max_track_speed_kn",
                format!(
                    "max_track_speed_kn ({}) must be greater than default_ceiling_kn ({})",
                    self.max_track_speed_kn, self.default_ceiling_kn
                ),
            ));
        }
        Ok(())
    }
}

/// The speed ceiling, knots, of an AIS ship type code: generously above
/// what such vessels make (the sample's fastest passenger vessel reports
/// 38.7 kn, its fastest cargo ship 31 kn), so a real vessel never trips it.
/// `None` for unknown and "other" types, which get
/// [`TrackParams::default_ceiling_kn`].
///
/// ```
/// assert_eq!(detectors::ceiling_kn(70), Some(40.0)); // cargo
/// assert_eq!(detectors::ceiling_kn(0), None);
/// ```
pub fn ceiling_kn(vessel_type: i32) -> Option<f64> {
    Some(match vessel_type {
        20..=29 => 150.0,          // wing in ground
        30 => 45.0,                // fishing
        31..=34 | 52 | 54 => 35.0, // towing, dredging, diving, tug, anti-pollution
        40..=49 => 70.0,           // high-speed craft
        50 | 53 | 58 | 59 => 50.0, // pilot, port tender, medical, non-combatant
        60..=69 => 50.0,           // passenger
        70..=79 => 40.0,           // cargo
        80..=89 => 35.0,           // tanker
        36 => 50.0,                // sailing (motoring)
        _ => return None,          // 35 military, 37 pleasure, 51 SAR, 55 law, 90s other: default
    })
}

/// The ceiling of an SAR aircraft identity (`111` + MID), knots.
pub const SAR_AIRCRAFT_CEILING_KN: f64 = 350.0;

/// One position of a vessel's sequence: a window fix or a carried one.
#[derive(Debug, Clone, Copy)]
struct Point {
    ts: DateTime<Utc>,
    lat: f64,
    lon: f64,
    /// [`cos_lat`] of `lat`, computed once: a point is measured against
    /// many.
    cos_lat: f64,
    /// Index into the vessel's window fixes, `None` when carried from
    /// before the window.
    fix: Option<usize>,
    /// The carried site it stands for.
    carried_site: Option<i16>,
}

#[derive(Debug, Clone)]
struct Hypothesis {
    points: Vec<usize>,
    confirmed: bool,
    window_fixes: u32,
    carried_track: bool,
}

/// [`haversine_km`] between two points (exactly: the cosines are the same).
fn km(a: &Point, b: &Point) -> f64 {
    haversine_km_cos(a.lat, a.lon, a.cos_lat, b.lat, b.lon, b.cos_lat)
}

fn seconds(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_milliseconds() as f64 / 1000.0
}

/// Kilometres a vessel at `kn` covers in `secs`.
fn reach_km(kn: f64, secs: f64) -> f64 {
    kn * KM_PER_NAUTICAL_MILE * secs.abs() / 3600.0
}

fn speed_kn(km: f64, secs: f64) -> f64 {
    knots(km, secs / 60.0).unwrap_or(f64::INFINITY)
}

/// The working vectors of [`analyse`], kept from one vessel to the next
/// (cleared, their capacity kept): a window of 150,000 vessels would
/// otherwise allocate and free them 150,000 times.
#[derive(Default)]
struct Scratch {
    points: Vec<Point>,
    marks: Vec<Option<i16>>,
    hyps: Vec<Hypothesis>,
    hyp_of: Vec<usize>,
    site_of_hyp: Vec<Option<u8>>,
    order: Vec<usize>,
    candidates: Vec<usize>,
    chains: Vec<Vec<usize>>,
    /// Emptied vectors of hypotheses and chains, for the next ones.
    spare: Vec<Vec<usize>>,
}

impl Scratch {
    /// Returns the vectors of the last vessel's hypotheses and chains.
    fn recycle(&mut self) {
        for mut v in self
            .hyps
            .drain(..)
            .map(|h| h.points)
            .chain(self.chains.drain(..))
        {
            v.clear();
            self.spare.push(v);
        }
    }
}

fn analyse(
    mmsi: i64,
    fixes: &[Fix],
    carried: &[CarriedFix],
    bounds_start: DateTime<Utc>,
    p: &TrackParams,
    scratch: &mut Scratch,
    roles_out: &mut Vec<FixRole>,
) -> VesselTrack {
    scratch.recycle();
    let vessel_type = fixes.iter().rev().find_map(|f| f.vessel_type);
    let ceiling =
        if classify_mmsi(mmsi, &IdentityParams::default()).class == IdentityClass::SarAircraft {
            SAR_AIRCRAFT_CEILING_KN
        } else {
            vessel_type
                .filter(|_| p.type_ceilings)
                .and_then(ceiling_kn)
                .unwrap_or(p.default_ceiling_kn)
        };
    let reachable =
        |a: &Point, b: &Point, kn: f64| km(a, b) <= p.noise_km + reach_km(kn, seconds(a.ts, b.ts));

    // The sequence: carried positions from before the window, then the window.
    let points = &mut scratch.points;
    points.clear();
    let marks = &mut scratch.marks;
    marks.clear();
    marks.resize(fixes.len(), None);
    for c in carried {
        if c.ts <= bounds_start {
            points.push(Point {
                ts: c.ts,
                lat: c.lat,
                lon: c.lon,
                cos_lat: cos_lat(c.lat),
                fix: None,
                carried_site: Some(c.site),
            });
        } else if let Some(i) = fixes.iter().position(|f| {
            f.ts == c.ts && haversine_km(f.lat, f.lon, c.lat, c.lon) < crate::DUPLICATE_KM
        }) {
            marks[i] = marks[i].map_or(Some(c.site), |m| Some(m.min(c.site)));
        }
    }
    for (i, f) in fixes.iter().enumerate() {
        points.push(Point {
            ts: f.ts,
            lat: f.lat,
            lon: f.lon,
            cos_lat: cos_lat(f.lat),
            fix: Some(i),
            carried_site: marks[i],
        });
    }
    points.sort_by(|a, b| {
        a.ts.cmp(&b.ts)
            .then(a.fix.is_some().cmp(&b.fix.is_some()))
            .then(a.lat.total_cmp(&b.lat))
            .then(a.lon.total_cmp(&b.lon))
    });

    // Place hypotheses at the vessel's ceiling.
    let points: &[Point] = points;
    let mut hyps = std::mem::take(&mut scratch.hyps);
    let hyp_of = &mut scratch.hyp_of;
    hyp_of.clear();
    hyp_of.resize(points.len(), 0);
    let spare = &mut scratch.spare;
    for (k, pt) in points.iter().enumerate() {
        let best = hyps
            .iter()
            .enumerate()
            .filter_map(|(h, hyp)| {
                let last = &points[*hyp.points.last()?];
                // `reachable`, with the distance measured once.
                let d = km(last, pt);
                (d <= p.noise_km + reach_km(ceiling, seconds(last.ts, pt.ts))).then_some((h, d))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(h, _)| h);
        // A spike: no hypothesis reaches this fix from its last one, but one
        // does from the fix before, and more slowly than that last fix was
        // reached: the last fix contradicts both its neighbours; it is set
        // apart, and the track goes on.
        let least_kn = |a: &Point, b: &Point| {
            let km = (km(a, b) - p.noise_km).max(0.0);
            if km == 0.0 {
                0.0
            } else {
                speed_kn(km, seconds(a.ts, b.ts).abs())
            }
        };
        let repair = || {
            hyps.iter()
                .enumerate()
                .filter_map(|(h, hyp)| {
                    let n = hyp.points.len();
                    let last = &points[hyp.points[n.checked_sub(1)?]];
                    let before = &points[hyp.points[n.checked_sub(2)?]];
                    let spike = last.carried_site.is_none()
                        && reachable(before, pt, ceiling)
                        && least_kn(before, pt) < least_kn(before, last);
                    spike.then(|| (h, km(before, pt)))
                })
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(h, _)| h)
        };
        let new_hypothesis = |hyps: &mut Vec<Hypothesis>, spare: &mut Vec<Vec<usize>>| {
            hyps.push(Hypothesis {
                points: spare.pop().unwrap_or_default(),
                confirmed: false,
                window_fixes: 0,
                carried_track: false,
            });
            hyps.len() - 1
        };
        let h = match best {
            Some(h) => h,
            None => match repair() {
                Some(h) => {
                    if let Some(spike) = hyps[h].points.pop() {
                        let g = new_hypothesis(&mut hyps, spare);
                        hyps[g].points.push(spike);
                        hyp_of[spike] = g;
                    }
                    h
                }
                None => new_hypothesis(&mut hyps, spare),
            },
        };
        hyps[h].points.push(k);
        hyp_of[k] = h;
    }
    for hyp in &mut hyps {
        let pts = || hyp.points.iter().map(|&k| &points[k]);
        hyp.window_fixes = pts().filter(|q| q.fix.is_some()).count() as u32;
        hyp.carried_track = pts().any(|q| q.carried_site == Some(0));
        let carried = pts().any(|q| q.carried_site.is_some());
        let span = match (hyp.points.first(), hyp.points.last()) {
            (Some(&a), Some(&b)) => seconds(points[a].ts, points[b].ts),
            _ => 0.0,
        };
        hyp.confirmed = carried || span >= p.confirm_seconds;
    }
    // The track: the confirmed hypothesis with most fixes of the window;
    // ties go to the one continuing the carried track, then the earliest.
    let rank = |h: &Hypothesis| (h.confirmed, h.window_fixes, h.carried_track);
    let main = (0..hyps.len()).max_by(|&a, &b| {
        rank(&hyps[a]).cmp(&rank(&hyps[b])).then(b.cmp(&a)) // earlier hypothesis wins a tie
    });
    let track_confirmed = main.is_some_and(|m| hyps[m].confirmed);

    // Site numbering: the track first, then the other confirmed ones by first fix.
    let site_of_hyp = &mut scratch.site_of_hyp;
    site_of_hyp.clear();
    site_of_hyp.resize(hyps.len(), None);
    let order = &mut scratch.order;
    order.clear();
    order.extend((0..hyps.len()).filter(|&h| hyps[h].confirmed));
    order.sort_by_key(|&h| (Some(h) != main, hyps[h].points[0]));
    order.truncate(MAX_SITES);
    for (n, &h) in order.iter().enumerate() {
        site_of_hyp[h] = u8::try_from(n).ok();
    }
    let sites: Vec<Site> = order
        .iter()
        .map(|&h| {
            let hyp = &hyps[h];
            let (first, last) = (
                &points[hyp.points[0]],
                &points[hyp.points[hyp.points.len() - 1]],
            );
            Site {
                fixes: hyp.window_fixes,
                first_ts: first.ts,
                last_ts: last.ts,
                lat: last.lat,
                lon: last.lon,
                carried: hyp.points.iter().any(|&k| points[k].carried_site.is_some()),
            }
        })
        .collect();

    // Roles of the window fixes; unconfirmed points are glitch candidates.
    let base = roles_out.len();
    roles_out.resize(base + fixes.len(), FixRole::Glitch);
    let roles = &mut roles_out[base..];
    let candidates = &mut scratch.candidates;
    candidates.clear();
    for (k, pt) in points.iter().enumerate() {
        let Some(i) = pt.fix else { continue };
        let h = hyp_of[k];
        roles[i] = match site_of_hyp[h] {
            Some(0) if Some(h) == main => FixRole::Track,
            Some(n) => FixRole::Site(n),
            None if Some(h) == main => FixRole::Track,
            None => {
                candidates.push(k);
                FixRole::Glitch
            }
        };
    }
    if !track_confirmed {
        // Nothing confirmed: the unconfirmed track's fixes may chain too.
        for (k, pt) in points.iter().enumerate() {
            if pt.fix.is_some_and(|i| roles[i] == FixRole::Track) {
                candidates.push(k);
            }
        }
        candidates.sort_unstable();
    }

    // Fast runs: candidates chaining at up to max_track_speed_kn.
    let chains = &mut scratch.chains;
    for &k in candidates.iter() {
        let pt = &points[k];
        let best = chains
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                let last = &points[c[c.len() - 1]];
                seconds(last.ts, pt.ts) > 0.0 && reachable(last, pt, p.max_track_speed_kn)
            })
            .max_by_key(|(_, c)| c.len())
            .map(|(n, _)| n);
        match best {
            Some(n) => chains[n].push(k),
            None => {
                let mut c = scratch.spare.pop().unwrap_or_default();
                c.push(k);
                chains.push(c);
            }
        }
    }
    let mut fast_run: Option<FastRun> = None;
    for c in chains.iter() {
        if c.len() < p.min_fast_fixes as usize {
            continue;
        }
        let (a, b) = (&points[c[0]], &points[c[c.len() - 1]]);
        let km = km(a, b);
        let secs = seconds(a.ts, b.ts);
        let v = speed_kn((km - p.noise_km).max(0.0), secs);
        if km < p.min_speed_segment_km || v <= ceiling || !v.is_finite() {
            continue;
        }
        for &k in c {
            if let Some(i) = points[k].fix {
                roles[i] = FixRole::FastRun;
            }
        }
        if fast_run.is_none_or(|f| v > f.speed_kn) {
            fast_run = Some(FastRun {
                fixes: c.len() as u32,
                from_ts: a.ts,
                to_ts: b.ts,
                km,
                speed_kn: v,
            });
        }
    }

    // Along the track: speed over a baseline, gaps, reported speeds.
    let track: &[usize] = main.map_or(&[], |m| &hyps[m].points);
    let track_pts = |n: usize| &points[track[n]];
    // Each fix against the first one a baseline later (a burst) and against
    // the track's last (the sustained speed, noise amortised).
    let mut max_speed_kn: Option<f64> = None;
    let mut j = 0;
    for i in 0..track.len() {
        let a = track_pts(i);
        j = j.max(i + 1);
        while j < track.len() && seconds(a.ts, track_pts(j).ts) < p.speed_baseline_seconds {
            j += 1;
        }
        if j >= track.len() {
            break;
        }
        for b in [track_pts(j), track_pts(track.len() - 1)] {
            if a.fix.is_none() && b.fix.is_none() {
                continue;
            }
            let km = km(a, b);
            if km >= p.min_speed_segment_km {
                // The least speed the two fixes prove, their position error granted.
                let v = speed_kn((km - p.noise_km).max(0.0), seconds(a.ts, b.ts));
                if max_speed_kn.is_none_or(|m| v > m) {
                    max_speed_kn = Some(v);
                }
            }
        }
    }
    let mut max_gap_minutes: Option<f64> = None;
    let mut gaps = 0;
    for w in track.windows(2) {
        let (a, b) = (&points[w[0]], &points[w[1]]);
        if b.fix.is_none() {
            continue;
        }
        let minutes = seconds(a.ts, b.ts) / 60.0;
        if max_gap_minutes.is_none_or(|g| minutes > g) {
            max_gap_minutes = Some(minutes);
        }
        if minutes > p.gap_minutes {
            gaps += 1;
        }
    }
    let track_fixes = || {
        fixes
            .iter()
            .zip(roles.iter())
            .filter(|(_, r)| matches!(r, FixRole::Track | FixRole::FastRun))
            .map(|(f, _)| f)
    };
    let max_reported_sog = track_fixes().filter_map(|f| f.sog).reduce(f32::max);
    let reported_over_ceiling = track_fixes()
        .filter(|f| f.sog.is_some_and(|s| f64::from(s) > ceiling))
        .count() as u32;

    // Switches and jumps between confirmed places.
    let mut confirmed = points
        .iter()
        .enumerate()
        .filter(|(k, _)| site_of_hyp[hyp_of[*k]].is_some());
    let mut switches = Vec::new();
    let mut max_jump: Option<Jump> = None;
    // Each confirmed point with the next (`windows(2)` of them).
    let mut prev = confirmed.next();
    while let (Some((ka, a)), Some((kb, b))) = (prev, confirmed.next()) {
        prev = Some((kb, b));
        let km = km(a, b);
        let secs = seconds(a.ts, b.ts);
        let v = speed_kn(km, secs);
        if a.fix.is_some() || b.fix.is_some() {
            if max_jump.is_none_or(|m| km > m.km) {
                max_jump = Some(Jump {
                    km,
                    minutes: secs / 60.0,
                    speed_kn: v,
                    from_ts: a.ts,
                    to_ts: b.ts,
                });
            }
            if hyp_of[ka] != hyp_of[kb] && !reachable(a, b, ceiling) {
                switches.push(Switch {
                    from_ts: a.ts,
                    to_ts: b.ts,
                    km,
                    speed_kn: v,
                });
            }
        }
    }

    let glitches = roles.iter().filter(|r| **r == FixRole::Glitch).count() as u32;
    let accepted = roles.iter().filter(|r| **r == FixRole::Track).count();
    let track = VesselTrack {
        mmsi,
        fix_count: fixes.len(),
        first_ts: fixes[0].ts,
        last_ts: fixes[fixes.len() - 1].ts,
        vessel_type,
        ceiling_kn: ceiling,
        accepted,
        glitches,
        max_speed_kn,
        fast_run,
        sites,
        track_confirmed,
        switches,
        max_jump,
        max_gap_minutes,
        gaps,
        max_reported_sog,
        reported_over_ceiling,
    };
    scratch.hyps = hyps;
    track
}

/// The artifact of `track_features`: the features of every vessel in
/// `window`, with the positions it carries from earlier cycles. An error is
/// a defect of this crate (its parts must fit the window).
pub fn track_features(
    window: &AisWindow,
    params: &TrackParams,
) -> Result<TrackFeatures, ArtifactError> {
    let fixes = window.fixes();
    let mut roles = Vec::with_capacity(fixes.len());
    let mut vessels = Vec::with_capacity(window.vessel_count());
    let mut scratch = Scratch::default();
    let start = window.bounds().start;
    // Both the vessels and the carried positions are by MMSI: one pass
    // over the carried ones finds each vessel's (as `AisWindow::carried`).
    let carried = window.carried_all();
    let mut c = 0;
    for (mmsi, range) in window.vessel_ranges() {
        while c < carried.len() && carried[c].mmsi < mmsi {
            c += 1;
        }
        let from = c;
        while c < carried.len() && carried[c].mmsi == mmsi {
            c += 1;
        }
        vessels.push(analyse(
            mmsi,
            &fixes[range],
            &carried[from..c],
            start,
            params,
            &mut scratch,
            &mut roles,
        ));
    }
    TrackFeatures::new(
        window,
        vessels,
        roles,
        params.noise_km,
        params.site_memory_minutes,
    )
}

/// `track_features` (root model, base input [`AisWindow`], carried
/// positions included).
///
/// Rows: one per vessel (entity key the nine-digit MMSI); `score` =
/// [`VesselTrack::max_speed_kn`] (0 if none); payload `{"fixes",
/// "accepted", "glitches", "ceiling_kn", "max_speed_kn", "fast_run_kn",
/// "sites", "switches", "max_jump_km", "max_jump_min", "max_gap_min",
/// "gaps"}`. Metrics: `vessels`, `fixes`, `segments`, `gaps`, `glitches`,
/// `carried`. Artifact: [`TrackFeatures`].
///
/// Stored rows ([`OutputPolicy::NonZero`]): the vessels with a speed. On the
/// real sample 91% of the rows score 0 (moored or anchored within the
/// noise), and storing their payloads was most of stage 10's cost; every
/// comparison reads an omitted row as the 0 it scored, and
/// `kcg.vessel_analysis` keeps every vessel's fixes, speed and jump. A
/// version that wants every row sets `"_output": "all"`. A row the policy
/// leaves out is returned without its payload (never built); models
/// downstream read the artifact, not the rows.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrackFeaturesModel;

impl Model for TrackFeaturesModel {
    type Params = TrackParams;
    type Artifact = TrackFeatures;
    const OUTPUT: OutputPolicy = OutputPolicy::NonZero;

    fn check(&self, params: &TrackParams) -> Result<(), ParamsProblem> {
        params.check()
    }

    fn run(&self, ctx: &Context<'_, TrackParams>) -> Result<Output<TrackFeatures>, ModelError> {
        let window: &AisWindow = ctx.base()?;
        let features =
            track_features(window, ctx.params()).map_err(|e| ModelError::failed(e.to_string()))?;
        let mut out = ModelOutput::with_capacity(features.vessels().len());
        let policy = ctx.output_policy();
        let mut gaps = 0u64;
        for v in features.vessels() {
            gaps += u64::from(v.gaps);
            let score = v.max_speed_kn.unwrap_or(0.0);
            let row = OutputRow::new(nine_digits(v.mmsi), score);
            if !policy.keeps_score(score) {
                // Not stored: its payload (a map of 12 fields, the most
                // of this model's memory at scale) would only be dropped.
                out.push(row);
                continue;
            }
            let payload = json!({
                "fixes": v.fix_count,
                "accepted": v.accepted,
                "glitches": v.glitches,
                "ceiling_kn": v.ceiling_kn,
                "max_speed_kn": v.max_speed_kn.map(round3),
                "fast_run_kn": v.fast_run.map(|f| round3(f.speed_kn)),
                "sites": v.sites.len(),
                "switches": v.switches.len(),
                "max_jump_km": v.max_jump.map(|j| round3(j.km)),
                "max_jump_min": v.max_jump.map(|j| round3(j.minutes)),
                "max_gap_min": v.max_gap_minutes.map(round3),
                "gaps": v.gaps,
            });
            out.push(row.with_payload(payload));
        }
        out.metric("vessels", features.vessels().len() as f64);
        out.metric("fixes", features.fix_count() as f64);
        out.metric("segments", features.segment_count() as f64);
        out.metric("gaps", gaps as f64);
        out.metric("glitches", features.glitch_count() as f64);
        out.metric("carried", window.carried_all().len() as f64);
        Ok(Output::new(out, features))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::{fix, t, window};

    fn compute(fixes: Vec<Fix>) -> TrackFeatures {
        track_features(&window(fixes), &TrackParams::default()).unwrap()
    }

    /// A vessel moving north at `kn` knots from (10, 10), a fix every `every` seconds.
    fn cruise(mmsi: i64, from: i64, n: i64, every: i64, kn: f64) -> Vec<Fix> {
        (0..n)
            .map(|k| {
                let secs = from + k * every;
                let km = kn * KM_PER_NAUTICAL_MILE * (k * every) as f64 / 3600.0;
                fix(mmsi, secs, 10.0 + km / 111.2, 10.0)
            })
            .collect()
    }

    #[test]
    fn a_steady_vessel_is_one_confirmed_track_without_glitches() {
        let t = compute(cruise(1, 0, 10, 60, 12.0));
        let v = t.vessel(1).unwrap();
        assert_eq!((v.fix_count, v.accepted, v.glitches), (10, 10, 0));
        assert!(v.track_confirmed && v.sites.len() == 1 && v.switches.is_empty());
        // A lower bound: 9 minutes at 12 kn, less the 0.5 km of noise.
        let s = v.max_speed_kn.unwrap();
        assert!((9.0..=12.0).contains(&s), "{s}");
        assert_eq!(v.fast_run, None);
        assert_eq!(t.segments(v).len(), 9);
        assert!(t.roles(v).iter().all(|r| *r == FixRole::Track));
    }

    #[test]
    fn a_lone_glitch_is_set_aside_and_counted() {
        // 50 km off for one fix, between consistent neighbours.
        let mut f = cruise(1, 0, 9, 60, 10.0);
        f[4].lat += 0.45;
        let t = compute(f);
        let v = t.vessel(1).unwrap();
        assert_eq!((v.accepted, v.glitches), (8, 1));
        assert_eq!(t.roles(v)[4], FixRole::Glitch);
        assert!(v.switches.is_empty() && v.sites.len() == 1 && v.fast_run.is_none());
        assert!(v.max_speed_kn.unwrap() < 11.0);
        assert_eq!(t.glitch_count(), 1);
        // Two lone glitches far from each other do not confirm each other.
        let mut f = cruise(1, 0, 9, 60, 10.0);
        f[3].lat += 0.45;
        f[5].lon += 0.9;
        let v = compute(f).vessel(1).unwrap().clone();
        assert_eq!((v.glitches, v.switches.len()), (2, 0));
    }

    #[test]
    fn a_spike_within_reach_of_its_predecessor_is_set_aside() {
        // Moored, a fix every 3 minutes; one report 3 km off (a fast boat
        // could get there), then back, even at the same instant.
        let mut f: Vec<Fix> = (0..8).map(|k| fix(1, 180 * k, 29.1134, -90.2082)).collect();
        f.push(fix(1, 180 * 4, 29.0987, -90.2340));
        let t = compute(f);
        let v = t.vessel(1).unwrap();
        assert_eq!(
            (v.glitches, v.sites.len(), v.switches.len()),
            (1, 1, 0),
            "{v:?}"
        );
        assert!(v.max_speed_kn.is_none_or(|s| s < 1.0));
    }

    #[test]
    fn a_stale_burst_within_one_second_confirms_nothing() {
        // Reports stamped 00:00:00-00:00:01 at old places of the vessel, then its track.
        let mut f = vec![
            fix(1, 0, 32.44, -121.19),
            fix(1, 0, 31.74, -118.34),
            fix(1, 0, 31.44, -118.09),
            fix(1, 1, 31.4415, -118.091),
        ];
        f.extend((0..5).map(|k| fix(1, 70 + 70 * k, 31.40 - 0.0003 * k as f64, -118.05)));
        let t = compute(f);
        let v = t.vessel(1).unwrap();
        assert_eq!((v.accepted, v.glitches), (5, 4), "{v:?}");
        assert!(v.switches.is_empty() && v.sites.len() == 1);
    }

    #[test]
    fn two_confirmed_places_switch_by_physics() {
        // A moored boat at A, two consistent fixes 48 km away, back at A.
        let f = vec![
            fix(1, 0, 35.8437, -75.6206),
            fix(1, 90, 35.8437, -75.6206),
            fix(1, 180, 35.8437, -75.6206),
            fix(1, 360, 36.1038, -76.0458),
            fix(1, 450, 36.1058, -76.0505),
            fix(1, 600, 35.8437, -75.6206),
        ];
        let t = compute(f);
        let v = t.vessel(1).unwrap();
        assert_eq!(v.sites.len(), 2);
        assert_eq!(v.switches.len(), 2);
        assert!(v.switches.iter().all(|s| s.km > 45.0 && s.speed_kn > 500.0));
        assert_eq!(t.roles(v)[3], FixRole::Site(1));
        assert_eq!(v.glitches, 0);
        assert!(v.max_jump.unwrap().km > 45.0);
    }

    #[test]
    fn a_fast_spoofed_track_is_a_fast_run_not_glitches() {
        // Moored, then "moving" at 150 kn, a fix a minute.
        let mut f: Vec<Fix> = (0..4).map(|k| fix(1, 60 * k, 10.0, 10.0)).collect();
        f.extend(cruise(1, 240, 6, 60, 150.0).into_iter().map(|mut x| {
            x.lat += 0.01;
            x
        }));
        let t = compute(f);
        let v = t.vessel(1).unwrap();
        let run = v.fast_run.expect("a fast run");
        assert!((run.speed_kn - 150.0).abs() < 10.0, "{run:?}");
        assert_eq!(v.glitches, 0, "{:?}", t.roles(v));
        // A dense fast track joins the track itself and shows as its speed.
        let t = compute(cruise(2, 0, 40, 10, 100.0));
        let v = t.vessel(2).unwrap();
        assert!(
            v.max_speed_kn.unwrap() > 90.0 || v.fast_run.is_some(),
            "{v:?}"
        );
    }

    #[test]
    fn type_ceilings_and_the_sar_aircraft() {
        let mut f = cruise(211_000_001, 0, 6, 60, 45.0);
        for x in &mut f {
            x.vessel_type = Some(70);
        }
        let v = compute(f.clone()).vessel(211_000_001).unwrap().clone();
        assert_eq!(v.ceiling_kn, 40.0);
        assert!(
            v.fast_run.is_some() || v.max_speed_kn.unwrap() > 40.0,
            "{v:?}"
        );
        for x in &mut f {
            x.vessel_type = Some(37);
        }
        let v = compute(f).vessel(211_000_001).unwrap().clone();
        assert_eq!((v.ceiling_kn, v.fast_run, v.glitches), (60.0, None, 0));
        let v = compute(cruise(111_366_001, 0, 6, 60, 140.0))
            .vessel(111_366_001)
            .unwrap()
            .clone();
        assert_eq!(
            (v.ceiling_kn, v.glitches, v.fast_run),
            (SAR_AIRCRAFT_CEILING_KN, 0, None)
        );
    }

    #[test]
    fn carried_positions_confirm_and_reveal_a_jump_across_the_boundary() {
        // Last cycle: moored at A until 00:04. This window: at B, 1400 km away.
        let carried = vec![CarriedFix {
            mmsi: 1,
            site: 0,
            ts: t(-360),
            lat: 25.33,
            lon: -80.29,
            cycle_ts: t(-300),
        }];
        let w = crate::clean(
            crate::WindowBounds {
                start: t(-1),
                end: t(600),
            },
            vec![fix(1, 200, 37.40, -76.35), fix(1, 400, 37.40, -76.35)],
        )
        .0
        .with_carried(carried.clone());
        let tf = track_features(&w, &TrackParams::default()).unwrap();
        let v = tf.vessel(1).unwrap();
        assert_eq!((v.sites.len(), v.switches.len()), (2, 1), "{v:?}");
        assert!(v.sites[1].carried && !v.sites[0].carried);
        // What this cycle carries: both places (the old one is 16 minutes old).
        let next = tf.carry_forward(t(600));
        assert_eq!(next.len(), 2);
        assert_eq!((next[0].site, next[0].ts), (0, t(400)));
        assert_eq!((next[1].site, next[1].ts), (1, t(-360)));
        // Past the site memory the old place is forgotten.
        assert_eq!(tf.carry_forward(t(-360 + 31 * 60)).len(), 1);
        // Without the carried fix nothing switches.
        let w = crate::clean(
            crate::WindowBounds {
                start: t(-1),
                end: t(600),
            },
            vec![fix(1, 200, 37.40, -76.35), fix(1, 400, 37.40, -76.35)],
        )
        .0;
        let v = track_features(&w, &TrackParams::default())
            .unwrap()
            .vessel(1)
            .unwrap()
            .clone();
        assert!(v.switches.is_empty());
    }

    #[test]
    fn a_carried_lone_fix_is_never_carried_by_an_unconfirmed_track() {
        let tf = compute(vec![fix(1, 0, 10.0, 10.0)]);
        assert!(!tf.vessel(1).unwrap().track_confirmed);
        assert!(tf.carry_forward(t(600)).is_empty());
    }
}
