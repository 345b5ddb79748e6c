//! Telex and VNI leftovers: Vietnamese typed on a plain keyboard whose input method did not
//! convert the keys.
//!
//! # What is converted
//!
//! * **Telex**: a tone key at the end of the word (`s f r x j`: `xacs` -> `xac`, `taif`,
//!   `khoanr`), `dd` at the start (`ddaay` -> `day`), doubled vowels (`aa ee oo` -> `â ê ô`),
//!   `aw ow uw` (`ă ơ ư`), `w` after a final consonant for the vowel before it (`truongw` ->
//!   `trương`, `chuaw` -> `chưa`) and `w` alone (`ư`: `nhw` -> `nhu`). Each marked vowel must be
//!   followed by what Vietnamese allows after it (`ă` only before a final consonant, `ơ` never
//!   before `a`...), so `law`, `baa`, `owa` are not Telex. A doubled tone key (`ss`) types the
//!   letter itself, so `access`, `process`, `class` are never candidates. Tone keys typed in
//!   the middle of a word (`xasc`) are not handled: IMEs accept them, people rarely type them.
//! * **VNI**: digits inside or at the end of a word (`xa1c`, `ta2i`, `khoa3n`, `d9i`). Each digit
//!   must follow what it modifies (`9` right after the initial `d`, `6` after `a e o`, `7` after
//!   `o u`, `8` after `a`, tones `1`-`5` after a vowel), at most two digits in a row and four in
//!   all, no `0`: `abc123`, `mp3`, `covid19`, `h1n1`, `win10` are not candidates. A word whose
//!   only digit is a final tone (`tai2`, also a user name) is a weak candidate.
//!
//! In both cases the result, once folded, must be a Vietnamese syllable of two letters or more
//! ([`crate::syllable`]), and the original must not already be one.
//!
//! # When it is converted: the words around
//!
//! Many English words are candidates (`this` -> `thi`, `cats` -> `cat`, `too` -> `tô`), so a
//! candidate is converted only when the words around it are Vietnamese. Each word within
//! [`WINDOW`] words on either side is classified:
//!
//! * **Vietnamese**: it carried a mark only Vietnamese uses (hook above, dot below, horn, two
//!   stacked, `đ`), or other diacritics on a Vietnamese syllable (`là`, `xác`, not Portuguese
//!   `está`); or it is a Vietnamese-distinctive syllable
//!   (onset `ng nh kh x...`, rhyme `-nh`, vowel clusters, see
//!   [`crate::syllable::is_distinctive`]); or it is itself a candidate that is strong (see
//!   below) or converts to a distinctive syllable.
//! * **English**: a plain word of two letters or more that is not a syllable nor a candidate
//!   (`please`, `account`), or one of a short list of English words spelled like syllables.
//! * anything else (numbers, other scripts, plain syllables like `ban`, and the words of
//!   addresses, paths and domains: `laocai.gov.vn`, `mail/xacminh.php`) is neutral; words of
//!   addresses are never converted either.
//!
//! A candidate is converted when the Vietnamese words outnumber the English ones, there are
//! at least 1 (strong candidate) or 2 (weak candidate: only a final `s`/`r`/`x` or a doubled
//! `ee`/`oo`, which many English words have, or only a final VNI tone digit) of them, and it is
//! not an English phrase quoted in Vietnamese text: an English word (or a word of an address)
//! right next to it with no Vietnamese word on its other side keeps it as it is (`... đọc kỹ:
//! has been suspended` keeps `been`, `hxxp://laocai.gov.vn.secure-docs[.]top/` keeps `docs`).
//! Words on the [`PROTECTED`] list (`this`, `is`, `has`, `was`, `we`, `too`, `down`...) are
//! never converted: their Vietnamese reading is rare and they appear inside Vietnamese mail.
//!
//! Classification uses the text before any conversion, so a second fold sees no more evidence
//! than the first did and converts nothing new (idempotence).

use crate::fold::{Flags, Marks, Piece, Word};
use crate::syllable::{self, Parts};

