//! SPF, DKIM, ARC and DMARC, verified by the gateway itself with mail-auth.
//!
//! Input: what the SMTP session saw (client IP, HELO, MAIL FROM) and the raw
//! message as received. Output ([`AuthVerdict`]): the results as
//! [`phishgate_core::view::auth::AuthResults`] stamped with our
//! `authserv_id` (for `Facts.auth`, which the core believes like its own
//! server's header) and the same results rendered as the value of the
//! `Authentication-Results` header the gateway stamps (RFC 8601).
//!
//! What is checked: SPF for the HELO identity and for MAIL FROM (the null
//! sender is checked as `postmaster@<helo>`, RFC 7208 §2.4); every DKIM
//! signature (at most [`MAX_DKIM_SIGNATURES`]); the ARC chain; DMARC with
//! SPF and DKIM alignment and the policy the From domain publishes
//! (`policy.dmarc=reject|quarantine|none`, and the aligned results as
//! `policy.dmarc-spf` / `policy.dmarc-dkim`).
//!
//! Bounds and failures: SPF, DKIM and ARC run concurrently, then DMARC, all
//! under one deadline ([`Verifier::budget`]); each DNS query is bounded by
//! the resolver (`[dns] timeout_ms × attempts`). A step that does not finish
//! in time is `temperror` (with a `(time-out)` comment), never `fail` and
//! never `pass`; DMARC whose inputs timed out is `temperror` too, since an
//! unknown SPF or DKIM result cannot prove misalignment. mail-auth turns DNS
//! failures (SERVFAIL, garbage, time-outs inside its own lookups) into
//! `temperror` the same way. Nothing here panics or returns an error.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::dmarc::Policy;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, DkimOutput, DkimResult, DmarcOutput, DmarcResult, SpfOutput, SpfResult,
};
use phishgate_core::view::auth::{AuthResult, AuthResults};
use tokio::time::{timeout_at, Instant};

use crate::dns::Resolver;

/// Most DKIM signatures verified per message; more are ignored (each costs
/// a DNS lookup and a signature check).
pub const MAX_DKIM_SIGNATURES: usize = 8;
/// Default time budget of one message's whole verification.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(3);
/// Longest comment (reason) kept per result.
const MAX_COMMENT_CHARS: usize = 100;

/// What the SMTP session saw.
#[derive(Debug, Clone, Copy)]
pub struct AuthSession<'a> {
    /// The connecting client's address.
    pub client_ip: IpAddr,
    /// The HELO/EHLO argument.
    pub helo: &'a str,
    /// The MAIL FROM address without `<>` (`""` for the null sender).
    pub mail_from: &'a str,
}

/// The outcome of verifying one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthVerdict {
    /// For `Facts.auth`.
    pub results: AuthResults,
    /// The `Authentication-Results` value to stamp (without the field name),
    /// one line: `mail.laocai.gov.vn; spf=pass smtp.mailfrom=…; …`. Use
    /// [`AuthVerdict::header_folded`] to stay under 998 bytes per line.
    pub header: String,
    /// Methods that did not finish in the budget (`"spf"`, `"dkim"`, …).
    pub timed_out: Vec<&'static str>,
}

impl AuthVerdict {
    /// [`AuthVerdict::header`] folded after each `;` with `newline` and a
    /// tab (`"\r\n"` for SMTP, `"\n"` for a milter `SMFIR_ADDHEADER`).
    /// Reasons never contain `;`, so every fold is between two results.
    pub fn header_folded(&self, newline: &str) -> String {
        self.header.replace("; ", &format!(";{newline}\t"))
    }

    /// Whether any method ended in `temperror` (DNS trouble or time-out).
    pub fn has_temperror(&self) -> bool {
        self.results.results.iter().any(|r| r.result == "temperror")
    }
}

/// Verifies messages against DNS. Cheap to share (`Arc` inside).
#[derive(Debug, Clone)]
pub struct Verifier {
    resolver: Arc<Resolver>,
    authserv_id: String,
    budget: Duration,
}

impl Verifier {
    /// A verifier stamping results with `authserv_id` (lower-cased), each
    /// message bounded by `budget`.
    pub fn new(resolver: Arc<Resolver>, authserv_id: &str, budget: Duration) -> Verifier {
        Verifier {
            resolver,
            authserv_id: authserv_id.trim().to_ascii_lowercase(),
            budget,
        }
    }

