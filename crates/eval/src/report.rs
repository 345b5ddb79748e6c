//! The report: one serialisable model, rendered as text for people, JSON
//! for scripts and HTML ([`crate::html`]) for a browser.
//!
//! # JSON fields (stable; `schema` changes when one is removed or renamed)
//!
//! - `schema`: 1.
//! - `meta`: `date` (UTC), `engine_version`, `config_hash`, `thresholds`
//!   (`warn`, `quarantine`, `reject`), `split` (`all`/`train`/`test`),
//!   `seed`, `test_share`, `normalized`, `threads`, `elapsed_seconds`,
//!   `messages_per_second` (every message read, normalised and scanned,
//!   over the wall time), `messages_read`, `messages_evaluated`, `groups`,
//!   `groups_evaluated`, `unreadable`, `skipped`.
//! - `classes[]`: `class` (`phish`/`spam`/`ham`), `messages`, `actions`
//!   (`accept`, `warn`, `quarantine`, `reject` counts), `rates`
//!   (`warn_or_more`, `quarantine_or_more`, `reject`: shares of the class;
//!   on ham these are false-positive rates), `precision`, `recall`, `f1`
//!   (`null` for ham), `score` (`min`, `max`, `mean`, `p5`, `p25`, `p50`,
//!   `p75`, `p95`, `p99`, `histogram[]` of `from`, `to`, `count`; `from` or
//!   `to` is `null` for the open-ended end buckets).
//! - `overall`: phish and spam against ham: `true_positives`,
//!   `false_positives`, `true_negatives`, `false_negatives`, `precision`,
//!   `recall`, `f1`, `false_positive_rate`, `accuracy`.
//! - `ham`: `false_positive_rate` (anything but accept), `rejected_rate`.
//! - `confusion[]`: `class`, `accept`, `warn`, `quarantine`, `reject`.
//! - `roc[]`: `name` (`phish+spam`, `phish`, `spam`; each against ham),
//!   `auc`, `points[]` of `threshold`, `fpr`, `tpr`.
//! - `ham_symbols[]`: false-positive drivers: `name`, `fired` (ham
//!   messages where it scored > 0), `fired_on_flagged` (of those, not
//!   accepted), `score_total`, `examples[]` (sources, flagged first).
//! - `missed[]`: phishing and spam accepted; `false_positives[]`: ham not
//!   accepted. Each: `source`, `class`, `score`, `action`, `top_symbols[]`
//!   (`name`, `score`).
//! - `largest_groups[]`: `group` (hex), `messages`, `classes`, `example`.
//! - `errors[]`: `source`, `kind` (`unreadable`, `not_mail`), `message`.
//! - `messages[]`: every evaluated message: `source`, `class`, `part`,
//!   `group` (hex), `score`, `action`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use phishgate_core::Action;
use serde::{Deserialize, Serialize};

use crate::metrics::{self, action_counts, Binary, Class, Record, RocPoint};
use crate::split::{SplitSelect, TEST_ONE_IN};

/// Current `schema` value.
pub const SCHEMA: u32 = 1;
/// Histogram: first bucket edge (below it: one open bucket).
pub const HIST_MIN: f64 = -4.0;
/// Histogram: last bucket edge (at or above it: one open bucket).
pub const HIST_MAX: f64 = 26.0;
/// Histogram bucket width.
pub const HIST_WIDTH: f64 = 2.0;
/// Symbols listed as false-positive drivers.
pub const MAX_HAM_SYMBOLS: usize = 30;
/// Examples kept per false-positive driver.
pub const MAX_EXAMPLES: usize = 3;
/// Symbols shown per missed message.
pub const TOP_SYMBOLS: usize = 3;

