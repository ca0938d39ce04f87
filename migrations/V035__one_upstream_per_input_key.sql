-- A model reads each input key from exactly one upstream: two upstreams
-- under one key would make one of the two results silently unreachable.
-- The registry also leaves such a model out; this makes the database refuse
-- the second edge in the first place.
ALTER TABLE kcg.detection_model_dependencies
    ADD CONSTRAINT detection_model_dependencies_one_upstream_per_key UNIQUE (model_id, input_key);
