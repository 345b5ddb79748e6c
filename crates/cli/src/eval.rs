//! `phishgate eval`: measures detection on labelled folders.
//!
//! The I/O half of `phishgate-eval`: expands the folders (files, mbox,
//! Maildir, like `scan`), reads and prepares every message in parallel
//! (normalise, view, scan, campaign features), groups campaigns, picks the
//! requested part of the split and writes the report. `phishgate train`
//! will reuse [`load`] so it sees exactly the same messages and split.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use clap::ValueEnum;
use phishgate_core::Engine;
use phishgate_eval::report::{InputError, InputErrorKind};
use phishgate_eval::{Class, Features, Record, Report, RunMeta, SplitSelect};
use rayon::prelude::*;

use crate::input::{self, Item};

/// Report format.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EvalFormat {
    /// A readable summary.
    Text,
    /// The full report as one JSON document (fields: see the README).
    Json,
    /// A self-contained HTML page with plots.
    Html,
    /// One JSON object per evaluated message (source, class, score,
    /// action, symbols, group, part), for scripts that tune or compare.
    Records,
}

/// Which part of the split to evaluate.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SplitArg {
    /// Every message.
    All,
    /// The train part (two thirds of the campaigns).
    Train,
    /// The train part without its validation quarter (fit here when tuning).
    Fit,
    /// A quarter of the train part's campaigns, held out for tuning.
    Validation,
    /// The held-out test part (a third of the campaigns).
    Test,
}

impl From<SplitArg> for SplitSelect {
    fn from(s: SplitArg) -> Self {
        match s {
            SplitArg::All => SplitSelect::All,
            SplitArg::Train => SplitSelect::Train,
            SplitArg::Fit => SplitSelect::Fit,
            SplitArg::Validation => SplitSelect::Validation,
            SplitArg::Test => SplitSelect::Test,
        }
    }
}

/// The labelled inputs shared by `phishgate eval` and `phishgate train`:
/// the same folders and seed give the same campaign split in both.
#[derive(clap::Args)]
pub struct Labelled {
    /// Configuration file (TOML); shipped defaults when absent.
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// Folder, file, mbox or Maildir of phishing (repeatable).
    #[arg(long)]
    pub phish: Vec<String>,
    /// Folder, file, mbox or Maildir of spam (repeatable).
    #[arg(long)]
    pub spam: Vec<String>,
    /// Folder, file, mbox or Maildir of legitimate mail (repeatable).
    #[arg(long)]
    pub ham: Vec<String>,
    /// Seed of the split (the same seed and folders give the same split).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
}

impl Labelled {
    /// The folders by class; an error when none is given.
    pub fn classes(&self) -> Result<[(Class, &[String]); 3]> {
        if self.phish.is_empty() && self.spam.is_empty() && self.ham.is_empty() {
            bail!("give at least one labelled folder: --phish DIR, --spam DIR or --ham DIR");
        }
        Ok([
            (Class::Phish, &self.phish),
            (Class::Spam, &self.spam),
            (Class::Ham, &self.ham),
        ])
    }

    /// A worker pool of `--jobs` threads (all cores by default).
    pub fn pool(&self) -> Result<rayon::ThreadPool> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(self.jobs.unwrap_or(0))
            .build()
            .context("cannot start worker threads")
    }
}

/// Arguments of `phishgate eval`.
#[derive(clap::Args)]
pub struct Args {
    /// Inputs, configuration, seed, threads.
    #[command(flatten)]
    pub input: Labelled,
    /// Report format.
    #[arg(long, short = 'f', value_enum, default_value_t = EvalFormat::Text)]
    pub format: EvalFormat,
    /// Write the report here instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Evaluate every message, or one part of the campaign split.
    #[arg(long, value_enum, default_value_t = SplitArg::All)]
    pub split: SplitArg,
    /// Judge with this model file instead of `[classifier] model` (e.g. the
    /// development model of `scripts/train-model --dev`, trained on the
    /// train part only, to measure the test part honestly).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Print `class<TAB>file` for every message of the chosen split instead
    /// of a report (scripts/compare.py feeds exactly these to the other
    /// filters).
    #[arg(long)]
    pub list: bool,
}

/// Messages prepared from labelled folders, in a stable order.
pub struct Loaded {
    /// One record per message (group and part filled in).
    pub records: Vec<Record>,
    /// Inputs without a verdict.
    pub errors: Vec<InputError>,
    /// The classifier's features of each record (same order), when asked.
    pub learn: Vec<Option<phishgate_core::learn::Features>>,
}

enum One {
    Done(
        Box<Record>,
        Features,
        u64,
        Option<phishgate_core::learn::Features>,
    ),
    Error(InputError),
}

