//! Detection quality on the real corpus (`../shared/corpus`, beside the
//! repository in CI), as the README reports it:
//!
//! - the shipped model is reproduced byte for byte by the documented
//!   training (`scripts/train-model`: every corpus message and fixture);
//! - the development model (the same training on the train part of the
//!   campaign split only) measured on the held-out test part keeps the
//!   targets of issue #6 that the README reports: phishing >= 97 %, spam
//!   >= 95 %, ham flagged <= 0.3 %, no ham rejected;
//! - the project's Vietnamese and English fixtures stay at 100 % / 0 %.
//!
//! These are quality gates, not timings. The corpus is required: without it
//! the test fails and says where it looks.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::repo;

fn corpus() -> PathBuf {
    let c = std::env::var_os("PHISHGATE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/corpus"));
    assert!(
        c.join("spamassassin/ham").is_dir(),
        "the public corpus is needed at {} (../shared/corpus beside the repository, or set \
         PHISHGATE_CORPUS)",
        c.display()
    );
    c
}

fn labelled(c: &Path) -> Vec<String> {
    let p = |s: &str| c.join(s).display().to_string();
    vec![
        "--phish".into(),
        p("phishing_pot/phish"),
        "--phish".into(),
        p("nazario/phish"),
        "--spam".into(),
        p("spamassassin/spam"),
        "--ham".into(),
        p("spamassassin/ham"),
    ]
}

fn phishgate(args: &[String]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_phishgate"))
        .current_dir(repo())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "phishgate {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn train(split: &str, out: &Path) {
    let c = corpus();
    let mut args = vec!["train".to_string()];
    args.extend(labelled(&c));
    args.extend(
        [
            "--always-phish",
            "corpus/phish",
            "--always-ham",
            "corpus/legit",
            "--seed",
            "0",
            "--split",
            split,
            "-o",
        ]
        .map(String::from),
    );
    args.push(out.display().to_string());
    phishgate(&args);
}

fn rate(report: &serde_json::Value, class: &str) -> f64 {
    report["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == class)
        .unwrap()["rates"]["warn_or_more"]
        .as_f64()
        .unwrap()
}

#[test]
fn the_shipped_model_is_reproduced_by_the_documented_training() {
    let out = support::scratch("shipped-model").join("model.pgml");
    train("all", &out);
    assert!(
        std::fs::read(&out).unwrap()
            == std::fs::read(repo().join("crates/core/data/model.pgml")).unwrap(),
        "crates/core/data/model.pgml is not what scripts/train-model makes: retrain and re-bless"
    );
}

#[test]
fn held_out_figures_and_fixtures_hold() {
    let dir = support::scratch("dev-model");
    let model = dir.join("dev.pgml");
    train("train", &model);
    let mut args = vec!["eval".to_string()];
    args.extend(labelled(&corpus()));
    args.extend(["--split", "test", "--format", "json", "--model"].map(String::from));
    args.push(model.display().to_string());
    let r: serde_json::Value = serde_json::from_slice(&phishgate(&args).stdout).unwrap();
    let (phish, spam) = (rate(&r, "phish"), rate(&r, "spam"));
    let ham_fp = r["ham"]["false_positive_rate"].as_f64().unwrap();
    let ham_rejected = r["ham"]["rejected_rate"].as_f64().unwrap();
    eprintln!("test split: phish {phish:.4} spam {spam:.4} ham flagged {ham_fp:.4}");
    assert!(phish >= 0.97, "phishing detection {phish}");
    assert!(ham_fp <= 0.003, "ham flagged {ham_fp}");
    assert!(ham_rejected == 0.0, "ham rejected {ham_rejected}");
    assert!(spam >= 0.95, "spam detection {spam}");

    // The fixtures, with the shipped model and the fixtures' organisation.
    let args: Vec<String> = [
        "eval",
        "--config",
        "corpus/phishgate.toml",
        "--phish",
        "corpus/phish",
        "--ham",
        "corpus/legit",
        "--format",
        "json",
    ]
    .map(String::from)
    .to_vec();
    let r: serde_json::Value = serde_json::from_slice(&phishgate(&args).stdout).unwrap();
    assert_eq!(
        rate(&r, "phish"),
        1.0,
        "a Vietnamese or English lure got through"
    );
    assert_eq!(
        r["ham"]["false_positive_rate"].as_f64().unwrap(),
        0.0,
        "a legitimate fixture was flagged"
    );
}
