//! What a model returns.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::ArtifactType;

/// One persisted row of a model's result: `(entity_key, score, payload)`.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputRow {
    /// What the row is about, e.g. an MMSI as text.
    pub entity_key: String,
    /// The model's score for the entity. The executor stores a non-finite
    /// score (NaN, ±∞) as SQL `NULL`, keeps the row, warns, and reports how
    /// many rows it did so for in its cycle report; a `NULL` score means
    /// exactly that.
    pub score: f64,
    /// Free-form details, stored as JSONB.
    pub payload: Option<serde_json::Value>,
}

impl OutputRow {
    /// A row without payload.
    pub fn new(entity_key: impl Into<String>, score: f64) -> Self {
        Self {
            entity_key: entity_key.into(),
            score,
            payload: None,
        }
    }

    /// The same row with a JSON payload.
    pub fn with_payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = Some(payload);
        self
    }
}

/// A result as the executor holds it: rows to persist, metrics, and an
/// optional artifact for downstream models, its type erased (but known:
/// [`artifact_type`](Self::artifact_type)).
///
/// A [`Model`](crate::Model) builds one for its rows and metrics and returns
/// it with its typed artifact as an [`Output`]; the executor keeps this
/// erased form.
#[derive(Clone, Default)]
pub struct ModelOutput {
    rows: Vec<OutputRow>,
    metrics: Vec<(String, f64)>,
    artifact: Option<(Arc<dyn Any + Send + Sync>, ArtifactType)>,
}

impl ModelOutput {
    /// An empty result.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty result with room for `rows` rows.
    pub fn with_capacity(rows: usize) -> Self {
        Self {
            rows: Vec::with_capacity(rows),
            ..Self::default()
        }
    }

    /// Adds a row to persist.
    pub fn push(&mut self, row: OutputRow) {
        self.rows.push(row);
    }

    /// Records a metric. The executor drops, with a warning and a count in
    /// the run record, a metric whose key is empty or longer than 64
    /// characters or whose value is NaN or infinite; the other metrics are
    /// kept. Recording a key again replaces its value.
    pub fn metric(&mut self, key: impl Into<String>, value: f64) {
        self.metrics.push((key.into(), value));
    }

    /// Attaches the value downstream models read with
    /// [`Context::read`](crate::Context::read), replacing any other. A
    /// [`Model`](crate::Model) returns its artifact through [`Output`]
    /// instead; this is for results built by hand (an upstream in a test,
    /// an executor's own instances).
    pub fn with_artifact<T: Any + Send + Sync>(mut self, artifact: T) -> Self {
        self.artifact = Some((Arc::new(artifact), ArtifactType::of::<T>()));
        self
    }

    /// The rows to persist.
    pub fn rows(&self) -> &[OutputRow] {
        &self.rows
    }

    /// Takes the rows out, leaving none.
    pub fn take_rows(&mut self) -> Vec<OutputRow> {
        std::mem::take(&mut self.rows)
    }

    /// The metrics as reported by the model, unvalidated.
    pub fn metrics(&self) -> &[(String, f64)] {
        &self.metrics
    }

    /// The artifact as `T`, if there is one of that type.
    pub fn artifact<T: Any>(&self) -> Option<&T> {
        self.artifact
            .as_ref()
            .and_then(|(a, _)| (a.as_ref() as &dyn Any).downcast_ref::<T>())
    }

    /// Whether an artifact (of any type) is attached.
    pub fn has_artifact(&self) -> bool {
        self.artifact.is_some()
    }

    /// The type of the attached artifact, if any.
    pub fn artifact_type(&self) -> Option<ArtifactType> {
        self.artifact.as_ref().map(|(_, t)| *t)
    }
}

/// What [`Model::run`](crate::Model::run) returns: the rows and metrics of
/// a [`ModelOutput`] and the model's artifact as its declared type `A`.
///
/// Because the type is the model's `Artifact`, what a model declares it
/// produces is what it produces: the registry checks the DAG on the
/// declaration, and no run can contradict it. A model without an artifact
/// (`A = ()`) returns `Ok(out.into())`.
///
/// ```
/// use model_api::{ArtifactType, ModelOutput, Output, OutputRow};
/// let mut out = ModelOutput::new();
/// out.push(OutputRow::new("211002010", 1.0));
/// let typed = Output::new(out, vec![211002010_i64]);
/// assert_eq!(typed.artifact(), &vec![211002010]);
/// let erased: ModelOutput = typed.into();
/// assert_eq!(erased.artifact_type(), Some(ArtifactType::of::<Vec<i64>>()));
/// assert_eq!(erased.rows().len(), 1);
///
/// let none: Output<()> = ModelOutput::new().into();
/// assert!(!ModelOutput::from(none).has_artifact());
/// ```
#[derive(Debug, Clone)]
pub struct Output<A> {
    result: ModelOutput,
    artifact: A,
}

impl<A> Output<A> {
    /// `result`'s rows and metrics with `artifact`. An artifact attached to
    /// `result` by hand is replaced by this one.
    pub fn new(result: ModelOutput, artifact: A) -> Self {
        Self { result, artifact }
    }

    /// The rows and metrics.
    pub fn result(&self) -> &ModelOutput {
        &self.result
    }

    /// The typed artifact.
    pub fn artifact(&self) -> &A {
        &self.artifact
    }

    /// The rows and metrics, and the artifact.
    pub fn into_parts(self) -> (ModelOutput, A) {
        (self.result, self.artifact)
    }
}

impl From<ModelOutput> for Output<()> {
    /// A result without artifact (any attached by hand is dropped).
    fn from(result: ModelOutput) -> Self {
        Self::new(result, ())
    }
}

impl<A: Any + Send + Sync> From<Output<A>> for ModelOutput {
    /// The erased form; `()` becomes "no artifact".
    fn from(output: Output<A>) -> Self {
        let (mut result, artifact) = output.into_parts();
        if ArtifactType::of::<A>().is_none() {
            result.artifact = None;
            result
        } else {
            result.with_artifact(artifact)
        }
    }
}

impl fmt::Debug for ModelOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelOutput")
            .field("rows", &self.rows)
            .field("metrics", &self.metrics)
            .field("artifact", &self.artifact.as_ref().map(|(_, t)| t.name()))
            .finish()
    }
}
