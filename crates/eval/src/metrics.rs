//! The arithmetic of measurement: detection rates, false positives,
//! precision/recall/F1, score statistics and the ROC curve.
//!
//! Positive means phishing or spam; a message is *flagged* when its action
//! is anything but `accept` (a warning banner is already an intervention a
//! user sees). Per-class precision answers "if the mail were only this
//! class and ham, how much of what is flagged would be right":
//! `flagged(class) / (flagged(class) + flagged(ham))`.

use phishgate_core::Action;
use serde::{Deserialize, Serialize};

use crate::split::Part;

/// A message's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Phishing and scams.
    Phish,
    /// Spam.
    Spam,
    /// Legitimate mail.
    Ham,
}

impl Class {
    /// All classes, in report order.
    pub const ALL: [Class; 3] = [Class::Phish, Class::Spam, Class::Ham];

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Phish => "phish",
            Class::Spam => "spam",
            Class::Ham => "ham",
        }
    }

    /// Phishing or spam.
    pub fn is_positive(self) -> bool {
        self != Class::Ham
    }
}

/// One evaluated message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Where it came from (file path, `box.mbox#3`).
    pub source: String,
    /// Its label.
    pub class: Class,
    /// Total score.
    pub score: f64,
    /// Action.
    pub action: Action,
    /// Symbols with a non-zero score, strongest first: (name, score).
    pub symbols: Vec<(String, f64)>,
    /// Campaign group id.
    pub group: u64,
    /// Side of the split.
    pub part: Part,
}

impl Record {
    /// Anything but accept.
    pub fn flagged(&self) -> bool {
        self.action != Action::Accept
    }
}

/// Counts of a binary decision (positive = phish or spam, flagged = not
/// accept).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Binary {
    /// Positives flagged.
    pub true_positives: usize,
    /// Ham flagged.
    pub false_positives: usize,
    /// Ham accepted.
    pub true_negatives: usize,
    /// Positives accepted.
    pub false_negatives: usize,
    /// TP / (TP + FP); `null` when nothing was flagged.
    pub precision: Option<f64>,
    /// TP / (TP + FN); `null` without positives.
    pub recall: Option<f64>,
    /// Harmonic mean of precision and recall.
    pub f1: Option<f64>,
    /// FP / (FP + TN); `null` without ham.
    pub false_positive_rate: Option<f64>,
    /// (TP + TN) / all.
    pub accuracy: Option<f64>,
}

/// A ratio, `None` when the denominator is zero.
pub fn ratio(num: usize, den: usize) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// Harmonic mean.
pub fn f1(precision: Option<f64>, recall: Option<f64>) -> Option<f64> {
    match (precision, recall) {
        (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
        (Some(_), Some(_)) => Some(0.0),
        _ => None,
    }
}

impl Binary {
    /// From counts.
    pub fn from_counts(tp: usize, fp: usize, tn: usize, fneg: usize) -> Binary {
        let precision = ratio(tp, tp + fp);
        let recall = ratio(tp, tp + fneg);
        Binary {
            true_positives: tp,
            false_positives: fp,
            true_negatives: tn,
            false_negatives: fneg,
            precision,
            recall,
            f1: f1(precision, recall),
            false_positive_rate: ratio(fp, fp + tn),
            accuracy: ratio(tp + tn, tp + fp + tn + fneg),
        }
    }

    /// Over records, for the positive classes in `positives`; ham is the
    /// negative class, other classes are ignored.
    pub fn over(records: &[Record], positives: &[Class]) -> Binary {
        let (mut tp, mut fp, mut tn, mut fneg) = (0, 0, 0, 0);
        for r in records {
            match (r.class, r.flagged()) {
                (Class::Ham, true) => fp += 1,
                (Class::Ham, false) => tn += 1,
                (c, true) if positives.contains(&c) => tp += 1,
                (c, false) if positives.contains(&c) => fneg += 1,
                _ => {}
            }
        }
        Binary::from_counts(tp, fp, tn, fneg)
    }
}

/// Messages per action: `[accept, warn, quarantine, reject]`.
pub fn action_counts<'a>(records: impl IntoIterator<Item = &'a Record>) -> [usize; 4] {
    let mut c = [0usize; 4];
    for r in records {
        let i = match r.action {
            Action::Accept => 0,
            Action::Warn => 1,
            Action::Quarantine => 2,
            Action::Reject => 3,
        };
        if let Some(slot) = c.get_mut(i) {
            *slot += 1;
        }
    }
    c
}

/// Nearest-rank percentile of sorted values (`p` in 0..=100).
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// One point of a ROC curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RocPoint {
    /// Flag everything scoring at least this.
    pub threshold: f64,
    /// False-positive rate at that threshold.
    pub fpr: f64,
    /// True-positive rate at that threshold.
    pub tpr: f64,
}

/// A ROC curve from scores: one point per distinct score (ties move both
/// rates at once), from (0, 0) to (1, 1), and the area under it
/// (trapezoids, which counts a tied positive/negative pair as one half:
/// the Mann-Whitney statistic). `None` without positives or negatives.
pub fn roc(positives: &[f64], negatives: &[f64]) -> Option<(Vec<RocPoint>, f64)> {
    if positives.is_empty() || negatives.is_empty() {
        return None;
    }
    let mut all: Vec<(f64, bool)> = positives
        .iter()
        .map(|&s| (s, true))
        .chain(negatives.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (np, nn) = (positives.len() as f64, negatives.len() as f64);
    let mut points = vec![RocPoint {
        threshold: f64::INFINITY,
        fpr: 0.0,
        tpr: 0.0,
    }];
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut auc = 0.0;
    let mut i = 0;
    while let Some(&(score, _)) = all.get(i) {
        while let Some(&(s, positive)) = all.get(i) {
            if s.total_cmp(&score) != std::cmp::Ordering::Equal {
                break;
            }
            if positive {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        let prev = points.last().copied().unwrap_or(RocPoint {
            threshold: score,
            fpr: 0.0,
            tpr: 0.0,
        });
        let p = RocPoint {
            threshold: score,
            fpr: fp as f64 / nn,
            tpr: tp as f64 / np,
        };
        auc += (p.fpr - prev.fpr) * (p.tpr + prev.tpr) / 2.0;
        points.push(p);
    }
    // JSON has no infinity: the first point's threshold is the top score.
    if let (Some(top), Some(first)) = (all.first().map(|a| a.0), points.first_mut()) {
        first.threshold = top + 1.0;
    }
    Some((points, auc))
}
