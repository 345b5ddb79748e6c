//! Archives: what is inside them, and whether they can be looked into.
//!
//! A zip (or gzip) holding a program, a script, a disk image or a macro
//! document is the usual way to slip one past a filter. A password-protected
//! archive cannot be inspected at all, and giving its password in the body
//! ("mật khẩu giải nén: 2026") is how attackers make sure the scanner cannot
//! read it while the victim can.

use super::Context;
use crate::symbols::Findings;
use crate::view::attachment::extension_of;

/// Words that introduce an archive password, folded.
const PASSWORD_WORDS: &[&str] = &[
    "mat khau",
    "password",
    "passcode",
    "pass:",
    "mk:",
    "pwd",
    "ma giai nen",
    "giai nen",
];

/// Emits ARCHIVE_RISKY_MEMBER, ARCHIVE_ENCRYPTED, ARCHIVE_UNINSPECTABLE and
/// ARCHIVE_PASSWORD_IN_BODY.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    let lists = &ctx.config.lists;
    let mut any_encrypted = false;
    for a in &ctx.view.attachments {
        // RAR, 7z and the like cannot be opened here: what is inside (and
        // whether it is encrypted) stays unknown, which is why lures use them.
        let opaque = matches!(a.sniffed.map(|s| s.ext), Some("rar" | "7z" | "cab"))
            || (a.sniffed.is_none()
                && matches!(
                    a.extension().as_str(),
                    "zip" | "rar" | "7z" | "ace" | "arj" | "lzh"
                ))
            || a.archive.as_ref().is_some_and(|arch| arch.unreadable);
        if opaque {
            any_encrypted = true;
            f.add(
                "ARCHIVE_UNINSPECTABLE",
                ctx.attachment_weight(a),
                vec![a.name.clone()],
            );
        }
        let Some(arch) = &a.archive else { continue };
        let w = ctx.attachment_weight(a);
        for m in &arch.members {
            let ext = extension_of(&m.path);
            let sniffed = m.sniffed.map(|s| s.ext);
            let risky = lists.executable_extensions.contains(&ext)
                || lists.script_extensions.contains(&ext)
                || lists.disk_image_extensions.contains(&ext)
                || lists.macro_extensions.contains(&ext)
                || m.macros
                || matches!(sniffed, Some("exe" | "elf" | "lnk" | "iso" | "vhd"));
            if risky {
                f.add("ARCHIVE_RISKY_MEMBER", w, vec![m.path.clone()]);
            }
            let member_name = m.path.rsplit('/').next().unwrap_or("");
            if let Some(why) = super::attachments::double_extension(member_name, ctx) {
                f.add("ATTACH_DOUBLE_EXTENSION", w, vec![why]);
            }
        }
        if arch.encrypted {
            any_encrypted = true;
            f.add("ARCHIVE_ENCRYPTED", w, vec![a.name.clone()]);
        }
    }
    if any_encrypted {
        if let Some(own) = &ctx.text.own {
            if let Some(word) = PASSWORD_WORDS.iter().find(|w| own.text.contains(*w)) {
                f.hit("ARCHIVE_PASSWORD_IN_BODY", (*word).to_string());
            }
        }
    }
}
