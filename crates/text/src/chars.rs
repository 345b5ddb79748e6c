//! Character classes and tables used by folding: invisible characters, line breaks, kept
//! punctuation, styled Latin (fullwidth, mathematical) and Cyrillic/Greek look-alikes.
//!
//! All functions are `match`es on `char` ranges: no tables to load, no allocation.

/// Invisible characters that attackers put inside words to break keyword filters: zero-width
/// space/joiners and marks, word joiner and invisible operators, BOM, soft hyphen, combining
/// grapheme joiner, bidi embeddings/overrides/isolates, Mongolian vowel separator, Hangul fillers,
/// interlinear annotation controls and tag characters.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// Combining marks that only Vietnamese uses among Latin-script languages: hook above (`ả`),
/// dot below (`ạ`), horn (`ơ ư`). With `đ` and stacked marks (`ấ`), they tell Vietnamese from
/// French or Portuguese, which share the acute, grave, circumflex and tilde.
pub(crate) fn is_vietnamese_mark(c: char) -> bool {
    matches!(c, '\u{0309}' | '\u{0323}' | '\u{031B}')
}

/// Line terminators (CR, LF, VT, FF, NEL, LS, PS). A run of them, with any spaces, becomes one
/// `'\n'`.
pub(crate) fn is_newline(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Separators of split-letter obfuscation other than space (`t.a.i`, `m-a-t`, `x_a_c`, `k*h*o`).
pub(crate) fn is_split_sep(c: char) -> bool {
    matches!(c, '.' | '-' | '_' | '*')
}

/// Quotation marks of all kinds (kept in folded text: advisories quote the lures they warn about).
pub(crate) fn is_quote(c: char) -> bool {
    matches!(
        c,
        '"' | '\''
            | '\u{2018}'
            | '\u{2019}'
            | '\u{201A}'
            | '\u{201B}'
            | '\u{201C}'
            | '\u{201D}'
            | '\u{201E}'
            | '\u{201F}'
            | '\u{00AB}'
            | '\u{00BB}'
            | '\u{2039}'
            | '\u{203A}'
    )
}

/// Apostrophe look-alikes that become `'` when they sit between two letters (`I’m` -> `i'm`), so
/// that one keyword spelling matches both.
pub(crate) fn is_apostrophe_like(c: char) -> bool {
    matches!(c, '\u{2019}' | '\u{2018}' | '\u{201B}')
}

/// Punctuation kept as-is in folded text (besides quotes, `'>'` at line start and the split
/// separators, which have their own rules).
pub(crate) fn is_kept_punct(c: char) -> bool {
    is_quote(c) || matches!(c, ':' | '.' | ',' | '!' | '?' | '(' | ')' | '/' | '@')
}

/// Hyphen variants that count as `-` (for split letters like `m‐ậ‐t`).
pub(crate) fn hyphen_to_ascii(c: char) -> char {
    match c {
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2043}' | '\u{FE63}' => '-',
        _ => c,
    }
}

/// Styled Latin that Unicode calls compatibility characters: fullwidth forms, mathematical
/// alphanumerics (`𝐯𝐞𝐫𝐢𝐟𝐲`), circled and squared letters. Returns the plain character.
pub(crate) fn unstyle(c: char) -> Option<char> {
    let styled = matches!(
        c,
        '\u{FF01}'..='\u{FF5E}'
            | '\u{1D400}'..='\u{1D7FF}'
            | '\u{24B6}'..='\u{24E9}'
            | '\u{1F130}'..='\u{1F189}'
    );
    if !styled {
        return None;
    }
    let mut first = None;
    unicode_normalization::char::decompose_compatible(c, |d| {
        if first.is_none() {
            first = Some(d);
        }
    });
    first.filter(|d| *d != c)
}

