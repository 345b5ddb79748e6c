//! `phishgate serve` against hostile and unlucky peers, end to end over
//! loopback: slow senders time out, oversized messages are refused cleanly,
//! a flood of connections is capped, garbage on the milter or SMTP port
//! closes that connection only, the envelope survives the content filter,
//! relay failures become 4xx/5xx upstream, and SIGTERM lets a transaction
//! in flight finish.
//!
//! Every wait is bounded (a socket read timeout or a deadline), and timing
//! assertions are generous ("closed within 10 s"): the machine running CI
//! may be small and busy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use phishgate_testkit::{dot_stuff, SmtpSink};
use support::{repo, try_http, Server};

/// A lure the corpus configuration scores `reject`.
const LURE: &str = "corpus/phish/vi/01-xac-minh-tai-khoan-webmail.eml";
/// Bound on any single read: a server that hangs fails the test, it does
/// not hang it.
const IO: Duration = Duration::from_secs(15);
/// "Closed within a few seconds", generously.
const CLOSE_WITHIN: Duration = Duration::from_secs(10);

/// A small, plainly legitimate message (CRLF line endings).
fn legit(subject: &str) -> Vec<u8> {
    format!(
        "From: Van phong <sender@example.net>\r\n\
         To: tonghop@laocai.gov.vn\r\n\
         Subject: {subject}\r\n\
         Date: Tue, 13 Jan 2026 08:14:22 +0700\r\n\
         Message-ID: <hostile-{subject}@example.net>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         Kính gửi anh chị,\r\n\
         Cuộc họp giao ban tuần này chuyển sang chiều thứ Năm, phòng họp số 2.\r\n\
         .Dòng này bắt đầu bằng dấu chấm.\r\n\
         Trân trọng.\r\n"
    )
    .into_bytes()
}

/// The lure with CRLF line endings (what the SMTP codec stores).
fn lure_crlf() -> Vec<u8> {
    let raw = std::fs::read(repo().join(LURE)).unwrap();
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 20);
    let mut prev = 0u8;
    for &b in &raw {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

fn is_closed_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
    )
}

/// Reads (and discards) until the peer closes. True on EOF or reset, false
/// when `within` passes with the connection still open.
fn wait_closed(s: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        s.set_read_timeout(Some(left.max(Duration::from_millis(10))))
            .unwrap();
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if is_closed_error(&e) => return true,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("unexpected read error: {e}"),
        }
    }
}

/// A tiny deterministic PRNG (xorshift64*), so garbage is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 32) as u8).collect()
    }
    /// A line of binary garbage: no LF inside, at least one NUL and one
    /// byte that is not UTF-8, then CRLF.
    fn garbage_line(&mut self) -> Vec<u8> {
        let n = 8 + (self.next() % 120) as usize;
        let mut l: Vec<u8> = self
            .bytes(n)
            .into_iter()
            .map(|b| if b == b'\n' { b'x' } else { b })
            .collect();
        l.insert(0, 0xff);
        l.push(0);
        l.extend_from_slice(b"\r\n");
        l
    }
}

// ---------------------------------------------------------------------
// SMTP, raw
// ---------------------------------------------------------------------

/// A raw SMTP client: exact bytes out, replies in, EOF and resets seen.
struct Smtp {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Smtp {
    fn connect(addr: SocketAddr) -> Smtp {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        s.set_read_timeout(Some(IO)).unwrap();
        s.set_write_timeout(Some(IO)).unwrap();
        s.set_nodelay(true).unwrap();
        Smtp {
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
        }
    }

    /// Connects and expects `220`.
    fn open(addr: SocketAddr) -> Smtp {
        let mut c = Smtp::connect(addr);
        let (code, text) = c.reply().expect("greeting");
        assert_eq!(code, 220, "{text}");
        c
    }

    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.w.write_all(bytes)?;
        self.w.flush()
    }

    /// One (possibly multi-line) reply; `None` when the server closed.
    fn reply(&mut self) -> Option<(u16, String)> {
        let mut text = Vec::new();
        loop {
            let mut raw = Vec::new();
            match self.r.read_until(b'\n', &mut raw) {
                Ok(0) => {
                    assert!(text.is_empty(), "closed inside a reply: {text:?}");
                    return None;
                }
                Ok(_) => {}
                Err(e) if is_closed_error(&e) => return None,
                Err(e) => panic!("no SMTP reply within {IO:?}: {e} (so far {text:?})"),
            }
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end_matches(['\r', '\n']).to_string();
            let code: u16 = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .unwrap_or_else(|| panic!("not an SMTP reply line: {line:?}"));
            let more = line.as_bytes().get(3) == Some(&b'-');
            text.push(line.get(4..).unwrap_or("").to_string());
            if !more {
                return Some((code, text.join("\n")));
            }
        }
    }

    /// Sends a command line and returns the reply (the server must answer).
    fn cmd(&mut self, line: &str) -> (u16, String) {
        self.send(format!("{line}\r\n").as_bytes()).unwrap();
        self.reply()
            .unwrap_or_else(|| panic!("server closed after {line:?}"))
    }

    /// Sends a command line and asserts the reply code.
    fn ok(&mut self, line: &str, code: u16) -> String {
        let (got, text) = self.cmd(line);
        assert_eq!(got, code, "{line:?} -> {got} {text}");
        text
    }

