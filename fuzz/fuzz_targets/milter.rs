//! Milter codec over arbitrary bytes: Decoder + Session in two chunkings
//! (whole, and split at a point chosen by the input) must agree and never
//! panic; the response decoder must never panic either.
//! Run: `cargo +nightly fuzz run milter -- -max_total_time=300`
#![no_main]

use libfuzzer_sys::fuzz_target;
use phishgate_milter::{Decoder, Limits, Response, ResponseDecoder, Session, Step, Wanted};

/// Steps and the first error, as text for comparison.
fn drive(chunks: &[&[u8]]) -> (Vec<Step>, Option<String>) {
    let mut dec = Decoder::with_max_frame(1 << 16);
    let limits = Limits {
        max_body_bytes: 4096,
        max_header_bytes: 4096,
        ..Limits::default()
    };
    let mut s = Session::new(Wanted::default(), limits);
    let mut steps = Vec::new();
    for chunk in chunks {
        dec.feed(chunk);
        loop {
            match dec.next_command() {
                Ok(None) => break,
                Ok(Some(cmd)) => match s.handle(cmd) {
                    Ok(step) => {
                        if let Step::EndOfMessage(m) = &step {
                            let raw = m.raw_message();
                            if !m.truncated && !m.headers_truncated {
                                assert_eq!(
                                    raw.len() as u64,
                                    m.size(),
                                    "size must match the rebuilt message"
                                );
                            }
                            let _ = (m.client_ip(), m.queue_id(), m.auth_user());
                            let mut out = Vec::new();
                            let edits = [Response::AddHeader {
                                name: "X-Fuzz".into(),
                                value: m
                                    .headers
                                    .first()
                                    .map(|h| h.value_str().into_owned())
                                    .unwrap_or_default(),
                            }];
                            let _ = s.finish(&edits, &Response::Continue, &mut out);
                        }
                        steps.push(step);
                    }
                    Err(e) => return (steps, Some(e.to_string())),
                },
                Err(e) => return (steps, Some(e.to_string())),
            }
        }
    }
    (steps, dec.finish().err().map(|e| e.to_string()))
}

fuzz_target!(|data: &[u8]| {
    let whole = drive(&[data]);
    let at = data
        .first()
        .map_or(0, |&b| usize::from(b) * data.len() / 256);
    let (a, b) = data.split_at(at.min(data.len()));
    let split = drive(&[a, b]);
    assert_eq!(whole, split, "chunking changed the result");

    let mut rd = ResponseDecoder::with_max_frame(1 << 16);
    rd.feed(data);
    while let Ok(Some(r)) = rd.next_response() {
        let mut out = Vec::new();
        phishgate_milter::encode_response(&r, &mut out);
    }
});
