//! `runner partitions maintain|list` end to end.

use std::process::{Command, Output};

use test_support::TestDb;

fn runner(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("cannot run the runner binary")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn maintain_dry_run_then_for_real_then_list() {
    let db = TestDb::new().await;
    let now = "--now=2026-01-31T23:30:00-01:00";

    let dry = runner(
        db.url(),
        &["partitions", "maintain", now, "--premake", "1", "--dry-run"],
    );
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(stdout(&dry).contains("DRY RUN"), "{}", stdout(&dry));
    assert!(
        stdout(&dry).contains("would be created: 2"),
        "{}",
        stdout(&dry)
    );

    let real = runner(db.url(), &["partitions", "maintain", now, "--premake", "1"]);
    assert!(real.status.success(), "{}", stderr(&real));
    let out = stdout(&real);
    assert!(out.contains("current month 2026-02"), "{out}");
    assert!(
        out.contains("kcg.detection_model_run_outputs_p2026_02")
            && out.contains("kcg.detection_model_run_outputs_p2026_03"),
        "{out}"
    );

    let list = runner(db.url(), &["partitions", "list", "--table", "outputs"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let out = stdout(&list);
    assert!(
        out.contains("[2026-02-01T00:00:00Z, 2026-03-01T00:00:00Z)"),
        "{out}"
    );
    assert!(
        out.contains("kcg.detection_model_run_outputs_default"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 4, "{out}");

    // The positions were maintained too (--table all by default): the UTC
    // day of --now and three ahead, and DEFAULT.
    assert!(
        stdout(&real).contains("current day 2026-02-01"),
        "{}",
        stdout(&real)
    );
    let list = runner(db.url(), &["partitions", "list", "--table", "positions"]);
    let out = stdout(&list);
    assert!(
        out.contains("kcg.ais_positions_p2026_02_01")
            && out.contains("[2026-02-04T00:00:00Z, 2026-02-05T00:00:00Z)")
            && out.contains("kcg.ais_positions_default"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 6, "{out}");
    let both = stdout(&runner(db.url(), &["partitions", "list"]));
    assert_eq!(both.lines().count(), 4 + 1 + 6, "{both}");

    // One table at a time, with its own flags.
    let only = runner(
        db.url(),
        &[
            "partitions",
            "maintain",
            now,
            "--table",
            "positions",
            "--positions-premake",
            "5",
            "--dry-run",
        ],
    );
    let out = stdout(&only);
    assert!(
        only.status.success()
            && out.contains("would be created: 2")
            && !out.contains("run_outputs"),
        "{out}{}",
        stderr(&only)
    );

    let again = runner(db.url(), &["partitions", "maintain", now, "--premake", "1"]);
    assert!(stdout(&again).contains("created: 0"), "{}", stdout(&again));
}

#[tokio::test]
async fn bad_configuration_exits_non_zero_saying_why() {
    let db = TestDb::new().await;
    for (args, want) in [
        (
            vec!["partitions", "maintain", "--premake", "-1"],
            "premake must be between 0 and 120 months, got -1",
        ),
        (
            vec!["partitions", "maintain", "--retention-months", "0"],
            "retention must be between 1 and 1200 months, got 0",
        ),
        (
            vec!["partitions", "maintain", "--positions-retention-days", "0"],
            "kcg.ais_positions: retention must be between 1 and 36525 days, got 0",
        ),
        (
            vec!["partitions", "maintain", "--positions-premake", "400"],
            "kcg.ais_positions: premake must be between 0 and 366 days, got 400",
        ),
        (
            vec!["partitions", "maintain", "--table", "tables"],
            "invalid value 'tables' for '--table <TABLE>'",
        ),
    ] {
        let o = runner(db.url(), &args);
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    // A refused policy of one table touches neither.
    let list = runner(db.url(), &["partitions", "list", "--table", "outputs"]);
    assert_eq!(
        stdout(&list).lines().count(),
        2,
        "only DEFAULT: {}",
        stdout(&list)
    );
    let list = runner(db.url(), &["partitions", "list", "--table", "positions"]);
    assert_eq!(
        stdout(&list).lines().count(),
        2,
        "only DEFAULT: {}",
        stdout(&list)
    );
}
