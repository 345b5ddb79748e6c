//! SMTP replies: the value type, its encoding, and an incremental parser
//! for the client side.
//!
//! A reply is one or more lines sharing a three-digit code; every line but
//! the last has `-` after the code (RFC 5321 §4.2.1). An RFC 3463 enhanced
//! status code (`x.y.z`), when present, is kept apart from the text so a
//! reply can be re-encoded for a peer that did or did not negotiate
//! `ENHANCEDSTATUSCODES`.

use std::fmt;

use crate::Error;

/// RFC 3463 enhanced status code: class (2, 4 or 5), subject, detail.
pub type EnhancedCode = (u8, u16, u16);

/// One SMTP reply, possibly multi-line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reply {
    /// Three-digit reply code (200..=599 for anything this crate sends).
    pub code: u16,
    /// Enhanced status code, written before the text of every line.
    pub enhanced: Option<EnhancedCode>,
    /// Text lines without code, separator or enhanced code. Control and
    /// non-ASCII characters are replaced by `?` when encoding, so text taken
    /// from a peer can never inject a line break.
    pub lines: Vec<String>,
}

impl Reply {
    /// A single-line reply.
    pub fn new(code: u16, enhanced: Option<EnhancedCode>, text: impl Into<String>) -> Self {
        Reply {
            code,
            enhanced,
            lines: vec![text.into()],
        }
    }

    /// A reply with the given lines (an empty list encodes as one line
    /// without text).
    pub fn with_lines(code: u16, enhanced: Option<EnhancedCode>, lines: Vec<String>) -> Self {
        Reply {
            code,
            enhanced,
            lines,
        }
    }

    /// `2xx`: positive completion.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// `3xx`: positive intermediate (`354` after `DATA`).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// `4xx`: transient failure, try again later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// `5xx`: permanent failure.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// Checks what a final reply handed to a codec must satisfy: code in
    /// 200..=599 and not 3xx, and an enhanced code of the same class.
    pub fn validate_final(&self) -> Result<(), Error> {
        if !(200..=599).contains(&self.code) || self.is_intermediate() {
            return Err(Error::InvalidReply("code must be 2xx, 4xx or 5xx"));
        }
        if let Some((class, _, _)) = self.enhanced {
            if u16::from(class) != self.code / 100 {
                return Err(Error::InvalidReply(
                    "enhanced code class differs from reply code",
                ));
            }
        }
        Ok(())
    }

    /// The text lines joined with a space (for logs).
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// Wire form, enhanced code included.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(true, &mut out);
        out
    }

    /// Appends the wire form to `out`; `with_enhanced` false drops the
    /// enhanced code (for a peer that was not offered
    /// `ENHANCEDSTATUSCODES`). The code is written as `code % 1000` padded
    /// to three digits: callers validate codes, encoding never fails.
    pub fn encode_into(&self, with_enhanced: bool, out: &mut Vec<u8>) {
        let code = format!("{:03}", self.code % 1000);
        let enhanced = match self.enhanced {
            Some((a, b, c)) if with_enhanced => Some(format!("{a}.{b}.{c}")),
            _ => None,
        };
        let empty = [String::new()];
        let lines: &[String] = if self.lines.is_empty() {
            &empty
        } else {
            &self.lines
        };
        let last = lines.len().saturating_sub(1);
        for (i, line) in lines.iter().enumerate() {
            out.extend_from_slice(code.as_bytes());
            let mut first_part = true;
            let sep = if i == last { b' ' } else { b'-' };
            if let Some(e) = &enhanced {
                out.push(sep);
                out.extend_from_slice(e.as_bytes());
                first_part = false;
            }
            if !line.is_empty() {
                out.push(if first_part { sep } else { b' ' });
                first_part = false;
                out.extend(line.chars().map(|c| {
                    if c.is_ascii() && !c.is_ascii_control() {
                        c as u8
                    } else {
                        b'?'
                    }
                }));
            }
            if first_part && i != last {
                // A continuation line needs its `-` even without text.
                out.push(b'-');
            }
            out.extend_from_slice(b"\r\n");
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some((a, b, c)) = self.enhanced {
            write!(f, " {a}.{b}.{c}")?;
        }
        for (i, l) in self.lines.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { " / " })?;
            f.write_str(l)?;
        }
        Ok(())
    }
}

