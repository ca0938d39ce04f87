//! The daily partitions of `kcg.ais_positions` against a real PostgreSQL:
//! the same machinery as the monthly outputs, with days; the migration that
//! partitioned the table; the cycle's combined check.

mod common;

use common::ts;
use partitions::{
    Day, OUTPUTS, POSITIONS, PartitionError, PartitionKind, Period, Policy, ensure, ensure_cycle,
    maintain,
};
use test_support::TestDb;
use tokio_postgres::Client;

fn d(y: i32, m: u32, day: u32) -> Day {
    Day::new(y, m, day).unwrap()
}

fn days(first: Day, last: Day) -> Vec<Day> {
    (0..=first.periods_until(last))
        .map(|i| first.checked_add(i).unwrap())
        .collect()
}

fn policy(premake: i32, retention: i32) -> Policy<Day> {
    Policy::new(&POSITIONS, premake, retention).unwrap()
}

/// The day partitions that exist, ascending; panics on any other partition
/// but DEFAULT.
async fn day_partitions(client: &Client) -> Vec<Day> {
    partitions::list(client, &POSITIONS)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|p| match p.kind {
            PartitionKind::Period(d) => Some(d),
            PartitionKind::Default => None,
            PartitionKind::Other => panic!("unexpected partition {p:?}"),
        })
        .collect()
}

/// One position at `at` with `mmsi` as its key.
async fn insert(client: &Client, at: &str, mmsi: i64) {
    client
        .execute(
            "INSERT INTO kcg.ais_positions (mmsi, ts, lat, lon, source_file_id) \
             VALUES ($1, $2::text::timestamptz, 1.5, 2.5, 0)",
            &[&mmsi, &at],
        )
        .await
        .unwrap_or_else(|e| panic!("insert at {at}: {e}"));
}

/// `(partition, mmsi)` of every position, by mmsi.
async fn homes(client: &Client) -> Vec<(String, i64)> {
    client
        .query(
            "SELECT tableoid::regclass::text, mmsi FROM kcg.ais_positions ORDER BY mmsi",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test]
async fn maintain_creates_days_ahead_drops_past_the_retention_and_moves_default_rows() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    // A session far from UTC: days are UTC days all the same.
    client
        .batch_execute("SET TIME ZONE 'Pacific/Chatham'")
        .await
        .unwrap();
    for (at, mmsi) in [
        ("2026-01-10T12:00:00Z", 1), // past a 30-day retention at 2026-02-15
        ("2026-01-20T23:59:59.999999Z", 2),
        ("2026-02-14T00:00:00Z", 3),
        ("2026-03-30T00:00:00Z", 4), // beyond the premake: waits in DEFAULT
    ] {
        insert(&client, at, mmsi).await;
    }
    let now = ts("2026-02-15T08:00:00+02:00");

    let dry = maintain(&mut client, &POSITIONS, now, policy(3, 30), true)
        .await
        .unwrap();
    assert!(dry.dry_run);
    assert!(
        day_partitions(&client).await.is_empty(),
        "a dry run changes nothing"
    );

    let r = maintain(&mut client, &POSITIONS, now, policy(3, 30), false)
        .await
        .unwrap();
    assert_eq!(r.current, d(2026, 2, 15));
    // now - 30 days = 2026-01-16T06:00Z: the 16th is kept, the 10th's row expires.
    assert_eq!(r.first_kept, Some(d(2026, 1, 16)));
    assert_eq!(
        r.created.first().map(|c| c.partition.period),
        Some(d(2026, 1, 20))
    );
    assert_eq!(
        r.periods_after(),
        days(d(2026, 1, 20), d(2026, 2, 18)),
        "from the oldest waiting row to now + 3 days"
    );
    assert_eq!(
        (
            r.moved_from_default,
            r.expired_default_rows,
            r.left_in_default
        ),
        (2, 1, 1)
    );
    assert_eq!(
        homes(&client).await,
        vec![
            ("kcg.ais_positions_p2026_01_20".into(), 2),
            ("kcg.ais_positions_p2026_02_14".into(), 3),
            ("kcg.ais_positions_default".into(), 4),
        ]
    );
    let text = r.to_string();
    assert!(
        text.contains("current day 2026-02-15, days must exist through 2026-02-18"),
        "{text}"
    );

    // Once now - 30 days is past the 20th's end, the 20th goes with its row.
    let later = maintain(
        &mut client,
        &POSITIONS,
        ts("2026-02-20T07:00:00Z"),
        policy(3, 30),
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        later.dropped.iter().map(|p| p.period).collect::<Vec<_>>(),
        vec![d(2026, 1, 20)]
    );
    assert_eq!(
        later
            .created
            .iter()
            .map(|c| c.partition.period)
            .collect::<Vec<_>>(),
        days(d(2026, 2, 19), d(2026, 2, 23))
    );
    assert!(!homes(&client).await.iter().any(|(_, mmsi)| *mmsi == 2));
    assert!(
        maintain(
            &mut client,
            &POSITIONS,
            ts("2026-02-20T07:00:00Z"),
            policy(3, 30),
            false
        )
        .await
        .unwrap()
        .is_noop()
    );
    // The monthly table was not touched by any of this.
    assert!(
        partitions::list(&client, &OUTPUTS)
            .await
            .unwrap()
            .iter()
            .all(|p| p.kind == PartitionKind::Default)
    );
}

