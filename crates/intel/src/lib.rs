//! Enrichment: everything that waits on the world before the pure analysis
//! core runs (DESIGN.md, "enrich"). Each source is bounded in time and size,
//! and a failure becomes a visible fact (a temporary-error symbol), never a
//! silent pass and never an aborted scan.
//!
//! Modules:
//! - `dns`: the one resolver (`[dns]`), bounded and cached with TTLs;
//! - `auth`: SPF, DKIM, DMARC and ARC with mail-auth over hickory-resolver;
//! - `dnsbl`: DNS block lists for client IPs, link and sender domains;
//! - [`feeds`]: threat feeds read from files, reloaded when they change;
//! - [`clamav`]: clamd over TCP or a unix socket (`INSTREAM`).

pub mod auth;
pub mod clamav;
pub mod dns;
pub mod dnsbl;
pub mod feeds;

pub use clamav::{ClamavConfig, ClamavError, Clamd, ClamdStats};
pub use feeds::{FeedError, FeedFormat, FeedSet, FeedSource, FeedStatus, FeedsConfig};

use phishgate_core::view::MessageView;
use phishgate_core::Facts;

/// Fills the feed and antivirus facts of one message from its parsed view
/// (build the view once with `MessageView::build`, then scan it with
/// `Engine::scan_view`). The feed index is the one in force: keep it fresh
/// with [`FeedSet::spawn_reloader`] (gateway) or [`FeedSet::refresh_if_due`]
/// (blocking callers). Never fails: clamd problems become
/// `AntivirusOutcome::TempFail` facts; the time spent is bounded by the
/// clamd time-out per attachment, and by one time-out per message when
/// clamd is down or hangs.
pub async fn enrich_view(
    view: &MessageView,
    feeds: Option<&FeedSet>,
    clamd: Option<&Clamd>,
    facts: &mut Facts,
) {
    if let Some(f) = feeds {
        facts.feeds = Some(f.index());
    }
    if let Some(c) = clamd {
        facts.antivirus = Some(c.scan_attachments(&view.attachments).await);
    }
}
