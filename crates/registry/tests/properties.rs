//! Property tests on random registries of up to 60 models with random
//! forward and back edges, checked against independent computations.

mod common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use common::*;
use model_api::Role;
use proptest::prelude::*;
use registry::{ActiveVersion, Dependency, RegistrySnapshot};
use registry::{Exclusion, plan};

/// What a generated model looks like in the registry.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// One good PRIMARY.
    Good,
    /// A good PRIMARY, a good SHADOW, a good CHALLENGER.
    WithCandidates,
    /// A good PRIMARY and a SHADOW whose params are refused.
    BadShadow,
    /// A PRIMARY whose params are refused.
    BadPrimary,
    /// Only a SHADOW.
    NoPrimary,
    /// Not in the catalog.
    Unknown,
    /// No ACTIVE version at all (only named by edges).
    Absent,
}

impl Kind {
    /// Whether the model itself (ignoring its upstreams) can be planned.
    fn own_ok(self) -> bool {
        matches!(self, Kind::Good | Kind::WithCandidates | Kind::BadShadow)
    }
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        12 => Just(Kind::Good),
        3 => Just(Kind::WithCandidates),
        1 => Just(Kind::BadShadow),
        1 => Just(Kind::BadPrimary),
        1 => Just(Kind::NoPrimary),
        1 => Just(Kind::Unknown),
        1 => Just(Kind::Absent),
    ]
}

#[derive(Debug, Clone)]
struct Registry {
    names: Vec<String>,
    kinds: Vec<Kind>,
    /// `(dependent, upstream, key)` by index.
    edges: Vec<(usize, usize, u8)>,
}

/// Names are shuffled so that index order and model_id order differ.
fn registry() -> impl Strategy<Value = Registry> {
    (1usize..=60)
        .prop_flat_map(|n| {
            let names = Just((0..n).collect::<Vec<_>>()).prop_shuffle();
            let kinds = prop::collection::vec(kind(), n);
            // Forward edges go from a later model to an earlier one (acyclic);
            // a back edge (1 in 25) goes the other way and may close a cycle.
            let edges = prop::collection::vec((0..n, 0..n, 0u8..25, 0u8..3), 0..=3 * n);
            (names, kinds, edges)
        })
        .prop_map(|(names, kinds, raw)| {
            let edges = raw
                .into_iter()
                .filter(|(a, b, _, _)| a != b)
                .map(|(a, b, back, key)| {
                    let (lo, hi) = (a.min(b), a.max(b));
                    if back == 0 {
                        (lo, hi, key)
                    } else {
                        (hi, lo, key)
                    }
                })
                .collect();
            Registry {
                names: names.into_iter().map(|i| format!("m{i:02}")).collect(),
                kinds,
                edges,
            }
        })
}

impl Registry {
    fn snapshot(&self) -> RegistrySnapshot {
        let mut versions = Vec::new();
        let mut id = 0;
        let mut add = |model: &str, role: Role, params: serde_json::Value| {
            id += 1;
            versions.push(version(id, model, &format!("v{id}"), role, params));
        };
        for (name, kind) in self.names.iter().zip(&self.kinds) {
            match kind {
                Kind::Good | Kind::Unknown => add(name, Role::Primary, good()),
                Kind::WithCandidates => {
                    add(name, Role::Shadow, good());
                    add(name, Role::Primary, good());
                    add(name, Role::Challenger, good());
                }
                Kind::BadShadow => {
                    add(name, Role::Primary, good());
                    add(name, Role::Shadow, bad());
                }
                Kind::BadPrimary => add(name, Role::Primary, bad()),
                Kind::NoPrimary => add(name, Role::Shadow, good()),
                Kind::Absent => {}
            }
        }
        let mut edges: Vec<Dependency> = self
            .edges
            .iter()
            .map(|&(d, u, k)| edge(&self.names[d], &self.names[u], &format!("k{k}")))
            .collect();
        edges.sort();
        edges.dedup();
        RegistrySnapshot { versions, edges }
    }

