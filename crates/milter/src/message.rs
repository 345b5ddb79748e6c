//! What the session hands over at end of message: [`Message`] and its
//! parts ([`Connection`], [`Envelope`], [`Address`], [`Header`],
//! [`Macros`]).

use std::net::IpAddr;

use crate::command::Family;
use crate::consts::*;

/// Macro stages in the order the scope rule uses: a command at position k
/// clears the maps after k (libmilter `mi_clr_macros(ctx, k + 1)`). `L`
/// and `B` are Postfix's per-header and per-chunk stages (libmilter drops
/// them; we keep them so the merged view sees `i` from wherever it came);
/// `U` sits last so every other command clears it.
const ORDER: [u8; 10] = [
    SMFIC_CONNECT,
    SMFIC_HELO,
    SMFIC_MAIL,
    SMFIC_RCPT,
    SMFIC_DATA,
    SMFIC_HEADER,
    SMFIC_EOH,
    SMFIC_BODY,
    SMFIC_BODYEOB,
    SMFIC_UNKNOWN,
];

fn slot(stage: u8) -> Option<usize> {
    ORDER.iter().position(|&s| s == stage)
}

/// `i` and `{i}` are the same macro (libmilter `smfi_getsymval`).
fn bare(name: &str) -> &str {
    name.strip_prefix('{')
        .and_then(|n| n.strip_suffix('}'))
        .unwrap_or(name)
}

/// Per-stage macro maps with libmilter's scope rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Macros {
    slots: [Vec<(String, String)>; 10],
}

impl Macros {
    /// Look a macro up; `i` and `{i}` match alike. Later stages win (the
    /// newest value of `i`), so the search runs from end of message back to
    /// connect.
    pub fn get(&self, name: &str) -> Option<&str> {
        let want = bare(name);
        self.slots
            .iter()
            .rev()
            .flat_map(|s| s.iter())
            .find(|(n, _)| bare(n) == want)
            .map(|(_, v)| v.as_str())
    }

    /// The pairs stored for one stage letter (`b'C'`, `b'M'`, ...); empty
    /// for letters this session does not file.
    pub fn stage(&self, letter: u8) -> &[(String, String)] {
        slot(letter)
            .and_then(|i| self.slots.get(i))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Every stored pair as `(stage letter, name, value)`, connect first.
    pub fn iter(&self) -> impl Iterator<Item = (u8, &str, &str)> {
        ORDER
            .iter()
            .zip(self.slots.iter())
            .flat_map(|(&l, s)| s.iter().map(move |(n, v)| (l, n.as_str(), v.as_str())))
    }

    /// Store a `D` packet; keeps pairs while their bytes fit in `limit`.
    /// Returns true when pairs were dropped. Unknown stage letters are
    /// ignored, as libmilter does.
    pub(crate) fn set(&mut self, stage: u8, pairs: Vec<(String, String)>, limit: usize) -> bool {
        let Some(s) = slot(stage).and_then(|i| self.slots.get_mut(i)) else {
            return false;
        };
        let mut used = 0usize;
        let total = pairs.len();
        let kept: Vec<_> = pairs
            .into_iter()
            .take_while(|(n, v)| {
                used = used.saturating_add(n.len() + v.len());
                used <= limit
            })
            .collect();
        let dropped = kept.len() < total;
        *s = kept;
        dropped
    }

    /// A command of stage `letter` arrived: clear every later stage.
    pub(crate) fn clear_after(&mut self, letter: u8) {
        if let Some(i) = slot(letter) {
            self.slots.iter_mut().skip(i + 1).for_each(Vec::clear);
        }
    }

    /// Clear `letter` and every later stage (`A` clears from `M` on).
    pub(crate) fn clear_from(&mut self, letter: u8) {
        if let Some(i) = slot(letter) {
            self.slots.iter_mut().skip(i).for_each(Vec::clear);
        }
    }
}

/// Facts from `C` and `H`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    /// Client host name as the MTA sent it.
    pub hostname: String,
    /// Address family.
    pub family: Family,
    /// Client port (0 when unknown or UNIX).
    pub port: u16,
    /// Bare address (IPv6 without `IPv6:`), socket path, or empty.
    pub address: String,
    /// The last HELO/EHLO argument, if any.
    pub helo: Option<String>,
}

/// An envelope address with its ESMTP arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    /// As received: `<a@b>`, `<>`, or bare from Postfix's non-SMTP path.
    pub raw: String,
    /// Without angle brackets and source route: `a@b`, or empty for the
    /// null sender in both of its forms (`<>` and `""`).
    pub address: String,
    /// ESMTP parameters as received (`SIZE=82`, `BODY=8BITMIME`).
    pub args: Vec<String>,
}

impl Address {
    /// Build from a raw `M`/`R` argument.
    pub fn new(raw: String, args: Vec<String>) -> Self {
        Self {
            address: strip_address(&raw),
            raw,
            args,
        }
    }

    /// The null sender (`<>` or the non-SMTP empty string).
    pub fn is_null(&self) -> bool {
        self.address.is_empty()
    }
}

/// `<a@b>` -> `a@b`; `<@relay:a@b>` -> `a@b` (RFC 5321 says to ignore
/// source routes); bare forms are only trimmed.
fn strip_address(raw: &str) -> String {
    let t = raw.trim();
    let inner = t
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(t)
        .trim();
    let inner = match inner.strip_prefix('@').and_then(|s| s.split_once(':')) {
        Some((_, rest)) => rest,
        None => inner,
    };
    inner.to_owned()
}

