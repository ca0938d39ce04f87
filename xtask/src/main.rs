//! Project automation: `cargo xtask ci | demo | eval | pg | bench`.
//!
//! Everything CI, a demo or a benchmark needs is started from here, so a
//! fresh machine with the Rust toolchain and PostgreSQL's server binaries
//! needs nothing else. No shell scripts, no Makefile.

mod bench;
mod browser;
mod ci;
mod demo;
mod eval;
mod partman;
mod pg;
mod template;
mod util;

use anyhow::{Result, bail};

const HELP: &str = "\
cargo xtask <command>

Commands:
  ci                 fmt --check, clippy -D warnings, every test against a real
                     PostgreSQL, the HTML report of a real replay rendered in
                     headless chromium (screenshot not blank, no console
                     message), the template of examples/own-models (its fmt,
                     clippy, tests, and one cycle of its binary), cargo deny
                     check. Starts (and stops) a throwaway server unless
                     DATABASE_URL is set.
  template           the template of examples/own-models alone: fmt, clippy,
                     tests, and one cycle of its binary on the bundled data
                     (a throwaway server unless DATABASE_URL is set)
  demo [--keep]      migrate, ingest the bundled AIS sample, replay cycles with
                     the model registry on, print the hourly snapshot and
                     write it as text and HTML under target/demo/. Uses a
                     throwaway server (stopped at the end unless --keep) or
                     DATABASE_URL.
  eval [--seed N] [--sweep]
                     the detectors measured: known anomalies injected into the
                     real sample (seeded), cycles replayed end to end through
                     PostgreSQL, recall per kind and false-alarm rate printed
                     as `name: value` lines; --sweep prints the in-memory
                     figures of neighbouring params instead.
  bench [FILTER]     benchmarks, one `name: value` line per figure (medians),
                     each beside a baseline measured in the same run.
  browser FILE       the browser check ci runs, on an HTML file of your own
  pg start           start the throwaway server under target/ (reuses a
                     running one) and print its URL
  pg stop            stop it and remove its data directory
  pg status          say whether it runs, and where
  pg url             print its URL (for `export DATABASE_URL=...`)
";

fn main() -> std::process::ExitCode {
    match dispatch() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn dispatch() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["ci"] => ci::run(),
        ["template"] => {
            let target = pg::target()?;
            let result = template::run(&target.url);
            if target.owned {
                pg::Server::stop()?;
            }
            result
        }
        ["demo", rest @ ..] => demo::run(rest),
        ["eval", rest @ ..] => eval::run(rest),
        ["bench", rest @ ..] => bench::run(rest),
        ["pg", "start"] => {
            let server = pg::Server::start()?;
            println!("{}", server.url());
            Ok(())
        }
        ["browser", file] => {
            let chromium = browser::ensure_installed()
                .ok_or_else(|| anyhow::anyhow!("no chromium to check {file} with"))?;
            let dir = util::target_dir()?.join("browser-check");
            browser::check(&chromium, std::path::Path::new(file), &dir)
        }
        ["pg", "stop"] => pg::Server::stop(),
        ["pg", "status"] => pg::status(),
        ["pg", "url"] => {
            println!("{}", pg::Server::running()?.url());
            Ok(())
        }
        [] | ["help" | "--help" | "-h"] => {
            print!("{HELP}");
            Ok(())
        }
        other => {
            eprint!("{HELP}");
            bail!("unknown xtask command: {}", other.join(" "))
        }
    }
}
