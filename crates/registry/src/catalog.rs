//! Which model kinds this build has code for, and in which implementations.

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use model_api::{
    IdError, Implementation, ImplementationName, InputKey, Model, ModelId, ModelInstance,
    ParamsError,
};

/// Builds a runnable instance of one model kind from a version's params
/// JSON (model-api's [`model_api::Constructor`]).
pub use model_api::Constructor;

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
    /// The implementation name is not a valid [`ImplementationName`].
    #[error("cannot register implementation {implementation:?} of model {model}")]
    InvalidImplementation {
        /// The model.
        model: ModelId,
        /// The name as given.
        implementation: String,
        /// Why it was refused.
        source: IdError,
    },
    /// An implementation declares an input key the registry cannot store.
    #[error("implementation {implementation} of model {model} declares input key {key:?}")]
    InvalidInputKey {
        /// The model.
        model: ModelId,
        /// The implementation.
        implementation: ImplementationName,
        /// The key as declared.
        key: &'static str,
        /// Why it was refused.
        source: IdError,
    },
    /// An implementation declares one input key twice.
    #[error("implementation {implementation} of model {model} declares input key {key:?} twice")]
    DuplicateInputKey {
        /// The model.
        model: ModelId,
        /// The implementation.
        implementation: ImplementationName,
        /// The key.
        key: &'static str,
    },
    /// Two registrations of one implementation of a model.
    #[error(
        "implementation {implementation} of model kind {model} is registered twice in the catalog"
    )]
    Duplicate {
        /// The model.
        model: ModelId,
        /// The implementation.
        implementation: ImplementationName,
    },
    /// [`Catalog::set_default`] named an implementation that is not registered.
    #[error("model kind {model} has no implementation {implementation} to make its default")]
    NoSuchImplementation {
        /// The model.
        model: String,
        /// The name given.
        implementation: String,
    },
}

/// Why [`Catalog::resolve`] found no code for a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// This build has no code for the model at all.
    UnknownModel,
    /// The model is known, but not in this implementation.
    UnknownImplementation {
        /// The implementations this build has, sorted.
        known: Vec<ImplementationName>,
    },
}

/// What [`Catalog::check_params`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamsCheck {
    /// The implementation's code accepts the params.
    Accepted {
        /// The implementation checked (the default when none was named).
        implementation: ImplementationName,
    },
    /// The implementation's code refuses them (a panicking constructor
    /// refuses too; the panic message is in the error).
    Refused {
        /// The implementation checked.
        implementation: ImplementationName,
        /// What it refused, naming the field.
        error: ParamsError,
    },
    /// Nothing to check with: this build has no code for the model, or not
    /// in the implementation named.
    NoCode(Unresolved),
}

/// The implementation a version runs, found in the catalog.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    /// Its name (the default's when the version names none).
    pub name: &'a ImplementationName,
    /// Whether it is the model's default implementation.
    pub is_default: bool,
    /// Its code and declarations.
    pub code: &'a Implementation,
}

#[derive(Clone)]
struct Kind {
    default: ImplementationName,
    implementations: BTreeMap<ImplementationName, Implementation>,
}

/// Maps each model id this build has code for to its implementations
/// (each with the artifact type it produces and the typed inputs it
/// reads), one of them the model's default: the one a version that names
/// no implementation runs.
///
/// ```
/// use model_api::{Context, ImplementationName, Model, ModelError, ModelId, ModelOutput, Output};
/// use registry::{Catalog, ParamsCheck};
///
/// #[derive(Clone)]
/// struct Zero;
/// impl Model for Zero {
///     type Params = serde_json::Map<String, serde_json::Value>;
///     type Artifact = ();
///     fn run(&self, _: &Context<'_, Self::Params>) -> Result<Output<()>, ModelError> {
///         Ok(ModelOutput::new().into())
///     }
/// }
///
/// let mut catalog = Catalog::new();
/// catalog.register_model("zero", "v1", Zero)?; // the first is the default
/// catalog.register_model("zero", "v2", Zero)?;
/// assert!(catalog.contains("zero"));
/// assert!(catalog.register_model("zero", "v1", Zero).is_err());
/// assert_eq!(catalog.resolve("zero", None).unwrap().name.as_str(), "v1");
/// assert_eq!(catalog.resolve("zero", Some("v2")).unwrap().name.as_str(), "v2");
/// assert!(catalog.resolve("zero", Some("v3")).is_err());
/// let zero = ModelId::new("zero")?;
/// assert!(matches!(catalog.check_params(&zero, None, &serde_json::json!({})), ParamsCheck::Accepted { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct Catalog {
    kinds: BTreeMap<String, Kind>,
}

