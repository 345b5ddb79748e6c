//! Domain lists compiled once for fast membership tests.
//!
//! A list entry is a domain (`weebly.com`: the domain and all its
//! subdomains) or a domain with a path prefix (`docs.google.com/forms`). A
//! lookup walks the host's parent domains (`a.b.weebly.com`, `b.weebly.com`,
//! `weebly.com`, `com`) through a hash set: a handful of probes per link
//! instead of a scan of every entry.

use std::collections::HashSet;

use crate::config::Lists;

/// One compiled list.
#[derive(Debug, Clone, Default)]
pub struct DomainSet {
    hosts: HashSet<String>,
    with_path: Vec<(String, String)>,
}

impl DomainSet {
    /// Compiles a list (entries already lower-cased by the configuration).
    pub fn new(entries: &[String]) -> DomainSet {
        let mut set = DomainSet::default();
        for e in entries {
            match e.split_once('/') {
                Some((h, p)) => set.with_path.push((h.to_string(), p.to_string())),
                None => {
                    set.hosts.insert(e.clone());
                }
            }
        }
        set
    }

    /// The entry that `host` (and, for path entries, `path`) falls under.
    pub fn find(&self, host: &str, path: &str) -> Option<String> {
        let mut h = host;
        loop {
            if self.hosts.contains(h) {
                return Some(h.to_string());
            }
            match h.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => h = parent,
                _ => break,
            }
        }
        let path = path.trim_start_matches('/');
        self.with_path
            .iter()
            .find(|(d, p)| {
                crate::view::url::host_in_domain(host, d) && path.starts_with(p.as_str())
            })
            .map(|(d, p)| format!("{d}/{p}"))
    }

    /// Whether `host` is listed (path entries ignored).
    pub fn contains_host(&self, host: &str) -> bool {
        self.find(host, "").is_some()
    }
}

/// The configured lists, compiled.
#[derive(Debug, Clone, Default)]
pub struct CompiledLists {
    /// Free mail providers.
    pub freemail: DomainSet,
    /// URL shorteners.
    pub shorteners: DomainSet,
    /// Free hosting and form services.
    pub free_hosting: DomainSet,
    /// Click-tracking services.
    pub tracking_redirects: DomainSet,
    /// Trusted registries.
    pub trusted_domains: DomainSet,
    /// Suspicious top-level domains.
    pub suspicious_tlds: HashSet<String>,
}

impl CompiledLists {
    /// Compiles the `[lists]` section.
    pub fn new(l: &Lists) -> CompiledLists {
        CompiledLists {
            freemail: DomainSet::new(&l.freemail),
            shorteners: DomainSet::new(&l.shorteners),
            free_hosting: DomainSet::new(&l.free_hosting),
            tracking_redirects: DomainSet::new(&l.tracking_redirects),
            trusted_domains: DomainSet::new(&l.trusted_domains),
            suspicious_tlds: l.suspicious_tlds.iter().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let s = DomainSet::new(&["weebly.com".into(), "docs.google.com/forms".into()]);
        assert_eq!(s.find("a.b.weebly.com", "/"), Some("weebly.com".into()));
        assert_eq!(s.find("weebly.com", ""), Some("weebly.com".into()));
        assert_eq!(s.find("xweebly.com", ""), None);
        assert_eq!(
            s.find("docs.google.com", "/forms/d/1"),
            Some("docs.google.com/forms".into())
        );
        assert_eq!(s.find("docs.google.com", "/document/d/1"), None);
        assert!(!s.contains_host("com"));
    }
}
