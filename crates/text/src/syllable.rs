//! A light grammar of Vietnamese syllables over their folded (diacritic-free, lower-case ASCII)
//! form.
//!
//! A Vietnamese syllable is `onset? rhyme`, where the onset is one of 27 spellings (`b`, `ch`,
//! `ngh`, `qu`...) and the rhyme is one of about 150 vowel nuclei with an optional final
//! consonant (`c ch m n ng nh p t`). Folding removes tone marks and vowel quality marks, so `ăn`,
//! `ân` and `an` all become `an`: the grammar below is the union of the folded rhymes, plus the
//! spelling rules that survive folding (`k`/`gh`/`ngh` only before `e i y`, `c`/`g`/`ng` never
//! before them, `qu` never before `u`).
//!
//! Folded Vietnamese is a strict subset of this language, while most English words fall outside
//! it (`verify`, `account`, `users` are not syllables; `ban`, `tin`, `to` are). The Telex and VNI
//! rules use it to decide whether a de-typed word is plausible, and the split-letter rule uses it
//! to cut a joined run (`xacminhtaikhoan`) back into syllables.

/// Longest folded syllable accepted (`nghieng` has 7 letters; one spare).
const MAX_SYLLABLE_BYTES: usize = 8;

/// Longest run of letters that [`segment`] tries to cut into syllables.
pub(crate) const MAX_SEGMENT_LETTERS: usize = 64;

/// A syllable cut into onset and rhyme (both folded ASCII).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parts<'a> {
    /// Initial consonant spelling, possibly empty.
    pub onset: &'a [u8],
    /// Vowel nucleus plus optional final consonant; never empty.
    pub rhyme: &'a [u8],
}

/// Folded rhymes of Vietnamese (tone and vowel marks removed, so `ăn`/`ân`/`an` are one entry),
/// packed by [`pack`] and sorted for binary search (a test checks the order).
///
/// The loanword rhymes `oong`/`ooc` (`boong`, `xoong`, `soóc`) are left out on purpose: as
/// Telex, `oo` is `ô`, and `khoong`, `thoong`, `ddoongf` (`không`, `thông`, `đồng`) are far more
/// frequent than the loanwords.
const RHYMES: [u32; 106] = [
    pack(b"a"),
    pack(b"ac"),
    pack(b"ach"),
    pack(b"ai"),
    pack(b"am"),
    pack(b"an"),
    pack(b"ang"),
    pack(b"anh"),
    pack(b"ao"),
    pack(b"ap"),
    pack(b"at"),
    pack(b"au"),
    pack(b"ay"),
    pack(b"e"),
    pack(b"ec"),
    pack(b"ech"),
    pack(b"em"),
    pack(b"en"),
    pack(b"eng"),
    pack(b"enh"),
    pack(b"eo"),
    pack(b"ep"),
    pack(b"et"),
    pack(b"eu"),
    pack(b"i"),
    pack(b"ia"),
    pack(b"ich"),
    pack(b"iec"),
    pack(b"iem"),
    pack(b"ien"),
    pack(b"ieng"),
    pack(b"iep"),
    pack(b"iet"),
    pack(b"ieu"),
    pack(b"im"),
    pack(b"in"),
    pack(b"inh"),
    pack(b"ip"),
    pack(b"it"),
    pack(b"iu"),
    pack(b"o"),
    pack(b"oa"),
    pack(b"oac"),
    pack(b"oach"),
    pack(b"oai"),
    pack(b"oam"),
    pack(b"oan"),
    pack(b"oang"),
    pack(b"oanh"),
    pack(b"oao"),
    pack(b"oap"),
    pack(b"oat"),
    pack(b"oay"),
    pack(b"oc"),
    pack(b"oe"),
    pack(b"oem"),
    pack(b"oen"),
    pack(b"oeo"),
    pack(b"oet"),
    pack(b"oi"),
    pack(b"om"),
    pack(b"on"),
    pack(b"ong"),
    pack(b"op"),
    pack(b"ot"),
    pack(b"u"),
    pack(b"ua"),
    pack(b"uan"),
    pack(b"uang"),
    pack(b"uat"),
    pack(b"uay"),
    pack(b"uc"),
    pack(b"ue"),
    pack(b"uech"),
    pack(b"uenh"),
    pack(b"ui"),
    pack(b"um"),
    pack(b"un"),
    pack(b"ung"),
    pack(b"uo"),
    pack(b"uoc"),
    pack(b"uoi"),
    pack(b"uom"),
    pack(b"uon"),
    pack(b"uong"),
    pack(b"uop"),
    pack(b"uot"),
    pack(b"uou"),
    pack(b"up"),
    pack(b"ut"),
    pack(b"uu"),
    pack(b"uy"),
    pack(b"uya"),
    pack(b"uych"),
    pack(b"uyen"),
    pack(b"uyet"),
    pack(b"uynh"),
    pack(b"uyp"),
    pack(b"uyt"),
    pack(b"uyu"),
    pack(b"y"),
    pack(b"yem"),
    pack(b"yen"),
    pack(b"yeng"),
    pack(b"yet"),
    pack(b"yeu"),
];

