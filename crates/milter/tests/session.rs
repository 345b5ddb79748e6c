//! Session behaviour over complete Postfix-like traces, under every
//! chunking the socket could produce.

// Test helpers outside `#[test]` fns are not covered by clippy.toml's
// allow-*-in-tests; here too a panic is the test failing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use phishgate_milter::consts::*;
use phishgate_milter::{
    encode_response, Command, Family, FinishError, Limits, Message, ReplyText, Response,
    ResponseDecoder, Session, SessionError, Step, Wanted,
};

fn messages(run: &Run) -> Vec<&Message> {
    run.steps
        .iter()
        .filter_map(|s| match s {
            Step::EndOfMessage(m) => Some(&**m),
            _ => None,
        })
        .collect()
}

fn decode_responses(bytes: &[u8]) -> Vec<Response> {
    let mut d = ResponseDecoder::new();
    d.feed(bytes);
    let mut v = Vec::new();
    while let Some(r) = d.next_response().unwrap() {
        v.push(r);
    }
    assert_eq!(d.buffered(), 0);
    v
}

#[test]
fn postfix_trace_whole_feed() {
    let bytes = encode_all(&postfix_trace(false));
    let run = run_chunks([&bytes[..]], Wanted::default(), Limits::default());
    assert_eq!(run.error, None);

    // With the default Wanted (all NR_* bits) only O and E get answers.
    let replies: Vec<&Step> = run
        .steps
        .iter()
        .filter(|s| matches!(s, Step::Reply(_)))
        .collect();
    assert_eq!(
        replies.len(),
        1,
        "only the O reply; every other event is NR"
    );
    assert_eq!(
        run.steps
            .iter()
            .filter(|s| **s == Step::NewConnection)
            .count(),
        1
    );
    assert_eq!(run.steps.last(), Some(&Step::Close));

    let msgs = messages(&run);
    assert_eq!(msgs.len(), 5);

    // Message 1: §11.1.
    let m = msgs[0];
    assert_eq!(m.connection.hostname, "localhost");
    assert_eq!(m.connection.family, Family::Inet4);
    assert_eq!(m.connection.port, 59322);
    assert_eq!(m.connection.helo.as_deref(), Some("client.test"));
    let s = m.envelope.sender.as_ref().unwrap();
    assert_eq!(
        (s.raw.as_str(), s.address.as_str()),
        ("<sender@remote.example>", "sender@remote.example")
    );
    assert_eq!(m.envelope.recipients.len(), 1);
    assert_eq!(m.envelope.recipients[0].address, "alice@test.example");
    assert_eq!(m.headers.len(), 8);
    assert_eq!(m.headers[6].value, b"part1\n\tpart2");
    assert_eq!(m.body, b"line1\r\nline2\r\n\r\n\r\n");
    assert_eq!(m.queue_id(), Some("E0E8C9D0136"));
    assert_eq!(m.client_ip(), Some("127.0.0.1"));
    assert_eq!(m.macro_value("j"), Some("mx.test.example"));
    assert_eq!(
        m.macro_value("{j}"),
        Some("mx.test.example"),
        "i and {{i}} alike"
    );
    assert_eq!(m.macro_value("{rcpt_mailer}"), Some("virtual"));
    assert_eq!(m.auth_user(), None);
    assert!(
        m.leading_space,
        "HDR_LEADSPC offered by Postfix and wanted by default"
    );
    assert!(!m.truncated && !m.headers_truncated);
    let raw = m.raw_message();
    let text = String::from_utf8(raw.clone()).unwrap();
    assert!(text.starts_with("Date:Mon, 1 Jan 2024"), "{text}");
    assert!(
        text.contains("\r\nX-Folded:part1\r\n\tpart2\r\nX-Delme:x\r\n\r\nline1\r\n"),
        "{text}"
    );
    assert_eq!(m.size(), raw.len() as u64);

    // Message 2: args, queue id from the second RCPT, 8-bit, E with data.
    let m = msgs[1];
    let s = m.envelope.sender.as_ref().unwrap();
    assert_eq!(s.args, ["size=82", "BODY=8BITMIME"]);
    assert_eq!(m.envelope.recipients[1].args, ["NOTIFY=NEVER"]);
    assert_eq!(m.queue_id(), Some("7E4C89D0163"));
    assert_eq!(m.auth_user(), Some("alice"));
    assert_eq!(m.headers[0].value_str(), "Tăng lương");
    assert_eq!(m.headers[1].value, b"\xff\xfe 8-bit");
    assert_eq!(m.body, b"hello\r\ntail\r\n");
    assert_eq!(m.body_size, 13);

    // Message 3 was RSET; message 4 (third EOM) has the null sender.
    let m = msgs[2];
    let s = m.envelope.sender.as_ref().unwrap();
    assert_eq!(s.raw, "<>");
    assert!(s.is_null());
    assert_eq!(m.envelope.recipients.len(), 1);
    assert_eq!(m.envelope.recipients[0].address, "bob@test.example");
    assert_eq!(m.macro_value("{mail_addr}"), Some(""));
    assert_eq!(
        m.macro_value("{auth_authen}"),
        None,
        "MAIL macros of message 2 cleared by A"
    );
    assert_eq!(
        m.macro_value("j"),
        Some("mx.test.example"),
        "connect macros survive A"
    );

    // Message 5: non-SMTP form, repeated HELO, empty body.
    let m = msgs[3];
    let s = m.envelope.sender.as_ref().unwrap();
    assert_eq!((s.raw.as_str(), s.is_null()), ("", true));
    assert_eq!(m.envelope.recipients[0].raw, "bob@test.example");
    assert_eq!(m.envelope.recipients[0].address, "bob@test.example");
    assert_eq!(m.connection.helo.as_deref(), Some("client3.test"));
    assert_eq!(m.macro_value("{tls_version}"), Some("TLSv1.3"));
    assert!(m.body.is_empty());
    assert_eq!(m.body_size, 0);

    // After K: a fresh connection, IPv6, source route stripped.
    let m = msgs[4];
    assert_eq!(m.connection.family, Family::Inet6);
    assert_eq!(m.client_ip(), Some("2001:db8::1"), "IPv6: prefix stripped");
    assert_eq!(m.client_ip_addr(), Some("2001:db8::1".parse().unwrap()));
    assert_eq!(
        m.macro_value("{daemon_name}"),
        None,
        "K cleared the old connection"
    );
    assert_eq!(
        m.envelope.sender.as_ref().unwrap().address,
        "z@remote.example"
    );

    // What the filter wrote: O, then 5 × (p h i i m m c).
    let resp = decode_responses(&run.written);
    assert_eq!(resp.len(), 1 + 5 * 7);
    let Response::OptNeg {
        version,
        actions,
        protocol,
        macro_lists,
    } = &resp[0]
    else {
        panic!("first response must be O: {:?}", resp[0])
    };
    assert_eq!(*version, 6);
    assert_eq!(actions & !0x1ff, 0);
    assert_eq!(protocol & !0x1f_ffff, 0);
    assert_eq!(macro_lists.len(), 4);
    assert_eq!(
        resp[5],
        Response::ChangeHeader {
            index: 1,
            name: "Subject".into(),
            value: " changed".into()
        },
        "HDR_LEADSPC: the filter supplies the space itself"
    );
    assert_eq!(
        resp[6],
        Response::ChangeHeader {
            index: 1,
            name: "X-Delme".into(),
            value: String::new()
        },
        "a deletion stays empty"
    );
    assert_eq!(resp[7], Response::Continue);
}

