//! Phrase lists: `category | phrase` files compiled once into one Aho-Corasick automaton and
//! matched against [`Folded`] text.
//!
//! # Matching model
//!
//! * Phrases are folded with [`fold_simple`] when the list is parsed, so a list may be written
//!   with or without diacritics and matches text in either spelling.
//! * A hit must sit on word boundaries: the character before and after it (if the phrase starts
//!   or ends with a letter or digit) must not be a letter or digit. `tai khoan` does not hit in
//!   `xtai khoanz`, and a phrase that would only match inside a longer word never hides a shorter
//!   one that matches on boundaries.
//! * A line break in the text matches a space in a phrase (plain-text mail wraps lines).
//! * Within one category, hits do not overlap: leftmost first, longest at the same start.
//!   Hits of different categories may overlap, so a negation cue (`không`), an advisory phrase
//!   (`không cung cấp`) and a lure (`cung cấp mật khẩu`) over the same words are all reported
//!   and the analysis can weigh them together.
//! * Hits are bounded: [`MAX_HITS_PER_CATEGORY`] per category (so padding a message with one
//!   cue cannot crowd out the others) and [`MAX_HITS`] in all, earliest first.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use crate::fold::{fold_simple, Folded};

/// Most hits reported for one category by [`PhraseSet::find`] (the earliest ones).
pub const MAX_HITS_PER_CATEGORY: usize = 32;

/// Most hits reported in all by [`PhraseSet::find`] (the earliest ones).
pub const MAX_HITS: usize = 512;

/// Most phrases in one list.
pub const MAX_PHRASES: usize = 20_000;

/// Longest phrase line, in bytes, before folding.
pub const MAX_PHRASE_BYTES: usize = 256;

/// Candidate matches kept per category before choosing hits: a bound on memory for hostile
/// text made of one phrase repeated.
const MAX_CANDIDATES_PER_CATEGORY: usize = 4 * MAX_HITS_PER_CATEGORY;