    /// After `354`: the message dot-stuffed and terminated; the reply.
    fn data(&mut self, message: &[u8]) -> (u16, String) {
        self.send(&dot_stuff(message)).unwrap();
        self.reply().expect("reply to the final dot")
    }

    /// EHLO, MAIL, RCPT..., DATA (354).
    fn envelope(&mut self, from: &str, rcpts: &[&str]) {
        self.ok("EHLO client.example", 250);
        self.ok(&format!("MAIL FROM:<{from}>"), 250);
        for r in rcpts {
            self.ok(&format!("RCPT TO:<{r}>"), 250);
        }
        self.ok("DATA", 354);
    }

    /// True if a reply is already buffered (read but not consumed).
    fn has_buffered(&self) -> bool {
        !self.r.buffer().is_empty()
    }

    fn closed_within(&mut self, within: Duration) -> bool {
        if self.has_buffered() {
            return false;
        }
        wait_closed(self.r.get_mut(), within)
    }
}

// ---------------------------------------------------------------------
// Milter, MTA side (hand-encoded frames, reference §1, §3, §5)
// ---------------------------------------------------------------------

const SMFIP_NR_HDR: u32 = 0x80;
const SMFIP_NR_CONN: u32 = 0x1000;
const SMFIP_NR_HELO: u32 = 0x2000;
const SMFIP_NR_MAIL: u32 = 0x4000;
const SMFIP_NR_RCPT: u32 = 0x8000;
const SMFIP_NR_DATA: u32 = 0x1_0000;
const SMFIP_NR_EOH: u32 = 0x4_0000;
const SMFIP_NR_BODY: u32 = 0x8_0000;

fn frame(code: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 5);
    f.extend_from_slice(&(payload.len() as u32 + 1).to_be_bytes());
    f.push(code);
    f.extend_from_slice(payload);
    f
}

fn cstr(parts: &[&[u8]]) -> Vec<u8> {
    let mut p = Vec::new();
    for s in parts {
        p.extend_from_slice(s);
        p.push(0);
    }
    p
}

/// What Postfix 3.x offers by default: version 6, every action, every
/// protocol bit.
fn optneg_frame() -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&6u32.to_be_bytes());
    p.extend_from_slice(&0x1ffu32.to_be_bytes());
    p.extend_from_slice(&0x1f_ffffu32.to_be_bytes());
    frame(b'O', &p)
}

struct Milter {
    s: TcpStream,
    /// Protocol word the filter answered (its NR_* bits say which commands
    /// get no reply).
    proto: u32,
}

/// A reply frame: letter and payload.
type Frame = (u8, Vec<u8>);

impl Milter {
    fn connect(addr: SocketAddr) -> Milter {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        s.set_read_timeout(Some(IO)).unwrap();
        s.set_write_timeout(Some(IO)).unwrap();
        s.set_nodelay(true).unwrap();
        Milter { s, proto: 0 }
    }

    /// Connects and negotiates; panics unless the filter answers `O`.
    fn open(addr: SocketAddr) -> Milter {
        let mut m = Milter::connect(addr);
        m.s.write_all(&optneg_frame()).unwrap();
        let (code, payload) = m.read().expect("OPTNEG reply");
        m.accept_optneg(code, &payload);
        m
    }

    fn accept_optneg(&mut self, code: u8, payload: &[u8]) {
        assert_eq!(code, b'O', "first reply must be OPTNEG");
        assert!(payload.len() >= 12, "short OPTNEG reply");
        let version = u32::from_be_bytes(payload[0..4].try_into().unwrap());
        let actions = u32::from_be_bytes(payload[4..8].try_into().unwrap());
        assert_eq!(version, 6);
        assert_eq!(actions & !0x1ff, 0, "actions beyond the offer");
        self.proto = u32::from_be_bytes(payload[8..12].try_into().unwrap());
    }

    /// One response frame; `None` when the filter closed the connection.
    fn read(&mut self) -> Option<Frame> {
        let mut len = [0u8; 4];
        match self.s.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof || is_closed_error(&e) => return None,
            Err(e) => panic!("no milter response within {IO:?}: {e}"),
        }
        let n = u32::from_be_bytes(len) as usize;
        assert!((1..=16 << 20).contains(&n), "bad response length {n}");
        let mut body = vec![0u8; n];
        self.s.read_exact(&mut body).expect("milter response body");
        let payload = body.split_off(1);
        Some((body[0], payload))
    }

    /// Sends a command; reads and checks its `c` unless `nr_bit` was
    /// negotiated.
    fn command(&mut self, code: u8, payload: &[u8], nr_bit: u32) {
        self.s.write_all(&frame(code, payload)).unwrap();
        if self.proto & nr_bit == 0 {
            let (r, _) = self.read().expect("reply to a milter command");
            assert_eq!(r, b'c', "reply to {:?}", code as char);
        }
    }

    fn connect_helo(&mut self) {
        let mut c = b"mx.example\0".to_vec();
        c.push(b'4');
        c.extend_from_slice(&25000u16.to_be_bytes());
        c.extend_from_slice(b"203.0.113.9\0");
        self.command(b'C', &c, SMFIP_NR_CONN);
        self.command(b'H', b"mx.example\0", SMFIP_NR_HELO);
    }

    /// MAIL .. EOM of one message; returns the edits and the final reply.
    fn message(&mut self, headers: &[(&str, &str)], body: &[u8]) -> (Vec<Frame>, Frame) {
        self.command(b'M', &cstr(&[b"<sender@example.net>"]), SMFIP_NR_MAIL);
        self.command(b'R', &cstr(&[b"<tonghop@laocai.gov.vn>"]), SMFIP_NR_RCPT);
        self.command(b'T', b"", SMFIP_NR_DATA);
        for (name, value) in headers {
            self.command(
                b'L',
                &cstr(&[name.as_bytes(), value.as_bytes()]),
                SMFIP_NR_HDR,
            );
        }
        self.command(b'N', b"", SMFIP_NR_EOH);
        for chunk in body.chunks(65535) {
            self.command(b'B', chunk, SMFIP_NR_BODY);
        }
        self.s.write_all(&frame(b'E', b"")).unwrap();
        let mut edits = Vec::new();
        loop {
            let f = self.read().expect("end-of-message answer");
            if b"acdrty".contains(&f.0) {
                // Postfix then sends A (no reply).
                self.s.write_all(&frame(b'A', b"")).unwrap();
                return (edits, f);
            }
            assert!(
                b"himbqp".contains(&f.0),
                "unexpected response {:?} at end of message",
                f.0 as char
            );
            edits.push(f);
        }
    }

    /// `Q`, then the filter closes.
    fn quit(mut self) {
        self.s.write_all(&frame(b'Q', b"")).unwrap();
        assert!(wait_closed(&mut self.s, CLOSE_WITHIN), "no close after Q");
    }
}

