//! Test helpers shared by the integration tests.
#![allow(dead_code)]

use phishgate_smtp::{Event, Reply, Server, ServerConfig, Transaction};

/// Tiny xorshift64* PRNG (deterministic, no dependency).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Everything observable from one server session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub output: Vec<u8>,
    pub transactions: Vec<Transaction>,
    pub closed: bool,
    pub max_buffered: usize,
}

impl Run {
    pub fn output_str(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }
    /// Reply codes of all reply lines that end a reply (`ddd ` lines).
    pub fn codes(&self) -> Vec<u16> {
        self.output_str()
            .split("\r\n")
            .filter(|l| l.len() >= 3 && !l[3..].starts_with('-'))
            .map(|l| l[..3].parse().unwrap())
            .collect()
    }
}

/// The adapter a test plays: answers every message with 250 (or with
/// `answer` if given), checks the pause contract.
pub fn run_with(cfg: &ServerConfig, chunks: &[&[u8]], answer: Option<&Reply>) -> Run {
    let mut s = Server::new(cfg.clone());
    let mut run = Run {
        output: Vec::new(),
        transactions: Vec::new(),
        closed: false,
        max_buffered: 0,
    };
    drain(&mut s, &mut run, answer);
    for chunk in chunks {
        if run.closed {
            break;
        }
        s.feed(chunk);
        run.max_buffered = run.max_buffered.max(s.buffered_bytes());
        drain(&mut s, &mut run, answer);
    }
    run
}

fn drain(s: &mut Server, run: &mut Run, answer: Option<&Reply>) {
    while let Some(ev) = s.next_event() {
        run.max_buffered = run.max_buffered.max(s.buffered_bytes());
        match ev {
            Event::Send(b) => {
                assert!(!b.is_empty());
                run.output.extend_from_slice(&b);
            }
            Event::Message(tx) => {
                // While the result is pending, nothing else happens.
                assert!(!s.wants_input());
                assert_eq!(s.next_event(), None);
                let n = run.transactions.len();
                run.transactions.push(*tx);
                let reply = answer.cloned().unwrap_or_else(|| {
                    Reply::new(250, Some((2, 0, 0)), format!("Ok: queued as Q{n}"))
                });
                s.finish_data(reply).unwrap();
            }
            Event::Close => {
                run.closed = true;
                assert_eq!(s.next_event(), None);
                return;
            }
        }
    }
}

pub fn run(cfg: &ServerConfig, input: &[u8]) -> Run {
    run_with(cfg, &[input], None)
}

/// Feeds `input` whole, split at every byte boundary, one byte at a time
/// and in random chunks; all runs must observe the same thing.
pub fn assert_chunking_invariant(cfg: &ServerConfig, input: &[u8], seed: u64) -> Run {
    let mut reference = run(cfg, input);
    reference.max_buffered = 0;
    let check = |mut r: Run, how: &str| {
        r.max_buffered = 0;
        assert_eq!(r, reference, "{how}");
    };
    for i in 0..=input.len() {
        let (a, b) = input.split_at(i);
        check(run_with(cfg, &[a, b], None), &format!("split at {i}"));
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    check(run_with(cfg, &bytes, None), "one byte at a time");
    let mut rng = Rng(seed);
    for round in 0..50 {
        check(
            run_with(cfg, &random_chunks(&mut rng, input), None),
            &format!("random chunking {round}"),
        );
    }
    reference
}

pub fn random_chunks<'a>(rng: &mut Rng, input: &'a [u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let cap = if rng.below(4) == 0 { 4096 } else { 16 };
        let n = 1 + rng.below(rest.len().min(cap));
        let (a, b) = rest.split_at(n.min(rest.len()));
        out.push(a);
        rest = b;
    }
    out
}

pub fn cfg() -> ServerConfig {
    ServerConfig::new("filter.example")
}
