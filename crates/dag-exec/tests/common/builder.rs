#![allow(dead_code)] // the benchmarks use a part of it
//! Plans for tests and benchmarks, built the only way a plan can be: by
//! `registry::plan`, from a snapshot and a catalog whose constructors hand
//! out prepared instances. Shared with the benchmarks (`#[path]`), so it
//! needs nothing but the crate's normal dependencies.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use model_api::{ArtifactType, Implementation, ModelId, ModelInstance, ParamsError, Role};
use registry::{ActiveVersion, Catalog, Dependency, Plan, RegistrySnapshot};

/// What a version's constructor does.
enum Slot {
    /// Hands out this instance.
    Instance(Arc<dyn ModelInstance>),
    /// Refuses the params with this message.
    Refuse(String),
}

/// Collects versions and edges, then plans them with [`PlanBuilder::build`].
#[derive(Default)]
pub struct PlanBuilder {
    versions: Vec<ActiveVersion>,
    edges: Vec<Dependency>,
    /// Per model with code: what each version's constructor does, indexed by
    /// the `"slot"` of the version's params.
    slots: BTreeMap<String, Vec<Slot>>,
}

impl PlanBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(
        &mut self,
        model: &str,
        version_id: i64,
        role: Role,
        timeout: Option<Duration>,
        slot: Slot,
    ) {
        let slots = self.slots.entry(model.to_owned()).or_default();
        self.versions.push(ActiveVersion {
            id: version_id,
            model_id: model.to_owned(),
            version: format!("v{version_id}"),
            role,
            params: Ok(serde_json::json!({ "slot": slots.len() })),
            timeout_ms: timeout.map(|t| u32::try_from(t.as_millis()).expect("a test timeout")),
            implementation: None,
        });
        slots.push(slot);
    }

    /// An ACTIVE version `version_id` of `model` (labelled `v{version_id}`)
    /// running `instance`.
    pub fn version(
        &mut self,
        model: &str,
        version_id: i64,
        role: Role,
        timeout: Option<Duration>,
        instance: Arc<dyn ModelInstance>,
    ) -> &mut Self {
        self.push(model, version_id, role, timeout, Slot::Instance(instance));
        self
    }

    /// An ACTIVE version whose params the model's code refuses with
    /// `message`: the planner leaves it out.
    pub fn refused(
        &mut self,
        model: &str,
        version_id: i64,
        role: Role,
        message: &str,
    ) -> &mut Self {
        self.push(
            model,
            version_id,
            role,
            None,
            Slot::Refuse(message.to_owned()),
        );
        self
    }

    /// An ACTIVE PRIMARY of a model this build has no code for: the planner
    /// leaves the model out.
    pub fn unknown(&mut self, model: &str, version_id: i64) -> &mut Self {
        self.versions.push(ActiveVersion {
            id: version_id,
            model_id: model.to_owned(),
            version: format!("v{version_id}"),
            role: Role::Primary,
            params: Ok(serde_json::json!({})),
            timeout_ms: None,
            implementation: None,
        });
        self
    }

    /// `model` reads `upstream`'s PRIMARY result under `key`.
    pub fn input(&mut self, model: &str, upstream: &str, key: &str) -> &mut Self {
        self.edges.push(Dependency {
            model_id: model.to_owned(),
            depends_on: upstream.to_owned(),
            input_key: key.to_owned(),
        });
        self
    }

    /// The plan. The catalog (and with it every instance not planned) is
    /// dropped on return: the plan is what holds the instances. The
    /// instances are hand-made, so they declare no inputs (nothing to
    /// type-check) and an unknown artifact type.
    pub fn build(self) -> Plan {
        let mut catalog = Catalog::new();
        for (model, slots) in self.slots {
            let constructor = move |id: ModelId, params: &serde_json::Value| {
                let slot = params
                    .get("slot")
                    .and_then(serde_json::Value::as_u64)
                    .and_then(|i| slots.get(usize::try_from(i).ok()?));
                match slot {
                    Some(Slot::Instance(instance)) => Ok(Arc::clone(instance)),
                    Some(Slot::Refuse(message)) => Err(ParamsError {
                        model: id,
                        field: None,
                        message: message.clone(),
                    }),
                    None => Err(ParamsError {
                        model: id,
                        field: Some("slot".to_owned()),
                        message: "no such slot".to_owned(),
                    }),
                }
            };
            catalog
                .register(
                    &model,
                    "test",
                    Implementation::from_constructor(ArtifactType::NONE, &[], constructor),
                )
                .expect("a valid test model id");
        }
        registry::plan(
            &catalog,
            &RegistrySnapshot {
                versions: self.versions,
                edges: self.edges,
            },
        )
    }
}
