//! What an attachment really is: its type sniffed from magic bytes, archive
//! members (zip and gzip, nested, with bounds on depth, members and bytes
//! decompressed), VBA macros in Office files, scripts and forms in HTML files,
//! and actions and links in PDFs.
//!
//! Everything here works on bytes already in memory and is bounded by the
//! [`Limits`] passed in; exceeding a bound sets `limit_hit` and the checks
//! emit a symbol, never a panic.

use std::io::{Cursor, Read};

use crate::config::Limits;
use crate::view::html::{read_html, HtmlFacts};

/// A type recognised from content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    /// MIME type.
    pub mime: &'static str,
    /// Usual extension.
    pub ext: &'static str,
}

/// A member of an archive (flattened across nesting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Path inside the archive (nested archives: `outer.zip/inner.zip/x.exe`).
    pub path: String,
    /// Sniffed type of the member's first bytes, when it could be read.
    pub sniffed: Option<Sniffed>,
    /// The member is encrypted.
    pub encrypted: bool,
    /// Office macros found inside the member.
    pub macros: bool,
}

/// What was found inside an archive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveFacts {
    /// Members, across nesting.
    pub members: Vec<Member>,
    /// Some member is encrypted.
    pub encrypted: bool,
    /// A bound was hit; the string says which.
    pub limit_hit: Option<String>,
    /// The archive could not be read.
    pub unreadable: bool,
}

/// Facts about a PDF.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PdfFacts {
    /// Carries JavaScript.
    pub javascript: bool,
    /// Launches a program.
    pub launch: bool,
    /// Opens something on open.
    pub open_action: bool,
    /// URIs of link annotations.
    pub uris: Vec<String>,
}

/// One attachment, inspected.
#[derive(Debug, Clone, Default)]
pub struct Attachment {
    /// File name as declared (decoded), possibly empty.
    pub name: String,
    /// SHA-256 of the decoded content, lowercase hex (threat feeds and
    /// history match attachments by it).
    pub sha256: String,
    /// Declared Content-Type, lower case.
    pub declared_type: String,
    /// Type from magic bytes.
    pub sniffed: Option<Sniffed>,
    /// Decoded size in bytes.
    pub size: usize,
    /// Found inside a nested (forwarded) message.
    pub in_nested: bool,
    /// Archive contents, for zip and gzip.
    pub archive: Option<ArchiveFacts>,
    /// Office document with VBA macros.
    pub macros: bool,
    /// Office Open XML container (docx, xlsx...).
    pub ooxml: bool,
    /// HTML content, for HTML attachments.
    pub html: Option<HtmlFacts>,
    /// PDF content.
    pub pdf: Option<PdfFacts>,
    /// The attachment was larger than the inspection limit.
    pub too_large: bool,
    /// The decoded bytes, whole (even past the inspection limit: they are
    /// already in memory, bounded by the message size), for enrichment that
    /// needs them (the antivirus scans each attachment separately).
    pub content: Content,
}

/// An attachment's decoded bytes, shared (cloning a view does not copy
/// them). `Debug` prints the length only, so results and logs never carry
/// the content.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Content(pub std::sync::Arc<[u8]>);

impl Content {
    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Content({} bytes)", self.0.len())
    }
}

impl Attachment {
    /// Lower-case extension of the declared name (`"exe"` for `a.pdf.exe`).
    pub fn extension(&self) -> String {
        extension_of(&self.name)
    }
}

/// Lower-case last extension of a file name, trailing dots and spaces ignored.
pub fn extension_of(name: &str) -> String {
    let n = name.trim_end_matches(['.', ' ', '\u{0}']);
    let base = n.rsplit(['/', '\\']).next().unwrap_or(n);
    match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => String::new(),
    }
}

