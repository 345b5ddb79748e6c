//! Links as the checks see them: a lenient parse of whatever was in `href`,
//! with the host in ASCII (punycode) and Unicode forms and its registrable
//! domain from the public suffix list.

use std::net::IpAddr;

/// A parsed link target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedUrl {
    /// Lower-case scheme (`http`, `https`, `mailto`...).
    pub scheme: String,
    /// Host in ASCII form (punycode for IDN), lower case, without a trailing dot.
    pub host: String,
    /// Host in Unicode form (differs from `host` for punycode labels).
    pub host_unicode: String,
    /// The host is an IPv4 or IPv6 literal (or a numeric IPv4 spelling).
    pub is_ip: bool,
    /// Registrable domain (eTLD+1), or the host when the suffix is unknown.
    pub registrable: String,
    /// The URL carries `user@` before the host.
    pub has_userinfo: bool,
    /// Path, lower case.
    pub path: String,
    /// Query string and fragment, as written (may carry an address).
    pub query: String,
}

/// Parses an href. Returns `None` for relative links, `javascript:`, `cid:` and
/// anything without a host.
pub fn parse_url(href: &str) -> Option<ParsedUrl> {
    let trimmed = href.trim().trim_matches(|c: char| c == '"' || c == '\'');
    if trimmed.is_empty() {
        return None;
    }
    let candidate = if trimmed.len() > 4
        && trimmed
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("www."))
    {
        format!("http://{trimmed}")
    } else {
        trimmed.to_string()
    };
    let u = url::Url::parse(&candidate).ok()?;
    let scheme = u.scheme().to_ascii_lowercase();
    if !matches!(scheme.as_str(), "http" | "https" | "ftp") {
        return None;
    }
    let (host, is_ip) = match u.host()? {
        url::Host::Domain(d) => (d.trim_end_matches('.').to_ascii_lowercase(), false),
        url::Host::Ipv4(a) => (a.to_string(), true),
        url::Host::Ipv6(a) => (a.to_string(), true),
    };
    if host.is_empty() {
        return None;
    }
    let host_unicode = if host.contains("xn--") {
        let (u, res) = idna::domain_to_unicode(&host);
        if res.is_ok() {
            u
        } else {
            host.clone()
        }
    } else {
        host.clone()
    };
    let registrable = if is_ip {
        host.clone()
    } else {
        registrable_domain(&host)
    };
    let mut query = String::new();
    if let Some(q) = u.query() {
        query.push_str(q);
    }
    if let Some(f) = u.fragment() {
        query.push('#');
        query.push_str(f);
    }
    Some(ParsedUrl {
        scheme,
        has_userinfo: !u.username().is_empty() || u.password().is_some(),
        path: u.path().to_ascii_lowercase(),
        query,
        host,
        host_unicode,
        is_ip,
        registrable,
    })
}

/// eTLD+1 of a host (`mail.laocai.gov.vn` -> `laocai.gov.vn`), or the host
/// itself when the public suffix list does not know it.
pub fn registrable_domain(host: &str) -> String {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    match psl::domain_str(&h) {
        Some(d) => d.to_string(),
        None => h,
    }
}

/// Whether `host` is `domain` or one of its subdomains.
pub fn host_in_domain(host: &str, domain: &str) -> bool {
    if domain.is_empty() {
        return false;
    }
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(domain)
            && host.as_bytes().get(host.len() - domain.len() - 1) == Some(&b'.'))
}

/// Whether a string is an IP literal.
pub fn is_ip_literal(s: &str) -> bool {
    s.trim_matches(|c| c == '[' || c == ']')
        .parse::<IpAddr>()
        .is_ok()
}

/// Finds domain-like names in visible text (`mail.laocai.gov.vn`,
/// `https://x.y/z`): the checks compare them with where a link really goes.
pub fn domains_in_text(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '(' | ')')) {
        let mut w = raw.trim_matches(|c: char| matches!(c, '.' | ',' | ';' | ':' | '!' | '?'));
        for prefix in ["https://", "http://"] {
            if w.len() > prefix.len()
                && w.get(..prefix.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
            {
                w = w.get(prefix.len()..).unwrap_or("");
            }
        }
        let host = w
            .split(['/', '?', '#'])
            .next()
            .unwrap_or("")
            .rsplit('@')
            .next()
            .unwrap_or("");
        let host = host.split(':').next().unwrap_or("");
        if host.len() < 4 || !host.contains('.') || host.starts_with('.') || host.ends_with('.') {
            continue;
        }
        if !host
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
        {
            continue;
        }
        let lower = host.to_lowercase();
        // A bare dotted quad is as often a version number as an address:
        // only an address written as a URL counts.
        let is_ip = is_ip_literal(&lower) && raw.contains("://");
        // The suffix must be one the public suffix list knows, so "v1.2",
        // "photo.gif" or "file.pdf" are not taken for domains.
        let known_suffix = lower
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.chars().all(char::is_alphabetic))
            && psl::suffix(lower.as_bytes())
                .is_some_and(|s| s.is_known() && s.as_bytes().len() < lower.len());
        if (is_ip || known_suffix) && !out.contains(&lower) {
            out.push(lower);
        }
        if out.len() >= 8 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts() {
        let u = parse_url("https://Mail.LaoCai.gov.vn./zimbra/?a=1#x").expect("url");
        assert_eq!(u.host, "mail.laocai.gov.vn");
        assert_eq!(u.registrable, "laocai.gov.vn");
        assert_eq!(u.path, "/zimbra/");
        assert_eq!(u.query, "a=1#x");
        let ip = parse_url("http://185.234.72.19/login").expect("ip");
        assert!(ip.is_ip);
        let idn = parse_url("http://xn--locai-4ve.gov.vn/").expect("idn");
        assert_ne!(idn.host, idn.host_unicode);
        assert!(parse_url("cid:image001").is_none());
        assert!(parse_url("javascript:alert(1)").is_none());
        assert!(parse_url("/relative").is_none());
        assert!(parse_url("http://a@evil.example/").expect("u").has_userinfo);
        assert_eq!(
            parse_url("www.example.com").expect("www").host,
            "www.example.com"
        );
    }

    #[test]
    fn own_domain_membership() {
        assert!(host_in_domain("mail.laocai.gov.vn", "laocai.gov.vn"));
        assert!(host_in_domain("laocai.gov.vn", "laocai.gov.vn"));
        assert!(!host_in_domain("xlaocai.gov.vn", "laocai.gov.vn"));
        assert!(!host_in_domain("laocai.gov.vn.evil.top", "laocai.gov.vn"));
    }

    #[test]
    fn domains_in_visible_text() {
        assert_eq!(
            domains_in_text("Đăng nhập tại https://mail.laocai.gov.vn/zimbra ngay"),
            vec!["mail.laocai.gov.vn"]
        );
        assert!(domains_in_text("xem file baocao.pdf và v1.2").is_empty());
        assert!(domains_in_text("Nhấn vào đây").is_empty());
    }
}