fn milter_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("From", " Van phong <sender@example.net>"),
        ("To", " tonghop@laocai.gov.vn"),
        ("Subject", " Lich hop giao ban"),
        ("Date", " Tue, 13 Jan 2026 08:14:22 +0700"),
        ("Message-ID", " <milter-hostile@example.net>"),
    ]
}

const MILTER_BODY: &[u8] =
    b"Cuoc hop giao ban tuan nay chuyen sang chieu thu Nam.\r\nTran trong.\r\n";

fn inserted_header_names(edits: &[Frame]) -> Vec<String> {
    edits
        .iter()
        .filter(|(c, _)| *c == b'i' || *c == b'h')
        .map(|(c, p)| {
            let p = if *c == b'i' { &p[4..] } else { &p[..] };
            let end = p.iter().position(|&b| b == 0).unwrap_or(p.len());
            String::from_utf8_lossy(&p[..end]).into_owned()
        })
        .collect()
}

// ---------------------------------------------------------------------
// A recording relay that announces DSN (the testkit sink does not)
// ---------------------------------------------------------------------

#[derive(Debug, Default, Clone)]
struct RawLog {
    /// Every command line received, in order (without CRLF).
    lines: Vec<String>,
    /// Each message, dot-unstuffed.
    messages: Vec<Vec<u8>>,
}

type Gate = Arc<(Mutex<bool>, Condvar)>;

/// Announces `PIPELINING SIZE 8BITMIME SMTPUTF8 DSN XFORWARD NAME ADDR PROTO
/// HELO`, records raw commands, and answers each final dot only once its
/// gate is open.
struct RawSink {
    addr: SocketAddr,
    log: Arc<Mutex<RawLog>>,
    gate: Gate,
}

impl RawSink {
    fn start(open: bool) -> RawSink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(RawLog::default()));
        let gate: Gate = Arc::new((Mutex::new(open), Condvar::new()));
        {
            let log = Arc::clone(&log);
            let gate = Arc::clone(&gate);
            // Blocks in accept until the test process exits.
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let log = Arc::clone(&log);
                    let gate = Arc::clone(&gate);
                    std::thread::spawn(move || {
                        let _ = serve_raw(stream, &log, &gate);
                    });
                }
            });
        }
        RawSink { addr, log, gate }
    }

    fn open_gate(&self) {
        *self.gate.0.lock().unwrap() = true;
        self.gate.1.notify_all();
    }

    fn log(&self) -> RawLog {
        self.log.lock().unwrap().clone()
    }

    fn wait_messages(&self, n: usize) -> RawLog {
        let deadline = Instant::now() + IO;
        loop {
            let log = self.log();
            if log.messages.len() >= n {
                return log;
            }
            assert!(Instant::now() < deadline, "sink got {log:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve_raw(stream: TcpStream, log: &Mutex<RawLog>, gate: &Gate) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    w.write_all(b"220 rawsink.test ESMTP\r\n")?;
    loop {
        let mut raw = Vec::new();
        if r.read_until(b'\n', &mut raw)? == 0 {
            return Ok(());
        }
        let line = String::from_utf8_lossy(&raw)
            .trim_end_matches(['\r', '\n'])
            .to_string();
        log.lock().unwrap().lines.push(line.clone());
        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => w.write_all(
                b"250-rawsink.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n\
                  250-SMTPUTF8\r\n250-DSN\r\n250 XFORWARD NAME ADDR PROTO HELO\r\n",
            )?,
            "DATA" => {
                w.write_all(b"354 go ahead\r\n")?;
                let mut data = Vec::new();
                loop {
                    let mut l = Vec::new();
                    if r.read_until(b'\n', &mut l)? == 0 {
                        return Ok(());
                    }
                    if l == b".\r\n" {
                        break;
                    }
                    let l = if l.first() == Some(&b'.') {
                        &l[1..]
                    } else {
                        &l
                    };
                    data.extend_from_slice(l);
                }
                log.lock().unwrap().messages.push(data);
                let (lock, cv) = &**gate;
                let open = cv
                    .wait_timeout_while(lock.lock().unwrap(), Duration::from_secs(30), |o| !*o)
                    .unwrap();
                drop(open);
                w.write_all(b"250 2.0.0 Ok: kept by the raw sink\r\n")?;
            }
            "QUIT" => {
                w.write_all(b"221 2.0.0 Bye\r\n")?;
                return Ok(());
            }
            _ => w.write_all(b"250 2.0.0 Ok\r\n")?,
        }
    }
}

// ---------------------------------------------------------------------
// Helpers on the server
// ---------------------------------------------------------------------

/// [`Server::start`], then waits until every listener is bound: `/ping`
/// answers as soon as the HTTP listener is up, a moment before the milter
/// and SMTP listeners exist. The free ports are chosen before the process
/// binds them, so a port another test took meanwhile means a fresh start.
fn start(name: &str, relay: Option<SocketAddr>, extra: &str) -> Server {
    for _ in 0..5 {
        let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Server::start(name, relay, extra)
        }));
        let mut s = match started {
            Ok(s) => s,
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_default();
                if msg.contains("cannot listen") {
                    continue;
                }
                std::panic::resume_unwind(payload);
            }
        };
        let deadline = Instant::now() + IO;
        loop {
            if s.log_text().contains("phishgate serve started") {
                return s;
            }
            if !alive(&mut s) {
                let log = s.log_text();
                assert!(log.contains("cannot listen"), "serve exited:\n{log}");
                break;
            }
            assert!(Instant::now() < deadline, "not started:\n{}", s.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("could not start phishgate serve on free ports");
}

fn alive(s: &mut Server) -> bool {
    s.child.as_mut().unwrap().try_wait().unwrap().is_none()
}

fn assert_healthy(s: &mut Server) {
    assert!(alive(s), "phishgate serve died:\n{}", s.log_text());
    let (status, body) = try_http(s.http, "GET", "/ping", &[], b"").unwrap();
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8_lossy(&body).trim(), "pong");
    assert!(!s.log_text().contains("panicked"), "{}", s.log_text());
}

