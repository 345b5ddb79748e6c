//! HTML files attached to a message. A local HTML page opened from a mail is
//! a favourite carrier: a login form that posts the password elsewhere, or
//! "HTML smuggling", where script decodes a payload (`atob`) and makes the
//! browser save it as a file (`Blob`, `createObjectURL`, `download`),
//! bypassing every gateway that only looks at attachments.

use super::Context;
use crate::symbols::Findings;

/// Script markers of smuggling: decoding and file assembly.
const DECODE_MARKERS: &[&str] = &["atob(", "base64", "fromcharcode", "unescape(", "decodeuri"];
const ASSEMBLY_MARKERS: &[&str] = &[
    "new blob",
    "blob(",
    "createobjecturl",
    "mssaveoropenblob",
    "mssaveblob",
    ".download",
    "download=",
    "uint8array",
];
/// A single script this long that is mostly one base64 string is a payload.
const LONG_BLOB: usize = 20_000;

/// Emits HTML_ATTACHMENT, HTML_ATTACHMENT_FORM and HTML_SMUGGLING.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    for a in &ctx.view.attachments {
        let Some(h) = &a.html else { continue };
        let w = ctx.attachment_weight(a);
        let name = if a.name.is_empty() {
            "(html)".to_string()
        } else {
            a.name.clone()
        };
        f.add("HTML_ATTACHMENT", w, vec![name.clone()]);
        if h.forms.iter().any(|fm| fm.has_password()) {
            f.add("HTML_ATTACHMENT_FORM", w, vec![name.clone()]);
        }
        let script = h.script_sample.to_lowercase();
        let decodes = DECODE_MARKERS.iter().any(|m| script.contains(m));
        let assembles = ASSEMBLY_MARKERS.iter().any(|m| script.contains(m)) || h.download_links > 0;
        let payload = h.script_sample.len() >= LONG_BLOB && decodes;
        if (decodes && assembles) || payload {
            f.add("HTML_SMUGGLING", w, vec![name]);
        }
    }
}
