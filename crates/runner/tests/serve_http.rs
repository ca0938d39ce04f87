//! `serve --http`: a running serve answers /metrics, /healthz and /report
//! while it runs cycles, and /healthz follows the database: 503 with the
//! reason while a PostgreSQL of the test's own is stopped, 200 again once
//! it is back and cycles succeed. Through the built binary, real signals
//! and a real `pg_ctl stop`.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Proc, runner};
use test_support::http::get;
use test_support::{StopMode, TestServer};

/// The address serve printed it listens on (port 0: a free one).
fn http_addr(serve: &Proc) -> Option<SocketAddr> {
    serve.stdout().iter().find_map(|(_, l)| {
        l.strip_prefix("http: /metrics /healthz /report on http://")
            .and_then(|a| a.parse().ok())
    })
}

/// Polls `path` until `done` holds for a response (or panics after
/// `timeout`, naming the last answer).
async fn poll(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
    done: impl Fn(&test_support::http::Response) -> bool,
) -> test_support::http::Response {
    let start = Instant::now();
    loop {
        let r = get(addr, path).await;
        if done(&r) {
            return r;
        }
        assert!(
            start.elapsed() < timeout,
            "{path} after {timeout:?}: {} {}",
            r.status,
            r.body
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn serve_answers_on_http_and_healthz_follows_the_database() {
    let server = TestServer::start();
    let url = server.migrated("kcg").await;
    let mut cmd = runner();
    cmd.args(["serve", "--every", "2s", "--http", "127.0.0.1:0"])
        .env("DATABASE_URL", &url);
    let mut serve = Proc::spawn(cmd);
    let start = Instant::now();
    let addr = loop {
        if let Some(a) = http_addr(&serve) {
            break a;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no http line\n{}",
            serve.dump()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let metrics = poll(addr, "/metrics", Duration::from_secs(60), |r| {
        r.body.contains("kcg_cycles_total{outcome=\"ok\"}")
    })
    .await;
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.header("content-type"),
        Some(telemetry::CONTENT_TYPE)
    );
    for line in [
        "kcg_leader 1",
        "# TYPE kcg_stage_duration_seconds histogram",
    ] {
        assert!(
            metrics.body.lines().any(|l| l == line),
            "{line}\n{}",
            metrics.body
        );
    }
    assert!(
        metrics.body.contains("kcg_ticks_total{kind=\"on_time\"}")
            || metrics.body.contains("kcg_ticks_total{kind=\"late\"}"),
        "{}",
        metrics.body
    );

    let health = get(addr, "/healthz").await;
    assert_eq!(health.status, 200, "{}", health.body);
    assert!(
        health.body.contains("\"role\":\"leader\""),
        "{}",
        health.body
    );
    assert!(
        health.body.contains("\"last_success\":\"20"),
        "{}",
        health.body
    );

    let report = get(addr, "/report").await;
    assert_eq!(report.status, 200, "{}", report.body);
    assert!(
        report.body.contains("id=\"verdict-timing\""),
        "{}",
        report.body
    );

    // The database goes away: /healthz says so, /metrics still answers.
    server.stop(StopMode::Fast);
    let down = poll(addr, "/healthz", Duration::from_secs(30), |r| {
        r.status == 503
    })
    .await;
    assert!(down.body.contains("database unreachable"), "{}", down.body);
    assert_eq!(get(addr, "/metrics").await.status, 200);

    // It comes back: serve reconnects, cycles succeed, /healthz is 200.
    server.start_again();
    let up = poll(addr, "/healthz", Duration::from_secs(60), |r| {
        r.status == 200
    })
    .await;
    assert!(up.body.contains("\"status\":\"ok\""), "{}", up.body);
    // The control session is made again on its own backoff (it may come
    // back after the cycles' pool does), and counted once per loss: one
    // stop, so one reconnection (two if it was caught mid-connect).
    let reconnects = |r: &test_support::http::Response| {
        r.body.lines().find_map(|l| {
            l.strip_prefix("kcg_database_reconnects_total ")
                .and_then(|v| v.parse::<f64>().ok())
        })
    };
    let metrics = poll(addr, "/metrics", Duration::from_secs(30), |r| {
        reconnects(r).is_some_and(|v| v >= 1.0)
    })
    .await;
    assert!(
        reconnects(&metrics).is_some_and(|v| v <= 2.0),
        "{}",
        metrics.body
    );

    serve.signal("TERM");
    let status = serve.wait(Duration::from_secs(60));
    assert_eq!(status.code(), Some(0), "{}", serve.dump());
}