/// Retries `f` until it returns `Some` (a slot freed by a closing session
/// is released a moment after the client sees the close).
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + CLOSE_WITHIN;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {CLOSE_WITHIN:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------
// 1. Slow senders
// ---------------------------------------------------------------------

#[test]
fn slow_senders_time_out() {
    let mut s = start(
        "slow",
        None,
        "[gateway]\nidle_timeout_secs = 1\nmilter_idle_timeout_secs = 1\n",
    );
    let (smtp, milter) = (s.smtp, s.milter);
    std::thread::scope(|sc| {
        // SMTP: EHLO, then silence -> 421, then close.
        sc.spawn(move || {
            let t = Instant::now();
            let mut c = Smtp::open(smtp);
            c.ok("EHLO x", 250);
            let (code, text) = c.reply().expect("a 421 before the close");
            assert_eq!(code, 421, "{text}");
            assert!(text.contains("4.4.2"), "{text}");
            assert!(c.closed_within(CLOSE_WITHIN), "still open after the 421");
            assert!(t.elapsed() < CLOSE_WITHIN, "{:?}", t.elapsed());
        });
        // SMTP: silent in the middle of DATA -> 421 and close as well.
        sc.spawn(move || {
            let mut c = Smtp::open(smtp);
            c.envelope("sender@example.net", &["tonghop@laocai.gov.vn"]);
            c.send(b"Subject: half\r\n\r\nthe first half of a body\r\n")
                .unwrap();
            let (code, text) = c.reply().expect("a 421 before the close");
            assert_eq!(code, 421, "{text}");
            assert!(c.closed_within(CLOSE_WITHIN));
        });
        // Milter: nothing at all.
        sc.spawn(move || {
            let mut m = Milter::connect(milter);
            assert!(
                wait_closed(&mut m.s, CLOSE_WITHIN),
                "silent milter peer kept"
            );
        });
        // Milter: half an OPTNEG frame.
        sc.spawn(move || {
            let mut m = Milter::connect(milter);
            m.s.write_all(&optneg_frame()[..7]).unwrap();
            assert!(wait_closed(&mut m.s, CLOSE_WITHIN), "half a frame kept");
        });
        // Milter: negotiated, then silent mid-session.
        sc.spawn(move || {
            let mut m = Milter::open(milter);
            m.connect_helo();
            assert!(wait_closed(&mut m.s, CLOSE_WITHIN), "idle milter kept");
        });
    });
    assert_healthy(&mut s);
    assert!(
        s.log_text().contains("idle for"),
        "the milter timeout is logged:\n{}",
        s.log_text()
    );
}

// ---------------------------------------------------------------------
// 2. Oversized messages
// ---------------------------------------------------------------------

#[test]
fn oversized_messages_are_refused_cleanly() {
    let sink = SmtpSink::accept_all().unwrap();
    let mut s = start(
        "oversized",
        Some(sink.addr()),
        "[gateway]\nmax_message_bytes = 4096\n",
    );

    // SMTP: SIZE announced too big -> 552 at MAIL.
    let mut c = Smtp::open(s.smtp);
    let ehlo = c.ok("EHLO client.example", 250);
    assert!(ehlo.contains("SIZE 4096"), "{ehlo}");
    let text = c.ok("MAIL FROM:<a@b> SIZE=100000", 552);
    assert!(text.contains("5.3.4"), "{text}");
    // Not a protocol error: the session goes on.
    c.ok("MAIL FROM:<sender@example.net>", 250);
    c.ok("RCPT TO:<tonghop@laocai.gov.vn>", 250);
    c.ok("DATA", 354);
    let mut big = b"Subject: big\r\n\r\n".to_vec();
    while big.len() < 20 * 1024 {
        big.extend_from_slice(b"0123456789 abcdefghijklmnopqrstuvwxyz 0123456789 abcdefghij\r\n");
    }
    let (code, text) = c.data(&big);
    assert_eq!(code, 552, "{text}");
    // The connection is still usable: RSET, a whole small message, QUIT.
    c.ok("RSET", 250);
    c.ok("MAIL FROM:<sender@example.net>", 250);
    c.ok("RCPT TO:<tonghop@laocai.gov.vn>", 250);
    c.ok("DATA", 354);
    let (code, text) = c.data(&legit("small"));
    assert_eq!(code, 250, "{text}");
    c.ok("QUIT", 221);
    assert!(c.closed_within(CLOSE_WITHIN));
    let got = sink.wait_for_messages(1, IO).unwrap();
    assert_eq!(got.len(), 1, "only the small message was relayed");
    assert!(String::from_utf8_lossy(&got[0].data).contains("Subject: small"));

    // Milter: a body above the bound is still answered with a final reply.
    let mut m = Milter::open(s.milter);
    m.connect_helo();
    let body: Vec<u8> = b"a long but harmless line of text for the body bound\r\n"
        .iter()
        .copied()
        .cycle()
        .take(20 * 1024)
        .collect();
    let (_edits, (code, _)) = m.message(&milter_headers(), &body);
    assert!(b"acdrty".contains(&code));
    // And the connection is still in step: a second, small message.
    let (edits, (code, _)) = m.message(&milter_headers(), MILTER_BODY);
    assert_eq!(code, b'c', "a legitimate message is accepted");
    assert!(inserted_header_names(&edits).contains(&"X-Phishgate-Action".to_string()));
    m.quit();

    // HTTP: 413 with a JSON error.
    let (status, body) = s.post("/checkv2", &[], &big);
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(v["error"].as_str().unwrap().contains("4096"), "{v}");
    assert_healthy(&mut s);
}

// ---------------------------------------------------------------------
// 3. Connection floods
// ---------------------------------------------------------------------

#[test]
fn connection_floods_are_capped() {
    let sink = SmtpSink::accept_all().unwrap();
    let mut s = start("flood", Some(sink.addr()), "[gateway]\nmax_sessions = 3\n");

    // SMTP: 10 at once -> 3 greeted, 7 refused with 421 and closed.
    let mut conns: Vec<Smtp> = (0..10).map(|_| Smtp::connect(s.smtp)).collect();
    let mut greeted = Vec::new();
    let mut refused = 0;
    for mut c in conns.drain(..) {
        let (code, text) = c.reply().expect("a greeting or a 421");
        match code {
            220 => greeted.push(c),
            421 => {
                assert!(text.contains("4.3.2"), "{text}");
                assert!(c.closed_within(CLOSE_WITHIN), "refused but kept open");
                refused += 1;
            }
            _ => panic!("unexpected {code} {text}"),
        }
    }
    assert_eq!((greeted.len(), refused), (3, 7));
    for mut c in greeted {
        c.ok("QUIT", 221);
    }
    // A slot is free again: a full transaction goes through.
    let mut c = eventually("an SMTP slot after the flood", || {
        let mut c = Smtp::connect(s.smtp);
        match c.reply() {
            Some((220, _)) => Some(c),
            _ => None,
        }
    });
    c.envelope("sender@example.net", &["tonghop@laocai.gov.vn"]);
    let (code, text) = c.data(&legit("after-flood"));
    assert_eq!(code, 250, "{text}");
    c.ok("QUIT", 221);

    // Milter: 10 at once, OPTNEG on each -> at most 3 answered, the
    // others closed.
    let mut ms: Vec<Milter> = (0..10).map(|_| Milter::connect(s.milter)).collect();
    for m in &mut ms {
        // The filter may already have closed a refused connection.
        let _ = m.s.write_all(&optneg_frame());
    }
    let mut negotiated = Vec::new();
    let mut closed = 0;
    for mut m in ms {
        match m.read() {
            Some((code, payload)) => {
                m.accept_optneg(code, &payload);
                negotiated.push(m);
            }
            None => closed += 1,
        }
    }
    assert!(negotiated.len() <= 3, "{} negotiated", negotiated.len());
    assert_eq!(negotiated.len() + closed, 10);
    assert!(!negotiated.is_empty());
    drop(negotiated);
    // A fresh connection works once the slots are free.
    let mut m = eventually("a milter slot after the flood", || {
        let mut m = Milter::connect(s.milter);
        let _ = m.s.write_all(&optneg_frame());
        let (code, payload) = m.read()?;
        m.accept_optneg(code, &payload);
        Some(m)
    });
    m.connect_helo();
    let (_, (code, _)) = m.message(&milter_headers(), MILTER_BODY);
    assert_eq!(code, b'c');
    m.quit();
    assert_healthy(&mut s);
    assert!(s.log_text().contains("too many sessions"));
}

// ---------------------------------------------------------------------
// 4. Garbage closes that connection only
// ---------------------------------------------------------------------

/// Binary garbage one line at a time, in lockstep, after a 100 KB line:
/// only 5xx replies, then 421 or a close.
fn smtp_garbage_lockstep(addr: SocketAddr, seed: u64) {
    let mut c = Smtp::open(addr);
    let mut long = vec![b'A'; 100 * 1024];
    long.extend_from_slice(b"\r\n");
    c.send(&long).unwrap();
    let (code, text) = c.reply().expect("a reply to the 100 KB line");
    assert_eq!(code, 500, "{text}");
    let mut rng = Rng(seed);
    let mut errors = 1;
    for _ in 0..500 {
        if c.send(&rng.garbage_line()).is_err() {
            break;
        }
        match c.reply() {
            None => break,
            Some((421, _)) => break,
            Some((code, text)) => {
                assert!((500..600).contains(&code), "{code} {text}");
                errors += 1;
            }
        }
        // The 421 travels with the last error reply.
        if c.has_buffered() {
            let r = c.reply();
            assert!(matches!(r, None | Some((421, _))), "{r:?}");
            break;
        }
    }
    assert!(errors >= 2, "{errors}");
    assert!(
        c.closed_within(CLOSE_WITHIN),
        "garbage sender kept after {errors} errors"
    );
}

/// A firehose of random bytes without reading: the server closes.
fn smtp_garbage_firehose(addr: SocketAddr, seed: u64) {
    let mut c = Smtp::connect(addr);
    let mut rng = Rng(seed);
    let mut junk = Vec::new();
    while junk.len() < 256 * 1024 {
        junk.extend_from_slice(&rng.garbage_line());
    }
    // Writes may fail once the server has given up: that is the point.
    let _ = c.send(&junk);
    assert!(
        wait_closed(c.r.get_mut(), CLOSE_WITHIN),
        "firehose kept open"
    );
}

#[test]
fn garbage_closes_that_connection_only() {
    let sink = SmtpSink::accept_all().unwrap();
    let mut s = start("garbage", Some(sink.addr()), "");

    // Well-behaved sessions, opened first and kept open through the attack.
    let mut good_milter = Milter::open(s.milter);
    good_milter.connect_helo();
    let mut good_smtp = Smtp::open(s.smtp);
    good_smtp.ok("EHLO mx.example", 250);
    good_smtp.ok("MAIL FROM:<sender@example.net>", 250);
    good_smtp.ok("RCPT TO:<tonghop@laocai.gov.vn>", 250);

    let (smtp, milter) = (s.smtp, s.milter);
    std::thread::scope(|sc| {
        sc.spawn(move || smtp_garbage_lockstep(smtp, 0x9e37_79b9_7f4a_7c15));
        sc.spawn(move || smtp_garbage_firehose(smtp, 0xdead_beef_cafe_f00d));
        sc.spawn(move || {
            let mut rng = Rng(0x0123_4567_89ab_cdef);
            let mut unknown_letter = frame(b'Z', b"zzz");
            unknown_letter.extend_from_slice(&rng.bytes(64));
            let mut random = vec![0xde];
            random.extend_from_slice(&rng.bytes(4096));
            let attacks: Vec<(&str, Vec<u8>)> = vec![
                (
                    "HTTP on the milter port",
                    b"GET / HTTP/1.0\r\n\r\n".to_vec(),
                ),
                ("random bytes", random),
                ("an unknown command letter", unknown_letter),
                ("a zero-length frame", vec![0, 0, 0, 0, b'O']),
                ("CONNECT before OPTNEG", frame(b'C', b"x\0U")),
                (
                    "a frame length of 4 GiB",
                    vec![0xff, 0xff, 0xff, 0xff, b'B'],
                ),
            ];
            for (what, bytes) in attacks {
                let mut m = Milter::connect(milter);
                let _ = m.s.write_all(&bytes);
                assert!(wait_closed(&mut m.s, CLOSE_WITHIN), "{what}: kept open");
            }
            // Negotiated, then garbage mid-session.
            let mut m = Milter::open(milter);
            m.connect_helo();
            let _ = m.s.write_all(&rng.bytes(1024));
            assert!(
                wait_closed(&mut m.s, CLOSE_WITHIN),
                "mid-session garbage kept"
            );
        });
    });

    // The good sessions finish their messages.
    let (edits, (code, _)) = good_milter.message(&milter_headers(), MILTER_BODY);
    assert_eq!(code, b'c');
    assert!(inserted_header_names(&edits).contains(&"X-Phishgate-Action".to_string()));
    good_milter.quit();
    good_smtp.ok("DATA", 354);
    let (code, text) = good_smtp.data(&legit("through-the-storm"));
    assert_eq!(code, 250, "{text}");
    good_smtp.ok("QUIT", 221);
    let got = sink.wait_for_messages(1, IO).unwrap();
    assert_eq!(got.len(), 1);
    assert!(String::from_utf8_lossy(&got[0].data).contains("Subject: through-the-storm"));

    assert_healthy(&mut s);
    assert!(s.log_text().contains("milter connection closed on error"));
}

// ---------------------------------------------------------------------
// 5. The envelope survives the content filter
// ---------------------------------------------------------------------

#[test]
fn envelope_is_kept_through_the_content_filter() {
    let sink = RawSink::start(false);
    let mut s = start("envelope", Some(sink.addr), "");
    let mut c = Smtp::open(s.smtp);
    let ehlo = c.ok("EHLO mx.example", 250);
    for ext in ["PIPELINING", "8BITMIME", "SMTPUTF8", "DSN", "XFORWARD"] {
        assert!(ehlo.contains(ext), "{ext} not announced: {ehlo}");
    }
    c.ok(
        "XFORWARD NAME=mx.example ADDR=203.0.113.9 HELO=mx.example PROTO=ESMTP",
        250,
    );
    let mail = "MAIL FROM:<sender@example.net> RET=HDRS ENVID=abc123 SMTPUTF8 BODY=8BITMIME";
    let rcpt1 = "RCPT TO:<người.dùng@laocai.gov.vn> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;nguoi@laocai.gov.vn";
    let rcpt2 = "RCPT TO:<tonghop@laocai.gov.vn>";
    c.ok(mail, 250);
    c.ok(rcpt1, 250);
    c.ok(rcpt2, 250);
    c.ok("DATA", 354);
    let original = legit("envelope");
    c.send(&dot_stuff(&original)).unwrap();

    // The sink has the message but has not answered yet: nothing upstream.
    sink.wait_messages(1);
    c.r.get_ref()
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    match c.r.fill_buf() {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("answered before the relay accepted: {other:?}"),
    }
    c.r.get_ref().set_read_timeout(Some(IO)).unwrap();
    sink.open_gate();
    let (code, text) = c.reply().expect("the end-of-data reply");
    assert_eq!(code, 250, "{text}");
    assert!(text.contains("relayed"), "{text}");
    c.ok("QUIT", 221);

    // The envelope, exactly.
    let log = sink.log();
    let xforward: Vec<&String> = log
        .lines
        .iter()
        .filter(|l| l.starts_with("XFORWARD "))
        .collect();
    let attrs: Vec<&str> = xforward
        .iter()
        .flat_map(|l| l["XFORWARD ".len()..].split(' '))
        .collect();
    for a in [
        "NAME=mx.example",
        "ADDR=203.0.113.9",
        "HELO=mx.example",
        "PROTO=ESMTP",
    ] {
        assert!(attrs.contains(&a), "{a} missing from {xforward:?}");
    }
    let mails: Vec<&String> = log
        .lines
        .iter()
        .filter(|l| l.starts_with("MAIL "))
        .collect();
    assert_eq!(mails, [mail], "{:?}", log.lines);
    let rcpts: Vec<&String> = log
        .lines
        .iter()
        .filter(|l| l.starts_with("RCPT "))
        .collect();
    assert_eq!(rcpts, [rcpt1, rcpt2], "{:?}", log.lines);
    // XFORWARD comes before MAIL, as Postfix expects.
    let pos = |p: &str| log.lines.iter().position(|l| l.starts_with(p)).unwrap();
    assert!(pos("XFORWARD ") < pos("MAIL "));

    // The message: our headers on top, every original byte after them.
    assert_eq!(log.messages.len(), 1);
    let got = &log.messages[0];
    assert!(got.ends_with(&original), "{}", String::from_utf8_lossy(got));
    let added = String::from_utf8_lossy(&got[..got.len() - original.len()]).into_owned();
    assert!(added.contains("X-Phishgate-Action: "), "{added}");
    for line in added.split_terminator("\r\n") {
        assert!(
            line.starts_with("X-Phishgate-") || line.starts_with([' ', '\t']),
            "unexpected added line {line:?}"
        );
    }
    assert_healthy(&mut s);
}

// ---------------------------------------------------------------------
// 6. Relay failures, quarantine, bounce
// ---------------------------------------------------------------------

#[test]
fn relay_down_is_a_tempfail_and_nothing_is_stored() {
    // `None`: the relay address is a closed port.
    let mut s = start("relaydown", None, "");
    let mut c = Smtp::open(s.smtp);
    c.envelope("sender@example.net", &["tonghop@laocai.gov.vn"]);
    let (code, text) = c.data(&legit("relay-down"));
    assert_eq!(code, 451, "{text}");
    c.ok("QUIT", 221);
    assert!(s.quarantine().is_empty());
    assert_healthy(&mut s);
}

#[test]
fn relay_refusals_and_quarantine() {
    let sink = SmtpSink::start(|m| {
        if m.to.iter().any(|t| t.starts_with("tempfail")) {
            "451 4.3.0 try again later".to_owned()
        } else if m.to.iter().any(|t| t.starts_with("reject")) {
            "554 5.7.1 refused by the test relay".to_owned()
        } else {
            "250 2.0.0 Ok".to_owned()
        }
    })
    .unwrap();
    let mut s = start("relayrefuse", Some(sink.addr()), "");
    let mut c = Smtp::open(s.smtp);
    c.envelope("sender@example.net", &["tempfail@laocai.gov.vn"]);
    let (code, text) = c.data(&legit("tempfail"));
    assert!((400..500).contains(&code), "{code} {text}");
    c.ok("RSET", 250);
    c.ok("MAIL FROM:<sender@example.net>", 250);
    c.ok("RCPT TO:<reject@laocai.gov.vn>", 250);
    c.ok("DATA", 354);
    let (code, text) = c.data(&legit("reject"));
    assert!((500..600).contains(&code), "{code} {text}");
    assert_eq!(sink.wait_for_messages(2, IO).unwrap().len(), 2);

    // A reject-level lure: held in quarantine, 250, nothing relayed.
    c.ok("RSET", 250);
    c.ok("MAIL FROM:<bqt.thudientu.laocai@gmail.com>", 250);
    c.ok("RCPT TO:<nguyenthilan@laocai.gov.vn>", 250);
    c.ok("DATA", 354);
    let lure = lure_crlf();
    let (code, text) = c.data(&lure);
    assert_eq!(code, 250, "{text}");
    assert!(text.contains("quarantine"), "{text}");
    c.ok("QUIT", 221);
    assert_eq!(sink.messages().len(), 2, "the lure was relayed");
    let held = s.quarantine();
    assert_eq!(held.len(), 1, "{held:?}");
    let meta = &held[0];
    let id = meta["id"].as_str().unwrap();
    let out = s.admin(&["quarantine", "show", id, "--raw"]);
    assert_eq!(out.stdout, lure);
    assert_eq!(meta["mail_from"], "bqt.thudientu.laocai@gmail.com");
    assert_eq!(meta["action"], "reject");
    assert_eq!(meta["rcpts"][0]["address"], "nguyenthilan@laocai.gov.vn");
    assert!(text.contains(id), "{text}");
    assert_healthy(&mut s);
}

#[test]
fn bounce_mode_refuses_the_lure() {
    let sink = SmtpSink::accept_all().unwrap();
    let mut s = start(
        "bounce",
        Some(sink.addr()),
        "[gateway]\ncontent_filter_reject = \"bounce\"\n",
    );
    let mut c = Smtp::open(s.smtp);
    c.envelope(
        "bqt.thudientu.laocai@gmail.com",
        &["nguyenthilan@laocai.gov.vn"],
    );
    let (code, text) = c.data(&lure_crlf());
    assert_eq!(code, 550, "{text}");
    c.ok("QUIT", 221);
    assert!(sink.messages().is_empty());
    assert!(s.quarantine().is_empty());
    assert_healthy(&mut s);
}

// ---------------------------------------------------------------------
// 7. Graceful shutdown
// ---------------------------------------------------------------------

#[test]
fn sigterm_lets_the_transaction_in_flight_finish() {
    let sink = SmtpSink::accept_all().unwrap();
    let mut s = start(
        "drain",
        Some(sink.addr()),
        "[gateway]\nshutdown_grace_secs = 20\n",
    );
    let mut c = Smtp::open(s.smtp);
    c.envelope("sender@example.net", &["tonghop@laocai.gov.vn"]);
    let message = legit("drain");
    let stuffed = dot_stuff(&message);
    let half = stuffed.len() / 2;
    let half = half + stuffed[half..].iter().position(|&b| b == b'\n').unwrap() + 1;
    c.send(&stuffed[..half]).unwrap();

    s.signal("TERM");
    eventually("the server to start draining", || {
        s.log_text().contains("draining sessions").then_some(())
    });
    c.send(&stuffed[half..]).unwrap();
    let (code, text) = c.reply().expect("the end-of-data reply");
    assert_eq!(code, 250, "{text}\n{}", s.log_text());
    // The session may end now with 221 (QUIT) or 421 (shutting down).
    if c.send(b"QUIT\r\n").is_ok() {
        if let Some((code, text)) = c.reply() {
            assert!(code == 221 || code == 421, "{code} {text}");
        }
    }
    assert!(c.closed_within(CLOSE_WITHIN));
    let got = sink.wait_for_messages(1, IO).unwrap();
    assert!(String::from_utf8_lossy(&got[0].data).contains("Subject: drain"));
    assert_eq!(
        s.wait_exit(Duration::from_secs(20)),
        Some(0),
        "{}",
        s.log_text()
    );
}

#[test]
fn sigterm_closes_idle_sessions_at_once() {
    let mut s = start("drainidle", None, "[gateway]\nshutdown_grace_secs = 20\n");
    let mut c = Smtp::open(s.smtp);
    c.ok("EHLO client.example", 250);
    let t = Instant::now();
    s.signal("TERM");
    let (code, text) = c.reply().expect("a 421 on shutdown");
    assert_eq!(code, 421, "{text}");
    assert!(c.closed_within(CLOSE_WITHIN));
    assert_eq!(
        s.wait_exit(Duration::from_secs(20)),
        Some(0),
        "{}",
        s.log_text()
    );
    // Idle sessions do not hold the shutdown for the grace period.
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
}

#[test]
fn sigterm_during_the_relay_answers_then_closes() {
    // The relay holds its answer to the final dot until the gate opens.
    let sink = RawSink::start(false);
    let mut s = start(
        "drainrelay",
        Some(sink.addr),
        "[gateway]\nshutdown_grace_secs = 20\n",
    );
    let mut c = Smtp::open(s.smtp);
    c.envelope("sender@example.net", &["tonghop@laocai.gov.vn"]);
    c.send(&dot_stuff(&legit("drain-relay"))).unwrap();
    sink.wait_messages(1);
    // SIGTERM while the gateway waits for the relay.
    let t = Instant::now();
    s.signal("TERM");
    eventually("the server to start draining", || {
        s.log_text().contains("draining sessions").then_some(())
    });
    sink.open_gate();
    let (code, text) = c.reply().expect("the end-of-data reply");
    assert_eq!(code, 250, "{text}");
    // No new transaction after the shutdown: 421 (or the close itself).
    if c.send(b"MAIL FROM:<sender@example.net>\r\n").is_ok() {
        if let Some((code, text)) = c.reply() {
            assert_eq!(code, 421, "{text}");
        }
    }
    assert!(c.closed_within(CLOSE_WITHIN));
    assert_eq!(
        s.wait_exit(Duration::from_secs(20)),
        Some(0),
        "{}",
        s.log_text()
    );
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
}
