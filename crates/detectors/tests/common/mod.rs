//! The bundled real AIS sample as `Fix`es, and helpers to cut windows.
#![allow(dead_code)] // each test binary uses a different part

use std::sync::OnceLock;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use detectors::{AisWindow, CleanStats, Fix, WindowBounds, clean};

/// Every row of the sample, read by ingest's own rules (`ais-csv`), in file
/// order.
pub fn sample() -> &'static [Fix] {
    static SAMPLE: OnceLock<Vec<Fix>> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let path = ais_csv::bundled_sample_path();
        let (fixes, bad) =
            ais_csv::read_fixes(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(
            fixes.len(),
            74_731,
            "the sample's README promises 74,731 reports"
        );
        fixes
    })
}

/// 2022-01-03 at `h:m` UTC.
pub fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2022, 1, 3, h, m, 0)
        .single()
        .unwrap_or_default()
}

/// The sample's rows in `(end - minutes, end]`, as stage 1 would load them.
pub fn raw_window(end: DateTime<Utc>, minutes: i64) -> (WindowBounds, Vec<Fix>) {
    let bounds = WindowBounds::ending_at(end, TimeDelta::minutes(minutes)).expect("a window");
    (
        bounds,
        sample()
            .iter()
            .filter(|f| bounds.contains(f.ts))
            .cloned()
            .collect(),
    )
}

/// The cleaned window `(end - minutes, end]`.
pub fn window(end: DateTime<Utc>, minutes: i64) -> (AisWindow, CleanStats) {
    let (bounds, raw) = raw_window(end, minutes);
    clean(bounds, raw)
}

/// A window holding the whole day, stray timestamps included.
pub fn whole_day() -> (AisWindow, CleanStats) {
    let bounds = WindowBounds {
        start: at(0, 0) - TimeDelta::seconds(1),
        end: at(23, 59) + TimeDelta::minutes(1),
    };
    clean(bounds, sample().to_vec())
}

/// The cycles every 5 minutes from `from` to `to`, 10-minute windows, each
/// carrying its state into the next as the pipeline does.
pub fn replay(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, detectors::LegacyResults)> {
    let mut out = Vec::new();
    let mut carried = Vec::new();
    let mut end = from;
    while end <= to {
        let (w, _) = window(end, 10);
        let w = w.with_carried(std::mem::take(&mut carried));
        let r = detectors::run_legacy(end, &w).unwrap_or_else(|e| panic!("{e}"));
        carried = r.tracks.artifact().carry_forward(end);
        out.push((end, r));
        end += TimeDelta::minutes(5);
    }
    out
}
