//! Envelope addresses: the `<...>` paths of `MAIL FROM` and `RCPT TO`.
//!
//! The text inside the brackets is kept exactly as sent (quoting and case
//! included) so it can be replayed downstream unchanged; parsing only checks
//! the shape and finds the local-part/domain split.
//!
//! Policy: the grammar is RFC 5321's, loosened where the upstream Postfix is
//! known to be loose (it may relay local parts with empty dot-atoms such as
//! `a..b`, and domains with `_`), because refusing an address Postfix already
//! queued would bounce mail. Source routes (`<@a,@b:u@d>`) are accepted and
//! dropped, as RFC 5321 §4.1.2 asks. Non-ASCII (RFC 6531 UTF-8) is accepted
//! by the parser; the server then refuses it with `553 5.6.7` unless the
//! transaction's `MAIL` carried `SMTPUTF8`.

use std::fmt;

use crate::Error;

/// A mailbox from an envelope path, or the null path `<>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    raw: String,
    /// Byte index of the `@` between local part and domain; `None` for the
    /// null path and for the domain-less `<postmaster>`.
    at: Option<usize>,
}

impl Address {
    /// The null reverse path `<>` (bounces, DSNs).
    pub fn null() -> Self {
        Address {
            raw: String::new(),
            at: None,
        }
    }

    /// Parses a mailbox without brackets (`user@example.org`,
    /// `"a b"@example.org`, `postmaster`); the empty string is the null path.
    pub fn parse(mailbox: &str) -> Result<Self, Error> {
        if mailbox.is_empty() {
            return Ok(Address::null());
        }
        let local_len = local_part_len(mailbox)?;
        match mailbox.get(local_len..) {
            Some("") => {
                // RFC 5321 §4.5.1: `<Postmaster>` without a domain.
                if mailbox.eq_ignore_ascii_case("postmaster") {
                    Ok(Address {
                        raw: mailbox.to_owned(),
                        at: None,
                    })
                } else {
                    Err(Error::Address("missing @domain"))
                }
            }
            Some(rest) => {
                let domain = rest
                    .strip_prefix('@')
                    .ok_or(Error::Address("bad local part"))?;
                check_domain(domain)?;
                Ok(Address {
                    raw: mailbox.to_owned(),
                    at: Some(local_len),
                })
            }
            None => Err(Error::Address("bad local part")),
        }
    }

    /// True for `<>`.
    pub fn is_null(&self) -> bool {
        self.raw.is_empty()
    }

    /// The mailbox exactly as sent, without brackets (empty for `<>`).
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Local part as sent (quotes kept).
    pub fn local_part(&self) -> &str {
        match self.at {
            Some(i) => self.raw.get(..i).unwrap_or(""),
            None => &self.raw,
        }
    }

    /// Domain, or `""` for `<>` and `<postmaster>`.
    pub fn domain(&self) -> &str {
        match self.at {
            Some(i) => self.raw.get(i + 1..).unwrap_or(""),
            None => "",
        }
    }

    /// False if the address needs SMTPUTF8.
    pub fn is_ascii(&self) -> bool {
        self.raw.is_ascii()
    }

    /// The path as written on the wire: `<mailbox>`.
    pub fn to_path(&self) -> String {
        format!("<{}>", self.raw)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_path())
    }
}

/// Parses a path starting at `<`; returns the address and the text after
/// the closing `>`.
pub(crate) fn parse_path(s: &str) -> Result<(Address, &str), Error> {
    let inner_start = s
        .strip_prefix('<')
        .ok_or(Error::Address("path must start with <"))?;
    let end = closing_bracket(inner_start).ok_or(Error::Address("unterminated path"))?;
    let inner = inner_start
        .get(..end)
        .ok_or(Error::Address("unterminated path"))?;
    let rest = inner_start.get(end + 1..).unwrap_or("");
    let mailbox = if inner.starts_with('@') {
        // Source route: `@a,@b:mailbox`; validated loosely and dropped.
        let (route, mb) = inner
            .split_once(':')
            .ok_or(Error::Address("bad source route"))?;
        for hop in route.split(',') {
            check_domain(
                hop.strip_prefix('@')
                    .ok_or(Error::Address("bad source route"))?,
            )?;
        }
        if mb.is_empty() {
            return Err(Error::Address("empty mailbox after source route"));
        }
        mb
    } else {
        inner
    };
    Ok((Address::parse(mailbox)?, rest))
}

