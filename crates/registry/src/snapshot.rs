//! What one load of the registry tables yields: the input of the planner.
//! Plain data, filled by `registry-store` (or by hand in tests).

use std::collections::BTreeSet;
use std::fmt;

use model_api::Role;

/// Stored params that could not be read as JSON at all (nested deeper than
/// the JSON reader's limit of 128 levels, say): the version cannot be built,
/// and the planner leaves it out with this as its reason, the other
/// versions and models planned as usual.
///
/// ```
/// let p = registry::UnreadableParams { problem: "recursion limit exceeded at line 1 column 129".into() };
/// assert_eq!(p.to_string(), "its params cannot be read: recursion limit exceeded at line 1 column 129");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableParams {
    /// What the reader said.
    pub problem: String,
}

impl fmt::Display for UnreadableParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "its params cannot be read: {}", self.problem)
    }
}

/// One ACTIVE version of an enabled model, as stored.
///
/// `model_id` is kept as the raw string: turning it into a
/// [`model_api::ModelId`] (and refusing a bad one) is the planner's job.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveVersion {
    /// `detection_model_versions.id`.
    pub id: i64,
    /// The model this version belongs to.
    pub model_id: String,
    /// The version label, e.g. `1.2.0`.
    pub version: String,
    /// PRIMARY, SHADOW or CHALLENGER.
    pub role: Role,
    /// The params JSON; always an object (a non-object is logged and
    /// replaced by `{}` at load), or why the stored value could not be read.
    pub params: Result<serde_json::Value, UnreadableParams>,
    /// Per-version timeout override, in milliseconds.
    pub timeout_ms: Option<u32>,
    /// The implementation of the model this version runs, as stored
    /// (`detection_model_versions.implementation`); `None` runs the
    /// model's default implementation.
    pub implementation: Option<String>,
}

/// `model_id` consumes `depends_on`'s PRIMARY result under `input_key`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dependency {
    /// The consuming model.
    pub model_id: String,
    /// The upstream model.
    pub depends_on: String,
    /// The name under which the consumer reads the upstream result.
    pub input_key: String,
}

/// One consistent load: versions ordered by model_id, then role (PRIMARY,
/// CHALLENGER, SHADOW), then id; edges ordered by (model_id, depends_on,
/// input_key).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegistrySnapshot {
    /// ACTIVE versions of enabled models.
    pub versions: Vec<ActiveVersion>,
    /// All dependency edges.
    pub edges: Vec<Dependency>,
}

impl RegistrySnapshot {
    /// What a backtest of `candidate` plans: `candidate` itself, the ACTIVE
    /// PRIMARY of its model and of every model upstream of it
    /// (transitively, through `edges`), and the edges among those models.
    /// Every other version (the model's other candidates, models
    /// downstream or unrelated) is left out, so a plan of the result runs
    /// exactly what `candidate` needs and nothing else.
    ///
    /// `candidate` need not be ACTIVE (a DRAFT is planned as if it were);
    /// a version of the same id in `self` is replaced by it.
    pub fn for_backtest(&self, candidate: ActiveVersion) -> RegistrySnapshot {
        let mut models: BTreeSet<&str> = BTreeSet::new();
        let mut queue = vec![candidate.model_id.as_str()];
        while let Some(model) = queue.pop() {
            if models.insert(model) {
                queue.extend(
                    self.edges
                        .iter()
                        .filter(|e| e.model_id == model)
                        .map(|e| e.depends_on.as_str()),
                );
            }
        }
        let mut versions: Vec<ActiveVersion> = self
            .versions
            .iter()
            .filter(|v| {
                v.role == Role::Primary
                    && v.id != candidate.id
                    && models.contains(v.model_id.as_str())
            })
            .cloned()
            .collect();
        let edges = self
            .edges
            .iter()
            .filter(|e| {
                models.contains(e.model_id.as_str()) && models.contains(e.depends_on.as_str())
            })
            .cloned()
            .collect();
        versions.push(candidate);
        versions.sort_by(|a, b| {
            (&a.model_id, a.role.load_order(), a.id).cmp(&(&b.model_id, b.role.load_order(), b.id))
        });
        RegistrySnapshot { versions, edges }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(id: i64, model: &str, role: Role) -> ActiveVersion {
        ActiveVersion {
            id,
            model_id: model.into(),
            version: format!("v{id}"),
            role,
            params: Ok(serde_json::json!({})),
            timeout_ms: None,
            implementation: None,
        }
    }

    fn e(model: &str, on: &str) -> Dependency {
        Dependency {
            model_id: model.into(),
            depends_on: on.into(),
            input_key: on.into(),
        }
    }

    #[test]
    fn a_backtest_keeps_the_candidate_its_primary_and_the_upstream_primaries() {
        // tracks <- spoofing <- risk; identity <- spoofing; other alone.
        let snap = RegistrySnapshot {
            versions: vec![
                v(1, "tracks", Role::Primary),
                v(2, "tracks", Role::Shadow),
                v(3, "identity", Role::Primary),
                v(4, "spoofing", Role::Primary),
                v(5, "spoofing", Role::Challenger),
                v(6, "risk", Role::Primary),
                v(7, "other", Role::Primary),
            ],
            edges: vec![
                e("risk", "spoofing"),
                e("spoofing", "identity"),
                e("spoofing", "tracks"),
            ],
        };
        let candidate = v(9, "spoofing", Role::Shadow);
        let b = snap.for_backtest(candidate);
        let ids: Vec<i64> = b.versions.iter().map(|v| v.id).collect();
        assert_eq!(ids, vec![3, 4, 9, 1]);
        assert_eq!(
            b.edges,
            vec![e("spoofing", "identity"), e("spoofing", "tracks")]
        );

        // An ACTIVE candidate is not planned twice; a root model keeps its
        // own PRIMARY only.
        let b = snap.for_backtest(v(2, "tracks", Role::Shadow));
        let ids: Vec<i64> = b.versions.iter().map(|v| v.id).collect();
        assert_eq!(ids, vec![1, 2]);
        assert!(b.edges.is_empty());
    }
}
