//! Configuration: the shipped defaults merged with a user's TOML file.
//!
//! Parsing is a pure function over strings ([`Config::from_toml_str`]); reading
//! the file is the caller's business. The merge rule is simple and documented in
//! `data/default.toml`: tables merge key by key, every other value (including
//! arrays) replaces the default. The user's text is first checked on its own
//! against the schema, so a typo or a wrong type is reported with the line in
//! the user's file, not in the merged document.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The shipped defaults, compiled into the binary.
pub const DEFAULT_TOML: &str = include_str!("../data/default.toml");

/// A whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Who is protected.
    pub organization: Organization,
    /// Score thresholds of the actions.
    pub actions: Thresholds,
    /// Named bounds on the work done per message.
    pub limits: Limits,
    /// Score caps per symbol group.
    pub groups: BTreeMap<String, GroupConfig>,
    /// Every symbol a check may emit, with its score and descriptions.
    pub symbols: BTreeMap<String, SymbolConfig>,
    /// Rules over symbols that add a symbol and may cancel others.
    pub composites: Vec<CompositeConfig>,
    /// Domain and extension lists used by the checks.
    pub lists: Lists,
    /// `[auth]`: the gateway's own SPF/DKIM/DMARC/ARC verification.
    pub auth: AuthPolicy,
    /// `[classifier]`: the learned classifier.
    pub classifier: ClassifierConfig,
    /// `[[dnsbl]]`: DNS block lists (none by default).
    pub dnsbl: Vec<DnsblZone>,
    /// `[listen]`: read by the gateway; opaque to the analysis core.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<toml::Table>,
    /// `[storage]`: read by the store; opaque here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<toml::Table>,
    /// `[relay]`: read by the gateway; opaque here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relay: Option<toml::Table>,
    /// `[gateway]`: read by the gateway; opaque here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<toml::Table>,
    /// `[banner]`: warning banner templates; opaque here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banner: Option<toml::Table>,
    /// `[clamav]`, `[dns]`, `[feeds]`: enrichment settings; opaque here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clamav: Option<toml::Table>,
    /// See `clamav`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<toml::Table>,
    /// See `clamav`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feeds: Option<toml::Table>,
}

/// The learned classifier (`[classifier]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassifierConfig {
    /// Use it at all.
    pub enabled: bool,
    /// A model file of your own (`phishgate train` / `phishgate learn`);
    /// empty: the model shipped with phishgate. Read by the program at
    /// start (the analysis itself reads no files).
    pub model: String,
    /// From this probability of "unwanted" up, `ML_UNWANTED` fires (its
    /// weight grows to 1 at `unwanted_full_at`).
    pub unwanted_at: f32,
    /// From this probability up, `ML_UNWANTED` counts in full.
    pub unwanted_full_at: f32,
    /// Below this probability, `ML_WANTED` fires (weight 1 at 0).
    pub wanted_below: f32,
    /// Administrators' decisions teach the organisation's model (kept in
    /// the store, shared by its nodes): `phishgate quarantine release`
    /// (wanted mail), `quarantine confirm` (phishing), and users' reports
    /// confirmed or dismissed. Off by default.
    pub learn_from_decisions: bool,
    /// Whether the classifier's points may carry a message over the
    /// `reject` threshold. Off by default: the model can warn on its own and
    /// help hold a message, but a refusal (in milter mode a bounce that no
    /// administrator can release) needs the rules alone to reach `reject`.
    pub may_reject: bool,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        ClassifierConfig {
            enabled: true,
            model: String::new(),
            // Chosen on the validation part of the corpus split (fit on the
            // rest) and on fixtures the model had not seen; see README,
            // "Tuning".
            unwanted_at: 0.6,
            unwanted_full_at: 0.9,
            wanted_below: 0.3,
            learn_from_decisions: false,
            may_reject: false,
        }
    }
}