/// Words considered on each side of a candidate.
pub(crate) const WINDOW: usize = 4;

/// Longest candidate word, in bytes (longest syllable plus its keys).
pub(crate) const MAX_CANDIDATE_BYTES: usize = 14;

/// Common English words that are Telex candidates, whose Vietnamese reading is rare: never
/// converted, and counted as English. Packed by [`pack`] and sorted (binary search over integers:
/// these lookups run for many words of every message; a test checks the order).
const PROTECTED: [u64; 90] = [
    pack(b"air"),
    pack(b"as"),
    pack(b"aux"),
    pack(b"bar"),
    pack(b"beer"),
    pack(b"bits"),
    pack(b"boo"),
    pack(b"boom"),
    pack(b"boot"),
    pack(b"box"),
    pack(b"bus"),
    pack(b"buys"),
    pack(b"chair"),
    pack(b"cheer"),
    pack(b"chef"),
    pack(b"cuts"),
    pack(b"dawn"),
    pack(b"days"),
    pack(b"deep"),
    pack(b"deer"),
    pack(b"does"),
    pack(b"doom"),
    pack(b"door"),
    pack(b"down"),
    pack(b"gas"),
    pack(b"gets"),
    pack(b"gif"),
    pack(b"goes"),
    pack(b"guys"),
    pack(b"has"),
    pack(b"her"),
    pack(b"hex"),
    pack(b"his"),
    pack(b"hits"),
    pack(b"how"),
    pack(b"if"),
    pack(b"is"),
    pack(b"keen"),
    pack(b"keep"),
    pack(b"lawn"),
    pack(b"lets"),
    pack(b"liar"),
    pack(b"loop"),
    pack(b"lots"),
    pack(b"low"),
    pack(b"lux"),
    pack(b"meet"),
    pack(b"mix"),
    pack(b"noon"),
    pack(b"nor"),
    pack(b"now"),
    pack(b"of"),
    pack(b"or"),
    pack(b"pair"),
    pack(b"pawn"),
    pack(b"pays"),
    pack(b"peer"),
    pack(b"per"),
    pack(b"poor"),
    pack(b"puts"),
    pack(b"queen"),
    pack(b"roof"),
    pack(b"room"),
    pack(b"root"),
    pack(b"row"),
    pack(b"rows"),
    pack(b"says"),
    pack(b"see"),
    pack(b"seen"),
    pack(b"sets"),
    pack(b"sir"),
    pack(b"soon"),
    pack(b"tax"),
    pack(b"teen"),
    pack(b"this"),
    pack(b"thus"),
    pack(b"tips"),
    pack(b"toes"),
    pack(b"too"),
    pack(b"tops"),
    pack(b"town"),
    pack(b"tree"),
    pack(b"troop"),
    pack(b"two"),
    pack(b"us"),
    pack(b"was"),
    pack(b"way"),
    pack(b"ways"),
    pack(b"we"),
    pack(b"won"),
];

/// Frequent English words that are spelled like a Vietnamese syllable (so not counted as English
/// by shape) and rare in Vietnamese: counted as English. Packed and sorted like [`PROTECTED`].
const ENGLISH_SHAPED: [u64; 24] = [
    pack(b"at"),
    pack(b"bet"),
    pack(b"bit"),
    pack(b"but"),
    pack(b"by"),
    pack(b"cut"),
    pack(b"get"),
    pack(b"him"),
    pack(b"hit"),
    pack(b"hot"),
    pack(b"it"),
    pack(b"let"),
    pack(b"not"),
    pack(b"pet"),
    pack(b"pop"),
    pack(b"put"),
    pack(b"run"),
    pack(b"set"),
    pack(b"sit"),
    pack(b"sun"),
    pack(b"tip"),
    pack(b"top"),
    pack(b"up"),
    pack(b"yet"),
];

/// Pack a word of up to 8 bytes into an integer that sorts like the word (0 when longer).
#[allow(clippy::indexing_slicing)] // `i < w.len()` bounds every index
const fn pack(w: &[u8]) -> u64 {
    if w.len() > 8 {
        return 0;
    }
    let mut v = 0u64;
    let mut i = 0;
    while i < 8 {
        v <<= 8;
        if i < w.len() {
            v |= w[i] as u64;
        }
        i += 1;
    }
    v
}

