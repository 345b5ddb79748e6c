//! Client and server codecs talking to each other in memory: what the
//! client replays arrives byte-identical at the server.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::Rng;
use phishgate_smtp::{
    Address, Client, ClientConfig, ClientEvent, EnvelopeAddress, Event, Extensions, Outcome, Param,
    Reply, Server, ServerConfig, Transaction, XForward,
};

/// Runs `txs` from a client through a server; returns the transactions the
/// server saw and the client's outcomes.
fn loopback(
    client_cfg: ClientConfig,
    server_cfg: ServerConfig,
    txs: Vec<Transaction>,
    seed: u64,
) -> (Vec<Transaction>, Vec<Outcome>) {
    let mut rng = Rng(seed);
    let mut server = Server::new(server_cfg);
    let mut client = Client::new(client_cfg);
    let mut pending = txs.into_iter();
    let mut received = Vec::new();
    let mut outcomes = Vec::new();
    let mut to_server: Vec<u8> = Vec::new();
    let mut to_client: Vec<u8> = Vec::new();
    client.send(pending.next().unwrap()).unwrap();
    for _ in 0..100_000 {
        // Deliver a random amount of each direction's bytes.
        let n = to_server.len().min(1 + rng.below(5000));
        server.feed(&to_server.drain(..n).collect::<Vec<_>>());
        while let Some(ev) = server.next_event() {
            match ev {
                Event::Send(b) => to_client.extend_from_slice(&b),
                Event::Message(tx) => {
                    received.push(*tx);
                    server
                        .finish_data(Reply::new(
                            250,
                            Some((2, 0, 0)),
                            format!("Ok: queued as L{}", received.len()),
                        ))
                        .unwrap();
                }
                Event::Close => {}
            }
        }
        let n = to_client.len().min(1 + rng.below(50));
        client.feed(&to_client.drain(..n).collect::<Vec<_>>());
        while let Some(ev) = client.next_event() {
            match ev {
                ClientEvent::Send(b) => to_server.extend_from_slice(&b),
                ClientEvent::Ready => match pending.next() {
                    Some(tx) => client.send(tx).unwrap(),
                    None => client.quit(),
                },
                ClientEvent::Done(o) => outcomes.push(o),
                ClientEvent::Closed(reason) => {
                    assert_eq!(reason, None);
                    assert!(server.is_closed());
                    return (received, outcomes);
                }
            }
        }
    }
    panic!("loopback did not finish");
}

fn sample(i: usize) -> Transaction {
    Transaction {
        helo: Some("filter.example".into()),
        xforward: Some(XForward {
            name: Some(format!("client{i}.example")),
            addr: Some("IPV6:2001:db8::7".into()),
            port: Some("2525".into()),
            proto: Some("ESMTP".into()),
            helo: Some("helo+weird=name".into()),
            ident: Some(format!("Q{i}")),
            source: Some("REMOTE".into()),
        }),
        mail_from: EnvelopeAddress::new(
            if i.is_multiple_of(2) {
                Address::null()
            } else {
                Address::parse("\"quoted sender\"@example.org").unwrap()
            },
            vec![
                Param::new("SIZE", Some("100")),
                Param::new("BODY", Some("8BITMIME")),
                Param::new("RET", Some("FULL")),
                Param::new("ENVID", Some("id+2B1")),
            ],
        ),
        rcpts: (0..3)
            .map(|r| {
                EnvelopeAddress::new(
                    Address::parse(&format!("r{r}@example.net")).unwrap(),
                    vec![
                        Param::new("NOTIFY", Some("DELAY,FAILURE")),
                        Param::new("ORCPT", Some("rfc822;r+40x")),
                    ],
                )
            })
            .collect(),
        data: format!("Subject: {i}\r\n\r\n.\r\n..\r\n.x\r\nline\r\n\r\n.\r\n").into_bytes(),
    }
}

/// The server sees helo = the client's EHLO name; everything else equal.
fn as_received(mut tx: Transaction, helo: &str) -> Transaction {
    tx.helo = Some(helo.into());
    tx
}