/// Reads, normalises, scans and groups every message of the labelled
/// paths; the split is decided by `seed`.
pub fn load(
    engine: &Engine,
    labelled: &[(Class, &[String])],
    seed: u64,
    pool: &rayon::ThreadPool,
    learn_bits: Option<u8>,
) -> Result<Loaded> {
    let mut items: Vec<(Class, Item)> = Vec::new();
    for (class, paths) in labelled {
        items.extend(input::expand(paths).into_iter().map(|i| (*class, i)));
    }
    let progress = (items.len() >= 50 && std::io::stderr().is_terminal()).then(|| {
        let pb = indicatif::ProgressBar::new(items.len() as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos}/{len} messages [{elapsed_precise}] {wide_bar} {per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    let outcomes: Vec<One> = pool.install(|| {
        items
            .par_iter()
            .map(|(class, item)| {
                let o = prepare_item(engine, *class, item, learn_bits);
                if let Some(pb) = &progress {
                    pb.inc(1);
                }
                o
            })
            .collect()
    });
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    let mut records = Vec::new();
    let mut features = Vec::new();
    let mut ids = Vec::new();
    let mut errors = Vec::new();
    let mut learn = Vec::new();
    for o in outcomes {
        match o {
            One::Done(r, f, id, l) => {
                records.push(*r);
                features.push(f);
                ids.push(id);
                learn.push(l);
            }
            One::Error(e) => errors.push(e),
        }
    }
    let groups = phishgate_eval::assign_groups(&features, &ids);
    for (r, g) in records.iter_mut().zip(groups) {
        r.group = g;
        r.part = phishgate_eval::part_of(g, seed);
    }
    Ok(Loaded {
        records,
        errors,
        learn,
    })
}

fn prepare_item(engine: &Engine, class: Class, item: &Item, learn_bits: Option<u8>) -> One {
    let source = item.source();
    let data = match item {
        Item::Error { message, .. } => {
            return One::Error(InputError {
                source,
                kind: InputErrorKind::Unreadable,
                message: message.clone(),
            })
        }
        Item::Bytes { data, .. } => std::borrow::Cow::Borrowed(data.as_slice()),
        Item::File(p, _) => match std::fs::read(p) {
            Ok(d) => std::borrow::Cow::Owned(d),
            Err(e) => {
                return One::Error(InputError {
                    message: format!("cannot read {source}: {e}"),
                    kind: InputErrorKind::Unreadable,
                    source,
                })
            }
        },
    };
    let (p, learn) = phishgate_eval::prepare_with(engine, &data, learn_bits);
    if p.result.symbols.iter().any(|s| s.name == "NOT_MAIL") {
        return One::Error(InputError {
            source,
            kind: InputErrorKind::NotMail,
            message: "not an e-mail message (no header lines at the start)".into(),
        });
    }
    let record = Record {
        source,
        class,
        score: p.result.score,
        action: p.result.action,
        symbols: p
            .result
            .symbols
            .iter()
            .filter(|s| s.score != 0.0)
            .map(|s| (s.name.clone(), s.score))
            .collect(),
        group: 0,
        part: phishgate_eval::Part::Train,
    };
    One::Done(Box::new(record), p.features, p.id, learn)
}

/// Runs `phishgate eval`.
pub fn run(args: Args) -> Result<ExitCode> {
    let labelled = args.input.classes()?;
    let mut config = crate::load_config(args.input.config.as_ref())?;
    if let Some(m) = &args.model {
        config.classifier.model = m.display().to_string();
    }
    let config_hash = phishgate_eval::config_hash(&config);
    let engine = phishgate_gateway::scanner::engine_for(config)?;
    let pool = args.input.pool()?;
    let started = std::time::Instant::now();
    let loaded = load(&engine, &labelled, args.input.seed, &pool, None)?;
    if args.list {
        let select = SplitSelect::from(args.split);
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for r in loaded.records.iter().filter(|r| select.includes(r.part)) {
            writeln!(out, "{}\t{}", r.class.as_str(), r.source)?;
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut meta = RunMeta::new(
        phishgate_eval::utc_timestamp(now),
        env!("CARGO_PKG_VERSION").to_string(),
        config_hash,
        engine.config().actions.into(),
        args.split.into(),
        args.input.seed,
    );
    meta.threads = pool.current_num_threads();
    meta.elapsed_seconds = (elapsed * 1000.0).round() / 1000.0;
    meta.messages_per_second = if elapsed > 0.0 {
        (loaded.records.len() as f64 / elapsed).round()
    } else {
        0.0
    };
    let unreadable = loaded
        .errors
        .iter()
        .any(|e| e.kind == InputErrorKind::Unreadable);
    let report = Report::build(meta, &loaded.records, loaded.errors);
    let text = match args.format {
        EvalFormat::Text => phishgate_eval::report::render_text(&report),
        EvalFormat::Json => {
            let mut s =
                serde_json::to_string_pretty(&report).context("cannot encode the report")?;
            s.push('\n');
            s
        }
        EvalFormat::Html => phishgate_eval::html::render_html(&report),
        EvalFormat::Records => {
            let select = SplitSelect::from(args.split);
            let mut s = String::new();
            for r in loaded.records.iter().filter(|r| select.includes(r.part)) {
                s.push_str(&serde_json::to_string(r).context("cannot encode a record")?);
                s.push('\n');
            }
            s
        }
    };
    match &args.output {
        Some(p) => {
            std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()))?;
            eprintln!("phishgate: wrote {}", p.display());
        }
        None => {
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(e.into());
                }
            }
        }
    }
    Ok(if unreadable {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