fn is_protected(word: &str) -> bool {
    word.len() <= 8 && PROTECTED.binary_search(&pack(word.as_bytes())).is_ok()
}

fn is_english_word(word: &str) -> bool {
    is_protected(word)
        || (word.len() <= 8 && ENGLISH_SHAPED.binary_search(&pack(word.as_bytes())).is_ok())
}

/// A de-typed word: folded ASCII letters, at most [`MAX_CANDIDATE_BYTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Conversion {
    bytes: [u8; MAX_CANDIDATE_BYTES],
    len: u8,
    /// Evidence of Telex/VNI on its own: more than a final `s`/`r`/`x` tone key or trailing
    /// digits was removed.
    strong: bool,
    /// VNI (digits) rather than Telex (letters).
    vni: bool,
}

impl Conversion {
    fn new(letters: &[u8], strong: bool, vni: bool) -> Option<Self> {
        let mut bytes = [0u8; MAX_CANDIDATE_BYTES];
        bytes.get_mut(..letters.len())?.copy_from_slice(letters);
        Some(Self {
            bytes,
            len: u8::try_from(letters.len()).ok()?,
            strong,
            vni,
        })
    }

    fn letters(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.letters()).unwrap_or_default()
    }

    fn parts(&self) -> Option<Parts<'_>> {
        syllable::parse(self.letters())
    }
}

