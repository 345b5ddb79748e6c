//! Where the banner goes in an HTML document: right after the `<body ...>`
//! start tag.
//!
//! A full HTML parser (lol_html) would be the heavy tool for one question,
//! so this is a small scanner that follows the tokenizer rules that matter
//! for it: comments (`<!-- <body> -->` is not a body tag), doctype and
//! processing instructions, quoted attribute values (`title="<body>"`), the
//! raw-text elements whose content is not markup (`<script>`, `<style>`,
//! `<title>`, `<textarea>`...), case-insensitive names and `<bodyx>` not
//! being `<body>`. It is linear in the input and never panics.

/// Elements whose content is text up to their end tag.
const RAW_TEXT: &[&str] = &[
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes",
];

/// Byte offset in `html` where the banner goes: after the first real
/// `<body>` start tag; without one, after `</head>`, else after the `<html>`
/// start tag (when no `<head>` follows), else after the doctype, else 0.
/// Always a character boundary.
pub(crate) fn insertion_point(html: &str) -> usize {
    let b = html.as_bytes();
    let mut i = 0usize;
    let mut after_head_end = None;
    let mut after_html = None;
    let mut after_doctype = None;
    let mut head_seen = false;
    while let Some(rel) = b.get(i..).and_then(|s| s.iter().position(|&c| c == b'<')) {
        let lt = i + rel;
        let rest = b.get(lt..).unwrap_or_default();
        if rest.starts_with(b"<!--") {
            match find(b, b"-->", lt + 4) {
                Some(end) => i = end + 3,
                None => break,
            }
            continue;
        }
        if rest.starts_with(b"<!") || rest.starts_with(b"<?") {
            let Some(gt) = find(b, b">", lt + 2) else {
                break;
            };
            if rest
                .get(..9)
                .is_some_and(|d| d.eq_ignore_ascii_case(b"<!doctype"))
            {
                after_doctype = Some(gt + 1);
            }
            i = gt + 1;
            continue;
        }
        if rest.starts_with(b"</") {
            let name = tag_name(b, lt + 2);
            let Some(gt) = find(b, b">", lt + 2) else {
                break;
            };
            if name.eq_ignore_ascii_case(b"head") {
                after_head_end = Some(gt + 1);
            }
            i = gt + 1;
            continue;
        }
        if !rest.get(1).is_some_and(u8::is_ascii_alphabetic) {
            i = lt + 1;
            continue;
        }
        let name = tag_name(b, lt + 1);
        let Some(gt) = tag_end(b, lt + 1 + name.len()) else {
            break;
        };
        if name.eq_ignore_ascii_case(b"body") {
            return gt + 1;
        }
        if name.eq_ignore_ascii_case(b"html") {
            after_html = Some(gt + 1);
        } else if name.eq_ignore_ascii_case(b"head") {
            head_seen = true;
        } else if name.eq_ignore_ascii_case(b"plaintext") {
            break;
        }
        i = gt + 1;
        if let Some(raw) = RAW_TEXT
            .iter()
            .find(|r| name.eq_ignore_ascii_case(r.as_bytes()))
        {
            let closing = format!("</{raw}");
            match find_ci(b, closing.as_bytes(), i) {
                Some(pos) => i = pos,
                None => break,
            }
        }
    }
    after_head_end
        .or(if head_seen { None } else { after_html })
        .or(after_doctype)
        .unwrap_or(0)
}

/// The tag name starting at `at`: up to whitespace, `/` or `>`.
fn tag_name(b: &[u8], at: usize) -> &[u8] {
    let rest = b.get(at..).unwrap_or_default();
    let len = rest
        .iter()
        .position(|&c| c.is_ascii_whitespace() || c == b'/' || c == b'>')
        .unwrap_or(rest.len());
    rest.get(..len).unwrap_or_default()
}

/// Offset of the `>` ending a start tag whose attributes begin at `at`;
/// quoted attribute values may hold `>`.
fn tag_end(b: &[u8], at: usize) -> Option<usize> {
    let mut k = at;
    while let Some(&c) = b.get(k) {
        match c {
            b'>' => return Some(k),
            b'=' => {
                k += 1;
                while b.get(k).is_some_and(u8::is_ascii_whitespace) {
                    k += 1;
                }
                if let Some(&q) = b.get(k).filter(|&&q| q == b'"' || q == b'\'') {
                    let close = b.get(k + 1..)?.iter().position(|&c| c == q)?;
                    k += close + 2;
                }
            }
            _ => k += 1,
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn find_ci(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::insertion_point;

    fn at(html: &str) -> &str {
        &html[insertion_point(html)..]
    }

    #[test]
    fn finds_the_real_body_tag() {
        assert_eq!(at("<html><BODY class=x>hi"), "hi");
        assert_eq!(at("<!-- <body> --><body>x"), "x");
        assert_eq!(at("<div title=\"<body>\"><body a='>'>y"), "y");
        assert_eq!(at("<script>var s='<body>';</script><body>z"), "z");
        assert_eq!(at("<STYLE>body{}</style><bodyx><body>w"), "w");
        assert_eq!(at("<title><body></TITLE><body >v"), "v");
    }

    #[test]
    fn falls_back_without_a_body_tag() {
        assert_eq!(at("<p>Xin chào</p>"), "<p>Xin chào</p>");
        assert_eq!(at("<html><head><title>t</title></head><p>a"), "<p>a");
        assert_eq!(at("<!DOCTYPE html><p>a"), "<p>a");
        assert_eq!(at("<html><p>a"), "<p>a");
        assert_eq!(at("<!-- never closed <body>"), "<!-- never closed <body>");
        assert_eq!(at("<body"), "<body");
    }
}
