-- kcg.ais_positions partitioned by UTC day on ts (issue 17): at ~100M
-- reports a day, a cycle's window query and the retention both need
-- partitions. Same columns, same indexes; the existing rows move into one
-- partition per UTC day they cover, named like the partitions crate names
-- them (ais_positions_pYYYY_MM_DD, pg_partman's daily naming) with exactly
-- that day's bounds, so `partitions maintain` recognises them. A row no day
-- partition can hold (before year 1 or from year 10000 on) lands in DEFAULT.
-- Runs in refinery's transaction: either all of this happens or none.

ALTER TABLE kcg.ais_positions RENAME TO ais_positions_unpartitioned;
ALTER INDEX kcg.ais_positions_ts_idx RENAME TO ais_positions_unpartitioned_ts_idx;
ALTER INDEX kcg.ais_positions_mmsi_ts_idx RENAME TO ais_positions_unpartitioned_mmsi_ts_idx;

CREATE TABLE kcg.ais_positions (
    mmsi              BIGINT NOT NULL,
    ts                TIMESTAMPTZ NOT NULL,
    lat               DOUBLE PRECISION NOT NULL,
    lon               DOUBLE PRECISION NOT NULL,
    sog               REAL,
    cog               REAL,
    heading           REAL,
    vessel_name       TEXT,
    imo               TEXT,
    call_sign         TEXT,
    vessel_type       INTEGER,
    status            INTEGER,
    length            REAL,
    width             REAL,
    draft             REAL,
    cargo             INTEGER,
    transceiver_class TEXT,
    -- kcg.ais_ingested_files.id, written in the same transaction as the
    -- ledger row. No FOREIGN KEY: its per-row check cost 40% of ingest time.
    source_file_id    BIGINT NOT NULL
) PARTITION BY RANGE (ts);

CREATE TABLE kcg.ais_positions_default PARTITION OF kcg.ais_positions DEFAULT;

DO $$
DECLARE
    d date;
BEGIN
    FOR d IN
        SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date
        FROM kcg.ais_positions_unpartitioned
        WHERE ts >= '0001-01-01 00:00:00+00' AND ts < '10000-01-01 00:00:00+00'
    LOOP
        EXECUTE format(
            'CREATE TABLE kcg.%I PARTITION OF kcg.ais_positions FOR VALUES FROM (%L) TO (%L)',
            'ais_positions_p' || to_char(d, 'YYYY_MM_DD'),
            to_char(d, 'YYYY-MM-DD') || ' 00:00:00+00',
            to_char(d + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
    END LOOP;
END
$$;

INSERT INTO kcg.ais_positions SELECT * FROM kcg.ais_positions_unpartitioned;
DROP TABLE kcg.ais_positions_unpartitioned;

-- Built after the move (one build per partition, not row by row). Created on
-- the parent, so every partition made later gets them too.
-- "window by time": every cycle reads (cycle_ts - window, cycle_ts]; within
-- the one or two day partitions the window touches.
CREATE INDEX ais_positions_ts_idx ON kcg.ais_positions (ts);
-- per vessel, and ingest's "already present?" probe on (mmsi, ts, lat, lon).
CREATE INDEX ais_positions_mmsi_ts_idx ON kcg.ais_positions (mmsi, ts);
