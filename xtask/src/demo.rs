//! `cargo xtask demo`: the main job on the bundled real data.

use std::time::Instant;

use anyhow::Result;

use crate::pg;
use crate::util::{cargo, root, step};

const SAMPLE: &str = "data/ais-2022-01-03-sample.csv.gz";

pub fn run(args: &[&str]) -> Result<()> {
    let keep = args.contains(&"--keep");
    let start = Instant::now();
    step(
        "build runner",
        cargo().args(["build", "--release", "--locked", "-p", "runner"]),
    )?;
    let target = pg::target()?;
    let result = steps(&target.url);
    if target.owned && !keep {
        pg::Server::stop()?;
    } else if target.owned {
        eprintln!(
            "xtask demo: server kept running: export DATABASE_URL={}",
            target.url
        );
    }
    result?;
    eprintln!(
        "\nxtask demo: done in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn steps(url: &str) -> Result<()> {
    let runner = root().join("target/release/runner");
    let r = |args: &[&str]| {
        let mut cmd = std::process::Command::new(&runner);
        cmd.args(args).env("DATABASE_URL", url).current_dir(root());
        cmd
    };
    step("migrate", &mut r(&["migrate"]))?;
    step("check schema", &mut r(&["check-schema"]))?;
    step("ingest", &mut r(&["ingest", "--csv", SAMPLE]))?;
    Ok(())
}
