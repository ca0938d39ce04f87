//! Why a model or a version is left out of the plan.

use std::fmt;

use model_api::{ArtifactType, IdError, ImplementationName, ParamsError, Role};

use crate::{DependencyCycle, UnreadableParams};

/// One stored version, as reasons name it: `SHADOW version 1.1.0 (id 7)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRef {
    /// `detection_model_versions.id`.
    pub id: i64,
    /// The version label as stored.
    pub version: String,
    /// Its role.
    pub role: Role,
}

impl fmt::Display for VersionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} version {} (id {})", self.role, self.version, self.id)
    }
}

/// A version reads under an input key another artifact type than the
/// upstream PRIMARY under that key produces.
///
/// ```
/// use model_api::ArtifactType;
/// use registry::{TypeMismatch, VersionRef};
/// let m = TypeMismatch {
///     version: VersionRef { id: 9, version: "1.0.0".into(), role: model_api::Role::Primary },
///     implementation: "v1".parse()?,
///     input_key: "spoofing".into(),
///     upstream: "spoofing_score".into(),
///     upstream_implementation: "v3".parse()?,
///     expected: ArtifactType::of::<f64>(),
///     found: ArtifactType::of::<u8>(),
/// };
/// assert_eq!(
///     m.to_string(),
///     "PRIMARY version 1.0.0 (id 9) (implementation v1) reads input key \"spoofing\" as f64, \
///      but the PRIMARY of spoofing_score (implementation v3) produces u8"
/// );
/// # Ok::<(), model_api::IdError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeMismatch {
    /// The version.
    pub version: VersionRef,
    /// Its implementation.
    pub implementation: ImplementationName,
    /// The key.
    pub input_key: String,
    /// The upstream model the key reads.
    pub upstream: String,
    /// The implementation its PRIMARY runs.
    pub upstream_implementation: ImplementationName,
    /// What the version reads under the key.
    pub expected: ArtifactType,
    /// What the upstream PRIMARY produces.
    pub found: ArtifactType,
}

impl fmt::Display for TypeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (implementation {}) reads input key {:?} as {}, but the PRIMARY of {} \
             (implementation {}) produces {}",
            self.version,
            self.implementation,
            self.input_key,
            self.expected,
            self.upstream,
            self.upstream_implementation,
            self.found
        )
    }
}

