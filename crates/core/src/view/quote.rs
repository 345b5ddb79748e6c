//! Which parts of a text are the sender's own words and which are quoted or
//! forwarded mail.
//!
//! A user forwarding a phish to the report address, or a reply that quotes the
//! previous message, carries someone else's words. The checks weigh the
//! sender's own text; quoted text is kept apart. Quoting is recognised from
//! structure, never from a particular message: reply lines starting with `>`,
//! and everything after a forward or reply header written by the common mail
//! clients, in English and Vietnamese (Gmail, Outlook, Thunderbird, Zimbra,
//! Apple Mail).

use std::ops::Range;

/// Markers that start a forwarded or original message; everything after
/// them in the same text is quoted. Compared on lower-cased lines.
const FORWARD_MARKERS: &[&str] = &[
    "---------- forwarded message",
    "-------- forwarded message",
    "----- forwarded message",
    "-------- original message",
    "----- original message",
    "-----original message-----",
    "begin forwarded message",
    "forwarded message follows",
    "thư đã chuyển tiếp",
    "thư chuyển tiếp",
    "tin nhắn đã chuyển tiếp",
    "tin nhắn chuyển tiếp",
    "thư được chuyển tiếp",
    "---------- thư gốc",
    "-------- thư gốc",
    "----- thư gốc",
    "thư gốc -----",
    "nội dung thư gốc",
];

/// Header names that open an Outlook/Zimbra-style quoted header block
/// (`From: … / Sent: … / To: … / Subject: …`).
const HEADER_BLOCK_FIRST: &[&str] = &["from:", "từ:", "người gửi:"];
const HEADER_BLOCK_NEXT: &[&str] = &[
    "sent:",
    "date:",
    "to:",
    "subject:",
    "gửi:",
    "ngày:",
    "đến:",
    "tới:",
    "chủ đề:",
    "tiêu đề:",
    "đã gửi:",
    "thời gian:",
];

/// Longest line that can be a forward marker or a quoted header line.
const MAX_MARKER_LINE: usize = 160;

/// Returns the quoted byte ranges of `text` (sorted, non-overlapping).
pub fn quoted_ranges(text: &str) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    let lines: Vec<(usize, &str)> = line_spans(text);
    let mut i = 0;
    while let Some(&(start, line)) = lines.get(i) {
        let trimmed = line.trim_start();
        // Markers and header lines are short; long lines are prose.
        let candidate =
            trimmed.len() <= MAX_MARKER_LINE && !trimmed.is_empty() && !trimmed.starts_with('>');
        let lower = if candidate {
            trimmed.to_lowercase()
        } else {
            String::new()
        };
        if candidate
            && (is_forward_marker(&lower)
                || is_header_block(&lines, i)
                || is_reply_intro(&lower, &lines, i))
        {
            out.push(start..text.len());
            break;
        }
        if trimmed.starts_with('>') {
            let end = start + line.len();
            match out.last_mut() {
                Some(r) if r.end + 1 >= start => r.end = end,
                _ => out.push(start..end),
            }
        }
        i += 1;
    }
    out
}

fn line_spans(text: &str) -> Vec<(usize, &str)> {
    let mut v = Vec::new();
    let mut pos = 0;
    for line in text.split('\n') {
        v.push((pos, line));
        pos += line.len() + 1;
    }
    v
}

fn is_forward_marker(lower: &str) -> bool {
    let l = lower.trim_start_matches(['-', ' ', '*', '_', '=']);
    FORWARD_MARKERS.iter().any(|m| {
        let m = m.trim_start_matches(['-', ' ']);
        l.starts_with(m)
    }) || (lower.starts_with("-----") && lower.contains("original message"))
}

/// `From: x` followed within three lines by `Sent:`/`Date:`/`Subject:`…
fn is_header_block(lines: &[(usize, &str)], i: usize) -> bool {
    let Some(&(_, first)) = lines.get(i) else {
        return false;
    };
    let first = first.trim_start().to_lowercase();
    if !HEADER_BLOCK_FIRST.iter().any(|p| first.starts_with(p)) {
        return false;
    }
    let mut found = 0;
    for (_, l) in lines.iter().skip(i + 1).take(4) {
        let l = l.trim_start().to_lowercase();
        if HEADER_BLOCK_NEXT.iter().any(|p| l.starts_with(p)) {
            found += 1;
        }
    }
    found >= 2
}

