//! End-to-end: a real Postfix on loopback, no filter.

use std::time::Duration;

use phishgate_testkit::{Message, PostfixBuilder, SendSpec, SENDER_DOMAIN};

const WAIT: Duration = Duration::from_secs(20);

/// CRLF → LF, as virtual(8) stores messages.
fn lf(s: &str) -> String {
    s.replace("\r\n", "\n")
}

#[test]
fn swaks_to_two_recipients_is_delivered_intact() {
    let pf = PostfixBuilder::new()
        .domain("laocai.gov.vn")
        .mailbox("alice")
        .mailbox("bob")
        .start()
        .unwrap();
    let body = "Kính gửi anh/chị,\r\n.a line that starts with a dot\r\n.\r\n..two dots\r\n\r\n\tindented, trailing space \r\nend\r\n";
    let data = format!(
        "From: Nguyễn Văn A <a@{SENDER_DOMAIN}>\r\nTo: alice@laocai.gov.vn, bob@laocai.gov.vn\r\nSubject: =?UTF-8?B?dGVzdA==?=\r\nX-Folded: part1\r\n\tpart2\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}"
    );
    let sent = pf
        .send_swaks(&SendSpec::new(
            format!("a@{SENDER_DOMAIN}"),
            &["alice@laocai.gov.vn", "bob@laocai.gov.vn"],
            data,
        ))
        .unwrap();
    assert_eq!(sent.final_code, Some(250), "{}", sent.transcript);
    assert_eq!(sent.exit_status, Some(0), "{}", sent.transcript);
    let qid = sent.queue_id().expect("queue id in the 250 reply");

    for (mailbox, rcpt) in [
        ("alice", "alice@laocai.gov.vn"),
        ("bob", "bob@laocai.gov.vn"),
    ] {
        let got = pf.wait_for_maildir(mailbox, 1, WAIT).unwrap();
        assert_eq!(got.len(), 1, "{mailbox}: {got:?}");
        let m = &got[0];
        assert_eq!(m.body_text(), lf(body), "{mailbox}");
        assert_eq!(m.header("Delivered-To").as_deref(), Some(rcpt));
        assert_eq!(m.header("X-Folded").as_deref(), Some("part1\tpart2"));
        assert_eq!(m.header("Subject").as_deref(), Some("=?UTF-8?B?dGVzdA==?="));
        assert_eq!(
            m.header("Return-Path"),
            Some(format!("<a@{SENDER_DOMAIN}>"))
        );
        let received = m.header("Received").unwrap();
        assert!(received.contains(pf.hostname()), "{received}");
        assert!(received.contains(&qid), "{received}");
    }
    pf.wait_until_queue_empty(WAIT).unwrap();
    assert!(pf.queue().unwrap().is_empty());
    assert!(pf.maildir("catchall").is_empty());
    let log = pf.log();
    assert!(log.contains(&format!("{qid}: removed")), "{log}");
}

#[test]
fn several_messages_on_one_connection_with_rset() {
    let pf = PostfixBuilder::new()
        .domain("laocai.gov.vn")
        .catch_all(true)
        .start()
        .unwrap();
    let messages = [
        Message::new(
            format!("first@{SENDER_DOMAIN}"),
            &["one@laocai.gov.vn"],
            "Subject: first\r\n\r\nbody one\r\n.\r\n",
        ),
        Message::new(
            "",
            &["two@laocai.gov.vn", "three@laocai.gov.vn"],
            "Subject: second\r\n\r\nbody two",
        ),
        Message {
            mail_params: vec!["SMTPUTF8".into(), "BODY=8BITMIME".into()],
            ..Message::new(
                format!("người.gửi@{SENDER_DOMAIN}"),
                &["người.nhận@laocai.gov.vn"],
                "Subject: ba\r\nFrom: người.gửi@sender.test\r\n\r\nthân bài\r\n",
            )
        },
    ];
    let outcomes = pf.send_raw(&messages).unwrap();
    assert_eq!(outcomes.len(), 3);
    assert!(outcomes[0].rset.is_none());
    for (i, o) in outcomes.iter().enumerate() {
        assert!(o.accepted(), "message {i}: {o:?}");
        assert_eq!(o.final_code(), 250);
        if i > 0 {
            assert_eq!(o.rset.as_ref().map(|r| r.code), Some(250));
        }
    }
    let ids: Vec<String> = outcomes.iter().filter_map(|o| o.queue_id()).collect();
    assert_eq!(ids.len(), 3);
    assert_ne!(ids[0], ids[1]);

    // 1 + 2 + 1 recipients, all to the catch-all.
    let got = pf.wait_for_maildir("catchall", 4, WAIT).unwrap();
    assert_eq!(got.len(), 4, "{}", pf.diagnostics());
    let first = got
        .iter()
        .find(|m| m.header("Subject").as_deref() == Some("first"))
        .unwrap();
    assert_eq!(first.body(), b"body one\n.\n");
    let second: Vec<_> = got
        .iter()
        .filter(|m| m.header("Subject").as_deref() == Some("second"))
        .collect();
    assert_eq!(second.len(), 2);
    assert_eq!(second[0].header("Return-Path").as_deref(), Some("<>"));
    assert_eq!(second[0].body(), b"body two\n");
    let utf8 = got
        .iter()
        .find(|m| m.header("Subject").as_deref() == Some("ba"))
        .unwrap();
    assert_eq!(
        utf8.header("Delivered-To").as_deref(),
        Some("người.nhận@laocai.gov.vn")
    );
    assert_eq!(utf8.body_text(), "thân bài\n");
    pf.wait_until_queue_empty(WAIT).unwrap();
}

#[test]
fn unknown_recipient_is_refused_without_catch_all() {
    let pf = PostfixBuilder::new()
        .domain("laocai.gov.vn")
        .mailbox("alice")
        .start()
        .unwrap();
    let sent = pf
        .send_swaks(&SendSpec::new(
            format!("x@{SENDER_DOMAIN}"),
            &["nobody@laocai.gov.vn"],
            "Subject: x\r\n\r\nx\r\n",
        ))
        .unwrap();
    assert_eq!(sent.final_code, Some(550), "{}", sent.transcript);
    assert_ne!(sent.exit_status, Some(0));
    let rcpt = sent.reply_to("RCPT TO:<nobody@").unwrap();
    assert!(rcpt.text().starts_with("5.1.1"), "{rcpt}");
    assert!(sent.end_of_data().is_none());
    assert!(pf.queue().unwrap().is_empty());

    // Mail for a domain that is not a test domain is refused at RCPT
    // (`default_transport = error:…`): nothing ever waits on DNS.
    let out = pf
        .send_swaks(&SendSpec::new(
            format!("x@{SENDER_DOMAIN}"),
            &["someone@elsewhere.example", "alice@laocai.gov.vn"],
            "Subject: away\r\n\r\nx\r\n",
        ))
        .unwrap();
    let away = out.reply_to("RCPT TO:<someone@").unwrap();
    assert_eq!(away.code, 550, "{}", out.transcript);
    assert!(away.text().contains("5.3.0"), "{away}");
    // The other recipient still gets the message.
    assert_eq!(out.final_code, Some(250), "{}", out.transcript);
    let got = pf.wait_for_maildir("alice", 1, WAIT).unwrap();
    assert_eq!(got[0].body(), b"x\n");
    pf.wait_until_queue_empty(WAIT).unwrap();
}
