//! The operations HTTP endpoint of `runner serve` (`--http ADDR`), on
//! hyper 1 (HTTP/1.1):
//!
//! - `GET /metrics`: the [`telemetry::Telemetry`] metrics, OpenMetrics text
//!   ([`telemetry::CONTENT_TYPE`]), which Prometheus scrapes as is;
//! - `GET /healthz`: 200 with a small JSON body when the database answers
//!   and, for a leader, the last successful cycle ended within two
//!   intervals; 503 with the reason otherwise (followers are healthy while
//!   they follow);
//! - `GET /report`: the diagnostic snapshot (`?kind=hourly` for the hourly
//!   one) of the 24 hours up to now as one self-contained HTML page,
//!   computed on request.
//!
//! It never touches the cycle's connections: every probe and report opens a
//! connection of its own (bounded by timeouts; a report's statements by
//! `statement_timeout`, one report at a time), so a slow `/report` or a
//! database that is down cannot hold, block or slow the cycle loop. It never
//! writes to the database (reports run in a read-only transaction) and never
//! prints a password.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use telemetry::Telemetry;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_postgres::NoTls;

/// Errors at this crate's boundary.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The address could not be bound (in use, not local, no permission).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// How the endpoint reaches the database.
#[derive(Debug, Clone)]
pub struct Config {
    /// The database `/healthz` probes and `/report` reads, each time on a
    /// connection of its own.
    pub database: tokio_postgres::Config,
    /// How long connecting and `SELECT 1` may take before `/healthz` says
    /// the database is unreachable. Default 3 s.
    pub probe_timeout: Duration,
    /// The `statement_timeout` of a report's queries, and its whole budget.
    /// Default 60 s.
    pub report_timeout: Duration,
}

impl Config {
    /// Default timeouts for `database`.
    pub fn new(database: tokio_postgres::Config) -> Config {
        Config {
            database,
            probe_timeout: Duration::from_secs(3),
            report_timeout: Duration::from_secs(60),
        }
    }
}

struct State {
    telemetry: Telemetry,
    config: Config,
    /// One report at a time: a burst of requests queues instead of opening
    /// a connection each.
    reports: Semaphore,
}

/// A bound, not yet serving endpoint.
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    state: Arc<State>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds `addr` (port 0 picks a free one), so a taken port fails at
    /// start-up, before any cycle runs.
    pub async fn bind(
        addr: SocketAddr,
        telemetry: Telemetry,
        config: Config,
    ) -> Result<Server, ServerError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        Ok(Server {
            listener,
            addr,
            state: Arc::new(State {
                telemetry,
                config,
                reports: Semaphore::new(1),
            }),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes (connections in progress finish on
    /// their own tasks). Run it on a task of its own.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        tracing::info!(addr = %self.addr, "ops endpoint: /metrics /healthz /report");
        loop {
            let accepted = tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // E.g. out of file descriptors: wait, never spin.
                    tracing::warn!("ops endpoint: cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let state = Arc::clone(&self.state);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let state = Arc::clone(&state);
                    async move { Ok::<_, Infallible>(handle(&state, &req).await) }
                });
                let served = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                if let Err(e) = served {
                    tracing::debug!(%peer, "ops endpoint: connection ended: {e}");
                }
            });
        }
        tracing::info!(addr = %self.addr, "ops endpoint stopped");
    }
}

fn response(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

const TEXT: &str = "text/plain; charset=utf-8";

async fn handle(state: &State, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    tracing::debug!(method = %req.method(), path, "ops endpoint request");
    if req.method() != Method::GET {
        let mut r = response(
            StatusCode::METHOD_NOT_ALLOWED,
            TEXT,
            format!("{} is not allowed; use GET\n", req.method()),
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET"));
        return r;
    }
    match path {
        "/metrics" => response(StatusCode::OK, telemetry::CONTENT_TYPE, state.telemetry.encode()),
        "/healthz" => {
            let database = probe(&state.config).await;
            let health = state.telemetry.health(Utc::now(), database);
            let status = if health.healthy {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            response(status, "application/json", format!("{}\n", health.to_json()))
        }
        "/report" => {
            let kind = match req.uri().query() {
                None | Some("") | Some("kind=diagnostic") => snapshot::Kind::Diagnostic,
                Some("kind=hourly") => snapshot::Kind::Hourly,
                Some(other) => {
                    return response(
                        StatusCode::BAD_REQUEST,
                        TEXT,
                        format!(
                            "unknown report query {:?}: use /report (diagnostic), /report?kind=diagnostic or /report?kind=hourly\n",
                            other.escape_debug().to_string()
                        ),
                    );
                }
            };
            match report(state, kind).await {
                Ok(html) => response(StatusCode::OK, "text/html; charset=utf-8", html),
                Err(why) => {
                    tracing::warn!("ops endpoint: /report failed: {why}");
                    response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        TEXT,
                        format!("report failed: {why}\n"),
                    )
                }
            }
        }
        "/" => response(
            StatusCode::OK,
            TEXT,
            "kcg runner serve\n/metrics  Prometheus metrics (OpenMetrics text)\n/healthz  health (JSON; 503 when unhealthy)\n/report   the diagnostic snapshot as HTML (?kind=hourly for the hourly one; another kind is refused with 400)\n"
                .to_owned(),
        ),
        _ => response(StatusCode::NOT_FOUND, TEXT, format!("no such page: {path}\n")),
    }
}

/// An error and its causes, `outer: cause: root`.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// A connection of its own, its driver on a task that ends with it.
async fn connect(config: &Config, timeout: Duration) -> Result<tokio_postgres::Client, String> {
    let mut db = config.database.clone();
    db.connect_timeout(timeout);
    let (client, connection) = tokio::time::timeout(timeout, db.connect(NoTls))
        .await
        .map_err(|_| format!("no connection within {timeout:?}"))?
        .map_err(|e| chain(&e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("ops endpoint: database connection ended: {e}");
        }
    });
    Ok(client)
}

/// Whether the database answers `SELECT 1` within the probe timeout.
async fn probe(config: &Config) -> Result<(), String> {
    let timeout = config.probe_timeout;
    let client = connect(config, timeout).await?;
    match tokio::time::timeout(timeout, client.simple_query("SELECT 1")).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(chain(&e)),
        Err(_) => Err(format!("SELECT 1 took longer than {timeout:?}")),
    }
}

/// The snapshot of `kind` up to now as HTML, on a connection of its own in
/// one read-only `REPEATABLE READ` transaction.
async fn report(state: &State, kind: snapshot::Kind) -> Result<String, String> {
    let budget = state.config.report_timeout;
    let _turn = tokio::time::timeout(budget, state.reports.acquire())
        .await
        .map_err(|_| format!("another report took longer than {budget:?}"))?
        .map_err(|e| e.to_string())?;
    let work = async {
        let mut client = connect(&state.config, state.config.probe_timeout).await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(|e| chain(&e))?;
        tx.batch_execute(&format!(
            "SET LOCAL statement_timeout = {}",
            budget.as_millis().max(1)
        ))
        .await
        .map_err(|e| chain(&e))?;
        let (_, html) = snapshot::html_report(&tx, kind, Utc::now(), &snapshot::Options::default())
            .await
            .map_err(|e| chain(&e))?;
        tx.commit().await.map_err(|e| chain(&e))?;
        Ok(html)
    };
    tokio::time::timeout(budget, work)
        .await
        .map_err(|_| format!("the report took longer than {budget:?}"))?
}
