//! [`ReplyText`]: a validated custom SMTP reply for `SMFIR_REPLYCODE` (`y`).
//!
//! The rules are the strictest ones any MTA applies (reference §8), so one
//! text passes libmilter, Sendmail and the Postfix 3.12 multi-line check:
//!
//! - code 400..=599 (libmilter refuses other first digits, Postfix calls
//!   them malformed and tempfails everything after);
//! - enhanced code `c.s.d`, 1-3 digits after each dot, class equal to the
//!   first digit (Postfix); `4.0.0`/`5.0.0` when none is given, as
//!   `smfi_setmlreply` does;
//! - 1 to 32 lines, at most 980 bytes of text each before `%` doubling;
//! - printable ASCII and tab only: no CR, LF, NUL or other control byte
//!   inside a line, and no 8-bit text (SMTP replies are ASCII unless the
//!   session negotiated SMTPUTF8, which a milter cannot know);
//! - every `%` doubled on the wire (Sendmail uses the text as a printf
//!   format; Postfix turns `%%` back into `%`).
//!
//! Wire form: `550 5.7.1 text` or `451-4.7.1 a\r\n451 4.7.1 b`, no trailing
//! CRLF, NUL-terminated by the encoder.

use crate::consts::{MAX_REPLY_LINE, MAX_REPLY_LINES};

/// Why a reply text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// The code is not 4xx or 5xx.
    #[error("SMTP reply code {0} is not 4xx or 5xx")]
    BadCode(u16),
    /// The enhanced status code is not `c.s.d` with 1-3 digit parts.
    #[error("malformed enhanced status code {0:?}")]
    BadEnhanced(String),
    /// The enhanced code's class differs from the reply's first digit.
    #[error("enhanced code {enhanced} does not match reply code {code}")]
    ClassMismatch {
        /// Reply code.
        code: u16,
        /// Enhanced code.
        enhanced: String,
    },
    /// More than 32 lines.
    #[error("{0} reply lines; at most 32 are allowed")]
    TooManyLines(usize),
    /// A line longer than 980 bytes.
    #[error("reply line {line} is {len} bytes; at most 980 are allowed")]
    LineTooLong {
        /// 0-based line number.
        line: usize,
        /// Its length.
        len: usize,
    },
    /// CR, LF, NUL, another control byte or non-ASCII inside a line.
    #[error("reply line {0} contains a control or non-ASCII byte")]
    BadChar(usize),
    /// Wire text that does not have the `ddd[-| ]x.y.z text` layout (from
    /// [`ReplyText::parse`]).
    #[error("malformed reply text: {0}")]
    Malformed(&'static str),
}

/// A validated custom SMTP reply. Construct with [`ReplyText::new`]; the
/// stored lines are the caller's text (not yet `%`-doubled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyText {
    code: u16,
    enhanced: String,
    lines: Vec<String>,
}

impl ReplyText {
    /// Validate a reply. `lines` empty means one empty text line.
    ///
    /// ```
    /// use phishgate_milter::ReplyText;
    /// let r = ReplyText::new(550, Some("5.7.1"), &["no 100% phish"]).unwrap();
    /// assert_eq!(r.to_wire(), "550 5.7.1 no 100%% phish");
    /// let r = ReplyText::new(451, None, &["a", "b"]).unwrap();
    /// assert_eq!(r.to_wire(), "451-4.0.0 a\r\n451 4.0.0 b");
    /// ```
    pub fn new(code: u16, enhanced: Option<&str>, lines: &[&str]) -> Result<Self, ReplyError> {
        if !(400..=599).contains(&code) {
            return Err(ReplyError::BadCode(code));
        }
        let class = if code >= 500 { '5' } else { '4' };
        let enhanced = match enhanced {
            None => format!("{class}.0.0"),
            Some(e) => {
                if !is_enhanced(e) {
                    return Err(ReplyError::BadEnhanced(e.to_owned()));
                }
                if !e.starts_with(class) {
                    return Err(ReplyError::ClassMismatch {
                        code,
                        enhanced: e.to_owned(),
                    });
                }
                e.to_owned()
            }
        };
        let lines: Vec<String> = if lines.is_empty() {
            vec![String::new()]
        } else {
            lines.iter().map(|l| (*l).to_owned()).collect()
        };
        if lines.len() > MAX_REPLY_LINES {
            return Err(ReplyError::TooManyLines(lines.len()));
        }
        for (i, l) in lines.iter().enumerate() {
            if l.len() > MAX_REPLY_LINE {
                return Err(ReplyError::LineTooLong {
                    line: i,
                    len: l.len(),
                });
            }
            if l.bytes()
                .any(|b| !(b == b'\t' || (0x20..0x7f).contains(&b)))
            {
                return Err(ReplyError::BadChar(i));
            }
        }
        Ok(Self {
            code,
            enhanced,
            lines,
        })
    }

