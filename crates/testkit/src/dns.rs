//! An in-process authoritative DNS server on loopback, for tests that must
//! not touch the internet (SPF, DKIM, DMARC, ARC, DNS block lists).
//!
//! The model: a test builds a [`Zone`] (names → records, plus per-name
//! [`Fault`]s), starts a [`DnsServer`] on one ephemeral `127.0.0.1` port that
//! answers both UDP and TCP, points the resolver under test at
//! [`DnsServer::addr`], and asserts on what the resolver saw and on how many
//! queries reached the server ([`DnsServer::queries`], to prove caching).
//! The zone can be changed while the server runs ([`DnsServer::set_fault`],
//! [`DnsServer::update`]): "DNS stopped in the middle" is a fault set between
//! two scans.
//!
//! What it answers, like a real authoritative server would:
//! - the records of the queried name and type (`AA` set); a `CNAME` at the
//!   name is returned and followed once inside the zone;
//! - `NOERROR` with no answer (NODATA) when the name exists with other types,
//!   `NXDOMAIN` for unknown names; both carry an SOA in the authority section
//!   so resolvers can cache the negative answer for [`Zone::negative_ttl`];
//! - over UDP, a response larger than the client's limit (512 bytes, or its
//!   EDNS payload size up to 4096) is replaced by an empty one with `TC` set,
//!   so the client retries over TCP, where the whole answer is sent (how an
//!   enormous TXT record behaves).
//!
//! Bounds: UDP datagrams and TCP frames are at most 64 KiB (the DNS limit);
//! each TCP connection has a 5 s read time-out; worker threads stop within
//! about 100 ms of the server being dropped. Nothing here panics on hostile
//! bytes: a query that does not parse is dropped and counted.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, PTR, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::error::{Error, Result};

/// Default TTL of the records a [`Zone`] builds.
pub const DEFAULT_TTL: u32 = 300;
/// Largest UDP response a client without EDNS accepts (RFC 1035).
const PLAIN_UDP_LIMIT: usize = 512;
/// Largest UDP response sent whatever EDNS size the client offers.
const MAX_UDP_LIMIT: usize = 4096;
/// How often idle worker threads look at the stop flag.
const POLL: Duration = Duration::from_millis(100);
/// How long a TCP connection may stay silent before it is closed.
const TCP_IDLE: Duration = Duration::from_secs(5);

/// What the server does instead of answering a name normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Never answer (the client times out). Over TCP the connection stays
    /// open and silent.
    Timeout,
    /// Answer `SERVFAIL`.
    ServFail,
    /// Answer `REFUSED`.
    Refused,
    /// Answer with bytes that are not a DNS message (the query's id followed
    /// by a header promising records that are not there, then garbage).
    Malformed,
    /// Answer correctly but with another transaction id (a spoofing attempt
    /// or a confused server): the client must ignore it and time out.
    WrongId,
}

/// Records served by a [`DnsServer`]. Names are case-insensitive and written
/// without the trailing dot.
#[derive(Debug, Clone)]
pub struct Zone {
    records: HashMap<String, Vec<Record>>,
    faults: HashMap<String, Fault>,
    all_fault: Option<Fault>,
    ttl: u32,
    negative_ttl: u32,
}

impl Default for Zone {
    fn default() -> Self {
        Zone::new()
    }
}

/// Lower case, no trailing dot: the key of a name in a [`Zone`].
fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A fully qualified [`Name`]; test input, so a bad name is the test's bug
/// and becomes the root name (which answers nothing) rather than a panic.
fn fqdn(name: &str) -> Name {
    Name::from_str_relaxed(format!("{}.", key(name))).unwrap_or_else(|_| Name::root())
}

impl Zone {
    /// An empty zone: every name is `NXDOMAIN`.
    pub fn new() -> Zone {
        Zone {
            records: HashMap::new(),
            faults: HashMap::new(),
            all_fault: None,
            ttl: DEFAULT_TTL,
            negative_ttl: DEFAULT_TTL,
        }
    }

    /// TTL of the records added after this call.
    pub fn ttl(&mut self, ttl: u32) -> &mut Self {
        self.ttl = ttl;
        self
    }

    /// TTL of negative answers (the SOA minimum).
    pub fn negative_ttl(&mut self, ttl: u32) -> &mut Self {
        self.negative_ttl = ttl;
        self
    }

    fn push(&mut self, name: &str, data: RData) -> &mut Self {
        let record = Record::from_rdata(fqdn(name), self.ttl, data);
        self.records.entry(key(name)).or_default().push(record);
        self
    }

