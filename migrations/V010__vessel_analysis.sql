-- Legacy spoofing stage output: one row per vessel per cycle.
CREATE TABLE kcg.vessel_analysis (
    cycle_ts        TIMESTAMPTZ NOT NULL,
    mmsi            BIGINT NOT NULL,
    spoofing_score  REAL NOT NULL,
    fixes           INTEGER NOT NULL,
    max_speed_kn    DOUBLE PRECISION,
    max_jump_km     DOUBLE PRECISION,
    identity_valid  BOOLEAN NOT NULL,
    vessel_name     TEXT,
    details         JSONB,
    PRIMARY KEY (cycle_ts, mmsi)
);
