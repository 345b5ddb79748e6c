//! Authentication-Results, believed only from the organisation's own server.
//!
//! Anyone can write an `Authentication-Results` header; an attacker writes
//! `dmarc=pass`. Only the header stamped with the configured `authserv_id`
//! (or results the gateway verified itself) is turned into SPF/DKIM/DMARC
//! symbols; others are ignored and said to be ignored.

use super::Context;
use crate::symbols::Findings;

/// Emits SPF/DKIM/DMARC symbols from the trusted results.
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
    for r in &auth.results {
        let evidence = r
            .prop("header.from")
            .or_else(|| r.prop("header.d"))
            .or_else(|| r.prop("smtp.mailfrom"))
            .unwrap_or(&r.result)
            .to_string();
        let name = match (r.method.as_str(), r.result.as_str()) {
            ("spf", "pass") => "SPF_PASS",
            ("spf", "fail") => "SPF_FAIL",
            ("spf", "softfail") => "SPF_SOFTFAIL",
            ("spf", "temperror" | "permerror") => "SPF_ERROR",
            ("dkim", "pass") => "DKIM_PASS",
            ("dkim", "fail") => "DKIM_FAIL",
            ("dmarc", "pass") => "DMARC_PASS",
            ("dmarc", "fail") => "DMARC_FAIL",
            _ => continue,
        };
        f.hit(name, evidence);
    }
}