    /// A TXT record of one string. Strings longer than 255 bytes are split
    /// into 255-byte character-strings, as zone files do.
    pub fn txt(&mut self, name: &str, text: &str) -> &mut Self {
        let chunks: Vec<String> = text
            .as_bytes()
            .chunks(255)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        self.txt_strings(name, &chunks)
    }

    /// A TXT record made of several character-strings (each at most 255
    /// bytes; longer ones are the test's choice and are sent as given, which
    /// hickory refuses to encode: keep them short).
    pub fn txt_strings<S: AsRef<str>>(&mut self, name: &str, strings: &[S]) -> &mut Self {
        let strings = strings.iter().map(|s| s.as_ref().to_string()).collect();
        self.push(name, RData::TXT(TXT::new(strings)))
    }

    /// An A record.
    pub fn a(&mut self, name: &str, ip: Ipv4Addr) -> &mut Self {
        self.push(name, RData::A(A(ip)))
    }

    /// An AAAA record.
    pub fn aaaa(&mut self, name: &str, ip: Ipv6Addr) -> &mut Self {
        self.push(name, RData::AAAA(AAAA(ip)))
    }

    /// An MX record.
    pub fn mx(&mut self, name: &str, preference: u16, exchange: &str) -> &mut Self {
        self.push(name, RData::MX(MX::new(preference, fqdn(exchange))))
    }

    /// A PTR record at the reverse name of `ip` (`in-addr.arpa`/`ip6.arpa`).
    pub fn ptr(&mut self, ip: IpAddr, target: &str) -> &mut Self {
        let name = reverse_name(ip, "in-addr.arpa", "ip6.arpa");
        self.push(&name, RData::PTR(PTR(fqdn(target))))
    }

    /// A CNAME record.
    pub fn cname(&mut self, name: &str, target: &str) -> &mut Self {
        self.push(name, RData::CNAME(CNAME(fqdn(target))))
    }

    /// Makes one name misbehave (all types); replaces an earlier fault.
    pub fn fault(&mut self, name: &str, fault: Fault) -> &mut Self {
        self.faults.insert(key(name), fault);
        self
    }

    /// Removes a name's fault.
    pub fn clear_fault(&mut self, name: &str) -> &mut Self {
        self.faults.remove(&key(name));
        self
    }

    /// Makes every name misbehave (`None`: back to normal). Per-name faults
    /// still win.
    pub fn fault_all(&mut self, fault: Option<Fault>) -> &mut Self {
        self.all_fault = fault;
        self
    }

    fn fault_for(&self, name: &str) -> Option<Fault> {
        self.faults.get(name).copied().or(self.all_fault)
    }

    fn soa(&self) -> Record {
        let soa = SOA::new(
            fqdn("ns.test"),
            fqdn("hostmaster.test"),
            1,
            3600,
            600,
            86400,
            self.negative_ttl,
        );
        Record::from_rdata(Name::root(), self.negative_ttl, RData::SOA(soa))
    }

    /// Fills `resp` with the answer to `name`/`qtype`.
    fn answer(&self, name: &str, qtype: RecordType, resp: &mut Message) {
        let Some(records) = self.records.get(name) else {
            resp.metadata.response_code = ResponseCode::NXDomain;
            resp.add_authority(self.soa());
            return;
        };
        let matching: Vec<Record> = records
            .iter()
            .filter(|r| r.record_type() == qtype || qtype == RecordType::ANY)
            .cloned()
            .collect();
        if !matching.is_empty() {
            resp.add_answers(matching);
            return;
        }
        // A CNAME at the name answers every type; follow it once when the
        // target is in the zone.
        let cname = records.iter().find_map(|r| match &r.data {
            RData::CNAME(c) => Some((r.clone(), key(&c.0.to_ascii()))),
            _ => None,
        });
        if let Some((record, target)) = cname {
            resp.add_answer(record);
            if let Some(target_records) = self.records.get(&target) {
                resp.add_answers(
                    target_records
                        .iter()
                        .filter(|r| r.record_type() == qtype)
                        .cloned(),
                );
            }
            return;
        }
        resp.add_authority(self.soa());
    }
}

/// `4.3.2.1.<v4 suffix>` or the 32 nibbles of an IPv6 address, reversed,
/// before `<v6 suffix>`. DNS block lists use the same form with their zone
/// as the suffix.
pub fn reverse_name(ip: IpAddr, v4_suffix: &str, v6_suffix: &str) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.{v4_suffix}", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(72 + v6_suffix.len());
            for byte in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            s.push_str(v6_suffix);
            s
        }
    }
}

