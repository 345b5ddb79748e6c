//! The gateway's part of the configuration: `[listen]`, `[relay]`,
//! `[gateway]`, `[banner]` and `[storage]`.
//!
//! The analysis core keeps these sections as opaque tables; this module gives
//! them types, defaults and clear errors. Every listener binds 127.0.0.1 by
//! default, on ports that collide neither with Rspamd (11332–11334) nor with
//! Amavis (10024/10025) nor with Postfix's usual re-injection port (10026).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use phishgate_core::Config;
use serde::Deserialize;

/// Default HTTP API address (Rspamd-compatible `/checkv2`, `/api/v1/scan`).
pub const DEFAULT_HTTP: &str = "127.0.0.1:11380";
/// Default milter address (Postfix `smtpd_milters = inet:127.0.0.1:11381`).
pub const DEFAULT_MILTER: &str = "127.0.0.1:11381";
/// Default SMTP content-filter address (Postfix `content_filter`).
pub const DEFAULT_SMTP: &str = "127.0.0.1:11382";
/// Default re-injection relay (Postfix's filter-free smtpd).
pub const DEFAULT_RELAY: &str = "127.0.0.1:10026";

/// A problem in the gateway sections of the configuration.
#[derive(Debug, thiserror::Error)]
#[error("configuration [{section}]: {message}")]
pub struct SettingsError {
    section: &'static str,
    message: String,
}

/// What to do with a message when the analysis fails or runs out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Deliver it, with `X-Phishgate-Status: error` saying it was not scanned.
    Accept,
    /// Answer 4xx: the MTA keeps the message and retries later.
    Tempfail,
}

/// What `reject` means in the after-queue content filter, where a 5xx makes
/// Postfix bounce to a sender who is probably forged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilterReject {
    /// Hold it in quarantine (default): nobody gets a bounce, nothing is lost.
    Quarantine,
    /// Answer 5xx: Postfix bounces it to the envelope sender.
    Bounce,
}

/// `[listen]`: one `address:port` per listener; `""` or `"off"` disables it.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ListenRaw {
    milter: String,
    smtp: String,
    http: String,
    console: Option<String>,
    allow_remote: bool,
}

