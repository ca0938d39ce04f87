//! `persist_vs_copy`: rows/s of the executor's persistence of a cycle with
//! 1,000,000 output rows, divided by rows/s of the ceiling: the server
//! itself reading the same rows from a file (`COPY ... FROM '<file>'
//! (FORMAT binary)`, no client in the loop), into the same partitioned
//! table with the same indexes, routed into the cycle's month partition
//! (made beforehand, so nothing lands in DEFAULT). Goal >= 0.95.
//!
//! The cycle: 5 models, each a PRIMARY and a SHADOW of 100,000 rows (every
//! tenth row with a small JSON payload) and 3 metrics. "Persistence" is
//! `Executor::persist`: BEGIN, the cycle's advisory lock, the DELETEs that
//! make a rerun replace the cycle, the outputs COPY, the metrics COPY, the
//! run records, COMMIT. The file is those very rows as the server writes
//! them (`COPY (SELECT ...) TO '<file>' (FORMAT binary)`), rendered once
//! before timing; the ceiling's transaction is BEGIN, that COPY, COMMIT.
//!
//! - first runs (`persist_first_ms`, `ceiling_first_ms`): the tables
//!   emptied and a CHECKPOINT taken before every timed run, ours and the
//!   ceiling alternating;
//! - reruns (`persist_rerun_ms`, `ceiling_rerun_ms`, `persist_rerun_vs_copy`):
//!   the cycle is stored, then stored again: ours replaces it as a rerun
//!   does, the ceiling is `DELETE` of the cycle plus the file's COPY in one
//!   transaction.
//!
//! Needs `DATABASE_URL` as a superuser (server-side COPY reads and writes
//! server files); otherwise the ceiling is reported unavailable.
//! `cargo bench -p dag-exec --bench persist_vs_copy [FILTER]`

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use dag_exec::{Executor, RunStatus};
use model_api::{
    CycleTs, ModelError, ModelId, ModelInstance, ModelOutput, OutputRow, Role, Upstream,
};
use registry::Plan;
use tokio_postgres::Client;

#[path = "../tests/common/builder.rs"]
mod builder;
use builder::PlanBuilder;

const MODELS: usize = 5;
const ROWS_PER_VERSION: usize = 100_000;
const ROWS: usize = MODELS * 2 * ROWS_PER_VERSION;
const RUNS: usize = 7;
const RERUNS: usize = 5;

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

const COLUMNS: &str = "cycle_ts, model_id, version_id, role, entity_key, score, payload";

/// Renders the stored rows of cycle `ts` into `file`, on the server.
async fn render(client: &Client, ts: CycleTs, file: &str) {
    client
        .batch_execute(&format!(
            "COPY (SELECT {COLUMNS} FROM kcg.detection_model_run_outputs \
                   WHERE cycle_ts = '{}') TO '{file}' (FORMAT binary)",
            ts.to_rfc3339()
        ))
        .await
        .unwrap();
}

/// The ceiling: the server reads the rows from `file`, in a transaction of
/// its own (after deleting cycle `ts`, for a rerun).
async fn ceiling(client: &mut Client, ts: CycleTs, file: &str, rerun: bool) -> u64 {
    let tx = client.transaction().await.unwrap();
    if rerun {
        tx.execute(
            "DELETE FROM kcg.detection_model_run_outputs WHERE cycle_ts = $1",
            &[&ts],
        )
        .await
        .unwrap();
    }
    let rows = tx
        .execute(
            &format!(
                "COPY kcg.detection_model_run_outputs ({COLUMNS}) FROM '{file}' (FORMAT binary)"
            ),
            &[],
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    rows
}

async fn is_superuser(client: &Client) -> bool {
    client
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if filter
        .as_deref()
        .is_some_and(|f| !"persist_vs_copy".contains(f) && !"persist_rerun_vs_copy".contains(f))
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
        let month = partitions::Month::containing(ts).unwrap();
        partitions::ensure(&mut client, &partitions::OUTPUTS, &[month])
            .await
            .unwrap();
        let run = exec.run(ts, &plan, Arc::new(())).await.unwrap();
        assert_eq!(run.report().count(RunStatus::Ok), MODELS * 2);
        if !is_superuser(&client).await {
            println!(
                "persist_vs_copy: unavailable (the ceiling needs a superuser for server-side COPY)"
            );
            return;
        }
        let file = format!("/tmp/kcg-persist-vs-copy-{}.bin", std::process::id());
        exec.persist(&mut client, &run).await.unwrap();
        render(&client, ts, &file).await;
        let in_default: i64 = client
            .query_one(
                "SELECT count(*) FROM kcg.detection_model_run_outputs_default",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(in_default, 0, "the rows belong in the month partition");

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
                    ceiling(&mut client, ts, &file, false).await
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
        let (mut rerun_ours, mut rerun_ceiling) = (Vec::new(), Vec::new());
        for i in 0..RERUNS {
            for ours in if i % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            } {
                reset(&client).await;
                ceiling(&mut client, ts, &file, false).await;
                client.batch_execute("CHECKPOINT").await.unwrap();
                let t = Instant::now();
                if ours {
                    let stats = exec.persist(&mut client, &run).await.unwrap();
                    assert_eq!(stats.output_rows as usize, ROWS);
                } else {
                    assert_eq!(ceiling(&mut client, ts, &file, true).await as usize, ROWS);
                }
                let elapsed = t.elapsed();
                if ours {
                    rerun_ours.push(elapsed)
                } else {
                    rerun_ceiling.push(elapsed)
                }
            }
        }
        // The file is the server's; so is removing it.
        client
            .batch_execute(&format!("COPY (SELECT 1) TO PROGRAM 'rm -f {file}'"))
            .await
            .unwrap();

        let rate = |d: Duration| ROWS as f64 / d.as_secs_f64();
        let (ours, ceil) = (median(persisted), median(copied));
        println!("persist_first_ms: {:.0}", ms(ours));
        println!("ceiling_first_ms: {:.0}", ms(ceil));
        println!("persist_rows_per_s: {:.0}", rate(ours));
        println!("ceiling_rows_per_s: {:.0}", rate(ceil));
        println!("persist_vs_copy: {:.3}", rate(ours) / rate(ceil));
        let (ours, ceil) = (median(rerun_ours), median(rerun_ceiling));
        println!("persist_rerun_ms: {:.0}", ms(ours));
        println!("ceiling_rerun_ms: {:.0}", ms(ceil));
        println!("persist_rerun_vs_copy: {:.3}", rate(ours) / rate(ceil));
    });
}
