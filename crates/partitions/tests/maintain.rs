//! `maintain`, `ensure_current_and_next` and `list` against a real PostgreSQL.

mod common;

use common::{ensure_current_and_next, maintain};
use common::{home, insert, m, months, range, rows, snapshot, ts};
use partitions::{Month, OUTPUTS, PartitionError, PartitionKind};
use test_support::TestDb;

#[tokio::test]
async fn second_run_creates_and_drops_nothing() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let now = ts("2026-03-15T12:00:00Z");

    let first = maintain(&mut client, now, 3, 12, false).await.unwrap();
    let created: Vec<_> = first
        .created
        .iter()
        .map(|c| c.partition.name.as_str())
        .collect();
    assert_eq!(
        created,
        [
            "kcg.detection_model_run_outputs_p2026_03",
            "kcg.detection_model_run_outputs_p2026_04",
            "kcg.detection_model_run_outputs_p2026_05",
            "kcg.detection_model_run_outputs_p2026_06",
        ]
    );
    assert!(first.dropped.is_empty() && first.kept.is_empty());
    let after_first = snapshot(&client).await;

    let second = maintain(&mut client, now, 3, 12, false).await.unwrap();
    assert!(second.is_noop(), "{second}");
    assert!(second.created.is_empty() && second.dropped.is_empty());
    assert_eq!(second.periods_after(), range(m(2026, 3), m(2026, 6)));
    assert_eq!(snapshot(&client).await, after_first);
}

#[tokio::test]
async fn months_are_utc_whatever_the_offset_and_session_time_zone() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    // A session far from UTC: boundaries must not follow it.
    client
        .batch_execute("SET TIME ZONE 'Pacific/Chatham'")
        .await
        .unwrap();
    let now = ts("2026-01-31T23:30:00-01:00");

    let report = maintain(&mut client, now, 0, 12, false).await.unwrap();
    assert_eq!(report.current, m(2026, 2));
    assert_eq!(report.periods_after(), vec![m(2026, 2)]);

    insert(
        &client,
        "2026-01-31T23:30:00-01:00",
        "late-january-elsewhere",
    )
    .await;
    assert_eq!(
        home(&client, "late-january-elsewhere").await,
        "kcg.detection_model_run_outputs_p2026_02"
    );
    insert(
        &client,
        "2026-02-01T00:30:00+01:00",
        "early-february-elsewhere",
    )
    .await;
    assert_eq!(
        home(&client, "early-february-elsewhere").await,
        "kcg.detection_model_run_outputs_default"
    );

    let listed = partitions::list(&client, &OUTPUTS).await.unwrap();
    let feb = listed
        .iter()
        .find(|p| p.kind == PartitionKind::Period(m(2026, 2)))
        .unwrap();
    assert_eq!(feb.from, Some(ts("2026-02-01T00:00:00Z")));
    assert_eq!(feb.to, Some(ts("2026-03-01T00:00:00Z")));

    // The cheap ensure agrees, and reads the same session without creating anything new.
    let ensured = ensure_current_and_next(&mut client, now).await.unwrap();
    assert_eq!(
        ensured
            .created
            .iter()
            .map(|c| c.partition.period)
            .collect::<Vec<_>>(),
        vec![m(2026, 3)]
    );
}