fn is_vowel(b: u8) -> bool {
    matches!(b, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

pub(crate) fn is_tone_key(b: u8) -> bool {
    matches!(b, b's' | b'f' | b'r' | b'x' | b'j')
}

/// A small fixed buffer of letters.
#[derive(Default)]
struct Letters {
    bytes: [u8; MAX_CANDIDATE_BYTES],
    len: usize,
}

impl Letters {
    fn push(&mut self, b: u8) -> Option<()> {
        *self.bytes.get_mut(self.len)? = b;
        self.len += 1;
        Some(())
    }

    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// A vowel mark typed with Telex keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// `aw`: ă
    Breve,
    /// `aa`: â
    CircumflexA,
    /// `ee`: ê
    CircumflexE,
    /// `oo`: ô
    CircumflexO,
    /// `ow`: ơ
    HornO,
    /// `uw` or `w`: ư
    HornU,
}

impl Mark {
    /// Whether the marked vowel may be followed by `rest` (folded) in a Vietnamese syllable:
    /// `ă` only before a final consonant, `ơ` never before `a`, and so on. This keeps `owa`,
    /// `law` or `baa` from passing for Telex.
    fn may_precede(self, rest: &[u8]) -> bool {
        let final_consonant = matches!(rest, b"c" | b"m" | b"n" | b"ng" | b"p" | b"t");
        match self {
            Self::Breve => final_consonant,
            Self::CircumflexA => final_consonant || matches!(rest, b"u" | b"y"),
            Self::CircumflexE => {
                rest.is_empty() || final_consonant || matches!(rest, b"u" | b"ch" | b"nh")
            }
            Self::CircumflexO => rest.is_empty() || final_consonant || rest == b"i",
            Self::HornO => rest.is_empty() || final_consonant || matches!(rest, b"i" | b"u"),
            // `ư` before `ơ` is `ươ` (`uo...` once folded).
            Self::HornU => {
                rest.is_empty()
                    || final_consonant
                    || matches!(rest, b"a" | b"i" | b"u")
                    || rest.first() == Some(&b'o')
            }
        }
    }
}

/// De-type a Telex leftover (lower-case ASCII letters).
fn telex(word: &[u8]) -> Option<Conversion> {
    let n = word.len();
    if !(2..=MAX_CANDIDATE_BYTES).contains(&n) {
        return None;
    }
    let last = *word.last()?;
    let tone = is_tone_key(last);
    // One pass: letters only, and are there vowel/`đ` keys besides a final tone key?
    let mut modifiers = word.starts_with(b"dd");
    let mut prev = 0u8;
    for &c in word {
        if !c.is_ascii_lowercase() {
            return None;
        }
        modifiers |= c == b'w' || (c == prev && matches!(c, b'a' | b'e' | b'o'));
        prev = c;
    }
    let body = if tone {
        if word.get(n - 2) == Some(&last) {
            // `ss`, `ff`...: a doubled key types the letter itself.
            return None;
        }
        // (A word ending in a tone key is never a syllable: they are not finals.)
        let body = word.get(..n - 1)?;
        if body.len() >= 2 && syllable::parse(body).is_some() {
            // English words end in `s`, `r`, `x` often, in `f`, `j` almost never.
            return Conversion::new(body, matches!(last, b'f' | b'j'), false);
        }
        if !modifiers {
            return None;
        }
        body
    } else {
        if !modifiers || syllable::parse(word).is_some() {
            return None;
        }
        word
    };
    let mut out = Letters::default();
    let mut modified = false;
    // `ee` and `oo` are common in English (`see`, `too`, `moo`): on their own they make a weak
    // candidate; `dd`, `w`, `aa` or a final `f`/`j` make a strong one.
    let mut strong = tone && matches!(last, b'f' | b'j');
    // Vowels given a mark, with their position in `out`: checked against what may follow them.
    let mut marked: [(usize, Mark); 4] = [(usize::MAX, Mark::Breve); 4];
    let mut n_marked = 0usize;
    let mut mark = |at: usize, kind: Mark| -> Option<()> {
        *marked.get_mut(n_marked)? = (at, kind);
        n_marked += 1;
        Some(())
    };
    let mut i = 0usize;
    if body.starts_with(b"dd") {
        out.push(b'd')?;
        modified = true;
        strong = true;
        i = 2;
    }
    while let Some(&c) = body.get(i) {
        if c == b'w' {
            modified = true;
            strong = true;
            let typed = out.as_slice();
            let n = typed.len();
            let before = |k: usize| n.checked_sub(k).and_then(|j| typed.get(j).copied());
            match before(1) {
                Some(b'e' | b'i' | b'y') => return None,
                // `uaw` is `ưa` (`chuaw` -> chưa), except after `q` (`quaw` -> quă).
                Some(b'a') if before(2) == Some(b'u') && before(3) != Some(b'q') => {
                    mark(n - 2, Mark::HornU)?;
                }
                Some(b'a') => mark(n - 1, Mark::Breve)?,
                // `uow` is `ươ`.
                Some(b'o') => {
                    mark(n - 1, Mark::HornO)?;
                    if before(2) == Some(b'u') {
                        mark(n - 2, Mark::HornU)?;
                    }
                }
                Some(b'u') => mark(n - 1, Mark::HornU)?,
                // After a consonant, `w` marks the vowel before it (`truongw` -> trương), or is
                // `ư` itself when there is none yet (`nhw` -> như, `w` -> ư).
                _ => match typed.iter().rposition(|b| is_vowel(*b)) {
                    Some(v) => match typed.get(v) {
                        Some(b'o') => {
                            mark(v, Mark::HornO)?;
                            if v.checked_sub(1).and_then(|u| typed.get(u)) == Some(&b'u') {
                                mark(v - 1, Mark::HornU)?;
                            }
                        }
                        Some(b'u') => mark(v, Mark::HornU)?,
                        Some(b'a') => mark(v, Mark::Breve)?,
                        _ => return None,
                    },
                    None => {
                        mark(n, Mark::HornU)?;
                        out.push(b'u')?;
                    }
                },
            }
        } else if matches!(c, b'a' | b'e' | b'o') && body.get(i + 1) == Some(&c) {
            modified = true;
            strong |= c == b'a';
            let kind = match c {
                b'a' => Mark::CircumflexA,
                b'e' => Mark::CircumflexE,
                _ => Mark::CircumflexO,
            };
            mark(out.len, kind)?;
            out.push(c)?;
            i += 1;
        } else {
            out.push(c)?;
        }
        i += 1;
    }
    let result = out.as_slice();
    if !modified || result.len() < 2 {
        return None;
    }
    syllable::parse(result)?;
    for &(at, kind) in marked.get(..n_marked).unwrap_or_default() {
        if !kind.may_precede(result.get(at + 1..).unwrap_or_default()) {
            return None;
        }
    }
    Conversion::new(result, strong, false)
}

/// De-type a VNI leftover (lower-case ASCII letters and digits, starting with a letter).
fn vni(word: &[u8]) -> Option<Conversion> {
    if !(2..=MAX_CANDIDATE_BYTES).contains(&word.len())
        || !word.first()?.is_ascii_lowercase()
        || !word
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return None;
    }
    let mut out = Letters::default();
    let mut digits = 0usize;
    let mut in_a_row = 0usize;
    let mut prev_digit = None;
    let mut strong = false;
    for &c in word {
        if c.is_ascii_lowercase() {
            strong |= digits > 0;
            out.push(c)?;
            in_a_row = 0;
            prev_digit = None;
            continue;
        }
        digits += 1;
        in_a_row += 1;
        if c == b'0' || in_a_row > 2 || digits > 4 || prev_digit == Some(c) {
            return None;
        }
        let letters = out.as_slice();
        let fits = match c {
            b'9' => letters == b"d" && in_a_row == 1,
            b'6' => letters.iter().any(|b| matches!(b, b'a' | b'e' | b'o')),
            b'7' => letters.iter().any(|b| matches!(b, b'o' | b'u')),
            b'8' => letters.contains(&b'a'),
            _ => letters.iter().any(|b| is_vowel(*b)),
        };
        if !fits {
            return None;
        }
        // A vowel/`đ` digit, or two digits, is VNI beyond doubt; a lone final tone digit
        // (`tai2`, `minh1`) also ends user names.
        strong |= matches!(c, b'6'..=b'9') || in_a_row > 1;
        prev_digit = Some(c);
    }
    let result = out.as_slice();
    if digits == 0 || result.len() < 2 {
        return None;
    }
    syllable::parse(result)?;
    Conversion::new(result, strong, true)
}

/// Cheap pre-check, one pass: could this word be a Telex or VNI candidate at all? (A key at the
/// end, a digit, a `w`, or a doubled `a e o d`.) Most words of any text fail it.
pub(crate) fn may_be_candidate(b: &[u8]) -> bool {
    if !(2..=MAX_CANDIDATE_BYTES).contains(&b.len()) {
        return false;
    }
    if b.last().is_some_and(|&l| is_tone_key(l)) {
        return true;
    }
    let mut prev = 0u8;
    for &c in b {
        if c == b'w' || c.is_ascii_digit() || (c == prev && matches!(c, b'a' | b'e' | b'o' | b'd'))
        {
            return true;
        }
        prev = c;
    }
    false
}

/// The conversion of a folded word, if it is a Telex or VNI candidate.
/// Callers check [`Word::hint`] (the same test, made while scanning) first.
fn candidate(word: &str) -> Option<Conversion> {
    let b = word.as_bytes();
    if b.iter().any(u8::is_ascii_digit) {
        vni(b)
    } else {
        telex(b)
    }
}

/// Whether the word at `i` is part of an address, a path or a domain: next to `/` or `@`, or
/// joined to another word by a `.` with no space (`laocai.gov.vn`, `xacminh.php`). Such words are
/// never converted and count as neither language.
fn is_technical(pieces: &[Piece], i: usize) -> bool {
    let at = |k: Option<usize>| k.and_then(|k| pieces.get(k));
    let (prev, next) = (at(i.checked_sub(1)), at(i.checked_add(1)));
    let is_word = |p: Option<&Piece>| matches!(p, Some(Piece::Word(_)));
    matches!(prev, Some(Piece::Punct('/' | '@')))
        || matches!(next, Some(Piece::Punct('/' | '@')))
        || (matches!(prev, Some(Piece::Punct('.'))) && is_word(at(i.checked_sub(2))))
        || (matches!(next, Some(Piece::Punct('.'))) && is_word(at(i.checked_add(2))))
}

/// What a word says about the language around a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Neutral,
    Vietnamese,
    English,
}

