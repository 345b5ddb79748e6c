//! Client codec against scripted server replies.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{random_chunks, Rng};
use phishgate_smtp::client::xforward_lines;
use phishgate_smtp::{
    Address, Client, ClientConfig, ClientEvent, EnvelopeAddress, Error, Outcome, Param,
    RefusedRcpt, Reply, Stage, Transaction, XForward, XForwardAttr,
};

fn tx() -> Transaction {
    Transaction {
        helo: Some("relay.example".into()),
        xforward: Some(XForward {
            name: Some("client.example".into()),
            addr: Some("192.0.2.7".into()),
            proto: Some("ESMTP".into()),
            helo: Some("h+x=y".into()),
            ..XForward::default()
        }),
        mail_from: EnvelopeAddress::new(
            Address::parse("alice@example.org").unwrap(),
            vec![
                Param::new("SIZE", Some("200")),
                Param::new("body", Some("8BITMIME")),
                Param::new("SMTPUTF8", None),
                Param::new("RET", Some("HDRS")),
                Param::new("ENVID", Some("e+2B1")),
                Param::new("AUTH", Some("<>")),
            ],
        ),
        rcpts: vec![
            EnvelopeAddress::new(
                Address::parse("bob@example.net").unwrap(),
                vec![
                    Param::new("NOTIFY", Some("SUCCESS,FAILURE")),
                    Param::new("ORCPT", Some("rfc822;bob+40example.net")),
                ],
            ),
            EnvelopeAddress::new(Address::parse("carol@example.net").unwrap(), vec![]),
        ],
        data: b"Subject: t\r\n\r\n.leading dot\r\n..two\r\n.\r\nend\r\n".to_vec(),
    }
}

const GREETING: &str = "220 mx.example ESMTP Postfix\r\n";
const EHLO_ALL: &str = "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 XFORWARD NAME ADDR PROTO HELO\r\n";
const STUFFED: &str = "Subject: t\r\n\r\n..leading dot\r\n...two\r\n..\r\nend\r\n.\r\n";

/// Events with adjacent `Send`s merged (their split depends on chunking).
fn collect(c: &mut Client, events: &mut Vec<ClientEvent>) {
    while let Some(ev) = c.next_event() {
        match (events.last_mut(), ev) {
            (Some(ClientEvent::Send(prev)), ClientEvent::Send(b)) => prev.extend_from_slice(&b),
            (_, ev) => events.push(ev),
        }
    }
}

fn run(cfg: ClientConfig, tx: Option<Transaction>, chunks: &[&[u8]]) -> (Client, Vec<ClientEvent>) {
    let mut c = Client::new(cfg);
    if let Some(tx) = tx {
        c.send(tx).unwrap();
    }
    let mut events = Vec::new();
    collect(&mut c, &mut events);
    for chunk in chunks {
        c.feed(chunk);
        collect(&mut c, &mut events);
    }
    (c, events)
}

fn cfg() -> ClientConfig {
    ClientConfig::new("filter.example")
}

fn send(s: &str) -> ClientEvent {
    ClientEvent::Send(s.as_bytes().to_vec())
}

fn reply(code: u16, enh: Option<(u8, u16, u16)>, text: &str) -> Reply {
    Reply::new(code, enh, text)
}

#[test]
fn pipelined_delivery_and_quit() {
    let script = format!("{GREETING}{EHLO_ALL}250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data\r\n250 2.0.0 Ok: queued as ABC\r\n");
    let (mut c, events) = run(cfg(), Some(tx()), &[script.as_bytes()]);
    let expected_out = format!(
        "EHLO filter.example\r\n\
XFORWARD NAME=client.example ADDR=192.0.2.7 PROTO=ESMTP HELO=h+2Bx+3Dy\r\n\
MAIL FROM:<alice@example.org> SIZE=200 body=8BITMIME SMTPUTF8 RET=HDRS ENVID=e+2B1\r\n\
RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+40example.net\r\n\
RCPT TO:<carol@example.net>\r\n\
DATA\r\n{STUFFED}"
    );
    assert_eq!(
        events,
        vec![
            send(&expected_out),
            ClientEvent::Done(Outcome::Delivered {
                reply: reply(250, Some((2, 0, 0)), "Ok: queued as ABC")
            }),
            ClientEvent::Ready
        ]
    );
    let caps = c.capabilities().unwrap();
    assert!(caps.esmtp && caps.extensions.pipelining && caps.extensions.dsn);
    assert_eq!(caps.size_limit, Some(10_240_000));
    assert_eq!(
        caps.extensions.xforward,
        vec![
            XForwardAttr::Name,
            XForwardAttr::Addr,
            XForwardAttr::Proto,
            XForwardAttr::Helo
        ]
    );
    c.quit();
    assert_eq!(c.next_event(), Some(send("QUIT\r\n")));
    c.feed(b"221 2.0.0 Bye\r\n");
    assert_eq!(c.next_event(), Some(ClientEvent::Closed(None)));
    assert!(c.is_closed());
    assert_eq!(c.send(tx()), Err(Error::Closed));
}

