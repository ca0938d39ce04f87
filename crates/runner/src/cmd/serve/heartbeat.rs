//! The lease's heartbeat: a task on a connection of its own (never blocked
//! by the cycle's statements) that takes the lease when it is free or
//! expired and renews it every third of its TTL while the process runs,
//! and releases it at the end so a follower takes over at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::{Notify, watch};
use tokio_postgres::Client;

use crate::db::{Backoff, Url};

/// What the heartbeat knows of the lease.
#[derive(Debug, Clone)]
pub struct LeaseState {
    /// The holding, when this process holds the lease.
    pub token: Option<lease::Token>,
    /// When it was last taken or renewed (this process's monotonic clock).
    pub renewed: Option<Instant>,
}

pub struct Heartbeat {
    pub url: Url,
    pub name: &'static str,
    pub holder: String,
    pub ttl: Duration,
    /// Where the state is published.
    pub state: watch::Sender<LeaseState>,
    /// Renew now (after an outage, say) instead of at the next period.
    pub nudge: Arc<Notify>,
    /// Set when serve's loop has ended: release and return.
    pub done: watch::Receiver<bool>,
    pub backoff_cap: Duration,
}

impl Heartbeat {
    pub async fn run(mut self) {
        let period = self.ttl / 3;
        let mut backoff = Backoff::new(Duration::from_millis(200), self.backoff_cap.min(period));
        let mut client: Option<Client> = None;
        let mut held: Option<lease::Token> = None;
        loop {
            if *self.done.borrow() {
                break;
            }
            if client.as_ref().is_none_or(Client::is_closed) {
                client = match self.connect().await {
                    Ok(c) => Some(c),
                    Err(e) => {
                        tracing::warn!(attempt = backoff.attempts() + 1, cause = %format!("{e:#}"), "lease heartbeat: cannot connect");
                        None
                    }
                };
            }
            let wait = match &client {
                None => backoff.next_delay(),
                Some(c) => match self.beat(c, &mut held).await {
                    Ok(()) => {
                        backoff.reset();
                        period
                    }
                    Err(e) => {
                        // Keep the token: only the database can say whether
                        // it is still good, and every commit asks it.
                        tracing::warn!(cause = %format!("{e:#}"), "lease heartbeat failed");
                        client = None;
                        backoff.next_delay()
                    }
                },
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.nudge.notified() => {}
                _ = self.done.changed() => {}
            }
        }
        if let (Some(c), Some(token)) = (&client, &held) {
            match lease::release(c, token).await {
                Ok(_) => tracing::info!(epoch = token.epoch, "lease released"),
                Err(e) => {
                    tracing::warn!(cause = %pipeline::error_chain(&e), "cannot release the lease; it expires on its own");
                }
            }
        }
    }

    /// Renews the lease held, or tries to take it.
    async fn beat(&self, client: &Client, held: &mut Option<lease::Token>) -> Result<()> {
        match held {
            Some(token) => {
                if lease::renew(client, token, self.ttl).await? {
                    self.publish(held.clone());
                } else {
                    println!(
                        "lost the lease (epoch {}): another runner took over; standing by",
                        token.epoch
                    );
                    *held = None;
                    self.publish(None);
                }
            }
            None => {
                if let Some(token) =
                    lease::acquire(client, self.name, &self.holder, self.ttl).await?
                {
                    *held = Some(token);
                    self.publish(held.clone());
                }
            }
        }
        Ok(())
    }

    fn publish(&self, token: Option<lease::Token>) {
        let renewed = token.as_ref().map(|_| Instant::now());
        self.state.send_replace(LeaseState { token, renewed });
    }

    /// A session whose statements cannot hang: a renewal that takes longer
    /// than a third of the TTL is as good as a lost one.
    async fn connect(&self) -> Result<Client> {
        let client = self.url.connect().await?;
        let ms = (self.ttl / 3).as_millis().max(1).to_string() + "ms";
        client
            .execute(
                "SELECT set_config('statement_timeout', $1, false), \
                        set_config('lock_timeout', $1, false)",
                &[&ms],
            )
            .await
            .context("cannot set the heartbeat session's timeouts")?;
        Ok(client)
    }
}
