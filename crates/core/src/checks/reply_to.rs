//! Reply-To that sends answers somewhere else.
//!
//! Lures that ask for a reply (credentials, money) need the answer to reach
//! the attacker: a Reply-To in another domain than the From, worst of all a
//! free mail address, is how they get it. Mailing lists and newsletters reply
//! within their own registrable domain and do not trip this.

use super::Context;
use crate::symbols::Findings;
use crate::view::url::registrable_domain;

/// Emits REPLY_TO_DIVERGES and REPLY_TO_FREEMAIL.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    let Some(from) = &ctx.view.from else { return };
    let from_reg = registrable_domain(&from.domain);
    for r in &ctx.view.reply_to {
        if r.address == from.address || r.domain.is_empty() {
            continue;
        }
        let reg = registrable_domain(&r.domain);
        if ctx.is_freemail(&r.domain) {
            f.hit(
                "REPLY_TO_FREEMAIL",
                format!("{}->{}", from.address, r.address),
            );
        } else if reg != from_reg && !(ctx.is_own_host(&r.domain) && ctx.from_own) {
            f.hit("REPLY_TO_DIVERGES", format!("{}->{}", from_reg, reg));
        }
    }
}
