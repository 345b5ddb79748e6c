//! A throw-away clamd (Debian's `clamav-daemon`) on loopback, with a
//! signature database written locally: signature downloads are impossible
//! offline, and tests must not depend on what the day's `daily.cvd` says.
//!
//! Each instance has its own directory under [`std::env::temp_dir`]
//! (`phishgate-clamd-<pid>-<n>`: configuration, database, socket, log), an
//! ephemeral TCP port on 127.0.0.1 and a unix socket, and runs in the
//! foreground as a child of the test; dropping the [`Clamd`] kills it and
//! removes the directory (set `PHISHGATE_KEEP_CLAMD=1` to keep it). An
//! instance whose test process died without dropping it is stopped and
//! removed by the next start in any process.
//!
//! The database ([`SIGNATURES`]) holds body signatures (`.ndb`):
//! [`EICAR_SIGNATURE`] for the EICAR test file (build it with [`eicar`];
//! the string is never stored whole in the source tree, so antivirus on a
//! developer's machine does not quarantine this file) and
//! [`CONG_VAN_SIGNATURE`] for the stand-in program attached to the corpus
//! fixture `phish/vi/28-cong-van-khan-pdf-exe.eml`. The daemon runs with
//! `ScanArchive yes` (archive members are scanned) and `AlertEncrypted yes`
//! (encrypted archives are reported as `Heuristics.Encrypted.*`).
//!
//! Without root or without `/usr/sbin/clamd`, [`ClamdBuilder::start`]
//! returns [`Error::Prerequisite`], so tests fail with that message instead
//! of being skipped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::postfix::alloc_port;

/// The daemon.
pub const CLAMD: &str = "/usr/sbin/clamd";
/// Set to `1` to keep each instance's directory after the test.
pub const KEEP_CLAMD_ENV: &str = "PHISHGATE_KEEP_CLAMD";
/// How long [`ClamdBuilder::start`] waits for `PONG`.
pub const CLAMD_START_TIMEOUT: Duration = Duration::from_secs(60);
/// Name of the signature matching the EICAR test file.
pub const EICAR_SIGNATURE: &str = "Phishgate.Test.EICAR";
/// Name of the signature matching the corpus fixture's stand-in program.
pub const CONG_VAN_SIGNATURE: &str = "Phishgate.Test.CongVanKhan";
/// What clamd reports for [`EICAR_SIGNATURE`]: clamd appends `.UNOFFICIAL`
/// to signatures from unsigned databases like ours.
pub const EICAR_FOUND: &str = "Phishgate.Test.EICAR.UNOFFICIAL";
/// What clamd reports for [`CONG_VAN_SIGNATURE`].
pub const CONG_VAN_FOUND: &str = "Phishgate.Test.CongVanKhan.UNOFFICIAL";
/// The corpus fixture [`CONG_VAN_SIGNATURE`] detects (relative to the
/// repository root), and its attachment.
pub const CONG_VAN_FIXTURE: (&str, &str) = (
    "corpus/phish/vi/28-cong-van-khan-pdf-exe.eml",
    "Cong_van_khan.pdf.exe",
);

/// The signature database written for every instance (`phishgate.ndb`):
/// `name:target:offset:hex`, target 0 = any file, offset `*` = anywhere.
pub const SIGNATURES: &[(&str, &str)] = &[
    // Part of the EICAR string ("EICAR-STANDARD-ANTIVIRUS-TEST-FILE!").
    (EICAR_SIGNATURE, "45494341522d5354414e444152442d414e544956495255532d544553542d46494c4521"),
    // "phishgate Cong_van_khan.pdf.exe - not executable", the text inside
    // the fixture's fake program.
    (
        CONG_VAN_SIGNATURE,
        "70686973686761746520436f6e675f76616e5f6b68616e2e7064662e657865202d206e6f742065786563757461626c65",
    ),
];

