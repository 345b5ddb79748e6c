//! The store goes away under load and mail keeps flowing (issue #4, item 8):
//!
//! - a private PostgreSQL (not the shared test server) is killed in the
//!   middle of a bounded load through a real Postfix, in milter and in
//!   content-filter mode, and started again: every message is delivered,
//!   held (phishgate's quarantine or Postfix's hold queue) or still being
//!   retried by Postfix, none is lost; history written during the outage
//!   arrives once the database is back; a release asked for during the
//!   outage fails with a clear error and succeeds exactly once afterwards;
//! - the disk under the SQLite database fills up: lures are refused with a
//!   temporary error (the sender retries), legitimate mail still flows, and
//!   once space is freed the same lure is quarantined, without a restart.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use phishgate_testkit::{Message, PgServer, Postfix, SmtpSink};
use support::{delivered_rcpts, queued_rcpts, repo, Server};

const DOMAIN: &str = "laocai.gov.vn";
/// Messages per run (bounded load).
const N: usize = 80;

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(repo().join("corpus").join(path)).unwrap()
}

/// Lures that quarantine and legitimate mail, alternating.
fn messages() -> Vec<Vec<u8>> {
    vec![
        fixture("phish/vi/04-hop-thu-day-99.eml"),
        fixture("legit/vi/01-canh-bao-thu-gia-mao-html.eml"),
        fixture("phish/vi/08-tai-khoan-tam-ngung-24h.eml"),
        fixture("phish/vi/15-gui-lai-mat-khau-qua-email.eml"),
    ]
}

/// The private database, and no `reject` (the lures are held, which is
/// what this test is about, not refused in the session).
fn storage(pg: &PgServer) -> String {
    format!(
        "[storage]\nurl = \"{}\"\n\n[actions]\nreject = 100.0\n",
        pg.url()
    )
}

