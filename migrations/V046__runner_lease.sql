-- Leadership by lease: the `runner serve` replica named in `holder` runs the
-- cycles until `expires_at`, and renews it while it makes progress. Every
-- time is the database's clock_timestamp(), never a replica's clock. A
-- takeover (only once the lease expired) increments `epoch`; a cycle checks
-- its epoch in its own transaction just before COMMIT, so a leader that lost
-- the lease writes nothing.
CREATE TABLE kcg.runner_lease (
    name         VARCHAR(64) PRIMARY KEY,
    holder       TEXT NOT NULL,
    epoch        BIGINT NOT NULL
        CONSTRAINT runner_lease_epoch_check CHECK (epoch > 0),
    acquired_at  TIMESTAMPTZ NOT NULL,
    renewed_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