/// The 68-byte EICAR anti-virus test file, assembled from two halves so
/// the whole string never sits in a file of this repository.
pub fn eicar() -> Vec<u8> {
    let a = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$";
    let b = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
    format!("{a}{b}").into_bytes()
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Configures a throw-away clamd; [`ClamdBuilder::start`] runs it.
#[derive(Debug, Clone)]
pub struct ClamdBuilder {
    stream_max_length: String,
    extra_config: Vec<String>,
}

impl Default for ClamdBuilder {
    fn default() -> Self {
        ClamdBuilder::new()
    }
}

impl ClamdBuilder {
    /// Defaults: `StreamMaxLength 2M`.
    pub fn new() -> Self {
        ClamdBuilder {
            stream_max_length: "2M".to_string(),
            extra_config: Vec::new(),
        }
    }

    /// clamd's `StreamMaxLength` (`"1M"`, `"500K"`): larger `INSTREAM`s
    /// are refused with `INSTREAM size limit exceeded`.
    pub fn stream_max_length(mut self, v: &str) -> Self {
        self.stream_max_length = v.to_string();
        self
    }

    /// Adds a line to `clamd.conf`.
    pub fn config_line(mut self, line: &str) -> Self {
        self.extra_config.push(line.to_string());
        self
    }

    /// Writes the directory and starts clamd; returns once it answers `PING`
    /// on TCP.
    pub fn start(self) -> Result<Clamd> {
        if !Path::new(CLAMD).exists() {
            return Err(Error::Prerequisite(format!(
                "{CLAMD} not found: install the Debian package clamav-daemon (scripts/test does)"
            )));
        }
        reap_stale();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("phishgate-clamd-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let db = dir.join("db");
        let tmp = dir.join("tmp");
        for d in [&dir, &db, &tmp] {
            std::fs::create_dir_all(d)
                .map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
        }
        let sigs: String = SIGNATURES
            .iter()
            .map(|(name, hex)| format!("{name}:0:*:{hex}\n"))
            .collect();
        write(&db.join("phishgate.ndb"), &sigs)?;
        let socket = dir.join("clamd.sock");
        let mut last_err = None;
        // A port handed out by alloc_port may be taken by another process
        // before clamd binds it: retry with a fresh one.
        for _ in 0..3 {
            let port = alloc_port()?;
            let mut conf = format!(
                "Foreground yes\nDatabaseDirectory {db}\nLocalSocket {sock}\nFixStaleSocket yes\n\
TCPSocket {port}\nTCPAddr 127.0.0.1\nPidFile {dir}/clamd.pid\nLogFile {dir}/clamd.log\nLogTime yes\n\
TemporaryDirectory {tmp}\nScanArchive yes\nAlertEncrypted yes\nStreamMaxLength {sml}\n\
MaxThreads 4\nIdleTimeout 30\nReadTimeout 10\nCommandReadTimeout 10\nBytecode no\nSelfCheck 3600\n",
                db = db.display(),
                sock = socket.display(),
                dir = dir.display(),
                tmp = tmp.display(),
                sml = self.stream_max_length,
            );
            for l in &self.extra_config {
                conf.push_str(l);
                conf.push('\n');
            }
            let conf_path = dir.join("clamd.conf");
            write(&conf_path, &conf)?;
            let child = Command::new(CLAMD)
                .arg("--foreground")
                .arg(format!("--config-file={}", conf_path.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| Error::io(format!("starting {CLAMD}"), e))?;
            let mut c = Clamd {
                dir: dir.clone(),
                child: Some(child),
                port,
                socket: socket.clone(),
            };
            match c.wait_ready() {
                Ok(()) => return Ok(c),
                Err(e) => {
                    c.stop();
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| Error::Config("clamd did not start".into())))
    }
}

/// A running throw-away clamd. Killed and removed on drop.
#[derive(Debug)]
pub struct Clamd {
    dir: PathBuf,
    child: Option<Child>,
    port: u16,
    socket: PathBuf,
}

impl Clamd {
    /// Starts one with the defaults.
    pub fn start() -> Result<Clamd> {
        ClamdBuilder::new().start()
    }

    /// `127.0.0.1:PORT`.
    pub fn tcp_address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The unix socket.
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// The instance directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// clamd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("clamd.log")).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills clamd now (for "clamd is down" tests); the directory stays
    /// until drop.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn wait_ready(&mut self) -> Result<()> {
        let start = Instant::now();
        while start.elapsed() < CLAMD_START_TIMEOUT {
            if !self.is_running() {
                return Err(Error::Timeout {
                    what: "clamd exited during start-up".into(),
                    details: self.log(),
                });
            }
            if ping(&self.tcp_address()).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(Error::Timeout {
            what: format!("clamd answering PING on {}", self.tcp_address()),
            details: self.log(),
        })
    }
}

impl Drop for Clamd {
    fn drop(&mut self) {
        self.stop();
        if std::env::var(KEEP_CLAMD_ENV).as_deref() == Ok("1") {
            eprintln!("kept clamd directory {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `zPING` -> `PONG` on a fresh connection (bounded by 2 s).
pub fn ping(addr: &str) -> Result<()> {
    let io = |e| Error::io(format!("PING clamd at {addr}"), e);
    let sock = addr
        .parse()
        .map_err(|_| Error::Config(format!("bad address {addr}")))?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_secs(2)).map_err(io)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(io)?;
    s.write_all(b"zPING\0").map_err(io)?;
    let mut buf = [0u8; 16];
    let mut got = Vec::new();
    while !got.contains(&0) && got.len() < 16 {
        let n = s.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    if got.starts_with(b"PONG") {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "clamd answered PING with {:?}",
            String::from_utf8_lossy(&got)
        )))
    }
}

/// Stops and removes instances left by test processes that died without
/// dropping them (killed by a time-out): the clamd whose pid file is in a
/// `phishgate-clamd-<pid>-<n>` directory of a dead test process, and only if
/// its command line names that directory's configuration.
fn reap_stale() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(owner) = name
            .strip_prefix("phishgate-clamd-")
            .and_then(|r| r.split('-').next())
        else {
            continue;
        };
        if owner.is_empty() || Path::new("/proc").join(owner).exists() {
            continue;
        }
        let dir = e.path();
        if let Ok(pid) = std::fs::read_to_string(dir.join("clamd.pid")) {
            let pid = pid.trim();
            let cmdline =
                std::fs::read(Path::new("/proc").join(pid).join("cmdline")).unwrap_or_default();
            let conf = dir.join("clamd.conf");
            if !pid.is_empty()
                && String::from_utf8_lossy(&cmdline).contains(&*conf.to_string_lossy())
            {
                let _ = Command::new("kill").arg(pid).status();
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}
