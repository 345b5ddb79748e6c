//! Deterministic mutations of the fixtures (byte flips, cut and duplicated
//! ranges, inserted MIME syntax, truncation): rewriting never panics, and a
//! rewrite it does return always parses back into the same number of parts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::Path;

use common::{banner, to_crlf, XorShift};
use phishgate_rewrite::{
    apply, encode_header_value, insert_banner, tag_subject, Limits, MessageEdits,
};

/// Snippets that steer mutations into the interesting code paths.
const TOKENS: &[&[u8]] = &[
    b"--",
    b"\r\n",
    b"\n",
    b"\n\n",
    b"--mix07\n",
    b"--alt07--\n",
    b"--=_alt_06\n",
    b"Content-Type: multipart/mixed; boundary=\"mix07\"\n",
    b"Content-Type: multipart/alternative; boundary=alt07\n",
    b"Content-Type: text/html; charset=windows-1258\n",
    b"Content-Type: message/rfc822\n\n",
    b"Content-Transfer-Encoding: base64\n",
    b"Content-Transfer-Encoding: quoted-printable\n",
    b"Content-Disposition: attachment; filename=a.txt\n",
    b"charset=\"",
    b"=",
    b"=\n",
    b"==",
    b"=?utf-8?b?",
    b"?=",
    b"<body",
    b"<body>",
    b"<!--",
    b"-->",
    b"<script>",
    b"\"",
    b"\0",
    b"\xff\xfe",
    b"\xe1\xba",
    b" ",
    b"\t",
];

#[test]
fn mutated_fixtures_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let seeds: Vec<Vec<u8>> = [
        "02-plain-8bit-utf8.eml",
        "03-plain-qp-windows-1258.eml",
        "05-html-base64-utf8.eml",
        "06-alternative.eml",
        "07-mixed-alt-related-pdf.eml",
        "09-rfc822-attachment.eml",
        "10-signed.eml",
        "14-html-comment-body.eml",
    ]
    .iter()
    .map(|f| std::fs::read(dir.join(f)).unwrap())
    .collect();
    let b = banner();
    let limits = Limits::default();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut rewritten = 0usize;
    let mut refused = std::collections::BTreeMap::new();
    let iterations: usize = std::env::var("MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000);
    for iter in 0..iterations {
        let mut m = seeds[rng.below(seeds.len())].clone();
        if rng.below(2) == 0 {
            m = to_crlf(&m);
        }
        for _ in 0..=rng.below(4) {
            mutate(&mut m, &mut rng);
        }
        let result = std::panic::catch_unwind(|| insert_banner(&m, &b, &limits));
        let Ok(result) = result else {
            panic!(
                "iteration {iter}: insert_banner panicked on:\n{}",
                String::from_utf8_lossy(&m)
            );
        };
        let body = match result {
            Ok(rw) => {
                rewritten += 1;
                Some(rw)
            }
            Err(e) => {
                let key = format!("{e:?}");
                let key = key.split(['(', ' ']).next().unwrap_or("").to_string();
                *refused.entry(key).or_insert(0usize) += 1;
                None
            }
        };
        let had_body = body.is_some();
        let edits = MessageEdits {
            remove_headers: vec!["subject".into()],
            remove_prefixes: vec!["x-".into(), "content-".into()],
            remove_auth_results_of: Vec::new(),
            add_headers_top: vec![("X-Phishgate-Action".into(), "warn".into())],
            set_subject: Some("[CẢNH BÁO] x".into()),
            body,
        };
        let out = std::panic::catch_unwind(|| apply(&m, &edits))
            .unwrap_or_else(|_| panic!("iteration {iter}: apply panicked"));
        if had_body {
            // The removals above may change the structure; check the plain
            // rewrite instead.
            let plain = MessageEdits {
                body: edits.body.clone(),
                ..MessageEdits::default()
            };
            let out = apply(&m, &plain);
            let before = mail_parser::MessageParser::new().parse(&m).unwrap();
            let after = mail_parser::MessageParser::new()
                .parse(&out)
                .unwrap_or_else(|| panic!("iteration {iter}: output does not parse"));
            assert_eq!(before.parts.len(), after.parts.len(), "iteration {iter}");
        }
        assert!(!out.is_empty());
        let lossy = String::from_utf8_lossy(&m[..m.len().min(300)]).into_owned();
        let _ = tag_subject(&lossy, "[CẢNH BÁO]");
        let _ = encode_header_value("Subject", &lossy);
    }
    eprintln!("mutations: {rewritten} rewritten, refused: {refused:?}");
    // The mutations must leave enough mail intact to exercise the splice.
    assert!(rewritten > iterations / 10, "only {rewritten} rewritten");
}

fn mutate(m: &mut Vec<u8>, rng: &mut XorShift) {
    let len = m.len();
    match rng.below(6) {
        0 if len > 0 => {
            let i = rng.below(len);
            m[i] = rng.next() as u8;
        }
        1 if len > 0 => {
            let i = rng.below(len);
            let j = (i + rng.below(64)).min(len);
            m.drain(i..j);
        }
        2 if len > 0 => {
            let i = rng.below(len);
            let j = (i + rng.below(256)).min(len);
            let copy = m[i..j].to_vec();
            let at = rng.below(m.len() + 1);
            m.splice(at..at, copy);
        }
        3 => {
            let t = TOKENS[rng.below(TOKENS.len())];
            let at = rng.below(len + 1);
            m.splice(at..at, t.iter().copied());
        }
        4 if len > 0 => {
            m.truncate(rng.below(len));
        }
        _ => {
            // A line start: mutations there reach header and boundary code.
            let starts: Vec<usize> = m
                .iter()
                .enumerate()
                .filter(|(_, &c)| c == b'\n')
                .map(|(i, _)| i + 1)
                .collect();
            if let Some(&at) = starts.get(rng.below(starts.len())) {
                let t = TOKENS[rng.below(TOKENS.len())];
                m.splice(at..at, t.iter().copied());
            }
        }
    }
}
