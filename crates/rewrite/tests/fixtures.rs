//! Golden fixtures: every `.eml` in `tests/fixtures/` is rewritten (as
//! stored, with LF line endings, and converted to CRLF as SMTP delivers it)
//! and checked two ways:
//!
//! - against the committed `NAME.expected` beside it (the LF output of
//!   [`apply`], or the refusal reason); on a mismatch the output is written
//!   to `NAME.failed`. `PHISHGATE_BLESS=1 cargo test -p phishgate-rewrite
//!   --test fixtures` rewrites the expected files for review;
//! - structurally, from the table below: which parts get the banner, that
//!   the part tree is unchanged, that every other part's bytes are
//!   identical, that each rewritten part decodes to banner + original text,
//!   that top-level header order is kept, and that a second pass refuses
//!   with `AlreadyBannered`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::{Path, PathBuf};

use common::{banner, header_names, kind, parse, plain_block, text_of, to_crlf};
use mail_parser::{MimeHeaders, PartType};
use phishgate_rewrite::{
    apply, insert_banner, tag_subject, BodyRewrite, Limits, MessageEdits, NotRewritten, HTML_MARKER,
};

const TAG: &str = "[CẢNH BÁO]";

/// Where the banner is expected in a rewritten part.
enum Kind {
    /// text/plain: the banner block in front.
    Plain,
    /// text/html: the marker and fragment right after this text (the body
    /// tag), or at the very start when empty.
    Html(&'static str),
}

enum Expect {
    Rewrite(&'static [(usize, Kind)]),
    Refuse(NotRewritten),
}

fn table(name: &str) -> Expect {
    use Expect::*;
    use Kind::*;
    match name {
        "01-plain-7bit-ascii" => Rewrite(&[(0, Plain)]),
        "02-plain-8bit-utf8" => Rewrite(&[(0, Plain)]),
        "03-plain-qp-windows-1258" => Rewrite(&[(0, Plain)]),
        "04-plain-iso-8859-1" => Rewrite(&[(0, Plain)]),
        "05-html-base64-utf8" => Rewrite(&[(0, Html("<body style=\"font-family:Arial\">"))]),
        "06-alternative" => Rewrite(&[(1, Plain), (2, Html("<body>"))]),
        // 0 mixed, 1 alternative, 2 plain, 3 related, 4 html, 5 png, 6 pdf
        "07-mixed-alt-related-pdf" => Rewrite(&[(2, Plain), (4, Html("<body>"))]),
        // The text/plain attachment (part 2) is not touched.
        "08-text-attachment" => Rewrite(&[(1, Plain)]),
        // The attached message (part 2) and its own text are not touched.
        "09-rfc822-attachment" => Rewrite(&[(1, Plain)]),
        "10-signed" => Refuse(NotRewritten::Signed),
        "11-pdf-only" => Refuse(NotRewritten::NoTextPart),
        "12-lf-only" => Rewrite(&[(1, Plain), (2, Html("<body>"))]),
        "13-html-upper-body" => Rewrite(&[(0, Html("<BODY class=x>"))]),
        "14-html-comment-body" => {
            Rewrite(&[(0, Html("<body style=\"margin:0\" data-x=\"<body>\">"))])
        }
        "15-html-no-body" => Rewrite(&[(0, Html(""))]),
        // The plain side's charset is unknown: only the HTML side changes.
        "16-unknown-charset" => Rewrite(&[(2, Html("<body>"))]),
        "17-unknown-charset-only" => Refuse(NotRewritten::UnknownCharset("x-klingon".into())),
        other => panic!("fixture {other} is not in the table"),
    }
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The edits the gateway makes on a `warn`: forged result headers out,
/// ours in, subject tagged, body bannered.
fn edits_for(raw: &[u8], body: Option<BodyRewrite>) -> MessageEdits {
    let subject = parse(raw).subject().unwrap_or("").to_string();
    MessageEdits {
        remove_prefixes: vec!["X-Phishgate-".into()],
        remove_auth_results_of: Vec::new(),
        add_headers_top: vec![("X-Phishgate-Action".into(), "warn".into())],
        set_subject: tag_subject(&subject, TAG),
        body,
        ..MessageEdits::default()
    }
}

#[test]
fn golden_fixtures() {
    let bless = std::env::var_os("PHISHGATE_BLESS").is_some();
    let mut names: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    names.sort();
    let mut ran = 0;
    for path in &names {
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        let lf = std::fs::read(path).unwrap();
        assert!(!lf.contains(&b'\r'), "{name}: fixtures are stored with LF");
        let expect = table(&name);
        let lf_out = check_one(&name, &lf, "\n", &expect);
        let crlf_out = check_one(&name, &to_crlf(&lf), "\r\n", &expect);
        if let (Ok(a), Ok(b)) = (&lf_out, &crlf_out) {
            // Same rewrite whatever the line ending.
            assert!(
                to_crlf(a) == *b,
                "{name}: CRLF output differs from LF output"
            );
            assert!(
                !a.contains(&b'\r'),
                "{name}: LF input gave CR in the output"
            );
        }
        let golden = match &lf_out {
            Ok(out) => out.clone(),
            Err(e) => format!("refused: {e:?}\n").into_bytes(),
        };
        let expected_path = path.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, &golden).unwrap();
        } else {
            let want = std::fs::read(&expected_path).unwrap_or_default();
            if want != golden {
                std::fs::write(path.with_extension("failed"), &golden).unwrap();
                panic!(
                    "{name}: output differs from {}; see {}",
                    expected_path.display(),
                    path.with_extension("failed").display()
                );
            }
        }
        ran += 1;
    }
    assert!(ran >= 17, "ran {ran} fixtures");
}

/// Checks one fixture with one line ending; returns the whole new message
/// or the refusal.
fn check_one(name: &str, raw: &[u8], nl: &str, expect: &Expect) -> Result<Vec<u8>, NotRewritten> {
    let b = banner();
    let result = insert_banner(raw, &b, &Limits::default());
    let changed = match (expect, result) {
        (Expect::Refuse(want), Err(got)) => {
            assert_eq!(&got, want, "{name}");
            return Err(got);
        }
        (Expect::Refuse(want), Ok(_)) => panic!("{name}: rewritten, expected {want:?}"),
        (Expect::Rewrite(_), Err(e)) => panic!("{name}: refused with {e:?}"),
        (Expect::Rewrite(changed), Ok(rw)) => {
            assert_eq!(rw.parts_changed, changed.len(), "{name}");
            (changed, rw)
        }
    };
    let (changed, rw) = changed;
    let out = apply(raw, &edits_for(raw, Some(rw.clone())));
    let before = parse(raw);
    let after = parse(&out);

    // (d) the output parses into the same tree.
    assert_eq!(before.parts.len(), after.parts.len(), "{name}: part count");
    for (i, (p, q)) in before.parts.iter().zip(&after.parts).enumerate() {
        assert_eq!(kind(p), kind(q), "{name}: part {i} kind");
        assert_eq!(
            p.content_type()
                .map(|c| (c.ctype().to_string(), c.subtype().map(str::to_string))),
            q.content_type()
                .map(|c| (c.ctype().to_string(), c.subtype().map(str::to_string))),
            "{name}: part {i} content type"
        );
        if let (PartType::Multipart(a), PartType::Multipart(b)) = (&p.body, &q.body) {
            assert_eq!(a, b, "{name}: part {i} children");
        }
        assert!(
            !q.is_encoding_problem || p.is_encoding_problem,
            "{name}: part {i} became broken"
        );
    }

    for (i, (p, q)) in before.parts.iter().zip(&after.parts).enumerate() {
        let rewritten = changed.iter().find(|(id, _)| *id == i);
        match rewritten {
            // (c) banner + original text, re-encoded as UTF-8.
            Some((_, k)) => {
                let orig = text_of(p).unwrap();
                let new = text_of(q).unwrap();
                let want = match k {
                    Kind::Plain => format!("{}{orig}", plain_block(&b, nl)),
                    Kind::Html(anchor) => {
                        let at = if anchor.is_empty() {
                            0
                        } else {
                            orig.find(anchor).unwrap() + anchor.len()
                        };
                        format!("{}{HTML_MARKER}{}{}", &orig[..at], b.html, &orig[at..])
                    }
                };
                assert_eq!(new, want, "{name}: part {i} text");
                let ct = q.content_type().unwrap();
                assert_eq!(ct.attribute("charset"), Some("utf-8"), "{name}: part {i}");
                // Other Content-Type parameters stay.
                if let Some(pc) = p.content_type() {
                    for a in pc.attributes().unwrap_or_default() {
                        if !a.name.eq_ignore_ascii_case("charset") {
                            let k = a.name.as_ref();
                            assert_eq!(ct.attribute(k), Some(a.value.as_ref()), "{name}: {k}");
                        }
                    }
                }
                // Lines of the new body stay within 76 characters.
                let body = &out[q.offset_body as usize..q.offset_end as usize];
                for line in body.split(|&c| c == b'\n') {
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    assert!(line.len() <= 76, "{name}: part {i} line of {}", line.len());
                }
            }
            // (b) everything else is byte-identical.
            None => {
                let ob = &raw[p.offset_header as usize..p.offset_body as usize];
                let nb = &out[q.offset_header as usize..q.offset_body as usize];
                if i > 0 {
                    assert_eq!(ob, nb, "{name}: part {i} headers changed");
                }
                if !matches!(p.body, PartType::Multipart(_)) {
                    let ob = &raw[p.offset_body as usize..p.offset_end as usize];
                    let nb = &out[q.offset_body as usize..q.offset_end as usize];
                    assert_eq!(ob, nb, "{name}: part {i} body changed");
                    assert_eq!(p.contents(), q.contents(), "{name}: part {i} contents");
                }
            }
        }
    }

    // (e) top-level header order: our header on top, then the original
    // order; only a single-part message may gain MIME headers at the end.
    let old = header_names(&before);
    let new = header_names(&after);
    assert_eq!(new[0], "x-phishgate-action", "{name}");
    assert_eq!(&new[1..=old.len()], &old[..], "{name}: header order");
    for extra in &new[old.len() + 1..] {
        assert!(
            ["content-type", "content-transfer-encoding", "mime-version"].contains(&extra.as_str()),
            "{name}: unexpected header {extra}"
        );
    }
    // Fields we had no reason to touch keep their bytes.
    for h in &before.parts[0].headers {
        let n = h.name.as_str().to_ascii_lowercase();
        if ["subject", "content-type", "content-transfer-encoding"].contains(&n.as_str()) {
            continue;
        }
        let field = &raw[h.offset_field as usize..h.offset_end as usize];
        assert!(
            out.windows(field.len()).any(|w| w == field),
            "{name}: header {n} changed"
        );
    }
    // A single-part message: edits say what changed in its header.
    if changed.iter().any(|(id, _)| *id == 0) {
        assert!(!rw.top_header_edits.is_empty(), "{name}");
    } else {
        assert!(rw.top_header_edits.is_empty(), "{name}");
    }

    // Idempotence: a second pass finds the banner.
    assert_eq!(
        insert_banner(&out, &b, &Limits::default()),
        Err(NotRewritten::AlreadyBannered),
        "{name}: second pass"
    );
    assert_eq!(
        tag_subject(after.subject().unwrap_or(""), TAG),
        None,
        "{name}"
    );
    Ok(out)
}
