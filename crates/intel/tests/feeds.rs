//! Threat feeds from files: every format parsed from the fixture files in
//! `tests/data/feeds`, matched through the core check on corpus fixtures,
//! reloaded when a file changes, kept when a file breaks, bounded.
//!
//! Run: `cargo test -p phishgate-intel --test feeds`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use phishgate_core::{Config, Engine, Envelope, Facts, FeedIndex, ScanInput, ScanResult};
use phishgate_intel::feeds::{load_feed, FeedError};
use phishgate_intel::{FeedFormat, FeedSet, FeedSource, FeedsConfig};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/feeds")
        .join(name)
}

fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../corpus")
            .join(name),
    )
    .unwrap()
}

fn source(name: &str, file: &Path, format: FeedFormat) -> FeedSource {
    FeedSource {
        name: name.to_string(),
        path: file.to_path_buf(),
        format,
    }
}

/// Every fixture file with its format, the indicators it must give and
/// its bad lines.
const FIXTURES: &[(&str, FeedFormat, usize, usize)] = &[
    ("openphish.txt", FeedFormat::Openphish, 3, 1),
    ("phishtank.csv", FeedFormat::PhishtankCsv, 3, 1),
    ("phishtank.json", FeedFormat::PhishtankJson, 3, 1),
    ("urlhaus.csv", FeedFormat::UrlhausCsv, 2, 1),
    ("domains.txt", FeedFormat::Domains, 3, 1),
    ("urls.txt", FeedFormat::Urls, 3, 1),
    ("senders.txt", FeedFormat::Senders, 3, 1),
    ("sha256.txt", FeedFormat::Sha256, 2, 1),
];

fn all_fixtures() -> FeedsConfig {
    FeedsConfig {
        source: FIXTURES
            .iter()
            .map(|(f, fmt, _, _)| source(f.split('.').next().unwrap(), &data(f), *fmt))
            .collect(),
        ..FeedsConfig::default()
    }
}

/// A scratch directory for files the test rewrites.
fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("phishgate-feeds-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Replaces a file the recommended way: write a temporary file, rename.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn scan(raw: &[u8], index: Arc<FeedIndex>) -> ScanResult {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    let engine = ENGINE.get_or_init(|| {
        Engine::new(
            Config::from_toml_str("[organization]\ndomains = [\"laocai.gov.vn\"]\n").unwrap(),
        )
        .unwrap()
    });
    let facts = Facts {
        feeds: Some(index),
        ..Facts::default()
    };
    engine.scan(&ScanInput {
        raw,
        envelope: &Envelope::default(),
        facts: &facts,
    })
}

fn options(r: &ScanResult, name: &str) -> Vec<String> {
    r.symbols
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.options.clone())
        .unwrap_or_default()
}

#[test]
fn every_format_parses_with_bad_lines_counted() {
    let config = FeedsConfig::default();
    for (file, format, entries, bad) in FIXTURES {
        let p = load_feed(&source("t", &data(file), *format), &config)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(p.feed.len(), *entries, "{file}: {:?}", p.feed);
        assert_eq!(p.bad_lines, *bad, "{file}: {:?}", p.first_bad);
        assert!(!p.truncated);
    }
    // Contents, spot-checked through lookups.
    let set = FeedSet::load(all_fixtures());
    let idx = set.index();
    assert_eq!(
        idx.match_url("http://evil-bank.example/a,b/verify?x=1")
            .len(),
        2,
        "CSV and JSON"
    );
    assert_eq!(
        idx.match_url("https://vietcombnk.example/dang-nhap").len(),
        0
    );
    assert_eq!(
        idx.match_url("https://xn--vietcombnk-6qi.example/dang-nhap")
            .len(),
        2
    );
    assert_eq!(
        idx.match_url("http://203.0.113.7:8080/bins/mozi.a")[0].feed,
        "urlhaus"
    );
    assert_eq!(idx.match_url("https://phish.example/login")[0].feed, "urls");
    assert_eq!(
        idx.match_url("http://mail.laocai-gov.example/owa/")[0].feed,
        "urls"
    );
    assert_eq!(idx.match_domain("x.ví-dụ-lừa-đảo.vn")[0].feed, "domains");
    assert!(
        idx.match_domain("laocai.gov.vn").is_empty(),
        "gov.vn was refused"
    );
    assert_eq!(
        idx.match_sender("root@mx.zimbra-upgrade.example")[0].feed,
        "senders"
    );
    let status = set.status();
    assert_eq!(status.len(), FIXTURES.len());
    assert!(
        status
            .iter()
            .all(|s| s.last_error.is_none() && s.loads == 1),
        "{status:?}"
    );
    assert_eq!(status[0].first_bad, [(4, "this is not a url".to_string())]);
}

