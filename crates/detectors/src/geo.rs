//! Distances on the globe and the speeds they imply: the versioned
//! `ais_types::geo` (one formula for the detectors and for model authors'
//! code), and the rounding of payload figures.

pub use ais_types::geo::{EARTH_RADIUS_KM, KM_PER_NAUTICAL_MILE, haversine_km, knots};

/// Rounds to three decimals, to keep JSON payloads short.
pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn round3_keeps_three_decimals() {
        assert_eq!(super::round3(0.12345), 0.123);
        assert_eq!(super::round3(-2.0004), -2.0);
    }
}
