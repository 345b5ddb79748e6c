//! Server codec: sessions, pipelining, chunking invariance, limits,
//! smuggling and hostile input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{assert_chunking_invariant, cfg, random_chunks, run, run_with, Rng};
use phishgate_smtp::{Event, Extensions, Reply, Server, ServerConfig, Shutdown, XForwardAttr};

const FULL_SESSION: &[u8] = b"EHLO relay.example\r\n\
XFORWARD NAME=client.example ADDR=192.0.2.7 PORT=40123 PROTO=ESMTP\r\n\
XFORWARD HELO=client+2Bhelo.example IDENT=4XyZ1 SOURCE=REMOTE\r\n\
MAIL FROM:<Alice.Sender@Example.ORG> SIZE=200 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=abc+2Bdef\r\n\
RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+40example.net\r\n\
RCPT TO:<\"carol x\"@example.net> NOTIFY=NEVER\r\n\
RCPT TO:<dan@example.net>\r\n\
DATA\r\n\
From: alice@example.org\r\n\
Subject: dots\r\n\
\r\n\
..foo\r\n\
...\r\n\
.\r\n\
QUIT\r\n";

#[test]
fn full_session_every_chunking() {
    let r = assert_chunking_invariant(&cfg(), FULL_SESSION, 1);
    let out = r.output_str();
    assert!(out.starts_with("220 filter.example ESMTP phishgate\r\n250-filter.example\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250 XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE\r\n"), "{out}");
    assert_eq!(
        r.codes(),
        vec![220, 250, 250, 250, 250, 250, 250, 250, 354, 250, 221]
    );
    assert!(out
        .contains("250 2.0.0 Ok: queued as Q0\r\n221 2.0.0 filter.example closing connection\r\n"));
    assert!(r.closed);
    assert_eq!(r.transactions.len(), 1);
    let t = &r.transactions[0];
    assert_eq!(t.helo.as_deref(), Some("relay.example"));
    let xf = t.xforward.as_ref().unwrap();
    assert_eq!(xf.get(XForwardAttr::Name), Some("client.example"));
    assert_eq!(xf.get(XForwardAttr::Addr), Some("192.0.2.7"));
    assert_eq!(xf.get(XForwardAttr::Port), Some("40123"));
    assert_eq!(xf.get(XForwardAttr::Proto), Some("ESMTP"));
    assert_eq!(xf.get(XForwardAttr::Helo), Some("client+helo.example"));
    assert_eq!(xf.get(XForwardAttr::Ident), Some("4XyZ1"));
    assert_eq!(xf.get(XForwardAttr::Source), Some("REMOTE"));
    assert_eq!(t.mail_from.address.as_str(), "Alice.Sender@Example.ORG");
    let params: Vec<String> = t.mail_from.params.iter().map(|p| p.to_wire()).collect();
    assert_eq!(
        params,
        [
            "SIZE=200",
            "BODY=8BITMIME",
            "SMTPUTF8",
            "RET=HDRS",
            "ENVID=abc+2Bdef"
        ]
    );
    assert_eq!(t.declared_size(), Some(200));
    assert!(t.smtputf8());
    assert_eq!(t.rcpts.len(), 3);
    assert_eq!(t.rcpts[0].address.as_str(), "bob@example.net");
    let p0: Vec<String> = t.rcpts[0].params.iter().map(|p| p.to_wire()).collect();
    assert_eq!(
        p0,
        ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob+40example.net"]
    );
    assert_eq!(t.rcpts[1].address.local_part(), "\"carol x\"");
    assert!(t.rcpts[2].params.is_empty());
    assert_eq!(
        t.data,
        b"From: alice@example.org\r\nSubject: dots\r\n\r\n.foo\r\n..\r\n"
    );
    assert_eq!(t.size(), t.data.len());
}

