//! Credential lures in Vietnamese and English.
//!
//! The phrase lists (`data/keywords/lures.txt`) are matched on the folded
//! text (see `crate::text`), so `xác minh tài khoản`, `xac minh tai khoan`,
//! `x.á.c m.i.n.h` and Telex leftovers all hit. Only the sender's own words
//! count; phrases that are quoted, negated or in forwarded mail are reported
//! as QUOTED_LURE, and a text that reads as advice about phishing (several
//! advisory phrases) gets ADVISORY_CONTEXT, which scales the remaining direct
//! hits down: advisories describe lures in reported speech.

use super::Context;
use crate::symbols::Findings;

/// Categories of `lures.txt` and the symbol each becomes.
pub const LURE_SYMBOLS: &[(&str, &str)] = &[
    ("verify_account", "LURE_VERIFY_ACCOUNT"),
    ("update_account", "LURE_UPDATE_ACCOUNT"),
    ("upgrade_mailbox", "LURE_UPGRADE_MAILBOX"),
    ("mailbox_full", "LURE_MAILBOX_FULL"),
    ("password_expiry", "LURE_PASSWORD_EXPIRY"),
    ("account_threat", "LURE_ACCOUNT_THREAT"),
    ("login_to_view", "LURE_LOGIN_TO_VIEW"),
    ("two_factor", "LURE_TWO_FACTOR"),
    ("credentials_request", "LURE_CREDENTIALS_REQUEST"),
    ("urgency", "LURE_URGENCY"),
    ("click_action", "LURE_CLICK"),
];

/// Distinct advisory phrases that make a text read as a warning.
const ADVISORY_MIN_PHRASES: usize = 3;
/// Weight left to direct lure phrases inside an advisory.
const ADVISORY_LURE_WEIGHT: f64 = 0.25;

/// Emits the LURE_* symbols, QUOTED_LURE, ADVISORY_CONTEXT, FORWARDED_CONTENT
/// and TEXT_OBFUSCATION.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    let t = &ctx.text;
    let mut advisory: Vec<&str> = t.any("advisory").map(|h| h.phrase.as_str()).collect();
    advisory.sort_unstable();
    advisory.dedup();
    let cited: Vec<&str> = t
        .hits
        .iter()
        .filter(|h| h.cited)
        .map(|h| h.phrase.as_str())
        .collect();
    let is_advisory =
        advisory.len() >= ADVISORY_MIN_PHRASES || (advisory.len() >= 2 && !cited.is_empty());
    if is_advisory {
        f.add("ADVISORY_CONTEXT", 1.0, advisory.clone());
    }
    let lure_weight = if is_advisory {
        ADVISORY_LURE_WEIGHT
    } else {
        1.0
    };
    let mut any_direct = false;
    for (cat, sym) in LURE_SYMBOLS {
        let phrases: Vec<String> = t.direct(cat).map(|h| h.phrase.clone()).collect();
        if !phrases.is_empty() {
            any_direct |= !matches!(*cat, "urgency" | "click_action");
            f.add(sym, lure_weight, phrases);
        }
    }
    let mut quoted: Vec<String> = cited.iter().map(|s| s.to_string()).collect();
    quoted.extend(
        t.quoted_hits
            .iter()
            .filter(|h| LURE_SYMBOLS.iter().any(|(c, _)| *c == h.category))
            .map(|h| h.phrase.clone()),
    );
    if !quoted.is_empty() {
        f.add("QUOTED_LURE", 1.0, quoted);
    }
    if !ctx.view.quoted_text.trim().is_empty() || ctx.view.nested_messages > 0 {
        f.hit(
            "FORWARDED_CONTENT",
            format!("{} nested", ctx.view.nested_messages),
        );
    }
    if let Some(own) = &t.own {
        // Obfuscation matters when it hides something: a lure, or a name
        // the sender borrows. (The brand search runs only then: it is a
        // second pass over the whole text.)
        if !own.obfuscations.is_empty()
            && (any_direct || !ctx.engine.text.brands.find(own).is_empty())
        {
            let kinds: Vec<&str> = own.obfuscations.iter().map(|o| o.as_str()).collect();
            f.add("TEXT_OBFUSCATION", 1.0, kinds);
        }
    }
}
