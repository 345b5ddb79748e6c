//! Normalisation: the one form of a message that measurement and training
//! look at, with the collection marks taken out.
//!
//! Each public source leaves its own marks (see `../shared/corpus/README.md`):
//!
//! | mark | where | what we do |
//! |---|---|---|
//! | CRLF line endings | phishing_pot (85 %) | every line ends in LF |
//! | mbox `From ` separator, `>From ` quoting | SpamAssassin, Nazario | dropped / un-quoted |
//! | mail-client status (`Status`, `X-Status`, `X-Keywords`, `X-UID`, `Content-Length`, `Lines`, `X-Mozilla-Status*`, `X-Evolution*`) | Nazario (~100 %) | header removed |
//! | final delivery (`Return-Path`, `Delivered-To`, `X-Original-To`, `Delivery-Date`) | all | header removed; the `Return-Path` address becomes the envelope sender, as the gateway would get it from `MAIL FROM` |
//! | the collector's own filters (`X-Spam-*`, `X-Virus-Scanned`, `Authentication-Results`, `Received-SPF`, Microsoft 365 `X-MS-*`, `X-Microsoft-*`, `X-EOP*`, `X-SID-*`, `X-Incoming*`...) | Nazario, phishing_pot (100 %) | header removed |
//! | recipient placeholders (`phishing@pot`, `yyyy@…taint.org`, `jose@monkey.org`...) | all, in headers, bodies and URLs | replaced by [`RECIPIENT_PLACEHOLDER`] |
//! | dates (2002 ham, 2004-5 and 2022-6 phishing) | `Date`, `*-Date`, `Received` | replaced by [`FIXED_DATE`] |
//!
//! What is left and still differs by era (DKIM signatures, `Received` host
//! names, HTML styles of 2002 and 2024) is the mail itself. A learned
//! classifier must still take no features from `Received` or `Message-ID`
//! host names: they name the collector's servers.
//!
//! The test that proves it: `tests/marks.rs` builds the same message as
//! each source would have stored it and checks that the normalised bytes
//! and the features are identical.

use std::sync::OnceLock;

use regex::bytes::Regex;

/// What every recipient placeholder becomes (a reserved domain).
pub const RECIPIENT_PLACEHOLDER: &str = "recipient@example.net";

/// What every date in the header becomes.
pub const FIXED_DATE: &str = "Thu, 01 Jan 2026 00:00:00 +0000";

/// Headers removed outright (compared case-insensitively).
pub const COLLECTION_HEADERS: &[&str] = &[
    "status",
    "x-status",
    "x-keywords",
    "x-uid",
    "content-length",
    "lines",
    "return-path",
    "delivered-to",
    "x-original-to",
    "delivery-date",
    "x-virus-scanned",
    "x-virus-status",
    "authentication-results",
    "arc-authentication-results",
    "arc-seal",
    "arc-message-signature",
    "received-spf",
    "x-sender-ip",
    "x-message-delivery",
    "x-message-info",
    "x-originatororg",
    "x-gm-thrid",
    "x-gmail-labels",
    "x-original-arrival-time",
    "x-originalarrivaltime",
];

/// Header name prefixes removed (compared case-insensitively).
pub const COLLECTION_PREFIXES: &[&str] = &[
    "x-mozilla-status",
    "x-evolution",
    "x-spam-",
    "x-ms-",
    "x-microsoft-",
    "x-eop",
    "x-forefront-",
    "x-sid-",
    "x-incoming",
    "x-exchange-antispam",
];

/// The result of [`normalize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    /// The message: LF line endings, collection headers removed, dates and
    /// recipient placeholders replaced.
    pub bytes: Vec<u8>,
    /// Names of the header fields removed (as written), in order.
    pub removed_headers: Vec<String>,
    /// How many recipient placeholders were replaced.
    pub placeholders: usize,
    /// The address of the first `Return-Path` (removed from the header):
    /// the envelope sender as delivered. In production the gateway gets it
    /// from the SMTP session (`MAIL FROM`), never from a header, so
    /// [`crate::prepare`] hands it to the engine as the envelope instead.
    /// `Some("")` for the null sender `<>`.
    pub envelope_from: Option<String>,
}

/// The address in a `Return-Path` field: between `<>`, else the value.
fn return_path_address(field: &[&[u8]]) -> String {
    let joined = String::from_utf8_lossy(&field.join(&b" "[..])).into_owned();
    let value = joined.split_once(':').map(|(_, v)| v).unwrap_or("").trim();
    match (value.find('<'), value.rfind('>')) {
        (Some(a), Some(b)) if a < b => value.get(a + 1..b).unwrap_or("").trim().to_string(),
        _ => value.to_string(),
    }
}

