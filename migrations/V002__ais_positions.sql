-- Raw AIS position reports (MarineCadastre columns) and the ledger of ingested
-- files. A file's rows and its ledger row are written in one transaction, so a
-- file is either wholly present (and recognised by its hash) or absent.
CREATE TABLE kcg.ais_ingested_files (
    id            BIGSERIAL PRIMARY KEY,
    sha256        CHAR(64) NOT NULL UNIQUE,
    file_name     TEXT NOT NULL,
    rows_read     BIGINT NOT NULL,
    rows_loaded   BIGINT NOT NULL,
    rows_skipped  BIGINT NOT NULL,
    ingested_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

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
);

-- "window by time": every cycle reads (cycle_ts - window, cycle_ts].
CREATE INDEX ais_positions_ts_idx ON kcg.ais_positions (ts);
CREATE INDEX ais_positions_mmsi_ts_idx ON kcg.ais_positions (mmsi, ts);