/// The organisation phishgate protects (`[organization]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Organization {
    /// Name as users see it in mail.
    pub name: String,
    /// Own mail domains; subdomains count as own.
    pub domains: Vec<String>,
    /// Trust Authentication-Results from this host only.
    pub authserv_id: String,
    /// Protected executives.
    pub vips: Vec<String>,
    /// Addresses users forward suspicious mail to.
    pub report_addresses: Vec<String>,
    /// Unit names only the organisation may use in a display name.
    pub units: Vec<String>,
    /// Networks the organisation's own mail comes from (CIDRs): its mail
    /// servers, relays and loopback. Mail claiming an own domain from
    /// anywhere else, without SMTP AUTH and without an own-domain DKIM
    /// signature, did not take the organisation's path.
    pub own_networks: Vec<String>,
}

/// `[auth]`: how the gateway verifies and weighs sender authentication.
/// The core reads `honour_dmarc`; the enrichment side reads the others.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthPolicy {
    /// Verify SPF, DKIM, ARC and DMARC in the gateway (needs DNS). Scans
    /// of stored mail use the trusted Authentication-Results header instead.
    pub verify: bool,
    /// Apply the sender domain's published DMARC policy when DMARC fails:
    /// `p=reject` scores to reject, `p=quarantine` to quarantine (the
    /// `DMARC_POLICY_*` symbols). Off: the symbols show with 0 points.
    pub honour_dmarc: bool,
    /// Budget of one message's verification, in milliseconds; a method
    /// that does not finish is a temporary error.
    pub timeout_ms: u64,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        AuthPolicy {
            verify: false,
            honour_dmarc: true,
            timeout_ms: 3_000,
        }
    }
}

/// What a DNS block list is queried with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsblKind {
    /// The client IP, reversed (`4.3.2.1.zone`, IPv6 as nibbles).
    #[default]
    Ip,
    /// Link and sender domains (`example.com.zone`, URIBL style).
    Domain,
}

/// One `[[dnsbl]]` zone.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsblZone {
    /// The list's zone, e.g. `zen.spamhaus.org`.
    pub zone: String,
    /// What is looked up.
    pub kind: DnsblKind,
    /// Return code (`127.0.0.2`) -> symbol name (must be under `[symbols]`).
    pub codes: BTreeMap<String, String>,
    /// Symbol for a listing whose code is not in `codes` (empty: ignored,
    /// as lists use unknown codes for errors such as "query refused").
    pub default_symbol: String,
}

/// Action thresholds (`[actions]`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Score at which the message is delivered with a warning.
    pub warn: f64,
    /// Score at which the message is held.
    pub quarantine: f64,
    /// Score at which the message is refused.
    pub reject: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            warn: 5.0,
            quarantine: 9.0,
            reject: 15.0,
        }
    }
}

/// Named bounds (`[limits]`). Exceeding one is a symbol, never a crash.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Bytes of a message that are analysed.
    pub max_message_bytes: usize,
    /// Deepest MIME nesting that is walked.
    pub max_mime_depth: usize,
    /// Most MIME parts that are looked at.
    pub max_parts: usize,
    /// Bytes of HTML per part fed to the HTML reader.
    pub max_html_bytes: usize,
    /// Bytes of visible text kept per message for phrase matching.
    pub max_text_bytes: usize,
    /// Links kept per message.
    pub max_links: usize,
    /// Largest attachment whose content is inspected.
    pub max_attachment_bytes: usize,
    /// Deepest archive-in-archive nesting that is opened.
    pub max_archive_depth: usize,
    /// Most members listed per archive.
    pub max_archive_members: usize,
    /// Most bytes decompressed from archives per message.
    pub max_decompressed_bytes: usize,
    /// Wall-clock time one scan should take, in milliseconds. The core reads
    /// no clock: its work is bounded by the sizes above; the callers measure
    /// (the CLI reports SCAN_TIME_EXCEEDED; the gateway applies its failure
    /// mode).
    pub max_scan_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 25 * 1024 * 1024,
            max_mime_depth: 24,
            max_parts: 400,
            max_html_bytes: 2 * 1024 * 1024,
            max_text_bytes: 64 * 1024,
            max_links: 400,
            max_attachment_bytes: 25 * 1024 * 1024,
            max_archive_depth: 3,
            max_archive_members: 512,
            max_decompressed_bytes: 32 * 1024 * 1024,
            max_scan_ms: 5_000,
        }
    }
}

