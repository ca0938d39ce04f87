//! Stage 2 of the cycle: drop fixes no model may see, and count why.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::geo::haversine_km;
use crate::window::{AisWindow, Fix, VesselSpan, WindowBounds};

/// AIS "speed over ground not available" (knots).
pub const SOG_NOT_AVAILABLE: f32 = 102.3;
/// AIS "latitude not available" (degrees).
pub const LAT_NOT_AVAILABLE: f64 = 91.0;
/// AIS "longitude not available" (degrees).
pub const LON_NOT_AVAILABLE: f64 = 181.0;
/// AIS "course over ground not available" (degrees).
pub const COG_NOT_AVAILABLE: f32 = 360.0;
/// AIS "heading not available" (degrees).
pub const HEADING_NOT_AVAILABLE: f32 = 511.0;

/// How close a `REAL` SOG must be to 102.3 to count as the sentinel. The
/// column stores `f32`, so an exact comparison with the decimal 102.3 is
/// fragile; the nearest valid value, 102.2, is 0.1 away.
const SOG_TOLERANCE: f32 = 0.05;
const DEGREE_TOLERANCE: f64 = 1e-6;

/// Two reports of one `(mmsi, ts)` closer than this (kilometres) are one
/// report received twice: the same message through two stations.
pub const DUPLICATE_KM: f64 = 0.01;

/// Why fixes were dropped by [`clean`]. Each dropped fix is counted once,
/// under the first reason that applies in the order of the fields, so
/// `input == kept + dropped()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CleanStats {
    /// Fixes handed to [`clean`].
    pub input: usize,
    /// Fixes in the resulting window.
    pub kept: usize,
    /// `ts` outside the window bounds.
    pub outside_window: usize,
    /// Latitude 91 or longitude 181: "not available".
    pub position_not_available: usize,
    /// Any other latitude outside -90..=90 or longitude outside -180..=180,
    /// or a non-finite coordinate.
    pub position_out_of_range: usize,
    /// SOG 102.3: "not available".
    pub sog_not_available: usize,
    /// SOG negative, above 102.3 or non-finite: not an AIS value.
    pub sog_out_of_range: usize,
    /// A second report of the same `(mmsi, ts)` at the same place (within
    /// [`DUPLICATE_KM`]); one of them is kept.
    pub duplicates: usize,
    /// Not dropped, counted only: kept reports that share their `(mmsi, ts)`
    /// with a report at another place (two transmitters, or a glitch; the
    /// track models decide).
    pub same_time_elsewhere: usize,
}

impl CleanStats {
    /// All dropped fixes.
    pub fn dropped(&self) -> usize {
        self.outside_window
            + self.position_not_available
            + self.position_out_of_range
            + self.sog_not_available
            + self.sog_out_of_range
            + self.duplicates
    }
}

enum Verdict {
    Keep,
    OutsideWindow,
    PositionNotAvailable,
    PositionOutOfRange,
    SogNotAvailable,
    SogOutOfRange,
}

fn judge(bounds: &WindowBounds, f: &Fix) -> Verdict {
    if !bounds.contains(f.ts) {
        return Verdict::OutsideWindow;
    }
    if (f.lat - LAT_NOT_AVAILABLE).abs() < DEGREE_TOLERANCE
        || (f.lon - LON_NOT_AVAILABLE).abs() < DEGREE_TOLERANCE
    {
        return Verdict::PositionNotAvailable;
    }
    // Written so that NaN fails the range test.
    if !((-90.0..=90.0).contains(&f.lat) && (-180.0..=180.0).contains(&f.lon)) {
        return Verdict::PositionOutOfRange;
    }
    match f.sog {
        Some(s) if (s - SOG_NOT_AVAILABLE).abs() < SOG_TOLERANCE => Verdict::SogNotAvailable,
        Some(s) if !(0.0..=SOG_NOT_AVAILABLE).contains(&s) => Verdict::SogOutOfRange,
        _ => Verdict::Keep,
    }
}

/// The "not available" course (360) and heading (511) carry no value: they
/// become `None` rather than dropping an otherwise good position.
fn normalise(f: &mut Fix) {
    f.cog = f.cog.filter(|c| (0.0..COG_NOT_AVAILABLE).contains(c));
    f.heading = f.heading.filter(|h| (0.0..360.0).contains(h));
}

fn cmp_opt_f32(a: Option<f32>, b: Option<f32>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        (a, b) => a.is_some().cmp(&b.is_some()),
    }
}

/// A total order on all fields, so which duplicate survives does not depend
/// on the order the database returned the rows in.
fn full_order(a: &Fix, b: &Fix) -> Ordering {
    // `then_with`: the later fields are compared only on a tie (a sort of
    // the whole window compares mostly by MMSI and time).
    a.mmsi
        .cmp(&b.mmsi)
        .then_with(|| a.ts.cmp(&b.ts))
        .then_with(|| a.lat.total_cmp(&b.lat))
        .then_with(|| a.lon.total_cmp(&b.lon))
        .then_with(|| cmp_opt_f32(a.sog, b.sog))
        .then_with(|| cmp_opt_f32(a.cog, b.cog))
        .then_with(|| cmp_opt_f32(a.heading, b.heading))
        .then_with(|| a.vessel_name.cmp(&b.vessel_name))
        .then_with(|| a.vessel_type.cmp(&b.vessel_type))
}

