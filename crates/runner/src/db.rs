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
            Some(raw) => Some(raw.parse::<Config>().map_err(|e| bad_url(&raw, &e))?),
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

/// The form of a connection URL, for messages.
const URL_FORM: &str = "postgres://user:password@host:5432/dbname?option=value \
     (or key=value pairs: host=... port=... user=... dbname=...)";

/// Why `raw` does not parse, naming the part (the driver's own error says
/// which option) and the form expected, with the URL shown without its
/// password. The driver's text is used without its "invalid connection
/// string" heading, which would repeat this message's.
fn bad_url(raw: &str, e: &tokio_postgres::Error) -> anyhow::Error {
    let cause = std::error::Error::source(e).map_or_else(|| e.to_string(), ToString::to_string);
    let option = cause
        .split('`')
        .nth(1)
        .filter(|_| cause.contains("option"))
        .unwrap_or("");
    let url_like = raw.starts_with("postgres://") || raw.starts_with("postgresql://");
    let what = if !url_like && !raw.contains('=') {
        "it is neither a postgres:// or postgresql:// URL nor key=value pairs".to_owned()
    } else if cause.starts_with("unknown option") {
        format!(
            "{cause} (known: user, password, dbname, options, application_name, sslmode, host, \
             hostaddr, port, connect_timeout, tcp_user_timeout, keepalives, keepalives_idle, \
             keepalives_interval, keepalives_retries, target_session_attrs, channel_binding, \
             load_balance_hosts)"
        )
    } else {
        let expected = match option {
            "port" => " (a number from 1 to 65535, e.g. host:5432)",
            "host" => " (a host name, an IP address, [an IPv6 address] or a socket directory)",
            "sslmode" => " (disable, prefer or require)",
            "connect_timeout" | "tcp_user_timeout" | "keepalives_idle" | "keepalives_interval" => {
                " (a whole number of seconds)"
            }
            "target_session_attrs" => " (any or read-write)",
            _ => "",
        };
        format!("{cause}{expected}")
    };
    anyhow::anyhow!(
        "DATABASE_URL (or --database-url) {} is not a valid PostgreSQL connection string: {what}; \
         the form is {URL_FORM}",
        redact(raw)
    )
}

/// `raw` with every password replaced by `***`: the user-info part of a
/// URL (`user:secret@`), a `password=` query parameter or key=value pair.
fn redact(raw: &str) -> String {
    let mut out = raw.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest = scheme_end + 3;
        let authority_end = out[rest..].find(['/', '?']).map_or(out.len(), |i| rest + i);
        if let Some(at) = out[rest..authority_end].rfind('@') {
            let userinfo = rest..rest + at;
            if let Some(colon) = out[userinfo.clone()].find(':') {
                out.replace_range(rest + colon + 1..rest + at, "***");
            }
        }
    }
    // `password=...` up to the next separator (`&` in a query, a space
    // between key=value pairs; a quoted value up to its closing quote).
    let mut from = 0;
    while let Some(i) = out[from..].find("password=") {
        let start = from + i + "password=".len();
        let end = if out[start..].starts_with('\'') {
            out[start + 1..]
                .find('\'')
                .map_or(out.len(), |j| start + j + 2)
        } else {
            out[start..]
                .find(['&', ' '])
                .map_or(out.len(), |j| start + j)
        };
        out.replace_range(start..end, "***");
        from = start + 3;
    }
    out
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
    fn a_bad_url_says_which_part_and_the_form_never_the_password() {
        let cases = [
            (
                "postgres://kcg:s3cret@db:notaport/kcg",
                "DATABASE_URL (or --database-url) postgres://kcg:***@db:notaport/kcg is not a valid \
                 PostgreSQL connection string: invalid value for option `port` (a number from 1 to \
                 65535, e.g. host:5432)",
            ),
            (
                "postgres://kcg:s3cret@db/kcg?sslmode=bogus&password=s3cret",
                "DATABASE_URL (or --database-url) postgres://kcg:***@db/kcg?sslmode=bogus&password=*** \
                 is not a valid PostgreSQL connection string: invalid value for option `sslmode` \
                 (disable, prefer or require)",
            ),
            (
                "http://kcg:s3cret@db/kcg",
                "DATABASE_URL (or --database-url) http://kcg:***@db/kcg is not a valid PostgreSQL \
                 connection string: it is neither a postgres:// or postgresql:// URL nor key=value pairs",
            ),
            (
                "host=db password='s3 cret' port=x",
                "DATABASE_URL (or --database-url) host=db password=*** port=x is not a valid \
                 PostgreSQL connection string: invalid value for option `port`",
            ),
            (
                "postgres://kcg@db/kcg?colour=blue",
                "DATABASE_URL (or --database-url) postgres://kcg@db/kcg?colour=blue is not a valid \
                 PostgreSQL connection string: unknown option `colour` (known: user,",
            ),
        ];
        for (raw, expected) in cases {
            let err = format!("{:#}", Url::new(Some(raw.to_owned())).err().unwrap());
            assert!(err.starts_with(expected), "{raw}: {err}");
            assert!(
                err.contains("the form is postgres://user:password@host:5432/dbname"),
                "{err}"
            );
            assert!(!err.contains("s3"), "{err}");
            assert_eq!(err.matches("connection string").count(), 1, "{err}");
        }
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
