//! Crate-level tests: the folding rules one by one, phrase matching, the keyword data files, and
//! adversarial and generated input.

use crate::*;

fn f(s: &str) -> String {
    fold(s).text
}

fn obf(s: &str) -> Vec<Obfuscation> {
    fold(s).obfuscations
}

// ---------------------------------------------------------------------------------------------
// Unicode normalisation, case, diacritics

#[test]
fn old_and_new_tone_placement_fold_alike() {
    assert_eq!(f("hoà"), "hoa");
    assert_eq!(f("hòa"), "hoa");
    assert_eq!(f("thuỷ"), "thuy");
    assert_eq!(f("thủy"), "thuy");
    assert_eq!(f("khoẻ khỏe"), "khoe khoe");
}

#[test]
fn precomposed_and_combining_fold_alike() {
    let precomposed = "Xác minh tài khoản";
    let combining = "Xa\u{301}c minh ta\u{300}i khoa\u{309}n";
    let nfd_full = "Xa\u{301}c minh ta\u{300}i kho\u{61}\u{309}n";
    assert_eq!(f(precomposed), "xac minh tai khoan");
    assert_eq!(f(combining), "xac minh tai khoan");
    assert_eq!(f(nfd_full), "xac minh tai khoan");
    // Vowel quality marks and tones stacked in either order.
    assert_eq!(f("ệ"), "e");
    assert_eq!(f("e\u{323}\u{302}"), "e");
    assert_eq!(f("e\u{302}\u{323}"), "e");
    assert!(obf(combining).is_empty());
}

#[test]
fn d_with_stroke_and_case() {
    assert_eq!(f("Đăng nhập ĐỂ XEM đường"), "dang nhap de xem duong");
    assert_eq!(f("ĐƯỜNG DÂY NÓNG"), "duong day nong");
    assert_eq!(f("İstanbul"), "istanbul");
}

#[test]
fn all_vietnamese_vowels_fold_to_ascii() {
    let vowels = "aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵ";
    let folded = f(vowels);
    assert!(folded.chars().all(|c| "aeiouy".contains(c)), "{folded}");
    assert_eq!(folded.len(), vowels.chars().count());
    assert_eq!(f(&vowels.to_uppercase()), folded);
}

// ---------------------------------------------------------------------------------------------
// Zero-width and invisible characters

#[test]
fn zero_width_inside_words_is_removed_and_reported() {
    for zw in [
        '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{2060}', '\u{2061}',
        '\u{2062}', '\u{2063}', '\u{2064}', '\u{FEFF}', '\u{00AD}', '\u{034F}', '\u{202E}',
    ] {
        let s = format!("tà{zw}i kh{zw}{zw}oản");
        let r = fold(&s);
        assert_eq!(r.text, "tai khoan", "U+{:04X}", u32::from(zw));
        assert_eq!(
            r.obfuscations,
            [Obfuscation::ZeroWidth],
            "U+{:04X}",
            u32::from(zw)
        );
    }
    // Before a word counts too.
    assert_eq!(obf("x \u{200B}verify"), [Obfuscation::ZeroWidth]);
}

#[test]
fn invisible_characters_outside_words_are_not_obfuscation() {
    // Emoji sequences use ZWJ and variation selectors; a BOM opens some text files.
    let r = fold("\u{FEFF}Chúc mừng 👨\u{200D}👩\u{200D}👧 ❤\u{FE0F} !");
    assert_eq!(r.text, "chuc mung !");
    assert!(r.obfuscations.is_empty(), "{:?}", r.obfuscations);
}

// ---------------------------------------------------------------------------------------------
// Confusables

#[test]
fn cyrillic_and_greek_lookalikes_in_latin_words_are_mapped() {
    // Cyrillic а, о, е, р, с inside Latin words.
    assert_eq!(f("pаypal"), "paypal");
    assert_eq!(f("Microsоft оffice"), "microsoft office");
    assert_eq!(f("xác minh tài khоản"), "xac minh tai khoan");
    assert_eq!(f("ѕесurity"), "security");
    // Greek ο, α, ι, ν, Upper-case forms map by their own shape.
    assert_eq!(f("Μicrοsοft"), "microsoft");
    assert_eq!(f("ΗΕLLΟ"), "hello");
    assert_eq!(obf("pаypal"), [Obfuscation::Confusable]);
}

#[test]
fn real_cyrillic_and_greek_text_is_left_alone() {
    for s in ["пароль", "Привет мир", "рау", "сор", "Καλημέρα", "αβγ"]
    {
        let r = fold(s);
        assert!(r.obfuscations.is_empty(), "{s}: {:?}", r.obfuscations);
        assert!(!r.text.is_ascii(), "{s} -> {}", r.text);
    }
    // A word with letters that have no Latin look-alike is Russian, even with a Latin typo.
    assert_eq!(f("пaроль"), "пaроль");
    assert_eq!(f("Привет"), "привет");
}

