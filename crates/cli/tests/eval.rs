//! `phishgate eval` end to end on the golden corpus (issue #6, items 1-2):
//! text, JSON (parsed and checked field by field) and HTML (plots present,
//! nothing that reaches the network); the verdict of every fixture under
//! normalisation equals its committed expected result; the split parts are
//! disjoint and cover everything; unreadable and non-mail inputs are
//! counted, never fatal.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus")
}

fn eval(extra: &[&str]) -> Output {
    let c = corpus();
    let mut args: Vec<String> = vec![
        "eval".into(),
        "--config".into(),
        c.join("phishgate.toml").display().to_string(),
        "--phish".into(),
        c.join("phish").display().to_string(),
        "--ham".into(),
        c.join("legit").display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Command::new(env!("CARGO_BIN_EXE_phishgate"))
        .args(&args)
        .output()
        .expect("run phishgate")
}

fn json(extra: &[&str]) -> Value {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let out = eval(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

fn eml_count(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            n += eml_count(&p);
        } else if p.extension().is_some_and(|x| x == "eml") {
            n += 1;
        }
    }
    n
}

#[test]
fn json_report_fields_and_figures() {
    let r = json(&[]);
    let phish_n = eml_count(&corpus().join("phish"));
    let ham_n = eml_count(&corpus().join("legit"));
    assert!(phish_n > 50 && ham_n > 50);

    assert_eq!(r["schema"], 1);
    let m = &r["meta"];
    for f in [
        "date",
        "engine_version",
        "config_hash",
        "thresholds",
        "split",
        "seed",
        "elapsed_seconds",
        "messages_per_second",
        "groups",
    ] {
        assert!(!m[f].is_null(), "meta.{f} missing");
    }
    assert_eq!(m["messages_read"], phish_n + ham_n);
    assert_eq!(m["split"], "all");
    assert_eq!(m["normalized"], true);

    let class = |name: &str| {
        r["classes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["class"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    // The golden corpus test guarantees every lure is flagged and every
    // legitimate fixture accepted; eval must measure exactly that.
    let phish = class("phish");
    assert_eq!(phish["messages"], phish_n);
    assert_eq!(phish["rates"]["warn_or_more"], 1.0);
    assert_eq!(phish["recall"], 1.0);
    assert_eq!(phish["precision"], 1.0);
    assert_eq!(phish["actions"]["accept"], 0);
    assert!(phish["score"]["histogram"].as_array().unwrap().len() > 5);
    let ham = class("ham");
    assert_eq!(ham["messages"], ham_n);
    assert_eq!(ham["actions"]["accept"], ham_n);
    assert!(ham["precision"].is_null());
    assert!(class("spam").is_null(), "no spam folder given");
    assert_eq!(r["ham"]["false_positive_rate"], 0.0);
    assert_eq!(r["ham"]["rejected_rate"], 0.0);
    assert_eq!(r["overall"]["false_negatives"], 0);
    assert_eq!(r["overall"]["f1"], 1.0);
    let confusion = r["confusion"].as_array().unwrap();
    assert_eq!(confusion.len(), 2);
    assert_eq!(confusion[1]["class"], "ham");
    assert_eq!(confusion[1]["accept"], ham_n);
    let roc = &r["roc"][0];
    assert_eq!(roc["name"], "phish+spam");
    assert_eq!(roc["auc"], 1.0);
    assert!(r["missed"].as_array().unwrap().is_empty());
    assert!(r["false_positives"].as_array().unwrap().is_empty());
    // Symbols that fire on ham without flagging it are still listed.
    let drivers = r["ham_symbols"].as_array().unwrap();
    assert!(!drivers.is_empty());
    assert_eq!(drivers[0]["fired_on_flagged"], 0);
    assert!(!drivers[0]["examples"].as_array().unwrap().is_empty());

    // Normalisation (collection headers, dates, Return-Path moved to the
    // envelope) leaves the verdict of every fixture as committed.
    let messages = r["messages"].as_array().unwrap();
    assert_eq!(messages.len(), phish_n + ham_n);
    for msg in messages {
        let src = msg["source"].as_str().unwrap();
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(src.replace(".eml", ".expected.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(msg["action"], expected["action"], "{src}");
        let (a, b) = (
            msg["score"].as_f64().unwrap(),
            expected["score"].as_f64().unwrap(),
        );
        assert!((a - b).abs() < 1e-6, "{src}: {a} != {b}");
    }
}

#[test]
fn split_parts_are_disjoint_and_complete() {
    let sources = |r: &Value| -> BTreeSet<String> {
        r["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["source"].as_str().unwrap().to_string())
            .collect()
    };
    let all = json(&["--seed", "7"]);
    let test = json(&["--split", "test", "--seed", "7"]);
    let train = json(&["--split", "train", "--seed", "7"]);
    let (a, te, tr) = (sources(&all), sources(&test), sources(&train));
    assert!(te.is_disjoint(&tr));
    assert_eq!(te.union(&tr).cloned().collect::<BTreeSet<_>>(), a);
    assert!(!te.is_empty() && te.len() < tr.len());
    assert_eq!(test["meta"]["split"], "test");
    assert!(test["messages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["part"] == "test"));
    // A group never straddles the parts.
    let groups = |r: &Value| -> BTreeSet<String> {
        r["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["group"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(groups(&test).is_disjoint(&groups(&train)));
}

#[test]
fn text_and_html_reports() {
    let out = eval(&[]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("phish+spam vs ham"), "{text}");
    assert!(text.contains("ham false positives: 0.00% not accepted, 0.00% rejected"));
    assert!(text.contains("confusion (class x action)"));
    assert!(text.contains("messages/s"));

    let dir = std::env::temp_dir().join(format!("phishgate-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("report.html");
    let out = eval(&["--format", "html", "--output", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let html = std::fs::read_to_string(&file).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.matches("<svg").count() >= 4, "histograms and ROC");
    assert!(html.contains("<polyline"), "ROC curve");
    assert!(html.contains("<rect"), "histogram bars");
    let lower = html.to_lowercase();
    for banned in [
        "http://", "https://", "src=", "<script", "<link", "@import", "url(",
    ] {
        assert!(
            !lower.contains(banned),
            "HTML must be self-contained: {banned}"
        );
    }
}

#[test]
fn inputs_without_a_verdict_are_counted() {
    let dir = std::env::temp_dir().join(format!("phishgate-eval-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        corpus().join("phish/vi/23-gia-mao-quantri-dmarc-fail.eml"),
        dir.join("lure.eml"),
    )
    .unwrap();
    std::fs::write(dir.join("NOTES"), "just some words, no header\n").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.join("missing.eml"), dir.join("dangling.eml")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_phishgate"))
        .args(["eval", "--format", "json", "--spam"])
        .arg(&dir)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let r: Value = serde_json::from_slice(&out.stdout).expect("report despite errors");
    assert_eq!(r["meta"]["messages_read"], 1);
    assert_eq!(r["meta"]["skipped"], 1);
    if cfg!(unix) {
        assert_eq!(r["meta"]["unreadable"], 1);
        assert_eq!(out.status.code(), Some(2), "unreadable input: exit 2");
        let kinds: BTreeSet<&str> = r["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, BTreeSet::from(["not_mail", "unreadable"]));
    }
    assert!(r["roc"].as_array().unwrap().is_empty(), "no ham: no ROC");

    let out = Command::new(env!("CARGO_BIN_EXE_phishgate"))
        .args(["eval", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--phish DIR, --spam DIR or --ham DIR"));
}