/// The run, as the caller knows it (the rest of [`RunMeta`] is counted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// When (UTC).
    pub date: String,
    /// phishgate version.
    pub engine_version: String,
    /// [`crate::config_hash`] of the configuration.
    pub config_hash: String,
    /// Thresholds in force.
    pub thresholds: phishgate_core::ThresholdsOut,
    /// Which part was evaluated.
    pub split: SplitSelect,
    /// Split seed.
    pub seed: u64,
    /// Share of groups in the test part (`1/3`).
    pub test_share: String,
    /// Whether messages were normalised before scanning.
    pub normalized: bool,
    /// Worker threads.
    pub threads: usize,
    /// Wall time of reading, normalising and scanning.
    pub elapsed_seconds: f64,
    /// Messages read and scanned per second.
    pub messages_per_second: f64,
    /// Messages read and scanned (all parts).
    pub messages_read: usize,
    /// Messages in the evaluated part.
    pub messages_evaluated: usize,
    /// Campaign groups (all parts).
    pub groups: usize,
    /// Campaign groups in the evaluated part.
    pub groups_evaluated: usize,
    /// Files that could not be read.
    pub unreadable: usize,
    /// Files skipped as not mail.
    pub skipped: usize,
}

impl RunMeta {
    /// A meta block with the caller's facts; counts are filled by
    /// [`Report::build`].
    pub fn new(
        date: String,
        engine_version: String,
        config_hash: String,
        thresholds: phishgate_core::ThresholdsOut,
        split: SplitSelect,
        seed: u64,
    ) -> RunMeta {
        RunMeta {
            date,
            engine_version,
            config_hash,
            thresholds,
            split,
            seed,
            test_share: format!("1/{TEST_ONE_IN}"),
            normalized: true,
            threads: 1,
            elapsed_seconds: 0.0,
            messages_per_second: 0.0,
            messages_read: 0,
            messages_evaluated: 0,
            groups: 0,
            groups_evaluated: 0,
            unreadable: 0,
            skipped: 0,
        }
    }
}

/// Messages per action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ActionCounts {
    /// Delivered.
    pub accept: usize,
    /// Delivered with a warning.
    pub warn: usize,
    /// Held.
    pub quarantine: usize,
    /// Refused.
    pub reject: usize,
}

impl From<[usize; 4]> for ActionCounts {
    fn from([accept, warn, quarantine, reject]: [usize; 4]) -> Self {
        ActionCounts {
            accept,
            warn,
            quarantine,
            reject,
        }
    }
}

/// Shares of a class at each action threshold.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Rates {
    /// Action warn or stronger (anything but accept).
    pub warn_or_more: Option<f64>,
    /// Action quarantine or reject.
    pub quarantine_or_more: Option<f64>,
    /// Action reject.
    pub reject: Option<f64>,
}

/// One histogram bucket: `from <= score < to`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Lower edge (`None`: open).
    pub from: Option<f64>,
    /// Upper edge (`None`: open).
    pub to: Option<f64>,
    /// Messages.
    pub count: usize,
}

/// Score distribution of a class.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScoreStats {
    /// Lowest.
    pub min: Option<f64>,
    /// Highest.
    pub max: Option<f64>,
    /// Mean.
    pub mean: Option<f64>,
    /// 5th percentile (nearest rank).
    pub p5: Option<f64>,
    /// 25th percentile.
    pub p25: Option<f64>,
    /// Median.
    pub p50: Option<f64>,
    /// 75th percentile.
    pub p75: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Fixed buckets, the same for every class.
    pub histogram: Vec<Bucket>,
}

impl ScoreStats {
    /// From scores.
    pub fn from_scores(scores: &[f64]) -> ScoreStats {
        let mut s = scores.to_vec();
        s.sort_by(f64::total_cmp);
        let p = |q| metrics::percentile(&s, q);
        ScoreStats {
            min: s.first().copied(),
            max: s.last().copied(),
            mean: (!s.is_empty()).then(|| s.iter().sum::<f64>() / s.len() as f64),
            p5: p(5.0),
            p25: p(25.0),
            p50: p(50.0),
            p75: p(75.0),
            p95: p(95.0),
            p99: p(99.0),
            histogram: histogram(&s),
        }
    }
}

