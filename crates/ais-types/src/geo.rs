//! Distances on the globe and the speeds they imply.

/// Mean earth radius (IUGG), kilometres.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;
/// Kilometres in one nautical mile.
pub const KM_PER_NAUTICAL_MILE: f64 = 1.852;

/// Great-circle distance in kilometres between two points given in degrees.
///
/// ```
/// // Gulf of Mexico to Santa Barbara: the two places MMSI 211002010 reports.
/// let km = ais_types::geo::haversine_km(30.28391, -87.53641, 34.40715, -119.69165);
/// assert!((km - 3042.4).abs() < 0.5, "{km}");
/// ```
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// Speed in knots to cover `km` in `minutes`; `None` when no time passed.
///
/// ```
/// assert_eq!(ais_types::geo::knots(1.852, 60.0), Some(1.0));
/// assert_eq!(ais_types::geo::knots(5.0, 0.0), None);
/// ```
pub fn knots(km: f64, minutes: f64) -> Option<f64> {
    (minutes > 0.0).then(|| km / KM_PER_NAUTICAL_MILE / (minutes / 60.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_degree_of_latitude_is_sixty_nautical_miles() {
        let km = haversine_km(10.0, 20.0, 11.0, 20.0);
        assert!((km / KM_PER_NAUTICAL_MILE - 60.04).abs() < 0.05, "{km}");
    }

    #[test]
    fn distance_is_symmetric_zero_on_the_spot_and_wraps_the_dateline() {
        assert_eq!(haversine_km(1.0, 2.0, 1.0, 2.0), 0.0);
        let a = haversine_km(30.0, -87.0, 34.0, -119.0);
        let b = haversine_km(34.0, -119.0, 30.0, -87.0);
        assert!((a - b).abs() < 1e-9);
        // 0.2 degrees of longitude across the antimeridian on the equator.
        let km = haversine_km(0.0, 179.9, 0.0, -179.9);
        assert!((km - 22.24).abs() < 0.01, "{km}");
        // Antipodes: half the circumference, no NaN from rounding.
        let half = haversine_km(0.0, 0.0, 0.0, 180.0);
        assert!((half - std::f64::consts::PI * EARTH_RADIUS_KM).abs() < 1e-6);
    }

    #[test]
    fn knots_convert_km_per_minutes() {
        // 3042 km in 82 s, as MMSI 211002010 does.
        let kn = knots(3042.42, 82.0 / 60.0).unwrap();
        assert!((kn - 72_122.0).abs() < 1.0, "{kn}");
        assert_eq!(knots(1.0, -1.0), None);
    }
}