#[test]
fn feeds_match_corpus_fixtures_through_the_core_check() {
    let set = FeedSet::load(all_fixtures());
    // The webmail lure: its link is on OpenPhish (listed without the
    // per-victim query), its sender on the senders list.
    let r = scan(
        &corpus("phish/vi/01-xac-minh-tai-khoan-webmail.eml"),
        set.index(),
    );
    assert_eq!(
        options(&r, "FEED_URL"),
        ["openphish:mail-laocai-gov.vn.secure-login.top/zimbra"],
        "{:?}",
        r.symbols
    );
    assert_eq!(
        options(&r, "FEED_SENDER"),
        ["senders:bqt.thudientu.laocai@gmail.com"]
    );
    // The same link's domain is listed too, but one link counts once.
    assert!(options(&r, "FEED_DOMAIN").is_empty());
    // Another lure to the listed domain, on a page no feed lists: the
    // domain list catches it.
    let raw = b"From: x@y.example\r\nTo: a@laocai.gov.vn\r\nSubject: hop thu day\r\n\r\n\
Dang nhap tai http://new-page.secure-login.top/quota de tranh bi khoa.\r\n";
    let r2 = scan(raw, set.index());
    assert_eq!(options(&r2, "FEED_DOMAIN"), ["domains:secure-login.top"]);
    // The fake dispatch: its attachment's SHA-256 is on the list.
    let r = scan(
        &corpus("phish/vi/28-cong-van-khan-pdf-exe.eml"),
        set.index(),
    );
    assert_eq!(
        options(&r, "FEED_HASH"),
        ["sha256:Cong_van_khan.pdf.exe 73deb1fbed9afcf78698dd3542f5156423fc68769af1d54d09201274595735ac"]
    );
    // Legitimate mail matches nothing.
    for entry in
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/legit/vi"))
            .unwrap()
    {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "eml") {
            let r = scan(&std::fs::read(&p).unwrap(), set.index());
            assert!(
                !r.symbols.iter().any(|s| s.name.starts_with("FEED_")),
                "{}: {:?}",
                p.display(),
                r.symbols
            );
        }
    }
}

