-- The model registry: models, their versions and params, the DAG edges, and
-- what every version produced in every cycle.

CREATE TABLE kcg.detection_models (
    model_id     VARCHAR(64) PRIMARY KEY,
    description  TEXT,
    is_enabled   BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE kcg.detection_model_versions (
    id            BIGSERIAL PRIMARY KEY,
    model_id      VARCHAR(64) NOT NULL REFERENCES kcg.detection_models (model_id),
    version       VARCHAR(64) NOT NULL,
    role          VARCHAR(16) NOT NULL
        CONSTRAINT detection_model_versions_role_check
        CHECK (role IN ('PRIMARY', 'SHADOW', 'CHALLENGER')),
    status        VARCHAR(16) NOT NULL DEFAULT 'DRAFT'
        CONSTRAINT detection_model_versions_status_check
        CHECK (status IN ('DRAFT', 'ACTIVE', 'ARCHIVED')),
    params        JSONB NOT NULL DEFAULT '{}',
    timeout_ms    INTEGER
        CONSTRAINT detection_model_versions_timeout_check CHECK (timeout_ms > 0),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    activated_at  TIMESTAMPTZ,
    archived_at   TIMESTAMPTZ,
    CONSTRAINT detection_model_versions_model_version_key UNIQUE (model_id, version)
);

-- At most one ACTIVE PRIMARY per model.
CREATE UNIQUE INDEX detection_model_versions_one_active_primary
    ON kcg.detection_model_versions (model_id)
    WHERE role = 'PRIMARY' AND status = 'ACTIVE';

-- model_id consumes depends_on's PRIMARY result under the name input_key.
CREATE TABLE kcg.detection_model_dependencies (
    model_id    VARCHAR(64) NOT NULL REFERENCES kcg.detection_models (model_id),
    depends_on  VARCHAR(64) NOT NULL REFERENCES kcg.detection_models (model_id),
    input_key   VARCHAR(64) NOT NULL,
    PRIMARY KEY (model_id, depends_on, input_key),
    CONSTRAINT detection_model_dependencies_not_self CHECK (model_id <> depends_on)
);

CREATE TABLE kcg.detection_model_runs (
    id                    BIGSERIAL PRIMARY KEY,
    cycle_ts              TIMESTAMPTZ NOT NULL,
    model_id              VARCHAR(64) NOT NULL,
    -- NULL when the model was skipped before any version could be chosen
    -- (no ACTIVE PRIMARY, unknown model kind, upstream unavailable, cycle).
    version_id            BIGINT REFERENCES kcg.detection_model_versions (id),
    role                  VARCHAR(16)
        CONSTRAINT detection_model_runs_role_check
        CHECK (role IN ('PRIMARY', 'SHADOW', 'CHALLENGER')),
    status                VARCHAR(16) NOT NULL
        CONSTRAINT detection_model_runs_status_check
        CHECK (status IN ('OK', 'FAILED', 'TIMEOUT', 'SKIPPED')),
    error                 TEXT,
    started_at            TIMESTAMPTZ,
    duration_ms           DOUBLE PRECISION NOT NULL DEFAULT 0,
    output_count          INTEGER NOT NULL DEFAULT 0,
    dropped_metric_count  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX detection_model_runs_cycle_ts_idx ON kcg.detection_model_runs (cycle_ts);

-- One partition per UTC calendar month, named <table>_pYYYY_MM (pg_partman's
-- naming). Rows for a month that has no partition yet land in DEFAULT and are
-- moved out by partition maintenance. No foreign key here: the table takes
-- bulk binary COPY every cycle and a per-row FK check would dominate it.
CREATE TABLE kcg.detection_model_run_outputs (
    cycle_ts    TIMESTAMPTZ NOT NULL,
    model_id    VARCHAR(64) NOT NULL,
    version_id  BIGINT NOT NULL,
    role        VARCHAR(16) NOT NULL
        CONSTRAINT detection_model_run_outputs_role_check
        CHECK (role IN ('PRIMARY', 'SHADOW', 'CHALLENGER')),
    entity_key  TEXT NOT NULL,
    score       DOUBLE PRECISION,
    payload     JSONB,
    PRIMARY KEY (cycle_ts, version_id, entity_key)
) PARTITION BY RANGE (cycle_ts);

CREATE TABLE kcg.detection_model_run_outputs_default
    PARTITION OF kcg.detection_model_run_outputs DEFAULT;

CREATE TABLE kcg.detection_model_metrics (
    cycle_ts    TIMESTAMPTZ NOT NULL,
    version_id  BIGINT NOT NULL REFERENCES kcg.detection_model_versions (id),
    metric_key  VARCHAR(64) NOT NULL,
    value       DOUBLE PRECISION,
    PRIMARY KEY (cycle_ts, version_id, metric_key)
);

-- Every change to the registry tells listeners (runner serve) to drop their
-- params cache, including changes an operator makes by hand in psql.
CREATE FUNCTION kcg.notify_model_registry_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kcg_model_registry', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

CREATE TRIGGER detection_models_notify
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON kcg.detection_models
    FOR EACH STATEMENT EXECUTE FUNCTION kcg.notify_model_registry_change();
CREATE TRIGGER detection_model_versions_notify
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON kcg.detection_model_versions
    FOR EACH STATEMENT EXECUTE FUNCTION kcg.notify_model_registry_change();
CREATE TRIGGER detection_model_dependencies_notify
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON kcg.detection_model_dependencies
    FOR EACH STATEMENT EXECUTE FUNCTION kcg.notify_model_registry_change();
