//! Mail that claims the organisation's own domain.
//!
//! Many provincial domains publish no DMARC policy, so a forged
//! `From: quantri@laocai.gov.vn` is judged here by what the organisation's
//! own server saw: a failed DMARC (or a failed SPF without an aligned DKIM
//! pass) is a spoof, whatever the sender's published policy. An envelope
//! sender outside the organisation, or (in the gateway) a connection from
//! outside without SMTP AUTH, also contradicts the claim. Mail that proves
//! it is internal (aligned pass, or authenticated submission) is marked
//! trusted, which offsets content that genuine internal notices contain.

use super::Context;
use crate::symbols::Findings;
use crate::view::url::host_in_domain;

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
    let env = ctx.envelope;
    if env.authenticated_user.is_none() {
        if let Some(ip) = &env.client_ip {
            if !is_internal_ip(ip) && !aligned_pass(ctx) {
                f.hit(
                    "OWN_DOMAIN_FROM_OUTSIDE",
                    format!("{} from {ip}", from.domain),
                );
            }
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
    let Some(a) = &ctx.trusted_auth else {
        return false;
    };
    a.results.iter().any(|r| {
        (r.method == "dmarc" && r.result == "pass")
            || (r.method == "dkim"
                && r.result == "pass"
                && r.prop("header.d").is_some_and(|d| {
                    ctx.config
                        .organization
                        .domains
                        .iter()
                        .any(|o| host_in_domain(d, o))
                }))
    })
}

/// Loopback and private ranges: the MTA's own relays.
fn is_internal_ip(ip: &str) -> bool {
    match ip.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        Ok(std::net::IpAddr::V6(v6)) => {
            v6.is_loopback() || v6.segments().first().is_some_and(|s| s & 0xfe00 == 0xfc00)
        }
        Err(_) => false,
    }
}
