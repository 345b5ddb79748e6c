//! Campaign groups and the train/test split.
//!
//! Messages are joined into one group when any of these keys match
//! (union-find, so the relation is transitive):
//!
//! 1. **Same text**: the masked word sequence of the body is identical
//!    (only when it has at least [`MIN_WORDS`] words; two empty bodies are
//!    not a campaign).
//! 2. **Same subject template from the same domain**: subject shape and
//!    sender domain (only when the shape has at least
//!    [`MIN_SUBJECT_CHARS`] characters).
//! 3. **Near-duplicate text**: MinHash over the body's shingles, in
//!    [`BANDS`] bands of [`ROWS`] rows (locality-sensitive hashing): two
//!    bodies whose shingle sets have Jaccard similarity 0.9 share a band
//!    with probability ~99 %, at 0.5 with ~3 %.
//!
//! Before MinHash, shingles found in more than [`common_df`] messages are
//! dropped: they are boilerplate (mailing-list footers, "unsubscribe"
//! blocks) and would otherwise join every short message of a list into one
//! giant group.
//!
//! A group's id is the smallest message id among its members, so it does
//! not depend on file names or the order files are read in. The part of a
//! group is decided by a hash of its id and the seed: one group in
//! [`TEST_ONE_IN`] is test, the rest train. Every member of a group is on
//! the same side, which is the point.
//!
//! The groups depend on the whole set of messages given (the boilerplate
//! filter counts over all of them, and a new message can join two groups):
//! `phishgate train` must be given the same folders as `phishgate eval` to
//! see the same split.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::features::Features;
use crate::hash::{h64, mix};

/// Fewest words for the exact-text key.
pub const MIN_WORDS: usize = 5;
/// Fewest characters for the subject key.
pub const MIN_SUBJECT_CHARS: usize = 8;
/// Fewest distinct (non-boilerplate) shingles for MinHash.
pub const MIN_SHINGLES: usize = 3;
/// MinHash bands.
pub const BANDS: usize = 8;
/// MinHash rows per band.
pub const ROWS: usize = 8;
/// One group in this many goes to the test part (a third).
pub const TEST_ONE_IN: u64 = 3;
/// Of the train part's groups, one in this many is the nested validation
/// part: tuning (weights, thresholds, training settings) is chosen by
/// fitting on the rest and measuring there, so the test part is looked at
/// only to report.
pub const VALIDATION_ONE_IN: u64 = 4;

/// Shingles in more messages than this are boilerplate: 1 % of the
/// messages, but never fewer than 30 (a real campaign of 30 copies keeps
/// its shingles in a small set).
pub fn common_df(messages: usize) -> usize {
    (messages / 100).max(30)
}

/// Which side of the split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// Used to train.
    Train,
    /// Part of the train part held out for tuning.
    Validation,
    /// Held out for measurement.
    Test,
}

/// Which messages a run looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitSelect {
    /// Every message.
    #[default]
    All,
    /// The train part (validation included).
    Train,
    /// The train part without its validation groups: fit here when tuning.
    Fit,
    /// The validation groups of the train part: measure here when tuning.
    Validation,
    /// The held-out test part only.
    Test,
}

impl SplitSelect {
    /// Whether a message in `part` is selected.
    pub fn includes(self, part: Part) -> bool {
        match self {
            SplitSelect::All => true,
            SplitSelect::Train => part != Part::Test,
            SplitSelect::Fit => part == Part::Train,
            SplitSelect::Validation => part == Part::Validation,
            SplitSelect::Test => part == Part::Test,
        }
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SplitSelect::All => "all",
            SplitSelect::Train => "train",
            SplitSelect::Fit => "fit",
            SplitSelect::Validation => "validation",
            SplitSelect::Test => "test",
        }
    }
}

/// The side of a group, for a seed.
pub fn part_of(group: u64, seed: u64) -> Part {
    let h = mix(group ^ mix(seed));
    if h.is_multiple_of(TEST_ONE_IN) {
        Part::Test
    } else if (h / TEST_ONE_IN).is_multiple_of(VALIDATION_ONE_IN) {
        // The quotient is independent of the remainder: the validation
        // part is a quarter of the train part, not a skewed slice of it.
        Part::Validation
    } else {
        Part::Train
    }
}

struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn find(&mut self, mut x: usize) -> usize {
        while let Some(&p) = self.parent.get(x) {
            if p == x {
                break;
            }
            // Path halving.
            let gp = self.parent.get(p).copied().unwrap_or(p);
            if let Some(slot) = self.parent.get_mut(x) {
                *slot = gp;
            }
            x = gp;
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            if let Some(slot) = self.parent.get_mut(hi) {
                *slot = lo;
            }
        }
    }
}

