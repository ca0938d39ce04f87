//! The snapshot on the bundled real AIS sample after an hour of replayed
//! cycles (issue 7): the sample holds a vessel reported alternately from the
//! Gulf of Mexico and California, so a working spoofing detector must give
//! the verdict SIGNAL, never NO_SIGNAL or SILENT_FAULT.

use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use pipeline::{Pipeline, PipelineConfig};
use snapshot::Verdict;
use test_support::TestDb;

fn ts(s: &str) -> DateTime<Utc> {
    s.parse().expect("fixed time")
}

#[tokio::test]
async fn hourly_snapshot_after_a_replay_on_real_data_is_signal() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/ais-2022-01-03-sample.csv.gz");
    ingest::ingest_file(&mut client, &sample, &ingest::NoProgress)
        .await
        .expect("ingest the sample");
    pipeline::register_reference_models(&mut client)
        .await
        .expect("register the reference models");

    let catalog = registry::Catalog::from_entries(detectors::catalog()).expect("catalog");
    let p = Pipeline::new(
        PipelineConfig {
            use_registry: true,
            ..PipelineConfig::default()
        },
        catalog,
    );
    // Every 5 minutes through the hour 00:00-01:00, as `runner replay` does.
    let mut t = ts("2022-01-03T00:05:00Z");
    let mut cycles = 0;
    let mut analysed_cycles = 0;
    while t < ts("2022-01-03T01:00:00Z") {
        let outcome = p.run_cycle(&mut client, t).await.expect("cycle");
        assert!(
            outcome.failed.is_none(),
            "cycle {t} failed: {:?}",
            outcome.failed
        );
        cycles += 1;
        if outcome.vessels > 0 {
            analysed_cycles += 1;
        }
        t += TimeDelta::minutes(5);
    }

    // The hour [00:00, 01:00) holds exactly the replayed cycles.
    let report = snapshot::hourly(&client, ts("2022-01-03T01:00:00Z"))
        .await
        .expect("hourly snapshot");
    assert_eq!(
        report.spoofing.verdict,
        Verdict::Signal,
        "{}",
        report.render_text()
    );
    // The sample thins out after 00:30: the later cycles analyse nothing.
    assert_eq!(report.spoofing.cycles, analysed_cycles);
    assert!(
        analysed_cycles >= 6,
        "{analysed_cycles} cycles analysed vessels"
    );
    assert!(
        report.spoofing.bands.gt_0_7 >= 1,
        "{}",
        report.render_text()
    );
    assert_eq!(report.timing.cycles, cycles);
    assert!(report.models.runs.ok > 0, "{}", report.render_text());
    assert_eq!(
        report.models.runs.failed + report.models.runs.timeout,
        0,
        "{}",
        report.render_text()
    );
    assert_eq!(report.drift.mismatches, 0, "{}", report.render_text());
    assert!(report.drift.compared > 0, "{}", report.render_text());
    for quiet in ["spoofing", "models", "drift"] {
        assert!(
            !report.sections_in_alarm().contains(&quiet),
            "{quiet} in alarm: {:?}",
            report.alarms
        );
    }
    let json: serde_json::Value = serde_json::from_str(&report.render_json().expect("json"))
        .expect("the JSON rendering parses");
    assert_eq!(json["spoofing"]["verdict"], "SIGNAL");
}