/// Two transactions on one connection, RSET between, null sender, one write.
const PIPELINED: &[u8] = b"EHLO relay.example\r\n\
XFORWARD NAME=a.example ADDR=IPV6:2001:db8::1\r\n\
MAIL FROM:<> BODY=7BIT\r\n\
RCPT TO:<postmaster@example.net>\r\n\
DATA\r\n\
bounce body\r\n\
.\r\n\
RSET\r\n\
MAIL FROM:<x@example.org>\r\n\
RCPT TO:<y@example.net>\r\n\
RCPT TO:<z@example.net>\r\n\
RSET\r\n\
MAIL FROM:<x2@example.org>\r\n\
RCPT TO:<Postmaster>\r\n\
DATA\r\n\
.\r\n\
NOOP\r\n\
QUIT\r\n";

#[test]
fn pipelined_two_transactions_every_chunking() {
    let r = assert_chunking_invariant(&cfg(), PIPELINED, 2);
    assert_eq!(
        r.codes(),
        vec![
            220, 250, 250, 250, 250, 354, 250, 250, 250, 250, 250, 250, 250, 250, 354, 250, 250,
            221
        ]
    );
    assert_eq!(r.transactions.len(), 2);
    let (t0, t1) = (&r.transactions[0], &r.transactions[1]);
    assert!(t0.mail_from.address.is_null());
    assert_eq!(
        t0.xforward.as_ref().unwrap().get(XForwardAttr::Addr),
        Some("IPV6:2001:db8::1")
    );
    assert_eq!(t0.xforward.as_ref().unwrap().get(XForwardAttr::Port), None);
    assert_eq!(t0.data, b"bounce body\r\n");
    // XFORWARD attributes end with the transaction; the RSET-aborted
    // transaction's recipients are gone.
    assert_eq!(t1.xforward, None);
    assert_eq!(t1.mail_from.address.as_str(), "x2@example.org");
    assert_eq!(t1.rcpts.len(), 1);
    assert_eq!(t1.rcpts[0].address.as_str(), "Postmaster");
    assert!(t1.data.is_empty());
    assert!(r.closed);
}

