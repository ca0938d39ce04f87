//! `cache_hit_ns`: one `ParamsCache::get` on a fresh cache (median of 7
//! batches of 1,000,000). `reload_1000_versions_ms`: a forced reload of
//! 1,000 ACTIVE versions (250 models, a PRIMARY, a CHALLENGER and two
//! SHADOWs each, 10-field params) and 500 edges from PostgreSQL (median of
//! 31); baseline `reload_baseline_select_ms`: a plain `SELECT` of the same
//! version rows, undecoded. Needs `DATABASE_URL` (a throwaway database is
//! created from the migrated template).

use std::hint::black_box;
use std::time::{Duration, Instant};

use params_cache::ParamsCache;
use test_support::TestDb;

const RUNS: usize = 31;
const HIT_BATCHES: usize = 7;
const HITS_PER_BATCH: u32 = 1_000_000;

const SEED_SQL: &str = r#"
INSERT INTO kcg.detection_models (model_id, description)
SELECT format('model_%s', lpad(m::text, 3, '0')), 'bench model'
  FROM generate_series(0, 249) AS m;

INSERT INTO kcg.detection_model_versions (model_id, version, role, status, params, timeout_ms, activated_at)
SELECT format('model_%s', lpad(m::text, 3, '0')),
       format('1.%s.0', v),
       (ARRAY['PRIMARY', 'CHALLENGER', 'SHADOW', 'SHADOW'])[v + 1],
       'ACTIVE',
       (SELECT jsonb_object_agg(format('threshold_%s', k), k * 0.1 + v) FROM generate_series(1, 10) AS k),
       CASE WHEN v = 0 THEN 2000 END,
       now()
  FROM generate_series(0, 249) AS m, generate_series(0, 3) AS v;

INSERT INTO kcg.detection_model_dependencies (model_id, depends_on, input_key)
SELECT format('model_%s', lpad(m::text, 3, '0')),
       format('model_%s', lpad((m - d)::text, 3, '0')),
       format('in_%s', d)
  FROM generate_series(3, 249) AS m, generate_series(1, 3) AS d
 LIMIT 500;
"#;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |figure: &str| filter.as_deref().is_none_or(|f| figure.contains(f));
    let figures = [
        "cache_hit_ns",
        "reload_1000_versions_ms",
        "reload_baseline_select_ms",
    ];
    if !figures.iter().any(|f| wanted(f)) {
        return;
    }
    if std::env::var_os("DATABASE_URL").is_none() {
        eprintln!("params-cache bench skipped: DATABASE_URL is not set");
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let db = TestDb::new().await;
        let client = db.client().await;
        client
            .batch_execute(SEED_SQL)
            .await
            .expect("seed the registry");
        let cache = ParamsCache::default();
        let loaded = cache.force_reload(&client).await.expect("load");
        assert_eq!(loaded.versions.len(), 1000);
        assert_eq!(loaded.edges.len(), 500);

        if wanted("cache_hit_ns") {
            let mut batches = Vec::with_capacity(HIT_BATCHES);
            for _ in 0..HIT_BATCHES {
                let start = Instant::now();
                for _ in 0..HITS_PER_BATCH {
                    black_box(cache.get(&client).await.expect("hit"));
                }
                batches.push(start.elapsed().as_secs_f64() * 1e9 / f64::from(HITS_PER_BATCH));
            }
            assert_eq!(cache.load_count(), 1, "the hits must not have queried");
            println!("cache_hit_ns: {:.1}", median(batches));
        }
        if wanted("reload_1000_versions_ms") {
            let mut samples = Vec::with_capacity(RUNS);
            for _ in 0..RUNS {
                let start = Instant::now();
                black_box(cache.force_reload(&client).await.expect("reload"));
                samples.push(ms(start.elapsed()));
            }
            println!("reload_1000_versions_ms: {:.3}", median(samples));
        }
        if wanted("reload_baseline_select_ms") {
            let mut samples = Vec::with_capacity(RUNS);
            for _ in 0..RUNS {
                let start = Instant::now();
                let rows = client
                    .query(
                        "SELECT id, model_id, version, role, params, timeout_ms \
                           FROM kcg.detection_model_versions WHERE status = 'ACTIVE'",
                        &[],
                    )
                    .await
                    .expect("baseline select");
                black_box(rows);
                samples.push(ms(start.elapsed()));
            }
            println!("reload_baseline_select_ms: {:.3}", median(samples));
        }
    });
}
