-- One OPEN row per colliding identity, moved forward while it recurs and
-- RESOLVED when it stops recurring.
CREATE TABLE kcg.gear_identity_collisions (
    id               BIGSERIAL PRIMARY KEY,
    mmsi             BIGINT NOT NULL,
    first_seen       TIMESTAMPTZ NOT NULL,
    last_seen        TIMESTAMPTZ NOT NULL,
    severity         VARCHAR(16) NOT NULL
        CONSTRAINT gear_identity_collisions_severity_check
        CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
    status           VARCHAR(16) NOT NULL DEFAULT 'OPEN'
        CONSTRAINT gear_identity_collisions_status_check
        CHECK (status IN ('OPEN', 'RESOLVED')),
    max_distance_km  DOUBLE PRECISION NOT NULL,
    occurrences      INTEGER NOT NULL DEFAULT 1,
    resolved_at      TIMESTAMPTZ,
    details          JSONB NOT NULL DEFAULT '{}'
);

CREATE UNIQUE INDEX gear_identity_collisions_one_open
    ON kcg.gear_identity_collisions (mmsi) WHERE status = 'OPEN';
CREATE INDEX gear_identity_collisions_last_seen_idx
    ON kcg.gear_identity_collisions (last_seen);
