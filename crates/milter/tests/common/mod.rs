//! Shared test helpers: a tiny PRNG, a Postfix-like MTA script, and a
//! driver that runs bytes through Decoder + Session the way the adapter will.
#![allow(dead_code)]
// Helpers outside `#[test]` fns are not covered by clippy.toml's
// allow-*-in-tests; here too a panic is the test failing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use phishgate_milter::consts::*;
use phishgate_milter::{
    encode_command, Command, Decoder, Family, Limits, Response, Session, Step, Wanted,
};

/// xorshift64*: deterministic, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

pub fn d(stage: u8, pairs: &[(&str, &str)]) -> Command {
    Command::Macro {
        stage,
        pairs: pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

pub fn mail(s: &str, args: &[&str]) -> Command {
    Command::Mail {
        sender: s.to_owned(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
    }
}

pub fn rcpt(s: &str, args: &[&str]) -> Command {
    Command::Rcpt {
        recipient: s.to_owned(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
    }
}

pub fn hdr(name: &str, value: &[u8]) -> Command {
    Command::Header {
        name: name.to_owned(),
        value: value.to_vec(),
    }
}

/// The Postfix offer observed in [lab]: 6 / 0x1ff / 0x1fffff.
pub fn postfix_offer() -> Command {
    Command::OptNeg {
        version: 6,
        actions: 0x1ff,
        protocol: 0x1f_ffff,
    }
}

fn headers(out: &mut Vec<Command>, qid: &str, list: &[(&str, &[u8])]) {
    for (n, v) in list {
        out.push(d(b'L', &[("i", qid)]));
        out.push(hdr(n, v));
    }
    out.push(d(b'N', &[("i", qid)]));
    out.push(Command::EndOfHeaders);
}

/// The §11.1 and §11.2 traces plus the corner cases of §10.4, as one
/// connection: 4 finished messages, one RSET, repeated HELO, a `D` without
/// its command, `E` with data, a non-SMTP message, then `K` and a second
/// connection (IPv6) with one more message, then `Q`.
/// `big_body` adds a body above 65535 bytes (two `B` chunks).
pub fn postfix_trace(big_body: bool) -> Vec<Command> {
    let mut c = vec![postfix_offer()];
    // §11.1 + §11.2 connect macros.
    c.push(d(
        b'C',
        &[
            ("j", "mx.test.example"),
            ("{daemon_name}", "mx.test.example"),
            ("{daemon_addr}", "127.0.0.1"),
            ("v", "Postfix 3.7.11"),
            ("_", "localhost [127.0.0.1]"),
            ("{client_addr}", "127.0.0.1"),
            ("{client_name}", "localhost"),
        ],
    ));
    c.push(Command::Connect {
        hostname: "localhost".into(),
        family: Family::Inet4,
        port: 59322,
        address: "127.0.0.1".into(),
    });
    c.push(d(b'H', &[]));
    c.push(Command::Helo("client.test".into()));

    // Message 1 (§11.1).
    c.push(d(
        b'M',
        &[
            ("{mail_addr}", "sender@remote.example"),
            ("{mail_host}", "remote.example"),
            ("{mail_mailer}", "smtp"),
        ],
    ));
    c.push(mail("<sender@remote.example>", &[]));
    c.push(d(
        b'R',
        &[
            ("{rcpt_addr}", "alice@test.example"),
            ("{rcpt_host}", "test.example"),
            ("{rcpt_mailer}", "virtual"),
        ],
    ));
    c.push(rcpt("<alice@test.example>", &[]));
    c.push(d(b'T', &[("i", "E0E8C9D0136")]));
    c.push(Command::Data);
    headers(
        &mut c,
        "E0E8C9D0136",
        &[
            ("Date", b"Mon, 1 Jan 2024 00:00:00 +0000"),
            ("To", b"alice@test.example"),
            ("From", b"sender@remote.example"),
            ("Subject", b"test"),
            ("Message-Id", b"<1@remote.example>"),
            ("X-Mailer", b"swaks"),
            ("X-Folded", b"part1\n\tpart2"),
            ("X-Delme", b"x"),
        ],
    );
    c.push(d(b'B', &[("i", "E0E8C9D0136")]));
    c.push(Command::Body(b"line1\r\nline2\r\n\r\n\r\n".to_vec()));
    c.push(d(b'E', &[("i", "E0E8C9D0136")]));
    c.push(Command::EndOfMessage(Vec::new()));
    c.push(Command::Abort);

    // Message 2 (§11.2): ESMTP args, `i` from the second RCPT, 8-bit header,
    // `E` carrying a last chunk.
    c.push(d(
        b'M',
        &[
            ("{mail_addr}", "a@remote.example"),
            ("{auth_type}", "PLAIN"),
            ("{auth_authen}", "alice"),
        ],
    ));
    c.push(mail("<a@remote.example>", &["size=82", "BODY=8BITMIME"]));
    c.push(d(b'R', &[("{rcpt_addr}", "alice@test.example")]));
    c.push(rcpt("<alice@test.example>", &[]));
    c.push(d(
        b'R',
        &[("i", "7E4C89D0163"), ("{rcpt_addr}", "bob@test.example")],
    ));
    c.push(rcpt("<bob@test.example>", &["NOTIFY=NEVER"]));
    c.push(d(b'T', &[("i", "7E4C89D0163")]));
    c.push(Command::Data);
    headers(
        &mut c,
        "7E4C89D0163",
        &[
            ("Subject", "Tăng lương".as_bytes()),
            ("X-Raw", b"\xff\xfe 8-bit"),
        ],
    );
    if big_body {
        let body: Vec<u8> = (0..70_000u32)
            .map(|i| b"abcdefghij\r\n"[(i % 12) as usize])
            .collect();
        for chunk in body.chunks(MAX_CHUNK) {
            c.push(d(b'B', &[("i", "7E4C89D0163")]));
            c.push(Command::Body(chunk.to_vec()));
        }
    } else {
        c.push(d(b'B', &[("i", "7E4C89D0163")]));
        c.push(Command::Body(b"hello\r\n".to_vec()));
    }
    c.push(d(b'E', &[("i", "7E4C89D0163")]));
    c.push(Command::EndOfMessage(b"tail\r\n".to_vec()));
    c.push(Command::Abort);

    // Message 3: RSET after RCPT.
    c.push(d(b'M', &[("{mail_addr}", "b@remote.example")]));
    c.push(mail("<b@remote.example>", &[]));
    c.push(d(b'R', &[]));
    c.push(rcpt("<carol@test.example>", &[]));
    c.push(Command::Abort);
    c.push(Command::Abort); // idempotent

    // Message 4: null sender `<>`.
    c.push(d(b'M', &[("{mail_addr}", "")]));
    c.push(mail("<>", &["size=29"]));
    c.push(d(b'R', &[]));
    c.push(rcpt("<bob@test.example>", &[]));
    c.push(d(b'T', &[("i", "AAA111")]));
    c.push(Command::Data);
    headers(&mut c, "AAA111", &[("From", b"MAILER-DAEMON")]);
    c.push(d(b'B', &[("i", "AAA111")]));
    c.push(Command::Body(b"bounce\r\n".to_vec()));
    c.push(d(b'E', &[("i", "AAA111")]));
    c.push(Command::EndOfMessage(Vec::new()));
    c.push(Command::Abort);

    // Repeated HELO: H first, then A. Then a `D U` without its `U` (we
    // negotiated NOUNKNOWN; Postfix still sends the `D`).
    c.push(d(b'H', &[("{tls_version}", "TLSv1.3")]));
    c.push(Command::Helo("client3.test".into()));
    c.push(Command::Abort);
    c.push(d(b'U', &[]));

    // Message 5: non-SMTP form (no brackets, null sender ""), empty body
    // (no `B` at all), a `D` with a stage letter nobody files.
    c.push(d(b'M', &[]));
    c.push(mail("", &[]));
    c.push(d(b'R', &[]));
    c.push(rcpt("bob@test.example", &[]));
    c.push(d(b'T', &[]));
    c.push(Command::Data);
    headers(&mut c, "BBB222", &[("Subject", b"local")]);
    c.push(d(b'Z', &[("x", "y")]));
    c.push(d(b'E', &[("i", "BBB222")]));
    c.push(Command::EndOfMessage(Vec::new()));
    c.push(Command::Abort);
    c.push(Command::Abort);

    // K, then a new connection on the same socket (IPv6 client).
    c.push(Command::QuitNewConnection);
    c.push(d(
        b'C',
        &[
            ("{client_addr}", "IPv6:2001:db8::1"),
            ("j", "mx2.test.example"),
        ],
    ));
    c.push(Command::Connect {
        hostname: "v6.remote.example".into(),
        family: Family::Inet6,
        port: 25,
        address: "2001:db8::1".into(),
    });
    c.push(d(b'H', &[]));
    c.push(Command::Helo("v6.remote.example".into()));
    c.push(d(b'M', &[]));
    c.push(mail("<@relay.example:z@remote.example>", &[]));
    c.push(d(b'R', &[]));
    c.push(rcpt("<alice@test.example>", &[]));
    c.push(d(b'T', &[("i", "CCC333")]));
    c.push(Command::Data);
    headers(&mut c, "CCC333", &[("Subject", b"v6")]);
    c.push(d(b'B', &[]));
    c.push(Command::Body(b"x\r\n".to_vec()));
    c.push(d(b'E', &[("i", "CCC333")]));
    c.push(Command::EndOfMessage(Vec::new()));
    c.push(Command::Abort);
    c.push(Command::Abort);
    c.push(Command::Quit);
    c
}

pub fn encode_all(cmds: &[Command]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in cmds {
        encode_command(c, &mut out);
    }
    out
}

/// The §11.1 end-of-message answer: p, h, i 0, i 1, m Subject, m delete, c.
pub fn eom_edits() -> Vec<Response> {
    vec![
        Response::Progress,
        Response::AddHeader {
            name: "X-Added".into(),
            value: "yes".into(),
        },
        Response::InsertHeader {
            index: 0,
            name: "X-Ins0".into(),
            value: "0".into(),
        },
        Response::InsertHeader {
            index: 1,
            name: "X-Ins1".into(),
            value: "1".into(),
        },
        Response::ChangeHeader {
            index: 1,
            name: "Subject".into(),
            value: "changed".into(),
        },
        Response::ChangeHeader {
            index: 1,
            name: "X-Delme".into(),
            value: String::new(),
        },
    ]
}

/// Result of running bytes through the adapter loop.
#[derive(Debug, PartialEq)]
pub struct Run {
    pub steps: Vec<Step>,
    pub written: Vec<u8>,
    pub error: Option<String>,
}

/// Feed `chunks` in order, draining after each, answering every end of
/// message with [`eom_edits`] + Continue, as the adapter would.
pub fn run_chunks<'a>(
    chunks: impl IntoIterator<Item = &'a [u8]>,
    wanted: Wanted,
    limits: Limits,
) -> Run {
    let mut dec = Decoder::new();
    let mut s = Session::new(wanted, limits);
    let mut run = Run {
        steps: Vec::new(),
        written: Vec::new(),
        error: None,
    };
    'outer: for chunk in chunks {
        dec.feed(chunk);
        loop {
            match dec.next_command() {
                Ok(None) => break,
                Ok(Some(cmd)) => match s.handle(cmd) {
                    Ok(step) => {
                        match &step {
                            Step::Reply(r) => {
                                phishgate_milter::encode_response(r, &mut run.written)
                            }
                            Step::EndOfMessage(_) => {
                                s.finish(&eom_edits(), &Response::Continue, &mut run.written)
                                    .expect("valid answer");
                            }
                            _ => {}
                        }
                        run.steps.push(step);
                    }
                    Err(e) => {
                        run.error = Some(e.to_string());
                        break 'outer;
                    }
                },
                Err(e) => {
                    run.error = Some(e.to_string());
                    break 'outer;
                }
            }
        }
    }
    if run.error.is_none() {
        if let Err(e) = dec.finish() {
            run.error = Some(e.to_string());
        }
    }
    run
}

pub fn run_split(bytes: &[u8], at: usize) -> Run {
    let (a, b) = bytes.split_at(at);
    run_chunks([a, b], Wanted::default(), Limits::default())
}

/// Run arbitrary bytes; checks that nothing panics, that errors are
/// sticky and that the buffer stays bounded. Returns the number of
/// commands handled, so callers can check the input went deep.
pub fn run_hostile(bytes: &[u8], piece: usize) -> usize {
    let mut handled = 0;
    let mut dec = Decoder::with_max_frame(4096);
    let mut s = Session::new(
        Wanted::default(),
        Limits {
            max_body_bytes: 1024,
            ..Limits::default()
        },
    );
    for chunk in bytes.chunks(piece.max(1)) {
        dec.feed(chunk);
        loop {
            match dec.next_command() {
                Ok(None) => break,
                Ok(Some(cmd)) => {
                    handled += 1;
                    match s.handle(cmd) {
                        Ok(Step::EndOfMessage(m)) => {
                            let _ = m.raw_message();
                            let _ = (m.client_ip(), m.queue_id(), m.auth_user(), m.size());
                            let mut out = Vec::new();
                            let _ = s.finish(&eom_edits(), &Response::Continue, &mut out);
                        }
                        Ok(_) => {}
                        Err(_) => return handled,
                    }
                }
                Err(e) => {
                    assert_eq!(dec.next_command(), Err(e.clone()), "errors must be sticky");
                    dec.feed(b"more");
                    assert_eq!(dec.buffered(), 0, "a poisoned decoder must not buffer");
                    return handled;
                }
            }
        }
        assert!(
            dec.buffered() <= 4096 + 4 + piece,
            "buffer beyond one frame + one read"
        );
    }
    let _ = dec.finish();
    handled
}
