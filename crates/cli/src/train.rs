//! `phishgate train`: the learned classifier from labelled folders.
//!
//! Every message is normalised exactly as `phishgate eval` does (collection
//! marks removed), grouped into campaigns over all the folders given, and
//! only the training part of the split (`--split train`, the same seed as
//! eval) is learned from, so `phishgate eval --split test` afterwards
//! measures mail the model never saw. `--always-phish` / `--always-ham`
//! folders (the project's own hand-written fixtures) are learned from in
//! full. The result is deterministic for the same inputs and seed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use phishgate_core::learn::{Model, TrainOptions, DEFAULT_BITS};
use phishgate_eval::{Class, SplitSelect};

use crate::eval::SplitArg;

/// `phishgate train` arguments.
#[derive(Args)]
pub struct TrainArgs {
    /// Inputs split by campaign, configuration, seed, threads.
    #[command(flatten)]
    pub input: crate::eval::Labelled,
    /// Phishing learned from in full (the project's fixtures).
    #[arg(long)]
    pub always_phish: Vec<String>,
    /// Legitimate mail learned from in full (the project's fixtures).
    #[arg(long)]
    pub always_ham: Vec<String>,
    /// Which part of the campaign split to learn from.
    #[arg(long, value_enum, default_value_t = SplitArg::Train)]
    pub split: SplitArg,
    /// Passes over the data.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// AdaGrad learning rate.
    #[arg(long, default_value_t = TrainOptions::default().learning_rate)]
    pub learning_rate: f32,
    /// L2 penalty per update.
    #[arg(long, default_value_t = TrainOptions::default().l2)]
    pub l2: f32,
    /// How many times each `--always-*` message counts: the project's own
    /// fixtures are the only modern and Vietnamese mail, so they weigh more
    /// than one 2002-era corpus message each.
    #[arg(long, default_value_t = 1)]
    pub fixture_weight: usize,
    /// Hash width (2^bits buckets).
    #[arg(long, default_value_t = DEFAULT_BITS)]
    pub bits: u8,
    /// Where to write the model.
    #[arg(long, short = 'o')]
    pub output: PathBuf,
}

/// Runs `phishgate train`.
pub fn run(a: TrainArgs) -> Result<ExitCode> {
    let labelled = a.input.classes()?;
    let mut config = crate::load_config(a.input.config.as_ref())?;
    // Scanning while loading is only for the split; the model being
    // replaced must not matter.
    config.classifier.enabled = false;
    let engine = phishgate_core::Engine::new(config)?;
    let pool = a.input.pool()?;
    let started = std::time::Instant::now();
    let loaded = crate::eval::load(&engine, &labelled, a.input.seed, &pool, Some(a.bits))?;
    let select = SplitSelect::from(a.split);
    let mut data = Vec::new();
    let mut counts = [0usize; 3];
    for (r, f) in loaded.records.iter().zip(loaded.learn) {
        if !select.includes(r.part) {
            continue;
        }
        if let Some(f) = f {
            let k = match r.class {
                Class::Phish => 0,
                Class::Spam => 1,
                Class::Ham => 2,
            };
            if let Some(c) = counts.get_mut(k) {
                *c += 1;
            }
            data.push((f, r.class.is_positive()));
        }
    }
    let always: [(Class, &[String]); 2] =
        [(Class::Phish, &a.always_phish), (Class::Ham, &a.always_ham)];
    let extra = crate::eval::load(&engine, &always, a.input.seed, &pool, Some(a.bits))?;
    let mut fixtures = 0usize;
    for (r, f) in extra.records.iter().zip(extra.learn) {
        if let Some(f) = f {
            fixtures += 1;
            for _ in 1..a.fixture_weight.max(1) {
                data.push((f.clone(), r.class.is_positive()));
            }
            data.push((f, r.class.is_positive()));
        }
    }
    if data.iter().all(|d| d.1) || data.iter().all(|d| !d.1) {
        bail!("training needs both unwanted (phish/spam) and legitimate messages");
    }
    let opts = TrainOptions {
        epochs: a.epochs,
        learning_rate: a.learning_rate,
        l2: a.l2,
        seed: a.input.seed.wrapping_add(42),
    };
    let model = Model::train(a.bits, &data, opts);
    let correct = data
        .iter()
        .filter(|(f, y)| (model.probability(f) >= 0.5) == *y)
        .count();
    if let Some(dir) = a.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let bytes = model.to_bytes();
    std::fs::write(&a.output, &bytes)
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    eprintln!(
        "phishgate: trained on {} messages ({} phish, {} spam, {} ham from the {} part, {} fixtures) \
         in {:.1} s; training accuracy {:.2}%; {} KB written to {}",
        data.len(),
        counts[0],
        counts[1],
        counts[2],
        SplitSelect::from(a.split).as_str(),
        fixtures,
        started.elapsed().as_secs_f64(),
        100.0 * correct as f64 / data.len() as f64,
        bytes.len() / 1024,
        a.output.display()
    );
    let unreadable = loaded.errors.len() + extra.errors.len();
    if unreadable > 0 {
        eprintln!("phishgate: {unreadable} input(s) skipped (unreadable or not mail)");
    }
    Ok(ExitCode::SUCCESS)
}
