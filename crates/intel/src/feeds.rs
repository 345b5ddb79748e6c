//! Threat feeds read from files, reloaded when the files change.
//!
//! Each `[[feeds.source]]` names a file and its format; the file becomes
//! one [`phishgate_core::Feed`] (indicators normalised by the core, so a
//! feed entry and a link compare equal), and all feeds together one
//! [`FeedIndex`] that scans share through [`phishgate_core::Facts::feeds`].
//!
//! ```toml
//! [feeds]
//! check_interval_secs = 30        # how often files are checked for changes
//! max_file_bytes = 67108864       # a larger file is refused (old index kept)
//! max_entries = 2000000           # per feed; the rest is dropped, reported
//!
//! [[feeds.source]]
//! name = "openphish"
//! path = "/var/lib/phishgate/feeds/openphish.txt"
//! format = "openphish"   # | phishtank_csv | phishtank_json | urlhaus_csv
//!                        # | domains | urls | senders | sha256
//! ```
//!
//! Formats: `openphish` is one URL per line; `phishtank_csv` is PhishTank's
//! `online-valid.csv` (the `url` column named by the header line);
//! `phishtank_json` its `online-valid.json` (an array of objects with a `url`
//! field); `urlhaus_csv` is URLhaus's CSV export (`#` comment lines, the URL
//! in the third quoted column); `domains`, `urls`, `senders` and `sha256`
//! are the IT centre's own lists, one indicator per line, `#` starting a
//! comment line or a comment after the indicator.
//!
//! Reloading: [`FeedSet::refresh`] compares each file's size, modification
//! time and inode with what was loaded (a `stat`, no read) and reloads only
//! the feeds that changed; [`FeedSet::refresh_if_due`] does so at most every
//! `check_interval_secs` and never waits for a reload in progress, so any
//! scan may call it; [`FeedSet::spawn_reloader`] runs the check on a
//! blocking thread in the background instead. Write feed files by renaming
//! a finished temporary file over the old one (a half-written file is read
//! as it is, and reloaded again when it changes).
//!
//! Failure behaviour: a feed that cannot be read (missing, unreadable,
//! larger than `max_file_bytes`, unparsable JSON, or more bad lines than
//! good ones) keeps its previous indicators, and the error is logged and
//! shown in [`FeedSet::status`]; the same file is not retried until it
//! changes. Bad lines are counted and reported (the first few with their
//! line numbers), never fatal. A feed over `max_entries` keeps its first
//! `max_entries` indicators and is marked truncated. The index is swapped
//! atomically: a scan sees the old feeds or the new ones, never a mixture
//! of one feed's halves.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use phishgate_core::feeds::IndicatorKind;
use phishgate_core::{Config, Feed, FeedIndex};
use serde::Deserialize;

/// Default of `check_interval_secs`.
pub const DEFAULT_CHECK_INTERVAL_SECS: u64 = 30;
/// Default of `max_file_bytes` (64 MiB: PhishTank's JSON is about 30 MiB).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Default of `max_entries` per feed.
pub const DEFAULT_MAX_ENTRIES: usize = 2_000_000;
/// Bad lines remembered per feed, for the log and the status.
pub const MAX_BAD_LINES_KEPT: usize = 5;

/// `[feeds]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedsConfig {
    /// Seconds between checks of the files for changes.
    #[serde(default = "default_interval")]
    pub check_interval_secs: u64,
    /// Largest feed file read, in bytes.
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: u64,
    /// Most indicators kept per feed.
    #[serde(default = "default_max_entries")]
    pub max_entries: usize,
    /// The feeds (`[[feeds.source]]`).
    #[serde(default)]
    pub source: Vec<FeedSource>,
}

fn default_interval() -> u64 {
    DEFAULT_CHECK_INTERVAL_SECS
}
fn default_max_file_bytes() -> u64 {
    DEFAULT_MAX_FILE_BYTES
}
fn default_max_entries() -> usize {
    DEFAULT_MAX_ENTRIES
}

