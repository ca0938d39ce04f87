-- Which implementation of its model a version runs (a catalog maps
-- (model_id, implementation) to code). NULL means the model's default
-- implementation, so every version stored before this column keeps running
-- what it ran. Same bounds as the other names of the registry: 1 to 64
-- characters.
ALTER TABLE kcg.detection_model_versions
    ADD COLUMN implementation VARCHAR(64)
        CONSTRAINT detection_model_versions_implementation_check
        CHECK (char_length(implementation) BETWEEN 1 AND 64);