#[tokio::test]
async fn retention_drops_exactly_the_months_older_than_twelve_months() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    // History: 2025-01 .. 2026-06.
    maintain(&mut client, ts("2025-01-15T00:00:00Z"), 17, 12, false)
        .await
        .unwrap();
    assert_eq!(months(&client).await, range(m(2025, 1), m(2026, 6)));

    // One microsecond before March: now - 12 months is still inside 2025-02.
    let r = maintain(&mut client, ts("2026-02-28T23:59:59.999999Z"), 3, 12, false)
        .await
        .unwrap();
    assert_eq!(r.first_kept, Some(m(2025, 2)));
    assert_eq!(
        r.dropped.iter().map(|d| d.period).collect::<Vec<_>>(),
        vec![m(2025, 1)]
    );
    assert!(r.created.is_empty());

    // Exactly 2026-03-01: now - 12 months is 2025-03-01, February's exclusive end.
    let r = maintain(&mut client, ts("2026-03-01T00:00:00Z"), 3, 12, false)
        .await
        .unwrap();
    assert_eq!(r.first_kept, Some(m(2025, 3)));
    assert_eq!(
        r.dropped
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>(),
        ["kcg.detection_model_run_outputs_p2025_02"]
    );
    assert_eq!(months(&client).await, range(m(2025, 3), m(2026, 6)));

    // The shortest retention never drops the current month, nor a future one.
    let r = maintain(&mut client, ts("2026-03-01T00:00:00Z"), 0, 1, false)
        .await
        .unwrap();
    assert_eq!(r.dropped.first().map(|d| d.period), Some(m(2025, 3)));
    assert_eq!(r.dropped.last().map(|d| d.period), Some(m(2026, 1)));
    assert_eq!(months(&client).await, range(m(2026, 2), m(2026, 6)));
}

