-- Sparse outputs: a version stores only the rows its output policy keeps
-- (model_api::OutputPolicy, declared by the model kind, overridden by the
-- version's params key "_output"). output_count stays the number of rows
-- the model returned; omitted_count is how many of them were not stored.
-- Every reader takes an omitted row of an OK run as score 0, which is also
-- what a stored zero-score row without payload means.
ALTER TABLE kcg.detection_model_runs
    ADD COLUMN omitted_count INTEGER NOT NULL DEFAULT 0
        CONSTRAINT detection_model_runs_omitted_count_check
        CHECK (omitted_count >= 0 AND omitted_count <= output_count);