/// Stage 2: turns the raw fixes of a window into an [`AisWindow`].
///
/// Drops, and counts in [`CleanStats`]: fixes outside `bounds`; latitude
/// 91 / longitude 181 ("not available"); other coordinates off the globe;
/// SOG 102.3 ("not available", compared with a tolerance because the column
/// is `REAL`); SOG that is no AIS value; and all but one report of each
/// `(mmsi, ts)` (the first in a total order of all fields, so the result does
/// not depend on input order). COG 360 and heading 511 become `None`.
///
/// Since models only ever see an `AisWindow`, a dropped fix can never reach a
/// speed computation.
///
/// ```
/// use chrono::{TimeDelta, TimeZone, Utc};
/// use ais_types::{clean, Fix, WindowBounds};
/// let t = Utc.with_ymd_and_hms(2022, 1, 3, 0, 5, 0).unwrap();
/// let fix = |lat: f64, sog: f32| Fix {
///     mmsi: 211002010, ts: t, lat, lon: -87.5, sog: Some(sog),
///     cog: None, heading: None, vessel_name: None, vessel_type: None,
/// };
/// let bounds = WindowBounds::ending_at(t, TimeDelta::minutes(10))?;
/// let (window, stats) = clean(bounds, vec![fix(30.2, 0.0), fix(91.0, 0.0), fix(30.3, 102.3)]);
/// assert_eq!(window.fixes().len(), 1);
/// assert_eq!((stats.position_not_available, stats.sog_not_available), (1, 1));
/// # Ok::<(), ais_types::WindowOutOfRange>(())
/// ```
pub fn clean(bounds: WindowBounds, raw: Vec<Fix>) -> (AisWindow, CleanStats) {
    let mut stats = CleanStats {
        input: raw.len(),
        ..CleanStats::default()
    };
    // In place: the window's fixes are never held twice but at the end,
    // when they move into the shared slice.
    let mut kept = raw;
    kept.retain_mut(|f| {
        match judge(&bounds, f) {
            Verdict::Keep => {
                normalise(f);
                return true;
            }
            Verdict::OutsideWindow => stats.outside_window += 1,
            Verdict::PositionNotAvailable => stats.position_not_available += 1,
            Verdict::PositionOutOfRange => stats.position_out_of_range += 1,
            Verdict::SogNotAvailable => stats.sog_not_available += 1,
            Verdict::SogOutOfRange => stats.sog_out_of_range += 1,
        }
        false
    });
    kept.sort_unstable_by(full_order);
    let before = kept.len();
    // Within one (mmsi, ts) the fixes are sorted by position, so a report
    // received twice sits next to its twin... unless a third place lies
    // between them in latitude; compare with every survivor of the group.
    // The survivors are compacted to the front, in order.
    let mut survivors = 0;
    let mut group_start = 0;
    for i in 0..kept.len() {
        let f = &kept[i];
        if survivors == 0 || {
            let l = &kept[survivors - 1];
            l.mmsi != f.mmsi || l.ts != f.ts
        } {
            group_start = survivors;
        }
        let twin = kept[group_start..survivors]
            .iter()
            .any(|g| haversine_km(g.lat, g.lon, f.lat, f.lon) < DUPLICATE_KM);
        if !twin {
            kept.swap(survivors, i);
            survivors += 1;
        }
    }
    kept.truncate(survivors);
    stats.duplicates = before - kept.len();
    stats.same_time_elsewhere = kept
        .iter()
        .enumerate()
        .filter(|(i, f)| {
            let prev = i.checked_sub(1).map(|j| &kept[j]);
            let next = kept.get(i + 1);
            [prev, next]
                .into_iter()
                .flatten()
                .any(|g| g.mmsi == f.mmsi && g.ts == f.ts)
        })
        .count();
    stats.kept = kept.len();

    let mut vessels = Vec::new();
    let mut start = 0;
    for i in 1..=kept.len() {
        if i == kept.len() || kept[i].mmsi != kept[start].mmsi {
            vessels.push(VesselSpan {
                mmsi: kept[start].mmsi,
                fixes: start..i,
            });
            start = i;
        }
    }
    let window = AisWindow {
        bounds,
        fixes: Arc::from(kept),
        vessels: Arc::from(vessels),
        carried: Arc::from(Vec::new()),
    };
    (window, stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone, Utc};

    fn t(s: i64) -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2022, 1, 3, 0, 0, 0).unwrap() + TimeDelta::seconds(s)
    }

    fn bounds() -> WindowBounds {
        WindowBounds {
            start: t(0),
            end: t(600),
        }
    }

    fn fix(mmsi: i64, s: i64, lat: f64, lon: f64, sog: Option<f32>) -> Fix {
        Fix {
            mmsi,
            ts: t(s),
            lat,
            lon,
            sog,
            cog: None,
            heading: None,
            vessel_name: None,
            vessel_type: None,
        }
    }

    #[test]
    fn counts_each_reason_once_and_in_order() {
        let raw = vec![
            fix(1, 10, 10.0, 10.0, Some(1.0)),
            fix(1, 0, 10.0, 10.0, None),   // outside: start is exclusive
            fix(1, 601, 10.0, 10.0, None), // outside
            fix(1, 20, 91.0, 181.0, Some(102.3)), // not available (first reason wins)
            fix(1, 30, 10.0, 181.0, None), // not available
            fix(1, 40, -95.0, 10.0, None), // out of range
            fix(1, 50, f64::NAN, 10.0, None), // out of range
            fix(1, 60, 10.0, 10.0, Some(102.3)), // SOG n/a
            fix(1, 70, 10.0, 10.0, Some(102.32)), // SOG n/a, within the tolerance
            fix(1, 80, 10.0, 10.0, Some(102.2)), // valid maximum
            fix(1, 90, 10.0, 10.0, Some(-1.0)), // SOG out of range
            fix(1, 100, 10.0, 10.0, Some(f32::INFINITY)), // SOG out of range
            fix(1, 10, 10.0, 10.00001, Some(1.0)), // duplicate (mmsi, ts), 1 m away
        ];
        let (w, s) = clean(bounds(), raw);
        assert_eq!(
            s,
            CleanStats {
                input: 13,
                kept: 2,
                outside_window: 2,
                position_not_available: 2,
                position_out_of_range: 2,
                sog_not_available: 2,
                sog_out_of_range: 2,
                duplicates: 1,
                same_time_elsewhere: 0,
            }
        );
        assert_eq!(s.input, s.kept + s.dropped());
        assert_eq!(
            w.fixes().iter().map(|f| f.ts).collect::<Vec<_>>(),
            vec![t(10), t(80)]
        );
    }

    #[test]
    fn sorts_by_mmsi_then_time_and_indexes_vessels() {
        let raw = vec![
            fix(3, 30, 1.0, 1.0, None),
            fix(2, 20, 1.0, 1.0, None),
            fix(3, 10, 1.0, 1.0, None),
            fix(2, 5, 1.0, 1.0, None),
        ];
        let (w, _) = clean(bounds(), raw);
        let v: Vec<(i64, Vec<i64>)> = w
            .vessels()
            .map(|(m, f)| (m, f.iter().map(|f| (f.ts - t(0)).num_seconds()).collect()))
            .collect();
        assert_eq!(v, vec![(2, vec![5, 20]), (3, vec![10, 30])]);
        assert_eq!(w.vessel(3).len(), 2);
        assert!(w.vessel(4).is_empty());
        assert_eq!(w.vessel_count(), 2);
    }

    #[test]
    fn duplicate_survivor_does_not_depend_on_input_order() {
        let a = fix(1, 10, 10.0, 10.0, None);
        let b = fix(1, 10, 10.0, 10.00002, Some(3.0));
        let (w1, s1) = clean(bounds(), vec![a.clone(), b.clone()]);
        let (w2, _) = clean(bounds(), vec![b, a]);
        assert_eq!(w1.fixes(), w2.fixes());
        assert_eq!((w1.fixes().len(), s1.duplicates), (1, 1));
    }

    #[test]
    fn same_time_at_another_place_is_kept_as_evidence() {
        // One MMSI at one instant in three places, one of them reported twice
        // (the twins are not neighbours in latitude order).
        let raw = vec![
            fix(1, 10, 10.0, 10.0, None),
            fix(1, 10, 10.5, 10.0, None),
            fix(1, 10, 10.000_000_2, 10.0, None),
            fix(1, 10, 10.000_000_1, 12.0, None),
            fix(1, 20, 10.0, 10.0, None),
        ];
        let (w, s) = clean(bounds(), raw);
        assert_eq!((s.kept, s.duplicates, s.same_time_elsewhere), (4, 1, 3));
        assert_eq!(s.input, s.kept + s.dropped());
        assert_eq!(w.vessel(1).len(), 4);
    }

    #[test]
    fn unavailable_course_and_heading_become_none() {
        let mut f = fix(1, 10, 10.0, 10.0, Some(3.0));
        f.cog = Some(COG_NOT_AVAILABLE);
        f.heading = Some(HEADING_NOT_AVAILABLE);
        let mut g = fix(1, 20, 10.0, 10.0, Some(3.0));
        g.cog = Some(359.9);
        g.heading = Some(0.0);
        let (w, _) = clean(bounds(), vec![f, g]);
        assert_eq!((w.fixes()[0].cog, w.fixes()[0].heading), (None, None));
        assert_eq!(
            (w.fixes()[1].cog, w.fixes()[1].heading),
            (Some(359.9), Some(0.0))
        );
    }

    #[test]
    fn empty_input_is_an_empty_window() {
        let (w, s) = clean(bounds(), Vec::new());
        assert_eq!(
            (w.fixes().len(), w.vessel_count(), s),
            (0, 0, CleanStats::default())
        );
    }
}
