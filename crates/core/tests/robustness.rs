//! Hostile and broken input: never a panic, always a verdict, and the oddity
//! shown as a symbol. (Speed is measured by `phishgate bench`, not here.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use phishgate_core::{Config, Engine, Envelope, Facts, ScanInput, ScanResult};

fn engine() -> Engine {
    let cfg = Config::from_toml_str(
        "[organization]\ndomains = [\"laocai.gov.vn\"]\nauthserv_id = \"mail.laocai.gov.vn\"\n",
    )
    .expect("config");
    Engine::new(cfg).expect("engine")
}

fn scan(e: &Engine, raw: &[u8]) -> ScanResult {
    e.scan(&ScanInput {
        raw,
        envelope: &Envelope::default(),
        facts: &Facts::default(),
    })
}

fn has(r: &ScanResult, name: &str) -> bool {
    r.symbols.iter().any(|s| s.name == name)
}

#[test]
fn empty_and_garbage_are_not_mail() {
    let e = engine();
    assert!(has(&scan(&e, b""), "NOT_MAIL"));
    let garbage: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert!(has(&scan(&e, &garbage), "NOT_MAIL"));
    assert!(has(&scan(&e, b"\x7fELF\x02\x01\x01\0\0\0"), "NOT_MAIL"));
}

#[test]
fn truncated_mime() {
    let e = engine();
    let raw = b"From: a@example.com\nSubject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/html\n\n<html><a href=\"http://185.234.72.19/";
    let r = scan(&e, raw);
    assert!(has(&r, "URL_IP_HOST"), "{:?}", r.symbols);
}

#[test]
fn ten_thousand_nested_parts() {
    let e = engine();
    let mut raw = String::from("From: a@example.com\nSubject: deep\nMIME-Version: 1.0\n");
    for i in 0..10_000 {
        raw.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n"
        ));
    }
    raw.push_str("Content-Type: text/plain\n\nhello\n");
    let r = scan(&e, raw.as_bytes());
    assert!(
        has(&r, "MIME_TOO_DEEP") || has(&r, "MIME_TOO_MANY_PARTS"),
        "{:?}",
        r.symbols
    );
}

#[test]
fn ten_thousand_sibling_parts() {
    let e = engine();
    let mut raw = String::from("From: a@example.com\nSubject: wide\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n");
    for _ in 0..10_000 {
        raw.push_str("--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=x.bin\n\nAAAA\n");
    }
    raw.push_str("--b--\n");
    let r = scan(&e, raw.as_bytes());
    assert!(has(&r, "MIME_TOO_MANY_PARTS"), "{:?}", r.symbols);
}

#[test]
fn invalid_base64_and_unknown_charset() {
    let e = engine();
    let raw = b"From: a@example.com\nSubject: =?x-unknown-charset?B?!!!?=\nMIME-Version: 1.0\nContent-Type: text/plain; charset=x-klingon\nContent-Transfer-Encoding: base64\n\n%%%% not base64 at all ****\n";
    let r = scan(&e, raw);
    assert!(has(&r, "MIME_ENCODING_ERROR"), "{:?}", r.symbols);
}

#[test]
fn windows_1258_is_decoded() {
    let e = engine();
    // "xác minh tài khoản" in windows-1258 with combining tone marks.
    let mut raw = b"From: \"Admin\" <a@example.com>\nSubject: test\nMIME-Version: 1.0\nContent-Type: text/plain; charset=windows-1258\n\nVui l\xf2ng xa\xecc minh ta\xcci kho\xe2n ngay.\n".to_vec();
    raw.extend_from_slice(b"http://185.234.72.19/zimbra/\n");
    let r = scan(&e, &raw);
    assert!(has(&r, "LURE_VERIFY_ACCOUNT"), "{:?}", r.symbols);
}

#[test]
fn hundred_megabyte_message() {
    let e = engine();
    let mut raw = b"From: a@example.com\nSubject: big\nContent-Type: text/plain\n\n".to_vec();
    let line = b"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod\n";
    while raw.len() < 100 * 1024 * 1024 {
        raw.extend_from_slice(line);
    }
    let r = scan(&e, &raw);
    assert!(has(&r, "MESSAGE_TOO_LARGE"), "{:?}", r.symbols);
}

#[test]
fn huge_html_and_headers() {
    let e = engine();
    let mut raw = b"From: a@example.com\nSubject: html\nContent-Type: text/html\n\n".to_vec();
    raw.extend(
        std::iter::repeat_n(b"<div><a href='http://x.example/'>".as_slice(), 200_000).flatten(),
    );
    let r = scan(&e, &raw);
    assert!(
        has(&r, "HTML_TOO_LARGE") || has(&r, "TOO_MANY_LINKS"),
        "{:?}",
        r.symbols
    );
    let mut hdr = b"From: a@example.com\n".to_vec();
    for i in 0..50_000 {
        hdr.extend_from_slice(format!("X-H{i}: {}\n", "v".repeat(50)).as_bytes());
    }
    hdr.extend_from_slice(b"\nbody\n");
    let _ = scan(&e, &hdr);
}

#[test]
fn every_prefix_of_a_message_is_safe() {
    let e = engine();
    let raw = include_bytes!("../../../corpus/phish/vi/01-xac-minh-tai-khoan-webmail.eml");
    let step = (raw.len() / 300).max(1);
    let mut n = 0;
    while n <= raw.len() {
        let _ = scan(&e, &raw[..n]);
        n += step;
    }
}

/// A bounded, deterministic stand-in for the fuzzer that runs in CI: the
/// fixtures of the golden corpus, mutated (bytes flipped, ranges deleted,
/// duplicated or spliced between messages). `cargo fuzz` explores further.
#[test]
fn mutated_corpus_never_panics() {
    let e = engine();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus");
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("corpus").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "eml") {
                seeds.push(std::fs::read(&p).expect("read"));
            }
        }
    }
    seeds.sort();
    assert!(!seeds.is_empty());
    // xorshift: deterministic, no dependency.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // PHISHGATE_MUTATIONS=100000 for a longer local run; CI runs the default.
    let rounds: usize = std::env::var("PHISHGATE_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    for i in 0..rounds {
        let seed = &seeds[i % seeds.len()];
        let mut m = seed.clone();
        for _ in 0..(1 + next() % 8) {
            if m.is_empty() {
                break;
            }
            let len = m.len() as u64;
            let a = (next() % len) as usize;
            let b = (a + (next() % 256) as usize).min(m.len());
            match next() % 5 {
                0 => m[a] ^= 1 << (next() % 8),
                1 => {
                    m.drain(a..b);
                }
                2 => {
                    let chunk = m[a..b].to_vec();
                    m.splice(a..a, chunk);
                }
                3 => {
                    let other = &seeds[(next() % seeds.len() as u64) as usize];
                    let oa = (next() % other.len().max(1) as u64) as usize;
                    let ob = (oa + (next() % 512) as usize).min(other.len());
                    m.splice(a..b, other[oa..ob].iter().copied());
                }
                _ => m[a] = [b'\n', b'=', b'<', b'>', b'-', 0xff, 0, b'"'][(next() % 8) as usize],
            }
        }
        let r = scan(&e, &m);
        assert!(r.score.is_finite());
    }
}
