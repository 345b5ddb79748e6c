//! Office documents with macros: macro-enabled extensions (`.docm`,
//! `.xlsm`…), OOXML files that carry a `vbaProject.bin` whatever their name,
//! and legacy OLE files (`.doc`, `.xls`) with a VBA project.

use super::Context;
use crate::symbols::Findings;

/// Emits ATTACH_MACRO.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    for a in &ctx.view.attachments {
        let ext = a.extension();
        let by_name = ctx.config.lists.macro_extensions.contains(&ext);
        if a.macros || by_name {
            let w = ctx.attachment_weight(a);
            let why = if a.macros {
                "VBA project"
            } else {
                "macro-enabled type"
            };
            f.add("ATTACH_MACRO", w, vec![format!("{} ({why})", a.name)]);
        }
    }
}
