//! Episodes, not windows: a finding that continues from one cycle to the
//! next is one `prediction_events` row, updated (last seen, cycles, worst
//! value), never a new row per overlapping window.
//!
//! **Rule.** A finding `(category, mmsi)` of cycle `c` continues the stored
//! episode of the same `(category, mmsi)` whose cycles `[opened, last]`
//! reach `c` within `gap` (`opened - gap <= c <= last + gap`); the latest
//! such episode when several do. Otherwise it opens a new episode. This
//! holds in any replay order: a cycle run before its predecessors extends
//! the episode backwards (its `event_ts` moves earlier). `occurrences`
//! counts the cycles that extended the episode at either end, so rerunning
//! a cycle inside it changes nothing.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::Severity;
use crate::events::{Event, EventCategory};

/// A stored episode, as the pipeline reads it back.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    /// `prediction_events.id`.
    pub id: i64,
    /// Its category.
    pub category: EventCategory,
    /// The vessel.
    pub mmsi: i64,
    /// The cycle that opened it (`prediction_events.cycle_ts`).
    pub opened_cycle: DateTime<Utc>,
    /// The last cycle that saw it.
    pub last_cycle: DateTime<Utc>,
    /// When it was first observed (`event_ts`: the hour it counts in).
    pub event_ts: DateTime<Utc>,
    /// When it was last observed.
    pub last_seen: DateTime<Utc>,
    /// Cycles that saw it.
    pub occurrences: i32,
    /// The worst [`Event::value`] seen.
    pub worst_value: f64,
    /// The worst severity seen.
    pub severity: Severity,
    /// Details of the latest cycle that saw it.
    pub details: Value,
}

/// What to write for one finding.
#[derive(Debug, Clone, PartialEq)]
pub enum EpisodeChange {
    /// A new episode, opened by this cycle.
    Open(Event),
    /// An existing episode, with its new values.
    Extend(Episode),
}

/// Matches this cycle's `findings` with the stored `episodes` (those of the
/// same MMSIs near this cycle; others are ignored) and says what to write.
///
/// ```
/// use chrono::{TimeDelta, TimeZone, Utc};
/// use detectors::{plan_episodes, EpisodeChange, Event, EventCategory, Severity};
/// let c = Utc.with_ymd_and_hms(2022, 1, 3, 0, 10, 0).unwrap();
/// let e = Event { category: EventCategory::InvalidMmsi, mmsi: 1, severity: Severity::Low,
///     event_ts: c, value: 1.0, details: serde_json::json!({}) };
/// let plan = plan_episodes(&[], &[e], c, TimeDelta::minutes(15));
/// assert!(matches!(plan[0], EpisodeChange::Open(_)));
/// ```
pub fn plan_episodes(
    episodes: &[Episode],
    findings: &[Event],
    cycle_ts: DateTime<Utc>,
    gap: TimeDelta,
) -> Vec<EpisodeChange> {
    findings
        .iter()
        .map(|f| {
            let found = episodes
                .iter()
                .filter(|e| {
                    e.category == f.category
                        && e.mmsi == f.mmsi
                        // Checked: a stored time at the edge of the
                        // calendar reaches everything on that side.
                        && e.opened_cycle.checked_sub_signed(gap).is_none_or(|t| t <= cycle_ts)
                        && e.last_cycle.checked_add_signed(gap).is_none_or(|t| cycle_ts <= t)
                })
                .max_by_key(|e| (e.last_cycle, e.id));
            match found {
                None => EpisodeChange::Open(f.clone()),
                Some(e) => EpisodeChange::Extend(extend(e, f, cycle_ts)),
            }
        })
        .collect()
}

