-- One row per cycle: the latest attempt to run it, and whether the rows now
-- stored for it come from a whole, committed run.
--
-- The pipeline writes it three times per run: RUNNING in a short
-- transaction of its own as the run starts (so a run that was killed leaves
-- a trace), then OK in the cycle's own transaction, together with every row
-- of the cycle, or FAILED in the transaction that rolled the cycle's writes
-- back. `committed_at` is when the rows now stored for the cycle were
-- committed: a failed or killed rerun leaves the earlier run's rows, and its
-- `committed_at`, in place. `runner serve` reads the table to find the
-- ticks it missed (no OK row) and runs them late, as `catch-up`.
CREATE TABLE kcg.prediction_cycles (
    cycle_ts      TIMESTAMPTZ PRIMARY KEY,
    status        VARCHAR(16) NOT NULL
        CONSTRAINT prediction_cycles_status_check
        CHECK (status IN ('RUNNING', 'OK', 'FAILED')),
    run_by        VARCHAR(16) NOT NULL
        CONSTRAINT prediction_cycles_run_by_check
        CHECK (run_by IN ('serve', 'cycle', 'replay', 'catch-up')),
    -- host:pid:start of the process, as in kcg.runner_lease.holder.
    runner        TEXT NOT NULL,
    -- The serve lease epoch the run held (NULL: cycle and replay hold none).
    leader_epoch  BIGINT,
    -- Runs started for this cycle so far (killed, failed and OK ones).
    attempts      INTEGER NOT NULL DEFAULT 1
        CONSTRAINT prediction_cycles_attempts_check CHECK (attempts > 0),
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    -- How long after its tick a scheduled run started (serve, catch-up).
    late_by_ms    DOUBLE PRECISION,
    failed_stage  SMALLINT,
    detail        TEXT,
    committed_at  TIMESTAMPTZ,
    CONSTRAINT prediction_cycles_finished_check
        CHECK ((status = 'RUNNING') = (finished_at IS NULL)),
    CONSTRAINT prediction_cycles_failed_stage_check
        CHECK ((status = 'FAILED') = (failed_stage IS NOT NULL)),
    CONSTRAINT prediction_cycles_committed_check
        CHECK (status <> 'OK' OR committed_at IS NOT NULL)
);

-- Where serve's schedule starts: the first tick it ever ran.
CREATE INDEX prediction_cycles_scheduled
    ON kcg.prediction_cycles (cycle_ts)
    WHERE run_by IN ('serve', 'catch-up');
