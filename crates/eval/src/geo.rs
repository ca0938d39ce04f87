//! Moving a position by a distance along a bearing.

use detectors::geo::EARTH_RADIUS_KM;

/// The point `km` from `(lat, lon)` on the initial `bearing_deg` (great
/// circle), in degrees; longitude normalised to `-180..180`.
pub(crate) fn destination(lat: f64, lon: f64, bearing_deg: f64, km: f64) -> (f64, f64) {
    let d = km / EARTH_RADIUS_KM;
    let (p1, l1, b) = (lat.to_radians(), lon.to_radians(), bearing_deg.to_radians());
    let p2 = (p1.sin() * d.cos() + p1.cos() * d.sin() * b.cos()).asin();
    let l2 = l1 + (b.sin() * d.sin() * p1.cos()).atan2(d.cos() - p1.sin() * p2.sin());
    let lon2 = (l2.to_degrees() + 540.0) % 360.0 - 180.0;
    (p2.to_degrees(), lon2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use detectors::geo::haversine_km;

    #[test]
    fn destination_is_at_the_distance_asked() {
        for (lat, lon, b, km) in [
            (30.0, -87.0, 0.0, 100.0),
            (30.0, -87.0, 90.0, 3000.0),
            (48.0, -124.0, 225.0, 20.0),
            (10.0, 179.9, 90.0, 50.0),
        ] {
            let (la, lo) = destination(lat, lon, b, km);
            let got = haversine_km(lat, lon, la, lo);
            assert!((got - km).abs() < 1e-6 * km.max(1.0), "{got} vs {km}");
            assert!((-180.0..180.0).contains(&lo));
        }
    }
}
