//! Money and gift-card requests (business e-mail compromise).
//!
//! These lures carry no link and no attachment: a "superior" writes from
//! free mail asking for an urgent transfer or for scratch-card codes, often
//! saying they are in a meeting and cannot take calls. The phrases score on
//! their own; the composite BEC_IMPERSONATION adds weight when the sender
//! also borrows a name or diverts replies.

use super::Context;
use crate::symbols::Findings;

/// Emits BEC_MONEY_REQUEST, BEC_GIFT_CARD and BEC_SECRECY.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    let t = &ctx.text;
    for (cat, sym) in [
        ("money_request", "BEC_MONEY_REQUEST"),
        ("gift_card", "BEC_GIFT_CARD"),
        ("secrecy", "BEC_SECRECY"),
    ] {
        let phrases: Vec<String> = t.direct(cat).map(|h| h.phrase.clone()).collect();
        if !phrases.is_empty() {
            f.add(sym, 1.0, phrases);
        }
    }
}