/// Index of the `>` closing a path, skipping quoted strings.
fn closing_bracket(s: &str) -> Option<usize> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if in_quotes {
            match c {
                '\\' => escaped = true,
                '"' => in_quotes = false,
                _ => {}
            }
        } else {
            match c {
                '"' => in_quotes = true,
                '>' => return Some(i),
                '<' => return None,
                _ => {}
            }
        }
    }
    None
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// Length in bytes of the local part at the start of `s`.
fn local_part_len(s: &str) -> Result<usize, Error> {
    if let Some(q) = s.strip_prefix('"') {
        let mut escaped = false;
        for (i, c) in q.char_indices() {
            if escaped {
                if c.is_ascii() && !(' '..='~').contains(&c) {
                    return Err(Error::Address("control character in quoted local part"));
                }
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                return Ok(i + 2);
            } else if c.is_ascii() && !(' '..='~').contains(&c) {
                return Err(Error::Address("control character in quoted local part"));
            }
        }
        Err(Error::Address("unterminated quoted local part"))
    } else {
        let len = s
            .find(|c: char| !(is_atext(c) || c == '.'))
            .unwrap_or(s.len());
        if len == 0 {
            return Err(Error::Address("empty local part"));
        }
        Ok(len)
    }
}

fn check_domain(d: &str) -> Result<(), Error> {
    if let Some(lit) = d.strip_prefix('[') {
        let body = lit
            .strip_suffix(']')
            .ok_or(Error::Address("unterminated address literal"))?;
        if body.is_empty()
            || !body
                .bytes()
                .all(|b| (33..=90).contains(&b) || (94..=126).contains(&b))
        {
            return Err(Error::Address("bad address literal"));
        }
        return Ok(());
    }
    if d.is_empty() || d.starts_with('.') || d.contains("..") {
        return Err(Error::Address("bad domain"));
    }
    if !d
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' || !c.is_ascii())
    {
        return Err(Error::Address("bad character in domain"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> Result<(Address, &str), Error> {
        parse_path(s)
    }

    #[test]
    fn ordinary_paths() {
        let (a, rest) = path("<User.Name+tag@Example.ORG> SIZE=10").unwrap();
        assert_eq!(
            (a.local_part(), a.domain(), rest),
            ("User.Name+tag", "Example.ORG", " SIZE=10")
        );
        let (a, _) = path("<>").unwrap();
        assert!(a.is_null());
        assert_eq!(a.to_path(), "<>");
        let (a, _) = path("<Postmaster>").unwrap();
        assert_eq!((a.local_part(), a.domain()), ("Postmaster", ""));
        let (a, _) = path("<u@[192.0.2.1]>").unwrap();
        assert_eq!(a.domain(), "[192.0.2.1]");
        let (a, _) = path("<u@[IPv6:2001:db8::1]>").unwrap();
        assert_eq!(a.domain(), "[IPv6:2001:db8::1]");
    }

    #[test]
    fn quoted_local_parts_keep_their_quotes() {
        let (a, rest) = path(r#"<"john \"q\" >doe"@example.org> X"#).unwrap();
        assert_eq!(a.local_part(), r#""john \"q\" >doe""#);
        assert_eq!(a.domain(), "example.org");
        assert_eq!(rest, " X");
        assert!(path("<\"unterminated@x>").is_err());
        assert!(path("<\"a\u{1}\"@x>").is_err());
    }

    #[test]
    fn source_route_dropped() {
        let (a, _) = path("<@relay.example,@b.example:u@d.example>").unwrap();
        assert_eq!(a.as_str(), "u@d.example");
        assert!(path("<@relay.example:>").is_err());
    }

    #[test]
    fn utf8_parses_but_is_flagged() {
        let (a, _) = path("<用户@例子.广告>").unwrap();
        assert!(!a.is_ascii());
        assert_eq!(a.domain(), "例子.广告");
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "u@x",
            "<u@x",
            "<u>",
            "<@x>",
            "<u@>",
            "<u@.x>",
            "<u@a..b>",
            "<u@a b>",
            "<u@[]>",
            "<a<b@x>",
            "<u@x",
            "<u@[1.2.3.4>",
        ] {
            assert!(path(bad).is_err(), "{bad:?} accepted");
        }
    }
}