/// Why a model (or one SHADOW/CHALLENGER version) is not in the plan.
///
/// `Display` is the sentence operators read in `runner models plan` and in
/// `kcg.detection_model_runs.error`, e.g. `upstream spoofing_score
/// unavailable`. This is an outcome shown whole, not an error in a chain:
/// where it carries an error (`IdError`, `ParamsError`) its text is part of
/// the sentence.
///
/// ```
/// use registry::Exclusion;
/// let reason = Exclusion::UpstreamUnavailable { upstream: "tracks".into() };
/// assert_eq!(reason.to_string(), "upstream tracks unavailable");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exclusion {
    /// The model lies on a dependency cycle.
    InCycle(DependencyCycle),
    /// The model is named by a dependency but has no ACTIVE version of an
    /// enabled model.
    NoActiveVersion,
    /// The stored model id is not a valid [`model_api::ModelId`].
    InvalidModelId(IdError),
    /// This build's catalog has no code for the model.
    UnknownKind {
        /// The model id as stored.
        model_id: String,
    },
    /// The catalog has code for the model, but not in the implementation
    /// the version names.
    UnknownImplementation {
        /// The version.
        version: VersionRef,
        /// The model.
        model_id: String,
        /// The implementation it names.
        implementation: String,
        /// The implementations this build has, sorted.
        known: Vec<ImplementationName>,
    },
    /// The version's implementation declares an input that no dependency
    /// of the model provides.
    InputNotWired {
        /// The version.
        version: VersionRef,
        /// Its implementation.
        implementation: ImplementationName,
        /// The declared key.
        input_key: String,
        /// The artifact type it expects under that key.
        expected: ArtifactType,
    },
    /// The upstream PRIMARY under a declared input key produces another
    /// artifact type than the version's implementation reads there.
    InputTypeMismatch(Box<TypeMismatch>),
    /// ACTIVE versions, none of them PRIMARY.
    NoActivePrimary {
        /// The ACTIVE versions there are.
        active: Vec<VersionRef>,
    },
    /// More than one ACTIVE PRIMARY (the database's partial unique index
    /// forbids it; a hand-edited or restored table may not have it).
    SeveralActivePrimaries {
        /// Their ids, ascending.
        ids: Vec<i64>,
    },
    /// The model's code refuses a version's params.
    BadParams {
        /// The version.
        version: VersionRef,
        /// What the code refused, naming the field.
        error: ParamsError,
    },
    /// A version's stored params could not be read at all.
    UnreadableParams {
        /// The version.
        version: VersionRef,
        /// What the reader said.
        error: UnreadableParams,
    },
    /// The model's constructor panicked on a version's params.
    ConstructorPanicked {
        /// The version.
        version: VersionRef,
        /// The model.
        model_id: String,
        /// The panic message (`a non-text panic` when it had none).
        message: String,
    },
    /// Two upstreams are declared under one input key, so one of the two
    /// results could never be read.
    InputKeyConflict {
        /// The key.
        input_key: String,
        /// The upstreams declared under it, sorted.
        upstreams: Vec<String>,
    },
    /// An upstream the model reads is left out itself (the smallest such
    /// upstream by model_id is named).
    UpstreamUnavailable {
        /// The upstream.
        upstream: String,
    },
    /// Unreachable by construction: the DAG still refused an edge after the
    /// cycle check. Planned nothing rather than a wrong order.
    CycleNotIsolated,
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exclusion::InCycle(cycle) => write!(f, "in dependency cycle {cycle}"),
            Exclusion::NoActiveVersion => f.write_str("no ACTIVE version of an enabled model"),
            Exclusion::InvalidModelId(e) => write!(f, "invalid model id: {e}"),
            Exclusion::UnknownKind { model_id } => write!(
                f,
                "unknown model_id {model_id}: no model kind of that name in this build's catalog"
            ),
            Exclusion::UnknownImplementation {
                version,
                model_id,
                implementation,
                known,
            } => {
                write!(
                    f,
                    "{version}: model {model_id} has no implementation {implementation} in this build's catalog (it has "
                )?;
                write_list(f, known)?;
                f.write_str(")")
            }
            Exclusion::InputNotWired {
                version,
                implementation,
                input_key,
                expected,
            } => write!(
                f,
                "{version} (implementation {implementation}) reads input key {input_key:?} as {expected}, \
                 but no dependency provides that key"
            ),
            Exclusion::InputTypeMismatch(mismatch) => write!(f, "{mismatch}"),
            Exclusion::NoActivePrimary { active } => {
                f.write_str("no ACTIVE PRIMARY version (ACTIVE: ")?;
                write_list(f, active)?;
                f.write_str(")")
            }
            Exclusion::SeveralActivePrimaries { ids } => {
                write!(f, "{} ACTIVE PRIMARY versions (ids ", ids.len())?;
                write_list(f, ids)?;
                f.write_str("); exactly one is required")
            }
            Exclusion::BadParams { version, error } => write!(f, "{version}: {error}"),
            Exclusion::UnreadableParams { version, error } => write!(f, "{version}: {error}"),
            Exclusion::ConstructorPanicked {
                version,
                model_id,
                message,
            } => write!(
                f,
                "{version}: the constructor of model {model_id} panicked: {message}"
            ),
            Exclusion::InputKeyConflict {
                input_key,
                upstreams,
            } => {
                write!(
                    f,
                    "input key {input_key:?} is declared for more than one upstream ("
                )?;
                write_list(f, upstreams)?;
                f.write_str(")")
            }
            Exclusion::UpstreamUnavailable { upstream } => {
                write!(f, "upstream {upstream} unavailable")
            }
            Exclusion::CycleNotIsolated => {
                f.write_str("dependency cycle not isolated by the cycle check")
            }
        }
    }
}

/// `a, b, c`.
fn write_list<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}
