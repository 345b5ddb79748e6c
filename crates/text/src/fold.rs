//! Folding: the pipeline that turns raw text into [`Folded`] text.
//!
//! Three passes over the input, each linear:
//!
//! 1. **Scan** ([`Scanner`]): one pass over the characters. Drops invisible characters and
//!    combining marks (after canonical decomposition), lower-cases, maps `đ`, styled Latin and
//!    Cyrillic/Greek look-alikes, and cuts the text into [`Piece`]s: words (their folded letters
//!    live in one shared buffer), runs of white space, line breaks, kept punctuation and other
//!    symbols. Accented Latin letters take a table-driven fast path ([`crate::latin`]).
//!    Each word notes the diacritics it carried (evidence of Vietnamese for pass 3) and whether
//!    it could be a Telex/VNI leftover at all, so pass 3 looks at few words.
//! 2. **Split letters** ([`crate::split`]): joins runs of single letters (`t.à.i k.h.o.ả.n`).
//! 3. **Telex/VNI** ([`crate::telex`]): decides, with the words around, which leftovers of an
//!    unconverted Vietnamese keyboard (`xacs`, `ta2i`) to de-type.
//!
//! Then [`emit`] writes the text: words, one space for any run of white space or symbols, one
//! `'\n'` for any run of line breaks, kept punctuation.
//!
//! # Idempotence
//!
//! `fold(fold(x).text) == fold(x)` holds because every decision is made from what the output
//! still shows: the split-letter rule looks at letters and at the separators that the output
//! keeps between one-letter words (never at case or at how wide a gap was); the Telex rule counts
//! evidence that a second pass can only see less of (diacritics are gone) against English words
//! it can only see more of; look-alikes left in place are left for a reason the output still
//! shows (the rest of the word is Cyrillic). The generated-input tests check it.

use std::fmt;

use unicode_normalization::char::{decompose_canonical, is_combining_mark};

use crate::chars;
use crate::latin;
use crate::split;
use crate::telex::{self, Conversion};

/// Longest input that [`fold`] reads, in bytes (512 KiB). Longer input is cut at the last
/// character boundary before this offset and [`Folded::truncated`] is set: a lure is in the
/// first screens of a message, and the bound keeps the work per message predictable.
pub const MAX_TEXT_BYTES: usize = 512 * 1024;

/// Kinds of obfuscation found while folding text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Obfuscation {
    /// Zero-width or other invisible characters next to letters (`tà\u{200B}i`).
    ZeroWidth,
    /// Words spelled as separated single letters (`t.à.i k.h.o.ả.n`, `x a c m i n h`).
    SplitLetters,
    /// Cyrillic/Greek look-alike letters inside Latin words (`pаypal` with a Cyrillic `а`),
    /// or styled Latin (fullwidth `ｖｅｒｉｆｙ`, mathematical `𝐯𝐞𝐫𝐢𝐟𝐲`).
    Confusable,
    /// Vietnamese typed with Telex keys left unconverted (`xacs minh taif khoanr`).
    Telex,
    /// Vietnamese typed with VNI digits left unconverted (`xa1c minh ta2i khoa3n`).
    Vni,
}

impl Obfuscation {
    /// Stable snake_case name, for symbols and evidence strings.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ZeroWidth => "zero_width",
            Self::SplitLetters => "split_letters",
            Self::Confusable => "confusable",
            Self::Telex => "telex",
            Self::Vni => "vni",
        }
    }
}

impl fmt::Display for Obfuscation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text prepared for matching.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Folded {
    /// NFC, lower-cased, zero-width removed, confusables mapped to Latin, split letters joined,
    /// diacritics removed (combining marks stripped, đ->d), whitespace runs collapsed to one space.
    /// Punctuation that matters for context is KEPT: quotes of all kinds (" “ ” « » ' ‘ ’ „), '>' at
    /// line start, newlines (kept as '\n', so quoted-reply lines can be found), ':' '.' ',' '!' '?'
    /// '(' ')' '/' '@'. Other punctuation and symbols become a space.
    pub text: String,
    /// Obfuscations that were folded away (deduplicated, sorted).
    pub obfuscations: Vec<Obfuscation>,
    /// Input was longer than [`MAX_TEXT_BYTES`] and was cut.
    pub truncated: bool,
}