/// Counts scores in the fixed buckets.
pub fn histogram(scores: &[f64]) -> Vec<Bucket> {
    let inner = ((HIST_MAX - HIST_MIN) / HIST_WIDTH).round() as usize;
    let mut b = Vec::with_capacity(inner + 2);
    b.push(Bucket {
        from: None,
        to: Some(HIST_MIN),
        count: 0,
    });
    for i in 0..inner {
        let from = HIST_MIN + i as f64 * HIST_WIDTH;
        b.push(Bucket {
            from: Some(from),
            to: Some(from + HIST_WIDTH),
            count: 0,
        });
    }
    b.push(Bucket {
        from: Some(HIST_MAX),
        to: None,
        count: 0,
    });
    for &s in scores {
        let idx = if s < HIST_MIN {
            0
        } else if s >= HIST_MAX {
            inner + 1
        } else {
            (((s - HIST_MIN) / HIST_WIDTH).floor() as usize).min(inner - 1) + 1
        };
        if let Some(x) = b.get_mut(idx) {
            x.count += 1;
        }
    }
    b
}

/// Everything measured about one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassReport {
    /// The class.
    pub class: Class,
    /// Messages of the class evaluated.
    pub messages: usize,
    /// Per action.
    pub actions: ActionCounts,
    /// Shares at each threshold.
    pub rates: Rates,
    /// Flagged of this class over flagged of this class and ham (`null` for ham).
    pub precision: Option<f64>,
    /// Share of the class flagged (`null` for ham).
    pub recall: Option<f64>,
    /// Harmonic mean of the two.
    pub f1: Option<f64>,
    /// Score distribution.
    pub score: ScoreStats,
}

/// Ham's two headline figures.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct HamRates {
    /// Share of ham given anything but accept.
    pub false_positive_rate: Option<f64>,
    /// Share of ham rejected.
    pub rejected_rate: Option<f64>,
}

/// One row of the confusion matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfusionRow {
    /// True class.
    pub class: Class,
    /// Counts per action.
    #[serde(flatten)]
    pub actions: ActionCounts,
}

/// A ROC curve and its area.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Roc {
    /// Which positives against ham: `phish+spam`, `phish`, `spam`.
    pub name: String,
    /// Area under the curve.
    pub auc: f64,
    /// Points, from (0, 0) to (1, 1).
    pub points: Vec<RocPoint>,
}

/// A symbol that fired on ham.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SymbolCount {
    /// Symbol name.
    pub name: String,
    /// Ham messages where it scored above 0.
    pub fired: usize,
    /// Of those, how many were not accepted.
    pub fired_on_flagged: usize,
    /// Points it gave ham in total.
    pub score_total: f64,
    /// A few sources, flagged ones first.
    pub examples: Vec<String>,
}

/// A symbol and its points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SymbolScore {
    /// Name.
    pub name: String,
    /// Points.
    pub score: f64,
}

/// A message worth a look (missed, or a false positive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notable {
    /// Where it came from.
    pub source: String,
    /// Its label.
    pub class: Class,
    /// Its score.
    pub score: f64,
    /// Its action.
    pub action: Action,
    /// Strongest positive symbols.
    pub top_symbols: Vec<SymbolScore>,
}

/// A large campaign group (a sanity check on the split).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSize {
    /// Group id (hex).
    pub group: String,
    /// Messages in it (all parts).
    pub messages: usize,
    /// Classes present.
    pub classes: Vec<Class>,
    /// One member.
    pub example: String,
}

/// Why an input gave no verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputErrorKind {
    /// The file or folder could not be read.
    Unreadable,
    /// Read, but not an e-mail message (a LICENSE, a notes file).
    NotMail,
}

/// An input that gave no verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputError {
    /// Where.
    pub source: String,
    /// Unreadable or not mail.
    pub kind: InputErrorKind,
    /// Why.
    pub message: String,
}