/// Sniffs a type from content. Covers what attacks use: programs, archives,
/// Office containers, PDFs, disk images, HTML, images.
pub fn sniff(bytes: &[u8]) -> Option<Sniffed> {
    let s = |mime, ext| Some(Sniffed { mime, ext });
    if bytes.starts_with(b"MZ") && bytes.len() >= 2 {
        return s("application/x-msdownload", "exe");
    }
    if bytes.starts_with(b"\x7fELF") {
        return s("application/x-elf", "elf");
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return s("application/x-ole-storage", "ole");
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return s("application/zip", "zip");
    }
    if bytes.starts_with(b"%PDF-")
        || bytes
            .get(..1024)
            .is_some_and(|h| find(h, b"%PDF-").is_some())
    {
        return s("application/pdf", "pdf");
    }
    if bytes.starts_with(b"Rar!\x1a\x07") {
        return s("application/vnd.rar", "rar");
    }
    if bytes.starts_with(&[0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C]) {
        return s("application/x-7z-compressed", "7z");
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return s("application/gzip", "gz");
    }
    if bytes.starts_with(b"MSCF") {
        return s("application/vnd.ms-cab-compressed", "cab");
    }
    if bytes.get(0x8001..0x8006) == Some(b"CD001") || bytes.get(0x9001..0x9006) == Some(b"CD001") {
        return s("application/x-iso9660-image", "iso");
    }
    if bytes.starts_with(b"conectix") || bytes.starts_with(b"vhdxfile") {
        return s("application/x-vhd", "vhd");
    }
    if bytes.starts_with(b"L\x00\x00\x00\x01\x14\x02\x00") {
        return s("application/x-ms-shortcut", "lnk");
    }
    if let Some(t) = infer::get(bytes) {
        let mime = t.mime_type();
        if mime.starts_with("image/") || mime.starts_with("audio/") || mime.starts_with("video/") {
            return s(t.mime_type(), t.extension());
        }
    }
    let head = bytes.get(..512).unwrap_or(bytes);
    let lower: Vec<u8> = head
        .iter()
        .skip_while(|b| b.is_ascii_whitespace() || **b == 0xEF || **b == 0xBB || **b == 0xBF)
        .take(64)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    if lower.starts_with(b"<!doctype html")
        || lower.starts_with(b"<html")
        || lower.starts_with(b"<head")
        || lower.starts_with(b"<script")
        || lower.starts_with(b"<body")
        || lower.starts_with(b"<form")
    {
        return s("text/html", "html");
    }
    None
}

/// First position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Budget shared by all archives of one message.
pub struct Budget {
    /// Bytes that may still be decompressed.
    pub bytes_left: usize,
}

/// SHA-256 of `bytes` as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = String::with_capacity(64);
    for b in d.as_ref() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Inspects one attachment's content.
pub fn inspect(
    name: &str,
    declared_type: &str,
    bytes: &[u8],
    limits: &Limits,
    budget: &mut Budget,
) -> Attachment {
    let mut a = Attachment {
        name: name.to_string(),
        sha256: sha256_hex(bytes),
        declared_type: declared_type.to_ascii_lowercase(),
        size: bytes.len(),
        content: Content(std::sync::Arc::from(bytes)),
        ..Attachment::default()
    };
    let bytes = if bytes.len() > limits.max_attachment_bytes {
        a.too_large = true;
        bytes.get(..limits.max_attachment_bytes).unwrap_or(bytes)
    } else {
        bytes
    };
    a.sniffed = sniff(bytes);
    let ext = a.extension();
    match a.sniffed.map(|s| s.ext) {
        Some("zip") => {
            let facts = read_zip(bytes, name, 0, limits, budget);
            a.ooxml = facts.ooxml;
            a.macros = facts.macros;
            if !facts.ooxml || facts.archive.members.iter().any(is_nested_risk) {
                a.archive = Some(facts.archive);
            }
        }
        Some("gz") => a.archive = Some(read_gzip(bytes, name, limits, budget)),
        Some("ole") => a.macros = ole_has_vba(bytes),
        Some("pdf") => a.pdf = Some(read_pdf(bytes)),
        Some("html") => {}
        _ => {}
    }
    let looks_html = a.sniffed.map(|s| s.ext) == Some("html")
        || matches!(
            ext.as_str(),
            "html" | "htm" | "shtml" | "xhtml" | "mht" | "mhtml" | "svg"
        )
        || a.declared_type == "text/html";
    if looks_html {
        let text = String::from_utf8_lossy(bytes.get(..limits.max_html_bytes).unwrap_or(bytes));
        a.html = Some(read_html(&text, limits.max_text_bytes));
    }
    a
}

fn is_nested_risk(m: &Member) -> bool {
    m.macros
        || matches!(
            m.sniffed.map(|s| s.ext),
            Some("exe" | "elf" | "lnk" | "iso" | "vhd")
        )
}

struct ZipFacts {
    archive: ArchiveFacts,
    ooxml: bool,
    macros: bool,
}