#[test]
fn reply_stream_split_at_every_byte_boundary() {
    let script = format!("{GREETING}{EHLO_ALL}250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n550 5.1.1 <bob@example.net>: unknown\r\n250 2.1.5 Ok\r\n354 End data\r\n250 2.0.0 Ok: queued as ABC\r\n221 Bye\r\n");
    let bytes = script.as_bytes();
    let reference = {
        let (mut c, mut ev) = run(cfg(), Some(tx()), &[]);
        c.quit();
        c.feed(bytes);
        collect(&mut c, &mut ev);
        ev
    };
    assert!(
        matches!(&reference[1], ClientEvent::Done(Outcome::PartiallyAccepted { refused, .. }) if refused[0].index == 0)
    );
    assert_eq!(reference.last(), Some(&ClientEvent::Closed(None)));
    let check = |chunks: Vec<&[u8]>, how: &str| {
        let (mut c, mut ev) = run(cfg(), Some(tx()), &[]);
        c.quit();
        for ch in chunks {
            c.feed(ch);
            collect(&mut c, &mut ev);
        }
        assert_eq!(ev, reference, "{how}");
    };
    for i in 0..=bytes.len() {
        let (a, b) = bytes.split_at(i);
        check(vec![a, b], &format!("split at {i}"));
    }
    check(bytes.chunks(1).collect(), "bytewise");
    let mut rng = Rng(7);
    for round in 0..50 {
        check(random_chunks(&mut rng, bytes), &format!("random {round}"));
    }
}

#[test]
fn sequential_without_pipelining() {
    let ehlo = "250-mx.example\r\n250-SIZE\r\n250 8BITMIME\r\n";
    let mut c = Client::new(cfg());
    c.send(tx()).unwrap();
    let mut out = String::new();
    let step = |c: &mut Client, input: &str| {
        c.feed(input.as_bytes());
        let mut ev = Vec::new();
        collect(c, &mut ev);
        ev
    };
    assert_eq!(
        step(&mut c, GREETING),
        vec![send("EHLO filter.example\r\n")]
    );
    // Only SIZE and BODY survive: no DSN, SMTPUTF8, AUTH; no XFORWARD.
    assert_eq!(
        step(&mut c, ehlo),
        vec![send(
            "MAIL FROM:<alice@example.org> SIZE=200 body=8BITMIME\r\n"
        )]
    );
    assert_eq!(
        step(&mut c, "250 ok\r\n"),
        vec![send("RCPT TO:<bob@example.net>\r\n")]
    );
    assert_eq!(
        step(&mut c, "250 ok\r\n"),
        vec![send("RCPT TO:<carol@example.net>\r\n")]
    );
    assert_eq!(step(&mut c, "250 ok\r\n"), vec![send("DATA\r\n")]);
    assert_eq!(step(&mut c, "354 go\r\n"), vec![send(STUFFED)]);
    let ev = step(&mut c, "250 queued\r\n");
    assert_eq!(
        ev,
        vec![
            ClientEvent::Done(Outcome::Delivered {
                reply: reply(250, None, "queued")
            }),
            ClientEvent::Ready
        ]
    );
    out.push_str("done");
    assert_eq!(c.capabilities().unwrap().size_limit, Some(0));
}