#[test]
fn styled_latin_is_mapped_and_reported() {
    let r = fold("ｖｅｒｉｆｙ ｙｏｕｒ ａｃｃｏｕｎｔ！");
    assert_eq!(r.text, "verify your account!");
    assert_eq!(r.obfuscations, [Obfuscation::Confusable]);
    assert_eq!(f("𝐜𝐥𝐢𝐜𝐤 𝒉𝒆𝒓𝒆"), "click here");
    assert_eq!(f("ⓛⓞⓖⓘⓝ"), "login");
    // Fullwidth digits and punctuation are plain, not obfuscation.
    let r = fold("２０２４：");
    assert_eq!(r.text, "2024:");
    assert!(r.obfuscations.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Split letters

#[test]
fn split_letters_examples_from_the_brief() {
    assert_eq!(f("t.à.i k.h.o.ả.n"), "tai khoan");
    assert_eq!(f("x a c  m i n h"), "xac minh");
    assert_eq!(f("m-ậ-t k-h-ẩ-u"), "mat khau");
    assert_eq!(obf("t.à.i k.h.o.ả.n"), [Obfuscation::SplitLetters]);
}

#[test]
fn split_letters_with_every_separator() {
    assert_eq!(f("x_a_c m_i_n_h"), "xac minh");
    assert_eq!(f("x*a*c m*i*n*h"), "xac minh");
    assert_eq!(f("X.Á.C. M.I.N.H"), "xac minh");
    assert_eq!(f("t-a-i--k-h-o-a-n"), "tai khoan");
    assert_eq!(
        f("v e r i f y   y o u r   a c c o u n t"),
        "verify your account"
    );
    assert_eq!(f("p.a.s.s.w.o.r.d"), "password");
}

#[test]
fn split_run_without_word_gaps_is_cut_into_syllables() {
    assert_eq!(f("x a c m i n h t a i k h o a n"), "xac minh tai khoan");
    assert_eq!(f("t.à.i.k.h.o.ả.n"), "tai khoan");
    assert_eq!(f("Vui lòng x-á-c-m-i-n-h ngay"), "vui long xac minh ngay");
}

#[test]
fn split_letters_keep_surrounding_text() {
    let r = fold("Hộp thư sắp đầy, hãy n.â.n.g c.ấ.p ngay: http://x.example/");
    assert_eq!(
        r.text,
        "hop thu sap day, hay nang cap ngay: http://x.example/"
    );
    assert_eq!(r.obfuscations, [Obfuscation::SplitLetters]);
}

#[test]
fn abbreviations_and_short_runs_are_not_joined() {
    for s in [
        "U.B.N.D tỉnh",
        "C.N.T.T",
        "T.T.T.T",
        "H.Đ.N.D",
        "V.N.P.T",
        "a b c d",
        "x.y.z",
        "J. R. R. Tolkien",
        "A. B. C. D.",
        "ở à ý",
        "S.u.S.E. CDs",
        "I.E.E.E floating point",
    ] {
        let r = fold(s);
        assert!(
            !r.has(Obfuscation::SplitLetters),
            "{s} -> {} {:?}",
            r.text,
            r.obfuscations
        );
    }
    assert_eq!(f("U.B.N.D tỉnh Lào Cai"), "u.b.n.d tinh lao cai");
}

#[test]
fn mixed_separators_end_a_run() {
    // `t.a-i` is not one consistent run: nothing joined.
    let r = fold("t.a-i.k");
    assert!(!r.has(Obfuscation::SplitLetters), "{}", r.text);
}

#[test]
fn ordinary_vietnamese_with_one_letter_words_is_untouched() {
    let s = "Anh ở đâu? Ừ, ý anh là ở nhà à.";
    let r = fold(s);
    assert_eq!(r.text, "anh o dau? u, y anh la o nha a.");
    assert!(r.obfuscations.is_empty());
}

#[test]
fn split_lookalike_letters_are_joined_and_reported() {
    // Cyrillic `а` and `о` as one-letter words inside a run.
    let r = fold("t.а.i k.h.о.a.n");
    assert_eq!(r.text, "tai khoan");
    assert_eq!(
        r.obfuscations,
        [Obfuscation::SplitLetters, Obfuscation::Confusable]
    );
}

// ---------------------------------------------------------------------------------------------
// Telex

#[test]
fn telex_leftovers_are_converted() {
    let r = fold("xacs minh taif khoanr");
    assert_eq!(r.text, "xac minh tai khoan");
    assert_eq!(r.obfuscations, [Obfuscation::Telex]);
    assert_eq!(
        f("Vui lòng nhaapj maatj khaaur cuar banj ddeer xacs nhaanj"),
        "vui long nhap mat khau cua ban de xac nhan"
    );
    assert_eq!(
        f("Taif khoanr cuar banj sex bij khoas trong 24h"),
        "tai khoan cua ban se bi khoa trong 24h"
    );
    assert_eq!(f("ddaay laf thoong baos"), "day la thong bao");
}

#[test]
fn english_words_are_never_read_as_telex() {
    let english = "Please access this process for users: this is how we keep your \
                   account safe, so sign in now and see the tips.";
    let r = fold(english);
    assert_eq!(r.text, english.to_lowercase());
    assert!(r.obfuscations.is_empty(), "{:?}", r.obfuscations);
    // Even inside Vietnamese text.
    let mixed = "Vui lòng access vào hệ thống để process this users của bạn ngay";
    let r = fold(mixed);
    assert_eq!(
        r.text,
        "vui long access vao he thong de process this users cua ban ngay"
    );
    assert!(r.obfuscations.is_empty(), "{:?}", r.obfuscations);
}

#[test]
fn telex_spares_english_phrases_quoted_in_vietnamese() {
    // `been` next to English words stays; the same word inside Telex-typed Vietnamese is `bên`.
    assert_eq!(
        f("Thư ghi: tài khoản has been suspended, đừng tin"),
        "thu ghi: tai khoan has been suspended, dung tin"
    );
    assert_eq!(
        f("Vui lòng nhaans vaof lieen keets been duwowis"),
        "vui long nhan vao lien ket ben duoi"
    );
    assert_eq!(
        f("Caanf its nhaats 8 kys tuwj cho maatj khaaur"),
        "can it nhat 8 ky tu cho mat khau"
    );
}

#[test]
fn telex_and_vni_skip_addresses_and_read_through_them() {
    // Words of a URL are not converted, and do not count as English against the words around.
    let r = fold(
        "Xacs minh taij ddaay: http://mail.example/taif/khoanr.php?u=ketoan.stttt@laocai.gov.vn\n\
         Traan trongj, Ban Quanr trij Heej thoongs",
    );
    assert_eq!(
        r.text,
        "xac minh tai day: http://mail.example/taif/khoanr.php?u ketoan.stttt@laocai.gov.vn\n\
         tran trong, ban quan tri he thong"
    );
    // A defanged address quoted in an advisory stays as it is.
    let s = "Tuyệt đối không truy cập hxxp://laocai.gov.vn.secure-docs[.]top/zimbra/ nhé";
    let r = fold(s);
    assert_eq!(
        r.text,
        "tuyet doi khong truy cap hxxp://laocai.gov.vn.secure docs . top/zimbra/ nhe"
    );
    assert!(r.obfuscations.is_empty());
    assert_eq!(
        f("Vui lo2ng va2o http://185.234.72.19/zimbra/?loginOp=relogin\nTra6n tro5ng, Ho64 tro75 ky4 thua65t"),
        "vui long vao http://185.234.72.19/zimbra/?loginop relogin\ntran trong, ho tro ky thuat"
    );
}

#[test]
fn portuguese_accents_are_not_vietnamese_evidence() {
    // `mais`, `dois`, `bens` would be Telex for `mai`, `doi`, `ben`; the accents around are
    // Portuguese (acute, tilde on words that are not Vietnamese syllables), not Vietnamese.
    let s = "Você tem mais dois bens pendentes. Não perca: a promoção está disponível até amanhã";
    let r = fold(s);
    assert!(r.obfuscations.is_empty(), "{} {:?}", r.text, r.obfuscations);
    assert!(r.text.contains("mais dois bens"));
}

#[test]
fn telex_needs_vietnamese_context() {
    // Alone, a final tone key is not enough.
    assert_eq!(f("cats"), "cats");
    assert_eq!(f("xacs"), "xacs");
    // English with a Vietnamese name around: no conversion.
    let s = "Dear Nguyen Van Minh, please see the cats too";
    assert_eq!(f(s), s.to_lowercase());
}

// ---------------------------------------------------------------------------------------------
// VNI

#[test]
fn vni_leftovers_are_converted() {
    let r = fold("xa1c minh ta2i khoa3n");
    assert_eq!(r.text, "xac minh tai khoan");
    assert_eq!(r.obfuscations, [Obfuscation::Vni]);
    assert_eq!(
        f("D9a6y la2 tho6ng ba1o ta2i khoa3n"),
        "day la thong bao tai khoan"
    );
}

#[test]
fn codes_and_ids_are_not_vni() {
    let s = "Mã abc123, khổ A1, file mp3, bật 2fa, covid19, h1n1, win10 của tài khoản";
    let r = fold(s);
    assert_eq!(
        r.text,
        "ma abc123, kho a1, file mp3, bat 2fa, covid19, h1n1, win10 cua tai khoan"
    );
    assert!(r.obfuscations.is_empty(), "{:?}", r.obfuscations);
}

// ---------------------------------------------------------------------------------------------
// White space and punctuation

#[test]
fn whitespace_runs_collapse() {
    assert_eq!(f("  a \t b\u{00A0}\u{2003}c  "), "a b c");
    assert_eq!(f("line one  \r\n  line two"), "line one\nline two");
    assert_eq!(f("para\n\n\n\npara"), "para\npara");
    assert_eq!(f("\n\n  start"), "start");
    assert_eq!(f("a\u{2028}b\u{0085}c"), "a\nb\nc");
}

#[test]
fn context_punctuation_is_kept() {
    assert_eq!(
        f("“Xác minh” «tài khoản» \"x\" 'y' ‘z’ „w“"),
        "“xac minh” «tai khoan» \"x\" 'y' ‘z’ „w“"
    );
    assert_eq!(
        f("Lưu ý: (1) đừng bấm! Tại sao? a/b, x@y.vn."),
        "luu y: (1) dung bam! tai sao? a/b, x@y.vn."
    );
    assert_eq!(
        f("ab#cd$ef%gh^ij&kl+mn=op[qr]st{uv}wx|yz~ab;cd<ef"),
        "ab cd ef gh ij kl mn op qr st uv wx yz ab cd ef"
    );
    // Between one-letter words, symbols stay: only spaces and `. - _ *` link split letters.
    assert_eq!(f("v#e$r%i^f&y O=c=O a+b"), "v#e$r%i^f&y o=c=o a+b");
    assert!(obf("v#e$r%i^f&y O=c=O").is_empty());
}

#[test]
fn quote_markers_are_kept_at_line_start_only() {
    assert_eq!(
        f("> Xác minh tài khoản\n>> lồng\n > > hai\nxx > yy -> zz"),
        "> xac minh tai khoan\n>> long\n> > hai\nxx yy zz"
    );
}

#[test]
fn apostrophes_between_letters_become_ascii() {
    assert_eq!(
        f("I’m in a meeting, don’t call"),
        "i'm in a meeting, don't call"
    );
    // A closing quote after a word stays a quote.
    assert_eq!(f("‘khẩn’ nhé"), "‘khan’ nhe");
}

#[test]
fn hyphens_and_symbols_become_spaces() {
    assert_eq!(f("tài-khoản e-mail sở TT&TT"), "tai khoan e mail so tt tt");
    assert_eq!(f("**Khẩn**"), "khan");
    assert_eq!(f("ab — cd – ef"), "ab cd ef");
}

// ---------------------------------------------------------------------------------------------
// Truncation

#[test]
fn long_input_is_truncated_at_a_char_boundary() {
    let s = "ắ".repeat(MAX_TEXT_BYTES / 3 + 10);
    let r = fold(&s);
    assert!(r.truncated);
    assert!(r.text.chars().all(|c| c == 'a'));
    assert_eq!(r.text.len(), MAX_TEXT_BYTES / 3);
    let short = fold("ngắn");
    assert!(!short.truncated);
    // Exactly at the limit is not truncated.
    assert!(!fold(&"a".repeat(MAX_TEXT_BYTES)).truncated);
    assert!(fold(&"a".repeat(MAX_TEXT_BYTES + 1)).truncated);
}

#[test]
fn fold_simple_matches_fold() {
    for s in [
        "Xác Minh Tài Khoản",
        "Zimbra Admin",
        "Phòng CNTT",
        "t.à.i k.h.o.ả.n",
    ] {
        assert_eq!(fold_simple(s), fold(s).text);
    }
    assert_eq!(
        fold_simple("Sở Thông tin và Truyền thông"),
        "so thong tin va truyen thong"
    );
}

#[test]
fn syllable_heuristic_is_public() {
    assert!(is_vietnamese_syllable("khoản"));
    assert!(is_vietnamese_syllable("nghiêng"));
    assert!(!is_vietnamese_syllable("access"));
    assert!(!is_vietnamese_syllable("xacs"));
}

#[test]
fn obfuscation_names() {
    let all = [
        Obfuscation::ZeroWidth,
        Obfuscation::SplitLetters,
        Obfuscation::Confusable,
        Obfuscation::Telex,
        Obfuscation::Vni,
    ];
    let names: Vec<&str> = all.iter().map(|o| o.as_str()).collect();
    assert_eq!(
        names,
        ["zero_width", "split_letters", "confusable", "telex", "vni"]
    );
    assert_eq!(Obfuscation::Telex.to_string(), "telex");
    let mut sorted = all;
    sorted.sort();
    assert_eq!(sorted, all);
}

#[test]
fn several_obfuscations_are_sorted_and_deduplicated() {
    let r = fold("Vni: xa1c minh ta2i khoa3n, telex: taif khoanr cuar banj, t.a.i k.h.o.a.n pаypal t\u{200B}ai");
    assert_eq!(
        r.obfuscations,
        [
            Obfuscation::ZeroWidth,
            Obfuscation::SplitLetters,
            Obfuscation::Confusable,
            Obfuscation::Telex,
            Obfuscation::Vni
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Phrase sets

fn set(src: &str) -> PhraseSet {
    match PhraseSet::parse(src) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

fn hits(set: &PhraseSet, text: &str) -> Vec<(String, String)> {
    set.find(&fold(text))
        .into_iter()
        .map(|h| (h.category, h.phrase))
        .collect()
}

fn cats(set: &PhraseSet, text: &str) -> Vec<String> {
    hits(set, text).into_iter().map(|h| h.0).collect()
}

#[test]
fn parse_errors_name_the_line() {
    let cases = [
        ("verify | x\nno separator here", 2, "expected"),
        ("\n\nBad-Cat | phrase", 3, "category"),
        (" | phrase", 1, "category"),
        ("a | ", 1, "empty"),
        ("a | ---", 1, "empty"),
        ("a | one | two", 1, "`|`"),
        ("a | xác minh\n# c\na | XAC MINH", 3, "duplicates line 1"),
    ];
    for (src, line, needle) in cases {
        match PhraseSet::parse(src) {
            Ok(_) => panic!("{src:?} should not parse"),
            Err(e) => {
                assert_eq!(e.line, line, "{src:?}: {e}");
                assert!(e.message.contains(needle), "{src:?}: {e}");
                assert!(e.to_string().contains(&format!("line {line}")), "{e}");
            }
        }
    }
    let long = format!("a | {}", "x".repeat(MAX_PHRASE_BYTES + 1));
    assert!(PhraseSet::parse(&long).is_err());
}

#[test]
fn comments_blank_lines_and_crlf_are_ignored() {
    let s = set("# header\r\n\r\n  verify | xác minh tài khoản  \r\n# other\r\nurgency | khẩn\r\n");
    assert_eq!(s.len(), 2);
    assert!(!s.is_empty());
    assert_eq!(s.categories().collect::<Vec<_>>(), ["verify", "urgency"]);
}

#[test]
fn same_phrase_may_be_in_two_categories() {
    let s = set("advisory | tuyệt đối không\nnegation | tuyệt đối không");
    let found = cats(&s, "Tuyệt đối không cung cấp");
    assert_eq!(found, ["advisory", "negation"]);
}

#[test]
fn phrases_match_on_word_boundaries_only() {
    let s = set("verify | tài khoản\nother | khoan");
    assert!(hits(&s, "xtai khoanz").is_empty());
    assert_eq!(cats(&s, "tai khoanz khoan"), ["other"]);
    assert_eq!(cats(&s, "(tài khoản)"), ["verify", "other"]);
    assert_eq!(cats(&s, "tài khoản."), ["verify", "other"]);
    // A longer match inside a word does not hide a shorter one on boundaries.
    let s = set("a | tai\nb | tai khoanx");
    assert_eq!(cats(&s, "tai khoanxyz"), ["a"]);
}

#[test]
fn diacritics_are_optional_on_both_sides() {
    let with = set("verify_account | xác minh tài khoản");
    let without = set("verify_account | xac minh tai khoan");
    for text in [
        "XÁC MINH TÀI KHOẢN",
        "xac minh tai khoan",
        "Xa\u{301}c minh tài khoản",
    ] {
        assert_eq!(cats(&with, text), ["verify_account"], "{text}");
        assert_eq!(cats(&without, text), ["verify_account"], "{text}");
    }
}

#[test]
fn hit_offsets_point_into_folded_text() {
    let s = set("verify_account | xác minh tài khoản\nurgency | ngay lập tức");
    let folded = fold("Bạn phải XÁC MINH tài khoản ngay lập tức!");
    let found = s.find(&folded);
    assert_eq!(found.len(), 2);
    let texts: Vec<&str> = found
        .iter()
        .map(|h| folded.text.get(h.start..h.end).unwrap_or("?"))
        .collect();
    assert_eq!(texts, ["xac minh tai khoan", "ngay lap tuc"]);
    assert_eq!(
        found.first().map(|h| h.phrase.as_str()),
        Some("xác minh tài khoản")
    );
}

#[test]
fn line_breaks_match_spaces() {
    let s = set("account_threat | sẽ bị tạm ngưng");
    assert_eq!(
        cats(&s, "tài khoản của bạn sẽ bị\ntạm ngưng"),
        ["account_threat"]
    );
}

#[test]
fn leftmost_longest_within_a_category_overlaps_across() {
    let s = set(
        "lure | cung cấp mật khẩu\nlure | mật khẩu của bạn\nadvisory | không cung cấp\nnegation | không",
    );
    let found = s.find(&fold("Không cung cấp mật khẩu của bạn"));
    let got: Vec<(&str, &str)> = found
        .iter()
        .map(|h| (h.category.as_str(), h.phrase.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("negation", "không"),
            ("advisory", "không cung cấp"),
            ("lure", "cung cấp mật khẩu"),
        ]
    );
}

#[test]
fn hits_are_bounded_per_category_and_in_all() {
    let s = set("negation | không\nlure | mật khẩu");
    let text = format!("{} mật khẩu", "không ".repeat(10_000));
    let found = s.find(&fold(&text));
    let neg = found.iter().filter(|h| h.category == "negation").count();
    let lure = found.iter().filter(|h| h.category == "lure").count();
    assert_eq!(neg, MAX_HITS_PER_CATEGORY);
    assert_eq!(lure, 1, "padding must not crowd out other categories");

    let mut src = String::new();
    for i in 0..40 {
        src.push_str(&format!("c{i} | w{i}\n"));
    }
    let s = set(&src);
    let text: String = (0..40)
        .map(|i| format!("w{i} ").repeat(40))
        .collect::<String>();
    assert_eq!(s.find(&fold(&text)).len(), MAX_HITS);
}

#[test]
fn find_in_accepts_folded_text() {
    let s = set("webmail | zimbra\nit_support | phòng cntt");
    let name = fold_simple("Phòng CNTT - Zimbra");
    let found = s.find_in(&name);
    assert_eq!(found.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Keyword data files

const LURES: &str = include_str!("../../core/data/keywords/lures.txt");
const BRANDS: &str = include_str!("../../core/data/keywords/brands.txt");

const LURE_CATEGORIES: [&str; 14] = [
    "verify_account",
    "update_account",
    "upgrade_mailbox",
    "mailbox_full",
    "password_expiry",
    "account_threat",
    "login_to_view",
    "two_factor",
    "credentials_request",
    "urgency",
    "money_request",
    "gift_card",
    "secrecy",
    "click_action",
];

fn lures() -> PhraseSet {
    set(LURES)
}

fn brands() -> PhraseSet {
    set(BRANDS)
}

/// (category, folded phrase, line) of every phrase in a list.
fn entries(src: &str) -> Vec<(String, String, usize)> {
    src.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                return None;
            }
            let (c, p) = l.split_once('|')?;
            Some((c.trim().to_string(), fold_simple(p.trim()), i + 1))
        })
        .collect()
}

#[test]
fn data_files_parse() {
    let l = lures();
    let mut expected: Vec<&str> = LURE_CATEGORIES.to_vec();
    expected.extend(["advisory", "negation"]);
    let mut got: Vec<&str> = l.categories().collect();
    got.sort_unstable();
    expected.sort_unstable();
    assert_eq!(got, expected);
    let b = brands();
    let mut got: Vec<&str> = b.categories().collect();
    got.sort_unstable();
    assert_eq!(got, ["government", "it_support", "unit", "webmail"]);
}

#[test]
fn lure_categories_have_25_to_120_phrases() {
    let all = entries(LURES);
    for cat in LURE_CATEGORIES {
        let n = all.iter().filter(|e| e.0 == cat).count();
        assert!((25..=120).contains(&n), "{cat} has {n} phrases");
    }
    for cat in ["advisory", "negation"] {
        assert!(all.iter().any(|e| e.0 == cat), "{cat} is empty");
    }
}

#[test]
fn no_duplicate_phrases_across_lure_categories() {
    // Within a category duplicates are parse errors. Across lure categories a phrase would be
    // ambiguous evidence; only `advisory` and `negation` may share wording with each other.
    let all = entries(LURES);
    let mut seen: std::collections::HashMap<&str, (&str, usize)> = Default::default();
    for (cat, phrase, line) in &all {
        if let Some((other, first)) = seen.insert(phrase.as_str(), (cat.as_str(), *line)) {
            let pair = [other, cat.as_str()];
            let allowed = pair.contains(&"advisory") && pair.contains(&"negation");
            assert!(
                allowed,
                "`{phrase}` is in `{other}` (line {first}) and `{cat}` (line {line})"
            );
        }
    }
    let brands = entries(BRANDS);
    let mut seen = std::collections::HashSet::new();
    for (cat, phrase, line) in &brands {
        assert!(
            seen.insert(phrase.clone()),
            "brands.txt line {line}: `{phrase}` ({cat}) twice"
        );
    }
}

#[test]
fn lure_phrases_are_not_single_broad_words() {
    // One-word phrases fire on ordinary mail; only a few categories may have them.
    let single_ok = [
        "urgency",
        "advisory",
        "negation",
        "gift_card",
        "account_threat",
    ];
    for (cat, phrase, line) in entries(LURES) {
        if single_ok.contains(&cat.as_str()) {
            continue;
        }
        assert!(
            phrase.contains(' '),
            "line {line}: `{phrase}` ({cat}) is a single word"
        );
    }
    for (_, phrase, line) in entries(LURES) {
        assert!(
            ![
                "cap nhat",
                "tai khoan",
                "mat khau",
                "email",
                "thong bao",
                "dang nhap"
            ]
            .contains(&phrase.as_str()),
            "line {line}: `{phrase}` is too broad"
        );
    }
}

#[test]
fn data_hits_from_the_brief() {
    let l = lures();
    assert!(cats(&l, "Tài khoản của bạn sẽ bị TẠM NGƯNG").contains(&"account_threat".to_string()));
    assert!(cats(&l, "xac minh tai khoan").contains(&"verify_account".to_string()));
    assert!(
        cats(&l, "Vui lòng x.á.c m.i.n.h t.à.i k.h.o.ả.n").contains(&"verify_account".to_string())
    );
    assert!(cats(&l, "xacs minh taif khoanr").contains(&"verify_account".to_string()));
    assert!(cats(&l, "xa1c minh ta2i khoa3n cu3a ba5n").contains(&"verify_account".to_string()));
}

#[test]
fn data_hits_per_category() {
    let l = lures();
    let cases = [
        (
            "Please verify your account within 24 hours",
            "verify_account",
        ),
        (
            "Vui lòng cập nhật thông tin tài khoản của bạn",
            "update_account",
        ),
        (
            "Nâng cấp hộp thư của bạn lên phiên bản mới",
            "upgrade_mailbox",
        ),
        ("Hộp thư của bạn đã đầy 99%", "mailbox_full"),
        ("Your mailbox is full", "mailbox_full"),
        ("Mật khẩu của bạn sẽ hết hạn hôm nay", "password_expiry"),
        ("Your password will expire today", "password_expiry"),
        ("tài khoản sẽ bị xóa vĩnh viễn", "account_threat"),
        ("Đăng nhập để xem tài liệu được chia sẻ", "login_to_view"),
        ("Sign in to view the document", "login_to_view"),
        ("Kích hoạt xác thực hai lớp ngay", "two_factor"),
        (
            "Vui lòng cung cấp tên đăng nhập và mật khẩu",
            "credentials_request",
        ),
        (
            "reply with your username and password",
            "credentials_request",
        ),
        ("Xử lý trong vòng 24 giờ", "urgency"),
        ("Em chuyển khoản gấp giúp anh", "money_request"),
        ("Mua giúp anh 5 thẻ cào Viettel", "gift_card"),
        ("Anh đang họp không nghe máy được", "secrecy"),
        ("Nhấp vào liên kết bên dưới", "click_action"),
        (
            "Đây là thư giả mạo, tuyệt đối không cung cấp mật khẩu",
            "advisory",
        ),
    ];
    for (text, cat) in cases {
        let found = cats(&l, text);
        assert!(found.contains(&cat.to_string()), "{text}: {found:?}");
    }
    let b = brands();
    for (text, cat) in [
        ("Phòng CNTT thông báo", "it_support"),
        ("Zimbra Web Client", "webmail"),
        ("Bộ Tài chính", "government"),
        ("UBND tỉnh Lào Cai", "government"),
        ("Microsoft 365 admin", "webmail"),
    ] {
        let found = cats(&b, text);
        assert!(found.contains(&cat.to_string()), "{text}: {found:?}");
    }
}

#[test]
fn ordinary_official_mail_has_no_lure_hits() {
    // Must NOT fire: genuine correspondence of a provincial department. Each of these is the
    // kind of sentence that fills legitimate mail; none asks for credentials or threatens.
    let l = lures();
    let legit = [
        "Kính gửi các cơ quan, đơn vị. Sở Thông tin và Truyền thông đề nghị các đơn vị cập nhật \
         báo cáo tình hình ứng dụng công nghệ thông tin năm 2024.",
        "Đề nghị đồng chí cập nhật số liệu vào biểu mẫu đính kèm trước ngày 15/10.",
        "Văn phòng UBND tỉnh gửi giấy mời họp về việc triển khai dịch vụ công trực tuyến.",
        "Tài khoản dịch vụ công của công dân được tạo tại bộ phận một cửa.",
        "Trân trọng cảm ơn sự phối hợp của quý cơ quan.",
        "Thực hiện Kế hoạch số 123/KH-UBND, Sở đề nghị các phòng chuyên môn báo cáo kết quả.",
        "Please find attached the minutes of the meeting held on Monday.",
        "Biên bản nghiệm thu hệ thống thư điện tử công vụ được gửi kèm theo.",
    ];
    let lure_cats: Vec<String> = LURE_CATEGORIES.iter().map(|c| c.to_string()).collect();
    for text in legit {
        let found: Vec<String> = cats(&l, text)
            .into_iter()
            .filter(|c| lure_cats.contains(c))
            .collect();
        assert!(found.is_empty(), "{text}: {found:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Adversarial and generated input

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items.get(self.below(items.len())).copied().unwrap_or("")
    }
}

/// Output shape that every fold must have.
fn check_invariants(input: &str, r: &Folded) {
    let t = &r.text;
    assert!(!t.starts_with([' ', '\n']), "{input:?} -> {t:?}");
    assert!(!t.ends_with([' ', '\n']), "{input:?} -> {t:?}");
    for bad in ["  ", " \n", "\n ", "\n\n", "\t", "\r"] {
        assert!(!t.contains(bad), "{input:?} -> {t:?} contains {bad:?}");
    }
    for c in t.chars() {
        assert!(
            !unicode_normalization::char::is_combining_mark(c),
            "{input:?} -> {t:?}: mark U+{:04X}",
            u32::from(c)
        );
        assert!(!crate::chars::is_invisible(c), "{input:?} -> {t:?}");
        assert!(
            c.to_lowercase().eq(std::iter::once(c)),
            "{input:?} -> {t:?}: {c}"
        );
    }
    let mut sorted = r.obfuscations.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, r.obfuscations);
}

fn check_idempotent(input: &str) {
    let once = fold(input);
    check_invariants(input, &once);
    let twice = fold(&once.text);
    assert_eq!(twice.text, once.text, "not idempotent for {input:?}");
    assert!(
        twice.obfuscations.is_empty(),
        "second fold of {input:?} ({:?}) reported {:?}",
        once.text,
        twice.obfuscations
    );
}

const TOKENS: &[&str] = &[
    "a",
    "b",
    "t",
    "x",
    "k",
    "h",
    "o",
    "n",
    "i",
    "y",
    "u",
    "d",
    "à",
    "ả",
    "ư",
    "ở",
    "Đ",
    "Á",
    "B",
    "tài",
    "khoản",
    "xác",
    "minh",
    "mật",
    "khẩu",
    "của",
    "bạn",
    "sẽ",
    "bị",
    "khóa",
    "nguyễn",
    "xacs",
    "taif",
    "khoanr",
    "cuar",
    "banj",
    "ddaay",
    "nhw",
    "thuwj",
    "maatj",
    "dduowngf",
    "xa1c",
    "ta2i",
    "khoa3n",
    "d9i",
    "tai2",
    "abc123",
    "mp3",
    "A1",
    "2fa",
    "covid19",
    "this",
    "is",
    "access",
    "users",
    "process",
    "the",
    "cats",
    "too",
    "now",
    "we",
    "was",
    "verify",
    "your",
    "account",
    "please",
    "UBND",
    "CNTT",
    "ubnd",
    "Zimbra",
    "а",
    "о",
    "р",
    "с",
    "е",
    "Н",
    "Ν",
    "ν",
    "Η",
    "η",
    "μ",
    "Μ",
    "п",
    "пароль",
    "рау",
    "pаypal",
    "Ｘ",
    "ａ",
    "𝐯",
    "ⓐ",
    "١",
    "中文",
    "😀",
    "👨\u{200D}👩",
    "\u{200B}",
    "\u{00AD}",
    "\u{FEFF}",
    "\u{202E}",
    "\u{0301}",
    "\u{0323}",
    "\u{0302}",
    " ",
    " ",
    " ",
    "  ",
    "   ",
    "\t",
    "\n",
    "\r\n",
    "\n\n",
    "\u{00A0}",
    "\u{2028}",
    ".",
    ".",
    "-",
    "-",
    "_",
    "*",
    "--",
    ". ",
    "- ",
    ",",
    ":",
    "!",
    "?",
    "(",
    ")",
    "/",
    "@",
    ">",
    "> ",
    "\n>",
    "\n> ",
    "'",
    "’",
    "‘",
    "“",
    "”",
    "«",
    "»",
    "\"",
    "#",
    "&",
    "+",
    "=",
    "—",
    "‐",
    "0",
    "1",
    "9",
    "24",
    "İ",
    "ß",
    "ﬁ",
    "Ⅻ",
    "ǅ",
    "ᾈ",
];

fn generate(rng: &mut Rng) -> String {
    let n = rng.below(40);
    let mut s = String::new();
    for _ in 0..n {
        match rng.below(10) {
            // A random scalar value now and then, from anywhere in Unicode.
            0 => {
                let cp = u32::try_from(rng.next() % 0x11_0000).unwrap_or(0);
                s.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
            }
            _ => s.push_str(rng.pick(TOKENS)),
        }
    }
    s
}

/// Cases for the generated-input tests: `PHISHGATE_TEXT_CASES` overrides the default (for a
/// longer run, e.g. `PHISHGATE_TEXT_CASES=1000000 cargo test --release -p phishgate-text`).
fn cases(default: usize) -> usize {
    std::env::var("PHISHGATE_TEXT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Seed for the generated-input tests: `PHISHGATE_TEXT_SEED` overrides the default.
fn seed(default: u64) -> u64 {
    std::env::var("PHISHGATE_TEXT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        | 1
}

#[test]
fn generated_strings_fold_idempotently() {
    let mut rng = Rng(seed(0x9E37_79B9_7F4A_7C15));
    for _ in 0..cases(20_000) {
        let s = generate(&mut rng);
        check_idempotent(&s);
    }
}

#[test]
fn generated_split_letter_runs_fold_idempotently() {
    // Dense single letters and separators: the split-letter rule's hardest inputs.
    let letters = [
        "a", "b", "c", "d", "e", "o", "u", "t", "n", "h", "i", "y", "à", "а", "Ν", "ν",
    ];
    let seps = [
        " ", "  ", ".", "-", "_", "*", ". ", "- ", "--", "..", " -", ", ", "\n", "+", " . ", "=",
        " = ", "#", "—", "\u{200B}", "'", "’", "/", "@", "\n> ",
    ];
    let mut rng = Rng(seed(42));
    for _ in 0..cases(20_000) {
        let mut s = String::new();
        for _ in 0..rng.below(16) {
            s.push_str(rng.pick(&letters));
            s.push_str(rng.pick(&seps));
            if rng.below(8) == 0 {
                s.push_str(rng.pick(&["minh", "xacs", "ta2i", "khoan", "ab", "this"]));
                s.push_str(rng.pick(&seps));
            }
        }
        check_idempotent(&s);
    }
}

#[test]
fn random_bytes_decoded_lossily() {
    let mut rng = Rng(seed(7));
    for _ in 0..cases(3_000) {
        let len = rng.below(300);
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() >> 24) as u8).collect();
        let s = String::from_utf8_lossy(&bytes);
        check_idempotent(&s);
    }
}

#[test]
fn phrase_matching_on_generated_text_is_sane() {
    let l = lures();
    let mut rng = Rng(seed(99));
    for _ in 0..cases(3_000) {
        let s = generate(&mut rng);
        let folded = fold(&s);
        let found = l.find(&folded);
        assert!(found.len() <= MAX_HITS);
        let mut prev = 0usize;
        for h in &found {
            assert!(h.start < h.end && h.end <= folded.text.len());
            assert!(folded.text.is_char_boundary(h.start) && folded.text.is_char_boundary(h.end));
            assert!(h.start >= prev, "hits sorted");
            prev = h.start;
        }
    }
}

#[test]
fn degenerate_inputs() {
    let cases: Vec<String> = vec![
        String::new(),
        " ".into(),
        "\u{0301}\u{0300}\u{0323}".repeat(10_000),
        ".-_* ".repeat(50_000),
        "\u{200B}".repeat(100_000),
        "\n".repeat(100_000),
        ">".repeat(100_000),
        "a ".repeat(300_000),
        "xacs ".repeat(100_000),
        "a\u{0301}".repeat(200_000),
        "ǅ".repeat(100_000),
        "\u{FFFD}".repeat(100_000),
        "𝐯".repeat(100_000),
    ];
    for s in &cases {
        let r = fold(s);
        check_invariants(s.get(..64).unwrap_or(s), &r);
        assert_eq!(fold(&r.text).text, r.text);
    }
    assert_eq!(f(""), "");
    assert!(obf("").is_empty());
    assert_eq!(f("\u{0301}\u{0300}"), "");
    assert_eq!(f(". - _ *"), ".");
}

#[test]
fn one_megabyte_of_split_letters() {
    let s = "a.".repeat(512 * 1024);
    let r = fold(&s);
    assert!(r.truncated);
    assert!(r.has(Obfuscation::SplitLetters));
    assert!(r.text.len() <= MAX_TEXT_BYTES);
    assert_eq!(fold(&r.text).text, r.text);
    let l = lures();
    let _ = l.find(&r);
}

#[test]
fn huge_mixed_input_is_fast_enough() {
    // Not a benchmark (see benches/fold.rs): a guard against accidental quadratic behaviour.
    let unit = "Tài khoản của bạn sẽ bị tạm ngưng. xacs minh taif khoanr t.a.i k.h.o.a.n \
                Please verify your account now! pаypal ";
    let s = unit.repeat(MAX_TEXT_BYTES / unit.len() + 1);
    let start = std::time::Instant::now();
    let r = fold(&s);
    let hits = lures().find(&r);
    assert!(!hits.is_empty());
    assert!(
        start.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn every_data_phrase_matches_itself_in_context() {
    // Each phrase must hit when quoted inside Vietnamese or English text, in upper case and
    // without diacritics: no folding rule (Telex context, split letters...) may eat a word of it.
    let strip = |s: &str| -> String {
        let mut out = String::new();
        for c in s.chars() {
            unicode_normalization::char::decompose_canonical(c, |d| {
                if !unicode_normalization::char::is_combining_mark(d) {
                    out.push(if d == 'đ' || d == 'Đ' { 'd' } else { d });
                }
            });
        }
        out
    };
    for src in [LURES, BRANDS] {
        let list = set(src);
        for line in src.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((cat, phrase)) = line.split_once('|') else {
                continue;
            };
            let (cat, phrase) = (cat.trim(), phrase.trim());
            for text in [
                format!("Kính gửi anh chị, vui lòng đọc kỹ: {phrase}. Trân trọng cảm ơn"),
                format!("Vui long doc ky {} roi tra loi ngay nhe", strip(phrase)),
                format!("Dear all, please note: {}! Thanks", phrase.to_uppercase()),
            ] {
                let found = list.find(&fold(&text));
                assert!(
                    found
                        .iter()
                        .any(|h| h.category == cat && h.phrase == phrase),
                    "`{phrase}` ({cat}) not found in {text:?} -> {:?}",
                    fold(&text).text
                );
            }
        }
    }
}