impl Folded {
    /// Whether folding removed this kind of obfuscation.
    #[must_use]
    pub fn has(&self, kind: Obfuscation) -> bool {
        self.obfuscations.contains(&kind)
    }
}

/// Fold `input` for matching and report the obfuscations removed on the way.
///
/// Never panics; linear in the input (capped at [`MAX_TEXT_BYTES`]). Folding is idempotent:
/// `fold(&fold(x).text).text == fold(x).text`, and the second fold reports nothing.
///
/// # Rules
///
/// * **Characters.** Each character is canonically decomposed and its combining marks dropped
///   (the same result as NFC followed by stripping, so old and new tone placement and
///   precomposed or combining input agree); then lower-cased; `đ` becomes `d`. Fullwidth,
///   mathematical, circled and squared Latin become plain Latin ([`Obfuscation::Confusable`]).
///   Control characters are dropped.
/// * **Invisible characters** (zero-width space/joiners, word joiner, BOM, soft hyphen, CGJ,
///   bidi controls, tags...) are dropped; [`Obfuscation::ZeroWidth`] is reported when one touches
///   a word (a ZWJ inside an emoji sequence or a leading BOM is not obfuscation).
/// * **Look-alikes.** Cyrillic, Greek and IPA letters that look Latin are mapped to the Latin
///   letter only inside a word whose other letters are Latin (`pаypal`); a word with any letter
///   that has no Latin look-alike, or with no Latin letter at all, is real Cyrillic/Greek text
///   and stays as it is ([`Obfuscation::Confusable`]).
/// * **Split letters.** A run of one-letter words linked by the same separator (one space, or
///   one of `. - _ *`) is joined when it has at least 4 letters (5 without a word gap) and 2
///   vowels, or can be cut into Vietnamese syllables; a wider gap (two spaces, a space after the separator, a doubled
///   separator) marks the original word boundary, and a run without such gaps is cut into
///   syllables: `t.à.i k.h.o.ả.n`, `x a c  m i n h` and `x a c m i n h t a i k h o a n` all
///   fold to words. Abbreviations (`U.B.N.D`, `C.N.T.T`, `S.u.S.E`) and initials (`J. R. R.`)
///   are left alone ([`Obfuscation::SplitLetters`]).
/// * **Telex / VNI leftovers** (`xacs`, `taif`, `ddaay`, `nhw`; `xa1c`, `khoa3n`, `d9i`) are
///   de-typed when the result is a Vietnamese syllable (see [`is_vietnamese_syllable`](crate::is_vietnamese_syllable)), the
///   word was not one already, it is not a common English word (`this`, `is`, `was`, `too`...),
///   and the words within four positions on either side are more Vietnamese than English.
///   `ss`/`ff` endings (`access`, `process`) are never Telex; codes (`abc123`, `mp3`, `2fa`,
///   `covid19`) are never VNI ([`Obfuscation::Telex`], [`Obfuscation::Vni`]).
/// * **White space and punctuation.** Runs of white space become one space, or one `'\n'` if
///   they contain a line break. Quotes, `: . , ! ? ( ) / @` and `>` at the start of a line are
///   kept; a curly apostrophe between two letters becomes `'` (`I’m` -> `i'm`); every other
///   symbol becomes a space, except between two one-letter words that stay as they are
///   (`a+b`, `O=c=O`, `a-b`): kept there, a second fold sees the same split-letter candidates
///   as the first.
#[must_use]
pub fn fold(input: &str) -> Folded {
    let (input, truncated) = truncate(input);
    let mut flags = Flags::default();
    let mut scanner = Scanner::new(input.len(), &mut flags);
    scanner.scan(input);
    let (mut buf, pieces) = scanner.finish();
    let pieces = split::join_split_letters(pieces, &mut buf, &mut flags);
    let conversions = telex::convert(&pieces, &buf, &mut flags);
    let mut text = String::with_capacity(buf.len() + pieces.len());
    emit(&pieces, &buf, &conversions, &mut text);
    Folded {
        text,
        obfuscations: flags.to_vec(),
        truncated,
    }
}

/// Diacritic-free lower-case form of a short string (for keywords, names, display names): same
/// rules as [`fold`], no obfuscation report.
#[must_use]
pub fn fold_simple(input: &str) -> String {
    fold(input).text
}

