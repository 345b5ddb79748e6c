//! The message as the checks see it.
//!
//! [`MessageView::build`] parses raw bytes once with mail-parser and reduces
//! them to plain data: decoded addresses and subject, the sender's own text
//! and the quoted text kept apart, every link with the text shown on it and
//! where it was found, forms, scripts and hidden text of the HTML body, and
//! every attachment inspected (see [`attachment`]). Anything odd on the way
//! (too large, too deep, broken encodings, not mail at all) is recorded as an
//! anomaly, which the checks turn into a symbol. The walk is iterative and
//! every count is bounded by [`Limits`], so hostile structure costs bounded
//! time and memory and never panics.

pub mod attachment;
pub mod auth;
pub mod html;
pub mod quote;
pub mod shape;
pub mod url;

use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};

use self::url::{parse_url, ParsedUrl};
use crate::config::Limits;
use attachment::{inspect, Attachment, Budget};
use auth::{parse_auth_results, AuthResults};
use html::{read_html, Form};
use shape::HeaderShape;

/// An address with its display name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mailbox {
    /// Display name, decoded (RFC 2047), possibly empty.
    pub name: String,
    /// Address, lower case.
    pub address: String,
    /// Domain part in ASCII (punycode for IDN), lower case.
    pub domain: String,
    /// Domain part in Unicode.
    pub domain_unicode: String,
}

impl Mailbox {
    /// Builds a mailbox from a display name and an address.
    pub fn new(name: &str, address: &str) -> Mailbox {
        let address = address
            .trim()
            .trim_matches(|c| c == '<' || c == '>')
            .to_lowercase();
        let domain_raw = address
            .rsplit_once('@')
            .map(|(_, d)| d.trim_end_matches('.').to_string())
            .unwrap_or_default();
        let (domain, domain_unicode) = if domain_raw.is_ascii() {
            let uni = if domain_raw.contains("xn--") {
                let (u, r) = idna::domain_to_unicode(&domain_raw);
                if r.is_ok() {
                    u
                } else {
                    domain_raw.clone()
                }
            } else {
                domain_raw.clone()
            };
            (domain_raw, uni)
        } else {
            let ascii = idna::domain_to_ascii(&domain_raw).unwrap_or_else(|_| domain_raw.clone());
            (ascii, domain_raw)
        };
        Mailbox {
            name: name.trim().trim_matches('"').trim().to_string(),
            address,
            domain,
            domain_unicode,
        }
    }
}

/// Where a link was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOrigin {
    /// HTML body.
    Html,
    /// Plain-text body.
    Text,
    /// Inside an HTML attachment.
    HtmlAttachment,
    /// A PDF attachment's link annotation.
    Pdf,
}

/// A link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Target as written.
    pub href: String,
    /// Text shown on it (HTML) or the URL itself (plain text).
    pub text: String,
    /// Parsed target, when it is an absolute web URL.
    pub url: Option<ParsedUrl>,
    /// Found in quoted or forwarded content.
    pub quoted: bool,
    /// Where it was found.
    pub origin: LinkOrigin,
}

/// Script and hidden-content facts of the HTML body parts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyHtml {
    /// `<script>` elements.
    pub scripts: usize,
    /// Meta refresh targets.
    pub meta_refresh: Vec<String>,
    /// Characters of hidden text.
    pub hidden_chars: usize,
    /// Sample of the hidden text.
    pub hidden_sample: String,
    /// iframe/object/embed elements.
    pub embeds: usize,
}

/// Received headers kept for the checks (the top ones are ours).
pub const MAX_RECEIVED_KEPT: usize = 8;

