//! Wire codec: hand-written byte vectors from the reference (§3, §4.1,
//! §5, §8, §11), round trips of every command and response, and hostile
//! input.

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
    encode_command, encode_response, Command, DecodeError, Decoder, Family, ReplyText, Response,
    ResponseDecoder,
};

fn frame(code: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = ((payload.len() + 1) as u32).to_be_bytes().to_vec();
    v.push(code);
    v.extend_from_slice(payload);
    v
}

fn enc(c: &Command) -> Vec<u8> {
    let mut v = Vec::new();
    encode_command(c, &mut v);
    v
}

fn enc_r(r: &Response) -> Vec<u8> {
    let mut v = Vec::new();
    encode_response(r, &mut v);
    v
}

fn decode_one(bytes: &[u8]) -> Result<Option<Command>, DecodeError> {
    let mut d = Decoder::new();
    d.feed(bytes);
    d.next_command()
}

fn decode_resp(bytes: &[u8]) -> Result<Option<Response>, DecodeError> {
    let mut d = ResponseDecoder::new();
    d.feed(bytes);
    d.next_response()
}

/// (command, exact wire bytes) pairs, from the reference where it gives
/// bytes.
fn command_vectors() -> Vec<(Command, Vec<u8>)> {
    vec![
        // §3.1 / §11.1: the Postfix offer 6 / 0x1ff / 0x1fffff.
        (
            postfix_offer(),
            vec![0, 0, 0, 13, b'O', 0, 0, 0, 6, 0, 0, 0x01, 0xff, 0, 0x1f, 0xff, 0xff],
        ),
        // §4.1: the D C packet seen on the wire.
        (
            d(
                b'C',
                &[
                    ("j", "mx.test.example"),
                    ("{daemon_name}", "mx.test.example"),
                    ("{daemon_addr}", "127.0.0.1"),
                    ("v", "Postfix 3.7.11"),
                    ("_", "localhost [127.0.0.1]"),
                ],
            ),
            frame(
                b'D',
                b"Cj\0mx.test.example\0{daemon_name}\0mx.test.example\0{daemon_addr}\x00127.0.0.1\0v\0Postfix 3.7.11\0_\0localhost [127.0.0.1]\0",
            ),
        ),
        // §4.1: D H with no pairs has length 2.
        (d(b'H', &[]), vec![0, 0, 0, 2, b'D', b'H']),
        // §5.2: localhost, '4', port e7 ba (59322), 127.0.0.1.
        (
            Command::Connect {
                hostname: "localhost".into(),
                family: Family::Inet4,
                port: 59322,
                address: "127.0.0.1".into(),
            },
            frame(b'C', b"localhost\x004\xe7\xba127.0.0.1\0"),
        ),
        (
            Command::Connect {
                hostname: "v6".into(),
                family: Family::Inet6,
                port: 25,
                address: "2001:db8::1".into(),
            },
            frame(b'C', b"v6\x006\x00\x192001:db8::1\0"),
        ),
        (
            Command::Connect {
                hostname: "local".into(),
                family: Family::Unix,
                port: 0,
                address: "/run/s".into(),
            },
            frame(b'C', b"local\0L\0\0/run/s\0"),
        ),
        // §5.2: 'U' carries no port and no address.
        (
            Command::Connect {
                hostname: "unknown".into(),
                family: Family::Unknown,
                port: 0,
                address: String::new(),
            },
            frame(b'C', b"unknown\0U"),
        ),
        (Command::Helo("client.test".into()), frame(b'H', b"client.test\0")),
        // §5.4.
        (mail("<sender@remote.example>", &[]), frame(b'M', b"<sender@remote.example>\0")),
        (
            mail("<a@remote.example>", &["size=82", "BODY=8BITMIME"]),
            frame(b'M', b"<a@remote.example>\0size=82\0BODY=8BITMIME\0"),
        ),
        (mail("<>", &["size=29"]), frame(b'M', b"<>\0size=29\0")),
        (mail("", &[]), frame(b'M', b"\0")),
        (rcpt("<alice@test.example>", &[]), frame(b'R', b"<alice@test.example>\0")),
        (Command::Data, vec![0, 0, 0, 1, b'T']),
        // §5.7: folded value with a bare LF.
        (hdr("X-Folded", b"part1\n\tpart2"), frame(b'L', b"X-Folded\0part1\n\tpart2\0")),
        (Command::EndOfHeaders, vec![0, 0, 0, 1, b'N']),
        // §11.1 body.
        (
            Command::Body(b"line1\r\nline2\r\n\r\n\r\n".to_vec()),
            frame(b'B', b"line1\r\nline2\r\n\r\n\r\n"),
        ),
        (Command::Body(b"\0nul\xff".to_vec()), frame(b'B', b"\0nul\xff")),
        (Command::EndOfMessage(Vec::new()), vec![0, 0, 0, 1, b'E']),
        (Command::EndOfMessage(b"last".to_vec()), frame(b'E', b"last")),
        (Command::Unknown(b"XFOO bar".to_vec()), frame(b'U', b"XFOO bar\0")),
        (Command::Abort, vec![0, 0, 0, 1, b'A']),
        (Command::Quit, vec![0, 0, 0, 1, b'Q']),
        (Command::QuitNewConnection, vec![0, 0, 0, 1, b'K']),
    ]
}

