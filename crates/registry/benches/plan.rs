//! `plan_1000_models_5000_edges_ms`: planning a registry of 1,000 models
//! (one PRIMARY each, every tenth with a SHADOW) and 5,000 dependency edges,
//! median of 31 runs. Baseline: building the bare petgraph graph of the same
//! edges and sorting it topologically (`plan_baseline_toposort_ms`).

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::Instant;

use daggy::petgraph::algo::toposort;
use daggy::petgraph::graph::{DiGraph, NodeIndex};
use model_api::{Context, Model, ModelError, ModelOutput, Output, Role};
use registry::{ActiveVersion, Dependency, RegistrySnapshot};
use registry::{Catalog, plan};
use serde::Deserialize;

const MODELS: usize = 1000;
const EDGES: usize = 5000;
const RUNS: usize = 31;

#[derive(Clone)]
struct Noop;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoopParams {
    #[allow(dead_code)] // parsed to make instantiation realistic
    threshold: f64,
}

impl Model for Noop {
    type Params = NoopParams;
    type Artifact = ();
    fn run(&self, _: &Context<'_, NoopParams>) -> Result<Output<()>, ModelError> {
        Ok(ModelOutput::new().into())
    }
}

fn name(i: usize) -> String {
    format!("model_{i:04}")
}

/// A random DAG: model `j` depends on model `i < j`, 5,000 distinct pairs.
fn registry() -> (RegistrySnapshot, Vec<(usize, usize)>) {
    let mut versions = Vec::new();
    let mut id = 0;
    for i in 0..MODELS {
        let mut add = |role: Role| {
            id += 1;
            versions.push(ActiveVersion {
                id,
                model_id: name(i),
                version: "1.0.0".into(),
                role,
                params: Ok(serde_json::json!({ "threshold": 0.5 })),
                timeout_ms: None,
                implementation: None,
            });
        };
        add(Role::Primary);
        if i % 10 == 0 {
            add(Role::Shadow);
        }
    }
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    let mut pairs = BTreeSet::new();
    while pairs.len() < EDGES {
        let (a, b) = (next(MODELS), next(MODELS));
        if a != b {
            pairs.insert((a.min(b), a.max(b)));
        }
    }
    let pairs: Vec<(usize, usize)> = pairs.into_iter().collect();
    let edges = pairs
        .iter()
        .map(|&(up, down)| Dependency {
            model_id: name(down),
            depends_on: name(up),
            input_key: name(up),
        })
        .collect();
    (RegistrySnapshot { versions, edges }, pairs)
}

fn median_ms(mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[RUNS / 2]
}

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |figure: &str| filter.as_deref().is_none_or(|f| figure.contains(f));

    let (snapshot, pairs) = registry();
    if wanted("plan_1000_models_5000_edges_ms") {
        let catalog = Catalog::from_entries(
            (0..MODELS).map(|i| (name(i), "v1", model_api::Implementation::of(Noop))),
        )
        .expect("catalog");
        let check = plan(&catalog, &snapshot);
        assert_eq!(
            check.model_count(),
            MODELS,
            "every model must be planned: {:?}",
            check.excluded().first()
        );
        let ms = median_ms(|| {
            black_box(plan(&catalog, black_box(&snapshot)));
        });
        println!("plan_1000_models_5000_edges_ms: {ms:.3}");
    }
    if wanted("plan_baseline_toposort_ms") {
        let ms = median_ms(|| {
            let mut g: DiGraph<(), ()> = DiGraph::with_capacity(MODELS, EDGES);
            for _ in 0..MODELS {
                g.add_node(());
            }
            for &(a, b) in &pairs {
                g.add_edge(NodeIndex::new(a), NodeIndex::new(b), ());
            }
            black_box(toposort(&g, None).is_ok());
        });
        println!("plan_baseline_toposort_ms: {ms:.3}");
    }
}
