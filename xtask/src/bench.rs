//! `cargo xtask bench [FILTER]`: the benchmarks of every crate (their
//! `benches/*.rs`, plain binaries without a harness), run in release mode
//! against a throwaway PostgreSQL (or DATABASE_URL). Each prints
//! `name: value` lines with medians and, beside each figure, the baseline
//! measured in the same run.

use anyhow::Result;

use crate::pg;
use crate::util::{cargo, step};

pub fn run(args: &[&str]) -> Result<()> {
    let target = pg::target()?;
    // partitions' benchmark prints pg_partman's figures beside its own.
    if let Err(e) = crate::partman::ensure_installed() {
        if target.owned {
            pg::Server::stop()?;
        }
        return Err(e);
    }
    let mut cmd = cargo();
    cmd.args([
        "bench",
        "--workspace",
        "--locked",
        "--quiet",
        "--bench",
        "*",
        "--",
    ]);
    cmd.args(args);
    cmd.env("DATABASE_URL", &target.url);
    let result = step("bench", &mut cmd);
    if target.owned {
        pg::Server::stop()?;
    }
    result
}
