//! Per-transaction limits: how long a cycle's statement may run, wait for a
//! lock, or leave its transaction idle, set with `SET LOCAL` (through
//! `set_config(..., true)`, whose value can be bound) in every transaction
//! of a cycle, so they end with it and never leak into a pooled connection.

use std::error::Error as _;
use std::fmt;
use std::time::Duration;

use tokio_postgres::GenericClient;
use tokio_postgres::error::SqlState;

use crate::PipelineError;

/// Limits of a cycle's transactions; `None` leaves the server's setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// `statement_timeout`: the longest one statement may run.
    pub statement_timeout: Option<Duration>,
    /// `lock_timeout`: the longest a statement may wait for a lock (a
    /// `LOCK TABLE` held in psql, say), so a cycle fails with an error
    /// naming the wait instead of stalling.
    pub lock_timeout: Option<Duration>,
    /// `idle_in_transaction_session_timeout`: the server ends the session
    /// of a cycle whose process stopped (SIGSTOP, a hung host) in the
    /// middle of its transaction, so its locks do not block the next
    /// leader. Must exceed the longest computation between two statements;
    /// while stage 10's models run (between its reads and its writes) the
    /// models' budget (their timeouts, level by level) is added to it.
    pub idle_in_transaction_timeout: Option<Duration>,
}

/// Which limit a statement hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// `statement_timeout`.
    Statement,
    /// `lock_timeout`.
    Lock,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::Statement => "statement_timeout",
            LimitKind::Lock => "lock_timeout",
        })
    }
}

/// `coalesce` keeps the current value for a limit that is not set.
const APPLY: &str = "SELECT \
     set_config('statement_timeout', coalesce($1, current_setting('statement_timeout')), true), \
     set_config('lock_timeout', coalesce($2, current_setting('lock_timeout')), true), \
     set_config('idle_in_transaction_session_timeout', \
                coalesce($3, current_setting('idle_in_transaction_session_timeout')), true)";

fn setting(d: Option<Duration>) -> Option<String> {
    // PostgreSQL's unit is the millisecond; 0 would mean "no limit".
    d.map(|d| format!("{}ms", d.as_millis().max(1)))
}

impl Limits {
    /// Sets the limits for the rest of the transaction `client` is in.
    pub(crate) async fn apply(&self, client: &impl GenericClient) -> Result<(), PipelineError> {
        if *self == Limits::default() {
            return Ok(());
        }
        client
            .execute(
                APPLY,
                &[
                    &setting(self.statement_timeout),
                    &setting(self.lock_timeout),
                    &setting(self.idle_in_transaction_timeout),
                ],
            )
            .await
            .map_err(|source| PipelineError::Transaction {
                step: "setting its timeouts",
                source,
            })?;
        Ok(())
    }

    /// Lets the transaction stay idle for `extra` more than the limit (a
    /// computation between two statements known to take that long), or,
    /// with zero, sets the limit back.
    pub(crate) async fn idle_for(
        &self,
        client: &impl GenericClient,
        extra: Duration,
    ) -> Result<(), PipelineError> {
        let Some(idle) = self.idle_in_transaction_timeout else {
            return Ok(());
        };
        client
            .execute(
                "SELECT set_config('idle_in_transaction_session_timeout', $1, true)",
                &[&setting(Some(idle.saturating_add(extra)))],
            )
            .await
            .map_err(|source| PipelineError::Transaction {
                step: "setting its idle limit",
                source,
            })?;
        Ok(())
    }

    /// `e`, or `e` wrapped in [`PipelineError::Limit`] when its root is the
    /// server cancelling a statement at one of these limits, so the error
    /// says which limit and how long it was.
    pub(crate) fn explain(&self, e: PipelineError) -> PipelineError {
        let hit = hit_limit(&e).and_then(|kind| {
            let after = match kind {
                LimitKind::Statement => self.statement_timeout,
                LimitKind::Lock => self.lock_timeout,
            }?;
            Some((kind, after))
        });
        match hit {
            Some((limit, after)) => PipelineError::Limit {
                limit,
                after,
                source: Box::new(e),
            },
            None => e,
        }
    }
}

/// The limit the server gave as its reason for cancelling, if any.
fn hit_limit(e: &PipelineError) -> Option<LimitKind> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(c) = cause {
        if let Some(db) = c
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(tokio_postgres::Error::as_db_error)
        {
            if *db.code() == SqlState::LOCK_NOT_AVAILABLE {
                return Some(LimitKind::Lock);
            }
            if *db.code() == SqlState::QUERY_CANCELED && db.message().contains("statement timeout")
            {
                return Some(LimitKind::Statement);
            }
        }
        cause = c.source();
    }
    None
}

/// `1.5 s`, `750 ms`: a duration for people.
pub(crate) fn human(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}
