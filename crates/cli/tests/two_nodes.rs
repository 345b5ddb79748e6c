//! Several gateway nodes on one PostgreSQL: two `phishgate serve` processes
//! with their own ports share a throw-away database. A lure quarantined
//! through node A is listed and released through node B's configuration,
//! and sender memory learned on A is used by B's verdicts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::process::Command;
use std::time::Duration;

use phishgate_testkit::{Message, SmtpClient, SmtpSink};
use support::{repo, Server};

/// A throw-away database on the local PostgreSQL, dropped on drop.
struct Db {
    name: String,
    base: String,
}

impl Db {
    fn create() -> Db {
        let base = std::env::var("PHISHGATE_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let name = format!(
            "phishgate_nodes_{}_{}",
            std::process::id(),
            support::free_port()
        );
        let out = Command::new("psql")
            .arg(format!("{}/test", base.trim_end_matches('/')))
            .args(["-qc", &format!("CREATE DATABASE {name}")])
            .output()
            .expect(
                "psql (PostgreSQL client) is needed: ./scripts/test installs and starts PostgreSQL",
            );
        assert!(
            out.status.success(),
            "cannot create a test database: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Db { name, base }
    }
    fn url(&self) -> String {
        format!("{}/{}", self.base.trim_end_matches('/'), self.name)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(format!("{}/test", self.base.trim_end_matches('/')))
            .args([
                "-qc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

#[test]
fn two_nodes_share_quarantine_and_sender_memory() {
    let db = Db::create();
    let sink = SmtpSink::accept_all().unwrap();
    let storage = format!("[storage]\nurl = \"{}\"\n", db.url());
    let a = Server::start("node-a", Some(sink.addr()), &storage);
    let b = Server::start("node-b", Some(sink.addr()), &storage);

    // A lure through node A's content filter: held in the shared store.
    // CRLF on the wire (a bare-LF message would never end: smuggling guard).
    let lure =
        std::fs::read_to_string(repo().join("corpus/phish/vi/01-xac-minh-tai-khoan-webmail.eml"))
            .unwrap()
            .replace("\r\n", "\n")
            .replace('\n', "\r\n")
            .into_bytes();
    let mut c = SmtpClient::connect(a.smtp).unwrap();
    c.command("EHLO mx.example").unwrap();
    let o = c
        .transaction(&Message::new(
            "bqt.thudientu.laocai@gmail.com",
            &["nguyenthilan@laocai.gov.vn"],
            lure,
        ))
        .unwrap();
    assert_eq!(o.final_code(), 250, "{o:?}");
    assert!(sink.messages().is_empty());

    // Listed and released through node B.
    let held = b.quarantine();
    assert_eq!(held.len(), 1, "{held:?}");
    let id = held[0]["id"].as_str().unwrap().to_string();
    let out = b.admin(&["quarantine", "release", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = sink.wait_for_messages(1, Duration::from_secs(20)).unwrap();
    assert_eq!(got.len(), 1);
    // A second release from node A finds nothing left: no duplicate.
    let out = a.admin(&["quarantine", "release", &id]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to release"));
    assert_eq!(sink.messages().len(), 1);
    let shown = a.admin(&["quarantine", "show", &id, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(v["rcpts"][0]["state"], "released");
    // The audit log, seen from either node, says who released it.
    let out = a.admin(&["audit", "--json"]);
    let audit = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success() && audit.contains(&id), "{audit}");
    assert!(audit.contains("cli@"), "{audit}");

    // Sender memory: a partner writes to node A; node B then knows it.
    let partner = "From: Ke toan <ketoan@doitac-xaydung.com.vn>\r\nTo: a@laocai.gov.vn\r\n\
Subject: Hoa don thang 11\r\n\r\nGui anh chi hoa don thang 11.\r\n";
    let symbols = |s: &Server| -> Vec<String> {
        let v = s.post_json(
            "/api/v1/scan",
            &[("Rcpt", "a@laocai.gov.vn")],
            partner.as_bytes(),
        );
        v["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(symbols(&b).contains(&"SENDER_FIRST_CONTACT".to_string()));
    for _ in 0..3 {
        let _ = a.post_json(
            "/checkv2",
            &[("Rcpt", "a@laocai.gov.vn")],
            partner.as_bytes(),
        );
    }
    // The history writer batches; give it a moment.
    let mut last = Vec::new();
    for _ in 0..100 {
        last = symbols(&b);
        if !last.iter().any(|s| s == "SENDER_FIRST_CONTACT") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !last.iter().any(|s| s == "SENDER_FIRST_CONTACT"),
        "{last:?}"
    );
    assert!(last.iter().any(|s| s == "SENDER_NEVER_REPLIED"), "{last:?}");

    // History written by both nodes is searchable from either.
    let out = b.admin(&["history", "--json", "--limit", "100"]);
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        rows.iter().any(|r| r["quarantine_id"] == id.as_str()),
        "{rows:?}"
    );
    assert!(rows.iter().any(|r| r["interface"] == "http"), "{rows:?}");
}

/// One organisation, two nodes, one model: what an administrator teaches
/// through node A (`phishgate learn`, a user's report confirmed or
/// dismissed) changes node B's verdicts without a restart, and the report
/// flow keeps who reported what and who decided.
#[test]
fn two_nodes_share_the_learned_model_and_users_reports() {
    let db = Db::create();
    let storage = format!(
        "[storage]\nurl = \"{}\"\n[classifier]\nlearn_from_decisions = true\n",
        db.url()
    );
    let a = Server::start("model-a", None, &storage);
    let b = Server::start("model-b", None, &storage);
    let lure_path = repo().join("corpus/phish/vi/04-hop-thu-day-99.eml");
    let lure = std::fs::read(&lure_path).unwrap();
    let p_b = || support::ml_probability(&b.post_json("/api/v1/scan", &[], &lure));
    let before = p_b();
    assert!(before > 0.9, "{before}");

    // An administrator on node A insists, five times, that it is wanted.
    let l = lure_path.to_str().unwrap();
    let out = a.admin(&["learn", "--ham", l, l, l, l, l]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("version 1"), "{err}");
    b.wait_model_version(1);
    let after = p_b();
    assert!(
        after < before,
        "node B judges with the taught model: {after} vs {before}"
    );
    // A configuration reload (SIGHUP) keeps the organisation's model.
    b.signal("HUP");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !b.log_text().contains("configuration reloaded") {
        assert!(std::time::Instant::now() < deadline, "{}", b.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(p_b(), after, "the reload kept the taught model");

    // A user forwards a suspicious message as an attachment to the report
    // address; the report is about the attached message.
    let inner = String::from_utf8(lure.clone())
        .unwrap()
        .replace("\r\n", "\n");
    let report = format!(
        "From: nhanvien@laocai.gov.vn\nTo: baocao@laocai.gov.vn\nSubject: Fw: thu nghi lua dao\n\
         MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\n\
         Content-Type: text/plain; charset=utf-8\n\nNho kiem tra giup em.\n--zz\n\
         Content-Type: message/rfc822\n\n{inner}\n--zz--\n"
    );
    let file = a.dir.join("report.eml");
    std::fs::write(&file, report).unwrap();
    let add = |who: &str| {
        let out = a.admin(&[
            "report",
            "add",
            "--reporter",
            who,
            file.to_str().unwrap(),
            "--format",
            "json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let first = add("nhanvien@laocai.gov.vn");
    let again = add("nhanvien@laocai.gov.vn");
    assert_eq!(
        first["id"], again["id"],
        "a second press is the same report"
    );
    let other = add("ketoan@laocai.gov.vn");
    assert_ne!(first["id"], other["id"]);
    assert_eq!(other["reporters"], 2);
    assert_eq!(first["status"], "new");
    assert!(
        first["subject"].as_str().unwrap().contains("99"),
        "the attached message's subject: {first}"
    );
    assert_ne!(first["sender"], "nhanvien@laocai.gov.vn");
    // Listed on node B's side, where the IT centre may be looking.
    let out = b.admin(&["report", "list", "--status", "new", "--format", "json"]);
    let listed = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(listed, 2, "{}", String::from_utf8_lossy(&out.stdout));

    // Confirmed on node B: the model learns "phishing" (version 2), node A
    // loads it; deciding twice is refused and teaches nothing more.
    let id = first["id"].as_str().unwrap();
    let out = b.admin(&["report", "confirm", id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("version 2"));
    a.wait_model_version(2);
    let out = b.admin(&["report", "confirm", id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already"));
    let out = b.admin(&["model", "status", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], 2);
    // The other user's report, dismissed: wanted mail, version 3.
    let out = a.admin(&["report", "dismiss", other["id"].as_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = a.admin(&["report", "list", "--format", "json"]);
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rows
        .iter()
        .any(|r| r["status"] == "confirmed" && r["decided_by"].is_string()));
    assert!(rows.iter().any(|r| r["status"] == "dismissed"));
    // Every change of the model is in the audit log.
    let out = a.admin(&["audit", "--format", "json"]);
    let audit = String::from_utf8_lossy(&out.stdout);
    assert_eq!(audit.matches("model.update").count(), 3, "{audit}");
}
