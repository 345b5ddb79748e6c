//! ClamAV through clamd: every attachment's decoded bytes sent separately
//! with `INSTREAM`, so a verdict names the attachment; clamd unpacks
//! archives itself (`ScanArchive yes`, its default), so archive members are
//! scanned without phishgate unpacking them again.
//!
//! ```toml
//! [clamav]
//! address = "127.0.0.1:3310"    # or a unix socket: "/run/clamav/clamd.ctl"
//! timeout_ms = 10000            # per attachment: wait for a connection, send, verdict
//! max_size = 26214400           # larger attachments are not sent (CLAMAV_TOO_LARGE)
//! pool_size = 4                 # sessions open to clamd at most
//! idle_secs = 10                # close a pooled session idle this long
//! ```
//!
//! Connection pool: clamd closes a connection after one plain command, so
//! reuse needs a session (`zIDSESSION`): commands on a session are numbered
//! and each reply carries its number (`3: stream: OK`). The client keeps at
//! most `pool_size` sessions (a semaphore bounds the scans in flight, which
//! also bounds the load put on clamd), returns a session to the pool after
//! a clean reply, and discards it after any error, garbage or time-out.
//! Sessions idle longer than `idle_secs` are closed before use, below
//! clamd's own `IdleTimeout` (30 s by default); a pooled session that clamd
//! closed anyway is detected on use (no reply) and the scan retried once on
//! a fresh connection.
//!
//! Bounds: a reply is read up to [`MAX_REPLY_BYTES`] and must end with NUL;
//! each attachment has one time-out covering the wait for a session, the
//! connection, the upload and the verdict. Attachments over `max_size` are
//! not sent.
//!
//! Failure behaviour: refused or reset connections, a hang past the
//! time-out, a reply that is not clamd's, or a clamd `ERROR` all become
//! [`AntivirusOutcome::TempFail`] with the reason (CLAMAV_TEMPFAIL: visible,
//! zero weight; policy decides): never a pass and never a panic. clamd's own
//! size limit (`INSTREAM size limit exceeded`, its `StreamMaxLength`) is
//! [`AntivirusOutcome::TooLarge`]. After clamd proves unreachable for one
//! attachment, the message's other attachments are marked TempFail without
//! waiting for the time-out again.
//!
//! Measured on the 2-core test machine (debug build, clamd 1.4.6 with the
//! tests' small database): about 0.5-1.2 ms per small attachment on a pooled
//! session (`sessions_are_reused_across_many_scans` prints it); the cost of
//! a real signature set is clamd's, not the client's.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use phishgate_core::view::attachment::Attachment;
use phishgate_core::{AntivirusOutcome, AntivirusScan, Config};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Semaphore;

/// Longest reply read from clamd (a verdict is one short line).
pub const MAX_REPLY_BYTES: usize = 4096;
/// Bytes sent per `INSTREAM` chunk.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// Default of `timeout_ms`.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Default of `max_size` (the default message size limit).
pub const DEFAULT_MAX_SIZE: u64 = 25 * 1024 * 1024;
/// Default of `pool_size`.
pub const DEFAULT_POOL_SIZE: usize = 4;
/// Default of `idle_secs`.
pub const DEFAULT_IDLE_SECS: u64 = 10;

/// `[clamav]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClamavConfig {
    /// `host:port`, or a unix socket path (absolute, or `unix:PATH`).
    pub address: String,
    /// Time-out per attachment, in milliseconds.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Largest attachment sent, in bytes.
    #[serde(default = "default_max_size")]
    pub max_size: u64,
    /// Most sessions open at once.
    #[serde(default = "default_pool")]
    pub pool_size: usize,
    /// Pooled sessions idle longer than this are closed.
    #[serde(default = "default_idle")]
    pub idle_secs: u64,
}

fn default_timeout() -> u64 {
    DEFAULT_TIMEOUT_MS
}
fn default_max_size() -> u64 {
    DEFAULT_MAX_SIZE
}
fn default_pool() -> usize {
    DEFAULT_POOL_SIZE
}
fn default_idle() -> u64 {
    DEFAULT_IDLE_SECS
}

