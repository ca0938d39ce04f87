//! Connection errors keep their cause and name the target: `cycle` and
//! `replay` against a closed port, with a wrong password, or for a database
//! that does not exist fail at once (not after a pool's timeout) with the
//! underlying error and `user@host:port/db`, never the password. `serve`
//! refuses a wrong target at start-up, but waits for a database that is
//! not up yet.

mod common;

use std::time::{Duration, Instant};

use common::{Proc, runner, wait_until};
use test_support::{StopMode, TestDb, TestServer, free_port};

/// Runs `runner args` against `url`; returns (exit code, stderr, elapsed).
fn fails(url: &str, args: &[&str]) -> (Option<i32>, String, Duration) {
    let start = Instant::now();
    let out = runner()
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .unwrap();
    let elapsed = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), stderr, elapsed)
}

const CYCLE: &[&str] = &["cycle", "--at", "2022-01-03T00:10:00Z"];
const REPLAY: &[&str] = &[
    "replay",
    "--from",
    "2022-01-03T00:05:00Z",
    "--to",
    "2022-01-03T00:10:00Z",
    "--every",
    "5m",
];

/// Well under the 30 s a pool checkout used to wait before saying only
/// "Timed out in bb8".
const FAST: Duration = Duration::from_secs(10);

#[tokio::test]
async fn cycle_and_replay_fail_at_once_with_the_cause_and_the_target() {
    let port = free_port();
    let closed = format!("postgres://kcg:s3cret-pw@127.0.0.1:{port}/kcg");
    let server = TestServer::start_with_password("right-pw");
    server.migrated("kcg").await;
    let wrong_password = server.url_with_password("kcg", "wr0ng-pw");
    let db = TestDb::new().await;
    let unknown = db.url().rsplit_once('/').unwrap().0.to_owned() + "/no_such_db";
    let user = db
        .url()
        .split("://")
        .nth(1)
        .unwrap()
        .split(['@', ':'])
        .next()
        .unwrap();
    let cases = [
        (
            closed.as_str(),
            format!("cannot connect to kcg@127.0.0.1:{port}/kcg"),
            "Connection refused",
            "s3cret-pw",
        ),
        (
            wrong_password.as_str(),
            format!("cannot connect to postgres@127.0.0.1:{}/kcg", server.port()),
            "password authentication failed for user \"postgres\"",
            "wr0ng-pw",
        ),
        (
            unknown.as_str(),
            format!("cannot connect to {user}@"),
            "database \"no_such_db\" does not exist",
            "no password here",
        ),
    ];
    for (url, target, cause, password) in &cases {
        for args in [CYCLE, REPLAY] {
            let (code, stderr, elapsed) = fails(url, args);
            assert_eq!(code, Some(1), "{args:?}: {stderr}");
            let error = stderr
                .lines()
                .find(|l| l.starts_with("error: "))
                .unwrap_or_else(|| panic!("no error line: {stderr}"));
            assert!(error.contains(target.as_str()), "{error}");
            assert!(error.contains(cause), "{error}");
            assert!(
                !stderr.contains(password),
                "the password was printed: {stderr}"
            );
            assert!(!error.contains("Timed out in bb8"), "{error}");
            assert!(elapsed < FAST, "{args:?} took {elapsed:?}: {error}");
            println!("{} in {} ms: {error}", args[0], elapsed.as_millis());
        }
    }

    // serve: a wrong password is a configuration error at start-up.
    let (code, stderr, elapsed) = fails(&wrong_password, &["serve", "--every", "1s"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("password authentication failed"),
        "{stderr}"
    );
    assert!(!stderr.contains("wr0ng-pw"), "{stderr}");
    assert!(elapsed < FAST, "serve took {elapsed:?}: {stderr}");
}

#[tokio::test]
async fn serve_waits_for_a_database_that_is_not_up_yet() {
    let server = TestServer::start();
    let url = server.migrated("kcg").await;
    server.stop(StopMode::Fast);
    let mut cmd = runner();
    cmd.args(["serve", "--every", "1s"])
        .env("DATABASE_URL", &url);
    let mut serve = Proc::spawn(cmd);
    std::thread::sleep(Duration::from_secs(2));
    assert!(serve.running(), "{}", serve.dump());
    server.start_again();
    let client = server.client("kcg").await;
    assert!(
        wait_until(Duration::from_secs(20), || async {
            common::one(
                &client,
                "SELECT count(*) FROM kcg.prediction_cycles WHERE status = 'OK'",
            )
            .await
                > 0
        })
        .await,
        "{}",
        serve.dump()
    );
    let waited = serve
        .stderr()
        .iter()
        .filter(|(_, l)| l.contains("database unreachable"))
        .count();
    assert!(waited > 0, "{}", serve.dump());
    serve.signal("TERM");
    assert_eq!(
        serve.wait(Duration::from_secs(30)).code(),
        Some(0),
        "{}",
        serve.dump()
    );
}
