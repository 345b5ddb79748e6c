//! The smaller functions and the refusals: header encoding round trips
//! through mail-parser, subject tagging, `apply` on forged result headers,
//! limits, and signed or encrypted mail in its several forms.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{banner, parse, plain_block, text_of, to_crlf};
use mail_parser::{HeaderName, MessageParser};
use phishgate_rewrite::{
    apply, encode_header_value, insert_banner, tag_subject, HeaderEdit, Limits, MessageEdits,
    NotRewritten,
};

/// Decodes `value` as mail-parser reads the header `name` of a tiny message.
fn decode_header(name: &str, value: &str) -> String {
    let raw = format!("{name}: {value}\r\nFrom: a@example.com\r\n\r\nbody\r\n");
    let parser = MessageParser::new().header_text(HeaderName::parse(name.to_string()).unwrap());
    let msg = parser.parse(raw.as_bytes()).unwrap();
    let h = msg.parts[0]
        .headers
        .iter()
        .find(|h| h.name.as_str().eq_ignore_ascii_case(name))
        .unwrap();
    h.value.as_text().unwrap_or("").to_string()
}

fn check_lines(name: &str, encoded: &str) {
    for (i, line) in encoded.split("\r\n").enumerate() {
        let len = line.len() + if i == 0 { name.len() + 2 } else { 0 };
        // A single unbreakable ASCII word may be longer; so may the first
        // line after a header name too long to leave room for one word.
        let unbreakable = !line.trim_start().contains(' ') && !line.contains("=?");
        let long_name = i == 0 && name.len() > 50;
        assert!(len < 78 || unbreakable || long_name, "{len}: {line:?}");
        assert!(
            i == 0 || line.starts_with(' '),
            "continuation without space: {line:?}"
        );
        for word in line.split(' ').filter(|w| w.starts_with("=?")) {
            assert!(word.len() <= 75, "encoded word of {}: {word}", word.len());
        }
    }
}

#[test]
fn header_values_round_trip_through_mail_parser() {
    let long_vi = "Thư có dấu hiệu giả mạo: yêu cầu xác minh tài khoản, đường dẫn tới máy chủ lạ \
                   185.234.72.19, tên hiển thị giả danh Ban quản trị Zimbra của Sở Thông tin và \
                   Truyền thông tỉnh Lào Cai";
    let cases = [
        ("Subject", "Account verification"),
        ("Subject", "[CẢNH BÁO] Xác minh tài khoản"),
        ("Subject", long_vi),
        ("X-Phishgate-Symbols", "LINK_TEXT_MISMATCH(3.0) mail.laocai.gov.vn->185.234.72.19, FROM_LOOKALIKE(4.0) mail-laocai-gov.top, VI_CREDENTIAL_LURE(3.5) xác minh tài khoản"),
        ("X-Phishgate-Reason", &"word ".repeat(60)),
        ("Subject", "=?utf-8?q?looks_encoded?= but is not"),
        ("Subject", "tab\tand ctrl\u{7} and 😀 emoji ééééé"),
        ("Subject", &"ế".repeat(100)),
        ("Subject", &"x".repeat(120)),
        ("Subject", "a_b?c=d"),
        ("Subject", ""),
        ("X-A-Very-Long-Header-Name-That-Leaves-Little-Room-On-The-First-Line", "Tài khoản"),
    ];
    for (name, value) in cases {
        let enc = encode_header_value(name, value);
        check_lines(name, &enc);
        assert!(!enc.starts_with(' '), "{enc:?}");
        let dec = decode_header(name, &enc);
        assert_eq!(dec, value.trim(), "{name}: {enc}");
    }
    // Short ASCII stays readable.
    assert_eq!(encode_header_value("Subject", "Hello"), "Hello");
}

#[test]
fn header_injection_is_impossible() {
    let enc = encode_header_value("Subject", "x\r\nBcc: victim@example.com");
    assert!(!enc.contains("\r\nBcc"), "{enc}");
    for line in enc.split("\r\n").skip(1) {
        assert!(line.starts_with(' '));
    }
}

#[test]
fn subject_tag_round_trip() {
    let tagged = tag_subject("Re: Xác minh tài khoản", "[CẢNH BÁO]").unwrap();
    assert_eq!(tagged, "[CẢNH BÁO] Re: Xác minh tài khoản");
    assert_eq!(tag_subject(&tagged, "[CẢNH BÁO]"), None);
    assert_eq!(tag_subject("TL: [cảnh báo] Xác minh", "[CẢNH BÁO]"), None);
}

