CREATE TABLE kcg.prediction_stage_timings (
    cycle_ts     TIMESTAMPTZ NOT NULL,
    stage_no     SMALLINT NOT NULL,
    stage_name   VARCHAR(32) NOT NULL,
    status       VARCHAR(16) NOT NULL
        CONSTRAINT prediction_stage_timings_status_check
        CHECK (status IN ('OK', 'FAILED', 'SKIPPED')),
    duration_ms  DOUBLE PRECISION NOT NULL,
    detail       TEXT,
    recorded_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (cycle_ts, stage_no)
);
