//! A `phishgate serve` process for tests: free loopback ports, its own
//! configuration and data directory, killed on drop.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

static N: AtomicUsize = AtomicUsize::new(0);

pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "phishgate-test-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub struct Server {
    pub child: Option<Child>,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub http: SocketAddr,
    pub milter: SocketAddr,
    pub smtp: SocketAddr,
    pub log: PathBuf,
}

impl Server {
    /// Writes a configuration (the corpus organisation, free ports, `extra`
    /// appended) and starts `phishgate serve`, waiting until it answers.
    pub fn start(name: &str, relay: Option<SocketAddr>, extra: &str) -> Server {
        let mut s = Server::prepare(name);
        s.configure(relay, extra);
        s.spawn();
        s
    }

    /// Chooses the directory and ports without starting anything, so an
    /// MTA can be configured to point at them first.
    pub fn prepare(name: &str) -> Server {
        let dir = scratch(name);
        // Below the ephemeral range: no outgoing connection of another test
        // (Postfix, swaks) can take the port before phishgate binds it.
        let port = || -> SocketAddr {
            format!("127.0.0.1:{}", phishgate_testkit::unused_port().unwrap())
                .parse()
                .unwrap()
        };
        Server {
            child: None,
            config: dir.join("phishgate.toml"),
            dir,
            http: port(),
            milter: port(),
            smtp: port(),
            log: PathBuf::new(),
        }
    }

    /// Writes the configuration: the corpus organisation, these ports, the
    /// relay, then `extra`.
    pub fn configure(&mut self, relay: Option<SocketAddr>, extra: &str) {
        let relay = relay.unwrap_or_else(|| {
            format!("127.0.0.1:{}", phishgate_testkit::unused_port().unwrap())
                .parse()
                .unwrap()
        });
        let org = std::fs::read_to_string(repo().join("corpus/phishgate.toml")).unwrap();
        std::fs::write(
            &self.config,
            format!(
                "{org}\n[listen]\nhttp = \"{}\"\nmilter = \"{}\"\nsmtp = \"{}\"\n\n[relay]\naddress = \"{relay}\"\n\n{extra}\n",
                self.http, self.milter, self.smtp
            ),
        )
        .unwrap();
    }