const FORGED: &str = "X-PhishGate-Action: accept\r\n\
Received: from mx.example.net (mx.example.net [203.0.113.5])\r\n\
\tby mail.laocai.gov.vn (Postfix) with ESMTPS id 1A2B\r\n\
\tfor <vanthu@laocai.gov.vn>; Mon, 3 Mar 2025 08:15:00 +0700\r\n\
From: \"Ban quản trị\" <admin@example.net>\r\n\
x-phishgate-score: -100\r\n\
To: vanthu@laocai.gov.vn\r\n\
Subject: =?utf-8?q?X=C3=A1c_minh?=\r\n\
Subject: second subject\r\n\
X-Spam-Flag: NO\r\n\
X-Phishgate-Symbols: NONE\r\n\
\x20continued\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Body line one\r\n\
Body line two\r\n";

#[test]
fn apply_removes_forged_headers_and_keeps_the_rest() {
    let raw = FORGED.as_bytes();
    let edits = MessageEdits {
        remove_headers: vec!["x-spam-flag".into()],
        remove_prefixes: vec!["X-Phishgate-".into()],
        remove_auth_results_of: Vec::new(),
        add_headers_top: vec![
            ("X-Phishgate-Action".into(), "warn".into()),
            (
                "X-Phishgate-Symbols".into(),
                "FROM_DISPLAY_ORG(2.5) \"Ban quản trị\", VI_CREDENTIAL_LURE(3.5) xác minh".into(),
            ),
        ],
        set_subject: Some("[CẢNH BÁO] Xác minh".into()),
        body: None,
    };
    let out = apply(raw, &edits);
    let s = String::from_utf8(out.clone()).unwrap();
    assert!(
        s.starts_with("X-Phishgate-Action: warn\r\nX-Phishgate-Symbols: "),
        "{s}"
    );
    // Forged headers, in any case, are gone; only ours remain.
    let lower = s.to_ascii_lowercase();
    assert_eq!(lower.matches("x-phishgate-").count(), 2, "{s}");
    assert!(
        !s.contains("-100") && !s.contains("NONE") && !s.contains("continued"),
        "{s}"
    );
    assert!(!s.contains("X-Spam-Flag"));
    // Untouched lines are byte-identical and in order.
    let received = "Received: from mx.example.net (mx.example.net [203.0.113.5])\r\n\
\tby mail.laocai.gov.vn (Postfix) with ESMTPS id 1A2B\r\n\
\tfor <vanthu@laocai.gov.vn>; Mon, 3 Mar 2025 08:15:00 +0700\r\n\
From: \"Ban quản trị\" <admin@example.net>\r\n";
    assert!(s.contains(received));
    let r = s.find("Received:").unwrap();
    let t = s.find("To: vanthu").unwrap();
    let subj = s.find("Subject:").unwrap();
    let ct = s.find("Content-Type:").unwrap();
    assert!(r < t && t < subj && subj < ct);
    assert!(s.ends_with("\r\n\r\nBody line one\r\nBody line two\r\n"));
    // One subject, decoded with the tag.
    let msg = parse(&out);
    assert_eq!(msg.subject(), Some("[CẢNH BÁO] Xác minh"));
    assert_eq!(s.matches("Subject:").count(), 1);
    let sym = msg
        .header_raw("X-Phishgate-Symbols")
        .map(|v| decode_header("X-Phishgate-Symbols", v.trim()))
        .unwrap();
    assert_eq!(
        sym,
        "FROM_DISPLAY_ORG(2.5) \"Ban quản trị\", VI_CREDENTIAL_LURE(3.5) xác minh"
    );
}

#[test]
fn apply_without_edits_is_identity() {
    for raw in [
        FORGED.as_bytes().to_vec(),
        FORGED.replace("\r\n", "\n").into_bytes(),
    ] {
        assert_eq!(apply(&raw, &MessageEdits::default()), raw);
    }
    // Not mail at all: added headers go on top, the rest is kept.
    let edits = MessageEdits {
        add_headers_top: vec![("X-Phishgate-Action".into(), "warn".into())],
        ..MessageEdits::default()
    };
    assert_eq!(apply(b"", &edits), b"X-Phishgate-Action: warn\r\n".to_vec());
}