    /// The per-message time budget.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// Verifies one message. Never fails: trouble becomes `temperror` or
    /// `permerror` results.
    pub async fn verify(&self, session: &AuthSession<'_>, raw: &[u8]) -> AuthVerdict {
        let deadline = Instant::now() + self.budget;
        let auth = self.resolver.authenticator();
        let r = &self.resolver;
        let ip = session.client_ip;
        let helo = session
            .helo
            .trim()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let helo_is_name = is_domain_name(&helo);
        let host = self.authserv_id.as_str();
        let mail_from = session.mail_from.trim().trim_matches(['<', '>']);
        let spf_sender = if mail_from.is_empty() {
            format!("postmaster@{helo}")
        } else {
            mail_from.to_string()
        };
        let mail_from_domain = spf_sender
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase())
            .unwrap_or_default();

        let mut message = AuthenticatedMessage::parse(raw);
        if let Some(m) = message.as_mut() {
            m.dkim_headers.truncate(MAX_DKIM_SIGNATURES);
        }

        let spf_helo = async {
            if !helo_is_name {
                return None;
            }
            let p = r.params(SpfParameters::verify_ehlo(ip, &helo, host));
            timeout_at(deadline, auth.verify_spf(p)).await.ok()
        };
        let spf_mail = async {
            if !is_domain_name(&mail_from_domain) {
                return Some(None);
            }
            let p = r.params(SpfParameters::verify_mail_from(
                ip,
                &helo,
                host,
                &spf_sender,
            ));
            timeout_at(deadline, auth.verify_spf(p))
                .await
                .ok()
                .map(Some)
        };
        let dkim = async {
            let m = message.as_ref()?;
            timeout_at(deadline, auth.verify_dkim(r.params(m)))
                .await
                .ok()
        };
        let arc = async {
            let m = message.as_ref()?;
            timeout_at(deadline, auth.verify_arc(r.params(m)))
                .await
                .ok()
        };
        let (spf_helo, spf_mail, dkim, arc) = tokio::join!(spf_helo, spf_mail, dkim, arc);

        let mut out = Vec::new();
        let mut timed_out = Vec::new();

        // SPF, MAIL FROM first: the checks read the first `spf` result as
        // the one DMARC uses.
        let mailfrom_prop = if mail_from.is_empty() {
            spf_sender.to_ascii_lowercase()
        } else {
            mail_from.to_ascii_lowercase()
        };
        match &spf_mail {
            Some(Some(o)) => out.push(spf_result(o, ("smtp.mailfrom", &mailfrom_prop))),
            Some(None) => out.push(result(
                "spf",
                "none",
                Some("no domain in MAIL FROM"),
                vec![("smtp.mailfrom", mailfrom_prop.clone())],
            )),
            None => {
                timed_out.push("spf");
                out.push(time_out("spf", ("smtp.mailfrom", mailfrom_prop.clone())));
            }
        }
        if helo_is_name {
            match &spf_helo {
                Some(o) => out.push(spf_result(o, ("smtp.helo", &helo))),
                None => {
                    if !timed_out.contains(&"spf") {
                        timed_out.push("spf");
                    }
                    out.push(time_out("spf", ("smtp.helo", helo.clone())));
                }
            }
        }

        // DKIM: one result per signature, `none` without any.
        match &dkim {
            Some(outputs) if outputs.is_empty() => out.push(result(
                "dkim",
                "none",
                Some("message not signed"),
                Vec::new(),
            )),
            Some(outputs) => out.extend(outputs.iter().map(dkim_result)),
            None if message.is_none() => out.push(result(
                "dkim",
                "none",
                Some("message could not be parsed"),
                Vec::new(),
            )),
            None => {
                timed_out.push("dkim");
                out.push(result("dkim", "temperror", Some("time-out"), Vec::new()));
            }
        }

        // ARC.
        match &arc {
            Some(o) => {
                let (token, why) = dkim_token(o.result());
                out.push(result(
                    "arc",
                    token,
                    why.as_deref(),
                    vec![("smtp.remote-ip", ip.to_string())],
                ));
            }
            None if message.is_none() => {}
            None => {
                timed_out.push("arc");
                out.push(result("arc", "temperror", Some("time-out"), Vec::new()));
            }
        }

