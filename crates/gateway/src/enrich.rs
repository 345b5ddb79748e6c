//! Enrichment before the analysis (DESIGN.md, "enrich"): the gateway
//! verifies SPF, DKIM, ARC and DMARC itself and asks the configured DNS block
//! lists, using `crates/intel`. Everything is bounded in time (`[auth]
//! timeout_ms`, `[dns]` time-outs); a failure becomes a temporary-error
//! fact that the analysis shows as a symbol, never an aborted scan.
//!
//! Only what the gateway saw itself is verified: SPF needs the client IP,
//! HELO and MAIL FROM of the SMTP session (milter macros, XFORWARD, or the
//! Rspamd headers `IP`/`Helo`/`From`). Without a client IP nothing is
//! verified and the analysis reads the trusted `Authentication-Results`
//! header as before.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use phishgate_core::{Config, Envelope, Facts};
use phishgate_intel::auth::{AuthSession, Verifier};
use phishgate_intel::dns::{DnsConfig, Resolver};
use phishgate_intel::dnsbl::{message_domains, DnsblChecker, DEFAULT_MAX_LOOKUPS};

/// What the gateway stamps on a message after verifying it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stamp {
    /// Our `Authentication-Results` value (without the field name).
    pub auth_results: Option<String>,
    /// 1-based positions, among the message's `Authentication-Results`
    /// fields, of those claiming our authserv-id: written before the message
    /// reached us, so forged; removed before ours is added.
    pub forged: Vec<usize>,
}

/// The enrichment sources of one configuration.
pub struct Enricher {
    verifier: Option<Verifier>,
    dnsbl: Option<DnsblChecker>,
    authserv_id: String,
    own_domains: Vec<String>,
    limits: phishgate_core::config::Limits,
}

impl Enricher {
    /// Builds the sources the configuration turns on (`[auth] verify`,
    /// `[[dnsbl]]`); `None` when it turns none on. Must run inside the
    /// tokio runtime (the resolver's sockets belong to it).
    ///
    /// # Errors
    /// A bad `[dns]` section or no usable name server.
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Enricher>> {
        if !config.auth.verify && config.dnsbl.is_empty() {
            return Ok(None);
        }
        let dns = DnsConfig::from_table(config.dns.as_ref())
            .map_err(|e| anyhow::anyhow!("[dns]: {e}"))?;
        let resolver = Arc::new(
            Resolver::new(&dns)
                .map_err(|e| anyhow::anyhow!("[dns]: cannot set up the resolver: {e}"))?,
        );
        let authserv_id = config.organization.authserv_id.clone();
        let verifier = config.auth.verify.then(|| {
            Verifier::new(
                Arc::clone(&resolver),
                &authserv_id,
                Duration::from_millis(config.auth.timeout_ms),
            )
        });
        let dnsbl = (!config.dnsbl.is_empty()).then(|| {
            DnsblChecker::new(
                Arc::clone(&resolver),
                &config.dnsbl,
                dns.lookup_timeout(),
                DEFAULT_MAX_LOOKUPS,
            )
        });
        Ok(Some(Enricher {
            verifier,
            dnsbl,
            authserv_id,
            own_domains: config.organization.domains.clone(),
            limits: config.limits,
        }))
    }

    /// Verifies and looks up what the configuration asks for, filling
    /// `facts`; returns what to stamp on the message. Authentication and
    /// block lists run concurrently, each within its own budget.
    pub async fn enrich(&self, raw: &[u8], envelope: &Envelope, facts: &mut Facts) -> Stamp {
        let client_ip: Option<IpAddr> = envelope
            .client_ip
            .as_deref()
            .and_then(|ip| ip.trim().trim_start_matches("IPv6:").parse().ok());
        let auth = async {
            let (Some(v), Some(ip)) = (&self.verifier, client_ip) else {
                return None;
            };
            let helo = envelope.helo.as_deref().unwrap_or("");
            let mail_from = envelope.mail_from.as_deref().unwrap_or("");
            let session = AuthSession {
                client_ip: ip,
                helo,
                mail_from,
            };
            Some(v.verify(&session, raw).await)
        };
        let lists = async {
            let c = self.dnsbl.as_ref()?;
            let domains = message_domains(
                raw,
                &self.limits,
                envelope.mail_from.as_deref(),
                &self.own_domains,
            );
            Some(c.check(client_ip, &domains).await)
        };
        let (verdict, listed) = tokio::join!(auth, lists);
        let mut stamp = Stamp::default();
        if let Some(v) = verdict {
            if !v.timed_out.is_empty() {
                tracing::info!(methods = ?v.timed_out, "authentication checks timed out");
            }
            stamp.auth_results = Some(v.header.clone());
            stamp.forged = phishgate_core::view::auth::forged_auth_results(raw, &self.authserv_id);
            facts.auth = Some(v.results);
        }
        if let Some(l) = listed {
            facts.dnsbl = l;
        }
        stamp
    }
}
