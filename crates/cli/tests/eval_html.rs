//! The HTML evaluation report as a person sees it: `phishgate eval --format
//! html` on the golden corpus, opened in real headless Chromium.
//!
//! Three looks at the same page, each what someone opening the report would
//! check:
//!
//! - **The rendered DOM.** A copy of the page with a small probe script
//!   appended (the report itself has no script) is loaded with `--dump-dom`;
//!   after the `load` event the probe measures every plot
//!   (`getBoundingClientRect`), reads every table and caption as rendered
//!   text, lists every reference to another resource (attributes, computed
//!   styles, style sheets) and every resource the browser tried to fetch
//!   (Resource Timing, which also records failed fetches), and writes all of
//!   it as JSON into the DOM. The test compares those figures with the JSON
//!   report of the same folders, configuration and seed (`--format json`;
//!   only the date and timings differ between the two runs).
//! - **The pixels.** The unmodified page is screenshotted at the same window
//!   size; the PNG is decoded here (a minimal inflate and PNG unfilter, so no
//!   image dependency) and must have the window's dimensions, be far from a
//!   single colour, and show each histogram bar and ROC curve in its colour
//!   where the DOM says it is.
//! - **The network.** The page must load nothing: no `http(s)://` anywhere in
//!   the file, no `src`/`href`, and the browser's own record of fetches is
//!   empty. Chromium runs with every host name unresolvable, so it needs no
//!   network either. A control run proves the probe does see an external
//!   load when there is one.
//!
//! Every Chromium run is killed (its whole process group) after
//! [`CHROMIUM_TIMEOUT`]. A missing Chromium fails the test with the way to
//! install it (`./scripts/test`): it is never skipped silently.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::fs::File;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The longest one Chromium run may take before it is killed.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(60);

/// Window (and so screenshot) size in CSS pixels, at device scale factor 1.
const WINDOW: (u32, u32) = (1200, 3000);

/// Marks the probe's output in the dumped DOM.
const PROBE_ID: &str = "phishgate-probe";

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus")
}

/// A scratch directory, removed when the test passes and kept (with its
/// report, probe page, screenshot and Chromium logs) when it fails.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let d =
            std::env::temp_dir().join(format!("phishgate-{name}-{}-{nanos}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept for inspection: {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// `phishgate eval` on the golden corpus, report written to `out`.
fn eval(format: &str, out: &Path) {
    let c = corpus();
    let res = Command::new(env!("CARGO_BIN_EXE_phishgate"))
        .arg("eval")
        .arg("--config")
        .arg(c.join("phishgate.toml"))
        .arg("--phish")
        .arg(c.join("phish"))
        .arg("--ham")
        .arg(c.join("legit"))
        .args(["--seed", "0", "--format", format, "--output"])
        .arg(out)
        .output()
        .expect("run phishgate eval");
    assert!(
        res.status.success(),
        "phishgate eval --format {format}: {}",
        String::from_utf8_lossy(&res.stderr)
    );
}

/// Headless Chromium from `PATH`, or a failure that says how to get it.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "this test opens the HTML report in headless Chromium, and neither `chromium` nor \
         `chromium-browser` is on PATH: run ./scripts/test (it installs Debian's `chromium` \
         package), or `apt-get install chromium`"
    );
}

/// A `file://` URL for an absolute path (percent-encoding all but the
/// unreserved characters and `/`).
fn file_url(p: &Path) -> String {
    let mut u = String::from("file://");
    for b in p.to_str().expect("UTF-8 temp path").bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            u.push(char::from(b));
        } else {
            u.push_str(&format!("%{b:02X}"));
        }
    }
    u
}

