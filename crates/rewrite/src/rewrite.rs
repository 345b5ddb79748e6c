//! Choosing the text parts a reader sees and putting the banner in them.

use std::ops::Range;

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{HeaderName, Message, MessagePart, MimeHeaders, PartType};

use crate::apply::apply_parsed;
use crate::encode::{base64_body, quoted_printable};
use crate::headers::{
    block_items, content_type_canonical, content_type_utf8, fold_structured, render_field,
    set_field, unfold, write_items, Item,
};
use crate::html::insertion_point;
use crate::{
    dominant_newline, parse, Banner, BodyRewrite, HeaderEdit, Limits, MessageEdits, NotRewritten,
    HTML_MARKER, PLAIN_SEPARATOR,
};

/// Labels of UTF-8 that mail-parser decodes itself (its charset table has
/// no entry for them).
const UTF8_LABELS: &[&str] = &[
    "utf-8",
    "utf8",
    "unicode-1-1-utf-8",
    "unicode11utf8",
    "unicode20utf8",
    "x-unicode20utf8",
];

/// Inline PGP armour: a banner in front would survive, but such text is
/// treated like PGP/MIME and left alone.
const PGP_ARMOUR: &[&str] = &[
    "-----BEGIN PGP SIGNED MESSAGE-----",
    "-----BEGIN PGP MESSAGE-----",
];

/// Inserts the banner at the top of the text parts a reader sees.
///
/// Chosen parts: a top-level `text/plain` or `text/html`; every text/plain
/// and text/html of a `multipart/alternative`; the root (the `start`
/// parameter, else the first part) of a `multipart/related`; the first text
/// (or multipart) part of `multipart/mixed` and of other multipart types;
/// nested combinations of these. Never a part that is an attachment
/// (`Content-Disposition: attachment` or a file name), never anything inside
/// an attached `message/rfc822`, never a non-text part. Each chosen part is
/// rewritten as described in the crate docs, and the bytes outside the
/// chosen parts are copied unchanged.
///
/// A part is skipped, and the others still rewritten, when its charset is
/// unknown, its transfer encoding is broken (mail-parser's
/// `is_encoding_problem`: a missing end boundary, invalid base64 or
/// quoted-printable) or unknown (`x-uuencode`), its Content-Type /
/// Content-Transfer-Encoding headers are duplicated (readers disagree on
/// which one counts), or it already has the banner. The message is refused
/// only when no part could be changed (see [`NotRewritten`]); the core flags
/// such broken MIME on its own, so skipping is not a silent bypass. Bytes a
/// charset decoder could not read are already U+FFFD in the decoded text and
/// are written as such, which is what any reader shows.
///
/// Each Content-Type is first edited in place (only the charset parameter
/// changes); if the result does not read back as intended, the whole
/// rewrite is redone once with Content-Types written afresh from the parsed
/// type and parameters.
///
/// The output uses the dominant line ending of `raw`. Never panics.
pub fn insert_banner(
    raw: &[u8],
    banner: &Banner,
    limits: &Limits,
) -> Result<BodyRewrite, NotRewritten> {
    if raw.len() > limits.max_message_bytes {
        return Err(NotRewritten::TooLarge {
            size: raw.len(),
            limit: limits.max_message_bytes,
        });
    }
    let msg = parse(raw).ok_or(NotRewritten::Unparseable)?;
    if msg.parts.len() > limits.max_parts {
        return Err(NotRewritten::TooManyParts {
            parts: msg.parts.len(),
            limit: limits.max_parts,
        });
    }
    let candidates = choose_parts(&msg, limits)?;
    if candidates.is_empty() {
        return Err(NotRewritten::NoTextPart);
    }
    let nl = dominant_newline(raw);
    // First with each Content-Type edited in place; should the result not
    // read back as meant, once more with Content-Types written afresh.
    match rewrite_parts(raw, &msg, &candidates, banner, nl, false) {
        Err(NotRewritten::SelfCheckFailed) => {
            rewrite_parts(raw, &msg, &candidates, banner, nl, true)
        }
        other => other,
    }
}