/// "On Mon, 3 Jan 2026, X wrote:" / "Vào … , X đã viết:" followed by quoted lines.
fn is_reply_intro(lower: &str, lines: &[(usize, &str)], i: usize) -> bool {
    let t = lower.trim_end();
    let intro = (t.starts_with("on ") && t.ends_with("wrote:"))
        || (t.starts_with("vào ") && (t.ends_with("đã viết:") || t.ends_with("viết:")))
        || t.ends_with("đã viết:");
    intro
        && lines
            .iter()
            .skip(i + 1)
            .take(3)
            .any(|(_, l)| l.trim_start().starts_with('>') || l.trim().is_empty())
}

/// Splits `text` into the sender's own words and the quoted words.
pub fn split_own_and_quoted(text: &str, quoted: &[Range<usize>]) -> (String, String) {
    if quoted.is_empty() {
        return (text.to_string(), String::new());
    }
    let mut ranges: Vec<Range<usize>> = quoted.to_vec();
    ranges.sort_by_key(|r| r.start);
    let mut own = String::with_capacity(text.len());
    let mut q = String::new();
    let mut pos = 0;
    for r in ranges {
        let start = r.start.max(pos).min(text.len());
        let end = r.end.min(text.len());
        if start > pos {
            own.push_str(safe_slice(text, pos, start));
            own.push('\n');
        }
        if end > start {
            q.push_str(safe_slice(text, start, end));
            q.push('\n');
        }
        pos = pos.max(end);
    }
    if pos < text.len() {
        own.push_str(safe_slice(text, pos, text.len()));
    }
    (own, q)
}

/// `text[a..b]` widened to char boundaries, never panicking.
fn safe_slice(text: &str, mut a: usize, mut b: usize) -> &str {
    while a > 0 && !text.is_char_boundary(a) {
        a -= 1;
    }
    while b < text.len() && !text.is_char_boundary(b) {
        b += 1;
    }
    text.get(a..b).unwrap_or("")
}

/// Whether a byte offset falls in one of the ranges.
pub fn in_ranges(pos: usize, ranges: &[Range<usize>]) -> bool {
    ranges.iter().any(|r| r.contains(&pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_marker_quotes_the_rest() {
        let t = "Em gửi anh chị thư nghi lừa đảo.\n\n---------- Forwarded message ---------\nFrom: x\nXác minh tài khoản";
        let r = quoted_ranges(t);
        let (own, q) = split_own_and_quoted(t, &r);
        assert!(own.contains("nghi lừa đảo"));
        assert!(!own.contains("Xác minh"));
        assert!(q.contains("Xác minh"));
        let vi =
            "Nhờ kiểm tra giúp\n-------- Thư đã chuyển tiếp --------\nTiêu đề: x\nNâng cấp hộp thư";
        let (own, _) = split_own_and_quoted(vi, &quoted_ranges(vi));
        assert!(!own.contains("Nâng cấp"));
    }

    #[test]
    fn outlook_header_block_and_reply_lines() {
        let t =
            "Thanks, see below\nFrom: A <a@x.example>\nSent: Monday\nTo: b\nSubject: hi\nold text";
        let (own, q) = split_own_and_quoted(t, &quoted_ranges(t));
        assert!(!own.contains("old text"));
        assert!(q.contains("old text"));
        let r = "ok\n> quoted 1\n> quoted 2\nmine";
        let (own, q) = split_own_and_quoted(r, &quoted_ranges(r));
        assert!(own.contains("mine") && own.contains("ok"));
        assert!(q.contains("quoted 1") && q.contains("quoted 2"));
    }

    #[test]
    fn a_from_line_alone_is_not_a_quote() {
        let t = "From: the IT centre\nPlease update";
        assert!(quoted_ranges(t).is_empty());
    }
}
