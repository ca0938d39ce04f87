//! Connecting, without ever printing a password.

use anyhow::{Context, Result, bail};
use bb8_postgres::PostgresConnectionManager;
use tokio_postgres::{Client, Config, NoTls};

/// A bb8 pool of plain connections.
pub type Pool = bb8::Pool<PostgresConnectionManager<NoTls>>;

/// The database to talk to, parsed once.
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

    pub fn config(&self) -> Result<&Config> {
        match &self.config {
            Some(c) => Ok(c),
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

    /// A pool of `size` connections.
    #[allow(dead_code)] // used by the cycle commands
    pub async fn pool(&self, size: u32) -> Result<Pool> {
        let manager = PostgresConnectionManager::new(self.config()?.clone(), NoTls);
        bb8::Pool::builder()
            .max_size(size)
            .build(manager)
            .await
            .with_context(|| format!("cannot open a pool to {}", self.redacted()))
    }
}
