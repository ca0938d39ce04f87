//! A PostgreSQL cluster of a test's own: `initdb` and `pg_ctl` in a
//! temporary directory, on a free loopback port, so the test may stop,
//! restart or crash it (`pg_ctl restart -m fast|immediate`) without
//! disturbing the shared `DATABASE_URL` server other tests run on in
//! parallel. As root it runs as the unprivileged `postgres` user, as
//! `cargo xtask pg` does, since PostgreSQL refuses to run as root.
//!
//! The server binaries are found on PATH or in Debian's
//! `/usr/lib/postgresql/*/bin` (the newest).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio_postgres::{Config, NoTls};

/// The unprivileged user the server runs as when the tests run as root.
const RUN_AS: &str = "postgres";

/// How `pg_ctl` stops the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Disconnects every client, rolls their transactions back, checkpoints.
    Fast,
    /// Quits at once, as a crash would; recovery runs at the next start.
    Immediate,
}

impl StopMode {
    fn as_str(self) -> &'static str {
        match self {
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        }
    }
}

/// A running cluster, stopped and deleted when dropped.
#[derive(Debug)]
pub struct TestServer {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
    password: Option<String>,
    as_root: bool,
}

impl TestServer {
    /// A cluster with trust authentication.
    pub fn start() -> TestServer {
        TestServer::init(None)
    }

    /// A cluster whose TCP connections need `password` (SCRAM), for tests
    /// of authentication errors.
    pub fn start_with_password(password: &str) -> TestServer {
        TestServer::init(Some(password.to_owned()))
    }

    fn init(password: Option<String>) -> TestServer {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let bin = bin_dir();
        let as_root = is_root();
        let root = std::env::temp_dir().join(format!(
            "kcg-test-pg-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", root.display()));
        let mut initdb = Command::new(bin.join("initdb"));
        initdb.arg("-D").arg(root.join("db")).args([
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--auth-local=trust",
        ]);
        match &password {
            None => {
                initdb.arg("--auth-host=trust");
            }
            Some(pw) => {
                let file = root.join("pwfile");
                std::fs::write(&file, pw).expect("write the password file");
                initdb
                    .arg("--auth-host=scram-sha-256")
                    .arg(format!("--pwfile={}", file.display()));
            }
        }
        if as_root {
            let mut chown = Command::new("chown");
            chown.args(["-R", &format!("{RUN_AS}:")]).arg(&root);
            run(chown);
        }
        run(as_user(initdb, as_root));
        let server = TestServer {
            root,
            bin,
            port: free_port(),
            password,
            as_root,
        };
        server.start_again();
        server
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for database `db`, with the password when the cluster has one.
    pub fn url(&self, db: &str) -> String {
        match &self.password {
            Some(pw) => self.url_with_password(db, pw),
            None => format!("postgres://postgres@127.0.0.1:{}/{db}", self.port),
        }
    }

    /// A URL for database `db` with `password` (a wrong one, say).
    pub fn url_with_password(&self, db: &str, password: &str) -> String {
        format!(
            "postgres://postgres:{password}@127.0.0.1:{}/{db}",
            self.port
        )
    }

    /// Creates database `db` with the migrated schema; returns its URL.
    pub async fn migrated(&self, db: &str) -> String {
        let admin = self.client("postgres").await;
        admin
            .batch_execute(&format!("CREATE DATABASE \"{db}\""))
            .await
            .unwrap_or_else(|e| panic!("cannot create database {db}: {e}"));
        let mut client = self.client(db).await;
        schema::migrate(&mut client)
            .await
            .unwrap_or_else(|e| panic!("cannot migrate {db}: {e}"));
        self.url(db)
    }

    /// A connection to database `db`.
    pub async fn client(&self, db: &str) -> tokio_postgres::Client {
        let config: Config = self.url(db).parse().expect("a valid URL");
        let (client, conn) = config
            .connect(NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test cluster: {e}"));
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    }

    /// `pg_ctl restart -m mode`: stops (clients are disconnected) and
    /// starts again on the same port; returns once it accepts connections.
    pub fn restart(&self, mode: StopMode) {
        self.pg_ctl(&["-m", mode.as_str(), "-w", "-t", "60", "restart"]);
    }

    /// `pg_ctl stop -m mode`.
    pub fn stop(&self, mode: StopMode) {
        self.pg_ctl(&["-m", mode.as_str(), "-w", "-t", "60", "stop"]);
    }

    /// `pg_ctl start` (after [`stop`](Self::stop)); returns once it
    /// accepts connections.
    pub fn start_again(&self) {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
             -c max_connections=100 -c shared_buffers=32MB",
            self.port,
            self.root.display()
        );
        self.pg_ctl(&["-o", &opts, "-w", "-t", "60", "start"]);
    }

    fn pg_ctl(&self, args: &[&str]) {
        let mut cmd = Command::new(self.bin.join("pg_ctl"));
        // Always a log file: without one the server would keep pg_ctl's
        // output pipe open, and waiting for pg_ctl would never end.
        cmd.arg("-D")
            .arg(self.root.join("db"))
            .arg("-l")
            .arg(self.root.join("server.log"))
            .args(args);
        let out = as_user(cmd, self.as_root)
            .output()
            .expect("cannot run pg_ctl");
        if !out.status.success() {
            let log = std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default();
            panic!(
                "pg_ctl {args:?} failed ({}):\n{}{}\nserver log:\n{log}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let mut cmd = Command::new(self.bin.join("pg_ctl"));
        cmd.arg("-D")
            .arg(self.root.join("db"))
            .args(["-m", "immediate", "-w", "stop"]);
        let _ = as_user(cmd, self.as_root).output();
        if std::thread::panicking() {
            eprintln!("test cluster kept for inspection: {}", self.root.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// A loopback port nobody listens on (at the moment of asking).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("cannot find a free port")
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
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
    wrapped.current_dir("/");
    wrapped
}

fn run(mut cmd: Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The directory of `initdb` and `pg_ctl`.
fn bin_dir() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("initdb"))
            .find(|p| p.is_file())
    });
    if let Some(initdb) = on_path {
        let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
        if let Some(dir) = real.parent().filter(|d| d.join("pg_ctl").is_file()) {
            return dir.to_path_buf();
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            has_server(&bin).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH or in \
             /usr/lib/postgresql/*/bin; install PostgreSQL 13 or newer"
        )
    })
}

fn has_server(bin: &Path) -> bool {
    bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()
}
