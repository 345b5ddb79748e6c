//! `phishgate bench`: throughput of the full analysis on one core.
//!
//! Messages are read into memory first (so disk speed is not measured), then
//! scanned on the calling thread for a number of rounds; the best round is
//! reported as messages/s and MB/s, with peak resident memory of the process
//! (VmHWM) as the kernel counts it. The target in issue #2 is at least 5,000
//! messages/s per core over `../shared/corpus` and under 150 MB peak.

use std::time::Instant;

use anyhow::{bail, Result};
use phishgate_core::{Action, Engine, Envelope, Facts, ScanInput};

use crate::input::{self, Item};

/// Runs the benchmark and prints its report.
pub fn run(
    engine: &Engine,
    paths: &[String],
    limit: Option<usize>,
    rounds: usize,
    json: bool,
) -> Result<()> {
    let load_started = Instant::now();
    let mut messages: Vec<Vec<u8>> = Vec::new();
    let mut skipped = 0usize;
    for item in input::expand(paths) {
        if limit.is_some_and(|l| messages.len() >= l) {
            break;
        }
        match item {
            Item::File(p, _) => match std::fs::read(&p) {
                Ok(d) if !d.is_empty() => messages.push(d),
                _ => skipped += 1,
            },
            Item::Bytes { data, .. } => messages.push(data),
            Item::Error { .. } => skipped += 1,
        }
    }
    if messages.is_empty() {
        bail!("no messages found in {}", paths.join(" "));
    }
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let load_secs = load_started.elapsed().as_secs_f64();
    let envelope = Envelope::default();
    let facts = Facts::default();
    let mut best = f64::MAX;
    let mut counts = [0usize; 4];
    for round in 0..rounds {
        let t = Instant::now();
        let mut c = [0usize; 4];
        for m in &messages {
            let r = engine.scan(&ScanInput {
                raw: m,
                envelope: &envelope,
                facts: &facts,
            });
            let idx = match r.action {
                Action::Accept => 0,
                Action::Warn => 1,
                Action::Quarantine => 2,
                Action::Reject => 3,
            };
            if let Some(x) = c.get_mut(idx) {
                *x += 1;
            }
        }
        let secs = t.elapsed().as_secs_f64();
        best = best.min(secs);
        if round == 0 {
            counts = c;
        }
    }
    let n = messages.len();
    let msgs_per_s = n as f64 / best;
    let mb_per_s = bytes as f64 / 1_000_000.0 / best;
    let peak_mb = peak_rss_kib().map(|k| k as f64 / 1024.0);
    let [a, w, q, r] = counts;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "messages": n,
                "bytes": bytes,
                "skipped": skipped,
                "rounds": rounds,
                "best_round_seconds": best,
                "messages_per_second": msgs_per_s,
                "megabytes_per_second": mb_per_s,
                "peak_rss_mib": peak_mb,
                "threads": 1,
                "actions": { "accept": a, "warn": w, "quarantine": q, "reject": r },
            })
        );
    } else {
        println!("phishgate bench: full analysis on one core");
        println!(
            "  messages      {n} ({:.1} MB, {skipped} skipped, loaded in {load_secs:.2} s)",
            bytes as f64 / 1e6
        );
        println!("  best of {rounds}     {best:.3} s");
        println!("  throughput    {msgs_per_s:.0} messages/s, {mb_per_s:.1} MB/s");
        match peak_mb {
            Some(p) => {
                println!("  peak memory   {p:.1} MiB (VmHWM, includes the messages held in memory)")
            }
            None => println!("  peak memory   unknown (no /proc/self/status)"),
        }
        println!("  actions       {a} accept, {w} warn, {q} quarantine, {r} reject");
    }
    Ok(())
}

/// Peak resident set size of this process, from /proc/self/status (Linux).
pub fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