#[test]
fn transactions_arrive_byte_identical() {
    for pipelining in [true, false] {
        let mut ccfg = ClientConfig::new("filter.example");
        ccfg.pipelining = pipelining;
        let txs: Vec<Transaction> = (0..4).map(sample).collect();
        let (received, outcomes) =
            loopback(ccfg, ServerConfig::new("reinject.example"), txs.clone(), 5);
        assert_eq!(received.len(), 4);
        for (got, sent) in received.iter().zip(txs) {
            assert_eq!(*got, as_received(sent, "filter.example"));
        }
        assert_eq!(outcomes.len(), 4);
        assert!(outcomes.iter().all(|o| matches!(o, Outcome::Delivered { reply } if reply.lines[0].starts_with("Ok: queued as L"))));
    }
}

#[test]
fn server_to_client_to_server_relay_is_transparent() {
    // A raw upstream session, received by a first server...
    let raw = b"EHLO upstream.example\r\nXFORWARD NAME=c.example ADDR=192.0.2.1 PROTO=SMTP\r\n\
MAIL FROM:<a@example.org> SMTPUTF8 BODY=8BITMIME\r\nRCPT TO:<\xc3\xbc@example.net> NOTIFY=NEVER\r\nDATA\r\n\
bare\nlf\r\n..dot\r\n\xff\xfe binary\r\n.\r\nQUIT\r\n";
    let first = common::run(&ServerConfig::new("filter.example"), raw);
    assert_eq!(first.transactions.len(), 1);
    let tx = first.transactions[0].clone();
    assert_eq!(tx.data, b"bare\r\nlf\r\n.dot\r\n\xff\xfe binary\r\n");
    // ...replayed by the client into a second server.
    let (received, outcomes) = loopback(
        ClientConfig::new("filter.example"),
        ServerConfig::new("reinject.example"),
        vec![tx.clone()],
        9,
    );
    assert_eq!(received, vec![as_received(tx, "filter.example")]);
    assert!(matches!(outcomes[..], [Outcome::Delivered { .. }]));
}

#[test]
fn downstream_without_extensions_gets_filtered_params() {
    let mut scfg = ServerConfig::new("reinject.example");
    scfg.extensions = Extensions {
        dsn: false,
        xforward: vec![],
        ..Extensions::all()
    };
    let (received, outcomes) = loopback(
        ClientConfig::new("filter.example"),
        scfg,
        vec![sample(1)],
        11,
    );
    assert!(matches!(outcomes[..], [Outcome::Delivered { .. }]));
    let got = &received[0];
    assert_eq!(got.xforward, None);
    let params: Vec<String> = got.mail_from.params.iter().map(Param::to_wire).collect();
    assert_eq!(params, ["SIZE=100", "BODY=8BITMIME"]);
    assert!(got.rcpts.iter().all(|r| r.params.is_empty()));
    assert_eq!(got.data, sample(1).data);
}

/// Normalisation the server applies, written independently: every CR LF,
/// bare CR or bare LF is a line break written as CRLF; a non-empty final
/// line gets CRLF.
fn normalise(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\r' if data.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
                continue;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[test]
fn random_message_bodies_survive_the_round_trip() {
    let mut rng = Rng(2024);
    let alphabet = b"\r\n.\r\n..ab \xc3\xa9\x00";
    let mut txs = Vec::new();
    for i in 0..60 {
        let len = rng.below(400);
        let mut tx = sample(i);
        tx.xforward = None;
        tx.data = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        txs.push(tx);
    }
    let (received, _) = loopback(
        ClientConfig::new("filter.example"),
        ServerConfig::new("reinject.example"),
        txs.clone(),
        3,
    );
    assert_eq!(received.len(), txs.len());
    for (got, sent) in received.iter().zip(&txs) {
        assert_eq!(
            got.data,
            normalise(&sent.data),
            "{:?}",
            String::from_utf8_lossy(&sent.data)
        );
    }
}