#[test]
fn every_byte_boundary_gives_identical_results() {
    let bytes = encode_all(&postfix_trace(false));
    let reference = run_chunks([&bytes[..]], Wanted::default(), Limits::default());
    assert_eq!(reference.error, None);
    assert!(bytes.len() > 2000, "trace is big enough to mean something");
    for at in 0..=bytes.len() {
        let run = run_split(&bytes, at);
        assert_eq!(run, reference, "split at {at}");
    }
}

#[test]
fn one_byte_pieces_and_random_chunkings() {
    for big in [false, true] {
        let bytes = encode_all(&postfix_trace(big));
        let reference = run_chunks([&bytes[..]], Wanted::default(), Limits::default());
        assert_eq!(reference.error, None);
        let ones = run_chunks(bytes.chunks(1), Wanted::default(), Limits::default());
        assert_eq!(ones, reference, "1-byte pieces (big body: {big})");
        let mut rng = Rng::new(0x5eed + big as u64);
        for round in 0..60 {
            let mut pieces = Vec::new();
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let n = 1 + rng.below(if round % 2 == 0 { 16 } else { 9000 });
                let (a, b) = rest.split_at(n.min(rest.len()));
                pieces.push(a);
                rest = b;
            }
            let run = run_chunks(pieces, Wanted::default(), Limits::default());
            assert_eq!(
                run, reference,
                "random chunking round {round} (big body: {big})"
            );
        }
    }
}

