//! Issue #6, item 1: the figures on a tiny hand-labelled set, worked out by
//! hand (thresholds warn 5 / quarantine 9 / reject 15).
//!
//! | class | scores and actions |
//! |---|---|
//! | phish | 20 reject, 10 quarantine, 6 warn, 1 accept |
//! | spam  | 16 reject, 2 accept |
//! | ham   | -1, 0, 2, 4 accept; 7 warn |
//! | phish, train part | 30 reject (left out by `--split test`) |

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use phishgate_core::{Action, ThresholdsOut};
use phishgate_eval::report::{render_text, InputError, InputErrorKind};
use phishgate_eval::{Class, Part, Record, Report, RunMeta, SplitSelect};

fn rec(class: Class, score: f64, action: Action, symbols: &[(&str, f64)], part: Part) -> Record {
    Record {
        source: format!("{}-{score}", class.as_str()),
        class,
        score,
        action,
        symbols: symbols.iter().map(|(n, s)| (n.to_string(), *s)).collect(),
        group: score.to_bits(),
        part,
    }
}

fn records() -> Vec<Record> {
    use Action::*;
    use Class::*;
    let t = Part::Test;
    vec![
        rec(Phish, 20.0, Reject, &[("LURE", 9.0)], t),
        rec(Phish, 10.0, Quarantine, &[], t),
        rec(Phish, 6.0, Warn, &[], t),
        rec(
            Phish,
            1.0,
            Accept,
            &[("WEAK", 1.0), ("NEG", -0.5), ("WEAKER", 0.5)],
            t,
        ),
        rec(Spam, 16.0, Reject, &[], t),
        rec(Spam, 2.0, Accept, &[], t),
        rec(Ham, -1.0, Accept, &[], t),
        rec(Ham, 0.0, Accept, &[], t),
        rec(Ham, 2.0, Accept, &[("OTHER", 2.0)], t),
        rec(Ham, 4.0, Accept, &[("FP_SYM", 4.0)], t),
        rec(Ham, 7.0, Warn, &[("FP_SYM", 4.0), ("OTHER", 3.0)], t),
        rec(Phish, 30.0, Reject, &[], Part::Train),
    ]
}

fn report(split: SplitSelect) -> Report {
    let meta = RunMeta::new(
        "2026-01-01 00:00:00 UTC".into(),
        "0.1.0".into(),
        "abcd".into(),
        ThresholdsOut {
            warn: 5.0,
            quarantine: 9.0,
            reject: 15.0,
        },
        split,
        0,
    );
    let errors = vec![
        InputError {
            source: "broken.eml".into(),
            kind: InputErrorKind::Unreadable,
            message: "cannot read".into(),
        },
        InputError {
            source: "LICENSE".into(),
            kind: InputErrorKind::NotMail,
            message: "not mail".into(),
        },
    ];
    Report::build(meta, &records(), errors)
}

