//! Header blocks as byte ranges, header value encoding (RFC 2047) and
//! folding, and the Content-Type charset edit.
//!
//! A header block is read from mail-parser's field offsets rather than by a
//! second, home-made header parser: the splice must agree byte for byte with
//! the parser that chose the parts, including on odd input (lines without a
//! colon, whitespace-only lines). Bytes between fields that the parser
//! skipped are kept as verbatim gaps.

use std::ops::Range;

use mail_parser::MessagePart;

use crate::encode::push_hex;

/// Longest header line we write, without the line ending (RFC 5322 asks for
/// fewer than 78 characters).
const MAX_LINE: usize = 77;
/// Longest RFC 2047 encoded word (RFC 2047 section 2).
const MAX_ENCODED_WORD: usize = 75;
/// `=?UTF-8?Q?` + `?=`.
const ENCODED_WORD_OVERHEAD: usize = 12;

/// One piece of a header block.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// A header field as it was, by byte range (name to end of its last line).
    Field {
        /// Name as the parser read it (canonical spelling for the fields it
        /// knows, as written for the others).
        name: String,
        /// Bytes of the whole field in the raw message.
        range: Range<usize>,
    },
    /// Bytes kept verbatim: gaps the parser skipped and the empty line that
    /// ends the block.
    Raw(Range<usize>),
    /// A new or replaced field, already rendered with its line ending.
    New(Vec<u8>),
}