/// Runs headless Chromium on `url` with `extra` flags in its own process
/// group and returns its standard output. Killed with its children after
/// [`CHROMIUM_TIMEOUT`]; a time-out or a failure exit fails the test with
/// the end of Chromium's log.
fn run_chromium(dir: &Path, what: &str, extra: &[String], url: &str) -> String {
    let bin = chromium();
    let out = dir.join(format!("{what}.stdout"));
    let err = dir.join(format!("{what}.stderr"));
    let home = dir.join(format!("{what}-home"));
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = Command::new(&bin);
    cmd.args([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-sync",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        // No host name resolves: the page must not need the network, and
        // Chromium's own background services cannot reach it either.
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ])
    .arg(format!("--window-size={},{}", WINDOW.0, WINDOW.1))
    .arg(format!(
        "--user-data-dir={}",
        home.join("profile").display()
    ))
    .args(extra)
    .arg(url)
    .env("HOME", &home)
    .env("XDG_CONFIG_HOME", home.join(".config"))
    .env("XDG_CACHE_HOME", home.join(".cache"))
    .stdin(Stdio::null())
    .stdout(File::create(&out).unwrap())
    .stderr(File::create(&err).unwrap())
    // Its own group, so a time-out ends the renderer and helpers too.
    .process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let log_tail = || {
        let log = std::fs::read_to_string(&err).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    };
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > CHROMIUM_TIMEOUT {
            // The group id is the child's pid, still ours: the child has
            // not been reaped.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium ({what}) did not finish within {CHROMIUM_TIMEOUT:?} and was killed; \
                 its log ends:\n{}",
                log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "chromium ({what}) exited with {status}; its log ends:\n{}",
        log_tail()
    );
    std::fs::read_to_string(&out).unwrap()
}

