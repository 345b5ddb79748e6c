//! Known-bad indicators from threat feeds: links, link domains, senders and
//! attachment hashes listed by OpenPhish, PhishTank, URLhaus or the IT
//! centre's own lists (the indicators of the last advisory).
//!
//! The feeds arrive as [`crate::Facts::feeds`] (read from files by the
//! enrichment side); without them this check says nothing. Evidence is
//! `feed:indicator`, so the analyst sees which list said so. A listed link
//! quoted in a message an internal user forwards (a report to the IT
//! centre) is not weighed, like the other link checks (see
//! [`Context::weighed_links`]); a listed attachment inside such a forward
//! counts for less ([`Context::attachment_weight`]).

use super::Context;
use crate::feeds::FeedMatch;
use crate::symbols::Findings;

/// Emits FEED_URL, FEED_DOMAIN, FEED_SENDER and FEED_HASH.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    let Some(index) = &ctx.facts.feeds else {
        return;
    };
    if index.is_empty() {
        return;
    }
    let evidence = |m: &FeedMatch| format!("{}:{}", m.feed, m.indicator);
    for (link, w) in ctx.weighed_links() {
        let Some(u) = &link.url else { continue };
        let urls = index.match_url(&link.href);
        if !urls.is_empty() {
            f.add("FEED_URL", w, urls.iter().map(evidence).collect());
            // The listed page says more than its domain: do not count the
            // same link twice.
            continue;
        }
        let domains = index.match_domain(&u.host);
        if !domains.is_empty() {
            f.add("FEED_DOMAIN", w, domains.iter().map(evidence).collect());
        }
    }
    let mut senders: Vec<String> = Vec::new();
    if let Some(from) = &ctx.view.from {
        senders.push(from.address.clone());
    }
    if let Some(mf) = &ctx.envelope.mail_from {
        let mf = mf.trim().trim_matches(['<', '>']).to_lowercase();
        if !mf.is_empty() && !senders.contains(&mf) {
            senders.push(mf);
        }
    }
    for s in &senders {
        let m = index.match_sender(s);
        if !m.is_empty() {
            f.add("FEED_SENDER", 1.0, m.iter().map(evidence).collect());
        }
    }
    for a in &ctx.view.attachments {
        let m = index.match_sha256(&a.sha256);
        if !m.is_empty() {
            let name = if a.name.is_empty() {
                "(unnamed)"
            } else {
                &a.name
            };
            f.add(
                "FEED_HASH",
                ctx.attachment_weight(a),
                m.iter()
                    .map(|m| format!("{}:{} {}", m.feed, name, m.indicator))
                    .collect(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::feeds::{Feed, FeedIndex};
    use crate::{Config, Engine, Envelope, Facts, ScanInput, ScanResult};

    const MSG: &[u8] = b"From: Zimbra Upgrade <shokri@uni.ac.ir>\r\nTo: a@laocai.gov.vn\r\n\
Subject: Nang cap hop thu\r\nContent-Type: text/html\r\n\r\n<p>Bam vao \
<a href=\"https://login.secure-docs.top/zimbra/?u=a@laocai.gov.vn\">day</a> hoac \
<a href=\"http://cdn.badhost.example/x.js\">kia</a></p>\r\n";

    fn scan(raw: &[u8], feeds: Option<FeedIndex>) -> ScanResult {
        let config =
            Config::from_toml_str("[organization]\ndomains = [\"laocai.gov.vn\"]\n").unwrap();
        let engine = Engine::new(config).unwrap();
        let facts = Facts {
            feeds: feeds.map(Arc::new),
            ..Facts::default()
        };
        engine.scan(&ScanInput {
            raw,
            envelope: &Envelope::default(),
            facts: &facts,
        })
    }

    fn sym<'a>(r: &'a ScanResult, name: &str) -> Option<&'a crate::ScoredSymbol> {
        r.symbols.iter().find(|s| s.name == name)
    }

    #[test]
    fn listed_url_domain_and_sender() {
        let mut op = Feed::new("openphish");
        op.insert_url("https://login.secure-docs.top/zimbra/");
        let mut it = Feed::new("advisory-2026-03");
        it.insert_domain("badhost.example");
        it.insert_sender("uni.ac.ir");
        let r = scan(MSG, Some(FeedIndex::new(vec![Arc::new(op), Arc::new(it)])));
        let u = sym(&r, "FEED_URL").expect("FEED_URL");
        assert_eq!(u.options, ["openphish:login.secure-docs.top/zimbra"]);
        let d = sym(&r, "FEED_DOMAIN").expect("FEED_DOMAIN");
        assert_eq!(d.options, ["advisory-2026-03:badhost.example"]);
        let s = sym(&r, "FEED_SENDER").expect("FEED_SENDER");
        assert_eq!(s.options, ["advisory-2026-03:uni.ac.ir"]);
        assert!(r.score >= 9.0);
        assert_ne!(r.action, crate::Action::Accept);
        // On its own, a listed URL quarantines the message.
        let mut op = Feed::new("openphish");
        op.insert_url("https://login.secure-docs.top/zimbra");
        let r = scan(MSG, Some(FeedIndex::new(vec![Arc::new(op)])));
        let u = sym(&r, "FEED_URL").expect("FEED_URL");
        assert!(u.score >= 9.0, "{}", u.score);
    }

    #[test]
    fn nothing_without_feeds_or_matches() {
        let r = scan(MSG, None);
        assert!(!r.symbols.iter().any(|s| s.name.starts_with("FEED_")));
        let mut f = Feed::new("x");
        f.insert_domain("secure-docs.top.example");
        f.insert_url("https://login.secure-docs.top/other");
        let r = scan(MSG, Some(FeedIndex::new(vec![Arc::new(f)])));
        assert!(
            !r.symbols.iter().any(|s| s.name.starts_with("FEED_")),
            "{:?}",
            r.symbols
        );
    }

    #[test]
    fn listed_attachment_hash() {
        let raw = b"From: a@b.example\r\nTo: c@laocai.gov.vn\r\nSubject: x\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nxem\r\n\
--b\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\n\
Content-Disposition: attachment; filename=\"a.bin\"\r\n\r\nhello\r\n--b--\r\n";
        let view = crate::view::MessageView::build(raw, &crate::config::Limits::default());
        let sha = view.attachments[0].sha256.clone();
        assert_eq!(view.attachments[0].content.bytes(), b"hello");
        let mut f = Feed::new("hashes");
        f.insert_sha256(&sha.to_uppercase());
        let r = scan(raw, Some(FeedIndex::new(vec![Arc::new(f)])));
        let h = sym(&r, "FEED_HASH").expect("FEED_HASH");
        assert_eq!(h.options, [format!("hashes:a.bin {sha}")]);
        assert!(h.score >= 9.0);
    }
}
