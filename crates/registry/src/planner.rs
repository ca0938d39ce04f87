//! From a registry snapshot to a [`Plan`]: grouping, instantiation, cycle
//! check, exclusion of dependents, levels.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use daggy::petgraph::algo::{tarjan_scc, toposort};
use daggy::petgraph::graph::DiGraph;
use daggy::{Dag, NodeIndex, Walker};
use model_api::{ArtifactType, ImplementationName, ModelId, ModelInstance, Role};

use crate::catalog::{Refusal, Resolved, Unresolved, build};
use crate::graph::Graph;
use crate::{
    ActiveVersion, Catalog, DependencyCycle, Excluded, Exclusion, InputEdge, Plan, PlannedModel,
    PlannedVersion, RegistrySnapshot, TypeMismatch, VersionRef,
};

/// What a model's PRIMARY produces, for the type check of its dependents.
type Produces<'c> = Option<(ArtifactType, &'c ImplementationName)>;

/// Plans `snapshot` with the model kinds `catalog` knows.
///
/// Pure and deterministic: the same rows in any order give the same plan.
/// Never fails and never panics on its input (a panicking constructor is
/// caught and reported as that version's reason): everything that cannot
/// run is in [`Plan::excluded`] with its reason, and every dependency cycle
/// in [`Plan::cycles`].
pub fn plan(catalog: &Catalog, snapshot: &RegistrySnapshot) -> Plan {
    let graph = Graph::new(&snapshot.versions, &snapshot.edges);
    let n = graph.names.len();

    let cycles = find_cycles(&graph);
    // Why each model is out, by precedence: cycle, own problem, upstream.
    let mut out: Vec<Option<Exclusion>> = vec![None; n];
    for cycle in &cycles {
        let reason = Exclusion::InCycle(cycle.clone());
        for model in &cycle.models {
            let slot = &mut out[graph.index[model.as_str()]];
            if slot.is_none() {
                *slot = Some(reason.clone());
            }
        }
    }

    let mut primaries: Vec<Option<(ModelId, PlannedVersion, Resolved<'_>)>> = vec![None; n];
    for node in 0..n {
        if out[node].is_some() {
            continue;
        }
        match primary(catalog, graph.names[node], &graph.versions[node]) {
            Ok(found) => match key_conflict(&graph, node) {
                None => primaries[node] = Some(found),
                Some(reason) => out[node] = Some(reason),
            },
            Err(reason) => out[node] = Some(reason),
        }
    }

    // The DAG's types: every input a PRIMARY declares must be wired, and
    // the upstream PRIMARY under it must produce the declared type. Checked
    // against the upstreams whose PRIMARY could be built (the others leave
    // their dependents out anyway, below).
    let produces: Vec<Produces<'_>> = primaries
        .iter()
        .map(|p| p.as_ref().map(|(_, _, r)| (r.code.produces(), r.name)))
        .collect();
    for node in 0..n {
        let Some((_, _, resolved)) = &primaries[node] else {
            continue;
        };
        let Some(primary) = graph.versions[node]
            .iter()
            .find(|v| v.role == Role::Primary)
        else {
            continue;
        };
        if let Err(reason) = check_inputs(&graph, node, primary, resolved, &produces) {
            primaries[node] = None;
            out[node] = Some(reason);
        }
    }

    // Everything downstream of an unavailable model is unavailable too.
    let own_out: Vec<bool> = out.iter().map(Option::is_some).collect();
    let mut unavailable = own_out.clone();
    let mut queue: VecDeque<usize> = (0..n).filter(|&i| unavailable[i]).collect();
    while let Some(node) = queue.pop_front() {
        for &dependent in &graph.dependents[node] {
            if !unavailable[dependent] {
                unavailable[dependent] = true;
                queue.push_back(dependent);
            }
        }
    }
    for node in 0..n {
        if unavailable[node] && !own_out[node] {
            // `upstreams` is sorted by model_id: name the smallest culprit.
            let culprit = graph.upstreams[node].iter().find(|&&u| unavailable[u]);
            out[node] = culprit.map(|&u| Exclusion::UpstreamUnavailable {
                upstream: graph.names[u].to_owned(),
            });
        }
    }

    let mut excluded = Vec::new();
    for (node, reason) in out.into_iter().enumerate() {
        let Some(reason) = reason else {
            continue;
        };
        // A model with no ACTIVE version that nothing depends on (a disabled
        // consumer) is simply not part of the registry's live graph.
        if graph.versions[node].is_empty() && graph.dependents[node].is_empty() {
            continue;
        }
        excluded.push(Excluded {
            model_id: graph.names[node].to_owned(),
            version_id: None,
            role: None,
            reason,
            versions: graph.versions[node]
                .iter()
                .map(|v| version_ref(v))
                .collect(),
        });
    }

    let levels = match levels(&graph, &unavailable) {
        Ok(levels) => levels,
        Err(stuck) => {
            // Unreachable by construction (every node on a cycle is out), but
            // a wrong plan must never reach the executor.
            tracing::error!(
                "the dependency graph still had a cycle after the cycle check; planning nothing"
            );
            for node in stuck {
                excluded.push(Excluded {
                    model_id: graph.names[node].to_owned(),
                    version_id: None,
                    role: None,
                    reason: Exclusion::CycleNotIsolated,
                    versions: graph.versions[node]
                        .iter()
                        .map(|v| version_ref(v))
                        .collect(),
                });
            }
            Vec::new()
        }
    };

    let mut planned_levels = Vec::with_capacity(levels.len());
    for level in levels {
        let mut models = Vec::with_capacity(level.len());
        for node in level {
            let Some((model_id, primary, _)) = primaries[node].take() else {
                continue;
            };
            let others = others(catalog, &graph, node, &model_id, &produces, &mut excluded);
            let inputs = graph.inputs[node]
                .iter()
                .filter_map(|&(upstream, key)| {
                    // Planned upstreams passed `ModelId::new` already.
                    let upstream = ModelId::new(graph.names[upstream]).ok()?;
                    Some(InputEdge {
                        upstream,
                        input_key: key.to_owned(),
                    })
                })
                .collect();
            models.push(PlannedModel {
                model_id,
                primary,
                others,
                inputs,
            });
        }
        planned_levels.push(models);
    }

    excluded.sort_by(|a, b| (&a.model_id, a.version_id).cmp(&(&b.model_id, b.version_id)));
    let plan = Plan {
        levels: planned_levels,
        excluded,
        cycles,
    };
    tracing::debug!(
        levels = plan.levels.len(),
        models = plan.model_count(),
        versions = plan.version_count(),
        excluded = plan.excluded.len(),
        cycles = plan.cycles.len(),
        "registry planned"
    );
    for e in &plan.excluded {
        tracing::debug!(model_id = %e.model_id, version_id = ?e.version_id, reason = %e.reason, "left out of the plan");
    }
    plan
}

/// Why `node` cannot be fed, if two of its upstreams are declared under one
/// input key: the model reads one result per key, so one of them would be
/// lost without a word.
fn key_conflict(graph: &Graph<'_>, node: usize) -> Option<Exclusion> {
    let inputs = &graph.inputs[node];
    if inputs.len() < 2 {
        return None;
    }
    let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    // `inputs` is sorted by upstream and free of duplicates, so each list
    // holds distinct upstreams in model_id order.
    for &(upstream, key) in inputs {
        by_key.entry(key).or_default().push(upstream);
    }
    let (key, upstreams) = by_key.into_iter().find(|(_, ups)| ups.len() > 1)?;
    Some(Exclusion::InputKeyConflict {
        input_key: key.to_owned(),
        upstreams: upstreams
            .iter()
            .map(|&u| graph.names[u].to_owned())
            .collect(),
    })
}

/// Every strongly connected group of models (or model depending on itself)
/// as cycles that together pass through each of its models.
fn find_cycles(graph: &Graph<'_>) -> Vec<DependencyCycle> {
    let n = graph.names.len();
    // Edges point from a model to what it depends on, the reading order of a
    // reported cycle.
    let mut depends_on: DiGraph<(), (), usize> = DiGraph::with_capacity(n, n);
    for _ in 0..n {
        depends_on.add_node(());
    }
    for (node, ups) in graph.upstreams.iter().enumerate() {
        for &up in ups {
            depends_on.add_edge(NodeIndex::new(node), NodeIndex::new(up), ());
        }
    }

    let mut cycles = Vec::new();
    let mut component = vec![usize::MAX; n];
    for (c, scc) in tarjan_scc(&depends_on).into_iter().enumerate() {
        let self_loop = scc.len() == 1 && graph.upstreams[scc[0].index()].contains(&scc[0].index());
        if scc.len() < 2 && !self_loop {
            continue;
        }
        let mut members: Vec<usize> = scc.iter().map(|i| i.index()).collect();
        members.sort_unstable();
        for &m in &members {
            component[m] = c;
        }
        let mut covered = vec![false; n];
        for &start in &members {
            if covered[start] {
                continue;
            }
            // `start` is on a cycle of its group, so the search closes it.
            let mut path = graph
                .shortest_path(start, start, |i| component[i] == c)
                .unwrap_or_else(|| vec![start, start]);
            path.pop();
            for &m in &path {
                covered[m] = true;
            }
            cycles.push(DependencyCycle {
                models: path.iter().map(|&i| graph.names[i].to_owned()).collect(),
            });
        }
    }
    cycles.sort();
    cycles
}

/// The available models in levels: each one level after its latest upstream,
/// sorted by model_id inside a level. The DAG is a daggy [`Dag`], which
/// refuses any cycle; on that impossible refusal the available models are
/// returned as the error.
fn levels(graph: &Graph<'_>, unavailable: &[bool]) -> Result<Vec<Vec<usize>>, Vec<usize>> {
    let available: Vec<usize> = (0..graph.names.len())
        .filter(|&i| !unavailable[i])
        .collect();
    let mut dag: Dag<usize, (), u32> = Dag::with_capacity(available.len(), available.len());
    // Every upstream of an available model is available, so `node_of` is
    // set for both ends of every edge below.
    let mut node_of: Vec<NodeIndex<u32>> = vec![NodeIndex::end(); graph.names.len()];
    for &model in &available {
        node_of[model] = dag.add_node(model);
    }
    let edges: Vec<_> = available
        .iter()
        .flat_map(|&model| graph.upstreams[model].iter().map(move |&up| (up, model)))
        .map(|(up, model)| (node_of[up], node_of[model], ()))
        .collect();
    if dag.add_edges(edges).is_err() {
        return Err(available);
    }
    let order = toposort(dag.graph(), None).map_err(|_| available.clone())?;
    let mut level_of: Vec<usize> = vec![0; dag.node_count()];
    let mut levels: Vec<Vec<usize>> = Vec::new();
    for node in order {
        let level = dag
            .parents(node)
            .iter(&dag)
            .map(|(_, p)| level_of[p.index()] + 1)
            .max()
            .unwrap_or(0);
        level_of[node.index()] = level;
        if levels.len() <= level {
            levels.resize_with(level + 1, Vec::new);
        }
        levels[level].push(dag[node]);
    }
    for level in &mut levels {
        level.sort_unstable();
    }
    Ok(levels)
}

/// The model's one ACTIVE PRIMARY, instantiated, with the implementation
/// it runs, or why there is none.
fn primary<'c>(
    catalog: &'c Catalog,
    name: &str,
    versions: &[&ActiveVersion],
) -> Result<(ModelId, PlannedVersion, Resolved<'c>), Exclusion> {
    if versions.is_empty() {
        return Err(Exclusion::NoActiveVersion);
    }
    let model_id = ModelId::new(name).map_err(Exclusion::InvalidModelId)?;
    if !catalog.contains(name) {
        return Err(Exclusion::UnknownKind {
            model_id: name.to_owned(),
        });
    }
    let primaries: Vec<&ActiveVersion> = versions
        .iter()
        .copied()
        .filter(|v| v.role == Role::Primary)
        .collect();
    let primary = match primaries.as_slice() {
        [one] => *one,
        [] => {
            return Err(Exclusion::NoActivePrimary {
                active: versions.iter().map(|v| version_ref(v)).collect(),
            });
        }
        many => {
            return Err(Exclusion::SeveralActivePrimaries {
                ids: many.iter().map(|v| v.id).collect(),
            });
        }
    };
    let resolved = resolve(catalog, &model_id, primary)?;
    let planned = instantiate(&resolved, &model_id, primary)?;
    Ok((model_id, planned, resolved))
}