#[test]
fn commands_match_hand_vectors_and_round_trip() {
    for (cmd, bytes) in command_vectors() {
        assert_eq!(enc(&cmd), bytes, "encoding of {cmd:?}");
        assert_eq!(
            decode_one(&bytes),
            Ok(Some(cmd.clone())),
            "decoding of {cmd:?}"
        );
    }
}

#[test]
fn optneg_accepts_extra_bytes_but_not_short() {
    let mut p = vec![0, 0, 0, 6, 0, 0, 1, 0xff, 0, 0x1f, 0xff, 0xff];
    p.extend_from_slice(&[9, 9, 9, 9]);
    assert_eq!(
        decode_one(&frame(b'O', &p)),
        Ok(Some(Command::OptNeg {
            version: 6,
            actions: 0x1ff,
            protocol: 0x1f_ffff
        }))
    );
    assert!(matches!(
        decode_one(&frame(b'O', &p[..11])),
        Err(DecodeError::Malformed { code: 'O', .. })
    ));
}

fn response_vectors() -> Vec<(Response, Vec<u8>)> {
    vec![
        (Response::Continue, vec![0, 0, 0, 1, b'c']),
        (Response::Accept, vec![0, 0, 0, 1, b'a']),
        (Response::Reject, vec![0, 0, 0, 1, b'r']),
        (Response::Tempfail, vec![0, 0, 0, 1, b't']),
        (Response::Discard, vec![0, 0, 0, 1, b'd']),
        (Response::Progress, vec![0, 0, 0, 1, b'p']),
        (Response::Skip, vec![0, 0, 0, 1, b's']),
        // §8.1 [lab] multi-line reply.
        (
            Response::ReplyCode(
                ReplyText::new(451, Some("4.7.1"), &["first line", "second line"]).unwrap(),
            ),
            frame(b'y', b"451-4.7.1 first line\r\n451 4.7.1 second line\0"),
        ),
        (
            Response::ReplyCode(ReplyText::new(550, Some("5.7.1"), &["bob%is"]).unwrap()),
            frame(b'y', b"550 5.7.1 bob%%is\0"),
        ),
        (
            Response::Quarantine("phish".into()),
            frame(b'q', b"phish\0"),
        ),
        (
            Response::AddHeader {
                name: "X-Added".into(),
                value: "yes".into(),
            },
            frame(b'h', b"X-Added\0yes\0"),
        ),
        (
            Response::InsertHeader {
                index: 1,
                name: "X-Ins1".into(),
                value: "1".into(),
            },
            frame(b'i', b"\0\0\0\x01X-Ins1\x001\0"),
        ),
        (
            Response::ChangeHeader {
                index: 1,
                name: "X-Delme".into(),
                value: String::new(),
            },
            frame(b'm', b"\0\0\0\x01X-Delme\0\0"),
        ),
        (
            Response::ReplaceBody(b"new\r\n".to_vec()),
            frame(b'b', b"new\r\n"),
        ),
        (Response::ReplaceBody(Vec::new()), vec![0, 0, 0, 1, b'b']),
        (Response::AddRcpt("<x@y>".into()), frame(b'+', b"<x@y>\0")),
        (Response::DelRcpt("<x@y>".into()), frame(b'-', b"<x@y>\0")),
        (
            Response::AddRcptPar {
                rcpt: "<x@y>".into(),
                args: Some("NOTIFY=NEVER ORCPT=rfc822;x@y".into()),
            },
            frame(b'2', b"<x@y>\0NOTIFY=NEVER ORCPT=rfc822;x@y\0"),
        ),
        (
            Response::AddRcptPar {
                rcpt: "<x@y>".into(),
                args: None,
            },
            frame(b'2', b"<x@y>\0"),
        ),
        (
            Response::ChangeFrom {
                sender: "<a@b>".into(),
                args: Some("RET=HDRS ENVID=x".into()),
            },
            frame(b'e', b"<a@b>\0RET=HDRS ENVID=x\0"),
        ),
        (
            Response::ChangeFrom {
                sender: "<>".into(),
                args: None,
            },
            frame(b'e', b"<>\0"),
        ),
        (
            Response::OptNeg {
                version: 6,
                actions: 0x1ff,
                protocol: 0,
                macro_lists: vec![],
            },
            vec![0, 0, 0, 13, b'O', 0, 0, 0, 6, 0, 0, 1, 0xff, 0, 0, 0, 0],
        ),
        // §3.4: stage u32 + NUL-terminated list, repeated.
        (
            Response::OptNeg {
                version: 6,
                actions: 0x100,
                protocol: 0,
                macro_lists: vec![(0, "{client_addr} j _".into()), (2, "i".into())],
            },
            frame(
                b'O',
                b"\0\0\0\x06\0\0\x01\0\0\0\0\0\0\0\0\0{client_addr} j _\0\0\0\0\x02i\0",
            ),
        ),
    ]
}

