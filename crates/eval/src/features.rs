//! Campaign features: what makes two messages "the same mail" for the
//! split, extracted from the view of the *normalised* message.
//!
//! A campaign sends one template to many people, varying the greeting
//! name, the recipient address, tracking numbers, dates and sometimes the
//! sending domain. So the features keep the shape of the subject (numbers
//! masked, reply prefixes dropped), the sender's domain, the link domains
//! and the body's words with numbers and long tokens (tracking ids,
//! base64 blobs) masked, as overlapping 5-word shingles for near-duplicate
//! detection (MinHash in [`crate::split`]).

use phishgate_core::view::MessageView;

use crate::hash::h64;

/// Words per shingle: long enough that shared boilerplate phrases do not
/// make unrelated mail similar, short enough that a changed name touches
/// only a few shingles.
pub const SHINGLE_WORDS: usize = 5;

/// Body words looked at (bounds the work on huge messages).
pub const MAX_WORDS: usize = 4000;

/// Longer tokens are ids, hashes or encoded blobs: masked.
pub const MAX_WORD_CHARS: usize = 24;

/// Content features of one message. Equal features mean the split cannot
/// tell the messages apart (the test of the collection marks relies on it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Features {
    /// Lower-case subject, reply/forward prefixes dropped, digits as `#`.
    pub subject_shape: String,
    /// Domain of the From address (lower case; empty when none).
    pub sender_domain: String,
    /// Registrable domains of the links, sorted.
    pub link_domains: Vec<String>,
    /// Words in the sender's own text (after masking), at most [`MAX_WORDS`].
    pub words: usize,
    /// Hash of the masked word sequence (exact body duplicates).
    pub text_hash: u64,
    /// Hashes of the [`SHINGLE_WORDS`]-word shingles, sorted, deduplicated.
    pub shingles: Vec<u64>,
}

impl Features {
    /// Extracts the features of a view.
    pub fn from_view(view: &MessageView) -> Features {
        let words = masked_words(&view.own_text);
        let mut shingles: Vec<u64> = words
            .windows(SHINGLE_WORDS)
            .map(|w| {
                let parts: Vec<&[u8]> = w.iter().map(|s| s.as_bytes()).collect();
                h64(&parts)
            })
            .collect();
        shingles.sort_unstable();
        shingles.dedup();
        let text_hash = {
            let parts: Vec<&[u8]> = words.iter().map(|s| s.as_bytes()).collect();
            h64(&parts)
        };
        let mut link_domains: Vec<String> = view
            .links
            .iter()
            .filter_map(|l| l.url.as_ref())
            .map(|u| {
                if u.registrable.is_empty() {
                    u.host.to_ascii_lowercase()
                } else {
                    u.registrable.to_ascii_lowercase()
                }
            })
            .filter(|d| !d.is_empty())
            .collect();
        link_domains.sort();
        link_domains.dedup();
        Features {
            subject_shape: subject_shape(&view.subject),
            sender_domain: view
                .from
                .as_ref()
                .map(|m| m.domain.to_ascii_lowercase())
                .unwrap_or_default(),
            link_domains,
            words: words.len(),
            text_hash,
            shingles,
        }
    }
}

/// The subject as a template: lower case, `re:`/`fwd:`/`[list]`-free
/// prefix, numbers as `#`, long tokens as `~`, single spaces.
pub fn subject_shape(subject: &str) -> String {
    let mut s = subject.to_lowercase();
    loop {
        let t = s.trim_start();
        let stripped = ["re:", "fw:", "fwd:", "aw:", "tr:", "tl:", "re :", "fwd :"]
            .iter()
            .find_map(|p| t.strip_prefix(p));
        match stripped {
            Some(rest) => s = rest.to_string(),
            None => break,
        }
    }
    s.split_whitespace()
        .map(mask_word)
        .collect::<Vec<_>>()
        .join(" ")
}

fn mask_word(w: &str) -> String {
    if w.chars().count() > MAX_WORD_CHARS {
        "~".to_string()
    } else if w.chars().any(|c| c.is_numeric()) {
        w.chars()
            .map(|c| if c.is_numeric() { '#' } else { c })
            .collect()
    } else {
        w.to_string()
    }
}

/// Lower-case words of a text (letters and digits), masked: numbers as `#`,
/// long tokens as `~`, the recipient placeholder as `@rcpt`.
fn masked_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.split(|c: char| !(c.is_alphanumeric() || c == '@' || c == '.' || c == '_')) {
        let w = raw.trim_matches(|c: char| c == '.' || c == '@' || c == '_');
        if w.is_empty() {
            continue;
        }
        let lower = w.to_lowercase();
        let word = if lower.contains('@') {
            "@addr".to_string()
        } else if lower.chars().count() > MAX_WORD_CHARS {
            "~".to_string()
        } else if lower.chars().any(|c| c.is_numeric()) {
            "#".to_string()
        } else {
            lower
        };
        out.push(word);
        if out.len() >= MAX_WORDS {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_shapes() {
        assert_eq!(
            subject_shape("RE: Fwd: Invoice 12345 for JOHN"),
            "invoice ##### for john"
        );
        assert_eq!(subject_shape("  "), "");
    }

    #[test]
    fn words_are_masked() {
        assert_eq!(
            masked_words("Dear a.b@x.test, ref 8812: click AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA now."),
            vec!["dear", "@addr", "ref", "#", "click", "~", "now"]
        );
    }
}
