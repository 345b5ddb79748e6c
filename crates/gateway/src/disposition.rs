//! From a verdict to what is done to the message: result headers, subject
//! tag, banner text. Pure: the milter, the content filter and the HTTP API
//! all call [`Disposition::new`] and only differ in how they carry it out.

use phishgate_core::{Action, Engine, Lang, ScanResult};

use crate::settings::Settings;

/// Prefix of every header phishgate writes. Headers with this prefix that
/// arrive from outside are removed before ours are added, so a sender
/// cannot forge a clean result.
pub const HEADER_PREFIX: &str = "X-Phishgate-";

/// The headers phishgate writes (all start with [`HEADER_PREFIX`]).
pub const OUR_HEADERS: &[&str] = &[
    "X-Phishgate-Status",
    "X-Phishgate-Action",
    "X-Phishgate-Score",
    "X-Phishgate-Symbols",
    "X-Phishgate-Result",
];

/// Why a message could not be scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The scan ran past `[limits] max_scan_ms`.
    Timeout,
    /// The analysis crashed (a bug); the message is still handled by policy.
    Internal(String),
    /// The message was larger than the gateway accepts for analysis.
    TooLarge,
}

impl Failure {
    /// Short token for headers, logs and metrics.
    pub fn token(&self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::Internal(_) => "internal",
            Failure::TooLarge => "too-large",
        }
    }
}

/// The banner texts for one message (placeholders already filled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BannerText {
    /// For text/plain parts.
    pub plain: String,
    /// For text/html parts (escaped).
    pub html: String,
}

/// What to do with one message.
#[derive(Debug, Clone)]
pub struct Disposition {
    /// The action decided (`accept` when the scan failed and policy accepts).
    pub action: Action,
    /// `None` when the scan succeeded.
    pub failure: Option<Failure>,
    /// Headers to add at the top, in order (ASCII values, unfolded).
    pub headers: Vec<(String, String)>,
    /// New (decoded) subject, for `warn` with a tag configured.
    pub subject: Option<String>,
    /// Banner, for `warn` when enabled.
    pub banner: Option<BannerText>,
    /// Score, for logs.
    pub score: f64,
    /// Reasons, strongest first: (symbol name, Vietnamese, English).
    pub reasons: Vec<(String, String, String)>,
    /// Forged `Authentication-Results` to remove (1-based positions among
    /// the fields of that name), when the gateway verified and stamps its
    /// own (see [`Disposition::stamp`]).
    pub forged_auth_results: Vec<usize>,
    /// Our authserv-id when the gateway verifies: every
    /// `Authentication-Results` claiming it is removed from rewritten mail.
    pub forged_authserv_id: Option<String>,
    /// A symbol of `[gateway] tempfail_on` that fired on a message that
    /// would otherwise be accepted or warned: answer with a temporary error
    /// so the sender retries (a lookup that failed may work then).
    pub defer: Option<String>,
}

fn fmt_score(x: f64) -> String {
    format!("{x:.2}")
}

/// Escapes text for HTML.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn fill(template: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in pairs {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

impl Disposition {
    /// What to do with a scanned message.
    pub fn new(result: &ScanResult, engine: &Engine, settings: &Settings) -> Disposition {
        let reasons: Vec<(String, String, String)> = result
            .symbols
            .iter()
            .filter(|s| s.score > 0.0 && s.cancelled_by.is_none())
            .take(settings.banner.reasons.max(1))
            .map(|s| {
                (
                    s.name.clone(),
                    engine.describe(&s.name, Lang::Vi),
                    engine.describe(&s.name, Lang::En),
                )
            })
            .collect();
        let mut headers = Vec::new();
        if settings.result_headers {
            headers.push(("X-Phishgate-Status".to_string(), "scanned".to_string()));
            headers.push((
                "X-Phishgate-Action".to_string(),
                result.action.as_str().to_string(),
            ));
            headers.push(("X-Phishgate-Score".to_string(), fmt_score(result.score)));
            let symbols: Vec<String> = result
                .symbols
                .iter()
                .filter(|s| s.score != 0.0 && s.cancelled_by.is_none())
                .map(|s| format!("{}({})", s.name, fmt_score(s.score)))
                .collect();
            if !symbols.is_empty() {
                headers.push(("X-Phishgate-Symbols".to_string(), symbols.join(", ")));
            }
            headers.push((
                "X-Phishgate-Result".to_string(),
                format!(
                    "{}; phishgate={} (score={} warn={} quarantine={} reject={})",
                    settings.authserv_id,
                    result.action.as_str(),
                    fmt_score(result.score),
                    fmt_score(result.thresholds.warn),
                    fmt_score(result.thresholds.quarantine),
                    fmt_score(result.thresholds.reject),
                ),
            ));
        }
        let mut subject = None;
        let mut banner = None;
        if result.action == Action::Warn {
            if !settings.subject_tag.trim().is_empty() {
                subject =
                    phishgate_rewrite::tag_subject(&result.subject, settings.subject_tag.trim());
            }
            if settings.banner.enabled {
                banner = Some(banner_text(&reasons, result.score, settings));
            }
        }
        Disposition {
            action: result.action,
            failure: None,
            headers,
            subject,
            banner,
            score: result.score,
            reasons,
            forged_auth_results: Vec::new(),
            forged_authserv_id: None,
            defer: matches!(result.action, Action::Accept | Action::Warn)
                .then(|| {
                    result
                        .symbols
                        .iter()
                        .find(|s| settings.tempfail_on.contains(&s.name))
                        .map(|s| s.name.clone())
                })
                .flatten(),
        }
    }

