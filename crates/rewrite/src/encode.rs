//! Body encoders: quoted-printable and base64, exact and line-bounded.
//!
//! "Exact" means a conforming decoder (mail-parser in particular) gives back
//! the very text we encoded: trailing whitespace before a line break is
//! escaped (decoders strip it otherwise), a line break of the part's line
//! ending is a hard break and any other CR or LF is escaped, so mixed line
//! endings survive. The quoted-printable output also never contains `--`
//! (the second dash is escaped), so no text can look like a MIME boundary,
//! even to parsers that find boundaries in mid-line, and no line starts with
//! `From ` (mbox).

/// Longest encoded line, without the line ending (RFC 2045).
const MAX_LINE: usize = 76;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 without line breaks.
pub(crate) fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        let sym = |shift: u32| {
            char::from(
                B64.get(((n >> shift) & 63) as usize)
                    .copied()
                    .unwrap_or(b'A'),
            )
        };
        out.push(sym(18));
        out.push(sym(12));
        out.push(if chunk.len() > 1 { sym(6) } else { '=' });
        out.push(if chunk.len() > 2 { sym(0) } else { '=' });
    }
    out
}

/// Base64 body in lines of 76 characters separated by `nl`; ends with `nl`
/// when `trailing_nl`.
pub(crate) fn base64_body(data: &[u8], nl: &str, trailing_nl: bool) -> Vec<u8> {
    let encoded = base64(data);
    let mut out = Vec::with_capacity(encoded.len() + encoded.len() / MAX_LINE * 2 + 2);
    for (i, line) in encoded.as_bytes().chunks(MAX_LINE).enumerate() {
        if i > 0 {
            out.extend_from_slice(nl.as_bytes());
        }
        out.extend_from_slice(line);
    }
    if trailing_nl {
        out.extend_from_slice(nl.as_bytes());
    }
    out
}

/// Quoted-printable body of `text` with `nl` as line ending: each `nl` in
/// the text is a hard line break; everything needed for an exact decode is
/// escaped (see the module docs).
pub(crate) fn quoted_printable(text: &str, nl: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 8 + 16);
    for (i, line) in text.split(nl).enumerate() {
        if i > 0 {
            out.extend_from_slice(nl.as_bytes());
        }
        qp_line(line, nl, &mut out);
    }
    out
}

/// One hard line, with soft breaks (`=` + `nl`) to keep 76 characters.
fn qp_line(line: &str, nl: &str, out: &mut Vec<u8>) {
    let mut col = 0usize;
    let mut last_dash = false;
    let mut tok = String::with_capacity(12);
    for (i, c) in line.char_indices() {
        let is_last = i + c.len_utf8() == line.len();
        // The last token of a hard line needs no room for a soft break.
        let limit = if is_last { MAX_LINE } else { MAX_LINE - 1 };
        qp_token(
            c,
            is_last,
            col,
            last_dash,
            line.get(i..).unwrap_or_default(),
            &mut tok,
        );
        if col + tok.len() > limit {
            out.push(b'=');
            out.extend_from_slice(nl.as_bytes());
            col = 0;
            last_dash = false;
            qp_token(
                c,
                is_last,
                col,
                last_dash,
                line.get(i..).unwrap_or_default(),
                &mut tok,
            );
        }
        out.extend_from_slice(tok.as_bytes());
        col += tok.len();
        last_dash = tok == "-";
    }
}

fn qp_token(c: char, is_last: bool, col: usize, last_dash: bool, rest: &str, tok: &mut String) {
    tok.clear();
    let literal = match c {
        ' ' | '\t' => !is_last,
        '-' => !last_dash,
        'F' => !(col == 0 && rest.starts_with("From ")),
        '=' => false,
        _ => c.is_ascii_graphic(),
    };
    if literal {
        tok.push(c);
    } else {
        let mut buf = [0u8; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            push_hex(b, tok);
        }
    }
}

/// Appends `=XX` (upper-case hex) for one byte.
pub(crate) fn push_hex(b: u8, out: &mut String) {
    let digit = |n: u8| {
        char::from_digit(u32::from(n), 16)
            .unwrap_or('0')
            .to_ascii_uppercase()
    };
    out.push('=');
    out.push(digit(b >> 4));
    out.push(digit(b & 15));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_known_values() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64("ế".as_bytes()), "4bq/");
    }

    #[test]
    fn qp_escapes_what_decoders_would_lose() {
        let out = quoted_printable("a \r\nb=c\t\r\n--x\r\nFrom me\nTiếng", "\r\n");
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s, "a=20\r\nb=3Dc=09\r\n-=2Dx\r\n=46rom me=0ATi=E1=BA=BFng");
    }

    #[test]
    fn qp_lines_are_bounded_and_never_split_a_character() {
        let text = "Xác minh tài khoản ".repeat(30);
        let out = String::from_utf8(quoted_printable(&text, "\r\n")).unwrap();
        for line in out.split("\r\n") {
            assert!(line.len() <= 76, "{line}");
            // A soft break never falls inside a character's escapes.
            if let Some(stripped) = line.strip_suffix('=') {
                assert!(!stripped.ends_with("=E1") && !stripped.ends_with("=BA"));
            }
        }
    }
}
