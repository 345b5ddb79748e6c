//! HTML reduced to what a reader sees and what a click does.
//!
//! One streaming pass with lol_html collects: the visible text (block
//! elements become line breaks; script, style and hidden elements are left
//! out), every link with the text shown on it, forms and their inputs,
//! scripts (with a bounded sample of their code, for smuggling checks), meta
//! refreshes, images, hidden text, and the ranges of the visible text that
//! are quoted (`<blockquote>`, Gmail/Yahoo/Thunderbird quote containers).
//!
//! lol_html's `HtmlRewriter` must not be used again after `write` returned an
//! error (it panics on hostile HTML that hits the memory limit): we stop at the
//! first error and never call `end` then.

use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;

use lol_html::html_content::{Element, TextType};
use lol_html::{doc_text, element, end_tag, HtmlRewriter, MemorySettings, Settings};

/// Bytes of script source kept for the checks.
pub const MAX_SCRIPT_SAMPLE: usize = 64 * 1024;
/// Bytes of hidden text kept as a sample.
pub const MAX_HIDDEN_SAMPLE: usize = 200;
/// Memory lol_html may use per document.
pub const HTML_MEMORY_LIMIT: usize = 8 * 1024 * 1024;

/// A link as found in HTML.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HtmlLink {
    /// The `href` as written (entities decoded).
    pub href: String,
    /// Text shown on the link (or the `alt`/`title` of an image inside it).
    pub text: String,
    /// Offset of the link in the visible text, for quoted-range lookups.
    pub offset: usize,
}

/// An input of a form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormInput {
    /// `type` attribute, lower case (`text` when absent).
    pub kind: String,
    /// `name` attribute.
    pub name: String,
}

/// A `<form>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    /// `action` attribute, if any.
    pub action: Option<String>,
    /// Inputs inside it.
    pub inputs: Vec<FormInput>,
}

impl Form {
    /// Whether the form asks for a password.
    pub fn has_password(&self) -> bool {
        self.inputs.iter().any(|i| i.kind == "password")
            || self.inputs.iter().any(|i| {
                let n = i.name.to_ascii_lowercase();
                n.contains("pass") || n == "pwd" || n.contains("matkhau")
            })
    }
}

/// Everything read from one HTML document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HtmlFacts {
    /// Visible text.
    pub text: String,
    /// Quoted ranges of `text`.
    pub quoted: Vec<Range<usize>>,
    /// Links.
    pub links: Vec<HtmlLink>,
    /// Forms.
    pub forms: Vec<Form>,
    /// Number of `<script>` elements.
    pub scripts: usize,
    /// Script source, truncated at [`MAX_SCRIPT_SAMPLE`].
    pub script_sample: String,
    /// Targets of `<meta http-equiv=refresh>`.
    pub meta_refresh: Vec<String>,
    /// Characters of text inside hidden elements.
    pub hidden_chars: usize,
    /// The start of the hidden text.
    pub hidden_sample: String,
    /// `src` of images.
    pub images: Vec<String>,
    /// `<iframe>`, `<object>` and `<embed>` elements.
    pub embeds: usize,
    /// `download` attributes on links (smuggling pages set them).
    pub download_links: usize,
    /// The HTML could not be read to the end (memory limit or parse error).
    pub parse_error: bool,
}

#[derive(Default)]
struct State {
    facts: HtmlFacts,
    hidden_depth: usize,
    script_depth: usize,
    open_links: Vec<usize>,
    open_forms: Vec<usize>,
    quote_starts: Vec<usize>,
    pending: String,
    max_text: usize,
}

impl State {
    fn push_text(&mut self, s: &str) {
        if self.facts.text.len() + s.len() > self.max_text {
            return;
        }
        self.facts.text.push_str(s);
        for &i in &self.open_links {
            if let Some(l) = self.facts.links.get_mut(i) {
                if l.text.len() < 2048 {
                    l.text.push_str(s);
                }
            }
        }
    }
    fn newline(&mut self) {
        if !self.facts.text.ends_with('\n') && !self.facts.text.is_empty() {
            self.push_text("\n");
        }
    }
}

type Shared = Rc<RefCell<State>>;

fn is_hidden_style(el: &Element) -> bool {
    if el.has_attribute("hidden") {
        return true;
    }
    let Some(style) = el.get_attribute("style") else {
        return false;
    };
    let s: String = style
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    s.contains("display:none")
        || s.contains("visibility:hidden")
        || s.contains("font-size:0")
        || s.contains("font-size:1px")
        || s.contains("opacity:0;")
        || s.ends_with("opacity:0")
        || (s.contains("max-height:0") && s.contains("overflow:hidden"))
}

