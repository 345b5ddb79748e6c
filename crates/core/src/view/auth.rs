//! `Authentication-Results` headers (RFC 8601), parsed leniently.
//!
//! Anyone can write this header; only the ones stamped by the organisation's
//! own server (its `authserv_id`) are believed. That decision is the checks';
//! this module only reads the header.

/// One `method=result` with its properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResult {
    /// `spf`, `dkim`, `dmarc`, `arc`, `auth`...
    pub method: String,
    /// `pass`, `fail`, `softfail`, `none`, `temperror`...
    pub result: String,
    /// Properties such as (`header.from`, `laocai.gov.vn`), lower case.
    pub props: Vec<(String, String)>,
}

impl AuthResult {
    /// Value of a property.
    pub fn prop(&self, key: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    /// Host that stamped it, lower case.
    pub authserv_id: String,
    /// Its results.
    pub results: Vec<AuthResult>,
}

/// Parses one header value. Returns `None` when there is no authserv-id.
pub fn parse_auth_results(value: &str) -> Option<AuthResults> {
    let cleaned = strip_comments(value);
    let mut parts = cleaned.split(';');
    let id = parts
        .next()?
        .split_whitespace()
        .next()?
        .to_ascii_lowercase();
    if id.is_empty() || id.contains('=') {
        return None;
    }
    let mut results = Vec::new();
    for p in parts.take(32) {
        let mut tokens = p.split_whitespace();
        let Some(first) = tokens.next() else { continue };
        let Some((method, result)) = first.split_once('=') else {
            continue;
        };
        let props = tokens
            .filter_map(|t| {
                let (k, v) = t.split_once('=')?;
                Some((
                    k.to_ascii_lowercase(),
                    v.trim_matches('"').to_ascii_lowercase(),
                ))
            })
            .take(16)
            .collect();
        results.push(AuthResult {
            method: method.to_ascii_lowercase(),
            result: result.to_ascii_lowercase(),
            props,
        });
    }
    Some(AuthResults {
        authserv_id: id,
        results,
    })
}

/// Whether an `Authentication-Results` value claims `authserv_id` (compared
/// without case, comments and the optional version ignored).
pub fn claims_authserv_id(value: &str, authserv_id: &str) -> bool {
    let id = authserv_id.trim();
    if id.is_empty() {
        return false;
    }
    let cleaned = strip_comments(value);
    let first = cleaned
        .split(';')
        .next()
        .and_then(|p| p.split_whitespace().next())
        .unwrap_or("");
    first.eq_ignore_ascii_case(id)
}

/// The `Authentication-Results` fields of a raw message that claim our
/// `authserv_id`, as 1-based positions among the message's fields of that
/// name (the index milter `SMFIR_CHGHEADER` takes to delete one). Such a
/// field was written before the message reached us, so it is forged: the
/// gateway removes these before stamping its own (RFC 8601 §5).
///
/// Pure: reads the header block only (up to the first empty line, every
/// field: a forged one must not hide behind a thousand others; the block is
/// bounded by the message size); never fails.
pub fn forged_auth_results(raw: &[u8], authserv_id: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut occurrence = 0usize;
    for (name, value) in header_fields(raw) {
        if !name.eq_ignore_ascii_case(b"authentication-results") {
            continue;
        }
        occurrence += 1;
        if claims_authserv_id(&String::from_utf8_lossy(value), authserv_id) {
            out.push(occurrence);
        }
    }
    out
}

/// `(name, raw value with folding)` of each header field, in order.
fn header_fields(raw: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut rest = raw;
    std::iter::from_fn(move || loop {
        // End of the header block: an empty line or the end of input.
        if rest.is_empty() || rest.starts_with(b"\r\n") || rest.starts_with(b"\n") {
            return None;
        }
        // One field: up to a line end not followed by white space.
        let mut end = rest.len();
        let mut i = 0;
        while let Some(nl) = rest
            .get(i..)
            .and_then(|r| r.iter().position(|&b| b == b'\n'))
        {
            let at = i + nl;
            match rest.get(at + 1) {
                Some(b' ' | b'\t') => i = at + 1,
                _ => {
                    end = at + 1;
                    break;
                }
            }
        }
        let (field, tail) = rest.split_at(end.min(rest.len()));
        rest = tail;
        let Some(colon) = field.iter().position(|&b| b == b':') else {
            continue; // not a field (a stray line): skip it
        };
        let (name, value) = field.split_at(colon);
        let value = value.get(1..).unwrap_or_default();
        return Some((name.trim_ascii(), value));
    })
}

/// Removes `( … )` comments, nesting included.
fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(if c == '\r' || c == '\n' || c == '\t' {
                ' '
            } else {
                c
            }),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let a = parse_auth_results(
            "mail.laocai.gov.vn;\r\n\tdkim=pass (2048-bit key) header.d=gmail.com header.i=@gmail.com;\r\n spf=pass (sender ok) smtp.mailfrom=x@gmail.com; dmarc=fail (p=NONE) header.from=laocai.gov.vn",
        )
        .expect("parse");
        assert_eq!(a.authserv_id, "mail.laocai.gov.vn");
        assert_eq!(a.results.len(), 3);
        assert_eq!(a.results[2].method, "dmarc");
        assert_eq!(a.results[2].result, "fail");
        assert_eq!(a.results[2].prop("header.from"), Some("laocai.gov.vn"));
        assert_eq!(a.results[0].prop("header.d"), Some("gmail.com"));
        let none = parse_auth_results("mx.example 1; none").expect("none");
        assert!(none.results.is_empty());
        assert!(parse_auth_results("").is_none());
        assert!(parse_auth_results("spf=pass").is_none());
    }

    #[test]
    fn forged_headers_are_found_by_position() {
        let raw = b"Received: from x\r\nAuthentication-Results: mx.google.com; spf=pass\r\n\
authentication-results: (forged) MAIL.LaoCai.gov.vn 1;\r\n\tdmarc=pass header.from=laocai.gov.vn\r\n\
Subject: Authentication-Results: mail.laocai.gov.vn\r\n\
Authentication-Results: mail.laocai.gov.vn.evil.top; dkim=pass\r\n\
Authentication-Results: mail.laocai.gov.vn\r\n\r\n\
Authentication-Results: mail.laocai.gov.vn; in the body\r\n";
        assert_eq!(forged_auth_results(raw, "mail.laocai.gov.vn"), vec![2, 4]);
        assert!(forged_auth_results(raw, "").is_empty());
        assert!(forged_auth_results(b"", "x").is_empty());
        assert!(forged_auth_results(b"no colon line\nA-R", "x").is_empty());
        assert!(claims_authserv_id(
            " mail.laocai.gov.vn;none",
            "mail.laocai.gov.vn"
        ));
        assert!(!claims_authserv_id(
            "mail.laocai.gov.vnx; none",
            "mail.laocai.gov.vn"
        ));
    }

    #[test]
    fn a_forged_header_cannot_hide_behind_many_others() {
        let mut raw = "X-Ann: b\r\n".repeat(5_000);
        raw.push_str("Authentication-Results: mail.laocai.gov.vn; dmarc=pass\r\n\r\nbody\r\n");
        assert_eq!(
            forged_auth_results(raw.as_bytes(), "mail.laocai.gov.vn"),
            vec![1]
        );
    }
}
