//! What a model returns.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

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

/// A model's result: rows to persist, metrics, and an optional typed
/// artifact for downstream models.
#[derive(Clone, Default)]
pub struct ModelOutput {
    rows: Vec<OutputRow>,
    metrics: Vec<(String, f64)>,
    artifact: Option<Arc<dyn Any + Send + Sync>>,
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

    /// Attaches the typed value downstream models read with
    /// [`Context::input`](crate::Context::input).
    pub fn with_artifact<T: Any + Send + Sync>(mut self, artifact: T) -> Self {
        self.artifact = Some(Arc::new(artifact));
        self
    }

    /// Sets the artifact on an existing result.
    pub fn set_artifact<T: Any + Send + Sync>(&mut self, artifact: T) {
        self.artifact = Some(Arc::new(artifact));
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
            .as_deref()
            .and_then(|a| (a as &dyn Any).downcast_ref::<T>())
    }

    /// Whether an artifact (of any type) is attached.
    pub fn has_artifact(&self) -> bool {
        self.artifact.is_some()
    }
}

impl fmt::Debug for ModelOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelOutput")
            .field("rows", &self.rows)
            .field("metrics", &self.metrics)
            .field("artifact", &self.artifact.as_ref().map(|_| ".."))
            .finish()
    }
}
