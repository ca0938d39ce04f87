//! Test support: every database test gets its own fresh database, cloned
//! with `CREATE DATABASE ... TEMPLATE` from a template that holds the migrated
//! schema, so tests run in parallel (also across nextest's processes) without
//! seeing each other.
//!
//! The server is the one `DATABASE_URL` names: `cargo xtask ci` sets it to
//! its throwaway server, or passes the caller's own through. A test that
//! must stop, restart or crash its server starts a [`TestServer`] of its
//! own instead. This crate is a dev-dependency only and never part of a
//! shipped binary; it panics with a clear message instead of returning
//! errors, as test helpers do.

mod server;

pub use server::{StopMode, TestServer, free_port};

pub mod http;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bb8_postgres::PostgresConnectionManager;
use tokio_postgres::{Client, Config, NoTls};

/// A pool of connections to one test database.
pub type Pool = bb8::Pool<PostgresConnectionManager<NoTls>>;

/// Serializes template creation across processes.
const TEMPLATE_LOCK: i64 = schema::locks::TEST_TEMPLATE;

/// The server every test database lives on, from `DATABASE_URL`.
pub fn server_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "DATABASE_URL is not set. Database tests need a PostgreSQL server: \
             run them with `cargo xtask ci`, or `cargo xtask pg start` and \
             `export DATABASE_URL=$(cargo xtask pg url)`"
        )
    })
}

/// One fresh database with the migrated schema, dropped when this value is
/// dropped (kept, and its name printed, when the test panicked).
#[derive(Debug)]
pub struct TestDb {
    name: String,
    config: Config,
    url: String,
}

impl TestDb {
    /// Creates a new database cloned from the migrated template.
    pub async fn new() -> TestDb {
        let admin_config: Config = server_url()
            .parse()
            .expect("DATABASE_URL is not a valid PostgreSQL URL");
        let template = template_name();
        ensure_template(&admin_config, &template).await;
        TestDb::create(&template).await
    }

    /// Creates a new, empty database (no schema at all), for tests of
    /// migration itself.
    pub async fn empty() -> TestDb {
        TestDb::create("template0").await
    }

    async fn create(template: &str) -> TestDb {
        let server = server_url();
        let admin_config: Config = server
            .parse()
            .expect("DATABASE_URL is not a valid PostgreSQL URL");

        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "kcg_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            nanos
        );
        let admin = connect(&admin_config).await;
        // Concurrent clones of one template may briefly see each other as
        // "other users of the source database"; retry those.
        let mut attempt = 0;
        loop {
            match admin
                .batch_execute(&format!(
                    "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
                ))
                .await
            {
                Ok(()) => break,
                Err(e)
                    if attempt < 50 && e.to_string().contains("being accessed by other users") =>
                {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot create test database {name}: {e}"),
            }
        }
        let mut config = admin_config.clone();
        config.dbname(&name);
        let url = with_dbname(&server, &name);
        TestDb { name, config, url }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connection URL for this database (for the runner binary, say).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The connection config of this database.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A new connection to this database.
    pub async fn client(&self) -> Client {
        connect(&self.config).await
    }

    /// A bb8 pool of at most `size` connections to this database.
    pub async fn pool(&self, size: u32) -> Pool {
        let manager = PostgresConnectionManager::new(self.config.clone(), NoTls);
        bb8::Pool::builder()
            .max_size(size)
            .build(manager)
            .await
            .expect("cannot build pool")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test database kept for inspection: {}", self.name);
            return;
        }
        let name = self.name.clone();
        let Ok(server) = std::env::var("DATABASE_URL") else {
            return;
        };
        // Drop runs inside the test's runtime; a fresh thread with its own
        // runtime can block without upsetting it.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(config) = server.parse::<Config>() else {
                    return;
                };
                if let Ok((client, conn)) = config.connect(NoTls).await {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// The template's name changes with the embedded migrations (names and
/// SQL), so a stale template on a long-lived server is never used.
fn template_name() -> String {
    format!("kcg_template_{:016x}", schema::migrations_fingerprint())
}

async fn ensure_template(admin_config: &Config, template: &str) {
    let admin = connect(admin_config).await;
    admin
        .execute("SELECT pg_advisory_lock($1)", &[&TEMPLATE_LOCK])
        .await
        .expect("advisory lock");
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])
        .await
        .expect("query pg_database")
        .is_some();
    if !exists {
        let building = format!("{template}_building");
        // Two statements, two calls: a multi-statement string is one implicit
        // transaction, which DROP/CREATE DATABASE refuse.
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
            ))
            .await
            .expect("drop stale template database");
        admin
            .batch_execute(&format!("CREATE DATABASE \"{building}\""))
            .await
            .expect("create template database");
        {
            let mut config = admin_config.clone();
            config.dbname(&building);
            let mut client = connect(&config).await;
            schema::migrate(&mut client)
                .await
                .expect("migrate template database");
        }
        // Renamed only once complete: a half-migrated template is never used.
        admin
            .batch_execute(&format!(
                "ALTER DATABASE \"{building}\" RENAME TO \"{template}\""
            ))
            .await
            .expect("rename template database");
    }
    admin
        .execute("SELECT pg_advisory_unlock($1)", &[&TEMPLATE_LOCK])
        .await
        .expect("advisory unlock");
}

async fn connect(config: &Config) -> Client {
    let (client, conn) = config
        .connect(NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test server: {e}"));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// Replaces the database name in a `postgres://` URL (or key=value string).
fn with_dbname(url: &str, db: &str) -> String {
    if let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    {
        let scheme = &url[..url.len() - rest.len()];
        let (before_query, query) = match rest.find('?') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let authority = before_query.split('/').next().unwrap_or(before_query);
        format!("{scheme}{authority}/{db}{query}")
    } else {
        format!("{url} dbname={db}")
    }
}

#[cfg(test)]
mod tests {
    use super::with_dbname;

    #[test]
    fn replaces_the_database_in_urls() {
        assert_eq!(
            with_dbname("postgres://u@h:5/postgres", "t"),
            "postgres://u@h:5/t"
        );
        assert_eq!(
            with_dbname("postgresql://u@h:5", "t"),
            "postgresql://u@h:5/t"
        );
        assert_eq!(
            with_dbname("postgres://u@h/x?sslmode=disable", "t"),
            "postgres://u@h/t?sslmode=disable"
        );
        assert_eq!(
            with_dbname("host=/tmp port=5", "t"),
            "host=/tmp port=5 dbname=t"
        );
    }
}