/// One evaluated message, compactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRow {
    /// Where it came from.
    pub source: String,
    /// Label.
    pub class: Class,
    /// Side of the split.
    pub part: crate::split::Part,
    /// Campaign group (hex).
    pub group: String,
    /// Score.
    pub score: f64,
    /// Action.
    pub action: Action,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: u32,
    /// The run.
    pub meta: RunMeta,
    /// Per class, in the order phish, spam, ham (classes without messages
    /// are left out).
    pub classes: Vec<ClassReport>,
    /// Phish and spam against ham.
    pub overall: Binary,
    /// Ham's headline figures.
    pub ham: HamRates,
    /// Class x action.
    pub confusion: Vec<ConfusionRow>,
    /// ROC curves from scores.
    pub roc: Vec<Roc>,
    /// False-positive drivers.
    pub ham_symbols: Vec<SymbolCount>,
    /// Phishing and spam that got through, strongest score first.
    pub missed: Vec<Notable>,
    /// Ham not accepted, strongest score first.
    pub false_positives: Vec<Notable>,
    /// The ten largest campaign groups.
    pub largest_groups: Vec<GroupSize>,
    /// Inputs without a verdict.
    pub errors: Vec<InputError>,
    /// Every evaluated message.
    pub messages: Vec<MessageRow>,
}

/// Members, classes present and one example source of a group.
type GroupTally<'a> = (usize, Vec<Class>, &'a str);

fn notable(r: &Record) -> Notable {
    Notable {
        source: r.source.clone(),
        class: r.class,
        score: r.score,
        action: r.action,
        top_symbols: r
            .symbols
            .iter()
            .filter(|(_, s)| *s > 0.0)
            .take(TOP_SYMBOLS)
            .map(|(name, score)| SymbolScore {
                name: name.clone(),
                score: *score,
            })
            .collect(),
    }
}

fn by_score_desc(a: &Notable, b: &Notable) -> std::cmp::Ordering {
    b.score
        .total_cmp(&a.score)
        .then_with(|| a.source.cmp(&b.source))
}

