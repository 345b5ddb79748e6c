//! Hashed sparse features of one message, for the learned classifier.
//!
//! Only what the sender wrote is used: the folded subject and visible text
//! (word and syllable unigrams and bigrams: a Vietnamese word is one or more
//! space-separated syllables, so bigrams of the folded text cover both),
//! link domains, hosts and first path segments, attachment types, and a few
//! structural facts (forms, scripts, hidden text). Never the collection
//! headers, line endings, dates or recipients, so the features of a message
//! do not change with the corpus it was collected in.
//!
//! Each feature is hashed (FNV-1a 64) into `2^bits` buckets; values are
//! binary and the vector is L2-normalised. The text of each feature is kept
//! (bounded) so a verdict can name the tokens that weighed most.

use crate::view::MessageView;

/// Most text tokens read per message.
pub const MAX_TOKENS: usize = 4000;
/// Most features kept per message.
pub const MAX_FEATURES: usize = 8000;

/// One message's features: sorted unique bucket indexes with their values,
/// and the feature text of each (same order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    /// Bucket indexes, ascending, unique.
    pub index: Vec<u32>,
    /// Values (all equal: binary features, L2-normalised).
    pub value: Vec<f32>,
    /// The feature behind each index (the first one seen, when two collide);
    /// empty unless asked for (see [`extract`]).
    pub name: Vec<String>,
}

fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Digits become `0` so that numbers of the same shape share a feature.
fn shape_digits(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_digit() { '0' } else { c })
        .collect()
}

fn bucket(n: usize) -> &'static str {
    match n {
        0 => "0",
        1 => "1",
        2..=5 => "2-5",
        6..=20 => "6-20",
        _ => "21+",
    }
}

/// The words of folded text: alphanumeric runs of 2 to 30 characters.
fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| {
            let n = w.chars().count();
            (2..=30).contains(&n)
        })
        .take(MAX_TOKENS)
}

/// Features of a parsed message whose own words (`view.own_words()`) were
/// folded into `own_folded` (the engine has done that for the lure check;
/// [`features_of_view`] does it for training).
///
/// `names`: keep each feature's text (for evidence). Scoring alone does not
/// need them, so the check asks for them only when it reports.
pub fn extract(view: &MessageView, own_folded: &str, bits: u8, names: bool) -> Features {
    let mut raw = Collector::new(bits, names);
    let subject = phishgate_text::fold_simple(&view.subject);
    for w in words(&subject) {
        raw.push(format_args!("s:{}", shape_digits(w)));
    }
    let mut prev: Option<String> = None;
    for w in words(own_folded) {
        let w = shape_digits(w);
        if let Some(p) = &prev {
            raw.push(format_args!("b:{p}_{w}"));
        }
        raw.push(format_args!("w:{w}"));
        prev = Some(w);
    }
    let mut n_links = 0usize;
    for l in view.links.iter().filter(|l| !l.quoted) {
        let Some(u) = &l.url else { continue };
        n_links += 1;
        raw.push(format_args!("ld:{}", u.registrable));
        if u.host != u.registrable {
            raw.push(format_args!("lh:{}", u.host));
        }
        if let Some(tld) = u.host.rsplit('.').next() {
            raw.push(format_args!("lt:{tld}"));
        }
        let seg = u
            .path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("");
        if !seg.is_empty() {
            raw.push(format_args!("lp:{}", shape_digits(seg)));
        }
        if u.is_ip {
            raw.push(format_args!("l:ip"));
        }
        raw.push(format_args!("ls:{}", u.scheme));
    }
    raw.push(format_args!("n:links:{}", bucket(n_links)));
    for a in &view.attachments {
        let ext = a
            .name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        raw.push(format_args!("ae:{ext}"));
        raw.push(format_args!("at:{}", a.declared_type.to_ascii_lowercase()));
        if a.macros {
            raw.push(format_args!("a:macros"));
        }
        if a.archive.is_some() {
            raw.push(format_args!("a:archive"));
        }
    }
    raw.push(format_args!(
        "n:attachments:{}",
        bucket(view.attachments.len())
    ));
    if !view.forms.is_empty() {
        raw.push(format_args!("h:form"));
    }
    if view.html.scripts > 0 {
        raw.push(format_args!("h:script"));
    }
    if view.html.hidden_chars > 0 {
        raw.push(format_args!("h:hidden"));
    }
    raw.push(format_args!("n:images:{}", bucket(view.images)));
    if let Some(f) = &view.from {
        if let Some((_, d)) = f.address.rsplit_once('@') {
            raw.push(format_args!("fd:{}", d.to_ascii_lowercase()));
        }
    }
    shape(&mut raw, view);
    raw.finish()
}