/// Runs once the page has loaded: measures the plots, reads the rendered
/// tables and captions, lists references to other resources and the
/// fetches the browser made, and appends the lot as JSON in
/// `<pre id="phishgate-probe">`. Every character outside printable ASCII,
/// and `<`, `>`, `&`, is written as a JSON `\u` escape, so the dumped DOM
/// carries the JSON verbatim.
const PROBE: &str = r#"<script id="phishgate-probe-script">
window.addEventListener('load', () => {
  const box = el => { const r = el.getBoundingClientRect();
    return {x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height}; };
  const text = el => el ? el.textContent.replace(/\s+/g, ' ').trim() : null;
  const seen = el => el.innerText.replace(/\s+/g, ' ').trim();
  const sections = [];
  for (const h2 of document.querySelectorAll('h2')) {
    const s = {title: seen(h2), tables: [], figures: [], paragraphs: []};
    for (let e = h2.nextElementSibling; e && e.tagName !== 'H2'; e = e.nextElementSibling) {
      const tables = e.tagName === 'TABLE' ? [e] : [...e.querySelectorAll('table')];
      for (const t of tables) s.tables.push([...t.rows].map(r => [...r.cells].map(seen)));
      for (const f of e.querySelectorAll('figure')) {
        const svg = f.querySelector('svg');
        s.figures.push({
          caption: text(f.querySelector('figcaption')),
          box: svg ? box(svg) : null,
          bars: svg ? [...svg.querySelectorAll('rect')].filter(r => r.querySelector('title'))
            .map(r => ({title: text(r.querySelector('title')), fill: getComputedStyle(r).fill, box: box(r)})) : [],
          curves: svg ? [...svg.querySelectorAll('polyline')]
            .map(p => ({title: text(p.querySelector('title')), stroke: getComputedStyle(p).stroke,
                        length: p.getTotalLength(), box: box(p)})) : [],
        });
      }
      if (e.tagName === 'P') s.paragraphs.push(seen(e));
    }
    sections.push(s);
  }
  const refs = [];
  const attrs = ['src', 'href', 'xlink:href', 'srcset', 'poster', 'data', 'action',
                 'formaction', 'background', 'ping', 'manifest'];
  const tags = ['SCRIPT', 'LINK', 'IFRAME', 'FRAME', 'IMG', 'OBJECT', 'EMBED', 'AUDIO',
                'VIDEO', 'SOURCE', 'TRACK', 'BASE', 'image', 'use', 'feImage'];
  const props = ['background-image', 'list-style-image', 'border-image-source', 'mask-image',
                 'cursor', 'content', 'font-family'];
  for (const el of document.querySelectorAll('*')) {
    if (el.id === 'phishgate-probe-script') continue;
    if (tags.includes(el.tagName)) refs.push('<' + el.tagName + '>');
    for (const a of el.attributes)
      if (attrs.includes(a.name.toLowerCase())) refs.push(el.tagName + ' ' + a.name + '=' + a.value);
    const cs = getComputedStyle(el);
    for (const p of props) {
      const v = cs.getPropertyValue(p);
      if (v.includes('url(')) refs.push(el.tagName + ' ' + p + ': ' + v);
    }
  }
  for (const sheet of document.styleSheets)
    for (const rule of sheet.cssRules)
      if (/url\(|@import|@font-face/i.test(rule.cssText)) refs.push(rule.cssText);
  const out = {
    viewport: [innerWidth, innerHeight], dpr: devicePixelRatio,
    page: [document.documentElement.scrollWidth, document.documentElement.scrollHeight],
    title: document.title, h1: text(document.querySelector('h1')),
    meta: seen(document.querySelector('p.meta')),
    sections, refs,
    resources: performance.getEntriesByType('resource').map(e => e.name),
  };
  const pre = document.createElement('pre');
  pre.id = 'phishgate-probe';
  pre.textContent = JSON.stringify(out).replace(/[^\x20-\x7e]|[<>&]/g,
    c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  document.body.appendChild(pre);
});
</script>"#;

/// Loads `page` (already holding [`PROBE`]) with `--dump-dom` and returns
/// what the probe wrote.
fn probe(dir: &Path, what: &str, page: &Path) -> Value {
    let dom = run_chromium(dir, what, &["--dump-dom".into()], &file_url(page));
    let open = format!("<pre id=\"{PROBE_ID}\">");
    let start = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no probe output in the dumped DOM ({what}):\n{dom}"))
        + open.len();
    let len = dom[start..].find("</pre>").expect("probe output closed");
    serde_json::from_str(&dom[start..start + len]).expect("probe JSON")
}

/// The report as the page shows a share: `12.34%`, `-` when undefined.
fn pct(v: &Value) -> String {
    v.as_f64()
        .map(|x| format!("{:.2}%", x * 100.0))
        .unwrap_or_else(|| "-".into())
}

/// A score as the page shows it: two decimals, `-` when undefined.
fn num(v: &Value) -> String {
    v.as_f64()
        .map(|x| format!("{x:.2}"))
        .unwrap_or_else(|| "-".into())
}

fn count(v: &Value) -> String {
    v.as_u64().expect("a count").to_string()
}

/// What the probe read under the heading that starts with `title`: its
/// tables (rows of cell texts, header row first), figures and paragraphs.
fn section<'a>(probe: &'a Value, title: &str) -> &'a Value {
    probe["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["title"].as_str().unwrap().starts_with(title))
        .unwrap_or_else(|| panic!("no section {title:?} in the rendered page"))
}

fn rows(table: &Value) -> Vec<Vec<String>> {
    table
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

/// A rectangle in CSS pixels (= screenshot pixels at scale factor 1).
#[derive(Debug, Clone, Copy)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

fn bx(v: &Value) -> Rect {
    let f = |k: &str| v[k].as_f64().unwrap();
    Rect {
        x: f("x"),
        y: f("y"),
        w: f("w"),
        h: f("h"),
    }
}

/// `rgb(192, 57, 43)` (a computed colour) as bytes.
fn rgb(css: &str) -> [u8; 3] {
    let inner = css
        .trim()
        .strip_prefix("rgb(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not an rgb() colour: {css}"));
    let v: Vec<u8> = inner
        .split(',')
        .map(|p| p.trim().parse().unwrap())
        .collect();
    [v[0], v[1], v[2]]
}

#[test]
fn report_renders_in_chromium_as_the_json_says() {
    let dir = Scratch::new("eval-html");
    let (html_path, json_path) = (dir.0.join("report.html"), dir.0.join("report.json"));
    eval("html", &html_path);
    eval("json", &json_path);
    let html = std::fs::read_to_string(&html_path).unwrap();
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();

    // Nothing in the file could make a browser fetch anything.
    let lower = html.to_lowercase();
    for banned in ["http://", "https://", "src=", "href=", "url(", "@import"] {
        assert!(
            !lower.contains(banned),
            "the report must be self-contained, found {banned:?}"
        );
    }

    // --- the rendered DOM ------------------------------------------------
    let body_end = html.rfind("</body>").expect("</body>");
    let probe_page = dir.0.join("probe.html");
    std::fs::write(
        &probe_page,
        format!("{}{PROBE}{}", &html[..body_end], &html[body_end..]),
    )
    .unwrap();
    let p = probe(&dir.0, "probe", &probe_page);
    std::fs::write(
        dir.0.join("probe.json"),
        serde_json::to_string_pretty(&p).unwrap(),
    )
    .unwrap();

    // Layout depends on the width only (no `vh` units), so the probe's
    // coordinates are the screenshot's. (With `--dump-dom`, Chromium keeps
    // some of the window's height for itself; the screenshot gets it all.)
    assert_eq!(p["viewport"][0], WINDOW.0, "viewport {}", p["viewport"]);
    assert_eq!(p["dpr"], 1);
    assert!(
        p["page"][0].as_u64().unwrap() <= u64::from(WINDOW.0),
        "no horizontal scrolling at {} px: {}",
        WINDOW.0,
        p["page"]
    );
    assert_eq!(p["h1"], "phishgate detection report");
    assert!(p["refs"].as_array().unwrap().is_empty(), "{}", p["refs"]);
    assert!(
        p["resources"].as_array().unwrap().is_empty(),
        "the page made the browser fetch: {}",
        p["resources"]
    );

    // The header line: the run's identity and size, as in the JSON.
    let meta = p["meta"].as_str().unwrap();
    let m = &r["meta"];
    let t = &m["thresholds"];
    for want in [
        format!("engine {}", m["engine_version"].as_str().unwrap()),
        format!("config {}", m["config_hash"].as_str().unwrap()),
        format!(
            "thresholds warn {} / quarantine {} / reject {}",
            t["warn"].as_f64().unwrap(),
            t["quarantine"].as_f64().unwrap(),
            t["reject"].as_f64().unwrap()
        ),
        format!("split all by campaign (seed {}", m["seed"]),
        format!(
            "{} messages read in {} groups, {} evaluated in {} groups",
            m["messages_read"], m["groups"], m["messages_evaluated"], m["groups_evaluated"]
        ),
        format!("{} unreadable, {} skipped", m["unreadable"], m["skipped"]),
    ] {
        assert!(meta.contains(&want), "header lacks {want:?}: {meta}");
    }

    // Detection: one row per class of the JSON, in its order, same figures.
    let classes = r["classes"].as_array().unwrap();
    let names: Vec<&str> = classes
        .iter()
        .map(|c| c["class"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["phish", "ham"], "the corpus has phishing and ham");
    let det = section(&p, "Detection");
    let table = rows(&det["tables"][0]);
    assert_eq!(
        table[0],
        [
            "class",
            "messages",
            "≥ warn",
            "≥ quarantine",
            "reject",
            "precision",
            "recall",
            "F1"
        ]
    );
    let want: Vec<Vec<String>> = classes
        .iter()
        .map(|c| {
            vec![
                c["class"].as_str().unwrap().to_string(),
                count(&c["messages"]),
                pct(&c["rates"]["warn_or_more"]),
                pct(&c["rates"]["quarantine_or_more"]),
                pct(&c["rates"]["reject"]),
                pct(&c["precision"]),
                pct(&c["recall"]),
                pct(&c["f1"]),
            ]
        })
        .collect();
    assert_eq!(table[1..], want[..], "detection table");
    let ov = &r["overall"];
    let summary = det["paragraphs"][0].as_str().unwrap();
    let want = format!(
        "Phishing and spam against ham: precision {}, recall {}, F1 {}, accuracy {}. Ham: {} not accepted, {} rejected.",
        pct(&ov["precision"]),
        pct(&ov["recall"]),
        pct(&ov["f1"]),
        pct(&ov["accuracy"]),
        pct(&r["ham"]["false_positive_rate"]),
        pct(&r["ham"]["rejected_rate"])
    );
    assert_eq!(summary, want);

    // Confusion matrix.
    let conf = rows(&section(&p, "Confusion matrix")["tables"][0]);
    assert_eq!(conf[0], ["", "accept", "warn", "quarantine", "reject"]);
    let want: Vec<Vec<String>> = r["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            vec![
                c["class"].as_str().unwrap().to_string(),
                count(&c["accept"]),
                count(&c["warn"]),
                count(&c["quarantine"]),
                count(&c["reject"]),
            ]
        })
        .collect();
    assert_eq!(conf[1..], want[..], "confusion matrix");

    // Score distribution: a visible histogram per class whose bars carry
    // the JSON's counts, tall exactly where a bucket is not empty, in a
    // colour of their own.
    let dist = section(&p, "Score distribution");
    let figures = dist["figures"].as_array().unwrap();
    assert_eq!(figures.len(), classes.len(), "one histogram per class");
    let mut colours = std::collections::BTreeSet::new();
    for (c, f) in classes.iter().zip(figures) {
        let name = c["class"].as_str().unwrap();
        assert_eq!(
            f["caption"].as_str().unwrap(),
            format!(
                "{name} ({} messages; median {})",
                c["messages"],
                num(&c["score"]["p50"])
            )
        );
        let svg = bx(&f["box"]);
        assert!(svg.w >= 300.0 && svg.h >= 150.0, "{name} histogram {svg:?}");
        let buckets = c["score"]["histogram"].as_array().unwrap();
        let bars = f["bars"].as_array().unwrap();
        assert_eq!(bars.len(), buckets.len(), "{name}: a bar per bucket");
        let tallest = buckets.iter().map(|b| b["count"].as_u64().unwrap()).max();
        for (b, bar) in buckets.iter().zip(bars) {
            let n = b["count"].as_u64().unwrap();
            let label = match (b["from"].as_f64(), b["to"].as_f64()) {
                (None, Some(t)) => format!("< {t}"),
                (Some(f), None) => format!("≥ {f}"),
                (Some(f), Some(t)) => format!("{f} to {t}"),
                (None, None) => String::new(),
            };
            assert_eq!(bar["title"].as_str().unwrap(), format!("{label}: {n}"));
            let h = bx(&bar["box"]).h;
            assert_eq!(
                h > 0.0,
                n > 0,
                "{name} bucket {label}: {n} messages, {h} px"
            );
            if Some(n) == tallest {
                assert!(h > 100.0, "{name}: the tallest bar spans the plot ({h} px)");
            }
        }
        let fill = bars[0]["fill"].as_str().unwrap().to_string();
        assert!(bars.iter().all(|b| b["fill"] == fill.as_str()));
        colours.insert(fill);
    }
    assert_eq!(colours.len(), classes.len(), "a colour per class");

    let pcts = rows(&dist["tables"][0]);
    let want: Vec<Vec<String>> = classes
        .iter()
        .map(|c| {
            let s = &c["score"];
            let mut row = vec![c["class"].as_str().unwrap().to_string()];
            for k in [
                "min", "p5", "p25", "p50", "p75", "p95", "p99", "max", "mean",
            ] {
                row.push(num(&s[k]));
            }
            row
        })
        .collect();
    assert_eq!(pcts[1..], want[..], "score percentiles");

    // ROC: two visible plots (full range and the low false-positive end),
    // each with a drawn curve per JSON curve, and the legend's AUC.
    let rocs = r["roc"].as_array().unwrap();
    assert!(!rocs.is_empty());
    let roc = section(&p, "ROC curves");
    let figures = roc["figures"].as_array().unwrap();
    assert_eq!(figures.len(), 2);
    for f in figures {
        let svg = bx(&f["box"]);
        assert!(svg.w >= 250.0 && svg.h >= 250.0, "ROC plot {svg:?}");
        let curves = f["curves"].as_array().unwrap();
        assert_eq!(curves.len(), rocs.len());
        for (c, want) in curves.iter().zip(rocs) {
            let title = format!(
                "{} AUC {:.4}",
                want["name"].as_str().unwrap(),
                want["auc"].as_f64().unwrap()
            );
            assert_eq!(c["title"].as_str().unwrap(), title);
            let b = bx(&c["box"]);
            assert!(
                c["length"].as_f64().unwrap() > 100.0 && (b.w > 0.0 || b.h > 0.0),
                "{title}: curve drawn ({b:?}, length {})",
                c["length"]
            );
        }
    }
    let legend = roc["paragraphs"][0].as_str().unwrap();
    for want in rocs {
        let s = format!(
            "{} AUC {:.4}",
            want["name"].as_str().unwrap(),
            want["auc"].as_f64().unwrap()
        );
        assert!(legend.contains(&s), "legend lacks {s:?}: {legend}");
    }

    // --- the pixels ------------------------------------------------------
    let shot = dir.0.join("screenshot.png");
    run_chromium(
        &dir.0,
        "screenshot",
        &[format!("--screenshot={}", shot.display())],
        &file_url(&html_path),
    );
    let img = png::decode(&std::fs::read(&shot).expect("screenshot written")).unwrap();
    assert_eq!((img.width, img.height), WINDOW, "screenshot size");
    let background = img.pixel(0, 0);
    let mut distinct = std::collections::BTreeSet::new();
    let mut painted = 0usize;
    for y in 0..img.height {
        for x in 0..img.width {
            let px = img.pixel(x, y);
            distinct.insert(px);
            painted += usize::from(px != background);
        }
    }
    let area = (img.width * img.height) as usize;
    assert!(
        distinct.len() >= 16 && painted * 100 > area,
        "the screenshot is (nearly) blank: {} colours, {painted} of {area} pixels painted",
        distinct.len()
    );

    // Each histogram bar tall and wide enough to have an inside is painted
    // in its class's colour where the DOM put it: most of its inner pixels
    // (a dashed threshold line may cross it).
    let mut checked = 0;
    for f in dist["figures"].as_array().unwrap() {
        for bar in f["bars"].as_array().unwrap() {
            let b = bx(&bar["box"]);
            if b.w < 4.0 || b.h < 4.0 {
                continue;
            }
            assert!(
                b.y + b.h < f64::from(img.height),
                "bar below the screenshot: {b:?}"
            );
            let want = rgb(bar["fill"].as_str().unwrap());
            let (mut inside, mut coloured) = (0usize, 0usize);
            for y in (b.y.ceil() as u32 + 1)..((b.y + b.h).floor() as u32 - 1) {
                for x in (b.x.ceil() as u32 + 1)..((b.x + b.w).floor() as u32 - 1) {
                    inside += 1;
                    coloured += usize::from(near(img.pixel(x, y), want, 2));
                }
            }
            assert!(
                coloured * 10 >= inside * 8,
                "{}: {coloured} of {inside} pixels inside {b:?} are {want:?}",
                bar["title"]
            );
            checked += 1;
        }
    }
    assert!(checked >= classes.len(), "bars checked: {checked}");

    // Each ROC plot has its curves' colour inside its frame: at least as
    // many pixels as a 2 px stroke along the vertical rise of the curve.
    for f in roc["figures"].as_array().unwrap() {
        let svg = bx(&f["box"]);
        for c in f["curves"].as_array().unwrap() {
            let want = rgb(c["stroke"].as_str().unwrap());
            let mut n = 0;
            for y in svg.y as u32..(svg.y + svg.h) as u32 {
                for x in svg.x as u32..(svg.x + svg.w) as u32 {
                    n += usize::from(near(img.pixel(x, y), want, 24));
                }
            }
            assert!(n >= 200, "{}: {n} pixels of {want:?}", c["title"]);
        }
    }
}

