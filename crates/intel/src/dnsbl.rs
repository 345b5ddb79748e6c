//! DNS block lists: the client IP against IP lists (`4.3.2.1.zone`, IPv6 as
//! 32 reversed nibbles) and the sender's and links' registrable domains
//! against domain lists (URIBL style, `example.com.zone`).
//!
//! The zones come from `[[dnsbl]]` (none by default: many sites have no
//! outside DNS). Answers become `Facts.dnsbl`; the core's `checks/dnsbl.rs`
//! maps return codes to symbols. An A record answer is a listing (its
//! addresses are the codes); NXDOMAIN or no A record is "not listed"; a
//! time-out or DNS error is a [`DnsblOutcome::TempFail`] fact, never "not
//! listed".
//!
//! Bounds: at most [`MAX_DOMAINS`] distinct domains per message and
//! `max_lookups` queries in all (client IP first, then the sender's domain,
//! then link domains in order of appearance); the queries run concurrently
//! and the whole batch ends at the `budget` deadline, unanswered ones being
//! reported as time-outs. Private, loopback and unspecified client addresses
//! are not looked up (no list holds them).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use phishgate_core::config::{DnsblKind, DnsblZone, Limits};
use phishgate_core::view::url::registrable_domain;
use phishgate_core::view::MessageView;
use phishgate_core::{DnsblFact, DnsblOutcome};
use tokio::task::JoinSet;
use tokio::time::{timeout_at, Instant};

use crate::dns::{Answer, Resolver};

/// Most distinct domains looked up per message.
pub const MAX_DOMAINS: usize = 20;
/// Default most queries per message, all lists together.
pub const DEFAULT_MAX_LOOKUPS: usize = 40;
/// Default time budget of one message's block-list lookups.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(2);

/// Queries the configured lists. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DnsblChecker {
    resolver: Arc<Resolver>,
    zones: Arc<[DnsblZone]>,
    budget: Duration,
    max_lookups: usize,
}

impl DnsblChecker {
    /// A checker for `zones` (the core configuration's `dnsbl`).
    pub fn new(
        resolver: Arc<Resolver>,
        zones: &[DnsblZone],
        budget: Duration,
        max_lookups: usize,
    ) -> DnsblChecker {
        DnsblChecker {
            resolver,
            zones: zones.into(),
            budget,
            max_lookups,
        }
    }

    /// Whether there is nothing to ask (no list configured).
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// Looks up the client IP and the domains (see [`message_domains`]).
    /// Returns listings and failures only.
    pub async fn check(&self, client_ip: Option<IpAddr>, domains: &[String]) -> Vec<DnsblFact> {
        let deadline = Instant::now() + self.budget;
        let mut queries: Vec<(String, String, String)> = Vec::new(); // zone, subject, qname
        let ip = client_ip.filter(|ip| worth_asking(*ip));
        for z in self.zones.iter().filter(|z| z.kind == DnsblKind::Ip) {
            if let Some(ip) = ip {
                queries.push((z.zone.clone(), ip.to_string(), reverse_query(ip, &z.zone)));
            }
        }
        for d in domains.iter().take(MAX_DOMAINS) {
            for z in self.zones.iter().filter(|z| z.kind == DnsblKind::Domain) {
                queries.push((z.zone.clone(), d.clone(), format!("{d}.{}", z.zone)));
            }
        }
        queries.truncate(self.max_lookups);

        let mut set = JoinSet::new();
        for (i, (_, _, qname)) in queries.iter().enumerate() {
            let r = Arc::clone(&self.resolver);
            let qname = qname.clone();
            set.spawn(async move { (i, r.ipv4(&qname).await) });
        }
        let mut answers: Vec<Option<Answer<Vec<std::net::Ipv4Addr>>>> = vec![None; queries.len()];
        while let Ok(Some(joined)) = timeout_at(deadline, set.join_next()).await {
            if let Ok((i, a)) = joined {
                if let Some(slot) = answers.get_mut(i) {
                    *slot = Some(a);
                }
            }
        }
        set.abort_all();

        let mut facts = Vec::new();
        for ((zone, subject, _), answer) in queries.into_iter().zip(answers) {
            let outcome = match answer {
                None => DnsblOutcome::TempFail("time-out".to_string()),
                Some(Answer::NotFound) => continue,
                Some(Answer::TempFail(e)) => DnsblOutcome::TempFail(e),
                Some(Answer::Found(ips)) => {
                    DnsblOutcome::Listed(ips.iter().map(ToString::to_string).collect())
                }
            };
            facts.push(DnsblFact {
                zone,
                subject,
                outcome,
            });
        }
        facts
    }
}

