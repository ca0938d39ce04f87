//! Property: over random sequences of `(now, premake, retention)` runs, with
//! rows arriving in between, the partitions that exist are exactly the ones
//! a plain model of the policy predicts, and every row the retention keeps
//! sits in its month's partition (or in DEFAULT when its month does not
//! exist yet). Each case uses its own database.

mod common;

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, Months, TimeZone, Utc};
use proptest::prelude::*;
use test_support::TestDb;

/// Months as plain `year * 12 + month - 1` numbers, computed without the
/// crate's `Month` type.
fn month_index(ts: DateTime<Utc>) -> i32 {
    ts.year() * 12 + ts.month0() as i32
}

fn index_name(i: i32) -> String {
    format!(
        "kcg.detection_model_run_outputs_p{:04}_{:02}",
        i.div_euclid(12),
        i.rem_euclid(12) + 1
    )
}

#[derive(Debug, Clone)]
struct Step {
    now: DateTime<Utc>,
    premake: i32,
    retention: i32,
    dry_run: bool,
    /// Rows inserted before the run.
    rows: Vec<DateTime<Utc>>,
}

#[derive(Debug, Default)]
struct Model {
    months: BTreeSet<i32>,
    /// `(key, month)` of every row stored.
    rows: Vec<(String, i32)>,
}

impl Model {
    fn run(&mut self, now: DateTime<Utc>, premake: i32, retention: i32) {
        let cutoff = now
            .checked_sub_months(Months::new(retention.unsigned_abs()))
            .unwrap();
        // A month goes when its exclusive end is at or before the cutoff:
        // every month before the one holding the cutoff.
        let first_kept = month_index(cutoff);
        self.months.retain(|m| *m >= first_kept);
        self.rows.retain(|(_, m)| *m >= first_kept);
        let current = month_index(now);
        let waiting = self
            .rows
            .iter()
            .map(|(_, m)| *m)
            .filter(|m| !self.months.contains(m))
            .min();
        let start = [self.months.first().copied(), waiting, Some(current)]
            .into_iter()
            .flatten()
            .min()
            .unwrap();
        self.months.extend(start..=current + premake);
    }
}

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let base = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    prop_oneof![
        // Anywhere in five years, to the microsecond.
        (0i64..5 * 365 * 86_400_000_000).prop_map(move |us| base + Duration::microseconds(us)),
        // Exactly on a month boundary, or a microsecond before one.
        (0u32..60, prop::bool::ANY).prop_map(move |(m, before)| {
            base.checked_add_months(Months::new(m)).unwrap()
                - Duration::microseconds(i64::from(before))
        }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let row = (-30i64..36).prop_flat_map(|months_off| {
        (Just(months_off), 0i64..28 * 86_400).prop_map(|(mo, s)| (mo, s))
    });
    (
        instant(),
        0i32..=5,
        1i32..=18,
        prop::bool::weighted(0.15),
        prop::collection::vec(row, 0..4),
    )
        .prop_map(|(now, premake, retention, dry_run, rows)| {
            let rows = rows
                .into_iter()
                .map(|(mo, s)| {
                    let first = Utc
                        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
                        .unwrap();
                    let month = if mo >= 0 {
                        first.checked_add_months(Months::new(mo.unsigned_abs() as u32))
                    } else {
                        first.checked_sub_months(Months::new(mo.unsigned_abs() as u32))
                    };
                    month.unwrap() + Duration::seconds(s)
                })
                .collect();
            Step {
                now,
                premake,
                retention,
                dry_run,
                rows,
            }
        })
}

async fn check(steps: Vec<Step>) {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let mut model = Model::default();
    for (i, s) in steps.iter().enumerate() {
        for (j, at) in s.rows.iter().enumerate() {
            let key = format!("s{i}r{j}");
            common::insert(&client, &at.to_rfc3339(), &key).await;
            model.rows.push((key, month_index(*at)));
        }
        let before: BTreeSet<i32> = model.months.clone();
        let report = common::maintain(&mut client, s.now, s.premake, s.retention, s.dry_run)
            .await
            .unwrap();

        let mut expected = Model {
            months: model.months.clone(),
            rows: model.rows.clone(),
        };
        expected.run(s.now, s.premake, s.retention);
        let reported: BTreeSet<i32> = report
            .periods_after()
            .iter()
            .map(|m| m.year() * 12 + m.month() as i32 - 1)
            .collect();
        assert_eq!(
            reported, expected.months,
            "step {i} {s:?}: the report's months"
        );
        if !s.dry_run {
            model = expected;
        }

        let found: BTreeSet<i32> = common::months(&client)
            .await
            .iter()
            .map(|m| m.year() * 12 + m.month() as i32 - 1)
            .collect();
        assert_eq!(
            found, model.months,
            "step {i} {s:?}: partitions after the run"
        );
        if !s.dry_run {
            let created: BTreeSet<i32> = found.difference(&before).copied().collect();
            let dropped: BTreeSet<i32> = before.difference(&found).copied().collect();
            let r_created: BTreeSet<i32> = report
                .created
                .iter()
                .map(|c| c.partition.period.year() * 12 + c.partition.period.month() as i32 - 1)
                .collect();
            let r_dropped: BTreeSet<i32> = report
                .dropped
                .iter()
                .map(|d| d.period.year() * 12 + d.period.month() as i32 - 1)
                .collect();
            assert_eq!(
                (r_created, r_dropped),
                (created, dropped),
                "step {i}: the report's changes"
            );
        }

        let mut stored: Vec<(String, String)> = common::rows(&client)
            .await
            .into_iter()
            .map(|(home, _, key)| (key, home))
            .collect();
        stored.sort();
        let mut want: Vec<(String, String)> = model
            .rows
            .iter()
            .map(|(k, m)| {
                let home = if model.months.contains(m) {
                    index_name(*m)
                } else {
                    "kcg.detection_model_run_outputs_default".into()
                };
                (k.clone(), home)
            })
            .collect();
        want.sort();
        assert_eq!(stored, want, "step {i} {s:?}: where the rows are");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn partitions_always_match_the_model(steps in prop::collection::vec(step(), 1..6)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(check(steps));
    }
}
