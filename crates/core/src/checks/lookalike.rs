//! Domains that imitate the organisation's own.
//!
//! A domain D' is a lookalike of an own domain D (compared on registrable
//! domains, `mail.laocai.gov.vn` -> `laocai.gov.vn`) when it is not D or a
//! subdomain of D and:
//! - it differs from D by one or two edits (Damerau: `loacai.gov.vn`), for
//!   names long enough that two edits are not a different word;
//! - it is equal to D after folding characters people confuse (`l`/`i`/`1`,
//!   `rn`/`m`, `0`/`o`, `vv`/`w`: `iaocai.gov.vn`, `laoca1.gov.vn`);
//! - its Unicode form has the same confusable skeleton as D (Cyrillic `а`
//!   in `lаocai.gov.vn`, which arrives as punycode);
//! - with dots and hyphens removed it contains D with dots removed
//!   (`laocai-gov.vn`, `laocaigov.vn`, `laocai.gov.vn.secure-docs.top`,
//!   `mail-laocai-gov.vn.login.top`): the own name used as a label of a
//!   foreign domain.
//!
//! The same name under another suffix (`laocai.edu.vn`) is not flagged: other
//! public bodies of the same province legitimately use it.

use unicode_security::skeleton;

use super::Context;
use crate::symbols::Findings;
use crate::view::url::registrable_domain;

/// Shortest own registrable name (without dots) for which edit distance counts.
const MIN_EDIT_LEN: usize = 6;

/// Checks sender, Reply-To, envelope and link domains.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    let v = ctx.view;
    let mut senders: Vec<String> = Vec::new();
    if let Some(m) = &v.from {
        senders.push(m.domain.clone());
    }
    if let Some(m) = &v.sender {
        senders.push(m.domain.clone());
    }
    senders.extend(v.reply_to.iter().map(|m| m.domain.clone()));
    if let Some(d) = ctx.envelope_sender_domain() {
        senders.push(d);
    }
    for d in senders.iter().filter(|d| !d.is_empty()) {
        if let Some(why) = imitates(ctx, d) {
            f.hit("LOOKALIKE_SENDER_DOMAIN", why);
        }
    }
    for (l, w) in ctx.weighed_links() {
        if let Some(u) = &l.url {
            if !u.is_ip {
                if let Some(why) = imitates(ctx, &u.host) {
                    f.add("LOOKALIKE_LINK_DOMAIN", w, vec![why]);
                }
            }
        }
    }
}

/// Why `domain` imitates an own domain, if it does.
pub fn imitates(ctx: &Context<'_>, domain: &str) -> Option<String> {
    let domain = domain.trim_end_matches('.').to_lowercase();
    if ctx.is_own_host(&domain) {
        return None;
    }
    let unicode = if domain.contains("xn--") {
        let (u, r) = idna::domain_to_unicode(&domain);
        if r.is_ok() {
            u
        } else {
            domain.clone()
        }
    } else {
        domain.clone()
    };
    let reg = registrable_domain(&domain);
    let reg_unicode = registrable_domain(&unicode);
    for own in &ctx.config.organization.domains {
        let own_reg = registrable_domain(own);
        if own_reg.is_empty() {
            continue;
        }
        let squashed_own: String = own_reg.chars().filter(|c| *c != '.' && *c != '-').collect();
        let squashed: String = domain.chars().filter(|c| *c != '.' && *c != '-').collect();
        if squashed.contains(&squashed_own) {
            return Some(format!("{domain}~{own_reg} (contains)"));
        }
        if skeleton(&reg_unicode).collect::<String>() == skeleton(&own_reg).collect::<String>()
            || skeleton(&unicode)
                .collect::<String>()
                .contains(&skeleton(&own_reg).collect::<String>())
        {
            return Some(format!("{unicode}~{own_reg} (homoglyph)"));
        }
        if confusable_fold(&reg) == confusable_fold(&own_reg) {
            return Some(format!("{domain}~{own_reg} (look-alike letters)"));
        }
        if squashed_own.len() >= MIN_EDIT_LEN {
            let d = strsim::damerau_levenshtein(&reg, &own_reg);
            let limit = if squashed_own.len() >= 10 { 2 } else { 1 };
            if d > 0 && d <= limit && same_shape(&reg, &own_reg) {
                return Some(format!("{domain}~{own_reg} (edit distance {d})"));
            }
        }
    }
    None
}

/// Folds letters that look alike in most fonts onto one.
fn confusable_fold(s: &str) -> String {
    let s = s.replace("rn", "m").replace("vv", "w").replace("cl", "d");
    s.chars()
        .map(|c| match c {
            'i' | '1' | '|' | 'í' | 'ì' => 'l',
            '0' => 'o',
            '5' => 's',
            '3' => 'e',
            _ => c,
        })
        .collect()
}

/// Edits must stay within the name: `laocai.gov.vn` vs `laocai.gov.vm` is a
/// typo of the suffix, which a lookalike also is; but `laocai.gov.vn` vs
/// `lacai.gov` changes the number of labels: a different name, not flagged.
fn same_shape(a: &str, b: &str) -> bool {
    a.split('.').count() == b.split('.').count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, Envelope, Facts};
    use crate::view::MessageView;
    use crate::Config;

    fn with(domain: &str) -> Option<String> {
        let cfg =
            Config::from_toml_str("[organization]\ndomains = [\"laocai.gov.vn\"]\n").expect("cfg");
        let engine = Engine::new(cfg).expect("engine");
        let view = MessageView::default();
        let env = Envelope::default();
        let facts = Facts::default();
        let ctx = Context::new(&engine, &view, &env, &facts);
        imitates(&ctx, domain)
    }

    #[test]
    fn lookalikes() {
        for d in [
            "laocai-gov.vn",
            "iaocai.gov.vn",
            "laoca1.gov.vn",
            "loacai.gov.vn",
            "laocai.gov.vn.secure-docs.top",
            "mail-laocai-gov.vn.login.top",
            "laocaigov.vn",
            "xn--locai-4ve.gov.vn",
        ] {
            assert!(with(d).is_some(), "{d} should be a lookalike");
        }
    }

    #[test]
    fn not_lookalikes() {
        for d in [
            "laocai.gov.vn",
            "mail.laocai.gov.vn",
            "laocai.edu.vn",
            "gmail.com",
            "danang.gov.vn",
            "langson.gov.vn",
            "baolaocai.vn",
            "mic.gov.vn",
        ] {
            assert!(with(d).is_none(), "{d} is not a lookalike: {:?}", with(d));
        }
    }
}