/// The envelope of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// MAIL FROM (`None` if the MTA sent no `M`).
    pub sender: Option<Address>,
    /// RCPT TO, in order, up to the recipient bounds.
    pub recipients: Vec<Address>,
    /// Every `R` seen, stored or not.
    pub recipient_count: usize,
}

/// One header as received: name, and value bytes with Postfix's bare-LF
/// folds. Without HDR_LEADSPC the MTA has removed one space after the
/// colon; with it the value starts with the original whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Name.
    pub name: String,
    /// Value bytes (8-bit allowed).
    pub value: Vec<u8>,
}

impl Header {
    /// The value as text (lossy UTF-8).
    pub fn value_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.value)
    }

    /// Bytes of this header as a CRLF line of the rebuilt message.
    pub(crate) fn line_len(&self, leading_space: bool) -> u64 {
        let bare_lf = bare_lf_count(&self.value);
        let n = self.name.len() + 1 + usize::from(!leading_space) + self.value.len() + bare_lf + 2;
        u64::try_from(n).unwrap_or(u64::MAX)
    }
}

fn bare_lf_count(v: &[u8]) -> usize {
    let mut prev = 0u8;
    v.iter()
        .filter(|&&b| {
            let hit = b == b'\n' && prev != b'\r';
            prev = b;
            hit
        })
        .count()
}

/// Everything known at end of message, handed to the analysis.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Connection facts.
    pub connection: Connection,
    /// Envelope.
    pub envelope: Envelope,
    /// Macro maps as they stood at `E`.
    pub macros: Macros,
    /// Headers in order, up to the header bounds.
    pub headers: Vec<Header>,
    /// Body bytes (CRLF lines, as the MTA sent them), up to `max_body_bytes`.
    pub body: Vec<u8>,
    /// The body went past `max_body_bytes`; `body` holds its first part.
    pub truncated: bool,
    /// Headers were dropped by `max_headers`/`max_header_bytes`.
    pub headers_truncated: bool,
    /// Recipients were dropped by `max_recipients`/`max_envelope_bytes`.
    pub recipients_truncated: bool,
    /// Macro pairs were dropped by `max_macro_bytes` (at any stage so far).
    pub macros_truncated: bool,
    /// Body bytes received, stored or not.
    pub body_size: u64,
    /// Header block bytes as rebuilt (all headers, stored or not), without
    /// the blank line.
    pub header_size: u64,
    /// HDR_LEADSPC was in force (header values carry their own leading
    /// whitespace).
    pub leading_space: bool,
}

impl Message {
    /// Look a macro up (`i` and `{i}` alike); see [`Macros::get`].
    pub fn macro_value(&self, name: &str) -> Option<&str> {
        self.macros.get(name)
    }

    /// The queue ID (`i`), when the MTA sent it (Postfix: from the second
    /// RCPT on).
    pub fn queue_id(&self) -> Option<&str> {
        self.macro_value("i").filter(|s| !s.is_empty())
    }

    /// The client IP as text: `{client_addr}` without Postfix's `IPv6:`
    /// prefix, else the `C` packet address for IPv4/IPv6 clients.
    pub fn client_ip(&self) -> Option<&str> {
        if let Some(a) = self.macro_value("{client_addr}").filter(|s| !s.is_empty()) {
            let stripped = a
                .get(..5)
                .filter(|p| p.eq_ignore_ascii_case("ipv6:"))
                .and_then(|_| a.get(5..))
                .unwrap_or(a);
            return Some(stripped);
        }
        match self.connection.family {
            Family::Inet4 | Family::Inet6 if !self.connection.address.is_empty() => {
                Some(&self.connection.address)
            }
            _ => None,
        }
    }

    /// [`client_ip`](Self::client_ip) parsed.
    pub fn client_ip_addr(&self) -> Option<IpAddr> {
        self.client_ip()?.parse().ok()
    }

    /// The SASL login name (`{auth_authen}`), if the client authenticated.
    pub fn auth_user(&self) -> Option<&str> {
        self.macro_value("{auth_authen}").filter(|s| !s.is_empty())
    }

    /// Total message size: header block, blank line, body (counted even
    /// past the storage bounds).
    pub fn size(&self) -> u64 {
        self.header_size
            .saturating_add(2)
            .saturating_add(self.body_size)
    }

    /// Rebuild an RFC 5322 message from the stored headers and body:
    /// `Name: value` lines (`Name:value` with HDR_LEADSPC, whose values
    /// carry their own whitespace), bare-LF folds turned back into CRLF,
    /// a blank line, then the body. The MTA's own `Received:` header is not
    /// here: the milter never sees it. If [`truncated`](Self::truncated) or
    /// [`headers_truncated`](Self::headers_truncated) is set, this is a
    /// prefix-like view of the message, not the message.
    pub fn raw_message(&self) -> Vec<u8> {
        let cap = usize::try_from(self.header_size)
            .unwrap_or(0)
            .saturating_add(self.body.len() + 2);
        let mut out = Vec::with_capacity(cap);
        for h in &self.headers {
            out.extend_from_slice(h.name.as_bytes());
            out.push(b':');
            if !self.leading_space {
                out.push(b' ');
            }
            let mut prev = 0u8;
            for &b in &h.value {
                if b == b'\n' && prev != b'\r' {
                    out.push(b'\r');
                }
                out.push(b);
                prev = b;
            }
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}