fn rewrite_parts(
    raw: &[u8],
    msg: &Message<'_>,
    candidates: &[usize],
    banner: &Banner,
    nl: &str,
    canonical_ct: bool,
) -> Result<BodyRewrite, NotRewritten> {
    let mut changes = Vec::new();
    let mut refusal = None;
    let mut bannered = 0usize;
    for &id in candidates {
        match rewrite_part(raw, msg, id, banner, nl, canonical_ct) {
            Ok(c) => changes.push(c),
            Err(NotRewritten::AlreadyBannered) => bannered += 1,
            Err(NotRewritten::Signed) => return Err(NotRewritten::Signed),
            Err(e) => {
                refusal.get_or_insert(e);
            }
        }
    }
    if changes.is_empty() {
        return Err(if bannered > 0 {
            NotRewritten::AlreadyBannered
        } else {
            refusal.unwrap_or(NotRewritten::NoTextPart)
        });
    }
    let rewrite = splice(raw, msg, &mut changes)?;
    self_check(raw, msg, &rewrite, &changes)?;
    Ok(rewrite)
}

/// A rewritten part.
struct Change {
    /// Part index in the parsed message.
    id: usize,
    /// Raw bytes replaced.
    range: Range<usize>,
    /// What replaces them.
    bytes: Vec<u8>,
    /// The part's decoded text after the change.
    expected: String,
    /// Header edits, for the top-level part only.
    top_edits: Vec<HeaderEdit>,
}

/// The body parts a reader sees, in document order. Iterative, bounded by
/// the part count and [`Limits::max_depth`].
fn choose_parts(msg: &Message<'_>, limits: &Limits) -> Result<Vec<usize>, NotRewritten> {
    let mut out = Vec::new();
    let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
    let mut steps = 0usize;
    while let Some((id, depth)) = stack.pop() {
        steps += 1;
        if steps > msg.parts.len() {
            break;
        }
        let Some(part) = msg.parts.get(id) else {
            continue;
        };
        if is_signed_or_encrypted(part) {
            return Err(NotRewritten::Signed);
        }
        match &part.body {
            PartType::Text(_) | PartType::Html(_) if is_body_text(part) => out.push(id),
            PartType::Multipart(children) => {
                if depth >= limits.max_depth {
                    continue;
                }
                // The parser numbers parts in document order; a child
                // before its parent would be a parser bug, never followed.
                let children: Vec<usize> = children
                    .iter()
                    .map(|&c| c as usize)
                    .filter(|&c| c > id)
                    .collect();
                let subtype = part
                    .content_type()
                    .and_then(|c| c.subtype())
                    .unwrap_or("mixed")
                    .to_ascii_lowercase();
                let chosen: Vec<usize> = match subtype.as_str() {
                    "alternative" => children,
                    "related" => related_root(msg, part, &children).into_iter().collect(),
                    // mixed, and (RFC 2046) any unknown subtype read as mixed.
                    _ => children
                        .into_iter()
                        .find(|&c| {
                            msg.parts.get(c).is_some_and(|p| match p.body {
                                PartType::Multipart(_) => true,
                                PartType::Text(_) | PartType::Html(_) => is_body_text(p),
                                _ => false,
                            })
                        })
                        .into_iter()
                        .collect(),
                };
                for &c in chosen.iter().rev() {
                    stack.push((c, depth + 1));
                }
            }
            // Attached messages and binary parts are never touched.
            _ => {}
        }
    }
    Ok(out)
}

/// The root part of a multipart/related: the one named by `start`, else the
/// first.
fn related_root(msg: &Message<'_>, part: &MessagePart<'_>, children: &[usize]) -> Option<usize> {
    let start = part
        .content_type()
        .and_then(|c| c.attribute("start"))
        .map(|s| s.trim().trim_matches(['<', '>']).to_string());
    if let Some(start) = start.filter(|s| !s.is_empty()) {
        let named = children.iter().copied().find(|&c| {
            msg.parts
                .get(c)
                .and_then(|p| p.content_id())
                .is_some_and(|id| id.trim().trim_matches(['<', '>']) == start)
        });
        if named.is_some() {
            return named;
        }
    }
    children.first().copied()
}