impl Report {
    /// Measures `records` (every message read, all parts) restricted to
    /// `meta.split`. Counts in `meta` are filled in here.
    pub fn build(mut meta: RunMeta, records: &[Record], errors: Vec<InputError>) -> Report {
        let selected: Vec<&Record> = records
            .iter()
            .filter(|r| meta.split.includes(r.part))
            .collect();
        let mut group_sizes: HashMap<u64, GroupTally<'_>> = HashMap::new();
        for r in records {
            let e = group_sizes
                .entry(r.group)
                .or_insert((0, Vec::new(), r.source.as_str()));
            e.0 += 1;
            if !e.1.contains(&r.class) {
                e.1.push(r.class);
            }
        }
        meta.messages_read = records.len();
        meta.messages_evaluated = selected.len();
        meta.groups = group_sizes.len();
        meta.groups_evaluated = {
            let mut g: Vec<u64> = selected.iter().map(|r| r.group).collect();
            g.sort_unstable();
            g.dedup();
            g.len()
        };
        meta.unreadable = errors
            .iter()
            .filter(|e| e.kind == InputErrorKind::Unreadable)
            .count();
        meta.skipped = errors.len() - meta.unreadable;

        let owned: Vec<Record> = selected.iter().map(|r| (*r).clone()).collect();
        let ham: Vec<&Record> = selected
            .iter()
            .copied()
            .filter(|r| r.class == Class::Ham)
            .collect();
        let ham_flagged = ham.iter().filter(|r| r.flagged()).count();

        let mut classes = Vec::new();
        let mut confusion = Vec::new();
        for class in Class::ALL {
            let rs: Vec<&Record> = selected
                .iter()
                .copied()
                .filter(|r| r.class == class)
                .collect();
            if rs.is_empty() {
                continue;
            }
            let counts = action_counts(rs.iter().copied());
            let n = rs.len();
            let [_, w, q, rej] = counts;
            let flagged = w + q + rej;
            let (precision, recall) = if class.is_positive() {
                (
                    metrics::ratio(flagged, flagged + ham_flagged),
                    metrics::ratio(flagged, n),
                )
            } else {
                (None, None)
            };
            let scores: Vec<f64> = rs.iter().map(|r| r.score).collect();
            classes.push(ClassReport {
                class,
                messages: n,
                actions: counts.into(),
                rates: Rates {
                    warn_or_more: metrics::ratio(flagged, n),
                    quarantine_or_more: metrics::ratio(q + rej, n),
                    reject: metrics::ratio(rej, n),
                },
                precision,
                recall,
                f1: metrics::f1(precision, recall),
                score: ScoreStats::from_scores(&scores),
            });
            confusion.push(ConfusionRow {
                class,
                actions: counts.into(),
            });
        }

        let ham_scores: Vec<f64> = ham.iter().map(|r| r.score).collect();
        let mut roc = Vec::new();
        for (name, positives) in [
            ("phish+spam", &[Class::Phish, Class::Spam][..]),
            ("phish", &[Class::Phish][..]),
            ("spam", &[Class::Spam][..]),
        ] {
            let pos: Vec<f64> = selected
                .iter()
                .filter(|r| positives.contains(&r.class))
                .map(|r| r.score)
                .collect();
            if let Some((points, auc)) = metrics::roc(&pos, &ham_scores) {
                roc.push(Roc {
                    name: name.to_string(),
                    auc,
                    points,
                });
            }
        }

        // False-positive drivers.
        let mut drivers: BTreeMap<&str, SymbolCount> = BTreeMap::new();
        let mut ham_sorted = ham.clone();
        ham_sorted.sort_by(|a, b| {
            b.flagged()
                .cmp(&a.flagged())
                .then_with(|| a.source.cmp(&b.source))
        });
        for r in &ham_sorted {
            for (name, score) in &r.symbols {
                if *score <= 0.0 {
                    continue;
                }
                let e = drivers.entry(name.as_str()).or_insert_with(|| SymbolCount {
                    name: name.clone(),
                    fired: 0,
                    fired_on_flagged: 0,
                    score_total: 0.0,
                    examples: Vec::new(),
                });
                e.fired += 1;
                e.fired_on_flagged += usize::from(r.flagged());
                e.score_total += score;
                if e.examples.len() < MAX_EXAMPLES {
                    e.examples.push(r.source.clone());
                }
            }
        }
        let mut ham_symbols: Vec<SymbolCount> = drivers.into_values().collect();
        for s in &mut ham_symbols {
            s.score_total = (s.score_total * 100.0).round() / 100.0;
        }
        ham_symbols.sort_by(|a, b| {
            b.fired_on_flagged
                .cmp(&a.fired_on_flagged)
                .then_with(|| b.fired.cmp(&a.fired))
                .then_with(|| a.name.cmp(&b.name))
        });
        ham_symbols.truncate(MAX_HAM_SYMBOLS);

        let mut missed: Vec<Notable> = selected
            .iter()
            .filter(|r| r.class.is_positive() && !r.flagged())
            .map(|r| notable(r))
            .collect();
        missed.sort_by(|a, b| a.class.cmp(&b.class).then_with(|| by_score_desc(a, b)));
        let mut false_positives: Vec<Notable> = ham
            .iter()
            .filter(|r| r.flagged())
            .map(|r| notable(r))
            .collect();
        false_positives.sort_by(by_score_desc);

        let mut largest: Vec<(u64, GroupTally<'_>)> = group_sizes.into_iter().collect();
        largest.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(&b.0)));
        let largest_groups = largest
            .into_iter()
            .take(10)
            .map(|(g, (n, mut classes, example))| {
                classes.sort();
                GroupSize {
                    group: format!("{g:016x}"),
                    messages: n,
                    classes,
                    example: example.to_string(),
                }
            })
            .collect();

