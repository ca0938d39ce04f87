-- What a cycle carries to the next (issue 14): per vessel the last accepted
-- fix of its track (site 0) and the last fix of every other place it was
-- confirmed at (site 1.., an open collision's other positions), so a jump
-- across a window boundary is seen and a restarted runner continues where
-- it stopped. Written by stage 3 of the cycle; a rerun of a cycle replaces
-- that cycle's rows. A cycle reads, per MMSI, the rows of the latest cycle
-- before it within a bounded lookback.
CREATE TABLE kcg.vessel_track_state (
    cycle_ts  TIMESTAMPTZ NOT NULL,
    mmsi      BIGINT NOT NULL,
    site      SMALLINT NOT NULL
        CONSTRAINT vessel_track_state_site_check CHECK (site >= 0),
    ts        TIMESTAMPTZ NOT NULL,
    lat       DOUBLE PRECISION NOT NULL,
    lon       DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (cycle_ts, mmsi, site)
);
