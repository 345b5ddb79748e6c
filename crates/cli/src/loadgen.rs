//! `phishgate loadgen`: a load generator against a running `phishgate serve`.
//!
//! Messages are read into memory first, then sent by C concurrent sessions
//! (tokio tasks) to the HTTP API (`POST /checkv2` over keep-alive HTTP/1.1
//! connections) and to the milter (one connection per session, many
//! messages per connection, speaking as Postfix does: reference
//! `milter-protocol.md` §5 and §11.1, one write per event, replies read
//! only for events the filter did not mark NR), for each concurrency level
//! in turn. Messages go out in a fixed order that visits every loaded
//! message once per round while striding across the folders. Per message
//! the latency runs from the first byte of the request (first milter
//! command of the message) to the final reply. `messages` in the report
//! counts attempts; `errors` counts those that got no final reply (or a
//! non-200 HTTP status), connection failures included. With `--rate` the messages are paced open-loop at R per second in
//! total, so latency can be read at a given load. With `--server-pid` the
//! server's peak (VmHWM) and current (VmRSS) resident memory are read from
//! `/proc` after each level; the peak is reset at the start of each level
//! when the kernel allows it (`/proc/PID/clear_refs`).
//!
//! `--hold-sessions N` is the memory test instead: N milter sessions each
//! get as far as a first body chunk of a real message, all pause before
//! `E` so that the server holds N messages' state at once, the server's
//! memory is read, and then all of them finish.
//!
//! Targets must be loopback addresses: this is a load test, not a probe.
//! Server misbehaviour never stops the run: errors are counted (with a few
//! samples of what went wrong) and the session reconnects. Every level is
//! bounded in time (`--max-seconds`) and every socket operation has a
//! timeout, so the run always ends by itself.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use phishgate_milter::consts::{
    MAX_CHUNK, PROTOCOL_VERSION, SMFIC_BODY, SMFIC_BODYEOB, SMFIC_CONNECT, SMFIC_DATA, SMFIC_EOH,
    SMFIC_HEADER, SMFIC_HELO, SMFIC_MAIL, SMFIC_RCPT, SMFIP_HDR_LEADSPC, SMFIP_NOBODY,
    SMFIP_NOCONNECT, SMFIP_NODATA, SMFIP_NOEOH, SMFIP_NOHDRS, SMFIP_NOHELO, SMFIP_NOMAIL,
    SMFIP_NORCPT, SMFIP_NR_BODY, SMFIP_NR_CONN, SMFIP_NR_DATA, SMFIP_NR_EOH, SMFIP_NR_HDR,
    SMFIP_NR_HELO, SMFIP_NR_MAIL, SMFIP_NR_RCPT, SMFI_CURR_ACTS, SMFI_CURR_PROT,
};
use phishgate_milter::{encode_command, Command, Family, Response, ResponseDecoder};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::input::{self, Item};

/// Messages per level when neither `--messages` nor `--duration` is given.
const DEFAULT_MESSAGES: u64 = 3000;
/// Timeout of one connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Timeout of one request/reply exchange (one message, or one milter step).
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest HTTP response header block accepted.
const MAX_HTTP_HEAD: usize = 64 * 1024;
/// Largest HTTP response body accepted.
const MAX_HTTP_BODY: usize = 64 * 1024 * 1024;
/// Error messages kept per level, as samples.
const ERROR_SAMPLES: usize = 5;
/// A paced message that starts later than this after its slot counts as late.
const LATE: Duration = Duration::from_millis(10);
/// Client address given to the server (documentation range, RFC 5737).
const CLIENT_IP: &str = "203.0.113.7";
/// Client host name given to the server.
const CLIENT_NAME: &str = "client.loadgen.test";

/// Options of `phishgate loadgen`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// HTTP API of the server (loopback only), e.g. 127.0.0.1:11380.
    #[arg(long)]
    http: Option<String>,
    /// Milter port of the server (loopback only), e.g. 127.0.0.1:11381.
    #[arg(long)]
    milter: Option<String>,
    /// Concurrency levels (concurrent sessions), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,256")]
    concurrency: Vec<usize>,
    /// Messages per target and level (default 3000 unless --duration is given).
    #[arg(long)]
    messages: Option<u64>,
    /// Seconds per target and level (stops at whichever of --messages or this comes first).
    #[arg(long)]
    duration: Option<f64>,
    /// Open-loop pacing: messages per second in total, spread over the sessions.
    #[arg(long)]
    rate: Option<f64>,
    /// Hard bound on one level (or one hold run) in seconds, whatever happens.
    #[arg(long, default_value_t = 60.0)]
    max_seconds: f64,
    /// Process id of the server: report its peak and current resident memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Memory test instead of throughput: hold this many milter sessions
    /// open at once, all paused before end of message.
    #[arg(long)]
    hold_sessions: Option<usize>,
    /// Load at most this many messages.
    #[arg(long)]
    limit: Option<usize>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Folders or files of messages.
    #[arg(required = true)]
    paths: Vec<String>,
}