    /// What to do when the scan failed and policy lets the message through.
    pub fn failed(failure: Failure, settings: &Settings) -> Disposition {
        let mut headers = Vec::new();
        if settings.result_headers {
            headers.push((
                "X-Phishgate-Status".to_string(),
                format!("error ({}): not scanned", failure.token()),
            ));
        }
        Disposition {
            action: Action::Accept,
            failure: Some(failure),
            headers,
            subject: None,
            banner: None,
            score: 0.0,
            reasons: Vec::new(),
            forged_auth_results: Vec::new(),
            forged_authserv_id: None,
            defer: None,
        }
    }
}

impl Disposition {
    /// Adds the gateway's own `Authentication-Results` (first of the added
    /// headers) and the removal of forged ones.
    pub fn stamp(&mut self, stamp: &crate::enrich::Stamp) {
        if let Some(v) = &stamp.auth_results {
            self.headers
                .insert(0, ("Authentication-Results".to_string(), v.clone()));
        }
        self.forged_auth_results.clone_from(&stamp.forged);
        self.forged_authserv_id.clone_from(&stamp.authserv_id);
    }
}

/// The whole message as delivered (SMTP content filter, HTTP `body_block`):
/// forged `X-Phishgate-*` headers removed, ours added at the top, the
/// subject tagged and the banner inserted where the disposition asks for
/// them. Every other byte is kept.
pub fn rewrite_message(raw: &[u8], d: &Disposition, settings: &Settings) -> Vec<u8> {
    let body = banner_body(raw, d, settings);
    let edits = phishgate_rewrite::MessageEdits {
        remove_headers: Vec::new(),
        remove_prefixes: vec![HEADER_PREFIX.to_string()],
        remove_auth_results_of: d.forged_authserv_id.iter().cloned().collect(),
        add_headers_top: d.headers.clone(),
        set_subject: d.subject.clone(),
        body,
    };
    phishgate_rewrite::apply(raw, &edits)
}

/// The banner inserted into `raw`, when the disposition asks for one and
/// the message can take it (not signed, has a text part...).
pub fn banner_body(
    raw: &[u8],
    d: &Disposition,
    settings: &Settings,
) -> Option<phishgate_rewrite::BodyRewrite> {
    d.banner.as_ref().and_then(|b| {
        let banner = phishgate_rewrite::Banner {
            plain: b.plain.clone(),
            html: b.html.clone(),
        };
        let limits = phishgate_rewrite::Limits {
            max_message_bytes: settings.max_message_bytes,
            ..phishgate_rewrite::Limits::default()
        };
        match phishgate_rewrite::insert_banner(raw, &banner, &limits) {
            Ok(rw) => Some(rw),
            Err(why) => {
                tracing::info!(reason = %why, "no banner inserted");
                None
            }
        }
    })
}