/// Recipient addresses the sources put in place of the real one (or the
/// real one of the collector), anywhere in the message. `%40` covers
/// URL-encoded copies; `=40`/`3D` prefixes of quoted-printable are left
/// around the replacement and do not matter.
fn placeholders() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let at = r"(?:@|%40)";
        let pattern = [
            // phishing_pot: phishing@pot, phish@pot, honey@pot.
            format!(r"[a-z0-9._+-]*{at}pot\b"),
            format!(r"phish\.me\.again{at}gmail\.com"),
            // SpamAssassin: anonymised yyyy@… / zzzz@… recipients.
            format!(r"\b(?:yyyy|zzzz)[a-z0-9._+-]*{at}[a-z0-9-]+(?:\.[a-z0-9-]+)*"),
            // Nazario: the collector's own mailboxes and their anonymised forms.
            format!(r"\b(?:jose|beth|josu|umeet|username){at}(?:login\.)?(?:monkey\.org|domain\.com|uninet\.edu)"),
        ]
        .join("|");
        // The pattern is a constant: a failure is a bug caught by every test.
        #[allow(clippy::expect_used)]
        regex::bytes::RegexBuilder::new(&pattern)
            .case_insensitive(true)
            .build()
            .expect("placeholder pattern compiles")
    })
}

fn is_collection_header(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    COLLECTION_HEADERS.contains(&n.as_str()) || COLLECTION_PREFIXES.iter().any(|p| n.starts_with(p))
}

fn is_date_header(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    n == "date" || n.ends_with("-date")
}

/// Splits into lines without their terminator (LF, or CRLF).
fn lines(raw: &[u8]) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = raw
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    if raw.ends_with(b"\n") {
        out.pop();
    }
    out
}

/// Normalises one message, removing every `Authentication-Results`. Pure;
/// never panics; any bytes in, bytes out.
pub fn normalize(raw: &[u8]) -> Normalized {
    normalize_keeping(raw, None)
}

