//! Issue 14 against a real PostgreSQL: one event per episode, not per
//! overlapping window; the hourly stats count new episodes and agree with
//! the snapshot's drift check; the state a cycle carries is stored, so a
//! restarted runner continues.

use std::path::Path;

use chrono::{DateTime, Utc};
use pipeline::{Pipeline, PipelineConfig};
use test_support::TestDb;
use tokio_postgres::Client;

fn ts(s: &str) -> DateTime<Utc> {
    s.parse().expect("fixed time")
}

fn pipeline() -> Pipeline {
    let catalog = registry::Catalog::from_entries(detectors::catalog()).expect("catalog");
    Pipeline::new(PipelineConfig::default(), catalog)
}

async fn with_sample() -> (TestDb, Client) {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/ais-2022-01-03-sample.csv.gz");
    ingest::ingest_file(&mut client, &sample, &ingest::NoProgress)
        .await
        .expect("ingest the sample");
    (db, client)
}

async fn one(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.expect(sql).get(0)
}

async fn run(p: &Pipeline, client: &mut Client, at: &str) {
    let o = p.run_cycle(client, ts(at)).await.expect("cycle");
    assert!(o.failed.is_none(), "{at}: {:?}", o.failed);
}

/// The most events one MMSI has for one finding in one hour.
const MAX_PER_EPISODE_KEY: &str = "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n \
    FROM kcg.prediction_events GROUP BY date_trunc('hour', event_ts, 'UTC'), category, mmsi) k";

#[tokio::test]
async fn three_overlapping_cycles_give_one_event_per_continuing_finding() {
    let (_db, mut client) = with_sample().await;
    let p = pipeline();
    for at in [
        "2022-01-03T00:10:00Z",
        "2022-01-03T00:15:00Z",
        "2022-01-03T00:20:00Z",
    ] {
        run(&p, &mut client, at).await;
    }
    assert_eq!(one(&client, MAX_PER_EPISODE_KEY).await, 1);
    // The invalid identities recur in all three windows: one event each.
    let invalid = one(
        &client,
        "SELECT count(*) FROM kcg.prediction_events WHERE category = 'INVALID_MMSI'",
    )
    .await;
    let invalid_mmsis = one(
        &client,
        "SELECT count(DISTINCT mmsi) FROM kcg.vessel_analysis WHERE NOT identity_valid",
    )
    .await;
    assert_eq!(invalid, invalid_mmsis);
    assert!(invalid >= 5, "{invalid}");
    // 211002010 spoofs in all three: one episode, seen three times.
    let row = client
        .query_one(
            "SELECT occurrences, cycle_ts, last_cycle_ts, worst_value, event_ts <= last_seen \
             FROM kcg.prediction_events WHERE mmsi = 211002010 AND category = 'SPOOFING'",
            &[],
        )
        .await
        .expect("one SPOOFING episode of 211002010");
    assert_eq!(row.get::<_, i32>(0), 3);
    assert_eq!(row.get::<_, DateTime<Utc>>(1), ts("2022-01-03T00:10:00Z"));
    assert_eq!(row.get::<_, DateTime<Utc>>(2), ts("2022-01-03T00:20:00Z"));
    assert!(row.get::<_, Option<f64>>(3).is_some_and(|v| v >= 0.7));
    assert!(row.get::<_, bool>(4));

    // The stats count new episodes per hour of their first sighting, like the
    // drift section counts the event rows.
    let stats = one(
        &client,
        "SELECT coalesce(sum(event_count), 0)::int8 FROM kcg.prediction_stats_hourly",
    )
    .await;
    let events = one(&client, "SELECT count(*) FROM kcg.prediction_events").await;
    assert_eq!(stats, events);
    let report = snapshot::hourly(&client, ts("2022-01-03T00:30:00Z"))
        .await
        .expect("hourly snapshot");
    assert_eq!(report.drift.mismatches, 0, "{}", report.render_text());
    assert!(report.drift.compared > 0);

    // A rerun of the middle cycle changes nothing.
    let state = "SELECT count(*) * 1000 + sum(occurrences) FROM kcg.prediction_events";
    let before = one(&client, state).await;
    run(&p, &mut client, "2022-01-03T00:15:00Z").await;
    assert_eq!(one(&client, state).await, before);
    assert_eq!(one(&client, MAX_PER_EPISODE_KEY).await, 1);

    // Replayed in reverse order in a fresh database: the same episodes.
    let (_db2, mut other) = with_sample().await;
    for at in [
        "2022-01-03T00:20:00Z",
        "2022-01-03T00:15:00Z",
        "2022-01-03T00:10:00Z",
    ] {
        run(&p, &mut other, at).await;
    }
    assert_eq!(one(&other, MAX_PER_EPISODE_KEY).await, 1);
    let reversed = one(
        &other,
        "SELECT count(*) FROM kcg.prediction_events WHERE category = 'INVALID_MMSI'",
    )
    .await;
    assert_eq!(reversed, invalid);
    let row = other
        .query_one(
            "SELECT occurrences, cycle_ts FROM kcg.prediction_events \
             WHERE mmsi = 211002010 AND category = 'SPOOFING'",
            &[],
        )
        .await
        .expect("one SPOOFING episode of 211002010, reversed");
    assert_eq!(row.get::<_, DateTime<Utc>>(1), ts("2022-01-03T00:10:00Z"));
    let report = snapshot::hourly(&other, ts("2022-01-03T00:30:00Z"))
        .await
        .expect("hourly snapshot");
    assert_eq!(report.drift.mismatches, 0, "{}", report.render_text());
}

