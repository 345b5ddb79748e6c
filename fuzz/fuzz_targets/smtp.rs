//! SMTP codecs over arbitrary bytes: never a panic, bounded buffers, and the
//! server's observable behaviour independent of how input is chunked.
//! Run: `cargo +nightly fuzz run smtp -- -max_total_time=300`
#![no_main]

use libfuzzer_sys::fuzz_target;
use phishgate_smtp::{
    Address, Client, ClientConfig, ClientEvent, EnvelopeAddress, Event, Param, Reply, Server,
    ServerConfig, Transaction, XForward,
};

fn server_config() -> ServerConfig {
    let mut cfg = ServerConfig::new("fuzz.example");
    cfg.limits.max_message_size = 4096;
    cfg.limits.max_command_line = 256;
    cfg.limits.max_recipients = 8;
    cfg
}

/// Feeds `chunks` to a server, answering messages alternately 250 and 451;
/// returns everything it wrote and the transactions it produced.
fn run_server<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> (Vec<u8>, Vec<Transaction>) {
    let cfg = server_config();
    let bound = cfg.limits.max_command_line + cfg.limits.max_message_size + 64 * 1024;
    let mut s = Server::new(cfg);
    let mut out = Vec::new();
    let mut txs = Vec::new();
    let drain = |s: &mut Server, out: &mut Vec<u8>, txs: &mut Vec<Transaction>| {
        while let Some(ev) = s.next_event() {
            match ev {
                Event::Send(b) => out.extend_from_slice(&b),
                Event::Message(tx) => {
                    assert!(tx.data.len() <= 4096 && !tx.rcpts.is_empty() && tx.rcpts.len() <= 8);
                    let reply = if txs.len() % 2 == 0 {
                        Reply::new(250, Some((2, 0, 0)), "Ok")
                    } else {
                        Reply::new(451, Some((4, 3, 0)), "later")
                    };
                    txs.push(*tx);
                    s.finish_data(reply).expect("a message is pending");
                }
                Event::Close => return,
            }
        }
    };
    drain(&mut s, &mut out, &mut txs);
    for chunk in chunks {
        s.feed(chunk);
        assert!(s.buffered_bytes() <= bound);
        drain(&mut s, &mut out, &mut txs);
    }
    (out, txs)
}

fn transaction() -> Transaction {
    Transaction {
        helo: None,
        xforward: Some(XForward {
            name: Some("n.example".into()),
            addr: Some("192.0.2.1".into()),
            ..XForward::default()
        }),
        mail_from: EnvelopeAddress::new(
            Address::null(),
            vec![Param::new("BODY", Some("8BITMIME"))],
        ),
        rcpts: vec![
            EnvelopeAddress::new(
                Address::parse("a@example.net").expect("valid"),
                vec![Param::new("NOTIFY", Some("NEVER"))],
            ),
            EnvelopeAddress::new(Address::parse("b@example.net").expect("valid"), vec![]),
        ],
        data: b"Subject: x\r\n\r\n.dot\r\n".to_vec(),
    }
}

fuzz_target!(|data: &[u8]| {
    // Server: whole input vs. chunks whose sizes come from the input itself.
    let whole = run_server(std::iter::once(data));
    let step = 1 + usize::from(data.first().copied().unwrap_or(0) % 7);
    let chunked = run_server(data.chunks(step));
    assert_eq!(whole, chunked, "chunking changed the server's behaviour");

    // Client: the same bytes as server replies.
    let mut c = Client::new(ClientConfig::new("fuzz.example"));
    c.send(transaction()).expect("fresh client");
    let mut outcomes = 0;
    for chunk in data.chunks(step.max(3)) {
        c.feed(chunk);
        while let Some(ev) = c.next_event() {
            match ev {
                ClientEvent::Done(_) => outcomes += 1,
                ClientEvent::Ready if outcomes < 3 => {
                    let _ = c.send(transaction());
                }
                ClientEvent::Ready => c.quit(),
                ClientEvent::Send(_) | ClientEvent::Closed(_) => {}
            }
        }
    }
    c.connection_closed();
    while c.next_event().is_some() {}
    assert!(c.is_closed());
});