fn is_signed_or_encrypted(part: &MessagePart<'_>) -> bool {
    let Some(ct) = part.content_type() else {
        return false;
    };
    let ctype = ct.ctype().to_ascii_lowercase();
    let sub = ct.subtype().unwrap_or("").to_ascii_lowercase();
    match ctype.as_str() {
        "multipart" => sub == "signed" || sub == "encrypted",
        "application" => matches!(
            sub.as_str(),
            "pkcs7-mime"
                | "x-pkcs7-mime"
                | "pkcs7-signature"
                | "x-pkcs7-signature"
                | "pgp-encrypted"
                | "pgp-signature"
        ),
        _ => false,
    }
}

/// A text/plain or text/html part shown as the body, not an attachment.
fn is_body_text(part: &MessagePart<'_>) -> bool {
    let attachment = part
        .content_disposition()
        .is_some_and(|d| d.ctype().eq_ignore_ascii_case("attachment"))
        || part.attachment_name().is_some();
    if attachment {
        return false;
    }
    match &part.body {
        PartType::Html(_) => true,
        PartType::Text(_) => part.content_type().is_none_or(|c| {
            c.ctype().eq_ignore_ascii_case("text")
                && c.subtype().is_some_and(|s| s.eq_ignore_ascii_case("plain"))
        }),
        _ => false,
    }
}

/// How the part's body was encoded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cte {
    Identity,
    QuotedPrintable,
    Base64,
}