/// Why a reply could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// Not `ddd`, `ddd text` or `ddd-text`, or a code outside 200..=599.
    #[error("malformed reply line")]
    Syntax,
    /// A continuation line carries a different code than the first line.
    #[error("reply code changed within a multi-line reply")]
    CodeMismatch,
    /// More lines than [`crate::Limits::max_reply_lines`].
    #[error("too many reply lines")]
    TooManyLines,
    /// A line longer than [`crate::Limits::max_reply_line`].
    #[error("reply line too long")]
    LineTooLong,
}

/// Incremental reply parser fed one complete line at a time (the caller
/// splits lines, which keeps buffering in one place).
#[derive(Debug, Clone)]
pub struct ReplyParser {
    max_lines: usize,
    code: Option<u16>,
    enhanced: Option<EnhancedCode>,
    lines: Vec<String>,
}

impl ReplyParser {
    /// A parser accepting at most `max_lines` lines per reply.
    pub fn new(max_lines: usize) -> Self {
        ReplyParser {
            max_lines,
            code: None,
            enhanced: None,
            lines: Vec::new(),
        }
    }

    /// True while a multi-line reply has started but not ended.
    pub fn in_progress(&self) -> bool {
        self.code.is_some()
    }

    /// Feeds one line (with or without its CRLF/LF). Returns the reply when
    /// this line was its last. After an error the parser is reset, but the
    /// stream is not trustworthy any more: callers treat it as fatal.
    pub fn push_line(&mut self, line: &[u8]) -> Result<Option<Reply>, ReplyError> {
        let r = self.push_inner(line);
        if r.is_err() {
            *self = ReplyParser::new(self.max_lines);
        }
        r
    }

    fn push_inner(&mut self, line: &[u8]) -> Result<Option<Reply>, ReplyError> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let (digits, rest) = line.split_at_checked(3).ok_or(ReplyError::Syntax)?;
        let mut code: u16 = 0;
        for d in digits {
            if !d.is_ascii_digit() {
                return Err(ReplyError::Syntax);
            }
            code = code * 10 + u16::from(d - b'0');
        }
        if !(200..=599).contains(&code) {
            return Err(ReplyError::Syntax);
        }
        let (last, text) = match rest.split_first() {
            None => (true, &[][..]),
            Some((b' ', t)) => (true, t),
            Some((b'-', t)) => (false, t),
            Some(_) => return Err(ReplyError::Syntax),
        };
        match self.code {
            Some(c) if c != code => return Err(ReplyError::CodeMismatch),
            _ => self.code = Some(code),
        }
        if self.lines.len() >= self.max_lines {
            return Err(ReplyError::TooManyLines);
        }
        let text = String::from_utf8_lossy(text);
        let (enh, text) = split_enhanced(code, &text);
        if self.lines.is_empty() {
            self.enhanced = enh;
        }
        self.lines.push(text.to_owned());
        if last {
            let reply = Reply {
                code,
                enhanced: self.enhanced.take(),
                lines: std::mem::take(&mut self.lines),
            };
            self.code = None;
            Ok(Some(reply))
        } else {
            Ok(None)
        }
    }
}

