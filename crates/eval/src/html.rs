//! The HTML report: one self-contained page (inline CSS, inline SVG drawn
//! here, no script, no external resource) that opens in any browser
//! without network.
//!
//! Everything from the messages (file names, symbol names) is escaped, and
//! `://` is written `[:]//`, so the page never holds a live URL, even from
//! hostile file names.

use std::fmt::Write as _;

use crate::metrics::RocPoint;
use crate::report::{pct, Bucket, Notable, Report, HIST_MAX, HIST_MIN, HIST_WIDTH};

/// Class colours (phish, spam, ham) and the combined curve.
const COLOURS: [(&str, &str); 4] = [
    ("phish", "#c0392b"),
    ("spam", "#d68910"),
    ("ham", "#1e8449"),
    ("phish+spam", "#2e4053"),
];

fn colour(name: &str) -> &'static str {
    COLOURS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
        .unwrap_or("#555")
}

/// Escapes text for HTML and defangs URLs.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o.replace("://", "[:]//")
}

const CSS: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}\
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 9px;border-bottom:1px solid #eee;text-align:right}\
th{background:#f4f6f7}td.l,th.l{text-align:left}.meta{color:#555}.grid{display:flex;flex-wrap:wrap;gap:18px}\
figure{margin:0}figcaption{font-weight:600;margin-bottom:4px}svg text{font:11px system-ui,sans-serif}\
.mono{font-family:ui-monospace,monospace;font-size:12px}details{margin:6px 0}";

/// Renders the report as a complete HTML document.
pub fn render_html(r: &Report) -> String {
    let m = &r.meta;
    let mut o = String::new();
    let _ = write!(
        o,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>phishgate eval {}</title><style>{CSS}</style></head><body>",
        esc(&m.date)
    );
    let _ = write!(o, "<h1>phishgate detection report</h1><p class=\"meta\">{} · engine {} · config {} · thresholds warn {} / quarantine {} / reject {}<br>split <b>{}</b> by campaign (seed {}, test share {}), messages normalised: {} · {} messages read in {} groups, <b>{}</b> evaluated in {} groups · {} unreadable, {} skipped · {:.2} s, {:.0} messages/s on {} threads</p>",
        esc(&m.date), esc(&m.engine_version), esc(&m.config_hash), m.thresholds.warn, m.thresholds.quarantine, m.thresholds.reject,
        m.split.as_str(), m.seed, esc(&m.test_share), if m.normalized {"yes"} else {"no"},
        m.messages_read, m.groups, m.messages_evaluated, m.groups_evaluated, m.unreadable, m.skipped,
        m.elapsed_seconds, m.messages_per_second, m.threads);

    o.push_str("<h2>Detection</h2><table><tr><th class=\"l\">class</th><th>messages</th><th>&ge; warn</th><th>&ge; quarantine</th><th>reject</th><th>precision</th><th>recall</th><th>F1</th></tr>");
    for c in &r.classes {
        let _ = write!(
            o,
            "<tr><td class=\"l\" style=\"color:{}\"><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            colour(c.class.as_str()),
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
    o.push_str("</table>");
    let ov = &r.overall;
    let _ = write!(
        o,
        "<p>Phishing and spam against ham: precision <b>{}</b>, recall <b>{}</b>, F1 <b>{}</b>, accuracy {}. Ham: <b>{}</b> not accepted, <b>{}</b> rejected.</p>",
        pct(ov.precision), pct(ov.recall), pct(ov.f1), pct(ov.accuracy),
        pct(r.ham.false_positive_rate), pct(r.ham.rejected_rate)
    );

    o.push_str("<h2>Confusion matrix (class &times; action)</h2><table><tr><th class=\"l\"></th><th>accept</th><th>warn</th><th>quarantine</th><th>reject</th></tr>");
    for row in &r.confusion {
        let a = row.actions;
        let _ = write!(
            o,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            row.class.as_str(),
            a.accept,
            a.warn,
            a.quarantine,
            a.reject
        );
    }
    o.push_str("</table>");

    o.push_str("<h2>Score distribution</h2><div class=\"grid\">");
    for c in &r.classes {
        let _ = write!(
            o,
            "<figure><figcaption>{} ({} messages; median {})</figcaption>{}</figure>",
            c.class.as_str(),
            c.messages,
            c.score
                .p50
                .map(|v| format!("{v:.2}"))
                .unwrap_or_else(|| "-".into()),
            histogram_svg(&c.score.histogram, colour(c.class.as_str()), r)
        );
    }
    o.push_str("</div><table><tr><th class=\"l\">class</th><th>min</th><th>p5</th><th>p25</th><th>p50</th><th>p75</th><th>p95</th><th>p99</th><th>max</th><th>mean</th></tr>");
    for c in &r.classes {
        let s = &c.score;
        let f = |x: Option<f64>| x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into());
        let _ = write!(o, "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.class.as_str(), f(s.min), f(s.p5), f(s.p25), f(s.p50), f(s.p75), f(s.p95), f(s.p99), f(s.max), f(s.mean));
    }
    o.push_str("</table>");

    if !r.roc.is_empty() {
        o.push_str(
            "<h2>ROC curves (score as the only input, against ham)</h2><div class=\"grid\">",
        );
        let _ = write!(
            o,
            "<figure><figcaption>full range</figcaption>{}</figure><figure><figcaption>false-positive rate up to 5&nbsp;%</figcaption>{}</figure>",
            roc_svg(r, 1.0),
            roc_svg(r, 0.05)
        );
        o.push_str("</div><p>");
        for roc in &r.roc {
            let _ = write!(
                o,
                "<svg width=\"24\" height=\"8\" aria-hidden=\"true\"><line x1=\"0\" y1=\"4\" x2=\"24\" y2=\"4\" stroke=\"{}\" stroke-width=\"2\"{}/></svg> {} AUC <b>{:.4}</b> &nbsp; ",
                colour(&roc.name),
                dash(&roc.name),
                esc(&roc.name),
                roc.auc
            );
        }
        o.push_str("</p>");
    }

    if !r.ham_symbols.is_empty() {
        o.push_str("<h2>Symbols that fire on ham (false-positive drivers)</h2><table><tr><th class=\"l\">symbol</th><th>ham messages</th><th>on flagged ham</th><th>points</th><th class=\"l\">examples</th></tr>");
        for s in &r.ham_symbols {
            let _ = write!(
                o,
                "<tr><td class=\"l mono\">{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td class=\"l mono\">{}</td></tr>",
                esc(&s.name),
                s.fired,
                s.fired_on_flagged,
                s.score_total,
                s.examples.iter().map(|e| esc(e)).collect::<Vec<_>>().join("<br>")
            );
        }
        o.push_str("</table>");
    }
    notable_table(
        &mut o,
        "Ham not accepted (false positives)",
        &r.false_positives,
    );
    notable_table(&mut o, "Phishing and spam that got through", &r.missed);

    o.push_str("<h2>Largest campaign groups</h2><table><tr><th class=\"l\">group</th><th>messages</th><th class=\"l\">classes</th><th class=\"l\">example</th></tr>");
    for g in &r.largest_groups {
        let classes: Vec<&str> = g.classes.iter().map(|c| c.as_str()).collect();
        let _ = write!(
            o,
            "<tr><td class=\"l mono\">{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l mono\">{}</td></tr>",
            esc(&g.group),
            g.messages,
            classes.join(", "),
            esc(&g.example)
        );
    }
    o.push_str("</table>");
    if !r.errors.is_empty() {
        let _ = write!(
            o,
            "<h2>Inputs without a verdict</h2><details><summary>{} inputs</summary><table>",
            r.errors.len()
        );
        for e in &r.errors {
            let _ = write!(
                o,
                "<tr><td class=\"l mono\">{}</td><td class=\"l\">{}</td></tr>",
                esc(&e.source),
                esc(&e.message)
            );
        }
        o.push_str("</table></details>");
    }
    o.push_str("<p class=\"meta\">Generated by <code>phishgate eval</code>. Positive = phishing or spam; flagged = any action but accept. Per-class precision counts that class and ham only.</p></body></html>\n");
    o
}

fn notable_table(o: &mut String, title: &str, list: &[Notable]) {
    if list.is_empty() {
        return;
    }
    let _ = write!(
        o,
        "<h2>{title}</h2><details{}><summary>{} messages</summary><table><tr><th class=\"l\">class</th><th>score</th><th class=\"l\">action</th><th class=\"l\">file</th><th class=\"l\">top symbols</th></tr>",
        if list.len() <= 30 { " open" } else { "" },
        list.len()
    );
    for n in list {
        let syms: Vec<String> = n
            .top_symbols
            .iter()
            .map(|s| format!("{} {:+.2}", esc(&s.name), s.score))
            .collect();
        let _ = write!(
            o,
            "<tr><td class=\"l\">{}</td><td>{:.2}</td><td class=\"l\">{}</td><td class=\"l mono\">{}</td><td class=\"l mono\">{}</td></tr>",
            n.class.as_str(),
            n.score,
            n.action.as_str(),
            esc(&n.source),
            syms.join(", ")
        );
    }
    o.push_str("</table></details>");
}

/// A bar chart of one class's histogram, with the action thresholds.
fn histogram_svg(buckets: &[Bucket], fill: &str, r: &Report) -> String {
    let (w, h, left, bottom, top) = (340.0, 170.0, 36.0, 28.0, 10.0);
    let n = buckets.len().max(1) as f64;
    let bw = (w - left - 8.0) / n;
    let max = buckets.iter().map(|b| b.count).max().unwrap_or(0).max(1) as f64;
    let ph = h - bottom - top;
    let mut s = format!("<svg role=\"img\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">");
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"#888\"/><text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{max}</text><text x=\"{tx}\" y=\"{y}\" text-anchor=\"end\">0</text>",
        y = h - bottom,
        x2 = w - 8.0,
        tx = left - 4.0,
        ty = top + 9.0,
        max = max as usize
    );
    for (i, b) in buckets.iter().enumerate() {
        let bh = b.count as f64 / max * ph;
        let x = left + i as f64 * bw;
        let label = match (b.from, b.to) {
            (None, Some(t)) => format!("&lt; {t}"),
            (Some(f), None) => format!("&ge; {f}"),
            (Some(f), Some(t)) => format!("{f} to {t}"),
            (None, None) => String::new(),
        };
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\"><title>{label}: {}</title></rect>",
            x + 1.0,
            h - bottom - bh,
            (bw - 2.0).max(1.0),
            bh,
            b.count
        );
    }
    // Axis labels at the bucket edges every 10 points.
    let edge_x = |score: f64| left + (1.0 + (score - HIST_MIN) / HIST_WIDTH) * bw;
    let mut e = HIST_MIN;
    while e <= HIST_MAX {
        if (e % 10.0).abs() < f64::EPSILON {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{e}</text>",
                edge_x(e),
                h - bottom + 13.0
            );
        }
        e += HIST_WIDTH;
    }
    let t = r.meta.thresholds;
    for (name, v) in [
        ("warn", t.warn),
        ("quar.", t.quarantine),
        ("reject", t.reject),
    ] {
        if (HIST_MIN..=HIST_MAX).contains(&v) {
            let x = edge_x(v);
            let _ = write!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{y}\" stroke=\"#555\" stroke-dasharray=\"3 3\"/><text x=\"{x:.1}\" y=\"{ly}\" text-anchor=\"middle\" fill=\"#555\">{name}</text>",
                y = h - bottom,
                ly = h - 3.0
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// The stroke pattern of a ROC curve: the combined curve solid, each
/// class's dashed. With a single positive class both curves are the same
/// line, and the dashes drawn over the solid one keep both visible.
fn dash(name: &str) -> &'static str {
    if name == "phish+spam" {
        ""
    } else {
        " stroke-dasharray=\"7 5\""
    }
}

/// ROC curves, false-positive rate on x up to `max_fpr`.
fn roc_svg(r: &Report, max_fpr: f64) -> String {
    let (size, pad) = (300.0, 34.0);
    let plot = size - 2.0 * pad + 20.0;
    let x = |fpr: f64| pad + (fpr / max_fpr).min(1.0) * plot;
    let y = |tpr: f64| pad - 20.0 + (1.0 - tpr) * plot;
    let mut s = format!(
        "<svg role=\"img\" width=\"{size}\" height=\"{size}\" viewBox=\"0 0 {size} {size}\">"
    );
    let _ = write!(
        s,
        "<rect x=\"{pad}\" y=\"{:.1}\" width=\"{plot:.1}\" height=\"{plot:.1}\" fill=\"none\" stroke=\"#888\"/>",
        pad - 20.0
    );
    for i in 0..=4 {
        let f = i as f64 / 4.0;
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{f}</text>",
            x(f * max_fpr),
            y(0.0) + 14.0,
            trim_float(f * max_fpr),
            pad - 4.0,
            y(f) + 4.0
        );
    }
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">false-positive rate</text>",
        pad + plot / 2.0,
        size - 2.0
    );
    if max_fpr >= 1.0 {
        let _ = write!(
            s,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ccc\" stroke-dasharray=\"4 4\"/>",
            x(0.0),
            y(0.0),
            x(1.0),
            y(1.0)
        );
    }
    for roc in &r.roc {
        let pts: Vec<String> = clip(&roc.points, max_fpr)
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.fpr), y(p.tpr)))
            .collect();
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} points=\"{}\"><title>{} AUC {:.4}</title></polyline>",
            colour(&roc.name),
            dash(&roc.name),
            pts.join(" "),
            esc(&roc.name),
            roc.auc
        );
    }
    s.push_str("</svg>");
    s
}

/// Points with fpr up to `max` plus the first one beyond, cut at `max`.
fn clip(points: &[RocPoint], max: f64) -> Vec<RocPoint> {
    let mut out = Vec::new();
    let mut prev: Option<RocPoint> = None;
    for p in points {
        if p.fpr <= max {
            out.push(*p);
        } else {
            if let Some(q) = prev {
                let t = if p.fpr > q.fpr {
                    (max - q.fpr) / (p.fpr - q.fpr)
                } else {
                    0.0
                };
                out.push(RocPoint {
                    threshold: p.threshold,
                    fpr: max,
                    tpr: q.tpr + t * (p.tpr - q.tpr),
                });
            }
            break;
        }
        prev = Some(*p);
    }
    out
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
