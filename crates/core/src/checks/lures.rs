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
pub const ADVISORY_LURE_WEIGHT: f64 = 0.25;

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
    let described = t.hits.iter().any(|h| h.described);
    let is_advisory = advisory.len() >= ADVISORY_MIN_PHRASES
        || (advisory.len() >= 2 && (!cited.is_empty() || described));
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
            f.add(*sym, lure_weight * t.weight(cat), phrases);
        }
    }
    if let Some(own) = &t.own {
        if let Some(evidence) = credential_fields(&own.text) {
            any_direct = true;
            f.add("LURE_CREDENTIALS_REQUEST", lure_weight, vec![evidence]);
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

/// Labels of a user name field and of a password field, folded.
const USER_LABELS: &[&str] = &[
    "ten dang nhap",
    "tai khoan",
    "username",
    "user name",
    "user id",
    "email",
    "dia chi email",
    "login",
];
const PASSWORD_LABELS: &[&str] = &[
    "mat khau",
    "password",
    "passwd",
    "mat khau cu",
    "old password",
];

/// A fill-in form in the text: a line that is a user name label followed by
/// `:` and, within the next three lines, a password label followed by `:`
/// ("Tên đăng nhập: … / Mật khẩu: …") — the way reply-with-your-password
/// lures ask, without any phrase to match.
fn credential_fields(folded: &str) -> Option<String> {
    let lines: Vec<&str> = folded.lines().map(str::trim).collect();
    let is_label = |line: &str, labels: &[&str]| {
        line.split_once(':').is_some_and(|(label, rest)| {
            let label = label.trim().trim_start_matches(['-', '*', '•', ' ']).trim();
            labels.contains(&label) && rest.trim().chars().count() <= 40
        })
    };
    for (i, line) in lines.iter().enumerate() {
        if is_label(line, USER_LABELS) {
            for next in lines.iter().skip(i + 1).take(3) {
                if is_label(next, PASSWORD_LABELS) {
                    return Some(format!(
                        "{} / {}",
                        line.split(':').next().unwrap_or(""),
                        next.split(':').next().unwrap_or("")
                    ));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::credential_fields;

    #[test]
    fn fill_in_credentials() {
        assert!(
            credential_fields("de nghi phan hoi:\nten dang nhap:\nmat khau:\nso dien thoai:")
                .is_some()
        );
        assert!(credential_fields("username: ______\n\npassword: ______").is_some());
        assert!(credential_fields("mat khau: doi dinh ky 3 thang mot lan").is_none());
        assert!(credential_fields("email: a@b.vn\nso dien thoai: 0912").is_none());
    }
}