/// Splits a leading `x.y.z` (class matching the reply code) off `text`.
fn split_enhanced(code: u16, text: &str) -> (Option<EnhancedCode>, &str) {
    let (head, tail) = match text.split_once(' ') {
        Some((h, t)) => (h, t),
        None => (text, ""),
    };
    let mut parts = head.split('.');
    let parsed = (|| {
        let a: u8 = parse_digits(parts.next()?, 1)?.try_into().ok()?;
        let b: u16 = parse_digits(parts.next()?, 3)?;
        let c: u16 = parse_digits(parts.next()?, 3)?;
        if parts.next().is_some() || u16::from(a) != code / 100 {
            return None;
        }
        Some((a, b, c))
    })();
    match parsed {
        Some(e) => (Some(e), tail),
        None => (None, text),
    }
}

fn parse_digits(s: &str, max_len: usize) -> Option<u16> {
    if s.is_empty() || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_multiline_with_enhanced() {
        let r = Reply::with_lines(250, Some((2, 0, 0)), vec!["a".into(), "b".into()]);
        assert_eq!(r.encode(), b"250-2.0.0 a\r\n250 2.0.0 b\r\n");
        let mut out = Vec::new();
        r.encode_into(false, &mut out);
        assert_eq!(out, b"250-a\r\n250 b\r\n");
    }

    #[test]
    fn encoding_neutralises_line_breaks() {
        let r = Reply::new(451, None, "x\r\n250 ok\u{e9}");
        assert_eq!(r.encode(), b"451 x??250 ok?\r\n");
    }

    #[test]
    fn empty_text() {
        assert_eq!(Reply::with_lines(250, None, vec![]).encode(), b"250\r\n");
        assert_eq!(
            Reply::with_lines(250, None, vec![String::new(), "x".into()]).encode(),
            b"250-\r\n250 x\r\n"
        );
    }

    #[test]
    fn parses_and_roundtrips() {
        let mut p = ReplyParser::new(10);
        assert_eq!(p.push_line(b"250-mx.example\r\n"), Ok(None));
        assert!(p.in_progress());
        let r = p.push_line(b"250 2.1.0 Ok").unwrap().unwrap();
        assert_eq!(r.code, 250);
        // The code is taken from the first line; prefixes are stripped on all.
        assert_eq!(r.enhanced, None);
        assert_eq!(r.lines, vec!["mx.example", "Ok"]);
        let r = p
            .push_line(b"550 5.1.1 <x@y>: unknown\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(r.enhanced, Some((5, 1, 1)));
        assert_eq!(r.lines, vec!["<x@y>: unknown"]);
        let mut p2 = ReplyParser::new(10);
        assert_eq!(p2.push_line(&r.encode()).unwrap().unwrap(), r);
    }

    #[test]
    fn rejects_garbage() {
        let mut p = ReplyParser::new(2);
        assert_eq!(p.push_line(b"hello"), Err(ReplyError::Syntax));
        assert_eq!(p.push_line(b"25"), Err(ReplyError::Syntax));
        assert_eq!(p.push_line(b"099 x"), Err(ReplyError::Syntax));
        assert_eq!(p.push_line(b"250x"), Err(ReplyError::Syntax));
        assert_eq!(p.push_line(b"250-a"), Ok(None));
        assert_eq!(p.push_line(b"251 a"), Err(ReplyError::CodeMismatch));
        assert_eq!(p.push_line(b"250-a"), Ok(None));
        assert_eq!(p.push_line(b"250-a"), Ok(None));
        assert_eq!(p.push_line(b"250 a"), Err(ReplyError::TooManyLines));
        // A mismatched class is text, not an enhanced code.
        let r = p.push_line(b"250 5.0.0 x").unwrap().unwrap();
        assert_eq!((r.enhanced, r.lines[0].as_str()), (None, "5.0.0 x"));
    }

    #[test]
    fn validate_final() {
        assert!(Reply::new(250, Some((2, 0, 0)), "ok")
            .validate_final()
            .is_ok());
        assert!(Reply::new(354, None, "go").validate_final().is_err());
        assert!(Reply::new(199, None, "x").validate_final().is_err());
        assert!(Reply::new(451, Some((5, 0, 0)), "x")
            .validate_final()
            .is_err());
    }
}
