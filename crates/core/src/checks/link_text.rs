//! Link text that shows one domain while the link goes to another.
//!
//! The classic lure shows `https://mail.laocai.gov.vn` and links to
//! `185.234.72.19/zimbra`. Compared on registrable domains, so a bank's
//! `www.vietcombank.com.vn` text linking to `digibank.vietcombank.com.vn`
//! is fine; links through the sender's own click-tracking domain or a known
//! mailing service are newsletters doing what newsletters do. Showing the
//! organisation's own domain over a foreign target is the strongest form.

use super::Context;
use crate::symbols::Findings;
use crate::view::url::{domains_in_text, host_in_domain, registrable_domain};
use crate::view::LinkOrigin;

/// Emits LINK_TEXT_MISMATCH and LINK_TEXT_MISMATCH_OWN.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    for (l, w) in ctx.weighed_links() {
        if !matches!(l.origin, LinkOrigin::Html | LinkOrigin::HtmlAttachment) {
            continue;
        }
        let Some(u) = &l.url else { continue };
        let shown = domains_in_text(&l.text);
        if shown.is_empty() {
            continue;
        }
        if ctx.engine.lists.tracking_redirects.contains_host(&u.host) {
            continue;
        }
        let target_reg = &u.registrable;
        if ctx.is_sender_party(target_reg) && !u.is_ip {
            continue;
        }
        for s in shown {
            let shown_reg = registrable_domain(&s);
            if &shown_reg == target_reg || host_in_domain(&u.host, &shown_reg) {
                continue;
            }
            let evidence = format!("{s}->{}", u.host);
            if ctx.is_own_host(&s) && !ctx.is_own_host(&u.host) {
                f.add("LINK_TEXT_MISMATCH_OWN", w, vec![evidence]);
            } else {
                f.add("LINK_TEXT_MISMATCH", w, vec![evidence]);
            }
        }
    }
}