/// Pack up to four ASCII bytes into a `u32` that sorts like the string (0 for anything longer:
/// no rhyme has more than four letters).
const fn pack(r: &[u8]) -> u32 {
    match *r {
        [a] => (a as u32) << 24,
        [a, b] => (a as u32) << 24 | (b as u32) << 16,
        [a, b, c] => (a as u32) << 24 | (b as u32) << 16 | (c as u32) << 8,
        [a, b, c, d] => (a as u32) << 24 | (b as u32) << 16 | (c as u32) << 8 | d as u32,
        _ => 0,
    }
}

fn is_rhyme(r: &[u8]) -> bool {
    !r.is_empty() && r.len() <= 4 && RHYMES.binary_search(&pack(r)).is_ok()
}

/// Length of the onset spelling at the start of `w` (0 when it starts with a vowel or a letter
/// that is no onset). Longest first: `ngh` before `ng` before `n`. (`gi` is handled by [`parse`].)
fn onset_len(w: &[u8]) -> usize {
    match w {
        [b'n', b'g', b'h', ..] => 3,
        [b'n', b'g' | b'h', ..]
        | [b'c' | b'g' | b'k' | b'p' | b't', b'h', ..]
        | [b't', b'r', ..]
        | [b'q', b'u', ..] => 2,
        [b'b' | b'c' | b'd' | b'g' | b'h' | b'k' | b'l' | b'm' | b'n' | b'p' | b'r' | b's'
        | b't' | b'v' | b'x', ..] => 1,
        _ => 0,
    }
}

fn front_vowel(r: &[u8]) -> bool {
    matches!(r.first(), Some(b'e' | b'i' | b'y'))
}

/// Spelling rules that survive folding.
fn spelling_ok(onset: &[u8], rhyme: &[u8]) -> bool {
    let onset_ok = match onset {
        b"k" => front_vowel(rhyme),
        b"gh" | b"ngh" => matches!(rhyme.first(), Some(b'e' | b'i')),
        b"c" | b"g" | b"ng" => !front_vowel(rhyme),
        b"qu" => !matches!(rhyme.first(), Some(b'u')),
        _ => true,
    };
    // `yê-` rhymes stand alone or after `qu` (`yên`, `quyên`); `tyên` is spelled `tiên`.
    onset_ok && (!rhyme.starts_with(b"ye") || onset.is_empty() || onset == b"qu")
}

/// Cut a folded word into onset and rhyme when it is a Vietnamese syllable.
pub(crate) fn parse(word: &[u8]) -> Option<Parts<'_>> {
    if word.is_empty() || word.len() > MAX_SYLLABLE_BYTES {
        return None;
    }
    // `gi` is an onset before a vowel (`gia`, `giup`), but before a consonant or alone the `i` is
    // the vowel (`gin`, `gi`): try the onset reading first, then the vowel reading.
    if let Some(rest) = word.strip_prefix(b"gi") {
        if !rest.is_empty() && is_rhyme(rest) {
            return Some(Parts {
                onset: b"gi",
                rhyme: rest,
            });
        }
        let vowel_reading = word.get(1..).unwrap_or_default();
        if is_rhyme(vowel_reading) {
            return Some(Parts {
                onset: b"gi",
                rhyme: vowel_reading,
            });
        }
        return None;
    }
    let (onset, rhyme) = word.split_at_checked(onset_len(word))?;
    (is_rhyme(rhyme) && spelling_ok(onset, rhyme)).then_some(Parts { onset, rhyme })
}

