//! Text normalisation and phrase matching for Vietnamese and English mail.
//!
//! Pure and synchronous: no I/O, no clock, no global state. Every function takes any `&str`,
//! never panics, and does work linear in its input, which is capped at [`MAX_TEXT_BYTES`].
//!
//! # The model
//!
//! Lures are detected by phrases (`xác minh tài khoản`, `verify your account`). Attackers and
//! ordinary writers spell the same phrase many ways, so both the text and the phrases are
//! **folded** into one canonical spelling before matching:
//!
//! | written | folded | reported as |
//! |---|---|---|
//! | `Xác Minh`, `xác minh` (precomposed or combining), `XAC MINH` | `xac minh` | - |
//! | `hoà` / `hòa`, `thuỷ` / `thủy` (old and new tone placement) | `hoa`, `thuy` | - |
//! | `Đăng nhập` | `dang nhap` | - |
//! | `tà\u{200B}i khoản` (zero-width space) | `tai khoan` | [`Obfuscation::ZeroWidth`] |
//! | `t.à.i k.h.o.ả.n`, `x a c  m i n h`, `m-ậ-t k-h-ẩ-u` | `tai khoan`, `xac minh`, `mat khau` | [`Obfuscation::SplitLetters`] |
//! | `pаypal` (Cyrillic `а`), `ｖｅｒｉｆｙ` | `paypal`, `verify` | [`Obfuscation::Confusable`] |
//! | `xacs minh taif khoanr` (Telex keys) | `xac minh tai khoan` | [`Obfuscation::Telex`] |
//! | `xa1c minh ta2i khoa3n` (VNI digits) | `xac minh tai khoan` | [`Obfuscation::Vni`] |
//!
//! Folding keeps what the analysis needs for context: quotes (an advisory quotes the lure it
//! warns about), `>` at the start of a line and line breaks (quoted replies), and the sentence
//! punctuation `: . , ! ? ( ) / @`. Everything else that is not a letter or digit becomes a space
//! (except between two one-letter words, where it is kept so that folding stays idempotent).
//!
//! The obfuscations removed are themselves evidence: legitimate mail is rarely written with
//! Cyrillic letters inside Latin words or with letters spaced out by dots. [`Folded`] reports them.
//!
//! Each rule errs on the side of leaving text alone: a Russian word is not "de-confused", an
//! abbreviation like `U.B.N.D` is not joined, and an English word like `this` or `access` is
//! never read as Telex. [`fold()`] documents the exact rules.
//!
//! Folding is **idempotent** (`fold(fold(x).text).text == fold(x).text`): each rule decides from
//! information that survives folding, so a second pass has nothing left to do. The unit tests
//! check this over thousands of generated strings.
//!
//! # Matching
//!
//! A [`PhraseSet`] is parsed from a `category | phrase` list, its phrases folded with
//! [`fold_simple`], and compiled once into an Aho-Corasick automaton. [`PhraseSet::find`]
//! reports hits on word boundaries, leftmost-longest within each category, bounded in number.
//!
//! ```
//! use phishgate_text::{fold, PhraseSet, Obfuscation};
//!
//! let lures = PhraseSet::parse("account_threat | sẽ bị tạm ngưng\nverify_account | xác minh tài khoản")?;
//! let folded = fold("Vui lòng X.Á.C M.I.N.H tài khoản, nếu không tài khoản sẽ bị TẠM NGƯNG");
//! assert_eq!(folded.text, "vui long xac minh tai khoan, neu khong tai khoan se bi tam ngung");
//! assert_eq!(folded.obfuscations, [Obfuscation::SplitLetters]);
//! let hits = lures.find(&folded);
//! let categories: Vec<&str> = hits.iter().map(|h| h.category.as_str()).collect();
//! assert_eq!(categories, ["verify_account", "account_threat"]);
//! # Ok::<(), phishgate_text::PhraseError>(())
//! ```

mod chars;
mod fold;
mod latin;
mod phrase;
mod split;
mod syllable;
mod telex;

pub use fold::{fold, fold_simple, Folded, Obfuscation, MAX_TEXT_BYTES};
pub use phrase::{
    PhraseError, PhraseHit, PhraseSet, MAX_HITS, MAX_HITS_PER_CATEGORY, MAX_PHRASES,
    MAX_PHRASE_BYTES,
};
pub use syllable::is_vietnamese_syllable;

// Tests state their expectations with `panic!`/`unwrap` and index freely: the lints that keep
// the library panic-free do not apply to them.
#[cfg(test)]
#[allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]
mod tests;
