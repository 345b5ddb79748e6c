//! The checks, one per file. Each is a plain function over a [`Context`] that
//! emits findings; none holds a score, none does I/O. The order they run in,
//! and why, is in `pipeline.rs`.

pub mod anomalies;
pub mod antivirus;
pub mod archives;
pub mod attachments;
pub mod auth_results;
pub mod bec;
pub mod classifier;
pub mod contact_address;
pub mod display_name;
pub mod dnsbl;
pub mod feeds;
pub mod html_attachments;
pub mod html_body;
pub mod link_hosts;
pub mod link_text;
pub mod lookalike;
pub mod lures;
pub mod office_macros;
pub mod own_domain;
pub mod pdf_attachments;
pub mod reply_to;
pub mod sender_history;

use crate::config::Config;
use crate::engine::{Engine, Envelope, Facts};
use crate::text::{self, TextFacts};
use crate::view::auth::AuthResults;
use crate::view::url::{host_in_domain, registrable_domain};
use crate::view::{Link, MessageView};

/// Weight of attachment findings inside a message an internal user forwards.
const NESTED_INTERNAL_WEIGHT: f64 = 0.3;

/// Everything a check may look at. Built once per message.
pub struct Context<'a> {
    /// The configuration in force.
    pub config: &'a Config,
    /// The engine (compiled lists).
    pub engine: &'a Engine,
    /// The message.
    pub view: &'a MessageView,
    /// SMTP envelope (empty for files).
    pub envelope: &'a Envelope,
    /// Enrichment results.
    pub facts: &'a Facts,
    /// Phrase hits in the text.
    pub text: TextFacts,
    /// The Authentication-Results the organisation's own server wrote (or the
    /// gateway verified), if any.
    pub trusted_auth: Option<AuthResults>,
    /// The From domain is one of the organisation's domains.
    pub from_own: bool,
    /// From the organisation's domain with nothing that says otherwise
    /// (no failed authentication, no outside envelope sender or Reply-To).
    pub internal: bool,
    /// Recipients: envelope RCPT TO and To/Cc, lower case.
    pub recipients: Vec<String>,
}

impl<'a> Context<'a> {
    /// Prepares the shared facts of one message.
    pub fn new(
        engine: &'a Engine,
        view: &'a MessageView,
        envelope: &'a Envelope,
        facts: &'a Facts,
    ) -> Self {
        let config = &engine.config;
        let text = text::analyse(&engine.text, &view.own_words(), &view.quoted_text);
        let trusted_auth = facts.auth.clone().or_else(|| {
            let id = &config.organization.authserv_id;
            if id.is_empty() {
                return None;
            }
            view.auth_results
                .iter()
                .find(|a| &a.authserv_id == id)
                .cloned()
        });
        let mut ctx = Context {
            config,
            engine,
            view,
            envelope,
            facts,
            text,
            trusted_auth,
            from_own: false,
            internal: false,
            recipients: Vec::new(),
        };
        ctx.from_own = view
            .from
            .as_ref()
            .is_some_and(|f| ctx.is_own_host(&f.domain));
        let env_foreign = ctx
            .envelope_sender_domain()
            .is_some_and(|d| !d.is_empty() && !ctx.is_own_host(&d));
        let reply_foreign = view.reply_to.iter().any(|r| !ctx.is_own_host(&r.domain));
        ctx.internal = ctx.from_own && !ctx.own_auth_failed() && !env_foreign && !reply_foreign;
        let mut rcpts: Vec<String> = envelope.rcpt_to.iter().map(|r| r.to_lowercase()).collect();
        rcpts.extend(view.recipients.iter().map(|m| m.address.clone()));
        rcpts.sort();
        rcpts.dedup();
        ctx.recipients = rcpts;
        ctx
    }

    /// Whether an IP address (text) is in `[organization] own_networks`.
    pub fn is_own_network(&self, ip: &str) -> bool {
        crate::net::in_networks(&self.engine.own_networks, ip)
    }

    /// Whether a host is in one of the organisation's domains.
    pub fn is_own_host(&self, host: &str) -> bool {
        self.config
            .organization
            .domains
            .iter()
            .any(|d| host_in_domain(host, d))
    }