impl Item {
    /// The field name when this is an original field.
    pub(crate) fn name(&self) -> Option<&str> {
        match self {
            Item::Field { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// The header block of `part` (`offset_header..offset_body`) as items, or
/// None when the offsets do not fit `raw`.
pub(crate) fn block_items(raw: &[u8], part: &MessagePart<'_>) -> Option<Vec<Item>> {
    let start = part.offset_header as usize;
    let end = part.offset_body as usize;
    if start > end || end > raw.len() {
        return None;
    }
    let mut items = Vec::with_capacity(part.headers.len() + 2);
    let mut cursor = start;
    for h in &part.headers {
        let f = h.offset_field as usize;
        let s = h.offset_start as usize;
        let e = h.offset_end as usize;
        if f < cursor || s < f || e < s || e > end {
            return None;
        }
        if f > cursor {
            items.push(Item::Raw(cursor..f));
        }
        // The name as the parser understood it (it forgives oddities such
        // as whitespace inside a name), so that edits hit the same field
        // the parser reads.
        let name = h.name.as_str().trim().to_string();
        items.push(Item::Field { name, range: f..e });
        cursor = e;
    }
    if end > cursor {
        items.push(Item::Raw(cursor..end));
    }
    Some(items)
}

/// Renders `name: value` with the line ending `nl` (folds in `value` written
/// as CRLF are converted to `nl`).
pub(crate) fn render_field(name: &str, value: &str, nl: &str) -> Vec<u8> {
    let mut line = String::with_capacity(name.len() + value.len() + 4);
    line.push_str(name);
    line.push_str(": ");
    if nl == "\r\n" {
        line.push_str(value);
    } else {
        line.push_str(&value.replace("\r\n", nl));
    }
    line.push_str(nl);
    line.into_bytes()
}

/// Replaces the first field called `name` with `line`, or inserts `line`
/// after the last field when there is none.
pub(crate) fn set_field(items: &mut Vec<Item>, name: &str, line: Vec<u8>) {
    if let Some(pos) = items
        .iter()
        .position(|i| i.name().is_some_and(|n| n.eq_ignore_ascii_case(name)))
    {
        if let Some(slot) = items.get_mut(pos) {
            *slot = Item::New(line);
        }
        return;
    }
    let after_last = items
        .iter()
        .rposition(|i| !matches!(i, Item::Raw(_)))
        .map_or(0, |p| p + 1);
    items.insert(after_last, Item::New(line));
}

/// Writes the items of a header block.
pub(crate) fn write_items(raw: &[u8], items: &[Item], nl: &str, out: &mut Vec<u8>) {
    for item in items {
        match item {
            Item::Field { range, .. } | Item::Raw(range) => {
                out.extend_from_slice(raw.get(range.clone()).unwrap_or_default());
            }
            Item::New(line) => {
                // A field cut off at the end of input has no line ending;
                // the new one must not be glued to it. (Whitespace the
                // parser skipped before a field stays in front of it: a
                // line break there would end the header block.)
                if out
                    .last()
                    .is_some_and(|&b| !matches!(b, b'\n' | b' ' | b'\t'))
                {
                    out.extend_from_slice(nl.as_bytes());
                }
                out.extend_from_slice(line);
            }
        }
    }
}

/// Splits a header value at top-level `;` (not inside quotes or comments).
fn split_params(value: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_quote = false;
    let mut comment = 0usize;
    let mut escaped = false;
    for (i, &b) in value.iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if in_quote || comment > 0 => escaped = true,
            b'"' if comment == 0 => in_quote = !in_quote,
            b'(' if !in_quote => comment += 1,
            b')' if !in_quote && comment > 0 => comment -= 1,
            b';' if !in_quote && comment == 0 => {
                out.push(value.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value.get(start..).unwrap_or_default());
    out
}

/// True for a `charset=` parameter, also in its RFC 2231 forms
/// (`charset*=`, `charset*0=`).
fn is_charset_param(seg: &[u8]) -> bool {
    let t = seg.trim_ascii_start();
    let Some(head) = t.get(..7) else {
        return false;
    };
    if !head.eq_ignore_ascii_case(b"charset") {
        return false;
    }
    matches!(
        t.get(7..)
            .map(<[u8]>::trim_ascii_start)
            .and_then(|r| r.first()),
        Some(b'=') | Some(b'*')
    )
}

/// The raw Content-Type value with its charset set to utf-8: the first
/// charset parameter is replaced in place (keeping its folding), any other
/// is dropped, and one is appended when there was none. Every other
/// parameter stays as written.
pub(crate) fn content_type_utf8(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 16);
    let mut replaced = false;
    for (i, seg) in split_params(value).into_iter().enumerate() {
        if i > 0 && is_charset_param(seg) {
            if !replaced {
                let ws = seg.len() - seg.trim_ascii_start().len();
                out.push(b';');
                out.extend_from_slice(seg.get(..ws).unwrap_or_default());
                out.extend_from_slice(b"charset=utf-8");
                replaced = true;
            }
            continue;
        }
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(seg);
    }
    if !replaced {
        while out.last().is_some_and(u8::is_ascii_whitespace) {
            out.pop();
        }
        if out.last() == Some(&b';') {
            out.extend_from_slice(b" charset=utf-8");
        } else {
            out.extend_from_slice(b"; charset=utf-8");
        }
    }
    out
}

/// A Content-Type written afresh from the parsed type and parameters, with
/// `charset=utf-8`: the fallback when the value as written reads back
/// differently after the in-place edit (hostile or broken syntax).
pub(crate) fn content_type_canonical(ct: &mail_parser::ContentType<'_>) -> String {
    let mut s = format!(
        "{}/{}",
        ct.ctype().to_ascii_lowercase(),
        ct.subtype().unwrap_or("plain").to_ascii_lowercase()
    );
    for a in ct.attributes().unwrap_or_default() {
        let name: String = a
            .name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        if name.is_empty() || name.eq_ignore_ascii_case("charset") {
            continue;
        }
        s.push_str("; ");
        s.push_str(&name);
        if a.value.is_ascii() && !a.value.chars().any(|c| c.is_ascii_control()) {
            s.push_str("=\"");
            for c in a.value.chars() {
                if c == '"' || c == '\\' {
                    s.push('\\');
                }
                s.push(c);
            }
            s.push('"');
        } else {
            // RFC 2231 extended value.
            s.push_str("*=utf-8''");
            for b in a.value.bytes() {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                    s.push(char::from(b));
                } else {
                    s.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    s.push_str("; charset=utf-8");
    s
}

/// Unfolds a raw header value: each line break and the whitespace around
/// it become one space; the result is trimmed.
pub(crate) fn unfold(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, line) in value.split('\n').enumerate() {
        let line = line.trim_end_matches('\r');
        if i > 0 {
            let line = line.trim_start_matches([' ', '\t']);
            let kept = out.trim_end_matches([' ', '\t']).len();
            out.truncate(kept);
            out.push(' ');
            out.push_str(line);
        } else {
            out.push_str(line);
        }
    }
    out.trim().to_string()
}

/// Folds an ASCII value at whitespace so lines stay under 78 characters,
/// the first line starting after `name: `. A word longer than a line stays
/// whole. Unfolding (removing the inserted CRLFs) gives back `value`.
pub(crate) fn fold_ascii(name: &str, value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    let mut col = name.len() + 2;
    let mut line_has_word = false;
    let mut rest = value;
    while !rest.is_empty() {
        let ws_len = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        let after_ws = rest.get(ws_len..).unwrap_or_default();
        let word_len = after_ws.find([' ', '\t']).unwrap_or(after_ws.len());
        let chunk_len = ws_len + word_len;
        let chunk = rest.get(..chunk_len).unwrap_or_default();
        if line_has_word && ws_len > 0 && col + chunk_len > MAX_LINE {
            out.push_str("\r\n");
            col = 0;
        }
        out.push_str(chunk);
        col += chunk_len;
        line_has_word = true;
        rest = rest.get(chunk_len..).unwrap_or_default();
    }
    out
}

/// Encodes a header value for writing after `name: `.
///
/// Printable ASCII is only folded (at whitespace, lines under 78
/// characters). Anything else (non-ASCII, control characters, text that
/// looks like an encoded word, or a word too long to fold) is written as
/// RFC 2047 encoded words in UTF-8, Q or B whichever is shorter, each word at
/// most 75 characters and never splitting a character, one word per line
/// after the first, folded with CRLF + space. The value comes back without a
/// leading space; the first word always shares the line with the name, so
/// only a name longer than about 50 characters makes that line longer.
pub fn encode_header_value(name: &str, value: &str) -> String {
    let plain_ok = value
        .chars()
        .all(|c| c == ' ' || c == '\t' || c.is_ascii_graphic())
        && !value.contains("=?")
        && value
            .split([' ', '\t'])
            .all(|w| w.len() <= MAX_LINE - 1 - ENCODED_WORD_OVERHEAD);
    if plain_ok {
        return fold_ascii(name, value);
    }
    encode_words(name, value)
}

/// Characters a Q encoded word may carry literally (RFC 2047 section 5,
/// the strictest set, valid in every position).
fn q_literal(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '!' | '*' | '+' | '-' | '/')
}

/// Length of `c` in a Q encoded word.
fn q_len(c: char) -> usize {
    if q_literal(c) || c == ' ' {
        1
    } else {
        3 * c.len_utf8()
    }
}

fn push_q(c: char, out: &mut String) {
    if q_literal(c) {
        out.push(c);
    } else if c == ' ' {
        out.push('_');
    } else {
        let mut buf = [0u8; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            push_hex(b, out);
        }
    }
}

/// The whole value as a sequence of encoded words.
fn encode_words(name: &str, value: &str) -> String {
    let q_total: usize = value.chars().map(q_len).sum();
    let b_total = value.len().div_ceil(3) * 4;
    let use_q = q_total <= b_total;
    // The first word shares its line with `name: `; keep room for a
    // 4-byte character in any case.
    let first_room = MAX_LINE
        .saturating_sub(name.len() + 2)
        .clamp(ENCODED_WORD_OVERHEAD + 12, MAX_ENCODED_WORD);
    let mut words: Vec<String> = Vec::new();
    let mut chunk = String::new();
    let mut chunk_len = 0usize;
    let room = |words: &Vec<String>| {
        if words.is_empty() {
            first_room - ENCODED_WORD_OVERHEAD
        } else {
            MAX_ENCODED_WORD - ENCODED_WORD_OVERHEAD
        }
    };
    for c in value.chars() {
        let fits = if use_q {
            chunk_len + q_len(c) <= room(&words)
        } else {
            (chunk.len() + c.len_utf8()).div_ceil(3) * 4 <= room(&words)
        };
        if !fits && !chunk.is_empty() {
            words.push(finish_word(&chunk, use_q));
            chunk.clear();
            chunk_len = 0;
        }
        chunk.push(c);
        chunk_len += q_len(c);
    }
    if !chunk.is_empty() || words.is_empty() {
        words.push(finish_word(&chunk, use_q));
    }
    words.join("\r\n ")
}

fn finish_word(chunk: &str, use_q: bool) -> String {
    let mut w = String::with_capacity(chunk.len() * 3 + ENCODED_WORD_OVERHEAD);
    if use_q {
        w.push_str("=?UTF-8?Q?");
        for c in chunk.chars() {
            push_q(c, &mut w);
        }
    } else {
        w.push_str("=?UTF-8?B?");
        w.push_str(&crate::encode::base64(chunk.as_bytes()));
    }
    w.push_str("?=");
    w
}

/// Folds a structured value (a Content-Type) at whitespace for a
/// [`crate::HeaderEdit::Set`].
pub(crate) fn fold_structured(name: &str, value: &str) -> String {
    fold_ascii(name, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charset_replaced_in_place_and_others_kept() {
        let v = content_type_utf8(
            b" text/plain; format=flowed;\r\n\tcharset=\"windows-1258\"; delsp=yes",
        );
        assert_eq!(
            v,
            b" text/plain; format=flowed;\r\n\tcharset=utf-8; delsp=yes".to_vec()
        );
        let v = content_type_utf8(b" text/html");
        assert_eq!(v, b" text/html; charset=utf-8".to_vec());
        let v = content_type_utf8(b" text/plain; name=\"a;charset=x\"; CHARSET*=us-ascii''x");
        assert_eq!(
            v,
            b" text/plain; name=\"a;charset=x\"; charset=utf-8".to_vec()
        );
    }

    #[test]
    fn ascii_folding_keeps_lines_short_and_unfolds_back() {
        let value = "word ".repeat(40);
        let folded = fold_ascii("Subject", value.trim_end());
        for (i, line) in folded.split("\r\n").enumerate() {
            let len = line.len() + if i == 0 { 9 } else { 0 };
            assert!(len < 78, "{line:?}");
        }
        assert_eq!(folded.replace("\r\n", ""), value.trim_end());
    }
}