#[test]
fn apply_follows_lf_line_endings() {
    let raw = FORGED.replace("\r\n", "\n");
    let edits = MessageEdits {
        add_headers_top: vec![("X-Phishgate-Action".into(), "warn".into())],
        set_subject: Some("[CẢNH BÁO] ".to_string() + &"Xác minh tài khoản ".repeat(8)),
        ..MessageEdits::default()
    };
    let out = apply(raw.as_bytes(), &edits);
    assert!(!out.contains(&b'\r'));
    assert!(parse(&out)
        .subject()
        .unwrap()
        .starts_with("[CẢNH BÁO] Xác minh"));
}

#[test]
fn top_level_edits_for_a_single_part() {
    let raw = b"From: a@example.com\r\nSubject: x\r\nContent-Type: text/plain;\r\n\tcharset=windows-1258;\r\n format=flowed\r\n\r\nxin ch\xe0o\r\n";
    let rw = insert_banner(raw, &banner(), &Limits::default()).unwrap();
    assert_eq!(
        rw.top_header_edits,
        vec![
            HeaderEdit::Set {
                name: "MIME-Version".into(),
                value: "1.0".into()
            },
            HeaderEdit::Set {
                name: "Content-Type".into(),
                value: "text/plain; charset=utf-8; format=flowed".into()
            },
            HeaderEdit::Set {
                name: "Content-Transfer-Encoding".into(),
                value: "quoted-printable".into()
            },
        ]
    );
    let out = apply(
        raw,
        &MessageEdits {
            body: Some(rw),
            ..MessageEdits::default()
        },
    );
    let msg = parse(&out);
    assert_eq!(
        text_of(&msg.parts[0]).unwrap(),
        format!("{}xin chào\r\n", plain_block(&banner(), "\r\n"))
    );
}

#[test]
fn signed_and_encrypted_mail_is_never_touched() {
    let b = banner();
    let l = Limits::default();
    let cases: &[&str] = &[
        "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=e\n\n--e\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n--e\nContent-Type: application/octet-stream\n\n-----BEGIN PGP MESSAGE-----\n--e--\n",
        "Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\nContent-Transfer-Encoding: base64\n\nMIAGCSqGSIb3DQEHA6CAMIACAQA=\n",
        "Content-Type: application/x-pkcs7-mime; smime-type=signed-data\nContent-Transfer-Encoding: base64\n\nMIAGCSqGSIb3DQEHA6CAMIACAQA=\n",
        // A signed part inside mixed (a list footer added after signing).
        "Content-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=s\n\n--s\nContent-Type: text/plain\n\nsigned text\n--s\nContent-Type: application/pgp-signature\n\nsig\n--s--\n--m\nContent-Type: text/plain\n\nfooter\n--m--\n",
        // Inline PGP.
        "Content-Type: text/plain\n\n-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nhello\n-----BEGIN PGP SIGNATURE-----\n",
    ];
    for body in cases {
        let raw = format!("From: a@example.com\nSubject: s\nMIME-Version: 1.0\n{body}");
        assert_eq!(
            insert_banner(raw.as_bytes(), &b, &l),
            Err(NotRewritten::Signed),
            "{body}"
        );
    }
}

#[test]
fn limits_are_refusals() {
    let b = banner();
    let raw = to_crlf(b"From: a@example.com\nSubject: s\n\nhello\n");
    let small = Limits {
        max_message_bytes: 10,
        ..Limits::default()
    };
    assert!(matches!(
        insert_banner(&raw, &b, &small),
        Err(NotRewritten::TooLarge { .. })
    ));
    let mut many =
        String::from("From: a@example.com\nContent-Type: multipart/mixed; boundary=z\n\n");
    for _ in 0..20 {
        many.push_str("--z\nContent-Type: text/plain\n\nx\n");
    }
    many.push_str("--z--\n");
    let few = Limits {
        max_parts: 5,
        ..Limits::default()
    };
    assert!(matches!(
        insert_banner(many.as_bytes(), &b, &few),
        Err(NotRewritten::TooManyParts { .. })
    ));
    // The same message within the default limits: only the first text part.
    let rw = insert_banner(many.as_bytes(), &b, &Limits::default()).unwrap();
    assert_eq!(rw.parts_changed, 1);
    assert_eq!(
        insert_banner(b"", &b, &Limits::default()),
        Err(NotRewritten::Unparseable)
    );
}

