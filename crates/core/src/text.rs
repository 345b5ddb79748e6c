//! Phrase matching over the sender's own words, with the context that tells a
//! lure from a warning about lures.
//!
//! Text is folded once per message by `phishgate-text` (NFC, lower case,
//! obfuscations undone, diacritics removed), then the keyword lists in
//! `data/keywords/` are matched with aho-corasick. Every lure hit is then
//! classified:
//!
//! - **direct**: the message asks the reader to do it;
//! - **cited**: the phrase stands inside quotation marks ("…", “…”, «…») or
//!   is preceded in its sentence by a negation ("không", "never", "do
//!   not"), as in an advisory: *tuyệt đối không cung cấp mật
//!   khẩu*. A conditional threat ("nếu không xác minh…", "if you do not…") is
//!   not a negation.
//!
//! Quoted and forwarded mail (see `view::quote`) never reaches the direct
//! list: it is matched separately and only reported.

use phishgate_text::{fold, fold_simple, Folded, PhraseHit, PhraseSet};

use crate::config::Config;
use crate::engine::EngineError;

/// Lure and advice phrases.
pub const LURES_TXT: &str = include_str!("../data/keywords/lures.txt");
/// Names attackers borrow for display names.
pub const BRANDS_TXT: &str = include_str!("../data/keywords/brands.txt");

/// Bytes of quoted text matched (for QUOTED_LURE only).
const MAX_QUOTED_BYTES: usize = 16 * 1024;
/// Weight of a lure phrase that is only talked about (see [`Hit::described`]).
pub const DESCRIBED_WEIGHT: f64 = 0.5;
/// How far before a lure phrase a negation cue may stand (bytes of folded text).
const NEGATION_WINDOW: usize = 64;
/// How far a quotation may extend around a phrase (bytes of folded text).
const QUOTE_WINDOW: usize = 300;

/// Compiled keyword lists and the organisation's names, folded.
#[derive(Clone)]
pub struct TextRules {
    /// Lure, advice and negation phrases.
    pub lures: PhraseSet,
    /// Brand and authority names.
    pub brands: PhraseSet,
    /// Folded VIP names.
    pub vips: Vec<String>,
    /// Folded organisation name and unit names.
    pub org_names: Vec<String>,
}

impl TextRules {
    /// Compiles the lists.
    pub fn new(config: &Config) -> Result<TextRules, EngineError> {
        let lures = PhraseSet::parse(LURES_TXT).map_err(|e| EngineError::Keywords {
            file: "lures.txt",
            line: e.line,
            message: e.message.clone(),
        })?;
        let brands = PhraseSet::parse(BRANDS_TXT).map_err(|e| EngineError::Keywords {
            file: "brands.txt",
            line: e.line,
            message: e.message.clone(),
        })?;
        let fold_list = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|s| fold_simple(s).trim().to_string())
                .filter(|s| s.chars().count() >= 4)
                .collect()
        };
        let mut org_names = fold_list(std::slice::from_ref(&config.organization.name));
        org_names.extend(fold_list(&config.organization.units));
        Ok(TextRules {
            lures,
            brands,
            vips: fold_list(&config.organization.vips),
            org_names,
        })
    }
}

/// A lure phrase hit, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Category (`verify_account`, `advisory`...).
    pub category: String,
    /// The phrase as written in the list.
    pub phrase: String,
    /// Cited (quoted or negated) rather than asked for.
    pub cited: bool,
    /// Talked about: a word about phishing stands in the same sentence.
    pub described: bool,
}

/// The text facts of one message, computed once and shared by the checks.
#[derive(Debug, Clone, Default)]
pub struct TextFacts {
    /// The sender's own words (with the subject), folded.
    pub own: Option<Folded>,
    /// Hits in the sender's own words.
    pub hits: Vec<Hit>,
    /// Hits in quoted or forwarded text.
    pub quoted_hits: Vec<Hit>,
}