/// Header shape (see [`crate::view::shape`]) and writing style: shouting,
/// exclamation marks, money signs, length.
fn shape(raw: &mut Collector, view: &MessageView) {
    let s = &view.shape;
    let mailer = if s.mailer.is_empty() { "-" } else { &s.mailer };
    raw.push(format_args!("hm:{mailer}"));
    if s.list {
        raw.push(format_args!("hl:list"));
    }
    if s.reply {
        raw.push(format_args!("hr:reply"));
    }
    if !s.priority.is_empty() {
        raw.push(format_args!("hp:{}", s.priority));
    }
    if s.msmail_priority {
        raw.push(format_args!("hp:ms"));
    }
    if !s.precedence.is_empty() {
        raw.push(format_args!("hpr:{}", s.precedence));
    }
    if s.organization {
        raw.push(format_args!("ho:org"));
    }
    if s.odd_message_id {
        raw.push(format_args!("hi:odd"));
    }
    raw.push(format_args!("ct:{}", s.content_type));
    for c in &s.charsets {
        raw.push(format_args!("cs:{c}"));
    }
    if s.html_only() {
        raw.push(format_args!("hb:html-only"));
    }
    let subject = style(&view.subject);
    if subject.shouting {
        raw.push(format_args!("ss:caps"));
    }
    if subject.exclaim > 0 {
        raw.push(format_args!("ss:!"));
    }
    if subject.money > 0 {
        raw.push(format_args!("ss:$"));
    }
    let body = style(&view.own_text);
    if body.shouting {
        raw.push(format_args!("st:caps"));
    }
    raw.push(format_args!("st:!:{}", bucket(body.exclaim)));
    raw.push(format_args!("st:$:{}", bucket(body.money)));
    raw.push(format_args!("n:words:{}", length_bucket(body.words)));
}

/// Counts of a text's style.
struct Style {
    /// At least 60 % of at least 8 letters are capitals.
    shouting: bool,
    exclaim: usize,
    money: usize,
    words: usize,
}

fn style(text: &str) -> Style {
    let (mut letters, mut upper, mut exclaim, mut money, mut words) = (0usize, 0, 0, 0, 0);
    let mut in_word = false;
    for c in text.chars().take(64 * 1024) {
        if c.is_alphabetic() {
            letters += 1;
            if c.is_uppercase() {
                upper += 1;
            }
        }
        match c {
            '!' => exclaim += 1,
            '$' | '€' | '£' => money += 1,
            _ => {}
        }
        let w = c.is_alphanumeric();
        if w && !in_word {
            words += 1;
        }
        in_word = w;
    }
    Style {
        shouting: letters >= 8 && upper * 10 >= letters * 6,
        exclaim,
        money,
        words,
    }
}

fn length_bucket(n: usize) -> &'static str {
    match n {
        0..=20 => "0-20",
        21..=60 => "21-60",
        61..=150 => "61-150",
        151..=400 => "151-400",
        401..=1000 => "401-1000",
        _ => "1001+",
    }
}

/// Whether a feature (as [`extract`] names it) is something a reader can
/// find in the message: a word or word pair, a link's domain, host or path,
/// an attachment type, the sender's domain or mail program; not the
/// counters, character sets and style measures that only mean something to
/// the model. The classifier's evidence names only these.
pub fn telling(name: &str) -> bool {
    let kind = name.split_once(':').map_or("", |(k, _)| k);
    matches!(
        kind,
        "s" | "w" | "b" | "ld" | "lh" | "lp" | "l" | "ae" | "at" | "a" | "h" | "fd"
    ) || (kind == "hm" && name != "hm:-")
}