/// Whether `word` looks like one Vietnamese syllable (a light heuristic over the folded form).
///
/// The word is folded on the fly (case, tone and vowel marks, `đ`), so `"Khoản"`, `"khoan"` and
/// `"KHOAN"` all answer `true`; `"verify"`, `"users"` and `"xacs"` answer `false`. The grammar
/// accepts every folded Vietnamese syllable and rejects most English words, but short English
/// words that happen to be spelled like a syllable (`ban`, `tin`, `to`) are accepted: it is a
/// plausibility test, not a dictionary.
#[must_use]
pub fn is_vietnamese_syllable(word: &str) -> bool {
    let mut folded = [0u8; MAX_SYLLABLE_BYTES];
    let mut len = 0usize;
    for c in word.chars() {
        let mut ok = true;
        unicode_normalization::char::decompose_canonical(c, |d| {
            if unicode_normalization::char::is_combining_mark(d) {
                return;
            }
            let b = match d {
                'đ' | 'Đ' => b'd',
                d if d.is_ascii_alphabetic() => d.to_ascii_lowercase() as u8,
                _ => {
                    ok = false;
                    return;
                }
            };
            match folded.get_mut(len) {
                Some(slot) => {
                    *slot = b;
                    len += 1;
                }
                None => ok = false,
            }
        });
        if !ok {
            return false;
        }
    }
    folded.get(..len).and_then(parse).is_some()
}