    /// Weight of findings about an attachment: a forwarded phish's attachment,
    /// sent by an internal user (to the IT centre), is evidence in a report,
    /// not an attack on the recipient, so it counts for less.
    pub fn attachment_weight(&self, a: &crate::view::attachment::Attachment) -> f64 {
        if a.in_nested && self.internal {
            NESTED_INTERNAL_WEIGHT
        } else {
            1.0
        }
    }

    /// Whether a link host is under a trusted registry (`trusted_domains`).
    pub fn is_trusted_host(&self, host: &str) -> bool {
        self.engine.lists.trusted_domains.contains_host(host)
    }

    /// Whether a domain is a free mail provider.
    pub fn is_freemail(&self, domain: &str) -> bool {
        self.engine.lists.freemail.contains_host(domain)
    }

    /// Domain of the envelope sender (MAIL FROM, else Return-Path); `Some("")`
    /// for the null sender.
    pub fn envelope_sender_domain(&self) -> Option<String> {
        let s = self
            .envelope
            .mail_from
            .clone()
            .or_else(|| self.view.return_path.clone())?;
        let s = s.trim().trim_matches(['<', '>']).to_lowercase();
        Some(
            s.rsplit_once('@')
                .map(|(_, d)| d.to_string())
                .unwrap_or_default(),
        )
    }

    /// The trusted server says the own-domain From failed authentication.
    pub fn own_auth_failed(&self) -> bool {
        let Some(a) = &self.trusted_auth else {
            return false;
        };
        // The MAIL FROM identity's SPF (the one DMARC aligns), not HELO's.
        let res = |m: &str| {
            a.results
                .iter()
                .find(|r| r.method == m && !auth_results::is_helo_spf(r))
                .map(|r| r.result.as_str())
        };
        let dkim_pass = a.results.iter().any(|r| {
            r.method == "dkim"
                && r.result == "pass"
                && r.prop("header.d").is_some_and(|d| self.is_own_host(d))
        });
        match res("dmarc") {
            Some("fail") => true,
            Some("pass") => false,
            _ => matches!(res("spf"), Some("fail") | Some("softfail")) && !dkim_pass,
        }
    }

    /// The trusted server saw the From domain authenticated: DMARC pass, or a
    /// DKIM pass signed by the From's registrable domain.
    pub fn sender_authenticated(&self) -> bool {
        let (Some(a), Some(from_reg)) = (&self.trusted_auth, self.from_registrable()) else {
            return false;
        };
        a.results.iter().any(|r| {
            (r.method == "dmarc" && r.result == "pass")
                || (r.method == "dkim"
                    && r.result == "pass"
                    && r.prop("header.d")
                        .is_some_and(|d| registrable_domain(d) == from_reg))
        })
    }

    /// Sender's registrable domain, if there is a From address.
    pub fn from_registrable(&self) -> Option<String> {
        self.view
            .from
            .as_ref()
            .map(|f| registrable_domain(&f.domain))
    }

    /// Links the link checks weigh, with a weight each: the sender's own links
    /// fully; quoted links not at all for internal senders (a user forwarding
    /// a phish to the IT centre) and at a reduced weight for outsiders.
    pub fn weighed_links(&self) -> impl Iterator<Item = (&'a Link, f64)> + '_ {
        let internal = self.internal;
        self.view.links.iter().filter_map(move |l| {
            if !l.quoted {
                Some((l, 1.0))
            } else if internal {
                None
            } else {
                Some((l, 0.6))
            }
        })
    }

    /// Whether a registrable domain belongs to the sender: the sender's own
    /// registrable domain, or one of its family (`sender_families`).
    pub fn is_sender_party(&self, registrable: &str) -> bool {
        let Some(sender) = self.from_registrable() else {
            return false;
        };
        self.same_party(&sender, registrable)
    }

    /// Whether two registrable domains belong to one party: equal, or in one
    /// of the configured `sender_families`.
    pub fn same_party(&self, a: &str, b: &str) -> bool {
        a == b
            || self
                .config
                .lists
                .sender_families
                .iter()
                .any(|fam| fam.iter().any(|d| d == a) && fam.iter().any(|d| d == b))
    }
}
