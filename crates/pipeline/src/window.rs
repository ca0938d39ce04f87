//! Stage 1: the positions of one window.

use detectors::{Fix, WindowBounds};
use futures_util::TryStreamExt;
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Row};

use crate::PipelineError;

const TABLE: &str = "kcg.ais_positions";

/// `(start, end]` as the window is defined. The table is partitioned by UTC
/// day on `ts`: the bounds prune the scan to the one or two day partitions
/// the window overlaps (DEFAULT only when one of those days has no
/// partition), each read through its `ts` index.
const WINDOW_SQL: &str = "SELECT mmsi, ts, lat, lon, sog, cog, heading, vessel_name, vessel_type \
     FROM kcg.ais_positions WHERE ts > $1 AND ts <= $2";

/// Loads every position with `start < ts <= end`, as reported (cleaning is
/// stage 2), in the order the server returns them (stage 2 sorts).
///
/// The rows are converted as they arrive (`query_raw`), so the whole result
/// is never held twice (as rows and as fixes); `expected` (e.g. the size of
/// the previous cycle's window) sizes the vector up front.
pub(crate) async fn load(
    client: &impl GenericClient,
    bounds: WindowBounds,
    expected: usize,
) -> Result<Vec<Fix>, PipelineError> {
    let db = |e| PipelineError::db(TABLE, e);
    let params: [&(dyn ToSql + Sync); 2] = [&bounds.start, &bounds.end];
    let rows = client.query_raw(WINDOW_SQL, params).await.map_err(db)?;
    let mut rows = std::pin::pin!(rows);
    let mut fixes = Vec::with_capacity(expected);
    while let Some(r) = rows.try_next().await.map_err(db)? {
        fixes.push(fix(&r).map_err(db)?);
    }
    Ok(fixes)
}

fn fix(r: &Row) -> Result<Fix, tokio_postgres::Error> {
    Ok(Fix {
        mmsi: r.try_get(0)?,
        ts: r.try_get(1)?,
        lat: r.try_get(2)?,
        lon: r.try_get(3)?,
        sog: r.try_get(4)?,
        cog: r.try_get(5)?,
        heading: r.try_get(6)?,
        vessel_name: r.try_get(7)?,
        vessel_type: r.try_get(8)?,
    })
}

#[cfg(test)]
mod tests {
    //! Stage 1 reads only the day partitions of `kcg.ais_positions` that
    //! its window overlaps: the plan of the very statement it runs, with
    //! the window's bounds bound as it binds them.

    use chrono::{DateTime, TimeDelta, Utc};
    use partitions::{Day, POSITIONS};
    use test_support::TestDb;
    use tokio_postgres::Client;

    use super::*;

