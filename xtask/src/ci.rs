//! `cargo xtask ci`: what CI runs, in the order that fails fastest.

use std::time::Instant;

use anyhow::Result;

use crate::pg;
use crate::util::{cargo, step};

pub fn run() -> Result<()> {
    let start = Instant::now();
    step("fmt", cargo().args(["fmt", "--all", "--check"]))?;
    step(
        "clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;

    let target = pg::target()?;
    let tests = (|| {
        // The partitions crate is tested beside pg_partman; a clean machine lacks it.
        crate::partman::ensure_installed()?;
        // Installed before the tests, so a slow apt-get never splits them
        // from the check that needs their binary.
        let chromium = crate::browser::ensure_installed();
        step(
            "test",
            cargo()
                .args(["test", "--workspace", "--locked"])
                .env("DATABASE_URL", &target.url),
        )?;
        match chromium {
            Some(chromium) => report_in_browser(&chromium, &target.url)?,
            None => eprintln!(
                "\n!!! browser check of the HTML report: SKIPPED (no chromium; see above)."
            ),
        }
        // The downstream deploy of examples/own-models, against the same
        // server: built, tested, and one cycle of its own binary.
        crate::template::run(&target.url)
    })();
    // Stop the server we started whatever happened above.
    if target.owned {
        pg::Server::stop()?;
    }
    tests?;

    deny()?;
    eprintln!(
        "\nxtask ci: all green in {:.0}s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The demo's data replayed with the debug `runner` the tests built, its
/// diagnostic report written as HTML and checked in chromium
/// ([`crate::browser::check`]).
fn report_in_browser(chromium: &std::path::Path, server: &str) -> Result<()> {
    let target = crate::util::target_dir()?;
    let runner = target.join("debug/runner");
    let url = crate::demo::load(&runner, server, "kcg_browser_check")?.url;
    let dir = target.join("browser-check");
    std::fs::create_dir_all(&dir)?;
    let report = dir.join("report.html");
    step(
        "the diagnostic report as HTML",
        &mut crate::demo::runner_cmd(&runner, &url)(&[
            "snapshot",
            "diagnostic",
            "--at",
            crate::demo::SNAPSHOT_AT,
            "--format",
            "html",
            "--output",
            &report.to_string_lossy(),
        ]),
    )?;
    let start = Instant::now();
    crate::browser::check(chromium, &report, &dir)?;
    eprintln!(
        "<== browser check: ok in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `cargo deny check`, installing cargo-deny when it is missing.
fn deny() -> Result<()> {
    let have = cargo()
        .args(["deny", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !have {
        step(
            "install cargo-deny",
            cargo().args(["install", "--locked", "cargo-deny"]),
        )?;
    }
    // The advisory database is a git repository outside crates.io. Where it
    // cannot be fetched (a machine that reaches only package registries),
    // every other check still runs and the gap is said out loud.
    let fetched = fetch_advisories();
    match fetched {
        Ok(()) => step("cargo deny", cargo().args(["deny", "--locked", "check"])),
        Err(why) => {
            eprintln!(
                "\n!!! cargo deny: the RustSec advisory database could not be fetched ({why}).\n\
                 !!! Checking bans, licenses and sources only; advisories are NOT checked in this run."
            );
            step(
                "cargo deny",
                cargo().args(["deny", "--locked", "check", "bans", "licenses", "sources"]),
            )
        }
    }
}

fn fetch_advisories() -> Result<(), String> {
    let out = cargo()
        .args(["deny", "--locked", "fetch", "db"])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("unknown error");
    Err(line.trim().to_owned())
}
