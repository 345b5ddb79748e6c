//! Enrichment before the analysis (DESIGN.md, "enrich"), using
//! `crates/intel`: the gateway verifies SPF, DKIM, ARC and DMARC itself, asks
//! the configured DNS block lists, matches threat feeds read from files, and
//! has clamd scan every attachment. Everything is bounded in time (`[auth]
//! timeout_ms`, `[dns]` time-outs, `[clamav] timeout_ms`); a failure becomes
//! a temporary-error fact that the analysis shows as a symbol, never an
//! aborted scan.
//!
//! Only what the gateway saw itself is verified: SPF needs the client IP,
//! HELO and MAIL FROM of the SMTP session (milter macros, XFORWARD, or the
//! Rspamd headers `IP`/`Helo`/`From`). Without a client IP nothing is
//! verified and the analysis reads the trusted `Authentication-Results`
//! header as before.
//!
//! The same enrichment serves `phishgate scan` ([`Purpose::Stored`]), so an
//! analyst's scan of a saved message shows the verdict the gateway gave:
//! feeds, clamd and DNS lists as configured. SPF/DKIM/DMARC verification is
//! left to the gateway, since a saved message has no SMTP session; its
//! trusted `Authentication-Results` header is read instead.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use phishgate_core::view::auth::{AuthResult, AuthResults};
use phishgate_core::view::MessageView;
use phishgate_core::{Config, Envelope, Facts};
use phishgate_intel::auth::{AuthSession, Verifier};
use phishgate_intel::dns::{DnsConfig, Resolver};
use phishgate_intel::dnsbl::{message_domains, view_domains, DnsblChecker, DEFAULT_MAX_LOOKUPS};
use phishgate_intel::{ClamavConfig, Clamd, FeedSet, FeedsConfig};

/// What the gateway stamps on a message after verifying it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stamp {
    /// Our `Authentication-Results` value (without the field name).
    pub auth_results: Option<String>,
    /// 1-based positions, among the message's `Authentication-Results`
    /// fields, of those claiming our authserv-id: written before the message
    /// reached us, so forged; removed before ours is added (milter).
    pub forged: Vec<usize>,
    /// Our authserv-id when the gateway verifies: every
    /// `Authentication-Results` claiming it is removed (content filter,
    /// release), whatever became of the scan.
    pub authserv_id: Option<String>,
}

/// Where the enrichment runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// In the mail path (`serve`): everything configured.
    Gateway,
    /// A saved message (`phishgate scan`): no SPF/DKIM/DMARC verification.
    Stored,
}

/// The enrichment sources of one configuration.
pub struct Enricher {
    verifier: Option<Verifier>,
    dnsbl: Option<DnsblChecker>,
    feeds: Option<Arc<FeedSet>>,
    clamd: Option<Clamd>,
    authserv_id: String,
    own_domains: Vec<String>,
    limits: phishgate_core::config::Limits,
}

impl Enricher {
    /// Builds the sources the configuration turns on (`[auth] verify`,
    /// `[[dnsbl]]`, `[[feeds.source]]`, `[clamav]`); `None` when it turns
    /// none on. Feed files are read now; inside a tokio runtime (`serve`) a
    /// background task reloads them when they change.
    ///
    /// # Errors
    /// A bad `[dns]`, `[feeds]` or `[clamav]` section.
    pub fn from_config(config: &Config, purpose: Purpose) -> anyhow::Result<Option<Enricher>> {
        let verify = config.auth.verify && purpose == Purpose::Gateway;
        let feeds = FeedsConfig::from_config(config)
            .map_err(|e| anyhow::anyhow!("[feeds]: {e}"))?
            .map(|f| Arc::new(FeedSet::load(f)));
        if let Some(f) = &feeds {
            for st in f.status() {
                tracing::info!(feed = ?st, "threat feed loaded");
            }
            if tokio::runtime::Handle::try_current().is_ok() {
                drop(f.spawn_reloader());
            }
        }
        let clamd = ClamavConfig::from_config(config)
            .map_err(|e| anyhow::anyhow!("[clamav]: {e}"))?
            .map(Clamd::new)
            .transpose()
            .map_err(|e| anyhow::anyhow!("[clamav]: {e}"))?;
        if !verify && config.dnsbl.is_empty() && feeds.is_none() && clamd.is_none() {
            return Ok(None);
        }
        let resolver = if verify || !config.dnsbl.is_empty() {
            let dns = DnsConfig::from_table(config.dns.as_ref())
                .map_err(|e| anyhow::anyhow!("[dns]: {e}"))?;
            let r = Resolver::new(&dns)
                .map_err(|e| anyhow::anyhow!("[dns]: cannot set up the resolver: {e}"))?;
            Some((Arc::new(r), dns))
        } else {
            None
        };
        let authserv_id = config.organization.authserv_id.clone();
        let verifier = resolver.as_ref().filter(|_| verify).map(|(r, _)| {
            Verifier::new(
                Arc::clone(r),
                &authserv_id,
                Duration::from_millis(config.auth.timeout_ms),
            )
        });
        let dnsbl = resolver
            .as_ref()
            .filter(|_| !config.dnsbl.is_empty())
            .map(|(r, dns)| {
                DnsblChecker::new(
                    Arc::clone(r),
                    &config.dnsbl,
                    dns.lookup_timeout(),
                    DEFAULT_MAX_LOOKUPS,
                )
            });
        Ok(Some(Enricher {
            verifier,
            dnsbl,
            feeds,
            clamd,
            authserv_id,
            own_domains: config.organization.domains.clone(),
            limits: config.limits,
        }))
    }

