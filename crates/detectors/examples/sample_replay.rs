//! Replays 10-minute windows every 5 minutes over the bundled real sample,
//! carrying each cycle's state into the next as the pipeline does, and
//! prints every finding but INVALID_MMSI:
//! `cargo run -p detectors --example sample_replay`.

#[path = "../tests/common/mod.rs"]
mod common;

use chrono::TimeDelta;
use detectors::{EventCategory, run_legacy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut carried = Vec::new();
    let mut at = common::at(0, 5);
    while at <= common::at(0, 35) {
        let (window, _) = common::window(at, 10);
        let window = window.with_carried(std::mem::take(&mut carried));
        let r = run_legacy(at, &window)?;
        carried = r.tracks.artifact().carry_forward(at);
        println!(
            "cycle {at}: {} glitches",
            r.tracks.artifact().glitch_count()
        );
        for e in r.events() {
            if e.category == EventCategory::InvalidMmsi {
                continue;
            }
            let name = r
                .identity
                .artifact()
                .get(e.mmsi)
                .and_then(|i| i.name.clone())
                .unwrap_or_default();
            println!(
                "  {} {} {} {name} {}",
                e.category,
                e.severity,
                detectors::nine_digits(e.mmsi),
                e.details
            );
        }
        at += TimeDelta::minutes(5);
    }
    Ok(())
}
