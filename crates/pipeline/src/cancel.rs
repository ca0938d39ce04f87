//! Cancelling the statement a dropped cycle left running.
//!
//! A dropped `Transaction` sends `ROLLBACK` at once, which ends the cycle's
//! transaction and with it the cycle lock, but the server reads it only
//! after the statement it is executing, and that one may be waiting for a
//! table lock held elsewhere. So when a cycle's future is dropped before it
//! finished, this guard also sends PostgreSQL's cancel request for the
//! connection (on a short-lived socket of its own, not a second session):
//! the waiting statement fails, the `ROLLBACK` runs, the lock is free.
//!
//! The request is sent without TLS, as every connection of this project
//! is made. A cancel that arrives after the `ROLLBACK` finds the session
//! idle and does nothing.

use tokio_postgres::{CancelToken, Client, NoTls};

/// Sends a cancel request for the connection when dropped, unless
/// [`disarm`](Self::disarm)ed first.
pub(crate) struct CancelOnDrop {
    token: Option<CancelToken>,
}

impl CancelOnDrop {
    pub(crate) fn new(client: &Client) -> Self {
        Self {
            token: Some(client.cancel_token()),
        }
    }

    /// The cycle ended on its own (done or failed): nothing to cancel.
    pub(crate) fn disarm(mut self) {
        self.token = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(token) = self.token.take() else {
            return;
        };
        // Dropped mid-cycle: a runtime is there, since the cycle was being
        // polled on it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            tracing::warn!(
                "cycle dropped before it finished: cancelling its statement; its transaction rolls back"
            );
            runtime.spawn(async move {
                if let Err(e) = token.cancel_query(NoTls).await {
                    tracing::warn!(error = %e, "cannot cancel the dropped cycle's statement");
                }
            });
        }
    }
}
