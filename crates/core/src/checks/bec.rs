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
    // A warning about these scams (bank notices, advisories, news) names
    // them; the lure check, which runs first (see pipeline.rs), decides
    // whether the text reads as one.
    let advisory_weight = if f.has("ADVISORY_CONTEXT") {
        super::lures::ADVISORY_LURE_WEIGHT
    } else {
        1.0
    };
    for (cat, sym) in [
        ("money_request", "BEC_MONEY_REQUEST"),
        ("gift_card", "BEC_GIFT_CARD"),
        ("secrecy", "BEC_SECRECY"),
    ] {
        let phrases: Vec<String> = t.direct(cat).map(|h| h.phrase.clone()).collect();
        if !phrases.is_empty() {
            f.add(sym, advisory_weight * t.weight(cat), phrases);
        }
    }
}
