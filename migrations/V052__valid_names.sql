-- Names are one line of printable text (issue 13): a model id, version
-- label, implementation name (V048), input key or metric key is refused when it is empty or blank,
-- begins or ends with whitespace, holds a control character (C0, C1) or a
-- Unicode line/paragraph separator, or has more than 64 characters. The
-- same rule as model_api's value types (`check` in crates/model-api/src/id.rs;
-- a test feeds the same strings to both), so a row written by hand in psql
-- cannot hold a name the code refuses. Whitespace is Unicode White_Space,
-- as Rust's char::is_whitespace, spelled out so the database's locale does
-- not matter.
--
-- Not STRICT, so that the planner inlines it into each CHECK (a CHECK lets
-- NULL through anyway; every one of these columns is NOT NULL).
CREATE FUNCTION kcg.is_valid_name(name text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT name <> ''
       AND char_length(name) <= 64
       AND (name COLLATE "C") !~ '[\u0001-\u001f\u007f-\u009f\u2028\u2029]|^[\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]|[\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]$'
$$;

-- The registry tables, where names come from: a bad name stops this
-- migration, naming every row (refinery runs it in one transaction, so
-- nothing is changed). Such rows were typed by hand in psql; fix them and
-- run `runner migrate` again: a version label with an UPDATE, a model id by
-- adding the corrected id, moving its versions and dependencies to it and
-- deleting the old row (README, "Names"). Refusing is safer than keeping
-- them: a model id the code refuses can never be planned, and every row
-- the executor records for it would carry the bad name on.
--
-- The audit trail (V050) gets no such CHECK: its rows copy names from
-- the registry rows, which are checked before the trigger writes, and the
-- fix above (renaming or deleting a bad row in psql) is itself recorded
-- with the bad name in old_row and model_id; a CHECK there would refuse
-- that fix.
DO $$
DECLARE
    bad text;
BEGIN
    SELECT string_agg(format('kcg.%s.%s %s (%s)', tbl, col, to_jsonb(val)::text, what), E'\n  ' ORDER BY tbl, col, val)
      INTO bad
      FROM (
        SELECT 'detection_models' AS tbl, 'model_id' AS col, model_id::text AS val, 'a model' AS what
          FROM kcg.detection_models WHERE NOT kcg.is_valid_name(model_id)
        UNION ALL
        SELECT 'detection_model_versions', 'model_id', model_id, format('version id %s', id)
          FROM kcg.detection_model_versions WHERE NOT kcg.is_valid_name(model_id)
        UNION ALL
        SELECT 'detection_model_versions', 'version', version, format('version id %s of model %s', id, to_jsonb(model_id::text))
          FROM kcg.detection_model_versions WHERE NOT kcg.is_valid_name(version)
        UNION ALL
        SELECT 'detection_model_versions', 'implementation', implementation, format('version id %s of model %s', id, to_jsonb(model_id::text))
          FROM kcg.detection_model_versions WHERE NOT kcg.is_valid_name(implementation)
        UNION ALL
        SELECT 'detection_model_dependencies', col, val,
               format('the dependency of %s on %s as %s', to_jsonb(model_id::text), to_jsonb(depends_on::text), to_jsonb(input_key::text))
          FROM kcg.detection_model_dependencies,
               LATERAL (VALUES ('model_id', model_id::text), ('depends_on', depends_on::text), ('input_key', input_key::text)) AS v(col, val)
         WHERE NOT kcg.is_valid_name(val)
      ) AS b;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            MESSAGE = E'V052 refuses names that are blank, begin or end with whitespace or hold a control character; nothing was changed. Rows to fix:\n  ' || bad,
            HINT = 'rename or delete them, then run `runner migrate` again (README, "Names")';
    END IF;
END
$$;

ALTER TABLE kcg.detection_models
    ADD CONSTRAINT detection_models_model_id_name_check CHECK (kcg.is_valid_name(model_id::text));
ALTER TABLE kcg.detection_model_versions
    ADD CONSTRAINT detection_model_versions_model_id_name_check CHECK (kcg.is_valid_name(model_id::text)),
    ADD CONSTRAINT detection_model_versions_version_name_check CHECK (kcg.is_valid_name(version::text)),
    -- NULL (the model's default implementation) passes, as in every CHECK.
    ADD CONSTRAINT detection_model_versions_implementation_name_check CHECK (kcg.is_valid_name(implementation::text));
ALTER TABLE kcg.detection_model_dependencies
    ADD CONSTRAINT detection_model_dependencies_model_id_name_check CHECK (kcg.is_valid_name(model_id::text)),
    ADD CONSTRAINT detection_model_dependencies_depends_on_name_check CHECK (kcg.is_valid_name(depends_on::text)),
    ADD CONSTRAINT detection_model_dependencies_input_key_name_check CHECK (kcg.is_valid_name(input_key::text));

-- The per-cycle records, which copy names from the registry (runs) or from
-- what a model reported (metric keys, dropped by the executor when they
-- break the rule). Old records are history and are kept: each constraint
-- is added NOT VALID (every new row is checked) and then validated, which
-- succeeds unless records of an earlier build hold such names; then it
-- stays NOT VALID, and `runner check-schema` lists it with the query that
-- finds them.
--
-- kcg.detection_model_run_outputs.model_id has no such CHECK: the
-- expression costs about 2 us per row (measured), +60 ms on a cycle's
-- 30,000 output rows, and the column only repeats the model id of the row's
-- version_id, which the executor takes from a planned, valid ModelId.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT * FROM (VALUES
            ('detection_model_runs', 'model_id'),
            ('detection_model_metrics', 'metric_key')
        ) AS t(tbl, col)
    LOOP
        EXECUTE format(
            'ALTER TABLE kcg.%I ADD CONSTRAINT %I CHECK (kcg.is_valid_name(%I::text)) NOT VALID',
            c.tbl, c.tbl || '_' || c.col || '_name_check', c.col);
        BEGIN
            EXECUTE format('ALTER TABLE kcg.%I VALIDATE CONSTRAINT %I',
                c.tbl, c.tbl || '_' || c.col || '_name_check');
        EXCEPTION WHEN check_violation THEN
            RAISE WARNING 'kcg.%.% holds names of an earlier build that break the rule; % stays NOT VALID (new rows are checked)',
                c.tbl, c.col, c.tbl || '_' || c.col || '_name_check';
        END;
    END LOOP;
END
$$;