#[test]
fn big_body_arrives_in_postfix_chunks() {
    let bytes = encode_all(&postfix_trace(true));
    let run = run_chunks([&bytes[..]], Wanted::default(), Limits::default());
    let m = messages(&run)[1];
    assert_eq!(m.body_size, 70_006);
    assert_eq!(m.body.len(), 70_006);
    assert!(m.body.ends_with(b"tail\r\n"));
}

#[test]
fn without_nr_flags_every_event_gets_continue() {
    let wanted = Wanted {
        protocol: SMFIP_NOUNKNOWN,
        ..Wanted::default()
    };
    let cmds = postfix_trace(false);
    let bytes = encode_all(&cmds);
    let run = run_chunks([&bytes[..]], wanted, Limits::default());
    assert_eq!(run.error, None);
    // One step per command, in order; check the reply rule per command.
    assert_eq!(run.steps.len(), cmds.len());
    for (c, s) in cmds.iter().zip(&run.steps) {
        let expect_continue = matches!(
            c,
            Command::Connect { .. }
                | Command::Helo(_)
                | Command::Mail { .. }
                | Command::Rcpt { .. }
                | Command::Data
                | Command::Header { .. }
                | Command::EndOfHeaders
                | Command::Body(_)
                | Command::Unknown(_)
        );
        match c {
            Command::Macro { .. } | Command::Abort => assert_eq!(s, &Step::NoReply, "{c:?}"),
            Command::OptNeg { .. } => assert!(matches!(s, Step::Reply(Response::OptNeg { .. }))),
            Command::EndOfMessage(_) => assert!(matches!(s, Step::EndOfMessage(_))),
            Command::Quit => assert_eq!(s, &Step::Close),
            Command::QuitNewConnection => assert_eq!(s, &Step::NewConnection),
            _ => assert!(
                expect_continue && s == &Step::Reply(Response::Continue),
                "{c:?} -> {s:?}"
            ),
        }
    }
    // Without LEADSPC the leading space is stripped from edits and
    // raw_message adds one after the colon.
    let resp = decode_responses(&run.written);
    assert!(resp.contains(&Response::ChangeHeader {
        index: 1,
        name: "Subject".into(),
        value: "changed".into()
    }));
    let m = messages(&run)[0];
    assert!(!m.leading_space);
    assert!(String::from_utf8(m.raw_message())
        .unwrap()
        .contains("\r\nX-Folded: part1\r\n\tpart2\r\n"));
}

fn open_session(wanted: Wanted, limits: Limits) -> Session {
    let mut s = Session::new(wanted, limits);
    s.handle(postfix_offer()).unwrap();
    s.handle(Command::Connect {
        hostname: "h".into(),
        family: Family::Unix,
        port: 0,
        address: "/run/sock".into(),
    })
    .unwrap();
    s
}