#[test]
fn responses_match_hand_vectors_and_round_trip() {
    for (resp, bytes) in response_vectors() {
        assert_eq!(enc_r(&resp), bytes, "encoding of {resp:?}");
        assert_eq!(
            decode_resp(&bytes),
            Ok(Some(resp.clone())),
            "decoding of {resp:?}"
        );
    }
}

#[test]
fn replace_body_splits_into_contiguous_chunks() {
    let body: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    let bytes = enc_r(&Response::ReplaceBody(body.clone()));
    let mut d = ResponseDecoder::new();
    d.feed(&bytes);
    let mut joined = Vec::new();
    let mut sizes = Vec::new();
    while let Some(r) = d.next_response().unwrap() {
        let Response::ReplaceBody(chunk) = r else {
            panic!("only b packets")
        };
        sizes.push(chunk.len());
        joined.extend_from_slice(&chunk);
    }
    assert_eq!(sizes, [65_535, 65_535, 65_535, 3_395]);
    assert_eq!(joined, body);
}

#[test]
fn nul_inside_strings_is_dropped_not_sent() {
    // An inner NUL would split the field and shift the rest.
    let bytes = enc(&Command::Helo("a\0b".into()));
    assert_eq!(bytes, frame(b'H', b"ab\0"));
    let bytes = enc_r(&Response::AddHeader {
        name: "X\0Y".into(),
        value: "v\0w".into(),
    });
    assert_eq!(bytes, frame(b'h', b"XY\0vw\0"));
}

