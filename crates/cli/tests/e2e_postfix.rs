//! End to end through a real Postfix on loopback, configured with the
//! snippets the README gives (`deploy/postfix/*.cf`), in milter mode and in
//! content-filter mode: every golden fixture of `corpus/` is sent with swaks
//! (milter) or over SMTP (content filter), and what Postfix did with it is
//! checked against what phishgate decided:
//!
//! - rejected in the SMTP session (milter) / held (both modes): never in
//!   the Maildir;
//! - `warn`: delivered with the subject tag, the banner and result headers;
//! - `accept`: delivered with the original headers and the body
//!   byte-for-byte, only phishgate's and Postfix's own headers added;
//! - every lure is stopped or warned about, every legitimate message is
//!   delivered untouched.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use phishgate_testkit::{Delivered, Postfix, QueueName, SendSpec};
use support::{deploy, repo};

const DOMAIN: &str = "laocai.gov.vn";

#[derive(Clone)]
struct Fixture {
    rel: String,
    phish: bool,
    data: Vec<u8>,
    from: String,
    rcpt: String,
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "eml") {
            out.push(p);
        }
    }
}

fn fixtures(tag: &str) -> Vec<Fixture> {
    let root = repo().join("corpus");
    let mut paths = Vec::new();
    walk(&root, &mut paths);
    assert!(paths.len() > 300, "the golden corpus is missing");
    paths
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let rel = p.strip_prefix(&root).unwrap().display().to_string();
            let data = std::fs::read(&p).unwrap();
            let from = mail_parser::MessageParser::default()
                .parse(&data)
                .and_then(|m| {
                    m.from()
                        .and_then(|f| f.first())
                        .and_then(|a| a.address())
                        .map(str::to_string)
                })
                .filter(|a| a.is_ascii() && a.contains('@') && !a.contains(' '))
                .unwrap_or_else(|| "someone@sender.test".into());
            Fixture {
                phish: rel.starts_with("phish/"),
                rel,
                data,
                from,
                rcpt: format!("{tag}{i}@{DOMAIN}"),
            }
        })
        .collect()
}

/// Header fields of a raw message, unfolded (same rules as the Maildir reader).
fn fields(raw: &[u8]) -> Vec<(String, String)> {
    Delivered {
        path: PathBuf::new(),
        bytes: lf(raw),
    }
    .header_fields()
}

fn lf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\r' && raw.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

fn body_of(raw: &[u8]) -> Vec<u8> {
    let raw = lf(raw);
    match raw.windows(2).position(|w| w == b"\n\n") {
        Some(p) => raw[p + 2..].to_vec(),
        None => Vec::new(),
    }
}

/// Headers phishgate or Postfix may add on the way.
fn added(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("x-phishgate-")
        || [
            "return-path",
            "x-original-to",
            "delivered-to",
            "received",
            "message-id",
            "date",
        ]
        .contains(&n.as_str())
}

/// An accepted message must arrive with every original header in order and
/// the body byte-for-byte (Maildir stores LF line endings).
fn assert_untouched(f: &Fixture, got: &Delivered) {
    // Postfix itself drops these (`message_drop_headers`), and phishgate
    // removes any X-Phishgate-* that came with the message.
    let dropped = |n: &str| {
        let n = n.to_ascii_lowercase();
        ["bcc", "content-length", "resent-bcc", "return-path"].contains(&n.as_str())
            || n.starts_with("x-phishgate-")
    };
    let want: Vec<_> = fields(&f.data)
        .into_iter()
        .filter(|(n, _)| !dropped(n))
        .collect();
    let have: Vec<_> = got.header_fields();
    let mut it = have.iter();
    for w in &want {
        let found = it
            .by_ref()
            .any(|h| h.0.eq_ignore_ascii_case(&w.0) && h.1 == w.1);
        assert!(
            found,
            "{}: header {}: {} missing or out of order in\n{}",
            f.rel,
            w.0,
            w.1,
            got.text()
        );
    }
    let extra: Vec<_> = have
        .iter()
        .filter(|h| {
            !added(&h.0)
                && !want
                    .iter()
                    .any(|w| w.0.eq_ignore_ascii_case(&h.0) && w.1 == h.1)
        })
        .collect();
    assert!(extra.is_empty(), "{}: unexpected headers {extra:?}", f.rel);
    // SMTP ends the data with a line break even when the file had none.
    let mut want_body = body_of(&f.data);
    if !want_body.is_empty() && !want_body.ends_with(b"\n") {
        want_body.push(b'\n');
    }
    assert!(
        body_of(&got.bytes) == want_body,
        "{}: body changed:\n{}",
        f.rel,
        got.body_text()
    );
}

