//! pg_partman, the reference the `partitions` crate is compared with (its
//! comparison test and benchmark). A clean CI machine has the PostgreSQL
//! server but not the extension: as root on Debian/Ubuntu we install
//! `postgresql-<major>-partman`; anywhere else we say loudly what is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::pg;
use crate::util::{describe, is_root, on_path};

/// Whether pg_partman can be created on the throwaway server's PostgreSQL,
/// installing it first when it is missing and we run as root with apt-get.
/// Never fails the caller for a missing package: it says why and returns false.
pub fn ensure_installed() -> Result<bool> {
    let bin = match pg::bin_dir() {
        Ok(bin) => bin,
        Err(e) => {
            eprintln!(
                "\n!!! pg_partman: cannot tell the PostgreSQL version ({e:#}); not installing it."
            );
            return Ok(false);
        }
    };
    let Some(major) = server_major(&bin) else {
        eprintln!(
            "\n!!! pg_partman: cannot read the version of {}; not installing it.",
            bin.join("postgres").display()
        );
        return Ok(false);
    };
    if present(&bin, major) {
        return Ok(true);
    }
    let package = format!("postgresql-{major}-partman");
    if !is_root() || on_path("apt-get").is_none() {
        eprintln!(
            "\n!!! pg_partman is not installed for PostgreSQL {major}: the partitions crate's comparison \
             test will fail and its benchmark will print no pg_partman figures. Install it \
             (Debian/Ubuntu: `sudo apt-get install -y {package}`), or set KCG_SKIP_PARTMAN=1 to skip \
             the comparison knowingly."
        );
        return Ok(false);
    }
    for args in [
        vec!["update"],
        vec!["install", "-y", "--no-install-recommends", &package],
    ] {
        let mut cmd = Command::new("apt-get");
        cmd.args(&args).env("DEBIAN_FRONTEND", "noninteractive");
        eprintln!("\n==> pg_partman: {}", describe(&cmd));
        let ok = cmd.status().map(|s| s.success()).unwrap_or(false);
        if !ok {
            eprintln!(
                "\n!!! pg_partman: `{}` failed; the partitions comparison test will fail.",
                describe(&cmd)
            );
            return Ok(false);
        }
    }
    let found = present(&bin, major);
    if !found {
        eprintln!(
            "\n!!! pg_partman: {package} installed, but no pg_partman.control was found for PostgreSQL {major}."
        );
    }
    Ok(found)
}

/// `postgres --version` prints e.g. `postgres (PostgreSQL) 15.18 (Debian ...)`.
fn server_major(bin: &Path) -> Option<u32> {
    let out = Command::new(bin.join("postgres"))
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split(')').nth(1)?.split_whitespace().next()?;
    version.split('.').next()?.parse().ok()
}

/// The extension's control file, where Debian's packages put it or where a
/// source install beside the server binaries would.
fn present(bin: &Path, major: u32) -> bool {
    let candidates = [
        PathBuf::from(format!(
            "/usr/share/postgresql/{major}/extension/pg_partman.control"
        )),
        bin.join("../share/extension/pg_partman.control"),
        bin.join("../share/postgresql/extension/pg_partman.control"),
    ];
    candidates.iter().any(|p| p.is_file())
}