#[test]
fn a_changed_file_is_reloaded_without_restart() {
    let dir = scratch("reload");
    let path = dir.join("domains.txt");
    replace(&path, "first.example\n");
    let set = FeedSet::load(FeedsConfig {
        check_interval_secs: 0,
        source: vec![source("it", &path, FeedFormat::Domains)],
        ..FeedsConfig::default()
    });
    let before = set.index();
    assert_eq!(before.match_domain("first.example").len(), 1);
    // Nothing changed: the same index, no reload.
    assert!(Arc::ptr_eq(&before, &set.refresh_if_due()));
    replace(&path, "second.example\nthird.example\n");
    let after = set.refresh_if_due();
    assert!(after.match_domain("first.example").is_empty());
    assert_eq!(after.match_domain("www.second.example").len(), 1);
    // A scan holding the old index still sees the old feed.
    assert_eq!(before.match_domain("first.example").len(), 1);
    // Rewritten in place (same inode), with another size.
    std::fs::write(&path, "fourth.example\n").unwrap();
    assert_eq!(set.refresh_if_due().match_domain("fourth.example").len(), 1);
    assert_eq!(set.status()[0].loads, 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn checks_are_rate_limited() {
    let dir = scratch("interval");
    let path = dir.join("urls.txt");
    replace(&path, "http://one.example/\n");
    let set = FeedSet::load(FeedsConfig {
        check_interval_secs: 3600,
        source: vec![source("it", &path, FeedFormat::Urls)],
        ..FeedsConfig::default()
    });
    replace(&path, "http://two.example/\n");
    // Not due for an hour: the scan path does not even stat the file.
    assert_eq!(
        set.refresh_if_due().match_url("http://one.example/").len(),
        1
    );
    // An explicit refresh (SIGHUP, the console) does.
    assert!(set.refresh());
    assert_eq!(set.index().match_url("http://two.example/").len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_background_reloader_picks_up_changes() {
    let dir = scratch("background");
    let path = dir.join("senders.txt");
    replace(&path, "a@one.example\n");
    let set = Arc::new(FeedSet::load(FeedsConfig {
        check_interval_secs: 1,
        source: vec![source("it", &path, FeedFormat::Senders)],
        ..FeedsConfig::default()
    }));
    let task = set.spawn_reloader();
    replace(&path, "b@two.example\n");
    let mut ok = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if !set.index().match_sender("b@two.example").is_empty() {
            ok = true;
            break;
        }
    }
    assert!(ok, "not reloaded within 5 s: {:?}", set.status());
    // The task ends with the last handle.
    drop(set);
    tokio::time::timeout(Duration::from_secs(3), task)
        .await
        .unwrap()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_broken_file_keeps_the_old_index() {
    let dir = scratch("broken");
    let path = dir.join("phishtank.json");
    std::fs::copy(data("phishtank.json"), &path).unwrap();
    let set = FeedSet::load(FeedsConfig {
        check_interval_secs: 0,
        source: vec![source("phishtank", &path, FeedFormat::PhishtankJson)],
        ..FeedsConfig::default()
    });
    let url = "https://secure-docs.example/office365/index.html";
    assert_eq!(set.index().match_url(url).len(), 1);
    // Cut in the middle (a download that stopped): not JSON.
    let text = std::fs::read_to_string(data("phishtank.json")).unwrap();
    replace(&path, &text[..text.len() / 2]);
    assert!(!set.refresh(), "the index must not change");
    assert_eq!(set.index().match_url(url).len(), 1);
    let st = &set.status()[0];
    assert!(
        st.last_error
            .as_deref()
            .unwrap()
            .contains("not a PhishTank JSON array"),
        "{st:?}"
    );
    assert_eq!(st.entries, 3);
    // The broken version is not read again and again.
    assert!(!set.refresh());
    // Garbage in a line format (more bad lines than good) is refused the
    // same way (unit test `mostly_garbage_is_an_error`); an empty array is
    // a valid, empty feed (the list was cleared).
    replace(&path, "[]");
    assert!(set.refresh());
    assert!(set.index().match_url(url).is_empty());
    // Deleted: the last version stays, the error is shown.
    std::fs::copy(data("phishtank.json"), &path).unwrap();
    set.refresh();
    std::fs::remove_file(&path).unwrap();
    assert!(!set.refresh());
    assert_eq!(set.index().match_url(url).len(), 1);
    assert!(set.status()[0].last_error.is_some());
    // A missing file at start: empty feed, reported, not fatal.
    let set = FeedSet::load(FeedsConfig {
        source: vec![source("gone", &dir.join("nope.txt"), FeedFormat::Urls)],
        ..FeedsConfig::default()
    });
    assert!(set.index().is_empty());
    assert!(set.status()[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("nope.txt"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn huge_files_are_bounded() {
    let dir = scratch("huge");
    let path = dir.join("domains.txt");
    replace(&path, "ok.example\n");
    let set = FeedSet::load(FeedsConfig {
        check_interval_secs: 0,
        max_file_bytes: 64 * 1024,
        max_entries: 1000,
        source: vec![source("big", &path, FeedFormat::Domains)],
    });
    assert_eq!(set.index().len(), 1);
    // Larger than max_file_bytes: refused before reading, old index kept.
    let big: String = (0..10_000).map(|i| format!("d{i}.example\n")).collect();
    replace(&path, &big);
    assert!(!set.refresh());
    assert_eq!(set.index().len(), 1);
    assert!(set.status()[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("max_file_bytes"));
    // Under the byte bound but over max_entries: the first 1000 are kept.
    let many: String = (0..3000).map(|i| format!("e{i}.example\n")).collect();
    assert!(many.len() < 64 * 1024);
    replace(&path, &many);
    assert!(set.refresh());
    assert_eq!(set.index().len(), 1000);
    assert!(set.status()[0].truncated);
    // load_feed on its own says why.
    let e = load_feed(
        &source("big", &path, FeedFormat::Domains),
        &FeedsConfig {
            max_file_bytes: 100,
            ..FeedsConfig::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, FeedError::TooLarge { limit: 100, .. }), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
