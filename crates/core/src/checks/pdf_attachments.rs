//! PDFs that act: JavaScript, a launch action (runs a program), or an
//! action on open. Their link annotations are ordinary links (see
//! `view::attachment`), checked with every other link.

use super::Context;
use crate::symbols::Findings;
use crate::view::url::parse_url;

/// Emits ATTACH_PDF_JAVASCRIPT, ATTACH_PDF_LAUNCH and ATTACH_PDF_LINK.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    for a in &ctx.view.attachments {
        let Some(pdf) = &a.pdf else { continue };
        let w = ctx.attachment_weight(a);
        if pdf.javascript {
            let how = if pdf.open_action {
                "JavaScript, on open"
            } else {
                "JavaScript"
            };
            f.add(
                "ATTACH_PDF_JAVASCRIPT",
                w,
                vec![format!("{} ({how})", a.name)],
            );
        }
        if pdf.launch {
            f.add("ATTACH_PDF_LAUNCH", w, vec![a.name.clone()]);
        }
        // A PDF whose point is a link elsewhere (the lure moved out of the
        // body, where filters look, into the attachment).
        for uri in &pdf.uris {
            let Some(u) = parse_url(uri) else { continue };
            if !ctx.is_own_host(&u.host)
                && !ctx.is_trusted_host(&u.host)
                && !ctx.is_sender_party(&u.registrable)
            {
                f.add(
                    "ATTACH_PDF_LINK",
                    w,
                    vec![format!("{} -> {}", a.name, u.host)],
                );
            }
        }
    }
}
