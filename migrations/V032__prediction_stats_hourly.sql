CREATE TABLE kcg.prediction_stats_hourly (
    hour         TIMESTAMPTZ NOT NULL,
    category     VARCHAR(32) NOT NULL,
    event_count  BIGINT NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (hour, category)
);