fn banner_text(
    reasons: &[(String, String, String)],
    score: f64,
    settings: &Settings,
) -> BannerText {
    let vi: Vec<&str> = reasons.iter().map(|r| r.1.as_str()).collect();
    let en: Vec<&str> = reasons.iter().map(|r| r.2.as_str()).collect();
    let (vi, en) = (vi.join("; "), en.join("; "));
    let score = fmt_score(score);
    let b = &settings.banner;
    let plain = fill(
        &b.plain,
        &[
            ("reasons_vi", &vi),
            ("reasons_en", &en),
            ("contact", &b.contact),
            ("score", &score),
        ],
    );
    let html = fill(
        &b.html,
        &[
            ("reasons_vi", &html_escape(&vi)),
            ("reasons_en", &html_escape(&en)),
            ("contact", &html_escape(&b.contact)),
            ("score", &score),
        ],
    );
    BannerText { plain, html }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phishgate_core::{Config, Envelope, Facts, ScanInput};

    fn engine_and_settings(extra: &str) -> (Engine, Settings) {
        let config = Config::from_toml_str(&format!(
            "[organization]\ndomains=[\"laocai.gov.vn\"]\nauthserv_id=\"mail.laocai.gov.vn\"\n{extra}"
        ))
        .unwrap();
        let settings = Settings::from_config(&config, None).unwrap();
        (Engine::new(config).unwrap(), settings)
    }

    const LURE: &[u8] = b"From: \"Quan tri he thong\" <admin@mail-laocai-gov.top>\r\n\
To: a@laocai.gov.vn\r\nSubject: Xac minh tai khoan email\r\nMessage-ID: <1@x>\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n\
Tai khoan email cua ban se bi tam ngung trong 24 gio. Vui long xac minh tai khoan tai \
http://mail-laocai-gov.top/login ngay.\r\n";

    #[test]
    fn warn_gets_tag_banner_and_headers() {
        // Thresholds moved so that this lure lands exactly on warn.
        let (engine, settings) =
            engine_and_settings("[actions]\nwarn = 1.0\nquarantine = 900.0\nreject = 1000.0\n");
        let r = engine.scan(&ScanInput {
            raw: LURE,
            envelope: &Envelope::default(),
            facts: &Facts::default(),
        });
        assert_eq!(r.action, Action::Warn, "{r:?}");
        let d = Disposition::new(&r, &engine, &settings);
        assert_eq!(
            d.subject.as_deref(),
            Some("[CẢNH BÁO] Xac minh tai khoan email")
        );
        let b = d.banner.unwrap();
        assert!(b.plain.contains("Lý do: "), "{}", b.plain);
        assert!(b.plain.contains("[WARNING]"));
        assert!(!b.plain.contains("{reasons"));
        assert!(b.html.starts_with("<div"));
        let names: Vec<&str> = d.headers.iter().map(|h| h.0.as_str()).collect();
        assert!(names.contains(&"X-Phishgate-Action"));
        let result = d
            .headers
            .iter()
            .find(|h| h.0 == "X-Phishgate-Result")
            .unwrap();
        assert!(
            result.1.starts_with("mail.laocai.gov.vn; phishgate=warn"),
            "{}",
            result.1
        );
        assert!(d.headers.iter().all(|h| h.1.is_ascii()));
    }

    #[test]
    fn accept_gets_headers_only_and_no_double_tag() {
        let (engine, settings) = engine_and_settings("");
        let r = engine.scan(&ScanInput {
            raw: b"From: a@laocai.gov.vn\r\nTo: b@laocai.gov.vn\r\nSubject: hop\r\n\r\nlich hop chieu nay\r\n",
            envelope: &Envelope::default(),
            facts: &Facts::default(),
        });
        assert_eq!(r.action, Action::Accept);
        let d = Disposition::new(&r, &engine, &settings);
        assert!(d.subject.is_none() && d.banner.is_none());
        assert!(!d.headers.is_empty());

        let mut warned = r.clone();
        warned.action = Action::Warn;
        warned.subject = "[CẢNH BÁO] đã gắn".into();
        let d = Disposition::new(&warned, &engine, &settings);
        assert!(d.subject.is_none(), "already tagged");
    }

    #[test]
    fn html_banner_escapes_reasons() {
        let (_, mut settings) = engine_and_settings("");
        settings.banner.contact = "<script>".into();
        let b = banner_text(&[("X".into(), "a<b".into(), "c&d".into())], 1.0, &settings);
        assert!(b.html.contains("a&lt;b") && b.html.contains("c&amp;d"));
        assert!(b.html.contains("&lt;script&gt;") && !b.html.contains("<script>"));
        assert!(b.plain.contains("a<b"));
    }
}