/// The campaign keys of one message, given the boilerplate shingles to
/// ignore.
fn keys(f: &Features, common: &dyn Fn(u64) -> bool) -> Vec<u64> {
    let mut out = Vec::new();
    if f.words >= MIN_WORDS {
        out.push(h64(&[b"text", &f.text_hash.to_le_bytes()]));
    }
    if f.subject_shape.chars().count() >= MIN_SUBJECT_CHARS {
        out.push(h64(&[
            b"subject",
            f.subject_shape.as_bytes(),
            f.sender_domain.as_bytes(),
        ]));
    }
    let kept: Vec<u64> = f.shingles.iter().copied().filter(|s| !common(*s)).collect();
    if kept.len() >= MIN_SHINGLES {
        let mins: Vec<u64> = (0..BANDS * ROWS)
            .map(|i| {
                let salt = mix(i as u64 + 1);
                kept.iter().map(|s| mix(s ^ salt)).min().unwrap_or(0)
            })
            .collect();
        for (band, rows) in mins.chunks(ROWS).enumerate() {
            let mut parts: Vec<[u8; 8]> = vec![(band as u64).to_le_bytes()];
            parts.extend(rows.iter().map(|r| r.to_le_bytes()));
            let refs: Vec<&[u8]> = std::iter::once(&b"band"[..])
                .chain(parts.iter().map(|p| &p[..]))
                .collect();
            out.push(h64(&refs));
        }
    }
    out
}

/// Groups messages into campaigns. `ids` are stable message ids (see
/// [`crate::Prepared::id`]), one per feature set; the result gives each
/// message its group id.
pub fn assign_groups(features: &[Features], ids: &[u64]) -> Vec<u64> {
    let n = features.len().min(ids.len());
    let mut df: HashMap<u64, usize> = HashMap::new();
    for f in features.iter().take(n) {
        for s in &f.shingles {
            *df.entry(*s).or_default() += 1;
        }
    }
    let limit = common_df(n);
    let common = |s: u64| df.get(&s).is_some_and(|&c| c > limit);
    let mut uf = UnionFind {
        parent: (0..n).collect(),
    };
    let mut first: HashMap<u64, usize> = HashMap::new();
    for (i, f) in features.iter().take(n).enumerate() {
        for k in keys(f, &common) {
            match first.get(&k) {
                Some(&j) => uf.union(i, j),
                None => {
                    first.insert(k, i);
                }
            }
        }
    }
    let mut group_id: HashMap<usize, u64> = HashMap::new();
    for (i, id) in ids.iter().take(n).enumerate() {
        let root = uf.find(i);
        let e = group_id.entry(root).or_insert(*id);
        *e = (*e).min(*id);
    }
    (0..n)
        .map(|i| {
            let root = uf.find(i);
            group_id.get(&root).copied().unwrap_or(0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_third_is_test() {
        let test = (0..30_000u64)
            .filter(|g| part_of(mix(*g), 7) == Part::Test)
            .count();
        assert!((9_500..10_500).contains(&test), "{test}");
        // Another seed moves groups.
        let moved = (0..1000u64)
            .filter(|g| part_of(*g, 1) != part_of(*g, 2))
            .count();
        assert!(moved > 200, "{moved}");
    }

    #[test]
    fn validation_is_a_quarter_of_train_and_never_test() {
        let parts: Vec<Part> = (0..40_000u64).map(|g| part_of(mix(g), 3)).collect();
        let test = parts.iter().filter(|p| **p == Part::Test).count();
        let val = parts.iter().filter(|p| **p == Part::Validation).count();
        let train = parts.iter().filter(|p| **p == Part::Train).count();
        assert!((12_700..14_000).contains(&test), "{test}");
        // A quarter of the two thirds.
        assert!((6_200..7_200).contains(&val), "{val}");
        assert_eq!(test + val + train, 40_000);
        // The selections: train = fit + validation, disjoint from test.
        for p in [Part::Train, Part::Validation, Part::Test] {
            assert_eq!(
                SplitSelect::Train.includes(p),
                SplitSelect::Fit.includes(p) || SplitSelect::Validation.includes(p)
            );
            assert!(!(SplitSelect::Test.includes(p) && SplitSelect::Train.includes(p)));
            assert!(SplitSelect::All.includes(p));
        }
    }

    #[test]
    fn empty_and_short_messages_stay_apart() {
        let f = Features::default();
        let g = assign_groups(&[f.clone(), f.clone(), f], &[3, 1, 2]);
        assert_eq!(g, vec![3, 1, 2]);
    }
}
