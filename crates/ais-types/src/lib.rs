//! The AIS types model authors build on: the base input of every cycle (a
//! [`Fix`], the cleaned [`AisWindow`] of a cycle and the [`clean`] that
//! alone builds one) and the artifacts the reference models hand their
//! dependents ([`TrackFeatures`], [`Identities`], [`SpoofingScores`],
//! [`Collisions`], [`RiskScores`]), with constructors enough to build any
//! of them in a test. A downstream model declares what it reads by these
//! types (`model_api::Input<ais_types::TrackFeatures>`), and the registry
//! checks the DAG on them, so a model crate depends on this crate and
//! `model-api`, never on `detectors`.
//!
//! This crate is versioned (semver; see its CHANGELOG.md). It must never do
//! I/O, never read the clock, never depend on another crate of this
//! workspace, and never hold a detection rule: how a track, an identity or
//! a score is computed is `detectors`' business; this crate says what they
//! are. The one rule it does hold is [`clean`], because the invariants of an
//! [`AisWindow`] are what every model relies on.
//!
//! ```
//! use ais_types::{clean, AisWindow, Fix, WindowBounds};
//! use chrono::{TimeDelta, TimeZone, Utc};
//!
//! let end = Utc.with_ymd_and_hms(2022, 1, 3, 0, 10, 0).unwrap();
//! let fix = |secs: i64, lat: f64| Fix {
//!     mmsi: 211_002_010, ts: end - TimeDelta::seconds(secs), lat, lon: -87.5,
//!     sog: Some(0.0), cog: None, heading: None, vessel_name: None, vessel_type: None,
//! };
//! let (window, stats): (AisWindow, _) =
//!     clean(WindowBounds::ending_at(end, TimeDelta::minutes(10))?, vec![fix(60, 30.2), fix(30, 91.0)]);
//! assert_eq!(window.vessel(211_002_010).len(), 1);
//! assert_eq!(stats.position_not_available, 1);
//! # Ok::<(), ais_types::WindowOutOfRange>(())
//! ```
#![deny(missing_docs)]

mod clean;
mod collision;
mod error;
pub mod geo;
mod identity;
mod risk;
mod severity;
mod spoofing;
mod tracks;
mod window;

pub use clean::{
    COG_NOT_AVAILABLE, CleanStats, DUPLICATE_KM, HEADING_NOT_AVAILABLE, LAT_NOT_AVAILABLE,
    LON_NOT_AVAILABLE, SOG_NOT_AVAILABLE, clean,
};
pub use collision::{Collision, Collisions};
pub use error::ArtifactError;
pub use identity::{Identities, IdentityClass, IdentityProblem, VesselIdentity, nine_digits};
pub use risk::{RiskScores, VesselRisk};
pub use severity::{Severity, SeverityParseError};
pub use spoofing::{SpoofingScores, VesselSpoofing};
pub use tracks::{
    FastRun, FixRole, Jump, MAX_SITES, Segment, Site, Switch, TrackFeatures, VesselTrack,
};
pub use window::{AisWindow, CarriedFix, Fix, WindowBounds, WindowOutOfRange};

/// `items` sorted by MMSI, the first of each MMSI kept: how every artifact
/// keyed by vessel is stored (its lookups search by MMSI).
fn by_mmsi<T>(mut items: Vec<T>, mmsi: impl Fn(&T) -> i64) -> Vec<T> {
    items.sort_by_key(&mmsi);
    items.dedup_by(|later, earlier| mmsi(later) == mmsi(earlier));
    items
}
