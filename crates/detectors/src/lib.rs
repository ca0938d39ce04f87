//! The reference AIS detection models, written against `model-api` and
//! `ais-types` alone, exactly as a downstream team would write theirs.
//!
//! A cycle's raw fixes go through [`clean`] (stage 2, `ais-types`) into an [`AisWindow`],
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
//! | `spoofing_score` | [`SpoofingModel`] (`v1`), [`GradedSpoofingModel`] (`v2`) | `track_features` (`"tracks"`), `identity` (`"identity"`) | [`SpoofingScores`] |
//! | `identity_collision` | [`CollisionModel`] | `track_features` (`"tracks"`) | [`Collisions`] |
//! | `risk` | [`RiskModel`] | `spoofing_score` (`"spoofing"`), `identity_collision` (`"collisions"`) | [`RiskScores`] |
//!
//! Each model declares its artifact and its typed inputs (`Model::Artifact`,
//! `Model::INPUTS`), so the registry checks the DAG's types before a cycle
//! runs. A model may have several implementations (`spoofing_score` has
//! `v1`, the default, and `v2`, grading its evidences on logarithmic scales); a version names
//! the one it runs. The registry path builds versions through [`catalog`]
//! and wires them with [`default_dependencies`]; the legacy path calls
//! [`run_legacy`] (or the per-stage functions in [`legacy`]), which goes
//! through the same code (each model's default implementation) with
//! [`default_params`]. One implementation, two paths: the PRIMARY
//! `spoofing_score` rows with default params equal the legacy scores.
//!
//! The detection rules (tracks by physics, glitches, confirmed places,
//! switches, identities per ITU-R M.585, episodes) are described in
//! [`TrackFeatures`], [`classify_mmsi`] and [`plan_episodes`], and in
//! ARCHITECTURE.md.
//!
//! The types (the window, the artifacts) are `ais-types`', re-exported
//! here; the computations are this crate's ([`track_features`],
//! [`identities`], [`spoofing_scores`], [`collisions`], [`risk_scores`]).
//!
//! This crate must never do I/O, never read the clock, and never depend on
//! another crate of this workspace but `model-api` and `ais-types`: models
//! are pure and deterministic functions of their context.
#![deny(missing_docs)]

mod catalog;
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
mod spoofing_graded;
mod tracks;

#[cfg(test)]
mod test_fixtures;

pub use catalog::{
    ModelSpec, NamedImplementation, catalog, default_dependencies, default_params, ids,
    implementations, spec, specs,
};
pub use collision::{
    CollisionModel, CollisionParams, MAX_SITES_REPORTED, collisions, detect as detect_collision,
};
pub use episodes::{Episode, EpisodeChange, plan_episodes};
pub use events::{Event, EventCategory, EventRules, events};
pub use identity::{Classification, IdentityModel, IdentityParams, classify_mmsi, identities};
pub use legacy::{
    DetectorError, LegacyResults, Typed, VesselSummary, run_legacy, vessel_summaries,
};
pub use mid::{MID_SOURCE, MidEntry, mid};
pub use risk::{RiskModel, RiskParams, risk_scores};
pub use spoofing::{SpoofingModel, SpoofingParams, spoofing_scores, vessel_spoofing};
pub use spoofing_graded::{GradedSpoofingModel, LOG_SPEED_SPANS, TELEPORT_FULL_RATIO};
pub use tracks::{
    SAR_AIRCRAFT_CEILING_KN, TrackFeaturesModel, TrackParams, ceiling_kn, track_features,
};

/// The AIS types of `ais-types`, where they live since `ais-types` 0.1
/// (base input and artifacts), re-exported so the code that named them
/// here still does. A model crate depends on `ais-types` itself.
pub use ais_types::{
    AisWindow, COG_NOT_AVAILABLE, CarriedFix, CleanStats, Collision, Collisions, DUPLICATE_KM,
    FastRun, Fix, FixRole, HEADING_NOT_AVAILABLE, Identities, IdentityClass, IdentityProblem, Jump,
    LAT_NOT_AVAILABLE, LON_NOT_AVAILABLE, MAX_SITES, RiskScores, SOG_NOT_AVAILABLE, Segment,
    Severity, SeverityParseError, Site, SpoofingScores, Switch, TrackFeatures, VesselIdentity,
    VesselRisk, VesselSpoofing, VesselTrack, WindowBounds, WindowOutOfRange, clean, nine_digits,
};

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