/// Cut at the last character boundary at or before [`MAX_TEXT_BYTES`].
fn truncate(input: &str) -> (&str, bool) {
    if input.len() <= MAX_TEXT_BYTES {
        return (input, false);
    }
    let mut end = MAX_TEXT_BYTES;
    while end > 0 && !input.is_char_boundary(end) {
        end -= 1;
    }
    (input.get(..end).unwrap_or_default(), true)
}

/// Obfuscations seen so far.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Flags {
    pub zero_width: bool,
    pub split_letters: bool,
    pub confusable: bool,
    pub telex: bool,
    pub vni: bool,
}

impl Flags {
    /// In `Obfuscation` order, so the list is sorted and deduplicated by construction.
    fn to_vec(self) -> Vec<Obfuscation> {
        [
            (self.zero_width, Obfuscation::ZeroWidth),
            (self.split_letters, Obfuscation::SplitLetters),
            (self.confusable, Obfuscation::Confusable),
            (self.telex, Obfuscation::Telex),
            (self.vni, Obfuscation::Vni),
        ]
        .into_iter()
        .filter_map(|(on, kind)| on.then_some(kind))
        .collect()
    }
}

/// The diacritics a word carried, as evidence of the language around it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Marks {
    /// None.
    #[default]
    None,
    /// Marks Vietnamese shares with French, Portuguese, Spanish (acute, grave, circumflex...).
    Latin,
    /// A mark only Vietnamese uses (hook above, dot below, horn), two stacked, or `đ`.
    Vietnamese,
}

/// A word: its folded characters are `buf[start..end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word {
    pub start: u32,
    pub end: u32,
    /// The diacritics the original carried (evidence of Vietnamese text).
    pub marks: Marks,
    /// The word is one letter, as this ASCII letter (a Cyrillic/Greek look-alike counts as the
    /// Latin letter it imitates). Candidates for split-letter runs.
    pub single: Option<u8>,
    /// The word might be a Telex/VNI leftover (ASCII, 2-14 bytes, and a final tone key, a digit,
    /// a `w` or a doubled `a e o d`): only these are looked at by [`crate::telex`].
    pub hint: bool,
}

impl Word {
    pub(crate) fn text<'a>(&self, buf: &'a str) -> &'a str {
        buf.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }
}

/// The text cut into the units the later passes reason about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece {
    Word(Word),
    /// A run of white space; `wide` when it was two characters or more.
    Space {
        wide: bool,
    },
    /// A run of white space containing at least one line break.
    Newline,
    /// Kept punctuation, a split separator (`. - _ *`) or `'>'` at line start.
    Punct(char),
    /// Any other symbol or punctuation: a space in the output, except between two one-letter
    /// words (see `emit`). It never links a split-letter run (`O=c=O` is not `oco`).
    Symbol(char),
}

/// Pass 1: characters to pieces.
struct Scanner<'f> {
    buf: String,
    pieces: Vec<Piece>,
    flags: &'f mut Flags,
    // The word being read.
    in_word: bool,
    word_start: usize,
    word_chars: u32,
    word_marks: Marks,
    /// Marks seen since the last letter (two stacked marks are Vietnamese).
    marks_on_letter: u8,
    word_latin: bool,
    word_other_script: bool,
    word_confusables: u32,
    /// Every character of the word so far is ASCII.
    word_ascii: bool,
    /// The word with look-alikes mapped; filled only once the word has a look-alike.
    mapped: String,
    mapping: bool,
    /// The last character pushed to the word was an ASCII letter (marks after it are diacritics).
    after_letter: bool,
    // The gap being read.
    gap_len: u32,
    gap_newline: bool,
    /// Only white space, dropped punctuation, split separators and `'>'` since the line began.
    line_start: bool,
    /// An invisible character was dropped since the last visible one.
    invisible_pending: bool,
}

impl<'f> Scanner<'f> {
    fn new(capacity: usize, flags: &'f mut Flags) -> Self {
        Self {
            buf: String::with_capacity(capacity),
            // About one piece per word and one per gap: a word is ~5 bytes, a gap ~1.
            pieces: Vec::with_capacity(capacity / 2 + 8),
            flags,
            in_word: false,
            word_start: 0,
            word_chars: 0,
            word_marks: Marks::None,
            marks_on_letter: 0,
            word_latin: false,
            word_other_script: false,
            word_confusables: 0,
            word_ascii: true,
            mapped: String::new(),
            mapping: false,
            after_letter: false,
            gap_len: 0,
            gap_newline: false,
            line_start: true,
            invisible_pending: false,
        }
    }