/// A symbol group (`[groups.NAME]`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupConfig {
    /// Cap on the sum of the group's positive scores; none when absent.
    pub max_score: Option<f64>,
}

/// A symbol (`[symbols.NAME]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SymbolConfig {
    /// Group the symbol belongs to.
    pub group: String,
    /// Points at weight 1.0.
    pub score: f64,
    /// English description.
    pub en: String,
    /// Vietnamese description.
    pub vi: String,
}

/// A composite rule (`[[composites]]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompositeConfig {
    /// Name of the symbol the composite adds.
    pub name: String,
    /// Boolean expression over symbol names (`&`, `|`, `!`, parentheses).
    pub expression: String,
    /// Score of the composite itself.
    pub score: f64,
    /// Group of the composite.
    pub group: String,
    /// Symbols whose score becomes 0 when the composite fires.
    pub remove: Vec<String>,
    /// Symbols whose score is multiplied by a factor between 0 and 1 when
    /// the composite fires (`scale = { ML_UNWANTED = 0.5 }`): a weaker
    /// `remove`, for evidence that counts less in the composite's situation.
    pub scale: std::collections::BTreeMap<String, f64>,
    /// English description.
    pub en: String,
    /// Vietnamese description.
    pub vi: String,
}

/// Lists (`[lists]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Lists {
    /// Free mail providers.
    pub freemail: Vec<String>,
    /// URL shorteners.
    pub shorteners: Vec<String>,
    /// Free hosting, site builders and form services (a host, or host/path prefix).
    pub free_hosting: Vec<String>,
    /// Top-level domains often used for abuse.
    pub suspicious_tlds: Vec<String>,
    /// Path fragments naming a login or webmail page.
    pub login_paths: Vec<String>,
    /// Click-tracking and mailing services.
    pub tracking_redirects: Vec<String>,
    /// Link destinations trusted like the organisation's own (suffixes).
    pub trusted_domains: Vec<String>,
    /// Groups of registrable domains that belong to one sender.
    pub sender_families: Vec<Vec<String>>,
    /// Extensions of programs.
    pub executable_extensions: Vec<String>,
    /// Extensions of scripts.
    pub script_extensions: Vec<String>,
    /// Extensions of disk images.
    pub disk_image_extensions: Vec<String>,
    /// Extensions of macro-enabled Office files.
    pub macro_extensions: Vec<String>,
    /// Extensions of archives.
    pub archive_extensions: Vec<String>,
}