/// What the server has seen.
#[derive(Debug, Default)]
struct Counters {
    total: AtomicU64,
    udp: AtomicU64,
    tcp: AtomicU64,
    unparsable: AtomicU64,
    by_name: Mutex<HashMap<String, u64>>,
}

struct Shared {
    zone: Mutex<Zone>,
    counters: Counters,
    stop: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test thread that panicked while holding the lock leaves valid data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running DNS server on `127.0.0.1` (UDP and TCP on one port). Stopped
/// when dropped.
pub struct DnsServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl DnsServer {
    /// Starts a server for `zone` on a free port.
    pub fn start(zone: Zone) -> Result<DnsServer> {
        // UDP first on port 0, then TCP on the same number; another process
        // may hold that TCP port, so try a few times.
        let mut last_err = None;
        for _ in 0..20 {
            let udp = UdpSocket::bind(("127.0.0.1", 0))
                .map_err(|e| Error::io("binding the DNS server's UDP socket", e))?;
            let addr = udp
                .local_addr()
                .map_err(|e| Error::io("reading the DNS server's address", e))?;
            match TcpListener::bind(addr) {
                Ok(tcp) => return Self::run(zone, udp, tcp, addr),
                Err(e) => last_err = Some(e),
            }
        }
        Err(Error::io(
            "binding the DNS server's TCP listener",
            last_err.unwrap_or_else(|| std::io::Error::other("no port")),
        ))
    }