fn eom(s: &mut Session) -> Message {
    match s.handle(Command::EndOfMessage(Vec::new())).unwrap() {
        Step::EndOfMessage(m) => *m,
        other => panic!("expected EOM, got {other:?}"),
    }
}

#[test]
fn body_bound_truncates_and_counts() {
    let mut s = open_session(
        Wanted::default(),
        Limits {
            max_body_bytes: 100,
            ..Limits::default()
        },
    );
    s.handle(mail("<a@b>", &[])).unwrap();
    for _ in 0..3 {
        s.handle(Command::Body(vec![b'x'; 60])).unwrap();
    }
    s.handle(Command::Body(Vec::new())).unwrap();
    let m = match s.handle(Command::EndOfMessage(vec![b'y'; 5])).unwrap() {
        Step::EndOfMessage(m) => m,
        o => panic!("{o:?}"),
    };
    assert!(m.truncated);
    assert_eq!(m.body.len(), 100);
    assert_eq!(m.body_size, 185);
    assert_eq!(m.size(), 2 + 185);

    // Exactly at the bound: not truncated.
    s.handle(mail("<a@b>", &[])).unwrap();
    s.handle(Command::Body(vec![b'x'; 100])).unwrap();
    let m = eom(&mut s);
    assert!(!m.truncated);
    assert_eq!(m.body.len(), 100);
}

#[test]
fn header_bounds() {
    let limits = Limits {
        max_headers: 3,
        max_header_bytes: 30,
        ..Limits::default()
    };
    let mut s = open_session(Wanted::default(), limits);
    s.handle(mail("<a@b>", &[])).unwrap();
    for i in 0..5 {
        s.handle(hdr(&format!("H{i}"), b"1234")).unwrap();
    }
    let m = eom(&mut s);
    assert_eq!(m.headers.len(), 3);
    assert!(m.headers_truncated);
    // header_size counts all five: "H0:1234\r\n" = 9 bytes each (LEADSPC).
    assert_eq!(m.header_size, 45);

    // Byte bound: 2 headers of 14 bytes fit in 30, the third does not.
    s.handle(mail("<a@b>", &[])).unwrap();
    for _ in 0..3 {
        s.handle(hdr("Name", b"0123456789")).unwrap();
    }
    let m = eom(&mut s);
    assert_eq!(m.headers.len(), 2);
    assert!(m.headers_truncated);
}

#[test]
fn recipient_and_macro_bounds() {
    let limits = Limits {
        max_recipients: 2,
        max_macro_bytes: 10,
        ..Limits::default()
    };
    let mut s = open_session(Wanted::default(), limits);
    s.handle(d(b'M', &[("i", "ABC"), ("{long}", "0123456789")]))
        .unwrap();
    s.handle(mail("<a@b>", &[])).unwrap();
    for r in ["<1@x>", "<2@x>", "<3@x>"] {
        s.handle(rcpt(r, &[])).unwrap();
    }
    let m = eom(&mut s);
    assert_eq!(m.envelope.recipients.len(), 2);
    assert_eq!(m.envelope.recipient_count, 3);
    assert!(m.recipients_truncated);
    assert!(m.macros_truncated);
    assert_eq!(m.macro_value("i"), Some("ABC"));
    assert_eq!(m.macro_value("{long}"), None);
}

