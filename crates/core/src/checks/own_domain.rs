//! Mail that claims the organisation's own domain.
//!
//! Many provincial domains publish no DMARC policy, so a forged
//! `From: quantri@laocai.gov.vn` is judged here by what the organisation's
//! own server saw: a failed DMARC (or a failed SPF without an aligned DKIM
//! pass) is a spoof, whatever the sender's published policy. An envelope
//! sender outside the organisation also contradicts the claim.
//!
//! The organisation's own path: in the gateway (the envelope has a client
//! IP), own-domain mail must come from `[organization] own_networks`, or
//! from an SMTP-authenticated session (milter `{auth_authen}`), or carry a
//! valid DKIM signature of an own domain; anything else is
//! `OWN_DOMAIN_OUTSIDE_PATH`, a strong symbol that does not depend on the
//! domain publishing DMARC. For stored mail (no session), the Received
//! header our server wrote tells where the message entered
//! (`OWN_DOMAIN_FROM_OUTSIDE`). Mail that proves it is internal (aligned
//! pass, or authenticated submission) is marked trusted, which offsets
//! content that genuine internal notices contain.

use super::Context;
use crate::symbols::Findings;

/// Emits FROM_OWN_DOMAIN, the spoof symbols and TRUSTED_INTERNAL.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    let Some(from) = &ctx.view.from else { return };
    if !ctx.from_own {
        return;
    }
    f.hit("FROM_OWN_DOMAIN", from.domain.clone());
    if ctx.own_auth_failed() {
        f.hit(
            "OWN_DOMAIN_SPOOF",
            format!(
                "{} failed at {}",
                from.domain, ctx.config.organization.authserv_id
            ),
        );
    }
    if let Some(d) = ctx.envelope_sender_domain() {
        if !d.is_empty() && !ctx.is_own_host(&d) {
            f.hit(
                "OWN_DOMAIN_ENVELOPE_MISMATCH",
                format!("{}<-{}", from.domain, d),
            );
        }
    }
    if ctx.envelope.client_ip.is_none() && !aligned_pass(ctx) {
        if let Some(hop) = entry_from_outside(ctx) {
            f.hit(
                "OWN_DOMAIN_FROM_OUTSIDE",
                format!("{} via {hop}", from.domain),
            );
        }
    }
    let env = ctx.envelope;
    if let Some(ip) = &env.client_ip {
        if env.authenticated_user.is_none() && !ctx.is_own_network(ip) && !own_dkim_pass(ctx) {
            let helo = env.helo.as_deref().unwrap_or("?");
            f.hit(
                "OWN_DOMAIN_OUTSIDE_PATH",
                format!("{} from {ip} (helo {helo})", from.domain),
            );
        }
    }
    if env.authenticated_user.is_some() || (aligned_pass(ctx) && !ctx.own_auth_failed()) {
        let how = env
            .authenticated_user
            .clone()
            .map(|u| format!("auth {u}"))
            .unwrap_or_else(|| "aligned pass".to_string());
        f.hit("TRUSTED_INTERNAL", how);
    }
}

/// DMARC pass, or DKIM pass signed by an own domain, at the trusted server.
fn aligned_pass(ctx: &Context<'_>) -> bool {
    let dmarc_pass = ctx.trusted_auth.as_ref().is_some_and(|a| {
        a.results
            .iter()
            .any(|r| r.method == "dmarc" && r.result == "pass")
    });
    dmarc_pass || own_dkim_pass(ctx)
}

/// A valid DKIM signature of one of the organisation's domains: only the
/// organisation's own servers hold that key.
fn own_dkim_pass(ctx: &Context<'_>) -> bool {
    let Some(a) = &ctx.trusted_auth else {
        return false;
    };
    a.results.iter().any(|r| {
        r.method == "dkim"
            && r.result == "pass"
            && r.prop("header.d").is_some_and(|d| ctx.is_own_host(d))
    })
}

/// For a stored message: the hop where the organisation's server took the
/// message in. When the top `Received` written by our server (`by` our
/// `authserv_id` or an own host) shows an unauthenticated client with a
/// public address and a name outside our domains, an own-domain From came
/// from outside. Internal submission shows `ESMTPA`/`ESMTPSA`, a private
/// address, or an own host name.
fn entry_from_outside(ctx: &Context<'_>) -> Option<String> {
    let id = &ctx.config.organization.authserv_id;
    // Walk down from the top: hops inside the organisation (LMTP delivery,
    // content filters on localhost, relays with private addresses) are
    // skipped until the hop where the message entered.
    for r in &ctx.view.received {
        let lower = r.trim().to_lowercase();
        let by = lower
            .split(" by ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or("")
            .trim_end_matches([';', ')', '(']);
        let ours =
            (!id.is_empty() && by == id.as_str()) || ctx.is_own_host(by) || by == "localhost";
        if !ours {
            return None;
        }
        let from_part = lower
            .strip_prefix("from ")
            .map(|s| s.split(" by ").next().unwrap_or(""))
            .unwrap_or("");
        if from_part.is_empty() {
            return None;
        }
        let authenticated = [
            " esmtpa",
            " esmtpsa",
            " lmtpa",
            " smtpa",
            " with http",
            " with local",
            "authenticated",
        ]
        .iter()
        .any(|k| lower.contains(k));
        if authenticated {
            return None;
        }
        let helo = from_part.split_whitespace().next().unwrap_or("");
        let own_name = helo == "localhost"
            || ctx.is_own_host(helo)
            || from_part.split(['(', ')', ' ', '[']).any(|w| {
                !w.is_empty() && w.contains('.') && ctx.is_own_host(w.trim_end_matches('.'))
            });
        match bracketed_ip(from_part).or_else(|| paren_ip(from_part)) {
            Some(ip) if ctx.is_own_network(&ip) => continue,
            Some(ip) if !own_name => return Some(format!("{helo} [{ip}]")),
            Some(_) => continue,
            None if own_name => continue,
            None => return None,
        }
    }
    None
}

/// `(10.10.1.5)`: some MTAs write the address in parentheses.
fn paren_ip(s: &str) -> Option<String> {
    s.split(['(', ')', ' '])
        .filter_map(|w| w.parse::<std::net::IpAddr>().ok())
        .map(|a| a.to_string())
        .next()
}

/// The first `[a.b.c.d]` (or `[IPv6:…]`) in a Received `from` clause.
fn bracketed_ip(s: &str) -> Option<String> {
    let start = s.find('[')?;
    let rest = s.get(start + 1..)?;
    let end = rest.find(']')?;
    let ip = rest.get(..end)?.trim_start_matches("ipv6:");
    ip.parse::<std::net::IpAddr>().ok().map(|a| a.to_string())
}