fn assert_warned(f: &Fixture, got: &Delivered) {
    let parsed = mail_parser::MessageParser::default()
        .parse(&got.bytes)
        .unwrap();
    let subject = parsed.subject().unwrap_or_default();
    assert!(
        subject.starts_with("[CẢNH BÁO]"),
        "{}: subject not tagged: {subject}",
        f.rel
    );
    let signed = {
        let t = String::from_utf8_lossy(&f.data).to_ascii_lowercase();
        t.contains("multipart/signed") || t.contains("pkcs7") || t.contains("multipart/encrypted")
    };
    if !signed {
        let text: String = (0..4)
            .filter_map(|i| parsed.body_text(i))
            .collect::<Vec<_>>()
            .join("\n");
        let html: String = (0..4)
            .filter_map(|i| parsed.body_html(i))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            text.contains("Thư này có dấu hiệu lừa đảo")
                || html.contains("Thư này có dấu hiệu lừa đảo"),
            "{}: no banner in\n{}",
            f.rel,
            got.text()
        );
    }
}

/// What Postfix did with each fixture, in either mode.
#[derive(Debug, PartialEq, Eq)]
enum Fate {
    Rejected,
    Held,
    Delivered(String),
    Missing,
}

fn check(
    fixtures: &[Fixture],
    fates: &BTreeMap<String, Fate>,
    delivered: &BTreeMap<String, Delivered>,
) {
    let mut problems = Vec::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for f in fixtures {
        let fate = &fates[&f.rcpt];
        let key = format!(
            "{} {}",
            if f.phish { "phish" } else { "legit" },
            match fate {
                Fate::Delivered(a) => format!("delivered/{a}"),
                other => format!("{other:?}").to_lowercase(),
            }
        );
        *counts.entry(key).or_default() += 1;
        match fate {
            Fate::Missing => {
                problems.push(format!("{}: neither delivered, held nor rejected", f.rel))
            }
            Fate::Delivered(action) => {
                let got = &delivered[&f.rcpt];
                match action.as_str() {
                    "accept" => assert_untouched(f, got),
                    "warn" => assert_warned(f, got),
                    other => problems.push(format!("{}: delivered with action {other}", f.rel)),
                }
                if f.phish && action == "accept" {
                    problems.push(format!("{}: lure delivered without warning", f.rel));
                }
                if !f.phish && action != "accept" {
                    problems.push(format!("{}: legitimate mail got {action}", f.rel));
                }
            }
            Fate::Rejected | Fate::Held => {
                if !f.phish {
                    problems.push(format!("{}: legitimate mail {fate:?}", f.rel));
                }
            }
        }
    }
    eprintln!("outcomes: {counts:#?}");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn delivered_by_rcpt(pf: &Postfix) -> BTreeMap<String, Delivered> {
    let mut out = BTreeMap::new();
    for d in pf.maildir("catchall") {
        let to = d
            .header("X-Original-To")
            .or_else(|| d.header("Delivered-To"))
            .unwrap();
        assert!(out.insert(to.clone(), d).is_none(), "{to} delivered twice");
    }
    out
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn readme_gives_the_deploy_snippets_verbatim() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for f in [
        "milter.main.cf",
        "content-filter.main.cf",
        "content-filter.master.cf",
    ] {
        let snippet = deploy(f);
        assert!(
            readme.contains(snippet.trim_end()),
            "README does not contain deploy/postfix/{f} verbatim"
        );
    }
}

#[test]
fn milter_mode_through_real_postfix() {
    let (pf, server) = support::milter_pair("e2e-milter", "");

    let fixtures = fixtures("m");
    let results = Mutex::new(BTreeMap::new());
    let chunks: Vec<Vec<Fixture>> = fixtures
        .chunks(fixtures.len().div_ceil(4))
        .map(<[Fixture]>::to_vec)
        .collect();
    std::thread::scope(|s| {
        for chunk in &chunks {
            let (pf, results) = (&pf, &results);
            s.spawn(move || {
                for f in chunk {
                    let r = pf
                        .send_swaks(&SendSpec::new(
                            f.from.clone(),
                            &[f.rcpt.as_str()],
                            f.data.clone(),
                        ))
                        .unwrap();
                    results.lock().unwrap().insert(f.rcpt.clone(), r);
                }
            });
        }
    });
    let results = results.into_inner().unwrap();
    let accepted = results
        .values()
        .filter(|r| r.final_code == Some(250))
        .count();
    for (rcpt, r) in &results {
        let code = r.final_code.unwrap_or(0);
        assert!(
            code == 250 || code == 550,
            "{rcpt}: unexpected reply {code}:\n{}",
            r.transcript
        );
        if code == 550 {
            assert!(r.transcript.contains("5.7.1"), "{}", r.transcript);
        }
    }
    // Wait until every accepted message is delivered or held.
    wait_for(
        "Postfix to deliver or hold every accepted message",
        Duration::from_secs(120),
        || {
            let held = pf
                .queue()
                .unwrap()
                .iter()
                .filter(|q| q.queue_name == QueueName::Hold)
                .count();
            let stored = server.held_rcpts().len();
            (pf.maildir("catchall").len() + held + stored == accepted).then_some(())
        },
    );
    let delivered = delivered_by_rcpt(&pf);
    // Held in phishgate's store (DISCARD after the commit); Postfix's hold
    // queue is only the fallback when the store fails.
    let postfix_held: Vec<String> = pf
        .queue()
        .unwrap()
        .into_iter()
        .filter(|q| q.queue_name == QueueName::Hold)
        .flat_map(|q| q.recipients.into_iter().map(|r| r.address))
        .collect();
    assert!(
        postfix_held.is_empty(),
        "store fallback used: {postfix_held:?}"
    );
    let held = server.held_rcpts();
    assert!(!held.is_empty());
    let mut fates = BTreeMap::new();
    for f in &fixtures {
        let fate = if results[&f.rcpt].final_code == Some(550) {
            Fate::Rejected
        } else if held.contains(&f.rcpt) {
            Fate::Held
        } else if let Some(d) = delivered.get(&f.rcpt) {
            Fate::Delivered(
                d.header("X-Phishgate-Action")
                    .unwrap_or_else(|| "none".into()),
            )
        } else {
            Fate::Missing
        };
        fates.insert(f.rcpt.clone(), fate);
    }
    check(&fixtures, &fates, &delivered);
    // Postfix dropped its copies of held messages only after the store had them.
    assert!(
        pf.log().contains("milter-discard: END-OF-MESSAGE"),
        "{}",
        pf.log()
    );
    assert!(server.log_text().contains("message decided"));
}

#[test]
fn content_filter_mode_through_real_postfix() {
    let (pf, server) = support::filter_pair("e2e-filter", "", "");

    let fixtures = fixtures("c");
    // A few with swaks, the rest over SMTP sessions of ten messages each.
    let (first, rest) = fixtures.split_at(8);
    for f in first {
        let r = pf
            .send_swaks(&SendSpec::new(
                f.from.clone(),
                &[f.rcpt.as_str()],
                f.data.clone(),
            ))
            .unwrap();
        assert_eq!(r.final_code, Some(250), "{}", r.transcript);
    }
    std::thread::scope(|s| {
        for chunk in rest.chunks(rest.len().div_ceil(3)) {
            let pf = &pf;
            s.spawn(move || {
                for batch in chunk.chunks(10) {
                    let msgs: Vec<phishgate_testkit::Message> = batch
                        .iter()
                        .map(|f| phishgate_testkit::Message {
                            from: f.from.clone(),
                            to: vec![f.rcpt.clone()],
                            mail_params: Vec::new(),
                            data: f.data.clone(),
                        })
                        .collect();
                    for (f, o) in batch.iter().zip(pf.send_raw(&msgs).unwrap()) {
                        assert_eq!(o.final_code(), 250, "{}: {o:?}", f.rel);
                    }
                }
            });
        }
    });
    let held_rcpts = || server.held_rcpts();
    wait_for(
        "every message to be delivered or held",
        Duration::from_secs(180),
        || {
            let n = pf.maildir("catchall").len() + held_rcpts().len();
            (n >= fixtures.len()).then_some(())
        },
    );
    pf.wait_until_queue_empty(Duration::from_secs(60)).unwrap();
    let delivered = delivered_by_rcpt(&pf);
    let held = held_rcpts();
    let mut fates = BTreeMap::new();
    for f in &fixtures {
        let fate = if held.contains(&f.rcpt) {
            Fate::Held
        } else if let Some(d) = delivered.get(&f.rcpt) {
            // Both smtpd passes left a Received header.
            assert!(d.headers("Received").len() >= 2, "{}", d.text());
            Fate::Delivered(
                d.header("X-Phishgate-Action")
                    .unwrap_or_else(|| "none".into()),
            )
        } else {
            Fate::Missing
        };
        fates.insert(f.rcpt.clone(), fate);
    }
    check(&fixtures, &fates, &delivered);
    // The held copy is the message as Postfix handed it over, and the CLI
    // shows it, releases it through the relay and refuses a second release.
    let entry = server.quarantine().into_iter().next().unwrap();
    let id = entry["id"].as_str().unwrap().to_string();
    let out = server.admin(&["quarantine", "show", &id, "--raw"]);
    assert!(out.status.success());
    assert!(
        out.stdout.starts_with(b"Received: "),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let rcpt = entry["rcpts"][0]["address"].as_str().unwrap().to_string();
    let before = pf.maildir("catchall").len();
    let out = server.admin(&["quarantine", "release", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = pf
        .wait_for_maildir("catchall", before + 1, Duration::from_secs(30))
        .unwrap();
    let released = got
        .iter()
        .find(|d| d.header("X-Original-To").as_deref() == Some(rcpt.as_str()))
        .unwrap();
    assert!(
        released.header("X-Phishgate-Released").is_some(),
        "{}",
        released.text()
    );
    let out = server.admin(&["quarantine", "release", &id]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to release"));
    // History recorded every message, searchable from the CLI.
    let out = server.admin(&["history", "--json", "--limit", "1000"]);
    let n = String::from_utf8_lossy(&out.stdout).lines().count();
    assert!(n >= fixtures.len(), "{n} history rows");
}

/// A sender cannot forge phishgate's verdict: result headers that arrive
/// with the message are removed before ours are added (milter: CHGHEADER
/// deletions by index; content filter: rewritten message), and a warned
/// multipart/alternative message gets the banner on both sides.
#[test]
fn forged_result_headers_are_replaced_in_both_modes() {
    let forged =
        "X-Phishgate-Action: accept\r\nX-PhishGate-Score: -100\r\nX-Phishgate-Action: accept\r\n";
    let lure =
        std::fs::read(repo().join("corpus/phish/vi/01-xac-minh-tai-khoan-webmail.eml")).unwrap();
    let mut data = forged.as_bytes().to_vec();
    data.extend_from_slice(&lure);
    // Thresholds moved so this lure is delivered with a warning.
    let extra = "[actions]\nwarn = 5.0\nquarantine = 900.0\nreject = 1000.0\n";

    // Milter mode.
    let (pf, _server) = support::milter_pair("forged-milter", extra);
    let r = pf
        .send_swaks(&SendSpec::new(
            "x@gmail.com",
            &["forged@laocai.gov.vn"],
            data.clone(),
        ))
        .unwrap();
    assert_eq!(r.final_code, Some(250), "{}", r.transcript);
    let got = pf
        .wait_for_maildir("catchall", 1, Duration::from_secs(30))
        .unwrap();
    check_forged(&got[0]);

    // Content-filter mode.
    let (pf, _server) = support::filter_pair("forged-filter", extra, "");
    let r = pf
        .send_swaks(&SendSpec::new(
            "x@gmail.com",
            &["forged@laocai.gov.vn"],
            data,
        ))
        .unwrap();
    assert_eq!(r.final_code, Some(250), "{}", r.transcript);
    let got = pf
        .wait_for_maildir("catchall", 1, Duration::from_secs(30))
        .unwrap();
    check_forged(&got[0]);
}

fn check_forged(got: &Delivered) {
    use mail_parser::MimeHeaders;
    assert_eq!(
        got.headers("X-Phishgate-Action"),
        vec!["warn".to_string()],
        "{}",
        got.text()
    );
    assert_eq!(got.headers("X-Phishgate-Score").len(), 1, "{}", got.text());
    assert_ne!(got.header("X-Phishgate-Score").unwrap(), "-100");
    let parsed = mail_parser::MessageParser::default()
        .parse(&got.bytes)
        .unwrap();
    assert!(parsed.subject().unwrap().starts_with("[CẢNH BÁO] "));
    // Both sides of multipart/alternative carry the banner.
    let mut sides = 0;
    for part in parsed.parts.iter() {
        let ct = part
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")));
        if let (Some(ct), Some(text)) = (ct, part.text_contents()) {
            if ct == "text/plain" || ct == "text/html" {
                assert!(
                    text.contains("Thư này có dấu hiệu lừa đảo"),
                    "{ct} without banner:\n{text}"
                );
                sides += 1;
            }
        }
    }
    assert_eq!(sides, 2, "{}", got.text());
}

/// Regressions from review, through real Postfix in milter mode: a client
/// pausing inside DATA longer than phishgate's SMTP idle timeout still gets
/// its message scanned (Postfix is silent towards the milter meanwhile);
/// a thousand filler headers do not hide forged result headers or the
/// From; an edit the codec refuses (an unfoldable 3,000-byte Content-Type
/// parameter) drops the banner but keeps the result headers and the tag.
#[test]
fn milter_slow_data_many_headers_and_unfoldable_edits() {
    use std::io::{BufRead, BufReader, Write};
    let (pf, server) = support::milter_pair("milter-regress", "[gateway]\nidle_timeout_secs = 1\n[actions]\nwarn = 1.0\nquarantine = 900.0\nreject = 1000.0\n");
    let lure_body = "Tai khoan email cua ban se bi tam ngung trong 24 gio. Vui long xac minh tai khoan tai http://mail-laocai-gov.top/login ngay.\r\n";
    let send = |rcpt: &str, head: &str, pause: Duration| -> String {
        let s = std::net::TcpStream::connect(pf.smtp_addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        let read = |r: &mut BufReader<std::net::TcpStream>| {
            let mut all = String::new();
            loop {
                let mut l = String::new();
                r.read_line(&mut l).unwrap();
                all.push_str(&l);
                if l.len() < 4 || l.as_bytes()[3] == b' ' {
                    return all;
                }
            }
        };
        read(&mut r);
        for c in [
            "EHLO client.test".to_string(),
            "MAIL FROM:<admin@mail-laocai-gov.top>".to_string(),
            format!("RCPT TO:<{rcpt}>"),
            "DATA".to_string(),
        ] {
            w.write_all(format!("{c}\r\n").as_bytes()).unwrap();
            read(&mut r);
        }
        w.write_all(head.as_bytes()).unwrap();
        std::thread::sleep(pause);
        w.write_all(lure_body.as_bytes()).unwrap();
        w.write_all(b".\r\n").unwrap();
        read(&mut r)
    };
    let base = "From: \"Quan tri he thong\" <admin@mail-laocai-gov.top>\r\nTo: a@laocai.gov.vn\r\nSubject: Xac minh tai khoan email\r\n";
    // 1. A pause of 3 s inside DATA.
    let head = format!("{base}Content-Type: text/plain; charset=utf-8\r\n\r\n");
    assert!(send("slow@laocai.gov.vn", &head, Duration::from_secs(3)).starts_with("250"));
    // 2. 1,001 filler headers, then forged results.
    let mut head = String::new();
    for i in 0..1001 {
        head.push_str(&format!("X-Filler: {i}\r\n"));
    }
    head.push_str("X-Phishgate-Status: scanned\r\nX-Phishgate-Action: accept\r\n");
    head.push_str(&format!(
        "{base}Content-Type: text/plain; charset=utf-8\r\n\r\n"
    ));
    assert!(send("many@laocai.gov.vn", &head, Duration::ZERO).starts_with("250"));
    // 3. An unfoldable Content-Type parameter.
    let pad = "A".repeat(3000);
    let head = format!("X-Phishgate-Action: accept\r\n{base}Content-Type: text/plain; charset=utf-8; x-pad={pad}\r\n\r\n");
    assert!(send("longct@laocai.gov.vn", &head, Duration::ZERO).starts_with("250"));

    let got = pf
        .wait_for_maildir("catchall", 3, Duration::from_secs(30))
        .unwrap();
    for d in &got {
        let to = d.header("X-Original-To").unwrap();
        assert_eq!(
            d.headers("X-Phishgate-Action"),
            vec!["warn".to_string()],
            "{to}:\n{}",
            d.text()
        );
        assert_eq!(
            d.headers("X-Phishgate-Status"),
            vec!["scanned".to_string()],
            "{to}"
        );
        let parsed = mail_parser::MessageParser::default()
            .parse(&d.bytes)
            .unwrap();
        assert!(parsed.subject().unwrap().starts_with("[CẢNH BÁO] "), "{to}");
        if to.starts_with("longct") {
            assert!(
                server.log_text().contains("milter edits refused"),
                "{}",
                server.log_text()
            );
        } else {
            let text = parsed.body_text(0).unwrap_or_default();
            assert!(
                text.contains("Thư này có dấu hiệu lừa đảo"),
                "{to}:\n{}",
                d.text()
            );
        }
    }
}