#[tokio::test]
async fn default_rows_move_into_the_months_created_for_them_and_are_counted() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    for (at, key) in [
        ("2026-01-03T10:00:00Z", "jan-1"),
        ("2026-01-20T10:00:00Z", "jan-2"),
        ("2026-01-31T23:59:59.999999Z", "jan-3"),
        ("2026-02-01T00:00:00Z", "feb-1"),
        ("2026-02-14T00:00:00Z", "feb-2"),
        ("2027-06-01T00:00:00Z", "beyond-premake"),
        ("2024-11-05T00:00:00Z", "expired"),
        ("infinity", "no-month"),
        ("-infinity", "before-every-month"),
    ] {
        insert(&client, at, key).await;
    }
    let before = rows(&client).await;
    assert!(
        before
            .iter()
            .all(|r| r.0 == "kcg.detection_model_run_outputs_default")
    );
    let now = ts("2026-02-15T00:00:00Z");

    let dry = maintain(&mut client, now, 3, 12, true).await.unwrap();
    assert!(dry.dry_run);
    assert_eq!(rows(&client).await, before, "a dry run changes nothing");
    assert!(months(&client).await.is_empty());

    let report = maintain(&mut client, now, 3, 12, false).await.unwrap();
    // January is created because rows wait for it; then February .. May.
    let created: Vec<_> = report
        .created
        .iter()
        .map(|c| (c.partition.period, c.rows_moved))
        .collect();
    assert_eq!(
        created,
        vec![
            (m(2026, 1), 3),
            (m(2026, 2), 2),
            (m(2026, 3), 0),
            (m(2026, 4), 0),
            (m(2026, 5), 0)
        ]
    );
    assert_eq!(report.moved_from_default, 5);
    assert_eq!(report.expired_default_rows, 2);
    assert_eq!(report.left_in_default, 2);
    assert_eq!(
        (
            dry.created,
            dry.moved_from_default,
            dry.expired_default_rows
        ),
        (report.created.clone(), 5, 2)
    );

    for (key, want) in [
        ("jan-1", "kcg.detection_model_run_outputs_p2026_01"),
        ("jan-3", "kcg.detection_model_run_outputs_p2026_01"),
        ("feb-1", "kcg.detection_model_run_outputs_p2026_02"),
        ("beyond-premake", "kcg.detection_model_run_outputs_default"),
        ("no-month", "kcg.detection_model_run_outputs_default"),
    ] {
        assert_eq!(home(&client, key).await, want, "{key}");
    }
    // Every row the retention keeps is still there, unchanged.
    let keep = |r: &&(String, String, String)| r.2 != "expired" && r.2 != "before-every-month";
    let strip = |v: &[(String, String, String)]| {
        v.iter()
            .filter(keep)
            .map(|r| (r.1.clone(), r.2.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&rows(&client).await), strip(&before));
    let payloads: i64 = client
        .query_one(
            "SELECT count(*) FROM kcg.detection_model_run_outputs \
             WHERE payload = jsonb_build_object('k', entity_key) AND score = 0.5 AND model_id = 'm'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(payloads, 7);

    // The row waiting beyond the premake moves once its month is due.
    let later = maintain(&mut client, ts("2027-03-10T00:00:00Z"), 3, 12, false)
        .await
        .unwrap();
    assert_eq!(later.moved_from_default, 1);
    assert_eq!(
        home(&client, "beyond-premake").await,
        "kcg.detection_model_run_outputs_p2027_06"
    );
    assert!(
        maintain(&mut client, ts("2027-03-10T00:00:00Z"), 3, 12, false)
            .await
            .unwrap()
            .is_noop()
    );
}

#[tokio::test]
async fn concurrent_runs_end_as_one_run_would() {
    let db = TestDb::new().await;
    let mut setup = db.client().await;
    // Expired months to drop and rows waiting in DEFAULT to move.
    maintain(&mut setup, ts("2024-10-15T00:00:00Z"), 2, 12, false)
        .await
        .unwrap();
    for i in 0..60 {
        insert(
            &setup,
            &format!("2026-0{}-10T00:00:00Z", 1 + i % 3),
            &format!("row-{i}"),
        )
        .await;
    }
    let before = rows(&setup).await;
    let now = ts("2026-03-15T00:00:00Z");
    let mut clients = Vec::new();
    for _ in 0..6 {
        clients.push(db.client().await);
    }
    let runs = clients.iter_mut().enumerate().map(|(i, c)| async move {
        if i % 3 == 2 {
            ensure_current_and_next(c, now).await
        } else {
            maintain(c, now, 3, 12, false).await
        }
    });
    let reports: Vec<_> = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();

    assert_eq!(months(&setup).await, range(m(2026, 1), m(2026, 6)));
    let mut created: Vec<_> = reports
        .iter()
        .flat_map(|r| r.created.iter().map(|c| c.partition.period))
        .collect();
    created.sort();
    // Every month made exactly once, whoever made it.
    assert_eq!(created, range(m(2026, 1), m(2026, 6)));
    let mut dropped: Vec<_> = reports
        .iter()
        .flat_map(|r| r.dropped.iter().map(|d| d.period))
        .collect();
    dropped.sort();
    assert_eq!(dropped, range(m(2024, 10), m(2024, 12)));
    assert_eq!(
        reports.iter().map(|r| r.moved_from_default).sum::<u64>(),
        60
    );
    let busy = reports.iter().filter(|r| !r.dropped.is_empty()).count();
    assert_eq!(
        busy, 1,
        "one maintain did the dropping, the others found it done"
    );

    let after = rows(&setup).await;
    assert_eq!(after.len(), before.len());
    assert!(
        after
            .iter()
            .all(|r| r.0 != "kcg.detection_model_run_outputs_default")
    );
}

/// Runs `f` and asserts it fails with a configuration error mentioning
/// every `needle`, and that the database is exactly as before.
async fn refused(
    db: &TestDb,
    needles: &[&str],
    f: impl AsyncFnOnce(
        &mut tokio_postgres::Client,
    ) -> Result<partitions::Report<Month>, PartitionError>,
) {
    let mut client = db.client().await;
    let before = snapshot(&client).await;
    let err = f(&mut client).await.expect_err("must be refused");
    assert!(err.is_config(), "{err}");
    let text = err.to_string();
    for n in needles {
        assert!(text.contains(n), "error does not mention {n:?}: {text}");
    }
    assert_eq!(
        snapshot(&client).await,
        before,
        "a refused run must touch nothing ({text})"
    );
}

#[tokio::test]
async fn bad_configuration_is_an_error_that_touches_nothing() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    // A state with work pending: an expired month, rows waiting in DEFAULT.
    maintain(&mut client, ts("2024-06-15T00:00:00Z"), 0, 12, false)
        .await
        .unwrap();
    insert(&client, "2026-03-02T00:00:00Z", "waiting").await;
    insert(&client, "2023-01-02T00:00:00Z", "expired").await;
    let now = ts("2026-03-15T00:00:00Z");

    refused(&db, &["retention", "got 0"], async |c| {
        maintain(c, now, 3, 0, false).await
    })
    .await;
    refused(&db, &["premake", "got -1"], async |c| {
        maintain(c, now, -1, 12, false).await
    })
    .await;
    refused(&db, &["retention", "got -3"], async |c| {
        maintain(c, now, 3, -3, true).await
    })
    .await;

    // A partition named like a month, made by hand with other bounds.
    client
        .batch_execute(
            "CREATE TABLE kcg.detection_model_run_outputs_p2026_05 PARTITION OF kcg.detection_model_run_outputs \
             FOR VALUES FROM ('2026-05-01 00:00:00+00') TO ('2026-05-15 00:00:00+00')",
        )
        .await
        .unwrap();
    let needles = [
        "kcg.detection_model_run_outputs_p2026_05",
        "FOR VALUES FROM ('2026-05-01 00:00:00+00') TO ('2026-06-01 00:00:00+00')",
        "found FOR VALUES FROM (",
        "2026-05-15",
    ];
    refused(&db, &needles, async |c| {
        maintain(c, now, 3, 12, false).await
    })
    .await;
    refused(&db, &needles, async |c| maintain(c, now, 3, 12, true).await).await;
    refused(&db, &needles, async |c| {
        ensure_current_and_next(c, ts("2026-04-20T00:00:00Z")).await
    })
    .await;
    client
        .batch_execute("DROP TABLE kcg.detection_model_run_outputs_p2026_05")
        .await
        .unwrap();

    // Some other partition in the way of a month that must be created.
    client
        .batch_execute(
            "CREATE TABLE kcg.outputs_by_hand PARTITION OF kcg.detection_model_run_outputs \
             FOR VALUES FROM ('2026-04-10 00:00:00+00') TO ('2026-04-20 00:00:00+00')",
        )
        .await
        .unwrap();
    let needles = [
        "kcg.outputs_by_hand",
        "2026-04",
        "kcg.detection_model_run_outputs_p2026_04",
    ];
    refused(&db, &needles, async |c| {
        maintain(c, now, 3, 12, false).await
    })
    .await;
    refused(&db, &needles, async |c| {
        ensure_current_and_next(c, ts("2026-03-20T00:00:00Z")).await
    })
    .await;
    client
        .batch_execute("DROP TABLE kcg.outputs_by_hand")
        .await
        .unwrap();

    // With the layout repaired, the same run goes through.
    let r = maintain(&mut client, now, 3, 12, false).await.unwrap();
    assert_eq!(r.dropped.len(), 1);
    assert_eq!(r.moved_from_default, 1);
    assert_eq!(r.expired_default_rows, 1);
}

