//! Stage 1: the positions of one window.

use detectors::{Fix, WindowBounds};
use tokio_postgres::GenericClient;

use crate::PipelineError;

const TABLE: &str = "kcg.ais_positions";

/// `ts` is indexed; `(start, end]` as the window is defined.
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