    fn scan(&mut self, input: &str) {
        let bytes = input.as_bytes();
        let mut i = 0usize;
        while let Some(&b) = bytes.get(i) {
            if b.is_ascii_alphanumeric() {
                // Fast path: a run of ASCII letters and digits is copied in one go.
                i = self.push_ascii_run(input, i);
                continue;
            }
            if b.is_ascii() {
                self.ascii(char::from(b));
                i += 1;
                continue;
            }
            let Some(c) = input.get(i..).and_then(|rest| rest.chars().next()) else {
                break;
            };
            self.non_ascii(c, i == 0);
            i += c.len_utf8();
        }
        self.end_word();
    }

    fn non_ascii(&mut self, c: char, at_start: bool) {
        // Fast path for accented Latin (all Vietnamese letters but `đ`): same result as the
        // general path below, a table lookup instead of decomposition and case mapping.
        if let Some((b, vietnamese)) = latin::fold_latin(c) {
            self.push_ascii(char::from(b));
            self.marks_on_letter = 1;
            self.raise_marks(if vietnamese {
                Marks::Vietnamese
            } else {
                Marks::Latin
            });
            return;
        }
        if chars::is_invisible(c) {
            // A byte-order mark opening the text is an encoding artefact, not obfuscation.
            if !(at_start && c == '\u{FEFF}') {
                if self.in_word {
                    self.flags.zero_width = true;
                } else {
                    self.invisible_pending = true;
                }
            }
            return;
        }
        if chars::is_newline(c) {
            self.newline();
            return;
        }
        if c.is_whitespace() {
            self.space();
            return;
        }
        if c.is_control() {
            return;
        }
        if let Some(plain) = chars::unstyle(c) {
            if plain.is_alphabetic() {
                self.flags.confusable = true;
            }
            self.base(plain);
            return;
        }
        let mut parts = ['\0'; 8];
        let mut n = 0usize;
        decompose_canonical(c, |d| {
            if let Some(slot) = parts.get_mut(n) {
                *slot = d;
                n += 1;
            }
        });
        for &d in parts.get(..n).unwrap_or_default() {
            if is_combining_mark(d) {
                self.mark(d);
            } else {
                self.base(d);
            }
        }
    }

    /// The run of ASCII letters and digits starting at `start`, lower-cased on the way. Returns
    /// the offset after the run. (Whether the word has ASCII letters, and its Telex hint, are
    /// worked out once per word in [`Scanner::end_word`].)
    fn push_ascii_run(&mut self, input: &str, start: usize) -> usize {
        let rest = input.as_bytes().get(start..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|b| !b.is_ascii_alphanumeric())
            .unwrap_or(rest.len())
            .max(1);
        let Some(run) = input.get(start..start + len) else {
            return start + 1;
        };
        self.start_word();
        let from = self.buf.len();
        self.buf.push_str(run);
        if let Some(added) = self.buf.get_mut(from..) {
            added.make_ascii_lowercase();
        }
        if self.mapping {
            self.mapped
                .push_str(self.buf.get(from..).unwrap_or_default());
        }
        self.word_chars = self
            .word_chars
            .saturating_add(u32::try_from(len).unwrap_or(u32::MAX));
        self.after_letter = run.as_bytes().last().is_some_and(u8::is_ascii_alphabetic);
        self.marks_on_letter = 0;
        start + len
    }

    #[inline]
    fn ascii(&mut self, c: char) {
        match c {
            'a'..='z' | '0'..='9' => self.push_ascii(c),
            'A'..='Z' => self.push_ascii(c.to_ascii_lowercase()),
            '\n' | '\r' | '\u{0B}' | '\u{0C}' => self.newline(),
            ' ' | '\t' => self.space(),
            c if c.is_ascii_control() => {}
            c => self.punct(c),
        }
    }

    /// A combining mark: dropped; after a Latin letter it is evidence of the language.
    #[inline]
    fn mark(&mut self, m: char) {
        if self.in_word && self.after_letter {
            self.marks_on_letter = self.marks_on_letter.saturating_add(1);
            self.raise_marks(
                if chars::is_vietnamese_mark(m) || self.marks_on_letter >= 2 {
                    Marks::Vietnamese
                } else {
                    Marks::Latin
                },
            );
        }
    }

    #[inline]
    fn raise_marks(&mut self, level: Marks) {
        self.word_marks = self.word_marks.max(level);
    }