fn is_vowel(b: u8) -> bool {
    matches!(b, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

/// Whether a parsed syllable has a feature that English words practically never have: an onset
/// like `ng`, `nh`, `kh`, `x`, a rhyme ending in `nh`/`ch`, or a vowel cluster (`oa`, `uo`, `ai`,
/// `ieu`...). Used as evidence that a text around a Telex/VNI leftover is Vietnamese.
pub(crate) fn is_distinctive(p: Parts<'_>) -> bool {
    if matches!(
        p.onset,
        b"ng" | b"ngh" | b"nh" | b"kh" | b"gh" | b"gi" | b"ph" | b"qu" | b"x"
    ) {
        return true;
    }
    if p.rhyme.ends_with(b"nh") || p.rhyme.ends_with(b"ch") {
        return true;
    }
    // `ay` is common in English (`day`, `may`, `pay`).
    let vowels = p.rhyme.iter().filter(|b| is_vowel(**b)).count();
    vowels >= 2 && p.rhyme != b"ay"
}

/// Count the vowels (`a e i o u y`) in folded letters.
pub(crate) fn vowel_count(letters: &[u8]) -> usize {
    letters.iter().filter(|b| is_vowel(**b)).count()
}

/// Cut `letters` into Vietnamese syllables of at least two letters each, writing the cut points
/// (end offsets) into `cuts`. Returns `false` (and leaves `cuts` empty) when no such cut exists
/// or the run is longer than [`MAX_SEGMENT_LETTERS`].
///
/// Among all cuts it picks the one with the fewest syllables, then the fewest syllables without
/// an onset: `nganhang` is `ngan|hang`, not `nganh|ang`. Dynamic programming, O(n * 7).
pub(crate) fn segment(letters: &[u8], cuts: &mut Vec<usize>) -> bool {
    cuts.clear();
    let n = letters.len();
    if !(2..=MAX_SEGMENT_LETTERS).contains(&n) {
        return false;
    }
    // best[i] = (syllables, onsetless syllables) for letters[..i]; `u16::MAX` = unreachable.
    let mut best = [(u16::MAX, u16::MAX); MAX_SEGMENT_LETTERS + 1];
    let mut from = [0usize; MAX_SEGMENT_LETTERS + 1];
    if let Some(b) = best.get_mut(0) {
        *b = (0, 0);
    }
    for end in 2..=n {
        for len in 2..=MAX_SYLLABLE_BYTES.min(end) {
            let start = end - len;
            let Some(&(count, onsetless)) = best.get(start) else {
                continue;
            };
            if count == u16::MAX {
                continue;
            }
            let Some(parts) = letters.get(start..end).and_then(parse) else {
                continue;
            };
            let cand = (count + 1, onsetless + u16::from(parts.onset.is_empty()));
            if let (Some(b), Some(f)) = (best.get_mut(end), from.get_mut(end)) {
                if cand < *b {
                    *b = cand;
                    *f = start;
                }
            }
        }
    }
    if best.get(n).is_none_or(|b| b.0 == u16::MAX) {
        return false;
    }
    let mut end = n;
    while end > 0 {
        cuts.push(end);
        end = from.get(end).copied().unwrap_or(0);
    }
    cuts.reverse();
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(w: &str) -> bool {
        parse(w.as_bytes()).is_some()
    }

    #[test]
    fn rhyme_table_is_sorted() {
        assert!(RHYMES.windows(2).all(|p| p.first() < p.get(1)));
        assert!(is_rhyme(b"uyen") && is_rhyme(b"a") && !is_rhyme(b"") && !is_rhyme(b"uyenx"));
    }

    #[test]
    fn common_vietnamese_syllables_parse() {
        for w in [
            "xac", "minh", "tai", "khoan", "mat", "khau", "nguyen", "nghieng", "truong", "duong",
            "quoc", "quyen", "gia", "gin", "gi", "giuong", "yeu", "uyen", "khuyen", "ke", "ky",
            "nghe", "thuy", "hoa", "oanh", "a", "o", "u", "y",
        ] {
            assert!(ok(w), "{w} should be a syllable");
        }
    }

    #[test]
    fn english_words_mostly_do_not_parse() {
        for w in [
            "verify", "account", "users", "access", "process", "password", "click", "xacs", "taif",
            "khoanr", "ddaay", "ce", "ka", "nge", "ghu", "quu", "tyen", "q", "f", "", "ubnd",
        ] {
            assert!(!ok(w), "{w} should not be a syllable");
        }
    }

    #[test]
    fn public_syllable_test_folds_its_input() {
        assert!(is_vietnamese_syllable("Khoản"));
        assert!(is_vietnamese_syllable("ĐƯỜNG"));
        assert!(is_vietnamese_syllable("thuỷ"));
        assert!(!is_vietnamese_syllable("verify"));
        assert!(!is_vietnamese_syllable("xa1c"));
        assert!(!is_vietnamese_syllable("аб"));
        assert!(!is_vietnamese_syllable("nghiengggg"));
        assert!(!is_vietnamese_syllable(""));
    }

    #[test]
    fn distinctive_features() {
        let d = |w: &str| parse(w.as_bytes()).is_some_and(is_distinctive);
        for w in [
            "minh", "khoan", "xac", "nguyen", "tai", "hoa", "vui", "duong",
        ] {
            assert!(d(w), "{w}");
        }
        for w in ["ban", "tin", "to", "cat", "day", "the", "it"] {
            assert!(!d(w), "{w}");
        }
    }

    fn seg(w: &str) -> Option<Vec<String>> {
        let mut cuts = Vec::new();
        if !segment(w.as_bytes(), &mut cuts) {
            return None;
        }
        let mut out = Vec::new();
        let mut start = 0;
        for end in cuts {
            out.push(w.get(start..end).unwrap_or("").to_string());
            start = end;
        }
        Some(out)
    }

    #[test]
    fn segmentation_prefers_few_syllables_with_onsets() {
        assert_eq!(
            seg("xacminhtaikhoan").unwrap_or_default(),
            ["xac", "minh", "tai", "khoan"]
        );
        assert_eq!(seg("nganhang").unwrap_or_default(), ["ngan", "hang"]);
        assert_eq!(seg("matkhau").unwrap_or_default(), ["mat", "khau"]);
        assert_eq!(seg("khoan").unwrap_or_default(), ["khoan"]);
        assert_eq!(seg("verify"), None);
        assert_eq!(seg("ubnd"), None);
        assert_eq!(seg("a"), None);
        assert_eq!(seg(&"ba".repeat(40)), None, "longer than the cap");
    }
}