fn classify(w: &Word, buf: &str) -> Lang {
    let text = w.text(buf);
    match w.marks {
        Marks::Vietnamese => return Lang::Vietnamese,
        // Acute, grave, circumflex... are shared with French or Portuguese (`não`, `está`,
        // `très`): Vietnamese evidence only on a Vietnamese syllable.
        Marks::Latin if text.len() >= 2 && syllable::parse(text.as_bytes()).is_some() => {
            return Lang::Vietnamese;
        }
        Marks::Latin | Marks::None => {}
    }
    debug_assert_eq!(
        w.hint,
        text.is_ascii() && may_be_candidate(text.as_bytes()),
        "{text}"
    );
    let b = text.as_bytes();
    if b.len() < 2
        || !b
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        return Lang::Neutral;
    }
    if let Some(conv) = w.hint.then(|| candidate(text)).flatten() {
        return if is_protected(text) {
            Lang::English
        } else if conv.strong || conv.parts().is_some_and(syllable::is_distinctive) {
            Lang::Vietnamese
        } else {
            Lang::Neutral
        };
    }
    if !b.iter().all(u8::is_ascii_lowercase) {
        return Lang::Neutral;
    }
    match syllable::parse(b) {
        Some(_) if is_english_word(text) => Lang::English,
        Some(p) if syllable::is_distinctive(p) => Lang::Vietnamese,
        Some(_) => Lang::Neutral,
        None => Lang::English,
    }
}