#[test]
fn whole_session_decodes_to_the_same_commands() {
    let cmds = postfix_trace(true);
    let bytes = encode_all(&cmds);
    let mut d = Decoder::new();
    d.feed(&bytes);
    let mut got = Vec::new();
    while let Some(c) = d.next_command().unwrap() {
        got.push(c);
    }
    assert_eq!(got, cmds);
    assert_eq!(d.finish(), Ok(()));
}

// ------------------------------------------------------------ hostile input

#[test]
fn zero_length_is_rejected() {
    assert_eq!(decode_one(&[0, 0, 0, 0]), Err(DecodeError::ZeroLength));
    assert_eq!(
        decode_resp(&[0, 0, 0, 0, b'c']),
        Err(DecodeError::ZeroLength)
    );
}

#[test]
fn too_large_is_rejected_from_the_length_alone() {
    let mut d = Decoder::with_max_frame(1000);
    d.feed(&[0, 0, 3, 0xe9]); // 1001
    assert_eq!(
        d.next_command(),
        Err(DecodeError::TooLarge {
            len: 1001,
            max: 1000
        })
    );
    d.feed(&[0; 10_000]);
    assert_eq!(d.buffered(), 0, "poisoned decoder drops input");
    assert_eq!(
        d.next_command(),
        Err(DecodeError::TooLarge {
            len: 1001,
            max: 1000
        })
    );
    assert_eq!(
        d.finish(),
        Err(DecodeError::TooLarge {
            len: 1001,
            max: 1000
        })
    );
    // Exactly at the bound is fine.
    let mut d = Decoder::with_max_frame(1000);
    d.feed(&frame(b'B', &[7; 999]));
    assert_eq!(d.next_command(), Ok(Some(Command::Body(vec![7; 999]))));
    // The default bound is 1 MiB, above the 64 KiB libmilter default.
    assert_eq!(Decoder::new().max_frame(), MAX_FRAME);
    let mut d = Decoder::new();
    d.feed(&[0xff, 0xff, 0xff, 0xff]);
    assert!(matches!(
        d.next_command(),
        Err(DecodeError::TooLarge { .. })
    ));
    let big = frame(
        b'L',
        &[b"X-Big\0".as_slice(), &[b'v'; 102_400], b"\0"].concat(),
    );
    assert!(matches!(decode_one(&big), Ok(Some(Command::Header { .. }))));
}

#[test]
fn truncated_packets_wait_then_report_at_eof() {
    let bytes = enc(&mail("<a@b>", &["x=y"]));
    for cut in 0..bytes.len() {
        let mut d = Decoder::new();
        d.feed(&bytes[..cut]);
        assert_eq!(d.next_command(), Ok(None), "cut at {cut}");
        assert_eq!(d.buffered(), cut);
        let fin = d.finish();
        if cut == 0 {
            assert_eq!(fin, Ok(()));
        } else {
            assert_eq!(fin, Err(DecodeError::Truncated { buffered: cut }));
        }
    }
}

#[test]
fn unknown_letters_are_errors() {
    for code in [b'X', b'a', b'c', 0, 0xff, b'P', b'S'] {
        assert_eq!(
            decode_one(&[0, 0, 0, 1, code]),
            Err(DecodeError::UnknownCode(code))
        );
    }
    for code in [b'4', b'f', b'l', b'A', b'Z'] {
        assert_eq!(
            decode_resp(&[0, 0, 0, 1, code]),
            Err(DecodeError::UnknownCode(code))
        );
    }
}