/// An anomaly met while reading the message: a symbol name and evidence.
pub type Anomaly = (&'static str, String);

/// The message reduced to plain data.
#[derive(Debug, Clone, Default)]
pub struct MessageView {
    /// Size of the raw message in bytes.
    pub size: usize,
    /// First From mailbox.
    pub from: Option<Mailbox>,
    /// Number of From mailboxes.
    pub from_count: usize,
    /// Sender header.
    pub sender: Option<Mailbox>,
    /// Reply-To mailboxes.
    pub reply_to: Vec<Mailbox>,
    /// To and Cc mailboxes.
    pub recipients: Vec<Mailbox>,
    /// Return-Path address (envelope sender as delivered), lower case.
    pub return_path: Option<String>,
    /// Decoded subject.
    pub subject: String,
    /// Message-ID.
    pub message_id: Option<String>,
    /// Every Authentication-Results header, top first.
    pub auth_results: Vec<AuthResults>,
    /// Received headers.
    pub received_count: usize,
    /// The first Received headers (top first), unfolded, bounded.
    pub received: Vec<String>,
    /// The sender's own words from all body parts.
    pub own_text: String,
    /// Quoted and forwarded words (including nested messages).
    pub quoted_text: String,
    /// All links (bounded).
    pub links: Vec<Link>,
    /// Forms in the body.
    pub forms: Vec<Form>,
    /// HTML body facts.
    pub html: BodyHtml,
    /// Images (inline or linked).
    pub images: usize,
    /// Attachments, inspected.
    pub attachments: Vec<Attachment>,
    /// message/rfc822 parts.
    pub nested_messages: usize,
    /// Anomalies.
    pub anomalies: Vec<Anomaly>,
    /// Header and MIME shape as the sender's software wrote it.
    pub shape: HeaderShape,
}

/// Where one walked part sits.
struct Pending<'a, 'x> {
    msg: &'a Message<'x>,
    part: u32,
    depth: usize,
    nested: bool,
}

impl MessageView {
    /// Reads raw bytes. Never panics; see the module docs.
    pub fn build(raw: &[u8], limits: &Limits) -> MessageView {
        let mut v = MessageView {
            size: raw.len(),
            ..MessageView::default()
        };
        let raw = if raw.len() > limits.max_message_bytes {
            v.anomalies.push((
                "MESSAGE_TOO_LARGE",
                format!("{} bytes > {}", raw.len(), limits.max_message_bytes),
            ));
            raw.get(..limits.max_message_bytes).unwrap_or(raw)
        } else {
            raw
        };
        if !looks_like_mail(raw) {
            v.anomalies
                .push(("NOT_MAIL", "no header lines at the start".into()));
        }
        // Defence in depth: the parser is third-party code fed hostile
        // bytes. Should it ever panic, the message is still analysed as
        // far as possible and the failure shown, never a crashed gateway.
        let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser().parse(raw)));
        let Ok(parsed) = parsed else {
            v.anomalies
                .push(("PARSER_FAILURE", "MIME parser failed".into()));
            return v;
        };
        let Some(msg) = parsed else {
            if !v.anomalies.iter().any(|a| a.0 == "NOT_MAIL") {
                v.anomalies.push(("NOT_MAIL", "unparsable".into()));
            }
            return v;
        };
        v.read_headers(&msg);
        v.walk(&msg, limits);
        v
    }

    fn read_headers(&mut self, msg: &Message<'_>) {
        if let Some(from) = msg.from() {
            let list = addresses(from);
            self.from_count = list.len();
            self.from = list.into_iter().next();
        }
        self.sender = msg.sender().and_then(|a| addresses(a).into_iter().next());
        self.reply_to = msg.reply_to().map(addresses).unwrap_or_default();
        let mut rcpts = msg.to().map(addresses).unwrap_or_default();
        rcpts.extend(msg.cc().map(addresses).unwrap_or_default());
        rcpts.truncate(256);
        self.recipients = rcpts;
        self.subject = msg.subject().unwrap_or("").to_string();
        self.message_id = msg.message_id().map(str::to_string);
        self.return_path = match msg.return_path() {
            HeaderValue::Text(t) => Some(t.trim().trim_matches(['<', '>']).to_lowercase()),
            HeaderValue::TextList(l) => l
                .first()
                .map(|t| t.trim().trim_matches(['<', '>']).to_lowercase()),
            _ => None,
        };
        self.shape.message_id(self.message_id.as_deref());
        self.read_shape(msg);
        for (name, value) in msg.headers_raw() {
            self.shape.header(name, value);
            if name.eq_ignore_ascii_case("Authentication-Results") && self.auth_results.len() < 16 {
                if let Some(a) = parse_auth_results(value) {
                    self.auth_results.push(a);
                }
            } else if name.eq_ignore_ascii_case("Received") {
                self.received_count += 1;
                if self.received.len() < MAX_RECEIVED_KEPT {
                    let unfolded: String = value
                        .chars()
                        .take(1024)
                        .map(|c| {
                            if c == '\r' || c == '\n' || c == '\t' {
                                ' '
                            } else {
                                c
                            }
                        })
                        .collect();
                    self.received.push(unfolded);
                }
            }
        }
    }

    /// Content types and character sets of the top message's parts.
    fn read_shape(&mut self, msg: &Message<'_>) {
        if let Some(c) = msg.content_type() {
            self.shape.content_type =
                format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")).to_ascii_lowercase();
        }
        for part in msg.parts.iter().take(64) {
            let html = match part.body {
                PartType::Text(_) => false,
                PartType::Html(_) => true,
                _ => continue,
            };
            if part.attachment_name().is_some() {
                continue;
            }
            if html {
                self.shape.has_html = true;
            } else {
                self.shape.has_plain = true;
            }
            if let Some(cs) = part.content_type().and_then(|c| c.attribute("charset")) {
                self.shape.charset(cs);
            }
        }
    }

    fn walk(&mut self, msg: &Message<'_>, limits: &Limits) {
        let mut budget = Budget {
            bytes_left: limits.max_decompressed_bytes,
        };
        let mut stack = vec![Pending {
            msg,
            part: 0,
            depth: 0,
            nested: false,
        }];
        let mut seen = 0usize;
        let mut own = String::new();
        let mut quoted = String::new();
        let mut too_deep = false;
        while let Some(p) = stack.pop() {
            seen += 1;
            if seen > limits.max_parts {
                self.anomalies
                    .push(("MIME_TOO_MANY_PARTS", format!("> {}", limits.max_parts)));
                break;
            }
            let Some(part) = p.msg.parts.get(p.part as usize) else {
                continue;
            };
            if part.is_encoding_problem {
                self.anomalies
                    .push(("MIME_ENCODING_ERROR", format!("part {}", p.part)));
            }
            let name = part.attachment_name().unwrap_or("").to_string();
            let ctype = part
                .content_type()
                .map(|c| {
                    format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")).to_ascii_lowercase()
                })
                .unwrap_or_default();
            let disposition_attachment = part
                .content_disposition()
                .is_some_and(|d| d.ctype().eq_ignore_ascii_case("attachment"));
            match &part.body {
                PartType::Multipart(children) => {
                    if p.depth + 1 > limits.max_mime_depth {
                        too_deep = true;
                        continue;
                    }
                    // multipart/alternative: the reader sees one version,
                    // the richest (HTML, or a related/mixed group holding
                    // it); reading both would only double the work.
                    let chosen;
                    let children: &[u32] = if ctype == "multipart/alternative" {
                        chosen = children
                            .iter()
                            .rev()
                            .find(|&&c| {
                                p.msg.parts.get(c as usize).is_some_and(|cp| {
                                    matches!(cp.body, PartType::Html(_) | PartType::Multipart(_))
                                })
                            })
                            .or_else(|| children.last())
                            .copied();
                        chosen.as_slice()
                    } else {
                        children
                    };
                    // Reverse so parts are visited in document order.
                    for &c in children.iter().rev() {
                        stack.push(Pending {
                            msg: p.msg,
                            part: c,
                            depth: p.depth + 1,
                            nested: p.nested,
                        });
                    }
                }
                PartType::Message(inner) => {
                    self.nested_messages += 1;
                    if p.depth + 1 > limits.max_mime_depth {
                        too_deep = true;
                        continue;
                    }
                    // The forwarded message's headers are quoted text too.
                    let mut head = String::new();
                    if let Some(f) = inner.from().and_then(|a| addresses(a).into_iter().next()) {
                        head.push_str(&format!("From: {} <{}>\n", f.name, f.address));
                    }
                    if let Some(s) = inner.subject() {
                        head.push_str(&format!("Subject: {s}\n"));
                    }
                    push_bounded(&mut quoted, &head, limits.max_text_bytes);
                    stack.push(Pending {
                        msg: inner,
                        part: 0,
                        depth: p.depth + 1,
                        nested: true,
                    });
                }
                PartType::Text(text) if !disposition_attachment && name.is_empty() => {
                    self.read_plain(text, p.nested, &mut own, &mut quoted, limits);
                }
                PartType::Html(html) if !disposition_attachment && name.is_empty() => {
                    self.read_body_html(html, p.nested, &mut own, &mut quoted, limits);
                }
                _ => {
                    let bytes = part.contents();
                    if ctype.starts_with("image/") && name.is_empty() {
                        self.images += 1;
                    }
                    if self.attachments.len() >= limits.max_parts {
                        continue;
                    }
                    let mut a = inspect(&name, &ctype, bytes, limits, &mut budget);
                    a.in_nested = p.nested;
                    if let Some(h) = &a.html {
                        for l in &h.links {
                            self.push_link(
                                &l.href,
                                &l.text,
                                p.nested,
                                LinkOrigin::HtmlAttachment,
                                limits,
                            );
                        }
                    }
                    if let Some(pdf) = &a.pdf {
                        for u in pdf.uris.clone() {
                            self.push_link(&u, "", p.nested, LinkOrigin::Pdf, limits);
                        }
                    }
                    if let Some(arch) = &a.archive {
                        if let Some(l) = &arch.limit_hit {
                            self.anomalies
                                .push(("ARCHIVE_LIMIT", format!("{name}: {l}")));
                        }
                    }
                    self.attachments.push(a);
                }
            }
        }
        if too_deep {
            self.anomalies
                .push(("MIME_TOO_DEEP", format!("> {}", limits.max_mime_depth)));
        }
        // A message that is nothing but quotes (an attacker wrapping a lure in
        // <blockquote>, or a bare forward with no words of the sender) has no
        // own words to weigh against the quote: then the quote is its content.
        if own.trim().chars().count() < 20 && !quoted.trim().is_empty() && self.nested_messages == 0
        {
            own.push('\n');
            own.push_str(&quoted);
            quoted.clear();
            for l in self.links.iter_mut() {
                l.quoted = false;
            }
        }
        self.own_text = own;
        self.quoted_text = quoted;
    }

    fn read_plain(
        &mut self,
        text: &str,
        nested: bool,
        own: &mut String,
        quoted: &mut String,
        limits: &Limits,
    ) {
        let ranges = if nested {
            std::iter::once(0..text.len()).collect()
        } else {
            quote::quoted_ranges(text)
        };
        for (start, url) in plain_urls(text).into_iter().take(limits.max_links) {
            let q = quote::in_ranges(start, &ranges);
            self.push_link(&url, &url, q, LinkOrigin::Text, limits);
        }
        let (o, q) = quote::split_own_and_quoted(text, &ranges);
        push_bounded(own, &o, limits.max_text_bytes);
        push_bounded(quoted, &q, limits.max_text_bytes);
    }

    fn read_body_html(
        &mut self,
        html: &str,
        nested: bool,
        own: &mut String,
        quoted: &mut String,
        limits: &Limits,
    ) {
        let truncated = html.len() > limits.max_html_bytes;
        let html = if truncated {
            self.anomalies
                .push(("HTML_TOO_LARGE", format!("{} bytes", html.len())));
            html::truncate_str(html, limits.max_html_bytes)
        } else {
            html
        };
        let facts = read_html(html, limits.max_text_bytes);
        // Cut at the limit, the HTML may end inside a tag: that is our cut,
        // already reported, not a broken message.
        if facts.parse_error && !truncated {
            self.anomalies
                .push(("HTML_PARSE_ERROR", "html body".into()));
        }
        let mut ranges = facts.quoted.clone();
        if nested {
            ranges = std::iter::once(0..facts.text.len()).collect();
        } else {
            ranges.extend(quote::quoted_ranges(&facts.text));
        }
        for l in &facts.links {
            let q = quote::in_ranges(l.offset, &ranges);
            self.push_link(&l.href, &l.text, q, LinkOrigin::Html, limits);
        }
        // URLs written as text in the HTML (not inside <a>) are links too:
        // mail clients make them clickable.
        for (start, url) in plain_urls(&facts.text).into_iter().take(limits.max_links) {
            if !self.links.iter().any(|l| l.href == url) {
                let q = quote::in_ranges(start, &ranges);
                self.push_link(&url, &url, q, LinkOrigin::Text, limits);
            }
        }
        let (o, q) = quote::split_own_and_quoted(&facts.text, &ranges);
        push_bounded(own, &o, limits.max_text_bytes);
        push_bounded(quoted, &q, limits.max_text_bytes);
        if !nested {
            self.forms.extend(facts.forms);
        }
        let h = &mut self.html;
        h.scripts += facts.scripts;
        h.meta_refresh.extend(facts.meta_refresh);
        h.hidden_chars += facts.hidden_chars;
        if h.hidden_sample.is_empty() {
            h.hidden_sample = facts.hidden_sample;
        }
        h.embeds += facts.embeds;
        self.images += facts.images.len();
    }

    fn push_link(
        &mut self,
        href: &str,
        text: &str,
        quoted: bool,
        origin: LinkOrigin,
        limits: &Limits,
    ) {
        if self.links.len() >= limits.max_links {
            if !self.anomalies.iter().any(|a| a.0 == "TOO_MANY_LINKS") {
                self.anomalies
                    .push(("TOO_MANY_LINKS", format!("> {}", limits.max_links)));
            }
            return;
        }
        let href = html::truncate_str(href.trim(), 4096).to_string();
        let text = html::truncate_str(text.trim(), 1024).to_string();
        let url = parse_url(&href);
        self.links.push(Link {
            href,
            text,
            url,
            quoted,
            origin,
        });
    }

    /// The sender's own words plus the subject: what the reader is told.
    pub fn own_words(&self) -> String {
        let mut s = String::with_capacity(self.subject.len() + self.own_text.len() + 1);
        if !self.subject_is_quoted() {
            s.push_str(&self.subject);
            s.push('\n');
        }
        s.push_str(&self.own_text);
        s
    }

    /// A forward's or reply's subject is the original message's words, when
    /// the original is really there (a lure that only writes "Re:" in front
    /// of its subject, quoting nothing, is still speaking for itself).
    pub fn subject_is_quoted(&self) -> bool {
        const PREFIXES: &[&str] = &[
            "fwd:",
            "fw:",
            "tv:",
            "re:",
            "trả lời:",
            "chuyển tiếp:",
            "fwd :",
            "re :",
            "aw:",
            "wg:",
        ];
        let lower = self.subject.trim_start().to_lowercase();
        PREFIXES.iter().any(|p| lower.starts_with(p))
            && (!self.quoted_text.trim().is_empty() || self.nested_messages > 0)
    }
}