/// Lists a zip, opening nested zips up to the depth limit.
fn read_zip(
    bytes: &[u8],
    label: &str,
    depth: usize,
    limits: &Limits,
    budget: &mut Budget,
) -> ZipFacts {
    let mut out = ZipFacts {
        archive: ArchiveFacts::default(),
        ooxml: false,
        macros: false,
    };
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        out.archive.unreadable = true;
        return out;
    };
    let count = zip.len();
    if count > limits.max_archive_members {
        out.archive.limit_hit = Some(format!("{count} members"));
    }
    let mut names = Vec::new();
    for i in 0..count.min(limits.max_archive_members) {
        let (name, encrypted, size) = match zip.by_index_raw(i) {
            Ok(f) => (
                f.name().map(|n| n.to_string()).unwrap_or_default(),
                f.encrypted(),
                f.size(),
            ),
            Err(_) => continue,
        };
        names.push(name.to_ascii_lowercase());
        if encrypted {
            out.archive.encrypted = true;
        }
        let mut member = Member {
            path: format!("{label}/{name}"),
            sniffed: None,
            encrypted,
            macros: name.to_ascii_lowercase().ends_with("vbaproject.bin"),
        };
        if member.macros {
            out.macros = true;
        }
        // Read the member's head (or all of it, for nested containers).
        if !encrypted && !name.ends_with('/') && budget.bytes_left > 0 {
            let want = (size as usize)
                .min(budget.bytes_left)
                .min(limits.max_attachment_bytes);
            if let Ok(f) = zip.by_index(i) {
                let mut buf = Vec::with_capacity(want.min(1 << 20));
                let read = f.take(want as u64).read_to_end(&mut buf).unwrap_or(0);
                budget.bytes_left = budget.bytes_left.saturating_sub(read);
                if (size as usize) > want {
                    out.archive.limit_hit = Some(format!("decompressed size of {name}"));
                }
                member.sniffed = sniff(&buf);
                match member.sniffed.map(|s| s.ext) {
                    Some("zip") => {
                        if depth + 1 >= limits.max_archive_depth {
                            out.archive.limit_hit = Some(format!("nesting depth at {name}"));
                        } else {
                            let inner = read_zip(&buf, &member.path, depth + 1, limits, budget);
                            member.macros |= inner.macros;
                            if inner.ooxml {
                                out.archive.members.extend(
                                    inner.archive.members.into_iter().filter(is_nested_risk),
                                );
                            } else {
                                out.archive.members.extend(inner.archive.members);
                            }
                            out.archive.encrypted |= inner.archive.encrypted;
                            if out.archive.limit_hit.is_none() {
                                out.archive.limit_hit = inner.archive.limit_hit;
                            }
                        }
                    }
                    Some("ole") => member.macros |= ole_has_vba(&buf),
                    _ => {}
                }
            }
        }
        if out.archive.members.len() < limits.max_archive_members {
            out.archive.members.push(member);
        }
    }
    out.ooxml = names.iter().any(|n| n == "[content_types].xml")
        && names
            .iter()
            .any(|n| n.starts_with("word/") || n.starts_with("xl/") || n.starts_with("ppt/"));
    out
}

fn read_gzip(bytes: &[u8], label: &str, limits: &Limits, budget: &mut Budget) -> ArchiveFacts {
    let mut facts = ArchiveFacts::default();
    let want = budget.bytes_left.min(limits.max_attachment_bytes);
    let mut buf = Vec::new();
    let decoder = flate2::read::GzDecoder::new(bytes);
    match decoder.take(want as u64 + 1).read_to_end(&mut buf) {
        Ok(n) => {
            budget.bytes_left = budget.bytes_left.saturating_sub(n);
            if n > want {
                facts.limit_hit = Some("decompressed size".into());
            }
        }
        Err(_) => facts.unreadable = true,
    }
    let inner_name = label
        .trim_end_matches(".gz")
        .trim_end_matches(".GZ")
        .to_string();
    facts.members.push(Member {
        path: inner_name,
        sniffed: sniff(&buf),
        encrypted: false,
        macros: sniff(&buf).map(|s| s.ext) == Some("ole") && ole_has_vba(&buf),
    });
    facts
}

/// Whether an OLE compound file (doc, xls, ppt) holds a VBA project. The
/// directory stores names in UTF-16LE; `_VBA_PROJECT` is the stream every VBA
/// project has.
pub fn ole_has_vba(bytes: &[u8]) -> bool {
    const VBA_PROJECT: &[u8] = b"_\0V\0B\0A\0_\0P\0R\0O\0J\0E\0C\0T\0";
    find(bytes, VBA_PROJECT).is_some()
}