/// Runs the load generator. Exit code 0 when every message got its final
/// reply, 1 when some failed (counted in the report); errors before the run
/// (non-loopback target, no messages) are `Err` (exit code 2).
pub fn run(args: Args) -> Result<ExitCode> {
    let http = args.http.as_deref().map(loopback).transpose()?;
    let milter = args.milter.as_deref().map(loopback).transpose()?;
    if http.is_none() && milter.is_none() {
        bail!("give a target: --http ADDR and/or --milter ADDR");
    }
    if args.hold_sessions.is_some() && milter.is_none() {
        bail!("--hold-sessions needs --milter ADDR");
    }
    if args.hold_sessions == Some(0) {
        bail!("--hold-sessions must be at least 1");
    }
    if args.concurrency.is_empty() || args.concurrency.contains(&0) {
        bail!("--concurrency levels must be at least 1");
    }
    if args.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        bail!("--rate must be a positive number of messages per second");
    }
    if args.duration.is_some_and(|d| !(d.is_finite() && d > 0.0)) {
        bail!("--duration must be a positive number of seconds");
    }
    if !(args.max_seconds.is_finite() && args.max_seconds > 0.0) {
        bail!("--max-seconds must be a positive number of seconds");
    }
    if args.messages == Some(0) {
        bail!("--messages must be at least 1");
    }
    if let Some(pid) = args.server_pid {
        if read_mem(pid).is_none() {
            bail!("--server-pid {pid}: cannot read /proc/{pid}/status (no such process?)");
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    for (name, addr) in [("http", http), ("milter", milter)] {
        if let Some(addr) = addr {
            rt.block_on(connect(addr)).with_context(|| {
                format!("cannot connect to the {name} target {addr} (is phishgate serve running?)")
            })?;
        }
    }
    let corpus = load(&args.paths, args.limit)?;
    let msgs = Arc::new(corpus.msgs);
    let head = json!({
        "messages_loaded": msgs.len(),
        "bytes_loaded": corpus.bytes,
        "skipped": corpus.skipped,
        "server_pid": args.server_pid,
    });
    if !args.json {
        println!(
            "phishgate loadgen: {} messages loaded ({:.1} MB, {} skipped){}",
            msgs.len(),
            corpus.bytes as f64 / 1e6,
            corpus.skipped,
            args.server_pid
                .map(|p| format!(", server pid {p}"))
                .unwrap_or_default()
        );
    }
    let max = Duration::from_secs_f64(args.max_seconds);
    if let (Some(n), Some(addr)) = (args.hold_sessions, milter) {
        let report = rt.block_on(hold(addr, n, &msgs, args.server_pid, max));
        let failed = report.errors > 0;
        if args.json {
            let mut v = head;
            if let Some(o) = v.as_object_mut() {
                o.insert("hold".into(), report.to_json());
            }
            println!("{v}");
        } else {
            report.print();
        }
        return Ok(if failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    let total = match (args.messages, args.duration) {
        (None, None) => Some(DEFAULT_MESSAGES),
        (n, _) => n,
    };
    let mut levels = Vec::new();
    if !args.json {
        print_table_head(args.server_pid.is_some());
    }
    let targets = [(Target::Http, http), (Target::Milter, milter)];
    for (target, addr) in targets {
        let Some(addr) = addr else { continue };
        for &c in &args.concurrency {
            let plan = Plan {
                target,
                addr,
                sessions: c,
                total,
                duration: args.duration.map(Duration::from_secs_f64),
                rate: args.rate,
                max,
            };
            let level = rt.block_on(run_level(&plan, &msgs, args.server_pid));
            if !args.json {
                level.print_row();
            }
            levels.push(level);
        }
    }
    let failed = levels.iter().any(|l| l.errors > 0 || l.timed_out);
    if args.json {
        let mut v = head;
        if let Some(o) = v.as_object_mut() {
            o.insert("rate".into(), json!(args.rate));
            o.insert(
                "levels".into(),
                Value::Array(levels.iter().map(Level::to_json).collect()),
            );
        }
        println!("{v}");
    } else {
        for l in levels.iter().filter(|l| !l.error_samples.is_empty()) {
            println!(
                "errors at {} x{}: {}",
                l.target.name(),
                l.sessions,
                l.error_samples.join("; ")
            );
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Resolves a target and refuses anything that is not loopback.
fn loopback(target: &str) -> Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = match target.parse::<SocketAddr>() {
        Ok(a) => vec![a],
        Err(_) => target
            .to_socket_addrs()
            .with_context(|| format!("{target}: not an address:port"))?
            .collect(),
    };
    let is_loopback = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v| v.is_loopback()),
    };
    match addrs.first() {
        Some(a) if addrs.iter().all(|a| is_loopback(a.ip())) => Ok(*a),
        Some(_) => {
            bail!("refusing target {target}: load tests target loopback only (127.0.0.0/8 or ::1)")
        }
        None => bail!("{target}: no address"),
    }
}

// ------------------------------------------------------------------ messages

/// One message, prepared for both protocols.
struct Msg {
    /// The message as read (HTTP body).
    raw: Vec<u8>,
    /// Envelope sender, bare.
    sender: String,
    /// Envelope recipient, bare.
    rcpt: String,
    /// Header fields: name, and the raw value after the colon (leading
    /// whitespace kept; folds joined by a bare LF, as Postfix sends them).
    headers: Vec<(String, Vec<u8>)>,
    /// The body with CRLF line endings, as Postfix sends it.
    body: Vec<u8>,
}

struct Corpus {
    msgs: Vec<Msg>,
    bytes: usize,
    skipped: usize,
}

fn load(paths: &[String], limit: Option<usize>) -> Result<Corpus> {
    let mut msgs = Vec::new();
    let mut skipped = 0usize;
    let mut bytes = 0usize;
    for item in input::expand(paths) {
        if limit.is_some_and(|l| msgs.len() >= l) {
            break;
        }
        let data = match item {
            Item::File(p, _) => match std::fs::read(&p) {
                Ok(d) => d,
                Err(_) => {
                    skipped += 1;
                    continue;
                }
            },
            Item::Bytes { data, .. } => data,
            Item::Error { .. } => {
                skipped += 1;
                continue;
            }
        };
        match prepare(data) {
            Some(m) => {
                bytes += m.raw.len();
                msgs.push(m);
            }
            None => skipped += 1,
        }
    }
    if msgs.is_empty() {
        bail!("no messages found in {}", paths.join(" "));
    }
    Ok(Corpus {
        msgs,
        bytes,
        skipped,
    })
}

/// A header field's name, if `line` starts one (`name:` with printable
/// ASCII, spaces or tabs allowed before the colon).
fn field_name(line: &[u8]) -> Option<&[u8]> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = line.get(..colon)?;
    let trimmed = trim_end_ws(name);
    let ok = !trimmed.is_empty()
        && trimmed.iter().all(|&b| b.is_ascii_graphic())
        && name
            .get(trimmed.len()..)
            .is_some_and(|r| r.iter().all(|&b| b == b' ' || b == b'\t'));
    ok.then_some(trimmed)
}

fn trim_end_ws(s: &[u8]) -> &[u8] {
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |p| p + 1);
    s.get(..end).unwrap_or_default()
}

/// Splits a message as Postfix does: header fields (unfolded into name and
/// value, folds joined by LF) and the body with CRLF line endings. `None`
/// when it does not start with a header field (not mail).
fn prepare(mut raw: Vec<u8>) -> Option<Msg> {
    // A stray mbox separator line is not part of the message.
    if raw.starts_with(b"From ") {
        let cut = raw
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |p| p + 1);
        raw.drain(..cut);
    }
    let mut lines = raw.split_inclusive(|&b| b == b'\n');
    let strip = |l: &[u8]| -> Vec<u8> {
        let l = l.strip_suffix(b"\n").unwrap_or(l);
        l.strip_suffix(b"\r").unwrap_or(l).to_vec()
    };
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    let mut body_lines: Vec<Vec<u8>> = Vec::new();
    for line in lines.by_ref() {
        let l = strip(line);
        if l.is_empty() {
            break;
        }
        if matches!(l.first(), Some(b' ' | b'\t')) {
            if let Some((_, v)) = headers.last_mut() {
                v.push(b'\n');
                v.extend_from_slice(&l);
                continue;
            }
        }
        match field_name(&l) {
            Some(name) => {
                let colon = l.iter().position(|&b| b == b':').map_or(l.len(), |p| p + 1);
                headers.push((
                    String::from_utf8_lossy(name).into_owned(),
                    l.get(colon..).unwrap_or_default().to_vec(),
                ));
            }
            None => {
                // Not a header line: the header ends here and this line
                // starts the body (Postfix does the same).
                body_lines.push(l);
                break;
            }
        }
    }
    if headers.is_empty() {
        return None;
    }
    body_lines.extend(lines.map(strip));
    let mut body = Vec::with_capacity(raw.len());
    for l in &body_lines {
        body.extend_from_slice(l);
        body.extend_from_slice(b"\r\n");
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| address_in(v))
    };
    let sender = header("Return-Path")
        .or_else(|| header("From"))
        .unwrap_or_else(|| "sender@loadgen.test".to_string());
    let rcpt = header("To").unwrap_or_else(|| "postmaster@loadgen.test".to_string());
    Some(Msg {
        raw,
        sender,
        rcpt,
        headers,
        body,
    })
}

