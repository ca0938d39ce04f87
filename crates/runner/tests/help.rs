//! `--help` is the operator's manual: a change to it shows up in review as a
//! snapshot diff.

use std::process::Command;

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(args)
        .arg("--help")
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_of_every_command() {
    for args in [
        &[][..],
        &["migrate"],
        &["check-schema"],
        &["ingest"],
        &["cycle"],
        &["replay"],
        &["serve"],
        &["models"],
        &["versions"],
        &["versions", "add"],
        &["versions", "compare"],
        &["versions", "backtest"],
        &["versions", "promote"],
        &["versions", "rollback"],
        &["versions", "history"],
        &["models", "disable"],
        &["partitions", "maintain"],
        &["snapshot", "hourly"],
    ] {
        let name = if args.is_empty() {
            "runner".to_owned()
        } else {
            format!("runner {}", args.join(" "))
        };
        insta::assert_snapshot!(name.replace(' ', "_"), help(args), &name);
    }
}
