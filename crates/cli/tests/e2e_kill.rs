//! No lost mail: `phishgate serve` is killed with SIGKILL in the middle of a
//! bounded load through a real Postfix, restarted, and every message sent is
//! accounted for: delivered, held, refused in the SMTP session (the sender
//! was told), or still queued at Postfix. Both modes, configured from the
//! README's snippets.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use phishgate_testkit::{Message, Postfix};
use support::{repo, Server};

const DOMAIN: &str = "laocai.gov.vn";
/// Messages per run (bounded load).
const N: usize = 120;

/// A mix of legitimate mail and lures from the golden corpus.
fn messages() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for dir in ["legit/vi", "phish/vi", "legit/en", "phish/en"] {
        let mut names: Vec<_> = std::fs::read_dir(repo().join("corpus").join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        out.extend(
            names
                .into_iter()
                .take(15)
                .map(|p| std::fs::read(p).unwrap()),
        );
    }
    out
}

#[derive(Default, Debug)]
struct Tally {
    delivered: BTreeMap<String, usize>,
    held: BTreeSet<String>,
    queued: BTreeSet<String>,
    refused: BTreeSet<String>,
}

impl Tally {
    fn accounted(&self, rcpt: &str) -> bool {
        self.delivered.contains_key(rcpt)
            || self.held.contains(rcpt)
            || self.queued.contains(rcpt)
            || self.refused.contains(rcpt)
    }
}

fn delivered(pf: &Postfix) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in support::delivered_rcpts(pf) {
        *out.entry(r).or_default() += 1;
    }
    out
}

fn queued(pf: &Postfix) -> BTreeSet<String> {
    let (hold, other) = support::queued_rcpts(pf);
    hold.into_iter().chain(other).collect()
}

/// Sends N messages in sessions of 4, killing and restarting phishgate once
/// a third of them were answered by Postfix. Returns the recipients Postfix
/// refused in the session (milter reject).
struct Load {
    rcpts: Vec<String>,
    refused: BTreeSet<String>,
    /// Recipients of sessions that started after the restart.
    after_restart: Vec<String>,
}