#[test]
fn tempfail_at_mail_then_rset_and_reuse() {
    for pipelined in [true, false] {
        let ehlo = if pipelined {
            "250-mx\r\n250 PIPELINING\r\n"
        } else {
            "250 mx\r\n"
        };
        let mut script = format!("{GREETING}{ehlo}451 4.3.0 try later\r\n");
        if pipelined {
            script
                .push_str("503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n");
        }
        let (mut c, events) = run(cfg(), Some(tx()), &[script.as_bytes()]);
        let n = events.len();
        assert_eq!(
            events[n - 2],
            ClientEvent::Done(Outcome::TempFailed {
                stage: Stage::Mail,
                reply: reply(451, Some((4, 3, 0)), "try later")
            })
        );
        let ClientEvent::Send(last) = &events[n - 1] else {
            panic!("{events:?}")
        };
        assert!(last.ends_with(b"RSET\r\n"));
        // Busy until RSET is answered; the next transaction is queued.
        let mut second = tx();
        second.xforward = None;
        assert_eq!(c.send(second.clone()), Ok(()));
        assert_eq!(c.send(second), Err(Error::Busy));
        c.feed(b"250 2.0.0 Ok\r\n");
        let mut ev = Vec::new();
        collect(&mut c, &mut ev);
        let ClientEvent::Send(b) = &ev[0] else {
            panic!()
        };
        assert!(
            b.starts_with(b"MAIL FROM:<alice@example.org>\r\n"),
            "{}",
            String::from_utf8_lossy(b)
        );
    }
}

#[test]
fn one_rcpt_refused_is_partial() {
    let script = format!("{GREETING}250-mx\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n354 go\r\n250 2.0.0 queued\r\n");
    let (_, events) = run(cfg(), Some(tx()), &[script.as_bytes()]);
    assert_eq!(
        events[1],
        ClientEvent::Done(Outcome::PartiallyAccepted {
            reply: reply(250, Some((2, 0, 0)), "queued"),
            refused: vec![RefusedRcpt {
                index: 1,
                reply: reply(550, Some((5, 1, 1)), "no such user")
            }],
        })
    );
    assert!(matches!(&events[1], ClientEvent::Done(o) if o.is_delivered()));
}

#[test]
fn all_rcpts_refused() {
    for (r1, r2, expected) in [
        (
            "550 5.1.1 a",
            "553 5.1.3 b",
            Outcome::Rejected {
                stage: Stage::Rcpt,
                reply: reply(550, Some((5, 1, 1)), "a"),
            },
        ),
        (
            "550 5.1.1 a",
            "450 4.2.0 b",
            Outcome::TempFailed {
                stage: Stage::Rcpt,
                reply: reply(450, Some((4, 2, 0)), "b"),
            },
        ),
    ] {
        // Pipelined: DATA refused with 554 after the RCPTs.
        let script = format!("{GREETING}250-mx\r\n250 PIPELINING\r\n250 ok\r\n{r1}\r\n{r2}\r\n554 5.5.1 no valid recipients\r\n250 ok\r\n");
        let (_, events) = run(cfg(), Some(tx()), &[script.as_bytes()]);
        assert_eq!(events[1], ClientEvent::Done(expected.clone()));
        assert_eq!(events.last(), Some(&ClientEvent::Ready));
        // Sequential: DATA is never sent.
        let script = format!("{GREETING}250 mx\r\n250 ok\r\n{r1}\r\n{r2}\r\n250 ok\r\n");
        let (_, events) = run(cfg(), Some(tx()), &[script.as_bytes()]);
        let ClientEvent::Send(out) = &events[0] else {
            panic!()
        };
        let out = String::from_utf8_lossy(out);
        assert!(!out.contains("DATA"), "{out}");
        assert_eq!(
            events[1..],
            [
                ClientEvent::Done(expected),
                send("RSET\r\n"),
                ClientEvent::Ready
            ]
        );
    }
}

#[test]
fn data_accepted_despite_refused_envelope_aborts_without_dot() {
    let script = format!("{GREETING}250-mx\r\n250 PIPELINING\r\n250 ok\r\n550 no\r\n550 no\r\n354 go ahead anyway\r\n");
    let (c, events) = run(cfg(), Some(tx()), &[script.as_bytes()]);
    let ClientEvent::Send(out) = &events[0] else {
        panic!()
    };
    assert!(out.ends_with(b"DATA\r\n"), "no message content may follow");
    assert!(matches!(
        &events[1],
        ClientEvent::Done(Outcome::Rejected {
            stage: Stage::Rcpt,
            ..
        })
    ));
    assert!(matches!(&events[2], ClientEvent::Closed(Some(_))));
    assert_eq!(events.len(), 3);
    assert!(c.is_closed());
}

