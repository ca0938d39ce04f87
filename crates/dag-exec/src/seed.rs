//! Results a caller already computed with the very model a PRIMARY version
//! runs, offered so that a cycle does not compute them twice. The pipeline's
//! legacy stages run the reference models with their default params on the
//! cycle's window before stage 10; when a model's PRIMARY is that same
//! implementation with those same params, stage 10 takes the result instead
//! of running the model again.
//!
//! A seed is used by the one PRIMARY version it names, and only when the
//! upstream results that version is given in this cycle are the very ones
//! the seed was computed from (the same `Arc`s, key by key). An upstream
//! PRIMARY that ran other params or another implementation produced a new
//! result, so its dependents run as usual: reuse never crosses a change.
//! The caller vouches for the rest: the seed came from the same
//! implementation and params as the version (its output policy aside, which
//! only decides what is stored), for the same `cycle_ts` and base input.
//!
//! A seeded result goes through the same output checks as one computed
//! here, before it is published or stored. Candidates are never seeded:
//! they run on the PRIMARY's inputs as always.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use model_api::{ModelOutput, Upstream};

/// The seeds of one cycle, by the version id of the PRIMARY each is for.
#[derive(Debug, Default)]
pub struct Seeds {
    by_version: HashMap<i64, Seed>,
}

/// One already computed result (see the module documentation).
#[derive(Debug)]
pub(crate) struct Seed {
    pub(crate) output: Arc<ModelOutput>,
    upstream: Upstream,
    /// How long computing it took, reported as the version's duration
    /// (plus the checks run here).
    pub(crate) took: Duration,
}

impl Seeds {
    /// No seeds: every version runs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Offers `output` to the PRIMARY version `version_id`: the result of
    /// its implementation with its params on this cycle's base input and
    /// `upstream`, computed in `took`. A later offer for the same version
    /// replaces the earlier one.
    pub fn offer(
        &mut self,
        version_id: i64,
        output: Arc<ModelOutput>,
        upstream: Upstream,
        took: Duration,
    ) {
        self.by_version.insert(
            version_id,
            Seed {
                output,
                upstream,
                took,
            },
        );
    }

    /// How many versions were offered a seed.
    pub fn len(&self) -> usize {
        self.by_version.len()
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.by_version.is_empty()
    }

    pub(crate) fn take(&mut self, version_id: i64) -> Option<Seed> {
        // Most plans get none: no hashing then.
        if self.by_version.is_empty() {
            return None;
        }
        self.by_version.remove(&version_id)
    }
}

impl Seed {
    /// Whether the seed was computed from exactly `upstream`: the same
    /// keys, each the very same result.
    pub(crate) fn fits(&self, upstream: &Upstream) -> bool {
        self.upstream.len() == upstream.len()
            && self
                .upstream
                .keys()
                .all(|key| match (self.upstream.get(key), upstream.get(key)) {
                    (Some(mine), Some(given)) => Arc::ptr_eq(mine, given),
                    _ => false,
                })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output() -> Arc<ModelOutput> {
        Arc::new(ModelOutput::new())
    }

    #[test]
    fn a_seed_fits_only_the_very_upstream_it_was_computed_from() {
        let (tracks, identity) = (output(), output());
        let mut from = Upstream::new();
        from.insert("tracks", Arc::clone(&tracks));
        from.insert("identity", Arc::clone(&identity));
        let mut seeds = Seeds::new();
        seeds.offer(7, output(), from.clone(), Duration::ZERO);
        assert_eq!(seeds.len(), 1);
        let seed = seeds.take(7).expect("offered");
        assert!(seeds.take(7).is_none(), "taken once");

        assert!(seed.fits(&from));
        // An equal but recomputed upstream result is another result.
        let mut recomputed = Upstream::new();
        recomputed.insert("tracks", output());
        recomputed.insert("identity", Arc::clone(&identity));
        assert!(!seed.fits(&recomputed));
        // Another key, one key fewer, one more.
        let mut renamed = Upstream::new();
        renamed.insert("track", Arc::clone(&tracks));
        renamed.insert("identity", Arc::clone(&identity));
        assert!(!seed.fits(&renamed));
        let mut fewer = Upstream::new();
        fewer.insert("tracks", Arc::clone(&tracks));
        assert!(!seed.fits(&fewer));
        let mut more = from.clone();
        more.insert("risk", output());
        assert!(!seed.fits(&more));
        // A root model's seed fits a root model's empty upstream only.
        let root = Seed {
            output: output(),
            upstream: Upstream::new(),
            took: Duration::ZERO,
        };
        assert!(root.fits(&Upstream::new()));
        assert!(!root.fits(&from));
    }
}
