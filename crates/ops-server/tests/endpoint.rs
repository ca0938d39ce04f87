//! The endpoint over real HTTP (a plain HTTP/1.1 client on a TCP socket)
//! against a real database, and against an address where no database
//! listens.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;
use ops_server::{Config, Server};
use telemetry::Telemetry;
use test_support::TestDb;
use test_support::http::{Response, get, request};

async fn start(
    telemetry: &Telemetry,
    database: tokio_postgres::Config,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let mut config = Config::new(database);
    config.probe_timeout = Duration::from_secs(2);
    let server = Server::bind(
        "127.0.0.1:0".parse().expect("addr"),
        telemetry.clone(),
        config,
    )
    .await
    .expect("bind a free port");
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

#[tokio::test]
async fn metrics_report_and_errors() {
    let db = TestDb::new().await;
    let telemetry = Telemetry::new(Duration::from_secs(300), "test");
    telemetry.on_notification();
    let (addr, _stop) = start(&telemetry, db.config().clone()).await;

    let r = get(addr, "/metrics").await;
    let (status, body) = (r.status, r.body.clone());
    assert_eq!(status, 200);
    assert_eq!(r.header("content-type"), Some(telemetry::CONTENT_TYPE));
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert!(
        body.contains("kcg_registry_notifications_total 1\n"),
        "{body}"
    );

    let r = get(addr, "/report").await;
    let (status, body) = (r.status, r.body.clone());
    assert_eq!(status, 200, "{body}");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(body.starts_with("<!DOCTYPE html>"), "{body}");
    assert!(body.contains("kcg snapshot: diagnostic"), "{body}");
    let Response { status, body, .. } = get(addr, "/report?kind=hourly").await;
    assert_eq!(status, 200);
    assert!(body.contains("kcg snapshot: hourly"), "{body}");
    let Response { status, body, .. } = get(addr, "/report?kind=diagnostic").await;
    assert_eq!(status, 200);
    assert!(body.contains("kcg snapshot: diagnostic"), "{body}");
    // A kind it does not know is refused, not answered with another report.
    let Response { status, body, .. } = get(addr, "/report?kind=weekly").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("\"kind=weekly\""), "{body}");
    assert!(body.contains("kind=hourly"), "{body}");

    let status = get(addr, "/nothing").await.status;
    assert_eq!(status, 404);
    let r = request(addr, "POST", "/metrics").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET"));
}

#[tokio::test]
async fn healthz_names_what_is_wrong() {
    let db = TestDb::new().await;
    let telemetry = Telemetry::new(Duration::from_secs(300), "test");
    let (addr, _stop) = start(&telemetry, db.config().clone()).await;

    // Starting, then following: healthy while the database answers.
    let r = get(addr, "/healthz").await;
    let (status, body) = (r.status, r.body.clone());
    assert_eq!(status, 200, "{body}");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    telemetry.on_leadership(false, Utc::now());
    let Response { status, body, .. } = get(addr, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"role\":\"follower\""), "{body}");

    // A leader whose last successful cycle is older than two intervals.
    telemetry.on_leadership(true, Utc::now() - chrono::TimeDelta::minutes(11));
    let Response { status, body, .. } = get(addr, "/healthz").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("leader: no successful cycle in two intervals of 300s"),
        "{body}"
    );

    // No database where the config points: a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let mut nowhere = tokio_postgres::Config::new();
    nowhere
        .host("127.0.0.1")
        .port(port)
        .user(db.config().get_user().unwrap_or("postgres"))
        .dbname(db.name());
    let follower = Telemetry::new(Duration::from_secs(300), "test");
    follower.on_leadership(false, Utc::now());
    let (addr, _stop2) = start(&follower, nowhere).await;
    let Response { status, body, .. } = get(addr, "/healthz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("database unreachable"), "{body}");
    let Response { status, body, .. } = get(addr, "/report").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("report failed: "), "{body}");
}
