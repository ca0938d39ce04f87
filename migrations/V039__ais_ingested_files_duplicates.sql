-- Ingest is idempotent by content (issue 13): a row whose (mmsi, ts, lat,
-- lon) is already stored from an earlier file is not stored again. The
-- ledger keeps every ingested file for provenance, with how many of its rows
-- were such duplicates, so that rows_read = rows_loaded + rows_skipped +
-- rows_duplicate on every row.
ALTER TABLE kcg.ais_ingested_files
    ADD COLUMN rows_duplicate BIGINT NOT NULL DEFAULT 0;
ALTER TABLE kcg.ais_ingested_files
    ADD CONSTRAINT ais_ingested_files_counts_add_up
    CHECK (rows_read = rows_loaded + rows_skipped + rows_duplicate);