#[test]
fn pipelined_input_waits_for_the_data_result() {
    let mut s = Server::new(cfg());
    s.feed(b"HELO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\nNOOP\r\nQUIT\r\n");
    let Some(Event::Send(out)) = s.next_event() else {
        panic!()
    };
    assert_eq!(out, b"220 filter.example ESMTP phishgate\r\n250 filter.example\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
    let Some(Event::Message(tx)) = s.next_event() else {
        panic!()
    };
    assert_eq!(tx.data, b"x\r\n");
    assert!(!s.wants_input());
    assert_eq!(s.next_event(), None);
    assert_eq!(s.next_event(), None);
    assert!(s
        .finish_data(Reply::new(451, Some((4, 3, 0)), "downstream unavailable"))
        .is_ok());
    assert!(s.finish_data(Reply::new(250, None, "x")).is_err());
    let Some(Event::Send(out)) = s.next_event() else {
        panic!()
    };
    assert_eq!(out, b"451 4.3.0 downstream unavailable\r\n250 2.0.0 Ok\r\n221 2.0.0 filter.example closing connection\r\n");
    assert_eq!(s.next_event(), Some(Event::Close));
    assert_eq!(s.next_event(), None);
    assert!(s.is_closed());
}

#[test]
fn finish_data_checks() {
    let mut s = Server::new(cfg());
    assert!(s.finish_data(Reply::new(250, None, "x")).is_err());
    s.feed(b"HELO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n.\r\n");
    while let Some(ev) = s.next_event() {
        if let Event::Message(_) = ev {
            break;
        }
    }
    assert!(s.finish_data(Reply::new(354, None, "x")).is_err());
    assert!(s.finish_data(Reply::new(700, None, "x")).is_err());
    assert!(s
        .finish_data(Reply::new(250, Some((4, 0, 0)), "x"))
        .is_err());
    // A 421 answer closes the session.
    s.finish_data(Reply::new(421, Some((4, 3, 0)), "bye"))
        .unwrap();
    assert!(matches!(s.next_event(), Some(Event::Send(_))));
    assert_eq!(s.next_event(), Some(Event::Close));
}

#[test]
fn smuggling_sequences_never_end_data() {
    for seq in [
        &b"\n.\n"[..],
        b"\r\n.\n",
        b"\n.\r\n",
        b"\r.\r\n",
        b"\r.\r",
        b"\r\n.\r",
    ] {
        let mut input =
            b"EHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: x\r\n\r\nbody"
                .to_vec();
        input.extend_from_slice(seq);
        input.extend_from_slice(
            b"MAIL FROM:<evil@x>\r\nRCPT TO:<victim@y>\r\nDATA\r\nforged\r\n.\r\nQUIT\r\n",
        );
        let r = assert_chunking_invariant(&cfg(), &input, 3);
        // One message only: the "commands" after the smuggled dot are data.
        assert_eq!(r.transactions.len(), 1, "{seq:?}");
        let data = &r.transactions[0].data;
        assert_eq!(
            data.as_slice(),
            b"Subject: x\r\n\r\nbody\r\n.\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<victim@y>\r\nDATA\r\nforged\r\n",
            "{seq:?}"
        );
        // Normalised: no bare CR or LF survives.
        assert!(!data.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n'));
        assert!(!data.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));
        assert_eq!(r.codes(), vec![220, 250, 250, 250, 354, 250, 221]);
    }
}

#[test]
fn oversized_message_is_read_to_the_end_with_bounded_memory() {
    let mut c = cfg();
    c.limits.max_message_size = 1000;
    let mut s = Server::new(c);
    s.feed(b"EHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
    let mut out = Vec::new();
    let mut max = 0;
    let line = [b'x'; 78];
    let mut chunk = Vec::new();
    while chunk.len() < 4096 {
        chunk.extend_from_slice(&line);
        chunk.extend_from_slice(b"\r\n");
    }
    for _ in 0..500 {
        s.feed(&chunk);
        max = max.max(s.buffered_bytes());
        while let Some(ev) = s.next_event() {
            match ev {
                Event::Send(b) => out.extend_from_slice(&b),
                other => panic!("{other:?}"),
            }
        }
        max = max.max(s.buffered_bytes());
    }
    assert!(max <= 1000 + chunk.len(), "buffered {max}");
    s.feed(b".\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nsmall\r\n.\r\n");
    let mut msgs = 0;
    while let Some(ev) = s.next_event() {
        match ev {
            Event::Send(b) => out.extend_from_slice(&b),
            Event::Message(tx) => {
                msgs += 1;
                assert_eq!(tx.data, b"small\r\n");
                s.finish_data(Reply::new(250, None, "ok")).unwrap();
            }
            Event::Close => panic!(),
        }
    }
    assert_eq!(msgs, 1);
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("354 End data with <CR><LF>.<CR><LF>\r\n552 5.3.4 Error: message file too big\r\n250 2.1.0 Ok\r\n"), "{out}");
}

#[test]
fn endless_line_bounded() {
    let c = cfg();
    let max_line = c.limits.max_command_line;
    let mut s = Server::new(c);
    let chunk = [b'A'; 4096];
    let mut out = Vec::new();
    for _ in 0..2500 {
        s.feed(&chunk);
        assert!(
            s.buffered_bytes() <= max_line + chunk.len() + 64,
            "{}",
            s.buffered_bytes()
        );
        while let Some(ev) = s.next_event() {
            let Event::Send(b) = ev else { panic!("{ev:?}") };
            out.extend_from_slice(&b);
        }
        assert!(s.buffered_bytes() <= max_line + 64);
    }
    s.feed(b"tail\r\nNOOP\r\n");
    while let Some(Event::Send(b)) = s.next_event() {
        out.extend_from_slice(&b);
    }
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "220 filter.example ESMTP phishgate\r\n500 5.5.2 Error: line too long\r\n250 2.0.0 Ok\r\n"
    );
}

