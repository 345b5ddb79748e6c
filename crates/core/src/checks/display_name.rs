//! Display names that borrow an identity the address does not have.
//!
//! From outside the organisation, a display name must not claim the
//! organisation itself (its name, a unit, its domain), its IT support or mail
//! system ("Phòng CNTT", "Ban Quản trị Hệ thống", "Zimbra", "Webmail Admin"),
//! a mail brand from a domain that is not the brand's ("Microsoft 365" from
//! `.top`), a state authority from free mail or a non-`gov.vn` domain ("Bộ
//! Tài chính" from gmail), or a protected executive. A display name that is
//! itself an address other than the real one is a disguise too.

use super::Context;
use crate::symbols::Findings;
use crate::text::{contains_words, fold_name};
use crate::view::url::{domains_in_text, host_in_domain, registrable_domain};

/// Brands whose names only their own domains may use in a display name.
const BRAND_DOMAINS: &[(&str, &[&str])] = &[
    (
        "microsoft",
        &[
            "microsoft.com",
            "microsoftonline.com",
            "office.com",
            "office365.com",
            "outlook.com",
            "live.com",
            "sharepoint.com",
            "sharepointonline.com",
            "onmicrosoft.com",
        ],
    ),
    (
        "office 365",
        &[
            "microsoft.com",
            "office.com",
            "office365.com",
            "microsoftonline.com",
        ],
    ),
    (
        "outlook",
        &["microsoft.com", "outlook.com", "office.com", "live.com"],
    ),
    (
        "onedrive",
        &[
            "microsoft.com",
            "onedrive.com",
            "live.com",
            "sharepoint.com",
            "sharepointonline.com",
        ],
    ),
    (
        "sharepoint",
        &["microsoft.com", "sharepoint.com", "sharepointonline.com"],
    ),
    ("google", &["google.com", "gmail.com", "googlemail.com"]),
    ("zimbra", &["zimbra.com", "synacor.com"]),
    ("docusign", &["docusign.com", "docusign.net"]),
    ("dropbox", &["dropbox.com", "dropboxmail.com"]),
    ("wetransfer", &["wetransfer.com"]),
    ("adobe", &["adobe.com", "adobesign.com", "echosign.com"]),
];

/// Emits DISPLAY_NAME_ORG, DISPLAY_NAME_VIP, DISPLAY_NAME_ADDRESS_MISMATCH
/// and FREEMAIL_FROM.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    let Some(from) = &ctx.view.from else { return };
    let freemail = ctx.is_freemail(&from.domain);
    if freemail {
        f.hit("FREEMAIL_FROM", from.domain.clone());
        // `tccb.sotttt.laocai@gmail.com`: the organisation's name in a free
        // mail address is a claim to be the organisation.
        let local = from.address.split('@').next().unwrap_or("");
        for own in &ctx.config.organization.domains {
            let label = own.split('.').next().unwrap_or("");
            if label.len() >= 4 && local.contains(label) {
                f.hit("DISPLAY_NAME_ORG", from.address.clone());
            }
        }
    }
    if from.name.is_empty() {
        return;
    }
    // An address shown as the name must be the real one.
    for d in domains_in_text(&from.name) {
        if from.name.contains('@') && registrable_domain(&d) != registrable_domain(&from.domain) {
            f.hit(
                "DISPLAY_NAME_ADDRESS_MISMATCH",
                format!("{}->{}", d, from.domain),
            );
        }
    }
    if ctx.from_own {
        return;
    }
    let name = fold_name(&from.name);
    let rules = &ctx.engine.text;
    for vip in &rules.vips {
        if contains_words(&name, vip) {
            f.hit(
                "DISPLAY_NAME_VIP",
                format!("{}<{}>", from.name, from.address),
            );
        }
    }
    for org in &rules.org_names {
        if contains_words(&name, org) {
            f.hit(
                "DISPLAY_NAME_ORG",
                format!("{}<{}>", from.name, from.address),
            );
        }
    }
    for own in &ctx.config.organization.domains {
        let label = own.split('.').next().unwrap_or("");
        if (label.len() >= 4 && contains_words(&name, label)) || name.contains(own.as_str()) {
            f.hit(
                "DISPLAY_NAME_ORG",
                format!("{}<{}>", from.name, from.address),
            );
        }
    }
    let is_gov = from.domain.ends_with(".gov.vn") || from.domain == "gov.vn";
    let folded = phishgate_text::fold(&from.name);
    for hit in rules.brands.find(&folded) {
        let cat: &str = &hit.category;
        let phrase = fold_name(&hit.phrase);
        let claim = match cat {
            "it_support" => true,
            // Every organisation has an accounting office; only free mail
            // posing as one of ours is a disguise.
            "unit" => freemail,
            "webmail" => !brand_domain_ok(&phrase, &from.domain),
            // Other public bodies write from gov.vn; an authority's name from
            // free mail or a commercial domain is a disguise.
            "government" => !is_gov,
            _ => false,
        };
        if claim {
            f.hit(
                "DISPLAY_NAME_ORG",
                format!("{}<{}>", from.name, from.address),
            );
        }
    }
}

/// Whether a mail brand named in a display name is sent from that brand's
/// own domain. Generic mail words ("webmail", "hộp thư", "mail server")
/// belong to no outside domain at all.
fn brand_domain_ok(phrase: &str, domain: &str) -> bool {
    BRAND_DOMAINS
        .iter()
        .filter(|(brand, _)| phrase.contains(brand))
        .any(|(_, domains)| domains.iter().any(|d| host_in_domain(domain, d)))
}