    /// (Re)starts the process on the same configuration and ports.
    pub fn spawn(&mut self) {
        let n = N.fetch_add(1, Ordering::Relaxed);
        self.log = self.dir.join(format!("serve-{n}.log"));
        let log = std::fs::File::create(&self.log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_phishgate"))
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok((200, _)) = try_http(self.http, "GET", "/ping", &[], b"") {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("phishgate serve exited with {status}:\n{}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "phishgate serve did not start:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Waits for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                return st.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to 30 s) until the log says the organisation's model
    /// `version` from the store is loaded (nodes poll every few seconds).
    pub fn wait_model_version(&self, version: i64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let loaded = |log: &str| {
            log.lines().any(|l| {
                l.contains("classifier model is loaded")
                    && l.split_whitespace()
                        .any(|w| w == format!("version={version}"))
            })
        };
        while !loaded(&self.log_text()) {
            assert!(
                Instant::now() < deadline,
                "{} did not load model version {version}: {}",
                self.dir.display(),
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<u8>) {
        try_http(self.http, "POST", path, headers, body).unwrap()
    }

    pub fn post_json(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> serde_json::Value {
        let (status, b) = self.post(path, headers, body);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&b));
        serde_json::from_slice(&b).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
        if std::env::var_os("PHISHGATE_KEEP_TEST_DIRS").is_none() && !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// One HTTP/1.0 request (the connection closes after the reply).
pub fn try_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.0\r\nHost: test\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let head_end = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no HTTP header end"))?;
    let head = String::from_utf8_lossy(&resp[..head_end]).into_owned();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head}")))?;
    Ok((status, resp[head_end + 4..].to_vec()))
}

impl Server {
    /// Runs a `phishgate` administration command against this server's
    /// configuration and data directory.
    pub fn admin(&self, args: &[&str]) -> std::process::Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_phishgate"));
        c.args(args)
            .arg("--config")
            .arg(&self.config)
            .arg("--data-dir")
            .arg(self.dir.join("data"));
        c.output().unwrap()
    }

    /// Runs an administration command that prints one JSON object per
    /// line; it must succeed.
    pub fn admin_json_lines(&self, args: &[&str]) -> Vec<serde_json::Value> {
        let out = self.admin(args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Every held message, as `phishgate quarantine list --json` prints it.
    pub fn quarantine(&self) -> Vec<serde_json::Value> {
        self.admin_json_lines(&["quarantine", "list", "--json", "--limit", "1000"])
    }

    /// The newest history row of a recipient, as `phishgate history
    /// --format json --to RCPT` prints it; waits (up to 30 s) for the
    /// batched writer.
    pub fn history_row(&self, rcpt: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.admin(&["history", "--format", "json", "--to", rcpt]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            if let Some(l) = String::from_utf8_lossy(&out.stdout).lines().next() {
                return serde_json::from_str(l).unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "no history for {rcpt}\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Recipients of held messages.
    pub fn held_rcpts(&self) -> Vec<String> {
        self.quarantine()
            .iter()
            .flat_map(|e| {
                e["rcpts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["address"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// A deploy snippet the README gives (`deploy/postfix/NAME`).
pub fn deploy(name: &str) -> String {
    std::fs::read_to_string(repo().join("deploy/postfix").join(name)).unwrap()
}

/// A throw-away Postfix for `laocai.gov.vn` (catch-all Maildir) wired to
/// `phishgate serve` in milter mode with the README's `main.cf` snippet,
/// and the started server (`extra` appended to its configuration).
pub fn milter_pair(name: &str, extra: &str) -> (phishgate_testkit::Postfix, Server) {
    milter_pair_with(name, extra, "")
}

/// [`milter_pair`] with `extra_main_cf` appended to Postfix's main.cf.
pub fn milter_pair_with(
    name: &str,
    extra: &str,
    extra_main_cf: &str,
) -> (phishgate_testkit::Postfix, Server) {
    let mut server = Server::prepare(name);
    let main_cf = deploy("milter.main.cf").replace("127.0.0.1:11381", &server.milter.to_string());
    let pf = phishgate_testkit::PostfixBuilder::new()
        .domain("laocai.gov.vn")
        .catch_all(true)
        .main_cf(&format!("{main_cf}\n{extra_main_cf}"))
        .start()
        .unwrap();
    server.configure(None, extra);
    server.spawn();
    (pf, server)
}

/// The same in content-filter mode, with the README's `main.cf` and
/// `master.cf` snippets (ports moved) plus `extra_main_cf`; phishgate
/// re-injects into the instance's filter-free smtpd.
pub fn filter_pair(
    name: &str,
    extra: &str,
    extra_main_cf: &str,
) -> (phishgate_testkit::Postfix, Server) {
    let mut server = Server::prepare(name);
    let main_cf = deploy("content-filter.main.cf").replace(
        "[127.0.0.1]:11382",
        &format!("[127.0.0.1]:{}", server.smtp.port()),
    );
    let master_cf = deploy("content-filter.master.cf")
        .replace("127.0.0.1:10026", "127.0.0.1:{{port:reinject}}");
    let pf = phishgate_testkit::PostfixBuilder::new()
        .domain("laocai.gov.vn")
        .catch_all(true)
        .port("reinject")
        .main_cf(&format!("{main_cf}\n{extra_main_cf}"))
        .master_cf(&master_cf)
        .start()
        .unwrap();
    let relay = format!("127.0.0.1:{}", pf.port("reinject").unwrap())
        .parse()
        .unwrap();
    server.configure(Some(relay), extra);
    server.spawn();
    (pf, server)
}

/// Recipients of every message in the Postfix instance's catch-all Maildir
/// (`X-Original-To`), one entry per delivered copy.
pub fn delivered_rcpts(pf: &phishgate_testkit::Postfix) -> Vec<String> {
    pf.maildir("catchall")
        .iter()
        .map(|d| {
            d.header("X-Original-To")
                .expect("every delivered copy names its recipient (X-Original-To)")
        })
        .collect()
}

/// Recipients still in Postfix's queue: (on hold, anywhere else).
pub fn queued_rcpts(
    pf: &phishgate_testkit::Postfix,
) -> (
    std::collections::BTreeSet<String>,
    std::collections::BTreeSet<String>,
) {
    let mut hold = std::collections::BTreeSet::new();
    let mut other = std::collections::BTreeSet::new();
    for q in pf.queue().unwrap() {
        let target = if q.queue_name == phishgate_testkit::QueueName::Hold {
            &mut hold
        } else {
            &mut other
        };
        target.extend(q.recipients.into_iter().map(|r| r.address));
    }
    (hold, other)
}

/// The classifier's probability in a verdict's evidence (`p=0.98` in the
/// options of `ML_UNWANTED` / `ML_WANTED`), as `scan --format json` and
/// `/api/v1/scan` print it; 0.5 when neither fired (the model was unsure).
pub fn ml_probability(v: &serde_json::Value) -> f64 {
    v["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == "ML_UNWANTED" || s["name"] == "ML_WANTED")
        .flat_map(|s| s["options"].as_array().unwrap().clone())
        .find_map(|o| o.as_str()?.strip_prefix("p=")?.parse().ok())
        .unwrap_or(0.5)
}
