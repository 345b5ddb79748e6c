//! Addresses written into the text: "gửi lại mật khẩu về địa chỉ
//! hotro.laocai@gmail.com". A free mail address in the sender's own words
//! (other than the sender's) is where a reply-based lure wants the answer to
//! go, even when the From and Reply-To headers look clean. It also keeps the
//! INTERNAL_NOTICE composite from excusing such a message.

use super::Context;
use crate::symbols::Findings;
use crate::view::url::registrable_domain;

/// Addresses examined per message.
const MAX_ADDRESSES: usize = 32;

/// Emits TEXT_FREEMAIL_ADDRESS.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    let Some(own) = &ctx.text.own else { return };
    let from = ctx
        .view
        .from
        .as_ref()
        .map(|m| m.address.as_str())
        .unwrap_or("");
    for addr in addresses_in(&own.text).into_iter().take(MAX_ADDRESSES) {
        let domain = addr.rsplit('@').next().unwrap_or("");
        // Google writing about a gmail.com address is the sender's own service.
        let sender_service = ctx.is_sender_party(&registrable_domain(domain));
        if addr != from && ctx.is_freemail(domain) && !sender_service {
            f.hit("TEXT_FREEMAIL_ADDRESS", addr);
        }
    }
}

/// `local@domain.tld` tokens in folded text, found from each `@` outwards
/// (no pass over text without one).
fn addresses_in(text: &str) -> Vec<String> {
    let is_sep = |c: char| {
        c.is_whitespace() || matches!(c, '<' | '>' | '(' | ')' | ',' | ';' | '"' | ':' | '[' | ']')
    };
    let mut out: Vec<String> = Vec::new();
    for (at, _) in text.match_indices('@').take(4 * MAX_ADDRESSES) {
        let before = text.get(..at).unwrap_or("");
        let after = text.get(at + 1..).unwrap_or("");
        let start = before.rfind(is_sep).map(|i| i + 1).unwrap_or(0);
        let end = after.find(is_sep).map(|i| at + 1 + i).unwrap_or(text.len());
        let token = text.get(start..end).unwrap_or("");
        let t = token.trim_matches(|c: char| matches!(c, '.' | '\'' | '!' | '?'));
        let Some((local, domain)) = t.split_once('@') else {
            continue;
        };
        let ok_local = !local.is_empty()
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'));
        let ok_domain = domain.contains('.')
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
        if ok_local && ok_domain && !out.iter().any(|a| a == t) {
            out.push(t.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::addresses_in;

    #[test]
    fn finds_addresses() {
        assert_eq!(
            addresses_in("gui mat khau ve dia chi hotro.laocai@gmail.com. cam on"),
            vec!["hotro.laocai@gmail.com"]
        );
        assert!(addresses_in("email @ home, a@b").is_empty());
    }
}