/// Sends N messages in sessions of 4 (paced), kills PostgreSQL once a
/// quarter is answered, and starts it again once five eighths are answered
/// and phishgate has met the outage with a lure (its log says a quarantine
/// copy could not be stored; Postfix may deliver to a content filter
/// seconds after it answered the sender, so answers alone do not tell).
/// Returns the recipients and those refused in the SMTP session.
fn load_with_outage(
    pf: &Postfix,
    pg: &PgServer,
    server: &Server,
) -> (Vec<String>, BTreeSet<String>) {
    let corpus = messages();
    let rcpts: Vec<String> = (0..N).map(|i| format!("y{i}@{DOMAIN}")).collect();
    let answered = AtomicUsize::new(0);
    let refused = std::sync::Mutex::new(BTreeSet::new());
    std::thread::scope(|s| {
        let (answered, refused, rcpts, corpus) = (&answered, &refused, &rcpts, &corpus);
        for t in 0..2 {
            s.spawn(move || {
                let mine: Vec<usize> = (0..N).filter(|i| i % 2 == t).collect();
                for batch in mine.chunks(4) {
                    std::thread::sleep(Duration::from_millis(100));
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
        let wait_for = |n: usize| {
            let deadline = Instant::now() + Duration::from_secs(120);
            while answered.load(Ordering::SeqCst) < n {
                assert!(Instant::now() < deadline, "load did not progress");
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        wait_for(N / 4);
        pg.kill().unwrap();
        wait_for(N * 5 / 8);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let log = server.log_text();
            if log.contains("cannot store the quarantine copy")
                || log.contains("quarantine store failed")
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        pg.start_again().unwrap();
    });
    (rcpts, refused.into_inner().unwrap())
}

/// Waits until every recipient is delivered, held, or refused in session,
/// flushing Postfix's deferred queue; panics with the state after 120 s.
fn settle(
    pf: &Postfix,
    server: &Server,
    rcpts: &[String],
    refused: &BTreeSet<String>,
) -> (Vec<String>, BTreeSet<String>, BTreeSet<String>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        pf.flush().unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let got = delivered_rcpts(pf);
        let quarantined: BTreeSet<String> = server.held_rcpts().into_iter().collect();
        let (hold, other) = queued_rcpts(pf);
        let done = rcpts.iter().all(|r| {
            got.contains(r) || quarantined.contains(r) || hold.contains(r) || refused.contains(r)
        });
        if done && other.is_empty() {
            return (got, quarantined, hold);
        }
        if Instant::now() > deadline {
            let missing: Vec<_> = rcpts
                .iter()
                .filter(|r| {
                    !(got.contains(r)
                        || quarantined.contains(*r)
                        || hold.contains(*r)
                        || refused.contains(*r))
                })
                .collect();
            panic!(
                "after 120 s: missing {missing:?}; still queued {other:?}\n{}\n{}",
                pf.diagnostics(),
                server.log_text()
            );
        }
    }
}

/// Every recipient is in the history once the database is back (the writer
/// retried the rows it could not write during the outage).
fn assert_history_complete(server: &Server, expect: &BTreeSet<String>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = server.admin(&["history", "--json", "--limit", "1000"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let seen: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .flat_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["rcpts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        let missing: Vec<&String> = expect.iter().filter(|r| !seen.contains(*r)).collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "history rows missing for {missing:?}\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn content_filter_mode_survives_postgres_outage() {
    let pg = PgServer::start().unwrap();
    let (pf, server) = support::filter_pair(
        "pg-outage-filter",
        &storage(&pg),
        "minimal_backoff_time = 1s\nmaximal_backoff_time = 2s\nqueue_run_delay = 1s\n",
    );
    let (rcpts, refused) = load_with_outage(&pf, &pg, &server);
    // After-queue: Postfix took everything; lures that met the outage were
    // deferred (451 from phishgate) and retried.
    assert!(refused.is_empty(), "{refused:?}");
    let (got, quarantined, hold) = settle(&pf, &server, &rcpts, &refused);
    assert!(
        hold.is_empty(),
        "content filter mode never uses the hold queue"
    );
    // Exactly once: delivered or quarantined, not both, not twice.
    for r in &rcpts {
        let n = got.iter().filter(|g| *g == r).count() + usize::from(quarantined.contains(r));
        assert_eq!(n, 1, "{r}: delivered {got:?}, quarantined {quarantined:?}");
    }
    assert!(
        pf.log().contains("status=deferred"),
        "the outage did not hit a lure:\n{}",
        server.log_text()
    );
    assert!(
        !quarantined.is_empty() && !got.is_empty(),
        "both lures and legitimate mail went through"
    );
    let all: BTreeSet<String> = rcpts.iter().cloned().collect();
    assert_history_complete(&server, &all);
    eprintln!(
        "content filter + PostgreSQL outage: {} sent = {} delivered + {} quarantined",
        rcpts.len(),
        got.len(),
        quarantined.len()
    );

    // A release asked for while the database is down fails clearly; after
    // it is back the message is released exactly once.
    let id = server.quarantine()[0]["id"].as_str().unwrap().to_owned();
    let rcpt = server.quarantine()[0]["rcpts"][0]["address"]
        .as_str()
        .unwrap()
        .to_owned();
    pg.stop().unwrap();
    let out = server.admin(&["quarantine", "release", &id]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("PostgreSQL") && err.to_lowercase().contains("unavailable"),
        "{err}"
    );
    pg.start_again().unwrap();
    let out = server.admin(&["quarantine", "release", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = server.admin(&["quarantine", "release", &id]);
    assert!(again.status.success());
    pf.wait_for_maildir("catchall", got.len() + 1, Duration::from_secs(30))
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let copies = delivered_rcpts(&pf).iter().filter(|g| **g == rcpt).count();
    assert_eq!(copies, 1, "released once");
}

#[test]
fn milter_mode_survives_postgres_outage() {
    let pg = PgServer::start().unwrap();
    let (pf, server) = support::milter_pair("pg-outage-milter", &storage(&pg));
    let (rcpts, refused) = load_with_outage(&pf, &pg, &server);
    let (got, quarantined, hold) = settle(&pf, &server, &rcpts, &refused);
    // Lures that met the outage were put on Postfix's hold queue (the
    // store could not take them): safe, and visible with `postqueue -p`.
    assert!(
        !hold.is_empty(),
        "no lure met the outage:\n{}",
        server.log_text()
    );
    assert!(!quarantined.is_empty(), "lures were quarantined around it");
    for r in &rcpts {
        let n = got.iter().filter(|g| *g == r).count()
            + usize::from(quarantined.contains(r))
            + usize::from(hold.contains(r))
            + usize::from(refused.contains(r));
        assert_eq!(n, 1, "{r}");
    }
    eprintln!(
        "milter + PostgreSQL outage: {} sent = {} delivered + {} quarantined + {} on Postfix hold + {} refused",
        rcpts.len(),
        got.len(),
        quarantined.len(),
        hold.len(),
        refused.len()
    );
    let scanned: BTreeSet<String> = got
        .iter()
        .chain(quarantined.iter())
        .chain(hold.iter())
        .cloned()
        .collect();
    assert_history_complete(&server, &scanned);
}

/// A small tmpfs mounted at a directory, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting a tmpfs for the full-disk test needs root and CAP_SYS_ADMIN: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(at.to_path_buf())
    }

    /// Fills the file system with one file; returns its path.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.0.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        loop {
            if f.write_all(&chunk).is_err() {
                break;
            }
        }
        // Whatever a 64 KiB chunk did not fit, byte by byte.
        while f.write_all(&[0]).is_ok() {}
        let _ = f.sync_all();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).output();
    }
}

/// One message straight to phishgate's SMTP listener (as Postfix's
/// `smtp` client would send it: CRLF line endings); the final reply code.
fn smtp_send(server: &Server, rcpt: &str, data: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(data).replace("\r\n", "\n");
    let msg = Message {
        from: "sender@sender.test".into(),
        to: vec![rcpt.to_owned()],
        mail_params: Vec::new(),
        data: text.replace('\n', "\r\n").into_bytes(),
    };
    match phishgate_testkit::send_raw_smtp(server.smtp, "client.test", &[msg]) {
        Ok(o) => o[0].final_code(),
        Err(e) => panic!("{e}\n{}", server.log_text()),
    }
}

#[test]
fn full_disk_tempfails_lures_and_recovers() {
    let sink = SmtpSink::accept_all().unwrap();
    let mut server = Server::prepare("full-disk");
    let disk = Tmpfs::mount(&server.dir.join("data"), "4m");
    server.configure(Some(sink.addr()), "");
    server.spawn();
    let lure = fixture("phish/vi/04-hop-thu-day-99.eml");
    let legit = fixture("legit/vi/01-canh-bao-thu-gia-mao-html.eml");
    assert_eq!(smtp_send(&server, "before@laocai.gov.vn", &lure), 250);
    assert_eq!(server.quarantine().len(), 1);

    let filler = disk.fill();
    // A lure cannot be quarantined: temporary failure, the sender retries.
    let code = smtp_send(&server, "full@laocai.gov.vn", &lure);
    assert_eq!(code, 451, "{}", server.log_text());
    // Legitimate mail does not need the disk.
    assert_eq!(smtp_send(&server, "legit@laocai.gov.vn", &legit), 250);
    sink.wait_for_messages(1, Duration::from_secs(10)).unwrap();
    let log = server.log_text();
    assert!(
        log.to_lowercase().contains("full"),
        "the log says the disk is full:\n{log}"
    );

    // Space comes back: the retried lure is quarantined, no restart needed.
    std::fs::remove_file(filler).unwrap();
    let code = smtp_send(&server, "full@laocai.gov.vn", &lure);
    assert_eq!(code, 250, "{}", server.log_text());
    let held = server.held_rcpts();
    assert!(held.contains(&"full@laocai.gov.vn".to_owned()), "{held:?}");
    assert_eq!(server.quarantine().len(), 2);
    drop(server);
    drop(disk);
}
