//! PDFs that act: JavaScript, a launch action (runs a program), or an
//! action on open. Their link annotations are ordinary links (see
//! `view::attachment`), checked with every other link.

use super::Context;
use crate::symbols::Findings;

/// Emits ATTACH_PDF_JAVASCRIPT and ATTACH_PDF_LAUNCH.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    for a in &ctx.view.attachments {
        let Some(pdf) = &a.pdf else { continue };
        let w = if a.in_nested && ctx.internal {
            0.3
        } else {
            1.0
        };
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
    }
}
