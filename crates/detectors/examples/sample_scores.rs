//! Prints the score distribution and the top vessels on the bundled real
//! sample: `cargo run -p detectors --example sample_scores [END_HH:MM] [MINUTES]`.

#[path = "../tests/common/mod.rs"]
mod common;

use detectors::run_legacy;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (h, m) = match args.first().and_then(|a| a.split_once(':')) {
        Some((h, m)) => (h.parse()?, m.parse()?),
        None => (0, 25),
    };
    let minutes: i64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(10);
    let end = common::at(h, m);
    let (window, stats) = common::window(end, minutes);
    println!("window ({minutes} min ending {end}): {stats:?}");
    let r = run_legacy(end, &window)?;
    let spoofing = r.spoofing.artifact().vessels();
    let above = |t: f32| spoofing.iter().filter(|v| v.score > t).count();
    println!(
        "vessels: {}, spoofing > 0: {}, > 0.3: {}, > 0.5: {}, > 0.7: {}",
        spoofing.len(),
        above(0.0),
        above(0.3),
        above(0.5),
        above(0.7)
    );
    let mut top: Vec<_> = r
        .spoofing
        .rows()
        .iter()
        .filter(|row| row.score > 0.0)
        .collect();
    top.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.entity_key.cmp(&b.entity_key))
    });
    for row in top.iter().take(20) {
        let payload = row
            .payload
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        println!(
            "  spoofing {:>10} {:.3} {payload}",
            row.entity_key, row.score
        );
    }
    for row in r.collisions.rows() {
        let payload = row
            .payload
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        println!("  collision {:>10} {payload}", row.entity_key);
    }
    let events = r.events();
    for c in detectors::EventCategory::ALL {
        println!(
            "  events {c}: {}",
            events.iter().filter(|e| e.category == c).count()
        );
    }
    Ok(())
}