impl TextFacts {
    /// Weight of the strongest use of a category in the sender's own words:
    /// 1 when asked for, 0.5 when only described, 0 when only cited.
    pub fn weight(&self, category: &str) -> f64 {
        self.hits
            .iter()
            .filter(|h| h.category == category && !h.cited)
            .map(|h| if h.described { DESCRIBED_WEIGHT } else { 1.0 })
            .fold(0.0, f64::max)
    }

    /// Direct (not cited) hits of a category.
    pub fn direct(&self, category: &str) -> impl Iterator<Item = &Hit> {
        let category = category.to_string();
        self.hits
            .iter()
            .filter(move |h| !h.cited && h.category == category)
    }

    /// Distinct phrases of a category, cited or not.
    pub fn any(&self, category: &str) -> impl Iterator<Item = &Hit> {
        let category = category.to_string();
        self.hits.iter().filter(move |h| h.category == category)
    }
}

/// Folds and matches the own and quoted words of a message.
pub fn analyse(rules: &TextRules, own_words: &str, quoted: &str) -> TextFacts {
    let own = fold(own_words);
    let raw_hits = rules.lures.find(&own);
    let advice: Vec<&PhraseHit> = raw_hits
        .iter()
        .filter(|h| h.category == "advisory")
        .collect();
    let mut hits = Vec::new();
    for h in &raw_hits {
        let cat: &str = &h.category;
        if cat == "negation" {
            continue;
        }
        let lure = cat != "advisory";
        let cited = lure && (is_negated(&own.text, h) || is_in_quotes(&own.text, h.start, h.end));
        let described = lure && !cited && in_sentence_with(&own.text, h, &advice);
        push_hit(&mut hits, cat, &h.phrase, cited, described);
    }
    let mut quoted_hits = Vec::new();
    if !quoted.trim().is_empty() {
        // Quoted text only feeds an informational symbol: its start is enough.
        let q = fold(crate::view::html::truncate_str(quoted, MAX_QUOTED_BYTES));
        for h in rules.lures.find(&q) {
            let cat: &str = &h.category;
            if cat != "negation" && cat != "advisory" {
                push_hit(&mut quoted_hits, cat, &h.phrase, true, false);
            }
        }
    }
    TextFacts {
        own: Some(own),
        hits,
        quoted_hits,
    }
}

fn push_hit(v: &mut Vec<Hit>, category: &str, phrase: &str, cited: bool, described: bool) {
    if let Some(existing) = v
        .iter_mut()
        .find(|h| h.category == category && h.phrase == phrase)
    {
        // One direct use is enough for the phrase to count as asked for.
        existing.cited &= cited;
        existing.described &= described;
        return;
    }
    if v.len() < 256 {
        v.push(Hit {
            category: category.to_string(),
            phrase: phrase.to_string(),
            cited,
            described,
        });
    }
}

/// Bytes around a lure phrase searched for a word about phishing.
const DESCRIBE_WINDOW: usize = 160;

/// A word about phishing ("lừa đảo", "giả mạo", "scam", "phishing") stands in
/// the same sentence: the phrase is being talked about ("gift card scams
/// rise 40%", "kẻ gian giả mạo … yêu cầu xác minh tài khoản").
fn in_sentence_with(text: &str, hit: &PhraseHit, advice: &[&PhraseHit]) -> bool {
    advice.iter().any(|a| {
        let (lo, hi) = if a.end <= hit.start {
            (a.end, hit.start)
        } else if hit.end <= a.start {
            (hit.end, a.start)
        } else {
            return true;
        };
        hi - lo <= DESCRIBE_WINDOW
            && text
                .get(lo..hi)
                .is_some_and(|between| !between.contains(['.', '!', '?', '\n', ';']))
    })
}

