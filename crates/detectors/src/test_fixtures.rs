//! Small builders for unit tests.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use crate::{AisWindow, Fix, WindowBounds, clean};

/// 2022-01-03T00:00:00Z plus `secs`.
pub(crate) fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2022, 1, 3, 0, 0, 0)
        .single()
        .unwrap_or_default()
        + TimeDelta::seconds(secs)
}

/// A fix at `t(secs)`, SOG 0.
pub(crate) fn fix(mmsi: i64, secs: i64, lat: f64, lon: f64) -> Fix {
    Fix {
        mmsi,
        ts: t(secs),
        lat,
        lon,
        sog: Some(0.0),
        cog: None,
        heading: None,
        vessel_name: None,
        vessel_type: None,
    }
}

/// The cleaned window `(t(-1), t(3600)]` of `fixes`.
pub(crate) fn window(fixes: Vec<Fix>) -> AisWindow {
    clean(
        WindowBounds {
            start: t(-1),
            end: t(3600),
        },
        fixes,
    )
    .0
}