#[test]
fn long_line_with_newline_in_one_chunk() {
    let mut input = b"EHLO a\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'B', 3000));
    input.extend_from_slice(b"\r\nNOOP\r\n");
    let r = assert_chunking_invariant(&cfg(), &input, 4);
    assert_eq!(r.codes(), vec![220, 250, 500, 250]);
}

#[test]
fn too_many_recipients() {
    let mut c = cfg();
    c.limits.max_recipients = 2;
    let r = run(&c, b"EHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<1@d>\r\nRCPT TO:<2@d>\r\nRCPT TO:<3@d>\r\nRCPT TO:<4@d>\r\nDATA\r\nx\r\n.\r\n");
    assert_eq!(r.codes(), vec![220, 250, 250, 250, 250, 452, 452, 354, 250]);
    assert!(r
        .output_str()
        .contains("452 4.5.3 Error: too many recipients\r\n"));
    assert_eq!(r.transactions[0].rcpts.len(), 2);
    assert!(!r.closed, "452 does not count as a protocol error");
}

#[test]
fn size_parameter_over_limit() {
    let mut c = cfg();
    c.limits.max_message_size = 5000;
    let r = run(&c, b"EHLO a\r\nMAIL FROM:<a@b> SIZE=5001\r\nMAIL FROM:<a@b> SIZE=99999999999999999999\r\nMAIL FROM:<a@b> SIZE=5000\r\n");
    // 20 digits (the RFC 1870 maximum) overflowing u64 are still "too big".
    assert_eq!(r.codes(), vec![220, 250, 552, 552, 250]);
    assert!(r.output_str().contains("250-SIZE 5000\r\n"));
    assert!(r
        .output_str()
        .contains("552 5.3.4 Error: message size exceeds fixed limit\r\n"));
}

#[test]
fn commands_out_of_order() {
    let r = run(
        &cfg(),
        b"MAIL FROM:<a@b>\r\nRCPT TO:<a@b>\r\nDATA\r\nXFORWARD NAME=x\r\nEHLO a\r\nRCPT TO:<a@b>\r\nDATA\r\nMAIL FROM:<a@b>\r\nMAIL FROM:<a@b>\r\nXFORWARD NAME=x\r\nDATA\r\nRCPT TO:<bad\r\nDATA\r\n",
    );
    assert_eq!(
        r.codes(),
        vec![220, 503, 503, 503, 503, 250, 503, 503, 250, 503, 503, 503, 501, 554]
    );
}

#[test]
fn various_commands() {
    let r = run(
        &cfg(),
        b"HELP\r\nVRFY x\r\nVRFY\r\nEXPN x\r\nSTARTTLS\r\nFOO\r\nnoop whatever\r\nRSET x\r\nEHLO\r\nHELO a b\r\nHELO a\r\nMAIL FROM:<a@b> SIZE=1\r\nmail from: <a@b>\r\nrcpt to: <c@d>\r\nQuit\r\n",
    );
    assert_eq!(
        r.codes(),
        vec![220, 214, 252, 501, 502, 502, 500, 250, 501, 501, 501, 250, 555, 250, 250, 221]
    );
}

