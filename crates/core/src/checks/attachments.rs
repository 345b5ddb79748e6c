//! Attachments that run code or hide what they are.
//!
//! By name: programs and scripts (Windows runs them on a double click), disk
//! images (they mount and bypass Mark-of-the-Web), and double extensions
//! (`Cong_van_khan.pdf.exe`, padded with spaces, or reversed with U+202E).
//! By content: a program whose name or declared type says document
//! (`giay_moi.pdf` starting with `MZ`), or any content whose magic bytes
//! contradict the extension.

use super::Context;
use crate::symbols::Findings;
use crate::view::attachment::{extension_of, Attachment};

/// Extensions that pass for documents or pictures in a double extension.
const DOC_EXTENSIONS: &[&str] = &[
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "rtf", "txt", "jpg", "jpeg", "png", "gif",
    "odt", "ods", "csv", "xml", "html", "htm", "mp3", "mp4", "zip", "rar",
];

/// Extensions a zip container legitimately carries.
const ZIP_CONTAINERS: &[&str] = &[
    "zip", "docx", "xlsx", "pptx", "docm", "xlsm", "pptm", "dotx", "dotm", "xltx", "xltm", "potx",
    "ppsx", "odt", "ods", "odp", "odg", "epub", "jar", "apk", "kmz", "xpi", "vsdx", "3mf", "ipa",
    "nupkg", "whl", "crx", "appx", "msix", "cbz", "xps", "oxps", "sketch",
];
/// Extensions an OLE compound file legitimately carries.
const OLE_CONTAINERS: &[&str] = &[
    "doc", "xls", "ppt", "dot", "xlt", "pot", "pps", "msg", "msi", "msp", "pub", "vsd", "mpp",
    "wps", "et", "dps", "hwp",
];

/// Emits ATTACH_EXECUTABLE, ATTACH_SCRIPT, ATTACH_DISK_IMAGE,
/// ATTACH_DOUBLE_EXTENSION and ATTACH_DISGUISED.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    let lists = &ctx.config.lists;
    for a in &ctx.view.attachments {
        let w = ctx.attachment_weight(a);
        let ext = a.extension();
        let label = display_name(a);
        let sniffed = a.sniffed.map(|s| s.ext);
        let is_program =
            lists.executable_extensions.contains(&ext) || matches!(sniffed, Some("exe" | "elf"));
        if is_program {
            f.add("ATTACH_EXECUTABLE", w, vec![label.clone()]);
        }
        if lists.script_extensions.contains(&ext) || sniffed == Some("lnk") {
            let sw = if ext == "svg" { 0.5 * w } else { w };
            f.add("ATTACH_SCRIPT", sw, vec![label.clone()]);
        }
        if lists.disk_image_extensions.contains(&ext) || matches!(sniffed, Some("iso" | "vhd")) {
            f.add("ATTACH_DISK_IMAGE", w, vec![label.clone()]);
        }
        if let Some(why) = double_extension(&a.name, ctx) {
            f.add("ATTACH_DOUBLE_EXTENSION", w, vec![why]);
        }
        if let Some(why) = disguised(a, &ext) {
            f.add("ATTACH_DISGUISED", w, vec![why]);
        }
    }
}

fn display_name(a: &Attachment) -> String {
    if a.name.is_empty() {
        format!("({})", a.declared_type)
    } else {
        a.name.clone()
    }
}

/// `x.pdf.exe`, `x.pdf      .exe`, or a right-to-left override in the name.
pub fn double_extension(name: &str, ctx: &Context<'_>) -> Option<String> {
    if name.contains('\u{202e}') || name.contains('\u{200f}') {
        return Some(format!(
            "{} (right-to-left override)",
            name.replace(['\u{202e}', '\u{200f}'], "")
        ));
    }
    let lists = &ctx.config.lists;
    let last = extension_of(name);
    let risky = lists.executable_extensions.contains(&last)
        || lists.script_extensions.contains(&last)
        || lists.disk_image_extensions.contains(&last)
        || lists.archive_extensions.contains(&last) && last != "zip";
    if !risky {
        return None;
    }
    let stem = name.trim_end_matches(['.', ' ']);
    let stem = stem
        .get(..stem.len().saturating_sub(last.len() + 1))
        .unwrap_or("");
    let inner = extension_of(stem.trim_end());
    if DOC_EXTENSIONS.contains(&inner.as_str()) && inner != last {
        return Some(name.to_string());
    }
    None
}

/// Magic bytes that contradict the name or the declared type.
fn disguised(a: &Attachment, ext: &str) -> Option<String> {
    let s = a.sniffed?;
    let declared = a.declared_type.as_str();
    let ok = match s.ext {
        "exe" => matches!(
            ext,
            "exe" | "dll" | "scr" | "com" | "cpl" | "sys" | "msi" | "efi" | "ocx" | "drv"
        ),
        "elf" => matches!(ext, "" | "elf" | "so" | "bin" | "run"),
        "zip" => ext.is_empty() || ZIP_CONTAINERS.contains(&ext),
        "ole" => ext.is_empty() || OLE_CONTAINERS.contains(&ext),
        "pdf" => matches!(ext, "" | "pdf" | "ai"),
        "html" => matches!(
            ext,
            "" | "html"
                | "htm"
                | "shtml"
                | "xhtml"
                | "mht"
                | "mhtml"
                | "svg"
                | "txt"
                | "xml"
                | "php"
                | "asp"
                | "aspx"
        ),
        "rar" => matches!(ext, "" | "rar" | "r00" | "cbr"),
        "7z" => matches!(ext, "" | "7z"),
        "gz" => matches!(ext, "" | "gz" | "tgz" | "gzip" | "svgz"),
        "iso" => matches!(ext, "" | "iso" | "img" | "udf"),
        "cab" => matches!(ext, "" | "cab"),
        "lnk" => ext == "lnk",
        _ => true,
    };
    // A program declared as a document or image is disguised whatever its name.
    let declared_lie = matches!(s.ext, "exe" | "elf")
        && (declared.starts_with("image/")
            || declared.starts_with("text/")
            || declared == "application/pdf"
            || declared.contains("word")
            || declared.contains("excel")
            || declared.contains("officedocument"));
    if ok && !declared_lie {
        return None;
    }
    Some(format!(
        "{} is {} ({})",
        display_name(a),
        s.ext,
        if declared.is_empty() { "?" } else { declared }
    ))
}
