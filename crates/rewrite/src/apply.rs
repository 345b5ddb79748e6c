//! Building the whole new message for the SMTP content-filter path.

use mail_parser::Message;

use crate::headers::{
    block_items, encode_header_value, render_field, set_field, write_items, Item,
};
use crate::{dominant_newline, parse, HeaderEdit, MessageEdits};

/// Builds the new message: `raw` with `edits` applied.
///
/// Order of the result: the added headers (in the order given), then the
/// original header block with the removals, the subject and the body's
/// header edits applied, then the body (the new one, or the original
/// bytes). Every header line not edited keeps its bytes, folding and
/// position; the body bytes are taken as they are. New lines use the input's
/// dominant line ending.
///
/// If `raw` cannot be parsed at all, the added headers are put in front of
/// it and nothing else is changed (the other edits need a header block to
/// work on). Never panics.
pub fn apply(raw: &[u8], edits: &MessageEdits) -> Vec<u8> {
    let msg = parse(raw);
    apply_parsed(raw, msg.as_ref(), edits)
}

/// [`apply`] on an already parsed message.
pub(crate) fn apply_parsed(raw: &[u8], msg: Option<&Message<'_>>, edits: &MessageEdits) -> Vec<u8> {
    let nl = dominant_newline(raw);
    let mut out = Vec::with_capacity(raw.len() + 1024);
    for (name, value) in &edits.add_headers_top {
        let name = clean_name(name);
        if !name.is_empty() {
            out.extend_from_slice(&render_field(&name, &encode_header_value(&name, value), nl));
        }
    }
    let root = msg.and_then(|m| m.parts.first());
    let Some((root, mut items)) = root.and_then(|r| block_items(raw, r).map(|i| (r, i))) else {
        out.extend_from_slice(raw);
        return out;
    };
    items.retain(|item| {
        let Some(n) = item.name() else { return true };
        if is_removed(n, &edits.remove_headers, &edits.remove_prefixes) {
            return false;
        }
        if edits.remove_auth_results_of.is_empty() {
            return true;
        }
        let Item::Field { range, .. } = item else {
            return true;
        };
        let field = raw.get(range.clone()).unwrap_or_default();
        !claims_authserv_id(field, &edits.remove_auth_results_of)
    });
    if let Some(body) = &edits.body {
        for edit in &body.top_header_edits {
            match edit {
                HeaderEdit::Set { name, value } => {
                    let name = clean_name(name);
                    set_field(&mut items, &name, render_field(&name, value, nl));
                }
            }
        }
    }
    if let Some(subject) = &edits.set_subject {
        let line = render_field("Subject", &encode_header_value("Subject", subject), nl);
        let mut first = true;
        items.retain(|item| {
            let is_subject = item
                .name()
                .is_some_and(|n| n.eq_ignore_ascii_case("Subject"));
            if is_subject && !first {
                return false;
            }
            first &= !is_subject;
            true
        });
        set_field(&mut items, "Subject", line);
    }
    write_items(raw, &items, nl, &mut out);
    let body_start = (root.offset_body as usize).min(raw.len());
    match &edits.body {
        Some(body) => {
            // A message that ended inside its header block has no empty
            // line yet; the new body needs one.
            if !(out.ends_with(b"\n\n") || out.ends_with(b"\n\r\n")) {
                if out.last().is_some_and(|&b| b != b'\n') {
                    out.extend_from_slice(nl.as_bytes());
                }
                out.extend_from_slice(nl.as_bytes());
            }
            out.extend_from_slice(&body.body);
        }
        None => out.extend_from_slice(raw.get(body_start..).unwrap_or_default()),
    }
    out
}

/// A header name as given, without anything that would break the header
/// line (control characters, spaces, colons).
fn clean_name(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_graphic() && *c != ':')
        .collect()
}

fn is_removed(name: &str, names: &[String], prefixes: &[String]) -> bool {
    names.iter().any(|n| n.eq_ignore_ascii_case(name))
        || prefixes.iter().any(|p| {
            !p.is_empty()
                && name
                    .as_bytes()
                    .get(..p.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes()))
        })
}

/// Whether a whole raw field is an `Authentication-Results` whose
/// authserv-id (its first token, comments skipped) is one of `ids`. Any
/// field whose name reads as `Authentication-Results` once white space is
/// ignored counts, so odd spellings cannot smuggle one past.
fn claims_authserv_id(field: &[u8], ids: &[String]) -> bool {
    let Some(colon) = field.iter().position(|&b| b == b':') else {
        return false;
    };
    let (name, value) = field.split_at(colon);
    let name: Vec<u8> = name
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .copied()
        .collect();
    if !name.eq_ignore_ascii_case(b"authentication-results") {
        return false;
    }
    let value = String::from_utf8_lossy(value.get(1..).unwrap_or_default());
    let mut depth = 0usize;
    let mut cleaned = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => cleaned.push(c),
            _ => {}
        }
    }
    let id = cleaned
        .split(|c: char| c == ';' || c.is_whitespace())
        .find(|t| !t.is_empty())
        .unwrap_or("");
    ids.iter().any(|want| want.eq_ignore_ascii_case(id))
}
