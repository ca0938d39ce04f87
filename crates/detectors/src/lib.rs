//! The reference AIS detection models, written against `model-api` alone,
//! exactly as a downstream team would write theirs.
//!
//! A cycle's raw fixes go through [`clean`] (stage 2) into an [`AisWindow`],
//! the base input of the root models, which also carries what earlier
//! cycles stored ([`CarriedFix`]). Five models then form a DAG; each has a
//! typed, documented `Params` struct whose `Default` holds the reference
//! thresholds (chosen with `cargo xtask eval`), returns rows `(entity_key =
//! the nine-digit MMSI, score, payload)`, and hands a typed artifact to its
//! dependents:
//!
//! | model id | kind | reads (input key) | artifact |
//! |---|---|---|---|
//! | `track_features` | [`TrackFeaturesModel`] | base [`AisWindow`] | [`TrackFeatures`] |
//! | `identity` | [`IdentityModel`] | base [`AisWindow`] | [`Identities`] |
//! | `spoofing_score` | [`SpoofingModel`] | `track_features` (`"tracks"`), `identity` (`"identity"`) | [`SpoofingScores`] |
//! | `identity_collision` | [`CollisionModel`] | `track_features` (`"tracks"`) | [`Collisions`] |
//! | `risk` | [`RiskModel`] | `spoofing_score` (`"spoofing"`), `identity_collision` (`"collisions"`) | [`RiskScores`] |
//!
//! The registry path builds versions through [`catalog`] and wires them with
//! [`default_dependencies`]; the legacy path calls [`run_legacy`] (or the
//! per-stage functions in [`legacy`]), which goes through the same
//! constructors with [`default_params`]. One implementation, two paths: the
//! PRIMARY `spoofing_score` rows with default params equal the legacy scores.
//!
//! The detection rules (tracks by physics, glitches, confirmed places,
//! switches, identities per ITU-R M.585, episodes) are described in
//! [`TrackFeatures`], [`classify_mmsi`] and [`plan_episodes`], and in
//! ARCHITECTURE.md.
//!
//! This crate must never do I/O, never read the clock, and never depend on
//! another crate of this workspace but `model-api`: models are pure and
//! deterministic functions of their context.
#![deny(missing_docs)]

mod catalog;
mod clean;
mod collision;
mod episodes;
mod events;
pub mod geo;
mod identity;
pub mod legacy;
mod mid;
mod params;
mod risk;
mod spoofing;
mod tracks;
mod window;

#[cfg(test)]
mod test_fixtures;

pub use catalog::{
    Constructor, ModelSpec, catalog, default_dependencies, default_params, ids, spec, specs,
};
pub use clean::{
    COG_NOT_AVAILABLE, CleanStats, DUPLICATE_KM, HEADING_NOT_AVAILABLE, LAT_NOT_AVAILABLE,
    LON_NOT_AVAILABLE, SOG_NOT_AVAILABLE, clean,
};
pub use collision::{Collision, CollisionModel, CollisionParams, Collisions, MAX_SITES_REPORTED};
pub use episodes::{Episode, EpisodeChange, plan_episodes};
pub use events::{Event, EventCategory, EventRules, Severity, SeverityParseError, events};
pub use identity::{
    Classification, Identities, IdentityClass, IdentityModel, IdentityParams, IdentityProblem,
    VesselIdentity, classify_mmsi, nine_digits,
};
pub use legacy::{
    DetectorError, LegacyResults, Typed, VesselSummary, run_legacy, vessel_summaries,
};
pub use mid::{MID_SOURCE, MidEntry, mid};
pub use risk::{RiskModel, RiskParams, RiskScores, VesselRisk};
pub use spoofing::{SpoofingModel, SpoofingParams, SpoofingScores, VesselSpoofing};
pub use tracks::{
    FastRun, FixRole, Jump, MAX_SITES, SAR_AIRCRAFT_CEILING_KN, Segment, Site, Switch,
    TrackFeatures, TrackFeaturesModel, TrackParams, VesselTrack, ceiling_kn,
};
pub use window::{AisWindow, CarriedFix, Fix, WindowBounds, WindowOutOfRange};

/// The input keys under which our models read their upstream results.
pub mod keys {
    /// `track_features` as read by `spoofing_score` and `identity_collision`.
    pub const TRACKS: &str = "tracks";
    /// `identity` as read by `spoofing_score`.
    pub const IDENTITY: &str = "identity";
    /// `spoofing_score` as read by `risk`.
    pub const SPOOFING: &str = "spoofing";
    /// `identity_collision` as read by `risk`.
    pub const COLLISIONS: &str = "collisions";
}

/// Counts of scores above 0, 0.3, 0.5 and 0.7 (the snapshot's bands), as
/// metrics `above_0`, `above_0_3`, `above_0_5`, `above_0_7`.
pub(crate) fn score_bands(scores: impl Iterator<Item = f64>) -> [(&'static str, usize); 4] {
    let mut bands = [
        ("above_0", 0.0, 0),
        ("above_0_3", 0.3, 0),
        ("above_0_5", 0.5, 0),
        ("above_0_7", 0.7, 0),
    ];
    for s in scores {
        for band in &mut bands {
            if s > band.1 {
                band.2 += 1;
            }
        }
    }
    bands.map(|(key, _, n)| (key, n))
}
