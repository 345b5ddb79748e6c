//! The engine: configuration compiled once, then one pure call per message.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::checks::Context;
use crate::config::{Config, Thresholds};
use crate::feeds::FeedIndex;
use crate::pipeline;
use crate::scoring::{self, Action, CompiledComposite, ScoredSymbol};
use crate::symbols::Findings;
use crate::text::TextRules;
use crate::view::auth::AuthResults;
use crate::view::MessageView;

/// The SMTP envelope and session, when the message comes from an MTA.
/// Empty for a message read from a file.
///
/// These are the session facts own-domain protection needs: `client_ip`
/// (checked against `[organization] own_networks`), `authenticated_user`
/// (the milter `{auth_authen}` macro) and `helo`. A scan without a
/// `client_ip` is judged as stored mail, from its Received headers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Envelope {
    /// MAIL FROM address (empty string for the null sender).
    pub mail_from: Option<String>,
    /// RCPT TO addresses.
    pub rcpt_to: Vec<String>,
    /// Connecting client's IP address.
    pub client_ip: Option<String>,
    /// HELO/EHLO name.
    pub helo: Option<String>,
    /// SMTP AUTH user, when the client authenticated (internal submission).
    pub authenticated_user: Option<String>,
}

/// Results of enrichment done before analysis (by the gateway, with I/O).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Authentication results the gateway verified itself; believed like a
    /// header stamped by the organisation's `authserv_id`.
    pub auth: Option<AuthResults>,
    /// What the organisation's store remembers about the sender (the
    /// gateway looks it up before the scan); `None` when there is no store.
    pub sender: Option<SenderHistory>,
    /// DNS block list answers: listings and lists that could not be asked.
    /// Names not listed are absent. Empty when no `[[dnsbl]]` is configured.
    pub dnsbl: Vec<DnsblFact>,
    /// Threat feeds in force (`None`: no feeds configured). The index is
    /// shared between scans; the enrichment side swaps it when a feed file
    /// changes.
    pub feeds: Option<Arc<FeedIndex>>,
    /// Antivirus verdicts, one per attachment scanned (`None`: no
    /// antivirus configured).
    pub antivirus: Option<Vec<AntivirusScan>>,
}

/// One DNS block list answer about one client IP or domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsblFact {
    /// The list's zone, as configured (`zen.spamhaus.org`).
    pub zone: String,
    /// What was looked up: the IP address or the domain, not the query name.
    pub subject: String,
    /// The answer.
    pub outcome: DnsblOutcome,
}

/// What a DNS block list said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsblOutcome {
    /// Listed, with the return codes (`127.0.0.2`).
    Listed(Vec<String>),
    /// Time-out or DNS error: nothing is known.
    TempFail(String),
}

/// What the antivirus said about one attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AntivirusScan {
    /// The attachment's file name (may be empty).
    pub attachment: String,
    /// SHA-256 of the attachment, lowercase hex.
    pub sha256: String,
    /// The verdict.
    pub outcome: AntivirusOutcome,
}

/// One antivirus verdict. A scan that could not be done is never `Clean`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "detail")]
pub enum AntivirusOutcome {
    /// Scanned, nothing found.
    Clean,
    /// Scanned, a signature matched: its name (`Win.Trojan.X`,
    /// `Heuristics.Encrypted.Zip`).
    Found(String),
    /// Not scanned: larger than the configured limit (or the engine's own).
    TooLarge(String),
    /// Not scanned: the engine failed, was unreachable, too slow or answered
    /// nonsense. The reason, for the evidence.
    TempFail(String),
}

/// What the store remembers about an external sender, as counts: the core
/// reads no clock and no database, the gateway fills this in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SenderHistory {
    /// Earlier messages from this address.
    pub address_count: u64,
    /// Earlier messages from this address's domain.
    pub domain_count: u64,
    /// Someone in the organisation wrote to this address.
    pub address_replied: bool,
    /// Someone in the organisation wrote to this domain.
    pub domain_replied: bool,
    /// Days since the address first wrote (`None`: never).
    pub address_age_days: Option<f64>,
}

/// One attachment as a verdict reports it (history, feeds, campaigns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentSummary {
    /// File name.
    pub name: String,
    /// Declared content type.
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: u64,
    /// SHA-256 of the decoded content, lowercase hex.
    pub sha256: String,
}

