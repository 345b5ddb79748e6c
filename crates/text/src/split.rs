//! Split-letter obfuscation: `t.à.i k.h.o.ả.n`, `x a c  m i n h`, `m-ậ-t k-h-ẩ-u`.
//!
//! # The rule
//!
//! A **run** is a chain of one-letter words where each link is the same separator:
//!
//! * the first link fixes the run's separator: one space, or one of `. - _ *`;
//! * in a space-separated run every link is white space; a wide gap (two spaces or more) marks
//!   where the original words were (`x a c  m i n h` -> `xac` | `minh`);
//! * in a `.`/`-`/`_`/`*` run every link is that separator; a space (alone or next to the
//!   separator) or a doubled separator marks a word boundary (`t.à.i k.h.o.ả.n`);
//! * any other link (another separator, a line break, a comma...) ends the run.
//!
//! A run is **joined** when it has at least four letters (five if it has no word gap) and looks
//! like words rather than an abbreviation: it has two vowels or more, or it can be cut into
//! Vietnamese syllables. So `U.B.N.D`, `C.N.T.T`, `T.T.T.T`, `S.u.S.E`, `I.E.E.E` and `a b c d`
//! stay as they are, while `x.á.c.m.i.n.h`, `v e r i f y` and `t.à.i k.h.o.ả.n` are joined.
//!
//! # The output
//!
//! Each word part of a joined run (between wide gaps) becomes one word; a one-letter part is
//! glued to its neighbour. A part that can be cut into Vietnamese syllables is written as those
//! syllables, so a run written without any word gap still matches multi-word phrases:
//! `x a c m i n h t a i k h o a n` -> `xac minh tai khoan`. Other parts are written joined
//! (`p.a.s.s.w.o.r.d` -> `password`). Every word written is at least two letters long, so a
//! second fold finds no run there: folding stays idempotent.

use crate::chars;
use crate::fold::{Flags, Marks, Piece, Word};
use crate::syllable;
use crate::telex;

/// The separator of a run, fixed by its first link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Space,
    Sep(char),
}

/// The shape of the pieces between two words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gap {
    /// White space only.
    Space { wide: bool },
    /// One split separator.
    Sep(char),
    /// A split separator with a space before or after it, or doubled.
    SepWide(char),
}

/// The gap after the word at `j`, and the index of the word after it, when the gap has a shape
/// that can link two letters of a run.
fn gap_after(pieces: &[Piece], j: usize) -> Option<(Gap, usize)> {
    let word_at = |k: usize| matches!(pieces.get(k), Some(Piece::Word(_)));
    let sep_at = |k: usize| match pieces.get(k) {
        Some(Piece::Punct(c)) if chars::is_split_sep(*c) => Some(*c),
        _ => None,
    };
    match *pieces.get(j + 1)? {
        Piece::Space { wide } => {
            if word_at(j + 2) {
                return Some((Gap::Space { wide }, j + 2));
            }
            let s = sep_at(j + 2)?;
            word_at(j + 3).then_some((Gap::SepWide(s), j + 3))
        }
        Piece::Punct(s) if chars::is_split_sep(s) => {
            if word_at(j + 2) {
                return Some((Gap::Sep(s), j + 2));
            }
            let widened = match *pieces.get(j + 2)? {
                Piece::Space { .. } => true,
                Piece::Punct(t) => t == s,
                _ => false,
            };
            (widened && word_at(j + 3)).then_some((Gap::SepWide(s), j + 3))
        }
        _ => None,
    }
}

/// Whether `gap` continues a run of `class` (`None`: the gap is the run's first link), and
/// whether it starts a new word part.
fn link(class: Option<Class>, gap: Gap) -> Option<(Class, bool)> {
    match (class, gap) {
        (None | Some(Class::Space), Gap::Space { wide }) => Some((Class::Space, wide)),
        (None, Gap::Sep(s)) => Some((Class::Sep(s), false)),
        (None, Gap::SepWide(s)) => Some((Class::Sep(s), true)),
        (Some(Class::Sep(s)), Gap::Sep(t)) if s == t => Some((Class::Sep(s), false)),
        (Some(Class::Sep(s)), Gap::SepWide(t)) if s == t => Some((Class::Sep(s), true)),
        (Some(Class::Sep(s)), Gap::Space { .. }) => Some((Class::Sep(s), true)),
        _ => None,
    }
}

fn single(piece: Option<&Piece>) -> Option<(Word, u8)> {
    match piece {
        Some(Piece::Word(w)) => w.single.map(|l| (*w, l)),
        _ => None,
    }
}

/// Cheap pre-check: is there any pair of one-letter words linked by a run-shaped gap?
fn has_candidate(pieces: &[Piece]) -> bool {
    (0..pieces.len()).any(|j| {
        single(pieces.get(j)).is_some()
            && gap_after(pieces, j).is_some_and(|(_, k)| single(pieces.get(k)).is_some())
    })
}

