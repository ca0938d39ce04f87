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
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE status <> 'SKIPPED') AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE status <> 'SKIPPED') AS p95,
       (avg(output_count) FILTER (WHERE status = 'OK'))::float8 AS outputs,
       coalesce(sum(dropped_metric_count), 0)::bigint AS dropped
FROM kcg.detection_model_runs
WHERE cycle_ts >= $1 AND cycle_ts < $2";

pub(super) const PER_VERSION: &str = "
WITH r AS (
    SELECT r.model_id, r.version_id, r.role,
           count(*) AS total,
           count(*) FILTER (WHERE r.status = 'OK') AS ok,
           count(*) FILTER (WHERE r.status = 'FAILED') AS failed,
           count(*) FILTER (WHERE r.status = 'TIMEOUT') AS timeout,
           count(*) FILTER (WHERE r.status = 'SKIPPED') AS skipped,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY r.duration_ms)
               FILTER (WHERE r.status <> 'SKIPPED') AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY r.duration_ms)
               FILTER (WHERE r.status <> 'SKIPPED') AS p95,
           (avg(r.output_count) FILTER (WHERE r.status = 'OK'))::float8 AS outputs,
           coalesce(sum(r.dropped_metric_count), 0)::bigint AS dropped
    FROM kcg.detection_model_runs r
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
       r.total, r.ok, r.failed, r.timeout, r.skipped,
       r.p50, r.p95, r.outputs, r.dropped, coalesce(m.n, 0) AS metrics
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

// Per paired cycle, the two versions' outputs are joined inside a LATERAL
// subquery: each join is one cycle's worth of rows, read in primary-key
// order, instead of one window-wide join that spills to disk on a day of
// outputs (measured: 1.7 M output rows, 7 s -> about 3 s).
pub(super) const COMPARISONS: &str = "
WITH runs AS (
    SELECT cycle_ts, model_id, version_id, role, status
    FROM kcg.detection_model_runs
    WHERE cycle_ts >= $1 AND cycle_ts < $2 AND version_id IS NOT NULL
),
candidates AS (
    SELECT DISTINCT model_id, version_id, role
    FROM runs WHERE role IN ('SHADOW', 'CHALLENGER')
),
pairs AS (
    SELECT DISTINCT c.version_id AS cand_id, c.role AS cand_role,
           p.version_id AS prim_id, c.cycle_ts
    FROM runs c
    JOIN runs p ON p.cycle_ts = c.cycle_ts AND p.model_id = c.model_id
    WHERE c.role IN ('SHADOW', 'CHALLENGER') AND c.status = 'OK'
      AND p.role = 'PRIMARY' AND p.status = 'OK'
),
per_cycle AS (
    SELECT pr.cand_id, pr.cand_role, pr.cycle_ts,
           (SELECT count(*) FROM kcg.detection_model_run_outputs o
             WHERE o.cycle_ts = pr.cycle_ts AND o.version_id = pr.prim_id) AS prim_n,
           (SELECT count(*) FROM kcg.detection_model_run_outputs o
             WHERE o.cycle_ts = pr.cycle_ts AND o.version_id = pr.cand_id) AS cand_n,
           s.shared_n, s.scored_n, s.abs_diff, s.agree_n
    FROM pairs pr
    CROSS JOIN LATERAL (
        SELECT count(*) AS shared_n,
               count(*) FILTER (WHERE c.score IS NOT NULL AND p.score IS NOT NULL) AS scored_n,
               sum(abs(c.score - p.score)) AS abs_diff,
               count(*) FILTER (WHERE (c.score >= 0.5) = (p.score >= 0.5)) AS agree_n
        FROM kcg.detection_model_run_outputs c
        JOIN kcg.detection_model_run_outputs p ON p.entity_key = c.entity_key
        WHERE c.cycle_ts = pr.cycle_ts AND c.version_id = pr.cand_id
          AND p.cycle_ts = pr.cycle_ts AND p.version_id = pr.prim_id
    ) s
),
stats AS (
    SELECT cand_id, cand_role,
           count(DISTINCT cycle_ts) AS cycles,
           sum(prim_n)::bigint AS prim_n,
           sum(cand_n)::bigint AS cand_n,
           sum(shared_n)::bigint AS shared_n,
           sum(scored_n) AS scored_n,
           sum(abs_diff) AS abs_diff,
           sum(agree_n) AS agree_n
    FROM per_cycle
    GROUP BY cand_id, cand_role
)
SELECT c.model_id, c.version_id, v.version, c.role,
       coalesce(s.cycles, 0) AS cycles,
       coalesce(s.prim_n, 0) AS primary_entities,
       coalesce(s.cand_n, 0) AS candidate_entities,
       coalesce(s.shared_n, 0) AS shared_entities,
       CASE WHEN s.prim_n + s.cand_n - s.shared_n > 0
            THEN s.shared_n::float8 / (s.prim_n + s.cand_n - s.shared_n) END AS overlap,
       CASE WHEN s.scored_n > 0 THEN s.abs_diff / s.scored_n END AS mean_abs_score_diff,
       CASE WHEN s.scored_n > 0 THEN s.agree_n::float8 / s.scored_n END AS agreement_at_0_5
FROM candidates c
LEFT JOIN stats s ON s.cand_id = c.version_id AND s.cand_role = c.role
LEFT JOIN kcg.detection_model_versions v ON v.id = c.version_id
ORDER BY c.model_id, kcg.role_rank(c.role), c.version_id";

pub(super) const FAILED_RUNS: &str = "
SELECT r.cycle_ts, r.model_id, v.version, r.role, r.status, r.error, r.duration_ms
FROM kcg.detection_model_runs r
LEFT JOIN kcg.detection_model_versions v ON v.id = r.version_id
WHERE r.cycle_ts >= $1 AND r.cycle_ts < $2 AND r.status IN ('FAILED', 'TIMEOUT')
ORDER BY r.cycle_ts DESC, r.model_id, r.id
LIMIT $3";

pub(super) const HAS_OUTPUTS: &str = "SELECT EXISTS (SELECT 1 FROM kcg.detection_model_run_outputs WHERE cycle_ts >= $1 AND cycle_ts < $2) AS present";
pub(super) const HAS_METRICS: &str = "SELECT EXISTS (SELECT 1 FROM kcg.detection_model_metrics WHERE cycle_ts >= $1 AND cycle_ts < $2) AS present";
