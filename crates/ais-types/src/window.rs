//! The base input of every cycle: one position report ([`Fix`]) and the
//! cleaned, ordered fixes of one window ([`AisWindow`]).

use std::ops::Range;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

/// One AIS position report, as loaded from `kcg.ais_positions`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    /// The reported MMSI (not validated: invalid identities are data).
    pub mmsi: i64,
    /// When it was received, UTC.
    pub ts: DateTime<Utc>,
    /// Degrees north.
    pub lat: f64,
    /// Degrees east.
    pub lon: f64,
    /// Speed over ground, knots (a `REAL` column, hence `f32`).
    pub sog: Option<f32>,
    /// Course over ground, degrees.
    pub cog: Option<f32>,
    /// True heading, degrees.
    pub heading: Option<f32>,
    /// The vessel name as reported.
    pub vessel_name: Option<String>,
    /// The AIS ship type code as reported (e.g. 70 cargo, 37 pleasure
    /// craft); it sets the speed ceiling the physics tests use.
    pub vessel_type: Option<i32>,
}

/// A position carried over from an earlier cycle (`kcg.vessel_track_state`),
/// so that a jump across a window boundary is seen and an open collision's
/// other place is remembered.
#[derive(Debug, Clone, PartialEq)]
pub struct CarriedFix {
    /// The MMSI.
    pub mmsi: i64,
    /// `0`: the last accepted fix of the vessel's track; `1..`: the last fix
    /// of another confirmed place the identity was seen at (an open
    /// collision's other position).
    pub site: i16,
    /// When it was reported.
    pub ts: DateTime<Utc>,
    /// Degrees north.
    pub lat: f64,
    /// Degrees east.
    pub lon: f64,
    /// The cycle that stored it.
    pub cycle_ts: DateTime<Utc>,
}

/// The time span of a cycle's window: fixes with `start < ts <= end`, as
/// stage 1 loads them (`(cycle_ts - window, cycle_ts]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowBounds {
    /// Exclusive lower bound.
    pub start: DateTime<Utc>,
    /// Inclusive upper bound (the cycle's time).
    pub end: DateTime<Utc>,
}

/// A window whose start is no time (`cycle_ts - length` before the
/// earliest instant a [`DateTime`] holds, about 262,000 BC), or whose
/// length is negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no window of {length} can end at {end}: its start would be out of range")]
pub struct WindowOutOfRange {
    /// The window's end (the cycle's time).
    pub end: DateTime<Utc>,
    /// The length asked for.
    pub length: TimeDelta,
}

impl WindowBounds {
    /// The window of length `length` ending at `cycle_ts`, or
    /// [`WindowOutOfRange`] when its start cannot be computed (an extreme
    /// length) or `length` is negative. Never panics.
    ///
    /// ```
    /// use chrono::{TimeDelta, TimeZone, Utc};
    /// let end = Utc.with_ymd_and_hms(2022, 1, 3, 0, 10, 0).unwrap();
    /// let w = ais_types::WindowBounds::ending_at(end, TimeDelta::minutes(10))?;
    /// assert!(!w.contains(Utc.with_ymd_and_hms(2022, 1, 3, 0, 0, 0).unwrap()));
    /// assert!(w.contains(end));
    /// // 300,000 years: no panic, an error naming both.
    /// let far = TimeDelta::days(300_000 * 365);
    /// assert!(ais_types::WindowBounds::ending_at(end, far).is_err());
    /// # Ok::<(), ais_types::WindowOutOfRange>(())
    /// ```
    pub fn ending_at(cycle_ts: DateTime<Utc>, length: TimeDelta) -> Result<Self, WindowOutOfRange> {
        let out = WindowOutOfRange {
            end: cycle_ts,
            length,
        };
        if length < TimeDelta::zero() {
            return Err(out);
        }
        let start = cycle_ts.checked_sub_signed(length).ok_or(out)?;
        Ok(Self {
            start,
            end: cycle_ts,
        })
    }

    /// Whether `ts` lies in `(start, end]`.
    pub fn contains(&self, ts: DateTime<Utc>) -> bool {
        self.start < ts && ts <= self.end
    }
}