/// Scans a PDF's bytes for actions and link URIs. PDFs that compress their
/// objects hide these from a byte scan; this catches the common plain case.
fn read_pdf(bytes: &[u8]) -> PdfFacts {
    let mut f = PdfFacts {
        javascript: find(bytes, b"/JavaScript").is_some()
            || find(bytes, b"/JS ").is_some()
            || find(bytes, b"/JS(").is_some(),
        launch: find(bytes, b"/Launch").is_some(),
        open_action: find(bytes, b"/OpenAction").is_some(),
        uris: Vec::new(),
    };
    let mut rest = bytes;
    while let Some(p) = find(rest, b"/URI") {
        let after = rest.get(p + 4..).unwrap_or(&[]);
        let after = after
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .and_then(|i| after.get(i..))
            .unwrap_or(&[]);
        if after.first() == Some(&b'(') {
            let body = after.get(1..).unwrap_or(&[]);
            let end = body
                .iter()
                .position(|&b| b == b')')
                .unwrap_or(body.len().min(2048));
            let uri = String::from_utf8_lossy(body.get(..end.min(2048)).unwrap_or(&[])).to_string();
            if !uri.is_empty() && f.uris.len() < 64 {
                f.uris.push(uri);
            }
        }
        rest = rest.get(p + 4..).unwrap_or(&[]);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            for (n, d) in entries {
                w.start_file(*n, zip::write::SimpleFileOptions::default())
                    .expect("start");
                w.write_all(d).expect("write");
            }
            w.finish().expect("finish");
        }
        buf.into_inner()
    }

    fn budget() -> Budget {
        Budget {
            bytes_left: 1 << 24,
        }
    }

    #[test]
    fn sniffs_and_names() {
        assert_eq!(sniff(b"MZ\x90\x00").map(|s| s.ext), Some("exe"));
        assert_eq!(sniff(b"%PDF-1.7").map(|s| s.ext), Some("pdf"));
        assert_eq!(sniff(b"  <html><body>").map(|s| s.ext), Some("html"));
        assert_eq!(sniff(b"hello"), None);
        assert_eq!(extension_of("Cong van.PDF.exe"), "exe");
        assert_eq!(extension_of("a.exe. . "), "exe");
        assert_eq!(extension_of(".bashrc"), "");
        assert_eq!(extension_of("noext"), "");
    }

    #[test]
    fn zip_with_exe_and_nested_zip() {
        let inner = zip_of(&[("run.exe", b"MZ\x90\x00payload")]);
        let outer = zip_of(&[("readme.txt", b"hi"), ("inner.zip", &inner)]);
        let a = inspect(
            "hoso.zip",
            "application/zip",
            &outer,
            &Limits::default(),
            &mut budget(),
        );
        let arch = a.archive.expect("archive");
        assert!(arch
            .members
            .iter()
            .any(|m| m.path.ends_with("run.exe") && m.sniffed.map(|s| s.ext) == Some("exe")));
    }

    #[test]
    fn ooxml_macros() {
        let docx = zip_of(&[
            ("[Content_Types].xml", b"<Types/>"),
            ("word/document.xml", b"<w:document/>"),
            ("word/vbaProject.bin", b"vba"),
        ]);
        let a = inspect(
            "a.docx",
            "application/octet-stream",
            &docx,
            &Limits::default(),
            &mut budget(),
        );
        assert!(a.ooxml);
        assert!(a.macros);
        let clean = zip_of(&[
            ("[Content_Types].xml", b"<Types/>"),
            ("word/document.xml", b"<w/>"),
        ]);
        let a = inspect("a.docx", "", &clean, &Limits::default(), &mut budget());
        assert!(a.ooxml && !a.macros && a.archive.is_none());
    }

    #[test]
    fn hostile_archives_are_bounded() {
        // Garbage that starts like a zip.
        let a = inspect(
            "x.zip",
            "",
            b"PK\x03\x04garbage",
            &Limits::default(),
            &mut budget(),
        );
        assert!(a.archive.expect("archive").unreadable);
        // Nesting beyond the limit.
        let mut z = zip_of(&[("x.exe", b"MZ")]);
        for _ in 0..6 {
            z = zip_of(&[("n.zip", &z)]);
        }
        let a = inspect("deep.zip", "", &z, &Limits::default(), &mut budget());
        assert!(a.archive.expect("archive").limit_hit.is_some());
        // Budget exhausted.
        let big = zip_of(&[("big.bin", &vec![0u8; 100_000])]);
        let mut small = Budget { bytes_left: 1000 };
        let a = inspect("big.zip", "", &big, &Limits::default(), &mut small);
        assert!(a.archive.expect("archive").limit_hit.is_some());
    }

    #[test]
    fn pdf_actions() {
        let p = read_pdf(b"%PDF-1.4 /OpenAction << /S /JavaScript /JS (app.alert(1)) >> /URI (http://x.example/login)");
        assert!(p.javascript && p.open_action);
        assert_eq!(p.uris, vec!["http://x.example/login"]);
    }
}