/// The first mail address in a header value, if it is plain ASCII that is
/// safe in an HTTP header and a milter string.
fn address_in(value: &[u8]) -> Option<String> {
    let v = String::from_utf8_lossy(value);
    let candidate = match (v.find('<'), v.find('>')) {
        (Some(a), Some(b)) if a < b => v.get(a + 1..b).map(str::to_string),
        _ => v
            .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
            .find(|t| t.contains('@'))
            .map(str::to_string),
    }?;
    let ok = candidate.contains('@')
        && candidate.len() <= 254
        && candidate
            .chars()
            .all(|c| c.is_ascii_graphic() && !"<>,;\"()[]\\".contains(c));
    ok.then_some(candidate)
}

// ------------------------------------------------------------------ levels

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Http,
    Milter,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Http => "http",
            Target::Milter => "milter",
        }
    }
}

/// One level to run.
struct Plan {
    target: Target,
    addr: SocketAddr,
    sessions: usize,
    total: Option<u64>,
    duration: Option<Duration>,
    rate: Option<f64>,
    max: Duration,
}

/// What the sessions of one level share.
struct Shared {
    msgs: Arc<Vec<Msg>>,
    addr: SocketAddr,
    total: Option<u64>,
    rate: Option<f64>,
    started: Instant,
    /// No new message after this.
    stop: Instant,
    next: AtomicU64,
    stats: Mutex<Stats>,
}

#[derive(Default)]
struct Stats {
    /// Latencies of messages that got their final reply, in microseconds.
    latencies: Vec<u64>,
    errors: u64,
    late: u64,
    error_samples: Vec<String>,
}

impl Shared {
    /// The next message to send (its index), once its slot has come when
    /// pacing; `None` when the level is over.
    async fn ticket(&self) -> Option<u64> {
        if Instant::now() >= self.stop {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        if self.total.is_some_and(|n| i >= n) {
            return None;
        }
        if let Some(rate) = self.rate {
            let slot = self.started + Duration::from_secs_f64(i as f64 / rate);
            if slot >= self.stop {
                return None;
            }
            let now = Instant::now();
            if slot > now {
                tokio::time::sleep_until(slot.into()).await;
            } else if now - slot > LATE {
                self.stats().late += 1;
            }
        }
        Some(i)
    }

    fn msg(&self, i: u64) -> Option<&Msg> {
        self.msgs.get(spread(i, self.msgs.len())?)
    }

    fn stats(&self) -> std::sync::MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ok(&self, took: Duration) {
        self.stats()
            .latencies
            .push(u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1));
    }

    fn error(&self, what: impl std::fmt::Display) {
        note_error(&self.stats, what.to_string());
    }
}

/// The report of one level.
struct Level {
    target: Target,
    sessions: usize,
    rate: Option<f64>,
    attempted: u64,
    ok: u64,
    errors: u64,
    late: u64,
    seconds: f64,
    /// p50, p90, p99, max, mean in ms.
    latency_ms: Option<[f64; 5]>,
    mem: Option<Mem>,
    timed_out: bool,
    error_samples: Vec<String>,
}

async fn run_level(plan: &Plan, msgs: &Arc<Vec<Msg>>, pid: Option<u32>) -> Level {
    let peak_reset = pid.is_some_and(reset_peak);
    let started = Instant::now();
    let hard = started + plan.max;
    let stop = plan.duration.map_or(hard, |d| (started + d).min(hard));
    let shared = Arc::new(Shared {
        msgs: Arc::clone(msgs),
        addr: plan.addr,
        total: plan.total,
        rate: plan.rate,
        started,
        stop,
        next: AtomicU64::new(0),
        stats: Mutex::new(Stats::default()),
    });
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..plan.sessions {
        let s = Arc::clone(&shared);
        match plan.target {
            Target::Http => tasks.spawn(http_session(s)),
            Target::Milter => tasks.spawn(milter_session(s)),
        };
    }
    let joined = tokio::time::timeout_at(hard.into(), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    let timed_out = joined.is_err();
    if timed_out {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut stats = std::mem::take(&mut *shared.stats());
    let ok = stats.latencies.len() as u64;
    Level {
        target: plan.target,
        sessions: plan.sessions,
        rate: plan.rate,
        attempted: ok + stats.errors,
        ok,
        errors: stats.errors,
        late: stats.late,
        seconds,
        latency_ms: percentiles(&mut stats.latencies),
        mem: pid.and_then(read_mem).map(|m| Mem {
            peak_scope: if peak_reset { "level" } else { "process" },
            ..m
        }),
        timed_out,
        error_samples: stats.error_samples,
    }
}

/// The `i`-th message to send out of `len`: every message once per `len`
/// sends, in a fixed order that strides across the folders (the loaded
/// order is sorted by path, so a run shorter than the corpus would
/// otherwise see only its first folders).
fn spread(i: u64, len: usize) -> Option<usize> {
    let n = len as u64;
    if n == 0 {
        return None;
    }
    let gcd = |mut a: u64, mut b: u64| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    // A stride near n / golden ratio, coprime with n: a permutation.
    let mut stride = (n as f64 * 0.618_034) as u64 | 1;
    while gcd(stride, n) != 1 {
        stride += 1;
    }
    usize::try_from((i % n) * stride % n).ok()
}

/// p50, p90, p99, max and mean in ms (nearest rank).
fn percentiles(us: &mut [u64]) -> Option<[f64; 5]> {
    if us.is_empty() {
        return None;
    }
    us.sort_unstable();
    let n = us.len();
    let at = |q: f64| {
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        us.get(rank - 1).copied().unwrap_or(0) as f64 / 1000.0
    };
    let mean = us.iter().map(|&u| u as f64).sum::<f64>() / n as f64 / 1000.0;
    Some([at(0.50), at(0.90), at(0.99), at(1.0), mean])
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl Level {
    fn throughput(&self) -> f64 {
        if self.seconds > 0.0 {
            self.ok as f64 / self.seconds
        } else {
            0.0
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "target": self.target.name(),
            "concurrency": self.sessions,
            "rate": self.rate,
            "messages": self.attempted,
            "ok": self.ok,
            "errors": self.errors,
            "late_starts": self.late,
            "seconds": round3(self.seconds),
            "messages_per_second": round3(self.throughput()),
            "latency_ms": self.latency_ms.map(|[p50, p90, p99, max, mean]| json!({
                "p50": round3(p50), "p90": round3(p90), "p99": round3(p99),
                "max": round3(max), "mean": round3(mean),
            })),
            "server_peak_rss_mib": self.mem.map(|m| round3(m.peak_mib)),
            "server_rss_mib": self.mem.map(|m| round3(m.rss_mib)),
            "server_peak_scope": self.mem.map(|m| m.peak_scope),
            "timed_out": self.timed_out,
            "error_samples": self.error_samples,
        })
    }

    fn print_row(&self) {
        let mut row = format!(
            "{:<7}{:>6}{:>10}{:>8}{:>10.1}",
            self.target.name(),
            self.sessions,
            self.attempted,
            self.errors,
            self.throughput()
        );
        match self.latency_ms {
            Some([p50, p90, p99, max, _]) => {
                let _ = write!(row, "{p50:>9.2}{p90:>9.2}{p99:>9.2}{max:>10.2}");
            }
            None => row.push_str(&format!("{:>37}", "-")),
        }
        if let Some(m) = self.mem {
            let _ = write!(row, "{:>11.1}{:>9.1}", m.peak_mib, m.rss_mib);
        }
        if self.rate.is_some() && self.late > 0 {
            let _ = write!(row, "  ({} late starts)", self.late);
        }
        if self.timed_out {
            row.push_str("  (stopped at --max-seconds)");
        }
        println!("{row}");
    }
}

fn print_table_head(mem: bool) {
    let mut h = format!(
        "{:<7}{:>6}{:>10}{:>8}{:>10}{:>9}{:>9}{:>9}{:>10}",
        "target", "conc", "messages", "errors", "msg/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    if mem {
        let _ = write!(h, "{:>11}{:>9}", "peak MiB", "RSS MiB");
    }
    println!("{h}");
}

// ------------------------------------------------------------------ memory

#[derive(Debug, Clone, Copy)]
struct Mem {
    peak_mib: f64,
    rss_mib: f64,
    /// `level` when the peak was reset at the start, else `process`.
    peak_scope: &'static str,
}

/// VmHWM and VmRSS of a process.
fn read_mem(pid: u32) -> Option<Mem> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let kib: u64 = s
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        Some(kib as f64 / 1024.0)
    };
    Some(Mem {
        peak_mib: field("VmHWM:")?,
        rss_mib: field("VmRSS:")?,
        peak_scope: "process",
    })
}

