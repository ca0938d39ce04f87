//! Backtesting: one SHADOW or CHALLENGER version run over stored history,
//! on the inputs the live cycles gave its PRIMARY, so it can be compared
//! (and gated) at once instead of after days of live cycles.
//!
//! For each `cycle_ts` the base input is rebuilt the way that cycle built
//! it (stage 1's load of the stored positions and of the state the cycles
//! before it carried, stage 2's clean; see the `input` module), and the
//! version's upstream inputs are recomputed in
//! memory: the plan holds the version, its model's ACTIVE PRIMARY and the
//! ACTIVE PRIMARYs of every model upstream of it
//! ([`registry::RegistrySnapshot::for_backtest`]), nothing else. Recomputed
//! rather than read back, because a stored output row carries no typed
//! artifact a model could read; the price is that an upstream PRIMARY
//! promoted since the cycle ran is today's, not that cycle's, and a cycle
//! whose predecessors' carried state was pruned (it is kept for a day, see
//! `state`) runs as a fresh start would.
//!
//! Only the version's outputs, metrics and run record of the cycle are
//! written (run record `origin = 'BACKTEST'`), replacing its earlier
//! backtest rows of that cycle; the PRIMARYs that ran beside it, every
//! other version and the legacy tables are untouched. A cycle where the
//! version has a live run record is left alone (a live record is what
//! happened; a backtest never rewrites it). Each cycle is one transaction
//! under the cycle lock, so it takes turns with a live run of the same
//! cycle, with the cycle's own limits (`Limits`). It is not a cycle: it
//! writes no `prediction_cycles` or `prediction_stage_timings` row.

use registry::{ActiveVersion, Plan};
use registry_store::StoredVersion;
use tokio_postgres::Client;
use tracing::Instrument as _;

use crate::cancel::CancelOnDrop;
use crate::{CycleTs, Pipeline, PipelineError};

/// A version ready to be backtested, planned once for every cycle.
#[derive(Debug)]
pub struct Backtest {
    version: StoredVersion,
    plan: Plan,
}

impl Backtest {
    /// The version.
    pub fn version(&self) -> &StoredVersion {
        &self.version
    }

    /// What runs each cycle: the version, its model's PRIMARY and the
    /// upstream PRIMARYs.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }
}

/// What one cycle of a backtest did.
#[derive(Debug, Clone)]
pub enum BacktestCycle {
    /// The version ran; its line of the run (status, outputs, reason) is
    /// what was stored.
    Ran {
        /// The version's line.
        report: Box<dag_exec::VersionReport>,
        /// Positions stage 1 of the cycle loads.
        positions: usize,
        /// What was written and replaced.
        persisted: dag_exec::PersistStats,
    },
    /// The version has a live run record in this cycle, kept as it is.
    LiveRunKept,
}

impl Pipeline {
    /// Prepares a backtest of version `version_id` against the registry as
    /// it is now.
    ///
    /// Refused when the live schema is not what this build expects, the
    /// version does not exist, it is a PRIMARY (a backtest runs a candidate
    /// beside its PRIMARY; the PRIMARY's live runs are the record), or the
    /// registry would leave it out (no code, params refused, no ACTIVE
    /// PRIMARY of its model, an upstream unavailable), with the reason.
    pub async fn prepare_backtest(
        &self,
        client: &Client,
        version_id: i64,
    ) -> Result<Backtest, PipelineError> {
        schema::check_schema(client)
            .await
            .map_err(PipelineError::Schema)?;
        let version = registry_store::version(client, version_id).await?;
        let refused = |why: String| PipelineError::NotBacktestable { version_id, why };
        if version.role == model_api::Role::Primary {
            return Err(refused(format!(
                "it is a PRIMARY ({} version {}): a backtest runs a SHADOW or CHALLENGER beside \
                 its model's PRIMARY, whose live runs are the record",
                version.model, version.version
            )));
        }
        let registry = registry_store::load(client).await?;
        let candidate = ActiveVersion {
            id: version.id,
            model_id: version.model.clone(),
            version: version.version.clone(),
            role: version.role,
            params: version.params.clone(),
            timeout_ms: version.timeout_ms,
            implementation: version.implementation.clone(),
        };
        let plan = registry::plan(&self.catalog, &registry.for_backtest(candidate));
        if let Some(out) = plan.excluded().iter().find(|e| {
            e.version_id == Some(version_id)
                || (e.version_id.is_none() && e.model_id == version.model)
        }) {
            return Err(refused(format!(
                "the registry leaves {} out: {}",
                if out.version_id.is_some() {
                    format!("{} version {}", version.model, version.version)
                } else {
                    format!("model {}", version.model)
                },
                out.reason
            )));
        }
        tracing::info!(
            version_id,
            model_id = %version.model,
            models = plan.model_count(),
            "backtest planned"
        );
        Ok(Backtest { version, plan })
    }

    /// Runs `backtest` for the cycle at `cycle_ts` on `client` and stores
    /// the version's rows of it, in one transaction holding the cycle lock
    /// (see the module docs). Running it again replaces them.
    pub async fn backtest(
        &self,
        client: &mut Client,
        backtest: &Backtest,
        cycle_ts: CycleTs,
    ) -> Result<BacktestCycle, PipelineError> {
        let span = tracing::info_span!("backtest", %cycle_ts, version_id = backtest.version.id);
        async {
            let cancel = CancelOnDrop::new(client);
            let result = self.backtest_tx(client, backtest, cycle_ts).await;
            cancel.disarm();
            result
        }
        .instrument(span)
        .await
    }

    async fn backtest_tx(
        &self,
        client: &mut Client,
        backtest: &Backtest,
        cycle_ts: CycleTs,
    ) -> Result<BacktestCycle, PipelineError> {
        let step = |step| move |source| PipelineError::Transaction { step, source };
        let id = backtest.version.id;
        let limits = self.config.limits;
        let mut tx = client.transaction().await.map_err(step("BEGIN"))?;
        limits.apply(&tx).await?;
        tx.execute(
            schema::locks::CYCLE_LOCK_SQL,
            &[&schema::locks::CYCLE, &schema::locks::cycle_key(cycle_ts)],
        )
        .await
        .map_err(|e| limits.explain(step("the cycle lock")(e)))?;
        if dag_exec::live_run_exists(&tx, cycle_ts, id).await? {
            tracing::info!("the version has a live run in this cycle; kept");
            return Ok(BacktestCycle::LiveRunKept);
        }
        let (raw, carried) = self.load_input(&tx, cycle_ts).await?;
        let positions = raw.len();
        let (window, _) = self.clean(cycle_ts, raw, carried)?;
        let base = self.base_input(&std::sync::Arc::new(window));
        // Idle while the models run, as a cycle's stage 10 is.
        limits
            .idle_for(&tx, crate::models_budget(&backtest.plan, &self.config.exec))
            .await?;
        let run = self.executor.run(cycle_ts, &backtest.plan, base).await?;
        limits.idle_for(&tx, std::time::Duration::ZERO).await?;
        let persisted = self.executor.persist_backtest(&mut tx, &run, id).await?;
        tx.commit().await.map_err(step("COMMIT"))?;
        let report =
            run.report()
                .version(id)
                .cloned()
                .map(Box::new)
                .ok_or(PipelineError::Missing {
                    what: "the backtested version's line of the run",
                })?;
        tracing::info!(
            status = %report.status,
            outputs = report.output_count,
            positions,
            "backtest cycle stored"
        );
        Ok(BacktestCycle::Ran {
            report,
            positions,
            persisted,
        })
    }
}