        let mut messages: Vec<MessageRow> = owned
            .iter()
            .map(|r| MessageRow {
                source: r.source.clone(),
                class: r.class,
                part: r.part,
                group: format!("{:016x}", r.group),
                score: r.score,
                action: r.action,
            })
            .collect();
        messages.sort_by(|a, b| a.source.cmp(&b.source));

        Report {
            schema: SCHEMA,
            meta,
            classes,
            overall: Binary::over(&owned, &[Class::Phish, Class::Spam]),
            ham: HamRates {
                false_positive_rate: metrics::ratio(ham_flagged, ham.len()),
                rejected_rate: metrics::ratio(
                    ham.iter().filter(|r| r.action == Action::Reject).count(),
                    ham.len(),
                ),
            },
            confusion,
            roc,
            ham_symbols,
            missed,
            false_positives,
            largest_groups,
            errors,
            messages,
        }
    }

    /// The report of one class, if it had messages.
    pub fn class(&self, class: Class) -> Option<&ClassReport> {
        self.classes.iter().find(|c| c.class == class)
    }
}

/// A share as a percentage with two decimals, `-` when undefined.
pub fn pct(x: Option<f64>) -> String {
    match x {
        Some(v) => format!("{:.2}%", v * 100.0),
        None => "-".to_string(),
    }
}

fn num(x: Option<f64>) -> String {
    match x {
        Some(v) => format!("{v:.2}"),
        None => "-".to_string(),
    }
}

/// Missed messages and false positives listed per section in text.
pub const TEXT_LIST_LIMIT: usize = 25;

