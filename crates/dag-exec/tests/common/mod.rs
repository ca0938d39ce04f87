//! Test models and plan builders shared by this crate's integration tests.
#![allow(dead_code)]

use std::any::Any;
use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use model_api::{
    CycleTs, ModelError, ModelId, ModelInstance, ModelOutput, OutputRow, Role, Upstream,
};
use registry::{InputEdge, Plan, PlannedModel, PlannedVersion};

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

pub fn version(version_id: i64, role: Role, instance: Arc<dyn ModelInstance>) -> PlannedVersion {
    PlannedVersion {
        version_id,
        version: format!("v{version_id}"),
        role,
        timeout: None,
        instance,
    }
}

pub fn with_timeout(mut v: PlannedVersion, timeout: Duration) -> PlannedVersion {
    v.timeout = Some(timeout);
    v
}

pub fn planned(
    model_id: &str,
    primary: PlannedVersion,
    others: Vec<PlannedVersion>,
    inputs: &[(&str, &str)],
) -> PlannedModel {
    let mut inputs: Vec<InputEdge> = inputs
        .iter()
        .map(|(up, key)| InputEdge {
            upstream: ModelId::new(*up).unwrap(),
            input_key: (*key).to_owned(),
        })
        .collect();
    inputs.sort();
    PlannedModel {
        model_id: ModelId::new(model_id).unwrap(),
        primary,
        others,
        inputs,
    }
}

pub fn plan(levels: Vec<Vec<PlannedModel>>) -> Plan {
    Plan {
        levels,
        ..Plan::default()
    }
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
        out.set_artifact(Digest(digest));
        Ok(out)
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