/// Reads an HTML document. Never panics; on hostile input the facts gathered
/// so far are returned with `parse_error` set.
pub fn read_html(html: &str, max_text: usize) -> HtmlFacts {
    let st: Shared = Rc::new(RefCell::new(State {
        max_text,
        ..State::default()
    }));

    let (s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11) = (
        st.clone(),
        st.clone(),
        st.clone(),
        st.clone(),
        st.clone(),
        st.clone(),
        st.clone(),
        st.clone(),
        st.clone(),
        st.clone(),
        st.clone(),
    );
    let settings = Settings::new()
        .with_memory_settings(MemorySettings::new().with_max_allowed_memory_usage(HTML_MEMORY_LIMIT))
        .append_element_content_handler(element!("a[href], area[href]", move |el| {
            let href = decode_entities(&el.get_attribute("href").unwrap_or_default());
            let mut s = s1.borrow_mut();
            if el.has_attribute("download") {
                s.facts.download_links += 1;
            }
            let offset = s.facts.text.len();
            s.facts.links.push(HtmlLink {
                href,
                text: String::new(),
                offset,
            });
            let idx = s.facts.links.len() - 1;
            if el.can_have_content() {
                s.open_links.push(idx);
                let s_end = s1.clone();
                el.on_end_tag(end_tag!(move |_end| {
                    let mut s = s_end.borrow_mut();
                    if let Some(pos) = s.open_links.iter().rposition(|&i| i == idx) {
                        s.open_links.remove(pos);
                    }
                    Ok(())
                }))?;
            }
            Ok(())
        }))
        .append_element_content_handler(element!("img", move |el| {
            let mut s = s2.borrow_mut();
            if s.facts.images.len() < 256 {
                s.facts.images.push(el.get_attribute("src").unwrap_or_default());
            }
            // An image inside a link: its alt text is what the reader "sees".
            if !s.open_links.is_empty() {
                if let Some(alt) = el.get_attribute("alt").or_else(|| el.get_attribute("title")) {
                    let alt = decode_entities(&alt);
                    for i in s.open_links.clone() {
                        if let Some(l) = s.facts.links.get_mut(i) {
                            l.text.push(' ');
                            l.text.push_str(&alt);
                        }
                    }
                }
            }
            Ok(())
        }))
        .append_element_content_handler(element!("form", move |el| {
            let mut s = s3.borrow_mut();
            if s.facts.forms.len() >= 64 {
                return Ok(());
            }
            s.facts.forms.push(Form {
                action: el.get_attribute("action").map(|a| decode_entities(&a)),
                inputs: Vec::new(),
            });
            let idx = s.facts.forms.len() - 1;
            s.open_forms.push(idx);
            let s_end = s3.clone();
            el.on_end_tag(end_tag!(move |_end| {
                let mut s = s_end.borrow_mut();
                if let Some(pos) = s.open_forms.iter().rposition(|&i| i == idx) {
                    s.open_forms.remove(pos);
                }
                Ok(())
            }))?;
            Ok(())
        }))
        .append_element_content_handler(element!("input, textarea, select", move |el| {
            let mut s = s4.borrow_mut();
            let kind = el
                .get_attribute("type")
                .unwrap_or_else(|| "text".into())
                .to_ascii_lowercase();
            let name = el.get_attribute("name").unwrap_or_default();
            // Inputs outside any form still count: scripts can post them.
            if s.open_forms.is_empty() && kind == "password" {
                s.facts.forms.push(Form::default());
                let idx = s.facts.forms.len() - 1;
                s.open_forms.push(idx);
            }
            if let Some(&idx) = s.open_forms.last() {
                if let Some(f) = s.facts.forms.get_mut(idx) {
                    if f.inputs.len() < 64 {
                        f.inputs.push(FormInput { kind, name });
                    }
                }
            }
            Ok(())
        }))
        .append_element_content_handler(element!("script", move |el| {
            let mut s = s5.borrow_mut();
            s.facts.scripts += 1;
            s.script_depth += 1;
            drop(s);
            let s_end = s5.clone();
            if el.on_end_tag(end_tag!(move |_end| {
                let mut s = s_end.borrow_mut();
                s.script_depth = s.script_depth.saturating_sub(1);
                Ok(())
            }))
            .is_err()
            {
                let mut s = s5.borrow_mut();
                s.script_depth = s.script_depth.saturating_sub(1);
            }
            Ok(())
        }))
        .append_element_content_handler(element!("meta[http-equiv]", move |el| {
            let equiv = el.get_attribute("http-equiv").unwrap_or_default();
            if equiv.eq_ignore_ascii_case("refresh") {
                let content = el.get_attribute("content").unwrap_or_default();
                let mut s = s6.borrow_mut();
                if s.facts.meta_refresh.len() < 8 {
                    s.facts.meta_refresh.push(content);
                }
            }
            Ok(())
        }))
        .append_element_content_handler(element!("[style], [hidden]", move |el| {
            if !is_hidden_style(el) || !el.can_have_content() {
                return Ok(());
            }
            s7.borrow_mut().hidden_depth += 1;
            let s_end = s7.clone();
            el.on_end_tag(end_tag!(move |_end| {
                let mut s = s_end.borrow_mut();
                s.hidden_depth = s.hidden_depth.saturating_sub(1);
                Ok(())
            }))?;
            Ok(())
        }))
        .append_element_content_handler(element!(
            "blockquote, div.gmail_quote, div.yahoo_quoted, div.moz-cite-prefix, div#appendonsend, div#divRplyFwdMsg",
            move |el| {
                if !el.can_have_content() {
                    return Ok(());
                }
                let mut s = s8.borrow_mut();
                let start = s.facts.text.len();
                s.quote_starts.push(start);
                drop(s);
                let s_end = s8.clone();
                el.on_end_tag(end_tag!(move |_end| {
                    let mut s = s_end.borrow_mut();
                    if let Some(start) = s.quote_starts.pop() {
                        let end = s.facts.text.len();
                        if end > start && s.facts.quoted.len() < 256 {
                            s.facts.quoted.push(start..end);
                        }
                    }
                    Ok(())
                }))?;
                Ok(())
            }
        ))
        .append_element_content_handler(element!(
            "br, p, div, tr, li, h1, h2, h3, h4, h5, h6, table, hr, ul, ol, section, article, header, footer, center",
            move |el| {
                s9.borrow_mut().newline();
                if el.can_have_content() {
                    let s_end = s9.clone();
                    el.on_end_tag(end_tag!(move |_end| {
                        s_end.borrow_mut().newline();
                        Ok(())
                    }))?;
                }
                Ok(())
            }
        ))
        .append_element_content_handler(element!("td, th", move |_el| {
            let mut s = s10.borrow_mut();
            if !s.facts.text.ends_with([' ', '\n']) && !s.facts.text.is_empty() {
                s.push_text(" ");
            }
            Ok(())
        }))
        .append_element_content_handler(element!("iframe, object, embed", move |_el| {
            s11.borrow_mut().facts.embeds += 1;
            Ok(())
        }))
        .append_document_content_handler(doc_text!({
            let st = st.clone();
            move |t| {
                let mut s = st.borrow_mut();
                match t.text_type() {
                    TextType::ScriptData if s.facts.script_sample.len() < MAX_SCRIPT_SAMPLE => {
                        let room = MAX_SCRIPT_SAMPLE - s.facts.script_sample.len();
                        let chunk = truncate_str(t.as_str(), room);
                        s.facts.script_sample.push_str(chunk);
                    }
                    TextType::Data => {
                        if s.script_depth > 0 {
                            return Ok(());
                        }
                        if s.pending.len() < 1 << 20 {
                            s.pending.push_str(t.as_str());
                        }
                        if t.last_in_text_node() {
                            let raw = std::mem::take(&mut s.pending);
                            let decoded = decode_entities(&raw);
                            let collapsed = collapse_ws(&decoded);
                            if s.hidden_depth > 0 {
                                let n = collapsed.trim().chars().count();
                                s.facts.hidden_chars += n;
                                if s.facts.hidden_sample.len() < MAX_HIDDEN_SAMPLE && n > 0 {
                                    let room = MAX_HIDDEN_SAMPLE - s.facts.hidden_sample.len();
                                    let c = truncate_str(collapsed.trim(), room).to_string();
                                    s.facts.hidden_sample.push_str(&c);
                                    s.facts.hidden_sample.push(' ');
                                }
                            } else {
                                s.push_text(&collapsed);
                            }
                        }
                    }
                    // style, title, textarea: not part of the visible body.
                    _ => {}
                }
                Ok(())
            }
        }));

    let mut rewriter = HtmlRewriter::new(settings, |_: &[u8]| {});
    let mut failed = rewriter.write(html.as_bytes()).is_err();
    if !failed {
        failed = rewriter.end().is_err();
    }
    // The rewriter owns clones of `st`; it has been consumed or dropped here.
    let mut facts = {
        let mut s = st.borrow_mut();
        // Unclosed quote containers run to the end of the text.
        let end = s.facts.text.len();
        while let Some(start) = s.quote_starts.pop() {
            if end > start {
                s.facts.quoted.push(start..end);
            }
        }
        std::mem::take(&mut s.facts)
    };
    facts.parse_error = failed;
    facts
}

