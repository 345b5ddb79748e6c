//! Enrichment benchmark (not a test: no timed assertions, it prints
//! numbers). Run with `cargo bench -p phishgate-intel --bench enrich_bench`.
//!
//! Scan throughput on real mail from the development corpus
//! (`../shared/corpus` next to the repository, never copied into it), with
//! the default engine configuration, in four modes:
//!
//! - (a) engine only: `MessageView::build` + `Engine::scan_view`;
//! - (b) + SPF/DKIM/DMARC/ARC verification against the loopback DNS server
//!   of `phishgate_testkit`, warm cache (a pass first to warm it; the
//!   queries reaching the server during the measured pass are printed);
//! - (c) + ClamAV: every attachment through a real clamd (Debian's
//!   `clamav-daemon`, throw-away instance with the testkit's two-signature
//!   database, so this measures the protocol and archive work, not a full
//!   signature set);
//! - (d) all of it.
//!
//! Each mode runs on one thread (current-thread runtime, messages one after
//! the other) and then with 2 tasks on a 2-worker runtime sharing the
//! engine, verifier and clamd pool. Reported: messages per second (wall
//! clock) and p50/p99 of the time per message.
//!
//! Every message is sent as if by `198.51.100.10`, HELO the From domain,
//! MAIL FROM the From address; the zone publishes
//! `v=spf1 ip4:198.51.100.10 -all` and a `p=none` DMARC record for every
//! From domain, so SPF passes and DMARC is found; DKIM signatures in the
//! corpus name keys that the zone does not have (negative answers, cached).
//!
//! Environment: `PHISHGATE_BENCH_MESSAGES` (default 400) messages, taken
//! evenly from ham, spam, phishing_pot and Nazario; `PHISHGATE_CORPUS`
//! overrides the corpus folder (for a clone outside the workspace);
//! `PHISHGATE_BENCH_ROUNDS` (default 5) measured passes per row, after one
//! warm-up pass (the rows are short; the rounds smooth a busy machine). Without the corpus the
//! benchmark says so and exits 0; without root or clamd, (c) and (d) are
//! skipped with a message.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![allow(missing_docs)]

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use phishgate_core::view::MessageView;
use phishgate_core::{Config, Engine, Envelope, Facts, ScanInput};
use phishgate_intel::auth::{AuthSession, Verifier, DEFAULT_BUDGET};
use phishgate_intel::dns::{DnsConfig, Resolver};
use phishgate_intel::{ClamavConfig, Clamd};
use phishgate_testkit::{Clamd as ClamdServer, DnsServer, Zone};

const ORG_TOML: &str = r#"
[organization]
name = "Sở Thông tin và Truyền thông tỉnh Lào Cai"
domains = ["laocai.gov.vn"]
authserv_id = "mail.laocai.gov.vn"
"#;
const CLIENT_IP: &str = "198.51.100.10";
const DEFAULT_MESSAGES: usize = 400;
const DEFAULT_ROUNDS: usize = 5;

/// One corpus message and the SMTP session it is given.
struct Msg {
    raw: Vec<u8>,
    mail_from: String,
    helo: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Engine,
    Auth,
    Clamav,
    All,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Engine => "(a) engine only",
            Mode::Auth => "(b) + auth (warm DNS)",
            Mode::Clamav => "(c) + ClamAV",
            Mode::All => "(d) auth + ClamAV",
        }
    }
    fn auth(self) -> bool {
        matches!(self, Mode::Auth | Mode::All)
    }
    fn clamav(self) -> bool {
        matches!(self, Mode::Clamav | Mode::All)
    }
}

/// What the scans share.
struct Ctx {
    engine: Engine,
    verifier: Verifier,
    clamd: Option<Clamd>,
    msgs: Vec<Msg>,
}

/// One measured run.
struct Run {
    mode: Mode,
    threads: usize,
    wall: Duration,
    lat: Vec<Duration>,
    dns_queries: Option<u64>,
    checksum: f64,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Up to `n` paths from the manifest, spread evenly over the four
/// (source, label) groups and inside each group.
fn pick(corpus: &Path, n: usize) -> Option<Vec<PathBuf>> {
    let manifest = std::fs::read_to_string(corpus.join("manifest.tsv")).ok()?;
    let mut groups: std::collections::BTreeMap<(String, String), Vec<String>> =
        std::collections::BTreeMap::new();
    for line in manifest.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() >= 3 {
            groups
                .entry((f[1].to_string(), f[2].to_string()))
                .or_default()
                .push(f[0].to_string());
        }
    }
    if groups.is_empty() {
        return None;
    }
    let per = n.div_ceil(groups.len());
    let lists: Vec<Vec<&String>> = groups
        .values()
        .map(|v| {
            let stride = (v.len() / per.max(1)).max(1);
            v.iter().step_by(stride).take(per).collect()
        })
        .collect();
    let mut out = Vec::new();
    for i in 0..per {
        for l in &lists {
            if let Some(p) = l.get(i) {
                if out.len() < n {
                    out.push(corpus.join(p));
                }
            }
        }
    }
    Some(out)
}

