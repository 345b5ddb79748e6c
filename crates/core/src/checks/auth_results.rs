//! Authentication-Results, believed only from the organisation's own server.
//!
//! Anyone can write an `Authentication-Results` header; an attacker writes
//! `dmarc=pass`. Only the header stamped with the configured `authserv_id`
//! (or results the gateway verified itself, `Facts.auth`) is turned into
//! symbols; others are ignored and said to be ignored.
//!
//! One symbol per method and result (RFC 8601 tokens): `SPF_*` for the MAIL
//! FROM identity, `SPF_HELO_FAIL`/`SPF_HELO_SOFTFAIL` for the HELO identity,
//! `DKIM_*` per signature, `ARC_*`, `DMARC_*`. A DMARC failure also names the
//! policy the From domain publishes (`policy.dmarc`, which the gateway's own
//! verification records): `DMARC_POLICY_REJECT` / `_QUARANTINE` / `_NONE`,
//! scored from the configuration when `[auth] honour_dmarc` is on and shown
//! with zero weight when it is off. Temporary errors are never a pass nor a
//! fail: they are `*_TEMPERROR` plus `AUTH_TEMPFAIL` and `DNS_TEMPFAIL`, all
//! zero-weight by default, so policy can act on them.

use super::Context;
use crate::symbols::Findings;
use crate::view::auth::AuthResult;

/// Emits the authentication symbols from the trusted results.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    let untrusted: Vec<String> = ctx
        .view
        .auth_results
        .iter()
        .filter(|a| a.authserv_id != ctx.config.organization.authserv_id)
        .map(|a| a.authserv_id.clone())
        .collect();
    if !untrusted.is_empty() {
        f.add("AUTH_RESULTS_UNTRUSTED", 1.0, untrusted);
    }
    let Some(auth) = &ctx.trusted_auth else {
        f.hit(
            "AUTH_RESULTS_MISSING",
            ctx.config.organization.authserv_id.clone(),
        );
        return;
    };
    let mut tempfail: Vec<String> = Vec::new();
    for r in &auth.results {
        let evidence = evidence(r);
        if r.result == "temperror" {
            tempfail.push(format!("{} {evidence}", r.method));
        }
        let Some(name) = symbol(r) else { continue };
        f.hit(name, evidence.clone());
        if r.method == "dmarc" && r.result == "fail" {
            dmarc_policy(ctx, r, &evidence, f);
        }
    }
    if !tempfail.is_empty() {
        f.add("AUTH_TEMPFAIL", 1.0, tempfail.clone());
        f.add("DNS_TEMPFAIL", 1.0, tempfail);
    }
}

/// The identity a result is about, for the evidence.
fn evidence(r: &AuthResult) -> String {
    r.prop("header.from")
        .or_else(|| r.prop("header.d"))
        .or_else(|| r.prop("smtp.mailfrom"))
        .or_else(|| r.prop("smtp.helo"))
        .unwrap_or(&r.result)
        .to_string()
}

/// Whether an `spf` result is about the HELO identity only.
pub(crate) fn is_helo_spf(r: &AuthResult) -> bool {
    r.method == "spf" && r.prop("smtp.helo").is_some() && r.prop("smtp.mailfrom").is_none()
}

fn symbol(r: &AuthResult) -> Option<&'static str> {
    if is_helo_spf(r) {
        return match r.result.as_str() {
            "fail" => Some("SPF_HELO_FAIL"),
            "softfail" => Some("SPF_HELO_SOFTFAIL"),
            _ => None,
        };
    }
    Some(match (r.method.as_str(), r.result.as_str()) {
        ("spf", "pass") => "SPF_PASS",
        ("spf", "fail") => "SPF_FAIL",
        ("spf", "softfail") => "SPF_SOFTFAIL",
        ("spf", "neutral") => "SPF_NEUTRAL",
        ("spf", "none") => "SPF_NONE",
        ("spf", "temperror") => "SPF_TEMPERROR",
        ("spf", "permerror") => "SPF_PERMERROR",
        ("dkim", "pass") => "DKIM_PASS",
        ("dkim", "fail") => "DKIM_FAIL",
        ("dkim", "neutral") => "DKIM_NEUTRAL",
        ("dkim", "none") => "DKIM_NONE",
        ("dkim", "temperror") => "DKIM_TEMPERROR",
        ("dkim", "permerror") => "DKIM_PERMERROR",
        ("arc", "pass") => "ARC_PASS",
        ("arc", "fail") => "ARC_FAIL",
        ("arc", "temperror") => "ARC_TEMPERROR",
        ("arc", "permerror") => "ARC_PERMERROR",
        ("dmarc", "pass") => "DMARC_PASS",
        ("dmarc", "fail") => "DMARC_FAIL",
        ("dmarc", "none") => "DMARC_NONE",
        ("dmarc", "temperror") => "DMARC_TEMPERROR",
        ("dmarc", "permerror") => "DMARC_PERMERROR",
        _ => return None,
    })
}

/// The From domain's published policy, for a DMARC failure.
fn dmarc_policy(ctx: &Context<'_>, r: &AuthResult, domain: &str, f: &mut Findings) {
    let Some(policy) = r.prop("policy.dmarc") else {
        return;
    };
    let name = match policy {
        "reject" => "DMARC_POLICY_REJECT",
        "quarantine" => "DMARC_POLICY_QUARANTINE",
        "none" => "DMARC_POLICY_NONE",
        _ => return,
    };
    if ctx.config.auth.honour_dmarc {
        f.hit(name, format!("{domain} p={policy}"));
    } else {
        f.add(
            name,
            0.0,
            vec![format!("{domain} p={policy} (not honoured)")],
        );
    }
}