    fn ts(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    /// Every relation the plan of [`WINDOW_SQL`] for the window ending at
    /// `cycle_ts` scans, sorted.
    async fn scanned(client: &Client, cycle_ts: &str) -> Vec<String> {
        let bounds = WindowBounds::ending_at(ts(cycle_ts), TimeDelta::minutes(10)).unwrap();
        let rows = client
            .query(
                &format!("EXPLAIN (FORMAT JSON) {WINDOW_SQL}"),
                &[&bounds.start, &bounds.end],
            )
            .await
            .unwrap();
        let plan: serde_json::Value = rows[0].get(0);
        fn walk(node: &serde_json::Value, out: &mut Vec<String>) {
            if let Some(name) = node.get("Relation Name").and_then(|n| n.as_str()) {
                out.push(name.to_owned());
            }
            for child in node
                .get("Plans")
                .and_then(|p| p.as_array())
                .into_iter()
                .flatten()
            {
                walk(child, out);
            }
        }
        let mut out = Vec::new();
        walk(&plan[0]["Plan"], &mut out);
        out.sort();
        out
    }

    #[tokio::test]
    async fn the_window_query_touches_only_the_days_it_overlaps() {
        let db = TestDb::new().await;
        let mut client = db.client().await;
        let day = |d| Day::new(2022, 1, d).unwrap();
        partitions::ensure(&mut client, &POSITIONS, &[day(2), day(3), day(4)])
            .await
            .unwrap();
        client
            .batch_execute(
                "INSERT INTO kcg.ais_positions (mmsi, ts, lat, lon, source_file_id)
                 SELECT 1, t, 1, 1, 0 FROM generate_series(
                     '2022-01-02 00:00:00+00'::timestamptz, '2022-01-04 23:59:00+00', '1 minute') t;
                 ANALYZE kcg.ais_positions;",
            )
            .await
            .unwrap();

        // (23:55, 00:05] spans midnight: the two days, nothing else.
        assert_eq!(
            scanned(&client, "2022-01-03T00:05:00Z").await,
            ["ais_positions_p2022_01_02", "ais_positions_p2022_01_03"]
        );
        // Inside one day: that day alone, no DEFAULT.
        assert_eq!(
            scanned(&client, "2022-01-03T12:00:00Z").await,
            ["ais_positions_p2022_01_03"]
        );
        // A window ending exactly at midnight is (23:50, 00:00]: its last
        // instant belongs to the next day, whose partition is scanned too.
        assert_eq!(
            scanned(&client, "2022-01-04T00:00:00Z").await,
            ["ais_positions_p2022_01_03", "ais_positions_p2022_01_04"]
        );
        // And it returns exactly the window's rows.
        let bounds =
            WindowBounds::ending_at(ts("2022-01-03T00:05:00Z"), TimeDelta::minutes(10)).unwrap();
        assert_eq!(load(&client, bounds, 0).await.unwrap().len(), 10);

        // When a day the window overlaps has no partition, its rows can only
        // be in DEFAULT: then DEFAULT is scanned, unavoidably. (Ingest and
        // stage 9 make the partitions so that this does not happen.)
        assert_eq!(
            scanned(&client, "2022-01-05T00:05:00Z").await,
            ["ais_positions_default", "ais_positions_p2022_01_04"]
        );
    }

    /// The streamed load returns every position of the window exactly as
    /// stored (NULLs, names, the bounds' edges), whatever capacity it was
    /// sized with, and nothing outside the window.
    #[tokio::test]
    async fn load_streams_every_position_of_the_window_as_stored() {
        let db = TestDb::new().await;
        let mut client = db.client().await;
        partitions::ensure(&mut client, &POSITIONS, &[Day::new(2022, 1, 3).unwrap()])
            .await
            .unwrap();
        let bounds =
            WindowBounds::ending_at(ts("2022-01-03T12:10:00Z"), TimeDelta::minutes(10)).unwrap();
        // 2,500 fixes from 1 s before the window to 1 s after it, every
        // field NULL on some.
        let all: Vec<Fix> = (0..2_500_i64)
            .map(|k| {
                let at = bounds.start - TimeDelta::seconds(1) + TimeDelta::milliseconds(k * 241);
                let some = |m: i64| k % m != 0;
                Fix {
                    mmsi: 211_000_000 + k % 37,
                    ts: at,
                    lat: 30.0 + k as f64 * 1e-4,
                    lon: -87.0 - k as f64 * 1e-4,
                    sog: some(5).then_some(k as f32 / 100.0),
                    cog: some(7).then_some((k % 360) as f32),
                    heading: some(11).then_some((k % 511) as f32),
                    vessel_name: some(3).then(|| format!("VESSEL {}", k % 37)),
                    vessel_type: some(13).then_some((k % 90) as i32),
                }
            })
            .collect();
        let col = |f: fn(&Fix) -> Option<f32>| all.iter().map(f).collect::<Vec<_>>();
        client
            .execute(
                "INSERT INTO kcg.ais_positions (mmsi, ts, lat, lon, sog, cog, heading, vessel_name, \
                     vessel_type, source_file_id) \
                 SELECT *, 0 FROM unnest($1::int8[], $2::timestamptz[], $3::float8[], $4::float8[], \
                     $5::float4[], $6::float4[], $7::float4[], $8::text[], $9::int4[])",
                &[
                    &all.iter().map(|f| f.mmsi).collect::<Vec<_>>(),
                    &all.iter().map(|f| f.ts).collect::<Vec<_>>(),
                    &all.iter().map(|f| f.lat).collect::<Vec<_>>(),
                    &all.iter().map(|f| f.lon).collect::<Vec<_>>(),
                    &col(|f| f.sog),
                    &col(|f| f.cog),
                    &col(|f| f.heading),
                    &all.iter().map(|f| f.vessel_name.clone()).collect::<Vec<_>>(),
                    &all.iter().map(|f| f.vessel_type).collect::<Vec<_>>(),
                ],
            )
            .await
            .unwrap();
        let order = |a: &Fix, b: &Fix| (a.mmsi, a.ts).cmp(&(b.mmsi, b.ts));
        let mut expected: Vec<Fix> = all.into_iter().filter(|f| bounds.contains(f.ts)).collect();
        expected.sort_by(order);
        assert!(expected.len() > 2_400 && expected.len() < 2_500);
        for capacity in [0, 7, expected.len(), 100_000] {
            let mut got = load(&client, bounds, capacity).await.unwrap();
            got.sort_by(order);
            assert_eq!(got, expected, "sized for {capacity}");
        }
    }
}