/// The authserv-id of an `Authentication-Results` field (its first token).
fn authserv_id(field: &[&[u8]]) -> String {
    let joined = field.join(&b" "[..]);
    let value = joined
        .iter()
        .position(|&b| b == b':')
        .and_then(|c| joined.get(c + 1..))
        .unwrap_or(&[]);
    let value = String::from_utf8_lossy(value);
    value
        .trim()
        .split(|c: char| c == ';' || c.is_whitespace())
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Like [`normalize`], but keeps `Authentication-Results` stamped by
/// `own_authserv_id` (the organisation's own server, the only one the
/// engine believes). No public source carries such a stamp, so this removes
/// no collection mark; it keeps the project's own fixtures, which model
/// mail that passed through the organisation's server, meaningful.
pub fn normalize_keeping(raw: &[u8], own_authserv_id: Option<&str>) -> Normalized {
    let all = lines(raw);
    let mut i = 0;
    // The mbox separator (and, defensively, blank lines before the header).
    while let Some(l) = all.get(i) {
        if l.starts_with(b"From ") || l.iter().all(|b| b.is_ascii_whitespace()) {
            i += 1;
        } else {
            break;
        }
    }
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut removed = Vec::new();
    let mut envelope_from: Option<String> = None;

    // Header fields: a line with a colon, then its continuation lines.
    let mut fields: Vec<Vec<&[u8]>> = Vec::new();
    while let Some(l) = all.get(i) {
        if l.is_empty() {
            break;
        }
        let continuation = matches!(l.first(), Some(b' ' | b'\t'));
        match fields.last_mut() {
            Some(f) if continuation => f.push(l),
            _ => fields.push(vec![l]),
        }
        i += 1;
    }
    for field in fields {
        let first = field.first().copied().unwrap_or(&[]);
        let colon = first.iter().position(|&b| b == b':');
        let name = colon
            .and_then(|c| first.get(..c))
            .map(|n| String::from_utf8_lossy(n).into_owned());
        match name {
            Some(n)
                if n.trim().eq_ignore_ascii_case("authentication-results")
                    && own_authserv_id.is_some_and(|id| {
                        !id.is_empty() && authserv_id(&field).eq_ignore_ascii_case(id)
                    }) =>
            {
                for l in field {
                    out.extend_from_slice(l);
                    out.push(b'\n');
                }
            }
            Some(n) if is_collection_header(&n) => {
                if envelope_from.is_none() && n.trim().eq_ignore_ascii_case("return-path") {
                    envelope_from = Some(return_path_address(&field));
                }
                removed.push(n);
            }
            Some(n) if is_date_header(&n) => {
                out.extend_from_slice(n.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(FIXED_DATE.as_bytes());
                out.push(b'\n');
            }
            Some(n) if n.trim().eq_ignore_ascii_case("received") => {
                // The date follows the last ';' (RFC 5322 section 3.6.7).
                let joined = field.join(&b"\n"[..]);
                let cut = joined.iter().rposition(|&b| b == b';');
                match cut.and_then(|c| joined.get(..c)) {
                    Some(head) => {
                        out.extend_from_slice(head);
                        out.extend_from_slice(b"; ");
                        out.extend_from_slice(FIXED_DATE.as_bytes());
                    }
                    None => out.extend_from_slice(&joined),
                }
                out.push(b'\n');
            }
            _ => {
                for l in field {
                    out.extend_from_slice(l);
                    out.push(b'\n');
                }
            }
        }
    }

    // Body: mboxrd/mboxo quoting undone; trailing blank lines (left by the
    // mbox splitter) dropped.
    let mut body: Vec<&[u8]> = all.get(i..).unwrap_or(&[]).to_vec();
    while body.len() > 1 && body.last().is_some_and(|l| l.trim_ascii().is_empty()) {
        body.pop();
    }
    for l in body {
        let quotes = l.iter().take_while(|&&b| b == b'>').count();
        let unquoted = if quotes > 0 && l.get(quotes..).is_some_and(|r| r.starts_with(b"From ")) {
            l.get(1..).unwrap_or(l)
        } else {
            l
        };
        out.extend_from_slice(unquoted);
        out.push(b'\n');
    }

    let mut placeholders_replaced = 0usize;
    let bytes = placeholders()
        .replace_all(&out, |_: &regex::bytes::Captures<'_>| {
            placeholders_replaced += 1;
            RECIPIENT_PLACEHOLDER.as_bytes()
        })
        .into_owned();
    let envelope_from = envelope_from.map(|a| {
        placeholders()
            .replace_all(a.as_bytes(), RECIPIENT_PLACEHOLDER.as_bytes())
            .into_owned()
    });
    Normalized {
        bytes,
        removed_headers: removed,
        placeholders: placeholders_replaced,
        envelope_from: envelope_from.map(|a| String::from_utf8_lossy(&a).to_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        String::from_utf8_lossy(&normalize(s.as_bytes()).bytes).into_owned()
    }

    #[test]
    fn line_endings_mbox_and_quoting() {
        let a = norm(
            "From x@y Mon Jan 1 00:00:00 2002\r\nSubject: s\r\n\r\n>From here\r\nbody\r\n\r\n\r\n",
        );
        assert_eq!(a, "Subject: s\n\nFrom here\nbody\n");
    }

    #[test]
    fn headers_dates_and_placeholders() {
        let a = norm(
            "Received: from a by b\n for <jose@monkey.org>; Tue,  8 Nov 2005 07:57:35 -0500\n\
             X-Spam-Status: No\n\tscore=2\nStatus: RO\nDate: Tue, 8 Nov 2005\n\
             To: PHISHING@POT\n\nhttp://x.test/?u=phishing%40pot\n",
        );
        assert_eq!(
            a,
            "Received: from a by b\n for <recipient@example.net>; Thu, 01 Jan 2026 00:00:00 +0000\n\
             Date: Thu, 01 Jan 2026 00:00:00 +0000\nTo: recipient@example.net\n\n\
             http://x.test/?u=recipient@example.net\n"
        );
        let n = normalize(b"X-UID: 4\nX-MS-Exchange-Organization-SCL: 5\n x\nSubject: a\n\nb");
        assert_eq!(
            n.removed_headers,
            vec!["X-UID", "X-MS-Exchange-Organization-SCL"]
        );
        assert_eq!(n.bytes, b"Subject: a\n\nb\n".to_vec());
    }

    #[test]
    fn hostile_input_is_bytes_in_bytes_out() {
        for raw in [
            &b""[..],
            b"\r",
            b"\n\n\n",
            b"From ",
            b":\n\n",
            b"\xff\xfe:\x00\n \n",
        ] {
            let _ = normalize(raw);
        }
    }
}