/// Public addresses only: lists hold nothing about private ones.
fn worth_asking(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private() || v4.is_loopback() || v4.is_unspecified() || v4.is_link_local())
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => worth_asking(IpAddr::V4(v4)),
            None => {
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.segments().first().is_some_and(|s| s & 0xfe00 == 0xfc00))
            }
        },
    }
}

/// `4.3.2.1.zone` for IPv4; 32 nibbles, least significant first, for IPv6.
pub fn reverse_query(ip: IpAddr, zone: &str) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.{zone}")
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(64 + zone.len());
            for byte in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            s.push_str(zone);
            s
        }
    }
}

/// The domains of a message worth asking domain lists about: the From
/// domain, the MAIL FROM domain, then the registrable domains of its links
/// (first appearance first), without duplicates, IP literals or
/// `own_domains`, at most [`MAX_DOMAINS`].
pub fn message_domains(
    raw: &[u8],
    limits: &Limits,
    mail_from: Option<&str>,
    own_domains: &[String],
) -> Vec<String> {
    view_domains(&MessageView::build(raw, limits), mail_from, own_domains)
}

/// [`message_domains`] of an already parsed message. Names that are not
/// valid DNS names (a label over 63 bytes, a name over 253) are left out:
/// no list can hold them, and asking would only fail.
pub fn view_domains(
    view: &MessageView,
    mail_from: Option<&str>,
    own_domains: &[String],
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |host: &str| {
        let reg = registrable_domain(host);
        let own = own_domains
            .iter()
            .any(|o| reg == *o || reg.ends_with(&format!(".{o}")));
        let valid = reg.len() <= 253 && reg.split('.').all(|l| !l.is_empty() && l.len() <= 63);
        if valid && reg.contains('.') && !own && !out.contains(&reg) {
            out.push(reg);
        }
    };
    if let Some(f) = &view.from {
        push(&f.domain);
    }
    if let Some((_, d)) = mail_from.and_then(|m| m.rsplit_once('@')) {
        push(d.trim_end_matches('>'));
    }
    for l in &view.links {
        if let Some(u) = l.url.as_ref().filter(|u| !u.is_ip) {
            push(&u.host);
        }
    }
    out.truncate(MAX_DOMAINS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reversed_names() {
        let v4: IpAddr = "192.0.2.99".parse().unwrap();
        assert_eq!(reverse_query(v4, "zen.test"), "99.2.0.192.zen.test");
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            reverse_query(v6, "bl.test"),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test"
        );
        assert!(!worth_asking("10.0.0.1".parse().unwrap()));
        assert!(!worth_asking("::ffff:127.0.0.1".parse().unwrap()));
        assert!(worth_asking(v4));
    }

    #[test]
    fn domains_of_a_message() {
        let raw = b"From: x@mail.sender.example.com\r\nContent-Type: text/html\r\n\r\n\
<a href=\"https://a.bad-link.top/x\">x</a> <a href=\"http://192.0.2.1/\">ip</a>\
<a href=\"https://www.laocai.gov.vn/\">own</a> <a href=\"https://b.bad-link.top/\">y</a>\r\n";
        let d = message_domains(
            raw,
            &Limits::default(),
            Some("<b@bounce.example.org>"),
            &["laocai.gov.vn".to_string()],
        );
        assert_eq!(d, vec!["example.com", "example.org", "bad-link.top"]);
    }
}
