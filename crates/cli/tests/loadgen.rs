//! `phishgate loadgen` against a real `phishgate serve`: both targets, the
//! report's shape, the memory hold mode, and the loopback-only rule. No
//! speed is asserted (timed tests are not reliable on a shared machine).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::process::{Command, Output};

use support::{repo, Server};

fn loadgen(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phishgate"))
        .arg("loadgen")
        .args(args)
        .output()
        .expect("run phishgate loadgen")
}

fn json_of(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn both_targets_and_hold_sessions() {
    let s = Server::start("loadgen", None, "");
    let corpus = repo().join("corpus").display().to_string();
    let pid = s.pid().to_string();
    let out = loadgen(&[
        "--http".into(),
        s.http.to_string(),
        "--milter".into(),
        s.milter.to_string(),
        "--concurrency".into(),
        "1,4".into(),
        "--messages".into(),
        "40".into(),
        "--server-pid".into(),
        pid.clone(),
        "--json".into(),
        corpus.clone(),
    ]);
    let v = json_of(&out);
    assert!(v["messages_loaded"].as_u64().unwrap() > 0, "{v}");
    let levels = v["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 4, "{v}");
    for target in ["http", "milter"] {
        for c in [1, 4] {
            let l = levels
                .iter()
                .find(|l| l["target"] == target && l["concurrency"] == c)
                .unwrap_or_else(|| panic!("no {target} x{c} in {v}"));
            assert_eq!(l["messages"], 40, "{l}");
            assert_eq!(l["ok"], 40, "{l}");
            assert_eq!(l["errors"], 0, "{l}");
            assert_eq!(l["timed_out"], false, "{l}");
            for p in ["p50", "p90", "p99", "max"] {
                assert!(l["latency_ms"][p].as_f64().unwrap() > 0.0, "{l}");
            }
            assert!(l["messages_per_second"].as_f64().unwrap() > 0.0, "{l}");
            assert!(l["server_peak_rss_mib"].as_f64().unwrap() > 1.0, "{l}");
            assert!(l["server_rss_mib"].as_f64().unwrap() > 1.0, "{l}");
        }
    }
    // The server scanned every message, on both interfaces.
    let (status, metrics) = support::try_http(s.http, "GET", "/metrics", &[], b"").unwrap();
    assert_eq!(status, 200);
    let metrics = String::from_utf8_lossy(&metrics);
    for iface in ["http", "milter"] {
        let n: f64 = metrics
            .lines()
            .filter(|l| l.starts_with(&format!("phishgate_messages_total{{interface=\"{iface}\"")))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert_eq!(n, 80.0, "{iface}: {metrics}");
    }

    let out = loadgen(&[
        "--milter".into(),
        s.milter.to_string(),
        "--hold-sessions".into(),
        "20".into(),
        "--server-pid".into(),
        pid,
        "--json".into(),
        corpus,
    ]);
    let v = json_of(&out);
    let h = &v["hold"];
    assert_eq!(h["sessions"], 20, "{v}");
    assert_eq!(h["held"], 20, "{v}");
    assert_eq!(h["completed"], 20, "{v}");
    assert_eq!(h["errors"], 0, "{v}");
    for when in ["server_before", "server_while_held", "server_after"] {
        assert!(h[when]["peak_rss_mib"].as_f64().unwrap() > 1.0, "{v}");
        assert!(h[when]["rss_mib"].as_f64().unwrap() > 1.0, "{v}");
    }
    assert!(!s.log_text().contains("milter connection closed on error"));
}

#[test]
fn non_loopback_targets_are_refused() {
    let corpus = repo().join("corpus").display().to_string();
    for flag in ["--http", "--milter"] {
        let out = loadgen(&[flag.into(), "192.0.2.1:80".into(), corpus.clone()]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("loopback only"), "{err}");
        assert!(err.contains("192.0.2.1:80"), "{err}");
        assert!(out.stdout.is_empty(), "{out:?}");
    }
}
