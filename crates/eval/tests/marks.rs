//! Issue #6, item 2: the collection marks alone cannot tell the sources
//! apart. One message is stored the way each public source stores mail
//! (phishing_pot: CRLF, Microsoft 365 stamps, `phishing@pot`; Nazario: mbox
//! line, `>From ` quoting, mail-client status headers, SpamAssassin's
//! verdict, `jose@monkey.org`; SpamAssassin: mbox line, `yyyy@…taint.org`,
//! Mozilla/Evolution status) and with another era's dates. After
//! normalisation the bytes, the campaign features and the verdict are
//! identical, so nothing downstream (the split, the engine, a future
//! classifier fed with the normalised form) can see which source a message
//! came from.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use phishgate_core::{Config, Engine};
use phishgate_eval::{normalize, prepare, Features};

fn base(rcpt: &str, rcpt_url: &str, date: &str) -> String {
    format!(
        "Received: from mail.secure-mail.test (mail.secure-mail.test [192.0.2.7])\n\tby mx.example.net with ESMTP id 7E2C7\n\tfor <{rcpt}>; {date}\n\
         From: \"Webmail Admin\" <admin@secure-mail.test>\n\
         To: {rcpt}\n\
         Subject: Your mailbox is 99% full\n\
         Date: {date}\n\
         Message-ID: <1234@secure-mail.test>\n\
         MIME-Version: 1.0\n\
         Content-Type: text/html; charset=utf-8\n\
         \n\
         <p>Dear {rcpt}, your mailbox is 99% full and will be suspended.</p>\n\
         <p><a href=\"http://login.secure-mail.test/verify?u={rcpt_url}\">Verify your account now</a></p>\n\
         From the webmail team, with thanks.\n"
    )
}

/// What the phishing_pot collector (an Outlook.com honeypot) leaves.
fn as_phishing_pot() -> Vec<u8> {
    let msg = base(
        "phishing@pot",
        "phishing%40pot",
        "Thu, 3 Nov 2022 04:56:15 +0000",
    );
    let msg = msg.replacen(
        "From: ",
        "Authentication-Results: spf=none (sender IP is 192.0.2.7)\n smtp.mailfrom=secure-mail.test; dkim=none (message not signed)\n header.d=none;dmarc=none action=none\nReceived-SPF: None (protection.outlook.com: secure-mail.test does not designate\n permitted sender hosts)\nX-MS-Exchange-Organization-SCL: 5\nX-Microsoft-Antispam: BCL:0;\nX-EOPAttributedMessage: 0\nX-SID-Result: NONE\nX-Sender-IP: 192.0.2.7\nX-IncomingHeaderCount: 19\nReturn-Path: bounce@secure-mail.test\nFrom: ",
        1,
    );
    let msg = msg.replacen(
        "MIME-Version",
        "X-MS-Exchange-CrossTenant-OriginalArrivalTime: 03 Nov 2022 04:56:15.5180\n (UTC)\nMIME-Version",
        1,
    );
    msg.replace('\n', "\r\n").into_bytes()
}

/// What the Nazario collection (a Postfix mailbox read by a mail client,
/// exported as mbox) leaves.
fn as_nazario() -> Vec<u8> {
    let msg = base(
        "jose@monkey.org",
        "jose@monkey.org",
        "Tue,  8 Nov 2005 06:57:28 -0600 (CST)",
    );
    let msg = msg.replace("\nFrom the webmail team", "\n>From the webmail team");
    format!(
        "From lions@www.holtonks.net Tue Nov  8 07:57:35 2005\n\
         Return-Path: <bounce@secure-mail.test>\n\
         X-Original-To: jose@login.monkey.org\n\
         Delivered-To: jose@login.monkey.org\n\
         {msg}"
    )
    .replacen(
        "MIME-Version",
        "X-Spam-Checker-Version: SpamAssassin 3.0.2 (2004-11-16)\nX-Spam-Level: *\nX-Spam-Status: No, score=2.0 required=5.0 tests=HTML_MESSAGE,\n\tMIME_HTML_ONLY autolearn=no\nStatus: RO\nX-Status: \nX-Keywords:                 \nX-UID: 428\nContent-Length: 312\nLines: 7\nMIME-Version",
        1,
    )
    .into_bytes()
}