/// Renders the report for a terminal.
pub fn render_text(r: &Report) -> String {
    let mut o = String::new();
    let m = &r.meta;
    let _ = writeln!(o, "phishgate eval: {}", m.date);
    let _ = writeln!(
        o,
        "engine {}  config {}  thresholds warn {} / quarantine {} / reject {}",
        m.engine_version,
        m.config_hash,
        m.thresholds.warn,
        m.thresholds.quarantine,
        m.thresholds.reject
    );
    let _ = writeln!(
        o,
        "split {} (seed {}, test share {}, by campaign)  normalised {}",
        m.split.as_str(),
        m.seed,
        m.test_share,
        if m.normalized { "yes" } else { "no" }
    );
    let _ = writeln!(
        o,
        "messages: {} read in {} groups, {} evaluated in {} groups; {} unreadable, {} skipped",
        m.messages_read,
        m.groups,
        m.messages_evaluated,
        m.groups_evaluated,
        m.unreadable,
        m.skipped
    );
    let _ = writeln!(
        o,
        "time: {:.2} s, {:.0} messages/s on {} threads\n",
        m.elapsed_seconds, m.messages_per_second, m.threads
    );

    let _ = writeln!(
        o,
        "{:<6} {:>7} {:>10} {:>12} {:>9} {:>10} {:>9} {:>9}",
        "class", "msgs", ">=warn", ">=quarant.", "reject", "precision", "recall", "F1"
    );
    for c in &r.classes {
        let _ = writeln!(
            o,
            "{:<6} {:>7} {:>10} {:>12} {:>9} {:>10} {:>9} {:>9}",
            c.class.as_str(),
            c.messages,
            pct(c.rates.warn_or_more),
            pct(c.rates.quarantine_or_more),
            pct(c.rates.reject),
            pct(c.precision),
            pct(c.recall),
            pct(c.f1)
        );
    }
    let ov = &r.overall;
    let _ = writeln!(
        o,
        "\nphish+spam vs ham: precision {}  recall {}  F1 {}  accuracy {}",
        pct(ov.precision),
        pct(ov.recall),
        pct(ov.f1),
        pct(ov.accuracy)
    );
    if r.class(Class::Ham).is_some() {
        let _ = writeln!(
            o,
            "ham false positives: {} not accepted, {} rejected",
            pct(r.ham.false_positive_rate),
            pct(r.ham.rejected_rate)
        );
    }
    for roc in &r.roc {
        let _ = writeln!(o, "ROC AUC {:<10} {:.4}", roc.name, roc.auc);
    }

    let _ = writeln!(o, "\nconfusion (class x action)");
    let _ = writeln!(
        o,
        "{:<6} {:>8} {:>8} {:>11} {:>8}",
        "", "accept", "warn", "quarantine", "reject"
    );
    for row in &r.confusion {
        let a = row.actions;
        let _ = writeln!(
            o,
            "{:<6} {:>8} {:>8} {:>11} {:>8}",
            row.class.as_str(),
            a.accept,
            a.warn,
            a.quarantine,
            a.reject
        );
    }

    let _ = writeln!(
        o,
        "\nscores      min     p5    p25    p50    p75    p95    p99    max   mean"
    );
    for c in &r.classes {
        let s = &c.score;
        let _ = writeln!(
            o,
            "{:<6} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
            c.class.as_str(),
            num(s.min),
            num(s.p5),
            num(s.p25),
            num(s.p50),
            num(s.p75),
            num(s.p95),
            num(s.p99),
            num(s.max),
            num(s.mean)
        );
    }
    let _ = writeln!(o, "\nhistogram (messages per score bucket)");
    let _ = write!(o, "{:<14}", "bucket");
    for c in &r.classes {
        let _ = write!(o, " {:>7}", c.class.as_str());
    }
    let _ = writeln!(o);
    let buckets = r
        .classes
        .first()
        .map(|c| c.score.histogram.len())
        .unwrap_or(0);
    for i in 0..buckets {
        let total: usize = r
            .classes
            .iter()
            .filter_map(|c| c.score.histogram.get(i))
            .map(|b| b.count)
            .sum();
        if total == 0 {
            continue;
        }
        let label = r
            .classes
            .first()
            .and_then(|c| c.score.histogram.get(i))
            .map(|b| match (b.from, b.to) {
                (None, Some(t)) => format!("< {t}"),
                (Some(f), None) => format!(">= {f}"),
                (Some(f), Some(t)) => format!("[{f}, {t})"),
                (None, None) => "all".into(),
            })
            .unwrap_or_default();
        let _ = write!(o, "{label:<14}");
        for c in &r.classes {
            let _ = write!(
                o,
                " {:>7}",
                c.score.histogram.get(i).map(|b| b.count).unwrap_or(0)
            );
        }
        let _ = writeln!(o);
    }

    if !r.ham_symbols.is_empty() {
        let _ = writeln!(
            o,
            "\nsymbols on ham (false-positive drivers): fired / on flagged ham / example"
        );
        for s in r.ham_symbols.iter().take(15) {
            let _ = writeln!(
                o,
                "  {:<32} {:>5} {:>5}  {}",
                s.name,
                s.fired,
                s.fired_on_flagged,
                s.examples.first().map(String::as_str).unwrap_or("")
            );
        }
    }
    for (title, list) in [
        ("ham not accepted (false positives)", &r.false_positives),
        ("phishing and spam that got through", &r.missed),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(o, "\n{title}: {}", list.len());
        for n in list.iter().take(TEXT_LIST_LIMIT) {
            let syms: Vec<String> = n
                .top_symbols
                .iter()
                .map(|s| format!("{} {:+.2}", s.name, s.score))
                .collect();
            let _ = writeln!(
                o,
                "  {:<5} {:>6.2} {:<10} {}  [{}]",
                n.class.as_str(),
                n.score,
                n.action.as_str(),
                n.source,
                syms.join(", ")
            );
        }
        if list.len() > TEXT_LIST_LIMIT {
            let _ = writeln!(
                o,
                "  ... and {} more (see --format json)",
                list.len() - TEXT_LIST_LIMIT
            );
        }
    }
    if !r.errors.is_empty() {
        let _ = writeln!(o, "\ninputs without a verdict: {}", r.errors.len());
        for e in r.errors.iter().take(TEXT_LIST_LIMIT) {
            let _ = writeln!(o, "  {}: {}", e.source, e.message);
        }
    }
    o
}