fn load_with_kill(pf: &Postfix, server: &mut Server) -> Load {
    let corpus = messages();
    let rcpts: Vec<String> = (0..N).map(|i| format!("k{i}@{DOMAIN}")).collect();
    let answered = AtomicUsize::new(0);
    let restarted = std::sync::atomic::AtomicBool::new(false);
    let refused = std::sync::Mutex::new(BTreeSet::new());
    let after = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        let (answered, refused, rcpts, corpus) = (&answered, &refused, &rcpts, &corpus);
        let (restarted, after) = (&restarted, &after);
        for t in 0..2 {
            s.spawn(move || {
                let mine: Vec<usize> = (0..N).filter(|i| i % 2 == t).collect();
                let batches = mine.chunks(4).count();
                for (b, batch) in mine.chunks(4).enumerate() {
                    // Paced, so the load spans the outage and the restart.
                    std::thread::sleep(Duration::from_millis(100));
                    // The last batch waits for the restart (a slow start on
                    // a loaded machine must not let the load end first), so
                    // some mail always meets the restarted gateway.
                    if b + 1 == batches {
                        let deadline = Instant::now() + Duration::from_secs(120);
                        while !restarted.load(Ordering::SeqCst) && Instant::now() < deadline {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                    if restarted.load(Ordering::SeqCst) {
                        after
                            .lock()
                            .unwrap()
                            .extend(batch.iter().map(|&i| rcpts[i].clone()));
                    }
                    let msgs: Vec<Message> = batch
                        .iter()
                        .map(|&i| Message {
                            from: "sender@sender.test".into(),
                            to: vec![rcpts[i].clone()],
                            mail_params: Vec::new(),
                            data: corpus[i % corpus.len()].clone(),
                        })
                        .collect();
                    let outcomes = pf.send_raw(&msgs).unwrap();
                    for (&i, o) in batch.iter().zip(outcomes) {
                        let code = o.final_code();
                        assert!(
                            code == 250 || (500..600).contains(&code),
                            "{}: {o:?}",
                            rcpts[i]
                        );
                        if code != 250 {
                            refused.lock().unwrap().insert(rcpts[i].clone());
                        }
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
        // The killer: SIGKILL once a third is through, restart a moment later.
        let deadline = Instant::now() + Duration::from_secs(120);
        while answered.load(Ordering::SeqCst) < N / 4 {
            assert!(Instant::now() < deadline, "load did not progress");
            std::thread::sleep(Duration::from_millis(5));
        }
        server.kill9();
        std::thread::sleep(Duration::from_millis(300));
        server.spawn();
        restarted.store(true, Ordering::SeqCst);
    });
    Load {
        rcpts,
        refused: refused.into_inner().unwrap(),
        after_restart: after.into_inner().unwrap(),
    }
}

/// Mail sent after the restart is scanned again.
fn assert_scanned_after_restart(pf: &Postfix, server: &Server, load: &Load) {
    assert!(
        !load.after_restart.is_empty(),
        "the load ended before the restart"
    );
    let held = held(server, pf);
    let scanned: Vec<String> = pf
        .maildir("catchall")
        .into_iter()
        .filter(|d| d.header("X-Phishgate-Status").is_some())
        .map(|d| d.header("X-Original-To").unwrap())
        .collect();
    assert!(
        load.after_restart
            .iter()
            .any(|r| scanned.contains(r) || held.contains(r) || load.refused.contains(r)),
        "nothing sent after the restart was scanned"
    );
}

fn settle(pf: &Postfix, server: &Server, rcpts: &[String], refused: BTreeSet<String>) -> Tally {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        pf.flush().unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let t = Tally {
            delivered: delivered(pf),
            held: held(server, pf),
            queued: queued(pf),
            refused: refused.clone(),
        };
        let all = rcpts.iter().all(|r| t.accounted(r));
        // Done when everything is accounted for and nothing is left in flight.
        if all && t.queued.iter().all(|q| t.held.contains(q)) {
            return t;
        }
        if Instant::now() > deadline {
            let missing: Vec<_> = rcpts.iter().filter(|r| !t.accounted(r)).collect();
            panic!(
                "after 120 s: missing {missing:?}\n{t:?}\n{}\n{}",
                pf.diagnostics(),
                server.log_text()
            );
        }
    }
}

/// Held: phishgate's quarantine (content filter) or Postfix's hold queue (milter).
fn held(server: &Server, pf: &Postfix) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = pf
        .queue()
        .unwrap()
        .into_iter()
        .filter(|q| q.queue_name == phishgate_testkit::QueueName::Hold)
        .flat_map(|q| q.recipients.into_iter().map(|r| r.address))
        .collect();
    out.extend(server.held_rcpts());
    out
}

fn report(what: &str, rcpts: &[String], t: &Tally) {
    let dup: Vec<_> = t.delivered.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!(
        "{what}: {} sent = {} delivered + {} held + {} refused in session ({} queued at the end; {} delivered twice: {dup:?})",
        rcpts.len(),
        t.delivered.len(),
        t.held.len(),
        t.refused.len(),
        t.queued.len(),
        dup.len()
    );
    for r in rcpts {
        assert!(t.accounted(r), "{r} lost");
    }
}

#[test]
fn content_filter_mode_survives_sigkill() {
    let (pf, mut server) = support::filter_pair(
        "kill-filter",
        "",
        "minimal_backoff_time = 1s\nmaximal_backoff_time = 2s\nqueue_run_delay = 1s\n",
    );
    let load = load_with_kill(&pf, &mut server);
    // After-queue: Postfix accepted everything; nothing is refused in session.
    assert!(load.refused.is_empty(), "{:?}", load.refused);
    let t = settle(&pf, &server, &load.rcpts, load.refused.clone());
    report("content filter", &load.rcpts, &t);
    assert_scanned_after_restart(&pf, &server, &load);
    assert!(t.queued.iter().all(|q| t.held.contains(q)), "{t:?}");
    // The outage was visible to Postfix as deferrals, not as losses.
    assert!(
        pf.log().contains("status=deferred") || pf.log().contains("lost connection"),
        "the kill did not hit the load:\n{}",
        pf.log()
    );
}

#[test]
fn milter_mode_survives_sigkill() {
    let (pf, mut server) = support::milter_pair("kill-milter", "");
    let load = load_with_kill(&pf, &mut server);
    let t = settle(&pf, &server, &load.rcpts, load.refused.clone());
    report("milter", &load.rcpts, &t);
    assert_scanned_after_restart(&pf, &server, &load);
    // With `milter_default_action = accept` (the README's choice), mail sent
    // while phishgate was down was delivered unscanned rather than lost.
    let unscanned = pf
        .maildir("catchall")
        .iter()
        .filter(|d| d.header("X-Phishgate-Status").is_none())
        .count();
    eprintln!("milter: {unscanned} delivered unscanned during the outage");
}
