//! Connecting, without ever printing a password: one connection, a pool
//! whose failures say why (closed port, authentication, unknown database)
//! and where (`user@host:port/db`), and the backoff serve retries with.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use bb8_postgres::PostgresConnectionManager;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls};

type Manager = PostgresConnectionManager<NoTls>;

/// A pooled connection.
pub type Conn<'a> = bb8::PooledConnection<'a, Manager>;

/// How long connecting may take when the URL does not say
/// (`connect_timeout`): a host that drops packets fails in this time, not
/// after the operating system's TCP timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a checkout may wait for a connection in use elsewhere.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(30);

/// The database to talk to, parsed once.
#[derive(Clone)]
pub struct Url {
    config: Option<Config>,
}

impl Url {
    pub fn new(raw: Option<String>) -> Result<Url> {
        let config = match raw.filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(
                raw.parse::<Config>()
                    .context("DATABASE_URL is not a valid PostgreSQL connection string")?,
            ),
        };
        Ok(Url { config })
    }

    /// The connection config, with a connect timeout when it has none.
    pub fn config(&self) -> Result<Config> {
        match &self.config {
            Some(c) => {
                let mut c = c.clone();
                if c.get_connect_timeout().is_none() {
                    c.connect_timeout(CONNECT_TIMEOUT);
                }
                Ok(c)
            }
            None => bail!("no database given: set DATABASE_URL or pass --database-url"),
        }
    }

    /// `user@host:port/db`, for messages.
    pub fn redacted(&self) -> String {
        let Some(c) = &self.config else {
            return "(none)".into();
        };
        let host = c
            .get_hosts()
            .first()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(s) => s.clone(),
                tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .unwrap_or_default();
        let port = c.get_ports().first().copied().unwrap_or(5432);
        format!(
            "{}@{host}:{port}/{}",
            c.get_user().unwrap_or("?"),
            c.get_dbname().unwrap_or("?")
        )
    }

    /// One connection, its driver task spawned.
    pub async fn connect(&self) -> Result<Client> {
        let (client, conn) = self
            .config()?
            .connect(NoTls)
            .await
            .with_context(|| format!("cannot connect to {}", self.redacted()))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::warn!("database connection ended: {e}");
            }
        });
        Ok(client)
    }

    /// A pool of at most `size` connections. Nothing is connected yet:
    /// the first [`Pool::get`] connects, and fails at once with the cause.
    pub fn pool(&self, size: u32) -> Result<Pool> {
        let manager = PostgresConnectionManager::new(self.config()?, NoTls);
        // bb8 connects in the background and, when that fails, only lets a
        // waiting checkout time out ("Timed out in bb8") with the cause
        // lost; `Pool::get` connects itself instead whenever no idle
        // connection is there.
        let inner = bb8::Pool::builder()
            .max_size(size)
            .retry_connection(false)
            .connection_timeout(CHECKOUT_TIMEOUT)
            .build_unchecked(manager);
        Ok(Pool {
            inner,
            size,
            target: self.redacted(),
        })
    }
}

/// A bb8 pool of plain connections whose failures keep their cause.
pub struct Pool {
    inner: bb8::Pool<Manager>,
    size: u32,
    target: String,
}

impl Pool {
    /// `user@host:port/db`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// A connection: an idle one that still works (bb8 tests it on
    /// check-out), or a new one. A new one that cannot be made fails at
    /// once with the cause (`connection refused`, `password authentication
    /// failed`, `database "x" does not exist`) and the target.
    pub async fn get(&self) -> Result<Conn<'_>> {
        let state = self.inner.state();
        if state.idle_connections == 0 && state.connections < self.size {
            let conn = self.connect_one().await?;
            // Handed to the pool, whose checkout below hands it out (a
            // pool that filled up meanwhile drops it).
            let _ = self.inner.add(conn);
        }
        match self.inner.get().await {
            Ok(conn) => Ok(conn),
            Err(bb8::RunError::User(e)) => Err(anyhow::Error::new(e))
                .with_context(|| format!("cannot check out a connection to {}", self.target)),
            Err(bb8::RunError::TimedOut) => {
                // Either every connection is busy or the idle ones were
                // dead and no new one could be made: a connection of our
                // own tells which.
                self.connect_one().await?;
                bail!(
                    "cannot check out a connection to {}: all {} are in use (waited {} s)",
                    self.target,
                    self.size,
                    CHECKOUT_TIMEOUT.as_secs()
                )
            }
        }
    }

    /// Connects once, outside the pool's bookkeeping: `Ok` when the
    /// database takes connections.
    pub async fn probe(&self) -> Result<()> {
        let conn = self.connect_one().await?;
        let _ = self.inner.add(conn);
        Ok(())
    }

    async fn connect_one(&self) -> Result<Client> {
        self.inner
            .dedicated_connection()
            .await
            .with_context(|| format!("cannot connect to {}", self.target))
    }
}

/// Whether an error says the target itself is wrong (the password, the
/// user, the database), so that retrying cannot help, as opposed to the
/// database being away (refused, reset, shutting down, starting up).
pub fn is_misconfigured(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(tokio_postgres::Error::as_db_error)
            .is_some_and(|db| {
                [
                    SqlState::INVALID_PASSWORD,
                    SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                    SqlState::INVALID_CATALOG_NAME,
                ]
                .contains(db.code())
            })
    })
}

/// Capped exponential backoff: `first`, twice that, ... up to `cap`.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    next: Duration,
    cap: Duration,
    attempts: u32,
}

impl Backoff {
    pub fn new(first: Duration, cap: Duration) -> Self {
        Self {
            first,
            next: first.min(cap),
            cap,
            attempts: 0,
        }
    }

    /// The wait before the next attempt; counts an attempt.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.cap);
        self.attempts += 1;
        d
    }

    /// Attempts that failed so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// After a success: start from `first` again.
    pub fn reset(&mut self) {
        self.next = self.first.min(self.cap);
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_and_starts_over_after_a_success() {
        let mut b = Backoff::new(Duration::from_millis(200), Duration::from_secs(1));
        let delays: Vec<u128> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [200, 400, 800, 1000, 1000]);
        assert_eq!(b.attempts(), 5);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(200));
    }

    #[test]
    fn the_target_is_named_without_the_password() {
        let url = Url::new(Some("postgres://kcg:s3cret@db.example:6543/kcg".into())).unwrap();
        assert_eq!(url.redacted(), "kcg@db.example:6543/kcg");
        assert_eq!(
            url.config().unwrap().get_connect_timeout(),
            Some(&CONNECT_TIMEOUT)
        );
    }
}
