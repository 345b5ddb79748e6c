//! The `phishgate` binary as a user runs it: inputs of every kind, both
//! output formats, exit codes, and clear errors for bad input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_phishgate"));
    c.env("NO_COLOR", "1");
    c
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus")
}

fn config() -> String {
    corpus().join("phishgate.toml").display().to_string()
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run phishgate")
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("phishgate-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp");
    d
}

const LURE: &str = "phish/vi/23-gia-mao-quantri-dmarc-fail.eml";
const LEGIT: &str = "legit/vi/04-nhac-doi-mat-khau-trung-tam-cntt.eml";

#[test]
fn json_schema_and_exit_codes() {
    let lure = corpus().join(LURE);
    let out = run(&[
        "scan",
        "--config",
        &config(),
        "--format",
        "json",
        lure.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "a lure exits 1");
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert!(r["source"].as_str().unwrap().ends_with(".eml"));
    assert!(r["score"].as_f64().unwrap() >= 5.0);
    assert!(["warn", "quarantine", "reject"].contains(&r["action"].as_str().unwrap()));
    let symbols = r["symbols"].as_array().unwrap();
    assert!(!symbols.is_empty());
    for s in symbols {
        assert!(s["name"].is_string() && s["score"].is_number());
        assert!(s["description"].is_string() && s["options"].is_array());
    }
    assert!(symbols.iter().any(|s| s["name"] == "OWN_DOMAIN_SPOOF"));

    let legit = corpus().join(LEGIT);
    let out = run(&[
        "scan",
        "--config",
        &config(),
        "--format",
        "json",
        legit.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "accepted mail exits 0");
    assert_eq!(json_lines(&out)[0]["action"], "accept");
}

#[test]
fn text_output_in_both_languages() {
    let lure = corpus().join(LURE);
    let vi = run(&["scan", "--config", &config(), lure.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&vi.stdout);
    assert!(text.contains("OWN_DOMAIN_SPOOF"), "{text}");
    assert!(text.contains("Mạo danh tên miền"), "{text}");
    assert!(String::from_utf8_lossy(&vi.stderr).contains("1 thư"));
    let en = run(&[
        "scan",
        "--config",
        &config(),
        "--lang",
        "en",
        lure.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&en.stdout);
    assert!(
        text.contains("Claims the organisation's own domain"),
        "{text}"
    );
    assert!(!text.contains("\x1b["), "no colour when not a terminal");
}

#[test]
fn folders_are_walked_recursively() {
    let out = run(&[
        "scan",
        "--config",
        &config(),
        "--format",
        "json",
        corpus().to_str().unwrap(),
    ]);
    let rows = json_lines(&out);
    assert!(rows.len() >= 60, "{}", rows.len());
    assert!(
        rows.iter().all(|r| r.get("error").is_none()),
        "expected and meta files are skipped"
    );
    // Sorted, stable order.
    let sources: Vec<&str> = rows.iter().map(|r| r["source"].as_str().unwrap()).collect();
    let mut sorted = sources.clone();
    sorted.sort();
    assert_eq!(sources, sorted);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn non_mail_found_in_a_folder_is_skipped_not_an_error() {
    let d = tmpdir("skip");
    std::fs::write(d.join("LICENSE"), "Permission is hereby granted...\n").unwrap();
    std::fs::copy(corpus().join(LEGIT), d.join("ok.eml")).unwrap();
    let out = run(&[
        "scan",
        "--config",
        &config(),
        "--format",
        "json",
        d.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_lines(&out).len(), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("LICENSE: not an e-mail message"));
}

#[test]
fn mbox_maildir_and_stdin() {
    let d = tmpdir("inputs");
    let lure = std::fs::read(corpus().join(LURE)).unwrap();
    let legit = std::fs::read(corpus().join(LEGIT)).unwrap();
    // mbox with two messages.
    let mut mbox = Vec::new();
    for m in [&legit, &lure] {
        mbox.extend_from_slice(b"From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n");
        mbox.extend_from_slice(m);
        mbox.extend_from_slice(b"\n");
    }
    let mbox_path = d.join("export.mbox");
    std::fs::write(&mbox_path, &mbox).unwrap();
    let out = run(&[
        "scan",
        "--config",
        &config(),
        "--format",
        "json",
        mbox_path.to_str().unwrap(),
    ]);
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 2);
    assert!(rows[0]["source"]
        .as_str()
        .unwrap()
        .ends_with("export.mbox#1"));
    assert_eq!(rows[0]["action"], "accept");
    assert_ne!(rows[1]["action"], "accept");
    // Maildir.
    let md = d.join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(md.join(sub)).unwrap();
    }
    std::fs::write(md.join("new/1700000000.1.host"), &lure).unwrap();
    std::fs::write(md.join("cur/1700000000.2.host:2,S"), &legit).unwrap();
    let out = run(&[
        "scan",
        "--config",
        &config(),
        "--format",
        "json",
        md.to_str().unwrap(),
    ]);
    assert_eq!(json_lines(&out).len(), 2);
    // stdin.
    let mut child = bin()
        .args(["scan", "--config", &config(), "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&lure).unwrap();
    let out = child.wait_with_output().unwrap();
    let rows = json_lines(&out);
    assert_eq!(rows[0]["source"], "-");
    assert_ne!(rows[0]["action"], "accept");
}

#[test]
fn clear_errors_not_panics() {
    let d = tmpdir("errors");
    // Unreadable path.
    let out = run(&["scan", "/nonexistent/phishgate/x.eml"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("cannot read /nonexistent/phishgate/x.eml"),
        "{text}"
    );
    // Not mail: a binary file and an empty file.
    let bin_path = d.join("program.bin");
    std::fs::write(&bin_path, b"\x7fELF\x02\x01\x01\0\0\0\0\0").unwrap();
    let empty = d.join("empty.eml");
    std::fs::write(&empty, b"").unwrap();
    let out = run(&[
        "scan",
        "--format",
        "json",
        bin_path.to_str().unwrap(),
        empty.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 2);
    assert!(rows[0]["error"]
        .as_str()
        .unwrap()
        .contains("not an e-mail message"));
    assert!(rows[1]["error"].as_str().unwrap().contains("empty"));
    // Bad configuration names the file and the line.
    let cfg = d.join("bad.toml");
    std::fs::write(&cfg, "[organization]\nname = \"x\"\ndomians = [\"a.vn\"]\n").unwrap();
    let out = run(&["scan", "--config", cfg.to_str().unwrap(), "-"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("line 3") && err.contains("domians"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
    let out = run(&["scan", "--config", "/nonexistent.toml", "-"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read configuration"));
}

#[test]
fn init_writes_a_usable_config() {
    let d = tmpdir("init");
    let path = d.join("phishgate.toml");
    let out = run(&[
        "init",
        "--domain",
        "laocai.gov.vn",
        "--name",
        "Sở TT&TT Lào Cai",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("domains = [\"laocai.gov.vn\"]"));
    assert!(text.contains("authserv_id = \"mail.laocai.gov.vn\""));
    // Refuses to overwrite without --force.
    let again = run(&[
        "init",
        "--domain",
        "laocai.gov.vn",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));
    // The written file drives a scan.
    let lure = corpus().join(LURE);
    let out = run(&[
        "scan",
        "--config",
        path.to_str().unwrap(),
        "--format",
        "json",
        lure.to_str().unwrap(),
    ]);
    assert_eq!(json_lines(&out).len(), 1);
    // And `config` prints the merged result.
    let out = run(&["config", "--config", path.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("LINK_TEXT_MISMATCH"));
    assert!(run(&["init", "--domain", "not a domain"]).status.code() == Some(2));
}

#[test]
fn time_budget_is_reported() {
    let d = tmpdir("budget");
    let cfg = d.join("t.toml");
    std::fs::write(&cfg, "[limits]\nmax_scan_ms = 0\n").unwrap();
    let lure = corpus().join(LURE);
    let out = run(&[
        "scan",
        "--config",
        cfg.to_str().unwrap(),
        "--format",
        "json",
        lure.to_str().unwrap(),
    ]);
    let rows = json_lines(&out);
    assert!(rows[0]["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "SCAN_TIME_EXCEEDED"));
}

#[test]
fn bench_reports_throughput() {
    let out = run(&[
        "bench",
        "--rounds",
        "1",
        "--json",
        corpus().join("phish").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["messages"].as_u64().unwrap() > 0);
    assert!(v["messages_per_second"].as_f64().unwrap() > 0.0);
}

/// `phishgate learn`: an administrator's examples move the organisation's
/// model a bounded step each, the model file is used by `scan` through
/// `[classifier] model`, and a damaged model file is a clear error.
#[test]
fn learn_updates_the_model_used_by_scan() {
    let dir = tmpdir("learn");
    let model = dir.join("org-model.pgml");
    let cfg = dir.join("with-model.toml");
    std::fs::write(
        &cfg,
        format!(
            "{}\n[classifier]\nmodel = \"{}\"\n",
            std::fs::read_to_string(config()).unwrap(),
            model.display()
        ),
    )
    .unwrap();
    // The classifier's probability in a scan's evidence (`p=0.98`).
    let p_of = |config: &str, file: &Path| -> f64 {
        let out = run(&[
            "scan",
            "--format",
            "json",
            "--config",
            config,
            file.to_str().unwrap(),
        ]);
        support::ml_probability(&json_lines(&out)[0])
    };
    // A lure the shipped model is sure about, that an administrator insists
    // is wanted mail: each round lowers the probability a little. `--model`
    // teaches a file (offline); without it the store's model is taught (see
    // serve.rs and two_nodes.rs).
    let lure = corpus().join("phish/vi/04-hop-thu-day-99.eml");
    let shipped = p_of(&config(), &lure);
    assert!(shipped > 0.9, "{shipped}");
    let mut last = shipped;
    for round in 0..4 {
        let l = lure.to_str().unwrap();
        // The first round starts from the shipped model and writes the
        // organisation's file; later rounds read and update that file.
        let first = [
            "learn",
            "--ham",
            l,
            "--model",
            model.to_str().unwrap(),
            "--config",
            &config(),
        ];
        let later = [
            "learn",
            "--ham",
            l,
            "--model",
            model.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ];
        let out = if round == 0 { run(&first) } else { run(&later) };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let line = text.lines().find(|l| l.contains("\tham\t")).unwrap();
        let nums: Vec<f64> = line
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter_map(|t| t.parse().ok())
            .collect();
        let (before, after) = (nums[nums.len() - 2], nums[nums.len() - 1]);
        assert!(after <= before, "round {round}: {text}");
        // Bounded: one message moves the probability a little.
        assert!(before - after < 0.2, "round {round}: {text}");
        assert!(
            (before - last).abs() <= 0.02,
            "round {round} starts where the last ended: {text}"
        );
        last = after;
    }
    let learned = p_of(cfg.to_str().unwrap(), &lure);
    assert!(
        learned < shipped,
        "the scan uses the learned model: {learned} vs {shipped}"
    );

    std::fs::write(&model, b"PGML garbage").unwrap();
    let out = run(&[
        "scan",
        "--config",
        cfg.to_str().unwrap(),
        lure.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[classifier] model") && err.contains("org-model.pgml"),
        "{err}"
    );
}

/// `phishgate train`: the same folders and seed give the same model, byte
/// for byte; the model it writes is used through `[classifier] model` and
/// separates what it learned; one class alone is a clear error.
#[test]
fn train_is_reproducible_and_its_model_is_used() {
    let dir = tmpdir("train");
    let phish = corpus().join("phish");
    let legit = corpus().join("legit");
    let train = |out: &Path| {
        let o = run(&[
            "train",
            "--phish",
            phish.to_str().unwrap(),
            "--ham",
            legit.to_str().unwrap(),
            "--split",
            "all",
            "--epochs",
            "4",
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    let (a, b) = (dir.join("a.pgml"), dir.join("b.pgml"));
    let said = train(&a);
    assert!(said.contains("trained on 381 messages"), "{said}");
    train(&b);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());

    let cfg = dir.join("trained.toml");
    std::fs::write(
        &cfg,
        format!(
            "{}\n[classifier]\nmodel = \"{}\"\n",
            std::fs::read_to_string(config()).unwrap(),
            a.display()
        ),
    )
    .unwrap();
    let out = run(&[
        "eval",
        "--config",
        cfg.to_str().unwrap(),
        "--phish",
        phish.to_str().unwrap(),
        "--ham",
        legit.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ham"]["false_positive_rate"], 0.0, "{}", v["ham"]);
    let ml_on_ham = v["ham_symbols"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "ML_UNWANTED");
    assert!(!ml_on_ham, "the model learned the legitimate fixtures");

    let o = run(&[
        "train",
        "--phish",
        phish.to_str().unwrap(),
        "-o",
        dir.join("c.pgml").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("both unwanted"));
}

/// The classifier can help hold a message but not refuse it: a lure whose
/// rules alone stay under `reject` is quarantined, unless the site lets the
/// model decide refusals too (`[classifier] may_reject`).
#[test]
fn the_classifier_alone_never_rejects() {
    let lure = corpus().join("phish/vi/04-hop-thu-day-99.eml");
    let scan = |cfg: &Path| {
        let out = run(&[
            "scan",
            "--format",
            "json",
            "--config",
            cfg.to_str().unwrap(),
            lure.to_str().unwrap(),
        ]);
        json_lines(&out).remove(0)
    };
    let dir = tmpdir("may-reject");
    let base = std::fs::read_to_string(config()).unwrap();
    let (off, on) = (dir.join("off.toml"), dir.join("on.toml"));
    std::fs::write(&off, &base).unwrap();
    std::fs::write(&on, format!("{base}\n[classifier]\nmay_reject = true\n")).unwrap();
    let v = scan(&off);
    let ml: f64 = v["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == "ML_UNWANTED")
        .map(|s| s["score"].as_f64().unwrap())
        .sum();
    let score = v["score"].as_f64().unwrap();
    assert!(
        score >= 15.0 && score - ml < 15.0,
        "the test needs such a lure: {v}"
    );
    assert_eq!(v["action"], "quarantine", "{v}");
    assert_eq!(scan(&on)["action"], "reject");
}
