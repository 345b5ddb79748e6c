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
use crate::view::url::{domains_in_text, registrable_domain};

/// Brands whose names only their own domains may use in a display name,
/// each with one domain of the brand; the rest of its domains come from
/// `[lists] sender_families`, so one list says which domains belong together.
const BRAND_ANCHORS: &[(&str, &str)] = &[
    ("microsoft", "microsoft.com"),
    ("office 365", "microsoft.com"),
    ("outlook", "microsoft.com"),
    ("onedrive", "microsoft.com"),
    ("sharepoint", "microsoft.com"),
    ("teams", "microsoft.com"),
    ("google", "google.com"),
    ("zimbra", "zimbra.com"),
    ("docusign", "docusign.com"),
    ("dropbox", "dropbox.com"),
    ("wetransfer", "wetransfer.com"),
    ("adobe", "adobe.com"),
];

/// Emits DISPLAY_NAME_ORG, DISPLAY_NAME_VIP, DISPLAY_NAME_ADDRESS_MISMATCH,
/// FREEMAIL_FROM, SENDER_SUSPICIOUS_TLD and SENDER_FAKE_GOV_DOMAIN.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    let Some(from) = &ctx.view.from else { return };
    let tld = from.domain.rsplit('.').next().unwrap_or("");
    if !ctx.from_own && ctx.engine.lists.suspicious_tlds.contains(tld) {
        f.hit("SENDER_SUSPICIOUS_TLD", from.domain.clone());
    }
    let fake_gov = looks_governmental(&from.domain);
    if fake_gov && !ctx.from_own {
        f.hit("SENDER_FAKE_GOV_DOMAIN", from.domain.clone());
    }
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
    // Folded once: the same text serves the name comparisons and the brand list.
    let folded = phishgate_text::fold(&from.name);
    let name = folded.text.as_str();
    let rules = &ctx.engine.text;
    for vip in &rules.vips {
        if contains_words(name, vip) {
            f.hit(
                "DISPLAY_NAME_VIP",
                format!("{}<{}>", from.name, from.address),
            );
        }
    }
    for org in &rules.org_names {
        if contains_words(name, org) {
            f.hit(
                "DISPLAY_NAME_ORG",
                format!("{}<{}>", from.name, from.address),
            );
        }
    }
    for own in &ctx.config.organization.domains {
        let label = own.split('.').next().unwrap_or("");
        if (label.len() >= 4 && contains_words(name, label)) || name.contains(own.as_str()) {
            f.hit(
                "DISPLAY_NAME_ORG",
                format!("{}<{}>", from.name, from.address),
            );
        }
    }
    let is_gov = from.domain.ends_with(".gov.vn") || from.domain == "gov.vn";
    for hit in rules.brands.find(&folded) {
        let cat: &str = &hit.category;
        let phrase = fold_name(&hit.phrase);
        let claim = match cat {
            "it_support" => true,
            // Every organisation has an accounting office; only free mail
            // posing as one of ours is a disguise.
            "unit" => freemail,
            "webmail" => !brand_domain_ok(ctx, &phrase, &from.domain),
            // Other public bodies write from gov.vn; an authority's name from
            // free mail or a commercial domain is a disguise.
            // and an authenticated .vn domain (a government newspaper)
            // answers for its name under Vietnamese registration rules.
            "government" => {
                !is_gov
                    && (fake_gov || !(from.domain.ends_with(".vn") && ctx.sender_authenticated()))
            }
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

/// A domain dressed as a government one without being in a government
/// registry: "gov" in the registrable name (`chukyso-cagov.vn`,
/// `mof-gov-vn.top`, `gdt-gov.vn`) while the public suffix is not a `gov`
/// one (`gov.vn`, `gov`, `gov.uk`...). Only public bodies can register under
/// those, so the imitation is the point.
pub fn looks_governmental(domain: &str) -> bool {
    let reg = registrable_domain(domain);
    let suffix = psl::suffix_str(&reg).unwrap_or("");
    let name = reg.strip_suffix(suffix).unwrap_or(&reg);
    !suffix.split('.').any(|l| l == "gov") && name.contains("gov")
}

/// Whether a mail brand named in a display name is sent from that brand's
/// own domain. Generic mail words ("webmail", "hộp thư", "mail server")
/// belong to no outside domain at all.
fn brand_domain_ok(ctx: &Context<'_>, phrase: &str, domain: &str) -> bool {
    // A brand's free mail service (outlook.com, gmail.com) is anyone's
    // address, not the brand speaking.
    if ctx.is_freemail(domain) {
        return false;
    }
    let reg = registrable_domain(domain);
    BRAND_ANCHORS
        .iter()
        .filter(|(brand, _)| phrase.contains(brand))
        .any(|(_, anchor)| ctx.same_party(anchor, &reg))
}

#[cfg(test)]
mod tests {
    use super::looks_governmental;

    #[test]
    fn fake_government_domains() {
        for d in [
            "chukyso-cagov.vn",
            "mof-gov-vn.top",
            "gdt-gov.vn",
            "laocai-gov.vn",
            "govvn.online",
        ] {
            assert!(looks_governmental(d), "{d}");
        }
        for d in [
            "laocai.gov.vn",
            "mic.gov.vn",
            "baochinhphu.vn",
            "gov.uk",
            "nhs.gov.uk",
            "example.com",
        ] {
            assert!(!looks_governmental(d), "{d}");
        }
    }
}