/// A configuration that could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The TOML text is malformed or does not fit the schema; the message names the line.
    #[error("{0}")]
    Syntax(String),
    /// The document parses but says something impossible.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// The shipped defaults alone.
    pub fn defaults() -> Config {
        // The shipped file is tested to parse and validate (see tests below), so
        // this cannot fail in a released build; fall back to an empty config
        // rather than panic all the same.
        Config::from_toml_str("").unwrap_or_default()
    }

    /// Defaults merged with a user's TOML text.
    pub fn from_toml_str(user: &str) -> Result<Config, ConfigError> {
        // 1. The user's text alone, against the schema: errors carry its lines.
        let _: Config = toml::from_str(user).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        let user_table: toml::Table =
            toml::from_str(user).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        let mut base: toml::Table = toml::from_str(DEFAULT_TOML)
            .map_err(|e| ConfigError::Syntax(format!("shipped defaults: {e}")))?;
        merge_tables(&mut base, user_table);
        let config: Config = toml::Value::Table(base)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Syntax(e.to_string()))?;
        config.validate()?;
        Ok(config.normalized())
    }

    /// Checks that cannot be expressed in the schema.
    fn validate(&self) -> Result<(), ConfigError> {
        let t = &self.actions;
        for (name, v) in [
            ("warn", t.warn),
            ("quarantine", t.quarantine),
            ("reject", t.reject),
        ] {
            if !v.is_finite() {
                return Err(ConfigError::Invalid(format!(
                    "[actions] {name} must be a finite number"
                )));
            }
        }
        if !(t.warn <= t.quarantine && t.quarantine <= t.reject) {
            return Err(ConfigError::Invalid(format!(
                "[actions] thresholds must satisfy warn <= quarantine <= reject (got {} / {} / {})",
                t.warn, t.quarantine, t.reject
            )));
        }
        let c = &self.classifier;
        if !(c.wanted_below.is_finite()
            && c.unwanted_at.is_finite()
            && c.unwanted_full_at.is_finite()
            && 0.0 <= c.wanted_below
            && c.wanted_below <= c.unwanted_at
            && c.unwanted_at <= c.unwanted_full_at)
        {
            return Err(ConfigError::Invalid(format!(
                "[classifier] probabilities must satisfy 0 <= wanted_below <= unwanted_at <= \
                 unwanted_full_at (got {} / {} / {})",
                c.wanted_below, c.unwanted_at, c.unwanted_full_at
            )));
        }
        for (name, s) in &self.symbols {
            if !s.score.is_finite() {
                return Err(ConfigError::Invalid(format!(
                    "[symbols.{name}] score must be a finite number"
                )));
            }
            if !s.group.is_empty() && !self.groups.contains_key(&s.group) {
                return Err(ConfigError::Invalid(format!(
                    "[symbols.{name}] group \"{}\" is not defined under [groups]",
                    s.group
                )));
            }
        }
        for c in &self.composites {
            crate::scoring::Expr::parse(&c.expression).map_err(|e| {
                ConfigError::Invalid(format!("composite {}: expression: {e}", c.name))
            })?;
            for r in &c.remove {
                if !self.symbols.contains_key(r) {
                    return Err(ConfigError::Invalid(format!(
                        "composite {}: removes unknown symbol {r}",
                        c.name
                    )));
                }
            }
            for (r, factor) in &c.scale {
                if !self.symbols.contains_key(r) {
                    return Err(ConfigError::Invalid(format!(
                        "composite {}: scales unknown symbol {r}",
                        c.name
                    )));
                }
                if !(0.0..=1.0).contains(factor) {
                    return Err(ConfigError::Invalid(format!(
                        "composite {}: scale of {r} must be between 0 and 1 (got {factor})",
                        c.name
                    )));
                }
            }
        }
        for n in &self.organization.own_networks {
            if crate::net::Cidr::parse(n).is_none() {
                return Err(ConfigError::Invalid(format!(
                    "[organization] own_networks: \"{n}\" is not an address or CIDR network"
                )));
            }
        }
        for z in &self.dnsbl {
            if z.zone.trim().is_empty() || z.zone.contains(' ') {
                return Err(ConfigError::Invalid(format!(
                    "[[dnsbl]] zone \"{}\" is not a domain name",
                    z.zone
                )));
            }
            for code in z.codes.keys() {
                if code.parse::<std::net::Ipv4Addr>().is_err() {
                    return Err(ConfigError::Invalid(format!(
                        "[[dnsbl]] {}: code \"{code}\" is not an IPv4 address",
                        z.zone
                    )));
                }
            }
            let named = z.codes.values().chain(Some(&z.default_symbol));
            for sym in named.filter(|s| !s.is_empty()) {
                if !self.symbols.contains_key(sym) {
                    return Err(ConfigError::Invalid(format!(
                        "[[dnsbl]] {}: symbol {sym} is not defined under [symbols]",
                        z.zone
                    )));
                }
            }
        }
        for d in &self.organization.domains {
            if d.trim().is_empty() || d.contains('@') || d.contains(' ') {
                return Err(ConfigError::Invalid(format!(
                    "[organization] domains: \"{d}\" is not a domain name"
                )));
            }
        }
        Ok(())
    }

    /// Lower-cases domains and list entries once, so checks compare directly.
    fn normalized(mut self) -> Config {
        let lower = |v: &mut Vec<String>| {
            for s in v.iter_mut() {
                *s = s.trim().trim_start_matches('.').to_ascii_lowercase();
            }
        };
        lower(&mut self.organization.domains);
        self.organization.authserv_id = self.organization.authserv_id.trim().to_ascii_lowercase();
        lower(&mut self.organization.report_addresses);
        for z in self.dnsbl.iter_mut() {
            z.zone = z.zone.trim().trim_matches('.').to_ascii_lowercase();
        }
        let l = &mut self.lists;
        for v in [
            &mut l.freemail,
            &mut l.shorteners,
            &mut l.free_hosting,
            &mut l.suspicious_tlds,
            &mut l.login_paths,
            &mut l.tracking_redirects,
            &mut l.trusted_domains,
            &mut l.executable_extensions,
            &mut l.script_extensions,
            &mut l.disk_image_extensions,
            &mut l.macro_extensions,
            &mut l.archive_extensions,
        ] {
            lower(v);
        }
        for fam in l.sender_families.iter_mut() {
            lower(fam);
        }
        self
    }
}

