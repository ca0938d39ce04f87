//! Which model kinds this build has code for.

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use model_api::{IdError, ModelId, ModelInstance, ParamsError};

/// Builds a runnable instance of one model kind from a version's params JSON,
/// e.g. `|id, params| model_api::instantiate(MyModel, id, params)`.
pub type Constructor = dyn Fn(ModelId, &serde_json::Value) -> Result<Arc<dyn ModelInstance>, ParamsError>
    + Send
    + Sync;

/// A catalog entry could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// The model id is not a valid [`ModelId`].
    #[error("cannot register model kind {model_id:?}")]
    InvalidId {
        /// The id as given.
        model_id: String,
        /// Why it was refused.
        source: IdError,
    },
    /// Two constructors for one model id.
    #[error("model kind {0} is registered twice in the catalog")]
    Duplicate(ModelId),
}

/// Maps each model id this build has code for to its constructor.
///
/// ```
/// use model_api::{instantiate, Context, Model, ModelError, ModelOutput};
/// use registry::Catalog;
///
/// struct Zero;
/// impl Model for Zero {
///     type Params = serde_json::Map<String, serde_json::Value>;
///     fn run(&self, _: &Context<'_, Self::Params>) -> Result<ModelOutput, ModelError> {
///         Ok(ModelOutput::new())
///     }
/// }
///
/// let mut catalog = Catalog::new();
/// catalog.register("zero", |id, params| instantiate(Zero, id, params))?;
/// assert!(catalog.contains("zero"));
/// assert!(catalog.register("zero", |id, params| instantiate(Zero, id, params)).is_err());
/// # Ok::<(), registry::CatalogError>(())
/// ```
#[derive(Clone, Default)]
pub struct Catalog {
    kinds: BTreeMap<String, Arc<Constructor>>,
}

impl Catalog {
    /// An empty catalog: every model id is unknown.
    pub fn new() -> Self {
        Self::default()
    }

    /// A catalog of `(model_id, constructor)` pairs.
    pub fn from_entries<I, S, F>(entries: I) -> Result<Self, CatalogError>
    where
        I: IntoIterator<Item = (S, F)>,
        S: AsRef<str>,
        F: Fn(ModelId, &serde_json::Value) -> Result<Arc<dyn ModelInstance>, ParamsError>
            + Send
            + Sync
            + 'static,
    {
        let mut catalog = Self::new();
        for (model_id, constructor) in entries {
            catalog.register(model_id.as_ref(), constructor)?;
        }
        Ok(catalog)
    }

    /// Registers the constructor of `model_id`; a second registration of the
    /// same id is refused.
    pub fn register<F>(&mut self, model_id: &str, constructor: F) -> Result<&mut Self, CatalogError>
    where
        F: Fn(ModelId, &serde_json::Value) -> Result<Arc<dyn ModelInstance>, ParamsError>
            + Send
            + Sync
            + 'static,
    {
        let id = ModelId::new(model_id).map_err(|source| CatalogError::InvalidId {
            model_id: model_id.to_owned(),
            source,
        })?;
        if self.kinds.contains_key(id.as_str()) {
            return Err(CatalogError::Duplicate(id));
        }
        self.kinds
            .insert(id.as_str().to_owned(), Arc::new(constructor));
        Ok(self)
    }

    /// The constructor of `model_id`, if this build has code for it.
    pub fn get(&self, model_id: &str) -> Option<&Constructor> {
        self.kinds.get(model_id).map(|c| &**c)
    }

    /// Whether `model_id`'s code accepts `params`, for a front end that
    /// must refuse a version that could never run: `None` when this build
    /// has no code for the model (nothing to check). A constructor that
    /// panics refuses too; the panic message is in the error.
    ///
    /// ```
    /// # use model_api::{instantiate, Context, Model, ModelError, ModelId, ModelOutput};
    /// # use serde::Deserialize;
    /// #[derive(Deserialize)]
    /// #[serde(deny_unknown_fields)]
    /// struct P { weight: f64 }
    /// struct Weighted;
    /// impl Model for Weighted {
    ///     type Params = P;
    ///     fn run(&self, _: &Context<'_, P>) -> Result<ModelOutput, ModelError> { Ok(ModelOutput::new()) }
    /// }
    /// let mut catalog = registry::Catalog::new();
    /// catalog.register("w", |id, params| instantiate(Weighted, id, params))?;
    /// let w = ModelId::new("w")?;
    /// assert_eq!(catalog.check_params(&w, &serde_json::json!({"weight": 1.0})), Some(Ok(())));
    /// let refused = catalog.check_params(&w, &serde_json::json!({"wieght": 1.0})).unwrap().unwrap_err();
    /// assert!(refused.message.contains("wieght"));
    /// assert_eq!(catalog.check_params(&ModelId::new("other")?, &serde_json::json!({})), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_params(
        &self,
        model_id: &ModelId,
        params: &serde_json::Value,
    ) -> Option<Result<(), ParamsError>> {
        let constructor = self.get(model_id.as_str())?;
        Some(match build(constructor, model_id, params) {
            Ok(_) => Ok(()),
            Err(Refusal::Params(e)) => Err(e),
            Err(Refusal::Panicked(message)) => Err(ParamsError {
                model: model_id.clone(),
                message: format!("its constructor panicked: {message}"),
            }),
        })
    }

    /// Whether this build has code for `model_id`.
    pub fn contains(&self, model_id: &str) -> bool {
        self.get(model_id).is_some()
    }

    /// The known model ids, sorted.
    pub fn model_ids(&self) -> impl Iterator<Item = &str> {
        self.kinds.keys().map(String::as_str)
    }

    /// How many model kinds are known.
    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    /// Whether no model kind is known.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }
}

/// Why a constructor gave no instance.
pub(crate) enum Refusal {
    /// It refused the params.
    Params(ParamsError),
    /// It panicked, with this message.
    Panicked(String),
}

/// Runs `constructor` on `params`; a panic inside it becomes a refusal
/// instead of taking the process down.
pub(crate) fn build(
    constructor: &Constructor,
    model_id: &ModelId,
    params: &serde_json::Value,
) -> Result<Arc<dyn ModelInstance>, Refusal> {
    match catch_unwind(AssertUnwindSafe(|| constructor(model_id.clone(), params))) {
        Ok(built) => built.map_err(Refusal::Params),
        Err(panic) => Err(Refusal::Panicked(model_api::panic_message(panic.as_ref()))),
    }
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.kinds.keys()).finish()
    }
}
