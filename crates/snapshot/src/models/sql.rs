//! The section's SQL. Every result column has a name, and decoding reads
//! columns by name.

// Roles are ordered by `kcg.role_rank` (migration V036), the one
// definition of PRIMARY, CHALLENGER, SHADOW that every query shares.

pub(super) const ACTIVE: &str = "
SELECT v.model_id, v.role, v.version, v.id, m.is_enabled
FROM kcg.detection_model_versions v
JOIN kcg.detection_models m ON m.model_id = v.model_id
WHERE v.status = 'ACTIVE'
ORDER BY v.model_id, kcg.role_rank(v.role), v.id";

pub(super) const TOTALS: &str = "
SELECT count(*) AS total,
       count(*) FILTER (WHERE status = 'OK') AS ok,
       count(*) FILTER (WHERE status = 'FAILED') AS failed,
       count(*) FILTER (WHERE status = 'TIMEOUT') AS timeout,
       count(*) FILTER (WHERE status = 'SKIPPED') AS skipped,
       count(*) FILTER (WHERE origin = 'BACKTEST') AS backtest,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE status <> 'SKIPPED') AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE status <> 'SKIPPED') AS p95,
       (avg(output_count) FILTER (WHERE status = 'OK'))::float8 AS outputs,
       coalesce(sum(dropped_metric_count), 0)::bigint AS dropped
FROM kcg.detection_model_runs
WHERE cycle_ts >= $1 AND cycle_ts < $2";

// Stage 1 records its count first in its detail (`18438 positions in
// (...]`, pipeline's load_window stage): the positions a cycle had. A
// cycle without that record (or a detail of another shape) counts none.
pub(super) const PER_VERSION: &str = "
WITH positions AS (
    SELECT cycle_ts, substring(detail FROM '^([0-9]+) positions')::bigint AS n
    FROM kcg.prediction_stage_timings
    WHERE stage_no = 1 AND status = 'OK' AND cycle_ts >= $1 AND cycle_ts < $2
),
r AS (
    SELECT r.model_id, r.version_id, r.role,
           count(*) AS total,
           count(*) FILTER (WHERE r.status = 'OK') AS ok,
           count(*) FILTER (WHERE r.status = 'FAILED') AS failed,
           count(*) FILTER (WHERE r.status = 'TIMEOUT') AS timeout,
           count(*) FILTER (WHERE r.status = 'SKIPPED') AS skipped,
           count(*) FILTER (WHERE r.origin = 'BACKTEST') AS backtest,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY r.duration_ms)
               FILTER (WHERE r.status <> 'SKIPPED') AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY r.duration_ms)
               FILTER (WHERE r.status <> 'SKIPPED') AS p95,
           (avg(r.output_count) FILTER (WHERE r.status = 'OK'))::float8 AS outputs,
           coalesce(sum(r.output_count) FILTER (WHERE r.status = 'OK'), 0)::bigint AS output_rows,
           coalesce(sum(p.n) FILTER (WHERE r.status = 'OK'), 0)::bigint AS positions,
           coalesce(sum(r.dropped_metric_count), 0)::bigint AS dropped
    FROM kcg.detection_model_runs r
    LEFT JOIN positions p ON p.cycle_ts = r.cycle_ts
    WHERE r.cycle_ts >= $1 AND r.cycle_ts < $2 AND r.version_id IS NOT NULL
    GROUP BY r.model_id, r.version_id, r.role
),
m AS (
    SELECT version_id, count(*) AS n
    FROM kcg.detection_model_metrics
    WHERE cycle_ts >= $1 AND cycle_ts < $2
    GROUP BY version_id
)
SELECT r.model_id, r.version_id, v.version, r.role,
       r.total, r.ok, r.failed, r.timeout, r.skipped, r.backtest,
       r.p50, r.p95, r.outputs, r.output_rows, r.positions, r.dropped, coalesce(m.n, 0) AS metrics
FROM r
LEFT JOIN kcg.detection_model_versions v ON v.id = r.version_id
LEFT JOIN m ON m.version_id = r.version_id
ORDER BY r.model_id, kcg.role_rank(r.role), r.version_id";

pub(super) const SKIPPED: &str = "
SELECT r.model_id, v.version, r.role, coalesce(r.error, '(no reason recorded)') AS reason,
       count(*) AS runs, max(r.cycle_ts) AS last_cycle_ts
FROM kcg.detection_model_runs r
LEFT JOIN kcg.detection_model_versions v ON v.id = r.version_id
WHERE r.cycle_ts >= $1 AND r.cycle_ts < $2 AND r.status = 'SKIPPED'
GROUP BY r.model_id, v.version, r.role, reason
ORDER BY r.model_id, v.version NULLS FIRST, r.role NULLS FIRST, reason";

// Every SHADOW/CHALLENGER with runs in the window, and each PRIMARY
// version that has a run of the same model in one of its cycles: the
// pairs the section compares (with `compare`, the one comparison).
// Candidates without such a PRIMARY come with a NULL baseline.
pub(super) const PAIRS: &str = "
SELECT model_id, candidate, role, baseline
FROM (
    SELECT DISTINCT c.model_id, c.version_id AS candidate, c.role, p.version_id AS baseline
    FROM kcg.detection_model_runs c
    LEFT JOIN kcg.detection_model_runs p
           ON p.cycle_ts = c.cycle_ts AND p.model_id = c.model_id
          AND p.role = 'PRIMARY' AND p.version_id IS NOT NULL
    WHERE c.cycle_ts >= $1 AND c.cycle_ts < $2
      AND c.role IN ('SHADOW', 'CHALLENGER') AND c.version_id IS NOT NULL
) pairs
ORDER BY model_id, kcg.role_rank(role), candidate, baseline NULLS FIRST";

pub(super) const FAILED_RUNS: &str = "
SELECT r.cycle_ts, r.model_id, v.version, r.role, r.status, r.error, r.duration_ms
FROM kcg.detection_model_runs r
LEFT JOIN kcg.detection_model_versions v ON v.id = r.version_id
WHERE r.cycle_ts >= $1 AND r.cycle_ts < $2 AND r.status IN ('FAILED', 'TIMEOUT')
ORDER BY r.cycle_ts DESC, r.model_id, r.id
LIMIT $3";

pub(super) const HAS_OUTPUTS: &str = "SELECT EXISTS (SELECT 1 FROM kcg.detection_model_run_outputs WHERE cycle_ts >= $1 AND cycle_ts < $2) AS present";
pub(super) const HAS_METRICS: &str = "SELECT EXISTS (SELECT 1 FROM kcg.detection_model_metrics WHERE cycle_ts >= $1 AND cycle_ts < $2) AS present";