impl Catalog {
    /// An empty catalog: every model id is unknown.
    pub fn new() -> Self {
        Self::default()
    }

    /// A catalog of `(model_id, implementation name, code)` entries; the
    /// first entry of a model is its default.
    pub fn from_entries<I, S, T>(entries: I) -> Result<Self, CatalogError>
    where
        I: IntoIterator<Item = (S, T, Implementation)>,
        S: AsRef<str>,
        T: AsRef<str>,
    {
        let mut catalog = Self::new();
        for (model_id, implementation, code) in entries {
            catalog.register(model_id.as_ref(), implementation.as_ref(), code)?;
        }
        Ok(catalog)
    }

    /// Registers `code` as implementation `implementation` of `model_id`.
    /// The first implementation registered for a model is its default
    /// ([`set_default`](Self::set_default) changes it). A second
    /// registration of the same pair, an invalid id or name, or a declared
    /// input key the registry could not store is refused.
    pub fn register(
        &mut self,
        model_id: &str,
        implementation: &str,
        code: Implementation,
    ) -> Result<&mut Self, CatalogError> {
        let model = ModelId::new(model_id).map_err(|source| CatalogError::InvalidId {
            model_id: model_id.to_owned(),
            source,
        })?;
        let name = ImplementationName::new(implementation).map_err(|source| {
            CatalogError::InvalidImplementation {
                model: model.clone(),
                implementation: implementation.to_owned(),
                source,
            }
        })?;
        let mut keys: Vec<&'static str> = Vec::with_capacity(code.reads().len());
        for input in code.reads() {
            InputKey::new(input.key()).map_err(|source| CatalogError::InvalidInputKey {
                model: model.clone(),
                implementation: name.clone(),
                key: input.key(),
                source,
            })?;
            if keys.contains(&input.key()) {
                return Err(CatalogError::DuplicateInputKey {
                    model,
                    implementation: name,
                    key: input.key(),
                });
            }
            keys.push(input.key());
        }
        match self.kinds.get_mut(model.as_str()) {
            Some(kind) if kind.implementations.contains_key(&name) => {
                return Err(CatalogError::Duplicate {
                    model,
                    implementation: name,
                });
            }
            Some(kind) => {
                kind.implementations.insert(name, code);
            }
            None => {
                self.kinds.insert(
                    model.as_str().to_owned(),
                    Kind {
                        default: name.clone(),
                        implementations: BTreeMap::from([(name, code)]),
                    },
                );
            }
        }
        Ok(self)
    }

    /// Registers the model kind `kind` as implementation `implementation`
    /// of `model_id`: [`register`](Self::register) with
    /// [`Implementation::of`].
    pub fn register_model<M: Model + Clone>(
        &mut self,
        model_id: &str,
        implementation: &str,
        kind: M,
    ) -> Result<&mut Self, CatalogError> {
        self.register(model_id, implementation, Implementation::of(kind))
    }

    /// Makes `implementation` the default of `model_id`: what its versions
    /// that name no implementation run.
    pub fn set_default(
        &mut self,
        model_id: &str,
        implementation: &str,
    ) -> Result<&mut Self, CatalogError> {
        let refused = || CatalogError::NoSuchImplementation {
            model: model_id.to_owned(),
            implementation: implementation.to_owned(),
        };
        let kind = self.kinds.get_mut(model_id).ok_or_else(refused)?;
        let (name, _) = kind
            .implementations
            .get_key_value(implementation)
            .ok_or_else(refused)?;
        kind.default = name.clone();
        Ok(self)
    }