fn extend(e: &Episode, f: &Event, cycle_ts: DateTime<Utc>) -> Episode {
    let outside = cycle_ts < e.opened_cycle || cycle_ts > e.last_cycle;
    Episode {
        id: e.id,
        category: e.category,
        mmsi: e.mmsi,
        opened_cycle: e.opened_cycle.min(cycle_ts),
        last_cycle: e.last_cycle.max(cycle_ts),
        event_ts: e.event_ts.min(f.event_ts),
        last_seen: e.last_seen.max(f.event_ts),
        occurrences: e.occurrences + i32::from(outside),
        worst_value: if f.value.is_nan() {
            e.worst_value
        } else {
            e.worst_value.max(f.value)
        },
        severity: e.severity.max(f.severity),
        details: if cycle_ts >= e.last_cycle {
            f.details.clone()
        } else {
            e.details.clone()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn at(m: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2022, 1, 3, 0, 0, 0).unwrap() + TimeDelta::minutes(m)
    }

    fn finding(mmsi: i64, m: i64, value: f64, severity: Severity) -> Event {
        Event {
            category: EventCategory::Spoofing,
            mmsi,
            severity,
            event_ts: at(m) - TimeDelta::seconds(30),
            value,
            details: json!({ "m": m }),
        }
    }

    fn stored(id: i64, e: &Event, cycle: i64) -> Episode {
        Episode {
            id,
            category: e.category,
            mmsi: e.mmsi,
            opened_cycle: at(cycle),
            last_cycle: at(cycle),
            event_ts: e.event_ts,
            last_seen: e.event_ts,
            occurrences: 1,
            worst_value: e.value,
            severity: e.severity,
            details: e.details.clone(),
        }
    }

    fn apply(store: &mut Vec<Episode>, cycle: i64, findings: &[Event]) {
        for ch in plan_episodes(store, findings, at(cycle), TimeDelta::minutes(15)) {
            match ch {
                EpisodeChange::Open(e) => {
                    let id = store.len() as i64 + 1;
                    store.push(stored(id, &e, cycle));
                }
                EpisodeChange::Extend(ep) => {
                    let i = store.iter().position(|s| s.id == ep.id).unwrap();
                    store[i] = ep;
                }
            }
        }
    }

    #[test]
    fn a_continuing_finding_is_one_episode_with_its_worst() {
        let mut store = Vec::new();
        apply(&mut store, 5, &[finding(1, 5, 0.6, Severity::Medium)]);
        apply(&mut store, 10, &[finding(1, 10, 0.9, Severity::Critical)]);
        apply(&mut store, 15, &[finding(1, 15, 0.7, Severity::High)]);
        assert_eq!(store.len(), 1);
        let e = &store[0];
        assert_eq!(
            (e.occurrences, e.worst_value, e.severity),
            (3, 0.9, Severity::Critical)
        );
        assert_eq!((e.opened_cycle, e.last_cycle), (at(5), at(15)));
        assert_eq!(e.event_ts, at(5) - TimeDelta::seconds(30));
        assert_eq!(e.details, json!({ "m": 15 }));
        // A rerun inside the episode changes nothing.
        let before = store.clone();
        apply(&mut store, 10, &[finding(1, 10, 0.9, Severity::Critical)]);
        assert_eq!(store, before);
    }

    #[test]
    fn a_pause_longer_than_the_gap_opens_a_new_episode_and_other_keys_are_apart() {
        let mut store = Vec::new();
        apply(&mut store, 5, &[finding(1, 5, 0.6, Severity::Medium)]);
        apply(&mut store, 25, &[finding(1, 25, 0.6, Severity::Medium)]);
        assert_eq!(store.len(), 2, "20 minutes without it: a new episode");
        let mut other = finding(1, 30, 0.6, Severity::Medium);
        other.category = EventCategory::SpeedAnomaly;
        apply(
            &mut store,
            30,
            &[other, finding(2, 30, 0.6, Severity::Medium)],
        );
        assert_eq!(store.len(), 4);
    }

    #[test]
    fn replays_in_reverse_order_extend_backwards() {
        let mut store = Vec::new();
        for c in [15, 10, 5] {
            apply(
                &mut store,
                c,
                &[finding(7, c, 0.5 + c as f64 / 100.0, Severity::Medium)],
            );
        }
        assert_eq!(store.len(), 1);
        let e = &store[0];
        assert_eq!(
            (e.opened_cycle, e.last_cycle, e.occurrences),
            (at(5), at(15), 3)
        );
        assert_eq!(e.event_ts, at(5) - TimeDelta::seconds(30));
        assert_eq!(
            e.details,
            json!({ "m": 15 }),
            "the latest cycle's details stay"
        );
    }
}