#[tokio::test]
async fn a_table_that_is_not_range_partitioned_is_refused() {
    let now = ts("2026-03-15T00:00:00Z");
    for (ddl, found) in [
        (
            "CREATE TABLE kcg.detection_model_run_outputs (cycle_ts timestamptz, entity_key text)",
            "an ordinary table",
        ),
        (
            "CREATE TABLE kcg.detection_model_run_outputs (cycle_ts timestamptz, role text) PARTITION BY LIST (role)",
            "PARTITION BY LIST (role)",
        ),
        (
            "CREATE TABLE kcg.detection_model_run_outputs (cycle_ts date, role text) PARTITION BY RANGE (cycle_ts)",
            "PARTITION BY RANGE (cycle_ts) on a column of type date",
        ),
        (
            "CREATE TABLE kcg.detection_model_run_outputs (cycle_ts timestamptz, v int) PARTITION BY RANGE (cycle_ts, v)",
            "PARTITION BY RANGE (cycle_ts, v)",
        ),
        ("SELECT 1", "does not exist"),
    ] {
        let db = TestDb::new().await;
        let client = db.client().await;
        client
            .batch_execute(&format!(
                "ALTER TABLE kcg.detection_model_run_outputs RENAME TO real_outputs; {ddl}"
            ))
            .await
            .unwrap();
        let needles = ["kcg.detection_model_run_outputs", found];
        let before = client
            .query("SELECT relname::text FROM pg_class ORDER BY 1", &[])
            .await
            .unwrap()
            .len();
        refused_plain(&db, &needles, async |c| {
            maintain(c, now, 3, 12, false).await
        })
        .await;
        refused_plain(&db, &needles, async |c| {
            ensure_current_and_next(c, now).await
        })
        .await;
        let e = partitions::list(&client, &OUTPUTS)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(found), "{e}");
        let after = client
            .query("SELECT relname::text FROM pg_class ORDER BY 1", &[])
            .await
            .unwrap()
            .len();
        assert_eq!(before, after, "nothing created for {ddl}");
    }
}

