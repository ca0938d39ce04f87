//! What a model produces and what it reads, as types the registry can
//! compare before anything runs.

use std::any::{Any, TypeId, type_name};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

/// The Rust type of an artifact, comparable and printable: what a model
/// declares it produces ([`Model::Artifact`](crate::Model::Artifact)) or
/// reads under an input key ([`Input`]).
///
/// Two `ArtifactType`s are equal when they name the same type
/// ([`TypeId`]); [`name`](Self::name) is its [`type_name`], for messages.
/// `ArtifactType::of::<()>()` ([`ArtifactType::NONE`]) is "no artifact".
///
/// ```
/// use model_api::ArtifactType;
/// struct Speeds;
/// let speeds = ArtifactType::of::<Speeds>();
/// assert_eq!(speeds, ArtifactType::of::<Speeds>());
/// assert_ne!(speeds, ArtifactType::of::<u32>());
/// assert!(speeds.name().ends_with("Speeds"));
/// assert!(ArtifactType::NONE.is_none());
/// assert_eq!(ArtifactType::NONE.to_string(), "no artifact");
/// ```
#[derive(Clone, Copy)]
pub struct ArtifactType {
    // Function pointers rather than the values: `TypeId::of` and `type_name`
    // are not `const fn`, and declarations ([`Input::declare`]) are consts.
    id: fn() -> TypeId,
    name: fn() -> &'static str,
}

impl ArtifactType {
    /// "No artifact": the type of a model whose `Artifact` is `()`.
    pub const NONE: ArtifactType = ArtifactType::of::<()>();

    /// The artifact type `T`.
    pub const fn of<T: Any>() -> Self {
        Self {
            id: TypeId::of::<T>,
            name: type_name::<T>,
        }
    }

    /// The type's [`TypeId`].
    pub fn type_id(&self) -> TypeId {
        (self.id)()
    }

    /// The type's name, e.g. `detectors::tracks::TrackFeatures` (as
    /// [`type_name`] gives it: for messages, not for parsing).
    pub fn name(&self) -> &'static str {
        (self.name)()
    }

    /// Whether this is "no artifact" (`()`).
    pub fn is_none(&self) -> bool {
        *self == Self::NONE
    }
}

impl PartialEq for ArtifactType {
    fn eq(&self, other: &Self) -> bool {
        self.type_id() == other.type_id()
    }
}

impl Eq for ArtifactType {}

impl Hash for ArtifactType {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.type_id().hash(state);
    }
}

impl fmt::Debug for ArtifactType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ArtifactType({})", self.name())
    }
}

impl fmt::Display for ArtifactType {
    /// The type name, or `no artifact` for `()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_none() {
            f.write_str("no artifact")
        } else {
            f.write_str(self.name())
        }
    }
}

/// One input a model reads: the input key and the artifact type expected
/// under it. Declared once as a `const` and used both in
/// [`Model::INPUTS`](crate::Model::INPUTS) (so the registry can check the
/// DAG before a cycle runs) and in [`Context::read`](crate::Context::read)
/// (so the model reads exactly what it declared).
///
/// ```
/// use model_api::{ArtifactType, Input};
/// struct Speeds;
/// const SPEEDS: Input<Speeds> = Input::new("speeds");
/// assert_eq!(SPEEDS.key(), "speeds");
/// assert_eq!(SPEEDS.declare().artifact(), ArtifactType::of::<Speeds>());
/// ```
pub struct Input<T> {
    key: &'static str,
    _artifact: PhantomData<fn() -> T>,
}

impl<T: Any> Input<T> {
    /// The input under `key` (1 to 64 characters, as
    /// [`InputKey`](crate::InputKey) requires; a catalog refuses a model
    /// that declares another key).
    pub const fn new(key: &'static str) -> Self {
        Self {
            key,
            _artifact: PhantomData,
        }
    }

    /// The input key.
    pub const fn key(&self) -> &'static str {
        self.key
    }

    /// The declaration of this input, for [`Model::INPUTS`](crate::Model::INPUTS).
    pub const fn declare(&self) -> DeclaredInput {
        DeclaredInput {
            key: self.key,
            artifact: ArtifactType::of::<T>(),
        }
    }
}

impl<T> Clone for Input<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Input<T> {}

impl<T> fmt::Debug for Input<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Input({:?}: {})", self.key, type_name::<T>())
    }
}

/// A declared input without its type parameter: input key and artifact
/// type. Built by [`Input::declare`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeclaredInput {
    key: &'static str,
    artifact: ArtifactType,
}

impl DeclaredInput {
    /// The input key.
    pub fn key(&self) -> &'static str {
        self.key
    }

    /// The artifact type expected under it.
    pub fn artifact(&self) -> ArtifactType {
        self.artifact
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct A;
    struct B;

    #[test]
    fn artifact_types_compare_by_type_and_print_their_name() {
        assert_eq!(ArtifactType::of::<A>(), ArtifactType::of::<A>());
        assert_ne!(ArtifactType::of::<A>(), ArtifactType::of::<B>());
        assert_eq!(
            ArtifactType::of::<A>().name(),
            "model_api::artifact::tests::A"
        );
        assert_eq!(
            ArtifactType::of::<A>().to_string(),
            ArtifactType::of::<A>().name()
        );
        assert!(!ArtifactType::of::<A>().is_none());
    }

    #[test]
    fn declarations_are_consts() {
        const IN: Input<A> = Input::new("a");
        const DECLARED: &[DeclaredInput] = &[IN.declare(), Input::<B>::new("b").declare()];
        assert_eq!(DECLARED[0].key(), "a");
        assert_eq!(DECLARED[1].artifact(), ArtifactType::of::<B>());
        assert_ne!(DECLARED[0], DECLARED[1]);
    }
}