/// Words that negate what follows in advice ("tuyệt đối **không** cung cấp
/// mật khẩu", "**never** share your password"), on folded text. Ambiguous
/// folded forms are left out on purpose: `dung` is both "đừng" (don't) and
/// "dùng" (use), `cho` both "chớ" and "cho" (give).
const NEGATION_WORDS: &[&str] = &[
    "khong", "ko", "kh", "chang", "never", "not", "don't", "dont", "no", "nobody", "won't",
];
/// Words that open a new clause and end a negation's scope.
const SCOPE_BREAKERS: &[&str] = &[
    "se",
    "thi",
    "nhung",
    "but",
    "will",
    "then",
    "otherwise",
    "neu",
    "if",
];
/// Words that make a following negation a condition, as in a threat:
/// "**nếu** không xác minh…", "**if** you do not…".
const CONDITION_WORDS: &[&str] = &["neu", "if", "unless", "otherwise", "failure", "failing"];

/// A negation word stands shortly before the phrase in the same sentence,
/// and the clause it opens is not a condition ("nếu không xác minh tài
/// khoản, …" threatens; "nếu nhận được thư lạ, tuyệt đối không cung cấp mật
/// khẩu" advises: the condition there is in another clause).
fn is_negated(text: &str, hit: &PhraseHit) -> bool {
    let mut s0 = hit.start.saturating_sub(4 * NEGATION_WINDOW);
    while s0 > 0 && !text.is_char_boundary(s0) {
        s0 -= 1;
    }
    let before = text.get(s0..hit.start).unwrap_or("");
    let sentence = before
        .rsplit(['.', '!', '?', '\n', ';'])
        .next()
        .unwrap_or("");
    // Words with their byte offsets in `sentence`.
    let mut words: Vec<(usize, &str)> = Vec::new();
    let mut start = None;
    for (i, c) in sentence.char_indices() {
        let part = c.is_alphanumeric() || c == '\'';
        match (part, start) {
            (true, None) => start = Some(i),
            (false, Some(st)) => {
                words.push((st, sentence.get(st..i).unwrap_or("")));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(st) = start {
        words.push((st, sentence.get(st..).unwrap_or("")));
    }
    let window_start = sentence.len().saturating_sub(NEGATION_WINDOW);
    let Some(neg) = words
        .iter()
        .rposition(|(off, w)| *off >= window_start && NEGATION_WORDS.contains(w))
    else {
        return false;
    };
    // "không thể" (cannot) belongs to threats, not advice.
    if words.get(neg).map(|w| w.1) == Some("khong")
        && words.get(neg + 1).map(|w| w.1) == Some("the")
    {
        return false;
    }
    // A consequence ("sẽ bị vô hiệu hóa", "will be closed") is negated only
    // by a negation right before it; further back the negation belongs to
    // the condition ("… không được chuyển … và sẽ bị vô hiệu hóa").
    let text_after_neg = words.len().saturating_sub(neg + 1);
    let phrase = text.get(hit.start..hit.end).unwrap_or("");
    if (phrase.starts_with("se ") || phrase.starts_with("will ")) && text_after_neg >= 1 {
        return false;
    }
    // A new clause between the negation and the phrase ends its scope:
    // "… sẽ **không** được chuyển sang máy chủ mới **và sẽ** bị vô hiệu hóa".
    if words
        .iter()
        .skip(neg + 1)
        .any(|(_, w)| SCOPE_BREAKERS.contains(w))
    {
        return false;
    }
    let neg_off = words.get(neg).map(|w| w.0).unwrap_or(0);
    let clause_start = sentence
        .get(..neg_off)
        .and_then(|s| s.rfind(','))
        .map(|i| i + 1)
        .unwrap_or(0);
    let clause = sentence.get(clause_start..neg_off).unwrap_or("");
    let conditional = words
        .iter()
        .filter(|(off, _)| *off >= clause_start && *off < neg_off)
        .any(|(_, w)| CONDITION_WORDS.contains(w))
        || clause.contains("trong truong hop");
    !conditional
}

fn is_quote_char(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '«' | '»' | '„' | '‘' | '’')
}

/// The phrase sits between quotation marks on its line (within a window).
fn is_in_quotes(text: &str, start: usize, end: usize) -> bool {
    let line_start = text
        .get(..start)
        .and_then(|s| s.rfind('\n'))
        .map(|i| i + 1)
        .unwrap_or(0);
    let from = line_start.max(start.saturating_sub(QUOTE_WINDOW));
    let before = match text.get(from..start) {
        Some(s) => s,
        None => {
            // `from` may fall inside a character; widen to a boundary.
            let mut f = from;
            while f > 0 && !text.is_char_boundary(f) {
                f -= 1;
            }
            text.get(f..start).unwrap_or("")
        }
    };
    let opens = before.chars().filter(|&c| is_quote_char(c)).count();
    if opens % 2 == 0 {
        return false;
    }
    let after_line_end = text
        .get(end..)
        .and_then(|s| s.find('\n'))
        .map(|i| end + i)
        .unwrap_or(text.len());
    let mut to = after_line_end.min(end + QUOTE_WINDOW);
    while to < text.len() && !text.is_char_boundary(to) {
        to += 1;
    }
    text.get(end..to)
        .is_some_and(|s| s.chars().any(is_quote_char))
}

/// Whether a folded name contains another folded name as whole words.
pub fn contains_words(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let mut start = 0;
    while let Some(i) = hay.get(start..).and_then(|s| s.find(needle)) {
        let a = start + i;
        let b = a + needle.len();
        let ok_before = a == 0
            || hay
                .get(..a)
                .and_then(|s| s.chars().last())
                .is_some_and(|c| !c.is_alphanumeric());
        let ok_after = b >= hay.len()
            || hay
                .get(b..)
                .and_then(|s| s.chars().next())
                .is_some_and(|c| !c.is_alphanumeric());
        if ok_before && ok_after {
            return true;
        }
        start = a + needle.len().max(1);
        while start < hay.len() && !hay.is_char_boundary(start) {
            start += 1;
        }
    }
    false
}

/// Folds a short string (a display name) for comparison with folded lists.
pub fn fold_name(s: &str) -> String {
    fold_simple(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> TextRules {
        TextRules::new(&Config::defaults()).expect("rules")
    }

    #[test]
    fn direct_and_cited() {
        let r = rules();
        let t = analyse(&r, "Vui lòng xác minh tài khoản của bạn ngay.", "");
        assert!(t.direct("verify_account").next().is_some(), "{:?}", t.hits);
        let t = analyse(
            &r,
            "Đề nghị cán bộ tuyệt đối không cung cấp tên đăng nhập và mật khẩu. Thư giả mạo thường có nội dung \"xác minh tài khoản\".",
            "",
        );
        assert!(t.direct("verify_account").next().is_none(), "{:?}", t.hits);
        assert!(
            t.direct("credentials_request").next().is_none(),
            "{:?}",
            t.hits
        );
        assert!(t.any("verify_account").next().is_some());
    }

    #[test]
    fn condition_in_another_clause_keeps_the_advice() {
        let r = rules();
        let t = analyse(
            &r,
            "Nếu nhận được thư lạ, tuyệt đối không cung cấp tên đăng nhập và mật khẩu.",
            "",
        );
        assert!(
            t.direct("credentials_request").next().is_none(),
            "{:?}",
            t.hits
        );
        let t = analyse(
            &r,
            "If you do not verify your account within 24 hours it will be closed",
            "",
        );
        assert!(t.direct("verify_account").next().is_some(), "{:?}", t.hits);
    }

    #[test]
    fn negation_scope_ends_at_a_new_clause() {
        let r = rules();
        let t = analyse(
            &r,
            "cac tai khoan chua phan hoi se khong duoc chuyen sang may chu moi va se bi vo hieu hoa",
            "",
        );
        assert!(t.direct("account_threat").next().is_some(), "{:?}", t.hits);
    }

    #[test]
    fn conditional_threat_is_not_negation() {
        let r = rules();
        let t = analyse(
            &r,
            "Nếu không xác minh tài khoản trong 24 giờ, tài khoản sẽ bị khóa.",
            "",
        );
        assert!(t.direct("verify_account").next().is_some(), "{:?}", t.hits);
    }

    #[test]
    fn words() {
        assert!(contains_words(
            "ong tang van hanh - giam doc",
            "tang van hanh"
        ));
        assert!(!contains_words("xtang van hanhx", "tang van hanh"));
    }
}
