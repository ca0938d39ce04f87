//! Stage 1: the positions of one window.

use detectors::{Fix, WindowBounds};
use tokio_postgres::GenericClient;

use crate::PipelineError;

const TABLE: &str = "kcg.ais_positions";

/// `(start, end]` as the window is defined. The table is partitioned by UTC
/// day on `ts`: the bounds prune the scan to the one or two day partitions
/// the window overlaps (DEFAULT only when one of those days has no
/// partition), each read through its `ts` index.
const WINDOW_SQL: &str = "SELECT mmsi, ts, lat, lon, sog, cog, heading, vessel_name, vessel_type \
     FROM kcg.ais_positions WHERE ts > $1 AND ts <= $2";

/// Loads every position with `start < ts <= end`, as reported (cleaning is
/// stage 2).
pub(crate) async fn load(
    client: &impl GenericClient,
    bounds: WindowBounds,
) -> Result<Vec<Fix>, PipelineError> {
    let rows = client
        .query(WINDOW_SQL, &[&bounds.start, &bounds.end])
        .await
        .map_err(|e| PipelineError::db(TABLE, e))?;
    rows.iter()
        .map(|r| {
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
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(|e| PipelineError::db(TABLE, e))
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
        assert_eq!(load(&client, bounds).await.unwrap().len(), 10);

        // When a day the window overlaps has no partition, its rows can only
        // be in DEFAULT: then DEFAULT is scanned, unavoidably. (Ingest and
        // stage 9 make the partitions so that this does not happen.)
        assert_eq!(
            scanned(&client, "2022-01-05T00:05:00Z").await,
            ["ais_positions_default", "ais_positions_p2022_01_04"]
        );
    }
}
