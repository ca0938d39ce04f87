//! Stages 5 to 8: the legacy tables. Each stage writes in one transaction and
//! replaces what an earlier run of the same cycle wrote, so rerunning a cycle
//! changes no counts.

use std::fmt;

use chrono::TimeDelta;
use detectors::{
    Collisions, Episode, EpisodeChange, Event, EventCategory, VesselSummary, plan_episodes,
};
use tokio_postgres::Transaction;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::{CycleTs, PipelineError};

/// What stage 6 did to `gear_identity_collisions`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CollisionChanges {
    /// Identities seen colliding in this cycle (new or recurring).
    pub seen: u64,
    /// OPEN rows resolved because they stopped recurring.
    pub resolved: u64,
}

impl fmt::Display for CollisionChanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} colliding identities upserted, {} resolved",
            self.seen, self.resolved
        )
    }
}

const VESSEL_ANALYSIS: &str = "kcg.vessel_analysis";

/// The columns of `kcg.vessel_analysis` a cycle writes, in the order of
/// [`VESSEL_ANALYSIS_TYPES`].
const COPY_VESSEL_ANALYSIS: &str = "COPY kcg.vessel_analysis (cycle_ts, mmsi, spoofing_score, \
     fixes, max_speed_kn, max_jump_km, identity_valid, vessel_name, details) FROM STDIN (FORMAT binary)";

const VESSEL_ANALYSIS_TYPES: [Type; 9] = [
    Type::TIMESTAMPTZ,
    Type::INT8,
    Type::FLOAT4,
    Type::INT4,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::BOOL,
    Type::TEXT,
    Type::JSONB,
];

