use chrono::TimeDelta;

use super::*;

fn ts(s: &str) -> DateTime<Utc> {
    s.parse().expect("fixed time")
}

const FIVE_MIN: Duration = Duration::from_secs(300);

#[test]
fn a_follower_is_healthy_while_the_database_answers() {
    let t = Telemetry::new(FIVE_MIN, "0.0.0");
    let now = ts("2022-01-03T01:00:00Z");
    let h = t.health(now, Ok(()));
    assert!(h.healthy, "{h:?}");
    assert_eq!(h.role, Role::Starting);
    t.on_leadership(false, now);
    let h = t.health(now + TimeDelta::hours(5), Ok(()));
    assert!(h.healthy, "{h:?}");
    assert_eq!(h.role, Role::Follower);
    let h = t.health(now, Err("connection refused".into()));
    assert!(!h.healthy);
    assert_eq!(
        h.reason.as_deref(),
        Some("database unreachable: connection refused")
    );
    assert!(
        h.to_json().contains("\"status\":\"unhealthy\""),
        "{}",
        h.to_json()
    );
}

#[test]
fn a_leader_needs_a_successful_cycle_within_two_intervals() {
    let t = Telemetry::new(FIVE_MIN, "0.0.0");
    let start = ts("2022-01-03T01:00:00Z");
    t.on_leadership(true, start);
    // A new leader gets two intervals for its first cycle.
    assert!(t.health(start + TimeDelta::minutes(10), Ok(())).healthy);
    let h = t.health(start + TimeDelta::minutes(11), Ok(()));
    assert!(!h.healthy);
    assert_eq!(
        h.reason.as_deref(),
        Some("leader: no successful cycle in two intervals of 300s")
    );
    // A failed cycle does not reset the clock; a successful one does.
    t.inner
        .health
        .lock()
        .unwrap()
        .failed("stage 5 spoofing failed: boom".into());
    let h = t.health(start + TimeDelta::minutes(11), Ok(()));
    assert_eq!(
        h.last_failure.as_deref(),
        Some("stage 5 spoofing failed: boom")
    );
    t.inner
        .health
        .lock()
        .unwrap()
        .succeeded(start + TimeDelta::minutes(12));
    let h = t.health(start + TimeDelta::minutes(20), Ok(()));
    assert!(h.healthy, "{h:?}");
    assert_eq!(h.last_failure, None);
    let h = t.health(start + TimeDelta::minutes(23), Ok(()));
    assert_eq!(
        h.reason.as_deref(),
        Some(
            "leader: no successful cycle since 2022-01-03T01:12:00Z (more than two intervals of 300s)"
        )
    );
}

#[test]
fn events_reach_their_metrics() {
    let t = Telemetry::new(FIVE_MIN, "1.2.3");
    t.on_leadership(true, ts("2022-01-03T01:00:00Z"));
    t.on_notification();
    t.on_notification();
    t.on_reconnect();
    t.on_tick(Tick::Late);
    let text = t.encode();
    for line in [
        "kcg_leader 1",
        "kcg_registry_notifications_total 2",
        "kcg_database_reconnects_total 1",
        "kcg_ticks_total{kind=\"late\"} 1",
        "kcg_build_info{version=\"1.2.3\"} 1",
        "# TYPE kcg_cycle_duration_seconds histogram",
        "# UNIT kcg_cycle_duration_seconds seconds",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in\n{text}"
        );
    }
    assert!(text.ends_with("# EOF\n"), "{text}");
    t.on_leadership(false, ts("2022-01-03T01:05:00Z"));
    assert!(t.encode().lines().any(|l| l == "kcg_leader 0"));
}
