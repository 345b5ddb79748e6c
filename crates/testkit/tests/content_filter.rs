//! End-to-end: Postfix wired to an after-queue content filter (the
//! FILTER_README layout: inbound smtpd with `content_filter=scan:…`, a `scan`
//! smtp transport, a re-injection smtpd without filtering).

use std::net::SocketAddr;
use std::time::Duration;

use phishgate_testkit::{
    send_raw_smtp, unused_port, Message, Postfix, PostfixBuilder, QueueName, SendSpec, SmtpSink,
    SENDER_DOMAIN,
};

const WAIT: Duration = Duration::from_secs(20);

/// The `scan` transport and the re-injection listener (reference §1.3, §1.4).
const FILTER_MASTER_CF: &str = "
scan      unix  -       -       n       -       10      smtp
    -o smtp_send_xforward_command=yes
    -o disable_mime_output_conversion=yes
    -o smtp_generic_maps=
127.0.0.1:{{port:reinject}} inet  n       -       n       -       10      smtpd
    -o content_filter=
    -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters
    -o smtpd_helo_restrictions=
    -o smtpd_client_restrictions=
    -o smtpd_sender_restrictions=
    -o smtpd_relay_restrictions=
    -o smtpd_recipient_restrictions=permit_mynetworks,reject
    -o mynetworks=127.0.0.0/8
    -o smtpd_authorized_xforward_hosts=127.0.0.0/8
";

#[allow(clippy::unwrap_used)] // called from tests only
fn filtered_postfix(filter_port: u16) -> Postfix {
    PostfixBuilder::new()
        .domain("laocai.gov.vn")
        .mailbox("alice")
        .port("reinject")
        .inbound_options(&[
            &format!("content_filter=scan:[127.0.0.1]:{filter_port}"),
            "receive_override_options=no_address_mappings",
        ])
        .master_cf(FILTER_MASTER_CF)
        .start()
        .unwrap()
}

#[allow(clippy::unwrap_used)] // called from tests only
fn reinject_addr(pf: &Postfix) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], pf.port("reinject").unwrap()))
}

#[test]
fn closed_filter_port_defers_then_a_relaying_filter_delivers() {
    let filter_port = unused_port().unwrap();
    let pf = filtered_postfix(filter_port);
    let sent = pf
        .send_swaks(&SendSpec::new(
            format!("a@{SENDER_DOMAIN}"),
            &["alice@laocai.gov.vn"],
            "Subject: deferred\r\n\r\nwaiting for the filter\r\n",
        ))
        .unwrap();
    assert_eq!(sent.final_code, Some(250), "{}", sent.transcript);
    let qid = sent.queue_id().unwrap();

    let queue = pf
        .wait_for_queue("the message deferred", WAIT, |q| {
            q.iter()
                .any(|e| e.queue_id == qid && e.queue_name == QueueName::Deferred)
        })
        .unwrap();
    let entry = queue.iter().find(|e| e.queue_id == qid).unwrap();
    assert_eq!(entry.sender, format!("a@{SENDER_DOMAIN}"));
    assert_eq!(entry.recipients.len(), 1);
    assert_eq!(entry.recipients[0].address, "alice@laocai.gov.vn");
    let reason = entry.reason().unwrap();
    assert!(
        reason.contains(&format!("127.0.0.1[127.0.0.1]:{filter_port}"))
            && reason.contains("Connection refused"),
        "{reason}"
    );
    assert!(pf.maildir("alice").is_empty());
    assert!(pf.log().contains("status=deferred"));

    // Now a filter appears on that port; it re-injects what it receives.
    let reinject = reinject_addr(&pf);
    let sink = SmtpSink::start_on(filter_port, move |m| {
        let msg = Message {
            from: m.from.clone(),
            to: m.to.clone(),
            mail_params: Vec::new(),
            data: [b"X-Phishgate-Test: scanned\r\n".as_slice(), &m.data].concat(),
        };
        match send_raw_smtp(reinject, "filter.test", &[msg]) {
            Ok(out) if out[0].accepted() => "250 2.0.0 Ok: re-injected".to_owned(),
            Ok(out) => format!("451 4.3.0 re-injection refused: {:?}", out[0]),
            Err(e) => format!("451 4.3.0 re-injection failed: {e}"),
        }
    })
    .unwrap();
    pf.flush().unwrap();
    let got = pf.wait_for_maildir("alice", 1, WAIT).unwrap();
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.header("X-Phishgate-Test").as_deref(), Some("scanned"));
    assert_eq!(m.header("Subject").as_deref(), Some("deferred"));
    assert_eq!(m.body(), b"waiting for the filter\n");
    // Both smtpd passes are in the Received chain.
    assert_eq!(m.headers("Received").len(), 2, "{}", m.text());
    // Postfix sent XFORWARD with the original client.
    let seen = sink.messages();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0]
            .xforward
            .iter()
            .any(|x| x.contains("ADDR=127.0.0.1")),
        "{:?}",
        seen[0].xforward
    );
    assert_eq!(seen[0].to, ["alice@laocai.gov.vn"]);
    pf.wait_until_queue_empty(WAIT).unwrap();
    assert_eq!(pf.maildir("alice").len(), 1, "delivered exactly once");
}

#[test]
fn filter_rejection_bounces_to_the_sender_mailbox() {
    let sink = SmtpSink::start(|_| "554 5.7.1 phishing detected".to_owned()).unwrap();
    let pf = filtered_postfix(sink.port());
    let sent = pf
        .send_swaks(&SendSpec::new(
            format!("victim@{SENDER_DOMAIN}"),
            &["alice@laocai.gov.vn"],
            "Subject: lure\r\n\r\nxac minh tai khoan\r\n",
        ))
        .unwrap();
    assert_eq!(sent.final_code, Some(250), "{}", sent.transcript);
    let bounces = pf.wait_for_maildir("bounces", 1, WAIT).unwrap();
    let b = &bounces[0];
    assert_eq!(
        b.header("Delivered-To"),
        Some(format!("victim@{SENDER_DOMAIN}"))
    );
    assert_eq!(b.header("Return-Path").as_deref(), Some("<>"));
    assert!(
        b.text().contains("554 5.7.1 phishing detected"),
        "{}",
        b.text()
    );
    assert!(pf.maildir("alice").is_empty());
    pf.wait_until_queue_empty(WAIT).unwrap();
}

#[test]
fn hold_and_release() {
    let filter_port = unused_port().unwrap();
    let pf = filtered_postfix(filter_port);
    let sent = pf
        .send_swaks(&SendSpec::new(
            format!("a@{SENDER_DOMAIN}"),
            &["alice@laocai.gov.vn"],
            "Subject: hold me\r\n\r\nx\r\n",
        ))
        .unwrap();
    let qid = sent.queue_id().unwrap();
    pf.wait_for_queue("the message deferred", WAIT, |q| {
        q.iter().any(|e| e.queue_name == QueueName::Deferred)
    })
    .unwrap();
    pf.hold(&qid).unwrap();
    let q = pf.queue().unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].queue_name, QueueName::Hold);
    pf.release_hold(&qid).unwrap();
    let q = pf
        .wait_for_queue("the message out of hold", WAIT, |q| {
            q.iter().all(|e| e.queue_name != QueueName::Hold)
        })
        .unwrap();
    assert_eq!(q.len(), 1);
    pf.delete_all().unwrap();
    pf.wait_until_queue_empty(WAIT).unwrap();
}
