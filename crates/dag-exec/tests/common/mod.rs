//! Test models and plan builders shared by this crate's integration tests.
#![allow(dead_code)]

mod builder;

pub use builder::PlanBuilder;

use std::any::Any;
use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use model_api::{
    CycleTs, ModelError, ModelId, ModelInstance, ModelOutput, OutputRow, Role, Upstream,
};
use proptest::prelude::*;
use registry::Plan;

/// Models that panic on purpose would print a message (and a backtrace)
/// each; keep the output readable while leaving the test's own panics alone.
pub fn quiet_worker_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() != Some("dag-exec-worker") {
                default(info);
            }
        }));
    });
}

/// A model made of a closure.
pub struct FnModel<F> {
    id: ModelId,
    f: F,
}

impl<F> ModelInstance for FnModel<F>
where
    F: Fn(CycleTs, &(dyn Any + Send + Sync), &Upstream) -> Result<ModelOutput, ModelError>
        + Send
        + Sync,
{
    fn id(&self) -> &ModelId {
        &self.id
    }

    fn run(
        &self,
        cycle_ts: CycleTs,
        base: &(dyn Any + Send + Sync),
        upstream: &Upstream,
    ) -> Result<ModelOutput, ModelError> {
        (self.f)(cycle_ts, base, upstream)
    }
}

pub fn model<F>(id: &str, f: F) -> Arc<dyn ModelInstance>
where
    F: Fn(CycleTs, &(dyn Any + Send + Sync), &Upstream) -> Result<ModelOutput, ModelError>
        + Send
        + Sync
        + 'static,
{
    Arc::new(FnModel {
        id: ModelId::new(id).unwrap(),
        f,
    })
}

/// A version to plan: `v{version_id}` of its model.
pub struct TestVersion {
    pub version_id: i64,
    pub role: Role,
    pub timeout: Option<Duration>,
    pub instance: Arc<dyn ModelInstance>,
}

pub fn version(version_id: i64, role: Role, instance: Arc<dyn ModelInstance>) -> TestVersion {
    TestVersion {
        version_id,
        role,
        timeout: None,
        instance,
    }
}

pub fn with_timeout(mut v: TestVersion, timeout: Duration) -> TestVersion {
    v.timeout = Some(timeout);
    v
}

/// A model to plan: its versions and `(upstream, input key)` inputs.
pub struct TestModel {
    model_id: String,
    versions: Vec<TestVersion>,
    inputs: Vec<(String, String)>,
}

pub fn planned(
    model_id: &str,
    primary: TestVersion,
    others: Vec<TestVersion>,
    inputs: &[(&str, &str)],
) -> TestModel {
    TestModel {
        model_id: model_id.to_owned(),
        versions: std::iter::once(primary).chain(others).collect(),
        inputs: inputs
            .iter()
            .map(|(up, key)| ((*up).to_owned(), (*key).to_owned()))
            .collect(),
    }
}

/// The models' versions and edges, into `builder`.
pub fn add_models(builder: &mut PlanBuilder, levels: Vec<Vec<TestModel>>) {
    for m in levels.into_iter().flatten() {
        for v in m.versions {
            builder.version(&m.model_id, v.version_id, v.role, v.timeout, v.instance);
        }
        for (up, key) in &m.inputs {
            builder.input(&m.model_id, up, key);
        }
    }
}

/// The plan of these models, built by the planner. The levels are what the
/// test reads best; the planner computes its own (each model one level after
/// its latest upstream, sorted by id inside a level) and every model must be
/// planned.
pub fn plan(levels: Vec<Vec<TestModel>>) -> Plan {
    let mut builder = PlanBuilder::new();
    add_models(&mut builder, levels);
    let plan = builder.build();
    assert!(
        plan.excluded().is_empty() && plan.cycles().is_empty(),
        "a test plan left something out: {:?}",
        plan.excluded()
    );
    plan
}

pub fn cycle(minute: u32) -> CycleTs {
    Utc.with_ymd_and_hms(2022, 1, 3, 12, minute, 0).unwrap()
}

pub fn base(value: u64) -> Arc<dyn Any + Send + Sync> {
    Arc::new(value)
}

/// The artifact of deterministic models: a digest of everything they saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest(pub u64);

/// What each deterministic PRIMARY saw, by model id: (input key, upstream
/// digest, upstream row count) per input.
pub type Seen = BTreeMap<String, Vec<(String, Option<u64>, usize)>>;

#[derive(Default, Clone)]
pub struct Recorder(Arc<Mutex<Seen>>);

impl Recorder {
    pub fn seen(&self) -> Seen {
        self.0.lock().unwrap().clone()
    }
}

fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// A PRIMARY that is a deterministic function of its inputs: it records
/// them, and its rows, metrics and artifact derive from them.
pub fn deterministic(id: &str, seed: u64, recorder: &Recorder) -> Arc<dyn ModelInstance> {
    let name = id.to_owned();
    let recorder = recorder.clone();
    model(id, move |ts, base, upstream| {
        let base = *base
            .downcast_ref::<u64>()
            .ok_or(ModelError::BaseInput { expected: "u64" })?;
        let mut h = DefaultHasher::new();
        (seed, ts.timestamp_micros(), base, &name).hash(&mut h);
        let mut seen = Vec::new();
        let mut out = ModelOutput::new();
        for key in upstream.keys() {
            let input = upstream.get(key).unwrap();
            let digest = input.artifact::<Digest>().map(|d| d.0);
            (key, digest, input.rows().len()).hash(&mut h);
            seen.push((key.to_owned(), digest, input.rows().len()));
            out.push(OutputRow::new(
                format!("in:{key}"),
                unit(digest.unwrap_or(0)),
            ));
        }
        recorder.0.lock().unwrap().insert(name.clone(), seen);
        let digest = h.finish();
        out.push(
            OutputRow::new("self", unit(digest))
                .with_payload(serde_json::json!({ "digest": digest.to_string() })),
        );
        out.metric("inputs", upstream.len() as f64);
        out.metric("digest_unit", unit(digest));
        Ok(out.with_artifact(Digest(digest)))
    })
}

/// What an adversarial SHADOW or CHALLENGER does.
#[derive(Debug, Clone)]
pub enum Adversary {
    /// Returns these rows (duplicates, NUL, NaN allowed), these metrics, and
    /// an artifact that would change every dependent if it leaked.
    Garbage {
        rows: Vec<(String, f64)>,
        metrics: Vec<(String, f64)>,
        artifact: u64,
    },
    /// Returns an error.
    Error,
    /// Panics.
    Panic,
    /// Sleeps this long, far past its short timeout, then returns garbage.
    Sleep(Duration),
}

pub fn adversarial(id: &str, behaviour: Adversary) -> Arc<dyn ModelInstance> {
    model(id, move |_ts, _base, _upstream| match &behaviour {
        Adversary::Garbage {
            rows,
            metrics,
            artifact,
        } => Ok(garbage(rows, metrics, *artifact)),
        Adversary::Error => Err(ModelError::failed("adversary says no")),
        Adversary::Panic => panic!("adversary panics"),
        Adversary::Sleep(d) => {
            std::thread::sleep(*d);
            Ok(garbage(&[("late".into(), 1.0)], &[], 7))
        }
    })
}

fn garbage(rows: &[(String, f64)], metrics: &[(String, f64)], artifact: u64) -> ModelOutput {
    let mut out = ModelOutput::new();
    for (key, score) in rows {
        out.push(OutputRow::new(key.clone(), *score));
    }
    for (key, value) in metrics {
        out.metric(key.clone(), *value);
    }
    out.with_artifact(Digest(artifact))
}

/// What a PRIMARY does: deterministic success, or a deterministic failure.
#[derive(Debug, Clone)]
pub enum PrimaryKind {
    Deterministic(u64),
    Error,
    Panic,
}

#[derive(Debug, Clone)]
pub struct ModelSpec {
    /// (upstream index, input key) with upstream index < own index.
    pub inputs: Vec<(usize, String)>,
    pub primary: PrimaryKind,
    pub candidates: Vec<(Role, Adversary)>,
}

pub fn adversary() -> impl Strategy<Value = Adversary> {
    let key = prop_oneof![
        4 => "[a-c]{1,2}",
        1 => Just("self".to_owned()),
        1 => Just("nul\u{0}key".to_owned()),
    ];
    let score = prop_oneof![4 => -1e6..1e6_f64, 1 => Just(f64::NAN), 1 => Just(f64::INFINITY)];
    let metric_key =
        prop_oneof![3 => "[a-z]{1,8}", 1 => Just("k".repeat(65)), 1 => Just("inputs".to_owned())];
    prop_oneof![
        4 => (
            prop::collection::vec((key, score.clone()), 0..6),
            prop::collection::vec((metric_key, score), 0..4),
            any::<u64>(),
        )
            .prop_map(|(rows, metrics, artifact)| Adversary::Garbage { rows, metrics, artifact }),
        1 => Just(Adversary::Error),
        1 => Just(Adversary::Panic),
        1 => (150..300_u64).prop_map(|ms| Adversary::Sleep(Duration::from_millis(ms))),
    ]
}