#[test]
fn parameter_checks() {
    let r = run(
        &cfg(),
        b"EHLO a\r\n\
MAIL FROM:<a@b> FOO=1\r\n\
MAIL FROM:<a@b> BODY=BINARYMIME\r\n\
MAIL FROM:<a@b> SIZE=1 SIZE=2\r\n\
MAIL FROM:<a@b> SMTPUTF8=yes\r\n\
MAIL FROM:<a@b> RET=ALL\r\n\
MAIL FROM:<a@b> ENVID=a+zz\r\n\
MAIL FROM:<a@b>SIZE=1\r\n\
MAIL FROM:<a@b> SIZE=\r\n\
MAIL FROM:<\xc3\xa4@b>\r\n\
MAIL FROM:<\xc3\xa4@b> SMTPUTF8\r\n\
RCPT TO:<c@d> NOTIFY=SUCCESS,NEVER\r\n\
RCPT TO:<c@d> ORCPT=nosemicolon\r\n\
RCPT TO:<c@d> XYZ\r\n\
RCPT TO:<\xc3\xb6@d> NOTIFY=delay\r\n\
RCPT TO:<>\r\n",
    );
    assert_eq!(
        r.codes(),
        vec![220, 250, 555, 501, 501, 501, 501, 501, 501, 501, 553, 250, 501, 501, 555, 250, 501]
    );
    assert!(r.output_str().contains("553 5.6.7 "));
}

#[test]
fn non_ascii_rcpt_needs_smtputf8_on_mail() {
    let r = run(
        &cfg(),
        b"EHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<\xc3\xb6@d>\r\n",
    );
    assert_eq!(r.codes(), vec![220, 250, 250, 553]);
}

#[test]
fn restricted_extensions() {
    let mut c = cfg();
    c.extensions = Extensions {
        dsn: false,
        smtputf8: false,
        enhanced_status_codes: false,
        xforward: vec![XForwardAttr::Name, XForwardAttr::Addr],
        ..Extensions::all()
    };
    let r = run(&c, b"EHLO a\r\nMAIL FROM:<a@b> RET=FULL\r\nMAIL FROM:<a@b> SMTPUTF8\r\nXFORWARD PORT=25\r\nXFORWARD NAME=x ADDR=1.2.3.4\r\nMAIL FROM:<a@b> BODY=8BITMIME\r\nRCPT TO:<c@d> NOTIFY=NEVER\r\n");
    let out = r.output_str();
    let ehlo: String = out
        .lines()
        .filter(|l| l.starts_with("250"))
        .take(6)
        .collect();
    assert!(
        !ehlo.contains("DSN") && !ehlo.contains("SMTPUTF8") && !ehlo.contains("ENHANCED"),
        "{out}"
    );
    assert!(out.contains("250 XFORWARD NAME ADDR\r\n"));
    assert!(
        !out.contains(" 5.5.4 "),
        "no enhanced codes when not announced: {out}"
    );
    assert_eq!(r.codes(), vec![220, 250, 555, 555, 501, 250, 250, 555]);
    c.extensions = Extensions::none();
    let r = run(&c, b"EHLO a\r\nXFORWARD NAME=x\r\n");
    assert_eq!(r.output_str(), "220 filter.example ESMTP phishgate\r\n250 filter.example\r\n502 Error: command not implemented\r\n");
}

#[test]
fn xforward_validation_and_reset() {
    let r = run(
        &cfg(),
        b"EHLO a\r\n\
XFORWARD\r\n\
XFORWARD NAME\r\n\
XFORWARD COLOR=red\r\n\
XFORWARD ADDR=not-an-ip\r\n\
XFORWARD PORT=99999\r\n\
XFORWARD NAME=a+20b\r\n\
XFORWARD NAME=raw+value ADDR=[unavailable] HELO=h.example\r\n\
XFORWARD NAME=[UNAVAILABLE]\r\n\
MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n.\r\n\
XFORWARD IDENT=q1\r\n\
RSET\r\n\
MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n.\r\n\
XFORWARD IDENT=q2\r\n\
EHLO again\r\n\
MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n.\r\n",
    );
    assert_eq!(
        r.codes(),
        vec![
            220, 250, 501, 501, 501, 501, 501, 501, 250, 250, 250, 250, 354, 250, 250, 250, 250,
            250, 354, 250, 250, 250, 250, 250, 354, 250
        ]
    );
    let xf = r.transactions[0].xforward.as_ref().unwrap();
    // Postfix < 2.3 raw value (not valid xtext) is taken as-is.
    assert_eq!(xf.name, None, "later XFORWARD updates earlier values");
    assert_eq!(xf.helo.as_deref(), Some("h.example"));
    assert_eq!(xf.addr, None);
    assert_eq!(r.transactions[1].xforward, None, "RSET resets XFORWARD");
    assert_eq!(r.transactions[2].xforward, None, "EHLO resets XFORWARD");
    let r = run(
        &cfg(),
        b"EHLO a\r\nXFORWARD NAME=raw+value\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n.\r\n",
    );
    assert_eq!(
        r.transactions[0].xforward.as_ref().unwrap().name.as_deref(),
        Some("raw+value")
    );
    let r = run(&cfg(), b"HELO a\r\nXFORWARD NAME=x\r\n");
    assert_eq!(r.codes(), vec![220, 250, 503]);
}

