//! Helpers shared by the integration tests.

#![allow(dead_code)]

use mail_parser::{Message, MessageParser, MessagePart, PartType};
use phishgate_rewrite::{Banner, PLAIN_SEPARATOR};

/// The banner the tests insert: Vietnamese with diacritics, two lines.
pub fn banner() -> Banner {
    Banner {
        plain:
            "CẢNH BÁO: Thư này có dấu hiệu giả mạo. Không nhập mật khẩu, không mở tệp đính kèm.\n\
                WARNING: this message looks like phishing (phishgate)."
                .to_string(),
        html: "<div style=\"border:2px solid #c00;padding:8px;background:#fff3f3\">\
               <b>CẢNH BÁO:</b> Thư này có dấu hiệu giả mạo. Không nhập mật khẩu.</div>"
            .to_string(),
    }
}

/// The plain banner block as the tests expect it, written independently of
/// the crate's own builder.
pub fn plain_block(b: &Banner, nl: &str) -> String {
    let mut s = b.plain.replace('\n', nl);
    s.push_str(nl);
    s.push_str(PLAIN_SEPARATOR);
    s.push_str(nl);
    s.push_str(nl);
    s
}

/// LF to CRLF (bare LF only).
pub fn to_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 20);
    let mut prev = 0u8;
    for &b in bytes {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

pub fn parse(raw: &[u8]) -> Message<'_> {
    MessageParser::new().parse(raw).expect("parses")
}

/// Decoded text of a text or HTML part.
pub fn text_of<'a>(p: &'a MessagePart<'_>) -> Option<&'a str> {
    match &p.body {
        PartType::Text(t) | PartType::Html(t) => Some(t.as_ref()),
        _ => None,
    }
}

/// A short name for the part's body kind.
pub fn kind(p: &MessagePart<'_>) -> &'static str {
    match &p.body {
        PartType::Text(_) => "text",
        PartType::Html(_) => "html",
        PartType::Binary(_) => "binary",
        PartType::InlineBinary(_) => "inline",
        PartType::Message(_) => "message",
        PartType::Multipart(_) => "multipart",
    }
}

/// Top-level header names, in order.
pub fn header_names(msg: &Message<'_>) -> Vec<String> {
    msg.parts[0]
        .headers
        .iter()
        .map(|h| h.name.as_str().to_ascii_lowercase())
        .collect()
}

/// Tiny deterministic generator for the mutation tests.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}