/// Pass 3 of folding: the Telex/VNI conversions to apply, as `(piece index, conversion)` in
/// piece order.
pub(crate) fn convert(pieces: &[Piece], buf: &str, flags: &mut Flags) -> Vec<(usize, Conversion)> {
    let mut candidates = Vec::new();
    let mut words = 0usize;
    for (i, piece) in pieces.iter().enumerate() {
        if let Piece::Word(w) = piece {
            debug_assert_eq!(
                w.hint,
                w.text(buf).is_ascii() && may_be_candidate(w.text(buf).as_bytes()),
                "{}",
                w.text(buf)
            );
            if w.hint {
                let text = w.text(buf);
                if let Some(conv) = candidate(text) {
                    if !is_protected(text) && !is_technical(pieces, i) {
                        candidates.push((words, i, conv));
                    }
                }
            }
            words += 1;
        }
    }
    if candidates.is_empty() {
        return Vec::new();
    }
    // Words of addresses, paths and domains say nothing about the language around them.
    let words: Vec<Option<&Word>> = pieces
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match p {
            Piece::Word(w) => Some((!is_technical(pieces, i)).then_some(w)),
            _ => None,
        })
        .collect();
    let mut langs: Vec<Option<Lang>> = vec![None; words.len()];
    let mut out = Vec::new();
    for (ordinal, piece, conv) in candidates {
        let (mut vietnamese, mut english) = (0usize, 0usize);
        let lo = ordinal.saturating_sub(WINDOW);
        let hi = ordinal
            .saturating_add(WINDOW)
            .min(words.len().saturating_sub(1));
        let (mut left, mut right) = (Lang::Neutral, Lang::Neutral);
        for k in (lo..=hi).filter(|k| *k != ordinal) {
            let lang = match langs.get(k).copied().flatten() {
                Some(lang) => lang,
                None => {
                    let lang = words
                        .get(k)
                        .copied()
                        .flatten()
                        .map_or(Lang::Neutral, |w| classify(w, buf));
                    if let Some(slot) = langs.get_mut(k) {
                        *slot = Some(lang);
                    }
                    lang
                }
            };
            match lang {
                Lang::Vietnamese => vietnamese += 1,
                Lang::English => english += 1,
                Lang::Neutral => {}
            }
            // For the neighbour test a word of an address counts as English: a candidate
            // between two (`vn.secure-docs[.]top/`) is part of the address.
            let near = match words.get(k) {
                Some(None) => Lang::English,
                _ => lang,
            };
            if k + 1 == ordinal {
                left = near;
            } else if k == ordinal + 1 {
                right = near;
            }
        }
        let needed = if conv.strong { 1 } else { 2 };
        // An English word right next to it, and no Vietnamese one on the other side: an English
        // phrase quoted in Vietnamese text (`tài khoản has been suspended`), left alone.
        let english_neighbour = (left == Lang::English && right != Lang::Vietnamese)
            || (right == Lang::English && left != Lang::Vietnamese);
        if vietnamese >= needed && vietnamese > english && !english_neighbour {
            if conv.vni {
                flags.vni = true;
            } else {
                flags.telex = true;
            }
            out.push((piece, conv));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(w: &str) -> Option<String> {
        telex(w.as_bytes()).map(|c| c.as_str().to_string())
    }

    fn v(w: &str) -> Option<String> {
        vni(w.as_bytes()).map(|c| c.as_str().to_string())
    }

    #[test]
    fn lists_are_sorted_and_unique() {
        for list in [&PROTECTED[..], &ENGLISH_SHAPED[..]] {
            assert!(list.windows(2).all(|p| p.first() < p.get(1)), "{list:?}");
            assert!(list.iter().all(|w| *w != 0));
        }
        assert!(is_protected("this") && is_protected("we") && is_protected("won"));
        assert!(
            !is_protected("access") && !is_protected("thi") && !is_protected("thisisalongword")
        );
        assert!(is_english_word("it") && is_english_word("this") && !is_english_word("minh"));
    }

    #[test]
    fn telex_keys_are_removed() {
        for (typed, plain) in [
            ("xacs", "xac"),
            ("taif", "tai"),
            ("khoanr", "khoan"),
            ("ddaay", "day"),
            ("ddi", "di"),
            ("dduowngf", "duong"),
            ("truwowngf", "truong"),
            ("nhw", "nhu"),
            ("thuwj", "thu"),
            ("vieetj", "viet"),
            ("ddawng", "dang"),
            ("nhaapj", "nhap"),
            ("maatj", "mat"),
            ("khaaur", "khau"),
            ("khoong", "khong"),
            ("chuaw", "chua"),
            ("truongw", "truong"),
            ("dduocw", "duoc"),
            ("quawn", "quan"),
            ("thoong", "thong"),
            ("quoocs", "quoc"),
            ("cuar", "cua"),
            ("sex", "se"),
            ("max", "ma"),
        ] {
            assert_eq!(t(typed).as_deref(), Some(plain), "{typed}");
        }
    }

    #[test]
    fn not_telex() {
        for w in [
            "access", "process", "users", "class", "minh", "khoan", "verify", "law", "saw", "baa",
            "new", "view", "dd", "s", "ws", "chew", "owa", "oway", "paw", "eew",
        ] {
            assert_eq!(t(w), None, "{w}");
        }
    }

    #[test]
    fn vni_digits_are_removed() {
        for (typed, plain, strong) in [
            ("xa1c", "xac", true),
            ("ta2i", "tai", true),
            ("khoa3n", "khoan", true),
            ("d9i", "di", true),
            ("d9a6y", "day", true),
            ("tai2", "tai", false),
            ("ho64", "ho", true),
            ("ky4", "ky", false),
            ("d9u7o7ng2", "duong", true),
            ("a61n", "an", true),
        ] {
            let conv = vni(typed.as_bytes());
            assert_eq!(
                conv.map(|c| c.as_str().to_string()).as_deref(),
                Some(plain),
                "{typed}"
            );
            assert_eq!(conv.map(|c| c.strong), Some(strong), "{typed}");
        }
    }

    #[test]
    fn codes_are_not_vni() {
        for w in [
            "abc123", "a1", "mp3", "2fa", "covid19", "h1n1", "win10", "ipv6", "b2b", "d9", "ta11i",
            "g7", "x2", "web3",
        ] {
            assert_eq!(v(w), None, "{w}");
        }
    }
}