/// One message to scan.
#[derive(Debug, Clone, Copy)]
pub struct ScanInput<'a> {
    /// The raw RFC 5322 message.
    pub raw: &'a [u8],
    /// Envelope, if known.
    pub envelope: &'a Envelope,
    /// Enrichment results.
    pub facts: &'a Facts,
}

/// Language of explanations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Vietnamese.
    #[default]
    Vi,
    /// English.
    En,
}

/// An explained verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanResult {
    /// Total score.
    pub score: f64,
    /// Action chosen.
    pub action: Action,
    /// Thresholds in force.
    pub thresholds: ThresholdsOut,
    /// Symbols, strongest first.
    pub symbols: Vec<ScoredSymbol>,
    /// From address, if any.
    pub from: Option<String>,
    /// Decoded subject.
    pub subject: String,
    /// Message-ID, if any.
    pub message_id: Option<String>,
    /// Size in bytes.
    pub size: usize,
    /// To and Cc addresses.
    #[serde(default)]
    pub to: Vec<String>,
    /// Registrable domains of the links (sorted, at most 100).
    #[serde(default)]
    pub link_domains: Vec<String>,
    /// Attachments (including archive-free nested ones), with hashes.
    #[serde(default)]
    pub attachments: Vec<AttachmentSummary>,
    /// Content fingerprint for campaign grouping: the same subject template,
    /// link domains and attachments give the same value.
    #[serde(default)]
    pub fingerprint: String,
}

/// Thresholds as reported in a result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdsOut {
    /// Warn threshold.
    pub warn: f64,
    /// Quarantine threshold.
    pub quarantine: f64,
    /// Reject threshold.
    pub reject: f64,
}

impl From<Thresholds> for ThresholdsOut {
    fn from(t: Thresholds) -> Self {
        ThresholdsOut {
            warn: t.warn,
            quarantine: t.quarantine,
            reject: t.reject,
        }
    }
}

/// The engine could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A keyword list failed to compile.
    #[error("keyword list {file}, line {line}: {message}")]
    Keywords {
        /// Which list.
        file: &'static str,
        /// Line in that list.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The shipped model file is damaged (a build problem).
    #[error("the shipped classifier model: {0}")]
    Model(String),
}

/// Compiled configuration. Immutable; share it between threads. Cloning
/// is cheap enough for a model change (the phrase automata are shared).
#[derive(Clone)]
pub struct Engine {
    pub(crate) config: Config,
    pub(crate) composites: Vec<CompiledComposite>,
    pub(crate) text: TextRules,
    pub(crate) lists: crate::domains::CompiledLists,
    pub(crate) own_networks: Vec<crate::net::Cidr>,
    pub(crate) model: Option<std::sync::Arc<crate::learn::Model>>,
}

/// The model shipped with phishgate (`phishgate train`, see the README).
const SHIPPED_MODEL: &[u8] = include_bytes!("../data/model.pgml");

impl Engine {
    /// Compiles a configuration.
    pub fn new(config: Config) -> Result<Engine, EngineError> {
        let composites = scoring::compile_composites(&config);
        let text = TextRules::new(&config)?;
        let lists = crate::domains::CompiledLists::new(&config.lists);
        // Validated when the configuration was parsed; a hand-built Config
        // with a bad entry loses that entry only.
        let own_networks = config
            .organization
            .own_networks
            .iter()
            .filter_map(|n| crate::net::Cidr::parse(n))
            .collect();
        let model = if config.classifier.enabled && config.classifier.model.is_empty() {
            Some(std::sync::Arc::new(
                crate::learn::Model::from_bytes(SHIPPED_MODEL)
                    .map_err(|e| EngineError::Model(e.to_string()))?,
            ))
        } else {
            None
        };
        Ok(Engine {
            config,
            composites,
            text,
            lists,
            own_networks,
            model,
        })
    }

    /// Uses `model` (read by the caller from `[classifier] model`) instead
    /// of the shipped one; `None` turns the classifier off.
    pub fn set_model(&mut self, model: Option<std::sync::Arc<crate::learn::Model>>) {
        self.model = model.filter(|_| self.config.classifier.enabled);
    }

    /// The same configuration with another model (the organisation's,
    /// shared through the store); the classifier stays off when the
    /// configuration turns it off.
    #[must_use]
    pub fn with_model(&self, model: std::sync::Arc<crate::learn::Model>) -> Engine {
        let mut e = self.clone();
        e.set_model(Some(model));
        e
    }