/// The parser, configured once: the headers the checks read are parsed,
/// everything else (Received chains, Date...) is kept raw, which is much
/// cheaper on the hot path.
fn parser() -> &'static MessageParser {
    static P: std::sync::OnceLock<MessageParser> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        MessageParser::new()
            .with_minimal_headers()
            .header_address(mail_parser::HeaderName::Sender)
            .header_id(mail_parser::HeaderName::MessageId)
            .default_header_raw()
    })
}

fn push_bounded(buf: &mut String, s: &str, max: usize) {
    if buf.len() >= max {
        return;
    }
    let room = max - buf.len();
    buf.push_str(html::truncate_str(s, room));
    if !buf.ends_with('\n') {
        buf.push('\n');
    }
}

fn addresses(a: &Address<'_>) -> Vec<Mailbox> {
    a.iter()
        .take(64)
        .filter_map(|addr| {
            let address = addr.address()?;
            Some(Mailbox::new(addr.name().unwrap_or(""), address))
        })
        .collect()
}

/// Web addresses written in text, with their byte offsets. One pass with a
/// case-insensitive automaton over the scheme prefixes.
pub fn plain_urls(text: &str) -> Vec<(usize, String)> {
    use std::sync::OnceLock;
    static PREFIXES: OnceLock<Option<aho_corasick::AhoCorasick>> = OnceLock::new();
    let Some(ac) = PREFIXES
        .get_or_init(|| {
            aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                // Defanged addresses (hxxp://, [.]) are not clickable: an
                // advisory quoting an indicator is not linking to it.
                .build(["http://", "https://", "www."])
                .ok()
        })
        .as_ref()
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut skip_to = 0usize;
    for m in ac.find_iter(text) {
        if out.len() >= 1024 {
            break;
        }
        let start = m.start();
        if start < skip_to {
            continue;
        }
        let plen = m.end() - m.start();
        // "www." must start a word ("email.www.x" is not a link).
        let word_start = start == 0
            || text
                .get(..start)
                .and_then(|s| s.chars().last())
                .is_some_and(|c| !c.is_alphanumeric() && c != '.' && c != '/');
        let tail = text.get(start..).unwrap_or("");
        let end = tail
            .find(|c: char| {
                c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '`' | '|' | '{' | '}')
            })
            .unwrap_or(tail.len());
        let url = tail
            .get(..end)
            .unwrap_or("")
            .trim_end_matches(['.', ',', ';', ':', ')', ']', '!', '?']);
        if (word_start || plen > 4) && url.len() > plen + 2 {
            out.push((start, url.to_string()));
        }
        skip_to = start + end.max(plen);
    }
    out
}

