//! The comparison's SQL. Every result column has a name, and decoding reads
//! columns by name.

/// A version by id: `$1`.
pub(super) const VERSION: &str = "
SELECT id, model_id::text AS model_id, version::text AS version, role::text AS role,
       status::text AS status
FROM kcg.detection_model_versions
WHERE id = $1";

/// The ACTIVE PRIMARY of model `$1`.
pub(super) const ACTIVE_PRIMARY: &str = "
SELECT id, model_id::text AS model_id, version::text AS version, role::text AS role,
       status::text AS status
FROM kcg.detection_model_versions
WHERE model_id = $1 AND role = 'PRIMARY' AND status = 'ACTIVE'
ORDER BY id
LIMIT 1";

/// Runs of versions `$1` and `$2` with `$3 <= cycle_ts < $4`, by status.
pub(super) const RUNS: &str = "
SELECT version_id,
       count(*) AS total,
       count(*) FILTER (WHERE status = 'OK') AS ok,
       count(*) FILTER (WHERE status = 'FAILED') AS failed,
       count(*) FILTER (WHERE status = 'TIMEOUT') AS timeout,
       count(*) FILTER (WHERE status = 'SKIPPED') AS skipped,
       count(*) FILTER (WHERE origin = 'BACKTEST') AS backtest
FROM kcg.detection_model_runs
WHERE version_id IN ($1, $2) AND cycle_ts >= $3 AND cycle_ts < $4
GROUP BY version_id";

/// The newest cycle of a run of version `$1` with `cycle_ts <= $2`, and
/// whether it has one in the 24 hours up to `$2`.
pub(super) const NEWEST_CYCLE: &str = "
SELECT max(cycle_ts) AS newest,
       coalesce(bool_or(cycle_ts >= $2::timestamptz - interval '24 hours'), false) AS recent
FROM kcg.detection_model_runs
WHERE version_id = $1 AND cycle_ts <= $2";

/// The compared entity-cycles of candidate `$1` and baseline `$2` (both of
/// model `$3`) over the cycles `$4 <= cycle_ts < $5` where both have an
/// `OK` run, with flags at `score >= $6`: the CTEs every query of the
/// comparison starts with ([`COMPARE`], [`PER_CYCLE`], [`SCORE_PAIRS`]),
/// so the figures, the per-cycle series and the score pairs can never
/// define an entity, a missing score or a flag differently.
///
/// Per cycle the two versions' rows are full-joined on `entity_key` inside
/// a LATERAL subquery (one cycle's rows at a time, read by the
/// `(cycle_ts, version_id)` index of V056; a window-wide join spills to
/// disk on a day of outputs). A missing row, like a `NULL` (non-finite) score, is a score of 0. The *entities*
/// compared (`active`) are the entity-cycles at least one version scored
/// non-zero, so a zero-score row and a missing row weigh the same
/// everywhere. `upstream` is the models `$3` depends on, transitively.
macro_rules! compared {
    () => {
        r#"
WITH RECURSIVE upstream(model_id) AS (
    SELECT d.depends_on FROM kcg.detection_model_dependencies d WHERE d.model_id = $3
    UNION
    SELECT d.depends_on
    FROM kcg.detection_model_dependencies d
    JOIN upstream u ON d.model_id = u.model_id
),
cycles AS (
    SELECT c.cycle_ts
    FROM kcg.detection_model_runs c
    JOIN kcg.detection_model_runs b ON b.cycle_ts = c.cycle_ts
    WHERE c.version_id = $1 AND c.status = 'OK'
      AND b.version_id = $2 AND b.status = 'OK'
      AND c.cycle_ts >= $4 AND c.cycle_ts < $5
    GROUP BY c.cycle_ts
),
e AS (
    SELECT k.cycle_ts, x.entity_key, x.in_c, x.in_b,
           coalesce(x.c, 0) AS c, coalesce(x.b, 0) AS b
    FROM cycles k
    CROSS JOIN LATERAL (
        SELECT entity_key, c.score AS c, b.score AS b,
               c.entity_key IS NOT NULL AS in_c, b.entity_key IS NOT NULL AS in_b
        FROM (SELECT o.entity_key, o.score FROM kcg.detection_model_run_outputs o
               WHERE o.cycle_ts = k.cycle_ts AND o.version_id = $1) c
        FULL JOIN (SELECT o.entity_key, o.score FROM kcg.detection_model_run_outputs o
                    WHERE o.cycle_ts = k.cycle_ts AND o.version_id = $2) b USING (entity_key)
    ) x
),
active AS (
    SELECT e.*, e.b >= $6 AS b_flag, e.c >= $6 AS c_flag
    FROM e
    WHERE e.c <> 0 OR e.b <> 0
)"#
    };
}

