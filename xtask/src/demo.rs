//! `cargo xtask demo`: the main job on the bundled real data, end to end.
//!
//! In a fresh database `kcg_demo` on the throwaway server (or on the server
//! `DATABASE_URL` names; nothing else there is touched): migrate, check the
//! schema, ingest the real AIS sample, register the reference models plus
//! the SHADOW and the CHALLENGER of `data/demo-candidates.json`, plan,
//! replay 00:05 to 00:25 every 5 minutes with the model registry on, print
//! the hourly snapshot of the last cycle and the CHALLENGER's comparison
//! with its PRIMARY (`runner versions compare`: the figures a promotion
//! would be decided on), and end by writing the snapshot, as text and as
//! the HTML report, under the target directory and printing their paths.
//! `cargo xtask ci` loads the same data ([`load`]) for its browser check.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::pg;
use crate::util::{cargo, describe, root, step, step_output};

const SAMPLE: &str = "data/ais-2022-01-03-sample.csv.gz";
const DEMO_DB: &str = "kcg_demo";

/// The demo's SHADOW and CHALLENGER (the tests replaying the demo read it
/// too).
const CANDIDATES: &str = "data/demo-candidates.json";

pub fn run(args: &[&str]) -> Result<()> {
    let keep = args.contains(&"--keep");
    if let Some(other) = args.iter().find(|a| **a != "--keep") {
        bail!("unknown demo option {other}; the only one is --keep");
    }
    let start = Instant::now();
    step(
        "build runner",
        cargo().args(["build", "--release", "--locked", "-p", "runner"]),
    )?;
    let target = pg::target()?;
    let result = demo(&target.url);
    if target.owned && !keep {
        pg::Server::stop()?;
    } else if target.owned {
        eprintln!(
            "xtask demo: server kept running: export DATABASE_URL={}",
            with_dbname(&target.url, DEMO_DB)
        );
    }
    let elapsed = result?;
    eprintln!(
        "\nxtask demo: done in {:.1}s ({:.1}s after the build)",
        start.elapsed().as_secs_f64(),
        elapsed
    );
    Ok(())
}

/// The end of the hour that holds every cycle of the replay, the last
/// included: the `--at` of the demo's snapshots.
pub const SNAPSHOT_AT: &str = "2022-01-03T00:25:01Z";

fn demo(server: &str) -> Result<f64> {
    let start = Instant::now();
    let runner = crate::util::target_dir()?.join("release/runner");
    let Loaded { url, challenger } = load(&runner, server, DEMO_DB)?;
    let r = runner_cmd(&runner, &url);
    let out_dir = crate::util::target_dir()?.join("demo");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let text_file = out_dir.join("snapshot-hourly.txt");
    let html_file = out_dir.join("snapshot-hourly.html");
    let text = step_output(
        "hourly snapshot of the last cycle",
        &mut r(&["snapshot", "hourly", "--at", SNAPSHOT_AT]),
    )?;
    std::fs::write(&text_file, text)
        .with_context(|| format!("cannot write {}", text_file.display()))?;
    step(
        "the CHALLENGER against its PRIMARY: the promotion decision",
        &mut r(&["versions", "compare", &challenger.to_string()]),
    )?;
    step(
        "the same snapshot as an HTML report",
        &mut r(&[
            "snapshot",
            "hourly",
            "--at",
            SNAPSHOT_AT,
            "--format",
            "html",
            "--output",
            &html_file.to_string_lossy(),
        ]),
    )?;
    println!("\nsnapshot (text): {}", text_file.display());
    println!(
        "snapshot (HTML report, open it in a browser): {}",
        html_file.display()
    );
    Ok(start.elapsed().as_secs_f64())
}

/// What [`load`] made.
pub struct Loaded {
    /// The database's URL.
    pub url: String,
    /// The CHALLENGER's version id.
    pub challenger: i64,
}