    /// The implementation a version of `model_id` runs: the one named, or
    /// the model's default when none is.
    pub fn resolve(
        &self,
        model_id: &str,
        implementation: Option<&str>,
    ) -> Result<Resolved<'_>, Unresolved> {
        let kind = self.kinds.get(model_id).ok_or(Unresolved::UnknownModel)?;
        let wanted = implementation.unwrap_or(kind.default.as_str());
        let (name, code) = kind.implementations.get_key_value(wanted).ok_or_else(|| {
            Unresolved::UnknownImplementation {
                known: kind.implementations.keys().cloned().collect(),
            }
        })?;
        Ok(Resolved {
            name,
            is_default: *name == kind.default,
            code,
        })
    }

    /// Whether `model_id`'s code (in `implementation`, or its default)
    /// accepts `params`, for a front end that must refuse a version that
    /// could never run. A constructor that panics refuses too; the panic
    /// message is in the error.
    ///
    /// ```
    /// # use model_api::{Context, Model, ModelError, ModelId, ModelOutput, Output};
    /// # use serde::Deserialize;
    /// use registry::{ParamsCheck, Unresolved};
    /// #[derive(Deserialize)]
    /// #[serde(deny_unknown_fields)]
    /// struct P { weight: f64 }
    /// #[derive(Clone)]
    /// struct Weighted;
    /// impl Model for Weighted {
    ///     type Params = P;
    ///     type Artifact = ();
    ///     fn run(&self, _: &Context<'_, P>) -> Result<Output<()>, ModelError> { Ok(ModelOutput::new().into()) }
    /// }
    /// let mut catalog = registry::Catalog::new();
    /// catalog.register_model("w", "v1", Weighted)?;
    /// let w = ModelId::new("w")?;
    /// assert!(matches!(catalog.check_params(&w, None, &serde_json::json!({"weight": 1.0})), ParamsCheck::Accepted { .. }));
    /// let ParamsCheck::Refused { error, .. } = catalog.check_params(&w, None, &serde_json::json!({"wieght": 1.0})) else {
    ///     panic!("refused")
    /// };
    /// assert!(error.message.contains("wieght"));
    /// assert_eq!(catalog.check_params(&ModelId::new("other")?, None, &serde_json::json!({})), ParamsCheck::NoCode(Unresolved::UnknownModel));
    /// assert!(matches!(catalog.check_params(&w, Some("v9"), &serde_json::json!({})), ParamsCheck::NoCode(Unresolved::UnknownImplementation { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_params(
        &self,
        model_id: &ModelId,
        implementation: Option<&str>,
        params: &serde_json::Value,
    ) -> ParamsCheck {
        let resolved = match self.resolve(model_id.as_str(), implementation) {
            Ok(r) => r,
            Err(unresolved) => return ParamsCheck::NoCode(unresolved),
        };
        let implementation = resolved.name.clone();
        match build(resolved.code, model_id, params) {
            Ok(_) => ParamsCheck::Accepted { implementation },
            Err(Refusal::Params(error)) => ParamsCheck::Refused {
                implementation,
                error,
            },
            Err(Refusal::Panicked(message)) => ParamsCheck::Refused {
                implementation,
                error: ParamsError {
                    model: model_id.clone(),
                    field: None,
                    message: format!("its constructor panicked: {message}"),
                },
            },
        }
    }

    /// Whether this build has code for `model_id`.
    pub fn contains(&self, model_id: &str) -> bool {
        self.kinds.contains_key(model_id)
    }

    /// The known model ids, sorted.
    pub fn model_ids(&self) -> impl Iterator<Item = &str> {
        self.kinds.keys().map(String::as_str)
    }

    /// The implementations of `model_id`, sorted by name (none for an
    /// unknown model).
    pub fn implementations(
        &self,
        model_id: &str,
    ) -> impl Iterator<Item = (&ImplementationName, &Implementation)> {
        self.kinds
            .get(model_id)
            .into_iter()
            .flat_map(|k| k.implementations.iter())
    }

    /// The default implementation of `model_id`.
    pub fn default_implementation(&self, model_id: &str) -> Option<&ImplementationName> {
        self.kinds.get(model_id).map(|k| &k.default)
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

/// Runs `code`'s constructor on `params`; a panic inside it becomes a
/// refusal instead of taking the process down.
pub(crate) fn build(
    code: &Implementation,
    model_id: &ModelId,
    params: &serde_json::Value,
) -> Result<Arc<dyn ModelInstance>, Refusal> {
    match catch_unwind(AssertUnwindSafe(|| code.build(model_id.clone(), params))) {
        Ok(built) => built.map_err(Refusal::Params),
        Err(panic) => Err(Refusal::Panicked(model_api::panic_message(panic.as_ref()))),
    }
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (model, kind) in &self.kinds {
            let names: Vec<String> = kind
                .implementations
                .keys()
                .map(|n| {
                    if *n == kind.default {
                        format!("{n} (default)")
                    } else {
                        n.to_string()
                    }
                })
                .collect();
            map.entry(model, &names);
        }
        map.finish()
    }
}
