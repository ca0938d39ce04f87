//! The control session: one connection that LISTENs for registry changes
//! and invalidates the params cache on each NOTIFY. When it is lost, it is
//! made again (capped exponential backoff, each attempt logged with its
//! cause) and LISTENs again; then the cache is invalidated, since the
//! NOTIFYs sent in between were missed. Its loss also wakes serve's loop,
//! which then checks the database at once rather than at the next tick.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures_util::StreamExt;
use pipeline::Pipeline;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client, NoTls};

use crate::db::{Backoff, Url};

pub struct Control {
    pub url: Url,
    pub pipeline: Arc<Pipeline>,
    /// Told of each NOTIFY and reconnection.
    pub telemetry: telemetry::Telemetry,
    /// Told when the session is lost.
    pub lost: Arc<Notify>,
    /// Set when serve's loop has ended.
    pub done: watch::Receiver<bool>,
    pub backoff_cap: Duration,
}

impl Control {
    pub async fn run(mut self) {
        let mut backoff = Backoff::new(Duration::from_millis(200), self.backoff_cap);
        let mut lost_at: Option<Instant> = None;
        loop {
            if *self.done.borrow() {
                return;
            }
            match self.listen().await {
                Err(e) => {
                    let wait = backoff.next_delay();
                    tracing::warn!(
                        attempt = backoff.attempts(),
                        retry_in_ms = wait.as_millis(),
                        cause = %format!("{e:#}"),
                        "control connection: cannot connect and LISTEN"
                    );
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        _ = self.done.changed() => {}
                    }
                }
                Ok((client, driver)) => {
                    if let Some(at) = lost_at.take() {
                        self.telemetry.on_reconnect();
                        println!(
                            "control connection re-established after {:.1} s ({} failed attempts): \
                             LISTENing again, params cache invalidated",
                            at.elapsed().as_secs_f64(),
                            backoff.attempts()
                        );
                    }
                    backoff.reset();
                    tokio::select! {
                        ended = driver => {
                            let why = match ended {
                                Ok(Some(e)) => format!("{e:#}"),
                                Ok(None) => "closed by the server".to_owned(),
                                Err(e) => e.to_string(),
                            };
                            tracing::warn!(cause = %why, "control connection lost; reconnecting");
                            lost_at = Some(Instant::now());
                            self.lost.notify_one();
                        }
                        _ = self.done.wait_for(|done| *done) => return,
                    }
                    drop(client);
                }
            }
        }
    }

    /// Connects, LISTENs, then invalidates the cache (in that order: a
    /// change after the LISTEN is notified, one before is reloaded).
    async fn listen(&self) -> Result<(Client, JoinHandle<Option<tokio_postgres::Error>>)> {
        let (client, mut connection) = self
            .url
            .config()?
            .connect(NoTls)
            .await
            .with_context(|| format!("cannot connect to {}", self.url.redacted()))?;
        let listener = Arc::clone(&self.pipeline);
        let notified = self.telemetry.clone();
        let driver = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        tracing::info!(
                            channel = n.channel(),
                            table = n.payload(),
                            "registry changed; params cache invalidated"
                        );
                        listener.cache().invalidate();
                        notified.on_notification();
                    }
                    Ok(_) => {}
                    Err(e) => return Some(e),
                }
            }
            None
        });
        client
            .batch_execute(&format!("LISTEN {}", params_cache::NOTIFY_CHANNEL))
            .await
            .context("cannot LISTEN for registry changes")?;
        self.pipeline.cache().invalidate();
        Ok((client, driver))
    }
}
