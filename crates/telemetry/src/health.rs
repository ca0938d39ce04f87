//! Whether this replica is healthy, as `/healthz` answers.
//!
//! Healthy when the database answers and:
//! - a leader's last successful cycle ended within two intervals (counted
//!   from when it became leader until its first cycle ends);
//! - a follower (or a replica still starting) is healthy while it follows.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

/// What this replica does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Not yet leader nor follower.
    Starting,
    /// Runs the cycles.
    Leader,
    /// Stands by while another replica leads.
    Follower,
}

/// The `/healthz` answer; its JSON is the body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    /// `"ok"` or `"unhealthy"`.
    pub status: &'static str,
    /// Whether the status is `ok` (HTTP 200, else 503).
    #[serde(skip)]
    pub healthy: bool,
    /// What this replica does.
    pub role: Role,
    /// Why it is unhealthy; null when healthy.
    pub reason: Option<String>,
    /// When the last successful cycle ended.
    pub last_success: Option<DateTime<Utc>>,
    /// The last cycle's failure, if the last cycle failed.
    pub last_failure: Option<String>,
    /// The cycle interval, seconds.
    pub interval_seconds: f64,
}

impl HealthReport {
    /// The body: one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| format!("{{\"status\":\"{}\"}}", self.status))
    }
}

#[derive(Debug)]
pub(crate) struct State {
    interval: Duration,
    role: Role,
    role_since: Option<DateTime<Utc>>,
    last_success: Option<DateTime<Utc>>,
    last_failure: Option<String>,
}

impl State {
    pub(crate) fn new(interval: Duration) -> State {
        State {
            interval,
            role: Role::Starting,
            role_since: None,
            last_success: None,
            last_failure: None,
        }
    }

    pub(crate) fn role(&mut self, role: Role, at: DateTime<Utc>) {
        if self.role != role {
            self.role = role;
            self.role_since = Some(at);
        }
    }

    pub(crate) fn succeeded(&mut self, at: DateTime<Utc>) {
        self.last_success = Some(at);
        self.last_failure = None;
    }

    pub(crate) fn failed(&mut self, reason: String) {
        self.last_failure = Some(reason);
    }

    pub(crate) fn report(&self, now: DateTime<Utc>, database: Result<(), String>) -> HealthReport {
        let allowed = TimeDelta::from_std(self.interval * 2).unwrap_or(TimeDelta::MAX);
        let reason = match database {
            Err(why) => Some(format!("database unreachable: {why}")),
            Ok(()) if self.role == Role::Leader => {
                // A new leader gets two intervals for its first cycle.
                let since = match (self.last_success, self.role_since) {
                    (Some(s), Some(r)) => Some(s.max(r)),
                    (s, r) => s.or(r),
                };
                match since {
                    Some(t) if now - t <= allowed => None,
                    _ => Some(match self.last_success {
                        Some(s) => format!(
                            "leader: no successful cycle since {} (more than two intervals of {}s)",
                            s.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            self.interval.as_secs_f64()
                        ),
                        None => format!(
                            "leader: no successful cycle in two intervals of {}s",
                            self.interval.as_secs_f64()
                        ),
                    }),
                }
            }
            Ok(()) => None,
        };
        HealthReport {
            status: if reason.is_none() { "ok" } else { "unhealthy" },
            healthy: reason.is_none(),
            role: self.role,
            reason,
            last_success: self.last_success,
            last_failure: self.last_failure.clone(),
            interval_seconds: self.interval.as_secs_f64(),
        }
    }
}
