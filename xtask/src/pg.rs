//! A throwaway PostgreSQL server under `target/pg`, for tests, demos and
//! benchmarks: initdb and pg_ctl from PATH or Debian's
//! `/usr/lib/postgresql/*/bin`, on a free loopback port, trust auth, fsync
//! off (nothing in it is meant to survive). As root it runs as the
//! unprivileged `postgres` user, since PostgreSQL refuses to run as root.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{describe, is_root, on_path};

const RUN_AS: &str = "postgres";

pub struct Server {
    port: u16,
}

impl Server {
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server, or reuses the one already running.
    pub fn start() -> Result<Server> {
        if let Ok(server) = Server::running() {
            eprintln!("xtask pg: reusing the server on port {}", server.port);
            return Ok(server);
        }
        let bin = bin_dir()?;
        let home = state_dir()?;
        let data = data_dir()?;
        let as_root = is_root();
        if data.exists() {
            // A leftover from a server that is not running: start afresh.
            fs::remove_dir_all(&data)
                .with_context(|| format!("cannot remove {}", data.display()))?;
        }
        fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
        if as_root {
            chown(&data)?;
        }
        let port = free_port()?;
        let log = data.join("server.log");
        eprintln!("xtask pg: initdb in {}", data.display());
        let mut initdb = Command::new(bin.join("initdb"));
        initdb.args(["-D"]).arg(data.join("db")).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        quiet(as_user(initdb, as_root))?;
        let opts = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
             -c max_connections=300 -c shared_buffers=256MB",
            data.display()
        );
        let mut start = Command::new(bin.join("pg_ctl"));
        start
            .arg("-D")
            .arg(data.join("db"))
            .arg("-l")
            .arg(&log)
            .args(["-o", &opts, "-w", "-t", "60", "start"]);
        if let Err(e) = quiet(as_user(start, as_root)) {
            let tail = fs::read_to_string(&log).unwrap_or_default();
            bail!("{e}\nserver log ({}):\n{tail}", log.display());
        }
        fs::write(home.join("port"), port.to_string())?;
        eprintln!("xtask pg: started on 127.0.0.1:{port}");
        Ok(Server { port })
    }

    /// The server started earlier, if it still runs.
    pub fn running() -> Result<Server> {
        let home = state_dir()?;
        let port: u16 = fs::read_to_string(home.join("port"))
            .context("no throwaway server has been started (cargo xtask pg start)")?
            .trim()
            .parse()
            .context("corrupt target/pg/port")?;
        let data = data_dir()?;
        let bin = bin_dir()?;
        let mut status = Command::new(bin.join("pg_ctl"));
        status.arg("-D").arg(data.join("db")).arg("status");
        let ok = as_user(status, is_root())
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !ok {
            bail!("the throwaway server (port {port}) is not running");
        }
        Ok(Server { port })
    }

    /// Stops the server and removes its data.
    pub fn stop() -> Result<()> {
        let data = data_dir()?;
        if data.join("db").exists() {
            let bin = bin_dir()?;
            let mut stop = Command::new(bin.join("pg_ctl"));
            stop.arg("-D")
                .arg(data.join("db"))
                .args(["-m", "immediate", "-w", "stop"]);
            // Not running is fine: we are removing it anyway.
            let _ = as_user(stop, is_root()).output();
        }
        if data.exists() {
            fs::remove_dir_all(&data)
                .with_context(|| format!("cannot remove {}", data.display()))?;
        }
        let home = state_dir()?;
        let _ = fs::remove_file(home.join("port"));
        let _ = fs::remove_file(home.join("location"));
        eprintln!("xtask pg: stopped and removed");
        Ok(())
    }
}

pub fn status() -> Result<()> {
    match Server::running() {
        Ok(s) => {
            println!("running: {} (data in {})", s.url(), data_dir()?.display());
            Ok(())
        }
        Err(e) => {
            println!("not running: {e}");
            Ok(())
        }
    }
}