#[test]
fn deep_nesting_is_bounded() {
    let mut raw = String::from("From: a@example.com\nSubject: deep\nMIME-Version: 1.0\n");
    for i in 0..2_000 {
        raw.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n"
        ));
    }
    raw.push_str("Content-Type: text/plain\n\nbottom\n");
    let r = insert_banner(raw.as_bytes(), &banner(), &Limits::default());
    assert!(r.is_err(), "{r:?}");
}

#[test]
fn mixed_line_endings_and_tricky_text_survive_exactly() {
    // Decoded text with bare CR, bare LF inside CRLF, trailing spaces,
    // "--" and a line starting with "From ": all must come back exactly,
    // and the re-encoded text must not end the part early.
    let text = "a\rb\nc  \r\n--boundary-like\r\nFrom the start\r\n.\r\n=3D\r\nend ";
    let qp = "a=0Db=0Ac =20\r\n=2D-boundary-like\r\nFrom the start\r\n.\r\n=3D3D\r\nend=20";
    for (cte, encoded) in [
        ("base64", common_b64(text.as_bytes())),
        ("quoted-printable", qp.to_string()),
    ] {
        let mut raw = format!("From: a@example.com\r\nContent-Type: multipart/mixed; boundary=boundary-like\r\n\r\n--boundary-like\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: {cte}\r\n\r\n").into_bytes();
        raw.extend_from_slice(encoded.as_bytes());
        raw.extend_from_slice(b"\r\n--boundary-like\r\nContent-Type: text/plain; name=a.txt\r\n\r\nattached\r\n--boundary-like--\r\n");
        assert_eq!(
            text_of(&parse(&raw).parts[1]).unwrap(),
            text,
            "{cte} fixture"
        );
        let rw = insert_banner(&raw, &banner(), &Limits::default()).unwrap();
        let out = apply(
            &raw,
            &MessageEdits {
                body: Some(rw),
                ..MessageEdits::default()
            },
        );
        let msg = parse(&out);
        assert_eq!(msg.parts.len(), 3, "{cte}");
        let got = text_of(&msg.parts[1]).unwrap();
        assert_eq!(
            got,
            format!("{}{text}", plain_block(&banner(), "\r\n")),
            "{cte}"
        );
        assert_eq!(text_of(&msg.parts[2]).unwrap(), "attached");
        if cte == "quoted-printable" {
            let part = &out[msg.parts[1].offset_body as usize..msg.parts[1].offset_end as usize];
            assert!(
                !part.windows(2).any(|w| w == b"--"),
                "{}",
                String::from_utf8_lossy(part)
            );
        }
    }
}

fn common_b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        s.push(T[(n >> 18) as usize & 63] as char);
        s.push(T[(n >> 12) as usize & 63] as char);
        s.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        s.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    s
}

#[test]
fn apply_removes_single_occurrences_by_index() {
    let raw = b"Authentication-Results: mx.partner.example; spf=pass\r\n\
Received: by x\r\n\
authentication-results: mail.laocai.gov.vn; dkim=pass (forged)\r\n\
Authentication-Results: other.example;\r\n spf=none\r\n\
Subject: hi\r\n\r\nbody\r\n";
    let edits = MessageEdits {
        remove_auth_results_of: vec!["MAIL.laocai.gov.vn".into()],
        add_headers_top: vec![(
            "Authentication-Results".into(),
            "mail.laocai.gov.vn; spf=fail".into(),
        )],
        ..MessageEdits::default()
    };
    let out = String::from_utf8(apply(raw, &edits)).unwrap();
    assert_eq!(
        out,
        "Authentication-Results: mail.laocai.gov.vn; spf=fail\r\n\
Authentication-Results: mx.partner.example; spf=pass\r\n\
Received: by x\r\n\
Authentication-Results: other.example;\r\n spf=none\r\n\
Subject: hi\r\n\r\nbody\r\n"
    );
}

#[test]
fn forged_results_are_matched_by_content_not_position() {
    // An odd spelling of the name before the forged field must not make the
    // wrong one go (the parser and a plain counter read it differently).
    let raw = b"Authentication -Results: mx.other.example; spf=pass\r\n\
Authentication-Results: (c) MAIL.laocai.gov.vn; dmarc=pass\r\n\
Subject: hi\r\n\r\nbody\r\n";
    let edits = MessageEdits {
        remove_auth_results_of: vec!["mail.laocai.gov.vn".into()],
        ..MessageEdits::default()
    };
    let out = String::from_utf8(apply(raw, &edits)).unwrap();
    assert!(out.contains("mx.other.example"), "{out}");
    assert!(!out.contains("dmarc=pass"), "{out}");
}
