-- The audit trail of the model registry: one row per changed row of
-- kcg.detection_models, detection_model_versions and
-- detection_model_dependencies, written by row triggers in the changing
-- transaction, so no change can skip it: registry-store's operations and
-- changes made by hand in psql alike.
--
-- registry-store names its change with two transaction-local settings
-- before it writes:
--   SELECT set_config('kcg.audit_action', 'promote', true),
--          set_config('kcg.audit_note', 'recall +4% over a day of shadow', true);
-- A change without kcg.audit_action is recorded as action 'manual' with
-- its operation (INSERT, UPDATE, DELETE, TRUNCATE) and the old and new row;
-- an action outside the CHECK below refuses the change (a typo must not
-- pass for a known action). A person in psql can give a note the same way
-- (BEGIN; SELECT set_config('kcg.audit_note', 'why', true); UPDATE ...;
-- COMMIT;).
CREATE TABLE kcg.detection_model_audit (
    id          BIGSERIAL PRIMARY KEY,
    -- The changing transaction's start (now()): the rows of one change share
    -- it, and it equals the activated_at/archived_at the change wrote.
    changed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The rows of one change share the transaction id.
    txid        BIGINT NOT NULL DEFAULT txid_current(),
    db_user     TEXT NOT NULL DEFAULT session_user,
    action      VARCHAR(32) NOT NULL
        CONSTRAINT detection_model_audit_action_check
        CHECK (action IN ('add_model', 'enable', 'disable', 'depend', 'undepend',
                          'add_version', 'promote', 'archive', 'rollback',
                          'add_reference', 'manual')),
    operation   VARCHAR(8) NOT NULL
        CONSTRAINT detection_model_audit_operation_check
        CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')),
    table_name  VARCHAR(64) NOT NULL,
    -- No foreign keys: the trail outlives what it describes.
    model_id    VARCHAR(64),
    version_id  BIGINT,
    note        TEXT,
    old_row     JSONB,
    new_row     JSONB
);
CREATE INDEX detection_model_audit_model_idx ON kcg.detection_model_audit (model_id, id);

CREATE FUNCTION kcg.audit_model_registry() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_action text := coalesce(nullif(current_setting('kcg.audit_action', true), ''), 'manual');
    v_note text := nullif(current_setting('kcg.audit_note', true), '');
    v_old jsonb;
    v_new jsonb;
    v_changed jsonb;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO kcg.detection_model_audit (action, operation, table_name, note)
        VALUES (v_action, TG_OP, TG_TABLE_NAME, v_note);
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        v_old := to_jsonb(OLD);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        v_new := to_jsonb(NEW);
    END IF;
    -- An UPDATE that changes nothing is no change.
    IF TG_OP = 'UPDATE' AND v_old = v_new THEN
        RETURN NULL;
    END IF;
    v_changed := coalesce(v_new, v_old);
    INSERT INTO kcg.detection_model_audit
        (action, operation, table_name, model_id, version_id, note, old_row, new_row)
    VALUES (v_action, TG_OP, TG_TABLE_NAME, v_changed ->> 'model_id',
            CASE WHEN TG_TABLE_NAME = 'detection_model_versions' THEN (v_changed ->> 'id')::bigint END,
            v_note, v_old, v_new);
    RETURN NULL;
END;
$$;

CREATE TRIGGER detection_models_audit
    AFTER INSERT OR UPDATE OR DELETE ON kcg.detection_models
    FOR EACH ROW EXECUTE FUNCTION kcg.audit_model_registry();
CREATE TRIGGER detection_model_versions_audit
    AFTER INSERT OR UPDATE OR DELETE ON kcg.detection_model_versions
    FOR EACH ROW EXECUTE FUNCTION kcg.audit_model_registry();
CREATE TRIGGER detection_model_dependencies_audit
    AFTER INSERT OR UPDATE OR DELETE ON kcg.detection_model_dependencies
    FOR EACH ROW EXECUTE FUNCTION kcg.audit_model_registry();
CREATE TRIGGER detection_models_audit_truncate
    AFTER TRUNCATE ON kcg.detection_models
    FOR EACH STATEMENT EXECUTE FUNCTION kcg.audit_model_registry();
CREATE TRIGGER detection_model_versions_audit_truncate
    AFTER TRUNCATE ON kcg.detection_model_versions
    FOR EACH STATEMENT EXECUTE FUNCTION kcg.audit_model_registry();
CREATE TRIGGER detection_model_dependencies_audit_truncate
    AFTER TRUNCATE ON kcg.detection_model_dependencies
    FOR EACH STATEMENT EXECUTE FUNCTION kcg.audit_model_registry();