/// Deep merge: tables merge recursively; anything else in `over` replaces.
fn merge_tables(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge_tables(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// A commented starter configuration for `phishgate init --domain D`.
pub fn starter_toml(domain: &str, name: &str) -> String {
    let domain = domain.trim().to_ascii_lowercase();
    format!(
        r#"# phishgate configuration. Everything not set here takes the shipped default
# (see `phishgate config --defaults` for the full list of symbols, scores and lists).

[organization]
# The organisation's name as users see it in mail.
name = "{name}"
# Your own mail domains. Mail that claims them from outside is a spoof;
# domains that imitate them are lookalikes. Subdomains count as own.
domains = ["{domain}"]
# The host name your own mail server writes in Authentication-Results.
# Results stamped by any other host are ignored.
authserv_id = "mail.{domain}"
# Executives whose names attackers borrow (display-name impersonation).
vips = []
# Where users forward suspicious mail (forwarded reports are not treated as phish).
report_addresses = ["baocao@{domain}"]
# Names of units that only the organisation may use as a sender name.
units = []

[actions]
# Score thresholds: deliver with a warning, hold, refuse.
warn = 5.0
quarantine = 9.0
reject = 15.0

# Change a symbol's score like this:
# [symbols.URL_SHORTENER]
# score = 2.5

# --- phishgate serve (see the README, "In the mail path") -----------------
# Listeners, all on loopback by default; "off" disables one.
# [listen]
# milter = "127.0.0.1:11381"   # Postfix smtpd_milters = inet:127.0.0.1:11381
# smtp = "127.0.0.1:11382"     # Postfix content_filter = phishgate:[127.0.0.1]:11382
# http = "127.0.0.1:11380"     # /checkv2 (Rspamd clients), /api/v1/scan, /metrics

# Where the content filter re-injects scanned mail (Postfix's filter-free smtpd).
# [relay]
# address = "127.0.0.1:10026"

# [storage]
# data_dir = "/var/lib/phishgate"
# url = "postgres://phishgate@db.{domain}/phishgate"   # several gateway nodes share one database
# retention_days = 180
# quarantine_days = 30

# [gateway]
# subject_tag = "[CẢNH BÁO]"            # tag for doubtful mail ("" for none)
# milter_on_error = "accept"            # scan failed or too slow: deliver with a header, or "tempfail"
# smtp_on_error = "tempfail"            # content filter: Postfix retries later, or "accept"
# content_filter_reject = "quarantine"  # or "bounce" (5xx; Postfix bounces to the sender)

# [banner]
# contact = "Trung tâm CNTT, điện thoại ..."   # who users should call

# --- sender authentication in the gateway (needs DNS) ----------------------
# [auth]
# verify = true          # SPF, DKIM, ARC and DMARC checked by phishgate itself
# honour_dmarc = true    # a DMARC failure with p=reject/quarantine is scored so
# [dns]
# servers = []           # empty: /etc/resolv.conf
# [organization] own_networks = ["10.0.0.0/8"]   # your servers: own-domain mail must come from here

# DNS block lists: none by default.
# [[dnsbl]]
# zone = "zen.spamhaus.org"
# kind = "ip"
# codes = {{ "127.0.0.2" = "RBL_LISTED" }}

# --- antivirus and threat feeds --------------------------------------------
# [clamav]
# address = "127.0.0.1:3310"   # or "/run/clamav/clamd.ctl"
# [feeds]
# check_interval_secs = 30     # changed files are reloaded without a restart
# [[feeds.source]]
# name = "canh-bao"
# path = "/etc/phishgate/feeds/urls.txt"
# format = "urls"              # openphish, phishtank_csv, phishtank_json, urlhaus_csv, domains, urls, senders, sha256
# Defer (451) instead of delivering when a check could not run:
# [gateway] tempfail_on = ["CLAMAV_TEMPFAIL"]
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_defaults_parse_and_validate() {
        let c = Config::from_toml_str("").expect("defaults");
        assert!(c.symbols.len() > 50);
        assert!(c.lists.freemail.iter().any(|d| d == "gmail.com"));
    }

    #[test]
    fn user_values_override_and_merge() {
        let c = Config::from_toml_str(
            "[organization]\ndomains = [\"LaoCai.gov.vn\"]\n[symbols.URL_SHORTENER]\nscore = 2.5\n",
        )
        .expect("config");
        assert_eq!(c.organization.domains, vec!["laocai.gov.vn"]);
        let s = &c.symbols["URL_SHORTENER"];
        assert_eq!(s.score, 2.5);
        assert_eq!(s.group, "links", "untouched keys keep their defaults");
    }

    #[test]
    fn unknown_key_names_the_line() {
        let e = Config::from_toml_str("[organization]\nname = \"x\"\ndomian = []\n")
            .expect_err("typo must fail");
        let msg = e.to_string();
        assert!(msg.contains("line 3"), "{msg}");
        assert!(msg.contains("domian"), "{msg}");
    }

    #[test]
    fn wrong_type_and_bad_thresholds_are_errors() {
        assert!(Config::from_toml_str("[actions]\nwarn = \"high\"\n").is_err());
        assert!(Config::from_toml_str("[actions]\nwarn = 20.0\n").is_err());
        assert!(Config::from_toml_str("[symbols.X]\ngroup = \"nope\"\n").is_err());
    }

    #[test]
    fn starter_parses() {
        let c = Config::from_toml_str(&starter_toml("laocai.gov.vn", "Sở TT&TT")).expect("starter");
        assert_eq!(c.organization.authserv_id, "mail.laocai.gov.vn");
    }

    #[test]
    fn a_composite_scale_must_be_a_known_symbol_between_zero_and_one() {
        let mut config = Config::defaults();
        assert!(config.validate().is_ok());
        config.composites[0]
            .scale
            .insert("ML_UNWANTED".to_string(), 1.5);
        assert!(config.validate().is_err());
        config.composites[0].scale.clear();
        config.composites[0]
            .scale
            .insert("NO_SUCH_SYMBOL".to_string(), 0.5);
        assert!(config.validate().is_err());
    }
}