/// Resets the process's peak RSS to its current RSS (Linux `clear_refs` 5);
/// false when not allowed.
fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), b"5").is_ok()
}

// ------------------------------------------------------------------ HTTP

async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let s = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| std::io::Error::other("connect timed out"))??;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Runs `f` under [`IO_TIMEOUT`].
async fn timed<T>(
    what: &str,
    f: impl std::future::Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    tokio::time::timeout(IO_TIMEOUT, f)
        .await
        .map_err(|_| std::io::Error::other(format!("{what}: no answer in {IO_TIMEOUT:?}")))?
}

async fn http_session(shared: Arc<Shared>) {
    let host = shared.addr.to_string();
    let mut conn: Option<HttpConn> = None;
    while let Some(i) = shared.ticket().await {
        let Some(msg) = shared.msg(i) else { return };
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match connect(shared.addr).await {
                Ok(stream) => conn.insert(HttpConn {
                    stream,
                    buf: Vec::with_capacity(16 * 1024),
                }),
                Err(e) => {
                    shared.error(format!("http connect: {e}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let t = Instant::now();
        match timed("http", c.check(&host, msg)).await {
            Ok(reply) => {
                if reply.status == 200 {
                    shared.ok(t.elapsed());
                } else {
                    shared.error(format!(
                        "HTTP {}: {}",
                        reply.status,
                        String::from_utf8_lossy(reply.body.get(..200).unwrap_or(&reply.body))
                    ));
                }
                if reply.close {
                    conn = None;
                }
            }
            Err(e) => {
                shared.error(format!("http: {e}"));
                conn = None;
            }
        }
    }
}

struct HttpConn {
    stream: TcpStream,
    /// Bytes read and not yet used.
    buf: Vec<u8>,
}

struct HttpReply {
    status: u16,
    body: Vec<u8>,
    /// The server will close (or closed) the connection.
    close: bool,
}

fn bad(what: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.into())
}

impl HttpConn {
    /// One `POST /checkv2` and its reply.
    async fn check(&mut self, host: &str, msg: &Msg) -> std::io::Result<HttpReply> {
        let head = format!(
            "POST /checkv2 HTTP/1.1\r\nHost: {host}\r\nRcpt: <{}>\r\nFrom: <{}>\r\nIP: {CLIENT_IP}\r\nHelo: {CLIENT_NAME}\r\nContent-Length: {}\r\n\r\n",
            msg.rcpt,
            msg.sender,
            msg.raw.len()
        );
        self.stream.write_all(head.as_bytes()).await?;
        self.stream.write_all(&msg.raw).await?;
        loop {
            let reply = self.read_reply().await?;
            // 1xx (100 Continue) is followed by the real reply.
            if !(100..200).contains(&reply.status) {
                return Ok(reply);
            }
        }
    }

    /// Reads more bytes; an EOF is an error.
    async fn fill(&mut self) -> std::io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed by the server",
            ));
        }
        self.buf
            .extend_from_slice(chunk.get(..n).unwrap_or_default());
        Ok(())
    }

    /// Takes one CRLF-terminated line (without the CRLF) from the buffer,
    /// reading as needed.
    async fn line(&mut self) -> std::io::Result<Vec<u8>> {
        loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..p + 2).take(p).collect();
                return Ok(line);
            }
            if self.buf.len() > MAX_HTTP_HEAD {
                return Err(bad("HTTP line too long"));
            }
            self.fill().await?;
        }
    }

    /// Takes exactly `n` bytes from the buffer, reading as needed.
    async fn take(&mut self, n: usize) -> std::io::Result<Vec<u8>> {
        while self.buf.len() < n {
            self.fill().await?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    async fn read_reply(&mut self) -> std::io::Result<HttpReply> {
        let status_line = self.line().await?;
        let status_line = String::from_utf8_lossy(&status_line).into_owned();
        let mut parts = status_line.split_whitespace();
        let version = parts.next().unwrap_or_default().to_string();
        let status: u16 = parts
            .next()
            .and_then(|c| c.parse().ok())
            .filter(|_| version.starts_with("HTTP/1."))
            .ok_or_else(|| bad(format!("bad HTTP status line: {status_line:.100}")))?;
        let mut length: Option<usize> = None;
        let mut chunked = false;
        let mut close = version == "HTTP/1.0";
        let mut head_bytes = 0usize;
        loop {
            let line = self.line().await?;
            head_bytes += line.len() + 2;
            if head_bytes > MAX_HTTP_HEAD {
                return Err(bad("HTTP header too large"));
            }
            if line.is_empty() {
                break;
            }
            let line = String::from_utf8_lossy(&line);
            let Some((name, value)) = line.split_once(':') else {
                return Err(bad(format!("bad HTTP header line: {line:.100}")));
            };
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("content-length") {
                let n: usize = value
                    .parse()
                    .map_err(|_| bad(format!("bad Content-Length: {value:.40}")))?;
                length = Some(n);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value
                    .rsplit(',')
                    .next()
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
            } else if name.eq_ignore_ascii_case("connection") {
                let v = value.to_ascii_lowercase();
                if v.split(',').any(|t| t.trim() == "close") {
                    close = true;
                } else if v.split(',').any(|t| t.trim() == "keep-alive") {
                    close = false;
                }
            }
        }
        let no_body = (100..200).contains(&status) || status == 204 || status == 304;
        let body = if no_body {
            Vec::new()
        } else if chunked {
            self.chunked_body().await?
        } else if let Some(n) = length {
            if n > MAX_HTTP_BODY {
                return Err(bad(format!("HTTP body of {n} bytes is too large")));
            }
            self.take(n).await?
        } else {
            // Delimited by the end of the connection.
            close = true;
            loop {
                if self.buf.len() > MAX_HTTP_BODY {
                    return Err(bad("HTTP body too large"));
                }
                match self.fill().await {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(e),
                }
            }
            std::mem::take(&mut self.buf)
        };
        Ok(HttpReply {
            status,
            body,
            close,
        })
    }

    /// A `Transfer-Encoding: chunked` body (extensions and trailers skipped).
    async fn chunked_body(&mut self) -> std::io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line = self.line().await?;
            let line = String::from_utf8_lossy(&line);
            let size = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| bad(format!("bad chunk size: {size:.20}")))?;
            if size == 0 {
                // Trailer fields until the empty line.
                while !self.line().await?.is_empty() {}
                return Ok(body);
            }
            if body.len() + size > MAX_HTTP_BODY {
                return Err(bad("HTTP body too large"));
            }
            body.extend(self.take(size).await?);
            if !self.line().await?.is_empty() {
                return Err(bad("chunk not followed by CRLF"));
            }
        }
    }
}

