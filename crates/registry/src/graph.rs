//! The registry's dependency graph as indices, and the one path search over
//! it: used by the planner to report cycles and by `registry-store` to
//! refuse an edge that would close one.

use std::collections::{HashMap, VecDeque};

use crate::{ActiveVersion, Dependency};

/// Versions and edges as an indexed graph. Node indices follow the sorted
/// model ids, so every order below is deterministic whatever the row order
/// was.
pub(crate) struct Graph<'a> {
    pub(crate) names: Vec<&'a str>,
    pub(crate) index: HashMap<&'a str, usize>,
    /// Each model's ACTIVE versions, PRIMARY, CHALLENGER, SHADOW, each by id.
    pub(crate) versions: Vec<Vec<&'a ActiveVersion>>,
    /// `(upstream, input_key)` per model, sorted, without duplicates.
    pub(crate) inputs: Vec<Vec<(usize, &'a str)>>,
    /// Distinct upstream models per model, sorted.
    pub(crate) upstreams: Vec<Vec<usize>>,
    /// Distinct dependent models per model, sorted.
    pub(crate) dependents: Vec<Vec<usize>>,
}

impl<'a> Graph<'a> {
    pub(crate) fn new(versions: &'a [ActiveVersion], edges: &'a [Dependency]) -> Self {
        // Deduplicate by hash first: sorting every mention (two per edge)
        // would compare strings ten times as often as sorting the distinct ids.
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(versions.len());
        let mentions = versions.iter().map(|v| v.model_id.as_str()).chain(
            edges
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

        let mut by_model: Vec<Vec<&ActiveVersion>> = vec![Vec::new(); n];
        for v in versions {
            by_model[index[v.model_id.as_str()]].push(v);
        }
        for list in &mut by_model {
            list.sort_by_key(|v| (v.role.load_order(), v.id));
        }

        let mut inputs: Vec<Vec<(usize, &str)>> = vec![Vec::new(); n];
        for e in edges {
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
            versions: by_model,
            inputs,
            upstreams,
            dependents,
        }
    }

    /// The shortest path `from -> ... -> to` of at least one "depends on"
    /// edge whose intermediate nodes all satisfy `inside`, both ends
    /// included; `from == to` gives the shortest cycle through it.
    /// Neighbours are tried in model_id order, so the result is
    /// deterministic.
    pub(crate) fn shortest_path(
        &self,
        from: usize,
        to: usize,
        inside: impl Fn(usize) -> bool,
    ) -> Option<Vec<usize>> {
        let mut parent: HashMap<usize, usize> = HashMap::new();
        let mut queue = VecDeque::from([from]);
        while let Some(node) = queue.pop_front() {
            for &next in &self.upstreams[node] {
                if next == to {
                    let mut path = vec![to, node];
                    let mut at = node;
                    while at != from {
                        at = parent[&at];
                        path.push(at);
                    }
                    path.reverse();
                    return Some(path);
                }
                if next != from && inside(next) && !parent.contains_key(&next) {
                    parent.insert(next, node);
                    queue.push_back(next);
                }
            }
        }
        None
    }
}

/// The shortest path `from -> ... -> to` along "depends on" edges (each
/// model followed by one it depends on), both ends included, if there is
/// one. With `from == to` it is the shortest cycle through that model
/// (`[a, b, a]`). Deterministic: among equally short paths, the one whose
/// models come first by model_id.
///
/// This is how a new edge "`m` depends on `u`" is checked: it closes a
/// cycle exactly when there is a path `u -> ... -> m`.
///
/// ```
/// use registry::{Dependency, dependency_path};
/// let edge = |m: &str, d: &str| Dependency {
///     model_id: m.into(),
///     depends_on: d.into(),
///     input_key: d.into(),
/// };
/// let edges = [edge("b", "c"), edge("c", "a")];
/// assert_eq!(dependency_path(&edges, "b", "a"), Some(vec!["b".into(), "c".into(), "a".into()]));
/// assert_eq!(dependency_path(&edges, "a", "b"), None);
/// ```
pub fn dependency_path(edges: &[Dependency], from: &str, to: &str) -> Option<Vec<String>> {
    let graph = Graph::new(&[], edges);
    let (&from, &to) = (graph.index.get(from)?, graph.index.get(to)?);
    let path = graph.shortest_path(from, to, |_| true)?;
    Some(path.iter().map(|&i| graph.names[i].to_owned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(m: &str, d: &str) -> Dependency {
        Dependency {
            model_id: m.into(),
            depends_on: d.into(),
            input_key: "k".into(),
        }
    }

    #[test]
    fn finds_the_path_that_a_new_edge_would_close() {
        let edges = vec![edge("b", "c"), edge("c", "a")];
        // Adding "a depends on b": is there a path b -> ... -> a?
        assert_eq!(
            dependency_path(&edges, "b", "a"),
            Some(vec!["b".into(), "c".into(), "a".into()])
        );
        assert_eq!(dependency_path(&edges, "a", "b"), None);
        assert_eq!(dependency_path(&edges, "nosuch", "a"), None);
    }

    #[test]
    fn the_shortest_path_wins_and_ties_go_to_the_smaller_ids() {
        let edges = vec![
            edge("a", "z"),
            edge("z", "y"),
            edge("y", "end"),
            edge("a", "c"),
            edge("c", "end"),
            edge("a", "b"),
            edge("b", "end"),
        ];
        assert_eq!(
            dependency_path(&edges, "a", "end"),
            Some(vec!["a".into(), "b".into(), "end".into()])
        );
    }

    #[test]
    fn a_path_from_a_model_to_itself_is_a_cycle() {
        let edges = vec![edge("a", "b"), edge("b", "a"), edge("c", "c")];
        assert_eq!(
            dependency_path(&edges, "a", "a"),
            Some(vec!["a".into(), "b".into(), "a".into()])
        );
        assert_eq!(
            dependency_path(&edges, "c", "c"),
            Some(vec!["c".into(), "c".into()])
        );
    }
}
