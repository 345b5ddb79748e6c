//! `phishgate learn`: an administrator teaches the classifier what a message
//! is (a released false positive is wanted mail, a confirmed lure is not).
//!
//! By default the organisation's model in the store is taught (shared by
//! every gateway node on the same store, which load it within seconds; see
//! `phishgate_gateway::model`): one bounded step per message
//! (`phishgate_gateway::model::MAX_STEP` per weight), so a few mistaken or malicious examples cannot
//! turn it around while many consistent ones move it. `--model FILE`
//! teaches a model file instead (offline work; the file is read from
//! `[classifier] model`, or the shipped model, and written atomically).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use clap::Args;
use phishgate_core::learn::Model;

/// `phishgate learn` arguments.
#[derive(Args)]
pub struct LearnArgs {
    /// Configuration and state (the same as for `serve`).
    #[command(flatten)]
    pub store: crate::admin::StoreArgs,
    /// Messages that are phishing or spam.
    #[arg(long, num_args = 1..)]
    pub phish: Vec<PathBuf>,
    /// Messages that are legitimate.
    #[arg(long, num_args = 1..)]
    pub ham: Vec<PathBuf>,
    /// Teach this model file instead of the organisation's model in the
    /// store (created from the configured or shipped model if missing).
    #[arg(long)]
    pub model: Option<PathBuf>,
}

/// Runs `phishgate learn`.
pub async fn run(a: LearnArgs) -> Result<u8> {
    if a.phish.is_empty() && a.ham.is_empty() {
        bail!("nothing to learn: give --phish FILE... and/or --ham FILE...");
    }
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
    let (lines, whereto) = match &a.model {
        Some(path) => {
            let config = crate::load_config(a.store.config.as_ref())?;
            let lines = learn_into_file(&config, path, &examples)?;
            (lines, path.display().to_string())
        }
        None => {
            let (version, lines) = crate::admin::learn_examples(&a.store, &examples).await?;
            (
                lines,
                format!("the store (organisation's model, version {version})"),
            )
        }
    };
    for l in lines {
        println!("{l}");
    }
    eprintln!(
        "phishgate: learned from {} message(s); model written to {whereto}",
        examples.len()
    );
    Ok(0)
}

/// Teaches the model in `out` (or, when that file does not exist yet, the
/// configured or shipped model) the `(label, raw message, unwanted)`
/// examples and writes it atomically to `out`; one line per example.
///
/// # Errors
/// The classifier is off, the model cannot be read or written.
pub fn learn_into_file(
    config: &phishgate_core::Config,
    out: &Path,
    examples: &[(String, Vec<u8>, bool)],
) -> Result<Vec<String>> {
    let mut model: Model = if out.exists() {
        let bytes = std::fs::read(out).with_context(|| format!("cannot read {}", out.display()))?;
        Model::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?
    } else {
        let engine = phishgate_gateway::scanner::engine_for(config.clone())?;
        match engine.model() {
            Some(m) => m.clone(),
            None => bail!("the classifier is off ([classifier] enabled = false)"),
        }
    };
    use phishgate_gateway::model::{lessons, teach};
    let lines = teach(&mut model, &lessons(examples, &config.limits));
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = out.with_extension("pgml.tmp");
    std::fs::write(&tmp, model.to_bytes())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(lines)
}