    /// A character that is not a mark, not invisible, not white space.
    fn base(&mut self, d: char) {
        if d.is_ascii() {
            self.ascii(d);
            return;
        }
        if !d.is_alphanumeric() {
            self.punct(chars::hyphen_to_ascii(d));
            return;
        }
        let upper_lookalike = chars::confusable_upper(d);
        for l in d.to_lowercase() {
            if is_combining_mark(l) {
                self.mark(l);
                continue;
            }
            if l == 'đ' {
                self.push_ascii('d');
                self.raise_marks(Marks::Vietnamese);
                continue;
            }
            if l.is_ascii() {
                self.push_ascii(l);
                continue;
            }
            self.start_word();
            self.after_letter = false;
            self.word_ascii = false;
            self.word_chars += 1;
            if let Some(m) = upper_lookalike.or_else(|| chars::confusable_lower(l)) {
                self.word_confusables += 1;
                if !self.mapping {
                    self.mapping = true;
                    self.mapped.clear();
                    self.mapped
                        .push_str(self.buf.get(self.word_start..).unwrap_or_default());
                }
                self.buf.push(l);
                self.mapped.push(char::from(m));
                continue;
            }
            if chars::is_latin(l) {
                self.word_latin = true;
            } else if l.is_alphabetic() {
                self.word_other_script = true;
            }
            self.buf.push(l);
            if self.mapping {
                self.mapped.push(l);
            }
        }
    }

    #[inline]
    fn push_ascii(&mut self, c: char) {
        self.start_word();
        self.word_chars += 1;
        self.marks_on_letter = 0;
        self.after_letter = c.is_ascii_alphabetic();
        self.buf.push(c);
        if self.mapping {
            self.mapped.push(c);
        }
    }

    #[inline]
    fn start_word(&mut self) {
        if self.in_word {
            return;
        }
        if self.invisible_pending {
            self.flags.zero_width = true;
            self.invisible_pending = false;
        }
        self.flush_gap();
        self.in_word = true;
        self.line_start = false;
        self.word_start = self.buf.len();
        self.word_chars = 0;
        self.word_marks = Marks::None;
        self.marks_on_letter = 0;
        self.word_latin = false;
        self.word_other_script = false;
        self.word_confusables = 0;
        self.word_ascii = true;
        self.mapping = false;
        self.after_letter = false;
    }

    fn has_ascii_letter(&self) -> bool {
        self.buf
            .get(self.word_start..)
            .is_some_and(|w| w.bytes().any(|b| b.is_ascii_alphabetic()))
    }

    fn end_word(&mut self) {
        if !self.in_word {
            return;
        }
        self.in_word = false;
        // Map look-alikes only inside a word that is otherwise Latin: `pаypal` is mapped,
        // Russian `пароль` (or a word of look-alikes only, like `рау`) is left alone.
        // (`word_latin` tracks non-ASCII Latin letters; ASCII ones are looked up here, and only
        // for the rare words that have a look-alike.)
        if self.mapping && !self.word_other_script && (self.word_latin || self.has_ascii_letter()) {
            self.buf.truncate(self.word_start);
            self.buf.push_str(&self.mapped);
            self.flags.confusable = true;
        }
        let text = self.buf.get(self.word_start..).unwrap_or_default();
        let single = if self.word_chars == 1 {
            text.chars().next().and_then(|c| {
                if c.is_ascii_lowercase() {
                    u8::try_from(c).ok()
                } else {
                    // Lower-case table only: the folded output must give the same answer.
                    chars::confusable_lower(c)
                }
            })
        } else {
            None
        };
        let (Ok(start), Ok(end)) = (
            u32::try_from(self.word_start),
            u32::try_from(self.buf.len()),
        ) else {
            return;
        };
        // A word made ASCII by mapping look-alikes is as good as an ASCII one.
        let hint = (self.word_ascii || text.is_ascii()) && telex::may_be_candidate(text.as_bytes());
        self.pieces.push(Piece::Word(Word {
            start,
            end,
            marks: self.word_marks,
            single,
            hint,
        }));
    }

    #[inline]
    fn flush_gap(&mut self) {
        if self.gap_newline {
            self.pieces.push(Piece::Newline);
        } else if self.gap_len > 0 {
            self.pieces.push(Piece::Space {
                wide: self.gap_len >= 2,
            });
        }
        self.gap_len = 0;
        self.gap_newline = false;
    }

