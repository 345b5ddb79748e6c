//! The learned classifier's opinion (see [`crate::learn`]).
//!
//! A sparse linear model over hashed words, syllable pairs, link domains
//! and attachment types gives the probability that the message is unwanted.
//! Above `[classifier] unwanted_at` it emits `ML_UNWANTED`, below
//! `wanted_below` `ML_WANTED`, each with a weight that grows with the
//! model's confidence; the evidence is the probability and the features
//! that pushed hardest. Scores are in the configuration like every other
//! symbol's, and the `classifier` group caps them, so the model tips close
//! calls rather than deciding alone.

use super::Context;
use crate::learn::{extract, telling};
use crate::symbols::Findings;

/// Features named in the evidence.
const EVIDENCE: usize = 5;

/// Emits ML_UNWANTED or ML_WANTED.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    let Some(model) = ctx.engine.model() else {
        return;
    };
    let folded = ctx.text.own.as_ref().map_or("", |o| o.text.as_str());
    let features = extract(ctx.view, folded, model.bits, false);
    let p = model.probability(&features);
    let c = &ctx.config.classifier;
    let mut evidence = vec![format!("p={p:.2}")];
    if p >= c.unwanted_at {
        // Only now are the features' names worth writing down.
        let features = extract(ctx.view, folded, model.bits, true);
        // Name what a person can check: words, word pairs, domains, paths,
        // attachment types; not the structural counters.
        let named = model
            .top_contributions(&features, 4 * EVIDENCE)
            .into_iter()
            .filter(|(name, _)| telling(name))
            .take(EVIDENCE);
        for (name, _) in named {
            evidence.push(name);
        }
        let span = (c.unwanted_full_at - c.unwanted_at).max(1e-3);
        let weight = f64::from(((p - c.unwanted_at) / span).clamp(0.0, 1.0));
        f.add("ML_UNWANTED", weight, evidence);
    } else if p < c.wanted_below {
        let weight = f64::from(((c.wanted_below - p) / c.wanted_below.max(1e-3)).clamp(0.0, 1.0));
        f.add("ML_WANTED", weight, evidence);
    }
}