/// SEASIDE BLONDE is stationary in Florida until 00:10:22 and in Chesapeake
/// Bay from 00:13:45: the window ending 00:20 alone holds one Florida fix (a
/// lone fix, no evidence); the state the 00:15 cycle stored confirms it.
#[tokio::test]
async fn the_state_a_cycle_carries_is_stored_so_a_restarted_runner_continues() {
    const SEASIDE: &str =
        "SELECT count(*) FROM kcg.gear_identity_collisions WHERE mmsi = 367654040";
    let (_db, mut client) = with_sample().await;
    run(&pipeline(), &mut client, "2022-01-03T00:20:00Z").await;
    assert_eq!(
        one(&client, SEASIDE).await,
        0,
        "alone, nothing confirms Florida"
    );

    let (_db2, mut client) = with_sample().await;
    run(&pipeline(), &mut client, "2022-01-03T00:15:00Z").await;
    let stored = one(
        &client,
        "SELECT count(*) FROM kcg.vessel_track_state WHERE mmsi = 367654040 \
           AND cycle_ts = '2022-01-03T00:15:00Z'",
    )
    .await;
    assert!(stored >= 1, "the 00:15 cycle stores SEASIDE BLONDE's track");
    // A new pipeline (a restarted runner) continues from the stored state.
    run(&pipeline(), &mut client, "2022-01-03T00:20:00Z").await;
    assert_eq!(one(&client, SEASIDE).await, 1);
    let detail: String = client
        .query_one(
            "SELECT detail FROM kcg.prediction_stage_timings \
             WHERE cycle_ts = '2022-01-03T00:20:00Z' AND stage_no = 3",
            &[],
        )
        .await
        .expect("stage 3")
        .get(0);
    assert!(detail.contains("glitches set aside"), "{detail}");
    // A rerun replaces the cycle's state rows instead of adding to them.
    let rows =
        "SELECT count(*) FROM kcg.vessel_track_state WHERE cycle_ts = '2022-01-03T00:20:00Z'";
    let n = one(&client, rows).await;
    assert!(n > 1000, "{n}");
    run(&pipeline(), &mut client, "2022-01-03T00:20:00Z").await;
    assert_eq!(one(&client, rows).await, n);
}
