//! Enrichment: everything that waits on the world before the pure analysis
//! core runs (DESIGN.md, "enrich"). Each source is bounded in time and size,
//! and a failure becomes a visible fact (a temporary-error symbol), never a
//! silent pass and never an aborted scan.
//!
//! Modules:
//! - `auth`: SPF, DKIM, DMARC and ARC with mail-auth over hickory-resolver;
//! - `dnsbl`: DNS block lists for client IPs, link and sender domains;
//! - [`feeds`]: threat feeds read from files, reloaded when they change;
//! - [`clamav`]: clamd over TCP or a unix socket (`INSTREAM`).

pub mod clamav;
pub mod feeds;

pub use clamav::{ClamavConfig, ClamavError, Clamd, ClamdStats};
pub use feeds::{FeedError, FeedFormat, FeedSet, FeedSource, FeedStatus, FeedsConfig};