fn rewrite_part(
    raw: &[u8],
    msg: &Message<'_>,
    id: usize,
    banner: &Banner,
    nl: &str,
    canonical_ct: bool,
) -> Result<Change, NotRewritten> {
    let part = msg.parts.get(id).ok_or(NotRewritten::Unparseable)?;
    let (text, is_html) = match &part.body {
        PartType::Text(t) => (t.as_ref(), false),
        PartType::Html(t) => (t.as_ref(), true),
        _ => return Err(NotRewritten::NoTextPart),
    };
    if part.is_encoding_problem {
        return Err(NotRewritten::Undecodable);
    }
    let count = |name: HeaderName<'_>| part.headers.iter().filter(|h| h.name == name).count();
    if count(HeaderName::ContentType) > 1 || count(HeaderName::ContentTransferEncoding) > 1 {
        return Err(NotRewritten::Undecodable);
    }
    let cte = match part
        .headers
        .iter()
        .find(|h| h.name == HeaderName::ContentTransferEncoding)
        .map(|h| h.value.as_text().unwrap_or("").trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("" | "7bit" | "8bit" | "binary") => Cte::Identity,
        Some("quoted-printable") => Cte::QuotedPrintable,
        Some("base64") => Cte::Base64,
        Some(_) => return Err(NotRewritten::Undecodable),
    };
    if let Some(cs) = part.content_type().and_then(|c| c.attribute("charset")) {
        let known = cs.trim().is_empty()
            || UTF8_LABELS
                .iter()
                .any(|l| l.eq_ignore_ascii_case(cs.trim()))
            || charset_decoder(cs.as_bytes()).is_some();
        if !known {
            return Err(NotRewritten::UnknownCharset(cs.chars().take(64).collect()));
        }
    }
    if !is_html && PGP_ARMOUR.iter().any(|a| text.contains(a)) {
        return Err(NotRewritten::Signed);
    }

    let start = part.offset_header as usize;
    let body_start = part.offset_body as usize;
    let end = part.offset_end as usize;
    if start > body_start || body_start > end || end > raw.len() {
        return Err(NotRewritten::Unparseable);
    }
    let region = raw.get(body_start..end).unwrap_or_default();

    // Base64 carries the text's own line breaks; quoted-printable writes
    // the part's line ending as hard breaks.
    let text_nl = if cte == Cte::Base64 {
        dominant_newline(text.as_bytes())
    } else {
        nl
    };
    let expected = if is_html {
        let pos = insertion_point(text);
        let (head, tail) = text
            .split_at_checked(pos)
            .ok_or(NotRewritten::Unparseable)?;
        if tail
            .strip_prefix(HTML_MARKER)
            .is_some_and(|t| t.starts_with(banner.html.as_str()))
        {
            return Err(NotRewritten::AlreadyBannered);
        }
        let mut s = String::with_capacity(text.len() + banner.html.len() + HTML_MARKER.len());
        s.push_str(head);
        s.push_str(HTML_MARKER);
        s.push_str(&banner.html);
        s.push_str(tail);
        s
    } else {
        if ["\r\n", "\n"]
            .iter()
            .any(|n| text.starts_with(&plain_block(banner, n)))
        {
            return Err(NotRewritten::AlreadyBannered);
        }
        let mut s = plain_block(banner, text_nl);
        s.push_str(text);
        s
    };
    let mut encoded = if cte == Cte::Base64 {
        base64_body(expected.as_bytes(), nl, region.ends_with(b"\n"))
    } else {
        quoted_printable(&expected, nl)
    };
    // An empty part whose delimiter follows its header block directly
    // shares that empty line with the delimiter; the new content needs a
    // line break of its own before the delimiter (the decoder drops it).
    if raw
        .get(end..)
        .is_some_and(|rest| !rest.is_empty() && !matches!(rest.first(), Some(b'\r' | b'\n')))
        && !encoded.is_empty()
    {
        encoded.extend_from_slice(nl.as_bytes());
    }
    let cte_value = if cte == Cte::Base64 {
        "base64"
    } else {
        "quoted-printable"
    };

    let mut items = block_items(raw, part).ok_or(NotRewritten::Unparseable)?;
    let ct_value = items
        .iter()
        .find_map(|i| match i {
            Item::Field { name, range } if name.eq_ignore_ascii_case("Content-Type") => {
                Some(field_value(raw, range.clone()))
            }
            _ => None,
        })
        .map(|v| match part.content_type() {
            Some(ct) if canonical_ct => {
                fold_structured("Content-Type", &content_type_canonical(ct))
                    .replace("\r\n", nl)
                    .into_bytes()
            }
            _ => content_type_utf8(v),
        });

    if id == 0 {
        // The whole message is this one part: its headers are the
        // message's, changed through the top-level edits.
        let ct = match ct_value {
            Some(v) => {
                let v = String::from_utf8(v).map_err(|_| NotRewritten::Undecodable)?;
                fold_structured("Content-Type", &unfold(&v))
            }
            None => "text/plain; charset=utf-8".to_string(),
        };
        let mut top_edits = Vec::with_capacity(3);
        if !part
            .headers
            .iter()
            .any(|h| h.name == HeaderName::MimeVersion)
        {
            top_edits.push(HeaderEdit::Set {
                name: "MIME-Version".into(),
                value: "1.0".into(),
            });
        }
        top_edits.push(HeaderEdit::Set {
            name: "Content-Type".into(),
            value: ct,
        });
        top_edits.push(HeaderEdit::Set {
            name: "Content-Transfer-Encoding".into(),
            value: cte_value.into(),
        });
        return Ok(Change {
            id,
            range: body_start..raw.len(),
            bytes: encoded,
            expected,
            top_edits,
        });
    }

    let mut ct_line = Vec::new();
    match (ct_value, ct_field_name(&items)) {
        (Some(v), Some(name)) => {
            ct_line.extend_from_slice(name.as_bytes());
            ct_line.push(b':');
            if canonical_ct {
                ct_line.push(b' ');
            }
            ct_line.extend_from_slice(&v);
            ct_line.extend_from_slice(nl.as_bytes());
        }
        _ => ct_line = render_field("Content-Type", "text/plain; charset=utf-8", nl),
    }
    set_field(&mut items, "Content-Type", ct_line);
    set_field(
        &mut items,
        "Content-Transfer-Encoding",
        render_field("Content-Transfer-Encoding", cte_value, nl),
    );
    let mut bytes = Vec::with_capacity(end - start + encoded.len());
    write_items(raw, &items, nl, &mut bytes);
    bytes.extend_from_slice(&encoded);
    Ok(Change {
        id,
        range: start..end,
        bytes,
        expected,
        top_edits: Vec::new(),
    })
}

