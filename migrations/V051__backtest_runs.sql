-- Where a run record comes from: LIVE (a prediction cycle, the default, so
-- the cycle's own COPY needs no change) or BACKTEST (`runner versions
-- backtest`: one version recomputed over stored history). Operators and the
-- snapshot tell the two apart by this column; a backtest never replaces a
-- LIVE record (dag-exec checks under the cycle lock).
ALTER TABLE kcg.detection_model_runs
    ADD COLUMN origin VARCHAR(16) NOT NULL DEFAULT 'LIVE'
        CONSTRAINT detection_model_runs_origin_check
        CHECK (origin IN ('LIVE', 'BACKTEST'));

-- A version's runs over a window: the comparison, the gate and the
-- backtest's live-run check read runs by version.
CREATE INDEX detection_model_runs_version_cycle_idx
    ON kcg.detection_model_runs (version_id, cycle_ts);