    fn catalog(&self) -> registry::Catalog {
        catalog(
            self.names
                .iter()
                .zip(&self.kinds)
                .filter(|(_, k)| !matches!(k, Kind::Unknown))
                .map(|(n, _)| n),
        )
    }

    /// Every model named anywhere, by name.
    fn nodes(&self) -> Vec<&str> {
        self.names.iter().map(String::as_str).collect()
    }

    /// Distinct `(dependent, upstream)` pairs by name.
    fn pairs(&self) -> BTreeSet<(&str, &str)> {
        self.edges
            .iter()
            .map(|&(d, u, _)| (self.names[d].as_str(), self.names[u].as_str()))
            .collect()
    }
}

/// Kahn's algorithm: the models in a topological order, and those it could
/// never reach (on a cycle or downstream of one).
fn kahn<'a>(
    nodes: &[&'a str],
    pairs: &BTreeSet<(&'a str, &'a str)>,
) -> (Vec<&'a str>, BTreeSet<&'a str>) {
    let mut indegree: BTreeMap<&str, usize> = nodes.iter().map(|n| (*n, 0)).collect();
    let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for &(d, u) in pairs {
        *indegree.get_mut(d).unwrap() += 1;
        dependents.entry(u).or_default().push(d);
    }
    let mut queue: VecDeque<&str> = indegree
        .iter()
        .filter(|(_, d)| **d == 0)
        .map(|(n, _)| *n)
        .collect();
    let mut order = Vec::new();
    while let Some(n) = queue.pop_front() {
        order.push(n);
        for d in dependents.get(n).into_iter().flatten() {
            let left = indegree.get_mut(d).unwrap();
            *left -= 1;
            if *left == 0 {
                queue.push_back(d);
            }
        }
    }
    let done: BTreeSet<&str> = order.iter().copied().collect();
    let stuck = nodes
        .iter()
        .copied()
        .filter(|n| !done.contains(n))
        .collect();
    (order, stuck)
}

fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    // A small deterministic shuffle (xorshift), enough to scramble row order.
    let mut v = items.to_vec();
    let mut s = seed | 1;
    for i in (1..v.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v.swap(i, (s % (i as u64 + 1)) as usize);
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn cycles_are_reported_exactly_when_kahn_finds_one(reg in registry()) {
        let snap = reg.snapshot();
        let p = plan(&reg.catalog(), &snap);
        let nodes = reg.nodes();
        let pairs = reg.pairs();
        let (_, stuck) = kahn(&nodes, &pairs);
        prop_assert_eq!(!p.cycles().is_empty(), !stuck.is_empty(), "cycles {:?}, stuck {:?}", p.cycles(), stuck);
        for cycle in p.cycles() {
            let models = &cycle.models;
            let distinct: BTreeSet<&String> = models.iter().collect();
            prop_assert_eq!(distinct.len(), models.len(), "{} repeats a model", cycle);
            for (i, from) in models.iter().enumerate() {
                let to = &models[(i + 1) % models.len()];
                prop_assert!(pairs.contains(&(from.as_str(), to.as_str())), "{} -> {} is not an edge of {}", from, to, cycle);
            }
        }
        // Nothing Kahn could not order is planned.
        for model in p.models() {
            prop_assert!(!stuck.contains(model.model_id.as_str()), "{} planned but on/after a cycle", model.model_id);
        }
    }

    #[test]
    fn exactly_the_available_models_are_planned_each_after_its_upstreams(reg in registry()) {
        let snap = reg.snapshot();
        let p = plan(&reg.catalog(), &snap);
        let nodes = reg.nodes();
        let pairs = reg.pairs();
        let (order, _) = kahn(&nodes, &pairs);

        // Independent availability: own params fine, no input key declared
        // for two upstreams, and every upstream available.
        let kind_of: BTreeMap<&str, Kind> = reg.names.iter().map(String::as_str).zip(reg.kinds.iter().copied()).collect();
        let mut upstreams_by_key: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
        for e in &snap.edges {
            upstreams_by_key.entry((e.model_id.as_str(), e.input_key.as_str())).or_default().insert(e.depends_on.as_str());
        }
        let mut available: BTreeSet<&str> = BTreeSet::new();
        for n in &order {
            let ups_ok = pairs.iter().filter(|(d, _)| d == n).all(|(_, u)| available.contains(u));
            let keys_ok = upstreams_by_key.iter().filter(|((d, _), _)| d == n).all(|(_, ups)| ups.len() == 1);
            if kind_of[n].own_ok() && keys_ok && ups_ok {
                available.insert(n);
            }
        }
        let planned: BTreeSet<&str> = p.models().map(|m| m.model_id.as_str()).collect();
        prop_assert_eq!(&planned, &available);

        let level_of: BTreeMap<&str, usize> = p
            .levels()
            .iter()
            .enumerate()
            .flat_map(|(i, l)| l.iter().map(move |m| (m.model_id.as_str(), i)))
            .collect();
        for (i, level) in p.levels().iter().enumerate() {
            prop_assert!(!level.is_empty());
            let names: Vec<&str> = level.iter().map(|m| m.model_id.as_str()).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            prop_assert_eq!(&names, &sorted, "level {} is not sorted", i);
            for m in level {
                // Each upstream in an earlier level, and the inputs are exactly the edges.
                let mut expected: Vec<(String, String)> = snap
                    .edges
                    .iter()
                    .filter(|e| e.model_id == m.model_id.as_str())
                    .map(|e| (e.depends_on.clone(), e.input_key.clone()))
                    .collect();
                expected.sort();
                let inputs: Vec<(String, String)> =
                    m.inputs.iter().map(|e| (e.upstream.to_string(), e.input_key.clone())).collect();
                prop_assert_eq!(&inputs, &expected);
                for (up, _) in &inputs {
                    prop_assert!(level_of[up.as_str()] < i, "{} (level {}) before its upstream {}", m.model_id, i, up);
                }
            }
        }
    }

    #[test]
    fn the_plan_is_the_same_for_any_row_order(reg in registry(), seed in any::<u64>()) {
        let snap = reg.snapshot();
        let catalog = reg.catalog();
        let reordered = RegistrySnapshot {
            versions: shuffled::<ActiveVersion>(&snap.versions, seed),
            edges: shuffled::<Dependency>(&snap.edges, seed.rotate_left(17)),
        };
        prop_assert_eq!(shape(&plan(&catalog, &snap)), shape(&plan(&catalog, &reordered)));
    }

    #[test]
    fn every_left_out_model_takes_its_dependents_with_it(reg in registry()) {
        let snap = reg.snapshot();
        let p = plan(&reg.catalog(), &snap);
        let planned: BTreeSet<&str> = p.models().map(|m| m.model_id.as_str()).collect();
        let out: BTreeSet<&str> = reg.nodes().into_iter().filter(|n| !planned.contains(n)).collect();
        let with_versions: BTreeSet<&str> = snap.versions.iter().map(|v| v.model_id.as_str()).collect();
        for (d, u) in reg.pairs() {
            if out.contains(u) {
                prop_assert!(!planned.contains(d), "{} planned although its upstream {} is out", d, u);
                if with_versions.contains(d) {
                    prop_assert!(p.exclusion(d).is_some(), "{} left out without a reason", d);
                }
            }
        }
        // Every model with a version is either planned or has a reason.
        for v in &snap.versions {
            prop_assert!(planned.contains(v.model_id.as_str()) || p.exclusion(&v.model_id).is_some(),
                "{} vanished without a reason", v.model_id);
        }
        // A model's reason never blames an upstream that is planned.
        for e in p.excluded().iter().filter(|e| e.version_id.is_none()) {
            if let Exclusion::UpstreamUnavailable { upstream } = &e.reason {
                let up = upstream.as_str();
                prop_assert!(!planned.contains(up), "{} blames planned {}", e.model_id, up);
                prop_assert!(reg.pairs().contains(&(e.model_id.as_str(), up)), "{} blames {} which it does not depend on", e.model_id, up);
            }
        }
    }
}