/// The value bytes of a raw header field: after the first colon, without
/// the final line ending.
fn field_value(raw: &[u8], range: Range<usize>) -> &[u8] {
    let field = raw.get(range).unwrap_or_default();
    let value = field
        .iter()
        .position(|&b| b == b':')
        .and_then(|c| field.get(c + 1..))
        .unwrap_or_default();
    let value = value.strip_suffix(b"\n").unwrap_or(value);
    value.strip_suffix(b"\r").unwrap_or(value)
}

fn ct_field_name(items: &[Item]) -> Option<String> {
    items.iter().find_map(|i| match i {
        Item::Field { name, .. } if name.eq_ignore_ascii_case("Content-Type") => Some(name.clone()),
        _ => None,
    })
}

/// The plain-text banner block: the banner lines, [`PLAIN_SEPARATOR`] and
/// an empty line, each ended by `nl`.
pub(crate) fn plain_block(banner: &Banner, nl: &str) -> String {
    let lines = banner.plain.trim_end_matches(['\r', '\n']);
    let mut s = String::with_capacity(lines.len() + PLAIN_SEPARATOR.len() + 8);
    for line in lines.split('\n') {
        s.push_str(line.trim_end_matches('\r'));
        s.push_str(nl);
    }
    s.push_str(PLAIN_SEPARATOR);
    s.push_str(nl);
    s.push_str(nl);
    s
}

/// Puts the changed parts into the body, in document order.
fn splice(
    raw: &[u8],
    msg: &Message<'_>,
    changes: &mut [Change],
) -> Result<BodyRewrite, NotRewritten> {
    let root = msg.parts.first().ok_or(NotRewritten::Unparseable)?;
    let body_start = root.offset_body as usize;
    changes.sort_by_key(|c| c.range.start);
    let mut body = Vec::with_capacity(raw.len().saturating_sub(body_start) + 4096);
    let mut cursor = body_start;
    let mut top_header_edits = Vec::new();
    for c in changes.iter() {
        if c.range.start < cursor || c.range.end > raw.len() || c.range.start > c.range.end {
            return Err(NotRewritten::Unparseable);
        }
        body.extend_from_slice(raw.get(cursor..c.range.start).unwrap_or_default());
        body.extend_from_slice(&c.bytes);
        cursor = c.range.end;
        top_header_edits.extend(c.top_edits.iter().cloned());
    }
    body.extend_from_slice(raw.get(cursor..).unwrap_or_default());
    Ok(BodyRewrite {
        top_header_edits,
        body,
        parts_changed: changes.len(),
    })
}

/// Parses the rewritten message and checks that it has the same parts and
/// that every changed part reads back as the text we meant.
fn self_check(
    raw: &[u8],
    msg: &Message<'_>,
    rewrite: &BodyRewrite,
    changes: &[Change],
) -> Result<(), NotRewritten> {
    let edits = MessageEdits {
        body: Some(rewrite.clone()),
        ..MessageEdits::default()
    };
    let out = apply_parsed(raw, Some(msg), &edits);
    let again = parse(&out).ok_or(NotRewritten::SelfCheckFailed)?;
    if again.parts.len() != msg.parts.len() {
        return Err(NotRewritten::SelfCheckFailed);
    }
    for c in changes {
        let (Some(before), Some(after)) = (msg.parts.get(c.id), again.parts.get(c.id)) else {
            return Err(NotRewritten::SelfCheckFailed);
        };
        let same = match (&before.body, &after.body) {
            (PartType::Text(_), PartType::Text(t)) | (PartType::Html(_), PartType::Html(t)) => {
                t.as_ref() == c.expected
            }
            _ => false,
        };
        if !same || after.is_encoding_problem {
            return Err(NotRewritten::SelfCheckFailed);
        }
    }
    Ok(())
}