impl Default for FeedsConfig {
    fn default() -> Self {
        FeedsConfig {
            check_interval_secs: DEFAULT_CHECK_INTERVAL_SECS,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_entries: DEFAULT_MAX_ENTRIES,
            source: Vec::new(),
        }
    }
}

/// One `[[feeds.source]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSource {
    /// The feed's name: evidence in symbols (`openphish:evil.example/x`).
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: FeedFormat,
}

/// Formats of feed files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedFormat {
    /// OpenPhish: one URL per line.
    Openphish,
    /// PhishTank `online-valid.csv`.
    PhishtankCsv,
    /// PhishTank `online-valid.json`.
    PhishtankJson,
    /// URLhaus CSV export.
    UrlhausCsv,
    /// One domain per line.
    Domains,
    /// One URL per line.
    Urls,
    /// One sender address or domain per line.
    Senders,
    /// One SHA-256 (hex) per line.
    Sha256,
}

impl FeedsConfig {
    /// Reads `[feeds]` from a configuration: `Ok(None)` when absent.
    pub fn from_config(config: &Config) -> Result<Option<FeedsConfig>, FeedError> {
        let Some(t) = &config.feeds else {
            return Ok(None);
        };
        let c: FeedsConfig = t
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| FeedError::Config(format!("[feeds]: {e}")))?;
        c.validate()?;
        Ok(Some(c))
    }

    /// Checks names (non-empty, unique) and bounds.
    pub fn validate(&self) -> Result<(), FeedError> {
        let mut names = HashSet::new();
        for s in &self.source {
            if s.name.trim().is_empty() {
                return Err(FeedError::Config(format!(
                    "[[feeds.source]] {}: name is empty",
                    s.path.display()
                )));
            }
            if !names.insert(s.name.as_str()) {
                return Err(FeedError::Config(format!(
                    "[[feeds.source]] name \"{}\" is used twice",
                    s.name
                )));
            }
        }
        if self.max_file_bytes == 0 || self.max_entries == 0 {
            return Err(FeedError::Config(
                "[feeds] max_file_bytes and max_entries must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// A feed could not be configured or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    /// `[feeds]` is wrong.
    #[error("{0}")]
    Config(String),
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is larger than `max_file_bytes`.
    #[error("{path}: {size} bytes is more than max_file_bytes = {limit}")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size (at least).
        size: u64,
        /// The bound.
        limit: u64,
    },
    /// The content is not in the declared format.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A feed parsed from bytes, with what was wrong in it.
#[derive(Debug, Clone)]
pub struct ParsedFeed {
    /// The indicators.
    pub feed: Feed,
    /// Lines that were not indicators of the format (comments and blank
    /// lines do not count).
    pub bad_lines: usize,
    /// The first few bad lines: line number (from 1) and text (shortened).
    pub first_bad: Vec<(usize, String)>,
    /// `max_entries` was reached; later indicators were dropped.
    pub truncated: bool,
}

struct Collector {
    parsed: ParsedFeed,
    max_entries: usize,
}

impl Collector {
    fn new(name: &str, max_entries: usize) -> Self {
        Collector {
            parsed: ParsedFeed {
                feed: Feed::new(name),
                bad_lines: 0,
                first_bad: Vec::new(),
                truncated: false,
            },
            max_entries,
        }
    }

    /// Adds one indicator; false once the feed is full.
    fn add(&mut self, kind: IndicatorKind, text: &str, line: usize) -> bool {
        if self.parsed.feed.len() >= self.max_entries {
            self.parsed.truncated = true;
            return false;
        }
        if !self.parsed.feed.insert(kind, text) {
            self.bad(line, text);
        }
        true
    }

    fn bad(&mut self, line: usize, text: &str) {
        self.parsed.bad_lines += 1;
        if self.parsed.first_bad.len() < MAX_BAD_LINES_KEPT {
            self.parsed
                .first_bad
                .push((line, text.chars().take(80).collect()));
        }
    }
}

/// Parses a feed file's bytes (pure; [`load_feed`] reads the file).
pub fn parse_feed(
    name: &str,
    format: FeedFormat,
    bytes: &[u8],
    max_entries: usize,
    path: &Path,
) -> Result<ParsedFeed, FeedError> {
    let mut c = Collector::new(name, max_entries);
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let parse_err = |message: String| FeedError::Parse {
        path: path.to_path_buf(),
        message,
    };
    match format {
        FeedFormat::Openphish | FeedFormat::Urls => plain(&mut c, text, IndicatorKind::Url),
        FeedFormat::Domains => plain(&mut c, text, IndicatorKind::Domain),
        FeedFormat::Senders => plain(&mut c, text, IndicatorKind::Sender),
        FeedFormat::Sha256 => plain(&mut c, text, IndicatorKind::Sha256),
        FeedFormat::PhishtankCsv => {
            let mut lines = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty());
            let header = lines
                .next()
                .and_then(|(_, l)| csv_fields(l))
                .ok_or_else(|| parse_err("empty file, or no CSV header".into()))?;
            let col = header
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case("url"))
                .ok_or_else(|| parse_err("the header has no `url` column".into()))?;
            for (i, l) in lines {
                match csv_fields(l).and_then(|f| f.into_iter().nth(col)) {
                    Some(u) => {
                        if !c.add(IndicatorKind::Url, &u, i + 1) {
                            break;
                        }
                    }
                    None => c.bad(i + 1, l),
                }
            }
        }
        FeedFormat::UrlhausCsv => {
            for (i, l) in text.lines().enumerate() {
                let t = l.trim();
                if t.is_empty() || t.starts_with('#') {
                    continue;
                }
                match csv_fields(t).and_then(|f| f.into_iter().nth(2)) {
                    Some(u) => {
                        if !c.add(IndicatorKind::Url, &u, i + 1) {
                            break;
                        }
                    }
                    None => c.bad(i + 1, l),
                }
            }
        }
        FeedFormat::PhishtankJson => {
            #[derive(Deserialize)]
            struct Entry {
                #[serde(default)]
                url: Option<String>,
            }
            let entries: Vec<Entry> = serde_json::from_slice(bytes)
                .map_err(|e| parse_err(format!("not a PhishTank JSON array: {e}")))?;
            for (i, e) in entries.into_iter().enumerate() {
                match e.url {
                    Some(u) => {
                        if !c.add(IndicatorKind::Url, &u, i + 1) {
                            break;
                        }
                    }
                    // "Line" is the entry's position in the array here.
                    None => c.bad(i + 1, "(entry without url)"),
                }
            }
        }
    }
    let p = c.parsed;
    // A file in the wrong format, or garbage, must not replace a good feed
    // with an empty one.
    if p.bad_lines > 0 && p.bad_lines > p.feed.len() {
        return Err(parse_err(format!(
            "{} bad lines and only {} indicators: wrong format? first bad: {:?}",
            p.bad_lines,
            p.feed.len(),
            p.first_bad
        )));
    }
    Ok(p)
}

/// One indicator per line; `#` starts a comment line or a comment after the
/// indicator (after white space: `#` inside a URL is a fragment).
fn plain(c: &mut Collector, text: &str, kind: IndicatorKind) {
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let (token, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
        let rest = rest.trim_start();
        if !rest.is_empty() && !rest.starts_with('#') {
            c.bad(i + 1, l);
            continue;
        }
        if !c.add(kind, token, i + 1) {
            break;
        }
    }
}

/// Splits one CSV line (RFC 4180 quoting, `""` inside quotes). `None` for
/// an unterminated quote. Feed URLs never span lines, so a record is a
/// line.
fn csv_fields(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.trim_end_matches(['\r', '\n']).chars().peekable();
    let mut in_quotes = false;
    let mut quoted_field = false;
    while let Some(ch) = chars.next() {
        if in_quotes {
            if ch == '"' {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                cur.push(ch);
            }
        } else if ch == '"' && cur.is_empty() && !quoted_field {
            in_quotes = true;
            quoted_field = true;
        } else if ch == ',' {
            fields.push(std::mem::take(&mut cur));
            quoted_field = false;
        } else {
            cur.push(ch);
        }
    }
    if in_quotes {
        return None;
    }
    fields.push(cur);
    Some(fields)
}

/// What identifies a version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

fn stamp_of(meta: &std::fs::Metadata) -> Stamp {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0;
    Stamp {
        len: meta.len(),
        modified: meta.modified().ok(),
        inode,
    }
}

/// Reads and parses one feed file, bounded by `max_file_bytes` (checked on
/// the open file and again while reading, in case it grows).
pub fn load_feed(source: &FeedSource, config: &FeedsConfig) -> Result<ParsedFeed, FeedError> {
    load_with_stamp(source, config).map(|(p, _)| p)
}

fn load_with_stamp(
    source: &FeedSource,
    config: &FeedsConfig,
) -> Result<(ParsedFeed, Stamp), FeedError> {
    let io = |e| FeedError::Io {
        path: source.path.clone(),
        source: e,
    };
    let file = File::open(&source.path).map_err(io)?;
    let stamp = stamp_of(&file.metadata().map_err(io)?);
    let too_large = |size| FeedError::TooLarge {
        path: source.path.clone(),
        size,
        limit: config.max_file_bytes,
    };
    if stamp.len > config.max_file_bytes {
        return Err(too_large(stamp.len));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(stamp.len).unwrap_or(0));
    file.take(config.max_file_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > config.max_file_bytes {
        return Err(too_large(bytes.len() as u64));
    }
    let parsed = parse_feed(
        &source.name,
        source.format,
        &bytes,
        config.max_entries,
        &source.path,
    )?;
    Ok((parsed, stamp))
}

/// How one feed stands, for logs, metrics and the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedStatus {
    /// Feed name.
    pub name: String,
    /// File.
    pub path: PathBuf,
    /// Indicators in force.
    pub entries: usize,
    /// Bad lines in the version in force.
    pub bad_lines: usize,
    /// The first bad lines (line number, text).
    pub first_bad: Vec<(usize, String)>,
    /// The version in force was cut at `max_entries`.
    pub truncated: bool,
    /// The last load attempt failed: why (the previous indicators, if any,
    /// stay in force).
    pub last_error: Option<String>,
    /// Successful loads so far.
    pub loads: u64,
}

struct FeedState {
    source: FeedSource,
    /// Stamp of the last version tried (loaded or failed).
    tried: Option<Stamp>,
    feed: Arc<Feed>,
    status: FeedStatus,
}

/// The feeds in force, reloaded when their files change. Share it in an
/// `Arc`; every method takes `&self`.
pub struct FeedSet {
    config: FeedsConfig,
    states: Mutex<Vec<FeedState>>,
    index: RwLock<Arc<FeedIndex>>,
    next_check: Mutex<Instant>,
}

impl std::fmt::Debug for FeedSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedSet")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl FeedSet {
    /// Loads every feed now. Never fails: a feed that cannot be loaded is
    /// empty, logged and shown in [`FeedSet::status`], and tried again when
    /// its file changes.
    pub fn load(config: FeedsConfig) -> FeedSet {
        let states = config
            .source
            .iter()
            .map(|s| FeedState {
                source: s.clone(),
                tried: None,
                feed: Arc::new(Feed::new(&s.name)),
                status: FeedStatus {
                    name: s.name.clone(),
                    path: s.path.clone(),
                    entries: 0,
                    bad_lines: 0,
                    first_bad: Vec::new(),
                    truncated: false,
                    last_error: None,
                    loads: 0,
                },
            })
            .collect();
        let interval = Duration::from_secs(config.check_interval_secs);
        let set = FeedSet {
            config,
            states: Mutex::new(states),
            index: RwLock::new(Arc::new(FeedIndex::default())),
            next_check: Mutex::new(Instant::now() + interval),
        };
        set.refresh();
        set
    }

    /// The configuration.
    pub fn config(&self) -> &FeedsConfig {
        &self.config
    }

    /// The index in force (cheap: an `Arc` clone).
    pub fn index(&self) -> Arc<FeedIndex> {
        match self.index.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    /// The index, after checking the files if `check_interval_secs` has
    /// passed since the last check. Never waits for a check another thread
    /// is doing (it gets the index in force). Call it from blocking code
    /// (it may read a changed file).
    pub fn refresh_if_due(&self) -> Arc<FeedIndex> {
        let due = match self.next_check.try_lock() {
            Ok(mut next) => {
                let now = Instant::now();
                if now >= *next {
                    *next = now + Duration::from_secs(self.config.check_interval_secs);
                    true
                } else {
                    false
                }
            }
            Err(_) => false,
        };
        if due {
            self.refresh_inner(false);
        }
        self.index()
    }

    /// Checks every file now and reloads the changed ones. Returns whether
    /// the index changed.
    pub fn refresh(&self) -> bool {
        self.refresh_inner(true)
    }

    fn refresh_inner(&self, wait: bool) -> bool {
        let mut states = if wait {
            match self.states.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            }
        } else {
            match self.states.try_lock() {
                Ok(g) => g,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return false,
            }
        };
        let mut changed = false;
        for st in states.iter_mut() {
            let current = std::fs::metadata(&st.source.path)
                .ok()
                .map(|m| stamp_of(&m));
            if current.is_some() && current == st.tried {
                continue;
            }
            if current.is_none() && st.tried.is_none() && st.status.last_error.is_some() {
                // Still missing: already reported.
                continue;
            }
            match load_with_stamp(&st.source, &self.config) {
                Ok((parsed, stamp)) => {
                    st.tried = Some(stamp);
                    let ParsedFeed {
                        feed,
                        bad_lines,
                        first_bad,
                        truncated,
                    } = parsed;
                    tracing::info!(
                        feed = %st.source.name,
                        path = %st.source.path.display(),
                        entries = feed.len(),
                        bad_lines,
                        truncated,
                        "threat feed loaded"
                    );
                    if bad_lines > 0 {
                        tracing::warn!(feed = %st.source.name, bad_lines, first_bad = ?first_bad, "threat feed has bad lines");
                    }
                    if truncated {
                        tracing::warn!(feed = %st.source.name, max_entries = self.config.max_entries, "threat feed truncated at max_entries");
                    }
                    st.status.entries = feed.len();
                    st.status.bad_lines = bad_lines;
                    st.status.first_bad = first_bad;
                    st.status.truncated = truncated;
                    st.status.last_error = None;
                    st.status.loads += 1;
                    st.feed = Arc::new(feed);
                    changed = true;
                }
                Err(e) => {
                    // Do not retry the same version of the file; keep the
                    // indicators in force.
                    st.tried = current;
                    tracing::warn!(feed = %st.source.name, error = %e, kept = st.feed.len(), "threat feed not reloaded; keeping the previous version");
                    st.status.last_error = Some(e.to_string());
                }
            }
        }
        if changed {
            let index = Arc::new(FeedIndex::new(
                states.iter().map(|s| Arc::clone(&s.feed)).collect(),
            ));
            match self.index.write() {
                Ok(mut g) => *g = index,
                Err(p) => *p.into_inner() = index,
            }
        }
        changed
    }

    /// How every feed stands.
    pub fn status(&self) -> Vec<FeedStatus> {
        let states = match self.states.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        states.iter().map(|s| s.status.clone()).collect()
    }

    /// Checks the files every `check_interval_secs` in the background (on
    /// a blocking thread, so a large reload never stalls the runtime). The
    /// task ends when the last `Arc` of the set is dropped. Requires a
    /// tokio runtime.
    pub fn spawn_reloader(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak: Weak<FeedSet> = Arc::downgrade(self);
        let interval = Duration::from_secs(self.config.check_interval_secs.max(1));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(set) = weak.upgrade() else { return };
                let res = tokio::task::spawn_blocking(move || set.refresh()).await;
                if res.is_err() {
                    tracing::error!(
                        "threat feed reload panicked; the previous feeds stay in force"
                    );
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(format: FeedFormat, text: &str) -> Result<ParsedFeed, FeedError> {
        parse_feed("t", format, text.as_bytes(), 1000, Path::new("t"))
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(
            csv_fields(r#""1","a,b","say ""hi""",x"#),
            Some(vec![
                "1".into(),
                "a,b".into(),
                "say \"hi\"".into(),
                "x".into()
            ])
        );
        assert_eq!(csv_fields(r#""open"#), None);
        assert_eq!(csv_fields(""), Some(vec![String::new()]));
    }

    #[test]
    fn plain_lists_comments_and_bad_lines() {
        let p = parse(
            FeedFormat::Domains,
            "# advisory 12/2026\n\nevil.example  # from the report\ncom\nbad entry here\n\u{0}\n.x.example\ny.example\nz.example\n",
        )
        .expect("parsed");
        assert_eq!(p.feed.len(), 4);
        assert_eq!(p.bad_lines, 3);
        assert_eq!(p.first_bad[0], (4, "com".to_string()));
        // A URL's fragment is not a comment.
        let p = parse(FeedFormat::Urls, "http://e.example/a#x\n").expect("parsed");
        assert_eq!(p.bad_lines, 0);
    }

    #[test]
    fn mostly_garbage_is_an_error() {
        assert!(parse(FeedFormat::Sha256, "not a hash\nnor this\n").is_err());
        assert!(parse(FeedFormat::PhishtankJson, "{\"url\": 1}").is_err());
        assert!(parse(FeedFormat::PhishtankCsv, "a,b\n1,2\n").is_err());
        // Empty lists are valid (the IT centre cleared its list).
        assert_eq!(
            parse(FeedFormat::Senders, "# none yet\n")
                .expect("ok")
                .feed
                .len(),
            0
        );
    }

    #[test]
    fn entries_are_bounded() {
        let text: String = (0..50).map(|i| format!("d{i}.example\n")).collect();
        let p = parse_feed(
            "t",
            FeedFormat::Domains,
            text.as_bytes(),
            10,
            Path::new("t"),
        )
        .expect("parsed");
        assert_eq!(p.feed.len(), 10);
        assert!(p.truncated);
    }

    #[test]
    fn config_shape() {
        let c = Config::from_toml_str(
            "[feeds]\ncheck_interval_secs = 5\n[[feeds.source]]\nname = \"op\"\npath = \"/x\"\nformat = \"openphish\"\n",
        )
        .expect("config");
        let f = FeedsConfig::from_config(&c).expect("ok").expect("some");
        assert_eq!(f.check_interval_secs, 5);
        assert_eq!(f.max_entries, DEFAULT_MAX_ENTRIES);
        assert_eq!(f.source[0].format, FeedFormat::Openphish);
        let bad = Config::from_toml_str(
            "[feeds]\n[[feeds.source]]\nname = \"op\"\npath = \"/x\"\nformat = \"csv\"\n",
        )
        .expect("config");
        assert!(FeedsConfig::from_config(&bad).is_err());
        let typo = Config::from_toml_str("[feeds]\ncheck_interval = 5\n").expect("config");
        assert!(FeedsConfig::from_config(&typo).is_err());
        let dup = Config::from_toml_str(
            "[[feeds.source]]\nname = \"a\"\npath = \"/x\"\nformat = \"urls\"\n[[feeds.source]]\nname = \"a\"\npath = \"/y\"\nformat = \"urls\"\n",
        )
        .expect("config");
        assert!(FeedsConfig::from_config(&dup).is_err());
        assert!(FeedsConfig::from_config(&Config::default())
            .expect("ok")
            .is_none());
    }
}
