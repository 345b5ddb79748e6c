//! `phishgate learn`: an administrator teaches the classifier what a message
//! is (a released false positive is wanted mail, a confirmed lure is not).
//!
//! The model in use (`[classifier] model`, or the shipped one) takes one
//! bounded step per message (`MAX_STEP` per weight): a few mistaken or
//! malicious examples cannot turn it around, many consistent ones move it.
//! The result is written atomically to `--model`, or to the configured
//! model file, or to `<data-dir>/model.pgml` (then set `[classifier] model`
//! to it); one file per organisation, like its data directory.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use phishgate_core::learn::{features_of_view, Model};
use phishgate_core::view::MessageView;

/// Largest change of one weight by one message.
pub const MAX_STEP: f32 = 0.05;

/// `phishgate learn` arguments.
#[derive(Args)]
pub struct LearnArgs {
    /// Configuration file (the same as for `serve`).
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// State directory (the same as for `serve`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Messages that are phishing or spam.
    #[arg(long, num_args = 1..)]
    pub phish: Vec<PathBuf>,
    /// Messages that are legitimate.
    #[arg(long, num_args = 1..)]
    pub ham: Vec<PathBuf>,
    /// Where to write the updated model (default: the configured model, or
    /// `<data-dir>/model.pgml`).
    #[arg(long)]
    pub model: Option<PathBuf>,
}

/// Runs `phishgate learn`.
pub fn run(a: LearnArgs) -> Result<u8> {
    if a.phish.is_empty() && a.ham.is_empty() {
        bail!("nothing to learn: give --phish FILE... and/or --ham FILE...");
    }
    let config = crate::load_config(a.config.as_ref())?;
    let mut examples = Vec::new();
    for (files, unwanted) in [(&a.phish, true), (&a.ham, false)] {
        for f in files {
            let raw = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
            if raw.is_empty() {
                bail!("{}: empty file, not an e-mail message", f.display());
            }
            examples.push((f.display().to_string(), raw, unwanted));
        }
    }
    let (out, lines) = learn_into(&config, a.data_dir.clone(), a.model.clone(), &examples)?;
    for l in lines {
        println!("{l}");
    }
    eprintln!(
        "phishgate: learned from {} message(s); model written to {}",
        examples.len(),
        out.display()
    );
    if config.classifier.model.is_empty() && a.model.is_none() {
        eprintln!(
            "phishgate: to use it, set in the configuration:\n[classifier]\nmodel = \"{}\"",
            out.display()
        );
    }
    Ok(0)
}

/// Teaches the model in use `(label, raw message, unwanted)` examples and
/// writes it (atomically) to `out`, or the configured model file, or
/// `<data-dir>/model.pgml`; returns where, and one line per example.
///
/// # Errors
/// The classifier is off, the model cannot be read or written.
pub fn learn_into(
    config: &phishgate_core::Config,
    data_dir: Option<PathBuf>,
    out: Option<PathBuf>,
    examples: &[(String, Vec<u8>, bool)],
) -> Result<(PathBuf, Vec<String>)> {
    let mut lines = Vec::new();
    let configured = config.classifier.model.clone();
    let engine = phishgate_gateway::scanner::engine_for(config.clone())?;
    let mut model: Model = match engine.model() {
        Some(m) => m.clone(),
        None => bail!("the classifier is off ([classifier] enabled = false)"),
    };
    let out = match (out, configured.is_empty()) {
        (Some(p), _) => p,
        (None, false) => PathBuf::from(&configured),
        (None, true) => phishgate_gateway::settings::Settings::from_config(config, data_dir)?
            .data_dir
            .join("model.pgml"),
    };
    for (label, raw, unwanted) in examples {
        let view = MessageView::build(raw, &config.limits);
        let features = features_of_view(&view, model.bits);
        let before = model.learn_one(&features, *unwanted, MAX_STEP);
        let after = model.probability(&features);
        lines.push(format!(
            "{label}\t{}\tp(unwanted) {before:.2} -> {after:.2}",
            if *unwanted { "phish" } else { "ham" }
        ));
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = out.with_extension("pgml.tmp");
    std::fs::write(&tmp, model.to_bytes())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok((out, lines))
}