#[test]
fn macro_scope_follows_libmilter() {
    let mut s = open_session(Wanted::default(), Limits::default());
    s.handle(d(b'H', &[("h", "1")])).unwrap();
    s.handle(Command::Helo("x".into())).unwrap();
    s.handle(d(b'M', &[("m", "1")])).unwrap();
    s.handle(mail("<a@b>", &[])).unwrap();
    s.handle(d(b'R', &[("r", "1")])).unwrap();
    s.handle(rcpt("<c@d>", &[])).unwrap();
    s.handle(d(b'T', &[("t", "1")])).unwrap();
    s.handle(Command::Data).unwrap();
    assert_eq!(s.macros().get("r"), Some("1"));
    // A new MAIL clears RCPT and DATA macros, keeps its own (sent just
    // before it) and the earlier stages.
    s.handle(d(b'M', &[("m", "2")])).unwrap();
    s.handle(mail("<a@b>", &[])).unwrap();
    assert_eq!(s.macros().get("m"), Some("2"));
    assert_eq!(s.macros().get("r"), None);
    assert_eq!(s.macros().get("t"), None);
    assert_eq!(s.macros().get("h"), Some("1"));
    // Abort clears from MAIL on, keeps connect and HELO.
    s.handle(Command::Abort).unwrap();
    assert_eq!(s.macros().get("m"), None);
    assert_eq!(s.macros().get("h"), Some("1"));
    assert_eq!(s.macros().stage(b'H'), &[("h".to_owned(), "1".to_owned())]);
    // A later stage wins in the merged view.
    s.handle(d(b'M', &[("i", "old")])).unwrap();
    s.handle(mail("<a@b>", &[])).unwrap();
    s.handle(d(b'E', &[("i", "new")])).unwrap();
    let m = eom(&mut s);
    assert_eq!(m.queue_id(), Some("new"));
}

#[test]
fn abort_resets_message_and_is_idempotent() {
    let mut s = open_session(Wanted::default(), Limits::default());
    assert_eq!(s.handle(Command::Abort).unwrap(), Step::NoReply);
    s.handle(mail("<a@b>", &[])).unwrap();
    s.handle(rcpt("<c@d>", &[])).unwrap();
    s.handle(hdr("Subject", b"x")).unwrap();
    s.handle(Command::Body(b"body".to_vec())).unwrap();
    s.handle(Command::Abort).unwrap();
    s.handle(Command::Abort).unwrap();
    let m = eom(&mut s);
    assert_eq!(m.envelope.sender, None);
    assert!(m.envelope.recipients.is_empty() && m.headers.is_empty() && m.body.is_empty());
    assert_eq!(
        m.connection.address, "/run/sock",
        "connection facts survive A"
    );
    assert_eq!(m.client_ip(), None, "UNIX socket has no IP");
}

#[test]
fn session_order_errors() {
    let mut s = Session::new(Wanted::default(), Limits::default());
    assert_eq!(
        s.handle(Command::Helo("x".into())),
        Err(SessionError::NotNegotiated('H'))
    );
    let mut s = Session::new(Wanted::default(), Limits::default());
    assert!(matches!(
        s.handle(Command::OptNeg {
            version: 1,
            actions: 0x1ff,
            protocol: 0
        }),
        Err(SessionError::Negotiate(_))
    ));
    let mut s = Session::new(Wanted::default(), Limits::default());
    s.handle(postfix_offer()).unwrap();
    assert_eq!(
        s.handle(postfix_offer()),
        Err(SessionError::AlreadyNegotiated)
    );
    assert_eq!(s.handle(Command::Quit), Ok(Step::Close));
    assert!(s.is_closed());
    assert_eq!(s.handle(Command::Abort), Err(SessionError::Closed('A')));
}