#[tokio::test]
async fn a_bad_policy_names_the_table_and_days() {
    for (premake, retention, want) in [
        (367, 30, "premake must be between 0 and 366 days, got 367"),
        (3, 0, "retention must be between 1 and 36525 days, got 0"),
    ] {
        let e = Policy::new(&POSITIONS, premake, retention).unwrap_err();
        assert!(e.is_config());
        let text = e.to_string();
        assert!(
            text.contains("kcg.ais_positions") && text.contains(want),
            "{text}"
        );
    }
}

#[tokio::test]
async fn ensure_makes_exactly_the_days_asked_for_and_moves_their_rows() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    insert(&client, "2022-01-03T10:00:00Z", 1).await;
    insert(&client, "2022-01-04T10:00:00Z", 2).await;
    let r = ensure(
        &mut client,
        &POSITIONS,
        &[d(2099, 5, 1), d(2022, 1, 3), d(2022, 1, 3)],
    )
    .await
    .unwrap();
    assert_eq!(
        r.created
            .iter()
            .map(|c| (c.partition.period, c.rows_moved))
            .collect::<Vec<_>>(),
        vec![(d(2022, 1, 3), 1), (d(2099, 5, 1), 0)]
    );
    assert!(r.dropped.is_empty());
    assert_eq!(
        day_partitions(&client).await,
        vec![d(2022, 1, 3), d(2099, 5, 1)]
    );
    assert_eq!(
        homes(&client).await,
        vec![
            ("kcg.ais_positions_p2022_01_03".into(), 1),
            ("kcg.ais_positions_default".into(), 2),
        ]
    );

    // Present already: one catalog read, no wait for a holder of the lock.
    let holder = db.client().await;
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({})",
            partitions::LOCK_KEY
        ))
        .await
        .unwrap();
    let again = ensure(&mut client, &POSITIONS, &[d(2022, 1, 3)])
        .await
        .unwrap();
    assert!(again.is_noop());
    holder.batch_execute("ROLLBACK").await.unwrap();

    let e = ensure(&mut client, &POSITIONS, &[]).await.unwrap_err();
    assert!(matches!(e, PartitionError::NothingAsked { .. }), "{e}");
}

#[tokio::test]
async fn the_cycle_check_covers_both_tables_and_is_one_read_when_all_exist() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    insert(&client, "2026-01-15T23:00:00Z", 7).await;
    let now = ts("2026-01-15T23:30:00Z");
    let r = ensure_cycle(&mut client, now).await.unwrap();
    assert_eq!(
        r.outputs
            .created
            .iter()
            .map(|c| c.partition.name.as_str())
            .collect::<Vec<_>>(),
        [
            "kcg.detection_model_run_outputs_p2026_01",
            "kcg.detection_model_run_outputs_p2026_02"
        ]
    );
    assert_eq!(
        r.positions
            .created
            .iter()
            .map(|c| c.partition.name.as_str())
            .collect::<Vec<_>>(),
        [
            "kcg.ais_positions_p2026_01_15",
            "kcg.ais_positions_p2026_01_16"
        ]
    );
    assert_eq!(r.positions.moved_from_default, 1);

    // All four there: the check neither writes nor waits for the lock.
    let holder = db.client().await;
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({})",
            partitions::LOCK_KEY
        ))
        .await
        .unwrap();
    let again = ensure_cycle(&mut client, now).await.unwrap();
    assert!(again.outputs.is_noop() && again.positions.is_noop());
    assert_eq!(again.positions.kept.len(), 2);
    holder.batch_execute("ROLLBACK").await.unwrap();

    // The next day only needs the positions' next day.
    let r = ensure_cycle(&mut client, ts("2026-01-16T00:05:00Z"))
        .await
        .unwrap();
    assert!(r.outputs.is_noop());
    assert_eq!(
        r.positions
            .created
            .iter()
            .map(|c| c.partition.period)
            .collect::<Vec<_>>(),
        vec![d(2026, 1, 17)]
    );
}