impl Default for ListenRaw {
    fn default() -> Self {
        ListenRaw {
            milter: DEFAULT_MILTER.into(),
            smtp: DEFAULT_SMTP.into(),
            http: DEFAULT_HTTP.into(),
            console: None,
            allow_remote: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RelayRaw {
    address: String,
    helo: String,
    connect_timeout_secs: u64,
    timeout_secs: u64,
}

impl Default for RelayRaw {
    fn default() -> Self {
        RelayRaw {
            address: DEFAULT_RELAY.into(),
            helo: String::new(),
            connect_timeout_secs: 10,
            timeout_secs: 300,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct GatewayRaw {
    hostname: String,
    milter_on_error: OnError,
    smtp_on_error: OnError,
    http_on_error: OnError,
    content_filter_reject: FilterReject,
    max_message_bytes: usize,
    max_sessions: usize,
    max_recipients: usize,
    idle_timeout_secs: u64,
    milter_idle_timeout_secs: u64,
    scan_queue_timeout_secs: u64,
    shutdown_grace_secs: u64,
    subject_tag: String,
    result_headers: bool,
    log_format: String,
    tempfail_on: Vec<String>,
}

impl Default for GatewayRaw {
    fn default() -> Self {
        GatewayRaw {
            hostname: String::new(),
            milter_on_error: OnError::Accept,
            smtp_on_error: OnError::Tempfail,
            http_on_error: OnError::Accept,
            content_filter_reject: FilterReject::Quarantine,
            max_message_bytes: 50 * 1024 * 1024,
            max_sessions: 500,
            max_recipients: 1000,
            idle_timeout_secs: 300,
            // libmilter's own default: Postfix is the trusted peer, and a
            // client may legitimately take long inside DATA (Postfix sends
            // the content only after the final dot).
            milter_idle_timeout_secs: 7210,
            scan_queue_timeout_secs: 30,
            shutdown_grace_secs: 30,
            subject_tag: "[CẢNH BÁO]".into(),
            result_headers: true,
            log_format: "text".into(),
            tempfail_on: Vec::new(),
        }
    }
}

/// `[banner]`: the warning inserted at the top of doubtful mail.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BannerSettings {
    /// Insert a banner into `warn` mail at all.
    pub enabled: bool,
    /// Who to call, in plain words (shown in the banner).
    pub contact: String,
    /// How many reasons to name (the strongest first).
    pub reasons: usize,
    /// Plain-text template; placeholders `{reasons_vi}`, `{reasons_en}`,
    /// `{contact}`, `{score}`. Lines separated by newlines.
    pub plain: String,
    /// HTML template (same placeholders, values are HTML-escaped).
    pub html: String,
}

/// Shipped plain-text banner.
pub const DEFAULT_BANNER_PLAIN: &str = "\
[CẢNH BÁO] Thư này có dấu hiệu lừa đảo (phishing).
Lý do: {reasons_vi}
Không bấm vào liên kết, không mở tệp đính kèm, không cung cấp mật khẩu hay mã xác thực.
Nếu nghi ngờ, hãy liên hệ {contact}.
[WARNING] This message looks like phishing: {reasons_en}. Do not click its links or give your password.";

/// Shipped HTML banner.
pub const DEFAULT_BANNER_HTML: &str = "\
<div style=\"border:2px solid #b00020;background:#fff4f4;color:#000;padding:10px;margin:0 0 12px 0;font-family:Arial,sans-serif;font-size:14px\">\
<b style=\"color:#b00020\">[CẢNH BÁO] Thư này có dấu hiệu lừa đảo (phishing).</b><br>\
Lý do: {reasons_vi}<br>\
Không bấm vào liên kết, không mở tệp đính kèm, không cung cấp mật khẩu hay mã xác thực. \
Nếu nghi ngờ, hãy liên hệ {contact}.<br>\
<span style=\"color:#555\">[WARNING] This message looks like phishing: {reasons_en}. Do not click its links or give your password.</span>\
</div>";

impl Default for BannerSettings {
    fn default() -> Self {
        BannerSettings {
            enabled: true,
            contact: "bộ phận CNTT của đơn vị (IT centre)".into(),
            reasons: 3,
            plain: DEFAULT_BANNER_PLAIN.into(),
            html: DEFAULT_BANNER_HTML.into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct StorageRaw {
    data_dir: Option<PathBuf>,
    url: String,
    retention_days: u32,
    quarantine_days: u32,
}

impl Default for StorageRaw {
    fn default() -> Self {
        StorageRaw {
            data_dir: None,
            url: String::new(),
            retention_days: 180,
            quarantine_days: 30,
        }
    }
}

/// The gateway settings, typed and validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Milter listener, if enabled.
    pub milter: Option<SocketAddr>,
    /// SMTP content-filter listener, if enabled.
    pub smtp: Option<SocketAddr>,
    /// HTTP API listener, if enabled.
    pub http: Option<SocketAddr>,
    /// Where re-injected (and later released) mail goes.
    pub relay: SocketAddr,
    /// EHLO name used towards the relay.
    pub relay_helo: String,
    /// Time to connect to the relay.
    pub relay_connect_timeout: Duration,
    /// Time for each relay reply.
    pub relay_timeout: Duration,
    /// Our host name (SMTP greeting, headers).
    pub hostname: String,
    /// Failure mode of the milter.
    pub milter_on_error: OnError,
    /// Failure mode of the content filter.
    pub smtp_on_error: OnError,
    /// What the HTTP API answers when a scan fails (`accept` = "no action").
    pub http_on_error: OnError,
    /// Meaning of `reject` in the after-queue filter.
    pub content_filter_reject: FilterReject,
    /// Largest message accepted (SMTP SIZE, HTTP body, milter body).
    pub max_message_bytes: usize,
    /// Concurrent sessions per listener.
    pub max_sessions: usize,
    /// Recipients per message.
    pub max_recipients: usize,
    /// Idle time allowed between two commands of an SMTP client.
    pub idle_timeout: Duration,
    /// Idle time allowed on a milter connection (the MTA is silent while its
    /// client sends DATA).
    pub milter_idle_timeout: Duration,
    /// How long a message may wait for a free scan slot (on top of the scan
    /// budget) before its scan counts as failed.
    pub scan_queue_timeout: Duration,
    /// How long a shutdown waits for sessions in flight.
    pub shutdown_grace: Duration,
    /// Scan time budget (from `[limits] max_scan_ms`).
    pub scan_timeout: Duration,
    /// Subject tag for `warn` (empty: none).
    pub subject_tag: String,
    /// Add `X-Phishgate-*` result headers.
    pub result_headers: bool,
    /// `text` or `json` logs.
    pub log_format: String,
    /// Our authserv-id when the gateway verifies authentication itself
    /// (`[auth] verify`): `Authentication-Results` claiming it in a held
    /// message are forged and removed when it is released.
    pub verified_authserv_id: Option<String>,
    /// Symbols that defer an otherwise accepted or warned message with a
    /// temporary error, so the sender retries later (e.g. `CLAMAV_TEMPFAIL`:
    /// do not deliver mail whose attachments could not be scanned; or
    /// `AUTH_TEMPFAIL`). Empty by default: mail flows, the symbol shows.
    pub tempfail_on: Vec<String>,
    /// Banner.
    pub banner: BannerSettings,
    /// State directory (the SQLite file lives here).
    pub data_dir: PathBuf,
    /// `[storage] url`: empty or `sqlite` (a file in `data_dir`),
    /// `sqlite:/path`, `postgres://...` (several nodes), `memory:` (tests).
    pub storage_url: String,
    /// History older than this many days is purged (0: keep forever).
    pub retention_days: u32,
    /// Held messages older than this many days expire (0: never).
    pub quarantine_days: u32,
    /// `authserv_id` of the organisation (result header).
    pub authserv_id: String,
}

fn section<T: for<'de> Deserialize<'de> + Default>(
    table: &Option<toml::Table>,
    name: &'static str,
) -> Result<T, SettingsError> {
    match table {
        None => Ok(T::default()),
        Some(t) => toml::Value::Table(t.clone())
            .try_into()
            .map_err(|e: toml::de::Error| SettingsError {
                section: name,
                message: e.message().to_string(),
            }),
    }
}

fn addr(
    section_name: &'static str,
    key: &str,
    value: &str,
) -> Result<Option<SocketAddr>, SettingsError> {
    let v = value.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    v.parse().map(Some).map_err(|_| SettingsError {
        section: section_name,
        message: format!("{key} = {v:?} is not an address:port such as \"127.0.0.1:11380\""),
    })
}

impl Settings {
    /// Reads the gateway sections of a configuration. `data_dir` from the
    /// command line wins over `[storage] data_dir`.
    pub fn from_config(
        config: &Config,
        data_dir: Option<PathBuf>,
    ) -> Result<Settings, SettingsError> {
        let listen: ListenRaw = section(&config.listen, "listen")?;
        let relay: RelayRaw = section(&config.relay, "relay")?;
        let gw: GatewayRaw = section(&config.gateway, "gateway")?;
        let banner: BannerSettings = section(&config.banner, "banner")?;
        let storage: StorageRaw = section(&config.storage, "storage")?;
        let milter = addr("listen", "milter", &listen.milter)?;
        let smtp = addr("listen", "smtp", &listen.smtp)?;
        let http = addr("listen", "http", &listen.http)?;
        if !listen.allow_remote {
            // The content filter re-injects into a smtpd that trusts
            // loopback and XFORWARD; the API has no authentication. Off
            // loopback only when the administrator says so.
            for (key, a) in [("milter", milter), ("smtp", smtp), ("http", http)] {
                if let Some(a) = a.filter(|a| !a.ip().is_loopback()) {
                    return Err(SettingsError {
                        section: "listen",
                        message: format!(
                            "{key} = \"{a}\" is not a loopback address; phishgate's listeners have no authentication. Set allow_remote = true only behind a firewall that admits the MTA alone"
                        ),
                    });
                }
            }
        }
        let relay_addr = addr("relay", "address", &relay.address)?.ok_or(SettingsError {
            section: "relay",
            message: "address must be set (Postfix's re-injection smtpd, e.g. \"127.0.0.1:10026\")"
                .into(),
        })?;
        if gw.max_sessions == 0 {
            return Err(SettingsError {
                section: "gateway",
                message: "max_sessions must be at least 1".into(),
            });
        }
        if gw.max_message_bytes < 1024 {
            return Err(SettingsError {
                section: "gateway",
                message: "max_message_bytes must be at least 1024".into(),
            });
        }
        if !matches!(gw.log_format.as_str(), "text" | "json") {
            return Err(SettingsError {
                section: "gateway",
                message: format!("log_format = {:?}: use \"text\" or \"json\"", gw.log_format),
            });
        }
        let hostname = if gw.hostname.is_empty() {
            system_hostname()
        } else {
            gw.hostname
        };
        let relay_helo = if relay.helo.is_empty() {
            hostname.clone()
        } else {
            relay.helo
        };
        Ok(Settings {
            milter,
            smtp,
            http,
            relay: relay_addr,
            relay_helo,
            relay_connect_timeout: Duration::from_secs(relay.connect_timeout_secs.max(1)),
            relay_timeout: Duration::from_secs(relay.timeout_secs.max(1)),
            hostname,
            milter_on_error: gw.milter_on_error,
            smtp_on_error: gw.smtp_on_error,
            http_on_error: gw.http_on_error,
            content_filter_reject: gw.content_filter_reject,
            max_message_bytes: gw.max_message_bytes,
            max_sessions: gw.max_sessions,
            max_recipients: gw.max_recipients.max(1),
            idle_timeout: Duration::from_secs(gw.idle_timeout_secs.max(1)),
            milter_idle_timeout: Duration::from_secs(gw.milter_idle_timeout_secs.max(1)),
            scan_queue_timeout: Duration::from_secs(gw.scan_queue_timeout_secs.max(1)),
            shutdown_grace: Duration::from_secs(gw.shutdown_grace_secs),
            scan_timeout: Duration::from_millis(config.limits.max_scan_ms.max(1)),
            subject_tag: gw.subject_tag,
            result_headers: gw.result_headers,
            log_format: gw.log_format,
            verified_authserv_id: config
                .auth
                .verify
                .then(|| config.organization.authserv_id.clone()),
            tempfail_on: gw.tempfail_on,
            banner,
            storage_url: storage.url.clone(),
            retention_days: storage.retention_days,
            quarantine_days: storage.quarantine_days,
            data_dir: data_dir
                .or(storage.data_dir)
                .unwrap_or_else(|| PathBuf::from("/var/lib/phishgate")),
            authserv_id: if config.organization.authserv_id.is_empty() {
                "phishgate".into()
            } else {
                config.organization.authserv_id.clone()
            },
        })
    }
}

/// The machine's host name, for greetings and headers.
fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "phishgate.localdomain".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_bind_loopback() {
        let c = Config::from_toml_str("").unwrap();
        let s = Settings::from_config(&c, None).unwrap();
        for a in [s.milter, s.smtp, s.http].into_iter().flatten() {
            assert!(a.ip().is_loopback(), "{a}");
        }
        assert_eq!(s.relay.to_string(), DEFAULT_RELAY);
        assert_eq!(s.milter_on_error, OnError::Accept);
        assert_eq!(s.smtp_on_error, OnError::Tempfail);
    }

    #[test]
    fn listeners_can_be_disabled_and_moved() {
        let c = Config::from_toml_str(
            "[listen]\nmilter = \"off\"\nsmtp = \"\"\nhttp = \"127.0.0.1:9999\"\n",
        )
        .unwrap();
        let s = Settings::from_config(&c, Some("/tmp/x".into())).unwrap();
        assert!(s.milter.is_none() && s.smtp.is_none());
        assert_eq!(s.http.unwrap().port(), 9999);
        assert_eq!(s.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn errors_name_the_section() {
        let c = Config::from_toml_str("[listen]\nhttp = \"localhost\"\n").unwrap();
        let e = Settings::from_config(&c, None).unwrap_err().to_string();
        assert!(e.contains("[listen]") && e.contains("http"), "{e}");
        let c = Config::from_toml_str("[gateway]\nmilter_on_error = \"explode\"\n").unwrap();
        let e = Settings::from_config(&c, None).unwrap_err().to_string();
        assert!(e.contains("[gateway]"), "{e}");
        let c = Config::from_toml_str("[gateway]\nno_such_key = 1\n").unwrap();
        assert!(Settings::from_config(&c, None).is_err());
        let c = Config::from_toml_str("[listen]\nsmtp = \"0.0.0.0:10025\"\n").unwrap();
        let e = Settings::from_config(&c, None).unwrap_err().to_string();
        assert!(e.contains("not a loopback address"), "{e}");
        let c = Config::from_toml_str("[listen]\nsmtp = \"0.0.0.0:10025\"\nallow_remote = true\n")
            .unwrap();
        assert!(Settings::from_config(&c, None).is_ok());
    }
}