/// Like [`refused`], for databases whose output table is not the real one.
async fn refused_plain(
    db: &TestDb,
    needles: &[&str],
    f: impl AsyncFnOnce(
        &mut tokio_postgres::Client,
    ) -> Result<partitions::Report<Month>, PartitionError>,
) {
    let mut client = db.client().await;
    let err = f(&mut client).await.expect_err("must be refused");
    assert!(err.is_config(), "{err}");
    let text = err.to_string();
    for n in needles {
        assert!(text.contains(n), "error does not mention {n:?}: {text}");
    }
}

#[tokio::test]
async fn ensure_creates_this_and_next_month_once_and_then_needs_no_lock() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    insert(&client, "2026-07-04T00:00:00Z", "waiting").await;
    let now = ts("2026-07-20T00:00:00Z");

    let r = ensure_current_and_next(&mut client, now).await.unwrap();
    assert_eq!(
        r.created
            .iter()
            .map(|c| (c.partition.period, c.rows_moved))
            .collect::<Vec<_>>(),
        vec![(m(2026, 7), 1), (m(2026, 8), 0)]
    );
    assert_eq!(
        home(&client, "waiting").await,
        "kcg.detection_model_run_outputs_p2026_07"
    );
    assert!(r.dropped.is_empty());

    // With both months there, the check reads the catalog only: it does not
    // wait for a runner that holds the maintenance lock.
    let holder = db.client().await;
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({})",
            partitions::LOCK_KEY
        ))
        .await
        .unwrap();
    let again = ensure_current_and_next(&mut client, now).await.unwrap();
    assert!(again.is_noop());
    assert_eq!(
        again.kept.iter().map(|p| p.period).collect::<Vec<_>>(),
        vec![m(2026, 7), m(2026, 8)]
    );
    holder.batch_execute("ROLLBACK").await.unwrap();

    // Inside a caller's transaction it works on a savepoint and goes with it.
    let before = snapshot(&client).await;
    let mut tx = client.transaction().await.unwrap();
    let r = ensure_current_and_next(&mut tx, ts("2026-09-01T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        r.created
            .iter()
            .map(|c| c.partition.period)
            .collect::<Vec<_>>(),
        vec![m(2026, 9), m(2026, 10)]
    );
    tx.rollback().await.unwrap();
    assert_eq!(snapshot(&client).await, before);
}

#[tokio::test]
async fn list_shows_ranges_and_row_estimates() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    maintain(&mut client, ts("2026-03-15T00:00:00Z"), 1, 12, false)
        .await
        .unwrap();
    for i in 0..7 {
        insert(&client, "2026-03-20T00:00:00Z", &format!("r{i}")).await;
    }
    client
        .batch_execute("ANALYZE kcg.detection_model_run_outputs")
        .await
        .unwrap();
    let listed = partitions::list(&client, &OUTPUTS).await.unwrap();
    let summary: Vec<_> = listed
        .iter()
        .map(|p| (p.name.as_str(), p.kind, p.row_estimate))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "kcg.detection_model_run_outputs_p2026_03",
                PartitionKind::Period(m(2026, 3)),
                7
            ),
            (
                "kcg.detection_model_run_outputs_p2026_04",
                PartitionKind::Period(m(2026, 4)),
                0
            ),
            (
                "kcg.detection_model_run_outputs_default",
                PartitionKind::Default,
                0
            ),
        ]
    );
    assert_eq!(listed[1].from, Some(ts("2026-04-01T00:00:00Z")));
    assert_eq!(listed[1].to, Some(ts("2026-05-01T00:00:00Z")));
}
