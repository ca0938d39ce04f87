//! One implementation of a model, erased: what a catalog holds.

use std::fmt;
use std::sync::Arc;

use crate::{ArtifactType, DeclaredInput, Model, ModelId, ModelInstance, ParamsError, instantiate};

/// Builds a runnable instance from a version's id and params JSON,
/// refusing bad params with an error naming the field.
pub type Constructor = dyn Fn(ModelId, &serde_json::Value) -> Result<Arc<dyn ModelInstance>, ParamsError>
    + Send
    + Sync;

/// The code of one implementation of a model, with what it declares: the
/// artifact type it produces and the typed inputs it reads. A catalog maps
/// `(model_id, implementation name)` to one of these; the registry plans
/// with the declarations and builds each version through
/// [`build`](Self::build).
///
/// Built from a [`Model`] by [`Implementation::of`], the declarations are
/// the model's own types ([`Model::Artifact`], [`Model::INPUTS`]), so they
/// hold for every run. Cheap to clone (shared).
///
/// ```
/// use model_api::{
///     ArtifactType, Context, Implementation, Model, ModelError, ModelId, ModelOutput, Output,
/// };
/// #[derive(Clone)]
/// struct Count;
/// impl Model for Count {
///     type Params = serde_json::Map<String, serde_json::Value>;
///     type Artifact = usize;
///     fn run(&self, _: &Context<'_, Self::Params>) -> Result<Output<usize>, ModelError> {
///         Ok(Output::new(ModelOutput::new(), 0))
///     }
/// }
/// let code = Implementation::of(Count);
/// assert_eq!(code.produces(), ArtifactType::of::<usize>());
/// assert!(code.reads().is_empty());
/// assert!(code.build(ModelId::new("count")?, &serde_json::json!({})).is_ok());
/// assert!(code.build(ModelId::new("count")?, &serde_json::json!(7)).is_err());
/// # Ok::<(), model_api::IdError>(())
/// ```
#[derive(Clone)]
pub struct Implementation {
    produces: ArtifactType,
    reads: &'static [DeclaredInput],
    constructor: Arc<Constructor>,
}

impl Implementation {
    /// The implementation `kind`: each version gets a clone of it, bound to
    /// the version's params by [`instantiate`].
    pub fn of<M: Model + Clone>(kind: M) -> Self {
        Self {
            produces: ArtifactType::of::<M::Artifact>(),
            reads: M::INPUTS,
            constructor: Arc::new(move |id, params| instantiate(kind.clone(), id, params)),
        }
    }

    /// An implementation whose instances `constructor` builds by hand, with
    /// the declarations given. For executors and their tests that need
    /// instances no [`Model`] describes (a model that misbehaves on
    /// purpose): here the declarations are trusted, not derived, so prefer
    /// [`Implementation::of`].
    pub fn from_constructor<F>(
        produces: ArtifactType,
        reads: &'static [DeclaredInput],
        constructor: F,
    ) -> Self
    where
        F: Fn(ModelId, &serde_json::Value) -> Result<Arc<dyn ModelInstance>, ParamsError>
            + Send
            + Sync
            + 'static,
    {
        Self {
            produces,
            reads,
            constructor: Arc::new(constructor),
        }
    }

    /// The artifact type its results carry.
    pub fn produces(&self) -> ArtifactType {
        self.produces
    }

    /// The inputs it reads: key and expected artifact type.
    pub fn reads(&self) -> &'static [DeclaredInput] {
        self.reads
    }

    /// A runnable instance for version params `params` of model `id`. A
    /// constructor may panic; callers that must survive it (the registry)
    /// catch the unwind.
    pub fn build(
        &self,
        id: ModelId,
        params: &serde_json::Value,
    ) -> Result<Arc<dyn ModelInstance>, ParamsError> {
        (self.constructor)(id, params)
    }
}

impl fmt::Debug for Implementation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Implementation")
            .field("produces", &self.produces)
            .field("reads", &self.reads)
            .finish_non_exhaustive()
    }
}