#[test]
fn tempfail_after_dot_and_rejection_after_dot() {
    for (code_line, expected) in [
        (
            "451 4.3.0 queue file write error",
            Outcome::TempFailed {
                stage: Stage::EndOfData,
                reply: reply(451, Some((4, 3, 0)), "queue file write error"),
            },
        ),
        (
            "554 5.7.1 rejected",
            Outcome::Rejected {
                stage: Stage::EndOfData,
                reply: reply(554, Some((5, 7, 1)), "rejected"),
            },
        ),
    ] {
        let script = format!("{GREETING}250-mx\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n{code_line}\r\n");
        let (_, events) = run(cfg(), Some(tx()), &[script.as_bytes()]);
        assert_eq!(
            events[1..],
            [ClientEvent::Done(expected), ClientEvent::Ready]
        );
    }
}

#[test]
fn garbage_reply_is_a_temporary_failure() {
    for garbage in [
        "HTTP/1.1 400 Bad Request\r\n",
        "25\r\n",
        "250-a\r\n251 b\r\n",
        "\x00\x01\x02\r\n",
    ] {
        let script = format!("{GREETING}{garbage}");
        let (c, events) = run(cfg(), Some(tx()), &[script.as_bytes()]);
        assert!(
            matches!(&events[1], ClientEvent::Done(Outcome::TempFailed { stage: Stage::Ehlo, reply }) if reply.code == 451),
            "{garbage:?}: {events:?}"
        );
        assert!(matches!(&events[2], ClientEvent::Closed(Some(r)) if r.code == 451));
        assert!(c.is_closed());
    }
}

#[test]
fn reply_bounds() {
    let mut c = cfg();
    c.limits.max_reply_line = 100;
    c.limits.max_reply_lines = 5;
    let long = format!("{GREETING}250 {}\r\n", "x".repeat(200));
    let (_, events) = run(c.clone(), Some(tx()), &[long.as_bytes()]);
    assert!(matches!(
        &events[1],
        ClientEvent::Done(Outcome::TempFailed { .. })
    ));
    // An endless line without LF is refused as soon as it passes the bound.
    let (cl, _) = run(c.clone(), None, &[GREETING.as_bytes(), &[b'2'; 150]]);
    assert!(cl.is_closed());
    let many = format!("{GREETING}{}250 end\r\n", "250-x\r\n".repeat(10));
    let (_, events) = run(c, Some(tx()), &[many.as_bytes()]);
    assert!(matches!(
        &events[1],
        ClientEvent::Done(Outcome::TempFailed { .. })
    ));
}

#[test]
fn greeting_421_fails_the_queued_transaction() {
    let (_, events) = run(
        cfg(),
        Some(tx()),
        &[b"421 4.3.2 mx.example Service not available\r\n"],
    );
    let r = reply(421, Some((4, 3, 2)), "mx.example Service not available");
    assert_eq!(
        events,
        vec![
            ClientEvent::Done(Outcome::TempFailed {
                stage: Stage::Greeting,
                reply: r.clone()
            }),
            ClientEvent::Closed(Some(r))
        ]
    );
    let (_, events) = run(cfg(), None, &[b"554 5.3.2 no service\r\n"]);
    assert!(matches!(&events[..], [ClientEvent::Closed(Some(r))] if r.code == 554));
}

#[test]
fn ehlo_refused_falls_back_to_helo() {
    let script = format!("{GREETING}502 5.5.1 EHLO not implemented\r\n250 mx\r\n");
    let (c, events) = run(cfg(), Some(tx()), &[script.as_bytes()]);
    assert_eq!(
        events,
        vec![send(
            "EHLO filter.example\r\nHELO filter.example\r\nMAIL FROM:<alice@example.org>\r\n"
        )]
    );
    assert!(!c.capabilities().unwrap().esmtp);
}