/// [`extract`] for a message outside the engine (training): folds its own
/// words the way the engine does.
pub fn features_of_view(view: &MessageView, bits: u8) -> Features {
    let own = phishgate_text::fold(&view.own_words());
    extract(view, &own.text, bits, false)
}

/// Hashes features as they are written, into one reused buffer.
struct Collector {
    mask: u64,
    names: bool,
    buf: String,
    pairs: Vec<(u32, Option<String>)>,
}

impl Collector {
    fn new(bits: u8, names: bool) -> Collector {
        Collector {
            mask: (1u64 << bits.clamp(8, 24)) - 1,
            names,
            buf: String::new(),
            pairs: Vec::new(),
        }
    }

    fn push(&mut self, feature: std::fmt::Arguments<'_>) {
        use std::fmt::Write as _;
        self.buf.clear();
        let _ = self.buf.write_fmt(feature);
        let index = u32::try_from(fnv1a(&self.buf) & self.mask).unwrap_or(0);
        let name = self.names.then(|| self.buf.clone());
        self.pairs.push((index, name));
    }

    fn finish(mut self) -> Features {
        // Stable: of two features in one bucket, the first one seen names it.
        self.pairs.sort_by_key(|p| p.0);
        self.pairs.dedup_by(|a, b| a.0 == b.0);
        self.pairs.truncate(MAX_FEATURES);
        let n = self.pairs.len().max(1) as f32;
        let v = 1.0 / n.sqrt();
        Features {
            value: vec![v; self.pairs.len()],
            index: self.pairs.iter().map(|p| p.0).collect(),
            name: self.pairs.into_iter().filter_map(|p| p.1).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Limits;

    fn view(raw: &str) -> MessageView {
        MessageView::build(raw.as_bytes(), &Limits::default())
    }

    /// With names, folded as the engine does.
    fn named(v: &MessageView, bits: u8) -> Features {
        let own = phishgate_text::fold(&v.own_words());
        let f = extract(v, &own.text, bits, true);
        let plain = features_of_view(v, bits);
        // Names change nothing but the names.
        assert_eq!((&f.index, &f.value), (&plain.index, &plain.value));
        assert!(plain.name.is_empty());
        assert_eq!(f.name.len(), f.index.len());
        f
    }

    #[test]
    fn same_words_same_features_whatever_the_diacritics() {
        let a = named(
            &view("Subject: Xác minh tài khoản\r\n\r\nVui lòng xác minh tài khoản ngay.\r\n"),
            18,
        );
        let b = named(
            &view("Subject: Xac minh tai khoan\r\n\r\nVui long xac minh tai khoan ngay.\r\n"),
            18,
        );
        assert_eq!(a.index, b.index);
        assert!(a.name.iter().any(|n| n == "b:xac_minh"), "{:?}", a.name);
    }

    #[test]
    fn evidence_names_what_a_reader_can_find() {
        for f in [
            "w:verify",
            "b:xac_minh",
            "ld:example.com",
            "ae:iso",
            "hm:outlook",
        ] {
            assert!(telling(f), "{f}");
        }
        for f in [
            "n:links:2-5",
            "cs:utf-8",
            "ct:text/html",
            "st:!:2-5",
            "ls:https",
            "hm:-",
        ] {
            assert!(!telling(f), "{f}");
        }
    }

    #[test]
    fn sorted_unique_normalised() {
        let f = named(
            &view("Subject: a b c\r\n\r\nhello hello world http://x.example/login\r\n"),
            16,
        );
        assert!(f.index.windows(2).all(|w| w[0] < w[1]));
        let norm: f32 = f.value.iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-4);
        assert!(f.name.iter().any(|n| n == "ld:x.example"));
        assert!(f.name.iter().any(|n| n == "lp:login"));
    }
}