/// Whether two colours differ by at most `tol` in every channel.
fn near(a: [u8; 3], b: [u8; 3], tol: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= tol)
}

/// The probe is not blind: on a page that does load an image and a
/// background from elsewhere, it lists both references and both attempted
/// fetches (which fail: nothing resolves).
#[test]
fn probe_sees_external_loads() {
    let dir = Scratch::new("eval-html-control");
    let page = dir.0.join("external.html");
    std::fs::write(
        &page,
        format!(
            "<!doctype html><html><head><title>t</title></head><body><h1>x</h1><p class=\"meta\">m</p>\
             <img src=\"https://example.com/a.png\" alt=\"\">\
             <p style=\"background:url(http://example.org/b.png)\">b</p>{PROBE}</body></html>"
        ),
    )
    .unwrap();
    let p = probe(&dir.0, "control", &page);
    let refs = p["refs"].to_string();
    assert!(refs.contains("IMG src=https://example.com/a.png"), "{refs}");
    assert!(refs.contains("example.org/b.png"), "{refs}");
    let fetched = p["resources"].to_string();
    assert!(fetched.contains("https://example.com/a.png"), "{fetched}");
    assert!(fetched.contains("http://example.org/b.png"), "{fetched}");
}

/// Just enough PNG to read a Chromium screenshot: 8-bit RGB or RGBA, not
/// interlaced; zlib inflate (stored, fixed and dynamic Huffman blocks)
/// after RFC 1951, without checking the Adler-32 and chunk CRCs.
mod png {
    /// A decoded image, 3 or 4 bytes per pixel.
    pub struct Image {
        pub width: u32,
        pub height: u32,
        channels: usize,
        data: Vec<u8>,
    }

