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
}