/// The figures of [`compared!`]'s comparison and its `$7` most divergent
/// entities.
///
/// The *population* of a cycle is the larger of the two versions' stored
/// rows together and the largest `output_count` of the cycle's `OK` runs of
/// either version or of a PRIMARY of a model upstream of `$3` (by today's
/// dependency edges): what the model was shown.
///
/// One row with the figures (the `top_*` columns `NULL`), or one row per
/// divergent entity, most divergent first, each carrying the figures.
pub(super) const COMPARE: &str = concat!(
    compared!(),
    r#",
stored AS (
    SELECT cycle_ts, count(*) AS n,
           count(*) FILTER (WHERE in_c) AS cand_n,
           count(*) FILTER (WHERE in_b) AS base_n,
           count(*) FILTER (WHERE in_c AND in_b) AS shared_n
    FROM e GROUP BY cycle_ts
),
widest AS (
    SELECT r.cycle_ts, max(r.output_count) AS n
    FROM kcg.detection_model_runs r
    JOIN cycles k ON k.cycle_ts = r.cycle_ts
    WHERE r.status = 'OK'
      AND (r.version_id IN ($1, $2)
           OR (r.role = 'PRIMARY' AND r.model_id IN (SELECT model_id FROM upstream)))
    GROUP BY r.cycle_ts
),
totals AS (
    SELECT count(*) AS cycles,
           coalesce(sum(greatest(coalesce(s.n, 0), coalesce(w.n, 0))), 0)::bigint AS population,
           coalesce(sum(s.base_n), 0)::bigint AS baseline_rows,
           coalesce(sum(s.cand_n), 0)::bigint AS candidate_rows,
           coalesce(sum(s.shared_n), 0)::bigint AS shared_rows
    FROM cycles k
    LEFT JOIN stored s ON s.cycle_ts = k.cycle_ts
    LEFT JOIN widest w ON w.cycle_ts = k.cycle_ts
),
flags AS (
    SELECT count(*) AS entities,
           count(*) FILTER (WHERE b_flag AND c_flag) AS both_flag,
           count(*) FILTER (WHERE b_flag AND NOT c_flag) AS only_baseline,
           count(*) FILTER (WHERE NOT b_flag AND c_flag) AS only_candidate,
           coalesce(sum(abs(c - b)), 0)::float8 AS abs_diff
    FROM active
),
divergent AS (
    SELECT DISTINCT ON (entity_key)
           entity_key, cycle_ts, b, c, abs(c - b) AS d,
           count(*) OVER (PARTITION BY entity_key) AS diverging_cycles
    FROM active
    WHERE c <> b
    ORDER BY entity_key, abs(c - b) DESC, cycle_ts DESC
)
SELECT t.cycles, t.population, t.baseline_rows, t.candidate_rows, t.shared_rows,
       f.entities, f.both_flag, f.only_baseline, f.only_candidate, f.abs_diff,
       top.entity_key AS top_entity, top.cycle_ts AS top_cycle_ts,
       top.b::float8 AS top_baseline, top.c::float8 AS top_candidate,
       top.d::float8 AS top_diff, top.diverging_cycles AS top_cycles
FROM totals t
CROSS JOIN flags f
LEFT JOIN LATERAL (
    SELECT * FROM divergent ORDER BY d DESC, entity_key COLLATE "C" LIMIT $7
) top ON true
ORDER BY top.d DESC, top.entity_key COLLATE "C"
"#
);

/// [`compared!`]'s comparison one compared cycle at a time, oldest first:
/// the counts [`COMPARE`] sums over the window.
pub(super) const PER_CYCLE: &str = concat!(
    compared!(),
    "
SELECT k.cycle_ts,
       count(a.cycle_ts) AS entities,
       count(*) FILTER (WHERE a.b_flag AND NOT a.c_flag) AS only_baseline,
       count(*) FILTER (WHERE NOT a.b_flag AND a.c_flag) AS only_candidate,
       coalesce(sum(abs(a.c - a.b)), 0)::float8 AS abs_diff
FROM cycles k
LEFT JOIN active a ON a.cycle_ts = k.cycle_ts
GROUP BY k.cycle_ts
ORDER BY k.cycle_ts
"
);

/// [`compared!`]'s entities as `(baseline, candidate)` score pairs rounded
/// to 0.01, with how many entity-cycles share each, the `$7` most frequent
/// first (ties by the scores).
pub(super) const SCORE_PAIRS: &str = concat!(
    compared!(),
    "
SELECT round(b::numeric, 2)::float8 AS baseline_score,
       round(c::numeric, 2)::float8 AS candidate_score,
       count(*) AS n
FROM active
GROUP BY 1, 2
ORDER BY n DESC, baseline_score, candidate_score
LIMIT $7
"
);