/// What the SpamAssassin public corpus (mbox files from its maintainers'
/// mailboxes) leaves.
fn as_spamassassin() -> Vec<u8> {
    let msg = base(
        "yyyy@spamassassin.taint.org",
        "yyyy@spamassassin.taint.org",
        "Mon, 26 Aug 2002 15:30:01 +0100",
    );
    let msg = msg.replace("\nFrom the webmail team", "\n>From the webmail team");
    format!(
        "From bounce@secure-mail.test  Mon Aug 26 15:31:03 2002\n\
         Return-Path: <bounce@secure-mail.test>\n\
         Delivered-To: yyyy@localhost.netnoteinc.com\n\
         Delivery-Date: Mon, 26 Aug 2002 15:31:03 +0100\n\
         X-Mozilla-Status: 0001\n\
         X-Mozilla-Status2: 00000000\n\
         X-Evolution: 00000003-0010\n\
         {msg}\n\n"
    )
    .into_bytes()
}

/// The same message with no marks at all, CRLF, as a gateway would see it.
fn clean_crlf() -> Vec<u8> {
    base(
        "someone@example.org",
        "someone%40example.org",
        "Wed, 1 Jan 2025 10:00:00 +0700",
    )
    .replacen(
        "From: ",
        "Return-Path: <bounce@secure-mail.test>\nFrom: ",
        1,
    )
    .replace("someone@example.org", "recipient@example.net")
    .replace("someone%40example.org", "recipient@example.net")
    .replace('\n', "\r\n")
    .into_bytes()
}

#[test]
fn collection_marks_do_not_survive_normalisation() {
    let variants = [
        ("phishing_pot", as_phishing_pot()),
        ("nazario", as_nazario()),
        ("spamassassin", as_spamassassin()),
        ("clean", clean_crlf()),
    ];
    let reference = normalize(&variants[3].1).bytes;
    let text = String::from_utf8_lossy(&reference).into_owned();
    // Sanity: the mark-free form is the message itself.
    assert!(text.contains("To: recipient@example.net\n"), "{text}");
    assert!(!text.contains('\r'));
    for (name, raw) in &variants {
        let n = normalize(raw);
        assert_eq!(
            String::from_utf8_lossy(&n.bytes),
            text,
            "{name}: normalised form differs"
        );
        assert_eq!(
            n.envelope_from.as_deref(),
            Some("bounce@secure-mail.test"),
            "{name}"
        );
    }
    // The marks really were there before.
    assert!(variants[0].1.windows(2).any(|w| w == b"\r\n"));
    assert!(variants[1].1.starts_with(b"From "));
    assert!(normalize(&variants[1].1).removed_headers.len() >= 10);
}

#[test]
fn features_and_verdicts_are_identical_across_sources() {
    let engine = Engine::new(Config::defaults()).expect("engine");
    let prepared: Vec<_> = [
        as_phishing_pot(),
        as_nazario(),
        as_spamassassin(),
        clean_crlf(),
    ]
    .iter()
    .map(|raw| prepare(&engine, raw))
    .collect();
    let first = prepared.first().expect("some");
    assert_ne!(first.features, Features::default());
    assert!(first.features.shingles.len() > 5);
    for p in &prepared {
        assert_eq!(p.features, first.features);
        assert_eq!(p.id, first.id);
        assert!(p.result.symbols.len() > 2, "{:?}", p.result.symbols);
        assert_eq!(p.result.score, first.result.score);
        assert_eq!(p.result.action, first.result.action);
        let names = |r: &phishgate_core::ScanResult| {
            r.symbols
                .iter()
                .map(|s| (s.name.clone(), s.options.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&p.result), names(&first.result));
    }
}

#[test]
fn line_endings_alone_change_nothing() {
    let lf = base("a@b.test", "a@b.test", "Tue, 8 Nov 2005 06:57:28 -0600");
    let crlf = lf.replace('\n', "\r\n");
    assert_eq!(normalize(lf.as_bytes()), normalize(crlf.as_bytes()));
}
