//! Pure planning: from the catalog, the DEFAULT partition's contents and the
//! policy, which periods to create, which to drop, which rows move.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};

use crate::catalog::Layout;
use crate::error::PartitionError;
use crate::period::Period;
use crate::spec::TableSpec;

/// The largest premake accepted for the monthly table (ten years ahead).
pub const MAX_PREMAKE: i32 = <crate::Month as Period>::MAX_PREMAKE;
/// The largest retention accepted for the monthly table (a hundred years).
pub const MAX_RETENTION: i32 = <crate::Month as Period>::MAX_RETENTION;

/// A validated maintenance policy of a table partitioned by periods `P`:
/// premake and retention, in periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy<P> {
    premake: i32,
    retention: i32,
    period: PhantomData<fn() -> P>,
}

impl<P: Period> Policy<P> {
    /// Premake `0..=P::MAX_PREMAKE`, retention `1..=P::MAX_RETENTION`
    /// periods of `table`; an error naming the table otherwise.
    pub fn new(
        table: &TableSpec<P>,
        premake: i32,
        retention: i32,
    ) -> Result<Policy<P>, PartitionError> {
        if !(1..=P::MAX_RETENTION).contains(&retention) {
            return Err(PartitionError::InvalidRetention {
                table: table.display(),
                value: retention,
                max: P::MAX_RETENTION,
                units: P::UNITS,
            });
        }
        if !(0..=P::MAX_PREMAKE).contains(&premake) {
            return Err(PartitionError::InvalidPremake {
                table: table.display(),
                value: premake,
                max: P::MAX_PREMAKE,
                units: P::UNITS,
            });
        }
        Ok(Policy {
            premake,
            retention,
            period: PhantomData,
        })
    }

    /// Periods created ahead of the current one.
    pub fn premake(self) -> i32 {
        self.premake
    }

    /// Periods kept.
    pub fn retention(self) -> i32 {
        self.retention
    }
}

/// The rows in the DEFAULT partition, counted per period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DefaultRows<P: Period> {
    pub by_period: BTreeMap<P, u64>,
    /// Rows before year 1 (`-infinity` included): older than any retention.
    pub ancient: u64,
    /// Rows from year 10000 on (`infinity` included): no period can take them.
    pub unplaceable: u64,
}

impl<P: Period> Default for DefaultRows<P> {
    fn default() -> Self {
        DefaultRows {
            by_period: BTreeMap::new(),
            ancient: 0,
            unplaceable: 0,
        }
    }
}

impl<P: Period> DefaultRows<P> {
    pub fn total(&self) -> u64 {
        self.by_period.values().sum::<u64>() + self.ancient + self.unplaceable
    }
}

/// What one run will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan<P: Period> {
    /// The period holding `now` (for an ensure: the first one asked for).
    pub current: P,
    /// The last period that must exist (`current + premake`; for an
    /// ensure: the last one asked for).
    pub last: P,
    /// The oldest period the retention keeps; `None` when nothing is
    /// dropped (the ensures).
    pub first_kept: Option<P>,
    /// Periods to create, ascending, with the DEFAULT rows they take.
    pub create: Vec<(P, u64)>,
    /// Period partitions to drop (wholly older than the retention).
    pub drop: Vec<(P, String)>,
    /// Period partitions that exist and stay.
    pub kept: Vec<(P, String)>,
    /// DEFAULT rows older than the retention, deleted as their partition would be.
    pub expired_default_rows: u64,
    /// DEFAULT rows that stay there (periods beyond `last`, or unplaceable).
    pub left_in_default: u64,
}

impl<P: Period> Plan<P> {
    pub fn is_noop(&self) -> bool {
        self.create.is_empty() && self.drop.is_empty() && self.expired_default_rows == 0
    }

    pub fn moved(&self) -> u64 {
        self.create.iter().map(|(_, n)| n).sum()
    }
}

pub(crate) fn period_of<P: Period>(
    ts: DateTime<Utc>,
    what: &'static str,
) -> Result<P, PartitionError> {
    P::containing(ts).ok_or(PartitionError::OutOfRange { what, ts })
}