/// Latin letters outside ASCII (after canonical decomposition, Vietnamese letters are ASCII plus
/// marks; this covers `đ`, `ø`, `ß`, `æ`...).
pub(crate) fn is_latin(c: char) -> bool {
    c.is_ascii_alphabetic()
        || (matches!(c, '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}' | '\u{2C60}'..='\u{2C7F}' | '\u{A720}'..='\u{A7FF}')
            && c.is_alphabetic())
}

/// Upper-case Greek and Cyrillic letters whose look-alike differs from their lower-case form's
/// (`Η` looks like `H`, `η` like `n`). Consulted on the character as written, before lower-casing.
pub(crate) fn confusable_upper(c: char) -> Option<u8> {
    Some(match c {
        'Α' | 'А' => b'a',
        'Β' | 'В' => b'b',
        'Ε' | 'Е' => b'e',
        'Ζ' => b'z',
        'Η' | 'Н' | 'Һ' => b'h',
        'Ι' | 'І' => b'i',
        'Κ' | 'К' => b'k',
        'Μ' | 'М' => b'm',
        'Ν' => b'n',
        'Ο' | 'О' => b'o',
        'Ρ' | 'Р' => b'p',
        'Τ' | 'Т' => b't',
        'Υ' | 'У' | 'Ү' => b'y',
        'Χ' | 'Х' => b'x',
        'Ѕ' => b's',
        'Ј' => b'j',
        'Ӏ' => b'l',
        'Ԛ' => b'q',
        'Ԝ' => b'w',
        'С' => b'c',
        _ => return None,
    })
}

/// Lower-case Cyrillic, Greek and IPA letters that look like a Latin letter.
pub(crate) fn confusable_lower(c: char) -> Option<u8> {
    Some(match c {
        // Cyrillic
        'а' => b'a',
        'в' => b'b',
        'с' => b'c',
        'ԁ' => b'd',
        'е' => b'e',
        'һ' | 'н' => b'h',
        'і' => b'i',
        'ј' => b'j',
        'к' => b'k',
        'ӏ' => b'l',
        'м' => b'm',
        'о' => b'o',
        'р' => b'p',
        'ԛ' => b'q',
        'ѕ' => b's',
        'т' => b't',
        'ԝ' => b'w',
        'х' => b'x',
        'у' | 'ү' => b'y',
        // Greek
        'α' => b'a',
        'β' => b'b',
        'ε' => b'e',
        'η' => b'n',
        'ι' => b'i',
        'κ' => b'k',
        'ν' => b'v',
        'ο' => b'o',
        'ρ' => b'p',
        'τ' => b't',
        'υ' | 'μ' => b'u',
        'χ' => b'x',
        'γ' => b'y',
        // IPA letters that pass for Latin
        'ɑ' => b'a',
        'ɡ' => b'g',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styled_latin_is_unstyled() {
        assert_eq!(unstyle('Ａ'), Some('A'));
        assert_eq!(unstyle('ｚ'), Some('z'));
        assert_eq!(unstyle('！'), Some('!'));
        assert_eq!(unstyle('𝐯'), Some('v'));
        assert_eq!(unstyle('ⓐ'), Some('a'));
        assert_eq!(unstyle('a'), None);
        assert_eq!(unstyle('а'), None);
    }

    #[test]
    fn confusables_cover_the_usual_suspects() {
        for c in "аеорсухіјѕԁӏкмнтв".chars() {
            assert!(confusable_lower(c).is_some(), "{c}");
        }
        for c in "οαειχκνρτυ".chars() {
            assert!(confusable_lower(c).is_some(), "{c}");
        }
        assert_eq!(confusable_upper('Η'), Some(b'h'));
        assert_eq!(confusable_lower('η'), Some(b'n'));
        assert_eq!(confusable_lower('п'), None);
        assert_eq!(confusable_lower('a'), None);
    }

    #[test]
    fn every_upper_confusable_is_an_upper_case_letter() {
        for c in "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧАВЕНІКМОРТУХЅЈӀСҺҮԚԜ".chars() {
            assert!(confusable_upper(c).is_some(), "{c}");
            assert!(c.is_uppercase(), "{c}");
        }
    }
}