        // DMARC: only with both inputs known.
        let from_domain = message
            .as_ref()
            .and_then(|m| m.from.first())
            .and_then(|f| f.rsplit_once('@'))
            .map(|(_, d)| d.to_ascii_lowercase())
            .unwrap_or_default();
        match (&message, &dkim, &spf_mail) {
            (None, _, _) => {}
            (Some(m), Some(dkim_out), Some(spf_opt)) => {
                // Without a MAIL FROM domain there is no SPF identity to align.
                let none_spf = SpfOutput::new(mail_from_domain.clone());
                let spf_out = spf_opt.as_ref().unwrap_or(&none_spf);
                let params = DmarcParameters::new(m, dkim_out, mail_from_domain.as_str(), spf_out);
                match timeout_at(deadline, auth.verify_dmarc(r.params(params))).await {
                    Ok(d) => out.push(dmarc_result(&d, &from_domain)),
                    Err(_) => {
                        timed_out.push("dmarc");
                        out.push(time_out("dmarc", ("header.from", from_domain.clone())));
                    }
                }
            }
            (Some(_), _, _) => {
                timed_out.push("dmarc");
                out.push(result(
                    "dmarc",
                    "temperror",
                    Some("SPF or DKIM did not finish"),
                    vec![("header.from", from_domain.clone())],
                ));
            }
        }

        let results = AuthResults {
            authserv_id: self.authserv_id.clone(),
            results: out.iter().map(|(r, _)| r.clone()).collect(),
        };
        let header = render_header(&self.authserv_id, &out);
        AuthVerdict {
            results,
            header,
            timed_out,
        }
    }
}

/// One result with the reason that goes into the header's comment.
type Rendered = (AuthResult, Option<String>);

fn result(method: &str, token: &str, why: Option<&str>, props: Vec<(&str, String)>) -> Rendered {
    (
        AuthResult {
            method: method.to_string(),
            result: token.to_string(),
            props: props
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_ascii_lowercase()))
                .collect(),
        },
        why.map(str::to_string),
    )
}

fn time_out(method: &str, prop: (&str, String)) -> Rendered {
    result(method, "temperror", Some("time-out"), vec![prop])
}

fn spf_result(o: &SpfOutput, identity: (&str, &str)) -> Rendered {
    let token = match o.result() {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none",
    };
    result(
        "spf",
        token,
        o.explanation(),
        vec![(identity.0, identity.1.to_string())],
    )
}

/// The RFC 8601 token of a DKIM (or ARC) result and its reason.
///
/// mail-auth reports a body hash mismatch as `neutral`; RFC 6376 §6.1.3 makes
/// it a failed verification (PERMFAIL) and RFC 8601 §2.7.1 calls that
/// `fail`, which is what a body modified after signing must be.
fn dkim_token(r: &DkimResult) -> (&'static str, Option<String>) {
    match r {
        DkimResult::Pass => ("pass", None),
        DkimResult::Neutral(
            e @ (mail_auth::Error::Dkim(mail_auth::dkim::DkimError::FailedBodyHashMatch)
            | mail_auth::Error::Arc(mail_auth::arc::ArcError::FailedBodyHashMatch)),
        ) => ("fail", Some(e.to_string())),
        DkimResult::Neutral(e) => ("neutral", Some(e.to_string())),
        DkimResult::Fail(e) => ("fail", Some(e.to_string())),
        DkimResult::PermError(e) => ("permerror", Some(e.to_string())),
        DkimResult::TempError(e) => ("temperror", Some(e.to_string())),
        DkimResult::None => ("none", None),
    }
}

fn dkim_result(o: &DkimOutput<'_>) -> Rendered {
    let (token, why) = dkim_token(o.result());
    let mut props = Vec::new();
    if let Some(s) = o.signature() {
        props.push(("header.d", s.d.clone()));
        props.push(("header.s", s.s.clone()));
        if !s.i.is_empty() {
            props.push(("header.i", s.i.clone()));
        }
        props.push(("header.a", s.a.name().to_string()));
    }
    result("dkim", token, why.as_deref(), props)
}

