//! Where links go: hosts and paths that lures use.
//!
//! Raw IP hosts, URL shorteners, free hosting and form services (anyone can
//! publish a fake login there under a trusted name), top-level domains often
//! used for abuse, punycode and mixed-script hosts, `user@host` tricks, the
//! recipient's own address carried in the link (pre-filled fake logins), and
//! login or webmail-looking paths on a domain that is neither the
//! organisation's nor the sender's. Links to the organisation's own domains
//! are never flagged here. FOREIGN_LINK (no score) records that the message
//! links outside the organisation, for composites.

use unicode_security::MixedScript;

use super::Context;
use crate::symbols::Findings;

/// Emits the URL_* symbols and FOREIGN_LINK.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    let lists = &ctx.config.lists;
    for (l, w) in ctx.weighed_links() {
        let Some(u) = &l.url else { continue };
        if ctx.is_own_host(&u.host) || ctx.is_trusted_host(&u.host) {
            continue;
        }
        f.add("FOREIGN_LINK", 1.0, vec![u.host.clone()]);
        if !ctx.is_sender_party(&u.registrable) {
            f.add("THIRD_PARTY_LINK", 1.0, vec![u.host.clone()]);
        }
        if u.is_ip {
            f.add("URL_IP_HOST", w, vec![u.host.clone()]);
        }
        if u.has_userinfo {
            f.add("URL_USERINFO", w, vec![u.host.clone()]);
        }
        if let Some(s) = ctx.engine.lists.shorteners.find(&u.host, &u.path) {
            f.add("URL_SHORTENER", w, vec![s]);
        }
        if ctx
            .engine
            .lists
            .free_hosting
            .find(&u.host, &u.path)
            .is_some()
        {
            f.add(
                "URL_FREE_HOSTING",
                w,
                vec![format!("{}{}", u.host, short_path(&u.path))],
            );
        }
        if !u.is_ip {
            let tld = u.host.rsplit('.').next().unwrap_or("");
            if ctx.engine.lists.suspicious_tlds.contains(tld) {
                f.add("URL_SUSPICIOUS_TLD", w, vec![u.host.clone()]);
            }
            if u.host.split('.').any(|label| label.starts_with("xn--")) {
                f.add(
                    "URL_PUNYCODE",
                    w,
                    vec![format!("{}={}", u.host, u.host_unicode)],
                );
                if u.host_unicode
                    .split('.')
                    .any(|label| !label.is_single_script())
                {
                    f.add("URL_MIXED_SCRIPT", w, vec![u.host_unicode.clone()]);
                }
            }
        }
        // Senders put the recipient in links to their own sites (unsubscribe,
        // account pages); only a third party pre-filling it is a fake login.
        let list_admin = [
            "unsubscribe",
            "optout",
            "opt-out",
            "mailman",
            "listinfo",
            "preferences",
            "options",
        ]
        .iter()
        .any(|k| u.path.contains(k));
        // The organisation's own domain written into a foreign URL's path
        // (`apegf-2026.org/portal/mail.laocai.gov.vn/login.html`) dresses a
        // page up as ours, whoever hosts it.
        // An address of ours in the link (`?email=a%40laocai.gov.vn`) is the
        // recipient check's business, not this one's.
        for own in &ctx.config.organization.domains {
            if path_names_domain(&u.path, own) {
                f.add(
                    "URL_OWN_DOMAIN_IN_PATH",
                    w,
                    vec![format!("{}{}", u.host, short_path(&u.path))],
                );
            }
        }
        let href_lower = if ctx.is_sender_party(&u.registrable) || list_admin {
            String::new()
        } else {
            l.href.to_lowercase()
        };
        for r in &ctx.recipients {
            if r.len() > 3
                && (href_lower.contains(r.as_str())
                    || href_lower.contains(&r.replace('@', "%40"))
                    || href_lower.contains(&b64(r)))
            {
                f.add("URL_RECIPIENT_EMBEDDED", w, vec![format!("{}:{r}", u.host)]);
            }
        }
        if !ctx.is_sender_party(&u.registrable) {
            if let Some(frag) = login_fragment(&u.path, &lists.login_paths) {
                f.add(
                    "URL_WEBMAIL_PATH",
                    w,
                    vec![format!("{}{} ({frag})", u.host, short_path(&u.path))],
                );
            }
        }
    }
}

/// Whether `domain` appears in a URL path as a name, not as the domain part
/// of an address (`/x/mail.laocai.gov.vn/login`, not `/u/a@laocai.gov.vn`).
fn path_names_domain(path: &str, domain: &str) -> bool {
    let mut from = 0;
    while let Some(i) = path.get(from..).and_then(|p| p.find(domain)) {
        let at = from + i;
        let before = path.get(..at).unwrap_or("");
        if !(before.ends_with('@') || before.ends_with("%40")) {
            return true;
        }
        from = at + domain.len();
    }
    false
}

/// The login-like fragment a path carries: a whole path segment, or the start
/// of one followed by a non-letter (`login.php`, `signin-2`, not `signing`).
fn login_fragment<'a>(path: &str, fragments: &'a [String]) -> Option<&'a str> {
    path.split(['/', '?', '&', '='])
        .filter(|seg| !seg.is_empty())
        .find_map(|seg| {
            fragments
                .iter()
                .find(|f| {
                    seg.strip_prefix(f.as_str()).is_some_and(|rest| {
                        rest.chars().next().is_none_or(|c| !c.is_ascii_alphabetic())
                    })
                })
                .map(String::as_str)
        })
}

fn short_path(p: &str) -> String {
    let p: String = p.chars().take(40).collect();
    if p == "/" {
        String::new()
    } else {
        p
    }
}

/// Base64 of an address without padding (lures carry `#bmd1eWVuQGxhb2Nh…`).
fn b64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = s.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b0 = u32::from(chunk.first().copied().unwrap_or(0));
        let b1 = u32::from(chunk.get(1).copied().unwrap_or(0));
        let b2 = u32::from(chunk.get(2).copied().unwrap_or(0));
        let n = (b0 << 16) | (b1 << 8) | b2;
        let idx = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        for (i, v) in idx.iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(T.get(*v as usize).copied().unwrap_or(b'A')));
            }
        }
    }
    // Only whole groups are stable inside a longer encoded string.
    let keep = bytes.len() / 3 * 4;
    out.truncate(keep);
    out.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_domain_in_path() {
        assert!(path_names_domain(
            "/portal/mail.laocai.gov.vn/login.html",
            "laocai.gov.vn"
        ));
        assert!(!path_names_domain("/u/a@laocai.gov.vn", "laocai.gov.vn"));
        assert!(!path_names_domain(
            "/u/a%40laocai.gov.vn/x",
            "laocai.gov.vn"
        ));
    }

    #[test]
    fn base64_prefix() {
        // "abc@x.vn" -> "YWJjQHgudm4="; whole groups: "YWJjQHgu"
        assert_eq!(b64("abc@x.vn"), "ywjjqhgu");
    }

    #[test]
    fn login_paths() {
        let frags = vec!["login".to_string(), "zimbra".to_string()];
        assert_eq!(login_fragment("/zimbra/auth", &frags), Some("zimbra"));
        assert_eq!(login_fragment("/news/2026", &frags), None);
        assert_eq!(login_fragment("/login.php", &frags), Some("login"));
        assert_eq!(login_fragment("/signing-7", &frags), None);
    }
}