/// Collapses runs of white space (not line breaks) into one space.
fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_space = false;
    for c in s.chars() {
        if c.is_whitespace() || c == '\u{a0}' {
            if !prev_space {
                out.push(' ');
            }
            prev_space = true;
        } else {
            out.push(c);
            prev_space = false;
        }
    }
    out
}

/// The longest prefix of `s` of at most `max` bytes, cut at a char boundary.
pub fn truncate_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// Decodes HTML character references: numeric ones and the named ones that
/// occur in mail (Vietnamese letters, quotes, spaces, zero-width joiners).
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(rest.get(..pos).unwrap_or(""));
        let after = rest.get(pos + 1..).unwrap_or("");
        let end = after
            .char_indices()
            .take(12)
            .find(|&(_, c)| c == ';')
            .map(|(i, _)| i);
        let decoded = end.and_then(|e| {
            let name = after.get(..e)?;
            let c = if let Some(num) = name.strip_prefix('#') {
                let v = if let Some(hex) = num.strip_prefix(['x', 'X']) {
                    u32::from_str_radix(hex, 16).ok()?
                } else {
                    num.parse::<u32>().ok()?
                };
                char::from_u32(v).unwrap_or('\u{fffd}')
            } else {
                named_entity(name)?
            };
            Some((c, e + 1))
        });
        match decoded {
            Some((c, used)) => {
                out.push(c);
                rest = after.get(used..).unwrap_or("");
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "zwnj" => '\u{200c}',
        "zwj" => '\u{200d}',
        "shy" => '\u{ad}',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "bull" => '•',
        "middot" => '·',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "agrave" => 'à',
        "aacute" => 'á',
        "acirc" => 'â',
        "atilde" => 'ã',
        "egrave" => 'è',
        "eacute" => 'é',
        "ecirc" => 'ê',
        "igrave" => 'ì',
        "iacute" => 'í',
        "ograve" => 'ò',
        "oacute" => 'ó',
        "ocirc" => 'ô',
        "otilde" => 'õ',
        "ugrave" => 'ù',
        "uacute" => 'ú',
        "yacute" => 'ý',
        "Agrave" => 'À',
        "Aacute" => 'Á',
        "Acirc" => 'Â',
        "Atilde" => 'Ã',
        "Egrave" => 'È',
        "Eacute" => 'É',
        "Ecirc" => 'Ê',
        "Igrave" => 'Ì',
        "Iacute" => 'Í',
        "Ograve" => 'Ò',
        "Oacute" => 'Ó',
        "Ocirc" => 'Ô',
        "Otilde" => 'Õ',
        "Ugrave" => 'Ù',
        "Uacute" => 'Ú',
        "Yacute" => 'Ý',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_links_forms_and_text() {
        let f = read_html(
            r#"<html><head><title>T</title><style>p{}</style></head><body>
            <p>Xin ch&agrave;o, vui l&#242;ng</p>
            <a href="http://185.234.72.19/?a=1&amp;b=2">https://mail.laocai.gov.vn</a>
            <form action="https://evil.example/post"><input name=u><input type="PASSWORD" name=p></form>
            <div style="display: none">hidden padding</div>
            <blockquote>quoted words</blockquote>
            <script>var x = atob("aGk=");</script>
            <meta http-equiv="Refresh" content="0; url=http://x.example/">
            </body></html>"#,
            1 << 20,
        );
        assert!(f.text.contains("Xin chào, vui lòng"), "{:?}", f.text);
        assert!(!f.text.contains("hidden padding"));
        assert!(!f.text.contains("p{}"));
        assert!(!f.text.contains("atob"));
        assert_eq!(f.links.len(), 1);
        assert_eq!(f.links[0].href, "http://185.234.72.19/?a=1&b=2");
        assert_eq!(f.links[0].text.trim(), "https://mail.laocai.gov.vn");
        assert_eq!(f.forms.len(), 1);
        assert!(f.forms[0].has_password());
        assert_eq!(f.hidden_chars, "hidden padding".len());
        assert_eq!(f.quoted.len(), 1);
        let q = f.quoted[0].clone();
        assert!(f.text[q].contains("quoted words"));
        assert_eq!(f.scripts, 1);
        assert!(f.script_sample.contains("atob"));
        assert_eq!(f.meta_refresh.len(), 1);
        assert!(!f.parse_error);
    }

    #[test]
    fn hostile_html_does_not_panic() {
        let deep = "<div>".repeat(50_000);
        let f = read_html(&deep, 1 << 20);
        assert!(f.text.len() < 1 << 20);
        let garbage: String = (0..100_000u32)
            .map(|i| char::from_u32(i % 0x2000 + 1).unwrap_or('x'))
            .collect();
        let _ = read_html(&garbage, 1 << 16);
        let _ = read_html("<a href=", 100);
        let _ = read_html("<<<>>>&#99999999999;&#x110000;&", 100);
    }

    #[test]
    fn entities() {
        assert_eq!(
            decode_entities("a&amp;b &#x1EA1; &unknown; &"),
            "a&b ạ &unknown; &"
        );
    }
}