    impl Image {
        /// The RGB of a pixel (alpha ignored).
        pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
            let i = (y as usize * self.width as usize + x as usize) * self.channels;
            [self.data[i], self.data[i + 1], self.data[i + 2]]
        }
    }

    pub fn decode(file: &[u8]) -> Result<Image, String> {
        let body = file.strip_prefix(b"\x89PNG\r\n\x1a\n").ok_or("not a PNG")?;
        let (mut pos, mut header, mut idat) = (0, None, Vec::new());
        while pos + 8 <= body.len() {
            let len = u32::from_be_bytes(body[pos..pos + 4].try_into().unwrap()) as usize;
            let kind = &body[pos + 4..pos + 8];
            let data = body.get(pos + 8..pos + 8 + len).ok_or("truncated chunk")?;
            match kind {
                b"IHDR" => header = Some(data.to_vec()),
                b"IDAT" => idat.extend_from_slice(data),
                b"IEND" => break,
                _ => {}
            }
            pos += 12 + len;
        }
        let h = header.ok_or("no IHDR")?;
        let width = u32::from_be_bytes(h[0..4].try_into().unwrap());
        let height = u32::from_be_bytes(h[4..8].try_into().unwrap());
        let channels = match (h[8], h[9], h[12]) {
            (8, 2, 0) => 3,
            (8, 6, 0) => 4,
            (depth, colour, interlace) => {
                return Err(format!(
                    "unsupported PNG: depth {depth}, colour type {colour}, interlace {interlace}"
                ))
            }
        };
        if idat.len() < 2 || idat[0] & 0x0f != 8 || idat[1] & 0x20 != 0 {
            return Err("not a plain zlib stream".into());
        }
        let raw = inflate(&idat[2..])?;
        let stride = width as usize * channels;
        if raw.len() != (stride + 1) * height as usize {
            return Err(format!(
                "{} bytes of pixels for {width}x{height}",
                raw.len()
            ));
        }
        let mut data = vec![0u8; stride * height as usize];
        for y in 0..height as usize {
            let filter = raw[y * (stride + 1)];
            let line = &raw[y * (stride + 1) + 1..(y + 1) * (stride + 1)];
            for i in 0..stride {
                let a = if i >= channels {
                    data[y * stride + i - channels]
                } else {
                    0
                };
                let b = if y > 0 { data[(y - 1) * stride + i] } else { 0 };
                let c = if y > 0 && i >= channels {
                    data[(y - 1) * stride + i - channels]
                } else {
                    0
                };
                let predicted = match filter {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                    4 => paeth(a, b, c),
                    f => return Err(format!("filter {f}")),
                };
                data[y * stride + i] = line[i].wrapping_add(predicted);
            }
        }
        Ok(Image {
            width,
            height,
            channels,
            data,
        })
    }

    fn paeth(a: u8, b: u8, c: u8) -> u8 {
        let p = i16::from(a) + i16::from(b) - i16::from(c);
        let (pa, pb, pc) = (
            (p - i16::from(a)).abs(),
            (p - i16::from(b)).abs(),
            (p - i16::from(c)).abs(),
        );
        if pa <= pb && pa <= pc {
            a
        } else if pb <= pc {
            b
        } else {
            c
        }
    }

    struct Bits<'a> {
        data: &'a [u8],
        pos: usize,
        buf: u32,
        count: u32,
    }

    impl Bits<'_> {
        /// The next `n` (at most 16) bits, least significant first.
        fn take(&mut self, n: u32) -> Result<u32, String> {
            while self.count < n {
                let b = *self.data.get(self.pos).ok_or("deflate stream truncated")?;
                self.pos += 1;
                self.buf |= u32::from(b) << self.count;
                self.count += 8;
            }
            let v = self.buf & ((1u32 << n) - 1);
            self.buf >>= n;
            self.count -= n;
            Ok(v)
        }

        /// Decodes one symbol, reading the code bit by bit (canonical
        /// Huffman: codes of one length are consecutive).
        fn symbol(&mut self, h: &Huffman) -> Result<u16, String> {
            let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
            for len in 1..16 {
                code |= self.take(1)? as i32;
                let n = i32::from(h.count[len]);
                if code - n < first {
                    return Ok(h.symbol[(index + code - first) as usize]);
                }
                index += n;
                first = (first + n) << 1;
                code <<= 1;
            }
            Err("bad Huffman code".into())
        }
    }

    struct Huffman {
        count: [u16; 16],
        symbol: Vec<u16>,
    }

    impl Huffman {
        fn new(lengths: &[u8]) -> Huffman {
            let mut count = [0u16; 16];
            for &l in lengths {
                count[usize::from(l)] += 1;
            }
            count[0] = 0;
            let mut offset = [0u16; 16];
            for l in 1..15 {
                offset[l + 1] = offset[l] + count[l];
            }
            let mut symbol = vec![0u16; lengths.len()];
            for (s, &l) in lengths.iter().enumerate() {
                if l != 0 {
                    symbol[usize::from(offset[usize::from(l)])] = s as u16;
                    offset[usize::from(l)] += 1;
                }
            }
            Huffman { count, symbol }
        }
    }

    const LEN_BASE: [u16; 29] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
        131, 163, 195, 227, 258,
    ];
    const LEN_EXTRA: [u8; 29] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ];
    const DIST_BASE: [u16; 30] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
        2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
    ];
    const DIST_EXTRA: [u8; 30] = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12,
        13, 13,
    ];

    /// Inflates a raw deflate stream.
    pub fn inflate(data: &[u8]) -> Result<Vec<u8>, String> {
        let mut bits = Bits {
            data,
            pos: 0,
            buf: 0,
            count: 0,
        };
        let mut out = Vec::new();
        loop {
            let last = bits.take(1)? == 1;
            match bits.take(2)? {
                0 => {
                    // Stored: byte-aligned LEN, NLEN, then the bytes.
                    bits.buf = 0;
                    bits.count = 0;
                    let p = bits.pos;
                    let hdr = data.get(p..p + 4).ok_or("truncated stored block")?;
                    let len = usize::from(u16::from_le_bytes([hdr[0], hdr[1]]));
                    out.extend_from_slice(
                        data.get(p + 4..p + 4 + len)
                            .ok_or("truncated stored block")?,
                    );
                    bits.pos = p + 4 + len;
                }
                1 => {
                    let mut lengths = [0u8; 288];
                    for (s, l) in lengths.iter_mut().enumerate() {
                        *l = match s {
                            0..=143 => 8,
                            144..=255 => 9,
                            256..=279 => 7,
                            _ => 8,
                        };
                    }
                    codes(
                        &mut bits,
                        &mut out,
                        &Huffman::new(&lengths),
                        &Huffman::new(&[5; 30]),
                    )?;
                }
                2 => {
                    let nlen = bits.take(5)? as usize + 257;
                    let ndist = bits.take(5)? as usize + 1;
                    let ncode = bits.take(4)? as usize + 4;
                    const ORDER: [usize; 19] = [
                        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
                    ];
                    let mut cl = [0u8; 19];
                    for &i in &ORDER[..ncode] {
                        cl[i] = bits.take(3)? as u8;
                    }
                    let clh = Huffman::new(&cl);
                    let mut lengths = Vec::with_capacity(nlen + ndist);
                    while lengths.len() < nlen + ndist {
                        let (value, repeat) = match bits.symbol(&clh)? {
                            s @ 0..=15 => (s as u8, 1),
                            16 => (
                                *lengths.last().ok_or("repeat with no length")?,
                                3 + bits.take(2)?,
                            ),
                            17 => (0, 3 + bits.take(3)?),
                            _ => (0, 11 + bits.take(7)?),
                        };
                        lengths.extend(std::iter::repeat_n(value, repeat as usize));
                    }
                    if lengths.len() != nlen + ndist {
                        return Err("code lengths overrun".into());
                    }
                    codes(
                        &mut bits,
                        &mut out,
                        &Huffman::new(&lengths[..nlen]),
                        &Huffman::new(&lengths[nlen..]),
                    )?;
                }
                _ => return Err("reserved block type".into()),
            }
            if last {
                return Ok(out);
            }
        }
    }

    /// Literals and back-references up to the end-of-block symbol.
    fn codes(
        bits: &mut Bits<'_>,
        out: &mut Vec<u8>,
        lit: &Huffman,
        dist: &Huffman,
    ) -> Result<(), String> {
        loop {
            let s = usize::from(bits.symbol(lit)?);
            match s {
                0..=255 => out.push(s as u8),
                256 => return Ok(()),
                _ => {
                    let i = s - 257;
                    let base = *LEN_BASE.get(i).ok_or("bad length symbol")?;
                    let len = usize::from(base) + bits.take(u32::from(LEN_EXTRA[i]))? as usize;
                    let d = usize::from(bits.symbol(dist)?);
                    let dbase = *DIST_BASE.get(d).ok_or("bad distance symbol")?;
                    let back = usize::from(dbase) + bits.take(u32::from(DIST_EXTRA[d]))? as usize;
                    let from = out
                        .len()
                        .checked_sub(back)
                        .ok_or("distance before the start")?;
                    for k in 0..len {
                        let b = out[from + k];
                        out.push(b);
                    }
                }
            }
        }
    }
}
