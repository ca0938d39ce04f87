//! Running commands loudly.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Cargo's target directory, as cargo itself resolves it (`CARGO_TARGET_DIR`,
/// `build.target-dir` in a config file, or `target/` under the workspace), so
/// xtask finds the binaries cargo built wherever they went.
pub fn target_dir() -> Result<PathBuf> {
    let out = cargo()
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .output()
        .context("cannot run cargo metadata to find the target directory")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("cargo metadata printed no JSON")?;
    let dir = meta["target_directory"]
        .as_str()
        .context("cargo metadata printed no target_directory")?;
    Ok(PathBuf::from(dir))
}

/// The `cargo` that runs us.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Runs `cmd`, echoing it first; a non-zero exit is an error naming it.
pub fn step(step: &str, cmd: &mut Command) -> Result<()> {
    eprintln!("\n==> {step}: {}", describe(cmd));
    let start = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {}", describe(cmd)))?;
    eprintln!(
        "<== {step}: {status} in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    if !status.success() {
        bail!("{step} failed ({status})");
    }
    Ok(())
}

/// Like [`step`], and returns what `cmd` printed on stdout (echoed too).
pub fn step_output(step: &str, cmd: &mut Command) -> Result<String> {
    eprintln!("\n==> {step}: {}", describe(cmd));
    let start = Instant::now();
    let out = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot start {}", describe(cmd)))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    print!("{stdout}");
    eprintln!(
        "<== {step}: {} in {:.1}s",
        out.status,
        start.elapsed().as_secs_f64()
    );
    if !out.status.success() {
        bail!("{step} failed ({})", out.status);
    }
    Ok(stdout)
}

/// `program arg arg ...` for messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Whether a program can be found on PATH.
pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// True when running as root (uid 0).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