#[test]
fn finish_validates_answers() {
    // Default Wanted: ADDHDRS CHGHDRS CHGBODY QUARANTINE (+ SETSYMLIST).
    let s = open_session(Wanted::default(), Limits::default());
    let mut out = Vec::new();
    let body = |n: usize| Response::ReplaceBody(vec![b'z'; n]);
    let hdr_edit = Response::AddHeader {
        name: "X-A".into(),
        value: "v".into(),
    };

    assert_eq!(
        s.finish(&[], &Response::Progress, &mut out),
        Err(FinishError::NotFinal('p'))
    );
    assert_eq!(
        s.finish(&[], &Response::Skip, &mut out),
        Err(FinishError::NotFinal('s'))
    );
    assert_eq!(
        s.finish(&[Response::Continue], &Response::Continue, &mut out),
        Err(FinishError::NotAnEdit('c'))
    );
    assert_eq!(
        s.finish(
            &[Response::AddRcpt("<x@y>".into())],
            &Response::Continue,
            &mut out
        ),
        Err(FinishError::ActionNotNegotiated {
            code: '+',
            action: SMFIF_ADDRCPT
        })
    );
    assert_eq!(
        s.finish(
            &[body(1), hdr_edit.clone(), body(1)],
            &Response::Continue,
            &mut out
        ),
        Err(FinishError::BodyNotContiguous)
    );
    assert_eq!(
        s.finish(
            &[body(1), Response::Progress, body(1)],
            &Response::Continue,
            &mut out
        ),
        Err(FinishError::BodyNotContiguous)
    );
    for bad in ["", "Bad Name", "Bad:Name", "Ünï"] {
        let e = Response::AddHeader {
            name: bad.into(),
            value: "v".into(),
        };
        assert_eq!(
            s.finish(&[e], &Response::Continue, &mut out),
            Err(FinishError::BadHeaderName(bad.into()))
        );
    }
    assert_eq!(
        s.finish(
            &[Response::Quarantine(" ".into())],
            &Response::Continue,
            &mut out
        ),
        Err(FinishError::EmptyQuarantine)
    );
    let unfoldable = Response::AddHeader {
        name: "X".into(),
        value: "a".repeat(3000),
    };
    assert_eq!(
        s.finish(&[unfoldable], &Response::Continue, &mut out),
        Err(FinishError::HeaderLineTooLong("X".into()))
    );
    assert!(out.is_empty(), "nothing written on error");

    // A valid answer: body run of 3 packets, header, quarantine, y.
    let reply = ReplyText::new(550, Some("5.7.1"), &["phish"]).unwrap();
    let edits = [
        body(70_000),
        body(65_535),
        hdr_edit,
        Response::Quarantine("phish".into()),
    ];
    s.finish(&edits, &Response::ReplyCode(reply.clone()), &mut out)
        .unwrap();
    let resp = decode_responses(&out);
    let sizes: Vec<usize> = resp
        .iter()
        .filter_map(|r| {
            if let Response::ReplaceBody(b) = r {
                Some(b.len())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(sizes, [65_535, 4_465, 65_535]);
    assert_eq!(resp.last(), Some(&Response::ReplyCode(reply)));
    assert_eq!(
        resp[3],
        Response::AddHeader {
            name: "X-A".into(),
            value: " v".into()
        }
    );
}

#[test]
fn envelope_edits_need_their_actions() {
    let wanted = Wanted {
        actions: SMFI_CURR_ACTS,
        ..Wanted::default()
    };
    let s = open_session(wanted, Limits::default());
    let mut out = Vec::new();
    let edits = [
        Response::AddRcpt("<x@y>".into()),
        Response::AddRcptPar {
            rcpt: "<x@y>".into(),
            args: Some("NOTIFY=NEVER".into()),
        },
        Response::DelRcpt("<c@d>".into()),
        Response::ChangeFrom {
            sender: "<>".into(),
            args: Some(String::new()),
        },
    ];
    s.finish(&edits, &Response::Accept, &mut out).unwrap();
    let resp = decode_responses(&out);
    assert_eq!(
        resp[3],
        Response::ChangeFrom {
            sender: "<>".into(),
            args: None
        },
        "empty args dropped"
    );
    assert_eq!(
        s.finish(
            &[Response::AddRcpt(String::new())],
            &Response::Accept,
            &mut Vec::new()
        ),
        Err(FinishError::EmptyAddress)
    );
}

#[test]
fn progress_can_be_written_while_analysing() {
    let mut out = Vec::new();
    encode_response(&Response::Progress, &mut out);
    assert_eq!(out, [0, 0, 0, 1, b'p']);
}