/// The span of one vessel's fixes inside an [`AisWindow`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VesselSpan {
    pub(crate) mmsi: i64,
    pub(crate) fixes: Range<usize>,
}

/// The cleaned fixes of one cycle window: every fix has a position on the
/// globe, no "not available" sentinel, a `ts` inside the bounds, and no two
/// fixes of one MMSI share both time and place (two reports of one
/// `(mmsi, ts)` at different places are both kept: they are evidence); they
/// are sorted by `(mmsi, ts, lat, lon)`.
///
/// It can only be built by [`clean`](crate::clean), so every model can rely
/// on these invariants. It also carries what earlier cycles stored about
/// these vessels ([`CarriedFix`], see [`with_carried`](Self::with_carried)),
/// so the base input of every model stays this one type. Cloning is cheap
/// (the fixes are shared).
#[derive(Debug, Clone)]
pub struct AisWindow {
    pub(crate) bounds: WindowBounds,
    pub(crate) fixes: Arc<[Fix]>,
    pub(crate) vessels: Arc<[VesselSpan]>,
    pub(crate) carried: Arc<[CarriedFix]>,
}

impl AisWindow {
    /// The window's time span.
    pub fn bounds(&self) -> WindowBounds {
        self.bounds
    }

    /// All fixes, sorted by `(mmsi, ts, lat, lon)`.
    pub fn fixes(&self) -> &[Fix] {
        &self.fixes
    }

    /// How many distinct MMSIs the window holds.
    pub fn vessel_count(&self) -> usize {
        self.vessels.len()
    }

    /// Each vessel's MMSI and its fixes in time order, by ascending MMSI.
    pub fn vessels(&self) -> impl ExactSizeIterator<Item = (i64, &[Fix])> + '_ {
        self.vessels
            .iter()
            .map(|v| (v.mmsi, &self.fixes[v.fixes.clone()]))
    }

    /// The fixes of one MMSI (empty if it is not in the window).
    pub fn vessel(&self, mmsi: i64) -> &[Fix] {
        match self.vessels.binary_search_by_key(&mmsi, |v| v.mmsi) {
            Ok(i) => &self.fixes[self.vessels[i].fixes.clone()],
            Err(_) => &[],
        }
    }

    /// The window with `carried` attached: the positions earlier cycles
    /// stored. Those reported after the window's end are dropped (a cycle
    /// never looks into its future); the rest are sorted by `(mmsi, site)`.
    pub fn with_carried(mut self, mut carried: Vec<CarriedFix>) -> Self {
        carried.retain(|c| c.ts <= self.bounds.end && c.lat.is_finite() && c.lon.is_finite());
        carried.sort_by(|a, b| {
            (a.mmsi, a.site)
                .cmp(&(b.mmsi, b.site))
                .then(a.ts.cmp(&b.ts))
        });
        carried.dedup_by(|later, earlier| later.mmsi == earlier.mmsi && later.site == earlier.site);
        self.carried = Arc::from(carried);
        self
    }

    /// Every carried position, by `(mmsi, site)`.
    pub fn carried_all(&self) -> &[CarriedFix] {
        &self.carried
    }

    /// The carried positions of one MMSI, by site.
    pub fn carried(&self, mmsi: i64) -> &[CarriedFix] {
        let start = self.carried.partition_point(|c| c.mmsi < mmsi);
        let end = self.carried.partition_point(|c| c.mmsi <= mmsi);
        &self.carried[start..end]
    }

    /// All fixes, shared (a cheap clone of [`fixes`](Self::fixes), for an
    /// artifact that keeps them).
    pub fn shared_fixes(&self) -> Arc<[Fix]> {
        Arc::clone(&self.fixes)
    }

    /// Each vessel's MMSI and the range of its fixes in
    /// [`fixes`](Self::fixes), by ascending MMSI.
    pub fn vessel_ranges(&self) -> impl ExactSizeIterator<Item = (i64, Range<usize>)> + '_ {
        self.vessels.iter().map(|v| (v.mmsi, v.fixes.clone()))
    }
}