// ------------------------------------------------------------------ milter

/// The Postfix offer (reference §3.1, milter_protocol = 6).
const OFFER_ACTIONS: u32 = SMFI_CURR_ACTS;
const OFFER_PROTOCOL: u32 = SMFI_CURR_PROT;

/// Queue ids for the `i` macro.
static QUEUE_ID: AtomicU64 = AtomicU64::new(1);

/// How a step of a message ended.
enum Flow {
    /// Go on with the message.
    Next,
    /// The filter ended the message with this reply (final at `E`, or a
    /// non-continue reply earlier).
    Done(Response),
    /// The filter asked to skip the remaining body chunks.
    SkipBody,
}

/// One milter connection, MTA side.
struct MilterConn {
    stream: TcpStream,
    decoder: ResponseDecoder,
    /// Commands encoded and not yet written.
    out: Vec<u8>,
    /// Protocol bits the filter answered (NR_*, NO*, HDR_LEADSPC).
    protocol: u32,
}

impl MilterConn {
    /// Connects and goes through OPTNEG, CONNECT and HELO as Postfix does.
    async fn open(addr: SocketAddr) -> std::io::Result<MilterConn> {
        let stream = connect(addr).await?;
        let mut c = MilterConn {
            stream,
            decoder: ResponseDecoder::new(),
            out: Vec::with_capacity(64 * 1024),
            protocol: 0,
        };
        encode_command(
            &Command::OptNeg {
                version: PROTOCOL_VERSION,
                actions: OFFER_ACTIONS,
                protocol: OFFER_PROTOCOL,
            },
            &mut c.out,
        );
        c.flush().await?;
        match timed("milter OPTNEG", c.next_response()).await? {
            Response::OptNeg {
                version,
                actions,
                protocol,
                ..
            } => {
                if !(2..=PROTOCOL_VERSION).contains(&version) {
                    return Err(bad(format!("filter answered milter version {version}")));
                }
                if actions & !OFFER_ACTIONS != 0 {
                    return Err(bad(format!(
                        "filter asked for actions {actions:#x} beyond the offer {OFFER_ACTIONS:#x}"
                    )));
                }
                c.protocol = protocol;
            }
            other => {
                return Err(bad(format!(
                    "filter answered '{}' to OPTNEG",
                    char::from(other.code())
                )))
            }
        }
        let connect_macros = vec![
            ("j".to_string(), "mx.loadgen.test".to_string()),
            ("{daemon_name}".to_string(), "smtpd".to_string()),
            ("{daemon_addr}".to_string(), "127.0.0.1".to_string()),
            ("v".to_string(), "Postfix 3.7.11".to_string()),
            ("_".to_string(), format!("{CLIENT_NAME} [{CLIENT_IP}]")),
            ("{client_addr}".to_string(), CLIENT_IP.to_string()),
            ("{client_name}".to_string(), CLIENT_NAME.to_string()),
            ("{client_port}".to_string(), "40000".to_string()),
        ];
        let connect = Command::Connect {
            hostname: CLIENT_NAME.to_string(),
            family: Family::Inet4,
            port: 40000,
            address: CLIENT_IP.to_string(),
        };
        let helo = Command::Helo(CLIENT_NAME.to_string());
        for (macros, cmd) in [(connect_macros, connect), (Vec::new(), helo)] {
            let what = char::from(cmd.code());
            match c.step(macros, cmd).await? {
                Flow::Next => {}
                Flow::Done(r) => {
                    return Err(bad(format!(
                        "filter answered '{}' at {what}: session not usable",
                        char::from(r.code())
                    )))
                }
                Flow::SkipBody => {
                    return Err(bad(format!("filter answered 's' at {what}")));
                }
            }
        }
        Ok(c)
    }

    /// `(event switched off by NO*, reply switched off by NR_*)` for a command.
    fn flags(&self, code: u8) -> (bool, bool) {
        let (no, nr) = match code {
            SMFIC_CONNECT => (SMFIP_NOCONNECT, SMFIP_NR_CONN),
            SMFIC_HELO => (SMFIP_NOHELO, SMFIP_NR_HELO),
            SMFIC_MAIL => (SMFIP_NOMAIL, SMFIP_NR_MAIL),
            SMFIC_RCPT => (SMFIP_NORCPT, SMFIP_NR_RCPT),
            SMFIC_DATA => (SMFIP_NODATA, SMFIP_NR_DATA),
            SMFIC_HEADER => (SMFIP_NOHDRS, SMFIP_NR_HDR),
            SMFIC_EOH => (SMFIP_NOEOH, SMFIP_NR_EOH),
            SMFIC_BODY => (SMFIP_NOBODY, SMFIP_NR_BODY),
            // E always gets a reply; A, D, Q never (not sent through here).
            _ => (0, 0),
        };
        (self.protocol & no != 0, self.protocol & nr != 0)
    }