fn last_period<P: Period>(
    current: P,
    premake: i32,
    now: DateTime<Utc>,
) -> Result<P, PartitionError> {
    current
        .checked_add(premake)
        .ok_or(PartitionError::OutOfRange {
            what: "now + premake",
            ts: now,
        })
}

/// The oldest period the retention keeps: a period is dropped when its
/// whole range is older than `now - retention`, i.e. when its exclusive end
/// is at or before that instant. The period holding `now - retention` is kept.
pub(crate) fn first_kept<P: Period>(now: DateTime<Utc>, retention: i32) -> P {
    P::back(now, retention)
        .and_then(P::containing)
        .unwrap_or(P::MIN)
}

/// `maintain`: every period from the oldest kept one (partition or DEFAULT
/// row) to `now + premake`; drop periods wholly older than the retention.
pub(crate) fn plan_maintain<P: Period>(
    layout: &Layout<P>,
    default_rows: &DefaultRows<P>,
    now: DateTime<Utc>,
    policy: Policy<P>,
) -> Result<Plan<P>, PartitionError> {
    let current: P = period_of(now, "now")?;
    let last = last_period(current, policy.premake, now)?;
    // Never later than the current period: retention >= 1 guarantees it, and
    // the min() keeps it true whatever changes around it.
    let first_kept = first_kept::<P>(now, policy.retention).min(current);

    let (drop, kept): (Vec<_>, Vec<_>) = layout
        .periods
        .iter()
        .map(|(p, n)| (*p, n.clone()))
        .partition(|(p, _)| *p < first_kept);

    let oldest_kept_partition = kept.first().map(|(p, _)| *p);
    let oldest_waiting_row = default_rows
        .by_period
        .range(first_kept..)
        .next()
        .map(|(p, _)| *p);
    let start = [oldest_kept_partition, oldest_waiting_row, Some(current)]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(current);

    let wanted = std::iter::successors(Some(start), |p| p.succ().filter(|n| *n <= last));
    let create = to_create(layout, default_rows, wanted)?;
    let expired_default_rows = default_rows
        .by_period
        .range(..first_kept)
        .map(|(_, n)| n)
        .sum::<u64>()
        + default_rows.ancient;
    let moved: u64 = create.iter().map(|(_, n)| n).sum();
    let left_in_default = default_rows
        .total()
        .saturating_sub(moved + expired_default_rows);
    Ok(Plan {
        current,
        last,
        first_kept: Some(first_kept),
        create,
        drop,
        kept,
        expired_default_rows,
        left_in_default,
    })
}

/// `ensure`: exactly the periods `wanted` (ascending, not empty), never a drop.
pub(crate) fn plan_ensure<P: Period>(
    layout: &Layout<P>,
    default_rows: &DefaultRows<P>,
    wanted: &[P],
) -> Result<Plan<P>, PartitionError> {
    let (Some(first), Some(last)) = (wanted.first(), wanted.last()) else {
        return Err(PartitionError::NothingAsked {
            table: layout.table.display(),
        });
    };
    let create = to_create(layout, default_rows, wanted.iter().copied())?;
    let kept = layout
        .periods
        .iter()
        .map(|(p, n)| (*p, n.clone()))
        .collect();
    let moved: u64 = create.iter().map(|(_, n)| n).sum();
    Ok(Plan {
        current: *first,
        last: *last,
        first_kept: None,
        create,
        drop: Vec::new(),
        kept,
        expired_default_rows: 0,
        left_in_default: default_rows.total().saturating_sub(moved),
    })
}

