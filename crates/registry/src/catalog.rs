//! Which model kinds this build has code for.

use std::collections::BTreeMap;
use std::fmt;
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
    #[error("cannot register model kind {model_id:?}: {source}")]
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

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.kinds.keys()).finish()
    }
}
