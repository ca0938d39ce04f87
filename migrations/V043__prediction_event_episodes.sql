-- Episodes, not windows (issue 14): a finding that continues from one cycle
-- to the next updates its event instead of inserting a new one. cycle_ts is
-- the cycle that opened the episode and event_ts when it was first seen
-- (the hour it counts in, in prediction_stats_hourly); these columns say how
-- far it went. They may be NULL, as in rows written before this migration
-- or by other writers that know only the columns of SPEC §3: such a row is
-- a one-cycle episode (last_cycle_ts = cycle_ts, last_seen = event_ts).
ALTER TABLE kcg.prediction_events
    ADD COLUMN last_cycle_ts TIMESTAMPTZ,
    ADD COLUMN last_seen     TIMESTAMPTZ,
    ADD COLUMN occurrences   INTEGER NOT NULL DEFAULT 1,
    ADD COLUMN worst_value   DOUBLE PRECISION;

-- A cycle looks up the episodes of its findings' MMSIs.
CREATE INDEX prediction_events_episode_idx
    ON kcg.prediction_events (mmsi, category, cycle_ts);