impl ClamavConfig {
    /// A configuration with the defaults for `address`.
    pub fn new(address: &str) -> ClamavConfig {
        ClamavConfig {
            address: address.to_string(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
            max_size: DEFAULT_MAX_SIZE,
            pool_size: DEFAULT_POOL_SIZE,
            idle_secs: DEFAULT_IDLE_SECS,
        }
    }

    /// Reads `[clamav]` from a configuration: `Ok(None)` when absent.
    pub fn from_config(config: &Config) -> Result<Option<ClamavConfig>, ClamavError> {
        let Some(t) = &config.clamav else {
            return Ok(None);
        };
        let c: ClamavConfig = t
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| ClamavError::Config(format!("[clamav]: {e}")))?;
        c.address()?;
        if c.pool_size == 0 || c.timeout_ms == 0 {
            return Err(ClamavError::Config(
                "[clamav] pool_size and timeout_ms must be positive".into(),
            ));
        }
        Ok(Some(c))
    }

    fn address(&self) -> Result<Address, ClamavError> {
        let a = self.address.trim();
        if let Some(p) = a.strip_prefix("unix:") {
            return Ok(Address::Unix(PathBuf::from(p)));
        }
        if a.starts_with('/') {
            return Ok(Address::Unix(PathBuf::from(a)));
        }
        if a.rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
        {
            return Ok(Address::Tcp(a.to_string()));
        }
        Err(ClamavError::Config(format!(
            "[clamav] address \"{a}\": expected host:port or a unix socket path"
        )))
    }
}

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Address {
    Tcp(String),
    Unix(PathBuf),
}

/// clamd could not be configured or reached (scans never return this: they
/// return a TempFail outcome).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClamavError {
    /// `[clamav]` is wrong.
    #[error("{0}")]
    Config(String),
    /// clamd did not answer as expected.
    #[error("clamd: {0}")]
    Unavailable(String),
}

/// What clamd said, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `stream: OK`.
    Clean,
    /// `stream: NAME FOUND`.
    Found(String),
    /// `... ERROR`.
    Error(String),
}

/// Parses one clamd reply (without its NUL). In a session the reply starts
/// with the command's number (`3: stream: OK`), which must be `id`. Anything
/// else is garbage (`Err`).
pub fn parse_reply(reply: &[u8], id: Option<u64>) -> Result<Reply, String> {
    let text = std::str::from_utf8(reply).map_err(|_| "reply is not UTF-8".to_string())?;
    let text = text.trim_end_matches(['\n', '\r']);
    if text.is_empty() || text.chars().any(|c| c.is_control()) {
        return Err(format!("unexpected reply {:?}", shorten(text)));
    }
    let body = match id {
        Some(id) => {
            let (n, rest) = text
                .split_once(": ")
                .ok_or_else(|| format!("reply without a request number: {:?}", shorten(text)))?;
            if n.parse::<u64>().ok() != Some(id) {
                return Err(format!("reply to request {n:?}, expected {id}"));
            }
            rest
        }
        None => text,
    };
    if let Some(e) = body.strip_suffix(" ERROR") {
        return Ok(Reply::Error(e.trim().to_string()));
    }
    let Some(r) = body.strip_prefix("stream: ") else {
        return Err(format!("unexpected reply {:?}", shorten(text)));
    };
    if r == "OK" {
        return Ok(Reply::Clean);
    }
    if let Some(name) = r.strip_suffix(" FOUND") {
        let name = name.trim();
        if !name.is_empty() && !name.contains(' ') {
            return Ok(Reply::Found(name.to_string()));
        }
    }
    Err(format!("unexpected reply {:?}", shorten(text)))
}

fn shorten(s: &str) -> String {
    s.chars().take(80).collect()
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One `zIDSESSION` connection.
struct Session {
    io: Box<dyn Io>,
    /// Number of the next command.
    next_id: u64,
    last_used: Instant,
}

/// Counters, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClamdStats {
    /// Connections opened to clamd.
    pub connections: u64,
    /// Scans done on a pooled session (no new connection).
    pub reused: u64,
    /// Attachments sent.
    pub scans: u64,
    /// Scans that ended in a temporary failure.
    pub tempfails: u64,
}

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    reused: AtomicU64,
    scans: AtomicU64,
    tempfails: AtomicU64,
}

struct Inner {
    config: ClamavConfig,
    address: Address,
    slots: Semaphore,
    idle: Mutex<Vec<Session>>,
    counters: Counters,
}