/// Replaces the cycle's rows of `kcg.vessel_analysis` with one per vessel:
/// a `DELETE`, then a binary `COPY` of the rows as they are encoded (no
/// column arrays built first, no server-side `unnest`).
pub(crate) async fn write_vessel_analysis(
    client: &mut Transaction<'_>,
    cycle_ts: CycleTs,
    vessels: &[VesselSummary],
) -> Result<usize, PipelineError> {
    let db = |e| PipelineError::db(VESSEL_ANALYSIS, e);
    let tx = client.transaction().await.map_err(db)?;
    tx.execute(
        "DELETE FROM kcg.vessel_analysis WHERE cycle_ts = $1",
        &[&cycle_ts],
    )
    .await
    .map_err(db)?;
    let sink = tx.copy_in(COPY_VESSEL_ANALYSIS).await.map_err(db)?;
    let writer = BinaryCopyInWriter::new(sink, &VESSEL_ANALYSIS_TYPES);
    let mut writer = std::pin::pin!(writer);
    for v in vessels {
        let fixes = i32::try_from(v.fixes).unwrap_or(i32::MAX);
        let name = v.vessel_name.as_deref();
        let details = v.details.as_ref();
        let row: [&(dyn ToSql + Sync); 9] = [
            &cycle_ts,
            &v.mmsi,
            &v.spoofing_score,
            &fixes,
            &v.max_speed_kn,
            &v.max_jump_km,
            &v.identity_valid,
            &name,
            &details,
        ];
        writer.as_mut().write(&row).await.map_err(db)?;
    }
    let n = writer.as_mut().finish().await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

const COLLISIONS: &str = "kcg.gear_identity_collisions";

/// One OPEN row per identity (the partial unique index): a recurrence moves
/// `last_seen` forward, keeps the worst severity and the largest distance,
/// and counts an occurrence only when it is later than what was recorded, so
/// rerunning a cycle changes nothing. For the same reason a sighting no later
/// than a RESOLVED row's `last_seen` belongs to that episode (an earlier
/// cycle run again) and opens nothing, and only the latest sighting's
/// details are kept.
const UPSERT_COLLISIONS: &str = "INSERT INTO kcg.gear_identity_collisions AS g \
     (mmsi, first_seen, last_seen, severity, status, max_distance_km, occurrences, details) \
     SELECT u.mmsi, u.first_seen, u.last_seen, u.severity, 'OPEN', u.km, 1, u.details \
     FROM unnest($1::int8[], $2::timestamptz[], $3::timestamptz[], $4::text[], $5::float8[], $6::jsonb[]) \
          AS u(mmsi, first_seen, last_seen, severity, km, details) \
     WHERE NOT EXISTS (SELECT 1 FROM kcg.gear_identity_collisions r \
                       WHERE r.mmsi = u.mmsi AND r.status = 'RESOLVED' AND r.last_seen >= u.last_seen) \
     ON CONFLICT (mmsi) WHERE status = 'OPEN' DO UPDATE SET \
       occurrences = g.occurrences + (EXCLUDED.last_seen > g.last_seen)::int, \
       first_seen = LEAST(g.first_seen, EXCLUDED.first_seen), \
       last_seen = GREATEST(g.last_seen, EXCLUDED.last_seen), \
       severity = CASE WHEN array_position(ARRAY['LOW','MEDIUM','HIGH','CRITICAL'], EXCLUDED.severity::text) \
                          > array_position(ARRAY['LOW','MEDIUM','HIGH','CRITICAL'], g.severity::text) \
                       THEN EXCLUDED.severity ELSE g.severity END, \
       max_distance_km = GREATEST(g.max_distance_km, EXCLUDED.max_distance_km), \
       details = CASE WHEN EXCLUDED.last_seen >= g.last_seen THEN EXCLUDED.details ELSE g.details END";

const RESOLVE_COLLISIONS: &str = "UPDATE kcg.gear_identity_collisions \
     SET status = 'RESOLVED', resolved_at = $1 \
     WHERE status = 'OPEN' AND last_seen < $2";

pub(crate) async fn write_collisions(
    client: &mut Transaction<'_>,
    cycle_ts: CycleTs,
    collisions: &Collisions,
    resolve_after: TimeDelta,
) -> Result<CollisionChanges, PipelineError> {
    let db = |e| PipelineError::db(COLLISIONS, e);
    // Before any write: an out-of-range setting fails the stage cleanly.
    let stale_before = crate::checked_sub(cycle_ts, resolve_after, "collision_resolve_after")?;
    let all = collisions.all();
    let mmsi: Vec<i64> = all.iter().map(|c| c.mmsi).collect();
    let first: Vec<CycleTs> = all.iter().map(|c| c.first_ts).collect();
    let last: Vec<CycleTs> = all.iter().map(|c| c.last_ts).collect();
    let severity: Vec<&str> = all.iter().map(|c| c.severity.as_str()).collect();
    let km: Vec<f64> = all.iter().map(|c| c.max_distance_km).collect();
    let details: Vec<serde_json::Value> = all
        .iter()
        .map(|c| {
            serde_json::json!({
                "mmsi": detectors::nine_digits(c.mmsi),
                "hops": c.hops,
                "max_speed_kn": Some(c.max_speed_kn).filter(|v| v.is_finite()),
                "ceiling_kn": c.ceiling_kn,
                "sites": c.sites.iter().map(|(lat, lon)| [lat, lon]).collect::<Vec<_>>(),
                "cycle_ts": cycle_ts,
            })
        })
        .collect();
    let tx = client.transaction().await.map_err(db)?;
    let seen = tx
        .execute(
            UPSERT_COLLISIONS,
            &[&mmsi, &first, &last, &severity, &km, &details],
        )
        .await
        .map_err(db)?;
    let resolved = tx
        .execute(RESOLVE_COLLISIONS, &[&cycle_ts, &stale_before])
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(CollisionChanges { seen, resolved })
}

const EVENTS: &str = "kcg.prediction_events";

/// The stored episodes a finding of `cycle_ts` may continue.
/// A row without episode columns (another writer's) is a one-cycle episode.
const EPISODES_NEAR: &str = "SELECT id, category, mmsi, cycle_ts, coalesce(last_cycle_ts, cycle_ts), \
       event_ts, coalesce(last_seen, event_ts), occurrences, coalesce(worst_value, 'NaN'::float8), \
       severity, details::text \
     FROM kcg.prediction_events \
     WHERE mmsi = ANY($1) AND coalesce(last_cycle_ts, cycle_ts) >= $2 AND cycle_ts <= $3";

/// Writes the cycle's findings as episodes ([`detectors::plan_episodes`]):
/// a finding that continues a stored episode updates it, any other opens
/// one. Episodes this cycle alone had opened (a rerun) are replaced first.
/// Returns how many findings were written and every UTC hour whose counts
/// may have changed (of the old and the new rows).
pub(crate) async fn write_events(
    client: &mut Transaction<'_>,
    cycle_ts: CycleTs,
    events: &[Event],
    gap: TimeDelta,
) -> Result<(usize, Vec<CycleTs>), PipelineError> {
    let db = |e| PipelineError::db(EVENTS, e);
    let (near_from, near_to) = (
        crate::checked_sub(cycle_ts, gap, "episode_gap")?,
        crate::checked_add(cycle_ts, gap, "episode_gap")?,
    );
    let tx = client.transaction().await.map_err(db)?;
    let mut hours: Vec<CycleTs> = tx
        .query(
            "DELETE FROM kcg.prediction_events \
             WHERE cycle_ts = $1 AND coalesce(last_cycle_ts, cycle_ts) = $1 \
             RETURNING date_trunc('hour', event_ts, 'UTC')",
            &[&cycle_ts],
        )
        .await
        .map_err(db)?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(db)?;
    let mut mmsis: Vec<i64> = events.iter().map(|e| e.mmsi).collect();
    mmsis.sort_unstable();
    mmsis.dedup();
    let mut stored = Vec::new();
    for r in tx
        .query(EPISODES_NEAR, &[&mmsis, &near_from, &near_to])
        .await
        .map_err(db)?
    {
        if let Some(episode) = stored_episode(&r).map_err(db)? {
            stored.push(episode);
        }
    }
    let mut opened: Vec<Event> = Vec::new();
    let mut extended: Vec<Episode> = Vec::new();
    for change in plan_episodes(&stored, events, cycle_ts, gap) {
        match change {
            EpisodeChange::Open(e) => opened.push(e),
            EpisodeChange::Extend(e) => {
                if let Some(old) = stored.iter().find(|s| s.id == e.id) {
                    hours.push(hour_of(old.event_ts));
                }
                extended.push(e);
            }
        }
    }
    let finite = |v: f64| v.is_finite().then_some(v);
    let ts: Vec<CycleTs> = opened.iter().map(|e| e.event_ts).collect();
    let category: Vec<&str> = opened.iter().map(|e| e.category.as_str()).collect();
    let mmsi: Vec<i64> = opened.iter().map(|e| e.mmsi).collect();
    let severity: Vec<&str> = opened.iter().map(|e| e.severity.as_str()).collect();
    let value: Vec<Option<f64>> = opened.iter().map(|e| finite(e.value)).collect();
    let details: Vec<&serde_json::Value> = opened.iter().map(|e| &e.details).collect();
    let new = tx
        .query(
            "INSERT INTO kcg.prediction_events (cycle_ts, last_cycle_ts, event_ts, last_seen, \
               category, mmsi, severity, occurrences, worst_value, details) \
             SELECT $1, $1, u.ts, u.ts, u.category, u.mmsi, u.severity, 1, u.value, u.details \
             FROM unnest($2::timestamptz[], $3::text[], $4::int8[], $5::text[], $6::float8[], $7::jsonb[]) \
                  AS u(ts, category, mmsi, severity, value, details) \
             RETURNING date_trunc('hour', event_ts, 'UTC')",
            &[&cycle_ts, &ts, &category, &mmsi, &severity, &value, &details],
        )
        .await
        .map_err(db)?;
    for r in &new {
        hours.push(r.try_get(0).map_err(db)?);
    }
    let id: Vec<i64> = extended.iter().map(|e| e.id).collect();
    let opened_cycle: Vec<CycleTs> = extended.iter().map(|e| e.opened_cycle).collect();
    let last_cycle: Vec<CycleTs> = extended.iter().map(|e| e.last_cycle).collect();
    let event_ts: Vec<CycleTs> = extended.iter().map(|e| e.event_ts).collect();
    let last_seen: Vec<CycleTs> = extended.iter().map(|e| e.last_seen).collect();
    let occurrences: Vec<i32> = extended.iter().map(|e| e.occurrences).collect();
    let worst: Vec<Option<f64>> = extended.iter().map(|e| finite(e.worst_value)).collect();
    let severity: Vec<&str> = extended.iter().map(|e| e.severity.as_str()).collect();
    let details: Vec<&serde_json::Value> = extended.iter().map(|e| &e.details).collect();
    let updated = tx
        .query(
            "UPDATE kcg.prediction_events e SET cycle_ts = u.opened, last_cycle_ts = u.last_cycle, \
               event_ts = u.event_ts, last_seen = u.last_seen, occurrences = u.occurrences, \
               worst_value = u.worst, severity = u.severity, details = u.details \
             FROM unnest($1::int8[], $2::timestamptz[], $3::timestamptz[], $4::timestamptz[], \
                         $5::timestamptz[], $6::int4[], $7::float8[], $8::text[], $9::jsonb[]) \
                  AS u(id, opened, last_cycle, event_ts, last_seen, occurrences, worst, severity, details) \
             WHERE e.id = u.id \
             RETURNING date_trunc('hour', e.event_ts, 'UTC')",
            &[
                &id,
                &opened_cycle,
                &last_cycle,
                &event_ts,
                &last_seen,
                &occurrences,
                &worst,
                &severity,
                &details,
            ],
        )
        .await
        .map_err(db)?;
    for r in &updated {
        hours.push(r.try_get(0).map_err(db)?);
    }
    tx.commit().await.map_err(db)?;
    hours.sort();
    hours.dedup();
    Ok((events.len(), hours))
}

/// A row of [`EPISODES_NEAR`] as an episode this cycle may continue, or
/// `None` for one that is not ours to extend: another writer's category or
/// severity, or details that cannot be read (nested deeper than the JSON
/// reader allows, set by hand): the finding then opens an episode of its
/// own, and the stored row is left as it is.
fn stored_episode(r: &tokio_postgres::Row) -> Result<Option<Episode>, tokio_postgres::Error> {
    let id: i64 = r.try_get(0)?;
    let category: String = r.try_get(1)?;
    let severity: String = r.try_get(9)?;
    let (Some(category), Ok(severity)) = (EventCategory::from_db(&category), severity.parse())
    else {
        return Ok(None);
    };
    let details: String = r.try_get(10)?;
    let details = match serde_json::from_str(&details) {
        Ok(details) => details,
        Err(e) => {
            tracing::warn!(
                event_id = id,
                "kcg.prediction_events id {id}: details cannot be read ({e}); the episode is \
                 left as it is and the finding opens a new one"
            );
            return Ok(None);
        }
    };
    Ok(Some(Episode {
        id,
        category,
        mmsi: r.try_get(2)?,
        opened_cycle: r.try_get(3)?,
        last_cycle: r.try_get(4)?,
        event_ts: r.try_get(5)?,
        last_seen: r.try_get(6)?,
        occurrences: r.try_get(7)?,
        worst_value: r.try_get(8)?,
        severity,
        details,
    }))
}

/// The UTC hour holding `ts`, as `date_trunc('hour', ts, 'UTC')` computes it.
fn hour_of(ts: CycleTs) -> CycleTs {
    use chrono::DurationRound;
    ts.duration_trunc(TimeDelta::hours(1)).unwrap_or(ts)
}

/// Recounts `prediction_stats_hourly` for `hours` from `prediction_events`
/// itself, so the two always agree (hour = `date_trunc('hour', event_ts,
/// 'UTC')`, as the snapshot's drift section reads it).
pub(crate) async fn refresh_stats(
    client: &mut Transaction<'_>,
    hours: &[CycleTs],
) -> Result<u64, PipelineError> {
    let db = |e| PipelineError::db("kcg.prediction_stats_hourly", e);
    let tx = client.transaction().await.map_err(db)?;
    tx.execute(
        "DELETE FROM kcg.prediction_stats_hourly WHERE hour = ANY($1)",
        &[&hours],
    )
    .await
    .map_err(db)?;
    let n = tx
        .execute(
            "INSERT INTO kcg.prediction_stats_hourly (hour, category, event_count, updated_at) \
             SELECT date_trunc('hour', event_ts, 'UTC') AS hour, category, count(*), now() \
             FROM kcg.prediction_events \
             WHERE event_ts >= $2 AND event_ts < $3 AND date_trunc('hour', event_ts, 'UTC') = ANY($1) \
             GROUP BY 1, 2",
            &[
                &hours,
                &hours.first().copied().unwrap_or_default(),
                &hours.last().map(|h| *h + TimeDelta::hours(1)).unwrap_or_default(),
            ],
        )
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(n)
}
