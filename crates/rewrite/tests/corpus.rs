//! Every `.eml` of the repository's `corpus/` (legit and phish, Vietnamese
//! and English) through `insert_banner` and `apply`, with CRLF line endings
//! as the SMTP filter sees them: never a panic, and whenever a message is
//! rewritten, the result parses into the same parts, attachments decode to
//! the same bytes, every rewritten text part starts with the banner, and a
//! second pass finds it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{banner, kind, parse, plain_block, text_of, to_crlf};
use mail_parser::{MimeHeaders, PartType};
use phishgate_rewrite::{apply, insert_banner, Limits, MessageEdits, NotRewritten, HTML_MARKER};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "eml") {
            out.push(p);
        }
    }
}

#[test]
fn whole_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    assert!(files.len() > 300, "corpus has {} messages", files.len());
    let b = banner();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut rewritten = 0usize;
    let stored: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|p| {
            let name = p.strip_prefix(&root).unwrap().display().to_string();
            (name, std::fs::read(p).unwrap())
        })
        .collect();
    // As the SMTP filter sees them (CRLF), and as stored (a Maildir file).
    let inputs = stored
        .iter()
        .map(|(n, r)| (format!("{n} (CRLF)"), to_crlf(r)))
        .chain(
            stored
                .iter()
                .map(|(n, r)| (format!("{n} (as stored)"), r.clone())),
        );
    for (name, raw) in inputs {
        let result = std::panic::catch_unwind(|| insert_banner(&raw, &b, &Limits::default()))
            .unwrap_or_else(|_| panic!("{name}: insert_banner panicked"));
        let rw = match result {
            Ok(rw) => rw,
            Err(e) => {
                let key = format!("{e:?}");
                let key = key.split(['(', ' ']).next().unwrap_or("").to_string();
                *outcomes.entry(key).or_default() += 1;
                continue;
            }
        };
        rewritten += 1;
        let parts_changed = rw.parts_changed;
        let out = apply(
            &raw,
            &MessageEdits {
                body: Some(rw),
                ..MessageEdits::default()
            },
        );
        let before = parse(&raw);
        let after = parse(&out);
        assert_eq!(before.parts.len(), after.parts.len(), "{name}: parts");
        let mut changed = 0;
        for (i, (p, q)) in before.parts.iter().zip(&after.parts).enumerate() {
            assert_eq!(kind(p), kind(q), "{name}: part {i}");
            match (&p.body, &q.body) {
                (PartType::Text(_), _) | (PartType::Html(_), _) => {
                    let (old, new) = (text_of(p).unwrap(), text_of(q).unwrap());
                    if old == new {
                        continue;
                    }
                    changed += 1;
                    let attachment = p.attachment_name().is_some()
                        || p.content_disposition()
                            .is_some_and(|d| d.ctype().eq_ignore_ascii_case("attachment"));
                    assert!(!attachment, "{name}: attachment {i} changed");
                    let ok = if matches!(p.body, PartType::Html(_)) {
                        new.contains(&format!("{HTML_MARKER}{}", b.html))
                            && new.replacen(&format!("{HTML_MARKER}{}", b.html), "", 1) == old
                    } else {
                        // Base64 text keeps its own line breaks, which
                        // may be LF even in a CRLF message.
                        ["\r\n", "\n"]
                            .iter()
                            .any(|nl| new.strip_prefix(&plain_block(&b, nl)) == Some(old))
                    };
                    assert!(ok, "{name}: part {i} is not banner + original");
                }
                (PartType::Message(m), PartType::Message(n)) => {
                    assert_eq!(m.raw_message(), n.raw_message(), "{name}: message {i}");
                }
                _ => assert_eq!(p.contents(), q.contents(), "{name}: part {i} bytes"),
            }
        }
        assert_eq!(changed, parts_changed, "{name}: changed parts");
        assert_eq!(
            insert_banner(&out, &b, &Limits::default()),
            Err(NotRewritten::AlreadyBannered),
            "{name}: second pass"
        );
    }
    eprintln!(
        "corpus: {} messages twice, {rewritten} rewritten, refused: {outcomes:?}",
        files.len()
    );
    // Most of the corpus is ordinary text or HTML mail.
    assert!(
        rewritten * 10 >= files.len() * 2 * 8,
        "only {rewritten} rewritten: {outcomes:?}"
    );
}
