//! Stage 10 takes the legacy stages' results where a PRIMARY computes the
//! very same thing: the reference model's default implementation with its
//! default params (`detectors::legacy::runs_as_legacy`), fed by the same
//! upstream results. Stages 3 to 6 already ran `track_features`,
//! `identity`, `spoofing_score` and `identity_collision` on this cycle's
//! window; running them again in stage 10 doubled the models' cost of a
//! cycle. The executor checks the rest (`dag_exec::Seeds`): a seed is used
//! only when its upstream results are the ones the PRIMARY is given, so a
//! PRIMARY fed by a promoted, different upstream runs as usual.

use std::sync::Arc;

use dag_exec::Seeds;
use detectors::Typed;
use detectors::ids;
use model_api::{ModelOutput, Upstream};
use registry::{Plan, RegistrySnapshot};

use crate::Work;

/// A legacy result as a seed: its output, what it read, how long it took.
type Computed<'a> = (&'a Arc<ModelOutput>, &'a Upstream, std::time::Duration);

fn computed<T: std::any::Any>(typed: Option<&Typed<T>>) -> Option<Computed<'_>> {
    typed.map(|t| (t.output(), t.upstream(), t.took()))
}

/// The seeds of this cycle's PRIMARY versions that run as the legacy path.
pub(crate) fn legacy_seeds(plan: &Plan, snapshot: &RegistrySnapshot, w: &Work) -> Seeds {
    let legacy = [
        (ids::TRACK_FEATURES, computed(w.tracks.as_ref())),
        (ids::IDENTITY, computed(w.identity.as_ref())),
        (ids::SPOOFING_SCORE, computed(w.spoofing.as_ref())),
        (ids::IDENTITY_COLLISION, computed(w.collisions.as_ref())),
    ];
    let mut seeds = Seeds::new();
    for planned in plan.models() {
        let primary = &planned.primary;
        let Some((output, upstream, took)) = legacy
            .iter()
            .find(|(id, _)| *id == planned.model_id.as_str())
            .and_then(|(_, c)| *c)
        else {
            continue;
        };
        let params = snapshot
            .versions
            .iter()
            .find(|v| v.id == primary.version_id)
            .and_then(|v| v.params.as_ref().ok());
        if params.is_some_and(|p| {
            detectors::legacy::runs_as_legacy(
                planned.model_id.as_str(),
                primary.implementation.as_str(),
                p,
            )
        }) {
            seeds.offer(
                primary.version_id,
                Arc::clone(output),
                upstream.clone(),
                took,
            );
        }
    }
    seeds
}
