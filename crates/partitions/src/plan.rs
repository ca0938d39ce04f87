//! Pure planning: from the catalog, the DEFAULT partition's contents and the
//! policy, which months to create, which to drop, which rows move.

use std::collections::BTreeMap;

use chrono::{DateTime, Months, Utc};

use crate::catalog::Layout;
use crate::error::PartitionError;
use crate::month::Month;

/// The largest premake accepted (ten years ahead).
pub const MAX_PREMAKE: i32 = 120;
/// The largest retention accepted (a hundred years).
pub const MAX_RETENTION: i32 = 1200;

/// Validated `(premake, retention)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    pub premake: i32,
    pub retention: i32,
}

impl Policy {
    pub fn new(premake: i32, retention: i32) -> Result<Policy, PartitionError> {
        if !(1..=MAX_RETENTION).contains(&retention) {
            return Err(PartitionError::InvalidRetention {
                months: retention,
                max: MAX_RETENTION,
            });
        }
        if !(0..=MAX_PREMAKE).contains(&premake) {
            return Err(PartitionError::InvalidPremake {
                months: premake,
                max: MAX_PREMAKE,
            });
        }
        Ok(Policy { premake, retention })
    }
}

/// The rows in the DEFAULT partition, counted per UTC month.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DefaultRows {
    pub by_month: BTreeMap<Month, u64>,
    /// Rows before year 1 (`-infinity` included): older than any retention.
    pub ancient: u64,
    /// Rows from year 10000 on (`infinity` included): no month can take them.
    pub unplaceable: u64,
}

impl DefaultRows {
    pub fn total(&self) -> u64 {
        self.by_month.values().sum::<u64>() + self.ancient + self.unplaceable
    }
}

/// What one run will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The month holding `now`.
    pub current: Month,
    /// The last month that must exist (`current + premake`).
    pub last: Month,
    /// The oldest month the retention keeps; `None` when nothing is dropped
    /// (the cheap ensure).
    pub first_kept: Option<Month>,
    /// Months to create, ascending, with the DEFAULT rows they take.
    pub create: Vec<(Month, u64)>,
    /// Month partitions to drop (wholly older than the retention).
    pub drop: Vec<(Month, String)>,
    /// Month partitions that exist and stay.
    pub kept: Vec<(Month, String)>,
    /// DEFAULT rows older than the retention, deleted as their partition would be.
    pub expired_default_rows: u64,
    /// DEFAULT rows that stay there (months beyond `last`, or unplaceable).
    pub left_in_default: u64,
}

impl Plan {
    pub fn is_noop(&self) -> bool {
        self.create.is_empty() && self.drop.is_empty() && self.expired_default_rows == 0
    }

    pub fn moved(&self) -> u64 {
        self.create.iter().map(|(_, n)| n).sum()
    }
}

fn month_of(ts: DateTime<Utc>, what: &'static str) -> Result<Month, PartitionError> {
    Month::containing(ts).ok_or(PartitionError::OutOfRange { what, ts })
}

fn last_month(current: Month, premake: i32, now: DateTime<Utc>) -> Result<Month, PartitionError> {
    current
        .checked_add(premake)
        .ok_or(PartitionError::OutOfRange {
            what: "now + premake",
            ts: now,
        })
}

/// The oldest month the retention keeps: a month is dropped when its whole
/// range is older than `now - retention`, i.e. when its exclusive end is at
/// or before that instant. The month holding `now - retention` is kept.
pub(crate) fn first_kept(now: DateTime<Utc>, retention: i32) -> Month {
    now.checked_sub_months(Months::new(retention.unsigned_abs()))
        .and_then(Month::containing)
        .unwrap_or(Month::MIN)
}