/// A clamd client with a small session pool. Cheap to clone; share one.
#[derive(Clone)]
pub struct Clamd {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Clamd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clamd")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// How one attempt failed.
enum Failure {
    /// Nothing came back on a pooled session: clamd probably closed it.
    Stale(String),
    /// Could not connect (clamd down): the rest of the message is skipped.
    Unreachable(String),
    /// Anything else.
    Other(String),
}

impl Clamd {
    /// A client (connects lazily).
    pub fn new(config: ClamavConfig) -> Result<Clamd, ClamavError> {
        let address = config.address()?;
        let pool = config.pool_size.max(1);
        Ok(Clamd {
            inner: Arc::new(Inner {
                config,
                address,
                slots: Semaphore::new(pool),
                idle: Mutex::new(Vec::new()),
                counters: Counters::default(),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClamavConfig {
        &self.inner.config
    }

    /// Counters so far.
    pub fn stats(&self) -> ClamdStats {
        let c = &self.inner.counters;
        ClamdStats {
            connections: c.connections.load(Ordering::Relaxed),
            reused: c.reused.load(Ordering::Relaxed),
            scans: c.scans.load(Ordering::Relaxed),
            tempfails: c.tempfails.load(Ordering::Relaxed),
        }
    }

    /// `PING` on a fresh connection; `Ok` on `PONG` within the time-out.
    pub async fn ping(&self) -> Result<(), ClamavError> {
        let t = Duration::from_millis(self.inner.config.timeout_ms);
        let fut = async {
            let mut io = self.connect().await.map_err(|e| match e {
                Failure::Stale(s) | Failure::Unreachable(s) | Failure::Other(s) => s,
            })?;
            io.write_all(b"zPING\0").await.map_err(|e| e.to_string())?;
            let r = read_reply(&mut io).await.map_err(|e| match e {
                Failure::Stale(s) | Failure::Unreachable(s) | Failure::Other(s) => s,
            })?;
            if r == b"PONG" {
                Ok(())
            } else {
                Err(format!(
                    "unexpected reply to PING: {:?}",
                    String::from_utf8_lossy(&r)
                ))
            }
        };
        match tokio::time::timeout(t, fut).await {
            Ok(r) => r.map_err(ClamavError::Unavailable),
            Err(_) => Err(ClamavError::Unavailable("PING timed out".into())),
        }
    }

    /// Scans every attachment of a message, one `INSTREAM` each (the same
    /// content twice is scanned once). Results follow the attachments'
    /// order. Empty attachments are clean without asking.
    pub async fn scan_attachments(&self, attachments: &[Attachment]) -> Vec<AntivirusScan> {
        let mut done: HashMap<&str, AntivirusOutcome> = HashMap::new();
        let mut unreachable: Option<String> = None;
        let mut out = Vec::with_capacity(attachments.len());
        for a in attachments {
            let outcome = if let Some(o) = done.get(a.sha256.as_str()) {
                o.clone()
            } else if a.content.bytes().is_empty() {
                AntivirusOutcome::Clean
            } else if let Some(why) = &unreachable {
                AntivirusOutcome::TempFail(format!("not sent: {why}"))
            } else {
                let (o, down) = self.scan_inner(a.content.bytes()).await;
                if down {
                    if let AntivirusOutcome::TempFail(why) = &o {
                        unreachable = Some(why.clone());
                    }
                }
                done.insert(a.sha256.as_str(), o.clone());
                o
            };
            out.push(AntivirusScan {
                attachment: a.name.clone(),
                sha256: a.sha256.clone(),
                outcome,
            });
        }
        out
    }

    /// Scans one buffer.
    pub async fn scan_bytes(&self, data: &[u8]) -> AntivirusOutcome {
        self.scan_inner(data).await.0
    }

    /// The outcome, and whether clamd was unreachable.
    async fn scan_inner(&self, data: &[u8]) -> (AntivirusOutcome, bool) {
        let cfg = &self.inner.config;
        if data.len() as u64 > cfg.max_size {
            return (
                AntivirusOutcome::TooLarge(format!(
                    "{} bytes > max_size {}",
                    data.len(),
                    cfg.max_size
                )),
                false,
            );
        }
        self.inner.counters.scans.fetch_add(1, Ordering::Relaxed);
        let timeout = Duration::from_millis(cfg.timeout_ms);
        let res = tokio::time::timeout(timeout, self.scan_pooled(data)).await;
        let (outcome, down) = match res {
            Ok(Ok(reply)) => (
                match reply {
                    Reply::Clean => AntivirusOutcome::Clean,
                    Reply::Found(n) => AntivirusOutcome::Found(n),
                    Reply::Error(e) if e.to_ascii_lowercase().contains("size limit") => {
                        AntivirusOutcome::TooLarge(format!("clamd: {e}"))
                    }
                    Reply::Error(e) => AntivirusOutcome::TempFail(format!("clamd error: {e}")),
                },
                false,
            ),
            Ok(Err(Failure::Unreachable(why))) => (AntivirusOutcome::TempFail(why), true),
            Ok(Err(Failure::Stale(why) | Failure::Other(why))) => {
                (AntivirusOutcome::TempFail(why), false)
            }
            Err(_) => (
                AntivirusOutcome::TempFail(format!("clamd timed out after {} ms", cfg.timeout_ms)),
                true,
            ),
        };
        if let AntivirusOutcome::TempFail(why) = &outcome {
            self.inner
                .counters
                .tempfails
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(reason = %why, "clamd scan failed");
        }
        (outcome, down)
    }

    /// Takes a slot, a pooled session (or a new one), scans; retries once on
    /// a fresh connection when a pooled session turns out dead. A session
    /// given up on (error, time-out: the future is dropped) is closed.
    async fn scan_pooled(&self, data: &[u8]) -> Result<Reply, Failure> {
        let _permit = self
            .inner
            .slots
            .acquire()
            .await
            .map_err(|_| Failure::Other("clamd client closed".into()))?;
        if let Some(mut s) = self.take_idle() {
            self.inner.counters.reused.fetch_add(1, Ordering::Relaxed);
            match instream(&mut s, data).await {
                Ok(r) => {
                    self.give_back(s, &r);
                    return Ok(r);
                }
                Err(Failure::Stale(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let io = self.connect().await?;
        let mut s = Session {
            io,
            next_id: 1,
            last_used: Instant::now(),
        };
        s.io.write_all(b"zIDSESSION\0")
            .await
            .map_err(|e| Failure::Unreachable(format!("clamd: {e}")))?;
        match instream(&mut s, data).await {
            Ok(r) => {
                self.give_back(s, &r);
                Ok(r)
            }
            Err(Failure::Stale(why)) => Err(Failure::Other(why)),
            Err(e) => Err(e),
        }
    }

    fn take_idle(&self) -> Option<Session> {
        let max_idle = Duration::from_secs(self.inner.config.idle_secs);
        let mut idle = match self.inner.idle.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        while let Some(s) = idle.pop() {
            if s.last_used.elapsed() < max_idle {
                return Some(s);
            }
            // Too old: clamd may close it any moment. Dropping closes it.
        }
        None
    }

    fn give_back(&self, mut s: Session, reply: &Reply) {
        // After an ERROR clamd may close the session; do not reuse it.
        if matches!(reply, Reply::Error(_)) {
            return;
        }
        s.last_used = Instant::now();
        let mut idle = match self.inner.idle.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if idle.len() < self.inner.config.pool_size {
            idle.push(s);
        }
    }

    async fn connect(&self) -> Result<Box<dyn Io>, Failure> {
        self.inner
            .counters
            .connections
            .fetch_add(1, Ordering::Relaxed);
        match &self.inner.address {
            Address::Tcp(a) => {
                let s = tokio::net::TcpStream::connect(a.as_str())
                    .await
                    .map_err(|e| Failure::Unreachable(format!("clamd {a}: {e}")))?;
                // Chunk headers are tiny writes: do not let Nagle hold them.
                let _ = s.set_nodelay(true);
                Ok(Box::new(s))
            }
            Address::Unix(p) => {
                let s = tokio::net::UnixStream::connect(p)
                    .await
                    .map_err(|e| Failure::Unreachable(format!("clamd {}: {e}", p.display())))?;
                Ok(Box::new(s))
            }
        }
    }
}

/// One `zINSTREAM` on a session: the command and the first chunk in one
/// write, then chunks, the zero-length end, and the reply.
async fn instream(s: &mut Session, data: &[u8]) -> Result<Reply, Failure> {
    let id = s.next_id;
    s.next_id += 1;
    let mut buf = Vec::with_capacity(CHUNK_BYTES + 16);
    buf.extend_from_slice(b"zINSTREAM\0");
    let write_res: Result<(), std::io::Error> = async {
        for c in data.chunks(CHUNK_BYTES) {
            let len = u32::try_from(c.len()).unwrap_or(u32::MAX);
            buf.extend_from_slice(&len.to_be_bytes());
            buf.extend_from_slice(c);
            s.io.write_all(&buf).await?;
            buf.clear();
        }
        buf.extend_from_slice(&0u32.to_be_bytes());
        s.io.write_all(&buf).await
    }
    .await;
    if let Err(e) = write_res {
        // clamd stops reading when the stream passes its StreamMaxLength
        // and answers at once: try to read that answer before giving up.
        // No answer at all (a session clamd closed while it sat in the
        // pool) is `Stale`: the caller retries on a fresh connection.
        return match read_reply(&mut s.io).await {
            Ok(r) => parse_reply(&r, Some(id)).map_err(Failure::Other),
            Err(Failure::Stale(_)) => Err(Failure::Stale(format!("clamd: {e}"))),
            Err(f) => Err(f),
        };
    }
    let r = read_reply(&mut s.io).await?;
    parse_reply(&r, Some(id)).map_err(Failure::Other)
}

/// Reads up to the NUL that ends a reply, at most [`MAX_REPLY_BYTES`].
async fn read_reply(io: &mut Box<dyn Io>) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::with_capacity(64);
    let mut buf = [0u8; 512];
    loop {
        let n = match io.read(&mut buf).await {
            Ok(n) => n,
            Err(e) if out.is_empty() => return Err(Failure::Stale(format!("clamd: {e}"))),
            Err(e) => return Err(Failure::Other(format!("clamd: {e}"))),
        };
        if n == 0 {
            return Err(if out.is_empty() {
                Failure::Stale("clamd closed the connection without a reply".into())
            } else {
                Failure::Other(format!(
                    "clamd closed the connection mid-reply: {:?}",
                    String::from_utf8_lossy(&out)
                ))
            });
        }
        let got = buf.get(..n).unwrap_or_default();
        if let Some(pos) = got.iter().position(|&b| b == 0) {
            out.extend_from_slice(got.get(..pos).unwrap_or_default());
            // Anything after the NUL would be a reply to nothing we asked:
            // the session is out of step. Reject it (the session is then
            // dropped by the caller).
            if pos + 1 < n {
                return Err(Failure::Other("clamd sent more than one reply".into()));
            }
            return Ok(out);
        }
        out.extend_from_slice(got);
        if out.len() > MAX_REPLY_BYTES {
            return Err(Failure::Other(format!(
                "clamd reply longer than {MAX_REPLY_BYTES} bytes"
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        assert_eq!(parse_reply(b"1: stream: OK", Some(1)), Ok(Reply::Clean));
        assert_eq!(
            parse_reply(b"2: stream: Win.Test.EICAR_HDB-1 FOUND", Some(2)),
            Ok(Reply::Found("Win.Test.EICAR_HDB-1".into()))
        );
        assert_eq!(
            parse_reply(b"stream: Heuristics.Encrypted.Zip FOUND", None),
            Ok(Reply::Found("Heuristics.Encrypted.Zip".into()))
        );
        assert_eq!(
            parse_reply(b"3: INSTREAM size limit exceeded. ERROR", Some(3)),
            Ok(Reply::Error("INSTREAM size limit exceeded.".into()))
        );
        for bad in [
            &b""[..],
            b"2: stream: OK",
            b"stream: OK",
            b"1: hello",
            b"1: stream: FOUND",
            b"1: stream: a b FOUND",
            b"\xff\xfe",
            b"1: stream: OK\n1: stream: OK",
        ] {
            assert!(parse_reply(bad, Some(1)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn config() {
        let c = Config::from_toml_str("[clamav]\naddress = \"127.0.0.1:3310\"\n").expect("config");
        let cc = ClamavConfig::from_config(&c).expect("ok").expect("some");
        assert_eq!(cc, ClamavConfig::new("127.0.0.1:3310"));
        assert_eq!(
            cc.address().expect("addr"),
            Address::Tcp("127.0.0.1:3310".into())
        );
        let u = ClamavConfig::new("/run/clamav/clamd.ctl");
        assert_eq!(
            u.address().expect("addr"),
            Address::Unix("/run/clamav/clamd.ctl".into())
        );
        assert!(ClamavConfig::new("localhost").address().is_err());
        let typo = Config::from_toml_str("[clamav]\naddress = \"127.0.0.1:3310\"\ntimeout = 5\n")
            .expect("config");
        assert!(ClamavConfig::from_config(&typo).is_err());
        assert!(ClamavConfig::from_config(&Config::default())
            .expect("ok")
            .is_none());
    }
}
