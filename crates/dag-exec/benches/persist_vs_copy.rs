//! `persist_vs_copy`: rows/s of the executor's persistence of a cycle with
//! 1,000,000 output rows, divided by rows/s of a plain binary COPY of the
//! same rows into the same table, measured in the same run (goal >= 0.9).
//!
//! The cycle: 5 models, each a PRIMARY and a SHADOW of 100,000 rows (every
//! tenth row with a small JSON payload) and 3 metrics. "Persistence" is
//! `Executor::persist`: BEGIN, the cycle's advisory lock, the DELETEs that
//! make a rerun replace the cycle, the outputs COPY, the metrics COPY, the
//! run records, COMMIT. The baseline is one autocommitted binary COPY of the
//! same 1,000,000 rows with the same column types. Before every timed run
//! the tables are truncated and a CHECKPOINT taken; the two alternate.
//!
//! Needs `DATABASE_URL` (a throwaway database is created on that server).
//! `cargo bench -p dag-exec --bench persist_vs_copy [FILTER]`

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use dag_exec::{CycleRun, Executor, RunStatus};
use futures_util::pin_mut;
use model_api::{
    CycleTs, ModelError, ModelId, ModelInstance, ModelOutput, OutputRow, Role, Upstream,
};
use registry::Plan;
use tokio_postgres::Client;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

#[path = "../tests/common/builder.rs"]
mod builder;
use builder::PlanBuilder;

const MODELS: usize = 5;
const ROWS_PER_VERSION: usize = 100_000;
const ROWS: usize = MODELS * 2 * ROWS_PER_VERSION;
const RUNS: usize = 7;

const COPY: &str = "COPY kcg.detection_model_run_outputs \
     (cycle_ts, model_id, version_id, role, entity_key, score, payload) FROM STDIN (FORMAT binary)";
const TYPES: &[Type] = &[
    Type::TIMESTAMPTZ,
    Type::VARCHAR,
    Type::INT8,
    Type::VARCHAR,
    Type::TEXT,
    Type::FLOAT8,
    Type::JSONB,
];

/// Returns a copy of a prepared result.
struct Canned(ModelId, Arc<ModelOutput>);

impl ModelInstance for Canned {
    fn id(&self) -> &ModelId {
        &self.0
    }

    fn run(
        &self,
        _: CycleTs,
        _: &(dyn Any + Send + Sync),
        _: &Upstream,
    ) -> Result<ModelOutput, ModelError> {
        Ok((*self.1).clone())
    }
}

fn output(seed: usize) -> Arc<ModelOutput> {
    let mut out = ModelOutput::with_capacity(ROWS_PER_VERSION);
    for i in 0..ROWS_PER_VERSION {
        let row = OutputRow::new(
            format!("{}", 200_000_000 + i),
            ((i * 7919 + seed) % 1000) as f64 / 1000.0,
        );
        out.push(if i % 10 == 0 {
            row.with_payload(serde_json::json!({ "reason": "speed", "knots": i % 60 }))
        } else {
            row
        });
    }
    out.metric("rows", ROWS_PER_VERSION as f64);
    out.metric("mean_score", 0.5);
    out.metric("seed", seed as f64);
    Arc::new(out)
}

/// The plan, built by the planner like every plan.
fn plan() -> Plan {
    let mut builder = PlanBuilder::new();
    for m in 0..MODELS {
        let name = format!("bench_model_{m}");
        let id = ModelId::new(name.clone()).unwrap();
        for (n, role) in [(0, Role::Primary), (1, Role::Shadow)] {
            let instance = Arc::new(Canned(id.clone(), output(m * 2 + n)));
            builder.version(&name, (m * 2 + n + 1) as i64, role, None, instance);
        }
    }
    let plan = builder.build();
    assert_eq!(
        plan.version_count(),
        MODELS * 2,
        "{:?}",
        plan.excluded().first()
    );
    plan
}

async fn register(client: &Client, plan: &Plan) {
    for m in plan.models() {
        client
            .execute(
                "INSERT INTO kcg.detection_models (model_id) VALUES ($1)",
                &[&m.model_id.as_str()],
            )
            .await
            .unwrap();
        for v in std::iter::once(&m.primary).chain(&m.others) {
            client
                .execute(
                    "INSERT INTO kcg.detection_model_versions (id, model_id, version, role, status) \
                     VALUES ($1, $2, $3, $4, 'ACTIVE')",
                    &[&v.version_id, &m.model_id.as_str(), &v.version, &v.role.as_str()],
                )
                .await
                .unwrap();
        }
    }
}

async fn reset(client: &Client) {
    client
        .batch_execute(
            "TRUNCATE kcg.detection_model_run_outputs, kcg.detection_model_metrics, kcg.detection_model_runs; \
             CHECKPOINT",
        )
        .await
        .unwrap();
}

/// The baseline: one plain binary COPY of the run's output rows.
async fn plain_copy(client: &Client, ts: CycleTs, run: &CycleRun) -> u64 {
    let writer = BinaryCopyInWriter::new(client.copy_in(COPY).await.unwrap(), TYPES);
    pin_mut!(writer);
    for line in &run.report().versions {
        let (Some(version_id), Some(role)) = (line.version_id, line.role) else {
            continue;
        };
        let Some(output) = run.output(version_id) else {
            continue;
        };
        let (model_id, role) = (line.model_id.as_str(), role.as_str());
        for row in output.rows() {
            let score = Some(row.score);
            let values: [&(dyn ToSql + Sync); 7] = [
                &ts,
                &model_id,
                &version_id,
                &role,
                &row.entity_key,
                &score,
                &row.payload,
            ];
            writer.as_mut().write(&values).await.unwrap();
        }
    }
    writer.as_mut().finish().await.unwrap()
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if filter
        .as_deref()
        .is_some_and(|f| !"persist_vs_copy".contains(f))
    {
        return;
    }
    if std::env::var_os("DATABASE_URL").is_none() {
        println!("persist_vs_copy: skipped (DATABASE_URL is not set)");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let db = test_support::TestDb::new().await;
        let mut client = db.client().await;
        let plan = plan();
        register(&client, &plan).await;
        let exec = Executor::default();
        let ts = Utc.with_ymd_and_hms(2022, 1, 3, 12, 0, 0).unwrap();
        let run = exec.run(ts, &plan, Arc::new(())).await.unwrap();
        assert_eq!(run.report().count(RunStatus::Ok), MODELS * 2);

        let (mut persisted, mut copied) = (Vec::new(), Vec::new());
        for i in 0..RUNS {
            for ours in if i % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            } {
                reset(&client).await;
                let t = Instant::now();
                let rows = if ours {
                    exec.persist(&mut client, &run).await.unwrap().output_rows
                } else {
                    plain_copy(&client, ts, &run).await
                };
                let elapsed = t.elapsed();
                assert_eq!(rows as usize, ROWS);
                if ours {
                    persisted.push(elapsed)
                } else {
                    copied.push(elapsed)
                }
            }
        }
        let rate = |d: Duration| ROWS as f64 / d.as_secs_f64();
        let (persist_rate, copy_rate) = (rate(median(persisted)), rate(median(copied)));
        println!("persist_rows_per_s: {persist_rate:.0}");
        println!("copy_rows_per_s: {copy_rate:.0}");
        println!("persist_vs_copy: {:.3}", persist_rate / copy_rate);
    });
}