#[test]
fn too_many_errors_close_the_session() {
    let mut input = Vec::new();
    for _ in 0..30 {
        input.extend_from_slice(b"BOGUS\r\n");
    }
    let r = run(&cfg(), &input);
    let codes = r.codes();
    assert_eq!(codes.len(), 1 + 20 + 1);
    assert_eq!(codes.last(), Some(&421));
    assert!(r.closed);
}

#[test]
fn shutdown_replies_421_and_closes() {
    let mut s = Server::new(cfg());
    s.feed(b"EHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\n");
    while let Some(ev) = s.next_event() {
        if matches!(ev, Event::Message(_)) {
            break;
        }
    }
    s.shutdown(Shutdown::Timeout);
    assert_eq!(
        s.next_event(),
        Some(Event::Send(
            b"421 4.4.2 filter.example Error: timeout exceeded\r\n".to_vec()
        ))
    );
    assert_eq!(s.next_event(), Some(Event::Close));
    assert!(s.finish_data(Reply::new(250, None, "late")).is_err());
    s.feed(b"NOOP\r\n");
    assert_eq!(s.next_event(), None);
    assert!(s.is_closed());
}

#[test]
fn input_past_the_buffer_bound_ends_the_session() {
    let mut c = cfg();
    c.limits.max_buffered_input = 10_000;
    let mut s = Server::new(c);
    s.feed(b"EHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\n");
    while let Some(ev) = s.next_event() {
        if matches!(ev, Event::Message(_)) {
            break;
        }
    }
    // An adapter ignoring wants_input() keeps feeding.
    for _ in 0..100 {
        s.feed(&[b'N'; 1000]);
        assert!(s.buffered_bytes() <= 10_000);
    }
    s.finish_data(Reply::new(250, None, "ok")).unwrap();
    let mut out = Vec::new();
    let mut closed = false;
    while let Some(ev) = s.next_event() {
        match ev {
            Event::Send(b) => out.extend_from_slice(&b),
            Event::Close => closed = true,
            Event::Message(_) => panic!(),
        }
    }
    assert!(closed);
    assert!(String::from_utf8_lossy(&out)
        .ends_with("421 4.7.0 filter.example Error: too much pipelined input\r\n"));
}

#[test]
fn output_is_handed_out_in_bounded_pieces() {
    let mut s = Server::new(cfg());
    let mut input = Vec::new();
    for _ in 0..2000 {
        input.extend_from_slice(b"EHLO a\r\n");
    }
    s.feed(&input);
    let mut total = 0;
    while let Some(ev) = s.next_event() {
        let Event::Send(b) = ev else { panic!() };
        assert!(b.len() < 17 * 1024);
        total += b.len();
    }
    assert!(total > 2000 * 100);
}

