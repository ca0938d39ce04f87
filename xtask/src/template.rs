//! The template of a downstream deploy (`examples/own-models/`): its own
//! workspace, built, linted and tested against its own `Cargo.lock`, and its
//! binary run for one cycle on the bundled data against a real PostgreSQL,
//! checking that its model's outputs landed. The template is the test that
//! the versioned crates' public API is enough for a crate outside this
//! workspace.
//!
//! It builds into this workspace's target directory, so what the
//! workspace's own build compiled is reused.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::demo::{fresh_named_database, with_dbname};
use crate::util::{cargo, describe, root, step, target_dir};

const DB: &str = "kcg_own_models";
const SAMPLE: &str = "data/ais-2022-01-03-sample.csv.gz";
const CYCLE: &str = "2022-01-03T00:10:00Z";

fn dir() -> PathBuf {
    root().join("examples/own-models")
}

/// fmt, clippy, tests and the binary of the template, then one cycle of
/// that binary with its model registered, on database `kcg_own_models` of
/// `server`.
pub fn run(server: &str) -> Result<()> {
    let target = target_dir()?;
    let in_template = || {
        let mut cmd = cargo();
        cmd.current_dir(dir()).env("CARGO_TARGET_DIR", &target);
        cmd
    };
    step(
        "template: fmt",
        in_template().args(["fmt", "--all", "--check"]),
    )?;
    step(
        "template: clippy",
        in_template().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    step(
        "template: test",
        in_template().args(["test", "--workspace", "--locked"]),
    )?;
    step(
        "template: build own-runner",
        in_template().args(["build", "--locked", "-p", "own-runner"]),
    )?;
    cycle(server, &target.join("debug/own-runner"))
}

/// What an operator of the downstream deploy does, with its binary.
fn cycle(server: &str, binary: &std::path::Path) -> Result<()> {
    fresh_named_database(server, DB)?;
    let url = with_dbname(server, DB);
    let r = |args: &[&str]| {
        let mut cmd = Command::new(binary);
        cmd.args(args)
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "warn")
            .current_dir(root());
        cmd
    };
    step("own-runner: migrate", &mut r(&["migrate"]))?;
    step(
        "own-runner: ingest the real sample",
        &mut r(&["ingest", "--csv", SAMPLE]),
    )?;
    step(
        "own-runner: the reference models",
        &mut r(&["models", "add-reference"]),
    )?;
    step(
        "own-runner: add loitering",
        &mut r(&[
            "models",
            "add",
            "loitering",
            "--description",
            "vessels under way that stay in a small area",
        ]),
    )?;
    step(
        "own-runner: loitering reads track_features",
        &mut r(&[
            "models",
            "depend",
            "loitering",
            "--on",
            "track_features",
            "--as",
            "tracks",
        ]),
    )?;
    step(
        "own-runner: loitering 1.0.0 PRIMARY",
        &mut r(&[
            "versions",
            "add",
            "loitering",
            "1.0.0",
            "--role",
            "PRIMARY",
            "--params",
            "{}",
            "--activate",
        ]),
    )?;
    step("own-runner: the plan", &mut r(&["models", "plan"]))?;
    step(
        "own-runner: one cycle, registry on",
        r(&["cycle", "--at", CYCLE]).env("PREDICTION_USE_MODEL_REGISTRY", "on"),
    )?;
    let landed = query(
        &url,
        "SELECT (SELECT count(*) FROM kcg.detection_model_run_outputs \
                  WHERE model_id = 'loitering' AND role = 'PRIMARY') \
             || ' ' || \
                (SELECT count(*) FROM kcg.detection_model_runs \
                  WHERE model_id = 'loitering' AND status = 'OK')",
    )?;
    let (outputs, runs) = landed
        .split_once(' ')
        .and_then(|(o, r)| Some((o.parse::<u64>().ok()?, r.parse::<u64>().ok()?)))
        .with_context(|| format!("unexpected answer {landed:?}"))?;
    if outputs == 0 || runs != 1 {
        bail!(
            "own-runner's cycle at {CYCLE}: loitering stored {outputs} outputs in {runs} OK runs; \
             expected some outputs in exactly one"
        );
    }
    eprintln!(
        "xtask: own-runner's loitering stored {outputs} outputs in kcg.detection_model_run_outputs"
    );
    Ok(())
}

/// One value of `sql` on `url`, with the server's own `psql`.
fn query(url: &str, sql: &str) -> Result<String> {
    let psql = crate::pg::client_bin_dir().map_or_else(|| "psql".into(), |b| b.join("psql"));
    let mut cmd = Command::new(psql);
    cmd.args([
        "--no-psqlrc",
        "--tuples-only",
        "--no-align",
        "--dbname",
        url,
        "--command",
        sql,
    ]);
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {}", describe(&cmd)))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            describe(&cmd),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