fn close(a: Option<f64>, b: f64) {
    let a = a.expect("defined");
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

#[test]
fn hand_computed_figures() {
    let r = report(SplitSelect::Test);
    assert_eq!(r.meta.messages_read, 12);
    assert_eq!(r.meta.messages_evaluated, 11);
    assert_eq!((r.meta.unreadable, r.meta.skipped), (1, 1));

    let phish = r.class(Class::Phish).expect("phish");
    assert_eq!(phish.messages, 4);
    assert_eq!(
        [
            phish.actions.accept,
            phish.actions.warn,
            phish.actions.quarantine,
            phish.actions.reject
        ],
        [1, 1, 1, 1]
    );
    close(phish.rates.warn_or_more, 0.75);
    close(phish.rates.quarantine_or_more, 0.5);
    close(phish.rates.reject, 0.25);
    close(phish.precision, 0.75); // 3 / (3 + 1 flagged ham)
    close(phish.recall, 0.75);
    close(phish.f1, 0.75);

    let spam = r.class(Class::Spam).expect("spam");
    close(spam.rates.warn_or_more, 0.5);
    close(spam.precision, 0.5);

    let ham = r.class(Class::Ham).expect("ham");
    assert_eq!(ham.precision, None);
    close(r.ham.false_positive_rate, 0.2);
    close(r.ham.rejected_rate, 0.0);

    // Overall: TP 4, FN 2, FP 1, TN 4.
    let o = r.overall;
    assert_eq!(
        (
            o.true_positives,
            o.false_negatives,
            o.false_positives,
            o.true_negatives
        ),
        (4, 2, 1, 4)
    );
    close(o.precision, 0.8);
    close(o.recall, 4.0 / 6.0);
    close(o.f1, 2.0 * 0.8 * (4.0 / 6.0) / (0.8 + 4.0 / 6.0));
    close(o.false_positive_rate, 0.2);
    close(o.accuracy, 8.0 / 11.0);

    let rows: Vec<(Class, [usize; 4])> = r
        .confusion
        .iter()
        .map(|c| {
            let a = c.actions;
            (c.class, [a.accept, a.warn, a.quarantine, a.reject])
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (Class::Phish, [1, 1, 1, 1]),
            (Class::Spam, [1, 0, 0, 1]),
            (Class::Ham, [4, 1, 0, 0]),
        ]
    );

    // AUC = share of (positive, ham) pairs ordered right, ties one half:
    // phish 16/20; spam (5 + 2.5)/10; both 23.5/30.
    let auc = |name: &str| r.roc.iter().find(|c| c.name == name).map(|c| c.auc);
    close(auc("phish"), 0.8);
    close(auc("spam"), 0.75);
    close(auc("phish+spam"), 23.5 / 30.0);
    let curve = &r.roc.first().expect("roc").points;
    assert_eq!(curve.first().map(|p| (p.fpr, p.tpr)), Some((0.0, 0.0)));
    assert_eq!(curve.last().map(|p| (p.fpr, p.tpr)), Some((1.0, 1.0)));

    // Ham scores -1, 0, 2, 4, 7.
    let s = &ham.score;
    assert_eq!(
        (s.min, s.p5, s.p50, s.p99, s.max),
        (Some(-1.0), Some(-1.0), Some(2.0), Some(7.0), Some(7.0))
    );
    close(s.mean, 2.4);
    let counts: Vec<(Option<f64>, usize)> = s
        .histogram
        .iter()
        .filter(|b| b.count > 0)
        .map(|b| (b.from, b.count))
        .collect();
    assert_eq!(
        counts,
        vec![
            (Some(-2.0), 1),
            (Some(0.0), 1),
            (Some(2.0), 1),
            (Some(4.0), 1),
            (Some(6.0), 1)
        ]
    );
    assert_eq!(s.histogram.iter().map(|b| b.count).sum::<usize>(), 5);

    // False-positive drivers: FP_SYM fired twice, once on flagged ham,
    // the flagged example first.
    let fp = r.ham_symbols.first().expect("driver");
    assert_eq!(
        (fp.name.as_str(), fp.fired, fp.fired_on_flagged),
        ("FP_SYM", 2, 1)
    );
    assert_eq!(fp.examples.first().map(String::as_str), Some("ham-7"));

    // Missed: phish 1 and spam 2, with their positive symbols only.
    let missed: Vec<&str> = r.missed.iter().map(|m| m.source.as_str()).collect();
    assert_eq!(missed, vec!["phish-1", "spam-2"]);
    let top: Vec<&str> = r
        .missed
        .first()
        .expect("m")
        .top_symbols
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(top, vec!["WEAK", "WEAKER"]);
    assert_eq!(r.false_positives.len(), 1);

    let text = render_text(&r);
    assert!(text.contains("75.00%"), "{text}");
    assert!(
        text.contains("ham false positives: 20.00% not accepted, 0.00% rejected"),
        "{text}"
    );
}

#[test]
fn split_all_includes_the_train_part() {
    let r = report(SplitSelect::All);
    assert_eq!(r.meta.messages_evaluated, 12);
    assert_eq!(r.class(Class::Phish).map(|c| c.messages), Some(5));
    let train_only = report(SplitSelect::Train);
    assert_eq!(train_only.meta.messages_evaluated, 1);
    assert!(train_only.class(Class::Ham).is_none());
    assert!(train_only.roc.is_empty());
}