/// `maintain`: every month from the oldest kept one (partition or DEFAULT
/// row) to `now + premake`; drop months wholly older than the retention.
pub(crate) fn plan_maintain(
    layout: &Layout,
    default_rows: &DefaultRows,
    now: DateTime<Utc>,
    policy: Policy,
) -> Result<Plan, PartitionError> {
    let current = month_of(now, "now")?;
    let last = last_month(current, policy.premake, now)?;
    // Never later than the current month: retention >= 1 guarantees it, and
    // the min() keeps it true whatever changes around it.
    let first_kept = first_kept(now, policy.retention).min(current);

    let (drop, kept): (Vec<_>, Vec<_>) = layout
        .months
        .iter()
        .map(|(m, n)| (*m, n.clone()))
        .partition(|(m, _)| *m < first_kept);

    let oldest_kept_partition = kept.first().map(|(m, _)| *m);
    let oldest_waiting_row = default_rows
        .by_month
        .range(first_kept..)
        .next()
        .map(|(m, _)| *m);
    let start = [oldest_kept_partition, oldest_waiting_row, Some(current)]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(current);

    let create = months_to_create(layout, default_rows, start, last)?;
    let expired_default_rows = default_rows
        .by_month
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

/// `ensure_current_and_next`: the month holding `now` and the next one.
pub(crate) fn plan_ensure(
    layout: &Layout,
    default_rows: &DefaultRows,
    now: DateTime<Utc>,
) -> Result<Plan, PartitionError> {
    let current = month_of(now, "now")?;
    let last = last_month(current, 1, now)?;
    let create = months_to_create(layout, default_rows, current, last)?;
    let kept = layout.months.iter().map(|(m, n)| (*m, n.clone())).collect();
    let moved: u64 = create.iter().map(|(_, n)| n).sum();
    Ok(Plan {
        current,
        last,
        first_kept: None,
        create,
        drop: Vec::new(),
        kept,
        expired_default_rows: 0,
        left_in_default: default_rows.total().saturating_sub(moved),
    })
}

fn months_to_create(
    layout: &Layout,
    default_rows: &DefaultRows,
    start: Month,
    last: Month,
) -> Result<Vec<(Month, u64)>, PartitionError> {
    let mut create = Vec::new();
    let mut m = start;
    while m <= last {
        if !layout.months.contains_key(&m) {
            if let Some(f) = layout.foreign.iter().find(|f| f.overlaps(m)) {
                return Err(PartitionError::Overlap {
                    partition: format!("{}.{}", f.schema, f.name),
                    found: f.bound.clone(),
                    month: m.to_string(),
                    expected_name: format!(
                        "{}.{}",
                        layout.table.schema,
                        layout.table.month_name(m)
                    ),
                    expected: m.bound_clause(),
                });
            }
            create.push((m, default_rows.by_month.get(&m).copied().unwrap_or(0)));
        }
        match m.succ() {
            Some(next) => m = next,
            None => break,
        }
    }
    Ok(create)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Foreign, RUN_OUTPUTS};

    fn ts(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn m(y: i32, mo: u32) -> Month {
        Month::new(y, mo).unwrap()
    }

    fn layout(months: &[Month]) -> Layout {
        Layout {
            table: RUN_OUTPUTS,
            key_column: "cycle_ts".into(),
            default: Some(("kcg".into(), "detection_model_run_outputs_default".into())),
            default_empty: false,
            months: months
                .iter()
                .map(|m| (*m, RUN_OUTPUTS.month_name(*m)))
                .collect(),
            foreign: Vec::new(),
        }
    }

    fn created(p: &Plan) -> Vec<Month> {
        p.create.iter().map(|(m, _)| *m).collect()
    }

    #[test]
    fn bad_policies_are_refused() {
        assert!(matches!(
            Policy::new(3, 0),
            Err(PartitionError::InvalidRetention { months: 0, .. })
        ));
        assert!(matches!(
            Policy::new(-1, 12),
            Err(PartitionError::InvalidPremake { months: -1, .. })
        ));
        assert!(Policy::new(0, 1).is_ok());
    }

    #[test]
    fn empty_table_gets_current_through_premake() {
        let p = plan_maintain(
            &layout(&[]),
            &DefaultRows::default(),
            ts("2026-03-15T12:00:00Z"),
            Policy::new(3, 12).unwrap(),
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
            Policy::new(3, 12).unwrap(),
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
            Policy::new(3, 12).unwrap(),
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
        rows.by_month.insert(m(2025, 1), 4); // expired
        rows.by_month.insert(m(2025, 9), 2); // kept, older than any partition
        rows.by_month.insert(m(2027, 1), 1); // beyond premake: waits
        rows.unplaceable = 1;
        rows.ancient = 3;
        let p = plan_maintain(
            &layout(&[m(2025, 12), m(2026, 3)]),
            &rows,
            ts("2026-03-15T00:00:00Z"),
            Policy::new(1, 12).unwrap(),
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
            Policy::new(3, 12).unwrap(),
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
    fn ensure_only_looks_at_this_and_next_month() {
        let p = plan_ensure(
            &layout(&[m(2026, 1)]),
            &DefaultRows::default(),
            ts("2026-01-31T23:30:00-01:00"),
        )
        .unwrap();
        assert_eq!(created(&p), vec![m(2026, 2), m(2026, 3)]);
        let p = plan_ensure(
            &layout(&[m(2026, 2), m(2026, 3)]),
            &DefaultRows::default(),
            ts("2026-02-02T00:00:00Z"),
        )
        .unwrap();
        assert!(p.is_noop());
    }
}