pub fn model_spec(index: usize) -> impl Strategy<Value = ModelSpec> {
    let inputs = prop::collection::vec(
        (0..index.max(1), prop_oneof![Just("x"), Just("y")]),
        0..=index.min(3),
    )
    .prop_map(move |edges| {
        let mut edges: Vec<(usize, String)> = edges
            .into_iter()
            .filter(|(u, _)| *u < index)
            .map(|(u, k)| (u, format!("{k}{u}")))
            .collect();
        edges.sort();
        edges.dedup();
        edges
    });
    let primary = prop_oneof![
        8 => any::<u64>().prop_map(PrimaryKind::Deterministic),
        1 => Just(PrimaryKind::Error),
        1 => Just(PrimaryKind::Panic),
    ];
    let role = prop_oneof![Just(Role::Shadow), Just(Role::Challenger)];
    let candidates = prop::collection::vec((role, adversary()), 0..3);
    (inputs, primary, candidates).prop_map(|(inputs, primary, candidates)| ModelSpec {
        inputs,
        primary,
        candidates,
    })
}

pub fn dag() -> impl Strategy<Value = Vec<ModelSpec>> {
    (1..10_usize).prop_flat_map(|n| (0..n).map(model_spec).collect::<Vec<_>>())
}

pub fn name(i: usize) -> String {
    format!("m{i:02}")
}

/// Builds the plan; without candidates when `with_candidates` is false.
pub fn build(specs: &[ModelSpec], with_candidates: bool, recorder: &Recorder) -> Plan {
    let mut level = vec![0_usize; specs.len()];
    for (i, spec) in specs.iter().enumerate() {
        level[i] = spec
            .inputs
            .iter()
            .map(|(u, _)| level[*u] + 1)
            .max()
            .unwrap_or(0);
    }
    let mut levels: Vec<Vec<TestModel>> = (0..level.iter().max().map_or(0, |m| m + 1))
        .map(|_| Vec::new())
        .collect();
    for (i, spec) in specs.iter().enumerate() {
        let id = name(i);
        let instance = match spec.primary {
            PrimaryKind::Deterministic(seed) => deterministic(&id, seed, recorder),
            PrimaryKind::Error => adversarial(&id, Adversary::Error),
            PrimaryKind::Panic => adversarial(&id, Adversary::Panic),
        };
        let base_id = (i as i64 + 1) * 100;
        let others: Vec<TestVersion> = if with_candidates {
            spec.candidates
                .iter()
                .enumerate()
                .map(|(k, (role, adv))| {
                    let v = version(base_id + k as i64 + 1, *role, adversarial(&id, adv.clone()));
                    match adv {
                        // A short timeout only where it is meant to hit, so
                        // the other behaviours are observed as themselves.
                        Adversary::Sleep(_) => with_timeout(v, Duration::from_millis(20)),
                        _ => v,
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        let inputs: Vec<(String, &str)> = spec
            .inputs
            .iter()
            .map(|(u, k)| (name(*u), k.as_str()))
            .collect();
        let inputs: Vec<(&str, &str)> = inputs.iter().map(|(u, k)| (u.as_str(), *k)).collect();
        levels[level[i]].push(planned(
            &id,
            version(base_id, Role::Primary, instance),
            others,
            &inputs,
        ));
    }
    plan(levels)
}

/// Inserts the plan's models and versions (and excluded versions) into the
/// registry tables, so the run records' and metrics' foreign keys hold.
/// Idempotent: version ids and labels are stable per model in these tests.
pub async fn register(client: &tokio_postgres::Client, plan: &Plan) {
    let mut versions: Vec<(String, i64, Role)> = Vec::new();
    for m in plan.models() {
        for v in std::iter::once(&m.primary).chain(&m.others) {
            versions.push((m.model_id.to_string(), v.version_id, v.role));
        }
    }
    for e in plan.excluded() {
        if let (Some(id), Some(role)) = (e.version_id, e.role) {
            versions.push((e.model_id.clone(), id, role));
        }
        for v in &e.versions {
            versions.push((e.model_id.clone(), v.id, v.role));
        }
    }
    for (model_id, id, role) in versions {
        client
            .execute(
                "INSERT INTO kcg.detection_models (model_id) VALUES ($1) ON CONFLICT DO NOTHING",
                &[&model_id],
            )
            .await
            .unwrap();
        let status = if role == Role::Primary {
            "ACTIVE"
        } else {
            "DRAFT"
        };
        client
            .execute(
                "INSERT INTO kcg.detection_model_versions (id, model_id, version, role, status) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[&id, &model_id, &format!("v{id}"), &role.as_str(), &status],
            )
            .await
            .unwrap();
    }
}

/// Rows of `cycle_ts` in (outputs, metrics, runs).
pub async fn counts(client: &tokio_postgres::Client, cycle_ts: CycleTs) -> (i64, i64, i64) {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM kcg.detection_model_run_outputs WHERE cycle_ts = $1), \
                    (SELECT count(*) FROM kcg.detection_model_metrics WHERE cycle_ts = $1), \
                    (SELECT count(*) FROM kcg.detection_model_runs WHERE cycle_ts = $1)",
            &[&cycle_ts],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}
