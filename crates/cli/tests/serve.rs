//! `phishgate serve` as an administrator runs it: start, reload on SIGHUP,
//! graceful stop on SIGTERM, clear errors for a bad configuration or a busy
//! port.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::process::Command;
use std::time::Duration;

use support::{repo, Server};

const LURE: &str = "corpus/phish/vi/01-xac-minh-tai-khoan-webmail.eml";

#[test]
fn sighup_reloads_and_sigterm_stops() {
    let mut s = Server::start("reload", None, "");
    let lure = std::fs::read(repo().join(LURE)).unwrap();
    let v = s.post_json("/checkv2", &[], &lure);
    assert_eq!(v["action"], "reject");

    // Raise the thresholds, SIGHUP: the same message is now only a warning.
    let mut text = std::fs::read_to_string(&s.config).unwrap();
    text.push_str("\n[actions]\nwarn = 5.0\nquarantine = 900.0\nreject = 1000.0\n");
    std::fs::write(&s.config, text).unwrap();
    s.signal("HUP");
    let mut action = String::new();
    for _ in 0..100 {
        action = s.post_json("/checkv2", &[], &lure)["action"]
            .as_str()
            .unwrap()
            .to_string();
        if action != "reject" {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(action, "rewrite subject", "{}", s.log_text());

    // A broken file on SIGHUP keeps the previous configuration.
    std::fs::write(&s.config, "[actions\nbroken").unwrap();
    s.signal("HUP");
    for _ in 0..200 {
        if s.log_text().contains("reload failed") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        s.post_json("/checkv2", &[], &lure)["action"],
        "rewrite subject"
    );
    assert!(s.log_text().contains("reload failed"), "{}", s.log_text());

    s.signal("TERM");
    assert_eq!(
        s.wait_exit(Duration::from_secs(20)),
        Some(0),
        "{}",
        s.log_text()
    );
    assert!(s.log_text().contains("phishgate serve stopped"));
}

#[test]
fn bad_configuration_and_busy_port_are_clear_errors() {
    let dir = support::scratch("badconf");
    let conf = dir.join("bad.toml");
    std::fs::write(&conf, "[listen]\nhttp = \"localhost\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_phishgate"))
        .args(["serve", "--config"])
        .arg(&conf)
        .arg("--data-dir")
        .arg(dir.join("d"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[listen]") && err.contains("http"), "{err}");

    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    std::fs::write(
        &conf,
        format!("[listen]\nhttp = \"127.0.0.1:{port}\"\nmilter = \"off\"\nsmtp = \"off\"\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_phishgate"))
        .args(["serve", "--config"])
        .arg(&conf)
        .arg("--data-dir")
        .arg(dir.join("d"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port} (http)")),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// `/checkv2` is mail flow (an MTA asks): recorded in the history and in
/// sender memory. `/api/v1/scan` is an analyst's ad-hoc scan: not recorded,
/// so scanning a saved lure does not make its sender known.
#[test]
fn checkv2_is_recorded_and_adhoc_scans_are_not() {
    let s = Server::start("http-history", None, "");
    let lure =
        std::fs::read(support::repo().join("corpus/phish/vi/04-hop-thu-day-99.eml")).unwrap();
    for _ in 0..3 {
        let v = s.post_json("/api/v1/scan", &[("Rcpt", "adhoc@laocai.gov.vn")], &lure);
        assert_ne!(v["action"], "accept", "{v}");
    }
    let v = s.post_json("/checkv2", &[("Rcpt", "flow@laocai.gov.vn")], &lure);
    assert!(v["score"].as_f64().unwrap() > 0.0, "{v}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let rows = loop {
        let out = s.admin(&["history", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if !rows.is_empty() || std::time::Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // Give a late ad-hoc row the chance to show up before checking its absence.
    std::thread::sleep(Duration::from_millis(700));
    let out = s.admin(&["history", "--json"]);
    let again = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(again, 1);
    assert_eq!(rows[0]["rcpts"][0], "flow@laocai.gov.vn", "{rows:?}");
    assert_eq!(rows[0]["interface"], "http", "{rows:?}");
}

/// `[classifier] learn_from_decisions`: releasing a held message teaches the
/// organisation's model "wanted", confirming one teaches "phishing" and
/// deletes it; both are one bounded step each (`phishgate learn`).
#[test]
fn quarantine_decisions_teach_the_classifier() {
    let sink = phishgate_testkit::SmtpSink::accept_all().unwrap();
    let s = Server::start(
        "learn-decisions",
        Some(sink.addr()),
        "[classifier]\nlearn_from_decisions = true\n",
    );
    let lure =
        std::fs::read_to_string(support::repo().join("corpus/phish/vi/04-hop-thu-day-99.eml"))
            .unwrap()
            .replace("\r\n", "\n")
            .replace('\n', "\r\n");
    for rcpt in ["a@laocai.gov.vn", "b@laocai.gov.vn"] {
        let msg = phishgate_testkit::Message {
            from: "sender@sender.test".into(),
            to: vec![rcpt.into()],
            mail_params: Vec::new(),
            data: lure.clone().into_bytes(),
        };
        let o = phishgate_testkit::send_raw_smtp(s.smtp, "client.test", &[msg]).unwrap();
        assert_eq!(o[0].final_code(), 250);
    }
    let held = s.quarantine();
    assert_eq!(held.len(), 2, "{held:?}");
    let id_of = |rcpt: &str| {
        held.iter()
            .find(|e| e["rcpts"][0]["address"] == rcpt)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (released, confirmed) = (id_of("a@laocai.gov.vn"), id_of("b@laocai.gov.vn"));
    // The organisation's model lives in the store; none until a decision.
    let version = || -> Option<i64> {
        let out = s.admin(&["model", "status", "--format", "json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["version"].as_i64()
    };
    assert_eq!(version(), None);

    let out = s.admin(&["quarantine", "release", &released]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("classifier: {released}\tham")),
        "{err}"
    );
    assert_eq!(version(), Some(1));

    let out = s.admin(&["quarantine", "confirm", &confirmed]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("classifier: {confirmed}\tphish")),
        "{err}"
    );
    assert_eq!(version(), Some(2), "the model moved");
    // The running gateway loads the new version by itself (polls the store).
    s.wait_model_version(2);
    let out = s.admin(&["quarantine", "show", &confirmed]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("deleted"));
    // A repeated release learns nothing more (nothing was released).
    let out = s.admin(&["quarantine", "release", &released]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("classifier:"));
}
