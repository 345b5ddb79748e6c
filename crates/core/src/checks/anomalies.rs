//! Limits hit and broken input, recorded while the view was built, become
//! symbols here. A message is never dropped for being odd: it is analysed as
//! far as the bounds allow and the oddity is shown.

use super::Context;
use crate::symbols::Findings;

/// Emits one symbol per kind of anomaly, with the evidence collected.
pub fn check(ctx: &Context<'_>, f: &mut Findings) {
    for (name, evidence) in &ctx.view.anomalies {
        f.hit(*name, evidence.clone());
    }
    if ctx.view.from.is_none() && !ctx.view.anomalies.iter().any(|a| a.0 == "NOT_MAIL") {
        f.hit("MISSING_FROM", "no From address");
    }
}