    /// The 3-digit reply code.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The enhanced status code (`5.7.1`).
    pub fn enhanced(&self) -> &str {
        &self.enhanced
    }

    /// The text lines as given (not `%`-doubled).
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The wire text without its terminating NUL.
    pub fn to_wire(&self) -> String {
        let mut s = String::new();
        let last = self.lines.len().saturating_sub(1);
        for (i, l) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            s.push_str(&format!("{}{sep}{}", self.code, self.enhanced));
            if !l.is_empty() {
                s.push(' ');
                s.push_str(&l.replace('%', "%%"));
            }
            if i != last {
                s.push_str("\r\n");
            }
        }
        s
    }

    /// Parse wire text (MTA side, e.g. the load generator reading a `y`).
    /// Accepts the strict form only: the same code on every line, `-` on
    /// all but the last, CRLF between lines, `%` doubled. A missing
    /// enhanced code becomes the class default.
    pub fn parse(wire: &str) -> Result<Self, ReplyError> {
        let raw: Vec<&str> = wire.split("\r\n").collect();
        let mut code = None;
        let mut enhanced: Option<&str> = None;
        let mut lines = Vec::with_capacity(raw.len());
        let last = raw.len().saturating_sub(1);
        for (i, l) in raw.iter().enumerate() {
            let digits = l
                .get(..3)
                .ok_or(ReplyError::Malformed("line shorter than a code"))?;
            let c: u16 = digits
                .parse()
                .ok()
                .filter(|_| digits.bytes().all(|b| b.is_ascii_digit()))
                .ok_or(ReplyError::Malformed("no 3-digit code"))?;
            if *code.get_or_insert(c) != c {
                return Err(ReplyError::Malformed("code differs between lines"));
            }
            let rest = l.get(3..).unwrap_or_default();
            let want = if i == last { ' ' } else { '-' };
            let rest = match rest.strip_prefix(want) {
                Some(r) => r,
                None if rest.is_empty() && i == last => "",
                None => return Err(ReplyError::Malformed("bad separator after code")),
            };
            let (enh, text) = match rest.split_once(' ') {
                Some((e, t)) if is_enhanced(e) => (Some(e), t),
                None if is_enhanced(rest) => (Some(rest), ""),
                _ => (None, rest),
            };
            match (enhanced, enh) {
                (None, Some(e)) if i == 0 => enhanced = Some(e),
                (Some(a), Some(b)) if a == b => {}
                (None, None) => {}
                _ => return Err(ReplyError::Malformed("enhanced code differs between lines")),
            }
            lines.push(undouble(text)?);
        }
        let code = code.ok_or(ReplyError::Malformed("empty"))?;
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        Self::new(code, enhanced, &refs)
    }
}

/// `class.subject.detail`: a digit, then two parts of 1-3 digits.
fn is_enhanced(s: &str) -> bool {
    let mut parts = s.split('.');
    let ok = |p: Option<&str>, max: usize| {
        p.is_some_and(|p| (1..=max).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
    };
    ok(parts.next(), 1) && ok(parts.next(), 3) && ok(parts.next(), 3) && parts.next().is_none()
}

fn undouble(s: &str) -> Result<String, ReplyError> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '%' && it.next() != Some('%') {
            return Err(ReplyError::Malformed("single % in reply text"));
        }
        out.push(c);
    }
    Ok(out)
}