/// Whole pipeline of one message in `mode`; returns the score (so nothing
/// is optimised away).
async fn process(ctx: &Ctx, mode: Mode, m: &Msg) -> f64 {
    let view = MessageView::build(&m.raw, &ctx.engine.config().limits);
    let mut facts = Facts::default();
    if mode.auth() {
        let session = AuthSession {
            client_ip: CLIENT_IP.parse::<IpAddr>().unwrap(),
            helo: &m.helo,
            mail_from: &m.mail_from,
        };
        facts.auth = Some(ctx.verifier.verify(&session, &m.raw).await.results);
    }
    if mode.clamav() {
        if let Some(c) = &ctx.clamd {
            facts.antivirus = Some(c.scan_attachments(&view.attachments).await);
        }
    }
    let envelope = Envelope {
        mail_from: Some(m.mail_from.clone()),
        rcpt_to: vec!["vanthu@laocai.gov.vn".to_string()],
        client_ip: Some(CLIENT_IP.to_string()),
        helo: Some(m.helo.clone()),
        authenticated_user: None,
    };
    ctx.engine
        .scan_view(
            &view,
            &ScanInput {
                raw: &m.raw,
                envelope: &envelope,
                facts: &facts,
            },
        )
        .score
}

/// All messages through `mode` with `threads` tasks; (wall, latencies,
/// score sum).
fn pass(ctx: &Arc<Ctx>, mode: Mode, threads: usize) -> (Duration, Vec<Duration>, f64) {
    let rt = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .unwrap()
    };
    rt.block_on(async {
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..threads {
            let ctx = Arc::clone(ctx);
            let next = Arc::clone(&next);
            handles.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut sum = 0.0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(m) = ctx.msgs.get(i) else { break };
                    let t = Instant::now();
                    sum += process(&ctx, mode, m).await;
                    lat.push(t.elapsed());
                }
                (lat, sum)
            }));
        }
        let mut lat = Vec::new();
        let mut sum = 0.0;
        for h in handles {
            let (l, s) = h.await.unwrap();
            lat.extend(l);
            sum += s;
        }
        (start.elapsed(), lat, sum)
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One verification of every message (which also warms the DNS caches):
/// how many of each `method=result`, to show the zone does what it should.
fn auth_tally(ctx: &Ctx) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut tally: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    rt.block_on(async {
        for m in &ctx.msgs {
            let session = AuthSession {
                client_ip: CLIENT_IP.parse::<IpAddr>().unwrap(),
                helo: &m.helo,
                mail_from: &m.mail_from,
            };
            let v = ctx.verifier.verify(&session, &m.raw).await;
            for r in &v.results.results {
                *tally
                    .entry(format!("{}={}", r.method, r.result))
                    .or_default() += 1;
            }
        }
    });
    tally
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn machine_line() -> String {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| {
            let f: Vec<&str> = l.split_whitespace().take(3).collect();
            (f.len() == 3).then(|| f.join(" "))
        })
        .unwrap_or_else(|| "?".into());
    format!("machine: nproc {nproc}, date {date}, loadavg {load}")
}

