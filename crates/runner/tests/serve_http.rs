//! `serve --http`: a running serve answers /metrics, /healthz and /report
//! while it runs cycles, through the built binary and real signals.

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use test_support::TestDb;
use test_support::http::get;

#[tokio::test]
async fn serve_answers_metrics_healthz_and_report() {
    let db = TestDb::new().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["serve", "--every", "2s", "--http", "127.0.0.1:0"])
        .env("DATABASE_URL", db.url())
        .env("RUST_LOG", "warn")
        .env_remove("PREDICTION_USE_MODEL_REGISTRY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start serve");
    // The address it bound (port 0: a free one) is on its first lines.
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    let addr: SocketAddr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("no http line ({e}): {log:?}"));
        log.push(line.clone());
        if let Some(url) = line.strip_prefix("http: /metrics /healthz /report on http://") {
            break url.parse().expect("an address");
        }
    };

    // Wait for a cycle to be counted (or give up after 60 s).
    let start = Instant::now();
    let metrics = loop {
        let m = get(addr, "/metrics").await;
        assert_eq!(m.status, 200);
        if m.body.contains("kcg_cycles_total{outcome=\"ok\"}") {
            break m.body;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no cycle: {}",
            m.body
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(metrics.contains("kcg_leader 1\n"), "{metrics}");
    assert!(
        metrics.contains("kcg_stage_duration_seconds_count{stage=\"load_window\"}"),
        "{metrics}"
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

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("serve ends");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
