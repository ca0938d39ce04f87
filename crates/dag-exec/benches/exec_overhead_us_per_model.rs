//! `exec_overhead_us_per_model`: what the executor adds per model, on a
//! 1,000-model plan of trivial models with persistence off, against the
//! baseline of calling the same 1,000 models in a plain loop.
//!
//! The plan: 10 levels of 100 models; every model after the first level
//! reads two models of the level before (fan-in 2, fan-out 2), PRIMARY only.
//! A second figure runs a 1,000-model chain (each model reads the previous
//! one), the worst case for any level-by-level executor.
//!
//! `cargo bench -p dag-exec --bench exec_overhead_us_per_model [FILTER]`

use std::any::Any;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dag_exec::{Executor, RunStatus};
use model_api::{
    CycleTs, ModelError, ModelId, ModelInstance, ModelOutput, OutputRow, Role, Upstream,
};
use registry::Plan;

#[path = "../tests/common/builder.rs"]
mod builder;
use builder::PlanBuilder;

const MODELS: usize = 1000;
const RUNS: usize = 31;

struct Trivial(ModelId);

impl ModelInstance for Trivial {
    fn id(&self) -> &ModelId {
        &self.0
    }

    fn run(
        &self,
        _: CycleTs,
        _: &(dyn Any + Send + Sync),
        upstream: &Upstream,
    ) -> Result<ModelOutput, ModelError> {
        let mut out = ModelOutput::new();
        out.push(OutputRow::new("x", upstream.len() as f64));
        Ok(out)
    }
}

/// The plan, built by the planner like every plan.
fn plan(width: usize) -> Plan {
    let name = |i: usize| format!("m{i:04}");
    let mut builder = PlanBuilder::new();
    for i in 0..MODELS {
        let (level, pos) = (i / width, i % width);
        if level > 0 {
            let prev = (level - 1) * width;
            builder.input(&name(i), &name(prev + pos), "same");
            if width > 1 {
                builder.input(&name(i), &name(prev + (pos + 1) % width), "next");
            }
        }
        let id = ModelId::new(name(i)).unwrap();
        builder.version(
            &name(i),
            i as i64,
            Role::Primary,
            None,
            Arc::new(Trivial(id)),
        );
    }
    let plan = builder.build();
    assert_eq!(plan.model_count(), MODELS, "{:?}", plan.excluded().first());
    plan
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn measure(label: &str, plan: &Plan) {
    println!(
        "# {label} ({MODELS} models, {} worker threads = the cores, median of {RUNS} runs)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let exec = Executor::default();
    let base: Arc<dyn Any + Send + Sync> = Arc::new(());
    let ts = chrono::Utc::now();
    let instances: Vec<Arc<dyn ModelInstance>> = plan
        .models()
        .map(|m| Arc::clone(&m.primary.instance))
        .collect();
    let upstream = Upstream::new();

    let mut exec_times = Vec::with_capacity(RUNS);
    let mut loop_times = Vec::with_capacity(RUNS);
    for i in 0..RUNS + 3 {
        let t = Instant::now();
        for m in &instances {
            black_box(m.run(ts, &*base, &upstream).unwrap());
        }
        let looped = t.elapsed();

        let t = Instant::now();
        let run = rt.block_on(exec.run(ts, plan, Arc::clone(&base))).unwrap();
        let executed = t.elapsed();
        assert_eq!(run.report().count(RunStatus::Ok), MODELS);
        drop(black_box(run));
        if i >= 3 {
            loop_times.push(looped);
            exec_times.push(executed);
        }
    }
    let per_model = |d: Duration| d.as_secs_f64() * 1e6 / MODELS as f64;
    let (exec_us, loop_us) = (per_model(median(exec_times)), per_model(median(loop_times)));
    println!("{label}: {:.3}", exec_us - loop_us);
    println!("{label}_exec_us_per_model: {exec_us:.3}");
    println!("{label}_baseline_loop_us_per_model: {loop_us:.3}");
}

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    if wanted("exec_overhead_us_per_model") {
        measure("exec_overhead_us_per_model", &plan(100));
    }
    if wanted("chain_exec_overhead_us_per_model") {
        measure("chain_exec_overhead_us_per_model", &plan(1));
    }
}