    /// `D` for the command's stage, then the command; waits for the reply
    /// unless the filter negotiated NR for it (as Postfix does, the reply
    /// of an NR command is not read).
    async fn step(&mut self, macros: Vec<(String, String)>, cmd: Command) -> std::io::Result<Flow> {
        let code = cmd.code();
        let (off, no_reply) = self.flags(code);
        if off {
            return Ok(Flow::Next);
        }
        encode_command(
            &Command::Macro {
                stage: code,
                pairs: macros,
            },
            &mut self.out,
        );
        encode_command(&cmd, &mut self.out);
        // Postfix writes each event as it comes, reply or not.
        self.flush().await?;
        if no_reply && code != SMFIC_BODYEOB {
            return Ok(Flow::Next);
        }
        let what = format!("milter '{}'", char::from(code));
        let r = timed(&what, self.final_response()).await?;
        Ok(match r {
            _ if code == SMFIC_BODYEOB => Flow::Done(r),
            Response::Continue => Flow::Next,
            Response::Skip if code == SMFIC_BODY => Flow::SkipBody,
            other => Flow::Done(other),
        })
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            timed("milter write", self.stream.write_all(&self.out)).await?;
            self.out.clear();
        }
        Ok(())
    }

    /// The next response packet.
    async fn next_response(&mut self) -> std::io::Result<Response> {
        let mut chunk = [0u8; 8 * 1024];
        loop {
            if let Some(r) = self
                .decoder
                .next_response()
                .map_err(|e| bad(e.to_string()))?
            {
                return Ok(r);
            }
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "milter connection closed by the filter",
                ));
            }
            self.decoder.feed(chunk.get(..n).unwrap_or_default());
        }
    }

    /// Responses until a final one (a c d r t y s); progress and end-of-
    /// message edits (h i m b q e + - 2) are read and dropped.
    async fn final_response(&mut self) -> std::io::Result<Response> {
        loop {
            let r = self.next_response().await?;
            if r.is_final() {
                return Ok(r);
            }
            if let Response::OptNeg { .. } = r {
                return Err(bad("filter sent OPTNEG in mid-session"));
            }
        }
    }

    /// Sends a message up to and including its first body chunk.
    async fn start_message(&mut self, msg: &Msg) -> std::io::Result<Started> {
        let qid = format!("LG{:010X}", QUEUE_ID.fetch_add(1, Ordering::Relaxed));
        let i = || vec![("i".to_string(), qid.clone())];
        let mail = Command::Mail {
            sender: format!("<{}>", msg.sender),
            args: vec![format!("SIZE={}", msg.raw.len())],
        };
        let mail_macros = vec![
            ("{mail_addr}".to_string(), msg.sender.clone()),
            ("{mail_host}".to_string(), "loadgen.test".to_string()),
            ("{mail_mailer}".to_string(), "smtp".to_string()),
        ];
        if let Flow::Done(r) = self.step(mail_macros, mail).await? {
            return Ok(Started::Decided(r));
        }
        let rcpt = Command::Rcpt {
            recipient: format!("<{}>", msg.rcpt),
            args: Vec::new(),
        };
        let rcpt_macros = vec![
            ("{rcpt_addr}".to_string(), msg.rcpt.clone()),
            ("{rcpt_host}".to_string(), String::new()),
            ("{rcpt_mailer}".to_string(), "virtual".to_string()),
        ];
        if let Flow::Done(r) = self.step(rcpt_macros, rcpt).await? {
            return Ok(Started::Decided(r));
        }
        if let Flow::Done(r) = self.step(i(), Command::Data).await? {
            return Ok(Started::Decided(r));
        }
        let leadspc = self.protocol & SMFIP_HDR_LEADSPC != 0;
        for (name, value) in &msg.headers {
            // Postfix removes exactly one space after the colon unless the
            // filter asked for HDR_LEADSPC.
            let value = if leadspc {
                value.clone()
            } else {
                value.strip_prefix(b" ").unwrap_or(value).to_vec()
            };
            let h = Command::Header {
                name: name.clone(),
                value,
            };
            if let Flow::Done(r) = self.step(i(), h).await? {
                return Ok(Started::Decided(r));
            }
        }
        if let Flow::Done(r) = self.step(i(), Command::EndOfHeaders).await? {
            return Ok(Started::Decided(r));
        }
        let mut skip_body = false;
        if let Some(first) = msg.body.chunks(MAX_CHUNK).next() {
            match self.step(i(), Command::Body(first.to_vec())).await? {
                Flow::Done(r) => return Ok(Started::Decided(r)),
                Flow::SkipBody => skip_body = true,
                Flow::Next => {}
            }
        }
        Ok(Started::Going { qid, skip_body })
    }

    /// Sends the rest of the body and `E`; returns the final reply.
    async fn finish_message(
        &mut self,
        msg: &Msg,
        qid: &str,
        skip_body: bool,
    ) -> std::io::Result<Response> {
        let i = || vec![("i".to_string(), qid.to_string())];
        if !skip_body {
            for chunk in msg.body.chunks(MAX_CHUNK).skip(1) {
                match self.step(i(), Command::Body(chunk.to_vec())).await? {
                    Flow::Done(r) => return Ok(r),
                    Flow::SkipBody => break,
                    Flow::Next => {}
                }
            }
        }
        match self.step(i(), Command::EndOfMessage(Vec::new())).await? {
            Flow::Done(Response::Skip) => Err(bad("filter answered 's' to end of message")),
            Flow::Done(r) => Ok(r),
            Flow::Next | Flow::SkipBody => Err(bad("no final reply to end of message")),
        }
    }

    /// One whole message; returns the final reply.
    async fn message(&mut self, msg: &Msg) -> std::io::Result<Response> {
        match self.start_message(msg).await? {
            Started::Decided(r) => Ok(r),
            Started::Going { qid, skip_body } => self.finish_message(msg, &qid, skip_body).await,
        }
    }

    /// `A` after a message (no reply), as Postfix sends it.
    async fn end_message(&mut self) -> std::io::Result<()> {
        encode_command(&Command::Abort, &mut self.out);
        self.flush().await
    }

    /// `A`, `Q`, close; errors do not matter any more.
    async fn quit(mut self) {
        encode_command(&Command::Abort, &mut self.out);
        encode_command(&Command::Quit, &mut self.out);
        let _ = self.flush().await;
        let _ = tokio::time::timeout(CONNECT_TIMEOUT, self.stream.shutdown()).await;
    }
}

/// A message sent up to its first body chunk.
enum Started {
    /// The filter decided before the end of the message.
    Decided(Response),
    /// Go on with [`MilterConn::finish_message`].
    Going {
        /// Queue id of the message (`i` macro).
        qid: String,
        /// The filter answered SKIP to the first chunk.
        skip_body: bool,
    },
}