/// `target/pg`: where the port and the data location are recorded.
fn state_dir() -> Result<PathBuf> {
    let dir = crate::util::target_dir()?.join("pg");
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// The data directory: `target/pg/data`, unless we run as root and the
/// `postgres` user cannot reach it (a checkout under /root, say); then a
/// directory under the system temp dir, recorded in `target/pg/location`.
fn data_dir() -> Result<PathBuf> {
    let home = state_dir()?;
    if let Ok(loc) = fs::read_to_string(home.join("location")) {
        return Ok(PathBuf::from(loc.trim()));
    }
    let mut dir = home.join("data");
    if is_root() && !reachable_by_postgres(&home) {
        let tag: u32 = home
            .to_string_lossy()
            .bytes()
            .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        dir = std::env::temp_dir().join(format!("kcg-xtask-pg-{tag:08x}"));
        eprintln!(
            "xtask pg: user {RUN_AS} cannot reach {}; keeping the data in {}",
            home.display(),
            dir.display()
        );
    }
    fs::write(home.join("location"), dir.to_string_lossy().as_bytes())?;
    Ok(dir)
}

fn reachable_by_postgres(dir: &Path) -> bool {
    Command::new("runuser")
        .args(["-u", RUN_AS, "--", "test", "-x"])
        .arg(dir)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn chown(dir: &Path) -> Result<()> {
    let status = Command::new("chown")
        .args(["-R", &format!("{RUN_AS}:")])
        .arg(dir)
        .status()
        .context("cannot run chown")?;
    if !status.success() {
        bail!(
            "cannot hand {} to user {RUN_AS}; PostgreSQL refuses to run as root and needs that \
             user (create it with `useradd --system postgres`)",
            dir.display()
        );
    }
    Ok(())
}

fn as_user(cmd: Command, as_root: bool) -> Command {
    if !as_root {
        return cmd;
    }
    let mut wrapped = Command::new("runuser");
    wrapped
        .args(["-u", RUN_AS, "--"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    // runuser resets the cwd to nothing useful; the paths we pass are absolute.
    wrapped.current_dir("/");
    wrapped
}

fn quiet(mut cmd: Command) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {}", describe(&cmd)))?;
    if !out.status.success() {
        bail!(
            "{} failed ({}):\n{}{}",
            describe(&cmd),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The directory holding initdb and pg_ctl.
pub fn bin_dir() -> Result<PathBuf> {
    if let (Some(initdb), Some(_)) = (on_path("initdb"), on_path("pg_ctl")) {
        // Resolve symlinks so we use the matching pg_ctl of the same install.
        let real = fs::canonicalize(&initdb).unwrap_or(initdb);
        if let Some(dir) = real.parent()
            && dir.join("pg_ctl").is_file()
        {
            return Ok(dir.to_path_buf());
        }
    }
    let mut found: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((v, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH or in \
             /usr/lib/postgresql/*/bin. Install PostgreSQL 13 or newer, e.g. \
             `apt-get install postgresql` on Debian/Ubuntu, `dnf install postgresql-server` on \
             Fedora, `brew install postgresql` on macOS; or set DATABASE_URL to a server you have."
        ),
    }
}

/// Where PostgreSQL's client programs (createdb, dropdb) live: beside the
/// server binaries when we find those, else on PATH (`None`).
pub fn client_bin_dir() -> Option<PathBuf> {
    bin_dir().ok().filter(|b| b.join("createdb").is_file())
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(l.local_addr()?.port())
}

/// A server for a command that needs one: the caller's `DATABASE_URL`, or
/// the throwaway one (started if needed; `owned` says whether we started it
/// and so should stop it).
pub struct Target {
    pub url: String,
    pub owned: bool,
}

pub fn target() -> Result<Target> {
    if let Ok(url) = std::env::var("DATABASE_URL")
        && !url.is_empty()
    {
        eprintln!("xtask: using DATABASE_URL from the environment");
        return Ok(Target { url, owned: false });
    }
    let reused = Server::running().is_ok();
    let server = Server::start()?;
    Ok(Target {
        url: server.url(),
        owned: !reused,
    })
}
