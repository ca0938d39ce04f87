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
    haversine_km_cos(lat1, lon1, cos_lat(lat1), lat2, lon2, cos_lat(lat2))
}

/// The cosine of a latitude given in degrees, as [`haversine_km_cos`]
/// takes it.
pub fn cos_lat(lat: f64) -> f64 {
    lat.to_radians().cos()
}

/// [`haversine_km`] with each latitude's [`cos_lat`] computed by the
/// caller, once per position, for code that measures one position against
/// many: the very same operations on the same values, so exactly the same
/// result, with two of its five trigonometric calls saved.
///
/// ```
/// use ais_types::geo::{cos_lat, haversine_km, haversine_km_cos};
/// let (a, b) = ((30.28391, -87.53641), (34.40715, -119.69165));
/// let km = haversine_km_cos(a.0, a.1, cos_lat(a.0), b.0, b.1, cos_lat(b.0));
/// assert_eq!(km.to_bits(), haversine_km(a.0, a.1, b.0, b.1).to_bits());
/// ```
pub fn haversine_km_cos(
    lat1: f64,
    lon1: f64,
    cos_lat1: f64,
    lat2: f64,
    lon2: f64,
    cos_lat2: f64,
) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + cos_lat1 * cos_lat2 * (dl / 2.0).sin().powi(2);
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

    /// The formula as it was before `haversine_km_cos` split it: the split
    /// changes no bit of any distance.
    fn haversine_km_as_before(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
        let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
        let dp = p2 - p1;
        let dl = (lon2 - lon1).to_radians();
        let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
    }

    #[test]
    fn the_cosines_given_change_no_bit_of_a_distance() {
        // A deterministic spread over the globe, near and far pairs.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        for k in 0..20_000 {
            let (lat1, lon1) = (next() * 180.0 - 90.0, next() * 360.0 - 180.0);
            let near = k % 2 == 0;
            let (lat2, lon2) = if near {
                (lat1 + (next() - 0.5) * 0.01, lon1 + (next() - 0.5) * 0.01)
            } else {
                (next() * 180.0 - 90.0, next() * 360.0 - 180.0)
            };
            let before = haversine_km_as_before(lat1, lon1, lat2, lon2);
            let now = haversine_km(lat1, lon1, lat2, lon2);
            let given = haversine_km_cos(lat1, lon1, cos_lat(lat1), lat2, lon2, cos_lat(lat2));
            assert_eq!(
                before.to_bits(),
                now.to_bits(),
                "{lat1} {lon1} {lat2} {lon2}"
            );
            assert_eq!(
                before.to_bits(),
                given.to_bits(),
                "{lat1} {lon1} {lat2} {lon2}"
            );
        }
    }

    #[test]
    fn knots_convert_km_per_minutes() {
        // 3042 km in 82 s, as MMSI 211002010 does.
        let kn = knots(3042.42, 82.0 / 60.0).unwrap();
        assert!((kn - 72_122.0).abs() < 1.0, "{kn}");
        assert_eq!(knots(1.0, -1.0), None);
    }
}