async fn milter_session(shared: Arc<Shared>) {
    let mut conn: Option<MilterConn> = None;
    while let Some(i) = shared.ticket().await {
        let Some(msg) = shared.msg(i) else { break };
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match MilterConn::open(shared.addr).await {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    shared.error(format!("milter connect: {e}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let t = Instant::now();
        match c.message(msg).await {
            Ok(_) => {
                shared.ok(t.elapsed());
                if c.end_message().await.is_err() {
                    conn = None;
                }
            }
            Err(e) => {
                shared.error(format!("milter: {e}"));
                conn = None;
            }
        }
    }
    if let Some(c) = conn {
        c.quit().await;
    }
}

// ------------------------------------------------------------------ hold

/// The report of a `--hold-sessions` run.
struct Hold {
    sessions: usize,
    held: usize,
    completed: usize,
    errors: u64,
    error_samples: Vec<String>,
    open_seconds: f64,
    finish_seconds: f64,
    before: Option<Mem>,
    while_held: Option<Mem>,
    after: Option<Mem>,
    timed_out: bool,
}

/// Pause before reading the server's memory once every session is held:
/// with NR flags nothing acknowledges the last chunk, so give the server
/// time to read it.
const SETTLE: Duration = Duration::from_secs(1);

async fn hold(
    addr: SocketAddr,
    n: usize,
    msgs: &Arc<Vec<Msg>>,
    pid: Option<u32>,
    max: Duration,
) -> Hold {
    let before = pid.and_then(read_mem);
    let peak_reset = pid.is_some_and(reset_peak);
    let scope = |m: Mem| Mem {
        peak_scope: if peak_reset { "run" } else { "process" },
        ..m
    };
    let stats = Arc::new(Mutex::new(Stats::default()));
    let ready = Arc::new(AtomicUsize::new(0));
    let gone = Arc::new(AtomicUsize::new(0));
    let completed = Arc::new(AtomicUsize::new(0));
    let (release, released) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0..n {
        let Some(msg_index) = spread(k as u64, msgs.len()) else {
            break;
        };
        let msgs = Arc::clone(msgs);
        let stats = Arc::clone(&stats);
        let (ready, gone, completed) = (
            Arc::clone(&ready),
            Arc::clone(&gone),
            Arc::clone(&completed),
        );
        let mut released = released.clone();
        tasks.spawn(async move {
            let Some(msg) = msgs.get(msg_index) else {
                return;
            };
            let fail = |what: String| {
                note_error(&stats, what);
                gone.fetch_add(1, Ordering::Relaxed);
            };
            let mut c = match MilterConn::open(addr).await {
                Ok(c) => c,
                Err(e) => return fail(format!("milter connect: {e}")),
            };
            let (qid, skip_body) = match c.start_message(msg).await {
                Ok(Started::Going { qid, skip_body }) => (qid, skip_body),
                Ok(Started::Decided(r)) => {
                    return fail(format!(
                        "filter answered '{}' before end of message: nothing held",
                        char::from(r.code())
                    ))
                }
                Err(e) => return fail(format!("milter: {e}")),
            };
            ready.fetch_add(1, Ordering::Relaxed);
            if tokio::time::timeout(max, released.wait_for(|go| *go))
                .await
                .map_or(true, |r| r.is_err())
            {
                note_error(&stats, "never released".to_string());
                return;
            }
            match c.finish_message(msg, &qid, skip_body).await {
                Ok(_) => {
                    completed.fetch_add(1, Ordering::Relaxed);
                    let _ = c.end_message().await;
                    c.quit().await;
                }
                Err(e) => note_error(&stats, format!("milter after the pause: {e}")),
            }
        });
    }
    // Wait until every session is held (or failed), bounded.
    let deadline = started + max;
    let mut timed_out = false;
    while ready.load(Ordering::Relaxed) + gone.load(Ordering::Relaxed) < n {
        if Instant::now() >= deadline {
            timed_out = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let open_seconds = started.elapsed().as_secs_f64();
    let held = ready.load(Ordering::Relaxed);
    tokio::time::sleep(SETTLE).await;
    let while_held = pid.and_then(read_mem).map(scope);
    let finishing = Instant::now();
    let _ = release.send(true);
    let joined =
        tokio::time::timeout(max, async { while tasks.join_next().await.is_some() {} }).await;
    if joined.is_err() {
        timed_out = true;
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    let finish_seconds = finishing.elapsed().as_secs_f64();
    // Let the server drop the finished sessions before the last reading.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = pid.and_then(read_mem).map(scope);
    let stats = std::mem::take(&mut *stats.lock().unwrap_or_else(|e| e.into_inner()));
    let completed = completed.load(Ordering::Relaxed);
    Hold {
        sessions: n,
        held,
        completed,
        errors: stats.errors.max((n - completed.min(n)) as u64),
        error_samples: stats.error_samples,
        open_seconds,
        finish_seconds,
        before,
        while_held,
        after,
        timed_out,
    }
}

fn note_error(stats: &Mutex<Stats>, what: String) {
    let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
    s.errors += 1;
    if s.error_samples.len() < ERROR_SAMPLES && !s.error_samples.contains(&what) {
        s.error_samples.push(what);
    }
}

impl Hold {
    fn to_json(&self) -> Value {
        let mem = |m: Option<Mem>| {
            m.map(|m| {
                json!({
                    "peak_rss_mib": round3(m.peak_mib),
                    "rss_mib": round3(m.rss_mib),
                    "peak_scope": m.peak_scope,
                })
            })
        };
        json!({
            "sessions": self.sessions,
            "held": self.held,
            "completed": self.completed,
            "errors": self.errors,
            "open_seconds": round3(self.open_seconds),
            "finish_seconds": round3(self.finish_seconds),
            "server_before": mem(self.before),
            "server_while_held": mem(self.while_held),
            "server_after": mem(self.after),
            "timed_out": self.timed_out,
            "error_samples": self.error_samples,
        })
    }

    fn print(&self) {
        println!(
            "hold: {} milter sessions paused before end of message: {} held (in {:.2} s), {} completed (in {:.2} s), {} errors{}",
            self.sessions,
            self.held,
            self.open_seconds,
            self.completed,
            self.finish_seconds,
            self.errors,
            if self.timed_out { " (stopped at --max-seconds)" } else { "" }
        );
        let line = |label: &str, m: Option<Mem>| {
            if let Some(m) = m {
                println!(
                    "  server {label:<11} peak {:>7.1} MiB ({}), RSS {:>7.1} MiB",
                    m.peak_mib, m.peak_scope, m.rss_mib
                );
            }
        };
        line("before", self.before);
        line("while held", self.while_held);
        line("after", self.after);
        for e in &self.error_samples {
            println!("  error: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]

    use super::*;
    use phishgate_milter::consts::{SMFIF_ADDHDRS, SMFIP_NR_ALL};
    use phishgate_milter::{encode_response, Decoder, Limits, Session, Step, Wanted};
    use tokio::net::TcpListener;

    const RAW: &[u8] = b"Return-Path: <a@b.example>\r\nFrom: A <a@b.example>\r\nTo: Someone <c@d.example>, e@f.example\r\nSubject:  two spaces\r\nX-Folded: part1\r\n\tpart2\r\n\r\nline1\r\nline2\r\n";

    #[test]
    fn messages_are_split_as_postfix_sends_them() {
        let m = prepare(RAW.to_vec()).unwrap();
        let names: Vec<&str> = m.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Return-Path", "From", "To", "Subject", "X-Folded"]);
        assert_eq!(m.headers[3].1, b"  two spaces");
        assert_eq!(m.headers[4].1, b" part1\n\tpart2");
        assert_eq!(m.body, b"line1\r\nline2\r\n");
        assert_eq!(
            (m.sender.as_str(), m.rcpt.as_str()),
            ("a@b.example", "c@d.example")
        );

        // LF endings become CRLF; an mbox line is dropped; a last line
        // without ending gets one.
        let m = prepare(b"From x@y Mon Jan 1\nSubject: s\n\nb\n\nc".to_vec()).unwrap();
        assert_eq!(m.headers, [("Subject".to_string(), b" s".to_vec())]);
        assert_eq!(m.body, b"b\r\n\r\nc\r\n");
        assert_eq!(m.sender, "sender@loadgen.test");

        // A non-header line ends the header; no header at all is not mail.
        let m = prepare(b"A: 1\nnot a header\nx\n".to_vec()).unwrap();
        assert_eq!(m.headers.len(), 1);
        assert_eq!(m.body, b"not a header\r\nx\r\n");
        assert!(prepare(b"just some text\n".to_vec()).is_none());
        assert!(prepare(Vec::new()).is_none());
        assert_eq!(address_in(b" <bad address@x>"), None);
    }

    #[test]
    fn only_loopback_targets() {
        assert!(loopback("127.0.0.1:11380").is_ok());
        assert!(loopback("127.1.2.3:1").is_ok());
        assert!(loopback("[::1]:1").is_ok());
        assert!(loopback("[::ffff:127.0.0.1]:1").is_ok());
        for bad in ["192.0.2.1:80", "[2001:db8::1]:80", "0.0.0.0:1"] {
            let e = loopback(bad).unwrap_err().to_string();
            assert!(e.contains("loopback only"), "{e}");
        }
        assert!(loopback("no-port").is_err());
    }

    #[test]
    fn every_message_once_per_round() {
        for len in [1usize, 2, 3, 10, 381, 6337] {
            let mut seen: Vec<usize> = (0..len as u64).map(|i| spread(i, len).unwrap()).collect();
            assert_eq!(spread(len as u64, len), spread(0, len));
            seen.sort_unstable();
            assert_eq!(seen, (0..len).collect::<Vec<_>>());
        }
        assert_eq!(spread(5, 0), None);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<u64> = (1..=100).rev().map(|x| x * 1000).collect();
        let p = percentiles(&mut v).unwrap();
        assert_eq!(p[..4], [50.0, 90.0, 99.0, 100.0]);
        assert!((p[4] - 50.5).abs() < 1e-9);
        assert!(percentiles(&mut []).is_none());
    }

    /// Reads one request (head and Content-Length body) on the server side.
    async fn read_request(s: &mut TcpStream) -> Vec<u8> {
        let mut req = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(p) = req.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&req[..p]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap();
                if req.len() >= p + 4 + len {
                    return req;
                }
            }
            let n = s.read(&mut chunk).await.unwrap();
            assert!(n > 0, "client closed");
            req.extend_from_slice(&chunk[..n]);
        }
    }

    #[tokio::test]
    async fn http_replies_chunked_or_with_length() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let req = read_request(&mut s).await;
            let text = String::from_utf8_lossy(&req).into_owned();
            assert!(text.starts_with("POST /checkv2 HTTP/1.1\r\n"), "{text}");
            assert!(text.contains("\r\nRcpt: <c@d.example>\r\n"), "{text}");
            assert!(text.contains("\r\nFrom: <a@b.example>\r\n"), "{text}");
            assert!(text.contains("\r\nIP: 203.0.113.7\r\n"), "{text}");
            assert!(req.ends_with(RAW), "{text}");
            s.write_all(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=1\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\nX-Trailer: y\r\n\r\n")
                .await
                .unwrap();
            read_request(&mut s).await;
            s.write_all(b"HTTP/1.1 503 Busy\r\ncontent-length: 2\r\nConnection: close\r\n\r\nno")
                .await
                .unwrap();
        });
        let msg = prepare(RAW.to_vec()).unwrap();
        let mut c = HttpConn {
            stream: connect(addr).await.unwrap(),
            buf: Vec::new(),
        };
        let r = c.check("h", &msg).await.unwrap();
        assert_eq!(
            (r.status, r.body.as_slice(), r.close),
            (200, &b"{\"a\":1}"[..], false)
        );
        let r = c.check("h", &msg).await.unwrap();
        assert_eq!(
            (r.status, r.body.as_slice(), r.close),
            (503, &b"no"[..], true)
        );
        server.await.unwrap();
    }

    /// A filter on the crate's own codec: answers with `protocol` bits,
    /// adds a header at end of message, and returns the messages it saw.
    async fn filter(listener: TcpListener, protocol: u32) -> Vec<Vec<u8>> {
        let (mut s, _) = listener.accept().await.unwrap();
        let wanted = Wanted {
            actions: SMFIF_ADDHDRS,
            protocol,
            macro_lists: Vec::new(),
        };
        let mut session = Session::new(wanted, Limits::default());
        let mut decoder = Decoder::new();
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 4096];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                return seen;
            }
            decoder.feed(&buf[..n]);
            let mut out = Vec::new();
            while let Some(cmd) = decoder.next_command().unwrap() {
                match session.handle(cmd).unwrap() {
                    Step::Reply(r) => encode_response(&r, &mut out),
                    Step::NoReply | Step::NewConnection => {}
                    Step::EndOfMessage(m) => {
                        seen.push(m.raw_message());
                        let edit = Response::AddHeader {
                            name: "X-Test".into(),
                            value: "yes".into(),
                        };
                        encode_response(&Response::Progress, &mut out);
                        session
                            .finish(&[edit], &Response::Accept, &mut out)
                            .unwrap();
                    }
                    Step::Close => return seen,
                }
            }
            s.write_all(&out).await.unwrap();
        }
    }

    #[tokio::test]
    async fn milter_sessions_follow_the_negotiated_flags() {
        let mut big = b"Subject: big\r\n\r\n".to_vec();
        for i in 0..4000 {
            big.extend_from_slice(
                format!("line {i:04} of a long body.............\r\n").as_bytes(),
            );
        }
        assert!(big.len() > 2 * MAX_CHUNK);
        let msgs = [
            prepare(RAW.to_vec()).unwrap(),
            prepare(big.clone()).unwrap(),
        ];
        for protocol in [0, SMFIP_HDR_LEADSPC, SMFIP_NR_ALL | SMFIP_HDR_LEADSPC] {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = tokio::spawn(filter(listener, protocol));
            let mut c = MilterConn::open(addr).await.unwrap();
            assert_eq!(c.protocol, protocol);
            for m in &msgs {
                assert_eq!(c.message(m).await.unwrap(), Response::Accept);
                c.end_message().await.unwrap();
            }
            c.quit().await;
            let seen = server.await.unwrap();
            assert_eq!(seen.len(), 2, "protocol {protocol:#x}");
            assert_eq!(seen[0], RAW, "protocol {protocol:#x}");
            assert_eq!(seen[1], big, "protocol {protocol:#x}");
        }
    }
}
