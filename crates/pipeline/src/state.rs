//! What a cycle carries to the next (`kcg.vessel_track_state`): the last
//! accepted fix of each vessel and the other places of an open collision.
//!
//! **Semantics.** Cycle `c` reads, per MMSI, the rows of the latest cycle
//! `c' < c` with `c' >= c - lookback` (1 hour by default), and stage 3 of `c`
//! replaces `c`'s own rows. So a restarted runner continues where it stopped;
//! a rerun of `c` reads the same predecessor state as its first run and, if
//! its result changes, later cycles are not recomputed (they keep what they
//! read). A replay in reverse order runs each cycle without predecessors,
//! as a fresh start would; cycles older than a day are pruned by later writes.

use chrono::TimeDelta;
use detectors::CarriedFix;
use tokio_postgres::{GenericClient, Transaction};

use crate::{CycleTs, PipelineError};

const TABLE: &str = "kcg.vessel_track_state";

const LOAD: &str = "WITH latest AS ( \
       SELECT mmsi, max(cycle_ts) AS c FROM kcg.vessel_track_state \
       WHERE cycle_ts < $1 AND cycle_ts >= $2 GROUP BY mmsi) \
     SELECT s.mmsi, s.site, s.ts, s.lat, s.lon, s.cycle_ts \
     FROM kcg.vessel_track_state s JOIN latest l ON l.mmsi = s.mmsi AND l.c = s.cycle_ts";

/// The carried positions for `cycle_ts`.
pub(crate) async fn load(
    client: &impl GenericClient,
    cycle_ts: CycleTs,
    lookback: TimeDelta,
) -> Result<Vec<CarriedFix>, PipelineError> {
    let db = |e| PipelineError::db(TABLE, e);
    let since = crate::checked_sub(cycle_ts, lookback, "state_lookback")?;
    let rows = client.query(LOAD, &[&cycle_ts, &since]).await.map_err(db)?;
    rows.iter()
        .map(|r| {
            Ok(CarriedFix {
                mmsi: r.try_get(0)?,
                site: r.try_get(1)?,
                ts: r.try_get(2)?,
                lat: r.try_get(3)?,
                lon: r.try_get(4)?,
                cycle_ts: r.try_get(5)?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(db)
}

/// Replaces `cycle_ts`'s state with `carry`, and prunes state older than a
/// day before it, in one savepoint of the cycle's transaction. Returns the
/// rows written.
pub(crate) async fn write(
    client: &mut Transaction<'_>,
    cycle_ts: CycleTs,
    carry: &[CarriedFix],
) -> Result<usize, PipelineError> {
    let db = |e| PipelineError::db(TABLE, e);
    let pruned_before = crate::checked_sub(cycle_ts, TimeDelta::days(1), "the state's pruning")?;
    let mmsi: Vec<i64> = carry.iter().map(|c| c.mmsi).collect();
    let site: Vec<i16> = carry.iter().map(|c| c.site).collect();
    let ts: Vec<CycleTs> = carry.iter().map(|c| c.ts).collect();
    let lat: Vec<f64> = carry.iter().map(|c| c.lat).collect();
    let lon: Vec<f64> = carry.iter().map(|c| c.lon).collect();
    let tx = client.transaction().await.map_err(db)?;
    tx.execute(
        "DELETE FROM kcg.vessel_track_state WHERE cycle_ts = $1 OR cycle_ts < $2",
        &[&cycle_ts, &pruned_before],
    )
    .await
    .map_err(db)?;
    tx.execute(
        "INSERT INTO kcg.vessel_track_state (cycle_ts, mmsi, site, ts, lat, lon) \
         SELECT $1, * FROM unnest($2::int8[], $3::int2[], $4::timestamptz[], $5::float8[], $6::float8[])",
        &[&cycle_ts, &mmsi, &site, &ts, &lat, &lon],
    )
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(carry.len())
}