    /// The model in use, if any.
    pub fn model(&self) -> Option<&crate::learn::Model> {
        self.model.as_deref()
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Scans one message. Pure; never panics on any input.
    pub fn scan(&self, input: &ScanInput<'_>) -> ScanResult {
        let view = MessageView::build(input.raw, &self.config.limits);
        self.scan_view(&view, input)
    }

    /// Scans a message already reduced to a view.
    pub fn scan_view(&self, view: &MessageView, input: &ScanInput<'_>) -> ScanResult {
        let mut findings = Findings::default();
        let mut ctx = Context::new(self, view, input.envelope, input.facts);
        pipeline::run(&mut ctx, &mut findings);
        let verdict = scoring::score(findings.as_slice(), &self.config, &self.composites);
        let mut action = verdict.action;
        if action == Action::Reject && !self.config.classifier.may_reject {
            // The model may warn or help hold, but refusing a message (a
            // bounce nobody can release) takes the rules' own evidence.
            let learned: f64 = verdict
                .symbols
                .iter()
                .filter(|s| s.group == "classifier" && s.score > 0.0)
                .map(|s| s.score)
                .sum();
            if verdict.score - learned < self.config.actions.reject {
                action = Action::Quarantine;
            }
        }
        ScanResult {
            score: verdict.score,
            action,
            thresholds: self.config.actions.into(),
            symbols: verdict.symbols,
            from: view.from.as_ref().map(|m| m.address.clone()),
            subject: view.subject.clone(),
            message_id: view.message_id.clone(),
            size: view.size,
            to: view.recipients.iter().map(|m| m.address.clone()).collect(),
            link_domains: link_domains(view),
            attachments: view
                .attachments
                .iter()
                .map(|a| AttachmentSummary {
                    name: a.name.clone(),
                    content_type: a.declared_type.clone(),
                    size: a.size as u64,
                    sha256: a.sha256.clone(),
                })
                .collect(),
            fingerprint: fingerprint(view),
        }
    }

    /// A symbol's description in a language (the other language, then the
    /// name, when missing).
    pub fn describe(&self, name: &str, lang: Lang) -> String {
        if let Some(s) = self.config.symbols.get(name) {
            let (first, second) = match lang {
                Lang::Vi => (&s.vi, &s.en),
                Lang::En => (&s.en, &s.vi),
            };
            if !first.is_empty() {
                return first.clone();
            }
            if !second.is_empty() {
                return second.clone();
            }
        }
        if let Some(c) = self.config.composites.iter().find(|c| c.name == name) {
            let d = match lang {
                Lang::Vi => &c.vi,
                Lang::En => &c.en,
            };
            if !d.is_empty() {
                return d.clone();
            }
        }
        name.to_string()
    }
}

/// Registrable domains of a message's links, sorted and deduplicated.
fn link_domains(view: &MessageView) -> Vec<String> {
    let mut d: Vec<String> = view
        .links
        .iter()
        .filter_map(|l| l.url.as_ref())
        .map(|u| {
            if u.registrable.is_empty() {
                u.host.clone()
            } else {
                u.registrable.clone()
            }
        })
        .filter(|h| !h.is_empty())
        .collect();
    d.sort();
    d.dedup();
    d.truncate(100);
    d
}

/// A campaign fingerprint: the subject with numbers, reply prefixes and
/// case taken out, the link domains and the attachment hashes, hashed.
/// Two messages of one campaign sent to different people (other names in
/// the greeting, other tracking numbers) share it.
fn fingerprint(view: &MessageView) -> String {
    let mut subject = phishgate_text::fold_simple(&view.subject);
    loop {
        let t = subject.trim_start();
        let stripped = ["re:", "fw:", "fwd:", "tl:", "tr:", "aw:"]
            .iter()
            .find_map(|p| t.strip_prefix(p));
        match stripped {
            Some(rest) => subject = rest.to_string(),
            None => break,
        }
    }
    let subject: String = subject
        .chars()
        .map(|c| if c.is_numeric() { '#' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut material = subject;
    material.push('|');
    material.push_str(&link_domains(view).join(","));
    material.push('|');
    let mut hashes: Vec<&str> = view.attachments.iter().map(|a| a.sha256.as_str()).collect();
    hashes.sort_unstable();
    material.push_str(&hashes.join(","));
    let full = crate::view::attachment::sha256_hex(material.as_bytes());
    full.get(..16).unwrap_or(&full).to_string()
}