fn dmarc_token(r: &DmarcResult) -> (&'static str, Option<String>) {
    match r {
        DmarcResult::Pass => ("pass", None),
        DmarcResult::Fail(e) => ("fail", Some(e.to_string())),
        DmarcResult::TempError(e) => ("temperror", Some(e.to_string())),
        DmarcResult::PermError(e) => ("permerror", Some(e.to_string())),
        DmarcResult::None => ("none", None),
    }
}

fn dmarc_result(d: &DmarcOutput, from_domain: &str) -> Rendered {
    let (token, why) = dmarc_token(&d.result());
    let domain = if d.domain().is_empty() {
        from_domain.to_string()
    } else {
        d.domain().to_string()
    };
    let mut props = vec![("header.from", domain)];
    if d.dmarc_record().is_some() {
        let policy = match d.policy() {
            Policy::Reject => "reject",
            Policy::Quarantine => "quarantine",
            Policy::None | Policy::Unspecified => "none",
        };
        props.push(("policy.dmarc", policy.to_string()));
        props.push((
            "policy.dmarc-spf",
            dmarc_token(d.spf_result()).0.to_string(),
        ));
        props.push((
            "policy.dmarc-dkim",
            dmarc_token(d.dkim_result()).0.to_string(),
        ));
    }
    result("dmarc", token, why.as_deref(), props)
}

/// A host name SPF can evaluate: dotted, no address literal.
fn is_domain_name(s: &str) -> bool {
    !s.is_empty()
        && s.contains('.')
        && s.parse::<IpAddr>().is_err()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

/// RFC 8601: `authserv-id; method=result (reason) ptype.prop=value; …`, or
/// `authserv-id; none` without results.
pub fn render_header(authserv_id: &str, results: &[Rendered]) -> String {
    let mut h = String::with_capacity(64 + results.len() * 64);
    h.push_str(authserv_id);
    if results.is_empty() {
        h.push_str("; none");
        return h;
    }
    for (r, why) in results {
        h.push_str("; ");
        h.push_str(&r.method);
        h.push('=');
        h.push_str(&r.result);
        if let Some(w) = why {
            let c = comment(w);
            if !c.is_empty() {
                h.push_str(" (");
                h.push_str(&c);
                h.push(')');
            }
        }
        for (k, v) in &r.props {
            h.push(' ');
            h.push_str(k);
            h.push('=');
            h.push_str(&pvalue(v));
        }
    }
    h
}

/// Comment text: printable, no parentheses, backslashes or `;` (which
/// [`AuthVerdict::header_folded`] folds at), bounded.
fn comment(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '(' | ')' | '\\' | ';' => ' ',
            c if c.is_control() => ' ',
            c => c,
        })
        .take(MAX_COMMENT_CHARS)
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A property value: bare when it is a token or `local@domain` of safe
/// characters, a quoted-string otherwise (IPv6 addresses, odd local parts).
fn pvalue(v: &str) -> String {
    let safe = !v.is_empty()
        && v.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+' | b'@' | b'/')
        })
        && v.matches('@').count() <= 1;
    if safe {
        return v.to_string();
    }
    let mut q = String::with_capacity(v.len() + 2);
    q.push('"');
    for c in v.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_syntax() {
        let rs = vec![
            result(
                "spf",
                "fail",
                Some("not (permitted)\r\n"),
                vec![("smtp.mailfrom", "x@example.com".to_string())],
            ),
            result(
                "arc",
                "none",
                None,
                vec![("smtp.remote-ip", "2001:db8::1".to_string())],
            ),
        ];
        let h = render_header("mail.laocai.gov.vn", &rs);
        assert_eq!(
            h,
            "mail.laocai.gov.vn; spf=fail (not permitted) smtp.mailfrom=x@example.com; arc=none smtp.remote-ip=\"2001:db8::1\""
        );
        // What we write, our own parser reads back.
        let parsed = phishgate_core::view::auth::parse_auth_results(&h).unwrap();
        assert_eq!(parsed.results.len(), 2);
        assert_eq!(
            parsed.results[1].prop("smtp.remote-ip"),
            Some("2001:db8::1")
        );
        assert_eq!(render_header("h", &[]), "h; none");
        let v = AuthVerdict {
            results: parsed,
            header: render_header("h", &[result("spf", "fail", Some("a; b"), vec![])]),
            timed_out: vec![],
        };
        assert_eq!(v.header_folded("\r\n"), "h;\r\n\tspf=fail (a b)");
    }
}
