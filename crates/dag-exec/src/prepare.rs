//! A plan turned into positions: the [`Topology`] the state machine runs
//! on, plus the jobs, names and input keys the workers need, in a handful
//! of allocations (the executor's overhead per model is mostly allocation):
//! names live in one string, edges in flat arrays.
//!
//! The plan is trusted: only the registry's planner builds one, and it
//! guarantees every upstream is planned in an earlier level, every model
//! once, the PRIMARY first. Nothing here checks that again.

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use model_api::Role;
use registry::Plan;

use crate::check::VersionLabel;
use crate::isolation::{CandidateJob, PrimaryJob};
use crate::seed::Seeds;
use crate::state::{ModelShape, Topology};

pub(crate) enum Job {
    Primary(PrimaryJob),
    Candidate(CandidateJob),
}

struct VersionNode {
    job: Job,
    /// In `Prepared::text`.
    version: Range<usize>,
    version_id: i64,
    role: Role,
}

pub(crate) struct Prepared {
    pub(crate) topology: Topology,
    versions: Vec<VersionNode>,
    /// Per model: its id in `text`.
    ids: Vec<Range<usize>>,
    /// Per model: its range of `inputs`.
    input_ranges: Vec<Range<usize>>,
    /// (upstream model, input key in `text`), grouped by model.
    inputs: Vec<(usize, Range<usize>)>,
    /// Model ids, version labels and input keys, concatenated.
    text: String,
}

fn intern(text: &mut String, s: &str) -> Range<usize> {
    let start = text.len();
    text.push_str(s);
    start..text.len()
}

impl Prepared {
    /// Indexes `plan`, level by level, model by model, PRIMARY first; each
    /// PRIMARY takes the seed offered for it, if any.
    pub(crate) fn new(plan: &Plan, default_timeout: Duration, mut seeds: Seeds) -> Self {
        let model_count = plan.model_count();
        let version_count = plan.version_count();
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(model_count);
        let mut models = Vec::with_capacity(model_count);
        let mut ids = Vec::with_capacity(model_count);
        let mut input_ranges = Vec::with_capacity(model_count);
        let mut versions = Vec::with_capacity(version_count);
        let mut version_model = Vec::with_capacity(version_count);
        let mut timeouts = Vec::with_capacity(version_count);
        let mut text = String::new();
        let mut inputs = Vec::new();
        // (upstream, dependent), distinct, in dependent order.
        let mut edges: Vec<(usize, usize)> = Vec::new();
        for planned in plan.models() {
            let m = models.len();
            index.insert(planned.model_id.as_str(), m);
            let first_input = inputs.len();
            for edge in &planned.inputs {
                // The planner puts every upstream in an earlier level.
                if let Some(&u) = index.get(edge.upstream.as_str()) {
                    inputs.push((u, intern(&mut text, &edge.input_key)));
                }
            }
            let own = &mut inputs[first_input..];
            own.sort_unstable_by_key(|(u, _)| *u);
            let before = edges.len();
            for (i, (u, _)) in own.iter().enumerate() {
                if i == 0 || own[i - 1].0 != *u {
                    edges.push((*u, m));
                }
            }
            let first = versions.len();
            versions.push(VersionNode {
                job: Job::Primary(PrimaryJob::of(
                    m,
                    planned,
                    seeds.take(planned.primary.version_id),
                )),
                version: intern(&mut text, &planned.primary.version),
                version_id: planned.primary.version_id,
                role: planned.primary.role,
            });
            timeouts.push(planned.primary.timeout.unwrap_or(default_timeout));
            for v in &planned.others {
                versions.push(VersionNode {
                    job: Job::Candidate(CandidateJob::of(v)),
                    version: intern(&mut text, &v.version),
                    version_id: v.version_id,
                    role: v.role,
                });
                timeouts.push(v.timeout.unwrap_or(default_timeout));
            }
            version_model.resize(versions.len(), m);
            ids.push(intern(&mut text, planned.model_id.as_str()));
            input_ranges.push(first_input..inputs.len());
            models.push(ModelShape {
                versions: first..versions.len(),
                dependents: 0..0,
                upstream_count: edges.len() - before,
            });
        }
        // Group the edges by upstream (a counting sort keeps dependents in
        // plan order).
        let mut start = vec![0_usize; models.len() + 1];
        for &(u, _) in &edges {
            start[u + 1] += 1;
        }
        for i in 0..models.len() {
            start[i + 1] += start[i];
        }
        let mut dependents = vec![0; edges.len()];
        let mut fill = start.clone();
        for &(u, d) in &edges {
            dependents[fill[u]] = d;
            fill[u] += 1;
        }
        for (m, shape) in models.iter_mut().enumerate() {
            shape.dependents = start[m]..start[m + 1];
        }
        Self {
            topology: Topology {
                models,
                dependents,
                version_model,
                timeouts,
            },
            versions,
            ids,
            input_ranges,
            inputs,
            text,
        }
    }

    pub(crate) fn version_count(&self) -> usize {
        self.versions.len()
    }

    pub(crate) fn model_id(&self, m: usize) -> &str {
        &self.text[self.ids[m].clone()]
    }

    pub(crate) fn job(&self, v: usize) -> &Job {
        &self.versions[v].job
    }

    pub(crate) fn label(&self, v: usize) -> VersionLabel<'_> {
        let node = &self.versions[v];
        VersionLabel {
            model: self.model_id(self.topology.version_model[v]),
            version: &self.text[node.version.clone()],
            version_id: node.version_id,
            role: node.role,
        }
    }

    /// Model `m`'s inputs: (upstream model, input key), by upstream.
    pub(crate) fn inputs_of(&self, m: usize) -> impl ExactSizeIterator<Item = (usize, &str)> {
        self.inputs[self.input_ranges[m].clone()]
            .iter()
            .map(|(u, key)| (*u, &self.text[key.clone()]))
    }

    pub(crate) fn has_inputs(&self, m: usize) -> bool {
        !self.input_ranges[m].is_empty()
    }
}
