//! Threat feeds as data: sets of indicators (URLs, domains, sender
//! addresses, attachment SHA-256 hashes), each set remembering the name of
//! the feed it came from, and the normalisation that makes a feed entry and
//! a link in a message compare equal.
//!
//! This is the pure half. Reading feed files, watching them for changes and
//! bounding their size is `phishgate-intel`'s business (`feeds.rs` there);
//! it builds one [`Feed`] per file and hands a [`FeedIndex`] to the scan in
//! [`crate::Facts::feeds`]. The `feeds` check turns matches into symbols.
//!
//! Normalisation ([`normalize_url`]) is the one place that decides what
//! "the same URL" means, and both sides go through it:
//! - scheme and host lower case, host in ASCII (IDNA/punycode), trailing dot
//!   dropped, default port dropped, user info (`user:pw@`) dropped;
//! - `http` and `https` are one: a page listed on one scheme is the same
//!   phish on the other (kits answer on both), so the key has no scheme;
//! - the fragment is dropped (never sent to the server);
//! - path and query lower case: phishing kits run on servers that ignore
//!   case, and percent-escapes (`%2F`/`%2f`) compare equal; a legitimate URL
//!   differing from a listed one only by case is not a realistic case;
//! - a trailing `/` on the path is ignored (`/login/` = `/login`, and a bare
//!   host = `/`).
//!
//! A link matches a listed URL exactly (after normalisation), or with its
//! query string removed when the feed lists the page without one (kits add
//! a per-victim token). A listed URL never makes its host listed: feeds list
//! pages on compromised legitimate sites.
//!
//! Domains match the host and its parents down to the registrable domain
//! (eTLD+1), never further: a feed entry cannot match a bare TLD or a public
//! suffix (`com`, `gov.vn`, `web.app`), and [`Feed::insert_domain`] refuses
//! such entries so a careless list cannot flag every message.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

/// Longest indicator kept, in bytes (longer lines are bad lines).
pub const MAX_INDICATOR_BYTES: usize = 4096;

/// The kind of indicator a feed entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndicatorKind {
    /// A URL (normalised, see the module docs).
    Url,
    /// A domain (link host or a parent of it).
    Domain,
    /// A sender address or a sender domain.
    Sender,
    /// SHA-256 of an attachment, lowercase hex.
    Sha256,
}

/// One feed: the indicators read from one file, with the feed's name.
#[derive(Clone, Default)]
pub struct Feed {
    name: Arc<str>,
    urls: HashSet<String>,
    domains: HashSet<String>,
    senders: HashSet<String>,
    hashes: HashSet<String>,
}

impl fmt::Debug for Feed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Feed")
            .field("name", &self.name)
            .field("urls", &self.urls.len())
            .field("domains", &self.domains.len())
            .field("senders", &self.senders.len())
            .field("hashes", &self.hashes.len())
            .finish()
    }
}

impl Feed {
    /// An empty feed.
    pub fn new(name: &str) -> Feed {
        Feed {
            name: Arc::from(name),
            ..Feed::default()
        }
    }

    /// The feed's name (evidence in symbols).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of indicators.
    pub fn len(&self) -> usize {
        self.urls.len() + self.domains.len() + self.senders.len() + self.hashes.len()
    }

    /// No indicators.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds an indicator of a kind. Returns `false` (nothing added) when the
    /// text is not a valid indicator of that kind: the caller counts a bad
    /// line.
    pub fn insert(&mut self, kind: IndicatorKind, text: &str) -> bool {
        match kind {
            IndicatorKind::Url => self.insert_url(text),
            IndicatorKind::Domain => self.insert_domain(text),
            IndicatorKind::Sender => self.insert_sender(text),
            IndicatorKind::Sha256 => self.insert_sha256(text),
        }
    }

