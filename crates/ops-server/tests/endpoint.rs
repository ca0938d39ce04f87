//! The endpoint over real HTTP (a plain HTTP/1.1 client on a TCP socket)
//! against a real database, and against an address where no database
//! listens.

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;
use ops_server::{Config, Server};
use telemetry::Telemetry;
use test_support::TestDb;

/// Status, headers (lower-case names) and body of `GET path` (or `method`).
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
) -> (u16, Vec<(String, String)>, String) {
    let req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).expect("connect to the endpoint");
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        s.write_all(req.as_bytes()).expect("send");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("read the response");
        let text = String::from_utf8(raw).expect("a UTF-8 response");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse().ok())
            .expect("a status line");
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
            .collect();
        (status, headers, body.to_owned())
    })
    .await
    .expect("the client thread")
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

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

    let (status, headers, body) = request(addr, "GET", "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some(telemetry::CONTENT_TYPE)
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert!(
        body.contains("kcg_registry_notifications_total 1\n"),
        "{body}"
    );

    let (status, headers, body) = request(addr, "GET", "/report").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(body.starts_with("<!DOCTYPE html>"), "{body}");
    assert!(body.contains("kcg snapshot: diagnostic"), "{body}");
    let (status, _, body) = request(addr, "GET", "/report?kind=hourly").await;
    assert_eq!(status, 200);
    assert!(body.contains("kcg snapshot: hourly"), "{body}");

    let (status, _, _) = request(addr, "GET", "/nothing").await;
    assert_eq!(status, 404);
    let (status, headers, _) = request(addr, "POST", "/metrics").await;
    assert_eq!(status, 405);
    assert_eq!(header(&headers, "allow"), Some("GET"));
}

#[tokio::test]
async fn healthz_names_what_is_wrong() {
    let db = TestDb::new().await;
    let telemetry = Telemetry::new(Duration::from_secs(300), "test");
    let (addr, _stop) = start(&telemetry, db.config().clone()).await;

    // Starting, then following: healthy while the database answers.
    let (status, headers, body) = request(addr, "GET", "/healthz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    telemetry.on_leadership(false, Utc::now());
    let (status, _, body) = request(addr, "GET", "/healthz").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"role\":\"follower\""), "{body}");

    // A leader whose last successful cycle is older than two intervals.
    telemetry.on_leadership(true, Utc::now() - chrono::TimeDelta::minutes(11));
    let (status, _, body) = request(addr, "GET", "/healthz").await;
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
    let (status, _, body) = request(addr, "GET", "/healthz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("database unreachable"), "{body}");
    let (status, _, body) = request(addr, "GET", "/report").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("report failed: "), "{body}");
}