/// Whether a run's letters look like words rather than an abbreviation: four letters or more
/// (five when the run has no word gap: `S.u.S.E`, `I.E.E.E` stay), with two vowels or a cut
/// into Vietnamese syllables. (Decided from the letters and whether there is a gap, never from
/// how wide a gap is, so a second fold, which narrows gaps, declines what the first declined.)
fn qualifies(letters: &[u8], one_part: bool, cuts: &mut Vec<usize>) -> bool {
    letters.len() >= if one_part { 5 } else { 4 }
        && (syllable::vowel_count(letters) >= 2 || syllable::segment(letters, cuts))
}

/// Reusable buffers for one fold.
#[derive(Default)]
struct Scratch {
    letters: Vec<u8>,
    part_starts: Vec<usize>,
    parts: Vec<(usize, usize)>,
    cuts: Vec<usize>,
}

/// Pass 2 of folding: join split-letter runs. Returns `pieces` untouched when there is none.
pub(crate) fn join_split_letters(
    pieces: Vec<Piece>,
    buf: &mut String,
    flags: &mut Flags,
) -> Vec<Piece> {
    if !has_candidate(&pieces) {
        return pieces;
    }
    let mut out = Vec::with_capacity(pieces.len());
    let mut s = Scratch::default();
    let mut copied = 0usize;
    let mut i = 0usize;
    while i < pieces.len() {
        let Some((first, l0)) = single(pieces.get(i)) else {
            i += 1;
            continue;
        };
        s.letters.clear();
        s.part_starts.clear();
        s.part_starts.push(0);
        s.letters.push(l0);
        let mut marks = first.marks;
        let mut lookalike = !first.text(buf).is_ascii();
        let mut class = None;
        let mut j = i;
        while let Some((gap, k)) = gap_after(&pieces, j) {
            let Some((w, l)) = single(pieces.get(k)) else {
                break;
            };
            let Some((c, new_part)) = link(class, gap) else {
                break;
            };
            class = Some(c);
            if new_part {
                s.part_starts.push(s.letters.len());
            }
            s.letters.push(l);
            marks = marks.max(w.marks);
            lookalike |= !w.text(buf).is_ascii();
            j = k;
        }
        if j > i && qualifies(&s.letters, s.part_starts.len() == 1, &mut s.cuts) {
            out.extend_from_slice(pieces.get(copied..i).unwrap_or_default());
            write_run(&mut s, marks, buf, &mut out);
            copied = j + 1;
            flags.split_letters = true;
            flags.confusable |= lookalike;
        }
        // Greedy, no restart inside a declined run: a second fold sees the same runs.
        i = j + 1;
    }
    out.extend_from_slice(pieces.get(copied..).unwrap_or_default());
    out
}

/// Write a joined run as words (see the module docs for the shape).
fn write_run(s: &mut Scratch, marks: Marks, buf: &mut String, out: &mut Vec<Piece>) {
    // Word parts, with one-letter parts glued to the previous part (or the next, at the start).
    s.parts.clear();
    let mut carry: Option<usize> = None;
    let n = s.letters.len();
    for (k, &start) in s.part_starts.iter().enumerate() {
        let end = s.part_starts.get(k + 1).copied().unwrap_or(n);
        if end - start == 1 {
            match s.parts.last_mut() {
                Some(last) => last.1 = end,
                None => carry = carry.or(Some(start)),
            }
        } else {
            s.parts.push((carry.take().unwrap_or(start), end));
        }
    }
    if let Some(start) = carry {
        s.parts.push((start, n));
    }
    let mut first_word = true;
    for &(start, end) in &s.parts {
        let Some(part) = s.letters.get(start..end) else {
            continue;
        };
        let mut from = 0usize;
        let whole = [part.len()];
        let cuts: &[usize] = if syllable::segment(part, &mut s.cuts) {
            &s.cuts
        } else {
            &whole
        };
        for &to in cuts {
            if !first_word {
                out.push(Piece::Space { wide: false });
            }
            first_word = false;
            push_word(part.get(from..to).unwrap_or_default(), marks, buf, out);
            from = to;
        }
    }
}

fn push_word(letters: &[u8], marks: Marks, buf: &mut String, out: &mut Vec<Piece>) {
    let Ok(start) = u32::try_from(buf.len()) else {
        return;
    };
    buf.extend(letters.iter().map(|&b| char::from(b)));
    let Ok(end) = u32::try_from(buf.len()) else {
        return;
    };
    out.push(Piece::Word(Word {
        start,
        end,
        marks,
        single: None,
        hint: telex::may_be_candidate(letters),
    }));
}