#[test]
fn malformed_payloads_are_errors() {
    let cases: Vec<(Vec<u8>, char)> = vec![
        (frame(b'H', b"no nul"), 'H'),
        (frame(b'H', b""), 'H'),
        (frame(b'H', b"a\0b\0"), 'H'),
        (frame(b'U', b"x"), 'U'),
        (frame(b'O', &[0; 11]), 'O'),
        (frame(b'O', &[]), 'O'),
        (frame(b'D', b""), 'D'),
        (frame(b'D', b"Cname\0"), 'D'),
        (frame(b'D', b"Cname\0value"), 'D'),
        (frame(b'C', b"host\0X\0\x19addr\0"), 'C'),
        (frame(b'C', b"host\0"), 'C'),
        (frame(b'C', b"host\x004\0"), 'C'),
        (frame(b'C', b"host\x004\0\x19addr"), 'C'),
        (frame(b'C', b"host\0Utrailing"), 'C'),
        (frame(b'M', b""), 'M'),
        (frame(b'M', b"<a@b>"), 'M'),
        (frame(b'R', b"<a@b>\0arg"), 'R'),
        (frame(b'L', b"Name\0"), 'L'),
        (frame(b'L', b"Name\0value\0extra\0"), 'L'),
        (frame(b'A', b"x"), 'A'),
        (frame(b'Q', b"\0"), 'Q'),
        (frame(b'T', b"x"), 'T'),
    ];
    for (bytes, code) in cases {
        match decode_one(&bytes) {
            Err(DecodeError::Malformed { code: c, .. }) => assert_eq!(c, code, "{bytes:?}"),
            other => panic!("{bytes:?} gave {other:?}"),
        }
    }
    let rcases: Vec<Vec<u8>> = vec![
        frame(b'c', b"x"),
        frame(b'y', b"550 5.7.1 x"),
        frame(b'y', b"250 2.0.0 ok\0"),
        frame(b'y', b"550 5.7.1 50%\0"),
        frame(b'h', b"X\0"),
        frame(b'i', b"\0\0X\0v\0"),
        frame(b'O', &[0; 12 + 3]),
        frame(b'e', b"<a>\0x\0y\0"),
    ];
    for bytes in rcases {
        assert!(
            matches!(decode_resp(&bytes), Err(DecodeError::Malformed { .. })),
            "{bytes:?}"
        );
    }
}

#[test]
fn errors_poison_the_decoder() {
    let mut d = Decoder::new();
    let mut bytes = enc(&Command::Abort);
    bytes.extend_from_slice(&frame(b'H', b"bad"));
    bytes.extend_from_slice(&enc(&Command::Quit));
    d.feed(&bytes);
    assert_eq!(d.next_command(), Ok(Some(Command::Abort)));
    let e = d.next_command().unwrap_err();
    assert_eq!(d.next_command(), Err(e.clone()), "no resync after an error");
    assert_eq!(d.finish(), Err(e));
}

#[test]
fn pseudo_random_bytes_never_panic() {
    let mut rng = Rng::new(0xC0FFEE);
    for i in 0..4000 {
        let len = rng.below(300);
        let mut bytes = rng.bytes(len);
        // Half of the cases get a plausible frame header so parsing of
        // payloads is reached, not just the length check.
        if i % 2 == 0 && bytes.len() >= 5 {
            let n = (bytes.len() - 4) as u32;
            bytes[..4].copy_from_slice(&n.to_be_bytes());
            bytes[4] = b"ODCHMRTLNBEUAQK"[rng.below(15)];
        }
        run_hostile(&bytes, 1 + rng.below(64));
        let mut rd = ResponseDecoder::with_max_frame(4096);
        rd.feed(&bytes);
        while let Ok(Some(_)) = rd.next_response() {}
    }
}

#[test]
fn mutated_sessions_never_panic() {
    let valid = encode_all(&postfix_trace(false));
    let mut rng = Rng::new(42);
    let mut handled = 0;
    for _ in 0..3000 {
        let mut m = valid.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(m.len());
            match rng.below(4) {
                0 => m[at] = rng.next() as u8,
                1 => {
                    m.remove(at);
                }
                2 => m.insert(at, rng.next() as u8),
                _ => m.truncate(at),
            }
            if m.is_empty() {
                break;
            }
        }
        handled += run_hostile(&m, 1 + rng.below(700));
    }
    // The mutations must leave most of the session parseable, or this
    // test would only exercise the first frame.
    assert!(
        handled > 3000 * 20,
        "only {handled} commands reached the session"
    );
}