/// Whether the bytes start like a message: an optional mbox `From ` line,
/// then a header field.
fn looks_like_mail(raw: &[u8]) -> bool {
    let mut s = raw;
    if s.starts_with(b"From ") {
        s = s
            .iter()
            .position(|&b| b == b'\n')
            .and_then(|i| s.get(i + 1..))
            .unwrap_or(&[]);
    }
    let line_end = s.iter().position(|&b| b == b'\n').unwrap_or(s.len());
    let line = s.get(..line_end).unwrap_or(&[]);
    match line.iter().position(|&b| b == b':') {
        Some(colon) if colon > 0 => line
            .get(..colon)
            .is_some_and(|n| n.iter().all(|&b| b.is_ascii_graphic() && b != b':')),
        _ => false,
    }
}

/// The From address of a raw message (lower case), read from the header
/// block alone: cheap enough for the gateway to look the sender up in its
/// store before the full scan.
pub fn peek_from(raw: &[u8]) -> Option<String> {
    let parsed =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser().parse_headers(raw)))
            .ok()??;
    let addr = parsed.from()?.first()?.address()?.trim().to_lowercase();
    (addr.contains('@') && addr.len() <= 320).then_some(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_urls_found() {
        let u = plain_urls(
            "Truy cập https://mail.laocai.gov.vn/zimbra, hoặc www.example.com. Xem email.www.x",
        );
        let urls: Vec<&str> = u.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(
            urls,
            vec!["https://mail.laocai.gov.vn/zimbra", "www.example.com"]
        );
    }

    #[test]
    fn mailbox_domains() {
        let m = Mailbox::new("\"Zimbra Upgrade\"", "<Shokri@Univ.AC.IR>");
        assert_eq!(m.domain, "univ.ac.ir");
        assert_eq!(m.name, "Zimbra Upgrade");
        let idn = Mailbox::new("", "admin@lаocai.gov.vn");
        assert!(idn.domain.starts_with("xn--"), "{}", idn.domain);
    }

    #[test]
    fn detects_non_mail() {
        assert!(looks_like_mail(b"From: a@b\n\nhi"));
        assert!(looks_like_mail(b"From x@y Mon Jan 1\nSubject: s\n\n"));
        assert!(!looks_like_mail(b"\x7fELF\x02\x01"));
        assert!(!looks_like_mail(b""));
        assert!(!looks_like_mail(b"hello world\n"));
    }

    #[test]
    fn nested_message_is_quoted() {
        let raw = b"From: user@laocai.gov.vn\r\nTo: baocao@laocai.gov.vn\r\nSubject: Fw: nghi lua dao\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nEm gui thu nghi la lua dao, nho kiem tra giup.\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@evil.example\r\nSubject: Xac minh tai khoan\r\n\r\nBam vao http://evil.example/login de xac minh tai khoan\r\n--b--\r\n";
        let v = MessageView::build(raw, &Limits::default());
        assert_eq!(v.nested_messages, 1);
        assert!(v.own_text.contains("nho kiem tra"));
        assert!(!v.own_text.contains("de xac minh"));
        assert!(v.quoted_text.contains("de xac minh"));
        assert!(v.links.iter().all(|l| l.quoted));
    }
}
