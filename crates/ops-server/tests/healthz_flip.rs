//! `/healthz` follows the database: 503 with the reason while a private
//! cluster is stopped, 200 again once it is back (test_support::TestServer,
//! so stopping it disturbs no other test).

use std::time::{Duration, Instant};

use chrono::Utc;
use ops_server::{Config, Server};
use telemetry::Telemetry;
use test_support::http::get;
use test_support::{StopMode, TestServer};

#[tokio::test]
async fn healthz_is_503_while_the_database_is_stopped_and_200_after() {
    let pg = TestServer::start();
    let url = pg.migrated("kcg_healthz").await;
    let telemetry = Telemetry::new(Duration::from_secs(300), "test");
    telemetry.on_leadership(false, Utc::now());
    let mut config = Config::new(url.parse().expect("a valid URL"));
    config.probe_timeout = Duration::from_secs(2);
    let server = Server::bind("127.0.0.1:0".parse().expect("addr"), telemetry, config)
        .await
        .expect("bind");
    let addr = server.local_addr();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let up = get(addr, "/healthz").await;
    assert_eq!(up.status, 200, "{}", up.body);

    pg.stop(StopMode::Fast);
    let down = get(addr, "/healthz").await;
    assert_eq!(down.status, 503, "{}", down.body);
    assert!(down.body.contains("database unreachable"), "{}", down.body);
    // Metrics do not need the database.
    assert_eq!(get(addr, "/metrics").await.status, 200);

    pg.start_again();
    let start = Instant::now();
    loop {
        let r = get(addr, "/healthz").await;
        if r.status == 200 {
            assert!(r.body.contains("\"status\":\"ok\""), "{}", r.body);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "still {}: {}",
            r.status,
            r.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