    /// Adds a URL (a scheme-less `host/path` is read as `http://`).
    pub fn insert_url(&mut self, text: &str) -> bool {
        match normalize_url(text) {
            Some(u) => {
                self.urls.insert(u);
                true
            }
            None => false,
        }
    }

    /// Adds a domain. Refuses IP literals, single labels and public
    /// suffixes.
    pub fn insert_domain(&mut self, text: &str) -> bool {
        match normalize_listed_domain(text) {
            Some(d) => {
                self.domains.insert(d);
                true
            }
            None => false,
        }
    }

    /// Adds a sender: an address (`a@b.example`) or a domain (`b.example`
    /// or `@b.example`).
    pub fn insert_sender(&mut self, text: &str) -> bool {
        let t = text.trim().trim_matches(['<', '>']);
        if let Some(d) = t.strip_prefix('@') {
            return self.insert_sender_domain(d);
        }
        if t.contains('@') {
            match normalize_address(t) {
                Some(a) => {
                    self.senders.insert(a);
                    true
                }
                None => false,
            }
        } else {
            self.insert_sender_domain(t)
        }
    }

    fn insert_sender_domain(&mut self, d: &str) -> bool {
        match normalize_listed_domain(d) {
            Some(d) => {
                self.senders.insert(d);
                true
            }
            None => false,
        }
    }

    /// Adds a SHA-256 (64 hex digits, any case).
    pub fn insert_sha256(&mut self, text: &str) -> bool {
        let t = text.trim();
        if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            self.hashes.insert(t.to_ascii_lowercase());
            true
        } else {
            false
        }
    }
}

/// A match: which feed, which indicator (as listed, normalised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedMatch {
    /// The feed's name.
    pub feed: String,
    /// The indicator that matched.
    pub indicator: String,
}

/// All feeds in force, looked up together. Cheap to share (`Arc` per feed):
/// reloading one feed builds a new index holding the others unchanged.
#[derive(Debug, Clone, Default)]
pub struct FeedIndex {
    feeds: Vec<Arc<Feed>>,
}

impl FeedIndex {
    /// An index over feeds, looked up in this order.
    pub fn new(feeds: Vec<Arc<Feed>>) -> FeedIndex {
        FeedIndex { feeds }
    }

    /// The feeds.
    pub fn feeds(&self) -> &[Arc<Feed>] {
        &self.feeds
    }

    /// Total number of indicators.
    pub fn len(&self) -> usize {
        self.feeds.iter().map(|f| f.len()).sum()
    }

    /// No indicators at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Feeds listing a URL (exactly, or without its query).
    pub fn match_url(&self, url: &str) -> Vec<FeedMatch> {
        let Some(key) = normalize_url(url) else {
            return Vec::new();
        };
        let bare = key.split_once('?').map(|(b, _)| b.to_string());
        let mut out = Vec::new();
        for f in &self.feeds {
            for k in std::iter::once(&key).chain(bare.as_ref()) {
                if f.urls.contains(k) {
                    out.push(FeedMatch {
                        feed: f.name.to_string(),
                        indicator: k.clone(),
                    });
                    break;
                }
            }
        }
        out
    }

    /// Feeds listing a link host or one of its parents down to the
    /// registrable domain.
    pub fn match_domain(&self, host: &str) -> Vec<FeedMatch> {
        let mut out = Vec::new();
        for cand in domain_candidates(host) {
            for f in &self.feeds {
                if f.domains.contains(&cand) {
                    out.push(FeedMatch {
                        feed: f.name.to_string(),
                        indicator: cand.clone(),
                    });
                }
            }
        }
        out
    }

    /// Feeds listing a sender address, its domain or a parent of the domain
    /// down to the registrable domain.
    pub fn match_sender(&self, address: &str) -> Vec<FeedMatch> {
        let Some(addr) = normalize_address(address) else {
            return Vec::new();
        };
        let domain = addr.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        let mut out = Vec::new();
        for cand in std::iter::once(addr.clone()).chain(domain_candidates(domain)) {
            for f in &self.feeds {
                if f.senders.contains(&cand) {
                    out.push(FeedMatch {
                        feed: f.name.to_string(),
                        indicator: cand.clone(),
                    });
                }
            }
        }
        out
    }