/// The model's SHADOW and CHALLENGER versions that resolve, type-check and
/// instantiate; the others are recorded as excluded versions.
fn others(
    catalog: &Catalog,
    graph: &Graph<'_>,
    node: usize,
    model_id: &ModelId,
    produces: &[Produces<'_>],
    excluded: &mut Vec<Excluded>,
) -> Vec<PlannedVersion> {
    let mut planned = Vec::new();
    for v in graph.versions[node]
        .iter()
        .filter(|v| v.role != Role::Primary)
    {
        let built = resolve(catalog, model_id, v).and_then(|resolved| {
            check_inputs(graph, node, v, &resolved, produces)?;
            instantiate(&resolved, model_id, v)
        });
        match built {
            Ok(p) => planned.push(p),
            Err(reason) => excluded.push(Excluded {
                model_id: model_id.to_string(),
                version_id: Some(v.id),
                role: Some(v.role),
                reason,
                versions: Vec::new(),
            }),
        }
    }
    planned
}

/// The implementation version `v` runs, or why this build has none.
fn resolve<'c>(
    catalog: &'c Catalog,
    model_id: &ModelId,
    v: &ActiveVersion,
) -> Result<Resolved<'c>, Exclusion> {
    catalog
        .resolve(model_id.as_str(), v.implementation.as_deref())
        .map_err(|unresolved| match unresolved {
            Unresolved::UnknownModel => Exclusion::UnknownKind {
                model_id: model_id.to_string(),
            },
            Unresolved::UnknownImplementation { known } => Exclusion::UnknownImplementation {
                version: version_ref(v),
                model_id: model_id.to_string(),
                implementation: v.implementation.clone().unwrap_or_default(),
                known,
            },
        })
}

