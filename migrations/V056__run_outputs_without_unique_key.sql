-- Cheaper storage of model outputs: the unique B-tree on (cycle_ts,
-- version_id, entity_key) is replaced by a plain one on (cycle_ts,
-- version_id), what every reader and every DELETE looks rows up by.
--
-- Measured on 1,000,000 rows (10 versions x 100,000 MMSI keys, one month
-- partition, server-side COPY FROM a file, PostgreSQL 15, fsync off,
-- median of 5, on 2 shared cores): first run / rerun (DELETE + COPY)
--   unique key, entity_key in a non-C collation (en-US ICU): 5.8 s / 11.9 s
--   unique key, entity_key COLLATE "C":                      3.7 s /  9.5 s
--   plain index on (cycle_ts, version_id):                   2.8 s /  3.9 s
--   no index at all (a floor, not an option):                1.6 s /  2.0 s
-- A unique check on a rerun also visits every dead entry the DELETE left.
--
-- Uniqueness of (cycle_ts, version_id, entity_key) is the executor's
-- (dag-exec): a result with an entity_key twice fails its version before
-- anything is stored, and every persist deletes what it replaces (the
-- cycle, or for a backtest the version's rows of it) in the same
-- transaction, under the cycle's advisory lock, before it copies. The
-- test `no_output_key_is_ever_stored_twice` (dag-exec) holds it to that.
-- The index is created on the parent and so on every partition, present
-- and future (partitions' own and pg_partman's alike).
ALTER TABLE kcg.detection_model_run_outputs
    DROP CONSTRAINT detection_model_run_outputs_pkey;
CREATE INDEX detection_model_run_outputs_cycle_version_idx
    ON kcg.detection_model_run_outputs (cycle_ts, version_id);