/// A reply is `ddd`, `ddd text` or `ddd-text`, lines end in CRLF.
fn assert_well_formed(out: &[u8]) {
    assert!(out.is_empty() || out.ends_with(b"\r\n"));
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let line = line.strip_suffix(b"\r").expect("CRLF");
        assert!(
            line.len() >= 3 && line[..3].iter().all(u8::is_ascii_digit),
            "{line:?}"
        );
        assert!(line.len() == 3 || line[3] == b' ' || line[3] == b'-');
        assert!(!line.contains(&b'\r'));
    }
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let c = cfg();
    for round in 0..2000 {
        let len = rng.below(600);
        let alphabet: &[u8] = if round % 2 == 0 {
            b"\r\n.: <>@=+AEHLOMAIFRCPTDQUXW0123456789\x00\xff"
        } else {
            &[]
        };
        let input: Vec<u8> = (0..len)
            .map(|_| {
                if alphabet.is_empty() {
                    rng.next() as u8
                } else {
                    alphabet[rng.below(alphabet.len())]
                }
            })
            .collect();
        let whole = run(&c, &input);
        assert_well_formed(&whole.output);
        let mut chunked = run_with(&c, &random_chunks(&mut rng, &input), None);
        chunked.max_buffered = whole.max_buffered;
        assert_eq!(chunked, whole);
    }
}

#[test]
fn mutated_sessions_never_panic_and_stay_chunking_invariant() {
    let mut rng = Rng(42);
    let mut c = cfg();
    c.limits.max_message_size = 300;
    c.limits.max_command_line = 128;
    c.limits.max_recipients = 3;
    let seeds: [&[u8]; 3] = [
        FULL_SESSION,
        PIPELINED,
        b"EHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\na\n.\nb\r.\r\n..c\r\n.\r\nQUIT\r\n",
    ];
    let tokens: [&[u8]; 10] = [
        b"\r\n",
        b"\n",
        b"\r",
        b".",
        b"\r\n.\r\n",
        b"DATA\r\n",
        b"RSET\r\n",
        b"MAIL FROM:<x@y>\r\n",
        b"RCPT TO:<z@w>\r\n",
        b"XFORWARD NAME=n\r\n",
    ];
    for _ in 0..3000 {
        let mut input = seeds[rng.below(seeds.len())].to_vec();
        for _ in 0..1 + rng.below(6) {
            let pos = rng.below(input.len() + 1);
            match rng.below(6) {
                0 => {
                    if pos < input.len() {
                        input[pos] = rng.next() as u8;
                    }
                }
                1 => {
                    let end = (pos + rng.below(20)).min(input.len());
                    input.drain(pos..end);
                }
                2 => {
                    let t = tokens[rng.below(tokens.len())];
                    input.splice(pos..pos, t.iter().copied());
                }
                3 => {
                    let end = (pos + rng.below(40)).min(input.len());
                    let dup = input[pos..end].to_vec();
                    input.splice(pos..pos, dup);
                }
                4 => {
                    let n = rng.below(400);
                    input.splice(pos..pos, std::iter::repeat_n(b'z', n));
                }
                _ => input.insert(pos.min(input.len()), rng.next() as u8),
            }
        }
        let whole = run(&c, &input);
        assert_well_formed(&whole.output);
        assert!(
            whole.max_buffered <= input.len() + 4096,
            "{}",
            whole.max_buffered
        );
        for t in &whole.transactions {
            assert!(t.data.len() <= 300);
            assert!(t.rcpts.len() <= 3 && !t.rcpts.is_empty());
        }
        let mut chunked = run_with(&c, &random_chunks(&mut rng, &input), None);
        chunked.max_buffered = whole.max_buffered;
        assert_eq!(chunked, whole);
    }
}

#[test]
fn greeting_and_hostname_cannot_inject_lines() {
    let c = ServerConfig::new("evil\r\n250 injected");
    let r = run(&c, b"");
    assert_eq!(r.output_str(), "220 evil??250 injected ESMTP phishgate\r\n");
}