/// Applies the migration files `V###` with `first <= ###  <= last`, as
/// refinery would (each as one batch), on a database without refinery.
async fn apply_migrations(client: &Client, first: u32, last: u32) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.get(1..4)
                .and_then(|v| v.parse::<u32>().ok())
                .is_some_and(|v| (first..=last).contains(&v))
        })
        .collect();
    files.sort();
    for f in files {
        let sql = std::fs::read_to_string(&f).unwrap();
        client
            .batch_execute(&format!("BEGIN; {sql}; COMMIT;"))
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", f.display()));
    }
}

#[tokio::test]
async fn the_migration_moves_every_existing_row_into_its_day() {
    let db = TestDb::empty().await;
    let client = db.client().await;
    apply_migrations(&client, 1, 37).await;
    // Rows of the unpartitioned table: three UTC days (one of them the
    // session's yesterday), and one no day can hold.
    client
        .batch_execute(
            "SET TIME ZONE 'America/Los_Angeles';
             INSERT INTO kcg.ais_positions (mmsi, ts, lat, lon, vessel_name, source_file_id) VALUES
               (1, '2022-01-02 23:59:59.999999+00', 1, 2, 'A', 5),
               (2, '2022-01-03 00:00:00+00', 1, 2, 'B', 5),
               (3, '2022-01-02 17:00:00-08', 1, 2, NULL, 5),
               (4, '2022-01-05 12:00:00+00', 1, 2, 'D', 6),
               (5, 'infinity', 1, 2, 'E', 6);",
        )
        .await
        .unwrap();
    let before: Vec<(i64, String, Option<String>, i64)> = client
        .query(
            "SELECT mmsi, ts::text, vessel_name, source_file_id FROM kcg.ais_positions ORDER BY mmsi",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    apply_migrations(&client, 38, 38).await;

    let after: Vec<(i64, String, Option<String>, i64)> = client
        .query(
            "SELECT mmsi, ts::text, vessel_name, source_file_id FROM kcg.ais_positions ORDER BY mmsi",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(after, before, "every row, every column, kept");
    assert_eq!(
        homes(&client).await,
        vec![
            ("kcg.ais_positions_p2022_01_02".into(), 1),
            ("kcg.ais_positions_p2022_01_03".into(), 2),
            ("kcg.ais_positions_p2022_01_03".into(), 3),
            ("kcg.ais_positions_p2022_01_05".into(), 4),
            ("kcg.ais_positions_default".into(), 5),
        ]
    );
    // The partitions are recognised as day partitions (name and bounds).
    assert_eq!(
        day_partitions(&client).await,
        vec![d(2022, 1, 2), d(2022, 1, 3), d(2022, 1, 5)]
    );
    // The indexes the code relies on exist on the parent and on every partition.
    let indexes: Vec<String> = client
        .query(
            "SELECT indexrelid::regclass::text FROM pg_index \
             WHERE indrelid = 'kcg.ais_positions'::regclass ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        indexes,
        ["kcg.ais_positions_mmsi_ts_idx", "kcg.ais_positions_ts_idx"]
    );
    let per_partition: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_inherits i JOIN pg_index x ON x.indrelid = i.inhrelid \
             WHERE i.inhparent = 'kcg.ais_positions'::regclass",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(per_partition, 4 * 2, "two indexes on each of 4 partitions");
    let leftover: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'ais_positions_unpartitioned%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(leftover, 0);
}