    /// Feeds listing a SHA-256 (hex, any case).
    pub fn match_sha256(&self, hex: &str) -> Vec<FeedMatch> {
        let h = hex.trim().to_ascii_lowercase();
        self.feeds
            .iter()
            .filter(|f| f.hashes.contains(&h))
            .map(|f| FeedMatch {
                feed: f.name.to_string(),
                indicator: h.clone(),
            })
            .collect()
    }
}

/// The normalised key of a URL (see the module docs), without scheme for
/// `http`/`https`: `evil.example/login?x=1`. `None` when it is not a URL
/// with a host, or is longer than [`MAX_INDICATOR_BYTES`].
pub fn normalize_url(text: &str) -> Option<String> {
    let t = text.trim();
    if t.is_empty() || t.len() > MAX_INDICATOR_BYTES || t.chars().any(char::is_whitespace) {
        return None;
    }
    let has_scheme = t.split_once("://").is_some_and(|(s, _)| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    let owned;
    let t = if has_scheme {
        t
    } else {
        owned = format!("http://{t}");
        &owned
    };
    let u = url::Url::parse(t).ok()?;
    let scheme = u.scheme().to_ascii_lowercase();
    let host = match u.host()? {
        url::Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
        url::Host::Ipv4(a) => a.to_string(),
        url::Host::Ipv6(a) => format!("[{a}]"),
    };
    if host.is_empty() {
        return None;
    }
    let mut key = String::with_capacity(t.len());
    if !matches!(scheme.as_str(), "http" | "https") {
        key.push_str(&scheme);
        key.push_str("://");
    }
    key.push_str(&host);
    // `port()` is `None` for the scheme's default port (the url crate
    // drops it); 80 on https and 443 on http stay, they are other servers.
    if let Some(p) = u.port() {
        key.push(':');
        key.push_str(&p.to_string());
    }
    let path = u.path().trim_end_matches('/');
    key.push_str(&path.to_lowercase());
    if let Some(q) = u.query() {
        if !q.is_empty() {
            key.push('?');
            key.push_str(&q.to_lowercase());
        }
    }
    Some(key)
}

/// A domain as a feed lists it: lower case, ASCII (IDNA), no trailing dot,
/// at least two labels, not an IP literal, not a public suffix.
pub fn normalize_listed_domain(text: &str) -> Option<String> {
    let t = text.trim().trim_start_matches("*.").trim_start_matches('.');
    let t = t.trim_end_matches('.');
    if t.is_empty() || t.len() > 253 || t.contains(['/', '@', ':', ' ']) {
        return None;
    }
    let ascii = idna::domain_to_ascii(t).ok()?;
    if ascii.is_empty()
        || !ascii.contains('.')
        || crate::view::url::is_ip_literal(&ascii)
        || ascii.split('.').any(str::is_empty)
    {
        return None;
    }
    // A public suffix (`com`, `gov.vn`, `github.io`) would match everything
    // under it.
    if psl::suffix_str(&ascii) == Some(ascii.as_str()) {
        return None;
    }
    Some(ascii)
}

/// An e-mail address, lower case, domain in ASCII. `None` unless it is
/// `local@domain` with a dotted domain.
pub fn normalize_address(text: &str) -> Option<String> {
    let t = text.trim().trim_matches(['<', '>']);
    if t.len() > MAX_INDICATOR_BYTES {
        return None;
    }
    let (local, domain) = t.rsplit_once('@')?;
    if local.is_empty() || local.contains(char::is_whitespace) {
        return None;
    }
    let domain = idna::domain_to_ascii(domain.trim_end_matches('.')).ok()?;
    if !domain.contains('.') {
        return None;
    }
    Some(format!("{}@{}", local.to_lowercase(), domain))
}

/// A host and its parents down to the registrable domain
/// (`a.b.evil.example` -> itself, `b.evil.example`, `evil.example`). A host
/// that is itself a public suffix, or has a single label, gives nothing.
fn domain_candidates(host: &str) -> Vec<String> {
    let h = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let h = if h.is_ascii() {
        h
    } else {
        match idna::domain_to_ascii(&h) {
            Ok(a) => a,
            Err(_) => return Vec::new(),
        }
    };
    if !h.contains('.') || crate::view::url::is_ip_literal(&h) {
        return Vec::new();
    }
    let Some(reg) = psl::domain_str(&h).map(str::to_string) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut cur = h.as_str();
    loop {
        out.push(cur.to_string());
        if cur.len() <= reg.len() {
            break;
        }
        match cur.split_once('.') {
            Some((_, rest)) => cur = rest,
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Option<String> {
        normalize_url(s)
    }

    #[test]
    fn url_normalisation_tricky_cases() {
        let want = Some("evil.example/login".to_string());
        assert_eq!(n("http://evil.example/login"), want);
        assert_eq!(
            n("HTTP://EVIL.Example/login"),
            want,
            "case of scheme and host"
        );
        assert_eq!(
            n("https://evil.example/login"),
            want,
            "http and https are one"
        );
        assert_eq!(n("http://evil.example:80/login"), want, "default port");
        assert_eq!(n("https://evil.example:443/login"), want, "default port");
        assert_eq!(n("http://evil.example/login/"), want, "trailing slash");
        assert_eq!(n("http://evil.example/login#frag"), want, "fragment");
        assert_eq!(n("http://user:pw@evil.example/login"), want, "user info");
        assert_eq!(n("http://evil.example./login"), want, "trailing dot");
        assert_eq!(n("evil.example/login"), want, "no scheme");
        assert_eq!(
            n("  http://evil.example/LOGIN  "),
            want,
            "path case, spaces"
        );
        // Other ports are other servers.
        assert_eq!(
            n("http://evil.example:8080/login").as_deref(),
            Some("evil.example:8080/login")
        );
        assert_eq!(
            n("https://evil.example:80/").as_deref(),
            Some("evil.example:80")
        );
        // A bare host is its root page.
        assert_eq!(n("http://evil.example"), n("http://evil.example/"));
        // IDNA: Unicode and punycode forms are one.
        assert_eq!(
            n("http://ví-dụ.example/a"),
            n("http://xn--v-d-rma6749a.example/a")
        );
        assert_eq!(
            n("http://MÜNCHEN.example/").as_deref(),
            Some("xn--mnchen-3ya.example")
        );
        // Percent escapes compare case-insensitively; the query is kept.
        assert_eq!(
            n("http://e.example/a%2Fb?U=X"),
            n("http://e.example/a%2fb?u=x")
        );
        assert_eq!(n("http://e.example/a?"), n("http://e.example/a"));
        // Dot segments resolved by the URL parser.
        assert_eq!(
            n("http://e.example/a/../login"),
            n("http://e.example/login")
        );
        // IP hosts, v4 numeric spellings and v6.
        assert_eq!(n("http://0x7f.1/x").as_deref(), Some("127.0.0.1/x"));
        assert_eq!(n("http://[::1]:8080/").as_deref(), Some("[::1]:8080"));
        // Other schemes keep theirs.
        assert_eq!(n("ftp://e.example/f").as_deref(), Some("ftp://e.example/f"));
        // Not URLs.
        assert_eq!(n(""), None);
        assert_eq!(n("http://"), None);
        assert_eq!(n("http://a b.example/"), None);
        assert_eq!(n(&format!("http://e.example/{}", "a".repeat(5000))), None);
    }

    #[test]
    fn listed_domains_refuse_suffixes_and_junk() {
        assert_eq!(
            normalize_listed_domain("Evil.Example.").as_deref(),
            Some("evil.example")
        );
        assert_eq!(
            normalize_listed_domain("*.evil.example").as_deref(),
            Some("evil.example")
        );
        assert_eq!(
            normalize_listed_domain("ví-dụ.vn").as_deref(),
            Some("xn--v-d-rma6749a.vn")
        );
        for bad in [
            "com",
            "gov.vn",
            "github.io",
            "web.app",
            "localhost",
            "1.2.3.4",
            "a b.com",
            "",
            "http://x.com/",
            "a..b.com",
        ] {
            assert_eq!(normalize_listed_domain(bad), None, "{bad}");
        }
    }

    #[test]
    fn domains_match_parents_down_to_the_registrable_domain_only() {
        let mut f = Feed::new("it");
        assert!(f.insert_domain("evil.example"));
        assert!(f.insert_domain("login.laocai-gov.top"));
        assert!(!f.insert_domain("com"));
        let idx = FeedIndex::new(vec![Arc::new(f)]);
        assert_eq!(
            idx.match_domain("a.b.evil.example")[0].indicator,
            "evil.example"
        );
        assert_eq!(idx.match_domain("EVIL.example.")[0].feed, "it");
        assert!(idx.match_domain("notevil.example").is_empty());
        assert!(
            idx.match_domain("laocai-gov.top").is_empty(),
            "parent of a listed host is not listed"
        );
        assert_eq!(idx.match_domain("x.login.laocai-gov.top").len(), 1);
        assert!(idx.match_domain("example").is_empty());
        assert!(idx.match_domain("").is_empty());
        assert!(idx.match_domain("1.2.3.4").is_empty());
    }

    #[test]
    fn urls_senders_hashes() {
        let mut f = Feed::new("openphish");
        assert!(f.insert_url("https://evil.example/login/"));
        assert!(f.insert_url("http://docs.example/d/abc?id=7"));
        assert!(!f.insert_url("not a url"));
        let mut g = Feed::new("advisory");
        assert!(g.insert_sender("Shokri@Uni.AC.ir"));
        assert!(g.insert_sender("@zimbra-upgrade.example"));
        assert!(g.insert_sender("phish.test"));
        assert!(!g.insert_sender("@com"));
        assert!(!g.insert_sender("nobody@"));
        let h = "A".repeat(64);
        assert!(g.insert_sha256(&h));
        assert!(!g.insert_sha256("abc"));
        assert!(g.insert_url("http://evil.example/login"));
        let idx = FeedIndex::new(vec![Arc::new(f), Arc::new(g)]);
        let m = idx.match_url("http://EVIL.example/login?victim=a@laocai.gov.vn#x");
        assert_eq!(
            m.len(),
            2,
            "query stripped when the feed lists the bare page: {m:?}"
        );
        assert_eq!(m[0].feed, "openphish");
        assert_eq!(idx.match_url("https://docs.example/d/abc?id=7").len(), 1);
        assert!(idx.match_url("https://docs.example/d/abc?id=8").is_empty());
        assert!(idx.match_url("https://docs.example/d/abc").is_empty());
        assert!(idx.match_url("https://evil.example/other").is_empty());
        assert_eq!(
            idx.match_sender("shokri@uni.ac.ir")[0].indicator,
            "shokri@uni.ac.ir"
        );
        assert!(idx.match_sender("other@uni.ac.ir").is_empty());
        assert_eq!(
            idx.match_sender("admin@mail.zimbra-upgrade.example")[0].indicator,
            "zimbra-upgrade.example"
        );
        assert_eq!(idx.match_sender("x@phish.test").len(), 1);
        assert_eq!(idx.match_sha256(&"a".repeat(64))[0].feed, "advisory");
        assert_eq!(idx.len(), 7);
    }
}
