//! The golden corpus: every fixture in `corpus/` scanned with
//! `corpus/phishgate.toml`, compared with the expected result committed beside
//! it, as written (LF) and with CRLF line endings.
//!
//! - A mismatch writes `NAME.failed.json` beside the fixture and fails.
//! - `PHISHGATE_BLESS=1 cargo test -p phishgate-core --test corpus` rewrites
//!   the expected files instead (review the diff before committing).
//! - Whatever the expected file says, every `label = "phish"` fixture must get
//!   an action other than `accept` and every `label = "legit"` fixture must
//!   get `accept`: blessing cannot hide a detection regression.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::fs;
use std::path::{Path, PathBuf};

use phishgate_core::{Action, Config, Engine, Envelope, Facts, ScanInput, ScanResult};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    label: String,
    category: String,
    why: String,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Expected {
    action: Action,
    score: f64,
    symbols: Vec<ExpectedSymbol>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct ExpectedSymbol {
    name: String,
    score: f64,
    options: Vec<String>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus")
}

fn fixtures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            fixtures(&p, out);
        } else if p.extension().is_some_and(|e| e == "eml") {
            out.push(p);
        }
    }
}

fn expected_of(r: &ScanResult) -> Expected {
    Expected {
        action: r.action,
        score: r.score,
        symbols: r
            .symbols
            .iter()
            .map(|s| ExpectedSymbol {
                name: s.name.clone(),
                score: s.score,
                options: s.options.clone(),
            })
            .collect(),
    }
}

fn to_crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 20);
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

#[test]
fn golden_corpus() {
    let dir = corpus_dir();
    let config_text =
        fs::read_to_string(dir.join("phishgate.toml")).expect("corpus/phishgate.toml");
    let engine =
        Engine::new(Config::from_toml_str(&config_text).expect("corpus config")).expect("engine");
    let bless = std::env::var_os("PHISHGATE_BLESS").is_some();
    let mut files = Vec::new();
    fixtures(&dir, &mut files);
    let mut failures: Vec<String> = Vec::new();
    let (mut phish, mut legit, mut vi_phish) = (0usize, 0usize, 0usize);
    let env = Envelope::default();
    let facts = Facts::default();
    for path in &files {
        let name = path
            .strip_prefix(&dir)
            .unwrap_or(path)
            .display()
            .to_string();
        let meta_path = path.with_extension("meta.toml");
        let meta: Meta = match fs::read_to_string(&meta_path)
            .map_err(|e| e.to_string())
            .and_then(|t| toml::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{name}: missing or bad meta.toml: {e}"));
                continue;
            }
        };
        assert!(
            !meta.why.trim().is_empty(),
            "{name}: meta.toml must say why"
        );
        assert!(
            !meta.category.trim().is_empty(),
            "{name}: meta.toml needs a category"
        );
        let raw = fs::read(path).expect("read fixture");
        let lf = engine.scan(&ScanInput {
            raw: &raw,
            envelope: &env,
            facts: &facts,
        });
        let crlf_raw = to_crlf(&raw);
        let crlf = engine.scan(&ScanInput {
            raw: &crlf_raw,
            envelope: &env,
            facts: &facts,
        });
        let got = expected_of(&lf);
        if expected_of(&crlf) != got {
            failures.push(format!(
                "{name}: CRLF result differs from LF: {:?} {} vs {:?} {}",
                crlf.action, crlf.score, lf.action, lf.score
            ));
        }
        match meta.label.as_str() {
            "phish" => {
                phish += 1;
                if name.contains("/vi/") {
                    vi_phish += 1;
                }
                if lf.action == Action::Accept {
                    failures.push(format!("{name}: phish accepted (score {})", lf.score));
                }
            }
            "legit" => {
                legit += 1;
                if lf.action != Action::Accept {
                    let top: Vec<String> = lf
                        .symbols
                        .iter()
                        .filter(|s| s.score > 0.0)
                        .map(|s| format!("{}={}", s.name, s.score))
                        .collect();
                    failures.push(format!(
                        "{name}: legitimate mail got {:?} (score {}): {}",
                        lf.action,
                        lf.score,
                        top.join(" ")
                    ));
                }
            }
            other => failures.push(format!("{name}: label must be phish or legit, not {other}")),
        }
        let expected_path = path.with_extension("expected.json");
        let failed_path = path.with_extension("failed.json");
        let pretty = serde_json::to_string_pretty(&got).expect("json") + "\n";
        if bless {
            fs::write(&expected_path, &pretty).expect("write expected");
            let _ = fs::remove_file(&failed_path);
            continue;
        }
        let expected: Option<Expected> = fs::read_to_string(&expected_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        if expected.as_ref() == Some(&got) {
            let _ = fs::remove_file(&failed_path);
        } else {
            fs::write(&failed_path, &pretty).expect("write failed");
            failures.push(format!(
                "{name}: differs from {} (see {})",
                expected_path.display(),
                failed_path.display()
            ));
        }
    }
    assert!(
        files.len() >= 60,
        "the corpus must hold at least 60 fixtures, found {}",
        files.len()
    );
    assert!(
        vi_phish >= 30,
        "at least 30 Vietnamese lures, found {vi_phish}"
    );
    assert!(
        legit >= 20,
        "at least 20 legitimate fixtures, found {legit}"
    );
    assert!(phish > 0);
    assert!(
        failures.is_empty(),
        "{} corpus failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