    /// Whether [`Enricher::enrich`] needs the parsed message (clamd scans
    /// its attachments, DNS lists read its links): build it once, off the
    /// async threads, and analyse that same view.
    pub fn needs_view(&self) -> bool {
        self.clamd.is_some() || self.dnsbl.is_some()
    }

    /// Verifies and looks up what the configuration asks for, filling
    /// `facts`; returns what to stamp on the message. Authentication, block
    /// lists and the antivirus run concurrently, each within its own budget.
    /// `view` is the parsed message when [`Enricher::needs_view`].
    pub async fn enrich(
        &self,
        raw: &[u8],
        view: Option<&MessageView>,
        envelope: &Envelope,
        facts: &mut Facts,
    ) -> Stamp {
        if let Some(f) = &self.feeds {
            facts.feeds = Some(f.index());
        }
        let client_ip: Option<IpAddr> = envelope
            .client_ip
            .as_deref()
            .and_then(|ip| ip.trim().trim_start_matches("IPv6:").parse().ok());
        let authenticated = envelope
            .authenticated_user
            .as_deref()
            .filter(|u| !u.trim().is_empty());
        let auth = async {
            let (Some(v), Some(ip)) = (&self.verifier, client_ip) else {
                return None;
            };
            // Authenticated submission (a roaming user of the organisation):
            // SPF and DMARC say nothing about it.
            if authenticated.is_some() {
                return None;
            }
            let session = AuthSession {
                client_ip: ip,
                helo: envelope.helo.as_deref().unwrap_or(""),
                mail_from: envelope.mail_from.as_deref().unwrap_or(""),
            };
            Some(v.verify(&session, raw).await)
        };
        let lists = async {
            let c = self.dnsbl.as_ref()?;
            let domains = match view {
                Some(v) => view_domains(v, envelope.mail_from.as_deref(), &self.own_domains),
                None => message_domains(
                    raw,
                    &self.limits,
                    envelope.mail_from.as_deref(),
                    &self.own_domains,
                ),
            };
            Some(c.check(client_ip, &domains).await)
        };
        let antivirus = async {
            let (c, v) = (self.clamd.as_ref()?, view?);
            Some(c.scan_attachments(&v.attachments).await)
        };
        let (verdict, listed, scanned) = tokio::join!(auth, lists, antivirus);
        if scanned.is_some() {
            facts.antivirus = scanned;
        }
        let mut stamp = Stamp::default();
        if self.verifier.is_some() {
            // We are the authority for our authserv-id: whatever claims it
            // already is forged, verified or not, and it must not be
            // believed by the analysis either.
            stamp.authserv_id = Some(self.authserv_id.clone());
            stamp.forged = phishgate_core::view::auth::forged_auth_results(raw, &self.authserv_id);
            let (header, results) = match (verdict, authenticated) {
                (Some(v), _) => {
                    if !v.timed_out.is_empty() {
                        tracing::info!(methods = ?v.timed_out, "authentication checks timed out");
                    }
                    (v.header.clone(), v.results)
                }
                (None, Some(user)) => {
                    let user: String = user
                        .chars()
                        .filter(|c| c.is_ascii_graphic() && *c != ';' && *c != '(' && *c != ')')
                        .take(128)
                        .collect();
                    (
                        format!("{}; auth=pass smtp.auth={user}", self.authserv_id),
                        AuthResults {
                            authserv_id: self.authserv_id.to_ascii_lowercase(),
                            results: vec![AuthResult {
                                method: "auth".into(),
                                result: "pass".into(),
                                props: vec![("smtp.auth".into(), user.to_ascii_lowercase())],
                            }],
                        },
                    )
                }
                // No client address (no XFORWARD, an HTTP scan without `IP`):
                // nothing was verified, and nothing claimed is believed.
                (None, None) => (
                    format!("{}; none", self.authserv_id),
                    AuthResults {
                        authserv_id: self.authserv_id.to_ascii_lowercase(),
                        results: Vec::new(),
                    },
                ),
            };
            stamp.auth_results = Some(header);
            facts.auth = Some(results);
        }
        if let Some(l) = listed {
            facts.dnsbl = l;
        }
        stamp
    }
}