/// An error in a phrase list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhraseError {
    /// 1-based line number in the source (0 when the error is not tied to a line).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PhraseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "phrase list: {}", self.message)
        } else {
            write!(f, "phrase list line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for PhraseError {}

/// One phrase of a list.
#[derive(Debug, Clone)]
struct Pattern {
    category: u16,
    /// As written in the list.
    phrase: String,
    /// The folded phrase starts/ends with a letter or digit (so needs a word boundary there).
    bounded_start: bool,
    bounded_end: bool,
}

/// A phrase list compiled once (Aho-Corasick over folded phrases, ASCII case-insensitive over
/// folded text; leftmost-longest within a category).
#[derive(Debug, Clone)]
pub struct PhraseSet {
    automaton: AhoCorasick,
    patterns: Vec<Pattern>,
    categories: Vec<String>,
}

/// A phrase found in folded text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhraseHit {
    /// The phrase's category, as written in the list.
    pub category: String,
    /// The keyword as written in the data file.
    pub phrase: String,
    /// Byte offset of the hit in [`Folded::text`].
    pub start: usize,
    /// Byte offset just past the hit in [`Folded::text`].
    pub end: usize,
}

fn err(line: usize, message: impl Into<String>) -> PhraseError {
    PhraseError {
        line,
        message: message.into(),
    }
}

fn valid_category(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl PhraseSet {
    /// Parse a data file: one phrase per line `category | phrase`, `#` comments and blank lines
    /// ignored. Phrases are folded with [`fold_simple`] before compiling, so a list may be written
    /// with or without diacritics. Errors name the line number.
    ///
    /// A category name is `[a-z0-9_]+`. The same phrase (after folding) may appear in several
    /// categories, but twice in one category is an error, as is a phrase that folds to nothing.
    pub fn parse(source: &str) -> Result<PhraseSet, PhraseError> {
        let mut categories: Vec<String> = Vec::new();
        let mut patterns: Vec<Pattern> = Vec::new();
        let mut folded: Vec<String> = Vec::new();
        let mut seen: HashMap<(u16, String), usize> = HashMap::new();
        for (index, raw) in source.lines().enumerate() {
            let line_no = index + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((category, phrase)) = line.split_once('|') else {
                return Err(err(line_no, "expected `category | phrase`"));
            };
            let (category, phrase) = (category.trim(), phrase.trim());
            if !valid_category(category) {
                return Err(err(
                    line_no,
                    format!("category `{category}` must be 1-64 characters of [a-z0-9_]"),
                ));
            }
            if phrase.contains('|') {
                return Err(err(line_no, "a phrase cannot contain `|`"));
            }
            if phrase.len() > MAX_PHRASE_BYTES {
                return Err(err(
                    line_no,
                    format!("phrase longer than {MAX_PHRASE_BYTES} bytes"),
                ));
            }
            let key = fold_simple(phrase).replace('\n', " ");
            if key.is_empty() {
                return Err(err(
                    line_no,
                    format!("phrase `{phrase}` is empty once folded"),
                ));
            }
            if patterns.len() >= MAX_PHRASES {
                return Err(err(line_no, format!("more than {MAX_PHRASES} phrases")));
            }
            let cat = match categories.iter().position(|c| c == category) {
                Some(i) => i,
                None => {
                    categories.push(category.to_string());
                    categories.len() - 1
                }
            };
            let cat = u16::try_from(cat).map_err(|_| err(line_no, "too many categories"))?;
            if let Some(first) = seen.insert((cat, key.clone()), line_no) {
                return Err(err(
                    line_no,
                    format!(
                        "`{phrase}` duplicates line {first} in category `{category}` (both fold to `{key}`)"
                    ),
                ));
            }
            let word_char = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
            patterns.push(Pattern {
                category: cat,
                phrase: phrase.to_string(),
                bounded_start: word_char(key.chars().next()),
                bounded_end: word_char(key.chars().next_back()),
            });
            folded.push(key);
        }
        // A DFA: the fastest search (one table lookup per byte), at a memory cost of about a
        // megabyte per thousand phrases, paid once per list.
        let automaton = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(true)
            .build(&folded)
            .map_err(|e| err(0, format!("cannot compile the phrase list: {e}")))?;
        Ok(PhraseSet {
            automaton,
            patterns,
            categories,
        })
    }

    /// Find the phrases in folded text, on word boundaries, sorted by position (see the module
    /// docs for overlaps and bounds).
    #[must_use]
    pub fn find(&self, folded: &Folded) -> Vec<PhraseHit> {
        self.find_in(&folded.text)
    }

    /// Like [`PhraseSet::find`], on text that is already folded (for example a display name
    /// passed through [`fold_simple`]). Unfolded text simply matches less.
    #[must_use]
    pub fn find_in(&self, text: &str) -> Vec<PhraseHit> {
        // Same length, same offsets: a line break matches a space.
        let haystack: Cow<'_, str> = if text.contains('\n') {
            Cow::Owned(text.replace('\n', " "))
        } else {
            Cow::Borrowed(text)
        };
        let Ok(matches) = self.automaton.try_find_overlapping_iter(haystack.as_ref()) else {
            return Vec::new();
        };
        let mut per_category = vec![0usize; self.categories.len()];
        // (category, start, end, pattern)
        let mut candidates: Vec<(u16, usize, usize, usize)> = Vec::new();
        for m in matches {
            let id = m.pattern().as_usize();
            let Some(p) = self.patterns.get(id) else {
                continue;
            };
            let Some(count) = per_category.get_mut(usize::from(p.category)) else {
                continue;
            };
            if *count >= MAX_CANDIDATES_PER_CATEGORY
                || !on_boundaries(&haystack, m.start(), m.end(), p)
            {
                continue;
            }
            *count += 1;
            candidates.push((p.category, m.start(), m.end(), id));
        }
        // Leftmost, then longest, within each category.
        candidates.sort_unstable_by(|a, b| {
            (a.0, a.1, std::cmp::Reverse(a.2), a.3).cmp(&(b.0, b.1, std::cmp::Reverse(b.2), b.3))
        });
        let mut chosen: Vec<(usize, usize, usize)> = Vec::new();
        let mut current: Option<u16> = None;
        let mut taken = 0usize;
        let mut last_end = 0usize;
        for (category, start, end, id) in candidates {
            if current != Some(category) {
                current = Some(category);
                taken = 0;
                last_end = 0;
            }
            if taken >= MAX_HITS_PER_CATEGORY || start < last_end {
                continue;
            }
            chosen.push((start, end, id));
            taken += 1;
            last_end = end;
        }
        chosen.sort_unstable();
        chosen.truncate(MAX_HITS);
        chosen
            .into_iter()
            .filter_map(|(start, end, id)| {
                let p = self.patterns.get(id)?;
                Some(PhraseHit {
                    category: self.categories.get(usize::from(p.category))?.clone(),
                    phrase: p.phrase.clone(),
                    start,
                    end,
                })
            })
            .collect()
    }

    /// Category names, in the order they first appear in the list.
    pub fn categories(&self) -> impl Iterator<Item = &str> {
        self.categories.iter().map(String::as_str)
    }

    /// Number of phrases.
    #[must_use]
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Whether the list has no phrase.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

/// A hit must not start or end inside a word.
fn on_boundaries(text: &str, start: usize, end: usize, p: &Pattern) -> bool {
    let (Some(before), Some(after)) = (text.get(..start), text.get(end..)) else {
        return false;
    };
    let is_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let inside_start = p.bounded_start && is_word(before.chars().next_back());
    let inside_end = p.bounded_end && is_word(after.chars().next());
    !inside_start && !inside_end
}
