//! `cargo xtask eval`: the reference detectors measured on labelled data.
//!
//! Injects known anomalies into the bundled real sample (seeded: the same
//! seed gives the same labelled set), ingests it into a fresh database of
//! the throwaway server (or of DATABASE_URL), replays the cycles
//! 00:05-00:35 through the pipeline, reads what analysts read
//! (`vessel_analysis`, `gear_identity_collisions`, `prediction_events`) and
//! prints recall per kind, the false-alarm rate on the untouched vessels and
//! the identity classes as `name: value` lines. The work is the ignored test
//! `end_to_end` of `crates/eval` (and `sweep` with `--sweep`); this command
//! provides the server and runs it.

use anyhow::{Result, bail};

use crate::pg;
use crate::util::{cargo, step};

pub fn run(args: &[&str]) -> Result<()> {
    let mut test = "end_to_end";
    let mut seed: Option<&str> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match *a {
            "--sweep" => test = "sweep",
            "--seed" => match it.next() {
                Some(s) if s.parse::<u64>().is_ok() => seed = Some(s),
                other => bail!("--seed needs a whole number, got {other:?}"),
            },
            other => bail!("unknown eval option {other}; the options are --seed N and --sweep"),
        }
    }
    let target = pg::target()?;
    let mut cmd = cargo();
    cmd.args([
        "test",
        "--locked",
        "-p",
        "eval",
        "--test",
        "end_to_end",
        "--",
        "--ignored",
        "--nocapture",
        "--exact",
        test,
    ])
    .env("DATABASE_URL", &target.url);
    if let Some(s) = seed {
        cmd.env("EVAL_SEED", s);
    }
    let result = step(&format!("eval ({test})"), &mut cmd);
    if target.owned {
        pg::Server::stop()?;
    }
    result
}