/// Whether every input `resolved` declares for version `v` of `node` is
/// wired, and fed by an upstream PRIMARY of the declared type (an upstream
/// whose PRIMARY could not be built is not judged here).
fn check_inputs(
    graph: &Graph<'_>,
    node: usize,
    v: &ActiveVersion,
    resolved: &Resolved<'_>,
    produces: &[Produces<'_>],
) -> Result<(), Exclusion> {
    for input in resolved.code.reads() {
        let wired = graph.inputs[node]
            .iter()
            .find(|&&(_, key)| key == input.key());
        let Some(&(upstream, key)) = wired else {
            return Err(Exclusion::InputNotWired {
                version: version_ref(v),
                implementation: resolved.name.clone(),
                input_key: input.key().to_owned(),
                expected: input.artifact(),
            });
        };
        if let Some((found, upstream_implementation)) = produces[upstream]
            && found != input.artifact()
        {
            return Err(Exclusion::InputTypeMismatch(Box::new(TypeMismatch {
                version: version_ref(v),
                implementation: resolved.name.clone(),
                input_key: key.to_owned(),
                upstream: graph.names[upstream].to_owned(),
                upstream_implementation: upstream_implementation.clone(),
                expected: input.artifact(),
                found,
            })));
        }
    }
    Ok(())
}

/// Builds a version's instance, or the reason it cannot be built.
fn instantiate(
    resolved: &Resolved<'_>,
    model_id: &ModelId,
    v: &ActiveVersion,
) -> Result<PlannedVersion, Exclusion> {
    let params = v
        .params
        .as_ref()
        .map_err(|error| Exclusion::UnreadableParams {
            version: version_ref(v),
            error: error.clone(),
        })?;
    let instance: Arc<dyn ModelInstance> =
        build(resolved.code, model_id, params).map_err(|refusal| match refusal {
            Refusal::Params(error) => Exclusion::BadParams {
                version: version_ref(v),
                error,
            },
            Refusal::Panicked(message) => Exclusion::ConstructorPanicked {
                version: version_ref(v),
                model_id: model_id.to_string(),
                message,
            },
        })?;
    Ok(PlannedVersion {
        version_id: v.id,
        version: v.version.clone(),
        role: v.role,
        implementation: resolved.name.clone(),
        timeout: v.timeout_ms.map(|ms| Duration::from_millis(u64::from(ms))),
        instance,
    })
}

/// `PRIMARY version 1.0.0 (id 7)`, as reasons name it.
fn version_ref(v: &ActiveVersion) -> VersionRef {
    VersionRef {
        id: v.id,
        version: v.version.clone(),
        role: v.role,
    }
}

/// Groups versions by model, for callers that want to show them.
pub fn versions_by_model(snapshot: &RegistrySnapshot) -> BTreeMap<&str, Vec<&ActiveVersion>> {
    let mut by_model: BTreeMap<&str, Vec<&ActiveVersion>> = BTreeMap::new();
    for v in &snapshot.versions {
        by_model.entry(v.model_id.as_str()).or_default().push(v);
    }
    for list in by_model.values_mut() {
        list.sort_by_key(|v| (v.role.load_order(), v.id));
    }
    by_model
}
