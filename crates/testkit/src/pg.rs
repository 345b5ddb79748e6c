//! A private, throw-away PostgreSQL server for fault tests: stop it, restart
//! it, kill it, without disturbing the shared server other tests use.
//!
//! [`PgServer::start`] runs Debian's `initdb` into a fresh directory under
//! [`std::env::temp_dir`] and `pg_ctl start` on a free loopback port (trust
//! authentication, listening on 127.0.0.1 only, its unix socket in its own
//! directory). As root, both run as the `postgres` user (PostgreSQL refuses
//! to run as root). Dropping the value stops the server (immediate mode) and
//! removes the directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::postfix::alloc_port;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// How long `start` and `restart` wait for the server to accept connections.
pub const PG_START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running private PostgreSQL server (see the module documentation).
pub struct PgServer {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PgServer {
    /// Creates the cluster and starts it.
    ///
    /// # Errors
    /// [`Error::Prerequisite`] when PostgreSQL's server binaries are not
    /// installed; command errors with their output otherwise.
    pub fn start() -> Result<PgServer> {
        let bin = server_bin_dir()?;
        let dir = std::env::temp_dir().join(format!(
            "phishgate-pg-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let as_postgres = is_root();
        if as_postgres {
            let out = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .output()
                .map_err(|e| Error::io("running chown", e))?;
            if !out.status.success() {
                return Err(Error::command(
                    format!("chown -R postgres {}", dir.display()),
                    &out,
                ));
            }
        }
        let server = PgServer {
            dir,
            bin,
            port: alloc_port()?,
            as_postgres,
        };
        let data = server.data_dir();
        let data_s = data.display().to_string();
        server.run(
            "initdb",
            &[
                "-D",
                &data_s,
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        server.start_again()?;
        Ok(server)
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server, waiting for it (`fast`: clients are disconnected).
    ///
    /// # Errors
    /// `pg_ctl` failures.
    pub fn stop(&self) -> Result<()> {
        let data = self.data_dir().display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"])
            .map(drop)
    }

    /// Kills the server as a crash would (`immediate`: no shutdown
    /// checkpoint; recovery runs at the next start).
    ///
    /// # Errors
    /// `pg_ctl` failures.
    pub fn kill(&self) -> Result<()> {
        let data = self.data_dir().display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"])
            .map(drop)
    }

    /// Starts the server again after [`stop`](Self::stop) or
    /// [`kill`](Self::kill), on the same port, and waits until it accepts
    /// connections.
    ///
    /// # Errors
    /// `pg_ctl` failures or [`Error::Timeout`].
    pub fn start_again(&self) -> Result<()> {
        let data = self.data_dir().display().to_string();
        let log = self.dir.join("server.log").display().to_string();
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let t = PG_START_TIMEOUT.as_secs().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-o", &opts, "-t", &t, "-w", "start",
            ],
        )?;
        let deadline = Instant::now() + PG_START_TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > deadline {
                return Err(Error::Timeout {
                    what: format!("PostgreSQL on 127.0.0.1:{}", self.port),
                    details: self.log_tail(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// The last lines of the server log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines
            .get(lines.len().saturating_sub(30)..)
            .unwrap_or_default()
            .join("\n")
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<Output> {
        let program = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        cmd.args(args).current_dir(&self.dir);
        let cmdline = format!("{} {}", program.display(), args.join(" "));
        let out = cmd
            .output()
            .map_err(|e| Error::io(format!("running `{cmdline}`"), e))?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(Error::command(cmdline, &out))
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// The newest `/usr/lib/postgresql/<version>/bin` with `initdb` and `pg_ctl`.
fn server_bin_dir() -> Result<PathBuf> {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .map_err(|_| {
            Error::Prerequisite(
                "PostgreSQL server binaries not found under /usr/lib/postgresql (install the \
                 postgresql package; scripts/test does)"
                    .to_owned(),
            )
        })?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").exists() && bin.join("pg_ctl").exists()).then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b).ok_or_else(|| {
        Error::Prerequisite("no PostgreSQL server with initdb under /usr/lib/postgresql".to_owned())
    })
}