    fn run(zone: Zone, udp: UdpSocket, tcp: TcpListener, addr: SocketAddr) -> Result<DnsServer> {
        udp.set_read_timeout(Some(POLL))
            .map_err(|e| Error::io("configuring the DNS server's UDP socket", e))?;
        tcp.set_nonblocking(true)
            .map_err(|e| Error::io("configuring the DNS server's TCP listener", e))?;
        let shared = Arc::new(Shared {
            zone: Mutex::new(zone),
            counters: Counters::default(),
            stop: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        let udp_thread = std::thread::spawn(move || serve_udp(&udp, &s));
        let s = Arc::clone(&shared);
        let tcp_thread = std::thread::spawn(move || serve_tcp(&tcp, &s));
        Ok(DnsServer {
            addr,
            shared,
            threads: vec![udp_thread, tcp_thread],
        })
    }

    /// Address to point a resolver at (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queries received so far (UDP and TCP, parsable or not).
    pub fn queries(&self) -> u64 {
        self.shared.counters.total.load(Ordering::SeqCst)
    }

    /// Queries received over TCP.
    pub fn tcp_queries(&self) -> u64 {
        self.shared.counters.tcp.load(Ordering::SeqCst)
    }

    /// Queries received over UDP.
    pub fn udp_queries(&self) -> u64 {
        self.shared.counters.udp.load(Ordering::SeqCst)
    }

    /// Queries received for one name (any type).
    pub fn queries_for(&self, name: &str) -> u64 {
        lock(&self.shared.counters.by_name)
            .get(&key(name))
            .copied()
            .unwrap_or(0)
    }

    /// Changes the zone while the server runs.
    pub fn update(&self, f: impl FnOnce(&mut Zone)) {
        f(&mut lock(&self.shared.zone));
    }

    /// Makes one name misbehave from now on.
    pub fn set_fault(&self, name: &str, fault: Fault) {
        self.update(|z| {
            z.fault(name, fault);
        });
    }

    /// Makes every name misbehave from now on (`None`: back to normal).
    pub fn set_fault_all(&self, fault: Option<Fault>) {
        self.update(|z| {
            z.fault_all(fault);
        });
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Which transport a query came over: it decides the size limit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
}

/// The bytes to send back for one query, or `None` to stay silent.
fn respond(query: &[u8], transport: Transport, shared: &Shared) -> Option<Vec<u8>> {
    let c = &shared.counters;
    c.total.fetch_add(1, Ordering::SeqCst);
    match transport {
        Transport::Udp => c.udp.fetch_add(1, Ordering::SeqCst),
        Transport::Tcp => c.tcp.fetch_add(1, Ordering::SeqCst),
    };
    let Ok(req) = Message::from_vec(query) else {
        c.unparsable.fetch_add(1, Ordering::SeqCst);
        return None;
    };
    let id = req.metadata.id;
    let q = req.queries.first()?.clone();
    let name = key(&q.name().to_ascii());
    *lock(&c.by_name).entry(name.clone()).or_default() += 1;

    let mut resp = Message::new(id, MessageType::Response, OpCode::Query);
    resp.metadata.authoritative = true;
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.add_query(q.clone());
    if let Some(edns) = &req.edns {
        let mut e = Edns::new();
        e.set_max_payload(edns.max_payload().max(PLAIN_UDP_LIMIT as u16));
        resp.set_edns(e);
    }
    let fault = {
        let zone = lock(&shared.zone);
        let fault = zone.fault_for(&name);
        if matches!(fault, None | Some(Fault::WrongId)) {
            zone.answer(&name, q.query_type(), &mut resp);
        }
        fault
    };
    match fault {
        None => {}
        Some(Fault::Timeout) => return None,
        Some(Fault::ServFail) => resp.metadata.response_code = ResponseCode::ServFail,
        Some(Fault::Refused) => resp.metadata.response_code = ResponseCode::Refused,
        Some(Fault::WrongId) => {
            resp.metadata.id = id.wrapping_add(1);
        }
        Some(Fault::Malformed) => {
            // Right id, response bit, one question and five answers promised,
            // then bytes that are neither.
            let [hi, lo] = id.to_be_bytes();
            let mut bytes = vec![hi, lo, 0x84, 0x00, 0x00, 0x01, 0x00, 0x05, 0x00, 0x00, 0x00];
            bytes.extend_from_slice(&[0x00, 0xff, 0xc0, 0xff, 0x3f, 0x01, 0x02]);
            return Some(bytes);
        }
    }
    let bytes = resp.to_vec().ok()?;
    if transport == Transport::Udp {
        let limit = req
            .edns
            .as_ref()
            .map_or(PLAIN_UDP_LIMIT, |e| usize::from(e.max_payload()))
            .clamp(PLAIN_UDP_LIMIT, MAX_UDP_LIMIT);
        if bytes.len() > limit {
            return resp.truncate().to_vec().ok();
        }
    }
    Some(bytes)
}

fn serve_udp(sock: &UdpSocket, shared: &Shared) {
    let mut buf = vec![0u8; 65_535];
    while !shared.stop.load(Ordering::SeqCst) {
        let Ok((n, peer)) = sock.recv_from(&mut buf) else {
            continue; // time-out: look at the stop flag
        };
        let Some(query) = buf.get(..n) else { continue };
        if let Some(reply) = respond(query, Transport::Udp, shared) {
            let _ = sock.send_to(&reply, peer);
        }
    }
}

fn serve_tcp(listener: &TcpListener, shared: &Arc<Shared>) {
    let mut conns: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let s = Arc::clone(shared);
                conns.push(std::thread::spawn(move || serve_conn(stream, &s)));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
        conns.retain(|t| !t.is_finished());
    }
    for t in conns {
        let _ = t.join();
    }
}

/// Reads exactly `buf.len()` bytes, polling the stop flag; `false` on EOF,
/// error, idle time-out or stop.
fn read_full(stream: &mut TcpStream, buf: &mut [u8], shared: &Shared) -> bool {
    let mut got = 0;
    let mut idle = Duration::ZERO;
    while got < buf.len() {
        if shared.stop.load(Ordering::SeqCst) || idle >= TCP_IDLE {
            return false;
        }
        let Some(rest) = buf.get_mut(got..) else {
            return false;
        };
        match stream.read(rest) {
            Ok(0) => return false,
            Ok(n) => {
                got += n;
                idle = Duration::ZERO;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                idle += POLL;
            }
            Err(_) => return false,
        }
    }
    true
}

fn serve_conn(mut stream: TcpStream, shared: &Shared) {
    if stream.set_nonblocking(false).is_err() || stream.set_read_timeout(Some(POLL)).is_err() {
        return;
    }
    loop {
        let mut len = [0u8; 2];
        if !read_full(&mut stream, &mut len, shared) {
            return;
        }
        let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if !read_full(&mut stream, &mut query, shared) {
            return;
        }
        let Some(reply) = respond(&query, Transport::Tcp, shared) else {
            continue; // silent: the client times out
        };
        let Ok(n) = u16::try_from(reply.len()) else {
            return;
        };
        let mut framed = n.to_be_bytes().to_vec();
        framed.extend_from_slice(&reply);
        if stream.write_all(&framed).is_err() {
            return;
        }
    }
}
