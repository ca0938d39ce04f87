//! What a cycle's models are given, built in one place: stage 1's
//! positions and the state earlier cycles carried to this one, stage 2's
//! clean window with that state, and stage 10's base input from it.
//!
//! The cycle's stages call these, and so does [`Pipeline::backtest`], which
//! rebuilds a past cycle's input the way that cycle built it. Anything a
//! cycle adds to what its models see (state carried from earlier cycles,
//! say) belongs here too, or a backtest would judge a version on other
//! inputs than the live cycles gave its PRIMARY.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use detectors::{AisWindow, CarriedFix, CleanStats, Fix, WindowBounds};
use tokio_postgres::GenericClient;

use crate::{CycleTs, Pipeline, PipelineError, state, window};

impl Pipeline {
    /// The window of positions of the cycle at `cycle_ts`, or
    /// [`PipelineError::Window`] when a window of that length cannot end
    /// there (never a panic).
    pub(crate) fn bounds(&self, cycle_ts: CycleTs) -> Result<WindowBounds, PipelineError> {
        Ok(WindowBounds::ending_at(cycle_ts, self.config.window)?)
    }

    /// Stage 1: the positions of the cycle's window, as reported, and the
    /// state earlier cycles carried to it (see `state`).
    pub(crate) async fn load_input(
        &self,
        client: &impl GenericClient,
        cycle_ts: CycleTs,
    ) -> Result<(Vec<Fix>, Vec<CarriedFix>), PipelineError> {
        // The last window's size sizes this one's vector: windows of
        // consecutive cycles hold about as many positions. An eighth more,
        // so a window a few positions larger does not double the vector
        // (a copy of the whole window while both are held); capacity that
        // is never written to is never resident.
        let last = self.window_hint.load(Ordering::Relaxed);
        let expected = last.saturating_add(last / 8);
        let raw = window::load(client, self.bounds(cycle_ts)?, expected).await?;
        self.window_hint.store(raw.len(), Ordering::Relaxed);
        let carried = state::load(client, cycle_ts, self.config.state_lookback).await?;
        Ok((raw, carried))
    }

    /// Stage 2: the window cleaned of impossible fixes, with the carried
    /// state, and what was dropped.
    pub(crate) fn clean(
        &self,
        cycle_ts: CycleTs,
        raw: Vec<Fix>,
        carried: Vec<CarriedFix>,
    ) -> Result<(AisWindow, CleanStats), PipelineError> {
        let (window, stats) = detectors::clean(self.bounds(cycle_ts)?, raw);
        Ok((window.with_carried(carried), stats))
    }

    /// Stage 10: the base input the registry's models read
    /// (`Context::base`): the clean window itself, shared, not copied.
    pub(crate) fn base_input(&self, window: &Arc<AisWindow>) -> Arc<dyn Any + Send + Sync> {
        Arc::clone(window) as Arc<dyn Any + Send + Sync>
    }
}
