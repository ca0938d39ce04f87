//! From a registry snapshot to a [`Plan`]: grouping, instantiation, cycle
//! check, exclusion of dependents, levels.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use daggy::petgraph::algo::{tarjan_scc, toposort};
use daggy::petgraph::graph::DiGraph;
use daggy::{Dag, NodeIndex, Walker};
use model_api::{ModelId, ModelInstance, Role};
use params_cache::{ActiveVersion, RegistrySnapshot};

use crate::{
    Catalog, Constructor, DependencyCycle, Excluded, InputEdge, Plan, PlannedModel, PlannedVersion,
};

/// Plans `snapshot` with the model kinds `catalog` knows.
///
/// Pure and deterministic: the same rows in any order give the same plan.
/// Never fails and never panics on its input (a panicking constructor is
/// caught and reported as that version's reason): everything that cannot
/// run is in [`Plan::excluded`] with its reason, and every dependency cycle
/// in [`Plan::cycles`].
pub fn plan(catalog: &Catalog, snapshot: &RegistrySnapshot) -> Plan {
    let graph = Graph::new(snapshot);
    let n = graph.names.len();

    let cycles = find_cycles(&graph);
    // Why each model is out, by precedence: cycle, own problem, upstream.
    let mut out: Vec<Option<String>> = vec![None; n];
    for cycle in &cycles {
        let reason = format!("in dependency cycle {cycle}");
        for model in &cycle.models {
            let slot = &mut out[graph.index[model.as_str()]];
            if slot.is_none() {
                *slot = Some(reason.clone());
            }
        }
    }

    let mut primaries: Vec<Option<(ModelId, PlannedVersion)>> = vec![None; n];
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
            out[node] = culprit.map(|&u| format!("upstream {} unavailable", graph.names[u]));
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
                    reason: "dependency cycle not isolated by the cycle check".to_owned(),
                });
            }
            Vec::new()
        }
    };

    let mut planned_levels = Vec::with_capacity(levels.len());
    for level in levels {
        let mut models = Vec::with_capacity(level.len());
        for node in level {
            let Some((model_id, primary)) = primaries[node].take() else {
                continue;
            };
            let others = others(catalog, &model_id, &graph.versions[node], &mut excluded);
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

/// The snapshot as an indexed graph. Node indices follow the sorted model
/// ids, so every order below is deterministic whatever the row order was.
struct Graph<'a> {
    names: Vec<&'a str>,
    index: HashMap<&'a str, usize>,
    /// Each model's ACTIVE versions, PRIMARY, CHALLENGER, SHADOW, each by id.
    versions: Vec<Vec<&'a ActiveVersion>>,
    /// `(upstream, input_key)` per model, sorted, without duplicates.
    inputs: Vec<Vec<(usize, &'a str)>>,
    /// Distinct upstream models per model, sorted.
    upstreams: Vec<Vec<usize>>,
    /// Distinct dependent models per model, sorted.
    dependents: Vec<Vec<usize>>,
}

impl<'a> Graph<'a> {
    fn new(snapshot: &'a RegistrySnapshot) -> Self {
        // Deduplicate by hash first: sorting every mention (two per edge)
        // would compare strings ten times as often as sorting the distinct ids.
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(snapshot.versions.len());
        let mentions = snapshot.versions.iter().map(|v| v.model_id.as_str()).chain(
            snapshot
                .edges
                .iter()
                .flat_map(|e| [e.model_id.as_str(), e.depends_on.as_str()]),
        );
        for name in mentions {
            index.entry(name).or_insert(0);
        }
        let mut names: Vec<&str> = index.keys().copied().collect();
        names.sort_unstable();
        for (i, name) in names.iter().enumerate() {
            index.insert(name, i);
        }
        let n = names.len();

        let mut versions: Vec<Vec<&ActiveVersion>> = vec![Vec::new(); n];
        for v in &snapshot.versions {
            versions[index[v.model_id.as_str()]].push(v);
        }
        for list in &mut versions {
            list.sort_by_key(|v| (v.role.load_order(), v.id));
        }

        let mut inputs: Vec<Vec<(usize, &str)>> = vec![Vec::new(); n];
        for e in &snapshot.edges {
            inputs[index[e.model_id.as_str()]]
                .push((index[e.depends_on.as_str()], e.input_key.as_str()));
        }
        let mut upstreams = vec![Vec::new(); n];
        let mut dependents = vec![Vec::new(); n];
        for (node, list) in inputs.iter_mut().enumerate() {
            list.sort_unstable();
            list.dedup();
            for &(upstream, _) in list.iter() {
                if upstreams[node].last() != Some(&upstream) {
                    upstreams[node].push(upstream);
                    dependents[upstream].push(node);
                }
            }
        }
        // Filled in node order, so already sorted.
        Self {
            names,
            index,
            versions,
            inputs,
            upstreams,
            dependents,
        }
    }
}

/// Why `node` cannot be fed, if two of its upstreams are declared under one
/// input key: the model reads one result per key, so one of them would be
/// lost without a word.
fn key_conflict(graph: &Graph<'_>, node: usize) -> Option<String> {
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
    let names: Vec<&str> = upstreams.iter().map(|&u| graph.names[u]).collect();
    Some(format!(
        "input key {key:?} is declared for more than one upstream ({})",
        names.join(", ")
    ))
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
            let path = shortest_cycle_through(graph, start, |i| component[i] == c);
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

/// The shortest cycle through `start` staying inside its strongly
/// connected group, following "depends on"; neighbours are tried in model_id
/// order, so the result is deterministic.
fn shortest_cycle_through(
    graph: &Graph<'_>,
    start: usize,
    inside: impl Fn(usize) -> bool,
) -> Vec<usize> {
    let mut parent: HashMap<usize, usize> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &next in &graph.upstreams[node] {
            if next == start {
                let mut path = vec![node];
                let mut at = node;
                while at != start {
                    at = parent[&at];
                    path.push(at);
                }
                path.reverse();
                return path;
            }
            if inside(next) && !parent.contains_key(&next) {
                parent.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    // `start` is on a cycle of its group, so the search always closes it.
    vec![start]
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

/// The model's one ACTIVE PRIMARY, instantiated, or why there is none.
fn primary(
    catalog: &Catalog,
    name: &str,
    versions: &[&ActiveVersion],
) -> Result<(ModelId, PlannedVersion), String> {
    if versions.is_empty() {
        return Err("no ACTIVE version of an enabled model".to_owned());
    }
    let model_id = ModelId::new(name).map_err(|e| format!("invalid model id: {e}"))?;
    let Some(constructor) = catalog.get(name) else {
        return Err(format!(
            "unknown model_id {name}: no model kind of that name in this build's catalog"
        ));
    };
    let primaries: Vec<&ActiveVersion> = versions
        .iter()
        .copied()
        .filter(|v| v.role == Role::Primary)
        .collect();
    let primary = match primaries.as_slice() {
        [one] => *one,
        [] => {
            let present: Vec<String> = versions.iter().map(|v| describe(v)).collect();
            return Err(format!(
                "no ACTIVE PRIMARY version (ACTIVE: {})",
                present.join(", ")
            ));
        }
        many => {
            let ids: Vec<String> = many.iter().map(|v| v.id.to_string()).collect();
            return Err(format!(
                "{} ACTIVE PRIMARY versions (ids {}); exactly one is required",
                many.len(),
                ids.join(", ")
            ));
        }
    };
    let planned = instantiate(constructor, &model_id, primary)
        .map_err(|e| format!("{}: {e}", describe(primary)))?;
    Ok((model_id, planned))
}

/// The model's SHADOW and CHALLENGER versions that instantiate; the others
/// are recorded as excluded versions.
fn others(
    catalog: &Catalog,
    model_id: &ModelId,
    versions: &[&ActiveVersion],
    excluded: &mut Vec<Excluded>,
) -> Vec<PlannedVersion> {
    let Some(constructor) = catalog.get(model_id.as_str()) else {
        return Vec::new();
    };
    let mut planned = Vec::new();
    for v in versions.iter().filter(|v| v.role != Role::Primary) {
        match instantiate(constructor, model_id, v) {
            Ok(p) => planned.push(p),
            Err(e) => excluded.push(Excluded {
                model_id: model_id.to_string(),
                version_id: Some(v.id),
                role: Some(v.role),
                reason: format!("{}: {e}", describe(v)),
            }),
        }
    }
    planned
}

/// Runs the catalog's constructor on a version's params; a panic inside it
/// becomes an error instead of taking the process down.
fn instantiate(
    constructor: &Constructor,
    model_id: &ModelId,
    v: &ActiveVersion,
) -> Result<PlannedVersion, String> {
    let built = catch_unwind(AssertUnwindSafe(|| {
        constructor(model_id.clone(), &v.params)
    }));
    let instance: Arc<dyn ModelInstance> = match built {
        Ok(Ok(instance)) => instance,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-text panic".to_owned());
            return Err(format!(
                "the constructor of model {model_id} panicked: {message}"
            ));
        }
    };
    Ok(PlannedVersion {
        version_id: v.id,
        version: v.version.clone(),
        role: v.role,
        timeout: v.timeout_ms.map(|ms| Duration::from_millis(u64::from(ms))),
        instance,
    })
}

/// `PRIMARY version 1.0.0 (id 7)`.
fn describe(v: &ActiveVersion) -> String {
    format!("{} version {} (id {})", v.role, v.version, v.id)
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