    #[inline]
    fn space(&mut self) {
        self.end_word();
        self.invisible_pending = false;
        self.gap_len = self.gap_len.saturating_add(1);
    }

    fn newline(&mut self) {
        self.space();
        self.gap_newline = true;
        self.line_start = true;
    }

    fn punct(&mut self, c: char) {
        self.end_word();
        self.invisible_pending = false;
        if chars::is_split_sep(c) && c != '.' {
            // `- _ *` are kept only between single letters (see `emit`); otherwise they become a
            // space, which does not end the "start of line" state.
            self.flush_gap();
            self.pieces.push(Piece::Punct(c));
        } else if c == '>' && self.line_start {
            self.flush_gap();
            self.pieces.push(Piece::Punct(c));
        } else if chars::is_kept_punct(c) {
            self.flush_gap();
            self.pieces.push(Piece::Punct(c));
            self.line_start = false;
        } else {
            // Dropped: a space in the output (see `emit`), which does not end the line start.
            self.flush_gap();
            self.pieces.push(Piece::Symbol(c));
        }
    }

    fn finish(self) -> (String, Vec<Piece>) {
        (self.buf, self.pieces)
    }
}

/// Last pass: pieces to text.
fn emit(pieces: &[Piece], buf: &str, conversions: &[(usize, Conversion)], out: &mut String) {
    let mut conversions = conversions.iter().peekable();
    // For `- _ *`: were the nearest words on both sides of this gap single letters left as they
    // were? Only then is the separator kept, so that a second fold sees the same split-letter
    // candidates as the first (and declines them again).
    let mut prev_single = false;
    let mut gap_newline = false;
    let mut next_single: Option<bool> = None;
    for (i, piece) in pieces.iter().enumerate() {
        match *piece {
            Piece::Word(w) => {
                let text = match conversions.peek() {
                    Some((at, conv)) if *at == i => {
                        conversions.next();
                        conv.as_str()
                    }
                    _ => w.text(buf),
                };
                out.push_str(text);
                prev_single = w.single.is_some();
                gap_newline = false;
                next_single = None;
            }
            Piece::Space { .. } => push_space(out),
            Piece::Newline => {
                push_newline(out);
                gap_newline = true;
            }
            Piece::Symbol(c) => {
                let keep = prev_single
                    && !gap_newline
                    && *next_single.get_or_insert_with(|| next_word_is_single(pieces, i));
                if keep {
                    out.push(c);
                } else {
                    push_space(out);
                }
            }
            Piece::Punct(c) if chars::is_split_sep(c) && c != '.' => {
                let keep = prev_single
                    && !gap_newline
                    && *next_single.get_or_insert_with(|| next_word_is_single(pieces, i));
                if keep {
                    out.push(c);
                } else {
                    push_space(out);
                }
            }
            Piece::Punct(c) if chars::is_apostrophe_like(c) => {
                let letter_before = matches!(pieces.get(i.wrapping_sub(1)), Some(Piece::Word(_)))
                    && out.chars().next_back().is_some_and(char::is_alphabetic);
                let letter_after = match pieces.get(i + 1) {
                    Some(Piece::Word(w)) => {
                        w.text(buf).chars().next().is_some_and(char::is_alphabetic)
                    }
                    _ => false,
                };
                out.push(if letter_before && letter_after {
                    '\''
                } else {
                    c
                });
            }
            Piece::Punct(c) => out.push(c),
        }
    }
    while out.ends_with([' ', '\n']) {
        out.pop();
    }
}

fn next_word_is_single(pieces: &[Piece], from: usize) -> bool {
    for piece in pieces.get(from + 1..).unwrap_or_default() {
        match piece {
            Piece::Word(w) => return w.single.is_some(),
            Piece::Newline => return false,
            Piece::Space { .. } | Piece::Punct(_) | Piece::Symbol(_) => {}
        }
    }
    false
}

#[inline]
fn push_space(out: &mut String) {
    if !matches!(out.as_bytes().last(), None | Some(b' ' | b'\n')) {
        out.push(' ');
    }
}

fn push_newline(out: &mut String) {
    if out.as_bytes().last() == Some(&b' ') {
        out.pop();
    }
    if !matches!(out.as_bytes().last(), None | Some(b'\n')) {
        out.push('\n');
    }
}
