//! What the HTML body does besides showing text: forms that ask for a
//! password (a login page inside the mail), forms posting to another site,
//! scripts, automatic redirects, and text hidden from the reader (filter
//! padding). Newsletters hide a short preheader, so only a long hidden text
//! counts.

use super::Context;
use crate::symbols::Findings;
use crate::view::url::parse_url;

/// Hidden characters tolerated (a newsletter preheader is shorter).
const HIDDEN_TEXT_MIN: usize = 300;

/// Emits HTML_PASSWORD_FORM, HTML_FORM_FOREIGN_ACTION, HTML_SCRIPT,
/// HTML_META_REFRESH and HTML_HIDDEN_TEXT.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    let v = ctx.view;
    for form in &v.forms {
        let target = form.action.as_deref().and_then(parse_url);
        let host = target.as_ref().map(|u| u.host.clone());
        if form.has_password() {
            f.hit(
                "HTML_PASSWORD_FORM",
                host.clone().unwrap_or_else(|| "(no action)".into()),
            );
        }
        // A search or subscribe box posting elsewhere is harmless; a form
        // that collects who you are (address, user name, password) is not.
        if let Some(h) = host {
            if !ctx.is_own_host(&h) && collects_identity(form) {
                f.hit("HTML_FORM_FOREIGN_ACTION", h);
            }
        }
    }
    if v.html.scripts > 0 {
        f.hit("HTML_SCRIPT", format!("{} script(s)", v.html.scripts));
    }
    for r in &v.html.meta_refresh {
        f.hit("HTML_META_REFRESH", r.clone());
    }
    if v.html.hidden_chars >= HIDDEN_TEXT_MIN {
        f.hit(
            "HTML_HIDDEN_TEXT",
            format!(
                "{} chars: {}",
                v.html.hidden_chars,
                v.html.hidden_sample.trim()
            ),
        );
    }
}

/// The form asks for a password, a user name or a login.
fn collects_identity(form: &crate::view::html::Form) -> bool {
    form.has_password()
        || form.inputs.iter().any(|i| {
            let n = i.name.to_ascii_lowercase();
            [
                "user", "login", "account", "passwd", "taikhoan", "username", "uid",
            ]
            .iter()
            .any(|k| n.contains(k))
        })
}