#[test]
fn connection_lost_mid_transaction() {
    let script =
        format!("{GREETING}250-mx\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    let (mut c, _) = run(cfg(), Some(tx()), &[script.as_bytes()]);
    c.connection_closed();
    let mut ev = Vec::new();
    collect(&mut c, &mut ev);
    assert!(
        matches!(&ev[0], ClientEvent::Done(Outcome::TempFailed { stage: Stage::EndOfData, reply }) if reply.code == 421)
    );
    assert!(matches!(&ev[1], ClientEvent::Closed(Some(_))));
}

#[test]
fn unsolicited_421_on_idle_connection() {
    let script = format!("{GREETING}250 mx\r\n421 4.4.2 timeout\r\n");
    let (c, events) = run(cfg(), None, &[script.as_bytes()]);
    assert!(
        matches!(&events[..], [ClientEvent::Send(_), ClientEvent::Ready, ClientEvent::Closed(Some(r))] if r.code == 421)
    );
    assert!(c.is_closed());
}

#[test]
fn utf8_envelope_needs_smtputf8_downstream() {
    let mut t = tx();
    t.rcpts[1].address = Address::parse("jörg@example.net").unwrap();
    let script = format!("{GREETING}250-mx\r\n250 DSN\r\n");
    let (_, events) = run(cfg(), Some(t), &[script.as_bytes()]);
    assert_eq!(
        events,
        vec![
            send("EHLO filter.example\r\n"),
            ClientEvent::Done(Outcome::TempFailed {
                stage: Stage::Mail,
                reply: reply(
                    451,
                    Some((4, 6, 7)),
                    "Re-injection server does not support SMTPUTF8"
                )
            }),
            ClientEvent::Ready
        ]
    );
}

#[test]
fn send_errors() {
    let mut c = Client::new(cfg());
    let mut t = tx();
    t.rcpts.clear();
    assert_eq!(c.send(t), Err(Error::NoRecipients));
    c.send(tx()).unwrap();
    assert_eq!(c.send(tx()), Err(Error::Busy));
}

#[test]
fn xforward_encoding_and_splitting() {
    let t = tx();
    let all = XForwardAttr::ALL;
    assert_eq!(
        xforward_lines(&t, &all, 512),
        vec!["XFORWARD NAME=client.example ADDR=192.0.2.7 PROTO=ESMTP HELO=h+2Bx+3Dy\r\n"]
    );
    // Only announced attributes.
    assert_eq!(
        xforward_lines(&t, &[XForwardAttr::Addr], 512),
        vec!["XFORWARD ADDR=192.0.2.7\r\n"]
    );
    // Split to respect the line bound.
    let lines = xforward_lines(&t, &all, 40);
    assert_eq!(
        lines,
        vec![
            "XFORWARD NAME=client.example\r\n",
            "XFORWARD ADDR=192.0.2.7 PROTO=ESMTP\r\n",
            "XFORWARD HELO=h+2Bx+3Dy\r\n"
        ]
    );
    assert!(lines.iter().all(|l| l.len() <= 40));
    // A value that cannot fit is left out; nothing usable -> [UNAVAILABLE].
    let mut t2 = t.clone();
    t2.xforward = Some(XForward {
        name: Some("n".repeat(600)),
        ..XForward::default()
    });
    assert_eq!(
        xforward_lines(&t2, &all, 512),
        vec!["XFORWARD NAME=[UNAVAILABLE]\r\n"]
    );
    // No XFORWARD state or none announced -> no command.
    t2.xforward = None;
    assert!(xforward_lines(&t2, &all, 512).is_empty());
    assert!(xforward_lines(&t, &[], 512).is_empty());
    // 255-character values (the maximum) still fit a 512-byte line each.
    let mut t3 = t.clone();
    let v = "v".repeat(255);
    t3.xforward = Some(XForward {
        name: Some(v.clone()),
        helo: Some(v.clone()),
        ident: Some(v),
        ..XForward::default()
    });
    let lines = xforward_lines(&t3, &all, 512);
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|l| l.len() <= 512));
}

#[test]
fn random_replies_never_panic() {
    let mut rng = Rng(99);
    let alphabet = b"0123456789 -\r\n2545PIPELINGXFORWARD";
    for _ in 0..3000 {
        let len = rng.below(300);
        let mut input: Vec<u8> = GREETING.as_bytes().to_vec();
        input.extend((0..len).map(|_| {
            if rng.below(3) == 0 {
                rng.next() as u8
            } else {
                alphabet[rng.below(alphabet.len())]
            }
        }));
        let mut c = Client::new(cfg());
        c.send(tx()).unwrap();
        let mut dones = 0;
        for chunk in random_chunks(&mut rng, &input) {
            c.feed(chunk);
            while let Some(ev) = c.next_event() {
                match ev {
                    ClientEvent::Done(_) => dones += 1,
                    ClientEvent::Ready => {
                        if rng.below(2) == 0 {
                            let _ = c.send(tx());
                        } else {
                            c.quit();
                        }
                    }
                    _ => {}
                }
            }
        }
        c.connection_closed();
        while let Some(ev) = c.next_event() {
            if matches!(ev, ClientEvent::Done(_)) {
                dones += 1;
            }
        }
        assert!(dones >= 1, "every transaction gets an outcome");
        assert!(c.is_closed());
    }
}