fn to_create<P: Period>(
    layout: &Layout<P>,
    default_rows: &DefaultRows<P>,
    wanted: impl Iterator<Item = P>,
) -> Result<Vec<(P, u64)>, PartitionError> {
    let mut create = Vec::new();
    for p in wanted {
        if layout.periods.contains_key(&p) {
            continue;
        }
        if let Some(f) = layout.foreign.iter().find(|f| f.overlaps(p)) {
            return Err(PartitionError::Overlap {
                partition: format!("{}.{}", f.schema, f.name),
                found: f.bound.clone(),
                period: format!("{} {p}", P::UNIT),
                expected_name: format!(
                    "{}.{}",
                    layout.table.schema(),
                    layout.table.partition_name(p)
                ),
                expected: p.bound_clause(),
            });
        }
        create.push((p, default_rows.by_period.get(&p).copied().unwrap_or(0)));
    }
    Ok(create)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Foreign;
    use crate::day::Day;
    use crate::month::Month;
    use crate::spec::{OUTPUTS, POSITIONS};

    fn ts(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn m(y: i32, mo: u32) -> Month {
        Month::new(y, mo).unwrap()
    }

    fn layout(months: &[Month]) -> Layout<Month> {
        Layout {
            table: OUTPUTS,
            key_column: "cycle_ts".into(),
            default: Some(("kcg".into(), "detection_model_run_outputs_default".into())),
            default_empty: false,
            periods: months
                .iter()
                .map(|m| (*m, OUTPUTS.partition_name(*m)))
                .collect(),
            foreign: Vec::new(),
        }
    }

    fn policy(premake: i32, retention: i32) -> Policy<Month> {
        Policy::new(&OUTPUTS, premake, retention).unwrap()
    }

    fn created<P: Period>(p: &Plan<P>) -> Vec<P> {
        p.create.iter().map(|(m, _)| *m).collect()
    }

    #[test]
    fn bad_policies_are_refused() {
        assert!(matches!(
            Policy::new(&OUTPUTS, 3, 0),
            Err(PartitionError::InvalidRetention { value: 0, .. })
        ));
        assert!(matches!(
            Policy::new(&OUTPUTS, -1, 12),
            Err(PartitionError::InvalidPremake { value: -1, .. })
        ));
        assert!(Policy::new(&OUTPUTS, 0, 1).is_ok());
        assert!(Policy::new(&OUTPUTS, 121, 12).is_err());
        assert!(Policy::new(&POSITIONS, 366, 36_525).is_ok());
        let e = Policy::new(&POSITIONS, 3, 0).unwrap_err().to_string();
        assert!(
            e.contains("kcg.ais_positions") && e.contains("between 1 and 36525 days, got 0"),
            "{e}"
        );
    }

    #[test]
    fn empty_table_gets_current_through_premake() {
        let p = plan_maintain(
            &layout(&[]),
            &DefaultRows::default(),
            ts("2026-03-15T12:00:00Z"),
            policy(3, 12),
        )
        .unwrap();
        assert_eq!(
            created(&p),
            vec![m(2026, 3), m(2026, 4), m(2026, 5), m(2026, 6)]
        );
        assert!(p.drop.is_empty());
    }

    #[test]
    fn retention_edge_is_exact() {
        let months: Vec<Month> = (0..16)
            .map(|i| m(2025, 1).checked_add(i).unwrap())
            .collect();
        // now - 12 months = 2025-03-01T00:00Z exactly: February's end, so February goes.
        let p = plan_maintain(
            &layout(&months),
            &DefaultRows::default(),
            ts("2026-03-01T00:00:00Z"),
            policy(3, 12),
        )
        .unwrap();
        assert_eq!(p.first_kept, Some(m(2025, 3)));
        assert_eq!(
            p.drop.iter().map(|d| d.0).collect::<Vec<_>>(),
            vec![m(2025, 1), m(2025, 2)]
        );
        // One microsecond earlier, February still has an instant inside the retention.
        let p = plan_maintain(
            &layout(&months),
            &DefaultRows::default(),
            ts("2026-02-28T23:59:59.999999Z"),
            policy(3, 12),
        )
        .unwrap();
        assert_eq!(
            p.drop.iter().map(|d| d.0).collect::<Vec<_>>(),
            vec![m(2025, 1)]
        );
    }

    #[test]
    fn holes_are_filled_from_the_oldest_kept_month_and_default_rows_pull_it_back() {
        let mut rows = DefaultRows::default();
        rows.by_period.insert(m(2025, 1), 4); // expired
        rows.by_period.insert(m(2025, 9), 2); // kept, older than any partition
        rows.by_period.insert(m(2027, 1), 1); // beyond premake: waits
        rows.unplaceable = 1;
        rows.ancient = 3;
        let p = plan_maintain(
            &layout(&[m(2025, 12), m(2026, 3)]),
            &rows,
            ts("2026-03-15T00:00:00Z"),
            policy(1, 12),
        )
        .unwrap();
        assert_eq!(
            created(&p),
            vec![
                m(2025, 9),
                m(2025, 10),
                m(2025, 11),
                m(2026, 1),
                m(2026, 2),
                m(2026, 4)
            ]
        );
        assert_eq!(p.moved(), 2);
        assert_eq!(p.expired_default_rows, 7);
        assert_eq!(p.left_in_default, 2);
    }

    #[test]
    fn a_foreign_partition_in_the_way_is_an_error() {
        let mut l = layout(&[]);
        l.foreign.push(Foreign {
            schema: "kcg".into(),
            name: "by_hand".into(),
            bound: "FOR VALUES FROM ('2026-04-10 00:00:00+00') TO ('2026-04-20 00:00:00+00')"
                .into(),
            lower: ts("2026-04-10T00:00:00Z"),
            upper: ts("2026-04-20T00:00:00Z"),
        });
        let e = plan_maintain(
            &l,
            &DefaultRows::default(),
            ts("2026-03-15T00:00:00Z"),
            policy(3, 12),
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("kcg.by_hand")
                && s.contains("2026-04")
                && s.contains("detection_model_run_outputs_p2026_04"),
            "{s}"
        );
    }

    #[test]
    fn ensure_only_looks_at_the_periods_asked_for() {
        let now: Month = period_of(ts("2026-01-31T23:30:00-01:00"), "now").unwrap();
        let p = plan_ensure(
            &layout(&[m(2026, 1)]),
            &DefaultRows::default(),
            &[now, now.succ().unwrap()],
        )
        .unwrap();
        assert_eq!(created(&p), vec![m(2026, 2), m(2026, 3)]);
        let p = plan_ensure(
            &layout(&[m(2026, 2), m(2026, 3)]),
            &DefaultRows::default(),
            &[m(2026, 2), m(2026, 3)],
        )
        .unwrap();
        assert!(p.is_noop());
    }

    #[test]
    fn days_follow_the_same_rules() {
        let d = |y, mo, da| Day::new(y, mo, da).unwrap();
        let l = Layout {
            table: POSITIONS,
            key_column: "ts".into(),
            default: None,
            default_empty: true,
            periods: [d(2021, 12, 1), d(2021, 12, 3), d(2022, 1, 2)]
                .into_iter()
                .map(|p| (p, POSITIONS.partition_name(p)))
                .collect(),
            foreign: Vec::new(),
        };
        let mut rows = DefaultRows::default();
        rows.by_period.insert(d(2021, 12, 20), 5);
        // now - 30 days = 2021-12-03T12:00: the 1st and 2nd are wholly older.
        let p = plan_maintain(
            &l,
            &rows,
            ts("2022-01-02T12:00:00Z"),
            Policy::new(&POSITIONS, 3, 30).unwrap(),
        )
        .unwrap();
        assert_eq!(p.first_kept, Some(d(2021, 12, 3)));
        assert_eq!(
            p.drop.iter().map(|x| x.0).collect::<Vec<_>>(),
            vec![d(2021, 12, 1)]
        );
        // From the oldest kept partition through now + 3 days, holes filled.
        let made = created(&p);
        assert_eq!(made.first(), Some(&d(2021, 12, 4)));
        assert_eq!(made.last(), Some(&d(2022, 1, 5)));
        assert_eq!(made.len(), 33 - 1);
        assert_eq!(p.moved(), 5);
        // An ensure of scattered days creates just those.
        let p = plan_ensure(&l, &rows, &[d(2021, 12, 20), d(2022, 1, 2), d(2099, 1, 1)]).unwrap();
        assert_eq!(created(&p), vec![d(2021, 12, 20), d(2099, 1, 1)]);
    }
}