fn main() {
    let corpus = std::env::var_os("PHISHGATE_CORPUS")
        .map_or_else(|| repo_root().join("../shared/corpus"), PathBuf::from);
    let n = std::env::var("PHISHGATE_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(DEFAULT_MESSAGES);
    let Some(paths) = pick(&corpus, n).filter(|p| !p.is_empty()) else {
        println!(
            "enrich_bench: no corpus at {} (manifest.tsv missing or empty); nothing measured",
            corpus.display()
        );
        return;
    };

    let config = Config::from_toml_str(ORG_TOML).unwrap();
    let engine = Engine::new(config).unwrap();

    // Messages and their sessions; the zone for their From domains.
    let mut msgs = Vec::new();
    let mut domains = BTreeSet::new();
    let mut bytes = 0usize;
    let mut attachments = 0usize;
    for p in &paths {
        let Ok(raw) = std::fs::read(p) else { continue };
        let view = MessageView::build(&raw, &engine.config().limits);
        let (mail_from, helo) = match &view.from {
            Some(f) if !f.domain.is_empty() => (f.address.clone(), f.domain.clone()),
            _ => (String::new(), "unknown.example".to_string()),
        };
        domains.insert(helo.clone());
        bytes += raw.len();
        attachments += view.attachments.len();
        msgs.push(Msg {
            raw,
            mail_from,
            helo,
        });
    }
    let mut zone = Zone::new();
    for d in &domains {
        zone.txt(d, &format!("v=spf1 ip4:{CLIENT_IP} -all"))
            .txt(&format!("_dmarc.{d}"), "v=DMARC1; p=none");
    }
    let dns = DnsServer::start(zone).unwrap();
    let dns_cfg = DnsConfig {
        servers: vec![dns.addr().to_string()],
        ..DnsConfig::default()
    };
    let resolver = Arc::new(Resolver::new(&dns_cfg).unwrap());
    let verifier = Verifier::new(resolver, "mail.laocai.gov.vn", DEFAULT_BUDGET);

    let clamd_server = match ClamdServer::start() {
        Ok(s) => Some(s),
        Err(e) => {
            println!("enrich_bench: clamd not started ({e}); (c) and (d) skipped");
            None
        }
    };
    let clamd = clamd_server
        .as_ref()
        .map(|s| Clamd::new(ClamavConfig::new(&s.tcp_address())).unwrap());

    println!(
        "enrich_bench: {} messages ({:.1} MB, {} attachments, {} From domains) from {}",
        msgs.len(),
        bytes as f64 / 1e6,
        attachments,
        domains.len(),
        corpus.display()
    );
    let ctx = Arc::new(Ctx {
        engine,
        verifier,
        clamd,
        msgs,
    });

    let rounds = std::env::var("PHISHGATE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(DEFAULT_ROUNDS)
        .max(1);
    let q0 = dns.queries();
    println!(
        "auth results (first pass, cold cache): {}",
        auth_tally(&ctx)
    );
    println!(
        "DNS queries of that first pass: {}; {rounds} measured passes per row",
        dns.queries() - q0
    );

    let mut modes = vec![Mode::Engine, Mode::Auth];
    if ctx.clamd.is_some() {
        modes.extend([Mode::Clamav, Mode::All]);
    }
    let mut runs = Vec::new();
    // Rounds are interleaved (a, b, c, d, a, b, …) so that a change in the
    // machine's load during the run weighs on every mode alike.
    for threads in [1, 2] {
        let first = runs.len();
        for &mode in &modes {
            // Warm-up pass: fills the DNS caches, opens clamd sessions.
            let _ = pass(&ctx, mode, threads);
            runs.push(Run {
                mode,
                threads,
                wall: Duration::ZERO,
                lat: Vec::new(),
                dns_queries: mode.auth().then_some(0),
                checksum: 0.0,
            });
        }
        for _ in 0..rounds {
            for run in &mut runs[first..] {
                let q0 = dns.queries();
                let (w, l, c) = pass(&ctx, run.mode, threads);
                let dq = dns.queries() - q0;
                run.wall += w;
                run.lat.extend(l);
                run.checksum += c;
                if let Some(q) = &mut run.dns_queries {
                    *q += dq;
                }
            }
        }
        for run in &mut runs[first..] {
            run.lat.sort();
        }
    }

    println!();
    println!(
        "{:<24} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "mode", "threads", "msg/s", "vs (a)", "p50 ms", "p99 ms", "DNS q"
    );
    for r in &runs {
        let rate = r.lat.len() as f64 / r.wall.as_secs_f64();
        let base = runs
            .iter()
            .find(|b| b.threads == r.threads && b.mode == Mode::Engine)
            .map_or(rate, |b| b.lat.len() as f64 / b.wall.as_secs_f64());
        println!(
            "{:<24} {:>7} {:>8.1} {:>7.2}x {:>8.2} {:>8.2} {:>8}",
            r.mode.label(),
            r.threads,
            rate,
            rate / base,
            ms(percentile(&r.lat, 0.50)),
            ms(percentile(&r.lat, 0.99)),
            r.dns_queries.map_or("-".to_string(), |q| q.to_string()),
        );
    }
    let total: f64 = runs.iter().map(|r| r.checksum).sum();
    println!();
    if let Some(c) = &ctx.clamd {
        let s = c.stats();
        println!("clamd: {s:?}");
    }
    println!(
        "DNS server: {} queries in all ({} over TCP); score checksum {total:.1}",
        dns.queries(),
        dns.tcp_queries()
    );
    println!("{}", machine_line());
}
