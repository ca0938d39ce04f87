CREATE TABLE kcg.prediction_events (
    id        BIGSERIAL PRIMARY KEY,
    cycle_ts  TIMESTAMPTZ NOT NULL,
    event_ts  TIMESTAMPTZ NOT NULL,
    category  VARCHAR(32) NOT NULL,
    mmsi      BIGINT,
    severity  VARCHAR(16) NOT NULL
        CONSTRAINT prediction_events_severity_check
        CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
    details   JSONB NOT NULL DEFAULT '{}'
);

CREATE INDEX prediction_events_cycle_ts_idx ON kcg.prediction_events (cycle_ts);
CREATE INDEX prediction_events_event_ts_idx ON kcg.prediction_events (event_ts);