/// A command of `runner` on the database `url`.
pub fn runner_cmd<'a>(runner: &'a Path, url: &'a str) -> impl Fn(&[&str]) -> Command + 'a {
    move |args: &[&str]| {
        let mut cmd = Command::new(runner);
        cmd.args(args)
            .env("DATABASE_URL", url)
            .env("RUST_LOG", "warn")
            .current_dir(root());
        cmd
    }
}

/// The demo's data in a fresh database `db` on `server`, through the
/// `runner` binary: migrate, ingest, the reference models with a SHADOW
/// and a CHALLENGER, the plan, the replay with the registry on.
pub fn load(runner: &Path, server: &str, db: &str) -> Result<Loaded> {
    fresh_named_database(server, db)?;
    let url = with_dbname(server, db);
    let r = runner_cmd(runner, &url);
    step("migrate", &mut r(&["migrate"]))?;
    step("check schema", &mut r(&["check-schema"]))?;
    step(
        "ingest the real AIS sample",
        &mut r(&["ingest", "--csv", SAMPLE]),
    )?;
    step(
        "register the reference models",
        &mut r(&["models", "add-reference"]),
    )?;
    let path = root().join(CANDIDATES);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let candidates: Vec<serde_json::Value> =
        serde_json::from_str(&text).with_context(|| format!("{CANDIDATES} is not a JSON list"))?;
    let mut challenger = None;
    for c in &candidates {
        let field = |key: &str| {
            c[key]
                .as_str()
                .with_context(|| format!("{CANDIDATES}: an entry without a string {key:?}"))
        };
        let (model, version, role) = (field("model")?, field("version")?, field("role")?);
        let params = c["params"].to_string();
        let out = step_output(
            &format!("add a {role} of {model}"),
            &mut r(&[
                "versions",
                "add",
                model,
                version,
                "--role",
                role,
                "--params",
                &params,
                "--activate",
                "--note",
                "the demo's candidate",
            ]),
        )?;
        if role == "CHALLENGER" {
            challenger = Some(id_in(&out).with_context(|| format!("no version id in {out:?}"))?);
        }
    }
    let challenger = challenger.with_context(|| format!("{CANDIDATES} has no CHALLENGER"))?;
    step("the plan", &mut r(&["models", "plan"]))?;
    step(
        "replay 00:05 to 00:25 every 5 minutes, registry on",
        r(&[
            "replay",
            "--from",
            "2022-01-03T00:05:00Z",
            "--to",
            "2022-01-03T00:25:00Z",
            "--every",
            "5m",
        ])
        .env("PREDICTION_USE_MODEL_REGISTRY", "on"),
    )?;
    drop(r);
    Ok(Loaded { url, challenger })
}

/// The id in the last `(id N)` of a command's output.
fn id_in(out: &str) -> Option<i64> {
    let start = out.rfind("(id ")? + 4;
    let end = start + out[start..].find(')')?;
    out[start..end].parse().ok()
}

/// Drops and creates database `name` on `server` with the server's own
/// client programs (installed beside initdb).
pub fn fresh_named_database(server: &str, name: &str) -> Result<()> {
    let bin = pg::client_bin_dir();
    let tool = |name: &str| bin.as_ref().map_or_else(|| name.into(), |b| b.join(name));
    let mut drop = Command::new(tool("dropdb"));
    drop.args(["--if-exists", "--force", "--maintenance-db", server, name]);
    let mut create = Command::new(tool("createdb"));
    create.args(["--maintenance-db", server, name]);
    for cmd in [&mut drop, &mut create] {
        let out = cmd.output().with_context(|| {
            format!(
                "cannot run {} (PostgreSQL's client programs: install postgresql-client)",
                describe(cmd)
            )
        })?;
        if !out.status.success() {
            bail!(
                "{} failed: {}",
                describe(cmd),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    eprintln!("xtask: fresh database {name}");
    Ok(())
}

/// `server` with its database replaced by `db`.
pub fn with_dbname(server: &str, db: &str) -> String {
    if !server.contains("://") {
        return format!("{server} dbname={db}");
    }
    let (base, query) = server.split_once('?').map_or((server, ""), |(b, q)| (b, q));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{}/{db}{query}", &base[..authority_end])
}
